"""Reading and validating audio: the one place where bad audio is caught.

Everything that enters the model passes through `prepare_waveform`: it downmixes to mono, converts integer
PCM to float, resamples, and refuses empty or non-finite input with an error that names the input. `load_clip`
takes any form a user may give a clip in; `is_single_clip` tells one clip from a pair or a list of clips;
`fit_clip` cuts or fills a clip to the length a model hears. `audio_info`, `read_span` and `iter_blocks` read long
files in bounded memory: what a file holds, one span of it (seeked), or all of it block by block.
"""

import os

import numpy as np
import soundfile
import soxr


def prepare_waveform(waveform, sampling_rate: int, target_sampling_rate: int, name: str = "audio") -> np.ndarray:
    """Return `waveform` as a finite mono float32 array at `target_sampling_rate`.

    A 2-D array is taken as multichannel audio whose smaller axis is the channel axis (`(channels, samples)` or
    `(samples, channels)`) and is averaged to mono. Integer PCM is scaled to [-1, 1).
    """
    if hasattr(waveform, "detach"):  # torch tensor, without importing torch here
        waveform = waveform.detach().cpu().numpy()
    array = np.asarray(waveform)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name}: expected a numeric waveform array, got dtype {array.dtype}.")
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / float(np.iinfo(array.dtype).max + 1)
    array = array.astype(np.float32, copy=False)
    if array.ndim == 2:
        channel_axis = 0 if array.shape[0] <= array.shape[1] else 1
        array = array.mean(axis=channel_axis)
    elif array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D (mono) or 2-D (multichannel) waveform, got shape {array.shape}.")
    if array.size == 0:
        raise ValueError(f"{name}: the waveform is empty (zero samples).")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: the waveform contains NaN or infinite samples.")
    if sampling_rate is None or int(sampling_rate) <= 0:
        raise ValueError(f"{name}: a positive sampling_rate is required, got {sampling_rate!r}.")
    if int(sampling_rate) != int(target_sampling_rate):
        array = soxr.resample(array, int(sampling_rate), int(target_sampling_rate)).astype(np.float32, copy=False)
    return array


CROP_MODES = ("start", "center", "random")
FILL_MODES = ("repeat", "repeatpad", "pad")


def crop_offset(overflow: int, crop: str) -> int:
    """Where a clip `overflow` samples too long is cut: at 0 (`"start"`), in the middle (`"center"`) or anywhere
    (`"random"`, the release's choice, for training)."""
    if crop == "start":
        return 0
    if crop == "center":
        return overflow // 2
    return int(np.random.randint(0, overflow + 1))


def fit_clip(waveform: np.ndarray, length: int, crop: str = "start", fill: str = "repeat") -> np.ndarray:
    """`waveform` cut or filled to exactly `length` samples, as ADIFF's release does for its 10 s clips.

    Args:
        waveform: a mono waveform.
        length: the samples the model hears.
        crop: where to cut a longer clip: `"start"`, `"center"` or `"random"` (the release's choice, for training).
        fill: how to fill a shorter one: `"repeat"` tiles it and cuts (the release's), `"repeatpad"` tiles whole
            copies, `"pad"` adds nothing; what is still missing is zeros.
    """
    if crop not in CROP_MODES:
        raise ValueError(f"crop must be one of {CROP_MODES}, got {crop!r}.")
    if fill not in FILL_MODES:
        raise ValueError(f"fill must be one of {FILL_MODES}, got {fill!r}.")
    overflow = len(waveform) - length
    if overflow > 0:
        offset = crop_offset(overflow, crop)
        return waveform[offset : offset + length]
    if len(waveform) < length and fill == "repeat":
        waveform = np.tile(waveform, length // len(waveform) + 1)[:length]
    elif len(waveform) < length and fill == "repeatpad":
        waveform = np.tile(waveform, length // len(waveform))
    return np.pad(waveform, (0, length - len(waveform)))


def audio_info(path: str | os.PathLike):
    """What a file holds (`samplerate`, `frames`, `channels`, `duration`) without reading its samples; errors
    name the file (missing, empty, unreadable, no samples)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Audio file not found: {path}")
    if os.path.getsize(path) == 0:
        raise ValueError(f"Audio file is empty (0 bytes): {path}")
    try:
        info = soundfile.info(path)
    except Exception as err:  # soundfile raises several types for unreadable input
        raise ValueError(f"Could not read audio file {path}: {err}") from err
    if info.frames <= 0:
        raise ValueError(f"Audio file has no samples: {path}")
    return info


# read this much more on each side of a span than is kept, so that the resampler's edges fall outside it
_RESAMPLE_MARGIN_SECONDS = 0.05


def read_span(path: str | os.PathLike, start: float, seconds: float, target_sampling_rate: int) -> np.ndarray:
    """`seconds` of a file from `start` (seconds; either end may lie outside the file, which reads as silence),
    as mono float32 at `target_sampling_rate`: exactly `round(seconds * target_sampling_rate)` samples.

    Only the frames needed are read (the file is seeked), so the cost does not depend on the file's length.
    """
    path = os.fspath(path)
    info = audio_info(path)
    rate = info.samplerate
    length = round(seconds * target_sampling_rate)
    margin = round(_RESAMPLE_MARGIN_SECONDS * rate) if rate != target_sampling_rate else 0
    first = round(start * rate)
    # the frames read: the span and a margin on each side, where the file has them (none before its start, so a
    # span from 0 resamples exactly as the whole file does)
    begin, end = max(first - margin, 0), min(first + round(seconds * rate) + margin, info.frames)
    out = np.zeros(length, dtype=np.float32)
    if end <= begin:
        return out
    try:
        with soundfile.SoundFile(path) as f:
            f.seek(begin)
            block = f.read(end - begin, dtype="float32", always_2d=True).mean(axis=1)
    except Exception as err:
        raise ValueError(f"Could not read audio file {path}: {err}") from err
    block = prepare_waveform(block, rate, target_sampling_rate, name=path)  # checked and resampled as any clip
    shift = round((first - begin) * target_sampling_rate / rate)  # where the span starts in `block` (< 0: before it)
    source, target = max(shift, 0), max(-shift, 0)
    count = max(0, min(length - target, len(block) - source))
    out[target : target + count] = block[source : source + count]
    return out


def iter_blocks(
    path: str | os.PathLike, block_seconds: float, target_sampling_rate: int | None = None, start: float = 0.0
):
    """Yield a file's audio from `start` (seconds) in consecutive mono float32 blocks of about `block_seconds`,
    resampled as one stream to `target_sampling_rate` (the file's own rate when `None`), never holding more than
    one block."""
    path = os.fspath(path)
    info = audio_info(path)
    rate = info.samplerate
    first = min(max(0, round(start * rate)), info.frames)
    resampler = None
    if target_sampling_rate is not None and target_sampling_rate != rate:
        resampler = soxr.ResampleStream(rate, target_sampling_rate, 1, dtype="float32")
    block_frames = max(1, round(block_seconds * rate))
    try:
        with soundfile.SoundFile(path) as f:
            f.seek(first)
            while True:
                data = f.read(block_frames, dtype="float32", always_2d=True)
                last = len(data) < block_frames or f.tell() >= info.frames
                mono = np.ascontiguousarray(data.mean(axis=1), dtype=np.float32)
                if not np.isfinite(mono).all():
                    raise ValueError(f"{path}: the waveform contains NaN or infinite samples.")
                if resampler is not None:
                    mono = resampler.resample_chunk(mono, last=last)
                if len(mono):
                    yield mono
                if last:
                    return
    except (soundfile.LibsndfileError, RuntimeError) as err:
        raise ValueError(f"Could not read audio file {path}: {err}") from err


def load_audio(
    path: str | os.PathLike, target_sampling_rate: int, max_seconds: float | None = None, crop: str = "start"
) -> np.ndarray:
    """Read an audio file as mono float32 at `target_sampling_rate`, with errors that name the file.

    With `max_seconds`, a longer file is cut where `crop` says (`"start"`, `"center"` or `"random"`) and only
    those frames are read: a one-hour file costs what its ten heard seconds cost.
    """
    info = audio_info(path)
    if max_seconds is not None and info.frames > round(max_seconds * info.samplerate):
        if crop not in CROP_MODES:
            raise ValueError(f"crop must be one of {CROP_MODES}, got {crop!r}.")
        offset = crop_offset(info.frames - round(max_seconds * info.samplerate), crop)
        return read_span(path, offset / info.samplerate, max_seconds, target_sampling_rate)
    try:
        data, sampling_rate = soundfile.read(os.fspath(path), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types for unreadable input
        raise ValueError(f"Could not read audio file {path}: {err}") from err
    # soundfile gives (samples, channels): average the channels
    return prepare_waveform(data.mean(axis=1), sampling_rate, target_sampling_rate, name=os.fspath(path))


def is_single_clip(item) -> bool:
    """Whether `item` is one clip (a path, an array, a tensor, a list of samples or an `{"array", "sampling_rate"}`
    dict), as opposed to a pair or a list of clips."""
    if isinstance(item, (str, os.PathLike, dict, np.ndarray)) or hasattr(item, "detach"):
        return True
    return isinstance(item, (list, tuple)) and len(item) > 0 and isinstance(item[0], (int, float, np.number))


def load_clip(
    clip,
    sampling_rate: int | None,
    target_sampling_rate: int,
    name: str = "audio",
    max_seconds: float | None = None,
    crop: str = "start",
) -> np.ndarray:
    """One clip in any form [`is_single_clip`] accepts, as mono float32 at `target_sampling_rate`.

    A path is read from disk (with `max_seconds`, only the span `crop` picks, see [`load_audio`]); a dict carries
    its own sampling rate; an array or a list of samples is at `sampling_rate` (the target rate when `None`).
    Errors name `name` (or the file).
    """
    if isinstance(clip, (str, os.PathLike)):
        return load_audio(clip, target_sampling_rate, max_seconds=max_seconds, crop=crop)
    if isinstance(clip, dict):
        if "array" not in clip or "sampling_rate" not in clip:
            raise ValueError(f"{name}: an audio dict needs the keys 'array' and 'sampling_rate', got {list(clip)}.")
        return prepare_waveform(clip["array"], clip["sampling_rate"], target_sampling_rate, name=name)
    rate = sampling_rate if sampling_rate is not None else target_sampling_rate
    return prepare_waveform(clip, rate, target_sampling_rate, name=name)


def format_hz(value: float) -> str:
    """A frequency as people read it: `"440 Hz"`, `"1.2 kHz"`."""
    return f"{value / 1000:.1f} kHz" if value >= 1000 else f"{value:.0f} Hz"
