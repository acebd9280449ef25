"""The three-stage recipe on top of `Trainer`: build or load the model, freeze per stage, train, save per stage."""

import dataclasses
import json
import logging
import os
from collections import Counter

from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    ClapAudioConfig,
    ClapAudioModel,
    ClapConfig,
    ClapModel,
    WhisperConfig,
    WhisperModel,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from ..configuration_adiff import ADiffConfig
from ..data import ADiffDataCollator, ClipEmbeddingCache, build_training_examples, load_difference_csv
from ..feature_extraction_adiff import ADiffFeatureExtractor
from ..modeling_adiff import ADiffForConditionalGeneration
from ..plotting import plot_loss_curve
from ..processing_adiff import ADiffProcessor
from ..prompts import load_prompt_pools
from .arguments import ADiffTrainingArguments, DataArguments, ModelArguments, StageArguments
from .stages import STAGE_DEFAULTS, parse_components, set_trainable_components
from .trainer import ADiffTrainer, GenerationSamplesCallback, JsonlLogCallback

logger = logging.getLogger(__name__)

SUMMARY_FILE = "stage_summary.json"


def build_model_from_backbones(model_args: ModelArguments) -> tuple[ADiffForConditionalGeneration, ADiffProcessor]:
    """A new ADIFF around pretrained backbones: new projection, mappers and cross-projection.

    The audio encoder is a CLAP/HTSAT audio model (the release's) or a Whisper model (its encoder is used); the text
    decoder is any causal LM transformers loads (GPT-2, Llama-family such as SmolLM2, ...).
    """
    if model_args.text_decoder is None:
        raise ValueError("Give --model_name_or_path (a saved ADIFF model) or --text_decoder (and --audio_encoder).")
    text_config = AutoConfig.from_pretrained(model_args.text_decoder)
    audio, whisper = None, False
    if model_args.audio_encoder is not None:
        audio_config = AutoConfig.from_pretrained(model_args.audio_encoder)
        if isinstance(audio_config, ClapConfig):
            audio = ClapModel.from_pretrained(model_args.audio_encoder).audio_model
        elif isinstance(audio_config, ClapAudioConfig):
            audio = ClapAudioModel.from_pretrained(model_args.audio_encoder)
        elif isinstance(audio_config, WhisperConfig):
            audio, whisper = WhisperModel.from_pretrained(model_args.audio_encoder).get_encoder(), True
        else:
            raise ValueError(
                f"--audio_encoder {model_args.audio_encoder} is a {audio_config.model_type!r} model; give a CLAP "
                "(HTSAT) audio model, a CLAP model or a Whisper model directory."
            )
    try:
        overrides = json.loads(model_args.config_overrides) if model_args.config_overrides else {}
    except json.JSONDecodeError as err:
        raise ValueError(f"--config_overrides is not valid JSON: {err}") from None
    tokenizer = AutoTokenizer.from_pretrained(model_args.tokenizer_name or model_args.text_decoder)
    if tokenizer.eos_token_id is None:
        raise ValueError(f"The tokenizer of {model_args.text_decoder} has no end token: ADIFF needs one.")
    gpt2 = text_config.model_type == "gpt2"
    # GPT-2 keeps the release's prompt padding ("!", id 0); other LMs pad prompts with their pad (or end) token
    pad_id = 0 if gpt2 else (tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
    config = ADiffConfig(
        audio_config=audio.config.to_dict() if audio is not None else overrides.pop("audio_config", None),
        text_config=text_config.to_dict(),
        separator_token_id=tokenizer.eos_token_id,
        prompt_pad_token_id=pad_id,
        **overrides,
    )
    model = ADiffForConditionalGeneration(config)
    if audio is not None:
        model.model.audio_tower.load_state_dict(audio.state_dict())
    else:
        logger.warning("No --audio_encoder: the audio tower starts from random weights.")
    language_model = AutoModelForCausalLM.from_pretrained(model_args.text_decoder)
    model.model.language_model.load_state_dict(language_model.base_model.state_dict())
    if not config.tie_word_embeddings or not getattr(text_config, "tie_word_embeddings", True):
        model.lm_head.load_state_dict(language_model.get_output_embeddings().state_dict())
    model.tie_weights()
    extractor = (
        ADiffFeatureExtractor.for_whisper(config.audio_config.num_mel_bins) if whisper else ADiffFeatureExtractor()
    )
    processor = ADiffProcessor(
        extractor,
        tokenizer,
        prompt_length=config.prompt_length,
        num_prefix_tokens=config.num_prefix_tokens,
        prompt_pad_token_id=config.prompt_pad_token_id,
        end_of_text=" <|endoftext|>" if gpt2 else tokenizer.eos_token,
    )
    return model, processor


def load_model(path: str) -> tuple[ADiffForConditionalGeneration, ADiffProcessor]:
    return ADiffForConditionalGeneration.from_pretrained(path), ADiffProcessor.from_pretrained(path)


def stage_dir(output_dir: str, stage: int) -> str:
    return os.path.join(output_dir, f"stage{stage}")


def is_complete(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, SUMMARY_FILE))


def _stage_training_args(training_args: ADiffTrainingArguments, stage_args: StageArguments, stage: int):
    lr = stage_args.get(stage, "learning_rate")
    epochs = stage_args.get(stage, "epochs")
    return dataclasses.replace(
        training_args,
        output_dir=stage_dir(training_args.output_dir, stage),
        learning_rate=lr if lr is not None else training_args.learning_rate * STAGE_DEFAULTS[stage]["lr_scale"],
        num_train_epochs=epochs if epochs is not None else training_args.num_train_epochs,
        run_name=f"{training_args.run_name or 'adiff'}-stage{stage}",
    )


def run_stage(
    stage: int,
    model: ADiffForConditionalGeneration,
    processor: ADiffProcessor,
    data_args: DataArguments,
    stage_args: StageArguments,
    training_args: ADiffTrainingArguments,
    resume_from_checkpoint: str | bool | None = None,
    callbacks: list | None = None,
) -> str:
    """Train one stage and save a complete model + processor directory, log, loss curve and summary. Returns it."""
    args = _stage_training_args(training_args, stage_args, stage)
    os.makedirs(args.output_dir, exist_ok=True)
    freezing = set_trainable_components(
        model, parse_components(stage_args.get(stage, "trainable"), f"--stage{stage}_trainable")
    )
    tiers = [t.strip() for t in stage_args.get(stage, "tiers").split(",") if t.strip()]
    pools = load_prompt_pools(data_args.prompts_file)
    train_rows, report = load_difference_csv(
        data_args.train_csv, data_args.audio_root, data_args.missing_audio, data_args.max_train_samples, True
    )
    train_set = build_training_examples(
        train_rows,
        pools,
        tiers=tiers,
        caption_ratio=stage_args.get(stage, "caption_ratio"),
        paraphrase=data_args.paraphrase_prompts,
        seed=args.seed + stage,
    )
    eval_set = None
    if data_args.validation_csv:
        eval_rows = load_difference_csv(
            data_args.validation_csv, data_args.audio_root, data_args.missing_audio, data_args.max_eval_samples
        )
        eval_set = build_training_examples(eval_rows, pools, paraphrase=False)
    cache = None
    if data_args.cache_audio_embeddings:
        if "audio_tower" in freezing["trainable_components"]:
            raise ValueError(
                f"--cache_audio_embeddings needs a frozen audio tower, but stage {stage} trains audio_tower."
            )
        files = list(train_set["filepath1"]) + list(train_set["filepath2"])
        if eval_set is not None:
            files += list(eval_set["filepath1"]) + list(eval_set["filepath2"])
        cache = _clip_embeddings(model, processor, files, training_args)
    collator = ADiffDataCollator(processor, data_args.max_answer_length, crop=data_args.crop, embedding_cache=cache)

    callbacks = list(callbacks or []) + [JsonlLogCallback(os.path.join(args.output_dir, "training_log.jsonl"))]
    sharded = bool(args.fsdp) or args.deepspeed is not None
    if sharded and data_args.num_generation_samples > 0:
        logger.warning("Sample generations are off under FSDP/DeepSpeed: the weights are sharded across processes.")
    if eval_set is not None and data_args.num_generation_samples > 0 and not sharded:
        samples = [eval_set[i] for i in range(min(data_args.num_generation_samples, len(eval_set)))]
        callbacks.append(
            GenerationSamplesCallback(
                samples,
                ADiffDataCollator(processor, crop="start", with_answers=False, embedding_cache=cache),
                os.path.join(args.output_dir, "generations.jsonl"),
                max_new_tokens=data_args.generation_max_new_tokens,
            )
        )
    trainer = ADiffTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=collator,
        processing_class=processor,
        callbacks=callbacks,
    )
    logger.info(
        "Stage %d: %d examples (%d rows skipped for missing audio), training %s (%d parameters), lr %g",
        stage,
        len(train_set),
        report.skipped,
        ",".join(freezing["trainable_components"]),
        freezing["trainable_parameters"],
        args.learning_rate,
    )
    result = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    trainer.save_model(args.output_dir)  # model, config, generation config and processor
    trainer.save_state()
    eval_metrics = trainer.evaluate() if eval_set is not None else None  # every process takes part
    if trainer.is_world_process_zero():
        losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
        summary = {
            "stage": stage,
            "learning_rate": args.learning_rate,
            "num_train_epochs": args.num_train_epochs,
            "global_step": trainer.state.global_step,
            "world_size": args.world_size,
            "train_batch_size_total": args.train_batch_size * args.gradient_accumulation_steps * args.world_size,
            "train_examples": len(train_set),
            "tasks": dict(sorted(Counter(train_set["task"]).items())),
            "rows_skipped_missing_audio": report.skipped,
            "first_logged_loss": losses[0] if losses else None,
            "last_logged_loss": losses[-1] if losses else None,
            "train_metrics": result.metrics,
            "eval_metrics": eval_metrics,
            **freezing,
        }
        if losses:
            plot_loss_curve(
                trainer.state.log_history, os.path.join(args.output_dir, "loss_curve.png"), f"stage {stage}"
            )
        with open(os.path.join(args.output_dir, SUMMARY_FILE), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
    trainer.accelerator.wait_for_everyone()
    return args.output_dir


def _clip_embeddings(model, processor, files: list[str], training_args) -> ClipEmbeddingCache:
    """The run's clip-embedding cache, extended to `files` (computed on the main process, read by the others)."""
    path = os.path.join(training_args.output_dir, "clip_embeddings.safetensors")
    fingerprint = ClipEmbeddingCache.fingerprint(model)
    with training_args.main_process_first(desc="clip embeddings"):
        cache = ClipEmbeddingCache.load(path) if os.path.isfile(path) else ClipEmbeddingCache({}, fingerprint)
        if cache.tower != fingerprint:
            logger.info("The cached clip embeddings come from another audio tower: computing them again.")
            cache = ClipEmbeddingCache({}, fingerprint)
        missing = [f for f in dict.fromkeys(files) if f not in cache]
        if missing:
            cache.update(ClipEmbeddingCache.compute(model, processor, missing))
            if training_args.process_index == 0:
                os.makedirs(training_args.output_dir, exist_ok=True)
                cache.save(path)
    return cache


def run_stages(
    model_args: ModelArguments,
    data_args: DataArguments,
    stage_args: StageArguments,
    training_args: ADiffTrainingArguments,
    callbacks: list | None = None,
) -> list[str]:
    """Run the requested stages in order, each starting from the previous stage's saved model.

    With `--resume_from_checkpoint`, stages already completed are skipped and the interrupted one resumes from its
    last checkpoint (or from the checkpoint path given). Returns the stage directories.
    """
    if not data_args.train_csv:
        raise ValueError("--train_csv is required: one or more difference CSVs.")
    stages = stage_args.stage_list()
    resume = training_args.resume_from_checkpoint
    outputs = []
    source = model_args.model_name_or_path
    for stage in stages:
        directory = stage_dir(training_args.output_dir, stage)
        if resume and is_complete(directory):
            logger.info("Stage %d is complete in %s; skipping it.", stage, directory)
            outputs.append(directory)
            source = directory
            continue
        set_seed(training_args.seed)
        if source is not None:
            model, processor = load_model(source)
        else:
            model, processor = build_model_from_backbones(model_args)
        checkpoint = None
        if resume:
            checkpoint = resume if resume.lower() not in ("true", "last") else get_last_checkpoint(directory)
            resume = "last"  # an explicit path applies to the first stage that still has work
        outputs.append(run_stage(stage, model, processor, data_args, stage_args, training_args, checkpoint, callbacks))
        source = directory
    return outputs


__all__ = ["build_model_from_backbones", "run_stage", "run_stages", "stage_dir"]
