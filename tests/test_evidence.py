"""Measured evidence on generated audio with known differences: each measure and its threshold, the comparison's
sentences, the claim parser on varied phrasings, the three outcomes of the check, and bad input."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from adiff_hf.evidence import (
    CONTRADICTED,
    MEASURES,
    NOT_CHECKABLE,
    SUPPORTED,
    check_claims,
    compare_clips,
    measure_clip,
    parse_claims,
)
from conftest import EVIDENCE_RATE as RATE
from conftest import gapped as _gapped
from conftest import melody

SPEECH = Path(__file__).parent / "data" / "speech_espeak.wav"  # made with: espeak-ng -v en-us -s 150 (16 kHz)


def _filtered(wave, cutoff, kind):
    from scipy.signal import butter, sosfilt

    sos = butter(8, cutoff, btype=kind, fs=RATE, output="sos")
    out = sosfilt(sos, wave)
    return (out * np.sqrt(np.mean(wave**2) / np.mean(out**2))).astype(np.float32)


def _with_noise(wave, snr_db, seed=0):
    noise = np.random.default_rng(seed).standard_normal(len(wave))
    return (wave + noise * np.sqrt(np.mean(wave**2) / 10 ** (snr_db / 10))).astype(np.float32)


def _clipped(wave):
    limit = np.abs(wave).max() * 0.2
    return (np.clip(wave, -limit, limit) / 0.2 * 0.9 * 0.4 / 0.9).astype(np.float32)


@pytest.fixture(scope="module")
def base():
    return melody()


def _compare(one, two, rate=RATE):
    return compare_clips(one, two, sampling_rate=rate)


def _number(pattern, text):
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return float(match.group(1))


def test_each_measure_has_a_unit_a_threshold_and_a_reason():
    for name, measure in MEASURES.items():
        assert measure.unit and measure.threshold > 0 and len(measure.why) > 20, name
        assert measure.threshold > 1 if measure.relative else True
    values = measure_clip(melody(), sampling_rate=RATE).values
    assert set(values) == set(MEASURES)
    assert all(v is None or math.isfinite(v) for v in values.values())


def test_one_clip_is_measured_in_its_units(base):
    values = measure_clip(base, sampling_rate=RATE).values
    assert values["duration"] == pytest.approx(3.0, abs=1e-3)
    assert -30 < values["loudness"] < -10 and values["peak"] == pytest.approx(20 * np.log10(0.4), abs=0.05)
    assert values["clipped"] < 0.01 and values["silence"] == 0.0 and values["speech"] == 0.0
    assert 200 < values["f0"] < 450  # the melody spans 220-440 Hz
    assert 3.0 <= values["onset_rate"] <= 5.0  # four notes a second
    assert values["snr"] > 30 and values["decay"] is not None


def test_gain_is_named_with_its_number_and_a_difference_under_threshold_is_not(base):
    quieter = _compare(base, base * 10 ** (-8 / 20))
    assert quieter.properties["loudness"].sign == -1
    assert _number(r"Audio 2 is ([\d.]+) LU quieter", quieter.sentences[0]) == pytest.approx(8.0, abs=0.3)
    assert [state.name for state in quieter.findings] == ["loudness"]
    slightly = _compare(base, base * 10 ** (0.5 / 20))  # 0.5 LU: below the 1 LU threshold
    assert slightly.properties["loudness"].sign == 0 and not slightly.findings
    assert slightly.sentences == ["No measured difference above the thresholds."]


def test_pitch_and_tempo_are_told_apart(base):
    higher = _compare(base, melody(f0=220 * 2 ** (4 / 12)))
    assert higher.properties["pitch"].sign == 1
    assert _number(r"([\d.]+) semitones higher", higher.properties["pitch"].sentence) == pytest.approx(4, abs=0.6)
    assert higher.properties["speed"].sign == 0
    faster = _compare(base, melody(note_seconds=0.25 / 1.3))
    assert faster.properties["speed"].sign == 1 and faster.properties["pitch"].sign == 0
    assert _number(r"come ([\d.]+) times as fast", faster.properties["speed"].sentence) == pytest.approx(1.3, abs=0.08)
    assert faster.properties["duration"].sign == -1
    below = _compare(base, melody(f0=220 * 2 ** (0.4 / 12)))  # 0.4 semitone: below the 1-semitone threshold
    assert below.properties["pitch"].sign == 0


def test_filters_noise_clipping_and_gaps(base):
    muffled = _compare(_filtered(base, 700, "lowpass"), base)
    assert muffled.properties["treble"].sign == 1 and muffled.properties["treble"].sentence.startswith(
        "Audio 1 is duller"
    )
    thin = _compare(base, _filtered(base, 1500, "highpass"))
    assert thin.properties["bass"].sign == -1 and thin.properties["bass"].sentence.startswith("Audio 2 is thinner")
    noisy = _compare(base, _with_noise(base, 10))
    assert noisy.properties["noise"].sign == 1 and noisy.properties["noise"].sentence.startswith("Audio 2 is noisier")
    clipped = _compare(_clipped(base), base)
    assert clipped.properties["clipping"].present == (True, False)
    assert _number(r"([\d.]+)% of its samples", clipped.properties["clipping"].sentence) > 1
    gapped = _compare(base, _gapped(base))
    assert gapped.properties["gap"].present == (False, True)
    sentence = gapped.properties["gap"].sentence
    assert _number(r"a ([\d.]+) s silence", sentence) == pytest.approx(0.4, abs=0.06)
    assert _number(r"silence at ([\d.]+) s", sentence) == pytest.approx(1.0, abs=0.06)


def test_speech_presence_with_silero_vad(base):
    speech, rate = sf.read(SPEECH, dtype="float32")
    measured = measure_clip(str(SPEECH))
    assert measured.values["speech"] > 0.5 * len(speech) / rate and measured.speech_segments
    evidence = _compare(base[: 2 * RATE], {"array": speech, "sampling_rate": rate})
    assert evidence.properties["speech"].present == (False, True)
    assert evidence.properties["speech"].sentence.startswith("Audio 2 has speech")


def test_identical_content_at_another_rate_and_channel_count_shows_no_difference(base, tmp_path):
    import soxr

    path = tmp_path / "stereo48k.wav"
    stereo = soxr.resample(base, RATE, 48_000)
    sf.write(path, np.stack([stereo, stereo], axis=1), 48_000, subtype="FLOAT")
    evidence = compare_clips(base, str(path), sampling_rate=RATE)
    assert not evidence.findings, evidence.sentences


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Audio 2 is louder than audio 1 and more muffled.", [("loudness", 2, 1), ("treble", 2, -1)]),
        ("The first recording is quieter; the second one is brighter.", [("loudness", 1, -1), ("treble", 2, 1)]),
        (
            "Compared to audio 1, audio 2 sounds noisier and has no speech.",
            [("noise", 2, 1), ("speech", 2, -1)],
        ),
        ("In the second clip the tempo is faster. It is also higher-pitched.", [("speed", 2, 1), ("pitch", 2, 1)]),
        ("Audio 1 is interrupted by silence, while audio 2 is clipped.", [("gap", 1, 1), ("clipping", 2, 1)]),
        ("Audio 2 is less noisy and thinner.", [("noise", 2, -1), ("bass", 2, -1)]),
        ("Audio 2 is not louder.", []),
        ("It is slower.", [("speed", None, -1)]),
        ("There is no audible difference.", [("identical", None, 1)]),
        ("Audio 1 has an echo and sounds like a lossy mp3.", [("echo", 1, 1), ("codec", 1, 1)]),
    ],
)
def test_claims_are_parsed_from_varied_phrasings(text, expected):
    assert [(c.property, c.clip, c.direction) for c in parse_claims(text)] == expected


def test_names_and_quoted_words_make_no_claims():
    assert parse_claims("Both hold a 'phone ringing loud' sound.") == []
    assert parse_claims("Audio 2 holds a bass drum, louder.", ignore=["a bass drum"])[0].property == "loudness"


@pytest.mark.parametrize(
    ("text", "change", "value", "claim"),
    [
        ("Audio 2 is distorted.", "distortion", 20.0, "distortion"),
        ("Audio 2 sounds like a phone call.", "codec", 1.0, "codec"),
        ("Audio 2 has a delay on it.", "echo", 0.2, "echo"),
        ("Audio 2 is dulled.", "lowpass", 1000.0, "treble"),
        ("Audio 2 is deeper.", "pitch", -3.0, "pitch"),
    ],
)
def test_the_claim_parser_and_the_attribute_scorer_read_the_same_words(text, change, value, claim):
    from adiff_hf.evaluation.attributes import CHANGE_PATTERNS, expected_pattern, names_change

    assert [c.property for c in parse_claims(text)] == [claim]
    named = [name for name in CHANGE_PATTERNS if names_change(text, expected_pattern({"change": name, "value": value}))]
    assert named == [change]  # "distorted" is not clipping, "phone" is the codec


def test_the_three_outcomes_with_the_measurement_that_decides(base):
    evidence = _compare(base, base * 10 ** (-8 / 20))
    claims = check_claims("Audio 2 is quieter. Audio 1 is softer. Audio 2 has an echo. They sound the same.", evidence)
    outcomes = [(c.text, c.outcome) for c in claims]
    assert outcomes == [
        ("quieter", SUPPORTED),
        ("softer", CONTRADICTED),
        ("echo", NOT_CHECKABLE),
        ("sound the same", CONTRADICTED),
    ]
    assert "8.0 LU quieter" in claims[0].measurement and "8.0 LU quieter" in claims[1].measurement
    same = _compare(base, base)
    checked = check_claims("No audible difference. Audio 2 is louder. Audio 2 is muffled.", same)
    assert [c.outcome for c in checked] == [SUPPORTED, CONTRADICTED, NOT_CHECKABLE]
    assert "no loudness difference above threshold" in checked[1].measurement
    assert check_claims("It is louder.", evidence)[0].outcome == NOT_CHECKABLE  # no clip named


def test_the_table_and_json_hold_every_measure_and_no_nan(base):
    evidence = _compare(base, _gapped(base * 0.5))
    rows = evidence.table()
    assert [row["measure"] for row in rows] == [m.label for m in MEASURES.values()]
    loudness = next(row for row in rows if row["unit"] == "LUFS")
    assert loudness["above"] is True and -7.0 < loudness["difference"] < -6.0  # 6 dB down, and 0.4 s missing
    data = json.loads(json.dumps(evidence.to_dict(), allow_nan=False))
    assert data["differences"] == [state.sentence for state in evidence.findings]
    assert "| integrated loudness | LUFS |" in evidence.table_markdown()


def test_silence_and_tiny_clips_are_not_measurable_never_nan(base):
    silent = np.zeros(RATE, np.float32)
    evidence = _compare(silent, base)
    one = evidence.clips[0]
    assert one.values["loudness"] is None and one.reasons["loudness"] == "silent"
    assert one.values["speech"] is None and one.values["f0"] is None
    # silence against sound is a difference, of level and of length, never "identical"
    loudness = evidence.properties["loudness"]
    assert loudness.sign == 1 and loudness.sentence.startswith(
        "Audio 1 is silent (peak under -70 dBFS); audio 2 sounds"
    )
    duration = evidence.properties["duration"]
    assert duration.sign == 1 and "2.0 s longer than audio 1 (3.0 vs 1.0 s long)" in duration.sentence
    outcomes = {c.property: c.outcome for c in check_claims("They are identical. Audio 1 is quieter.", evidence)}
    assert outcomes == {"identical": CONTRADICTED, "loudness": SUPPORTED}
    json.dumps(evidence.to_dict(), allow_nan=False)
    for clip in (np.array([0.5], np.float32), base[: int(0.02 * RATE)], base[: int(0.04 * RATE)]):
        measured = measure_clip(clip, sampling_rate=RATE)
        assert all(v is None or math.isfinite(v) for v in measured.values.values())
        assert measured.values["f0"] is None and measured.values["loudness"] is None
        assert "shorter than" in measured.reasons["loudness"]
    short = measure_clip(base[: int(0.2 * RATE)], sampling_rate=RATE)
    assert short.values["loudness"] is None and short.values["level"] is not None  # the RMS level stands in
    claim = check_claims("Audio 1 is brighter.", evidence)[0]
    assert (
        claim.outcome == NOT_CHECKABLE
        and "not measurable" in claim.measurement
        and "audio 1: silent" in claim.measurement
    )


def test_bad_input_is_named(base, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        compare_clips(str(tmp_path / "missing.wav"), base, sampling_rate=RATE)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.wav"):
        compare_clips(base, str(empty), sampling_rate=RATE)
    with pytest.raises(ValueError, match="audio2: give sampling_rate"):
        compare_clips({"array": base, "sampling_rate": RATE}, base)
    with pytest.raises(ValueError, match="audio1: the waveform is empty"):
        compare_clips(np.zeros(0, np.float32), base, sampling_rate=RATE)
    with pytest.raises(ValueError, match="audio2: the waveform contains NaN"):
        compare_clips(base, np.full(100, np.nan, np.float32), sampling_rate=RATE)


def _pink(seconds: float, seed: int = 0) -> np.ndarray:
    """Pink noise from 20 Hz, 0.05 RMS: a steady sound with no decays, onsets or pitch."""
    count = int(seconds * RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(count))
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    spectrum[: int(20 * seconds)] = 0
    wave = np.fft.irfft(spectrum, count)
    return (0.05 * wave / wave.std()).astype(np.float32)


def test_a_change_to_one_clip_invents_nothing_about_the_other():
    import soxr

    pink = _pink(15)
    louder = pink.copy()
    louder[5 * RATE : 10 * RATE] *= 10 ** (12 / 20)  # +12 dB on 5 s of the copy
    found = _compare(pink, louder)
    assert [state.name for state in found.findings] == ["loudness"] and found.properties["loudness"].sign == 1
    assert found.clips[0].values["decay"] is None  # a steady noise's swings are not a room's decay
    # a copy resampled to 2 kHz: duller, and nothing about pitch, bass or noise of the unchanged clip
    narrow = _compare(pink, {"array": soxr.resample(pink, RATE, 2000), "sampling_rate": 2000})
    names = [state.name for state in narrow.findings]
    assert "treble" in names and narrow.properties["treble"].sentence.startswith("Audio 2 is duller")
    assert not {"bass", "noise", "pitch", "speed"} & set(names), narrow.sentences
    assert "treble cut" in narrow.properties["bass"].reason or narrow.properties["bass"].sign == 0


def test_loudness_is_gated_over_segments_as_pyloudnorm_gates_a_whole_clip(base):
    import pyloudnorm

    from adiff_hf.evidence.measures import ANALYSIS_RATE, _loudness_blocks, gated_loudness

    wave = np.concatenate([base * gain for gain in (1.0, 0.1, 0.5)])  # three levels: both gates at work
    y = soxr_resample(wave, RATE, ANALYSIS_RATE)
    whole = pyloudnorm.Meter(ANALYSIS_RATE).integrated_loudness(y.astype(np.float64))
    assert gated_loudness(_loudness_blocks(y)) == pytest.approx(whole, abs=1e-9)
    assert math.isnan(gated_loudness([-80.0, -90.0]))  # nothing over the absolute gate


def soxr_resample(wave, rate, target):
    import soxr

    return soxr.resample(wave, rate, target).astype(np.float32)


def test_a_long_clip_is_measured_in_segments_like_its_parts(base, tmp_path):
    from adiff_hf.evidence.measures import SEGMENT_SECONDS

    rng = np.random.default_rng(0)
    minute = np.tile(base, int(np.ceil(SEGMENT_SECONDS * RATE / len(base))))[: int(SEGMENT_SECONDS * RATE)]
    minute = minute + 0.002 * rng.standard_normal(len(minute)).astype(np.float32)
    long = np.tile(minute, 3)[: int(2.6 * SEGMENT_SECONDS * RATE)]  # three segments, the last one short
    path = tmp_path / "long.wav"
    sf.write(path, long, RATE, subtype="FLOAT")
    from_file, from_array = measure_clip(str(path)), measure_clip(long, sampling_rate=RATE)
    one = measure_clip(minute, sampling_rate=RATE).values
    for values in (from_file.values, from_array.values):
        assert values["duration"] == pytest.approx(2.6 * SEGMENT_SECONDS, abs=1e-3)
        assert values["loudness"] == pytest.approx(one["loudness"], abs=0.1)
        assert values["f0"] == pytest.approx(one["f0"], rel=0.02)
        assert values["centroid"] == pytest.approx(one["centroid"], rel=0.03)
        assert values["onset_rate"] == pytest.approx(one["onset_rate"], rel=0.05)
        assert values["silence"] == 0.0 and values["active_duration"] == pytest.approx(2.6 * SEGMENT_SECONDS, abs=0.1)
    assert from_file.values == pytest.approx(from_array.values, rel=1e-4, abs=1e-4)
    assert from_file.whole and from_file.span == (0.0, 2.6 * SEGMENT_SECONDS, 2.6 * SEGMENT_SECONDS)
    # what a model hearing 10 s heard: the first 10 s, said so
    heard = compare_clips(str(path), str(path), max_seconds=10.0)
    assert [clip.values["duration"] for clip in heard.clips] == [10.0, 10.0] and not heard.findings
    assert heard.scope == "what the model heard (audio 1: 0.0-10.0 s of 156.0 s; audio 2: 0.0-10.0 s of 156.0 s)"
    assert heard.to_dict()["measured"] == heard.scope
    centre = compare_clips(str(path), long, sampling_rate=RATE, max_seconds=10.0, crop="center").clips
    assert centre[0].span == centre[1].span == (73.0, 83.0, 156.0)
