"""Peak memory of inference (2 pairs, prefix + 64 new tokens) in float32 and bfloat16, each in a fresh process.

On CPU the figure is the process's peak resident memory (`VmHWM`, reset once the model is built, so the float32
copy a bfloat16 model is converted from does not count) minus what it held before the model was built (Python,
torch, transformers); on a GPU it is `torch.cuda.max_memory_allocated`. The bfloat16 run also
checks that the logits are finite.

    python benchmarks/bench_memory.py
"""

import argparse
import gc
import json
import resource
import subprocess
import sys
from pathlib import Path

import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def memory_mb(field: str) -> float:
    """`VmRSS` (resident now) or `VmHWM` (peak) of this process, from /proc; `ru_maxrss` elsewhere.

    /proc is read rather than `ru_maxrss` because Linux carries `ru_maxrss` over `exec`: a probe started by a
    process that already holds a model would report its parent's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Start the peak (`VmHWM`) afresh from the current resident memory (Linux: `clear_refs` 5)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass


def probe(dtype_name: str, tiny: bool, pairs: int, new_tokens: int) -> dict:
    """Build the model, explain `pairs` pairs, report the peak memory (run in its own process)."""
    from bench_decoding import greedy, random_inputs

    from adiff_hf import ADiffConfig, ADiffForConditionalGeneration
    from adiff_hf.testing_utils import tiny_adiff_config

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    baseline = memory_mb("VmRSS")
    torch.manual_seed(0)
    config = tiny_adiff_config() if tiny else ADiffConfig()
    model = ADiffForConditionalGeneration(config).to(device, DTYPES[dtype_name]).eval()
    gc.collect()
    reset_peak()  # the float32 copy the model was built in is gone: measure what inference holds from here
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    prompts, features = random_inputs(model, pairs)
    with torch.no_grad():
        logits = model(input_ids=prompts, input_features=features).logits
        prefix = model.get_prefix_embeds(prompts, features)
    tokens = greedy(model, prefix, new_tokens)
    result = {
        "dtype": dtype_name,
        "device": device.type,
        "pairs": pairs,
        "new_tokens": new_tokens,
        "parameters": sum(p.numel() for p in model.parameters()),
        "logits_finite": bool(torch.isfinite(logits).all()),
        "generated_shape": list(tokens.shape),
    }
    if device.type == "cuda":
        result["peak_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    else:
        result["peak_mb"] = round(memory_mb("VmHWM") - baseline, 1)
        result["process_peak_rss_mb"] = round(memory_mb("VmHWM"), 1)
    return result


def peak_memory(dtypes=("fp32", "bf16"), tiny: bool = False, pairs: int = 2, new_tokens: int = 64) -> dict:
    """Run `probe` for each dtype in a fresh interpreter, so one run's peak does not hide the next."""
    results = {}
    for name in dtypes:
        command = [sys.executable, __file__, "--probe", name, "--pairs", str(pairs), "--new-tokens", str(new_tokens)]
        if tiny:
            command.append("--tiny")
        done = subprocess.run(command, check=False, capture_output=True, text=True, cwd=Path(__file__).parent)
        if done.returncode != 0:
            raise RuntimeError(f"memory probe for {name} failed:\n{done.stderr[-2000:]}")
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probe", choices=sorted(DTYPES), help=argparse.SUPPRESS)
    parser.add_argument("--tiny", action="store_true", help="the tiny test configuration instead of the full size")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe, args.tiny, args.pairs, args.new_tokens)))
    else:
        print(json.dumps(peak_memory(tiny=args.tiny, pairs=args.pairs, new_tokens=args.new_tokens), indent=2))


if __name__ == "__main__":
    main()
