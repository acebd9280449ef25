"""Explaining many pairs: a file or dataset of pairs in, one JSON line per pair out, in input order, resumable.

The pairs are a CSV or JSON Lines with the columns `audio1` and `audio2` (paths, relative to the pairs file's folder
unless absolute), or a `datasets` dataset with two `Audio` columns (saved with `save_to_disk`, a folder of data files
`load_dataset` reads, or a Parquet file). A row may set its own `tier` or `prompt`; other columns are carried to the
output. Each output line is the row's fields (an audio cell as its path) plus `row` (its index), `prompt` and
`explanation` (with `evidence` and `claims` when measured; `candidates` and `chosen` when grounded). Rows already in
the output are skipped, so a killed run resumes where it stopped, losing at most one batch. An output ending in
`.parquet`, or a folder, is also written as a dataset once every row is done. Under `accelerate launch`, the rows
are split between the processes (and machines), and the output is the same, row for row, as one process writes.
"""

import csv
import json
import os

from ..audio_io import PAIR_COLUMNS, decode_cell, pairs_dataset, resolve_path
from ..data.jsonl import drop_partial_tail, finished, fold, read_jsonl, shard

DATASET_SUFFIXES = (".parquet", ".arrow")


def _is_dataset_path(path: str) -> bool:
    return os.path.isdir(path) or path.lower().endswith(DATASET_SUFFIXES)


def load_pairs_dataset(path: str, split: str | None = None):
    """A `datasets.Dataset` of pairs from `path`: a folder `save_to_disk` wrote, a folder of data files, or a
    Parquet / Arrow file; of a `DatasetDict`, `split` (which may be left out where there is one). Its two audio
    columns are named `audio1` and `audio2` (renamed from the dataset's two `Audio` columns, in order, where it has
    no such names) and left undecoded (`Audio(decode=False)`): audio is read without torchcodec."""
    import datasets

    if os.path.isdir(path) and any(
        os.path.isfile(os.path.join(path, name)) for name in ("state.json", "dataset_dict.json")
    ):
        loaded = datasets.load_from_disk(path)
    elif os.path.isdir(path):
        loaded = datasets.load_dataset(path)
    else:
        kind = "parquet" if path.lower().endswith(".parquet") else "arrow"
        loaded = datasets.load_dataset(kind, data_files=path)
    if isinstance(loaded, datasets.DatasetDict):
        if split is None and len(loaded) == 1:
            split = next(iter(loaded))
        if split not in loaded:
            raise ValueError(f"{path}: choose a split with --split ({', '.join(loaded)}), got {split!r}.")
        loaded = loaded[split]
    return pairs_dataset(loaded, path)


class PairSource:
    """The pairs of a file or dataset (see the module): `rows`, each with its `row` index and its audio as paths
    (what the output carries), and `clips(row)`, the two clips to hear. Raises ValueError naming the file and the
    row where a row lacks `audio1` or `audio2`."""

    def __init__(self, path: str | os.PathLike, split: str | None = None):
        self.path = os.fspath(path)
        self.folder = os.path.dirname(os.path.abspath(self.path))
        self.dataset = None
        if _is_dataset_path(self.path):
            self.dataset = load_pairs_dataset(self.path, split)
            self.folder = self.path if os.path.isdir(self.path) else self.folder
            others = self.dataset.remove_columns(list(PAIR_COLUMNS))
            rows = others.to_list() if others.column_names else [{} for _ in range(len(self.dataset))]
            for row, values in zip(rows, self._paths(), strict=True):
                row.update(values)
        else:
            rows = _read_table(self.path)
        if not rows:
            raise ValueError(f"{self.path}: no pairs.")
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise ValueError(f"{self.path}: row {index + 1} is not an object with audio1 and audio2.")
            missing = [] if self.dataset is not None else [column for column in PAIR_COLUMNS if not row.get(column)]
            if missing:  # a dataset's cells may hold bytes without a path: read when explained
                raise ValueError(f"{self.path}: row {index + 1} has no {' and no '.join(missing)}.")
            row["row"] = index
        self.rows = rows

    def _paths(self):
        """Each row's audio cells as their paths, read from the Arrow table without their bytes."""
        import pyarrow.compute

        columns = []
        for column in PAIR_COLUMNS:
            cells = self.dataset.data.column(column)
            is_struct = hasattr(cells.type, "get_field_index") and cells.type.get_field_index("path") >= 0
            columns.append((pyarrow.compute.struct_field(cells, "path") if is_struct else cells).to_pylist())
        for paths in zip(*columns, strict=True):
            yield dict(zip(PAIR_COLUMNS, paths, strict=True))

    def clips(self, row: dict) -> tuple:
        """The two clips of `row`: paths (relative ones from the pairs file's folder), or audio decoded from a
        dataset's cells."""
        if self.dataset is None:
            return tuple(resolve_path(row[column], self.folder) for column in PAIR_COLUMNS)
        record = self.dataset[row["row"]]
        return tuple(
            decode_cell(record[column], self.folder, name=f"{self.path} row {row['row'] + 1} {column}")
            for column in PAIR_COLUMNS
        )


def _read_table(path: str) -> list[dict]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such pairs file.")
    if path.lower().endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    if path.lower().endswith((".jsonl", ".json")):
        rows = []
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as error:
                        raise ValueError(f"{path}: line {number} is not JSON ({error.msg}).") from None
        return rows
    raise ValueError(
        f"{path}: pairs are a .csv, a .jsonl (one JSON object a line), a .parquet or a folder holding a dataset."
    )


def read_pair_rows(path: str | os.PathLike, split: str | None = None) -> list[dict]:
    """The rows of a pairs file or dataset, each with its `row` index (see [`PairSource`])."""
    return PairSource(path, split).rows


def records_path(output: str | os.PathLike) -> str:
    """The JSON Lines a run appends to for `output`: `output` itself, or beside a dataset output (`X.parquet`:
    `X.parquet.jsonl`; a folder: `explanations.jsonl` in it), which a rerun resumes from."""
    output = os.fspath(output)
    if output.lower().endswith(".parquet"):
        return output + ".jsonl"
    if os.path.isdir(output) or output.endswith(os.sep) or not os.path.splitext(output)[1]:
        return os.path.join(output, "explanations.jsonl")
    return output


def write_dataset(records: list[dict], output: str | os.PathLike) -> None:
    """`records` as a `datasets.Dataset` at `output`: a Parquet file (`load_dataset("parquet", data_files=...)`)
    or a folder (`load_from_disk`). Fields holding objects or lists (`evidence`, `claims`, `candidates`) are kept
    as JSON text, since their keys differ from row to row."""
    import datasets

    nested = {key for record in records for key, value in record.items() if isinstance(value, (dict, list))}
    flat = [{k: json.dumps(v, allow_nan=False) if k in nested else v for k, v in r.items()} for r in records]
    dataset = datasets.Dataset.from_list(flat)
    output = os.fspath(output)
    if output.lower().endswith(".parquet"):
        dataset.to_parquet(output)
    else:
        dataset.save_to_disk(output)


def explain_pairs(
    pipe,
    pairs,
    output: str | os.PathLike,
    prompt: str | None = None,
    batch_size: int = 8,
    evidence: bool = False,
    grounded: int | None = None,
    progress: bool = True,
    state=None,
    **generate_kwargs,
) -> list[dict]:
    """Explain every pair not already in `output`, appending one JSON line per pair, and return all of the output's
    records in row order.

    Args:
        pipe: an `audio-difference` pipeline.
        pairs: a [`PairSource`] (a pairs file or dataset), or a path to one; a row's own `tier` or `prompt`
            overrides `prompt`.
        output: the JSON Lines written (and read back on a rerun: rows already there are skipped); or a `.parquet`
            file or a folder, written as a `datasets.Dataset` once every row is done (see [`records_path`] for
            where the lines go meanwhile).
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

    source = pairs if isinstance(pairs, PairSource) else PairSource(pairs)
    lines = records_path(output)
    if lines != os.fspath(output):
        os.makedirs(os.path.dirname(os.path.abspath(lines)), exist_ok=True)
    done = finished(lines, "row")
    todo = [row for row in source.rows if row["row"] not in done]
    options = dict(generate_kwargs)
    if grounded is not None and grounded > 1:
        options["grounded"] = grounded
    elif evidence:
        options["return_evidence"] = True
    mine, target = shard(todo, lines, state)
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
                clips = [source.clips(chunk[i]) for i in members]
                outputs = pipe(clips, prompt=asked, batch_size=batch_size, **options)
                for i, output_ in zip(members, outputs, strict=True):
                    results[i] = output_[0]
            for row, asked, result in zip(chunk, prompts, results, strict=True):
                record = dict(row) | {"prompt": asked, "explanation": result["generated_text"]}
                keys = ("evidence", "claims", "candidates", "chosen")
                record |= {key: result[key] for key in keys if key in result}
                f.write(json_text(record) + "\n")
            f.flush()
            bar.update(len(chunk))
    fold(lines, "row", [row["row"] for row in source.rows], state)
    records = sorted(read_jsonl(lines), key=lambda record: record["row"])
    if lines != os.fspath(output) and main:
        write_dataset(records, output)
    if state is not None and state.num_processes > 1:
        state.wait_for_everyone()
    return records


__all__ = [
    "PAIR_COLUMNS",
    "PairSource",
    "explain_pairs",
    "load_pairs_dataset",
    "pairs_dataset",
    "read_pair_rows",
    "records_path",
    "write_dataset",
]
