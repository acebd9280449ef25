"""Formats libsndfile does not read (M4A/AAC, WebM/Opus, the soundtrack of an MP4 video) go through PyAV behind the
same readers: `audio_info`, `load_audio`, `read_span` and `iter_blocks` give what the source held, seek instead of
decoding from the start, and name the file in one line when it cannot be read."""

import json
from fractions import Fraction

import numpy as np
import pytest
import soundfile as sf

from adiff_hf import audio_io
from adiff_hf.audio_io import audio_info, iter_blocks, load_audio, read_span
from conftest import melody, noise

av = pytest.importorskip("av")

SECONDS = 3.0
# how far a lossy codec's decode may be shifted from its source (its start padding), searched for the best match
MAX_LAG = 2048


def source_signal(rate: int) -> np.ndarray:
    """Plucked notes with a little noise: onsets make the best lag unambiguous."""
    wave = melody(rate, notes=int(SECONDS / 0.25))
    return (wave + noise(len(wave) / rate, rate, amplitude=0.01)[: len(wave)]).astype(np.float32)


def encode(path, rate: int, codec: str | None, channels: int = 1, video: bool = False, seconds: float = SECONDS):
    """Write `source_signal` (or `seconds` of it, repeated) with PyAV's encoder; stereo holds it and half of it."""
    wave = np.resize(source_signal(rate), round(seconds * rate))
    planes = np.stack([wave, 0.5 * wave])[:channels]
    with av.open(str(path), "w") as out:
        if video:
            picture = out.add_stream("mpeg4", rate=25)
            picture.width, picture.height, picture.pix_fmt = 32, 32, "yuv420p"
        if codec is not None:
            audio = out.add_stream(codec, rate=rate)
            audio.layout = "mono" if channels == 1 else "stereo"
            for i in range(0, planes.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(planes[:, i : i + 1024]), format="fltp", layout=audio.layout.name
                )
                frame.sample_rate, frame.pts, frame.time_base = rate, i, Fraction(1, rate)
                out.mux(audio.encode(frame))
            out.mux(audio.encode(None))
        if video:
            for k in range(round(seconds * 25)):
                image = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 8 * k % 256, dtype=np.uint8), format="rgb24")
                image.pts = k
                out.mux(picture.encode(image))
            out.mux(picture.encode(None))
    return path


def has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except Exception:
        return False
    return True


# name: (file, rate, codec, channels, video, one codec frame in samples)
FORMATS = {
    "m4a-aac": ("voice.m4a", 44100, "aac", 1, False, 1024),
    "webm-opus": ("browser.webm", 48000, "libopus", 1, False, 960),
    "ogg-opus": ("call.ogg", 48000, "libopus", 1, False, 960),
    "mp3": ("song.mp3", 44100, "libmp3lame", 1, False, 1152),
    "mp4-video-aac-stereo": ("film.mp4", 44100, "aac", 2, True, 1024),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("formats")
    made = {}
    for key, (name, rate, codec, channels, video, _) in FORMATS.items():
        if has_encoder(codec):
            made[key] = encode(d / name, rate, codec, channels, video)
    made["video-only"] = encode(d / "silent_film.mp4", 44100, None, video=True, seconds=1.0)
    made["garbage"] = d / "garbage.m4a"
    made["garbage"].write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    made["directory"] = d / "recordings.m4a"
    made["directory"].mkdir()
    made["wav"] = d / "reference.wav"
    sf.write(made["wav"], source_signal(32000), 32000)
    return made


def expected(key: str) -> np.ndarray:
    _, rate, _, channels, _, _ = FORMATS[key]
    return source_signal(rate) * (0.75 if channels == 2 else 1.0)  # stereo: the mean of the signal and its half


def best_match(decoded: np.ndarray, reference: np.ndarray, max_lag: int = MAX_LAG) -> tuple[float, int]:
    """The highest (normalised) correlation of `reference` with `decoded` shifted by up to `max_lag` samples, and
    that lag."""
    core = reference[max_lag : len(reference) - max_lag].astype(np.float64)
    padded = np.pad(decoded.astype(np.float64), (0, max(0, len(reference) - len(decoded))))[: len(reference)]
    size = 1 << int(np.ceil(np.log2(len(padded) + len(core))))
    corr = np.fft.irfft(np.fft.rfft(padded, size) * np.conj(np.fft.rfft(core, size)), size)[: 2 * max_lag + 1]
    running = np.concatenate([[0.0], np.cumsum(padded**2)])
    energy = np.sqrt((running[len(core) : len(core) + 2 * max_lag + 1] - running[: 2 * max_lag + 1]) * np.sum(core**2))
    scores = corr / (energy + 1e-12)
    best = int(np.argmax(scores))
    return float(scores[best]), best - max_lag


def pick(files, key):
    if key not in files:
        pytest.skip(f"this PyAV wheel has no {FORMATS[key][2]} encoder")
    return files[key]


@pytest.mark.parametrize("key", FORMATS)
def test_info_states_rate_and_duration(files, key):
    _, rate, _, channels, _, frame = FORMATS[key]
    info = audio_info(pick(files, key))
    assert info.samplerate == rate
    assert info.channels == channels
    assert abs(info.duration - SECONDS) <= frame / rate, info.duration
    assert info.frames == pytest.approx(info.duration * rate)


@pytest.mark.parametrize("key", FORMATS)
def test_load_audio_matches_the_source(files, key):
    rate = FORMATS[key][1]
    decoded = load_audio(pick(files, key), rate)
    assert decoded.dtype == np.float32 and abs(len(decoded) - SECONDS * rate) <= FORMATS[key][5]
    correlation, lag = best_match(decoded, expected(key))
    assert correlation > 0.9, (correlation, lag)
    level = np.std(decoded) / np.std(expected(key))
    assert 0.8 < level < 1.2, level  # the channels' mean, at the source's scale
    assert len(load_audio(files[key], 16000)) == pytest.approx(len(decoded) * 16000 / rate, abs=2)


@pytest.mark.parametrize("key", FORMATS)
def test_read_span_is_that_span(files, key):
    path, rate = pick(files, key), FORMATS[key][1]
    start, seconds = 1.3, 1.0
    span = read_span(path, start, seconds, rate)
    assert len(span) == round(seconds * rate)
    correlation, lag = best_match(span, expected(key)[round(start * rate) - MAX_LAG :][: len(span) + 2 * MAX_LAG])
    assert correlation > 0.9, (correlation, lag)
    # seeked, yet where the whole decode has it
    whole = load_audio(path, rate)[round(start * rate) :][: len(span)]
    assert np.corrcoef(span, whole)[0, 1] > 0.99
    # past the end reads as silence, at another rate too
    assert not read_span(path, SECONDS + 1, 0.5, 16000).any()
    assert len(read_span(path, start, seconds, 16000)) == 16000


@pytest.mark.parametrize("key", FORMATS)
def test_iter_blocks_is_the_whole_decode(files, key):
    path, rate = pick(files, key), FORMATS[key][1]
    whole = load_audio(path, rate)
    blocks = list(iter_blocks(path, 0.4))
    assert max(len(b) for b in blocks) <= round(0.4 * rate)
    np.testing.assert_allclose(np.concatenate(blocks), whole, atol=1e-6)
    # from 1 s: seeked there, the same samples (as near as a decoder restarted mid-stream gives: AAC's noise
    # substitution draws new noise)
    later = np.concatenate(list(iter_blocks(path, 0.4, start=1.0)))
    assert len(later) == len(whole) - round(1.0 * rate)
    assert np.corrcoef(later, whole[round(1.0 * rate) :])[0, 1] > 0.99
    resampled = np.concatenate(list(iter_blocks(path, 0.4, 16000)))
    assert len(resampled) == pytest.approx(len(whole) * 16000 / rate, abs=2)


def test_reading_late_in_a_long_file_decodes_only_what_it_needs(tmp_path, monkeypatch):
    path = encode(tmp_path / "long.m4a", 16000, "aac", seconds=40.0)
    decoded = []
    real = audio_io._frame_to_mono
    monkeypatch.setattr(audio_io, "_frame_to_mono", lambda frame: decoded.append(frame.samples) or real(frame))
    whole = 40 * 16000 / 1024  # frames in the file
    assert audio_info(path).duration == pytest.approx(40.0, abs=0.07)
    assert sum(decoded) == 0  # the container says how long it is
    span = read_span(path, 37.0, 0.5, 16000)
    assert span.any() and len(decoded) < whole / 10, len(decoded)
    decoded.clear()
    blocks = list(iter_blocks(path, 1.0, start=38.0))
    assert sum(len(b) for b in blocks) == pytest.approx(2.0 * 16000, abs=1024)
    assert len(decoded) < whole / 10, len(decoded)
    decoded.clear()
    assert len(load_audio(path, 16000, max_seconds=2.0, crop="center")) == 32000
    assert len(decoded) < whole / 10, len(decoded)


@pytest.mark.parametrize("planar", [True, False])
@pytest.mark.parametrize(("dtype", "scale", "zero"), [("s16", 32768, 0), ("s32", 2**31, 0), ("u8", 128, 128)])
def test_any_sample_format_is_mono_float(dtype, scale, zero, planar):
    left = np.array([0.5, -0.25, 0.0, 0.75])
    right = np.array([-0.5, 0.25, 0.5, 0.25])
    numpy_type = {"s16": np.int16, "s32": np.int32, "u8": np.uint8}[dtype]
    planes = np.stack([left, right]) * scale + zero
    array = planes if planar else planes.T.reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(
        array.astype(numpy_type), format=dtype + ("p" if planar else ""), layout="stereo"
    )
    mono = audio_io._frame_to_mono(frame)
    assert mono.dtype == np.float32
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-6)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("video-only", r"has no audio stream: .*silent_film\.mp4"),
        ("garbage", r"Could not read audio file .*garbage\.m4a"),
        ("directory", r"directory, not a file: .*recordings\.m4a"),
    ],
)
def test_unreadable_files_are_named_in_one_line(files, key, message):
    path = files[key]
    readers = [
        audio_info,
        lambda p: load_audio(p, 16000),
        lambda p: read_span(p, 0.0, 1.0, 16000),
        lambda p: list(iter_blocks(p, 1.0)),
    ]
    for read in readers:
        with pytest.raises(ValueError, match=message) as caught:
            read(path)
        assert "\n" not in str(caught.value)


def test_cli_measures_an_m4a_against_a_wav(files, capsys):
    from adiff_hf.serving import cli

    status = cli.main(["measure", str(pick(files, "m4a-aac")), str(files["wav"]), "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    result = json.loads(captured.out)
    assert result["audio1"].endswith("voice.m4a") and "evidence" in result
