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

from ..audio_io import load_clip

ANALYSIS_RATE = 22_050  # spectra, loudness, onsets, envelopes
VOICE_RATE = 16_000  # silero-vad's rate
PITCH_RATE = 8_000  # pyin below 8 kHz is four times cheaper and still hears up to 1.6 kHz
N_FFT, HOP = 2048, 512
ENVELOPE_HOP = 256  # 11.6 ms: the level envelope for gaps and decays
SILENCE_DBFS = -70.0  # below this a frame is silent, whatever the clip's level
ACTIVE_RANGE_DB = 45.0  # a frame this far under the clip's loud level counts as silent
MIN_GAP_SECONDS = 0.1
LOUDNESS_BLOCK_SECONDS = 0.4  # BS.1770's gating block


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
            "mean spectrum power over the noise floor (per frequency, the 10th percentile over time); 6 dB",
        ),
        Measure(
            "decay",
            "decay time (RT60 estimate)",
            "s",
            1.5,
            True,
            "60 dB over the median level slope after onsets (energy envelope); 50% and at least 0.1 s",
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
    frames (its shape) and the `long_term_spectrum` of all of them (`N_FFT` bins) are kept for comparing clips.
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
    name: str = "audio"

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
        }


def native_rate(clip, sampling_rate: int | None, name: str) -> int:
    """The rate a clip was recorded at: a file's own, a dict's, or `sampling_rate` for an array (required)."""
    import soundfile

    if isinstance(clip, (str, os.PathLike)):
        path = os.fspath(clip)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Audio file not found: {path}")
        try:
            return int(soundfile.info(path).samplerate)
        except Exception as err:  # soundfile raises several types for unreadable input
            raise ValueError(f"Could not read audio file {path}: {err}") from err
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
    falls from 5 dB to at most 35 dB under the peak (an early-decay fit, as EDT is)."""
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
        times = np.arange(start, stop) * hop_seconds
        slope = np.polyfit(times, tail[start:stop], 1)[0]
        if slope < -1.0:  # dB per second; flatter is no decay at all
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


def _measure_one(wave: np.ndarray, rate: int, name: str) -> ClipMeasurements:
    """Everything but speech, from one mono clip at its own rate."""
    import soxr

    result = ClipMeasurements(name=name)
    silent = _measure_samples(result, wave, rate)
    y = soxr.resample(wave, rate, ANALYSIS_RATE).astype(np.float32) if rate != ANALYSIS_RATE else wave
    if silent or len(y) < 4 * ENVELOPE_HOP:
        reason = "silent" if silent else f"shorter than {4 * ENVELOPE_HOP / ANALYSIS_RATE * 1000:.0f} ms"
        for measure in MEASURES:
            if measure not in result.values and measure != "speech":
                result.set(measure, None, reason)
        return result
    floor_db = _measure_levels(result, y)
    _measure_loudness(result, y)
    _measure_spectrum(result, y)
    _measure_timing(result, y, floor_db)
    _measure_pitch(result, y)
    return result


def _measure_samples(result: ClipMeasurements, wave: np.ndarray, rate: int) -> bool:
    """Duration, sample peak and clipping, on the clip's own samples; whether it is silent."""
    result.set("duration", len(wave) / rate)
    peak = float(np.abs(wave).max())
    silent = peak < 10 ** (SILENCE_DBFS / 20)
    result.set("peak", 20 * np.log10(peak) if peak > 0 else None, "digital silence")
    result.set("clipped", None if silent else _clipped_percent(wave), "silent")
    return silent


def _measure_levels(result: ClipMeasurements, y: np.ndarray) -> float:
    """The level envelope (kept), and from it the active span, the silences in it and the RMS level; returns the
    level under which a frame is silent."""
    import librosa

    hop_seconds = ENVELOPE_HOP / ANALYSIS_RATE
    envelope_db = _db(librosa.feature.rms(y=y, frame_length=2 * ENVELOPE_HOP, hop_length=ENVELOPE_HOP)[0] ** 2)
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


def _measure_loudness(result: ClipMeasurements, y: np.ndarray) -> None:
    """Integrated loudness (ITU-R BS.1770), for clips of one gating block or more."""
    import pyloudnorm

    if len(y) >= LOUDNESS_BLOCK_SECONDS * ANALYSIS_RATE:
        loudness = pyloudnorm.Meter(ANALYSIS_RATE).integrated_loudness(y.astype(np.float64))
        result.set("loudness", loudness, "under BS.1770's gate (too quiet)")
    else:
        result.set("loudness", None, f"shorter than BS.1770's {LOUDNESS_BLOCK_SECONDS} s block")


def _spectra(y: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The power spectrum's shape (the loudest quarter of the active frames, over their floor), the long-term
    spectrum of the active frames, and the noise floor per frequency."""
    import librosa

    # the spectrum's shape from the loudest quarter of the active frames: a steady hiss in the quiet tails
    # would otherwise pass for treble
    power = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)) ** 2
    frame_active = np.interp(np.arange(power.shape[1]) * HOP, np.arange(len(active)) * ENVELOPE_HOP, active) > 0.5
    heard = power[:, frame_active] if frame_active.any() else power
    energy = heard.sum(axis=0)
    spectrum = heard[:, energy >= np.percentile(energy, 75)].mean(axis=1)
    # the noise floor per frequency: what is left in the quietest tenth of the active frames
    noise = np.percentile(power, 10, axis=1)  # all frames: the silences between sounds show the floor best
    # the floor's mean power (a percentile of a noisy power underestimates it ~10x): the quietest tenth's average
    floor = heard[:, energy <= np.percentile(energy, 10)].mean(axis=1)
    above_floor = np.where(spectrum > 2.0 * floor, spectrum - floor, 0.0)  # bins 3 dB or more over the floor
    if above_floor.sum() >= 0.25 * spectrum.sum():  # a sound that rises above a floor: its shape, not the floor's
        spectrum = above_floor
    return spectrum, heard.mean(axis=1), noise


def _measure_spectrum(result: ClipMeasurements, y: np.ndarray) -> None:
    """The spectra (kept), centroid, bandwidth, roll-off edges, flatness and SNR."""
    import librosa

    spectrum, result.long_term_spectrum, noise = _spectra(y, result.active)
    result.spectrum = spectrum
    magnitude = np.sqrt(spectrum)[:, None]
    result.set("centroid", librosa.feature.spectral_centroid(S=magnitude, sr=ANALYSIS_RATE, n_fft=N_FFT)[0, 0])
    result.set("bandwidth", librosa.feature.spectral_bandwidth(S=magnitude, sr=ANALYSIS_RATE, n_fft=N_FFT)[0, 0])
    for measure, share in (("high_edge", 0.85), ("low_edge", 0.10)):
        edge = librosa.feature.spectral_rolloff(S=magnitude, sr=ANALYSIS_RATE, n_fft=N_FFT, roll_percent=share)
        result.set(measure, edge[0, 0])
    long_term = np.sqrt(result.long_term_spectrum)[:, None]  # flatness of everything heard, noise included
    result.set("flatness", 10 * np.log10(librosa.feature.spectral_flatness(S=long_term)[0, 0] + 1e-12))
    result.set("snr", _db(result.long_term_spectrum.sum()) - _db(np.median(noise) * len(noise)))


def _measure_timing(result: ClipMeasurements, y: np.ndarray, floor_db: float) -> None:
    """The onset envelope (kept), onset rate, tempo, and the decay after onsets down to `floor_db`."""
    import librosa

    onset_envelope = librosa.onset.onset_strength(y=y, sr=ANALYSIS_RATE, hop_length=HOP)
    result.onset_envelope = onset_envelope
    onsets = librosa.onset.onset_detect(onset_envelope=onset_envelope, sr=ANALYSIS_RATE, hop_length=HOP)
    active_seconds = result.values["active_duration"]
    result.set("onset_rate", len(onsets) / active_seconds if active_seconds > 0 else None, "no active span")
    if len(onsets) >= 4:
        tempo = librosa.feature.tempo(onset_envelope=onset_envelope, sr=ANALYSIS_RATE, hop_length=HOP)[0]
        result.set("tempo", tempo)
    else:
        result.set("tempo", None, f"{len(onsets)} onsets (4 needed)")
    envelope_onsets = np.asarray(onsets) * HOP // ENVELOPE_HOP
    if len(envelope_onsets) == 0:
        envelope_onsets = np.array([0])
    hop_seconds = ENVELOPE_HOP / ANALYSIS_RATE
    decay = _decay_seconds(result.envelope_db, envelope_onsets, floor_db, hop_seconds)
    result.set("decay", decay, "no decay after onsets")


def _measure_pitch(result: ClipMeasurements, y: np.ndarray) -> None:
    """The median f0 (pyin), where at least a quarter of the frames are pitched."""
    import librosa
    import soxr

    low = soxr.resample(y, ANALYSIS_RATE, PITCH_RATE).astype(np.float32)
    if len(low) < 1024:
        result.set("f0", None, "shorter than pyin's 128 ms frame")
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
    share = float(np.mean(voiced)) if len(voiced) else 0.0
    if share >= 0.25:
        result.set("f0", float(np.median(f0[voiced])))
    else:
        result.set("f0", None, f"not pitched ({100 * share:.0f}% of frames voiced above 61 Hz, 25% needed)")


def measure_clips(clips, sampling_rate: int | None = None, names=None) -> list[ClipMeasurements]:
    """Measure several clips (file paths, arrays with `sampling_rate`, or `{"array", "sampling_rate"}` dicts, any
    rate, channels and length); speech presence is computed for all of them in one batch."""
    import soxr

    names = list(names) if names is not None else [f"audio {i + 1}" for i in range(len(clips))]
    results, voices = [], []
    for clip, name in zip(clips, names, strict=True):
        rate = native_rate(clip, sampling_rate, name)
        wave = load_clip(clip, rate, rate, name=name)
        result = _measure_one(wave, rate, name)
        results.append(result)
        voices.append(soxr.resample(wave, rate, VOICE_RATE).astype(np.float32) if rate != VOICE_RATE else wave)
    for result, voice, spans in zip(results, voices, speech_segments(voices), strict=True):
        result.speech_segments = spans
        if result.values["peak"] is None or result.values["peak"] < SILENCE_DBFS:
            result.set("speech", None, "silent")
        elif len(voice) < 512:
            result.set("speech", None, "shorter than silero-vad's 32 ms window")
        else:
            result.set("speech", sum(end - start for start, end in spans))
    return results


def measure_clip(clip, sampling_rate: int | None = None, name: str = "audio") -> ClipMeasurements:
    """Measure one clip (see [`measure_clips`])."""
    return measure_clips([clip], sampling_rate, [name])[0]


__all__ = ["MEASURES", "ClipMeasurements", "Measure", "measure_clip", "measure_clips", "speech_segments"]
