"""JSON Lines that a run appends to as it goes, and a rerun resumes: one record a line, a line cut short by a
crash skipped on reading and cut off before appending."""

import json
import logging
import os

logger = logging.getLogger(__name__)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The records of a JSONL file (none if it does not exist); a last line cut short by a crash is ignored."""
    if not os.path.isfile(path):
        return []
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("%s: line %d is incomplete (an interrupted run); it will be done again.", path, number)
    return records


def drop_partial_tail(path: str | os.PathLike) -> None:
    """Cut a last line left unfinished by a crash, so that appended records start on a line of their own."""
    if not os.path.isfile(path):
        return
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


__all__ = ["drop_partial_tail", "read_jsonl"]
