"""The `adiff-hf` console script: explain (text, JSON, plot), card, and its help."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from huggingface_hub import ModelCard
from PIL import Image

from adiff_hf.prompts import TASK_PROMPTS
from conftest import run_cli


def _cli(*args, cwd=None):
    executable = Path(sys.executable).with_name("adiff-hf")
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "adiff_hf"]
    return subprocess.run(
        [*command, *map(str, args)], check=False, capture_output=True, text=True, timeout=3600, cwd=cwd
    )


def test_console_script_is_installed_and_lists_commands():
    assert shutil.which("adiff-hf") or Path(sys.executable).with_name("adiff-hf").exists()
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("explain", "convert", "train", "evaluate", "card"):
        assert command in result.stdout
    assert _cli("nonsense").returncode == 2


def test_explain_prints_json_and_draws_both_spectrograms(tiny_adiff_dir, clips, tmp_path):
    import adiff_hf

    plot = tmp_path / "difference.png"
    args = ["explain", clips["tone"], clips["noise"], "--model", tiny_adiff_dir, "--tier", "sentence"]
    result = _cli(*args, "--max-new-tokens", "6", "--json", "--plot", plot)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["prompt"] == TASK_PROMPTS["sentence"] and record["plot"] == str(plot)
    model = adiff_hf.ADiffForConditionalGeneration.from_pretrained(tiny_adiff_dir)
    processor = adiff_hf.ADiffProcessor.from_pretrained(tiny_adiff_dir)
    inputs = processor(text=TASK_PROMPTS["sentence"], audio=(str(clips["tone"]), str(clips["noise"])))
    assert record["explanation"] == processor.batch_decode(model.generate(**inputs, max_new_tokens=6))[0]

    assert Image.open(plot).text["Description"] == record["explanation"]  # the caption is the explanation
    image = matplotlib.image.imread(plot)[..., :3]
    assert image.shape[:2] == (800, 900)
    # three stacked panels: audio 1, audio 2 (tone vs noise: they must look different) and the difference
    bands = [image[int(h * 800) : int(h * 800) + 120, 100:700] for h in (0.08, 0.38, 0.67)]
    assert all(band.std() > 0.05 for band in bands)
    assert np.abs(bands[0] - bands[1]).mean() > 0.05

    plain = _cli("explain", clips["tone"], clips["noise"], "--model", tiny_adiff_dir, "--max-new-tokens", "3")
    assert plain.returncode == 0 and plain.stdout.strip()


def test_explain_errors_name_the_problem(tiny_adiff_dir, clips, tmp_path):
    missing = _cli("explain", tmp_path / "nope.wav", clips["tone"], "--model", tiny_adiff_dir)
    assert missing.returncode != 0 and "nope.wav" in missing.stderr and "Traceback" not in missing.stderr
    both = run_cli("explain", clips["tone"], clips["tone"], "--tier", "sentence", "--prompt", "which is louder?")
    assert both.returncode == 1 and both.stderr.strip() == (
        "adiff-hf explain: error: Give either `prompt` or `tier`, not both."
    )


def test_card_command_writes_a_hub_readme(tiny_adiff_dir, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_adiff_dir, model_dir)
    result = _cli("card", model_dir, "--repo_id", "someone/adiff-tiny", "--dataset", "someone/acd")
    assert result.returncode == 0, result.stderr[-3000:]
    card = ModelCard.load(model_dir / "README.md")
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "audio-text-to-text"
    assert card.data.license == "mit" and card.data.datasets == ["someone/acd"]
    assert "audio-difference" in card.data.tags
    assert 'pipeline("audio-difference", model="someone/adiff-tiny"' in card.text
    assert "## Limitations" in card.text and "ICLR" in card.text
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        from adiff_hf.serving.model_card import build_model_card

        build_model_card(tmp_path)


@pytest.mark.parametrize("front_end", ["htsat", "whisper"])
def test_the_plot_shows_seconds_hertz_and_decibels_for_either_tower(front_end, tmp_path):
    """A 1 kHz tone of 3 s: 10 s on the time axis (the clip is tiled to what the model hears), its energy in the
    mel bin centred nearest 1 kHz, colour in dB (tens of dB of range, not normalised units)."""
    from transformers import AutoTokenizer, WhisperFeatureExtractor

    from adiff_hf import ADiffFeatureExtractor, ADiffProcessor
    from adiff_hf.serving.plotting import plot_difference, spectrogram_view
    from conftest import TOKENIZER_DIR

    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER_DIR)
    if front_end == "htsat":
        processor = ADiffProcessor(ADiffFeatureExtractor(), tokenizer)
    else:
        processor = ADiffProcessor(WhisperFeatureExtractor(feature_size=80), tokenizer, clip_seconds=10)
    rate = processor.feature_extractor.sampling_rate
    t = np.arange(3 * rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    quiet = (0.05 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    features = processor(text="caption the first audio", audio=(tone, quiet), sampling_rate=rate)["input_features"][0]
    view = spectrogram_view(features, processor)
    bins = 64 if front_end == "htsat" else 80
    assert view["images"].shape == (2, bins, 1000) and view["seconds"] == pytest.approx(10.0)
    frequencies = view["frequencies_hz"]
    top = 14_000 if front_end == "htsat" else 8_000
    assert frequencies[0] < 150 and top * 0.9 < frequencies[-1] < top
    loudest = frequencies[view["images"][0].mean(axis=1).argmax()]
    assert abs(loudest - 1000) < 0.1 * 1000 + np.diff(frequencies).max()
    first, second = view["images"]
    assert np.ptp(first) > 40  # dB, not values in [-1, 1]
    assert (first - second).max() == pytest.approx(20.0, abs=1.5)  # a tenth of the amplitude: 20 dB quieter

    picture = plot_difference(features, "quieter", tmp_path / "plot.png", processor)
    assert Image.open(picture).size == (900, 800)


def test_measure_and_explain_with_evidence(tiny_adiff_dir, clips, tmp_path):
    """`adiff-hf measure` (no model) and `adiff-hf explain --evidence`: the measured differences with their numbers,
    the claims checked, in text and JSON; the plot annotated with them."""
    import soundfile as sf

    from adiff_hf.evidence import check_claims, compare_clips

    tone, _ = sf.read(clips["tone"], dtype="float32")
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, tone * 0.25, 16000)  # 12 dB down
    measured = run_cli("measure", clips["tone"], quiet, "--check", "Audio 2 is louder. Audio 2 is quieter.", "--table")
    assert measured.returncode == 0, measured.stderr[-3000:]
    assert "Audio 2 is 12.0 LU quieter than audio 1" in measured.stdout
    assert '✗ "louder" (audio 2, loudness): contradicted' in measured.stdout
    assert '✓ "quieter" (audio 2, loudness): supported' in measured.stdout
    assert "| integrated loudness | LUFS |" in measured.stdout
    as_json = json.loads(run_cli("measure", clips["tone"], quiet, "--json").stdout)
    assert as_json["evidence"]["differences"] == compare_clips(str(clips["tone"]), str(quiet)).sentences

    plot = tmp_path / "annotated.png"
    args = ["explain", clips["tone"], quiet, "--model", tiny_adiff_dir, "--max-new-tokens", "6", "--evidence"]
    result = run_cli(*args, "--json", "--plot", plot)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(result.stdout.strip().splitlines()[-1])
    evidence = compare_clips(str(clips["tone"]), str(quiet))
    assert record["evidence"]["differences"] == evidence.sentences
    assert record["claims"] == [c.to_dict() for c in check_claims(record["explanation"], evidence)]
    # the annotation lists the measured difference on the difference panel: the picture differs from a plain one
    plain = tmp_path / "plain.png"
    assert run_cli(*args[:-1], "--plot", plain).returncode == 0
    assert np.abs(matplotlib.image.imread(plot) - matplotlib.image.imread(plain)).mean() > 0.001
    text = run_cli(*args).stdout
    assert "Measured differences:\n- Audio 2 is 12.0 LU quieter" in text and "Claims in the explanation:" in text
    missing = run_cli("measure", clips["tone"], tmp_path / "gone.wav")
    assert missing.returncode == 1 and "gone.wav" in missing.stderr and "Traceback" not in missing.stderr


def test_the_plot_shades_a_measured_silence(processor, tmp_path):
    """A 0.5 s silence cut into audio 2 is shaded on audio 2's panel, at its time, and nowhere on audio 1's."""
    from adiff_hf.evidence import compare_clips
    from adiff_hf.serving.plotting import plot_difference

    rate = processor.feature_extractor.sampling_rate
    t = np.arange(10 * rate) / rate
    one = (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(np.float32)
    two = one.copy()
    two[4 * rate : int(4.5 * rate)] = 0
    evidence = compare_clips(one, two, sampling_rate=rate)
    assert evidence.properties["gap"].present == (False, True)
    features = processor(text="x", audio=(one, two), sampling_rate=rate)["input_features"][0]
    picture = plot_difference(features, "a gap", tmp_path / "gap.png", processor, evidence=evidence)
    plain = plot_difference(features, "a gap", tmp_path / "plain.png", processor)
    image, reference = (matplotlib.image.imread(p)[..., :3] for p in (picture, plain))
    changed = np.abs(image - reference).sum(axis=2) > 0.1
    panel_two, panel_one = changed[300:480], changed[40:220]
    shaded = np.flatnonzero(panel_two.mean(axis=0) > 0.6)  # columns changed over most of audio 2's panel
    assert len(shaded) > 5 and panel_one.mean(axis=0).max() < 0.6  # and none on audio 1's panel
    # where the spectrogram spans 0-10 s: the first run of non-white pixels across audio 1's panel
    drawn = np.flatnonzero(reference[130].sum(axis=1) < 2.9)
    left = drawn[0]
    right = drawn[np.flatnonzero(np.diff(drawn) > 1)[0]] if (np.diff(drawn) > 1).any() else drawn[-1]
    seconds = (shaded - left) / (right - left) * 10
    assert 3.8 < seconds.min() < 4.2 and 4.3 < seconds.max() < 4.7
