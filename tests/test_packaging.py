"""What a user gets from the package itself: a wheel (not the editable checkout) carries the model card template,
the metric module and the default model's head, and `import adiff_hf` loads no optional dependency."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

from conftest import REPO

SHIPPED = (
    "adiff_hf/serving/model_card/template.md",
    "adiff_hf/evaluation/metrics/caption_metrics/caption_metrics.py",
    "adiff_hf/heads/adiff-mini/adiff_head.safetensors",
    "adiff_hf/heads/adiff-mini/adiff_head.json",
    "adiff_hf/heads/adiff-mini/lora_adapter/adapter_model.safetensors",
    "adiff_hf/heads/adiff-mini/lora_adapter/adapter_config.json",
    "adiff_hf/heads/adiff-mini/MODEL_CARD.md",
)

# what only training, evaluation, serving or the importers need; the core must not load them
OPTIONAL = (
    "datasets",
    "evaluate",
    "gradio",
    "matplotlib",
    "accelerate",
    "pycocoevalcap",
    "gguf",
    "playwright",
    "peft",
    "librosa",
    "pyloudnorm",
    "silero_vad",
    "adiff_hf.evidence",
    "adiff_hf.training",
    "adiff_hf.evaluation",
    "adiff_hf.data",
    "adiff_hf.backbones",
    "adiff_hf.serving",
)


def test_no_symlink_in_the_repository():
    tracked = subprocess.run(["git", "ls-files", "-s"], cwd=REPO, capture_output=True, text=True, check=True)
    links = [line.split("\t")[1] for line in tracked.stdout.splitlines() if line.startswith("120000")]
    assert links == []


def test_a_wheel_ships_the_card_template_metric_and_head_and_its_card_command_works(tiny_adiff_dir, tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = tmp_path.glob("adiff_hf-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert all(name in names for name in SHIPPED), sorted(set(SHIPPED) - names)
    assert not any(name.startswith("model_card/") for name in names)

    target = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target, wheel],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_adiff_dir, model_dir)
    env = {**os.environ, "PYTHONPATH": str(target), "HF_HUB_OFFLINE": "1"}
    card = subprocess.run(
        [sys.executable, "-m", "adiff_hf", "card", model_dir, "--repo_id", "someone/adiff-tiny"],
        capture_output=True,
        text=True,
        timeout=3600,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert card.returncode == 0, card.stderr[-3000:]
    readme = (model_dir / "README.md").read_text()
    assert 'pipeline("audio-difference", model="someone/adiff-tiny"' in readme
    where = subprocess.run(
        [sys.executable, "-c", "import adiff_hf; print(adiff_hf.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    assert where.stdout.strip().startswith(str(target))  # the wheel's copy answered, not the checkout


def test_importing_the_package_loads_no_optional_dependency():
    script = (
        "import json, sys\n"
        "import transformers\n"
        "from transformers import AutoModel, Pipeline, PreTrainedModel, ProcessorMixin\n"
        "before = set(sys.modules)\n"
        "import adiff_hf\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=3600, check=True)
    added = json.loads(result.stdout.strip().splitlines()[-1])
    assert "adiff_hf.modeling_adiff" in added  # the measurement sees what the package loads
    assert [name for name in added if any(name == o or name.startswith(o + ".") for o in OPTIONAL)] == []
