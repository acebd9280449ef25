"""Honest measurement on the held-out split of the local difference data: caption metrics per tier, and attribute
accuracy on controlled pairs for the model and for its audio-blind ablations (clips swapped, clips silenced).

    python scripts/measure_adiff.py --model adiff-mini --data_dir data/local --output_dir eval/adiff-mini

Writes predictions/metrics/leaderboard (as `adiff-hf evaluate`), attributes.json and report.md.
"""

import argparse
import json
import logging
import os

import transformers

import adiff_hf  # noqa: F401  (registers ADIFF)
from adiff_hf.evaluation import EvaluationSet, evaluate_model
from adiff_hf.evaluation.attributes import attribute_table, measure_attributes


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data_dir", required=True, help="output of scripts/build_local_difference_data.py")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_new_tokens", type=int, default=120)
    parser.add_argument("--bootstrap_samples", type=int, default=200)
    parser.add_argument("--max_rows", type=int, default=None, help="caption metrics on at most this many rows")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)

    captions = evaluate_model(
        args.model,
        [EvaluationSet("LOCAL", [os.path.join(args.data_dir, f"{args.split}.csv")], args.data_dir)],
        args.output_dir,
        batch_size=args.batch_size,
        bootstrap_samples=args.bootstrap_samples,
        max_rows=args.max_rows,
        max_new_tokens=args.max_new_tokens,
    )
    model = transformers.AutoModelForMultimodalLM.from_pretrained(args.model)
    processor = transformers.AutoProcessor.from_pretrained(args.model)
    attributes = measure_attributes(model, processor, args.data_dir, args.split, args.batch_size)
    with open(os.path.join(args.output_dir, "attributes.json"), "w", encoding="utf-8") as f:
        json.dump(attributes, f, indent=1)
    board = open(os.path.join(args.output_dir, "leaderboard.md"), encoding="utf-8").read()
    report = (
        f"## {os.path.basename(os.path.normpath(args.model))} on the local {args.split} split\n\n"
        f"Caption metrics per tier (x100):\n\n{board}\n"
        "Attribute accuracy on controlled pairs (few-words answers must name the changed clip and the change):\n\n"
        f"{attribute_table(attributes)}"
    )
    with open(os.path.join(args.output_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write(report)
    print(report)
    return {"captions": captions, "attributes": attributes}


if __name__ == "__main__":
    main()
