"""Explaining many pairs on one machine: pairs per second and memory, one process against several.

`adiff-hf explain --pairs` over the same generated pairs three ways, side by side in one run:
- one process on one thread;
- one process on `--processes` threads;
- `--processes` processes of one thread each, under `accelerate launch` (torchrun; gloo on CPU).

Each run is timed from its start to its output's last line, so model loading counts (each process loads the model).
Memory is each process's peak resident set (`VmHWM`). The outputs of the three runs are compared row for row.

    python benchmarks/bench_scale.py --pairs 48 --tier few_words
    python benchmarks/bench_scale.py --model path/to/model --pairs 64 --processes 2
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
from bench_memory import memory_mb


def make_pairs(folder: str, count: int, seconds: float, rate: int = 16_000) -> str:
    """`count` pairs of generated clips (tone blips in noise, and the same louder, duller or noisier) and their
    CSV."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    rows = []
    for i in range(count):
        t = np.arange(int(seconds * rate)) / rate
        tone = np.sin(2 * np.pi * rng.uniform(200, 2000) * t) * (np.sin(2 * np.pi * rng.uniform(0.5, 3) * t) > 0)
        wave = (0.3 * tone + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
        if i % 3 == 0:
            other = wave * 2  # louder
        elif i % 3 == 1:
            other = np.convolve(wave, np.ones(8) / 8, "same")  # duller
        else:
            other = wave + 0.05 * rng.standard_normal(len(t)).astype(np.float32)  # noisier
        sf.write(os.path.join(folder, f"{i}_a.wav"), wave, rate)
        sf.write(os.path.join(folder, f"{i}_b.wav"), np.clip(other, -1, 1).astype(np.float32), rate)
        rows.append(f"{i}_a.wav,{i}_b.wav\n")
    path = os.path.join(folder, "pairs.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("audio1,audio2\n" + "".join(rows))
    return path


def worker(argv: list[str], memory_dir: str) -> None:
    """One process of a run: `adiff-hf explain ARGV`, then its peak memory into `memory_dir`."""
    from adiff_hf.serving.cli import main

    main(argv)
    peak = memory_mb("VmHWM")
    rank = os.environ.get("RANK", "0")
    with open(os.path.join(memory_dir, f"memory_{rank}.json"), "w", encoding="utf-8") as f:
        json.dump({"rank": int(rank), "peak_mb": peak}, f)


def run(name: str, explain: list[str], processes: int, threads: int, folder: str) -> dict:
    """One configuration: its wall time, pairs per second, per-process peak memory and its output records."""
    memory_dir = os.path.join(folder, name)
    os.makedirs(memory_dir)
    output = os.path.join(memory_dir, "out.jsonl")
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    env["TOKENIZERS_PARALLELISM"] = "false"
    here = os.path.abspath(__file__)
    command = [here, "--worker", memory_dir, "--", *explain, "--output", output]
    if processes > 1:
        launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes"]
        command = [*launch, str(processes), "--num_machines", "1", "--main_process_port", "29533", *command]
    else:
        command = [sys.executable, *command]
    start = time.perf_counter()
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    from adiff_hf.data.jsonl import read_jsonl

    records = read_jsonl(output)
    memory = []
    for name_ in sorted(os.listdir(memory_dir)):
        if name_.startswith("memory_"):
            with open(os.path.join(memory_dir, name_), encoding="utf-8") as f:
                memory.append(json.load(f))
    memory.sort(key=lambda m: m["rank"])
    return {
        "processes": processes,
        "threads_each": threads,
        "seconds": seconds,
        "pairs_per_second": len(records) / seconds,
        "peak_mb_per_process": [round(m["peak_mb"]) for m in memory],
        "explanations": [r["explanation"] for r in records],
    }


def table(results: dict) -> str:
    lines = ["| run | processes × threads | seconds | pairs per second | peak memory per process (MB) |"]
    lines.append("|---|---|---|---|---|")
    for name, r in results.items():
        memory = ", ".join(str(m) for m in r["peak_mb_per_process"])
        lines.append(
            f"| {name} | {r['processes']} × {r['threads_each']} | {r['seconds']:.0f} | {r['pairs_per_second']:.2f} "
            f"| {memory} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        return worker(sys.argv[sys.argv.index("--") + 1 :], sys.argv[2])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="default: the package's default model (adiff-mini)")
    parser.add_argument("--pairs", type=int, default=48)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each generated clip")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--tier", default="few_words")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--output", default="benchmarks/results/scale.json")
    args = parser.parse_args()

    from adiff_hf.backbones.default_model import resolve_model

    model = resolve_model(args.model)  # assembled once, before any timing
    with tempfile.TemporaryDirectory() as folder:
        pairs = make_pairs(folder, args.pairs, args.seconds)
        explain = ["explain", "--pairs", pairs, "--model", str(model), "--tier", args.tier]
        explain += ["--batch-size", str(args.batch_size), "--max-new-tokens", str(args.max_new_tokens), "--json"]
        n = args.processes
        results = {
            "one process, one thread": run("one", explain, 1, 1, folder),
            f"one process, {n} threads": run("threads", explain, 1, n, folder),
            f"{n} processes, one thread each": run("processes", explain, n, 1, folder),
        }
    same = len({tuple(r["explanations"]) for r in results.values()}) == 1
    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "pairs": args.pairs}
    report |= {"seconds_per_clip": args.seconds, "tier": args.tier, "identical_outputs": same, "results": results}
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    print(table(results))
    print(f"identical outputs: {same}")


if __name__ == "__main__":
    main()
