"""A recipe, not library code: a difference dataset built from real, labelled audio that installs offline (Debian
packages), in the ACD schema. `build_local_difference_data.py` is its command line.

Pairs are either two different sources (labels from file names and package folders) or one source and a copy
changed in a controlled way (gain, speed, reverberation, low/high-pass, noise at an SNR, clipping, reversal, a gap
of silence); the asterisk prompts bring speech. Every answer
is written from the *known* attributes, in three tiers with varied phrasing, and captions describe each clip.
Splits are by source clip; everything is deterministic given the seed; a manifest records sources and licences,
and `<split>_pairs.jsonl` the known attributes of each pair (what was changed, in which clip), for attribute scoring.
"""

import csv
import hashlib
import json
import os
import re
import subprocess
from dataclasses import asdict, dataclass, field

import numpy as np
import soundfile as sf

from adiff_hf.audio_io import load_audio
from adiff_hf.data import CSV_COLUMNS
from adiff_hf.prompts import CSV_TIER_INPUTS

RATE = 32_000
MAX_SECONDS = 5.0
DEBIAN_SOURCES = {
    "tuxpaint-stamps-default": "/usr/share/tuxpaint/stamps",
    "sonic-pi-samples": "/usr/share/sonic-pi/samples",
    "sound-theme-freedesktop": "/usr/share/sounds/freedesktop/stereo",
    "asterisk-core-sounds-en-wav": "/usr/share/asterisk/sounds/en_US_f_Allison",
}
SONIC_PI_PREFIXES = {
    "ambi": "an ambient texture",
    "bass": "a bass note",
    "bd": "a bass drum",
    "drum": "a drum",
    "elec": "an electronic sound",
    "glitch": "a glitchy electronic sound",
    "guit": "a guitar",
    "loop": "a rhythmic loop",
    "mehackit": "an electronic sound",
    "misc": "a sound effect",
    "perc": "a percussion hit",
    "sn": "a snare drum",
    "tabla": "a tabla",
    "vinyl": "a vinyl record sound",
    "arovane": "an electronic beat",
    "hat": "a hi-hat",
}


@dataclass
class Source:
    """One labelled source clip."""

    path: str
    label: str  # "a frog", "a woman saying 'activated'"
    package: str
    license: str
    kind: str = "sound"  # "sound" or "speech"


@dataclass
class Change:
    """A controlled change applied to a source clip, with the words that describe it."""

    name: str
    value: float
    short: str  # "louder"
    phrase: str  # "6 dB louder"
    detail: str = ""


def _words(stem: str) -> str:
    return re.sub(r"[-_]+", " ", re.sub(r"[-_]?\d+$", "", stem)).strip()


def _package_license(package: str) -> str:
    path = f"/usr/share/doc/{package}/copyright"
    if not os.path.isfile(path):
        return "unknown"
    licenses = re.findall(r"^\s*License:\s*(\S+)", open(path, encoding="utf-8", errors="replace").read(), re.M)
    return ", ".join(dict.fromkeys(licenses)) or "unknown"


def discover_debian_sources(install: bool = False) -> list[Source]:
    """Labelled clips from the Debian sound packages present (with `install=True`, apt-get installs them first)."""
    if install:
        missing = [p for p, d in DEBIAN_SOURCES.items() if not os.path.isdir(d)]
        if missing:
            subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True)
    sources = []
    for package, root in DEBIAN_SOURCES.items():
        if not os.path.isdir(root):
            continue
        license = _package_license(package)
        for directory, _, names in sorted(os.walk(root)):
            for name in sorted(names):
                stem, ext = os.path.splitext(name)
                if ext.lower() not in (".wav", ".ogg", ".oga", ".flac"):
                    continue
                path = os.path.join(directory, name)
                if package == "tuxpaint-stamps-default":
                    # sound effects only: spoken descriptions end in _desc[_xx] and language-coded names in _xx
                    if "_desc" in stem or re.search(r"_[a-z]{2}(_[A-Z]{2})?$", stem):
                        continue
                    label = f"a {_words(stem)}"
                elif package == "sonic-pi-samples":
                    prefix = stem.split("_")[0]
                    label = SONIC_PI_PREFIXES.get(prefix, f"a {_words(stem)} sample")
                elif package == "sound-theme-freedesktop":
                    label = f"a '{_words(stem)}' notification sound"
                else:
                    label = f"a woman saying '{_words(stem)}'"
                kind = "speech" if package == "asterisk-core-sounds-en-wav" else "sound"
                sources.append(Source(path, label, package, license, kind))
    return sources


def _highpass_or_lowpass(wave: np.ndarray, cutoff: float, high: bool) -> np.ndarray:
    spectrum = np.fft.rfft(wave)
    frequencies = np.fft.rfftfreq(len(wave), 1 / RATE)
    gain = 1 / np.sqrt(1 + (frequencies / cutoff) ** 8)  # 4th-order Butterworth magnitude
    if high:
        gain = np.sqrt(np.clip(1 - gain**2, 0, 1))
    return np.fft.irfft(spectrum * gain, n=len(wave)).astype(np.float32)


def apply_change(wave: np.ndarray, change: Change, rng: np.random.Generator) -> np.ndarray:
    """The changed copy of `wave` (32 kHz mono)."""
    if change.name == "gain":
        out = wave * 10 ** (change.value / 20)
    elif change.name == "speed":  # resampling: faster and higher (or slower and lower) together
        positions = np.arange(0, len(wave) - 1, change.value)
        out = np.interp(positions, np.arange(len(wave)), wave)
    elif change.name == "reverb":
        length = int(change.value * RATE)
        response = rng.standard_normal(length) * np.exp(-6.9 * np.arange(length) / length)
        response[0] = 1.0
        out = np.convolve(wave, response)[: len(wave) + length // 2]
        out *= np.abs(wave).max() / (np.abs(out).max() + 1e-9)
    elif change.name == "lowpass":
        out = _highpass_or_lowpass(wave, change.value, high=False)
    elif change.name == "highpass":
        out = _highpass_or_lowpass(wave, change.value, high=True)
    elif change.name == "noise":
        power = float(np.mean(wave**2)) + 1e-12
        out = wave + rng.standard_normal(len(wave)) * np.sqrt(power / 10 ** (change.value / 10))
    elif change.name == "clipping":
        limit = np.abs(wave).max() * change.value
        out = np.clip(wave, -limit, limit) / max(change.value, 1e-3) * 0.9
    elif change.name == "reverse":
        out = wave[::-1]
    elif change.name == "gap":
        out = wave.copy()
        start = len(out) // 3
        out[start : start + int(change.value * RATE)] = 0.0
    else:
        raise ValueError(f"Unknown change {change.name!r}.")
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def draw_change(rng: np.random.Generator) -> Change:
    """One controlled change with a drawn strength and the words for it."""
    name = ["gain", "gain", "speed", "reverb", "lowpass", "highpass", "noise", "clipping", "reverse", "gap"][
        int(rng.integers(10))
    ]
    if name == "gain":
        db = float(rng.choice([-12, -9, -6, 6, 9, 12]))
        word = "louder" if db > 0 else "quieter"
        return Change(name, db, word, f"about {abs(db):.0f} dB {word}", "the level changes, the content does not")
    if name == "speed":
        factor = float(rng.choice([0.75, 0.85, 1.2, 1.35]))
        word = "faster and higher-pitched" if factor > 1 else "slower and lower-pitched"
        return Change(name, factor, word, f"played {factor:.2f} times as fast, so {word}", "its duration changes too")
    if name == "reverb":
        seconds = float(rng.choice([0.4, 0.8, 1.5]))
        return Change(
            name,
            seconds,
            "reverberant",
            f"with a {seconds:.1f} s reverberation tail",
            "it sounds farther away, in a larger room",
        )
    if name in ("lowpass", "highpass"):
        cutoff = float(rng.choice([500, 1000, 2000])) if name == "lowpass" else float(rng.choice([1000, 2000, 4000]))
        word = "muffled" if name == "lowpass" else "thin and tinny"
        side = "above" if name == "lowpass" else "below"
        return Change(name, cutoff, word, f"{word}: frequencies {side} {cutoff:.0f} Hz are cut", "its timbre changes")
    if name == "noise":
        snr = float(rng.choice([0, 5, 10, 20]))
        return Change(
            name, snr, "noisier", f"with hiss added at {snr:.0f} dB SNR", "a steady broadband noise sits under it"
        )
    if name == "clipping":
        return Change(
            name, 0.2, "distorted", "clipped and distorted", "its peaks are flattened, adding harsh harmonics"
        )
    if name == "reverse":
        return Change(name, 1.0, "reversed", "played backwards", "its onsets and decays are swapped in time")
    return Change(name, 0.3, "interrupted", "interrupted by 0.3 s of silence", "it stops briefly, then resumes")


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def texts_for_change(label: str, change: Change, changed_first: bool, rng: np.random.Generator) -> dict[str, str]:
    """Three tiers and two captions for a source and its changed copy."""
    one, two = ("Audio 1", "Audio 2") if changed_first else ("Audio 2", "Audio 1")
    return {
        "few_words": _pick(rng, [f"{one} is {change.short}.", f"Same sound; {one.lower()} is {change.short}."]),
        "sentence": _pick(
            rng,
            [
                f"Both contain {label}, but {one.lower()} is {change.phrase}.",
                f"{two} has {label}, and {one.lower()} has the same sound {change.phrase}.",
            ],
        ),
        "detail": (
            f"Both recordings contain {label}. {one} presents it {change.phrase}: {change.detail}. "
            f"{two} presents it unaltered, so the two differ in this one property only."
        ),
        "caption_changed": f"{label}, {change.phrase}",
        "caption_plain": label,
    }


def texts_for_sources(a: Source, b: Source, rng: np.random.Generator) -> dict[str, str]:
    """Three tiers and two captions for two different sources."""
    speech = {a.kind, b.kind}
    contrast = "speech versus non-speech" if len(speech) == 2 else "two different sources"
    return {
        "few_words": _pick(rng, [f"{a.label} versus {b.label}.", f"Audio 1: {a.label}; audio 2: {b.label}."]),
        "sentence": _pick(
            rng,
            [
                f"Audio 1 contains {a.label}, while audio 2 contains {b.label}.",
                f"The first recording is {a.label} and the second is {b.label}.",
            ],
        ),
        "detail": (
            f"The recordings come from {contrast}. Audio 1 contains {a.label}"
            f"{' (speech)' if a.kind == 'speech' else ''}. Audio 2 contains {b.label}"
            f"{' (speech)' if b.kind == 'speech' else ''}. They differ in what is heard, not only in how it sounds."
        ),
        "caption_1": a.label,
        "caption_2": b.label,
    }


def _read(source: Source) -> np.ndarray:
    wave = load_audio(source.path, RATE)[: int(MAX_SECONDS * RATE)]
    peak = np.abs(wave).max()
    return (wave / peak * 0.7).astype(np.float32) if peak > 0 else wave


def _split_sources(sources: list[Source], pairs_per_split: dict[str, int], seed: int) -> dict[str, list[Source]]:
    """Each source clip goes to exactly one split (a seeded hash order, sizes in proportion, at least 2 each)."""
    splits = list(pairs_per_split)
    if len(sources) < 2 * len(splits):
        raise ValueError(f"{len(sources)} source clips are too few for {len(splits)} splits (2 each at least).")
    order = sorted(sources, key=lambda s: hashlib.sha256(f"{seed}:{s.path}".encode()).hexdigest())
    total = sum(pairs_per_split.values())
    sizes = [max(2, round(len(order) * pairs_per_split[s] / total)) for s in splits]
    sizes[0] = len(order) - sum(sizes[1:])  # the first split (train) takes the rest
    if sizes[0] < 2:
        raise ValueError(f"{len(sources)} source clips are too few for the splits {pairs_per_split}.")
    result, start = {}, 0
    for split, size in zip(splits, sizes, strict=True):
        result[split] = sorted(order[start : start + size], key=lambda s: s.path)
        start += size
    return result


@dataclass
class BuildReport:
    splits: dict[str, str] = field(default_factory=dict)  # split -> CSV path
    pairs: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)


def build_difference_dataset(
    sources: list[Source],
    output_dir: str | os.PathLike,
    pairs_per_split: dict[str, int] | None = None,
    change_fraction: float = 0.6,
    seed: int = 0,
) -> BuildReport:
    """Write clips and `train/validation/test.csv` (ACD schema, three tiers per pair) plus `manifest.json`.

    Args:
        sources: labelled clips (e.g. from [`discover_debian_sources`] or your own).
        output_dir: where `audio/`, the CSVs and the manifest go.
        pairs_per_split: pairs per split (each gives three CSV rows, one per tier).
        change_fraction: share of pairs that are a source and its changed copy (the rest: two sources).
        seed: makes everything deterministic.
    """
    pairs_per_split = pairs_per_split or {"train": 400, "validation": 50, "test": 100}
    by_split = _split_sources(sources, pairs_per_split, seed)
    audio_dir = os.path.join(output_dir, "audio")
    os.makedirs(audio_dir, exist_ok=True)
    report = BuildReport()
    manifest = {"seed": seed, "sample_rate": RATE, "sources": [], "pairs": {}}
    for split, count in pairs_per_split.items():
        members = by_split[split]
        rng = np.random.default_rng([seed, list(pairs_per_split).index(split)])
        rows, records = [], []
        for index in range(count):
            a = members[int(rng.integers(len(members)))]
            stem = f"{split}_{index:05d}"
            if rng.random() < change_fraction:
                change = draw_change(rng)
                wave = _read(a)
                changed = apply_change(wave, change, rng)
                changed_first = bool(rng.random() < 0.5)
                first, second = (changed, wave) if changed_first else (wave, changed)
                texts = texts_for_change(a.label, change, changed_first, rng)
                captions = (
                    (texts["caption_changed"], texts["caption_plain"])
                    if changed_first
                    else (texts["caption_plain"], texts["caption_changed"])
                )
                kind = f"change:{change.name}"
                record = {"kind": "change", "change": change.name, "value": change.value, "short": change.short}
                record |= {"changed_clip": 1 if changed_first else 2, "labels": [a.label, a.label]}
            else:
                b = members[int(rng.integers(len(members)))]
                while b.label == a.label and len({m.label for m in members}) > 1:
                    b = members[int(rng.integers(len(members)))]
                first, second = _read(a), _read(b)
                texts = texts_for_sources(a, b, rng)
                captions = (texts["caption_1"], texts["caption_2"])
                kind = "sources"
                record = {
                    "kind": "sources",
                    "labels": [a.label, b.label],
                    "speech": [a.kind == "speech", b.kind == "speech"],
                }
            paths = []
            for suffix, wave in (("a", first), ("b", second)):
                relative = os.path.join("audio", f"{stem}_{suffix}.wav")
                sf.write(os.path.join(output_dir, relative), wave, RATE, subtype="PCM_16")
                paths.append(relative)
            records.append({"split": split, "index": index, "filepath1": paths[0], "filepath2": paths[1]} | record)
            for tier, prompt in CSV_TIER_INPUTS.items():
                rows.append(
                    {
                        "taskname": f"local:{kind}",
                        "filepath1": paths[0],
                        "filepath2": paths[1],
                        "caption1": captions[0][0].upper() + captions[0][1:],
                        "caption2": captions[1][0].upper() + captions[1][1:],
                        "input": prompt,
                        "answer": texts[tier][0].upper() + texts[tier][1:],
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
        manifest["pairs"][split] = count
        manifest["sources"] += [asdict(s) | {"split": split} for s in members]
    with open(os.path.join(output_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    return report


__all__ = [
    "BuildReport",
    "Change",
    "Source",
    "apply_change",
    "build_difference_dataset",
    "discover_debian_sources",
    "draw_change",
]
