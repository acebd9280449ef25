"""Decoding speed: `generate()` against the release's loop, and a cached step against the weight-read floor.

The release decodes one example at a time and re-runs GPT-2 over the whole prefix + answer at every step (no
cache, argmax). Every strategy here starts from the same prefixes of the same model (random weights are fine:
speed does not depend on them) and must produce identical tokens; the figures are ratios of times measured side
by side in one run:

- `generate()`: batched, with the model's default cache (transformers' static cache, written in place);
- "dynamic cache": `generate()` with transformers' dynamic cache, which concatenates the cache at every step;
- the release's loop, which costs the same for every example, so it is timed on `release_pairs` pairs and
  scaled to the batch. As released, it computes logits at every position (`GPT2LMHeadModel` on the whole
  sequence) and keeps the last; a kinder variant that projects only the last position is timed as well.

    python benchmarks/bench_decoding.py --pairs 16 --new-tokens 300
"""

import argparse
import json
import time
from pathlib import Path

import torch

from adiff_hf import ADiffConfig, ADiffForConditionalGeneration

# "explain the difference between the two audio in detail <|endoftext|>" in GPT-2 ids, padded with 0
DETAIL_PROMPT = [20676, 391, 262, 3580, 1022, 262, 734, 6597, 287, 3703, 220, 50256]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device):
    """(seconds, result) of `fn()`, with the device's queue drained on both sides."""
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - start, result


def random_inputs(model: ADiffForConditionalGeneration, pairs: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Prompt ids and log-mel pairs of the shapes the model reads (HTSAT front end: 1001 frames x mel bins)."""
    config = model.config
    generator = torch.Generator().manual_seed(seed)
    prompt = (DETAIL_PROMPT + [0] * config.prompt_length)[: config.prompt_length]
    bins = config.audio_config.num_mel_bins if config.audio_config.model_type == "whisper" else 64
    shape = (pairs, 2, bins, 3000) if config.audio_config.model_type == "whisper" else (pairs, 2, 1001, bins)
    features = torch.randn(shape, generator=generator) * 20 - 40
    return torch.tensor([prompt] * pairs, device=model.device), features.to(model.device, model.dtype)


@torch.no_grad()
def release_loop(
    model: ADiffForConditionalGeneration, prefix: torch.Tensor, new_tokens: int, all_logits: bool = True
) -> list[int]:
    """The release's decoding of one example: no cache, the whole sequence re-run each step, argmax.

    The release calls `GPT2LMHeadModel` on the whole sequence, which computes logits at every position and keeps
    the last (`all_logits=True`); `all_logits=False` is a kinder variant that projects only the last position.
    """
    embeddings = model.get_input_embeddings()
    tokens: list[int] = []
    for _ in range(new_tokens):
        sequence = prefix
        if tokens:
            sequence = torch.cat((prefix, embeddings(torch.tensor([tokens], device=prefix.device))), dim=1)
        hidden = model.model.language_model(inputs_embeds=sequence, use_cache=False).last_hidden_state
        logits = model.lm_head(hidden)[:, -1] if all_logits else model.lm_head(hidden[:, -1])
        tokens.append(int(logits.argmax(-1)))
    return tokens


def greedy(model, prefix: torch.Tensor, new_tokens: int, **kwargs) -> torch.Tensor:
    """Exactly `new_tokens` greedy tokens (no stop token), as the release's loop makes them."""
    return model.generate(
        inputs_embeds=prefix,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        eos_token_id=None,
        do_sample=False,
        num_beams=1,
        **kwargs,
    )


def decoding_workload(model, pairs: int, new_tokens: int, release_pairs: int = 1) -> dict:
    """generate() vs generate() with a dynamic cache vs the release's loop on `pairs` x `new_tokens`, same prefixes."""
    device = model.device
    prompts, features = random_inputs(model, pairs)
    with torch.no_grad():
        prefix_s, prefix = timed(lambda: model.get_prefix_embeds(prompts, features), device)
    greedy(model, prefix[:1], 2)  # first-call set-up (kernels, allocator) is not what is measured
    generate_s, ours = timed(lambda: greedy(model, prefix, new_tokens), device)
    plain_s, plain = timed(lambda: greedy(model, prefix, new_tokens, cache_implementation="dynamic"), device)
    timed_pairs = min(release_pairs, pairs)
    release_s, release = timed(
        lambda: [release_loop(model, prefix[i : i + 1], new_tokens) for i in range(timed_pairs)], device
    )
    last_only_s, last_only = timed(
        lambda: [release_loop(model, prefix[i : i + 1], new_tokens, False) for i in range(timed_pairs)], device
    )
    release_scaled = release_s / timed_pairs * pairs
    last_only_scaled = last_only_s / timed_pairs * pairs
    identical = torch.equal(ours, plain) and all(
        ours[i].tolist() == release[i] == last_only[i] for i in range(timed_pairs)
    )
    return {
        "pairs": pairs,
        "new_tokens": new_tokens,
        "prefix_s": round(prefix_s, 4),
        "generate_s": round(generate_s, 4),
        "dynamic_cache_s": round(plain_s, 4),
        "release_loop_s_scaled": round(release_scaled, 3),
        "release_loop_timed_pairs": timed_pairs,
        "speedup_vs_release": round(release_scaled / generate_s, 2),
        "release_last_logits_only_s_scaled": round(last_only_scaled, 3),
        "speedup_vs_release_last_logits_only": round(last_only_scaled / generate_s, 2),
        "dynamic_cache_speedup_vs_release": round(release_scaled / plain_s, 2),
        "tokens_per_s": round(pairs * new_tokens / generate_s, 1),
        "identical_tokens": identical,
    }


def copy_bandwidth(device: torch.device, megabytes: int = 512, repeats: int = 5) -> float:
    """Bytes moved per second (read + written, the STREAM "copy" convention) by copying a large buffer."""
    numel = megabytes * 2**20 // 4
    source = torch.ones(numel, dtype=torch.float32, device=device)
    target = torch.empty_like(source)
    target.copy_(source)
    best = min(timed(lambda: target.copy_(source), device)[0] for _ in range(repeats))
    return 2 * source.numel() * source.element_size() / best


def language_model_bytes(model) -> int:
    """Bytes of the weights one decoding step reads: the LM and its head, each tensor once (a tied head is shared)."""
    tensors = {p.data_ptr(): p for p in [*model.model.language_model.parameters(), *model.lm_head.parameters()]}
    return sum(p.numel() * p.element_size() for p in tensors.values())


def cached_step_s(model, prefix: torch.Tensor, steps: int = 32) -> float:
    """Seconds per cached decoding step inside generate(), prefill excluded: (t(1 + steps) - t(1)) / steps."""
    greedy(model, prefix, 2)
    one = min(timed(lambda: greedy(model, prefix, 1), model.device)[0] for _ in range(2))
    many = min(timed(lambda: greedy(model, prefix, 1 + steps), model.device)[0] for _ in range(2))
    return max(many - one, 0.0) / steps


def matvec_read_s(weight_bytes: int, width: int, device: torch.device, repeats: int = 5) -> float:
    """Seconds for one float32 matrix-vector product over a `(rows, width)` matrix of `weight_bytes`: the least a
    one-row decoding step costs with torch's own kernels, which read memory slower than a copy does."""
    matrix = torch.ones(weight_bytes // 4 // width, width, device=device)
    vector = torch.ones(width, device=device)
    torch.mv(matrix, vector)
    return min(timed(lambda: torch.mv(matrix, vector), device)[0] for _ in range(repeats))


def weight_read_floor(model, batch_sizes=(1, 16), steps: int = 32) -> dict:
    """A cached step's time against the time to read the LM's weights once at the measured copy bandwidth, and
    against one matrix-vector product over as many bytes."""
    bandwidth = copy_bandwidth(model.device)
    weight_bytes = language_model_bytes(model)
    floor_s = weight_bytes / bandwidth
    matvec_s = matvec_read_s(weight_bytes, model.config.text_config.hidden_size, model.device)
    result = {
        "copy_bandwidth_gb_s": round(bandwidth / 1e9, 2),
        "weight_bytes": weight_bytes,
        "weight_read_floor_s": round(floor_s, 5),
        "matvec_read_s": round(matvec_s, 5),
        "steps": {},
    }
    for batch in batch_sizes:
        prompts, features = random_inputs(model, batch)
        with torch.no_grad():
            prefix = model.get_prefix_embeds(prompts, features)
        step = cached_step_s(model, prefix, steps)
        result["steps"][str(batch)] = {
            "step_s": round(step, 5),
            "times_floor": round(step / floor_s, 2),
            "times_matvec": round(step / matvec_s, 2),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=300)
    parser.add_argument("--release-pairs", type=int, default=1, help="pairs the release loop is timed on")
    parser.add_argument("--output", default="benchmarks/results/decoding.json")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = ADiffForConditionalGeneration(ADiffConfig()).eval()
    result = decoding_workload(model, args.pairs, args.new_tokens, args.release_pairs)
    print(json.dumps(result, indent=2))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    if not result["identical_tokens"]:
        raise SystemExit("generate() and the release loop disagree on the tokens")


if __name__ == "__main__":
    main()
