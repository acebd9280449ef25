"""Measured evidence, measured: does it name the change, does the claim check flag wrong texts, what does it cost?

On the local builder's controlled pairs (scripts/build_local_difference_data.py):
- how often the evidence alone names the changed clip and the change, per change type (goal: >= 95% for gain,
  tempo, pitch, low/high-pass, noise, clipping, gaps) and how often identical pairs get no finding;
- the claim check on known-right texts (the builder's answers; the model's answers scored right) and known-wrong ones
  (the same answers with the clips swapped; the model's clip-swapped answers scored wrong): goal >= 90% of wrong
  claims flagged, <= 5% of right claims flagged;
- seconds to measure a pair, by clip length (goal: <= 0.5 s for two 10 s clips on 2 cores).

    python benchmarks/bench_evidence.py data/local --splits test test_unseen --model ~/.cache/adiff_hf/adiff-mini
"""

import argparse
import json
import os
import platform

from adiff_hf.evaluation.attributes import score_answers
from adiff_hf.evaluation.evidence_accuracy import (
    evidence_accuracy,
    evidence_cost,
    evidence_table,
    grounding_accuracy,
    grounding_table,
    measure_pairs,
    read_pairs,
    reference_answers,
    swap_clips,
)

KINDS = ("change", "two_changes", "identical", "near_identical")


def model_answer_sets(model_dir: str, data_dir: str, split: str, pairs: list[dict], max_pairs: int) -> dict:
    """The model's few-words answers on the first `max_pairs` controlled pairs: those scored right, and its
    clip-swapped answers scored wrong (against the pair as it is)."""
    from adiff_hf.backbones import load_model
    from adiff_hf.evaluation.attributes import measure_attributes

    model, processor = load_model(model_dir, device="cpu")
    results = measure_attributes(
        model, processor, data_dir, split, tiers=("few_words",), ablation_tiers=("few_words",), max_pairs=max_pairs
    )
    asked = pairs[: len(results["model"]["few_words"]["answers"])]
    right, wrong = [], []
    for index, pair in enumerate(asked):
        for name, kept in (("model", right), ("clips swapped", wrong)):
            answer = results[name]["few_words"]["answers"][index]
            score = score_answers([pair], [answer])
            correct = score["accuracy"] == 1 if score["pairs"] else score["same_accuracy"] == 1
            if correct == (name == "model"):
                kept.append((index, answer))
    return {"right": right, "wrong": wrong, "model_both_right": results["model"]["few_words"]["accuracy"]}


def run_split(data_dir: str, split: str, model_dir: str | None, max_model_pairs: int) -> dict:
    pairs = [p for p in read_pairs(data_dir, split) if p["kind"] in KINDS]
    evidences, seconds = measure_pairs(data_dir, pairs, f"measuring {split}")
    result = {"pairs": len(pairs), "mean_pair_seconds": sum(seconds) / len(seconds)}
    result["evidence"] = evidence_accuracy(pairs, evidences)
    answers = reference_answers(data_dir, split)
    right, wrong = [], []
    for pair, evidence in zip(pairs, evidences, strict=True):
        for text in answers[(pair["filepath1"], pair["filepath2"])]:
            right.append((evidence, text, pair["labels"]))
            # a reversal stays true with the clips swapped: no wrong text comes of swapping it
            changes = pair.get("changes") or [pair]
            if pair["kind"] in ("change", "two_changes") and any(c["change"] != "reverse" for c in changes):
                wrong.append((evidence, swap_clips(text), pair["labels"]))
    grounding = {
        "builder answers, all tiers (right)": grounding_accuracy(*zip(*right, strict=True)),
        "the same, clips swapped (wrong)": grounding_accuracy(*zip(*wrong, strict=True)),
    }
    if model_dir:
        # the model's answers are asked on controlled pairs in file order, two-change pairs included
        controlled = [p for p in read_pairs(data_dir, split) if p["kind"] != "sources"]
        sets = model_answer_sets(model_dir, data_dir, split, controlled, max_model_pairs)
        index_of = {(p["filepath1"], p["filepath2"]): i for i, p in enumerate(pairs)}
        names = {"right": "model answers scored right", "wrong": "model's clip-swapped answers scored wrong"}
        for key, name in names.items():
            chosen = [(controlled[i], text) for i, text in sets[key]]
            chosen = [(evidences[index_of[(p["filepath1"], p["filepath2"])]], text, p["labels"]) for p, text in chosen]
            grounding[f"{name} ({len(chosen)})"] = grounding_accuracy(*zip(*chosen, strict=True)) if chosen else None
        result["model_few_words_both_right"] = sets["model_both_right"]
    result["grounding"] = {k: v for k, v in grounding.items() if v is not None}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", help="a dataset built by scripts/build_local_difference_data.py")
    parser.add_argument("--splits", nargs="+", default=["test"])
    parser.add_argument("--model", default=None, help="also check this model's answers (e.g. adiff-mini's directory)")
    parser.add_argument("--max-model-pairs", type=int, default=300)
    parser.add_argument("--output", default="benchmarks/results/evidence.json")
    parser.add_argument("--cost-seconds", type=float, nargs="+", default=[2.5, 5, 10, 30, 60], help="clip lengths")
    args = parser.parse_args()
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "splits": {}}
    for split in args.splits:
        results["splits"][split] = run_split(args.data_dir, split, args.model, args.max_model_pairs)
    results["cost"] = evidence_cost(args.cost_seconds)
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    for split, r in results["splits"].items():
        print(f"\n## {split}: {r['pairs']} controlled pairs, {r['mean_pair_seconds']:.2f} s per pair\n")
        print(evidence_table(r["evidence"]))
        print(grounding_table(r["grounding"]))
    print("| clip length (s) | seconds per pair |\n|---|---|")
    for row in results["cost"]:
        print(f"| {row['seconds']} | {row['pair_seconds']:.2f} |")


if __name__ == "__main__":
    main()
