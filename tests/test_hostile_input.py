"""Hostile input on `adiff-hf explain / measure / localize / evaluate` and the localisation API: every bad number,
path or pair of recordings is one clear line naming the option, argument or file (never a traceback, never a wrong
answer), and every `--json` output is strict JSON."""

import json
import math

import numpy as np
import pytest
import soundfile as sf

from adiff_hf.localization import align_recordings, localize_differences
from adiff_hf.localization.alignment import MIN_CONFIDENCE
from adiff_hf.localization.localize import MIN_SECONDS, _summary
from adiff_hf.serving import cli
from conftest import melody, noise

RATE = 16000


def _strict(constant):
    raise ValueError(f"not strict JSON: {constant}")


def _bursts(seconds: float, seed: int) -> np.ndarray:
    """Noise bursts at random times: sound with a level contour of its own, unrelated to any other."""
    rng = np.random.default_rng(seed)
    gate = np.repeat(rng.random(int(seconds * 10)) < 0.4, RATE // 10).astype(np.float32)
    return noise(seconds, RATE, seed=seed) * gate


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    tune = melody(RATE, notes=16) + noise(4, RATE, seed=1, amplitude=0.003)  # 4 s
    quieter = tune.copy()
    quieter[int(1.5 * RATE) : int(2.5 * RATE)] *= 0.5  # 6 dB quieter for 1 s
    sounds = {
        "tune": tune,
        "quieter": quieter,
        "unrelated": _bursts(5, seed=3),  # another length, no common content
        "unrelated_4s": _bursts(4, seed=4),  # the same length, no common content
        "silence_4s": np.zeros(4 * RATE, dtype=np.float32),
        "short": tune[: int(0.15 * RATE)],  # under MIN_SECONDS
        "short_ok": tune[: int(0.3 * RATE)],
        "short_ok_quieter": 0.5 * tune[: int(0.3 * RATE)],
    }
    paths = {}
    for name, wave in sounds.items():
        paths[name] = str(d / f"{name}.wav")
        sf.write(paths[name], wave, RATE)
    paths["missing"] = str(d / "missing.wav")
    paths["dir"] = str(d)
    return paths


def _cli_error(capsys, argv, status):
    """Run the CLI; it must stop with `status` (argparse's 2 or main's 1) and one error line, no traceback."""
    if status == 2:
        with pytest.raises(SystemExit) as stop:
            cli.main(argv)
        assert stop.value.code == 2
    else:
        assert cli.main(argv) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and out == ""
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


# --- 1. numbers are checked where they come in: argparse names the option (exit status 2) ---

OPTION_CASES = [
    ("localize", "--hop", "0", "must be greater than 0"),
    ("localize", "--hop", "-2", "must be greater than 0"),
    ("localize", "--hop", "nan", "must be a finite number"),
    ("localize", "--window", "0", "must be greater than 0"),
    ("localize", "--window", "inf", "must be a finite number"),
    ("localize", "--window", "ten", "is not a number"),
    ("localize", "--offset", "nan", "must be a finite number"),
    ("localize", "--offset", "-inf", "must be a finite number"),
    ("localize", "--top-k", "0", "must be at least 1"),
    ("localize", "--top-k", "1.5", "is not a whole number"),
    ("localize", "--max-new-tokens", "0", "must be at least 1"),
    ("explain", "--max-new-tokens", "-3", "must be at least 1"),
    ("explain", "--num-beams", "0", "must be at least 1"),
    ("explain", "--grounded", "0", "must be at least 1"),
    ("explain", "--grounded", "two", "is not a whole number"),
    ("explain", "--prompt", "", "is empty"),
    ("explain", "--prompt", "   ", "is empty"),
    ("localize", "--prompt", "", "is empty"),
    ("evaluate", "--batch_size", "0", "must be at least 1"),
    ("evaluate", "--max_rows", "0", "must be at least 1"),
    ("evaluate", "--bootstrap_samples", "-1", "must be from 0 to 100000"),
    ("evaluate", "--bootstrap_samples", "10000000", "must be from 0 to 100000"),
    ("evaluate", "--max_new_tokens", "0", "must be at least 1"),
]


@pytest.mark.parametrize(("command", "option", "value", "message"), OPTION_CASES)
def test_bad_numbers_and_empty_prompts_name_the_option(wavs, capsys, command, option, value, message):
    if command == "evaluate":
        argv = ["evaluate", "--model", "nowhere", "--output_dir", wavs["dir"], "--acd_csv", "x.csv"]
    else:  # a model that does not exist: the option is refused before anything loads
        argv = [command, wavs["tune"], wavs["quieter"], "--model", "/no/such/model"]
    line = _cli_error(capsys, [*argv, f"{option}={value}"], status=2)
    assert f"argument {option}: " in line and message in line, line


def test_default_hop_and_window_still_apply(wavs, capsys):
    """`--hop` / `--window` left out are the defaults (half a window, the model's 10 s); 0 is no longer a default."""
    assert cli.main(["localize", wavs["tune"], wavs["quieter"], "--no-model", "--json"]) == 0
    result = json.loads(capsys.readouterr().out, parse_constant=_strict)
    assert result["window_seconds"] == 10.0 and result["hop_seconds"] == 5.0


# --- 2. --plot is checked before the run, so a result is never lost to a bad path ---


@pytest.mark.parametrize("case", ["missing_folder", "a_folder", "under_a_file", "not_a_picture_type"])
@pytest.mark.parametrize("command", ["explain", "localize"])
def test_unwritable_plot_paths_fail_first(wavs, capsys, case, command):
    path = {
        "missing_folder": wavs["dir"] + "/no/such/folder/plot.png",
        "a_folder": wavs["dir"],
        "under_a_file": wavs["tune"] + "/plot.png",
        "not_a_picture_type": wavs["dir"] + "/plot.wavv",
    }[case]
    # the audio is missing too: the --plot check comes first, before any file is read or model loaded
    argv = [command, wavs["missing"], wavs["tune"], "--model", "/no/such/model", "--plot", path]
    line = _cli_error(capsys, argv, status=2)
    assert "argument --plot: cannot write" in line and path in line, line
    why = {"missing_folder": "does not exist", "a_folder": "it is a folder", "under_a_file": "is a file, not a folder"}
    assert why.get(case, "not a picture type") in line, line


def test_a_writable_plot_path_leaves_no_file_when_the_run_fails(wavs, capsys, tmp_path):
    picture = tmp_path / "timeline.png"
    argv = ["localize", wavs["missing"], wavs["tune"], "--no-model", "--plot", str(picture)]
    line = _cli_error(capsys, argv, status=1)
    assert "missing.wav" in line and not picture.exists()


# --- 3. tracebacks only for a true ADIFF_HF_DEBUG ---


@pytest.mark.parametrize("value", ["0", "", "false", "no"])
def test_a_false_debug_setting_keeps_the_one_line(wavs, capsys, monkeypatch, value):
    monkeypatch.setenv("ADIFF_HF_DEBUG", value)
    line = _cli_error(capsys, ["localize", wavs["missing"], wavs["tune"], "--no-model", "--json"], status=1)
    assert line.startswith("adiff-hf localize: error:") and "missing.wav" in line


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_a_true_debug_setting_raises(wavs, monkeypatch, value):
    monkeypatch.setenv("ADIFF_HF_DEBUG", value)
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        cli.main(["localize", wavs["missing"], wavs["tune"], "--no-model", "--json"])


# --- 4. the API checks its arguments too, naming them ---

API_CASES = [
    ({"hop_seconds": math.nan}, "hop_seconds must be a finite positive number"),
    ({"hop_seconds": 0}, "hop_seconds must be a finite positive number"),
    ({"window_seconds": 0}, "window_seconds must be a finite positive number"),
    ({"window_seconds": -5.0}, "window_seconds must be a finite positive number"),
    ({"offset_seconds": math.inf}, "offset_seconds must be a finite number"),
    ({"offset_seconds": "soon"}, "offset_seconds must be a number"),
    ({"signal_threshold_db": math.nan}, "signal_threshold_db must be a finite positive number"),
    ({"signal_threshold_db": 0}, "signal_threshold_db must be a finite positive number"),
    ({"signal_threshold_db": -3}, "signal_threshold_db must be a finite positive number"),
    ({"model_threshold": 0}, "model_threshold must be a finite positive number"),
    ({"model_threshold": math.nan}, "model_threshold must be a finite positive number"),
    ({"screen": -0.1}, "screen must be at least 0"),
    ({"screen": math.nan}, "screen must be a finite number"),
    ({"batch_size": 0}, "batch_size must be a whole number of at least 1"),
    ({"batch_size": 2.5}, "batch_size must be a whole number of at least 1"),
    ({"top_k": 0}, "top_k must be a whole number of at least 1"),
]


@pytest.mark.parametrize(("kwargs", "message"), API_CASES)
def test_localize_arguments_are_checked(wavs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        localize_differences(wavs["tune"], wavs["quieter"], **kwargs)


def test_arrays_are_refused_with_how_to_write_them(wavs):
    wave = np.zeros(RATE, dtype=np.float32)
    for call in (localize_differences, align_recordings):
        with pytest.raises(ValueError, match=r"takes two file paths, got ndarray for audio1: .*soundfile\.write"):
            call(wave, wavs["tune"])
        with pytest.raises(ValueError, match="got list for audio2"):
            call(wavs["tune"], [0.0] * 100)


# --- 5. short clips: as short as the band levels allow works; shorter is named ---


def test_short_clips_work_down_to_the_minimum(wavs, capsys):
    found = localize_differences(wavs["short_ok"], wavs["short_ok_quieter"])
    assert found.alignment.method == "found" and found.alignment.offset_seconds == pytest.approx(0, abs=1e-3)
    (region,) = found.regions
    assert "6.0 dB quieter" in region.summary
    for first, second, name in ((wavs["short"], wavs["tune"], "audio1"), (wavs["tune"], wavs["short"], "audio2")):
        with pytest.raises(ValueError, match=rf"{name} \(.*short\.wav\) lasts 0\.150 s: too short .*{MIN_SECONDS:g} s"):
            localize_differences(first, second)
    line = _cli_error(capsys, ["localize", wavs["short"], wavs["tune"], "--no-model", "--json"], status=1)
    assert "short.wav" in line and "too short" in line


# --- 6. recordings without common content are refused, not given a made-up offset ---


def test_no_common_content_is_refused_unless_an_offset_is_given(wavs, capsys):
    with pytest.raises(ValueError, match=r"No common content found .*confidence 0\.\d\d < .*give offset_seconds"):
        localize_differences(wavs["tune"], wavs["unrelated"])
    alignment = align_recordings(wavs["tune"], wavs["unrelated"], strict=False)
    assert alignment.method == "none" and alignment.confidence < MIN_CONFIDENCE
    line = _cli_error(capsys, ["localize", wavs["tune"], wavs["unrelated"], "--no-model", "--json"], status=1)
    assert "No common content found" in line and "--offset" in line
    # a known offset is taken as given
    found = localize_differences(wavs["tune"], wavs["unrelated"], offset_seconds=0.5)
    assert found.alignment.method == "given" and found.alignment.start2 == 0.5
    assert found.report().startswith("Aligned: audio 2 starts 0.500 s later (given offset).")


@pytest.mark.parametrize("other", ["unrelated_4s", "silence_4s"])
def test_one_length_without_common_content_is_compared_from_the_starts_and_says_so(wavs, capsys, other):
    found = localize_differences(wavs["tune"], wavs[other])
    assert found.alignment.method == "assumed" and found.alignment.offset_seconds == 0
    assert found.report().startswith("Not aligned: no common content found (confidence")
    assert "compared from their starts" in found.report().splitlines()[0]
    assert cli.main(["localize", wavs["tune"], wavs[other], "--no-model", "--json"]) == 0
    result = json.loads(capsys.readouterr().out, parse_constant=_strict)
    assert result["alignment"]["method"] == "assumed"
    # silence against silence: nothing differs
    empty = localize_differences(wavs["silence_4s"], wavs["silence_4s"])
    assert empty.alignment.method == "assumed" and empty.regions == []


def test_the_same_content_still_aligns(wavs):
    alignment = align_recordings(wavs["tune"], wavs["quieter"])
    assert alignment.method == "found" and alignment.refined and alignment.confidence >= MIN_CONFIDENCE
    assert alignment.offset_seconds == pytest.approx(0, abs=1e-3)


# --- 7. a region's summary says what scored it ---


def test_the_summary_names_what_scored_the_region():
    edges = np.geomspace(50, 7200, 25)
    rng = np.random.default_rng(0)
    one = rng.uniform(-40, -20, (20, 24)).astype(np.float32)
    two = one[::-1].copy()  # the same levels in another order: differs frame by frame, no lasting change
    _, by_levels = _summary(one, two, edges, heard=False)
    _, by_model = _summary(one, two, edges, heard=True)
    assert "model" not in by_levels and "from moment to moment" in by_levels
    assert by_model.startswith("the model hears a difference here")
    silent = np.full((20, 24), -80.0, dtype=np.float32)
    assert "nearly silent" in _summary(silent, silent + 1, edges)[1]


def test_no_model_never_claims_the_model_heard(wavs):
    found = localize_differences(wavs["tune"], wavs["unrelated_4s"])  # differs throughout, compared from the starts
    assert found.regions and all("model" not in region.summary for region in found.regions)


# --- 8. every --json output is strict JSON ---


def test_every_json_output_is_strict(wavs, capsys, tiny_adiff_dir):
    model = ["--model", str(tiny_adiff_dir), "--max-new-tokens", "4"]
    pair = [wavs["tune"], wavs["quieter"]]
    commands = [
        ["explain", *pair, *model, "--json"],
        ["explain", *pair, *model, "--json", "--evidence"],
        ["measure", *pair, "--json", "--check", "Audio 2 is quieter."],
        ["measure", wavs["tune"], wavs["silence_4s"], "--json"],
        ["localize", *pair, "--no-model", "--json", "--evidence"],
        ["localize", wavs["tune"], wavs["unrelated_4s"], "--no-model", "--json"],
        ["localize", *pair, *model, "--json", "--top-k", "1"],
    ]
    for argv in commands:
        assert cli.main(argv) == 0, argv
        out = capsys.readouterr().out
        result = json.loads(out, parse_constant=_strict)
        assert isinstance(result, dict) and result["audio1"] == argv[1], argv


def test_json_output_turns_numpy_and_non_finite_numbers_into_json():
    text = cli.json_text({"a": np.float32(1.5), "b": [math.nan, np.float64(math.inf)], "c": np.arange(2)})
    assert json.loads(text, parse_constant=_strict) == {"a": 1.5, "b": [None, None], "c": [0, 1]}


# --- evidence: silence is a difference, a directory is named as one, long clips are measured where the model heard ---


def test_silence_against_sound_is_a_measured_difference_in_the_cli(wavs, capsys):
    assert cli.main(["measure", wavs["tune"], wavs["silence_4s"], "--check", "The two are identical."]) == 0
    out = capsys.readouterr().out
    assert "- Audio 2 is silent (peak under -70 dBFS); audio 1 sounds" in out
    assert '✗ "identical" (both, identical): contradicted' in out and "No measured difference" not in out


def test_a_directory_is_named_as_one(wavs, capsys):
    line = _cli_error(capsys, ["measure", wavs["dir"], wavs["tune"]], 1)
    assert "is a directory, not a file" in line and wavs["dir"] in line


def test_explain_evidence_measures_what_the_model_heard(wavs, tiny_adiff_dir, tmp_path, capsys):
    long = str(tmp_path / "long.wav")
    sf.write(long, np.tile(sf.read(wavs["tune"], dtype="float32")[0], 6), RATE)  # 24 s
    assert (
        cli.main(
            ["explain", long, long, "--model", str(tiny_adiff_dir), "--max-new-tokens", "4", "--json", "--evidence"]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out, parse_constant=_strict)
    heard = result["evidence"]["audio1"]["measured"]
    assert heard["start"] == 0.0 and heard["end"] == pytest.approx(10.0) and heard["length"] == pytest.approx(24.0)
    assert result["evidence"]["measured"].startswith("what the model heard (audio 1: 0.0-10.0 s of 24.0 s")
