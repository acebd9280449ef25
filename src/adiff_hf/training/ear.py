"""The ear stage: ADIFF's comparing ear pretrained on pairs drawn without end, with no language model in the loop.

Heads on the ear's two pooled clips learn what the language model will later be asked to say: the direction-aware
change (`EAR_CLASSES`), the changed clip where a change has a side, the strength bucket, same or different, and the
kind of each clip's source (speech, music, other sound). Only the ear is kept (`output_dir/ear/`, an
[`ADiffEarModel`] directory that `--audio_encoder` takes); the heads serve this stage and its measurements.
"""

import copy
import dataclasses
import json
import logging
import os
from collections import Counter, defaultdict

import numpy as np
import torch
import torch.nn.functional as F
from transformers import Trainer, TrainerCallback
from transformers.modeling_outputs import ModelOutput
from transformers.trainer_utils import get_last_checkpoint

from ..configuration_adiff import ADiffEarConfig
from ..data.changes import EAR_CLASSES, EAR_LABEL_WORDS
from ..data.pair_stream import DifferencePairStream
from ..feature_extraction_adiff import ADiffFeatureExtractor
from ..modeling_adiff import ADiffEarModel
from .trainer import stream_start

logger = logging.getLogger(__name__)

EAR_DIR = "ear"
EAR_SECONDS = 5  # pairs are heard for 5 s while the ear trains (the sources are at most that long)
LABEL_NAMES = ["change_target", "changed_clip", "strength", "kinds"]
# what the merged-direction score counts as one change (a level change read from either side is one pair)
MERGED = {"quieter": "louder", "speed_down": "speed_up", "tempo_down": "tempo_up", "pitch_down": "pitch_up"}


@dataclasses.dataclass
class EarClassifierOutput(ModelOutput):
    loss: torch.FloatTensor | None = None
    change_logits: torch.FloatTensor | None = None
    clip_logits: torch.FloatTensor | None = None
    strength_logits: torch.FloatTensor | None = None
    kind_logits: torch.FloatTensor | None = None


class ADiffEarForPairClassification(ADiffEarModel):
    """The ear with the heads of its pretraining stage (`config.label_words`, see the module docstring), and their
    loss. Its weights are an [`ADiffEarModel`]'s, heads included: the saved directory is what `--audio_encoder`
    takes."""

    def __init__(self, config: ADiffEarConfig):
        if config.label_words is None:
            config.label_words = copy.deepcopy(EAR_LABEL_WORDS)
        super().__init__(config)

    def forward(self, input_features, change_target=None, changed_clip=None, strength=None, kinds=None, **kwargs):
        heard = super().forward(input_features)
        loss = None
        if change_target is not None:
            loss = F.cross_entropy(heard.change_logits, change_target)
            if (changed_clip != -100).any():
                loss = loss + F.cross_entropy(heard.clip_logits, changed_clip, ignore_index=-100)
            if (strength != -100).any():
                loss = loss + 0.3 * F.cross_entropy(heard.strength_logits, strength, ignore_index=-100)
            loss = loss + 0.3 * F.cross_entropy(heard.kind_logits.flatten(0, 1), kinds.flatten())
        out = EarClassifierOutput(
            loss=loss,
            change_logits=heard.change_logits,
            clip_logits=heard.clip_logits,
            strength_logits=heard.strength_logits,
            kind_logits=heard.kind_logits,
        )
        return out


@dataclasses.dataclass
class EarPairCollator:
    """Stream items -> `input_features` `(batch, 2, frames, 64)` (ADIFF's front end, `seconds` per clip) + labels."""

    seconds: int = EAR_SECONDS

    def __post_init__(self):
        self.extractor = ADiffFeatureExtractor(max_length_s=self.seconds)

    def features(self, items: list[dict]) -> torch.Tensor:
        waves = [w for item in items for w in (item["audio1"], item["audio2"])]
        features = self.extractor(waves, sampling_rate=items[0]["sampling_rate"], crop="start", return_tensors="pt")
        return features["input_features"][:, 0].reshape(len(items), 2, *features["input_features"].shape[2:])

    def __call__(self, items: list[dict]) -> dict:
        return {
            "input_features": self.features(items),
            "change_target": torch.from_numpy(np.stack([i["change_target"] for i in items])),
            "changed_clip": torch.tensor([i["changed_clip"] for i in items]),
            "strength": torch.tensor([i["strength"] for i in items]),
            "kinds": torch.tensor([i["kinds"] for i in items]),
        }


@torch.no_grad()
def measure_ear(model: ADiffEarForPairClassification, items: list[dict], batch_size: int = 32) -> dict:
    """Accuracy of the ear's heads on `items` (stream items): direction-aware change type (single-change, identical
    and two-source pairs), the same with each two-sided direction merged, the changed clip where a change has a side,
    same / different, source kind; and per class."""
    collator = EarPairCollator()
    model.eval()
    totals, per_class, confusions = Counter(), defaultdict(Counter), Counter()
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        out = model(collator.features(batch).to(model.device))
        predicted = out.change_logits.argmax(-1).tolist()
        clips = out.clip_logits.argmax(-1).tolist()
        kinds = out.kind_logits.argmax(-1).tolist()
        for item, guess, clip, kind in zip(batch, predicted, clips, kinds, strict=True):
            single = item["change_target"].max() == 1.0
            truth = EAR_CLASSES[int(np.argmax(item["change_target"]))]
            said = EAR_CLASSES[guess]
            if single:
                totals["typed"] += 1
                totals["type"] += said == truth
                totals["merged"] += MERGED.get(said, said) == MERGED.get(truth, truth)
                per_class[truth]["pairs"] += 1
                per_class[truth]["right"] += said == truth
                if said != truth:
                    confusions[f"{truth} -> {said}"] += 1
            totals["same_pairs"] += 1
            totals["same"] += (said == "same") == (truth == "same")
            if item["changed_clip"] != -100:
                totals["sided"] += 1
                totals["clip"] += clip == item["changed_clip"]
            totals["kinds"] += 2
            totals["kind"] += sum(int(k == t) for k, t in zip(kind, item["kinds"], strict=True))
    return {
        "pairs": len(items),
        "change_type": totals["type"] / max(totals["typed"], 1),
        "change_type_merged": totals["merged"] / max(totals["typed"], 1),
        "changed_clip": totals["clip"] / max(totals["sided"], 1),
        "same_or_different": totals["same"] / max(totals["same_pairs"], 1),
        "source_kind": totals["kind"] / max(totals["kinds"], 1),
        "per_class": {c: v["right"] / v["pairs"] for c, v in sorted(per_class.items())},
        "per_class_pairs": {c: v["pairs"] for c, v in sorted(per_class.items())},
        "confusions": dict(confusions.most_common(12)),
    }


class EarMeasureCallback(TrainerCallback):
    """At each evaluation, measure the ear on fixed pairs of each named split and log it (JSON lines in `path`)."""

    def __init__(self, splits: dict[str, list[dict]], path: str):
        self.splits, self.path = splits, path

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero or model is None:
            return
        was_training = model.training
        record = {"step": state.global_step}
        for split, items in self.splits.items():
            scores = measure_ear(model, items)
            record[split] = {k: v for k, v in scores.items() if not k.startswith("per_class") and k != "confusions"}
        model.train(was_training)
        logger.info("ear at step %d: %s", state.global_step, json.dumps(record))
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def run_ear_stage(
    sources,
    training_args,
    model_name_or_path: str | None = None,
    config_overrides: dict | None = None,
    seed: int = 0,
    eval_pairs: int = 256,
) -> str:
    """Pretrain the ear on an endless stream of training pairs; save it to `output_dir/ear/`. Returns that directory.

    `training_args` need `max_steps` (the stream has no end). A run with `--resume_from_checkpoint` continues from
    its last checkpoint *and* from the stream item where it stopped (no pair is drawn twice, none skipped).
    """
    if training_args.max_steps is None or training_args.max_steps <= 0:
        raise ValueError("The ear stage draws pairs without end: give --max_steps.")
    args = dataclasses.replace(
        training_args,
        output_dir=os.path.join(training_args.output_dir, EAR_DIR),
        label_names=LABEL_NAMES,
        ignore_data_skip=True,  # the stream itself starts where the run stopped
        remove_unused_columns=False,
    )
    os.makedirs(args.output_dir, exist_ok=True)
    if model_name_or_path:
        model = ADiffEarForPairClassification.from_pretrained(model_name_or_path)
    else:
        model = ADiffEarForPairClassification(ADiffEarConfig(**(config_overrides or {})))
    resume = args.resume_from_checkpoint
    checkpoint = None
    if resume:
        checkpoint = get_last_checkpoint(args.output_dir) if resume.lower() in ("true", "last") else resume
    start = stream_start(args, checkpoint)
    train = DifferencePairStream(sources, "train", seed=seed, start=start)
    measured = {}
    for split in ("validation", "test_unseen"):
        try:
            stream = DifferencePairStream(sources, split, seed=seed, num_pairs=eval_pairs)
        except ValueError as err:  # a split without clips is not measured
            logger.warning("The ear is not measured on %s: %s", split, err)
            continue
        measured[split] = list(stream)
    eval_set = measured.get("validation") or None  # a list: Trainer reads it by index
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=eval_set,
        data_collator=EarPairCollator(),
        callbacks=[EarMeasureCallback(measured, os.path.join(args.output_dir, "ear_measurements.jsonl"))],
    )
    logger.info(
        "Ear stage: %d parameters (%d in the heads), %d training clips, resuming at stream item %d",
        sum(p.numel() for p in model.parameters()),
        sum(p.numel() for name, p in model.named_parameters() if "_head" in name),
        len(train.members),
        start,
    )
    trainer.train(resume_from_checkpoint=checkpoint)
    if trainer.is_world_process_zero():
        model.config.architectures = [ADiffEarModel.__name__]  # what loads it: the ear, heads included
        model.save_pretrained(args.output_dir)
        pairs = trainer.state.global_step * args.train_batch_size * args.gradient_accumulation_steps * args.world_size
        summary = {"global_step": trainer.state.global_step, "pairs_seen": pairs}
        summary |= {split: measure_ear(model, items) for split, items in measured.items()}
        with open(os.path.join(args.output_dir, "ear_summary.json"), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
    return args.output_dir


__all__ = [
    "ADiffEarForPairClassification",
    "EAR_DIR",
    "EarPairCollator",
    "measure_ear",
    "run_ear_stage",
]
