"""Honest measurement on held-out splits of the local difference data: caption metrics per tier, and, at each tier,
attribute accuracy on controlled pairs (the changed clip and the change named; identical pairs called the same),
for the model and for its audio-blind ablations (clips swapped, clips silenced), with answer lengths and mistakes.

    python scripts/score_on_local_data.py --model adiff-mini --data_dir data/local --split test_unseen \
        --output_dir eval/adiff-mini/test_unseen

Writes predictions/metrics/leaderboard (as `adiff-hf evaluate`, unless --skip_caption_metrics), attributes.json
(scores and every answer) and report.md.
"""

import argparse
import json
import logging
import os

import adiff_hf  # noqa: F401  (registers ADIFF)
from adiff_hf.backbones import load_model, resolve_model
from adiff_hf.data.pair_stream import DifferencePairStream, load_sources
from adiff_hf.evaluation import EvaluationSet, evaluate_model
from adiff_hf.evaluation.attributes import TIERS, attribute_table, measure_attributes, per_change_table
from adiff_hf.evaluation.contents import measure_contents


def mistakes_section(results: dict, per_tier: int = 4) -> str:
    lines = []
    for tier, r in results["model"].items():
        for mistake in r["mistakes"][:per_tier]:
            lines.append(f'- {tier}: expected *{mistake["expected"]}*; answered "{mistake["answer"]}"')
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a model directory (default: adiff-mini)")
    parser.add_argument("--data_dir", required=True, help="output of scripts/build_local_difference_data.py")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_new_tokens", type=int, default=160, help="caption metrics: token limit")
    parser.add_argument("--bootstrap_samples", type=int, default=200)
    parser.add_argument("--max_rows", type=int, default=None, help="caption metrics on at most this many rows")
    parser.add_argument("--max_pairs", type=int, default=None, help="attributes on at most this many pairs")
    parser.add_argument("--tiers", default=",".join(TIERS), help="tiers whose attributes are measured")
    parser.add_argument("--skip_caption_metrics", action="store_true")
    parser.add_argument(
        "--sources",
        default=None,
        help="labelled source clips (JSON): also measure what the model says each clip holds, on pairs of two "
        "sources of --split drawn from them (captions of speech against other sounds; tiers 2 and 3)",
    )
    parser.add_argument("--contents_pairs", type=int, default=240, help="pairs of two sources drawn for that")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    model_dir = resolve_model(args.model)

    captions = None
    if not args.skip_caption_metrics:
        captions = evaluate_model(
            model_dir,
            [EvaluationSet("LOCAL", [os.path.join(args.data_dir, f"{args.split}.csv")], args.data_dir)],
            args.output_dir,
            batch_size=args.batch_size,
            bootstrap_samples=args.bootstrap_samples,
            max_rows=args.max_rows,
            max_new_tokens=args.max_new_tokens,
        )
    os.makedirs(args.output_dir, exist_ok=True)
    model, processor = load_model(model_dir)
    tiers = tuple(t for t in args.tiers.split(",") if t)
    attributes = measure_attributes(
        model, processor, args.data_dir, args.split, args.batch_size, tiers, max_pairs=args.max_pairs
    )
    with open(os.path.join(args.output_dir, "attributes.json"), "w", encoding="utf-8") as f:
        json.dump(attributes, f, indent=1)
    contents = None
    if args.sources:
        stream = DifferencePairStream(
            load_sources(args.sources), args.split, seed=1, mix={"sources": 1.0}, num_pairs=args.contents_pairs
        )
        contents = measure_contents(model, processor, list(stream), args.batch_size)
        with open(os.path.join(args.output_dir, "contents.json"), "w", encoding="utf-8") as f:
            json.dump(contents, f, indent=1)
    report = f"## {os.path.basename(os.path.normpath(model_dir))} on the local {args.split} split\n\n"
    if captions is not None:
        board = open(os.path.join(args.output_dir, "leaderboard.md"), encoding="utf-8").read()
        report += f"Caption metrics per tier (x100):\n\n{board}\n"
    report += (
        "Controlled pairs, at each tier (changed pairs: the changed clip named first and every change named; "
        "identical and near-identical pairs: no audible difference said and no change named):\n\n"
        f"{attribute_table(attributes)}\n"
        f"Both right, per change (the model):\n\n{per_change_table(attributes)}\n"
        f"Some mistakes:\n\n{mistakes_section(attributes)}"
    )
    if contents is not None:
        captions = contents["captions"]
        report += (
            f"\nWhat each clip holds ({contents['pairs']} pairs of two sources; "
            f"{contents['speech_against_other_pairs']} of speech against another sound):\n\n"
            "| captions mentioning a voice exactly when their clip is speech | captions naming the kind of a clip "
            "that is not speech | sentence tier says what each holds | detail tier says what each holds |\n"
            "|---|---|---|---|\n"
            f"| {captions['voice_exactly_when_speech']:.1%} ({captions['captions']}) | "
            f"{captions['non_speech_kind_named']:.1%} | {contents['sentence']['says_what_each_holds']:.1%} | "
            f"{contents['detail']['says_what_each_holds']:.1%} |\n"
        )
    with open(os.path.join(args.output_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write(report)
    print(report)
    return {"captions": captions, "attributes": attributes, "contents": contents}


if __name__ == "__main__":
    main()
