"""The hardened input path: every bad input gets a clear error naming the file or argument, through the processor,
the pipeline and the CLI; odd but valid input works and stays finite and deterministic."""

import numpy as np
import pytest
import soundfile as sf
import torch
import transformers

import adiff_hf
from adiff_hf.serving import cli
from conftest import noise, tone

GEN = {"max_new_tokens": 4}


@pytest.fixture(scope="module")
def pipe(tiny_adiff_dir):
    return transformers.pipeline("audio-difference", model=str(tiny_adiff_dir))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    made = {"good": d / "good.wav", "empty": d / "empty.wav", "text": d / "notes.wav", "header": d / "header.wav"}
    sf.write(made["good"], tone(440, 1, 16000), 16000)
    made["empty"].write_bytes(b"")
    made["text"].write_text("this is not audio\n")
    full = d / "full.wav"
    sf.write(full, noise(2, 16000), 16000, subtype="PCM_16")
    data = full.read_bytes()
    made["header"].write_bytes(data[:30])  # cut inside the header: unreadable
    made["truncated"] = d / "truncated.wav"
    made["truncated"].write_bytes(data[: len(data) // 2 + 1])  # cut mid-data: the frames present are read
    made["silent"] = d / "silent.wav"
    sf.write(made["silent"], np.zeros(16000, dtype=np.float32), 16000)
    made["stereo"] = d / "stereo.wav"
    sf.write(made["stereo"], np.stack([tone(440, 1, 44100), noise(1, 44100)], axis=1), 44100)
    made["six_channels"] = d / "six.wav"
    sf.write(made["six_channels"], np.stack([tone(200 * (i + 1), 1, 32000) for i in range(6)], axis=1), 32000)
    for rate in (8000, 44100, 96000):
        made[f"rate_{rate}"] = d / f"rate_{rate}.wav"
        sf.write(made[f"rate_{rate}"], tone(440, 1, rate), rate)
    made["long"] = d / "long.wav"
    sf.write(made["long"], np.concatenate([tone(300 + 50 * i, 10, 16000) for i in range(6)]), 16000)  # 60 s
    made["missing"] = d / "missing.wav"
    return made


FILE_ERRORS = [("missing", "missing.wav"), ("empty", "empty.wav"), ("text", "notes.wav"), ("header", "header.wav")]


@pytest.mark.parametrize(("case", "name"), FILE_ERRORS)
def test_bad_files_are_named_by_processor_pipeline_and_cli(pipe, files, tiny_adiff_dir, capsys, case, name):
    with pytest.raises((FileNotFoundError, ValueError), match=name):
        pipe.processor(text="caption the first audio", audio=(str(files[case]), str(files["good"])))
    with pytest.raises((FileNotFoundError, ValueError), match=name):
        pipe(str(files["good"]), str(files[case]), **GEN)
    status = cli.main(["explain", str(files[case]), str(files["good"]), "--model", str(tiny_adiff_dir)])
    error = capsys.readouterr().err
    assert status == 1 and name in error and "adiff-hf explain: error:" in error and "Traceback" not in error


ARRAY_ERRORS = [
    (np.zeros(0, dtype=np.float32), r"audio\[0\]\[1\].*empty"),
    (np.array([0.1, np.nan] * 800, dtype=np.float32), r"audio\[0\]\[1\].*NaN or infinite"),
    (np.array([0.1, np.inf] * 800, dtype=np.float32), r"audio\[0\]\[1\].*NaN or infinite"),
]


@pytest.mark.parametrize(("array", "message"), ARRAY_ERRORS)
def test_bad_arrays_are_named(pipe, array, message):
    good = tone(440, 1)
    with pytest.raises(ValueError, match=message):
        pipe.processor(text="caption the first audio", audio=(good, array))
    with pytest.raises(ValueError, match=message.replace(r"audio\[0\]\[1\]", "audio")):
        pipe(good, array, **GEN)


def test_pairs_and_lists_that_do_not_fit(pipe):
    a = tone(440, 1)
    with pytest.raises(ValueError, match=r"audio\[0\] must be a pair of two clips .* got 3"):
        pipe.processor(text=["x"], audio=[(a, a, a)])
    with pytest.raises(ValueError, match=r"audio\[1\] must be a pair of two clips .* got 1"):
        pipe.processor(text=["x", "y"], audio=[(a, a), (a,)])
    with pytest.raises(ValueError, match="2 prompts .* for 1 audio pairs"):
        pipe.processor(text=["x", "y"], audio=[(a, a)])
    with pytest.raises(ValueError, match="answers for 1 audio pairs"):
        pipe.processor(text=["x"], audio=[(a, a)], answer=["p", "q"])
    with pytest.raises(ValueError, match="audio2 missing"):
        pipe({"audio1": a, "audio2": None})
    with pytest.raises(ValueError, match=r"audio\[0\] must be a pair"):
        pipe([(a, a, a)])


@pytest.mark.parametrize(
    "case", ["silent", "stereo", "six_channels", "rate_8000", "rate_44100", "rate_96000", "truncated"]
)
def test_odd_but_valid_files_work_and_stay_finite(pipe, files, tiny_adiff_dir, capsys, case):
    inputs = pipe.processor(text="caption both the audios", audio=(str(files[case]), str(files["good"])))
    assert inputs["input_features"].shape == (1, 2, 1001, 64) and torch.isfinite(inputs["input_features"]).all()
    with torch.no_grad():
        logits = pipe.model(**inputs).logits
    assert torch.isfinite(logits).all()
    text = pipe(str(files[case]), str(files["good"]), **GEN)[0]["generated_text"]
    assert isinstance(text, str)
    assert (
        cli.main(
            ["explain", str(files[case]), str(files["good"]), "--model", str(tiny_adiff_dir), "--max-new-tokens", "4"]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == text


def test_channels_are_averaged_and_rates_resampled(pipe, files):
    extractor = pipe.processor.feature_extractor
    stereo, rate = sf.read(files["stereo"], dtype="float32")
    from_file = pipe.processor(text="x", audio=(str(files["stereo"]), str(files["good"])))["input_features"][0, 0]
    mono = extractor(stereo.mean(axis=1), sampling_rate=rate, return_tensors="pt")["input_features"][0, 0]
    torch.testing.assert_close(from_file, mono)
    low = pipe.processor(text="x", audio=(str(files["rate_8000"]), str(files["rate_96000"])))["input_features"][0]
    # a 440 Hz tone is the same tone at any rate: the strongest mel bin agrees
    assert low[0].mean(0).argmax() == low[1].mean(0).argmax()


def test_a_60_second_clip_is_deterministic(pipe, files):
    runs = [pipe(str(files["long"]), str(files["good"]), **GEN)[0]["generated_text"] for _ in range(2)]
    assert runs[0] == runs[1]
    first_10s = sf.read(files["long"], dtype="float32")[0][: 10 * 16000]
    features = pipe.processor(text="x", audio=(str(files["long"]), first_10s), sampling_rate=16000)["input_features"][0]
    # the start of the clip is what is heard, every time (the last frames see the resampler's edge: cut vs continued)
    torch.testing.assert_close(features[0][:-8], features[1][:-8], atol=1e-3, rtol=1e-4)


def test_integer_pcm_prompts_and_their_limits(pipe):
    clip = tone(440, 1)
    pcm = (clip * 32767).astype(np.int16)
    as_int = pipe(pcm, clip, **GEN)
    assert as_int == pipe((pcm / 32768.0).astype(np.float32), clip, **GEN)  # integer PCM is scaled, not clipped
    with pytest.raises(ValueError, match="prompt_length=40"):
        pipe(clip, clip, prompt="explain " * 60, **GEN)
    with pytest.raises(ValueError, match="non-empty string"):
        pipe(clip, clip, prompt="", **GEN)
    with pytest.raises(ValueError, match=r"text\[0\] is empty"):
        pipe.processor(text=[" "], audio=[(clip, clip)])


def test_silence_through_the_model_is_finite(pipe):
    silent = np.zeros(32000, dtype=np.float32)
    inputs = pipe.processor(text="explain the difference in detail", audio=(silent, silent))
    with torch.no_grad():
        out = pipe.model(**inputs, output_hidden_states=False)
        prefix = pipe.model.get_prefix_embeds(inputs["input_ids"], inputs["input_features"])
    assert torch.isfinite(out.logits).all() and torch.isfinite(prefix).all()
    assert isinstance(pipe(silent, silent, **GEN)[0]["generated_text"], str)
    assert adiff_hf.ADiffProcessor is type(pipe.processor)
