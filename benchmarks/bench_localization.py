"""Localisation, measured: does the top region find the known difference, is the offset right, what does it cost?

On generated long pairs with one known local difference (`adiff_hf.data.long_pairs`: an added event, a muted
stretch, a level change, a low-passed span; audio 2 offset by -5 to 10 s; 16-48 kHz):
- how often the top region overlaps the true span (goal: >= 95%) and the offset is recovered within 10 ms;
- seconds and peak memory to localise 1, 10 and 60 minute pairs on this machine, without the explanations
  (goal: 60 minutes in <= 3 minutes and <= 1.5 GB). Each length runs in a fresh process, so each peak is its own;
- the ordinary 10 s path on a 1-hour 48 kHz stereo WAV: reading the whole file (as before) against reading only
  the 10 s heard, side by side, each in a fresh process (goal: under a second and a few MB).

    python benchmarks/bench_localization.py /tmp/long --per-change 10 --minutes 3 --cost-minutes 1 10 60
"""

import argparse
import json
import os
import platform
import subprocess
import sys

from adiff_hf.data.long_pairs import make_long_pair
from adiff_hf.evaluation.localization_accuracy import (
    draw_pairs,
    localization_cost,
    localization_summary,
    localization_table,
    localization_trials,
)


def load_model(model: str | None):
    if model == "none":
        return None, None
    from adiff_hf.backbones import load_model as load

    return load(model, device="cpu")


def cost_in_fresh_process(audio1: str, audio2: str, model: str | None, screen: float) -> dict:
    command = [sys.executable, __file__, "--cost-one", audio1, audio2, "--screen", str(screen)]
    command += ["--model", model] if model else []
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def write_stereo_file(path: str, minutes: float, rate: int = 48000) -> str:
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", rate, 2, subtype="PCM_16") as f:
        for _ in range(int(minutes * 6)):
            f.write((rng.standard_normal((10 * rate, 2)) * 0.1).astype(np.float32))
    return path


def read_cost(path: str, whole: bool) -> dict:
    """Seconds and memory growth to get the 32 kHz samples the model hears from `path` (this process)."""
    import time

    from adiff_hf.audio_io import load_audio
    from adiff_hf.evaluation.localization_accuracy import process_memory_mb

    with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
        f.write("5")
    before = process_memory_mb("VmRSS")
    start = time.perf_counter()
    samples = load_audio(path, 32000) if whole else load_audio(path, 32000, max_seconds=10)
    samples = samples[: 10 * 32000]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_growth_mb": process_memory_mb("VmHWM") - before, "samples": len(samples)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_dir", nargs="?", default="/tmp/adiff-long")
    parser.add_argument("--model", default=None, help="model directory (default: adiff-mini); 'none': band levels only")
    parser.add_argument("--per-change", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the accuracy pairs")
    parser.add_argument("--cost-minutes", type=float, nargs="*", default=[1, 10, 60])
    parser.add_argument("--cost-rate", type=int, default=48000)
    parser.add_argument("--screen", type=float, default=None, help="the model screen (default: the library's)")
    parser.add_argument(
        "--unscreened-minutes",
        type=float,
        nargs="*",
        default=[1, 10],
        help="cost also with every window heard by the model (screen 0)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--read-minutes", type=float, default=60, help="the 10 s path on a file this long (0: skip)")
    parser.add_argument("--cost-one", nargs=2, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--read-one", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    extra = {} if args.screen is None else {"screen": args.screen}

    if args.read_one:  # a child process: the 10 s path, whole or seeked
        print(json.dumps(read_cost(args.read_one[0], args.read_one[1] == "whole")))
        return {}
    if args.cost_one:  # the child process: load, then measure one pair
        model, processor = load_model(args.model)
        print(json.dumps(localization_cost(*args.cost_one, model, processor, **extra)))
        return {}

    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "model": args.model or "adiff-mini"}
    if args.per_change:
        model, processor = load_model(args.model)
        pairs = draw_pairs(os.path.join(args.output_dir, "accuracy"), args.per_change, args.minutes, args.seed)
        trials = localization_trials(pairs, model, processor, **extra)
        results["accuracy"] = localization_summary(trials)
        results["misses"] = [t for t in trials if not t["top_overlaps"] or t["offset_error_ms"] > 10]
        print(localization_table(results["accuracy"]))
        for miss in results["misses"]:
            print("miss:", miss)
    costs = []
    for minutes in args.cost_minutes:
        pair = make_long_pair(
            os.path.join(args.output_dir, f"cost_{minutes:g}"),
            minutes,
            "event",
            offset_seconds=3.21,
            sampling_rate=args.cost_rate,
            seed=1,
        )
        screens = [args.screen if args.screen is not None else 0.25]
        if minutes in args.unscreened_minutes and args.model != "none":
            screens.append(0.0)
        for screen in screens:
            cost = cost_in_fresh_process(pair.audio1, pair.audio2, args.model, screen)
            costs.append({"minutes": minutes, "screen": screen} | cost)
            print(json.dumps(costs[-1]))
    results["cost"] = costs
    if costs:
        print("| minutes | model screen | windows | heard by the model | seconds | peak memory (process) |")
        print("|---|---|---|---|---|---|")
        for c in costs:
            print(
                f"| {c['minutes']:g} | {c['screen']:g} | {c['windows']} | {c['windows_heard_by_model']} | "
                f"{c['seconds']:.1f} | {c['peak_rss_mb']:.0f} MB (after loading: {c['rss_before_mb']:.0f} MB) |"
            )
    if args.read_minutes:
        os.makedirs(args.output_dir, exist_ok=True)
        path = write_stereo_file(os.path.join(args.output_dir, "stereo_48k.wav"), args.read_minutes)
        reads = {}
        for mode in ("whole", "heard"):
            output = subprocess.run(
                [sys.executable, __file__, "--read-one", path, mode], check=True, capture_output=True, text=True
            ).stdout
            reads[mode] = json.loads(output.strip().splitlines()[-1])
        results["ten_second_path"] = {"minutes": args.read_minutes} | reads
        print(f"| the 10 s heard of a {args.read_minutes:g}-minute 48 kHz stereo WAV | seconds | peak memory growth |")
        print("|---|---|---|")
        for mode, label in (("whole", "whole file read (before)"), ("heard", "only the heard frames read")):
            print(f"| {label} | {reads[mode]['seconds']:.2f} | {reads[mode]['peak_growth_mb']:.0f} MB |")
        ratio = reads["whole"]["seconds"] / max(reads["heard"]["seconds"], 1e-9)
        print(f"seeking is {ratio:.0f}x faster")
    with open(os.path.join(args.output_dir, "bench_localization.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
