"""What an ear trained by the ear stage hears, measured by its own heads on pairs it never saw.

    python scripts/score_ear.py --ear runs/ear/ear --sources data/local/manifest.json \
        --split test_unseen --pairs 1000 --output eval/ear_test_unseen.json

Draws `--pairs` pairs of `--split` from the stream (seed `--seed`, so the set is fixed), and reports the
direction-aware change type (single-change, identical and two-source pairs), the same with each two-sided direction
merged, the changed clip where a change has a side, same or different, the source kind, and the change type per
class with the commonest confusions.
"""

import argparse
import json

import torch

from adiff_hf.data.pair_stream import DifferencePairStream, load_sources
from adiff_hf.training.ear import ADiffEarForPairClassification, measure_ear


def table(scores: dict) -> str:
    lines = [
        "| pairs | change type | change type, directions merged | changed clip (changes with a side) | "
        "same or different | source kind |",
        "|---|---|---|---|---|---|",
        f"| {scores['pairs']} | {scores['change_type']:.1%} | {scores['change_type_merged']:.1%} | "
        f"{scores['changed_clip']:.1%} | {scores['same_or_different']:.1%} | {scores['source_kind']:.1%} |",
        "",
        "| class | pairs | right |",
        "|---|---|---|",
    ]
    for name, right in sorted(scores["per_class"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {scores['per_class_pairs'][name]} | {right:.0%} |")
    lines += [
        "",
        "Commonest confusions (truth -> said): " + ", ".join(f"{k} ({v})" for k, v in scores["confusions"].items()),
    ]
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ear", required=True, help="the ear stage's output_dir/ear, heads included")
    parser.add_argument("--sources", required=True, help="the sources JSON the ear was trained from")
    parser.add_argument("--split", default="test_unseen")
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1, help="differs from training's stream seed by default")
    parser.add_argument("--output", default=None, help="write the scores as JSON here")
    args = parser.parse_args(argv)
    model = ADiffEarForPairClassification.from_pretrained(args.ear)
    items = list(DifferencePairStream(load_sources(args.sources), args.split, seed=args.seed, num_pairs=args.pairs))
    with torch.inference_mode():
        scores = measure_ear(model, items)
    print(table(scores))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(scores, f, indent=1)
    return scores


if __name__ == "__main__":
    main()
