"""Explaining many pairs: a file of pairs in, one JSON line per pair out, in input order, resumable.

The pairs file is a CSV or JSON Lines with the columns `audio1` and `audio2` (paths, relative to the pairs file's
folder unless absolute) and optionally `tier` or `prompt` per row; other columns are carried to the output. Each
output line is the row's fields plus `row` (its index), `prompt` and `explanation` (with `evidence` and `claims`
when measured; `candidates` and `chosen` when grounded). Rows already in the output are skipped, so a killed run
resumes where it stopped, losing at most one batch. Under `accelerate launch`, the rows are split between the
processes (and machines), and the output is the same, row for row, as one process writes.
"""

import csv
import json
import os

from ..audio_io import resolve_path
from ..data.jsonl import drop_partial_tail, finished, fold, read_jsonl, shard

PAIR_COLUMNS = ("audio1", "audio2")


def read_pair_rows(path: str | os.PathLike) -> list[dict]:
    """The rows of a pairs file (`.csv`, or `.jsonl` / `.json` with one object a line), each with its `row` index.

    Raises ValueError naming the file and the row when a row lacks `audio1` or `audio2`.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such pairs file.")
    if path.lower().endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    elif path.lower().endswith((".jsonl", ".json")):
        rows = []
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as error:
                        raise ValueError(f"{path}: line {number} is not JSON ({error.msg}).") from None
    else:
        raise ValueError(f"{path}: a pairs file is .csv or .jsonl (one JSON object a line).")
    if not rows:
        raise ValueError(f"{path}: no pairs.")
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"{path}: row {index + 1} is not an object with audio1 and audio2.")
        missing = [column for column in PAIR_COLUMNS if not row.get(column)]
        if missing:
            raise ValueError(f"{path}: row {index + 1} has no {' and no '.join(missing)}.")
        row["row"] = index
    return rows


def explain_pairs(
    pipe,
    rows: list[dict],
    output: str | os.PathLike,
    folder: str = ".",
    prompt: str | None = None,
    batch_size: int = 8,
    evidence: bool = False,
    grounded: int | None = None,
    progress: bool = True,
    state=None,
    **generate_kwargs,
) -> list[dict]:
    """Explain every row of `rows` (from [`read_pair_rows`]) not already in `output`, appending one JSON line per
    pair, and return all of the output's records in row order.

    Args:
        pipe: an `audio-difference` pipeline.
        rows: the pairs; a row's own `tier` or `prompt` overrides `prompt`.
        output: the JSON Lines file written (and read back on a rerun: rows already there are skipped).
        folder: where relative audio paths start (the pairs file's folder).
        prompt: the prompt of rows that name none (default: the detailed tier's).
        batch_size: pairs per `generate()` call.
        evidence: also measure each pair and check its explanation (`evidence`, `claims`).
        grounded: ask for this many candidates and keep the best supported (`candidates`, `chosen` too).
        progress: show a progress bar (on the main process).
        state: an `accelerate.PartialState` of several processes: the rows left are split between them
            (`split_between_processes`), each writes `OUT.part<rank>` as it goes, and the main process folds them
            into `output` in row order once all are done. A rerun, with any process count, resumes from all of them.
        **generate_kwargs: passed to `generate()` (`max_new_tokens`, `num_beams`, ...).
    """
    from tqdm.auto import tqdm

    from ..prompts import prompt_for
    from .cli import json_text

    done = finished(output, "row")
    todo = [row for row in rows if row["row"] not in done]
    options = dict(generate_kwargs)
    if grounded is not None and grounded > 1:
        options["grounded"] = grounded
    elif evidence:
        options["return_evidence"] = True
    mine, target = shard(todo, output, state)
    drop_partial_tail(target)
    main = state is None or state.is_main_process
    bar = tqdm(total=len(mine), desc="explaining", unit="pair", disable=not (progress and main))
    with open(target, "a", encoding="utf-8") as f, bar:
        for start in range(0, len(mine), batch_size):
            chunk = mine[start : start + batch_size]
            prompts = [prompt_for(row.get("tier") or None, row.get("prompt") or prompt) for row in chunk]
            results = [None] * len(chunk)
            for asked in dict.fromkeys(prompts):  # one call per prompt in the batch
                members = [i for i, p in enumerate(prompts) if p == asked]
                pairs = [tuple(resolve_path(chunk[i][c], folder) for c in PAIR_COLUMNS) for i in members]
                outputs = pipe(pairs, prompt=asked, batch_size=batch_size, **options)
                for i, output_ in zip(members, outputs, strict=True):
                    results[i] = output_[0]
            for row, asked, result in zip(chunk, prompts, results, strict=True):
                record = dict(row) | {"prompt": asked, "explanation": result["generated_text"]}
                keys = ("evidence", "claims", "candidates", "chosen")
                record |= {key: result[key] for key in keys if key in result}
                f.write(json_text(record) + "\n")
            f.flush()
            bar.update(len(chunk))
    fold(output, "row", [row["row"] for row in rows], state)
    return sorted(read_jsonl(output), key=lambda record: record["row"])


__all__ = ["PAIR_COLUMNS", "explain_pairs", "read_pair_rows"]
