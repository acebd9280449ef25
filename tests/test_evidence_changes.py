"""The measures for echo, reverberation, saturation, compression, bit-crushing, codecs and reversal, on generated audio:
a change of known size is found on the right clip, and an unchanged or merely louder copy gets no such finding."""

import numpy as np
import pytest

from adiff_hf.data.changes import RATE, apply_change, describe_change
from adiff_hf.evidence import check_claims, compare_clips, parse_claims
from adiff_hf.evidence.measures import loudness_range, measure_clip


def _source(seconds: float = 4.0, seed: int = 0) -> np.ndarray:
    """Percussive events: noise bursts and tone blips that start sharply and decay in 80-200 ms, peak 0.7."""
    rng = np.random.default_rng(seed)
    wave = np.zeros(int(seconds * RATE))
    for start in np.arange(0.15, seconds - 0.4, 0.45):
        length = int(0.3 * RATE)
        t = np.arange(length) / RATE
        decay = np.exp(-t / rng.uniform(0.03, 0.07))
        tone = np.sin(2 * np.pi * rng.uniform(200, 900) * t)
        event = (0.6 * tone + 0.4 * rng.standard_normal(length)) * decay * rng.uniform(0.3, 1.0)
        begin = int(start * RATE)
        wave[begin : begin + length] += event
    return (0.7 * wave / np.abs(wave).max()).astype(np.float32)


def _changed(name: str, value: float, how: str | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    source = _source(seed=seed)
    change = describe_change(name, value)
    return source, apply_change(source, change, np.random.default_rng(seed), implementation=how)


def _evidence(one, two):
    return compare_clips(one, two, sampling_rate=RATE)


@pytest.fixture(scope="module")
def plain():
    """The source against a copy 6 dB quieter: only loudness differs."""
    source = _source()
    return _evidence(source, source * 10 ** (-6 / 20))


def test_a_quieter_copy_is_no_echo_reverb_saturation_compression_crush_or_reversal(plain):
    assert [state.name for state in plain.findings] == ["loudness"]
    for name in ("echo", "reverb", "distortion", "compression", "bitcrush", "codec"):
        assert plain.properties[name].sign == 0, name
    assert plain.properties["reverse"].present == (False, False)


@pytest.mark.parametrize("how", ["taps", "pedalboard"])
def test_an_echo_is_found_with_its_delay(how):
    source, echoing = _changed("echo", 0.25, how)
    evidence = _evidence(echoing, source)
    state = evidence.properties["echo"]
    assert state.sign == -1 and state.sentence.startswith("Audio 1 echoes")
    assert abs(state.numbers["delay_s"] - 0.25) < 0.005


@pytest.mark.parametrize("how", ["convolution", "pedalboard"])
def test_reverberation_is_found_on_the_reverberant_clip(how):
    source, wet = _changed("reverb", 0.8, how)
    state = _evidence(source, wet).properties["reverb"]
    assert state.sign == 1 and "Audio 2 is more reverberant" in state.sentence


@pytest.mark.parametrize("how", ["tanh", "pedalboard", "asymmetric"])
def test_saturation_is_found_and_its_peaks_count_as_clipped(how):
    source, driven = _changed("distortion", 25.0, how)
    evidence = _evidence(source, driven)
    state = evidence.properties["distortion"]
    assert state.sign == 1 and state.numbers["audio2_crest_db"] < state.numbers["audio1_crest_db"] - 2
    assert evidence.properties["clipping"].present == (False, True)


def test_compression_squeezes_the_level_of_the_compressed_clip_only():
    source, squashed = _changed("compression", -35.0)
    state = _evidence(squashed, source).properties["compression"]
    assert state.sign == -1 and state.sentence.startswith("Audio 1 is compressed")
    assert state.numbers["level_slope_2_per_1"] > 1.5


@pytest.mark.parametrize("bits", [3, 7])
def test_bit_crushing_is_found_by_its_few_coarse_levels(bits):
    source, crushed = _changed("bitcrush", float(bits))
    state = _evidence(source, crushed).properties["bitcrush"]
    assert state.sign == 1
    assert state.numbers["audio2_levels_bits"] <= bits + 1 and state.numbers["audio1_levels_bits"] > 12


def test_a_quiet_clip_is_not_bit_crushed():
    source = _source()
    state = _evidence(source, source * 10 ** (-40 / 20)).properties["bitcrush"]
    assert state.sign == 0


def test_reversal_is_a_relation_both_clips_have():
    source, backwards = _changed("reverse", 1.0)
    state = _evidence(source, backwards).properties["reverse"]
    assert state.present == (True, True) and state.numbers["backward_match"] > 0.9
    assert state.numbers["forward_match"] < 0.7


def test_loudness_range_matches_ebu_tech_3342_first_case():
    # EBU Tech 3342 test 1: 20 s of a 1 kHz tone at -20 dBFS then 20 s at -30 dBFS: LRA 10 LU (±1)
    t = np.arange(20 * 22_050) / 22_050
    tone = np.sin(2 * np.pi * 1000 * t)
    wave = np.concatenate([tone * 10 ** (-20 / 20), tone * 10 ** (-30 / 20)]).astype(np.float32)
    measured = measure_clip(wave, 22_050)
    assert measured.values["loudness_range"] == pytest.approx(10.0, abs=1.0)
    assert np.isnan(loudness_range([-20.0] * 10))  # under 3 s: no short-term window


def test_claims_about_the_new_measures_are_checked():
    source, echoing = _changed("echo", 0.3, "taps")
    evidence = _evidence(source, echoing)
    claims = {claim.clip: claim for claim in check_claims("Audio 1 has an echo. Audio 2 repeats.", evidence)}
    assert claims[1].property == claims[2].property == "echo"
    assert claims[1].outcome == "contradicted" and claims[2].outcome == "supported"
    names = [c.property for c in parse_claims("Audio 2 is distorted, grainy and compressed; audio 1 is reversed.")]
    assert names == ["distortion", "bitcrush", "compression", "reverse"]
    codec = check_claims("Audio 2 sounds like a phone call.", evidence)
    assert [(c.property, c.outcome) for c in codec] == [("codec", "not checkable")]  # not aligned as a codec: no cut


@pytest.mark.parametrize("variant", ["gsm", "mp3"])
def test_a_codec_is_found_on_the_coded_clip(variant):
    source = _source()
    change = describe_change("codec", 0.0 if variant == "gsm" else 9.0, variant)
    coded = apply_change(source, change, np.random.default_rng(0))
    evidence = _evidence(coded, source)
    state = evidence.properties["codec"]
    assert state.sign == -1 and state.sentence.startswith("Audio 1 sounds codec-degraded")
    # GSM keeps about 4 kHz (its coding noise reaches 6), MP3 at its lowest quality 7.5 kHz, of the source's 10
    assert state.numbers["audio1_top_ratio"] < (0.6 if variant == "gsm" else 0.8)
    assert state.numbers["audio1_residual_db"] < 24 and state.numbers["audio2_top_ratio"] > 1
    claims = {c.clip: c.outcome for c in check_claims("Audio 1 sounds like a phone line; audio 2 is lossy.", evidence)}
    assert claims == {1: "supported", 2: "contradicted"}


def test_a_filter_with_the_same_cut_is_no_codec():
    source, filtered = _changed("lowpass", 3_500.0, "brickwall")
    evidence = _evidence(source, filtered)
    assert evidence.properties["treble"].sign == -1  # audio 2 duller
    state = evidence.properties["codec"]
    assert state.sign == 0 and state.numbers["audio2_top_ratio"] < 0.5
    assert state.numbers["audio2_residual_db"] > 35  # a filter carries the pass band almost exactly
