"""Grounded decoding, measured: does choosing among N candidates by the evidence make answers right more often?

On the first `--pairs` controlled pairs of a split built by scripts/build_local_difference_data.py (changed,
identical and near-identical pairs, in file order), at every tier, the model answers twice: plain greedy decoding,
and `grounded=N` (N beams, the candidate with the fewest contradicted claims, then the most supported, then the
beam order). For each: how often the answer names the changed clip and the change (the attribute scorer of
`adiff_hf.evaluation.attributes`), identical pairs called the same, contradicted claims per answer (checked against
the pair's measured evidence), and seconds per pair (the grounded figure includes measuring the pair).

    python benchmarks/bench_grounded.py data/local --split test_unseen --pairs 60 --candidates 4
"""

import argparse
import json
import os
import platform
import time

from adiff_hf.evaluation.attributes import TIERS, read_pairs, score_answers
from adiff_hf.evidence import CONTRADICTED, check_claims, compare_clips


def run(pipe, data_dir: str, pairs: list[dict], tier: str, grounded: int, batch_size: int) -> dict:
    """Answers at `tier` (`grounded` candidates; 1: greedy), their scores and their contradicted claims."""
    inputs = [tuple(os.path.join(data_dir, p[k]) for k in ("filepath1", "filepath2")) for p in pairs]
    start = time.perf_counter()
    options = {"grounded": grounded} if grounded > 1 else {}
    outputs = pipe(inputs, tier=tier, batch_size=batch_size, max_new_tokens=120, **options)
    seconds = time.perf_counter() - start
    answers = [output[0]["generated_text"] for output in outputs]
    contradicted = []
    for (first, second), answer, pair, output in zip(inputs, answers, pairs, outputs, strict=True):
        claims = output[0].get("claims")
        if claims is None:  # greedy: checked against the pair's evidence here, outside the timing
            claims = [c.to_dict() for c in check_claims(answer, compare_clips(first, second), pair["labels"])]
        contradicted.append(sum(c["outcome"] == CONTRADICTED for c in claims))
    score = score_answers(pairs, answers)
    return {
        "both_right": score["accuracy"],
        "changed_pairs": score["pairs"],
        "same_right": score["same_accuracy"],
        "same_pairs": score["same_pairs"],
        "contradicted_per_answer": sum(contradicted) / len(contradicted),
        "seconds_per_pair": seconds / len(pairs),
        "answers": answers,
    }


def table(results: dict) -> str:
    lines = [
        "| tier | decoding | both clip and change right | identical called the same | contradicted claims per answer "
        "| seconds per pair |",
        "|---|---|---|---|---|---|",
    ]
    for tier, by in results.items():
        for name, r in by.items():
            both = f"{100 * r['both_right']:.0f}% (of {r['changed_pairs']})" if r["changed_pairs"] else "—"
            same = f"{r['same_right'] * r['same_pairs']:.0f} of {r['same_pairs']}" if r["same_pairs"] else "—"
            lines.append(
                f"| {tier} | {name} | {both} | {same} | {r['contradicted_per_answer']:.2f} | "
                f"{r['seconds_per_pair']:.1f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", help="a dataset built by scripts/build_local_difference_data.py")
    parser.add_argument("--split", default="test_unseen")
    parser.add_argument("--pairs", type=int, default=60, help="the first this many controlled pairs")
    parser.add_argument("--candidates", type=int, default=4, help="grounded decoding's N")
    parser.add_argument("--tiers", nargs="+", default=list(TIERS), choices=list(TIERS))
    parser.add_argument("--model", default=None, help="default: the package's default model (adiff-mini)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--output", default="benchmarks/results/grounded.json")
    args = parser.parse_args()

    from transformers import pipeline

    from adiff_hf.backbones.default_model import resolve_model

    pairs = [p for p in read_pairs(args.data_dir, args.split) if p["kind"] != "sources"][: args.pairs]
    pipe = pipeline("audio-difference", model=resolve_model(args.model), device="cpu")
    results = {}
    for tier in args.tiers:
        results[tier] = {
            "greedy": run(pipe, args.data_dir, pairs, tier, 1, args.batch_size),
            f"grounded={args.candidates}": run(pipe, args.data_dir, pairs, tier, args.candidates, args.batch_size),
        }
    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "split": args.split}
    report |= {"pairs": len(pairs), "results": results}
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    print(table(results))


if __name__ == "__main__":
    main()
