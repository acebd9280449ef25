"""Evaluate an ADIFF model on the ACD and CLD test splits (tiers 1-3) with coco-caption's metrics.

Writes predictions.jsonl (resumable), metrics.json, leaderboard.md (with the published ADIFF row),
model_index.yaml and .eval_results/ into --output_dir:

    python scripts/evaluate_adiff.py --model runs/adiff/stage3 --output_dir eval/adiff \
        --acd_csv ACD/acd_test_adiff_*_answer.csv --acd_audio_root /data/audiocaps \
        --cld_csv CLD/cld_evaluation_adiff_*_answer.csv --cld_audio_root /data/clotho
"""

import argparse
import logging

from adiff_hf.evaluation import EvaluationSet, evaluate_model


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a model directory or Hub id (any from_pretrained path)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--model_name", default=None, help="the leaderboard row label (default: the model's name)")
    for name in ("acd", "cld"):
        parser.add_argument(f"--{name}_csv", nargs="+", default=[], help=f"{name.upper()} test CSVs (any tiers)")
        parser.add_argument(f"--{name}_audio_root", default=None, help="where those CSVs' file paths start")
        parser.add_argument(f"--{name}_hub_id", default=None, help="the dataset's Hub id for model-index")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_new_tokens", type=int, default=None, help="default: the model's (300 for ADIFF)")
    parser.add_argument("--missing_audio", choices=["error", "skip"], default="error")
    parser.add_argument("--max_rows", type=int, default=None, help="at most this many rows per dataset")
    parser.add_argument("--bootstrap_samples", type=int, default=500, help="for BLEU-4 / CIDEr-D intervals")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)

    sets = [
        EvaluationSet(name.upper(), getattr(args, f"{name}_csv"), getattr(args, f"{name}_audio_root"))
        for name in ("cld", "acd")
        if getattr(args, f"{name}_csv")
    ]
    for eval_set in sets:
        eval_set.hub_id = getattr(args, f"{eval_set.name.lower()}_hub_id")
    if not sets:
        parser.error("give --acd_csv and/or --cld_csv")
    generate_kwargs = {} if args.max_new_tokens is None else {"max_new_tokens": args.max_new_tokens}
    return evaluate_model(
        args.model,
        sets,
        args.output_dir,
        model_name=args.model_name,
        batch_size=args.batch_size,
        missing_audio=args.missing_audio,
        max_rows=args.max_rows,
        bootstrap_samples=args.bootstrap_samples,
        device=args.device,
        dtype=args.dtype,
        **generate_kwargs,
    )


if __name__ == "__main__":
    main()
