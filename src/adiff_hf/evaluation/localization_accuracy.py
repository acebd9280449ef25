"""How good is localisation? On generated long pairs with one known difference ([`make_long_pair`]):

- `localization_trials`: per pair, whether the top region overlaps the true span, how far the found offset is from
  the true one, and how many other regions were reported;
- `localization_summary` / `localization_table`: per kind of difference, the share of pairs whose top region
  overlaps (goal: >= 95%) and whose offset is within 10 ms;
- `localization_cost`: seconds and peak memory to localise one pair (without the explanations), measured in the
  process that runs it.
"""

import resource
import time
from collections import defaultdict

import numpy as np
from tqdm.auto import tqdm

from ..data.long_pairs import LONG_CHANGES, make_long_pair
from ..localization import localize_differences

OFFSET_TOLERANCE_MS = 10.0


def draw_pairs(output_dir: str, per_change: int, minutes: float, seed: int = 0) -> list:
    """`per_change` pairs of each kind, with a random offset (-5 to 10 s), change length (2-6 s) and rate."""
    rng = np.random.default_rng(seed)
    pairs = []
    for change in LONG_CHANGES:
        for i in range(per_change):
            pairs.append(
                make_long_pair(
                    f"{output_dir}/{change}_{i}",
                    minutes,
                    change,
                    change_seconds=float(rng.uniform(2, 6)),
                    offset_seconds=float(np.round(rng.uniform(-5, 10), 4)),
                    sampling_rate=int(rng.choice([16000, 22050, 44100, 48000])),
                    seed=int(rng.integers(1 << 30)),
                )
            )
    return pairs


def localization_trials(pairs, model=None, processor=None, **kwargs) -> list[dict]:
    """Localise each pair and compare with where its difference really is."""
    trials = []
    for pair in tqdm(pairs, desc="localising", unit="pair"):
        found = localize_differences(pair.audio1, pair.audio2, model, processor, **kwargs)
        overlapping = [r for r in found.regions if r.start1 < pair.end and r.end1 > pair.start]
        top = found.regions[0] if found.regions else None
        trials.append(
            {
                "change": pair.change,
                "true_span": [pair.start, pair.end],
                "top_span": None if top is None else [top.start1, top.end1],
                "top_overlaps": top is not None and top in overlapping,
                "offset_error_ms": abs(found.alignment.offset_seconds - pair.offset_seconds) * 1000,
                "other_regions": len(found.regions) - len(overlapping),
                "sampling_rate": pair.sampling_rate,
            }
        )
    return trials


def localization_summary(trials: list[dict]) -> dict:
    """Per kind of difference (and `all`): pairs, top-region overlap rate, offset-within-10-ms rate, the largest
    offset error and the mean number of other regions reported."""
    groups = defaultdict(list)
    for trial in trials:
        groups[trial["change"]].append(trial)
        groups["all"].append(trial)
    return {
        change: {
            "pairs": len(group),
            "top_overlaps": float(np.mean([t["top_overlaps"] for t in group])),
            "offset_within_10ms": float(np.mean([t["offset_error_ms"] <= OFFSET_TOLERANCE_MS for t in group])),
            "max_offset_error_ms": float(max(t["offset_error_ms"] for t in group)),
            "other_regions": float(np.mean([t["other_regions"] for t in group])),
        }
        for change, group in sorted(groups.items(), key=lambda item: item[0] == "all")  # `all` last
    }


def localization_table(summary: dict) -> str:
    lines = [
        "| difference | pairs | top region overlaps | offset within 10 ms | largest offset error | other regions |",
        "|---|---|---|---|---|---|",
    ]
    for change, row in summary.items():
        lines.append(
            f"| {change} | {row['pairs']} | {row['top_overlaps']:.0%} | {row['offset_within_10ms']:.0%} | "
            f"{row['max_offset_error_ms']:.2f} ms | {row['other_regions']:.2f} |"
        )
    return "\n".join(lines)


def process_memory_mb(field: str) -> float | None:
    """This process's `VmRSS` (resident now) or `VmHWM` (peak resident) in MB, from /proc (None elsewhere)."""
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def localization_cost(audio1, audio2, model=None, processor=None, **kwargs) -> dict:
    """Seconds to localise one pair (no explanations), the process's resident memory before, and its peak while
    localising (Linux: the peak is reset first through /proc/self/clear_refs, so loading the model does not count;
    elsewhere the process's lifetime peak)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
            f.write("5")  # resets the peak resident size (VmHWM) to the current one
    except OSError:
        pass
    before = process_memory_mb("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    found = localize_differences(audio1, audio2, model, processor, **kwargs)
    seconds = time.perf_counter() - start
    peak = process_memory_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "peak_rss_mb": peak,
        "rss_before_mb": before,
        "windows": len(found.windows),
        "windows_heard_by_model": sum(w.model_distance is not None for w in found.windows),
        "regions": len(found.regions),
    }


__all__ = [
    "OFFSET_TOLERANCE_MS",
    "draw_pairs",
    "localization_cost",
    "localization_summary",
    "localization_table",
    "localization_trials",
    "process_memory_mb",
]
