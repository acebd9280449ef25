"""Evidence on long recordings: seconds and peak memory to measure and compare a pair of 10 s, 10 min and 2 h.

Each pair is written to disk as 48 kHz stereo 16-bit WAV (the form the hostile-input review used: 2 h is 1.4 GB a
file), block by block: a plucked melody over a noise floor, and its copy with one minute 6 dB quieter and a 0.5 s
cut. Each length is measured in a fresh process (`compare_clips` on the two paths, as `adiff-hf measure` does); its
peak resident memory (`VmHWM`) is reported whole and over what the process held before measuring (Python, numpy,
librosa, torch for silero-vad).

    python benchmarks/bench_evidence_long.py --lengths 10 600 7200 --output benchmarks/results/evidence_long.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 48_000
BLOCK_SECONDS = 60


def _block(index: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """`seconds` of a plucked melody (four notes a second) over noise 40 dB down, stereo."""
    t = np.arange(int(seconds * RATE)) / RATE
    notes = 220 * 2 ** (((np.floor(t * 4) + index * 7) % 12) / 12)
    pluck = np.exp(-8 * (t % 0.25))
    wave = 0.3 * np.sin(2 * np.pi * np.cumsum(notes) / RATE) * pluck + 0.003 * rng.standard_normal(len(t))
    return np.stack([wave, 0.8 * wave], axis=1).astype(np.float32)


def write_pair(directory: str, seconds: float) -> tuple[str, str]:
    """The pair for `seconds`, written block by block (never held whole)."""
    paths = (os.path.join(directory, f"long_{seconds:g}_a.wav"), os.path.join(directory, f"long_{seconds:g}_b.wav"))
    rng = np.random.default_rng(0)
    quiet = int(seconds // BLOCK_SECONDS) // 2  # the block made 6 dB quieter in the copy
    with sf.SoundFile(paths[0], "w", RATE, 2, "PCM_16") as one, sf.SoundFile(paths[1], "w", RATE, 2, "PCM_16") as two:
        done, index = 0.0, 0
        while done < seconds:
            length = min(BLOCK_SECONDS, seconds - done)
            block = _block(index, length, rng)
            copy = block * (0.5 if index == quiet else 1.0)
            if index == 0:  # a 0.5 s cut 2 s in
                copy[int(2 * RATE) : int(2.5 * RATE)] = 0
            one.write(block)
            two.write(copy)
            done, index = done + length, index + 1
    return paths


def probe(audio1: str, audio2: str) -> dict:
    """Measure and compare the two files in this process; seconds and peak memory."""
    from bench_memory import memory_mb, reset_peak

    from adiff_hf.evidence import compare_clips

    compare_clips(np.zeros(RATE, np.float32) + 0.1, np.zeros(RATE, np.float32) + 0.1, sampling_rate=RATE)  # imports
    baseline = memory_mb("VmRSS")
    reset_peak()
    start = time.perf_counter()
    evidence = compare_clips(audio1, audio2)
    seconds = time.perf_counter() - start
    peak = memory_mb("VmHWM")
    return {
        "seconds": round(seconds, 2),
        "peak_mb": round(peak, 1),
        "peak_over_baseline_mb": round(peak - baseline, 1),
        "differences": evidence.sentences,
    }


def long_cost(lengths=(10, 600, 7200), directory: str | None = None) -> list[dict]:
    """Write each pair, measure it in a fresh process, delete it; one row per length."""
    rows = []
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        for seconds in lengths:
            paths = write_pair(tmp, seconds)
            command = [sys.executable, __file__, "--probe", *paths]
            done = subprocess.run(command, check=False, capture_output=True, text=True, cwd=Path(__file__).parent)
            if done.returncode != 0:
                raise RuntimeError(f"evidence probe for {seconds} s failed:\n{done.stderr[-2000:]}")
            row = {"pair_seconds": seconds, "file_mb": round(os.path.getsize(paths[0]) / 2**20, 1)}
            rows.append(row | json.loads(done.stdout.strip().splitlines()[-1]))
            rows[-1]["seconds_per_audio_minute"] = round(rows[-1]["seconds"] / (2 * seconds / 60), 3)
            for path in paths:
                os.remove(path)
            print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    """Markdown: one row per length."""
    lines = [
        "| pair | file size | seconds | s per minute of audio | peak memory (MB) | over baseline (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        length = row["pair_seconds"]
        name = f"{length / 3600:g} h" if length >= 3600 else f"{length / 60:g} min" if length >= 60 else f"{length:g} s"
        lines.append(
            f"| 2 × {name} | {row['file_mb']:g} MB | {row['seconds']:.1f} | {row['seconds_per_audio_minute']:.2f} | "
            f"{row['peak_mb']:.0f} | {row['peak_over_baseline_mb']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--lengths", type=float, nargs="+", default=[10, 600, 7200], help="pair lengths, seconds")
    parser.add_argument("--tmp", default=None, help="where the pairs are written (default: the system's temp dir)")
    parser.add_argument("--output", default="benchmarks/results/evidence_long.json")
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(*args.probe)))
        return
    rows = long_cost(args.lengths, args.tmp)
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump({"machine": {"cpus": os.cpu_count()}, "rows": rows}, f, indent=1)
    print(table(rows))


if __name__ == "__main__":
    main()
