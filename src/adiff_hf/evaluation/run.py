"""Evaluate a model on ACD / CLD test splits: predictions, coco-caption metrics per tier, leaderboard, model-index."""

import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass, field

from ..data.difference_csv import load_difference_csv
from .leaderboard import leaderboard_markdown, model_index_yaml, split_name, write_eval_results_dir
from .metrics import load as load_caption_metrics
from .predictions import generate_predictions

logger = logging.getLogger(__name__)


@dataclass
class EvaluationSet:
    """One dataset of the leaderboard: its test CSVs (any tiers) and the directory their audio paths start from."""

    name: str
    csv_files: list[str]
    audio_root: str | None = None
    hub_id: str | None = field(default=None)


def score_predictions(records: list[dict], bootstrap_samples: int = 500, seed: int = 0) -> dict[str, dict]:
    """coco-caption metrics per split (`ACD-1`, …), each over that split alone (CIDEr-D is corpus-dependent)."""
    metric = load_caption_metrics()
    groups = defaultdict(list)
    for record in records:
        groups[split_name(record["dataset"], record["tier"])].append(record)
    results = {}
    for name, group in groups.items():
        logger.info("Scoring %s (%d pairs)", name, len(group))
        results[name] = metric.compute(
            predictions=[r["prediction"] for r in group],
            references=[[r["reference"]] for r in group],
            bootstrap_samples=bootstrap_samples,
            seed=seed,
        )
        results[name]["num_pairs"] = len(group)
    return results


def evaluate_model(
    model_name_or_path: str,
    eval_sets: list[EvaluationSet],
    output_dir: str | os.PathLike,
    model_name: str | None = None,
    batch_size: int = 16,
    missing_audio: str = "error",
    max_rows: int | None = None,
    bootstrap_samples: int = 500,
    device: str | None = None,
    dtype: str = "float32",
    state=None,
    **generate_kwargs,
) -> dict[str, dict]:
    """Predict, score and write everything a leaderboard and a model card need into `output_dir`.

    Files: `predictions.jsonl` (resumable: finished rows are skipped on restart), `metrics.json` (`evaluate.save`),
    `leaderboard.md`, `model_index.yaml` and `.eval_results/*.yaml`. Returns the metrics per split. With `state`
    (an `accelerate.PartialState` of several processes, as `accelerate launch` starts them), each process predicts
    a share of the rows on its own device, and the main process scores and writes: the same files as one process.
    Other processes return `{}`.
    """
    import evaluate

    from ..backbones import load_model

    os.makedirs(output_dir, exist_ok=True)
    if state is not None and state.num_processes > 1:
        device = str(state.device)
    model, processor = load_model(model_name_or_path, device, dtype)
    predictions_path = os.path.join(output_dir, "predictions.jsonl")
    records = []
    for eval_set in eval_sets:
        rows = load_difference_csv(eval_set.csv_files, eval_set.audio_root, missing_audio, max_rows)
        records += generate_predictions(
            model, processor, rows, predictions_path, eval_set.name, batch_size, state=state, **generate_kwargs
        )
    if state is not None and not state.is_main_process:
        return {}
    results = score_predictions(records, bootstrap_samples)

    model_name = model_name or os.path.basename(os.path.normpath(model_name_or_path))
    evaluate.save(os.path.join(output_dir, "metrics.json"), model=model_name_or_path, results=results)
    hub_ids = {s.name: s.hub_id for s in eval_sets if s.hub_id}
    with open(os.path.join(output_dir, "leaderboard.md"), "w", encoding="utf-8") as f:
        f.write(leaderboard_markdown(results, model_name))
    with open(os.path.join(output_dir, "model_index.yaml"), "w", encoding="utf-8") as f:
        f.write(model_index_yaml(results, model_name, hub_ids))
    write_eval_results_dir(results, os.path.join(output_dir, ".eval_results"), dataset_ids=hub_ids)
    logger.info(
        "Results:\n%s",
        json.dumps({k: {m: v for m, v in r.items() if m != "per_item"} for k, r in results.items()}, indent=1),
    )
    return results


__all__ = ["EvaluationSet", "evaluate_model", "score_predictions"]
