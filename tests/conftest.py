import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"
TOKENIZER_DIR = SHARED / "tokenizers" / "gpt2"
# Every variant of the original-code fixture that is present (tiny here; CI may hold more sizes).
VARIANTS = sorted(p.parent for p in FIXTURES.glob("original_adiff_*/reference_outputs.json"))

if not VARIANTS:
    raise RuntimeError(f"No original ADIFF fixtures under {FIXTURES}: tests need ../shared beside the repository.")


class Variant:
    """One fixture directory: the original checkpoint, its waveforms and what the original code produced."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.checkpoint = next(directory.glob("*.pth"))
        text_config = directory / "gpt2_config" / "config.json"
        self.text_config = text_config if text_config.exists() else None
        self.reference = json.loads((directory / "reference_outputs.json").read_text())
        self.waveforms = np.load(directory / "waveforms_32k.npy")

    def pair(self, index: int):
        a, b = self.reference["pairs"][index]
        return self.waveforms[a], self.waveforms[b]


@pytest.fixture(scope="session", params=VARIANTS, ids=lambda p: p.name)
def variant(request) -> Variant:
    return Variant(request.param)


@pytest.fixture(scope="session")
def converted_dir(variant, tmp_path_factory) -> Path:
    from adiff_hf.conversion import convert_checkpoint

    out = tmp_path_factory.mktemp(f"converted_{variant.dir.name}")
    convert_checkpoint(
        variant.checkpoint, out, text_config=variant.text_config, tokenizer=TOKENIZER_DIR, log=lambda *a: None
    )
    return out


@pytest.fixture(scope="session")
def model_and_processor(converted_dir):
    import transformers

    import adiff_hf  # noqa: F401  (registers the Auto classes)

    model = transformers.AutoModelForMultimodalLM.from_pretrained(converted_dir).eval()
    processor = transformers.AutoProcessor.from_pretrained(converted_dir)
    return model, processor


@pytest.fixture(scope="session")
def processor():
    from transformers import AutoTokenizer

    from adiff_hf import ADiffFeatureExtractor, ADiffProcessor

    return ADiffProcessor(ADiffFeatureExtractor(), AutoTokenizer.from_pretrained(TOKENIZER_DIR))


def tone(frequency: float, seconds: float, rate: int = 32000, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def noise(seconds: float, rate: int = 32000, seed: int = 0, amplitude: float = 0.3) -> np.ndarray:
    return (amplitude * np.random.default_rng(seed).standard_normal(int(seconds * rate))).astype(np.float32)


def run_cli(*args):
    """`adiff-hf ARGS` in this process (no interpreter start per call): a `CompletedProcess` with the exit status,
    stdout and stderr."""
    import contextlib
    import io
    import subprocess

    from adiff_hf.serving.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as stop:
            code = stop.code
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


EVIDENCE_RATE = 32_000


def melody(
    rate: int = EVIDENCE_RATE, f0: float = 220.0, note_seconds: float = 0.25, notes: int = 12, harmonics: int = 12
):
    """Plucked notes (a harmonic tone with a fast attack and decay), one every `note_seconds`: onsets, a pitch and
    a spectrum up to several kHz."""
    steps = [0, 4, 7, 12, 7, 4, 0, 5, 9, 12, 9, 5]
    out = []
    for i in range(notes):
        t = np.arange(int(note_seconds * rate)) / rate
        frequency = f0 * 2 ** (steps[i % len(steps)] / 12)
        tone = sum(
            np.sin(2 * np.pi * k * frequency * t) / k for k in range(1, harmonics + 1) if k * frequency < rate / 2
        )
        out.append(tone * np.exp(-t * 6))
    wave = np.concatenate(out)
    return (0.4 * wave / np.abs(wave).max()).astype(np.float32)


def gapped(wave, start=1.0, seconds=0.4, rate: int = EVIDENCE_RATE):
    """`wave` with `seconds` of digital silence cut in at `start`."""
    out = wave.copy()
    out[int(start * rate) : int((start + seconds) * rate)] = 0
    return out


def make_tiny_adiff(directory, seed: int = 0, **overrides):
    """Save a tiny trainable ADIFF (random weights) with the GPT-2 tokenizer; returns the directory.

    Two choices make it behave like a model with pretrained backbones: HTSAT's input BatchNorm holds the statistics
    of log-mel input (a random one, centred on 0 with unit variance, maps every clip to nearly the same embedding),
    and the language model's weights are drawn wider than GPT-2's initialiser, so a prefix can move its outputs.
    """
    import torch
    from transformers import AutoTokenizer

    from adiff_hf import ADiffFeatureExtractor, ADiffForConditionalGeneration, ADiffProcessor
    from adiff_hf.testing_utils import tiny_adiff_config

    torch.manual_seed(seed)
    config = tiny_adiff_config(text_config={"initializer_range": 0.3}, **({"projection_dropout": 0.0} | overrides))
    model = ADiffForConditionalGeneration(config)
    batch_norm = model.model.audio_tower.audio_encoder.batch_norm
    batch_norm.running_mean.fill_(-60.0)
    batch_norm.running_var.fill_(30.0**2)
    processor = ADiffProcessor(
        ADiffFeatureExtractor(),
        AutoTokenizer.from_pretrained(TOKENIZER_DIR),
        num_prefix_tokens=config.num_prefix_tokens,
    )
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return Path(directory)


@pytest.fixture(scope="session")
def tiny_adiff_dir(tmp_path_factory) -> Path:
    """A saved tiny ADIFF (random weights) for serving tests: pipeline, CLI, Hub layout, demo."""
    return make_tiny_adiff(tmp_path_factory.mktemp("tiny_adiff"))


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Short WAV files of different sounds (16 kHz, 1 s)."""
    import soundfile as sf

    directory = tmp_path_factory.mktemp("clips")
    sounds = {"tone": tone(440, 1, 16000), "high": tone(3000, 1, 16000), "noise": noise(1, 16000)}
    paths = {}
    for name, wave in sounds.items():
        paths[name] = directory / f"{name}.wav"
        sf.write(paths[name], wave, 16000)
    return paths
