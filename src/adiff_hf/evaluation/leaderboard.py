"""Scores per dataset and tier -> the release's leaderboard table, Hub `model-index` and `.eval_results/` files."""

import os
from datetime import date

import yaml
from huggingface_hub import EvalResult, ModelCardData

TIER_NUMBERS = {"few_words": 1, "sentence": 2, "detail": 3}
DATASET_ORDER = ("CLD", "ACD")
# Leaderboard rows: the release reports BLEU-4 and SPICE; the other coco metrics follow. Values are x100.
METRIC_LABELS = {
    "bleu_4": "BLEU-4",
    "spice": "SPICE",
    "meteor": "METEOR",
    "rouge_l": "ROUGE-L",
    "cider_d": "CIDEr-D",
    "spider": "SPIDEr",
}
# ADIFF as published (greedy decoding), from the paper's tables. Only BLEU-4 and SPICE were reported.
PUBLISHED_ADIFF = {
    "CLD-1": {"bleu_4": 15.25, "spice": 11.85},
    "CLD-2": {"bleu_4": 24.50, "spice": 23.15},
    "CLD-3": {"bleu_4": 17.08, "spice": 16.67},
    "ACD-1": {"bleu_4": 14.76, "spice": 12.68},
    "ACD-2": {"bleu_4": 23.43, "spice": 22.16},
    "ACD-3": {"bleu_4": 16.91, "spice": 17.07},
}


def split_name(dataset: str, tier: str) -> str:
    """`("ACD", "few_words")` -> `"ACD-1"`; tiers that are none of the three keep their name."""
    return f"{dataset}-{TIER_NUMBERS[tier]}" if tier in TIER_NUMBERS else f"{dataset}-{tier}"


def _columns(results: dict) -> list[str]:
    order = [f"{d}-{t}" for d in DATASET_ORDER for t in (1, 2, 3)]
    return [c for c in order if c in results] + sorted(c for c in results if c not in order)


def _cell(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def leaderboard_markdown(results: dict[str, dict], model_name: str, reference: dict | None = PUBLISHED_ADIFF) -> str:
    """The release's table: one column per split (CLD-1..3, ACD-1..3), one row per model and metric, x100.

    Args:
        results: `{"ACD-1": {"bleu_4": 0.15, ..., "bleu_4_ci": [lo, hi]}, ...}` on coco's 0-1 scale.
        model_name: the evaluated model's row label.
        reference: published scores (x100) shown as a reference row; `None` leaves it out.
    """
    columns = _columns(results)
    lines = ["| model | metric | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    if reference and any(c in reference for c in columns):  # published numbers exist for ACD/CLD splits only
        for metric in ("bleu_4", "spice"):
            cells = [_cell(reference.get(c, {}).get(metric)) for c in columns]
            lines.append(f"| ADIFF (published) | {METRIC_LABELS[metric]} | " + " | ".join(cells) + " |")
    for metric, label in METRIC_LABELS.items():
        cells = []
        for column in columns:
            value = results[column].get(metric)
            cell = _cell(None if value is None else 100 * value)
            interval = results[column].get(f"{metric}_ci")
            if interval and value is not None:
                cell += f" [{100 * interval[0]:.2f}, {100 * interval[1]:.2f}]"
            cells.append(cell)
        lines.append(f"| {model_name} | {label} | " + " | ".join(cells) + " |")
    notes = [
        "",
        "Scores x100 (coco-caption: BLEU-4, METEOR 1.5, ROUGE-L, CIDEr-D, SPICE, SPIDEr), greedy decoding, one "
        "reference per pair; tier 1 = few words, 2 = a sentence, 3 = detail. Brackets: bootstrap 95% intervals. "
        "'–': not available (SPICE needs Stanford CoreNLP 3.6.0; the paper reported BLEU-4 and SPICE only).",
    ]
    return "\n".join(lines + notes) + "\n"


def eval_results(results: dict[str, dict], dataset_ids: dict[str, str] | None = None) -> list[EvalResult]:
    """`huggingface_hub.EvalResult`s for the model card's `model-index`, one per split and available metric."""
    dataset_ids = dataset_ids or {}
    entries = []
    for column in _columns(results):
        dataset, _, tier = column.partition("-")
        for metric, label in METRIC_LABELS.items():
            value = results[column].get(metric)
            if value is None:
                continue
            entries.append(
                EvalResult(
                    task_type="audio-difference",
                    task_name="Audio difference explanation",
                    dataset_type=dataset_ids.get(dataset, dataset),
                    dataset_name=f"{dataset} tier {tier}",
                    dataset_config=f"tier{tier}",
                    dataset_split="test",
                    metric_type=metric,
                    metric_name=label,
                    metric_value=round(100 * value, 4),
                )
            )
    return entries


def model_index_yaml(results: dict[str, dict], model_name: str, dataset_ids: dict[str, str] | None = None) -> str:
    """The README front-matter YAML (`model-index`) for these results."""
    card = ModelCardData(model_name=model_name, eval_results=eval_results(results, dataset_ids))
    return card.to_yaml() + "\n"


def write_eval_results_dir(
    results: dict[str, dict],
    directory: str | os.PathLike,
    source_url: str | None = None,
    dataset_ids: dict | None = None,
) -> list[str]:
    """The Hub's newer `.eval_results/` layout: one YAML file per split and metric. Returns the paths written."""
    os.makedirs(directory, exist_ok=True)
    dataset_ids = dataset_ids or {}
    paths = []
    for column in _columns(results):
        dataset, _, tier = column.partition("-")
        for metric in METRIC_LABELS:
            value = results[column].get(metric)
            if value is None:
                continue
            entry = {
                "dataset": {"id": dataset_ids.get(dataset, dataset), "task_id": f"tier{tier}_{metric}"},
                "value": round(100 * value, 4),
                "date": date.today().isoformat(),
            }
            if source_url:
                entry["source"] = {"url": source_url, "name": "Model Card"}
            path = os.path.join(directory, f"{column.lower()}_{metric}.yaml")
            with open(path, "w", encoding="utf-8") as f:
                yaml.safe_dump([entry], f, sort_keys=False)
            paths.append(path)
    return paths


__all__ = [
    "METRIC_LABELS",
    "PUBLISHED_ADIFF",
    "eval_results",
    "leaderboard_markdown",
    "model_index_yaml",
    "split_name",
    "write_eval_results_dir",
]
