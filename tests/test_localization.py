"""Long recordings: alignment, localisation of each kind of known difference, region merging, the CLI with --json and
--plot, identical recordings, bad input, the pipeline and demo options, and bounded memory — on short generated
recordings, offline."""

import json
import tracemalloc

import matplotlib.image
import numpy as np
import pytest
import soundfile as sf
import soxr

from adiff_hf.audio_io import load_audio, read_span
from adiff_hf.data.long_pairs import LONG_CHANGES, make_long_pair
from adiff_hf.localization import align_recordings, format_time, localize_differences
from adiff_hf.serving.cli import main


def _overlaps(region, pair) -> bool:
    return region.start1 < pair.end and region.end1 > pair.start


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """One 1-minute pair per kind of difference, audio 2 starting 2.345 s later."""
    root = tmp_path_factory.mktemp("long")
    return {
        change: make_long_pair(str(root / change), 1.0, change, offset_seconds=2.345, seed=i)
        for i, change in enumerate(LONG_CHANGES)
    }


def test_the_offset_is_found_to_a_millisecond(pairs):
    for pair in pairs.values():
        alignment = align_recordings(pair.audio1, pair.audio2)
        assert abs(alignment.offset_seconds - 2.345) < 1e-3, alignment
        assert alignment.refined and alignment.confidence > 0.5
        assert alignment.start1 == 0 and alignment.start2 == pytest.approx(2.345, abs=1e-3)
        assert alignment.duration == pytest.approx(60.0, abs=1e-3)


def test_other_rates_and_channels_and_a_negative_offset_align(pairs, tmp_path):
    wave, rate = sf.read(pairs["event"].audio1, dtype="float32")
    later = soxr.resample(wave[int(1.5 * rate) :], rate, 44100)  # audio 2 begins 1.5 s into the scene
    sf.write(tmp_path / "stereo.wav", np.stack([later, 0.5 * later], axis=1), 44100)
    alignment = align_recordings(pairs["event"].audio1, tmp_path / "stereo.wav")
    assert alignment.offset_seconds == pytest.approx(-1.5, abs=0.01)
    assert alignment.sampling_rate2 == 44100 and alignment.start1 == pytest.approx(1.5, abs=0.01)
    # the same content once aligned: no region; windows are in audio 1's time, from where audio 2 begins
    found = localize_differences(pairs["event"].audio1, tmp_path / "stereo.wav")
    assert found.regions == [] and found.windows[0].start == pytest.approx(1.5, abs=0.01)
    assert found.windows[-1].end == pytest.approx(60.0, abs=0.01)


@pytest.mark.parametrize(
    "change, words",
    [
        ("event", "more sound in audio 2"),
        ("mute", "audio 2 is silent"),
        ("level", "dB louder"),
        ("filter", "less sound in audio 2"),
    ],
)
def test_each_kind_of_difference_is_the_top_region(pairs, change, words):
    pair = pairs[change]
    found = localize_differences(pair.audio1, pair.audio2)
    assert len(found.regions) == 1, found.report()
    region = found.regions[0]
    assert _overlaps(region, pair), (region, pair)
    assert region.start1 > pair.start - 1.0 and region.end1 < pair.end + 1.0  # trimmed near the true span
    assert region.start2 == pytest.approx(region.start1 + 2.345, abs=2e-3)
    assert words in region.summary, region.summary
    if change == "level":  # +9 dB, in every band
        assert region.level_change_db == pytest.approx(9.0, abs=0.5) and region.signal_db >= 8.5
    assert region.score >= 1 and sum(w.score >= 1 for w in found.windows) <= 4


def test_two_differences_make_two_ranked_regions(tmp_path):
    """Overlapping differing windows merge into one region per difference; the larger difference ranks first."""
    pair = make_long_pair(str(tmp_path), 1.5, "event", seed=7)
    wave, rate = sf.read(pair.audio1, dtype="float32")
    changed = wave.copy()
    changed[int(20 * rate) : int(23 * rate)] *= 10 ** (6 / 20)  # 6 dB louder for 3 s
    changed[int(60 * rate) : int(62 * rate)] = 0  # a 2 s drop-out
    sf.write(tmp_path / "two.wav", changed, rate)
    found = localize_differences(pair.audio1, tmp_path / "two.wav")
    assert [r.rank for r in found.regions] == [1, 2]
    first, second = found.regions
    assert 59.5 < first.start1 < 60.5 and 61.5 < first.end1 < 62.5 and "silent" in first.summary
    assert 19.5 < second.start1 < 20.5 and 22.5 < second.end1 < 23.5 and "6.0 dB louder" in second.summary
    assert first.score > second.score
    assert len(localize_differences(pair.audio1, tmp_path / "two.wav", top_k=1).regions) == 1


def test_identical_recordings_have_no_region(pairs, tmp_path, tiny_adiff_dir):
    """The same recording twice, and at 8 kHz mono against 96 kHz stereo: aligned at 0, nothing differs (by the
    band levels, which stop below the lower rate's band edge, and by the model's ears), and the report says so."""
    import transformers

    pair = pairs["level"]
    model = transformers.AutoModelForMultimodalLM.from_pretrained(tiny_adiff_dir).eval()
    processor = transformers.AutoProcessor.from_pretrained(tiny_adiff_dir)
    found = localize_differences(pair.audio1, pair.audio1, model, processor, screen=0)
    assert found.alignment.offset_seconds == pytest.approx(0, abs=1e-4) and found.regions == []
    assert all(w.signal_db == 0 and w.model_distance < 1e-4 for w in found.windows)
    assert "No region differs above the thresholds" in found.report()

    wave, rate = sf.read(pair.audio1, dtype="float32")
    sf.write(tmp_path / "low.wav", soxr.resample(wave, rate, 8000), 8000)
    high = soxr.resample(wave, rate, 96000)
    sf.write(tmp_path / "high.wav", np.stack([high, high], axis=1), 96000, subtype="FLOAT")
    found = localize_differences(tmp_path / "low.wav", tmp_path / "high.wav")
    assert abs(found.alignment.offset_seconds) < 1e-3 and found.regions == []
    assert all(w.signal_db < 0.5 for w in found.windows)


def test_the_cli_json_and_the_shaded_timeline(pairs, tmp_path, capsys, tiny_adiff_dir):
    pair = pairs["mute"]
    picture = tmp_path / "timeline.png"
    argv = ["localize", pair.audio1, pair.audio2, "--model", str(tiny_adiff_dir), "--max-new-tokens", "4"]
    assert main([*argv, "--json", "--plot", str(picture), "--top-k", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["alignment"]["offset_seconds"] == pytest.approx(2.345, abs=1e-3)
    (region,) = result["regions"]
    assert region["rank"] == 1 and isinstance(region["explanation"], str)
    assert region["start1"] < pair.end and region["end1"] > pair.start
    assert len(result["windows"]) == 11 and result["plot"] == str(picture)

    # the shaded columns of the bottom (score) panel lie where the region is
    image = matplotlib.image.imread(picture)[..., :3]
    orange = (image[..., 0] > 0.9) & (image[..., 1] > 0.7) & (image[..., 1] < 0.9) & (image[..., 2] < 0.75)
    rows = image.shape[0]
    panel = orange[int(0.75 * rows) : int(0.85 * rows)]  # a band across the score panel
    shaded = np.flatnonzero(panel.mean(axis=0) > 0.5)
    dark = np.flatnonzero(image[int(0.8 * rows)].sum(axis=1) < 0.5)  # the panel's left and right frame lines
    left, right = dark[0], dark[-1]
    seconds = (shaded - left) / (right - left) * 60.0
    assert len(shaded) > 3 and seconds.min() > region["start1"] - 1.5 and seconds.max() < region["end1"] + 1.5
    # and the plain text names the region
    assert main([*argv]) == 0
    text = capsys.readouterr().out
    assert "audio 2 starts 2.345 s later" in text and "#1" in text and "audio 2 is silent" in text


def test_bad_input_is_named(pairs, tmp_path, capsys):
    pair = pairs["event"]
    assert main(["localize", pair.audio1, str(tmp_path / "nope.wav"), "--no-model"]) == 1
    assert "nope.wav" in capsys.readouterr().err
    (tmp_path / "empty.wav").write_bytes(b"")
    assert main(["localize", str(tmp_path / "empty.wav"), pair.audio2, "--no-model"]) == 1
    assert "empty" in capsys.readouterr().err
    sf.write(tmp_path / "slow.wav", np.random.default_rng(0).standard_normal(2000).astype(np.float32) * 0.1, 1000)
    with pytest.raises(ValueError, match="1000 Hz is too low"):
        localize_differences(pair.audio1, tmp_path / "slow.wav")
    with pytest.raises(ValueError, match="overlap"):
        localize_differences(pair.audio1, pair.audio2, offset_seconds=120.0)
    with pytest.raises(ValueError, match="model"):
        localize_differences(pair.audio1, pair.audio2, explain=True)


def test_the_pipeline_and_the_demo_localise_long_recordings(pairs, tiny_adiff_dir):
    import transformers

    import adiff_hf  # noqa: F401
    from adiff_hf.serving.demo import Explainer

    pair = pairs["filter"]
    pipe = transformers.pipeline("audio-difference", model=str(tiny_adiff_dir))
    result = pipe(pair.audio1, pair.audio2, localize=True, tier="sentence", max_new_tokens=4, return_evidence=True)
    (region,) = result["regions"]
    assert region["start1"] < pair.end and region["end1"] > pair.start
    assert isinstance(region["explanation"], str) and isinstance(region["evidence"], list)
    with pytest.raises(ValueError, match="file paths"):
        pipe(np.zeros(16000), pair.audio2, localize=True)

    text, picture, _, _, timeline, rows = Explainer(str(tiny_adiff_dir), max_new_tokens=4)(
        pair.audio1, pair.audio2, "few_words"
    )
    assert text.startswith("Aligned: audio 2 starts 2.345 s later") and "#1" in text
    assert rows[0][0] == "1" and rows[0][1] == f"{format_time(region['start1'])}-{format_time(region['end1'])}"
    assert matplotlib.image.imread(timeline).shape[1] > 1000 and picture.endswith(".png")


def test_the_pipeline_is_the_one_explain_path(pairs, tiny_adiff_dir, clips, capsys):
    """The CLI, the demo's handler and a localised region's explanation are the pipeline's text for the same pair."""
    import transformers

    import adiff_hf  # noqa: F401
    from adiff_hf.localization import read_spans
    from adiff_hf.serving.demo import Explainer

    pipe = transformers.pipeline("audio-difference", model=str(tiny_adiff_dir))
    short = str(clips["tone"]), str(clips["noise"])
    expected = pipe(*short, tier="sentence", max_new_tokens=6)[0]["generated_text"]
    assert expected and expected != pipe(*short, tier="few_words", max_new_tokens=6)[0]["generated_text"]

    args = ["explain", *short, "--model", str(tiny_adiff_dir), "--tier", "sentence", "--max-new-tokens", "6"]
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["explanation"] == expected
    assert Explainer(str(tiny_adiff_dir), max_new_tokens=6)(*short, "sentence")[0] == expected

    pair = pairs["level"]
    found = pipe.localize(pair.audio1, pair.audio2, tier="sentence", max_new_tokens=6)
    region = found.regions[0]
    rate = pipe.processor.feature_extractor.sampling_rate
    spans = read_spans(pair.audio1, pair.audio2, region.heard1, region.heard2, found.window_seconds, rate)
    assert (
        region.explanation == pipe(*spans, sampling_rate=rate, tier="sentence", max_new_tokens=6)[0]["generated_text"]
    )
    args = ["localize", pair.audio1, pair.audio2, "--model", str(tiny_adiff_dir), "--tier", "sentence"]
    assert main([*args, "--max-new-tokens", "6", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["regions"][0]["explanation"] == region.explanation


def test_long_files_are_read_in_bounded_memory(tmp_path):
    """Five minutes of 48 kHz stereo (110 MB as float32): the 10 s a model hears and the whole localisation stay
    within a few MB of Python allocations."""
    path = tmp_path / "five_minutes.wav"
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", 48000, 2, subtype="PCM_16") as f:
        for _ in range(30):
            f.write((rng.standard_normal((480000, 2)) * 0.1).astype(np.float32))
    tracemalloc.start()
    heard = load_audio(path, 32000, max_seconds=10, crop="center")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(heard) == 320000 and peak < 12e6, peak
    whole = soxr.resample(sf.read(path, dtype="float32", start=144 * 48000, stop=156 * 48000)[0].mean(1), 48000, 32000)
    np.testing.assert_allclose(heard[32000:-32000], whole[64000:-64000], atol=1e-4)  # the centre 10 s, as read
    np.testing.assert_allclose(read_span(path, 145.0, 10, 32000), heard, atol=1e-4)

    tracemalloc.start()
    found = localize_differences(path, path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert found.regions == [] and peak < 40e6, peak


def test_the_localisation_benchmark_scores_and_costs(tmp_path):
    """The benchmark's script on a small set (band levels only): a row per kind, offsets right, costs measured."""
    import subprocess
    import sys

    from conftest import REPO

    command = [sys.executable, str(REPO / "benchmarks" / "bench_localization.py"), str(tmp_path), "--model", "none"]
    command += ["--per-change", "1", "--minutes", "0.75", "--cost-minutes", "0.5", "--read-minutes", "0.5"]
    run = subprocess.run(command, check=False, capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads((tmp_path / "bench_localization.json").read_text())
    assert list(results["accuracy"]) == [*LONG_CHANGES, "all"]
    assert results["accuracy"]["all"]["pairs"] == 4 and results["accuracy"]["all"]["top_overlaps"] == 1.0
    assert results["accuracy"]["all"]["max_offset_error_ms"] < 10 and results["misses"] == []
    (cost,) = results["cost"]
    assert cost["windows"] == 5 and cost["windows_heard_by_model"] == 0 and cost["seconds"] > 0
    assert cost["peak_rss_mb"] >= cost["rss_before_mb"] > 0
    assert "| all | 4 | 100% | 100% |" in run.stdout
    reads = results["ten_second_path"]
    assert reads["whole"]["samples"] == reads["heard"]["samples"] == 320000


def test_localisation_needs_no_training_extras():
    """`datasets` (the train / eval extras) is not needed to build long pairs or localise: a base install runs the
    README's long example."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['datasets'] = None\n"
        "import adiff_hf.data.long_pairs, adiff_hf.localization, adiff_hf.serving.cli\n"
        "from adiff_hf.data import make_long_pair\n"
        "try:\n    from adiff_hf.data import load_difference_csv\nexcept ImportError:\n    print('needs datasets')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "needs datasets"  # the training pieces still say what they need
