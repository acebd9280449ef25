"""Reading and validating audio: the one place where bad audio is caught.

Everything that enters the model passes through `prepare_waveform`: it downmixes to mono, converts integer
PCM to float, resamples, and refuses empty or non-finite input with an error that names the input. `load_clip`
takes any form a user may give a clip in; `is_single_clip` tells one clip from a pair or a list of clips;
`fit_clip` cuts or fills a clip to the length a model hears. `audio_info`, `read_span` and `iter_blocks` read long
files in bounded memory: what a file holds, one span of it (seeked), or all of it block by block.

Files are opened in one place, `_open_source`: soundfile (libsndfile: WAV, FLAC, OGG, MP3, ...) when it knows the
format, else PyAV (FFmpeg: M4A/AAC, WebM/Opus, the soundtrack of MP4 and other videos, ...).
"""

import contextlib
import dataclasses
import os
import re

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


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _why(err: BaseException, path: str) -> str:
    """A library's error as a short reason: without the path it repeats and without an errno."""
    text = _one_line(err).replace(f"Error opening {path!r}: ", "").replace(f": {path!r}", "")
    return re.sub(r"^\[Errno -?\d+\] ", "", text).rstrip(".")


def _read_error(path: str, err) -> ValueError:
    return ValueError(f"Could not read audio file {path}: {_one_line(err)}")


def _import_av():
    """PyAV, or `None` where it is not installed (inside `try`, so that remote code does not require it)."""
    try:
        import av
    except ImportError:
        return None
    return av


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """What a file PyAV reads holds, under the names of soundfile's `info`: `samplerate`, `frames`, `channels`,
    `duration` (and `name`, `format` the container, `subtype` the codec)."""

    name: str
    samplerate: int
    frames: int
    channels: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate


class _SoundfileSource:
    """A file libsndfile reads (WAV, FLAC, OGG Vorbis/Opus, MP3, ...): the fast path, with exact frame counts."""

    def __init__(self, path: str):
        self.path = path
        self.info = soundfile.info(path)
        self._file = None

    def _open(self):
        if self._file is None:
            self._file = soundfile.SoundFile(self.path)
        return self._file

    def seek(self, frame: int) -> None:
        try:
            self._open().seek(frame)
        except Exception as err:  # soundfile raises several types for unreadable input
            raise _read_error(self.path, err) from err

    def read(self, count: int | None = None) -> np.ndarray:
        try:
            data = self._open().read(-1 if count is None else count, dtype="float32", always_2d=True)
        except Exception as err:
            raise _read_error(self.path, err) from err
        return np.ascontiguousarray(data.mean(axis=1), dtype=np.float32)

    def at_end(self) -> bool:
        return self._open().tell() >= self.info.frames

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _frame_to_mono(frame) -> np.ndarray:
    """One decoded PyAV frame in any sample format (planar or packed, integer or float) as mono float32."""
    array = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        array = array.reshape(-1, channels).T
    if array.dtype.kind == "u":
        half = float(np.iinfo(array.dtype).max + 1) / 2
        array = (array.astype(np.float32) - half) / half
    elif array.dtype.kind == "i":
        array = array.astype(np.float32) / float(np.iinfo(array.dtype).max + 1)
    return array.astype(np.float32, copy=False).mean(axis=0, dtype=np.float32)


# decoding starts this long before a seek target: codecs need a few frames to settle (Opus asks for 80 ms, MP3's
# bit reservoir and AAC's overlap less); the samples before the target are decoded and dropped
_SEEK_PREROLL_SECONDS = 0.25


class _PyAVSource:
    """A file only FFmpeg reads (M4A/AAC, WebM, MP4 and other video soundtracks, ...): its main audio stream,
    decoded frame by frame. Positions count samples decoded from the stream's start; after a seek, they start from a
    decoded frame's timestamp, corrected to that count (see `_timestamp_offset`). `frames` is the length the container
    states; the decode may hold a codec frame's padding more or less (cut off where the container is exact)."""

    def __init__(self, path: str, av):
        self.path, self._av = path, av
        self._container = av.open(path)
        try:
            self._stream = self._container.streams.best("audio")
            if self._stream is None:
                kinds = sorted({s.type for s in self._container.streams}) or ["none"]
                raise ValueError(f"Audio file has no audio stream: {path} (its streams: {', '.join(kinds)})")
            context = self._stream.codec_context
            self._rate = int(context.sample_rate or self._stream.rate or 0)
            if self._rate <= 0:
                raise ValueError(f"Could not read audio file {path}: its audio stream states no sampling rate")
            self._origin = self._stream.start_time or 0  # the stream's first timestamp, in its time base
            self._offset = None  # see _timestamp_offset
            self._start()
            self.info = AudioInfo(
                path, self._rate, self._stated_frames(), context.channels, self._container.format.name, context.name
            )
            # MP4/M4A/MOV state their audio's length exactly (the edit list), but FFmpeg's decode keeps the codec's
            # end padding: stop there. Elsewhere a stated length may be an estimate, and the decode is the truth.
            exact = self._stream.duration and "mp4" in self._container.format.name.split(",")
            self._end = self.info.frames if exact else None
        except BaseException:
            self._container.close()
            raise

    def _start(self) -> None:
        """Decode from the first sample (the file reopened, so that a codec's start padding is skipped as at open)."""
        if hasattr(self, "_frames"):
            self._container.close()
            self._container = self._av.open(self.path)
            self._stream = self._container.streams.best("audio")
        self._frames = self._container.decode(self._stream)
        self._pending, self._position, self._exhausted = np.zeros(0, dtype=np.float32), 0, False

    def _samples(self, pts) -> int:
        return round((pts - self._origin) * self._stream.time_base * self._rate)

    def _stated_frames(self) -> int:
        """The stream's length as the container states it (stream, then container); else from the packets'
        timestamps (demuxed, not decoded); else from a full decode."""
        if self._stream.duration:
            return round(self._stream.duration * self._stream.time_base * self._rate)
        if self._container.duration:
            return round(self._container.duration * self._rate / self._av.time_base)
        end = None
        for packet in self._container.demux(self._stream):
            if packet.pts is not None and packet.duration:
                end = max(end or 0, packet.pts + packet.duration)
        self._start()
        if end is not None:
            return self._samples(end)
        total = 0
        while not self._exhausted:
            total += len(self._next())
        self._start()
        return total

    def _next(self) -> np.ndarray:
        """The next decoded frame's samples (empty, and `_exhausted` set, at the end)."""
        try:
            frame = next(self._frames, None)
        except Exception as err:  # PyAV raises its FFmpegError subclasses for corrupt data
            raise _read_error(self.path, err) from err
        if frame is None:
            self._exhausted, self._last_pts = True, None
            return np.zeros(0, dtype=np.float32)
        self._last_pts = frame.pts
        return _frame_to_mono(frame)

    def _timestamp_offset(self) -> int:
        """How far (samples) a frame's timestamp puts it after where decoding from the start does: 0 with exact
        timestamps; not with coarse ones (WebM counts milliseconds) or when a codec's start padding shifts them.
        Measured once, on the second frame decoded from the start (the first one may be trimmed)."""
        if self._offset is None:
            self._offset = 0
            with contextlib.closing(self._av.open(self.path)) as container:
                count = 0
                for index, frame in enumerate(container.decode(container.streams.best("audio"))):
                    if index == 1 and frame.pts is not None:
                        self._offset = self._samples(frame.pts) - count
                    if index >= 1:
                        break
                    count += frame.samples
        return self._offset

    def seek(self, frame: int) -> None:
        frame = max(0, int(frame))
        back = round(_SEEK_PREROLL_SECONDS * self._rate)
        if self._position <= frame <= self._position + back:  # close ahead: decode on to it
            self.read(frame - self._position)
            return
        while frame - back > 0:
            target = self._origin + int((frame - back) / (self._stream.time_base * self._rate))
            try:
                self._container.seek(target, stream=self._stream, backward=True)
            except Exception:  # a container that cannot seek: decode from the start instead
                break
            self._frames, self._exhausted = self._container.decode(self._stream), False
            # the first frame after a seek may be trimmed (its timestamp moved): place it by the second one's
            first = self._next()
            first_pts = self._last_pts
            second = self._next()
            pts = self._last_pts if len(second) else first_pts
            if not len(first):  # seeked past the end (a container that states more than it holds): seek back
                back *= 4
                continue
            if pts is None:  # no timestamps: decode from the start
                break
            self._pending = np.concatenate([first, second])
            self._position = self._samples(pts) - self._timestamp_offset() - (len(first) if len(second) else 0)
            if self._position <= frame:
                self.read(frame - self._position)
                return
            back *= 4  # the seek landed after the target: seek further back
        self._start()
        self.read(frame)

    def read(self, count: int | None = None) -> np.ndarray:
        if self._end is not None:
            left = max(0, self._end - self._position)
            count = left if count is None else min(count, left)
        chunks, have = [], 0
        while count is None or have < count:
            if not len(self._pending):
                if self._exhausted:
                    break
                self._pending = self._next()
                continue
            take = self._pending if count is None else self._pending[: count - have]
            self._pending = self._pending[len(take) :]
            chunks.append(take)
            have += len(take)
        self._position += have
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)

    def at_end(self) -> bool:
        return (self._exhausted and not len(self._pending)) or (self._end is not None and self._position >= self._end)

    def close(self) -> None:
        self._container.close()


@contextlib.contextmanager
def _open_source(path: str):
    """The one place a file is opened: soundfile when libsndfile knows the format, else PyAV (FFmpeg). Errors name
    the file: missing, a directory, empty, unreadable by both, without an audio stream, without samples."""
    if os.path.isdir(path):
        raise ValueError(f"Audio path is a directory, not a file: {path}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Audio file not found: {path}")
    if os.path.getsize(path) == 0:
        raise ValueError(f"Audio file is empty (0 bytes): {path}")
    try:
        source = _SoundfileSource(path)
    except Exception as sf_err:  # soundfile raises several types for unreadable input
        av = _import_av()
        if av is None:
            raise ValueError(
                f"Could not read audio file {path}: {_why(sf_err, path)} (for M4A/AAC, WebM, video and other formats "
                "libsndfile does not read, install PyAV: `pip install av`)"
            ) from sf_err
        try:
            source = _PyAVSource(path, av)
        except av.FFmpegError as err:  # neither library reads it
            raise _read_error(path, f"{_why(sf_err, path)} (libsndfile); {_why(err, path)} (FFmpeg)") from err
        except ValueError:  # ours, naming the file (no audio stream, no sampling rate)
            raise
        except Exception as err:
            raise _read_error(path, f"{_why(sf_err, path)} (libsndfile); {_why(err, path)} (PyAV)") from err
    try:
        if source.info.frames <= 0:
            raise ValueError(f"Audio file has no samples: {path}")
        yield source
    finally:
        source.close()


def audio_info(path: str | os.PathLike):
    """What a file holds (`samplerate`, `frames`, `channels`, `duration`) without reading its samples; errors
    name the file (missing, a directory, empty, unreadable, no audio stream, no samples).

    soundfile's `info` where libsndfile reads the file, else an [`AudioInfo`] from PyAV (M4A/AAC, WebM, video
    soundtracks, ...), whose `frames` is the length the container states.
    """
    with _open_source(os.fspath(path)) as source:
        return source.info


# read this much more on each side of a span than is kept, so that the resampler's edges fall outside it
_RESAMPLE_MARGIN_SECONDS = 0.05


def read_span(path: str | os.PathLike, start: float, seconds: float, target_sampling_rate: int) -> np.ndarray:
    """`seconds` of a file from `start` (seconds; either end may lie outside the file, which reads as silence),
    as mono float32 at `target_sampling_rate`: exactly `round(seconds * target_sampling_rate)` samples.

    Only the frames needed are read (the file is seeked), so the cost does not depend on the file's length.
    """
    path = os.fspath(path)
    with _open_source(path) as source:
        return _read_span(source, start, seconds, target_sampling_rate)


def _read_span(source, start: float, seconds: float, target_sampling_rate: int) -> np.ndarray:
    rate = source.info.samplerate
    length = round(seconds * target_sampling_rate)
    margin = round(_RESAMPLE_MARGIN_SECONDS * rate) if rate != target_sampling_rate else 0
    first = round(start * rate)
    # the frames read: the span and a margin on each side, where the file has them (none before its start, so a
    # span from 0 resamples exactly as the whole file does)
    begin, end = max(first - margin, 0), min(first + round(seconds * rate) + margin, source.info.frames)
    out = np.zeros(length, dtype=np.float32)
    if end <= begin:
        return out
    source.seek(begin)
    block = source.read(end - begin)
    if not len(block):  # past the decoded end of a file whose container states a little more
        return out
    block = prepare_waveform(block, rate, target_sampling_rate, name=source.path)  # checked and resampled
    shift = round((first - begin) * target_sampling_rate / rate)  # where the span starts in `block` (< 0: before it)
    src, target = max(shift, 0), max(-shift, 0)
    count = max(0, min(length - target, len(block) - src))
    out[target : target + count] = block[src : src + count]
    return out


def iter_blocks(
    path: str | os.PathLike, block_seconds: float, target_sampling_rate: int | None = None, start: float = 0.0
):
    """Yield a file's audio from `start` (seconds) in consecutive mono float32 blocks of about `block_seconds`,
    resampled as one stream to `target_sampling_rate` (the file's own rate when `None`), never holding more than
    one block."""
    path = os.fspath(path)
    with _open_source(path) as source:
        rate = source.info.samplerate
        first = min(max(0, round(start * rate)), source.info.frames)
        resampler = None
        if target_sampling_rate is not None and target_sampling_rate != rate:
            resampler = soxr.ResampleStream(rate, target_sampling_rate, 1, dtype="float32")
        block_frames = max(1, round(block_seconds * rate))
        source.seek(first)
        while True:
            mono = source.read(block_frames)
            last = len(mono) < block_frames or source.at_end()
            if not np.isfinite(mono).all():
                raise ValueError(f"{path}: the waveform contains NaN or infinite samples.")
            if resampler is not None:
                mono = resampler.resample_chunk(mono, last=last)
            if len(mono):
                yield mono
            if last:
                return


def load_audio(
    path: str | os.PathLike, target_sampling_rate: int, max_seconds: float | None = None, crop: str = "start"
) -> np.ndarray:
    """Read an audio file as mono float32 at `target_sampling_rate`, with errors that name the file.

    With `max_seconds`, a longer file is cut where `crop` says (`"start"`, `"center"` or `"random"`) and only
    those frames are read: a one-hour file costs what its ten heard seconds cost.
    """
    path = os.fspath(path)
    with _open_source(path) as source:
        info = source.info
        if max_seconds is not None and info.frames > round(max_seconds * info.samplerate):
            if crop not in CROP_MODES:
                raise ValueError(f"crop must be one of {CROP_MODES}, got {crop!r}.")
            offset = crop_offset(info.frames - round(max_seconds * info.samplerate), crop)
            return _read_span(source, offset / info.samplerate, max_seconds, target_sampling_rate)
        data = source.read()
    return prepare_waveform(data, info.samplerate, target_sampling_rate, name=path)


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
    Errors name `name` (or the file). A `datasets` cell left undecoded (`{"bytes", "path"}`) is read as
    [`decode_cell`] reads it.
    """
    if isinstance(clip, dict) and "array" not in clip:
        clip = decode_cell(clip, name=name)
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


def decode_cell(cell, root: str = ".", name: str = "audio"):
    """A `datasets` audio cell read without torchcodec, as a clip everything else takes: a path string as it is
    (relative to `root`), and an undecoded `Audio` cell (`Audio(decode=False)`: `{"bytes", "path"}`) as its file's
    path when it holds no bytes, else as `{"array", "sampling_rate"}` decoded from the bytes (any format soundfile
    or FFmpeg reads; errors name the cell's path, or `name`)."""
    if isinstance(cell, (str, os.PathLike)):
        return resolve_path(os.fspath(cell), root)
    if not isinstance(cell, dict) or ("bytes" not in cell and "path" not in cell) or "array" in cell:
        return cell
    data, path = cell.get("bytes"), cell.get("path")
    if not data:
        if not path:
            raise ValueError(f"{name}: an audio cell with neither bytes nor a path.")
        return resolve_path(path, root)
    import io
    import tempfile

    label = path or name
    try:  # most cells hold WAV or FLAC: read in memory
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
        if len(samples):
            return {"array": np.ascontiguousarray(samples.mean(axis=1)), "sampling_rate": int(rate)}
    except Exception:  # noqa: BLE001 - soundfile raises several types; the file path below names the error
        pass
    suffix = os.path.splitext(path or "")[1]
    with tempfile.TemporaryDirectory() as folder:  # other formats, and every error, as a file is read
        copy = os.path.join(folder, f"audio{suffix}")
        with open(copy, "wb") as f:
            f.write(data)
        try:
            with _open_source(copy) as source:
                samples, rate = source.read(), int(source.info.samplerate)
        except (ValueError, FileNotFoundError) as err:
            raise ValueError(str(err).replace(copy, label)) from None
    return {"array": samples, "sampling_rate": rate}


PAIR_COLUMNS = ("audio1", "audio2")


def pairs_dataset(dataset, name: str = "dataset"):
    """A `datasets.Dataset` of pairs with its two audio columns as `audio1` and `audio2` (renamed from its two
    `Audio` columns, in order, where it has no such names), `Audio` ones left undecoded (`Audio(decode=False)`:
    read here by [`decode_cell`], without torchcodec). Raises ValueError naming `name` where it has no two audio
    columns."""
    import datasets

    audio = [column for column, feature in dataset.features.items() if isinstance(feature, datasets.Audio)]
    if not set(PAIR_COLUMNS) <= set(dataset.column_names):
        if len(audio) != 2:
            raise ValueError(
                f"{name}: a dataset of pairs needs the columns audio1 and audio2, or two Audio columns; it has "
                f"{', '.join(dataset.column_names)}."
            )
        dataset = dataset.rename_columns(dict(zip(audio, PAIR_COLUMNS, strict=True)))
    for column in PAIR_COLUMNS:
        if isinstance(dataset.features[column], datasets.Audio):
            dataset = dataset.cast_column(column, datasets.Audio(decode=False))
    return dataset


def resolve_path(path: str, root: str) -> str:
    """`path` as it is when absolute, else under `root` (a data file's folder, an audio root), normalised."""
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(root, path))
