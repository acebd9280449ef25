"""Difference pairs drawn without end: a source clip, a change and a strength, made on the fly.

A fixed set of a thousand pairs is learned by heart; pairs drawn afresh at every step are not. The stream draws
from labelled source clips (e.g. the local recipe's Debian sounds, or clips of one's own) kept apart by package
(`split_sources`), so that the `test_unseen` split holds sounds no training pair ever used. Each item carries the
two waveforms, direction-aware labels for an ear (`EAR_CLASSES`, the changed clip where a change has a side, a
strength bucket, the kind of each clip's source) and the answers of every task in its own form (the three
difference tiers, with two-sided changes worded from either clip, and each clip's caption).

Item `i` of a stream is a function of `(seed, i)` alone: the same pairs come out whatever the number of
`DataLoader` workers (worker `w` of `W` makes items `w, w + W, ...`), and a run that resumes at step `s` asks for the
items from `start = s * batch_size` on.
"""

import hashlib
import json
import math
import os
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from .changes import (
    EAR_CLASSES,
    RATE,
    SOURCE_KINDS,
    STRENGTH_BUCKETS,
    TWO_SIDED,
    Change,
    Source,
    apply_change,
    change_class,
    changed_clip_label,
    draw_change,
    draw_inaudible_change,
    draw_two_changes,
    reversed_change,
    texts_for_change,
    texts_for_same,
    texts_for_sources,
)

SPLITS = ("train", "validation", "test", "test_unseen")
# packages whose sounds only the test_unseen split hears (the local recipe's choice: drums, short tones, a theme)
DEFAULT_UNSEEN_PACKAGES = ("hydrogen-drumkits", "sound-icons", "yaru-theme-sound", "espeak-ng")
# shares of the seen clips per split (by a hash of the clip's path, so a clip's split never changes)
SEEN_SHARES = {"train": 0.85, "validation": 0.05, "test": 0.10}
STREAM_MIX = {"change": 0.55, "two_changes": 0.08, "identical": 0.07, "near_identical": 0.07, "sources": 0.23}
MAX_SECONDS = 5.0


def load_sources(path: str | os.PathLike) -> list[Source]:
    """Labelled source clips from JSON: a list of `{path, label, package, kind, license, split}` (`split`
    optional), or an object whose `sources` holds one (the `manifest.json` the local recipe writes, whose splits are
    then kept). Relative paths start at the file's folder."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"Sources file not found: {path}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"Sources file {path} is not valid JSON: {err}") from None
    entries = data.get("sources") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise ValueError(
            f"{path} holds no sources: a JSON list of {{path, label, package, kind}} (or 'sources': [...])."
        )
    root = os.path.dirname(os.path.abspath(path))
    sources = []
    for i, entry in enumerate(entries):
        missing = [k for k in ("path", "label", "package") if not isinstance(entry, dict) or k not in entry]
        if missing:
            raise ValueError(f"{path}: source {i} lacks {missing}.")
        kind = entry.get("kind", "sound")
        if kind not in SOURCE_KINDS:
            raise ValueError(f"{path}: source {i} has kind {kind!r}; one of {SOURCE_KINDS}.")
        split = entry.get("split")
        if split is not None and split not in SPLITS:
            raise ValueError(f"{path}: source {i} has split {split!r}; one of {SPLITS}.")
        where = entry["path"] if os.path.isabs(entry["path"]) else os.path.join(root, entry["path"])
        sources.append(Source(where, entry["label"], entry["package"], entry.get("license", "unknown"), kind, split))
    return sources


def split_of(source: Source, unseen_packages: Sequence[str] = DEFAULT_UNSEEN_PACKAGES) -> str:
    """The split a source clip belongs to: its own `split` if it names one; `test_unseen` for the unseen packages;
    else by a hash of its path."""
    if source.split is not None:
        return source.split
    if source.package in unseen_packages:
        return "test_unseen"
    position = int(hashlib.sha256(source.path.encode()).hexdigest()[:8], 16) / 16**8
    edge = 0.0
    for split, share in SEEN_SHARES.items():
        edge += share
        if position < edge:
            return split
    return "test"


def split_sources(
    sources: Sequence[Source], unseen_packages: Sequence[str] = DEFAULT_UNSEEN_PACKAGES
) -> dict[str, list[Source]]:
    """`{split: clips}` for every split in `SPLITS` (a clip is in exactly one)."""
    result = {split: [] for split in SPLITS}
    for source in sorted(sources, key=lambda s: s.path):
        result[split_of(source, unseen_packages)].append(source)
    return result


def _strength_bucket(changes: list[Change]) -> int:
    """Mild / medium / strong for a single graded change; -100 (ignored) otherwise."""
    if len(changes) != 1 or changes[0].name in ("codec", "reverse"):
        return -100
    return min(int(changes[0].strength * STRENGTH_BUCKETS), STRENGTH_BUCKETS - 1)


class DifferencePairStream(torch.utils.data.IterableDataset):
    """An endless (or `num_pairs`-long) stream of difference pairs made on the fly from labelled source clips.

    Args:
        sources: labelled clips (`adiff_hf.data.changes.Source`), of every split: the stream keeps those of `split`.
        split: one of `SPLITS`; `test_unseen` holds the `unseen_packages` only.
        seed: with the item index, fixes everything about a pair.
        mix: share of each pair kind: `change`, `two_changes`, `identical`, `near_identical`, `sources`.
        num_pairs: stop after this many items (None: never).
        start: the first item index (to resume a run where it stopped).
        unseen_packages: packages kept out of every split but `test_unseen`.
        max_seconds: source clips are cut to this length.

    Each item is a dict: `audio1`, `audio2` (float32 at `RATE`), `sampling_rate`, `change_target` (a distribution over
    `EAR_CLASSES`: one class, or two halves for two changes), `changed_clip` (0 / 1, or -100 where every change
    reads the same from either clip), `strength` (bucket or -100), `kinds` (each clip's `SOURCE_KINDS` index),
    `texts` (`few_words`, `sentence`, `detail`, `caption_1`, `caption_2`) and `record` (the known attributes, in
    the form attribute scoring reads), `clip_sources` (the `Source` each clip comes from) and `unchanged` (whether
    each clip is that source as read, unaltered).
    """

    def __init__(
        self,
        sources: Sequence[Source],
        split: str = "train",
        seed: int = 0,
        mix: dict[str, float] | None = None,
        num_pairs: int | None = None,
        start: int = 0,
        unseen_packages: Sequence[str] = DEFAULT_UNSEEN_PACKAGES,
        max_seconds: float = MAX_SECONDS,
    ):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}; got {split!r}.")
        self.members = split_sources(sources, unseen_packages)[split]
        if len(self.members) < 2:
            raise ValueError(f"The {split!r} split holds {len(self.members)} source clips; a stream needs 2 at least.")
        mix = dict(mix or STREAM_MIX)
        unknown = sorted(set(mix) - set(STREAM_MIX))
        if unknown or min(mix.values()) < 0 or sum(mix.values()) <= 0:
            raise ValueError(f"mix: non-negative shares of {list(STREAM_MIX)}; got {mix}.")
        self.kinds = list(mix)
        self.weights = np.array([mix[k] for k in self.kinds]) / sum(mix.values())
        self.split, self.seed, self.num_pairs, self.start = split, seed, num_pairs, start
        self.max_samples = int(max_seconds * RATE)
        self.packages = sorted({m.package for m in self.members})
        self._clips: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        if self.num_pairs is None:
            raise TypeError("An endless DifferencePairStream has no length; give num_pairs.")
        return self.num_pairs

    def _read(self, source: Source) -> np.ndarray:
        """The clip as pairs hear it: mono, `RATE`, at most `max_seconds`, peak at 0.7 (kept once read)."""
        wave = self._clips.get(source.path)
        if wave is None:
            from ..audio_io import load_audio

            wave = load_audio(source.path, RATE, max_seconds=self.max_samples / RATE)[: self.max_samples]
            peak = float(np.abs(wave).max()) if len(wave) else 0.0
            wave = (wave / peak * 0.7).astype(np.float32) if peak > 0 else wave.astype(np.float32)
            self._clips[source.path] = wave
        return wave

    def _draw_source(self, rng: np.random.Generator) -> Source:
        """A package drawn uniformly, then one of its clips: a package with hundreds of clips does not dominate."""
        package = self.packages[int(rng.integers(len(self.packages)))]
        clips = [m for m in self.members if m.package == package]
        return clips[int(rng.integers(len(clips)))]

    def pair(self, index: int) -> dict:
        """Item `index` of the stream (a function of the seed and `index` only)."""
        rng = np.random.default_rng([self.seed, SPLITS.index(self.split), index])
        kind = self.kinds[int(rng.choice(len(self.kinds), p=self.weights))]
        a = self._draw_source(rng)
        target = np.zeros(len(EAR_CLASSES), dtype=np.float32)
        kinds = [SOURCE_KINDS.index(a.kind)] * 2
        changed_clip, strength = -100, -100
        if kind in ("change", "two_changes"):
            changes = [draw_change(rng)] if kind == "change" else draw_two_changes(rng)
            wave = self._read(a)
            changed = wave
            for change in changes:
                changed = apply_change(changed, change, rng)
            clip = 1 if rng.random() < 0.5 else 2
            audio1, audio2 = (changed, wave) if clip == 1 else (wave, changed)
            unchanged = [clip == 2, clip == 1]
            for change in changes:
                target[EAR_CLASSES.index(change_class(change, clip))] += 1 / len(changes)
            changed_clip, strength = changed_clip_label(changes, clip), _strength_bucket(changes)
            worded, named = changes, clip
            if all(c.name in TWO_SIDED for c in changes) and rng.random() < 0.5:  # "audio 1 is quieter" as well
                worded, named = [reversed_change(c) for c in changes], 3 - clip
            texts = texts_for_change(a.label, worded, named == 1, rng)
            captions = (texts["caption_changed"], texts["caption_plain"])
            texts |= {"caption_1": captions[0], "caption_2": captions[1]} if named == 1 else {}
            texts |= {"caption_1": captions[1], "caption_2": captions[0]} if named == 2 else {}
            record = {
                "kind": kind,
                "change": changes[0].name,
                "value": changes[0].value,
                "changes": [{"change": c.name, "value": c.value, "short": c.short} for c in changes],
                "changed_clip": clip,
                "labels": [a.label, a.label],
            }
        elif kind in ("identical", "near_identical"):
            wave = self._read(a)
            inaudible = draw_inaudible_change(rng) if kind == "near_identical" else None
            other = wave if inaudible is None else apply_change(wave, inaudible, rng)
            first = rng.random() < 0.5
            audio1, audio2 = (wave, other) if first else (other, wave)
            unchanged = [first or inaudible is None, not first or inaudible is None]
            target[EAR_CLASSES.index("same")] = 1.0
            texts = texts_for_same(a.label, a.kind, inaudible, rng)
            record = {"kind": kind, "changes": [], "labels": [a.label, a.label]}
            if inaudible is not None:
                record["inaudible"] = {"change": inaudible.name, "value": inaudible.value}
        else:
            b = self._draw_source(rng)
            for _ in range(20):
                if b.label != a.label:
                    break
                b = self._draw_source(rng)
            audio1, audio2 = self._read(a), self._read(b)
            unchanged = [True, True]
            target[EAR_CLASSES.index("sources")] = 1.0
            kinds[1] = SOURCE_KINDS.index(b.kind)
            texts = texts_for_sources(a, b, rng)
            record = {
                "kind": "sources",
                "labels": [a.label, b.label],
                "speech": [a.kind == "speech", b.kind == "speech"],
            }
        return {
            "audio1": np.asarray(audio1, dtype=np.float32),
            "audio2": np.asarray(audio2, dtype=np.float32),
            "sampling_rate": RATE,
            "change_target": target,
            "changed_clip": changed_clip,
            "strength": strength,
            "kinds": kinds,
            "texts": {k: texts[k] for k in ("few_words", "sentence", "detail", "caption_1", "caption_2")},
            "record": record,
            "clip_sources": [a, b if kind == "sources" else a],
            "unchanged": unchanged,
        }

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        stop = self.start + self.num_pairs if self.num_pairs is not None else math.inf
        index = self.start + worker
        while index < stop:
            yield self.pair(index)
            index += workers


# the tasks a speaking stage mixes: the three difference tiers (answers of every pair kind) and position captioning
SPEAKING_MIX = {"few_words": 0.3, "sentence": 0.25, "detail": 0.2, "caption_first": 0.1, "caption_second": 0.1}
SPEAKING_MIX |= {"caption_both": 0.05}


class SpeakingExamples(torch.utils.data.IterableDataset):
    """Training examples for the language model from a [`DifferencePairStream`]: each pair asked one task.

    Every item is `{audio1, audio2, sampling_rate, prompt, answer, task}`: a difference tier answered in its own
    form (two-sided changes worded from either clip), or a caption of the first, second or both clips ("The audio 1
    is a woman saying 'yes'."). Prompts are drawn from `prompt_pools` (the release's paraphrases, or the canonical
    prompt of each task). [`ADiffDataCollator`] takes the items as they are.

    Args:
        pairs: the pair stream (its split, seed, start and length apply).
        tasks: share of each task (keys of `TASK_PROMPTS`); default `SPEAKING_MIX`.
        prompt_pools: paraphrases per task, from `adiff_hf.prompts.load_prompt_pools`.
        task_block: consecutive items that ask the same task. Set to the batch size, each batch asks one task, so
            few-words answers are not padded to the length of detailed ones (about half the language model's
            work); a worker of a `DataLoader` then makes whole blocks.
    """

    def __init__(
        self,
        pairs: DifferencePairStream,
        tasks: dict[str, float] | None = None,
        prompt_pools=None,
        task_block: int = 1,
    ):
        from ..prompts import TASK_PROMPTS, load_prompt_pools

        tasks = dict(tasks or SPEAKING_MIX)
        unknown = sorted(set(tasks) - set(TASK_PROMPTS))
        if unknown or min(tasks.values()) < 0 or sum(tasks.values()) <= 0:
            raise ValueError(f"tasks: non-negative shares of {list(TASK_PROMPTS)}; got {tasks}.")
        self.pairs, self.tasks = pairs, list(tasks)
        self.weights = np.array([tasks[t] for t in self.tasks]) / sum(tasks.values())
        self.pools = prompt_pools or load_prompt_pools()
        if task_block < 1:
            raise ValueError(f"task_block must be a positive number of items; got {task_block}.")
        self.task_block = task_block

    def __len__(self) -> int:
        return len(self.pairs)

    def example(self, item: dict, index: int) -> dict:
        """The training example for stream item `item` (number `index`)."""
        from .mixing import caption_target

        block = np.random.default_rng([self.pairs.seed, 7, index // self.task_block])
        task = self.tasks[int(block.choice(len(self.tasks), p=self.weights))]
        rng = np.random.default_rng([self.pairs.seed, 8, index])
        texts = item["texts"]
        if task.startswith("caption"):
            answer = caption_target(texts["caption_1"], texts["caption_2"], task)
        else:
            answer = texts[task]
        pool = self.pools[task]
        return {
            "audio1": item["audio1"],
            "audio2": item["audio2"],
            "sampling_rate": item["sampling_rate"],
            "prompt": pool[int(rng.integers(len(pool)))],
            "answer": answer,
            "task": task,
        }

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        stream, size = self.pairs, self.task_block
        stop = stream.start + stream.num_pairs if stream.num_pairs is not None else math.inf
        block = stream.start // size + worker  # worker w makes blocks w, w + W, ...: whole batches of one task
        while block * size < stop:
            for index in range(max(block * size, stream.start), min((block + 1) * size, stop)):
                yield self.example(stream.pair(index), index)
            block += workers


__all__ = [
    "DEFAULT_UNSEEN_PACKAGES",
    "SPEAKING_MIX",
    "SPLITS",
    "STREAM_MIX",
    "SpeakingExamples",
    "DifferencePairStream",
    "load_sources",
    "split_of",
    "split_sources",
]
