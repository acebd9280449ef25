"""The three-stage recipe on top of `Trainer`: build or load the model, freeze per stage, train, save per stage."""

import dataclasses
import json
import logging
import os
from collections import Counter

from transformers import (
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from ..backbones import build_model_from_backbones
from ..backbones.assembly import LORA_ADAPTER_DIR
from ..data import ADiffDataCollator, ClipEmbeddingCache, build_training_examples, load_difference_csv
from ..data.pair_stream import load_sources
from ..modeling_adiff import ADiffForConditionalGeneration
from ..processing_adiff import ADiffProcessor
from ..prompts import load_prompt_pools
from .arguments import EAR_STAGE, ADiffTrainingArguments, DataArguments, ModelArguments, StageArguments
from .ear import run_ear_stage
from .lora import apply_lora
from .loss_curve import plot_loss_curve
from .stages import STAGE_DEFAULTS, parse_components, set_trainable_components
from .trainer import ADiffTrainer, GenerationSamplesCallback, JsonlLogCallback, stream_start

logger = logging.getLogger(__name__)

SUMMARY_FILE = "stage_summary.json"


def load_model(path: str) -> tuple[ADiffForConditionalGeneration, ADiffProcessor]:
    return ADiffForConditionalGeneration.from_pretrained(path), ADiffProcessor.from_pretrained(path)


def stage_dir(output_dir: str, stage: int) -> str:
    return os.path.join(output_dir, f"stage{stage}")


def is_complete(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, SUMMARY_FILE))


def _stage_training_args(training_args: ADiffTrainingArguments, stage_args: StageArguments, stage: int):
    lr = stage_args.get(stage, "learning_rate")
    epochs = stage_args.get(stage, "epochs")
    steps = stage_args.get(stage, "max_steps")
    return dataclasses.replace(
        training_args,
        output_dir=stage_dir(training_args.output_dir, stage),
        learning_rate=lr if lr is not None else training_args.learning_rate * STAGE_DEFAULTS[stage]["lr_scale"],
        num_train_epochs=epochs if epochs is not None else training_args.num_train_epochs,
        max_steps=steps if steps is not None else training_args.max_steps,
        run_name=f"{training_args.run_name or 'adiff'}-stage{stage}",
    )


def _streamed_examples(data_args: DataArguments, tiers: list[str], caption_ratio: float, pools, start: int, batch: int):
    """Training examples drawn without end from `--sources`, and fixed validation examples (every task)."""
    from ..data.pair_stream import DifferencePairStream, SpeakingExamples, load_sources
    from ..prompts import CAPTION_TASKS

    sources = load_sources(data_args.sources)
    share = caption_ratio / (1 + caption_ratio)  # captions per difference example -> their share of all examples
    tasks = {tier: (1 - share) / len(tiers) for tier in tiers} | {task: share / 3 for task in CAPTION_TASKS}
    seed = data_args.stream_seed
    block = batch if data_args.stream_task_batches else 1
    train = SpeakingExamples(DifferencePairStream(sources, "train", seed=seed, start=start), tasks, pools, block)
    every = {task: 1.0 for task in (*tiers, *CAPTION_TASKS)}
    try:
        held = DifferencePairStream(sources, "validation", seed, num_pairs=data_args.stream_eval_pairs)
    except ValueError as err:
        logger.warning("No evaluation: %s", err)
        return train, None
    return train, list(SpeakingExamples(held, every))


@dataclasses.dataclass
class _StageData:
    """What a stage trains and evaluates on, and what its summary says of it."""

    train_set: object  # a datasets.Dataset, or SpeakingExamples drawn without end
    eval_set: object | None
    tasks: dict[str, float]  # task -> examples (CSV) or share of examples (stream)
    skipped: int = 0  # CSV rows left out for missing audio
    cache: ClipEmbeddingCache | None = None
    streamed: bool = False


def _stage_components(stage: int, stage_args: StageArguments, sharded: bool):
    """The components Trainer trains directly in `stage`, and the stage's LoRA settings (None without LoRA).

    A LoRA stage must name the language model among its trainable components; the language model then trains
    through the adapters, so it leaves the components that are unfrozen whole.
    """
    components = parse_components(stage_args.get(stage, "trainable"), f"--stage{stage}_trainable")
    lora = stage_args.lora(stage)
    if lora is not None:
        if "language_model" not in components:
            raise ValueError(
                f"--lora_stages includes stage {stage}, but --stage{stage}_trainable does not train language_model: "
                f"add it there, or leave stage {stage} out of --lora_stages."
            )
        if sharded:  # merging the adapter after training needs whole weights in one process
            raise ValueError(f"--lora_r: stage {stage} trains LoRA, which this recipe runs without FSDP/DeepSpeed.")
        components = tuple(c for c in components if c != "language_model")
    return components, lora


def _streamed_stage_data(
    stage: int, data_args: DataArguments, stage_args: StageArguments, args, tiers, pools, resume_from_checkpoint
) -> _StageData:
    """Examples drawn without end from `--sources`, going on from where a resumed run's checkpoint stopped."""
    if not args.max_steps or args.max_steps <= 0:
        raise ValueError(f"--sources draws pairs without end: give --max_steps or --stage{stage}_max_steps.")
    checkpoint = resume_from_checkpoint if isinstance(resume_from_checkpoint, str) else None
    if resume_from_checkpoint is True:
        checkpoint = get_last_checkpoint(args.output_dir)
    caption_ratio = stage_args.get(stage, "caption_ratio")
    start = stream_start(args, checkpoint)
    batch = args.per_device_train_batch_size
    train_set, eval_set = _streamed_examples(data_args, tiers, caption_ratio, pools, start, batch)
    tasks = {task: round(share, 3) for task, share in zip(train_set.tasks, train_set.weights, strict=True)}
    return _StageData(train_set, eval_set, tasks, streamed=True)


def _csv_stage_data(
    stage: int,
    model,
    processor,
    data_args: DataArguments,
    stage_args: StageArguments,
    args,
    training_args: ADiffTrainingArguments,
    tiers,
    pools,
    freezing: dict,
) -> _StageData:
    """Examples from the difference CSVs, with the clips' embeddings cached when `--cache_audio_embeddings` asks."""
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
    tasks = dict(sorted(Counter(train_set["task"]).items()))
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
        # the cache is the run's (training_args' output folder), shared by its stages
        cache = _clip_embeddings(model, processor, files, training_args)
    return _StageData(train_set, eval_set, tasks, report.skipped, cache)


def _stage_callbacks(
    callbacks: list | None, processor, data_args: DataArguments, args, data: _StageData, sharded: bool
) -> list:
    """The caller's callbacks plus the stage's log file and, with an evaluation set, its sample generations."""
    callbacks = list(callbacks or []) + [JsonlLogCallback(os.path.join(args.output_dir, "training_log.jsonl"))]
    if sharded and data_args.num_generation_samples > 0:
        logger.warning("Sample generations are off under FSDP/DeepSpeed: the weights are sharded across processes.")
    if data.eval_set is not None and data_args.num_generation_samples > 0 and not sharded:
        samples = [data.eval_set[i] for i in range(min(data_args.num_generation_samples, len(data.eval_set)))]
        callbacks.append(
            GenerationSamplesCallback(
                samples,
                ADiffDataCollator(processor, crop="start", with_answers=False, embedding_cache=data.cache),
                os.path.join(args.output_dir, "generations.jsonl"),
                max_new_tokens=data_args.generation_max_new_tokens,
            )
        )
    return callbacks


def _log_stage_start(stage: int, data: _StageData, freezing: dict, args, lora_summary: dict | None) -> None:
    """Say what the stage trains, on how many examples, and through which adapters."""
    logger.info(
        "Stage %d: %s examples (%d rows skipped for missing audio), training %s (%d parameters), lr %g",
        stage,
        "endless" if data.streamed else len(data.train_set),
        data.skipped,
        ",".join(freezing["trainable_components"]),
        freezing["trainable_parameters"],
        args.learning_rate,
    )
    if lora_summary is not None:
        logger.info(
            "Stage %d: the language model trains through LoRA (r %d, alpha %g) on %d layers: %d adapter parameters",
            stage,
            lora_summary["r"],
            lora_summary["alpha"],
            lora_summary["adapted_modules"],
            lora_summary["adapter_parameters"],
        )


def _save_stage(trainer: ADiffTrainer, output_dir: str, lora_summary: dict | None) -> None:
    """Save the trained model, processor and trainer state; after LoRA, the adapter and the merged model."""
    if lora_summary is not None:
        # the adapter alone (it applies to this stage's starting model), then the merged model as a plain ADIFF
        if trainer.is_world_process_zero():
            trainer.model.save_pretrained(os.path.join(output_dir, LORA_ADAPTER_DIR))
        trainer.model = trainer.model.merge_and_unload()
    trainer.save_model(output_dir)  # model, config, generation config and processor
    trainer.save_state()


def _write_stage_summary(
    trainer: ADiffTrainer,
    stage: int,
    args,
    data_args: DataArguments,
    data: _StageData,
    train_metrics: dict,
    eval_metrics: dict | None,
    freezing: dict,
    lora_summary: dict | None,
) -> None:
    """Write the stage's summary (which marks it complete) and its loss curve; the main process alone calls this."""
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    examples_per_step = args.train_batch_size * args.gradient_accumulation_steps * args.world_size
    summary = {
        "stage": stage,
        "learning_rate": args.learning_rate,
        "num_train_epochs": args.num_train_epochs,
        "global_step": trainer.state.global_step,
        "world_size": args.world_size,
        "train_batch_size_total": examples_per_step,
        # a stream has no length: the examples it gave are those of the steps taken
        "train_examples": trainer.state.global_step * examples_per_step if data.streamed else len(data.train_set),
        "tasks": data.tasks,
        "data": {"sources": data_args.sources, "stream_seed": data_args.stream_seed} if data.streamed else None,
        "rows_skipped_missing_audio": data.skipped,
        "first_logged_loss": losses[0] if losses else None,
        "last_logged_loss": losses[-1] if losses else None,
        "train_metrics": train_metrics,
        "eval_metrics": eval_metrics,
        **freezing,
        "lora": lora_summary,
    }
    if losses:
        plot_loss_curve(trainer.state.log_history, os.path.join(args.output_dir, "loss_curve.png"), f"stage {stage}")
    with open(os.path.join(args.output_dir, SUMMARY_FILE), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)


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
    """Train one stage and save a complete model + processor directory, log, loss curve and summary. Returns it.

    In a LoRA stage (`--lora_r` > 0, the stage in `--lora_stages`) the language model trains through LoRA adapters;
    the directory then holds the merged model, and `lora_adapter/` the adapter for the stage's starting model.
    """
    args = _stage_training_args(training_args, stage_args, stage)
    os.makedirs(args.output_dir, exist_ok=True)
    sharded = bool(args.fsdp) or args.deepspeed is not None
    components, lora = _stage_components(stage, stage_args, sharded)
    freezing = set_trainable_components(model, components)
    tiers = [t.strip() for t in stage_args.get(stage, "tiers").split(",") if t.strip()]
    pools = load_prompt_pools(data_args.prompts_file)
    if data_args.sources:
        data = _streamed_stage_data(stage, data_args, stage_args, args, tiers, pools, resume_from_checkpoint)
        args = dataclasses.replace(args, ignore_data_skip=True)  # the stream itself starts where the run stopped
    else:
        data = _csv_stage_data(
            stage, model, processor, data_args, stage_args, args, training_args, tiers, pools, freezing
        )
    collator = ADiffDataCollator(
        processor, data_args.max_answer_length, crop=data_args.crop, embedding_cache=data.cache
    )
    callbacks = _stage_callbacks(callbacks, processor, data_args, args, data, sharded)
    lora_summary = None
    if lora is not None:
        model, lora_summary = apply_lora(model, lora, components)
    trainer = ADiffTrainer(
        model=model,
        args=args,
        train_dataset=data.train_set,
        eval_dataset=data.eval_set,
        data_collator=collator,
        processing_class=processor,
        callbacks=callbacks,
    )
    _log_stage_start(stage, data, freezing, args, lora_summary)
    result = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    _save_stage(trainer, args.output_dir, lora_summary)
    eval_metrics = trainer.evaluate() if data.eval_set is not None else None  # every process takes part
    if trainer.is_world_process_zero():
        _write_stage_summary(
            trainer, stage, args, data_args, data, result.metrics, eval_metrics, freezing, lora_summary
        )
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


def _ear_training_args(training_args: ADiffTrainingArguments, stage_args: StageArguments):
    steps, lr = stage_args.ear_max_steps, stage_args.ear_learning_rate
    return dataclasses.replace(
        training_args,
        max_steps=steps if steps is not None else training_args.max_steps,
        learning_rate=lr if lr is not None else training_args.learning_rate,
        run_name=f"{training_args.run_name or 'adiff'}-ear",
    )


def run_stages(
    model_args: ModelArguments,
    data_args: DataArguments,
    stage_args: StageArguments,
    training_args: ADiffTrainingArguments,
    callbacks: list | None = None,
) -> list[str]:
    """Run the requested stages in order, each starting from the previous stage's saved model (after the ear stage,
    from fresh backbones around the ear it trained).

    With `--resume_from_checkpoint`, stages already completed are skipped and the interrupted one resumes from its
    last checkpoint (or from the checkpoint path given). Returns the stage directories.
    """
    stages = stage_args.stage_list()
    if not data_args.train_csv and not data_args.sources:
        raise ValueError("--train_csv (difference CSVs) or --sources (clips to draw pairs from) is required.")
    resume = training_args.resume_from_checkpoint
    outputs = []
    source = model_args.model_name_or_path
    audio_encoder = model_args.audio_encoder
    for stage in stages:
        if stage == EAR_STAGE:
            if not data_args.sources:
                raise ValueError("The ear stage draws its pairs from --sources (labelled clips, JSON).")
            directory = run_ear_stage(
                load_sources(data_args.sources),
                _ear_training_args(training_args, stage_args),
                model_name_or_path=source,
                config_overrides=json.loads(stage_args.ear_config) if stage_args.ear_config else None,
                seed=data_args.stream_seed,
                eval_pairs=data_args.stream_eval_pairs,
            )
            outputs.append(directory)
            source, audio_encoder = None, directory  # the next stage is built around the ear
            continue
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
            model, processor = build_model_from_backbones(
                audio_encoder,
                model_args.text_decoder,
                model_args.tokenizer_name,
                model_args.config_overrides,
            )
        checkpoint = None
        if resume:
            checkpoint = resume if resume.lower() not in ("true", "last") else get_last_checkpoint(directory)
            resume = "last"  # an explicit path applies to the first stage that still has work
        outputs.append(run_stage(stage, model, processor, data_args, stage_args, training_args, checkpoint, callbacks))
        source = directory
    return outputs


__all__ = ["run_stage", "run_stages", "stage_dir"]
