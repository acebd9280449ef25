"""Aligning two recordings in time: the offset between them, from their level envelopes, refined on the waveform.

Both files are read block by block (never whole), so memory does not grow with their length beyond a 100-frames-
per-second level envelope (1.4 MB an hour).
"""

import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from ..audio_io import audio_info, iter_blocks, read_span

ANALYSIS_RATE = 8000  # both recordings are compared at this rate to align them: 0.125 ms a sample
ENVELOPE_RATE = 100  # level frames per second (10 ms)
MIN_SAMPLING_RATE = 4000  # below this a file is not audio to compare
_FLOOR_DB = 50.0  # envelopes are floored this far below their loudest frame, so silences weigh as silences
_REFINE_SECONDS = 2.0  # length of each waveform segment the coarse offset is refined on
_REFINE_SEARCH = 0.03  # and how far around the coarse offset (seconds; the envelope's frame is 0.01 s)
_REFINE_SEGMENTS = 5
# Common content: the envelopes' correlation at the best lag reaches MIN_CONFIDENCE and the waveforms match there
# (the refinement found a normalised waveform correlation of at least 0.5, either polarity), or, where they do not
# match within 30 ms (a heavy reverberation), it reaches MIN_CONFIDENCE_UNMATCHED, for recordings of at least 1 s.
# Measured on generated pairs (scenes, melodies, noise): same content (offsets, noise down to 0 dB SNR, -12 dB, a
# 1 kHz low-pass, 44.1 kHz, 2 s cut or inserted, polarity, all-pass) was 0.33-1.0 with a waveform match, reverberated
# copies 0.52-0.96; unrelated recordings were at most 0.29 with a match (the same source sounds at other times) and
# 0.63 without one (1 s to 1 min; 0.76 at 0.5 s, 0.99 at 0.2 s: two single notes).
MIN_CONFIDENCE = 0.3
MIN_CONFIDENCE_UNMATCHED = 0.8
_MIN_UNMATCHED_SECONDS = 1.0
_SAME_LENGTH_SECONDS = 0.01  # recordings this close in length are compared from their starts when nothing aligns


@dataclass
class Alignment:
    """How two recordings line up: audio 2 at time `t + offset_seconds` holds what audio 1 holds at time `t`.

    `confidence` is the envelopes' normalised correlation at the best offset (1: the same level contour; near 0: no
    common structure). `method` says where the offset comes from: `"found"` (common content found, `refined` when
    the waveforms confirmed it to a fraction of a sample), `"given"` (`offset_seconds` was passed), `"assumed"` (no
    common content found, but both recordings have one length: they are compared from their starts, offset 0) or
    `"none"` (no common content found; only with `strict=False`, the offset is then the best lag, not to be
    trusted). `start1`/`start2` are where the common span begins in each recording and `duration` its length.
    `envelope1`/`envelope2` are the level envelopes (dB, 100 frames a second, in each recording's own time), kept
    for plotting.
    """

    offset_seconds: float
    confidence: float
    duration1: float
    duration2: float
    sampling_rate1: int
    sampling_rate2: int
    refined: bool = False
    method: str = "found"
    envelope1: np.ndarray | None = field(default=None, repr=False)
    envelope2: np.ndarray | None = field(default=None, repr=False)

    @property
    def start1(self) -> float:
        return max(0.0, -self.offset_seconds)

    @property
    def start2(self) -> float:
        return max(0.0, self.offset_seconds)

    @property
    def duration(self) -> float:
        """The length of the span both recordings cover, once aligned."""
        return max(0.0, min(self.duration1 - self.start1, self.duration2 - self.start2))

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("envelope")}
        return data | {"start1": self.start1, "start2": self.start2, "duration": self.duration}


def check_paths(audio1, audio2, caller: str) -> None:
    """Both recordings must be file paths: long recordings are read in blocks from disk, never whole."""
    for name, audio in (("audio1", audio1), ("audio2", audio2)):
        if not isinstance(audio, (str, os.PathLike)):
            raise ValueError(
                f"{caller} takes two file paths, got {type(audio).__name__} for {name}: write an array to a WAV "
                "file first, e.g. soundfile.write('take1.wav', array, sampling_rate)."
            )


def finite_number(value, name: str, positive: bool = False) -> float:
    """`value` as a float, refusing NaN, infinities, non-numbers (and values <= 0 when `positive`); errors name it."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}.") from None
    if isinstance(value, bool) or not math.isfinite(number) or (positive and number <= 0):
        raise ValueError(f"{name} must be a finite{' positive' if positive else ''} number, got {value!r}.")
    return number


def check_recording(path, name: str):
    """`audio_info` of a recording to compare, refusing rates too low to be audio; errors name the file."""
    info = audio_info(path)
    if info.samplerate < MIN_SAMPLING_RATE:
        raise ValueError(
            f"{name} ({path}): a sampling rate of {info.samplerate} Hz is too low to compare recordings "
            f"(at least {MIN_SAMPLING_RATE} Hz)."
        )
    return info


def level_envelope(path, block_seconds: float = 30.0, progress=None) -> np.ndarray:
    """The file's level in dB (mean square, 0 dB = full scale) per 10 ms frame, read in blocks of `block_seconds`."""
    hop = ANALYSIS_RATE // ENVELOPE_RATE
    levels, rest = [], np.zeros(0, dtype=np.float32)
    for new in iter_blocks(path, block_seconds, ANALYSIS_RATE):
        block = np.concatenate([rest, new])
        frames = len(block) // hop
        power = np.square(block[: frames * hop], dtype=np.float64).reshape(frames, hop).mean(axis=1)
        levels.append(10 * np.log10(power + 1e-12))
        rest = block[frames * hop :]
        if progress is not None:
            progress.update(len(block) - len(rest))
    if len(rest):
        levels.append([10 * np.log10(np.mean(np.square(rest, dtype=np.float64)) + 1e-12)])
    return np.concatenate(levels) if levels else np.zeros(0)


def _contour(envelope: np.ndarray) -> np.ndarray:
    """The envelope as a zero-mean contour for correlation: floored below its peak, its slow trend removed."""
    floored = np.maximum(envelope, envelope.max() - _FLOOR_DB)
    # a centred 1 s moving average over the frames there are: zeros beyond the ends would pull the trend towards
    # 0 dB there, and those edge steps, alike in any two recordings of one length, would correlate at lag 0
    kernel, first = np.ones(ENVELOPE_RATE), (ENVELOPE_RATE - 1) // 2
    total = np.convolve(floored, kernel, mode="full")[first : first + len(floored)]
    count = np.convolve(np.ones(len(floored)), kernel, mode="full")[first : first + len(floored)]
    return floored - total / count


def _coarse_offset(env1: np.ndarray, env2: np.ndarray, min_overlap: int) -> tuple[int, float]:
    """The lag (frames) maximising the contours' correlation over overlaps of at least `min_overlap` frames."""
    c1, c2 = _contour(env1), _contour(env2)
    size = 1 << int(np.ceil(np.log2(len(c1) + len(c2))))
    corr = np.fft.irfft(np.fft.rfft(c2, size) * np.conj(np.fft.rfft(c1, size)), size)
    # corr[k] = sum c2[n + k] c1[n]; lags from -(len1 - 1) to len2 - 1
    lags = np.arange(-(len(c1) - 1), len(c2))
    values = np.concatenate([corr[size - (len(c1) - 1) :], corr[: len(c2)]])
    overlap = np.minimum(len(c1), len(c2) - lags) - np.maximum(0, -lags)
    allowed = overlap >= min_overlap
    if not allowed.any():
        return 0, 0.0
    values = np.where(allowed, values, -np.inf)
    best = int(np.argmax(values))
    norm = np.sqrt(np.sum(c1**2) * np.sum(c2**2))
    return int(lags[best]), float(values[best] / norm) if norm > 0 else 0.0


def _refine(path1, path2, coarse: float, envelope1: np.ndarray, duration: float) -> float | None:
    """The offset refined to a fraction of a sample at `ANALYSIS_RATE`: waveform cross-correlation within
    `_REFINE_SEARCH` of `coarse` on the most varied segments of audio 1; the median of the confident ones."""
    rate = ANALYSIS_RATE
    # 2 s segments, or the whole of a recording shorter than that
    frames = min(round(_REFINE_SECONDS * ENVELOPE_RATE), len(envelope1), int(duration * ENVELOPE_RATE))
    if frames < ENVELOPE_RATE // 10:
        return None
    seconds, usable = frames / ENVELOPE_RATE, len(envelope1) - frames
    variation = np.array([envelope1[i : i + frames].std() for i in range(0, max(usable, 1), frames)])
    picks = np.argsort(variation)[::-1][:_REFINE_SEGMENTS] * frames / ENVELOPE_RATE
    found = []
    for start in picks:
        if start + coarse < 0 or start + coarse + seconds > duration:
            continue
        one = read_span(path1, start, seconds, rate)
        two = read_span(path2, start + coarse - _REFINE_SEARCH, seconds + 2 * _REFINE_SEARCH, rate)
        if not one.any() or not two.any():
            continue
        corr = np.correlate(two, one, mode="valid")  # lag 0 at index round(search * rate)
        running = np.concatenate([[0.0], np.cumsum(np.square(two, dtype=np.float64))])
        energy = np.sqrt((running[len(one) :] - running[: -len(one)]) * np.sum(np.square(one, dtype=np.float64)))
        energy += 1e-12
        normalised = corr / energy
        k = int(np.argmax(np.abs(normalised)))  # either polarity: a copy wired the other way round still matches
        if abs(normalised[k]) < 0.5:  # the waveforms do not match here (a changed stretch): skip it
            continue
        shift = float(k)
        if 0 < k < len(corr) - 1:  # parabolic peak interpolation
            a, b, c = np.abs(corr[k - 1 : k + 2])
            if a - 2 * b + c != 0:
                shift += 0.5 * (a - c) / (a - 2 * b + c)
        found.append(coarse - _REFINE_SEARCH + shift / rate)
    return float(np.median(found)) if found else None


def align_recordings(
    audio1, audio2, offset_seconds: float | None = None, progress: bool = False, strict: bool = True
) -> Alignment:
    """Find how two recording files line up in time.

    Their level envelopes (10 ms frames, read in blocks at 8 kHz) are cross-correlated over every lag that leaves
    at least half the shorter recording overlapping; the best lag is refined on the waveforms of the most varied
    2 s segments. Recordings of different lengths, sampling rates and channel counts are fine.

    When no common content is found (see `MIN_CONFIDENCE`: unrelated recordings, silence, steady noise), two
    recordings of one length are compared from their starts (`method="assumed"`); otherwise a `ValueError` says so
    (with `strict=False` the best lag is returned with `method="none"`).

    Args:
        audio1, audio2: paths of the two recordings.
        offset_seconds (`float`, *optional*): a known offset (audio 2's time of audio 1's start); skips the search.
        progress (`bool`): show a progress bar while reading.
        strict (`bool`): refuse recordings without common content (unless they have one length).

    Returns:
        [`Alignment`].
    """
    from tqdm.auto import tqdm

    check_paths(audio1, audio2, "align_recordings")
    if offset_seconds is not None:
        offset_seconds = finite_number(offset_seconds, "offset_seconds")
    info1, info2 = check_recording(audio1, "audio1"), check_recording(audio2, "audio2")
    with tqdm(
        total=round((info1.duration + info2.duration) * ANALYSIS_RATE),
        desc="aligning",
        unit_scale=1 / ANALYSIS_RATE,
        unit="s",
        disable=not progress,
        leave=False,
    ) as bar:
        env1, env2 = level_envelope(audio1, progress=bar), level_envelope(audio2, progress=bar)
    alignment = Alignment(
        0.0, 0.0, info1.duration, info2.duration, info1.samplerate, info2.samplerate, envelope1=env1, envelope2=env2
    )
    if offset_seconds is not None:
        alignment.offset_seconds, alignment.confidence, alignment.method = offset_seconds, 1.0, "given"
        return alignment
    lag, confidence = _coarse_offset(env1, env2, min_overlap=max(1, min(len(env1), len(env2)) // 2))
    alignment.confidence = confidence
    refined = _refine(audio1, audio2, lag / ENVELOPE_RATE, env1, info2.duration) if confidence > 0 else None
    matched = refined is not None and confidence >= MIN_CONFIDENCE
    long_enough = min(info1.duration, info2.duration) >= _MIN_UNMATCHED_SECONDS  # shorter: any two notes look alike
    if matched or (long_enough and confidence >= MIN_CONFIDENCE_UNMATCHED):
        alignment.offset_seconds = lag / ENVELOPE_RATE if refined is None else refined
        alignment.refined = refined is not None
        return alignment
    if abs(info1.duration - info2.duration) <= _SAME_LENGTH_SECONDS:  # silence, steady noise, unrelated sound
        alignment.method = "assumed"
        return alignment
    if not strict:
        alignment.offset_seconds, alignment.method = lag / ENVELOPE_RATE, "none"
        return alignment
    if confidence < MIN_CONFIDENCE:
        needed = f"{confidence:.2f} < {MIN_CONFIDENCE}"
    elif long_enough:
        needed = f"{confidence:.2f} < {MIN_CONFIDENCE_UNMATCHED} without a waveform match"
    else:
        needed = f"{confidence:.2f} without a waveform match, which clips under {_MIN_UNMATCHED_SECONDS:g} s need"
    raise ValueError(
        f"No common content found between {os.fspath(audio1)} and {os.fspath(audio2)} (alignment confidence "
        f"{needed}): give offset_seconds (--offset) if the recordings are known to line up."
    )


__all__ = [
    "ANALYSIS_RATE",
    "ENVELOPE_RATE",
    "MIN_CONFIDENCE",
    "MIN_CONFIDENCE_UNMATCHED",
    "Alignment",
    "align_recordings",
    "check_recording",
    "level_envelope",
]
