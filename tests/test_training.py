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

SCRIPT = REPO / "scripts" / "train_adiff.py"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "2"}
COMMON = ["--use_cpu", "--logging_steps", "1", "--disable_tqdm", "true", "--paraphrase_prompts", "false"]


def _run(args, cwd=REPO, timeout=600):
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
        [sys.executable, SCRIPT, "--model_name_or_path", tiny_model, "--train_csv", toy["train"]]
        + ["--validation_csv", toy["validation"], "--stages", "1,2,3", "--output_dir", out]
        + ["--per_device_train_batch_size", "6", "--learning_rate", "1e-2", "--save_strategy", "no"]
        + ["--stage1_epochs", "8", "--stage2_epochs", "3", "--stage3_epochs", "160"]
        + ["--stage3_learning_rate", "1e-2", "--stage3_tiers", "few_words", "--stage3_caption_ratio", "0"]
        + ["--eval_strategy", "epoch", "--num_generation_samples", "2", "--generation_max_new_tokens", "12"]
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
    _run([sys.executable, SCRIPT, *args, "--output_dir", tmp_path / "straight"])

    killed = subprocess.run(
        [sys.executable, "-c", KILLER, *map(str, args), "--output_dir", tmp_path / "killed"],
        check=False,
        cwd=REPO,
        env=ENV | {"KILL_AT_STEP": "6"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -9, killed.stderr[-3000:]
    stage = tmp_path / "killed" / "stage3"
    assert (stage / "checkpoint-4").is_dir() and not (stage / "stage_summary.json").exists()
    _run([sys.executable, SCRIPT, *args, "--output_dir", tmp_path / "killed", "--resume_from_checkpoint", "last"])

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
        + [SCRIPT, "--model_name_or_path", tiny_model, "--train_csv", toy["train"], "--stage", "1"]
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
        [sys.executable, SCRIPT, "--model_name_or_path", tiny_model, "--train_csv", toy["train"], "--stages", "1,2,3"]
        + ["--output_dir", three_stages, "--resume_from_checkpoint", "last", *COMMON]
    )
    assert all(f"Stage {s} is complete" in result.stderr for s in (1, 2, 3))
    assert before == {s: (three_stages / f"stage{s}" / "model.safetensors").stat().st_mtime_ns for s in (1, 2, 3)}


def _main(argv):
    from adiff_hf.serving.cli import train_main

    return train_main([str(a) for a in argv])


def test_argument_errors_are_clear(toy, tiny_model, tmp_path):
    base = ["--model_name_or_path", tiny_model, "--output_dir", tmp_path, "--use_cpu"]
    with pytest.raises(ValueError, match="--train_csv is required"):
        _main([*base, "--stage", "1"])
    with pytest.raises(ValueError, match="exactly one of --stage N or --stages"):
        _main([*base, "--train_csv", toy["train"], "--stage", "1", "--stages", "1,2"])
    with pytest.raises(ValueError, match=r"Stages must be among 1, 2, 3; got \[1, 4\]"):
        _main([*base, "--train_csv", toy["train"], "--stages", "1,4"])
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
