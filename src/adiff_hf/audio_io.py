"""Reading and validating audio: the one place where bad audio is caught.

Everything that enters the model passes through `prepare_waveform`: it downmixes to mono, converts integer
PCM to float, resamples, and refuses empty or non-finite input with an error that names the input. `load_clip`
takes any form a user may give a clip in; `is_single_clip` tells one clip from a pair or a list of clips;
`fit_clip` cuts or fills a clip to the length a model hears.
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
        offset = {"start": 0, "center": overflow // 2}.get(crop)
        if offset is None:
            offset = np.random.randint(0, overflow + 1)
        return waveform[offset : offset + length]
    if len(waveform) < length and fill == "repeat":
        waveform = np.tile(waveform, length // len(waveform) + 1)[:length]
    elif len(waveform) < length and fill == "repeatpad":
        waveform = np.tile(waveform, length // len(waveform))
    return np.pad(waveform, (0, length - len(waveform)))


def load_audio(path: str | os.PathLike, target_sampling_rate: int) -> np.ndarray:
    """Read an audio file as mono float32 at `target_sampling_rate`, with errors that name the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Audio file not found: {path}")
    if os.path.getsize(path) == 0:
        raise ValueError(f"Audio file is empty (0 bytes): {path}")
    try:
        data, sampling_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types for unreadable input
        raise ValueError(f"Could not read audio file {path}: {err}") from err
    # soundfile gives (samples, channels): average the channels
    return prepare_waveform(data.mean(axis=1), sampling_rate, target_sampling_rate, name=path)


def is_single_clip(item) -> bool:
    """Whether `item` is one clip (a path, an array, a tensor, a list of samples or an `{"array", "sampling_rate"}`
    dict), as opposed to a pair or a list of clips."""
    if isinstance(item, (str, os.PathLike, dict, np.ndarray)) or hasattr(item, "detach"):
        return True
    return isinstance(item, (list, tuple)) and len(item) > 0 and isinstance(item[0], (int, float, np.number))


def load_clip(clip, sampling_rate: int | None, target_sampling_rate: int, name: str = "audio") -> np.ndarray:
    """One clip in any form [`is_single_clip`] accepts, as mono float32 at `target_sampling_rate`.

    A path is read from disk; a dict carries its own sampling rate; an array or a list of samples is at
    `sampling_rate` (the target rate when `None`). Errors name `name` (or the file).
    """
    if isinstance(clip, (str, os.PathLike)):
        return load_audio(clip, target_sampling_rate)
    if isinstance(clip, dict):
        if "array" not in clip or "sampling_rate" not in clip:
            raise ValueError(f"{name}: an audio dict needs the keys 'array' and 'sampling_rate', got {list(clip)}.")
        return prepare_waveform(clip["array"], clip["sampling_rate"], target_sampling_rate, name=name)
    rate = sampling_rate if sampling_rate is not None else target_sampling_rate
    return prepare_waveform(clip, rate, target_sampling_rate, name=name)
