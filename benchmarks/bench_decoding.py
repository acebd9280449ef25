"""Decoding speed: `generate()` (batched, KV cache) against the release's loop, side by side in one run.

The release decodes one example at a time and re-runs GPT-2 over the whole prefix + answer at every step
(no cache, argmax). Both strategies start from the same prefixes of the same full-size model (random
weights) and must produce identical tokens; the figure reported is the ratio of their times. The release's
loop costs the same for every example, so it is timed on `--release-pairs` pairs and scaled to the batch.

    python benchmarks/bench_decoding.py --pairs 4 --new-tokens 32
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from adiff_hf import ADiffConfig, ADiffForConditionalGeneration

# "explain the difference between the two audio in detail <|endoftext|>", padded with 0 to 40 tokens
DETAIL_PROMPT = [20676, 391, 262, 3580, 1022, 262, 734, 6597, 287, 3703, 220, 50256] + [0] * 28


@torch.no_grad()
def release_loop(model: ADiffForConditionalGeneration, prefix: torch.Tensor, new_tokens: int) -> list[int]:
    """The release's decoding: no cache, the whole sequence re-run each step, argmax."""
    embeddings = model.get_input_embeddings()
    tokens: list[int] = []
    for _ in range(new_tokens):
        sequence = prefix
        if tokens:
            sequence = torch.cat((prefix, embeddings(torch.tensor([tokens]))), dim=1)
        hidden = model.model.language_model(inputs_embeds=sequence, use_cache=False).last_hidden_state
        tokens.append(int(model.lm_head(hidden[:, -1]).argmax(-1)))
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--release-pairs", type=int, default=1, help="pairs the release loop is timed on")
    parser.add_argument("--output", default="benchmarks/results/decoding.json")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = ADiffForConditionalGeneration(ADiffConfig()).eval()
    features = torch.randn(args.pairs, 2, 1001, 64) * 20 - 40
    prompts = torch.tensor([DETAIL_PROMPT] * args.pairs)

    start = time.perf_counter()
    with torch.no_grad():
        prefix = model.get_prefix_embeds(prompts, features)
    prefix_s = time.perf_counter() - start

    # no stop token: both strategies decode exactly `new_tokens` tokens
    start = time.perf_counter()
    generated = model.generate(
        inputs_embeds=prefix, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, eos_token_id=None
    )
    generate_s = time.perf_counter() - start

    start = time.perf_counter()
    release = [release_loop(model, prefix[i : i + 1], args.new_tokens) for i in range(args.release_pairs)]
    release_s = (time.perf_counter() - start) / args.release_pairs * args.pairs

    identical = all(generated[i].tolist() == release[i] for i in range(args.release_pairs))
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "pairs": args.pairs,
        "new_tokens": args.new_tokens,
        "prefix_s": round(prefix_s, 3),
        "generate_s": round(generate_s, 3),
        "release_loop_s_scaled": round(release_s, 3),
        "release_loop_timed_pairs": args.release_pairs,
        "speedup": round(release_s / generate_s, 2),
        "identical_tokens": identical,
    }
    print(f"| workload | generate() s | release loop s (scaled from {args.release_pairs}) | speed-up | same tokens |")
    print("|---|---|---|---|---|")
    print(
        f"| {args.pairs} pairs x {args.new_tokens} tokens | {generate_s:.2f} | {release_s:.2f} "
        f"| {release_s / generate_s:.1f}x | {identical} |"
    )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    if not identical:
        raise SystemExit("generate() and the release loop disagree on the tokens")


if __name__ == "__main__":
    main()
