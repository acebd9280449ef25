"""ACD / CLD difference CSVs (or any CSV with their schema) -> `datasets.Dataset` of audio pairs with answers."""

import csv
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import datasets

from ..audio_io import resolve_path
from ..prompts import tier_of_prompt

logger = logging.getLogger(__name__)

CSV_COLUMNS = ("taskname", "filepath1", "filepath2", "caption1", "caption2", "input", "answer")


@dataclass
class LoadReport:
    """What `load_difference_csv` read: rows kept, rows skipped for missing audio, and the missing files."""

    rows: int = 0
    skipped: int = 0
    missing_files: list[str] = field(default_factory=list)


def _read_rows(csv_file: str) -> list[dict]:
    if not os.path.isfile(csv_file):
        raise FileNotFoundError(f"Difference CSV not found: {csv_file}")
    with open(csv_file, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{csv_file} lacks the columns {missing}; a difference CSV needs {list(CSV_COLUMNS)} "
                f"(found {reader.fieldnames})."
            )
        rows = []
        for line, row in enumerate(reader, start=2):
            for column in ("filepath1", "filepath2", "input", "answer"):
                if not (row[column] or "").strip():
                    raise ValueError(f"{csv_file}, line {line}: the column {column!r} is empty.")
            rows.append({c: (row[c] or "").strip() for c in CSV_COLUMNS} | {"source": f"{csv_file}:{line}"})
    return rows


def load_difference_csv(
    csv_files: str | os.PathLike | Sequence[str | os.PathLike],
    audio_root: str | os.PathLike | None = None,
    missing_audio: str = "error",
    max_rows: int | None = None,
    return_report: bool = False,
) -> datasets.Dataset | tuple[datasets.Dataset, LoadReport]:
    """Read difference CSVs (`taskname, filepath1, filepath2, caption1, caption2, input, answer`) into a dataset.

    Args:
        csv_files: one CSV or several (e.g. the three tiers of a split); rows are concatenated in order.
        audio_root: the directory the CSV's relative `filepath1`/`filepath2` start from (where Clotho and
            AudioCaps are unpacked); defaults to each CSV's own directory. Absolute paths are kept.
        missing_audio: `"error"` (default) raises naming the first missing file; `"skip"` drops those rows and
            logs how many.
        max_rows: keep at most this many rows (after skipping), e.g. for a quick run.
        return_report: also return a [`LoadReport`].

    Returns:
        A `datasets.Dataset` with the CSV columns (file paths made absolute), `tier` (`"few_words"`,
        `"sentence"`, `"detail"`, or None for prompts of one's own) and `source` (`file:line`). Audio stays as
        paths: it is decoded in the collator, not by `datasets`.
    """
    if missing_audio not in ("error", "skip"):
        raise ValueError(f"missing_audio must be 'error' or 'skip', got {missing_audio!r}.")
    files = [csv_files] if isinstance(csv_files, (str, os.PathLike)) else list(csv_files)
    if not files:
        raise ValueError("csv_files is empty: give at least one difference CSV.")
    report = LoadReport()
    kept = []
    exists: dict[str, bool] = {}
    for csv_file in map(os.fspath, files):
        root = os.fspath(audio_root) if audio_root is not None else os.path.dirname(os.path.abspath(csv_file))
        for row in _read_rows(csv_file):
            row["filepath1"], row["filepath2"] = (resolve_path(row[k], root) for k in ("filepath1", "filepath2"))
            absent = [p for p in (row["filepath1"], row["filepath2"]) if not exists.setdefault(p, os.path.isfile(p))]
            if absent:
                if missing_audio == "error":
                    raise FileNotFoundError(
                        f"Audio file not found: {absent[0]} (row {row['source']}, audio root {root}). Point "
                        "audio_root at the directory holding the CSV's file paths, or pass missing_audio='skip'."
                    )
                report.skipped += 1
                report.missing_files += [p for p in absent if p not in report.missing_files]
                continue
            row["tier"] = tier_of_prompt(row["input"])
            kept.append(row)
    if report.skipped:
        logger.warning(
            "Skipped %d of %d rows whose audio is missing (%d files, e.g. %s).",
            report.skipped,
            report.skipped + len(kept),
            len(report.missing_files),
            report.missing_files[0],
        )
    if not kept:
        raise ValueError(f"No rows with audio left in {[os.fspath(f) for f in files]} (skipped {report.skipped}).")
    if max_rows is not None:
        kept = kept[:max_rows]
    report.rows = len(kept)
    features = datasets.Features({name: datasets.Value("string") for name in (*CSV_COLUMNS, "source", "tier")})
    dataset = datasets.Dataset.from_list(kept, features=features)
    return (dataset, report) if return_report else dataset


__all__ = ["CSV_COLUMNS", "LoadReport", "load_difference_csv"]
