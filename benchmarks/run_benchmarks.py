"""The benchmark suite in one command: prints Markdown tables and writes every number to one JSON file.

Each figure is a ratio of times measured side by side in this run (these machines are noisy), on the full-size
model (`ADiffConfig()`, random weights: speed does not depend on them):

1. decoding against the release's loop: 16 pairs x 300 new tokens (an evaluation run) and 2 pairs x 64 tokens
   (interactive use), identical tokens required (`bench_decoding.py`);
2. the physical floor: a cached decoding step at batch 1 and 16 against the time to read the LM's weights once at
   the copy bandwidth measured in the same run;
3. the audio front end and encoder: clips/s and where the time goes (`bench_frontend.py`);
4. peak memory of inference in float32 and bfloat16 (`bench_memory.py`);
5. training step throughput per stage (`bench_training.py`);
6. on a GPU only: tokens/s at batch 64 in bfloat16 and the fraction of the memory-bandwidth bound reached.

    python benchmarks/run_benchmarks.py                 # everything, ~15 min on a 2-core CPU
    python benchmarks/run_benchmarks.py --tiny          # the tiny test configuration, seconds (a smoke test)
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from bench_decoding import (  # noqa: E402
    copy_bandwidth,
    decoding_workload,
    greedy,
    language_model_bytes,
    random_inputs,
    timed,
    weight_read_floor,
)
from bench_frontend import frontend_split  # noqa: E402
from bench_memory import peak_memory  # noqa: E402

from adiff_hf import ADiffConfig, ADiffForConditionalGeneration  # noqa: E402
from adiff_hf.testing_utils import tiny_adiff_config  # noqa: E402

SECTIONS = ("decoding", "floor", "frontend", "memory", "training", "gpu")
FULL_WORKLOADS = ((16, 300), (2, 64))
TINY_WORKLOADS = ((4, 40), (2, 16))


def machine() -> dict:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or platform.machine()
    return {
        "device": device.type,
        "name": name,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def training_throughput(tiny: bool, batch_size: int = 4, steps: int = 2) -> list[dict]:
    from bench_training import stage_throughput
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(Path(__file__).resolve().parents[2] / "shared" / "tokenizers" / "gpt2")
    return stage_throughput(tiny_adiff_config() if tiny else ADiffConfig(), tokenizer, batch_size, steps)


def gpu_decoding(batch: int = 64, new_tokens: int = 300) -> dict:
    """Tokens/s at `batch` in bfloat16 on the GPU, and the fraction of the memory-bandwidth bound reached."""
    device = torch.device("cuda")
    torch.manual_seed(0)
    model = ADiffForConditionalGeneration(ADiffConfig()).to(device, torch.bfloat16).eval()
    prompts, features = random_inputs(model, batch)
    with torch.no_grad():
        prefix = model.get_prefix_embeds(prompts, features)
    greedy(model, prefix, 4)
    torch.cuda.reset_peak_memory_stats(device)
    one_s, _ = timed(lambda: greedy(model, prefix, 1), device)
    total_s, tokens = timed(lambda: greedy(model, prefix, new_tokens), device)
    step_s = (total_s - one_s) / (new_tokens - 1)
    text = model.config.text_config
    # bytes a step must read: the weights once, and on average half the final KV cache
    kv_bytes = 2 * text.num_hidden_layers * batch * (prefix.shape[1] + new_tokens / 2) * text.hidden_size * 2
    bytes_per_step = language_model_bytes(model) + kv_bytes
    bandwidth = copy_bandwidth(device, megabytes=2048)
    return {
        "batch": batch,
        "new_tokens": new_tokens,
        "dtype": "bf16",
        "tokens_per_s": round(batch * new_tokens / total_s, 1),
        "step_s": round(step_s, 5),
        "peak_memory_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1),
        "total_memory_mb": round(torch.cuda.get_device_properties(device).total_memory / 2**20, 1),
        "copy_bandwidth_gb_s": round(bandwidth / 1e9, 1),
        "bytes_per_step": int(bytes_per_step),
        "bandwidth_bound_fraction": round(bytes_per_step / step_s / bandwidth, 3),
        "generated_shape": list(tokens.shape),
    }


def print_tables(results: dict) -> None:
    info = results["machine"]
    print(f"\n## ADIFF benchmarks: {info['name']} ({info['device']}, {info['threads']} threads, torch {info['torch']})")
    if "decoding" in results:
        header = "| workload | generate() s | dynamic cache s | release loop s | vs release | dynamic vs release "
        print(f"\n{header}| vs release, last logits only | same tokens |")
        print("|---|---|---|---|---|---|---|---|")
        for row in results["decoding"]:
            print(
                f"| {row['pairs']} pairs x {row['new_tokens']} tokens | {row['generate_s']:.2f} "
                f"| {row['dynamic_cache_s']:.2f} | {row['release_loop_s_scaled']:.1f} "
                f"(from {row['release_loop_timed_pairs']}) | **{row['speedup_vs_release']:.1f}x** "
                f"| {row['dynamic_cache_speedup_vs_release']:.1f}x | {row['speedup_vs_release_last_logits_only']:.1f}x "
                f"| {row['identical_tokens']} |"
            )
        print("The release's loop costs the same for every example: it is timed on the pairs shown and scaled.")
        print("As released it computes logits at every position; 'last logits only' projects just the last one.")
    if "floor" in results:
        floor = results["floor"]
        print(
            f"\nCopy bandwidth {floor['copy_bandwidth_gb_s']} GB/s (read + write); LM weights "
            f"{floor['weight_bytes'] / 1e6:.0f} MB -> weight-read floor {1000 * floor['weight_read_floor_s']:.1f} ms"
        )
        print(f"One float32 matrix-vector product over as many bytes: {1000 * floor['matvec_read_s']:.1f} ms")
        print("\n| batch | cached step ms | x floor | x matvec |\n|---|---|---|---|")
        for batch, row in floor["steps"].items():
            print(f"| {batch} | {1000 * row['step_s']:.1f} | {row['times_floor']:.2f} | {row['times_matvec']:.2f} |")
    if "frontend" in results:
        front = results["frontend"]
        print(f"\nFront end on {front['clips']} clips of 10 s:")
        print("\n| stage | s | share |\n|---|---|---|")
        keys = {
            "feature_extraction": "feature_extraction_s",
            "audio_encoder": "encoder_s",
            "projection_mappers_cross": "mappers_s",
            "lm_prefill": "lm_prefill_s",
        }
        for name, key in keys.items():
            print(f"| {name} | {front[key]:.3f} | {front['share'][name]:.0%} |")
        print(f"\nclips/s (features + encoder): {front['clips_per_s_front_end_and_encoder']}")
        if "feature_extraction_speedup" in front:
            print(
                f"batched features vs CLAP's per-clip loop: {front['feature_extraction_speedup']}x, "
                f"identical: {front['features_identical']}"
            )
    if "memory" in results:
        print("\n| dtype | peak MB | logits finite |\n|---|---|---|")
        for name, row in results["memory"].items():
            print(f"| {name} | {row['peak_mb']:.0f} | {row['logits_finite']} |")
    if "training" in results:
        print("\n| stage | trainable | samples/s | s/step | collation share |\n|---|---|---|---|---|")
        for row in results["training"]:
            print(
                f"| {row['stage']} | {row['trainable_parameters']:,} | {row['samples_per_s']:.2f} "
                f"| {row['step_s']:.2f} | {row['collate_share']:.0%} |"
            )
    if "gpu" in results:
        gpu = results["gpu"]
        print(
            f"\nGPU, batch {gpu['batch']} bf16: {gpu['tokens_per_s']} tokens/s, step {1000 * gpu['step_s']:.2f} ms, "
            f"peak {gpu['peak_memory_mb']:.0f} of {gpu['total_memory_mb']:.0f} MB, "
            f"{100 * gpu['bandwidth_bound_fraction']:.0f}% of the {gpu['copy_bandwidth_gb_s']} GB/s bound"
        )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--tiny", action="store_true", help="tiny configuration and workloads (a smoke test)")
    parser.add_argument("--release-pairs", type=int, default=1, help="pairs the release loop is timed on")
    parser.add_argument("--output", default="benchmarks/results/benchmarks.json")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results: dict = {"machine": machine(), "tiny": args.tiny}
    torch.manual_seed(0)
    config = tiny_adiff_config() if args.tiny else ADiffConfig()
    # the sections that time this process's own full-size model; memory and training build theirs
    needs_model = {"decoding", "floor", "frontend"} & set(args.sections)
    model = ADiffForConditionalGeneration(config).eval() if needs_model else None
    for section in args.sections:
        print(f"[{section}] ...", flush=True)
        if section == "decoding":
            workloads = TINY_WORKLOADS if args.tiny else FULL_WORKLOADS
            results["decoding"] = [decoding_workload(model, p, n, args.release_pairs) for p, n in workloads]
        elif section == "floor":
            results["floor"] = weight_read_floor(model, steps=8 if args.tiny else 32)
        elif section == "frontend":
            results["frontend"] = frontend_split(model, pairs=2 if args.tiny else 8)
        elif section == "memory":
            results["memory"] = peak_memory(tiny=args.tiny, new_tokens=16 if args.tiny else 64)
        elif section == "training":
            results["training"] = training_throughput(args.tiny)
        elif section == "gpu" and torch.cuda.is_available():
            results["gpu"] = gpu_decoding(batch=8 if args.tiny else 64, new_tokens=32 if args.tiny else 300)
    results["wall_s"] = round(time.perf_counter() - started, 1)
    print_tables(results)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {args.output} ({results['wall_s']} s)")
    if not all(row["identical_tokens"] for row in results.get("decoding", [])):
        raise SystemExit("generate() and the release loop disagree on the tokens")
    return results


if __name__ == "__main__":
    main()
