"""Evaluate a model on the ACD/CLD test splits with coco-caption's metrics (same as `adiff-hf evaluate`).

See `python scripts/evaluate_adiff.py --help` and the README.
"""

from adiff_hf.serving.cli import evaluate_main

if __name__ == "__main__":
    evaluate_main()
