"""Evaluation: predictions over test splits, coco-caption scores per tier, leaderboards and model-index."""

from .leaderboard import (
    METRIC_LABELS,
    PUBLISHED_ADIFF,
    eval_results,
    leaderboard_markdown,
    model_index_yaml,
    split_name,
    write_eval_results_dir,
)
from .predictions import generate_predictions, read_predictions
from .run import EvaluationSet, evaluate_model, score_predictions

__all__ = [
    "METRIC_LABELS",
    "PUBLISHED_ADIFF",
    "EvaluationSet",
    "eval_results",
    "evaluate_model",
    "generate_predictions",
    "leaderboard_markdown",
    "model_index_yaml",
    "read_predictions",
    "score_predictions",
    "split_name",
    "write_eval_results_dir",
]
