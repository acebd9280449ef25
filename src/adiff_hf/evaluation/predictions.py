"""Explain every pair of a test split with batched greedy decoding, into a resumable JSONL file."""

import json
import logging
import os

import datasets
import torch
from tqdm.auto import tqdm

from ..data.collator import ADiffDataCollator
from ..data.jsonl import drop_partial_tail
from ..data.jsonl import read_jsonl as read_predictions

logger = logging.getLogger(__name__)


@torch.no_grad()
def generate_predictions(
    model,
    processor,
    rows: datasets.Dataset,
    output_path: str | os.PathLike,
    dataset_name: str,
    batch_size: int = 16,
    **generate_kwargs,
) -> list[dict]:
    """Predict every row of `rows` (from `load_difference_csv`) not already in `output_path`, appending as it goes.

    Each record holds `key` (`dataset_name` + the row's `file:line`), `dataset`, `tier`, `prompt` (the CSV's
    `input`), `prediction`, `reference` and the two file paths. Greedy decoding unless `generate_kwargs` say
    otherwise. Returns this dataset's records, finished ones included.
    """
    done = {r["key"]: r for r in read_predictions(output_path)}
    todo = [row for row in rows if f"{dataset_name}:{row['source']}" not in done]
    if len(todo) < len(rows):
        logger.info(
            "%s: %d of %d rows already predicted in %s; %d to go.",
            dataset_name,
            len(rows) - len(todo),
            len(rows),
            output_path,
            len(todo),
        )
    drop_partial_tail(output_path)
    collator = ADiffDataCollator(processor, crop="start", with_answers=False)
    model.eval()
    with (
        open(output_path, "a", encoding="utf-8") as f,
        tqdm(total=len(todo), desc=f"{dataset_name}", unit="pair") as bar,
    ):
        for start in range(0, len(todo), batch_size):
            batch = [dict(row, prompt=row["input"]) for row in todo[start : start + batch_size]]
            inputs = collator(batch).to(model.device)  # the model casts the log-mels to its audio tower's dtype
            texts = processor.batch_decode(model.generate(**inputs, **({"do_sample": False} | generate_kwargs)))
            for row, text in zip(batch, texts, strict=True):
                record = {
                    "key": f"{dataset_name}:{row['source']}",
                    "dataset": dataset_name,
                    "tier": row["tier"] or "custom",
                    "prompt": row["input"],
                    "prediction": text,
                    "reference": row["answer"],
                    "filepath1": row["filepath1"],
                    "filepath2": row["filepath2"],
                }
                done[record["key"]] = record
                f.write(json.dumps(record) + "\n")
            f.flush()  # a crash loses at most the batch in flight
            bar.update(len(batch))
    return [done[f"{dataset_name}:{row['source']}"] for row in rows]


__all__ = ["generate_predictions", "read_predictions"]
