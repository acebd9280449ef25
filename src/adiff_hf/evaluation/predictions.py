"""Explain every pair of a test split with batched greedy decoding, into a resumable JSONL file."""

import json
import logging
import os

import datasets
import torch
from tqdm.auto import tqdm

from ..data.collator import ADiffDataCollator
from ..data.jsonl import drop_partial_tail, finished, fold, shard
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
    state=None,
    **generate_kwargs,
) -> list[dict]:
    """Predict every row of `rows` (from `load_difference_csv`) not already in `output_path`, appending as it goes.

    Each record holds `key` (`dataset_name` + the row's `file:line`), `dataset`, `tier`, `prompt` (the CSV's
    `input`), `prediction`, `reference` and the two file paths. Greedy decoding unless `generate_kwargs` say
    otherwise. Returns this dataset's records, finished ones included. With `state` (an `accelerate.PartialState`
    of several processes), the rows left are split between the processes and folded into `output_path` in row
    order (`adiff_hf.data.jsonl.shard` / `fold`): the file is the one a single process writes.
    """
    keys = [f"{dataset_name}:{row['source']}" for row in rows]
    done = finished(output_path, "key")
    todo = [row for row, key in zip(rows, keys, strict=True) if key not in done]
    if len(todo) < len(rows):
        logger.info(
            "%s: %d of %d rows already predicted in %s; %d to go.",
            dataset_name,
            len(rows) - len(todo),
            len(rows),
            output_path,
            len(todo),
        )
    mine, target = shard(todo, output_path, state)
    drop_partial_tail(target)
    collator = ADiffDataCollator(processor, crop="start", with_answers=False)
    model.eval()
    main = state is None or state.is_main_process
    with (
        open(target, "a", encoding="utf-8") as f,
        tqdm(total=len(mine), desc=f"{dataset_name}", unit="pair", disable=not main) as bar,
    ):
        for start in range(0, len(mine), batch_size):
            batch = [dict(row, prompt=row["input"]) for row in mine[start : start + batch_size]]
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
                f.write(json.dumps(record) + "\n")
            f.flush()  # a crash loses at most the batch in flight
            bar.update(len(batch))
    fold(output_path, "key", keys, state)  # this dataset's rows after the others', in input order
    done = finished(output_path, "key")
    return [done[key] for key in keys]


__all__ = ["generate_predictions", "read_predictions"]
