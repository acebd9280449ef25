"""Evaluation metrics shipped with adiff-hf, loadable offline with `evaluate`."""

import os

CAPTION_METRICS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "caption_metrics")


def load(**kwargs):
    """The coco-caption metrics as an `evaluate` module: `evaluate.load(CAPTION_METRICS_DIR, **kwargs)`."""
    import evaluate

    return evaluate.load(CAPTION_METRICS_DIR, **kwargs)


__all__ = ["CAPTION_METRICS_DIR", "load"]
