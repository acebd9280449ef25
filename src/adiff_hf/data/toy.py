"""A toy difference dataset made of synthetic sounds, in the ACD CSV schema: smoke-test a training setup anywhere."""

import csv
import os

import numpy as np
import soundfile as sf

from ..prompts import CSV_TIER_INPUTS
from .difference_csv import CSV_COLUMNS

# (kind, pitch or rate) -> words; every clip gets a kind, a register and a level, and so a known description.
_KINDS = {
    "tone": ("a steady {register} tone", {"low": 220.0, "middle": 880.0, "high": 3520.0}),
    "chirp": ("a {register} rising chirp", {"low": 150.0, "middle": 600.0, "high": 2400.0}),
    "clicks": ("{register} clicking", {"low": 3.0, "middle": 8.0, "high": 20.0}),
    "noise": ("{register} hissing noise", {"low": 500.0, "middle": 2000.0, "high": 6000.0}),
}
_LEVELS = {"quiet": 0.08, "loud": 0.6}


def _synthesise(kind: str, value: float, amplitude: float, seconds: float, rate: int, rng) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    if kind == "tone":
        wave = np.sin(2 * np.pi * value * t)
    elif kind == "chirp":
        wave = np.sin(2 * np.pi * value * t * (1 + t / seconds))
    elif kind == "clicks":
        wave = np.zeros_like(t)
        wave[(np.arange(0, seconds, 1 / value) * rate).astype(int)] = 1.0
        wave = np.convolve(wave, np.hanning(64), mode="same")
    else:  # noise, low-passed around `value` with a one-pole filter
        white = rng.standard_normal(len(t))
        alpha = np.exp(-2 * np.pi * value / rate)
        wave = np.empty_like(white)
        acc = 0.0
        for i, x in enumerate(white):
            acc = alpha * acc + (1 - alpha) * x
            wave[i] = acc
    wave = wave / (np.abs(wave).max() + 1e-9)
    return (amplitude * wave).astype(np.float32)


def _answers(a: dict, b: dict) -> dict[str, str]:
    louder = "audio 1" if a["level"] == "loud" and b["level"] == "quiet" else None
    louder = louder or ("audio 2" if b["level"] == "loud" and a["level"] == "quiet" else None)
    loudness = f"{louder.capitalize()} is louder." if louder else "Both are about as loud."
    return {
        "few_words": f"{a['short']} versus {b['short']}.",
        "sentence": (
            f"Audio 1 has {a['description']} ({a['level']}), while audio 2 has {b['description']} ({b['level']})."
        ),
        "detail": (
            f"Audio 1 contains {a['description']} at a {a['level']} level. Audio 2 contains {b['description']} "
            f"at a {b['level']} level. {loudness}"
        ),
    }


def make_toy_difference_data(
    output_dir: str | os.PathLike,
    num_clips: int = 24,
    pairs_per_split: dict[str, int] | None = None,
    seconds: float = 1.0,
    sampling_rate: int = 16000,
    seed: int = 0,
) -> dict[str, str]:
    """Write synthetic clips (tones, chirps, clicks, noise; quiet or loud) and difference CSVs in the ACD schema.

    Clips are split by source (no clip appears in two splits); each pair appears once per tier, with answers
    written from the clips' known attributes and captions for position captioning. Deterministic given `seed`.

    Returns:
        `{split: csv_path}`; the CSVs' file paths are relative to `output_dir` (their own directory).
    """
    pairs_per_split = pairs_per_split or {"train": 12, "validation": 4}
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(output_dir, "audio"), exist_ok=True)
    combos = [(k, r, lv) for k in _KINDS for r in ("low", "middle", "high") for lv in _LEVELS]
    order = rng.permutation(len(combos))
    clips = []
    for i in range(num_clips):
        kind, register, level = combos[int(order[i % len(combos)])]
        template, values = _KINDS[kind]
        description = template.format(register=register)
        path = os.path.join("audio", f"clip_{i:03d}_{level}_{register}_{kind}.wav")
        wave = _synthesise(kind, values[register], _LEVELS[level], seconds, sampling_rate, rng)
        sf.write(os.path.join(output_dir, path), wave, sampling_rate)
        short = f"{level} {register} {kind}"
        clips.append({"path": path, "description": description, "level": level, "short": short})

    # split the clips by source, in proportion to the pairs each split needs
    total = sum(pairs_per_split.values())
    bounds, start, paths = {}, 0, {}
    for split, count in pairs_per_split.items():
        size = max(2, round(num_clips * count / total))
        bounds[split] = list(range(start, min(start + size, num_clips)))
        start += size
    for split, count in pairs_per_split.items():
        members = bounds[split]
        if len(members) < 2:
            raise ValueError(f"num_clips={num_clips} is too few for the splits {pairs_per_split}.")
        candidates = [(i, j) for i in members for j in members if i != j]
        chosen = [candidates[int(k)] for k in rng.permutation(len(candidates))[:count]]
        path = os.path.join(output_dir, f"{split}.csv")
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for tier, prompt in CSV_TIER_INPUTS.items():
                for i, j in chosen:
                    a, b = clips[i], clips[j]
                    writer.writerow(
                        {
                            "taskname": "toy",
                            "filepath1": a["path"],
                            "filepath2": b["path"],
                            "caption1": a["description"].capitalize(),
                            "caption2": b["description"].capitalize(),
                            "input": prompt,
                            "answer": _answers(a, b)[tier],
                        }
                    )
        paths[split] = path
    return paths


__all__ = ["make_toy_difference_data"]
