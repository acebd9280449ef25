"""`Trainer` for ADIFF: frozen parts kept in eval mode, a JSONL training log, sample generations at evaluation."""

import json
import logging
import os

import torch
from transformers import Trainer, TrainerCallback

from ..data.collator import ADiffDataCollator
from .stages import frozen_modules

logger = logging.getLogger(__name__)


class ADiffTrainer(Trainer):
    """[`Trainer`] that runs ADIFF's frozen components in eval mode during training.

    `Trainer` switches the whole model to train mode at every step; a frozen HTSAT would then update its BatchNorm
    statistics and a frozen language model would apply dropout. The model may also be a `peft.PeftModel` around
    ADIFF (a LoRA stage). Everything else is `Trainer`'s own.
    """

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model.training:
            if not hasattr(self, "_frozen_modules"):  # what trains is fixed for the run: find it once
                self._frozen_modules = frozen_modules(self.accelerator.unwrap_model(model))
            for module in self._frozen_modules:
                module.eval()
        return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)


def stream_start(args, checkpoint: str | None) -> int:
    """The item of a pair stream a run resumed from `checkpoint` goes on from: every item its finished steps drew is
    skipped, none drawn twice (0 without a checkpoint)."""
    if not checkpoint:
        return 0
    with open(os.path.join(checkpoint, "trainer_state.json"), encoding="utf-8") as f:
        steps = json.load(f)["global_step"]
    return steps * args.train_batch_size * args.gradient_accumulation_steps * args.world_size


class JsonlLogCallback(TrainerCallback):
    """Append every log entry (loss, learning rate, evaluation) as a JSON line to `path` (main process only)."""

    def __init__(self, path: str | os.PathLike):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"step": state.global_step, "epoch": state.epoch, **logs}) + "\n")


class GenerationSamplesCallback(TrainerCallback):
    """At each evaluation, explain a few fixed validation pairs with greedy decoding and log what comes out.

    The batch holds prompts and audio only (not the teacher-forcing batch), as `generate()` expects. Lines go to
    `path` as JSON (`step`, `prompt`, `reference`, `prediction`) and to the logger.
    """

    def __init__(self, examples: list[dict], collator: ADiffDataCollator, path: str | os.PathLike, **generate_kwargs):
        self.examples = examples
        self.collator = collator
        self.path = path
        self.generate_kwargs = generate_kwargs

    @torch.no_grad()
    def on_evaluate(self, args, state, control, model=None, **kwargs):
        if not (state.is_world_process_zero and self.examples and model is not None):
            return
        was_training = model.training
        model.eval()
        inputs = self.collator(self.examples).to(model.device)  # the model casts the audio to its own dtypes
        predictions = self.collator.processor.batch_decode(model.generate(**inputs, **self.generate_kwargs))
        model.train(was_training)
        with open(self.path, "a", encoding="utf-8") as f:
            for example, prediction in zip(self.examples, predictions, strict=True):
                record = {"step": state.global_step, "prompt": example["prompt"], "reference": example["answer"]}
                f.write(json.dumps(record | {"prediction": prediction}) + "\n")
                logger.info("step %d | %s -> %s", state.global_step, example["prompt"], prediction)


__all__ = ["ADiffTrainer", "GenerationSamplesCallback", "JsonlLogCallback", "stream_start"]
