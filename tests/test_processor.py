"""Processor and front end: prompt preparation, labels, decoding and every audio input form."""

import numpy as np
import pytest
import soundfile

from adiff_hf import ADiffFeatureExtractor
from conftest import noise, tone

DETAIL = "explain the difference between the two audio in detail"


def test_prompt_is_prepared_like_the_release(processor):
    out = processor(text=DETAIL, audio=(tone(440, 1), tone(880, 1)), sampling_rate=32000)
    ids = out["input_ids"][0].tolist()
    assert ids[:12] == [20676, 391, 262, 3580, 1022, 262, 734, 6597, 287, 3703, 220, 50256]
    assert ids[12:] == [0] * 28 and len(ids) == 40
    assert tuple(out["input_features"].shape) == (1, 2, 1001, 64)


def test_overlong_prompt_is_refused_with_the_limit(processor):
    with pytest.raises(ValueError, match="prompt_length=40"):
        processor(text=" ".join(["word"] * 45), audio=(tone(440, 1), tone(880, 1)), sampling_rate=32000)


def test_exclamation_marks_survive_decoding(processor):
    ids = processor.tokenizer("Audio 1 is loud! Audio 2 is quiet.")["input_ids"] + [220, 50256, 50256]
    assert processor.batch_decode([ids]) == ["Audio 1 is loud! Audio 2 is quiet."]
    assert "!" not in processor.tokenizer.all_special_tokens


def test_labels_mask_prefix_and_padding(processor):
    out = processor(
        text=[DETAIL, DETAIL],
        audio=[(tone(440, 1), tone(880, 1)), (noise(1), tone(220, 1))],
        answer=["Louder.", "The second audio is a low tone while the first is noise."],
        sampling_rate=32000,
    )
    labels = out["labels"]
    assert (labels[:, :121] == -100).all()
    short = processor.tokenizer("Louder. <|endoftext|>")["input_ids"]
    assert labels[0, 121 : 121 + len(short)].tolist() == short
    assert (labels[0, 121 + len(short) :] == -100).all() and (labels[1, 121:] != -100).all()
    truncated = processor(text=DETAIL, audio=(tone(440, 1), tone(880, 1)), answer="a b c d e f", max_answer_length=3)
    assert truncated["labels"].shape[1] == 121 + 3


def test_paths_dicts_and_arrays_give_the_same_features(processor, tmp_path):
    a, b = tone(440, 2), noise(2)
    soundfile.write(tmp_path / "a.wav", a, 32000, subtype="FLOAT")
    from_paths = processor(text=DETAIL, audio=(str(tmp_path / "a.wav"), {"array": b, "sampling_rate": 32000}))
    from_arrays = processor(text=DETAIL, audio=[(a, b)], sampling_rate=32000)
    np.testing.assert_allclose(from_paths["input_features"], from_arrays["input_features"], atol=1e-6)


def test_stereo_is_downmixed_and_other_rates_resampled(processor, tmp_path):
    mono = tone(440, 2)
    stereo = np.stack([mono, mono], axis=1)  # (samples, channels)
    out_stereo = processor(text=DETAIL, audio=(stereo, stereo.T), sampling_rate=32000)["input_features"]
    out_mono = processor(text=DETAIL, audio=(mono, mono), sampling_rate=32000)["input_features"]
    np.testing.assert_allclose(out_stereo, out_mono, atol=1e-5)
    for rate in (8000, 44100, 96000):
        soundfile.write(tmp_path / f"t{rate}.wav", tone(440, 2, rate=rate), rate)
        resampled = processor(text=DETAIL, audio=(str(tmp_path / f"t{rate}.wav"), mono))["input_features"]
        # the 440 Hz band dominates the same way whatever rate it came in at
        assert resampled[0, 0].mean(axis=0).argmax() == out_mono[0, 0].mean(axis=0).argmax()


def test_long_clips_are_cropped_deterministically(processor):
    rng = np.random.default_rng(1)
    long = rng.standard_normal(32000 * 60).astype(np.float32) * np.linspace(0.01, 1, 32000 * 60, dtype=np.float32)
    first = processor(text=DETAIL, audio=(long, long), sampling_rate=32000)["input_features"]
    second = processor(text=DETAIL, audio=(long, long), sampling_rate=32000)["input_features"]
    np.testing.assert_array_equal(first, second)
    start = ADiffFeatureExtractor()(long[: 32000 * 10], sampling_rate=32000)["input_features"][0]
    np.testing.assert_allclose(first[0, 0], start[0], atol=1e-5)
    center = processor(text=DETAIL, audio=(long, long), sampling_rate=32000, crop="center")["input_features"]
    assert float(np.abs(center - first).max()) > 1.0  # the quiet start and the louder middle really differ


def test_short_clips_are_tiled_like_the_release():
    extractor = ADiffFeatureExtractor()
    clip = noise(3)
    tiled = np.tile(clip, 4)[: 32000 * 10]
    np.testing.assert_allclose(extractor(clip)["input_features"], extractor(tiled)["input_features"], atol=1e-6)


def test_batched_features_are_claps_own():
    """The batched torch log-mel gives exactly what ClapFeatureExtractor's per-clip loop gives."""
    from transformers import ClapFeatureExtractor

    extractor = ADiffFeatureExtractor()
    rng = np.random.default_rng(0)
    clips = [(10.0 ** rng.uniform(-5, 0) * rng.standard_normal(32000 * 10)).astype(np.float32) for _ in range(5)]
    clips += [tone(440, 3), np.zeros(32000, dtype=np.float32), noise(0.2)]
    ours = extractor(clips)["input_features"]
    reference = ClapFeatureExtractor.__call__(extractor, clips, sampling_rate=32000)["input_features"]
    assert ours.shape == (8, 1, 1001, 64) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, np.asarray(reference, dtype=np.float32))


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        ((np.zeros(0, dtype=np.float32), tone(440, 1)), r"audio\[0\]\[0\].*empty"),
        ((np.full(100, np.nan, dtype=np.float32), tone(440, 1)), r"audio\[0\]\[0\].*NaN"),
        ((tone(440, 1), np.array([np.inf] * 10, dtype=np.float32)), r"audio\[0\]\[1\].*infinite"),
        ((tone(440, 1),), "pair of two clips"),
        ((tone(440, 1), tone(440, 1), tone(440, 1)), "got 3"),
        (("missing.wav", tone(440, 1)), "not found: missing.wav"),
        (({"array": tone(440, 1)}, tone(440, 1)), "sampling_rate"),
    ],
)
def test_bad_audio_is_named(processor, audio, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        processor(text=DETAIL, audio=audio, sampling_rate=32000)


def test_bad_files_and_lengths_are_named(processor, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.wav"):
        processor(text=DETAIL, audio=(str(empty), tone(440, 1)))
    text_file = tmp_path / "notes.wav"
    text_file.write_text("not audio at all")
    with pytest.raises(ValueError, match="Could not read audio file .*notes.wav"):
        processor(text=DETAIL, audio=(str(text_file), tone(440, 1)))
    with pytest.raises(ValueError, match="2 prompts .* 1 audio pairs"):
        processor(text=[DETAIL, DETAIL], audio=[(tone(440, 1), tone(440, 1))], sampling_rate=32000)


def test_integer_pcm_is_scaled():
    extractor = ADiffFeatureExtractor()
    clip = tone(440, 1)
    pcm = (clip * 32768).astype(np.int16)
    from_pcm = extractor(pcm, sampling_rate=32000)["input_features"]
    reference = extractor(clip)["input_features"]
    loud = reference > reference.max() - 30  # int16 quantisation noise only lifts the empty bands
    assert loud.sum() > 1000
    np.testing.assert_allclose(from_pcm[loud], reference[loud], atol=0.05)
