"""Command-line arguments of the three-stage recipe: model, data, stages, and `TrainingArguments` with our defaults."""

from dataclasses import dataclass, field

from transformers import TrainingArguments

from .stages import STAGE_DEFAULTS

EAR_STAGE = "ear"


@dataclass
class ModelArguments:
    """Where training starts: a saved ADIFF model (converted release or trained), or fresh backbones."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "A converted release checkpoint or a saved adiff_hf model (directory or Hub id)."},
    )
    audio_encoder: str | None = field(
        default=None,
        metadata={
            "help": "Fresh start: a ClapAudioModel, ClapModel or Whisper directory whose audio encoder is used. "
            "Without it (and without --model_name_or_path) the HTSAT is randomly initialised."
        },
    )
    text_decoder: str | None = field(
        default=None, metadata={"help": "Fresh start: a causal LM directory (GPT-2, SmolLM2, ...): weights and config."}
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Fresh start: tokenizer directory (defaults to --text_decoder)."}
    )
    config_overrides: str | None = field(
        default=None,
        metadata={"help": "Fresh start: JSON of ADiffConfig fields, e.g. '{\"mapper_num_layers\": 2}'."},
    )


@dataclass
class DataArguments:
    """Difference CSVs (ACD/CLD schema), their audio, prompts and collation."""

    train_csv: list[str] = field(
        default_factory=list,
        metadata={"help": "Training CSVs (taskname, filepath1, filepath2, caption1, caption2, input, answer)."},
    )
    sources: str | None = field(
        default=None,
        metadata={
            "help": "Instead of CSVs: labelled source clips (JSON, e.g. the local recipe's manifest.json) that pairs "
            "are drawn from without end (adiff_hf.data.pair_stream); the ear stage needs it. Give --max_steps "
            "(or --stageN_max_steps): a stream has no epochs."
        },
    )
    stream_task_batches: bool = field(
        default=True,
        metadata={"help": "With --sources: each batch asks one task, so short answers are not padded to long ones."},
    )
    stream_seed: int = field(default=0, metadata={"help": "With --sources: the seed the pairs are drawn with."})
    stream_eval_pairs: int = field(
        default=128,
        metadata={
            "help": "With --sources: fixed validation pairs for evaluation (and test_unseen pairs "
            "for the ear's measurements)."
        },
    )
    validation_csv: list[str] = field(
        default_factory=list, metadata={"help": "Validation CSVs, for teacher-forced loss and sample generations."}
    )
    audio_root: str | None = field(
        default=None, metadata={"help": "Directory the CSVs' file paths start from (default: each CSV's folder)."}
    )
    missing_audio: str = field(
        default="error",
        metadata={"help": "'error' stops naming the first missing file; 'skip' drops those rows and counts them."},
    )
    prompts_file: str | None = field(
        default=None,
        metadata={"help": "prompts.json with WORD/SENTENCE/DETAIL/FIRST/SECOND/BOTH paraphrase pools."},
    )
    paraphrase_prompts: bool = field(
        default=True, metadata={"help": "Draw training prompts from the paraphrase pools (else the CSV's input)."}
    )
    max_answer_length: int = field(
        default=300, metadata={"help": "Answer tokens kept, end marker included (tier-3 answers need ~300)."}
    )
    crop: str = field(default="random", metadata={"help": "How training cuts clips over 10 s: random/start/center."})
    cache_audio_embeddings: bool = field(
        default=False,
        metadata={
            "help": "Compute the frozen audio tower's clip embeddings once (output_dir/clip_embeddings.safetensors) "
            "and train on them: much faster; clips are then cut at their start, not at random."
        },
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Use at most this many training rows."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use at most this many validation rows."})
    num_generation_samples: int = field(
        default=4, metadata={"help": "Validation pairs explained with greedy decoding at each evaluation (0: none)."}
    )
    generation_max_new_tokens: int = field(default=64, metadata={"help": "Token limit of those sample generations."})


def _stage_field(stage: int, help_text: str, default=None):
    return field(default=default, metadata={"help": f"Stage {stage}: {help_text}"})


def _join(values) -> str:
    return ",".join(values)


@dataclass
class StageArguments:
    """Which stages run and what each trains. Defaults are this project's, not the ADIFF paper's numbers."""

    stage: str | None = field(
        default=None,
        metadata={"help": "Run one stage: 'ear' (pretrain the comparing ear, needs --sources), 1, 2 or 3."},
    )
    stages: str | None = field(
        default=None,
        metadata={
            "help": "Run stages in sequence, e.g. '1,2,3' or 'ear,1,2'; each starts from the previous output (after "
            "'ear', the trained ear is the audio tower)."
        },
    )
    ear_max_steps: int | None = field(default=None, metadata={"help": "Ear stage: steps (default: --max_steps)."})
    ear_learning_rate: float | None = field(
        default=None, metadata={"help": "Ear stage: learning rate (default: --learning_rate)."}
    )
    ear_config: str | None = field(
        default=None,
        metadata={"help": "Ear stage, fresh ear: JSON of ADiffEarConfig fields, e.g. '{\"channels\": [16, 32]}'."},
    )
    stage1_trainable: str = _stage_field(1, "components that train.", _join(STAGE_DEFAULTS[1]["trainable"]))
    stage2_trainable: str = _stage_field(2, "components that train.", _join(STAGE_DEFAULTS[2]["trainable"]))
    stage3_trainable: str = _stage_field(
        3, "components that train (add audio_tower to tune HTSAT too).", _join(STAGE_DEFAULTS[3]["trainable"])
    )
    stage1_tiers: str = _stage_field(1, "difference tiers used.", _join(STAGE_DEFAULTS[1]["tiers"]))
    stage2_tiers: str = _stage_field(2, "difference tiers used.", _join(STAGE_DEFAULTS[2]["tiers"]))
    stage3_tiers: str = _stage_field(3, "difference tiers used.", _join(STAGE_DEFAULTS[3]["tiers"]))
    stage1_caption_ratio: float = _stage_field(
        1, "position-captioning examples per difference example.", STAGE_DEFAULTS[1]["caption_ratio"]
    )
    stage2_caption_ratio: float = _stage_field(
        2, "position-captioning examples per difference example.", STAGE_DEFAULTS[2]["caption_ratio"]
    )
    stage3_caption_ratio: float = _stage_field(
        3, "position-captioning examples per difference example.", STAGE_DEFAULTS[3]["caption_ratio"]
    )
    stage1_learning_rate: float | None = _stage_field(1, "learning rate (default: --learning_rate).")
    stage2_learning_rate: float | None = _stage_field(2, "learning rate (default: --learning_rate).")
    stage3_learning_rate: float | None = _stage_field(3, "learning rate (default: --learning_rate / 10).")
    stage1_max_steps: int | None = _stage_field(1, "steps (default: --max_steps).")
    stage2_max_steps: int | None = _stage_field(2, "steps (default: --max_steps).")
    stage3_max_steps: int | None = _stage_field(3, "steps (default: --max_steps).")
    stage1_epochs: float | None = _stage_field(1, "epochs (default: --num_train_epochs).")
    stage2_epochs: float | None = _stage_field(2, "epochs (default: --num_train_epochs).")
    stage3_epochs: float | None = _stage_field(3, "epochs (default: --num_train_epochs).")
    lora_r: int = field(
        default=0,
        metadata={
            "help": "LoRA rank for the language model in --lora_stages (0: no LoRA; a stage that trains "
            "language_model then tunes all its weights). Needs `pip install peft`."
        },
    )
    lora_alpha: float | None = field(default=None, metadata={"help": "LoRA scaling numerator (default: 2 * --lora_r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA adapters' input."})
    lora_target_modules: str | None = field(
        default=None,
        metadata={
            "help": "Language-model layers that get adapters, as name suffixes, e.g. 'q_proj,v_proj' or "
            "'attn.c_proj' (default: the attention projections of GPT-2 and Llama-family models)."
        },
    )
    lora_stages: str = field(
        default="3",
        metadata={
            "help": "Stages whose language model trains through LoRA adapters instead of in full (with --lora_r > 0); "
            "each must list language_model in its --stageN_trainable."
        },
    )

    def stage_list(self) -> list[int | str]:
        """The stages to run, in order: `"ear"` and / or 1, 2, 3."""
        if (self.stage is None) == (self.stages is None):
            raise ValueError("Give exactly one of --stage N or --stages 1,2,3.")
        names = [str(self.stage)] if self.stage is not None else [s.strip() for s in self.stages.split(",")]
        names = [n for n in names if n]
        if not names or any(n != EAR_STAGE and n not in {str(s) for s in STAGE_DEFAULTS} for n in names):
            raise ValueError(f"Stages must be among ear, 1, 2, 3; got {names}.")
        if EAR_STAGE in names[1:]:
            raise ValueError("The ear stage comes first: the stages after it hear with the ear it trains.")
        return [n if n == EAR_STAGE else int(n) for n in names]

    def get(self, stage: int, name: str):
        return getattr(self, f"stage{stage}_{name}")

    def lora(self, stage: int) -> dict | None:
        """The LoRA settings of `stage` (`r`, `alpha`, `dropout`, `target_modules`), or None when it trains no LoRA."""
        if self.lora_r < 0:
            raise ValueError(f"--lora_r must be 0 (off) or a positive rank; got {self.lora_r}.")
        try:
            stages = [int(s) for s in self.lora_stages.split(",") if s.strip()]
        except ValueError:
            raise ValueError(f"--lora_stages must list stages, e.g. '3' or '2,3'; got {self.lora_stages!r}.") from None
        if any(s not in STAGE_DEFAULTS for s in stages):
            raise ValueError(f"--lora_stages must be among 1, 2, 3; got {stages}.")
        if self.lora_r == 0 or stage not in stages:
            return None
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"--lora_dropout must be in [0, 1); got {self.lora_dropout}.")
        alpha = 2 * self.lora_r if self.lora_alpha is None else self.lora_alpha
        if alpha <= 0:
            raise ValueError(f"--lora_alpha must be positive; got {alpha}.")
        targets = None
        if self.lora_target_modules is not None:
            targets = [t.strip() for t in self.lora_target_modules.split(",") if t.strip()]
            if not targets:
                raise ValueError("--lora_target_modules is empty: name the layers to adapt, e.g. 'q_proj,v_proj'.")
        return {"r": self.lora_r, "alpha": alpha, "dropout": self.lora_dropout, "target_modules": targets}


@dataclass
class ADiffTrainingArguments(TrainingArguments):
    """`TrainingArguments` with defaults from the nearest public recipe by ADIFF's author (Mellow: lr 1e-3, cosine
    schedule, weight decay 1e-4, gradient clipping 0.5). They are defaults to adjust, not the paper's values.
    `output_dir` holds one sub-directory per stage."""

    learning_rate: float = field(default=1e-3, metadata={"help": "Peak learning rate of stages 1-2."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Learning-rate schedule."})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay."})
    max_grad_norm: float = field(default=0.5, metadata={"help": "Gradient clipping norm."})
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Keep the path/prompt/answer columns: the collator reads them."}
    )
    logging_steps: float = field(default=10, metadata={"help": "Log the loss every N steps."})


__all__ = ["EAR_STAGE", "ADiffTrainingArguments", "DataArguments", "ModelArguments", "StageArguments"]
