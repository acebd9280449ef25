"""ADIFF's three-stage training recipe on top of `Trainer`."""

from .arguments import ADiffTrainingArguments, DataArguments, ModelArguments, StageArguments
from .loss_curve import plot_loss_curve
from .run import run_stage, run_stages, stage_dir
from .stages import (
    ALIGNMENT_COMPONENTS,
    COMPONENTS,
    STAGE_DEFAULTS,
    frozen_modules,
    parse_components,
    set_trainable_components,
)
from .trainer import ADiffTrainer, GenerationSamplesCallback, JsonlLogCallback

__all__ = [
    "ADiffTrainer",
    "ADiffTrainingArguments",
    "ALIGNMENT_COMPONENTS",
    "COMPONENTS",
    "DataArguments",
    "GenerationSamplesCallback",
    "JsonlLogCallback",
    "ModelArguments",
    "STAGE_DEFAULTS",
    "StageArguments",
    "frozen_modules",
    "parse_components",
    "plot_loss_curve",
    "run_stage",
    "run_stages",
    "set_trainable_components",
    "stage_dir",
]
