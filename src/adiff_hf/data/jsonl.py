"""JSON Lines that a run appends to as it goes, and a rerun resumes: one record a line, a line cut short by a
crash skipped on reading and cut off before appending.

Several processes (under `accelerate launch`) share the work with [`shard`] and [`fold`]: each appends its share
to `OUT.part<rank>`, and the main process folds the parts into `OUT` in input order once all are done. What is
finished is read from `OUT` and any parts left by a killed run, whatever the process count then.
"""

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


def part_paths(output: str | os.PathLike) -> list[str]:
    """The per-process files of a sharded run into `output` (`OUT.part0`, `OUT.part1`, ...), any process count."""
    import glob

    return sorted(glob.glob(glob.escape(os.fspath(output)) + ".part*"))


def finished(output: str | os.PathLike, key: str) -> dict:
    """The records already written to `output` and to the parts a sharded run left, by their `key` field."""
    return {r[key]: r for path in [output, *part_paths(output)] for r in read_jsonl(path) if key in r}


def shard(todo: list, output: str | os.PathLike, state=None) -> tuple[list, str]:
    """This process's share of `todo` and the file it appends to: in one process, all of it and `output`; among
    several (an `accelerate.PartialState`), a contiguous share (`split_between_processes`) and `OUT.part<rank>`."""
    if state is None or state.num_processes <= 1:
        return todo, os.fspath(output)
    state.wait_for_everyone()  # every process has read what is finished before any writes
    with state.split_between_processes(todo) as share:
        return list(share), f"{os.fspath(output)}.part{state.process_index}"


def fold(output: str | os.PathLike, key: str, order: list, state=None) -> None:
    """Once every process is done: where parts are left, the main process writes `output` anew with one record
    per `key` (those not in `order` first, as they stood; then those in `order`, in that order) and removes the
    parts. One process appending in order leaves none, and nothing is rewritten."""
    several = state is not None and state.num_processes > 1
    if several:
        state.wait_for_everyone()
    if state is None or state.is_main_process:
        parts = part_paths(output)
        if parts:
            records = finished(output, key)
            rank = {k: i for i, k in enumerate(order)}
            keys = sorted(records, key=lambda k: rank.get(k, -1))  # stable: the others keep their order
            temporary = f"{os.fspath(output)}.folding"
            with open(temporary, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(records[k], allow_nan=False) + "\n" for k in keys)
            os.replace(temporary, output)
            for path in parts:
                os.remove(path)
    if several:
        state.wait_for_everyone()


__all__ = ["drop_partial_tail", "finished", "fold", "part_paths", "read_jsonl", "shard"]
