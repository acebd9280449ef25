"""Time of the coco-caption metrics (the `evaluate` module) on 5,000 pairs, at tier-2 and tier-3 answer lengths.

Predictions and references are released ADIFF answers of two different tiers for the same pairs, so the texts have
the lengths an evaluation meets. Needs Java and the released CSVs (../shared/data/adiff_csv by default).

    python benchmarks/bench_metrics.py --pairs 5000
"""

import argparse
import csv
import json
import platform
import time
from pathlib import Path

import adiff_hf.evaluation.metrics


def answers(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return [row["answer"] for row in csv.DictReader(f)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--csv-dir", default="../shared/data/adiff_csv")
    parser.add_argument("--output", default="benchmarks/results/metrics.json")
    args = parser.parse_args()
    root = Path(args.csv_dir)
    # (prediction tier, reference tier) from CLD validation (5,225 pairs) and ACD validation (2,456, repeated)
    workloads = {
        "tier-2 length": (
            answers(root / "CLD" / "cld_validation_adiff_sentence_answer.csv"),
            answers(root / "CLD" / "cld_validation_adiff_fewwords_answer.csv"),
        ),
        "tier-3 length": (
            answers(root / "ACD" / "acd_val_adiff_detail_answer.csv"),
            answers(root / "ACD" / "acd_val_adiff_sentence_answer.csv"),
        ),
    }
    metric = adiff_hf.evaluation.metrics.load()
    results = {"machine": platform.platform(), "pairs": args.pairs, "workloads": {}}
    for name, (released_predictions, released_references) in workloads.items():
        repeat = -(-args.pairs // len(released_predictions))
        predictions = (released_predictions * repeat)[: args.pairs]
        references = (released_references * repeat)[: args.pairs]
        words = sum(len(p.split()) for p in predictions) / len(predictions)
        start = time.perf_counter()
        scores = metric.compute(predictions=predictions, references=[[r] for r in references])
        seconds = time.perf_counter() - start
        results["workloads"][name] = {"seconds": round(seconds, 2), "mean_prediction_words": round(words, 1)}
        results["workloads"][name]["scores"] = {k: v for k, v in scores.items() if v is not None}
        print(f"{name}: {args.pairs} pairs ({words:.0f} words per prediction) scored in {seconds:.1f} s", flush=True)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
