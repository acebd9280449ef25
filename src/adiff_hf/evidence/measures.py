"""Per-clip measurements a sound engineer would check, with the field's libraries.

Loudness follows ITU-R BS.1770 (`pyloudnorm`); spectra, pitch (`librosa.pyin`) and onsets come from `librosa`;
speech presence from `silero-vad` (its PyPI wheel ships the model). Every measure has a unit and a
just-noticeable threshold (see `MEASURES`): a difference between two clips is reported only above it. A measure
that cannot be taken (a silent clip, a clip shorter than the measure's window, an unpitched sound) is `None` with
the reason in `ClipMeasurements.reasons`; a value is never NaN.
"""

import functools
import os
from dataclasses import dataclass, field

import numpy as np

from ..audio_io import audio_info, crop_offset, decode_cell, iter_blocks, load_clip, read_span

ANALYSIS_RATE = 22_050  # spectra, loudness, onsets, envelopes
VOICE_RATE = 16_000  # silero-vad's rate
PITCH_RATE = 8_000  # pyin below 8 kHz is four times cheaper and still hears up to 1.6 kHz
N_FFT, HOP = 2048, 512
ENVELOPE_HOP = 256  # 11.6 ms: the level envelope for gaps and decays
SILENCE_DBFS = -70.0  # below this a frame is silent, whatever the clip's level
ACTIVE_RANGE_DB = 45.0  # a frame this far under the clip's loud level counts as silent
MIN_GAP_SECONDS = 0.1
LOUDNESS_BLOCK_SECONDS = 0.4  # BS.1770's gating block
MIN_DECAY_FALL_DB = 8.0  # a decay is fitted only where the level falls at least this far after an onset
MAX_DECAY_SECONDS = 10.0  # longer than a cathedral's: what a slower fall measures is not a room
EXCERPT_SECONDS = 20.0  # the waveform kept for comparing two clips sample by sample
SHORT_TERM_BLOCKS = 27  # 400 ms blocks every 100 ms that span EBU's 3 s short-term window


@dataclass(frozen=True)
class Measure:
    """One measure: what it is, its unit, and the smallest difference between two clips that is reported.

    `threshold` is an absolute difference in `unit` when `relative` is False, else a ratio (1.25: 25% more).
    """

    name: str
    label: str
    unit: str
    threshold: float
    relative: bool
    why: str


MEASURES = {
    m.name: m
    for m in (
        Measure("duration", "duration", "s", 0.1, False, "the file's length; 0.1 s is well above timing JNDs"),
        Measure(
            "active_duration",
            "active duration",
            "s",
            1.08,
            True,
            "first to last non-silent frame; 8% (and at least 0.1 s) is about twice the duration JND",
        ),
        Measure(
            "loudness",
            "integrated loudness",
            "LUFS",
            1.0,
            False,
            "ITU-R BS.1770 (pyloudnorm); 1 LU is the usual just-noticeable level difference",
        ),
        Measure(
            "level",
            "RMS level",
            "dBFS",
            1.0,
            False,
            "RMS over the active frames; stands in for loudness in clips shorter than BS.1770's 0.4 s block",
        ),
        Measure("peak", "sample peak", "dBFS", 1.0, False, "the largest sample; 1 dB as for loudness"),
        Measure(
            "clipped",
            "clipped samples",
            "%",
            0.1,
            False,
            "samples on flat tops (3 or more equal samples at the clip's peak); above 0.1% clipping is audible",
        ),
        Measure(
            "silence",
            "longest silence",
            "s",
            MIN_GAP_SECONDS,
            False,
            f"the longest stretch under {ACTIVE_RANGE_DB:.0f} dB below the clip's loud level (or "
            f"{SILENCE_DBFS:.0f} dBFS) inside its active span; 0.1 s gaps are clearly heard",
        ),
        Measure(
            "centroid",
            "spectral centroid",
            "Hz",
            1.15,
            True,
            "the spectral centre of mass (librosa) of the same spectrum as the edges; 15% is above the brightness "
            "JND (~5-10%)",
        ),
        Measure(
            "high_edge",
            "high-frequency edge",
            "Hz",
            1.25,
            True,
            "librosa's 85% spectral roll-off, on the loudest quarter of the frames with the noise floor taken out "
            "(so that hiss does not pass for treble); 25%: a treble cut",
        ),
        Measure(
            "low_edge",
            "low-frequency edge",
            "Hz",
            1.25,
            True,
            "librosa's 10% spectral roll-off, on the same spectrum; 25%: a bass cut",
        ),
        Measure("bandwidth", "spectral bandwidth", "Hz", 1.15, True, "the spectrum's spread around its centroid"),
        Measure(
            "flatness",
            "spectral flatness",
            "dB",
            3.0,
            False,
            "geometric over arithmetic mean of the long-term power spectrum (librosa), in dB; noise-like is near 0",
        ),
        Measure(
            "f0",
            "fundamental frequency",
            "Hz",
            1.0,
            False,
            "median pyin f0 over voiced frames, when at least 25% of frames are voiced; compared in semitones, "
            "1 semitone (pitch JND is ~0.1-0.3 semitone; the margin absorbs tracking error)",
        ),
        Measure(
            "onset_rate",
            "onset rate",
            "1/s",
            1.25,
            True,
            "librosa onsets per second of active duration; 25%",
        ),
        Measure("tempo", "tempo", "BPM", 1.08, True, "librosa's tempo estimate, with 4 or more onsets; 8%"),
        Measure(
            "snr",
            "SNR estimate",
            "dB",
            6.0,
            False,
            "mean spectrum power over the noise floor (per frequency, the 10th percentile over time), over the band "
            "the clip holds (within 60 dB of its strongest bin); 6 dB, and the noisier clip's floor 3 dB higher",
        ),
        Measure(
            "decay",
            "decay time (RT60 estimate)",
            "s",
            1.5,
            True,
            "60 dB over the median level slope after onsets (energy envelope), where the level falls 8 dB or more "
            "and at most 10 s results; 50% and at least 0.1 s",
        ),
        Measure(
            "crest",
            "crest factor",
            "dB",
            3.0,
            False,
            "sample peak over the RMS level of the active frames; saturation, clipping and limiting lower it; 3 dB",
        ),
        Measure(
            "loudness_range",
            "loudness range (LRA)",
            "LU",
            3.0,
            False,
            "EBU Tech 3342: the 10th to 95th percentile of the 3 s short-term loudness (BS.1770, every 0.1 s), gated "
            "at -70 LUFS and 20 LU under the mean; clips of 3 s or more; 3 LU",
        ),
        Measure(
            "levels",
            "distinct sample values",
            "bits",
            3.0,
            False,
            "log2 of how many distinct sample values the clip takes, at its own rate; a bit-crushed clip takes a few "
            "dozen; 3 bits (8 times fewer)",
        ),
        Measure(
            "step",
            "quantisation step",
            "dBFS",
            24.0,
            False,
            "the median gap between adjacent distinct sample values (16-bit audio: -90 dBFS); coarse quantisation "
            "makes it large; 24 dB (16 times coarser)",
        ),
        Measure(
            "speech",
            "speech",
            "s",
            0.3,
            False,
            "seconds silero-vad calls speech (probability over 0.5); 0.3 s is a word or two",
        ),
    )
}


@dataclass
class ClipMeasurements:
    """The measurements of one clip: `values[name]` in `MEASURES[name].unit`, or `None` with `reasons[name]`.

    `gaps` lists the clip's silences inside its active span as `(start_s, length_s)`; `speech_segments` the spans
    silero-vad calls speech. The level envelope (`envelope_db`, `active`, every `ENVELOPE_HOP` samples at
    `ANALYSIS_RATE`), the onset envelope (every `HOP`), the power `spectrum` of the loudest quarter of the active
    frames (its shape), the `long_term_spectrum` of all of them and the `noise_floor` (`N_FFT` bins) are kept for
    comparing clips, and the first `EXCERPT_SECONDS` of the waveform at `ANALYSIS_RATE` (`excerpt`) for the measures
    only two clips together show (`adiff_hf.evidence.pair`). `span` is `(start, end, length)` in seconds: what was
    measured of a recording that long.
    """

    values: dict = field(default_factory=dict)
    reasons: dict = field(default_factory=dict)
    gaps: list = field(default_factory=list)
    speech_segments: list = field(default_factory=list)
    onset_envelope: np.ndarray | None = field(default=None, repr=False)
    envelope_db: np.ndarray | None = field(default=None, repr=False)
    active: np.ndarray | None = field(default=None, repr=False)
    spectrum: np.ndarray | None = field(default=None, repr=False)
    long_term_spectrum: np.ndarray | None = field(default=None, repr=False)
    noise_floor: np.ndarray | None = field(default=None, repr=False)
    excerpt: np.ndarray | None = field(default=None, repr=False)
    name: str = "audio"
    span: tuple[float, float, float] | None = None

    def set(self, name: str, value, reason: str | None = None) -> None:
        if value is None or not np.isfinite(value):
            self.values[name], self.reasons[name] = None, reason or "not measurable"
        else:
            self.values[name] = float(value)

    def to_dict(self) -> dict:
        return {
            "values": dict(self.values),
            "reasons": dict(self.reasons),
            "gaps": [[round(s, 3), round(n, 3)] for s, n in self.gaps],
            "speech_segments": [[round(s, 3), round(e, 3)] for s, e in self.speech_segments],
            "measured": None if self.span is None else dict(zip(("start", "end", "length"), self.span, strict=True)),
        }

    @property
    def whole(self) -> bool:
        """Whether all of the recording was measured."""
        return self.span is None or (self.span[0] <= 0 and self.span[1] >= self.span[2] - 1e-6)


def native_rate(clip, sampling_rate: int | None, name: str) -> int:
    """The rate a clip was recorded at: a file's own, a dict's, or `sampling_rate` for an array (required)."""
    if isinstance(clip, (str, os.PathLike)):
        return int(audio_info(clip).samplerate)
    if isinstance(clip, dict) and "sampling_rate" in clip:
        return int(clip["sampling_rate"])
    if sampling_rate is None:
        raise ValueError(f"{name}: give sampling_rate=... with a waveform array, so that it can be measured.")
    return int(sampling_rate)


def _db(power):
    return 10.0 * np.log10(np.maximum(power, 1e-20))


def _clipped_percent(wave: np.ndarray) -> float:
    """Share of samples on flat tops at the clip's own peak (runs of 3+): hard clipping, whatever the gain after."""
    magnitude = np.abs(wave)
    at_peak = magnitude >= magnitude.max() - 1e-4
    # runs of at least 3 consecutive samples at the peak
    padded = np.concatenate([[False], at_peak, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    starts, ends = edges[::2], edges[1::2]
    lengths = ends - starts
    return 100.0 * lengths[lengths >= 3].sum() / len(wave)


def _quantisation(wave: np.ndarray) -> tuple[int, float]:
    """How many distinct values the samples take, and the median gap between adjacent ones."""
    values = np.unique(wave)
    return len(values), float(np.median(np.diff(values))) if len(values) > 1 else 0.0


def _silences(active: np.ndarray, hop_seconds: float) -> list[tuple[float, float]]:
    """Silent stretches of at least MIN_GAP_SECONDS strictly inside the active span."""
    indices = np.flatnonzero(active)
    if len(indices) < 2:
        return []
    first, last = indices[0], indices[-1]
    quiet = ~active[first : last + 1]
    padded = np.concatenate([[0], quiet.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    gaps = []
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        length = (end - start) * hop_seconds
        if length >= MIN_GAP_SECONDS:
            gaps.append(((first + start) * hop_seconds, length))
    return gaps


def _decay_seconds(envelope_db: np.ndarray, onsets: np.ndarray, floor_db: float, hop_seconds: float) -> float:
    """RT60 estimate: 60 dB over the median slope of the level after each onset's peak, fitted while the level
    falls from 5 dB to at most 35 dB under the peak (an early-decay fit, as EDT is). Only falls of
    `MIN_DECAY_FALL_DB` or more count, and slopes that give under `MAX_DECAY_SECONDS`: the swings of a steady
    sound (noise, a drone) are not decays."""
    slopes = []
    bounds = list(onsets) + [len(envelope_db)]
    for onset, next_onset in zip(bounds[:-1], bounds[1:], strict=True):
        window = envelope_db[onset : min(next_onset, onset + int(2.0 / hop_seconds))]
        if len(window) < 6:
            continue
        peak = int(np.argmax(window[: max(1, int(0.1 / hop_seconds))]))
        tail = window[peak:]
        top = tail[0]
        below = tail <= top - 5.0
        if not below.any():
            continue
        start = int(np.argmax(below))
        stop_candidates = np.flatnonzero((tail <= top - 35.0) | (tail <= floor_db))
        stop = int(stop_candidates[0]) if len(stop_candidates) else len(tail)
        if stop - start < 4:
            continue
        if tail[start:stop].min() > top - MIN_DECAY_FALL_DB:  # a swing of a steady sound, not a decay
            continue
        times = np.arange(start, stop) * hop_seconds
        slope = np.polyfit(times, tail[start:stop], 1)[0]
        if slope < -60.0 / MAX_DECAY_SECONDS:  # dB per second; flatter is no decay a room makes
            slopes.append(slope)
    if not slopes:
        return float("nan")
    return float(60.0 / -np.median(slopes))


@functools.lru_cache(maxsize=1)
def _vad_model():
    try:
        import silero_vad
    except ImportError as err:
        raise ImportError("Speech presence needs silero-vad: pip install silero-vad") from err
    return silero_vad.load_silero_vad()


def speech_segments(waveforms_16k: list[np.ndarray]) -> list[list[tuple[float, float]]]:
    """silero-vad's speech spans (seconds) of each 16 kHz clip, computed as one batch: speech is where the
    probability is over 0.5, spans closer than 0.1 s are joined and spans under 0.25 s dropped."""
    import torch

    model = _vad_model()
    chunk = 512  # silero-vad's window at 16 kHz (32 ms)
    longest = max(len(w) for w in waveforms_16k)
    if longest < chunk:
        return [[] for _ in waveforms_16k]
    batch = np.zeros((len(waveforms_16k), int(np.ceil(longest / chunk)) * chunk), np.float32)
    for row, wave in zip(batch, waveforms_16k, strict=True):
        row[: len(wave)] = wave
    with torch.inference_mode():
        model.reset_states()
        probabilities = model.audio_forward(torch.from_numpy(batch), VOICE_RATE).numpy()
        model.reset_states()
    step = chunk / VOICE_RATE
    results = []
    for row, wave in zip(probabilities, waveforms_16k, strict=True):
        speech = row[: int(np.ceil(len(wave) / chunk))] > 0.5
        spans = []
        for index in np.flatnonzero(speech):
            start = index * step
            if spans and start - spans[-1][1] <= 0.1:
                spans[-1][1] = start + step
            else:
                spans.append([start, start + step])
        results.append([(s, e) for s, e in spans if e - s >= 0.25])
    return results


@dataclass
class _Part:
    """What one segment of a clip contributes to its measurements; [`_finish`] turns the parts into values."""

    samples: int  # at the clip's own rate
    analysis_samples: int  # at ANALYSIS_RATE
    peak: float
    clipped: float  # percent of the segment's samples flat at the segment's own peak
    envelope_db: np.ndarray
    loudness_blocks: list = field(default_factory=list)  # BS.1770 block loudness (LUFS), 400 ms every 100 ms
    spectra: tuple | None = None  # (shape, long-term, noise floor, frames heard)
    onset_envelope: np.ndarray | None = None
    onsets: np.ndarray | None = None
    tempo: float | None = None
    f0_voiced: np.ndarray | None = None
    f0_frames: int = 0
    speech: list = field(default_factory=list)
    voice: np.ndarray | None = field(default=None, repr=False)  # at VOICE_RATE, until its speech is found
    levels: int = 0  # distinct sample values, at the clip's own rate
    step: float = 0.0  # the median gap between adjacent distinct sample values
    excerpt: np.ndarray | None = field(default=None, repr=False)  # at ANALYSIS_RATE, at most EXCERPT_SECONDS


def _measure_part(wave: np.ndarray, rate: int, listen: bool = True) -> _Part:
    """The raw measurements of one segment (mono, at the clip's own rate); with `listen=False` its speech is left
    to find (`part.voice`), so that short clips' speech is found in one batch."""
    import soxr

    magnitude = float(np.abs(wave).max())
    y = soxr.resample(wave, rate, ANALYSIS_RATE).astype(np.float32) if rate != ANALYSIS_RATE else wave
    part = _Part(len(wave), len(y), magnitude, _clipped_percent(wave), _envelope(y))
    part.levels, part.step = _quantisation(wave)
    part.excerpt = y[: int(EXCERPT_SECONDS * ANALYSIS_RATE)].copy()
    if magnitude < 10 ** (SILENCE_DBFS / 20) or len(y) < 4 * ENVELOPE_HOP:
        return part
    part.loudness_blocks = _loudness_blocks(y)
    active = part.envelope_db > max(SILENCE_DBFS, float(np.percentile(part.envelope_db, 95)) - ACTIVE_RANGE_DB)
    part.spectra = _spectra(y, active)
    _onsets(part, y)
    _pitch(part, y)
    part.voice = soxr.resample(wave, rate, VOICE_RATE).astype(np.float32) if rate != VOICE_RATE else wave
    if listen:
        _listen([part])
    return part


def _listen(parts: list[_Part]) -> None:
    """The speech spans of the parts still holding their voice, in one silero-vad batch."""
    waiting = [part for part in parts if part.voice is not None]
    if waiting:
        for part, spans in zip(waiting, speech_segments([part.voice for part in waiting]), strict=True):
            part.speech, part.voice = spans, None


def held_band(spectrum: np.ndarray) -> np.ndarray:
    """The bins of a power spectrum that hold sound: within 60 dB of its strongest bin."""
    return spectrum >= spectrum.max() * 1e-6


def band_top_hz(spectrum: np.ndarray) -> float:
    """The highest frequency a power spectrum holds (see [`held_band`])."""
    return float(np.flatnonzero(held_band(spectrum))[-1] * ANALYSIS_RATE / N_FFT)


def _envelope(y: np.ndarray) -> np.ndarray:
    """The level in dB every `ENVELOPE_HOP` samples (RMS over twice that), one frame per hop started."""
    import librosa

    power = librosa.feature.rms(y=y, frame_length=2 * ENVELOPE_HOP, hop_length=ENVELOPE_HOP)[0] ** 2
    return _db(power)[: int(np.ceil(len(y) / ENVELOPE_HOP))]


def _loudness_blocks(y: np.ndarray) -> list:
    """BS.1770's gating blocks (400 ms, 75% overlap) of a segment, as pyloudnorm measures them."""
    import pyloudnorm

    if len(y) < LOUDNESS_BLOCK_SECONDS * ANALYSIS_RATE:
        return []
    meter = pyloudnorm.Meter(ANALYSIS_RATE)
    with np.errstate(divide="ignore"):
        meter.integrated_loudness(y.astype(np.float64))
    return list(meter.blockwise_loudness)


def gated_loudness(blocks) -> float:
    """Integrated loudness (LUFS) from BS.1770 block loudnesses: the absolute gate at -70 LUFS, then the relative
    gate 10 LU under the mean of the blocks kept; NaN when no block passes."""
    blocks = np.asarray(blocks, dtype=np.float64)
    power = 10 ** ((blocks + 0.691) / 10)
    kept = blocks >= -70.0
    if not kept.any():
        return float("nan")
    relative = -0.691 + 10 * np.log10(power[kept].mean()) - 10.0
    kept &= blocks > relative
    return float(-0.691 + 10 * np.log10(power[kept].mean())) if kept.any() else float("nan")


def _spectra(y: np.ndarray, active: np.ndarray) -> tuple:
    """The power spectrum's shape (the loudest quarter of the active frames, over their floor), the long-term
    spectrum of the active frames, the noise floor per frequency, and how many frames were heard."""
    import librosa

    # the spectrum's shape from the loudest quarter of the active frames: a steady hiss in the quiet tails
    # would otherwise pass for treble
    power = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)) ** 2
    frame_active = np.interp(np.arange(power.shape[1]) * HOP, np.arange(len(active)) * ENVELOPE_HOP, active) > 0.5
    heard = power[:, frame_active] if frame_active.any() else power
    energy = heard.sum(axis=0)
    loudest = heard[:, energy >= np.percentile(energy, 75)]
    spectrum = loudest.mean(axis=1)
    # the noise floor per frequency: what is left in the quietest tenth of the frames
    noise = np.percentile(power, 10, axis=1)  # all frames: the silences between sounds show the floor best
    # the floor's mean power (a percentile of a noisy power underestimates it ~10x): the quietest tenth's average
    quietest = heard[:, energy <= np.percentile(energy, 10)]
    floor = quietest.mean(axis=1)
    # a sound that rises 6 dB or more over a floor: its shape, not the floor's (a steady sound has no floor under
    # it: taking its quietest frames away leaves only the random swings of its lowest bins)
    if loudest.sum(axis=0).mean() >= 4.0 * quietest.sum(axis=0).mean():
        above_floor = np.where(spectrum > 2.0 * floor, spectrum - floor, 0.0)  # bins 3 dB or more over the floor
        if above_floor.sum() >= 0.25 * spectrum.sum():
            spectrum = above_floor
    return spectrum, heard.mean(axis=1), noise, heard.shape[1]


def _onsets(part: _Part, y: np.ndarray) -> None:
    """The onset envelope (one frame per `HOP` started), its onsets, and the tempo where there are 4 or more."""
    import librosa

    envelope = librosa.onset.onset_strength(y=y, sr=ANALYSIS_RATE, hop_length=HOP)
    part.onset_envelope = envelope[: int(np.ceil(len(y) / HOP))]
    onsets = librosa.onset.onset_detect(onset_envelope=envelope, sr=ANALYSIS_RATE, hop_length=HOP)
    part.onsets = onsets[onsets < len(part.onset_envelope)]
    if len(part.onsets) >= 4:
        part.tempo = float(librosa.feature.tempo(onset_envelope=envelope, sr=ANALYSIS_RATE, hop_length=HOP)[0])


def _pitch(part: _Part, y: np.ndarray) -> None:
    """pyin's voiced f0 values (and its frame count), for the median over the clip."""
    import librosa
    import soxr

    low = soxr.resample(y, ANALYSIS_RATE, PITCH_RATE).astype(np.float32)
    if len(low) < 1024:
        return
    f0, voiced, _ = librosa.pyin(
        low,
        fmin=60.0,
        fmax=1600.0,
        sr=PITCH_RATE,
        frame_length=1024,
        hop_length=1024,  # 128 ms steps are plenty for a median, and halve the Viterbi's cost
        resolution=0.5,
        n_thresholds=25,
    )
    voiced &= f0 > 61.0  # pyin's lowest candidate (60 Hz) is where unpitched thumps land
    part.f0_voiced, part.f0_frames = f0[voiced], len(voiced)


def _finish(parts: list[_Part], rate: int, name: str) -> ClipMeasurements:
    """A clip's measurements from its segments, as if it had been measured whole: levels, silences, decay and
    onset rate over the joined envelopes; loudness gated over every block; spectra averaged over the frames heard;
    f0 the median of every voiced frame; tempo the segments' median."""
    result = ClipMeasurements(name=name)
    samples = sum(part.samples for part in parts)
    peak = max(part.peak for part in parts)
    silent = peak < 10 ** (SILENCE_DBFS / 20)
    result.set("duration", samples / rate)
    result.set("peak", 20 * np.log10(peak) if peak > 0 else None, "digital silence")
    at_peak = sum(part.clipped * part.samples for part in parts if part.peak >= peak - 1e-4)
    result.set("clipped", None if silent else at_peak / samples, "silent")
    envelope_db = np.concatenate([part.envelope_db for part in parts])
    if silent or sum(part.analysis_samples for part in parts) < 4 * ENVELOPE_HOP:
        reason = "silent" if silent else f"shorter than {4 * ENVELOPE_HOP / ANALYSIS_RATE * 1000:.0f} ms"
        for measure in MEASURES:
            if measure not in result.values:
                result.set(measure, None, reason)
        return result
    floor_db = _levels(result, envelope_db)
    if result.values["level"] is not None:
        result.set("crest", result.values["peak"] - result.values["level"])
    else:
        result.set("crest", None, "silent")
    loudest = max(parts, key=lambda part: part.peak)
    result.set("levels", np.log2(max(part.levels for part in parts)))
    result.set("step", 20 * np.log10(loudest.step) if loudest.step > 0 else None, "a single sample value")
    result.excerpt = parts[0].excerpt
    _finish_loudness(result, parts)
    _finish_spectrum(result, parts)
    _finish_timing(result, parts, floor_db)
    _finish_pitch(result, parts)
    _finish_speech(result, parts, rate)
    return result


def _levels(result: ClipMeasurements, envelope_db: np.ndarray) -> float:
    """The level envelope (kept), and from it the active span, the silences in it and the RMS level; returns the
    level under which a frame is silent."""
    hop_seconds = ENVELOPE_HOP / ANALYSIS_RATE
    loud = float(np.percentile(envelope_db, 95))
    floor_db = max(SILENCE_DBFS, loud - ACTIVE_RANGE_DB)
    active = envelope_db > floor_db
    indices = np.flatnonzero(active)
    result.set("active_duration", (indices[-1] - indices[0] + 1) * hop_seconds if len(indices) else 0.0)
    result.gaps = _silences(active, hop_seconds)
    result.envelope_db, result.active = envelope_db, active
    result.set("level", _db(np.mean(10 ** (envelope_db[active] / 10))) if active.any() else None, "silent")
    result.set("silence", max((length for _, length in result.gaps), default=0.0))
    return floor_db


def _finish_loudness(result: ClipMeasurements, parts: list[_Part]) -> None:
    """Integrated loudness (ITU-R BS.1770) over every segment's gating blocks."""
    blocks = [block for part in parts for block in part.loudness_blocks]
    if blocks:
        result.set("loudness", gated_loudness(blocks), "under BS.1770's gate (too quiet)")
    else:
        result.set("loudness", None, f"shorter than BS.1770's {LOUDNESS_BLOCK_SECONDS} s block")
    result.set("loudness_range", loudness_range(blocks), "shorter than 3 s, or under the gates")


def loudness_range(blocks) -> float:
    """EBU Tech 3342 loudness range (LU) from BS.1770 block loudnesses (400 ms every 100 ms): short-term loudness
    over every 3 s, gated at -70 LUFS and 20 LU under the power mean of the rest, then its 10th to 95th
    percentile; NaN for less than 3 s."""
    blocks = np.asarray(blocks, dtype=np.float64)
    if len(blocks) < SHORT_TERM_BLOCKS:
        return float("nan")
    power = 10 ** ((blocks + 0.691) / 10)
    windows = np.lib.stride_tricks.sliding_window_view(power, SHORT_TERM_BLOCKS).mean(axis=1)
    short_term = -0.691 + 10 * np.log10(np.maximum(windows, 1e-20))
    kept = short_term[short_term >= -70.0]
    if not len(kept):
        return float("nan")
    relative = -0.691 + 10 * np.log10(np.mean(10 ** ((kept + 0.691) / 10))) - 20.0
    kept = kept[kept >= relative]
    return float(np.percentile(kept, 95) - np.percentile(kept, 10))


def _finish_spectrum(result: ClipMeasurements, parts: list[_Part]) -> None:
    """The spectra (kept: the frames heard's weighted mean), centroid, bandwidth, roll-off edges, flatness, SNR."""
    import librosa

    sounding = [part.spectra for part in parts if part.spectra is not None]
    weights = np.array([frames for *_, frames in sounding], dtype=np.float64)
    spectrum = np.average([s[0] for s in sounding], axis=0, weights=weights)
    result.long_term_spectrum = np.average([s[1] for s in sounding], axis=0, weights=weights)
    noise = np.percentile([s[2] for s in sounding], 10, axis=0)  # the floor: the quieter segments' show it
    result.spectrum = spectrum
    magnitude = np.sqrt(spectrum)[:, None]
    result.set("centroid", librosa.feature.spectral_centroid(S=magnitude, sr=ANALYSIS_RATE, n_fft=N_FFT)[0, 0])
    result.set("bandwidth", librosa.feature.spectral_bandwidth(S=magnitude, sr=ANALYSIS_RATE, n_fft=N_FFT)[0, 0])
    for measure, share in (("high_edge", 0.85), ("low_edge", 0.10)):
        edge = librosa.feature.spectral_rolloff(S=magnitude, sr=ANALYSIS_RATE, n_fft=N_FFT, roll_percent=share)
        result.set(measure, edge[0, 0])
    long_term = np.sqrt(result.long_term_spectrum)[:, None]  # flatness of everything heard, noise included
    result.set("flatness", 10 * np.log10(librosa.feature.spectral_flatness(S=long_term)[0, 0] + 1e-12))
    # over the band the clip holds: a band-limited clip's empty bins are no floor to measure noise against
    held = held_band(result.long_term_spectrum)
    result.noise_floor = noise
    result.set("snr", _db(result.long_term_spectrum[held].sum()) - _db(np.median(noise[held]) * held.sum()))


def _finish_timing(result: ClipMeasurements, parts: list[_Part], floor_db: float) -> None:
    """The onset envelope (kept), onset rate, tempo, and the decay after onsets down to `floor_db`."""
    onsets, envelopes, offset = [], [], 0
    for part in parts:
        length = int(np.ceil(part.analysis_samples / HOP))
        envelope = part.onset_envelope if part.onset_envelope is not None else np.zeros(length)
        envelope = np.pad(envelope, (0, max(0, length - len(envelope))))[:length]
        if part.onsets is not None:
            onsets.append(part.onsets[part.onsets < length] + offset)
        envelopes.append(envelope)
        offset += length
    result.onset_envelope = np.concatenate(envelopes)
    onsets = np.concatenate(onsets) if onsets else np.zeros(0, dtype=int)
    active_seconds = result.values["active_duration"]
    result.set("onset_rate", len(onsets) / active_seconds if active_seconds > 0 else None, "no active span")
    tempos = [part.tempo for part in parts if part.tempo is not None]
    if tempos:
        result.set("tempo", float(np.median(tempos)))
    else:
        result.set("tempo", None, f"{len(onsets)} onsets (4 needed)")
    envelope_onsets = np.asarray(onsets) * HOP // ENVELOPE_HOP
    if len(envelope_onsets) == 0:
        envelope_onsets = np.array([0])
    hop_seconds = ENVELOPE_HOP / ANALYSIS_RATE
    decay = _decay_seconds(result.envelope_db, envelope_onsets, floor_db, hop_seconds)
    result.set("decay", decay, "no decay after onsets")


def _finish_pitch(result: ClipMeasurements, parts: list[_Part]) -> None:
    """The median f0 over every voiced frame, where at least a quarter of the frames are pitched."""
    frames = sum(part.f0_frames for part in parts)
    voiced = [part.f0_voiced for part in parts if part.f0_voiced is not None]
    if frames == 0:
        result.set("f0", None, "shorter than pyin's 128 ms frame")
        return
    voiced = np.concatenate(voiced) if voiced else np.zeros(0)
    share = len(voiced) / frames
    if share >= 0.25:
        result.set("f0", float(np.median(voiced)))
    else:
        result.set("f0", None, f"not pitched ({100 * share:.0f}% of frames voiced above 61 Hz, 25% needed)")


def _finish_speech(result: ClipMeasurements, parts: list[_Part], rate: int) -> None:
    """silero-vad's speech spans over the whole clip, and their total."""
    start = 0.0
    for part in parts:
        result.speech_segments += [(start + s, start + e) for s, e in part.speech]
        start += part.samples / rate
    if sum(part.samples for part in parts) / rate * VOICE_RATE < 512:
        result.set("speech", None, "shorter than silero-vad's 32 ms window")
    else:
        result.set("speech", sum(end - start for start, end in result.speech_segments))


SEGMENT_SECONDS = 60.0  # a longer clip is measured segment by segment, so that memory does not grow with it


def clip_segments(clip, sampling_rate: int | None, name: str, max_seconds: float | None = None, crop: str = "start"):
    """`(rate, segments, span)`: a clip's own sampling rate, its mono samples in segments of 60 to 90 s (a file is
    read one segment at a time) and `(start, end, length)` in seconds: the span measured of a recording that long.

    With `max_seconds`, only that much is measured, cut where `crop` says, as the model's processor cuts what it
    hears.
    """
    if isinstance(clip, dict) and "array" not in clip:  # a `datasets` cell left undecoded
        clip = decode_cell(clip, name=name)
    if isinstance(clip, (str, os.PathLike)):
        info = audio_info(clip)  # read once: its rate and its length
        rate, length = int(info.samplerate), info.frames
        step = round(SEGMENT_SECONDS * rate)
        start = 0
        if max_seconds is not None and length > round(max_seconds * rate):
            start = crop_offset(length - round(max_seconds * rate), crop)
            wave = read_span(clip, start / rate, max_seconds, rate)
            return rate, [wave], (start / rate, start / rate + len(wave) / rate, length / rate)
        return rate, _joined(iter_blocks(clip, SEGMENT_SECONDS), step // 2), (0.0, length / rate, length / rate)
    rate = native_rate(clip, sampling_rate, name)
    step = round(SEGMENT_SECONDS * rate)
    wave = load_clip(clip, rate, rate, name=name)
    length, start = len(wave), 0
    if max_seconds is not None and length > round(max_seconds * rate):
        start = crop_offset(length - round(max_seconds * rate), crop)
        wave = wave[start : start + round(max_seconds * rate)]
    pieces = [wave[i : i + step] for i in range(0, len(wave), step)]
    if len(pieces) > 1 and len(pieces[-1]) < step // 2:
        pieces[-2:] = [np.concatenate(pieces[-2:])]
    return rate, pieces, (start / rate, (start + len(wave)) / rate, length / rate)


def _joined(blocks, least: int):
    """The blocks, with a last one under `least` samples joined to the one before it."""
    previous = None
    for block in blocks:
        if previous is not None and len(block) >= least:
            yield previous
            previous = block
        else:
            previous = block if previous is None else np.concatenate([previous, block])
    if previous is not None:
        yield previous


def measure_clips(
    clips,
    sampling_rate: int | None = None,
    names=None,
    max_seconds: float | None = None,
    crop: str = "start",
    progress: bool = False,
) -> list[ClipMeasurements]:
    """Measure several clips (file paths, arrays with `sampling_rate`, or `{"array", "sampling_rate"}` dicts, any
    rate, channels and length).

    A clip longer than 90 s is measured in 60 s segments, a file read one segment at a time: memory stays bounded
    whatever the length, and time grows linearly with it (about 1.6 s a minute of audio on 2 cores). With
    `max_seconds` only that much of each clip is measured, cut where `crop` says (`"start"`, `"center"`): what a
    model that hears `max_seconds` heard. Each result's `span` says what was measured. `progress` shows a bar over
    the seconds of audio measured.
    """
    from tqdm.auto import tqdm

    names = list(names) if names is not None else [f"audio {i + 1}" for i in range(len(clips))]
    found = [
        clip_segments(clip, sampling_rate, name, max_seconds, crop) for clip, name in zip(clips, names, strict=True)
    ]
    total = sum(span[1] - span[0] for _, _, span in found)
    # clips of one segment each: their speech is found in one batch (silero-vad costs about the same for two rows)
    batch = all(span[1] - span[0] < 1.5 * SEGMENT_SECONDS for _, _, span in found)
    measured = []
    with tqdm(total=round(total), desc="measuring", unit="s", disable=not progress, leave=False) as bar:
        for rate, segments, _ in found:
            parts = []
            for segment in segments:
                parts.append(_measure_part(segment, rate, listen=not batch))
                if len(parts) > 1:  # the first segment's waveform is the excerpt kept
                    parts[-1].excerpt = None
                bar.update(len(segment) / rate)
            measured.append(parts)
    _listen([part for parts in measured for part in parts])
    results = []
    for parts, (rate, _, span), name in zip(measured, found, names, strict=True):
        result = _finish(parts, rate, name)
        result.span = tuple(float(value) for value in span)
        results.append(result)
    return results


def measure_clip(clip, sampling_rate: int | None = None, name: str = "audio") -> ClipMeasurements:
    """Measure one clip (see [`measure_clips`])."""
    return measure_clips([clip], sampling_rate, [name])[0]


__all__ = [
    "MEASURES",
    "ClipMeasurements",
    "Measure",
    "band_top_hz",
    "clip_segments",
    "gated_loudness",
    "held_band",
    "loudness_range",
    "measure_clip",
    "measure_clips",
    "speech_segments",
]
