"""Training throughput per stage: samples/s of `ADiffTrainer` steps, for a tiny and the full-size configuration.

Each stage freezes what the recipe freezes (stage 1-2: audio encoder and LM frozen; stage 3: LM trains) and runs
`--steps` optimiser steps after `--warmup` untimed ones, on the toy dataset (synthetic clips, so it runs anywhere).
A step includes collation (reading audio, log-mel features) — timed separately as well, because on a GPU it is
the part that needs `--dataloader_num_workers`. Random weights: speed does not depend on them.

    python benchmarks/bench_training.py --configs tiny full --batch-size 4 --steps 3
"""

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, TrainerCallback

from adiff_hf import ADiffConfig, ADiffFeatureExtractor, ADiffForConditionalGeneration, ADiffProcessor
from adiff_hf.data import ADiffDataCollator, build_training_examples, load_difference_csv, make_toy_difference_data
from adiff_hf.testing_utils import tiny_adiff_config
from adiff_hf.training import STAGE_DEFAULTS, ADiffTrainer, ADiffTrainingArguments, set_trainable_components

CONFIGS = {
    "tiny": tiny_adiff_config,  # ~2M parameters
    "full": ADiffConfig,  # the released size, 292M parameters
}


class StepTimer(TrainerCallback):
    """Wall time of the steps after the first `warmup`."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end = warmup, None, None

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.warmup and self.start is None:
            self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.end = time.perf_counter()


def bench_stage(model, processor, examples, stage, batch_size, steps, warmup, workdir) -> dict:
    set_trainable_components(model, STAGE_DEFAULTS[stage]["trainable"])
    timer = StepTimer(warmup)
    args = ADiffTrainingArguments(
        output_dir=str(workdir / f"stage{stage}"),
        per_device_train_batch_size=batch_size,
        max_steps=warmup + steps,
        save_strategy="no",
        logging_steps=1000,
        use_cpu=not torch.cuda.is_available(),
        bf16=torch.cuda.is_available(),
        disable_tqdm=True,
        report_to="none",
    )
    collator = ADiffDataCollator(processor, max_answer_length=300)
    ADiffTrainer(model=model, args=args, train_dataset=examples, data_collator=collator, callbacks=[timer]).train()
    step_s = (timer.end - timer.start) / steps
    start = time.perf_counter()
    for i in range(steps):
        collator([examples[(i * batch_size + j) % len(examples)] for j in range(batch_size)])
    collate_s = (time.perf_counter() - start) / steps
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "stage": stage,
        "trainable_parameters": trainable,
        "parameters": sum(p.numel() for p in model.parameters()),
        "step_s": round(step_s, 4),
        "samples_per_s": round(batch_size / step_s, 3),
        "collate_s_per_batch": round(collate_s, 4),
        "collate_share": round(collate_s / step_s, 3),
    }


def stage_throughput(config, tokenizer, batch_size: int, steps: int, warmup: int = 1) -> list[dict]:
    """Steady-state step time of each stage (1, 2, 3) for a model of `config`, on the toy dataset."""
    torch.manual_seed(0)
    model = ADiffForConditionalGeneration(config)
    processor = ADiffProcessor(ADiffFeatureExtractor(), tokenizer, num_prefix_tokens=config.num_prefix_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        csvs = make_toy_difference_data(workdir / "toy", num_clips=24, pairs_per_split={"train": 16, "validation": 2})
        examples = build_training_examples(load_difference_csv(csvs["train"]), caption_ratio=0.2, seed=0)
        return [
            bench_stage(model, processor, examples, stage, batch_size, steps, warmup, workdir) for stage in (1, 2, 3)
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["tiny", "full"])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--tokenizer", default="../shared/tokenizers/gpt2", help="a GPT-2 tokenizer directory")
    parser.add_argument("--output", default="benchmarks/results/training.json")
    args = parser.parse_args()

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({torch.get_num_threads()} threads)"
    results = {"device": device, "machine": platform.platform(), "batch_size": args.batch_size, "configs": {}}
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    for name in args.configs:
        config = CONFIGS[name]()
        rows = stage_throughput(config, tokenizer, args.batch_size, args.steps, args.warmup)
        print(f"{name:>5}: {rows}", flush=True)
        results["configs"][name] = {"parameters": rows[0]["parameters"], "stages": rows}

    print(f"\nTraining throughput on {device}, batch {args.batch_size} (steady state, collation included)")
    print(f"{'config':>6} {'stage':>5} {'trainable':>12} {'samples/s':>10} {'s/step':>8} {'collate share':>14}")
    for name, entry in results["configs"].items():
        for row in entry["stages"]:
            print(
                f"{name:>6} {row['stage']:>5} {row['trainable_parameters']:>12,} {row['samples_per_s']:>10.2f} "
                f"{row['step_s']:>8.3f} {row['collate_share']:>14.0%}"
            )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
