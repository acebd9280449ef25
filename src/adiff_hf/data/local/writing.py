"""Writing the local dataset: sources shared among splits by clip and package, the pair stream's pairs written as
audio, one CSV (ACD schema, three tiers per pair) and one `_pairs.jsonl` of known attributes per split, and a
manifest of sources and licences."""

import csv
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import soundfile as sf

from ...prompts import CSV_TIER_INPUTS
from ..changes import RATE, Source, _capital
from ..difference_csv import CSV_COLUMNS

# the pairs live in the package: training draws the same pairs without end
from ..pair_stream import STREAM_MIX, DifferencePairStream

MAX_SECONDS = 5.0


def _split_sources(
    sources: list[Source], pairs_per_split: dict[str, int], seed: int, unseen_packages=()
) -> dict[str, list[Source]]:
    """Each source clip goes to exactly one split.

    Sources of `unseen_packages` all go to the split `test_unseen` (which must be in `pairs_per_split`); the others
    are shared among the remaining splits in a seeded hash order, sizes in proportion, at least 2 each.
    """
    unseen = [s for s in sources if s.package in unseen_packages]
    if unseen_packages:
        if "test_unseen" not in pairs_per_split:
            raise ValueError("unseen_packages need a 'test_unseen' split in pairs_per_split.")
        if len(unseen) < 2:
            raise ValueError(f"The unseen packages {list(unseen_packages)} hold {len(unseen)} clips; 2 at least.")
    seen = [s for s in sources if s.package not in unseen_packages]
    splits = [s for s in pairs_per_split if not (unseen_packages and s == "test_unseen")]
    if len(seen) < 2 * len(splits):
        raise ValueError(f"{len(seen)} source clips are too few for {len(splits)} splits (2 each at least).")
    order = sorted(seen, key=lambda s: hashlib.sha256(f"{seed}:{s.path}".encode()).hexdigest())
    total = sum(pairs_per_split[s] for s in splits)
    sizes = [max(2, round(len(order) * pairs_per_split[s] / total)) for s in splits]
    sizes[0] = len(order) - sum(sizes[1:])  # the first split (train) takes the rest
    if sizes[0] < 2:
        raise ValueError(f"{len(seen)} source clips are too few for the splits {pairs_per_split}.")
    result, start = {}, 0
    for split, size in zip(splits, sizes, strict=True):
        result[split] = sorted(order[start : start + size], key=lambda s: s.path)
        start += size
    if unseen_packages:
        result["test_unseen"] = sorted(unseen, key=lambda s: s.path)
    return result


@dataclass
class BuildReport:
    splits: dict[str, str] = field(default_factory=dict)  # split -> CSV path
    pairs: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> pair kind -> count


PAIR_KINDS = tuple(STREAM_MIX)  # change, two_changes, identical, near_identical, sources
DEFAULT_MIX = {"change": 0.55, "two_changes": 0.1, "identical": 0.06, "near_identical": 0.06, "sources": 0.23}


def _write_source(source: Source, wave: np.ndarray, split: str, output_dir: str) -> str:
    """The source clip as the dataset hears it (mono, 32 kHz, peak-normalised), written once per split."""
    digest = hashlib.sha256(source.path.encode()).hexdigest()[:12]
    relative = os.path.join("audio", "sources", f"{split}_{digest}.wav")
    target = os.path.join(output_dir, relative)
    if not os.path.isfile(target):
        sf.write(target, wave, RATE, subtype="PCM_16")
    return relative


def build_difference_dataset(
    sources: list[Source],
    output_dir: str | os.PathLike,
    pairs_per_split: dict[str, int] | None = None,
    mix: dict[str, float] | None = None,
    seed: int = 0,
    unseen_packages: tuple[str, ...] | list[str] = (),
    progress: bool = False,
) -> BuildReport:
    """Write clips and one CSV per split (ACD schema, three tiers per pair) plus `manifest.json`.

    Args:
        sources: labelled clips (e.g. from [`discover_debian_sources`] or your own).
        output_dir: where `audio/`, the CSVs and the manifest go.
        pairs_per_split: pairs per split (each gives three CSV rows, one per tier).
        mix: share of each pair kind (`change`, `two_changes`, `identical`, `near_identical`, `sources`).
        seed: makes everything deterministic.
        unseen_packages: packages kept out of every split but `test_unseen` (sounds the model never hears).
        progress: show a progress bar per split.
    """
    pairs_per_split = pairs_per_split or {"train": 400, "validation": 50, "test": 100}
    mix = mix or DEFAULT_MIX
    unknown = sorted(set(mix) - set(PAIR_KINDS))
    if unknown or not mix or min(mix.values()) < 0 or sum(mix.values()) <= 0:
        raise ValueError(f"mix: shares of {list(PAIR_KINDS)}, non-negative, not all zero; got {mix}.")
    by_split = _split_sources(sources, pairs_per_split, seed, tuple(unseen_packages))
    audio_dir = os.path.join(output_dir, "audio")
    os.makedirs(os.path.join(audio_dir, "sources"), exist_ok=True)
    report = BuildReport()
    manifest = {"seed": seed, "sample_rate": RATE, "unseen_packages": list(unseen_packages), "sources": []}
    manifest["pairs"] = {}
    for split, count in pairs_per_split.items():
        members = [replace(source, split=split) for source in by_split[split]]
        # the pairs are the stream's (adiff_hf.data.pair_stream): the fixed splits hold what training draws from
        stream = DifferencePairStream(members, split, seed=seed, mix=mix, max_seconds=MAX_SECONDS)
        rows, records = [], []
        indices = range(count)
        if progress:
            from tqdm.auto import tqdm

            indices = tqdm(indices, desc=split, unit="pair")
        for index in indices:
            item = stream.pair(index)
            record, texts = item["record"], item["texts"]
            stem = f"{split}_{index:05d}"
            paths = []
            clips = zip(
                ("a", "b"), (item["audio1"], item["audio2"]), item["clip_sources"], item["unchanged"], strict=True
            )
            for suffix, wave, source, unchanged in clips:
                if unchanged:  # a source as read: written once, shared by the pairs that use it
                    paths.append(_write_source(source, wave, split, output_dir))
                    continue
                relative = os.path.join("audio", f"{stem}_{suffix}.wav")
                sf.write(os.path.join(output_dir, relative), wave, RATE, subtype="PCM_16")
                paths.append(relative)
            records.append({"split": split, "index": index, "filepath1": paths[0], "filepath2": paths[1]} | record)
            kind = record["kind"]
            task = f"local:{kind}" + (f":{record['change']}" if "change" in record else "")
            for tier, prompt in CSV_TIER_INPUTS.items():
                rows.append(
                    {
                        "taskname": task,
                        "filepath1": paths[0],
                        "filepath2": paths[1],
                        "caption1": _capital(texts["caption_1"]),
                        "caption2": _capital(texts["caption_2"]),
                        "input": prompt,
                        "answer": _capital(texts[tier]),
                    }
                )
        path = os.path.join(output_dir, f"{split}.csv")
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        with open(os.path.join(output_dir, f"{split}_pairs.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)  # the known attributes of every pair
        report.splits[split], report.pairs[split], report.sources[split] = path, count, len(members)
        report.kinds[split] = {k: sum(r["kind"] == k for r in records) for k in mix}
        manifest["pairs"][split] = count
        manifest["sources"] += [asdict(s) | {"split": split} for s in members]
    with open(os.path.join(output_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    return report
