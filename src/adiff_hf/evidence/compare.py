"""Comparing two clips' measurements: the differences above threshold, each a sentence with its number.

Every property a claim can be about (louder, muffled, faster, ...) gets a `PropertyState` whether or not it
differs: `sign` says which clip has more of it (+1: audio 2, -1: audio 1, 0: no difference above threshold,
`None`: not measurable, with the reason). The ones that differ are the `findings`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..audio_io import format_hz
from . import pair
from .measures import (
    ANALYSIS_RATE,
    ENVELOPE_HOP,
    HOP,
    MEASURES,
    N_FFT,
    SILENCE_DBFS,
    ClipMeasurements,
    _db,
    band_top_hz,
    held_band,
    measure_clips,
)

# which clip has more of each property; "presence" properties are judged per clip (is audio 2 clipped?)
PROPERTIES = {
    "loudness": "louder",
    "treble": "brighter (more treble)",
    "bass": "fuller (more bass)",
    "pitch": "higher in pitch",
    "speed": "faster",
    "duration": "longer",
    "length": "a longer recording",
    "noise": "noisier",
    "reverb": "more reverberant",
    "echo": "echoing",
    "distortion": "distorted (saturated)",
    "compression": "compressed (narrower dynamics)",
    "bitcrush": "bit-crushed (coarsely quantised)",
    "codec": "codec-degraded (band-limited, with coding artefacts)",
    "clipping": "clipped",
    "gap": "interrupted by silence",
    "reverse": "the other played backwards",
    "speech": "speech",
}
PRESENCE = ("clipping", "gap", "reverse", "speech")
SPEED_RANGE = (0.6, 1.7)  # time-scale factors searched when aligning the two clips' envelopes
ALIGNED_CORRELATION = 0.6
AUDIBLE_NOISE_SNR = 50.0  # a noise floor further down than this is not heard over the sound
MIN_DURATION_DIFFERENCE = 0.1  # seconds, with the active-duration ratio
MIN_DECAY_DIFFERENCE = 0.1  # seconds, with the decay-time ratio
# the spectral shift's search: from 100 Hz, in quarter semitones, over 80 semitones, up to 14 semitones either way
SHIFT_LOW_HZ, SHIFT_STEPS_PER_SEMITONE, SHIFT_STEPS, SHIFT_MAX_SEMITONES = 100.0, 4, 320, 14
SHIFT_CORRELATION, SHIFT_GAIN = 0.83, 0.05
SHIFT_MIN_SEMITONES = 36  # the band both clips hold must span three octaves for a spectral shift
MIN_FLOOR_RISE_DB = 3.0  # a noisier clip's noise floor is at least this much higher than the other's
# sample-by-sample measures (adiff_hf.evidence.pair), read where the two waveforms line up
SAME_WAVEFORM = 0.5  # the normalised cross-correlation that says two clips hold the same recording, in line
REVERSED_MATCH, REVERSED_MARGIN = 0.9, 0.2  # played backwards, it matches this well, and this much better
ECHO_LEVEL, ECHO_INVERSE = 0.25, 0.15  # a repeat this strong one way, and inverted at least this the other way
SATURATION_BEND, SATURATION_FIT, SATURATION_CREST_DB = 0.3, 0.7, 2.0
COMPRESSION_SLOPE = 0.67  # the compressed clip's level moves at most this many dB per dB of the other's
LOCAL_SLOPE = 0.9  # ... and its swings within a second are squeezed too: not a level changed over time
BITCRUSH_MAX_BITS = 8.0  # a bit-crushed clip takes at most 2 ** this many distinct values
FILTER_CUT_DB = 12.0  # a filter's cut: the bands past it this far under the level the clip keeps elsewhere
HALF_OCTAVES = 50.0 * 2 ** (np.arange(0, 2 * np.log2(ANALYSIS_RATE / 2 / 50.0) + 1) / 2)  # band edges, Hz
CODEC_TOP_RATIO = 0.92  # a coded clip's band ends at most this far up, against the other's
CODEC_CUT_DB = 15.0  # ... and falls this much further under its pass band past that than the other does
CODEC_RESIDUAL_DB = 24.0  # ... and keeps the other's pass band with no better signal-to-residual ratio than this
TAIL_EXCESS_DB = 5.0  # a reverberant clip stays this much louder where the other's sounds have died away


@dataclass
class PropertyState:
    """What the measurements say about one property: `sign` (which clip has more: +1 audio 2, -1 audio 1, 0 no
    difference above threshold, None not measurable); for presence properties `present` per clip."""

    name: str
    sign: int | None = None
    present: tuple[bool, bool] | None = None
    sentence: str | None = None
    reason: str | None = None
    numbers: dict = field(default_factory=dict)

    @property
    def differs(self) -> bool:
        return self.sentence is not None

    def to_dict(self) -> dict:
        data = {"property": self.name, "sign": self.sign, "numbers": self.numbers}
        if self.present is not None:
            data["present"] = list(self.present)
        if self.sentence:
            data["sentence"] = self.sentence
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass
class Evidence:
    """The measured differences between two clips (see [`compare_clips`])."""

    clips: tuple[ClipMeasurements, ClipMeasurements]
    properties: dict

    @property
    def findings(self) -> list[PropertyState]:
        """The properties that differ above threshold, in `PROPERTIES` order."""
        return [state for state in self.properties.values() if state.differs]

    @property
    def sentences(self) -> list[str]:
        return [state.sentence for state in self.findings] or ["No measured difference above the thresholds."]

    @property
    def scope(self) -> str:
        """What was measured: "the whole recordings", or each clip's span of its recording."""
        if all(clip.whole for clip in self.clips):
            return "the whole recordings"
        spans = []
        for number, clip in enumerate(self.clips, start=1):
            start, end, length = clip.span
            spans.append(f"audio {number}: {start:.1f}-{end:.1f} s of {length:.1f} s")
        return "what the model heard (" + "; ".join(spans) + ")"

    def table(self) -> list[dict]:
        """Every measure of both clips: `measure`, `unit`, `audio1`, `audio2`, `difference` (audio 2 − audio 1, or
        the ratio for relative measures), `threshold` and `above` (whether the difference is over it)."""
        rows = []
        for name, measure in MEASURES.items():
            one, two = (clip.values.get(name) for clip in self.clips)
            row = {"measure": measure.label, "unit": measure.unit, "audio1": one, "audio2": two}
            row["threshold"] = f"×{measure.threshold:g}" if measure.relative else f"{measure.threshold:g}"
            if one is None or two is None:
                reasons = [f"audio {i + 1}: {c.reasons[name]}" for i, c in enumerate(self.clips) if name in c.reasons]
                row |= {"difference": None, "above": None, "note": "not measurable (" + "; ".join(reasons) + ")"}
            elif name == "f0":
                semitones = 12 * np.log2(two / one)
                row |= {"difference": f"{semitones:+.1f} st", "above": bool(abs(semitones) >= measure.threshold)}
            elif measure.relative:
                ratio = (two / one) if one > 0 else (np.inf if two > 0 else 1.0)
                above = bool(max(ratio, 1 / ratio if ratio > 0 else np.inf) >= measure.threshold)
                row |= {"difference": "—" if not np.isfinite(ratio) else f"×{ratio:.2f}", "above": above}
            else:
                row |= {"difference": round(two - one, 3), "above": bool(abs(two - one) >= measure.threshold)}
            rows.append(row)
        return rows

    def table_markdown(self) -> str:
        lines = [
            "| measure | unit | audio 1 | audio 2 | difference | threshold | above |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in self.table():
            cells = [_cell(row["audio1"]), _cell(row["audio2"])]
            difference = row.get("note") or _cell(row["difference"])
            above = {True: "yes", False: "no", None: "—"}[row["above"]]
            lines.append(
                f"| {row['measure']} | {row['unit']} | {cells[0]} | {cells[1]} | {difference} | {row['threshold']} "
                f"| {above} |"
            )
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        return {
            "measured": self.scope,
            "differences": [state.sentence for state in self.findings],
            "properties": {name: state.to_dict() for name, state in self.properties.items()},
            "table": self.table(),
            "audio1": self.clips[0].to_dict(),
            "audio2": self.clips[1].to_dict(),
        }


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _values(clips, name):
    one, two = (clip.values.get(name) for clip in clips)
    if one is None or two is None:
        reasons = [f"audio {i + 1}: {c.reasons.get(name, 'not measured')}" for i, c in enumerate(clips)]
        return None, "; ".join(r for r, v in zip(reasons, (one, two), strict=True) if v is None)
    return (one, two), None


def _ratio_sign(one: float, two: float, threshold: float, minimum: float = 0.0) -> int:
    """+1 when `two` is at least `threshold` times `one` (and `minimum` more), -1 the other way round, else 0."""
    if one <= 0 or two <= 0 or abs(two - one) < minimum:
        return 0
    ratio = two / one
    return 1 if ratio >= threshold else -1 if ratio <= 1 / threshold else 0


def _stretch_scores(e1: np.ndarray, e2: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Correlation of `e1` with `e2` read `factor` times as fast, for each factor (-1 where they barely overlap)."""
    frames = np.arange(len(e1), dtype=float)
    scores = np.full(len(factors), -1.0)
    for i, factor in enumerate(factors):
        positions = frames / factor
        inside = positions <= len(e2) - 1
        if inside.sum() < max(8, 0.5 * min(len(e1), len(e2) * factor)):
            continue
        a, b = e1[inside], np.interp(positions[inside], np.arange(len(e2)), e2)
        if a.std() > 0 and b.std() > 0:
            scores[i] = np.corrcoef(a, b)[0, 1]
    return scores


def time_scale(first: ClipMeasurements, second: ClipMeasurements) -> tuple[float, float, float]:
    """How many times as fast the second clip's events come as the first's, by stretching its envelopes.

    The level envelope's best stretch is taken when it agrees with the ratio of active durations (a time stretch
    scales both alike; a reverb tail lengthens only the duration); otherwise the stretch that best matches the
    onset and level envelopes together. Returns `(factor, correlation, correlation unstretched)`; a correlation
    under `ALIGNED_CORRELATION` means the two clips' timing does not match (different recordings).
    """
    if first.envelope_db is None or second.envelope_db is None:
        return 1.0, 0.0, 0.0

    def level(clip, step=1):
        envelope = clip.envelope_db[::step]
        return np.maximum(envelope, envelope.max() - 50.0)

    def contour(clip):  # the level without its slow trend: a level change on part of a clip keeps its detail
        envelope = level(clip)
        width = max(1, min(len(envelope), round(ANALYSIS_RATE / ENVELOPE_HOP)))  # 1 s
        return envelope - np.convolve(envelope, np.ones(width) / width, mode="same")

    factors = np.geomspace(*SPEED_RANGE, 96)
    with_one = np.concatenate([factors, [1.0]])
    durations = first.values.get("active_duration") or 0.0, second.values.get("active_duration") or 0.0
    if min(len(first.envelope_db), len(second.envelope_db)) >= 8 and min(durations) > 0:
        # the level envelope at full resolution (11.6 ms), so that clips of a tenth of a second are aligned too;
        # only the stretches the durations allow (a periodic sound matches at several)
        levels = np.maximum(
            _stretch_scores(level(first), level(second), with_one),
            _stretch_scores(contour(first), contour(second), with_one),
        )
        allowed = np.abs(np.log(factors * durations[1] / durations[0])) < np.log(MEASURES["tempo"].threshold)
        if allowed.any():
            best = int(np.flatnonzero(allowed)[np.argmax(levels[:-1][allowed])])
            if levels[best] >= ALIGNED_CORRELATION:
                return float(factors[best]), float(levels[best]), float(levels[-1])
    if first.onset_envelope is None or second.onset_envelope is None:
        return 1.0, 0.0, 0.0
    if min(len(first.onset_envelope), len(second.onset_envelope)) < 8:
        return 1.0, 0.0, 0.0
    step = HOP // ENVELOPE_HOP  # level envelopes on the onset envelopes' hop
    onset = _stretch_scores(first.onset_envelope, second.onset_envelope, with_one)
    both = (onset + _stretch_scores(level(first, step), level(second, step), with_one)) / 2
    best = int(np.argmax(both[:-1]))
    return float(factors[best]), float(both[best]), float(both[-1])


@dataclass(frozen=True)
class Rule:
    """A property read off one measure of both clips.

    The state's `numbers` are the two values (`key` formatted with the clip's number, rounded to `digits`) and
    `extra(clips)`. `sign` compares them against the measure's threshold (a ratio for relative measures, with at
    least `minimum` between them; no difference where both are at `inaudible` or over it), negated with `flip`
    where more of the measure is less of the property. A difference is worded by `sentence`, formatted with
    `_fields` and `word` (`words[sign > 0]`). Where a clip lacks the measure, the `fallback` rule is read instead.
    """

    property: str
    measure: str
    key: str
    digits: int | None
    sentence: str
    words: tuple[str, str] = ("", "")
    extra: Callable[[tuple], dict] | None = None
    minimum: float = 0.0
    inaudible: float | None = None
    flip: bool = False
    fallback: "Rule | None" = None

    def sign(self, one: float, two: float) -> int:
        measure = MEASURES[self.measure]
        if measure.relative:
            sign = _ratio_sign(one, two, measure.threshold, self.minimum)
        else:
            sign = int(np.sign(two - one)) if abs(two - one) >= measure.threshold else 0
        if self.inaudible is not None and min(one, two) >= self.inaudible:
            sign = 0
        return -sign if self.flip else sign

    def __call__(self, clips, alignment=None) -> PropertyState:
        state = PropertyState(self.property)
        values, state.reason = _values(clips, self.measure)
        if values is None and self.fallback is not None:
            fallback = self.fallback(clips)
            if fallback.sign is not None:
                return fallback
        if values is None:
            return state
        one, two = values
        state.numbers = {self.key.format(1): round(one, self.digits), self.key.format(2): round(two, self.digits)}
        state.numbers |= self.extra(clips) if self.extra else {}
        state.sign = self.sign(one, two)
        if state.sign:
            state.sentence = self.sentence.format(
                word=self.words[state.sign > 0], **_fields(one, two, state.sign, clips)
            )
        return state


def _fields(one: float, two: float, sign: int, clips) -> dict:
    """What a rule's sentence may name: the clip with `more` of the property and the one with `less`, their values
    (`at_more`, `at_less`, in Hz as `hz_more`, `hz_less`), `low` and `high`, the difference `delta`, and
    `centroid_shift`: how far the spectral centroid of the clip with less sits from the other's."""
    more, less = (2, 1) if sign > 0 else (1, 2)
    at = {1: one, 2: two}
    fields = {"one": one, "two": two, "more": more, "less": less, "at_more": at[more], "at_less": at[less]}
    fields |= {"hz_more": format_hz(at[more]), "hz_less": format_hz(at[less])}
    fields |= {"low": min(one, two), "high": max(one, two)}
    fields |= {"delta": abs(two - one), "centroid_shift": ""}
    centroids = [clip.values.get("centroid") for clip in clips]
    if None not in centroids:
        shift = centroids[less - 1] - centroids[more - 1]
        direction = "lower" if shift < 0 else "higher"
        fields["centroid_shift"] = f"; its spectral centroid is {format_hz(abs(shift))} {direction}"
    return fields


def _centroids(clips) -> dict:
    centroids = [clip.values.get("centroid") for clip in clips]
    if None in centroids:
        return {}
    return {"audio1_centroid_hz": round(centroids[0]), "audio2_centroid_hz": round(centroids[1])}


@dataclass(frozen=True)
class Presence:
    """A property judged per clip: present where the measure reaches its threshold (is audio 2 clipped?).
    `describe(which, values)` words it for the clip that alone has it."""

    property: str
    measure: str
    describe: Callable[[int, list], str]

    def __call__(self, clips, alignment=None) -> PropertyState:
        state = PropertyState(self.property)
        values = [clip.values.get(self.measure) for clip in clips]
        if None in values:
            _, state.reason = _values(clips, self.measure)
            return state
        state.present = tuple(bool(v >= MEASURES[self.measure].threshold) for v in values)
        state.numbers = {"audio1": round(values[0], 3), "audio2": round(values[1], 3)}
        state.sign = int(state.present[1]) - int(state.present[0])
        if state.sign:
            state.sentence = self.describe(2 if state.sign > 0 else 1, values)
        return state


def _clipped(which: int, values: list) -> str:
    return (
        f"Audio {which} is clipped: {values[which - 1]:.1f}% of its samples sit flat at its peak "
        f"(audio {3 - which}: {values[2 - which]:.1f}%)."
    )


def _has_speech(which: int, values: list) -> str:
    other = values[2 - which]
    rest = "none" if other == 0 else f"{other:.1f} s"
    return f"Audio {which} has speech ({values[which - 1]:.1f} s), audio {3 - which} {rest}."


def _is_silent(clip: ClipMeasurements) -> bool:
    peak = clip.values.get("peak")
    return peak is None or peak < SILENCE_DBFS


def _loudness(clips, alignment=None) -> PropertyState:
    """Which clip is louder: a silent clip against a sounding one, else [`LOUDNESS`]."""
    silent = [_is_silent(clip) for clip in clips]
    if silent[0] == silent[1]:
        return LOUDNESS(clips)
    quiet, sounding = (1, 2) if silent[0] else (2, 1)
    clip = clips[sounding - 1]
    level = clip.values.get("loudness")
    said = f"{level:.1f} LUFS" if level is not None else f"{clip.values['peak']:.1f} dBFS peak"
    state = PropertyState("loudness", sign=1 if sounding == 2 else -1)
    state.numbers = {f"audio{sounding}": round(level, 1) if level is not None else None, f"audio{quiet}": "silent"}
    state.sentence = f"Audio {quiet} is silent (peak under {SILENCE_DBFS:.0f} dBFS); audio {sounding} sounds ({said})."
    return state


# integrated loudness (LUFS); the RMS level for clips shorter than BS.1770's block
LOUDNESS = Rule(
    "loudness",
    "loudness",
    "audio{}",
    1,
    "Audio 2 is {delta:.1f} LU {word} than audio 1 ({two:.1f} vs {one:.1f} LUFS).",
    ("quieter", "louder"),
    extra=lambda clips: {"unit": "LUFS"},
    fallback=Rule(
        "loudness",
        "level",
        "audio{}",
        1,
        "Audio 2 is {delta:.1f} dB {word} than audio 1 ({two:.1f} vs {one:.1f} dBFS RMS level; too short for LUFS).",
        ("quieter", "louder"),
        extra=lambda clips: {"unit": "dBFS RMS level"},
    ),
)
# the 85% roll-off: the clip with the lower one is muffled
TREBLE = Rule(
    "treble",
    "high_edge",
    "audio{}_high_edge_hz",
    None,
    "Audio {less} is duller (muffled): its spectral roll-off (85%) is at {hz_less}, against {hz_more} in audio "
    "{more}{centroid_shift}.",
    extra=_centroids,
)
# the 10% roll-off: the clip with the higher one has less bass
BASS = Rule(
    "bass",
    "low_edge",
    "audio{}_low_edge_hz",
    None,
    "Audio {less} is thinner (less bass): its lowest 10% of spectral magnitude reaches up to {hz_less}, against "
    "{hz_more} in audio {more}.",
    extra=_centroids,
    flip=True,
)
DURATION = Rule(
    "duration",
    "active_duration",
    "audio{}_s",
    2,
    "Audio 2 sounds for {delta:.1f} s {word} than audio 1 ({two:.1f} vs {one:.1f} s).",
    ("shorter", "longer"),
    minimum=MIN_DURATION_DIFFERENCE,
    # a silent clip has no sounding span: the files' lengths
    fallback=Rule(
        "duration",
        "duration",
        "audio{}_s",
        2,
        "Audio 2 is {delta:.1f} s {word} than audio 1 ({two:.1f} vs {one:.1f} s long).",
        ("shorter", "longer"),
    ),
)
# a lower SNR is noisier
NOISE = Rule(
    "noise",
    "snr",
    "audio{}_snr_db",
    1,
    "Audio {more} is noisier: its signal-to-noise ratio is about {low:.0f} dB, against {high:.0f} dB in audio {less}.",
    inaudible=AUDIBLE_NOISE_SNR,
    flip=True,
)
REVERB = Rule(
    "reverb",
    "decay",
    "audio{}_rt60_s",
    2,
    "Audio {more} is more reverberant: its sounds take {at_more:.2f} s to decay by 60 dB, against {at_less:.2f} s in "
    "audio {less}.",
    minimum=MIN_DECAY_DIFFERENCE,
)
# speed, for two recordings whose timing does not match: how often things happen
ONSET_RATE = Rule(
    "speed",
    "onset_rate",
    "audio{}_onsets_per_s",
    2,
    "Audio {more} is busier (more onsets per second): {high:.1f}/s against {low:.1f}/s.",
)
CLIPPING = Presence("clipping", "clipped", _clipped)
SPEECH = Presence("speech", "speech", _has_speech)


def spectral_shift(first: ClipMeasurements, second: ClipMeasurements) -> tuple[float, float, float]:
    """How many semitones the second clip's long-term spectrum sits above the first's: the lag that best matches
    the two on a log-frequency axis (from 100 Hz up to 10 kHz or the top of the band both clips hold, which must
    span three octaves; quarter semitones; each spectrum's tilt removed so that a filter is not taken for a shift).
    Works for unpitched sounds. Returns `(semitones, correlation, at 0)`."""
    if first.long_term_spectrum is None or second.long_term_spectrum is None:
        return 0.0, 0.0, 0.0
    frequencies = np.arange(len(first.long_term_spectrum)) * ANALYSIS_RATE / N_FFT
    top = common_top_hz((first, second))
    steps = min(SHIFT_STEPS, int(12 * SHIFT_STEPS_PER_SEMITONE * np.log2(max(top, 1.0) / SHIFT_LOW_HZ)))
    if steps < SHIFT_STEPS_PER_SEMITONE * SHIFT_MIN_SEMITONES:  # too narrow a common band to compare shapes
        return 0.0, 0.0, 0.0
    grid = SHIFT_LOW_HZ * 2 ** (np.arange(steps) / (12 * SHIFT_STEPS_PER_SEMITONE))
    axis = np.arange(steps)

    def log_spectrum(power):
        levels = 10 * np.log10(np.interp(grid, frequencies, power) + 1e-20)
        levels = np.maximum(levels, levels.max() - 60.0)
        levels -= np.polyval(np.polyfit(axis, levels, 1), axis)
        return levels

    x, y = log_spectrum(first.long_term_spectrum), log_spectrum(second.long_term_spectrum)

    def correlation(lag: int) -> float:
        u, w = (x[: len(x) - lag], y[lag:]) if lag >= 0 else (x[-lag:], y[: len(y) + lag])
        return float(np.corrcoef(u, w)[0, 1]) if u.std() > 0 and w.std() > 0 else -1.0

    limit = SHIFT_MAX_SEMITONES * SHIFT_STEPS_PER_SEMITONE
    lags = np.arange(-limit, limit + 1)
    scores = np.array([correlation(int(lag)) for lag in lags])
    best = int(np.argmax(scores))
    return float(lags[best] / SHIFT_STEPS_PER_SEMITONE), float(scores[best]), correlation(0)


def common_top_hz(clips) -> float:
    """The top of the band both clips hold (see `held_band`); a band-limited copy is compared only below it."""
    tops = [band_top_hz(clip.long_term_spectrum) for clip in clips if clip.long_term_spectrum is not None]
    return min(tops) if tops else ANALYSIS_RATE / 2


def _clear_shift(shift: float, score: float, at_zero: float) -> bool:
    """Whether the spectral shift's best lag is a clear one (zero included: identical spectra say "no shift" even
    where pyin wavers)."""
    gain = score - at_zero
    return abs(shift) < SHIFT_MAX_SEMITONES and (
        shift == 0
        and score >= SHIFT_CORRELATION
        or gain >= SHIFT_GAIN
        and score >= SHIFT_CORRELATION
        or gain >= 0.2
        and score >= 0.7
    )


def _pitch(clips, alignment=None) -> PropertyState:
    """The f0 difference where both clips are pitched, checked against the spectral shift (which also covers
    unpitched sounds and pyin's octave errors)."""
    state = PropertyState("pitch")
    threshold = MEASURES["f0"].threshold
    shift, score, at_zero = spectral_shift(*clips)
    confident = _clear_shift(shift, score, at_zero)
    values, state.reason = _values(clips, "f0")
    top = common_top_hz(clips)
    if values and max(values) > top:  # a clip cut below the f0 has lost the partial the other's f0 is read from
        values, state.reason = None, f"an f0 of {format_hz(max(values))} is above the band both hold ({format_hz(top)})"
    semitones, how = None, ""
    if values:
        one, two = values
        semitones = 12 * np.log2(two / one)
        state.numbers = {"audio1_f0_hz": round(one, 1), "audio2_f0_hz": round(two, 1)}
        how = f"median f0 {format_hz(two)} vs {format_hz(one)}"
    if confident and (semitones is None or abs(semitones - shift) >= threshold):
        semitones, how = shift, f"spectrum shifted, r = {score:.2f}"
    elif semitones is None:
        return state
    state.reason = None
    state.numbers |= {
        "semitones": round(float(semitones), 1),
        "spectral_shift": shift,
        "shift_correlation": round(score, 2),
    }
    state.sign = int(np.sign(semitones)) if abs(semitones) >= threshold else 0
    if state.sign:
        word = "higher" if semitones > 0 else "lower"
        state.sentence = f"Audio 2 is {abs(semitones):.1f} semitones {word} in pitch than audio 1 ({how})."
    return state


def _speed(clips, alignment: tuple[float, float, float]) -> PropertyState:
    """How many times as fast audio 2's events come where the two clips' timing matches (see [`time_scale`]);
    otherwise, with 3 or more onsets in each, which clip has more onsets per second."""
    factor, score, _ = alignment
    if score < ALIGNED_CORRELATION:  # two different recordings: compare how often things happen
        rates = [clip.values.get("onset_rate") for clip in clips]
        if None not in rates and min(r * c.values["active_duration"] for r, c in zip(rates, clips, strict=True)) < 3:
            reason = "the timing of the two clips does not match, and one has under 3 onsets"
            return PropertyState("speed", reason=reason)
        return ONSET_RATE(clips)
    state = PropertyState("speed", numbers={"factor": round(factor, 2), "correlation": round(score, 2)})
    threshold = MEASURES["tempo"].threshold
    state.sign = 1 if factor >= threshold else -1 if factor <= 1 / threshold else 0
    if state.sign:
        word = "faster" if factor > 1 else "slower"
        state.sentence = (
            f"Audio 2 is {word}: its events come {factor:.2f} times as fast as audio 1's "
            f"(onset envelopes aligned, r = {score:.2f})."
        )
    return state


def _recording_length(clip: ClipMeasurements) -> float | None:
    return clip.span[2] if clip.span is not None else clip.values.get("duration")


def _length(clips, alignment=None) -> PropertyState:
    """The recordings' lengths, where they differ and the sounding spans do not say so (silence added or cut)."""
    state = PropertyState("length")
    one, two = (_recording_length(clip) for clip in clips)
    if one is None or two is None:
        state.reason = "not measured"
        return state
    state.numbers = {"audio1_s": round(one, 2), "audio2_s": round(two, 2)}
    state.sign = int(np.sign(two - one)) if abs(two - one) >= MEASURES["duration"].threshold else 0
    if state.sign:
        word = "longer" if state.sign > 0 else "shorter"
        state.sentence = (
            f"Audio 2 is a {abs(two - one):.1f} s {word} recording than audio 1 ({two:.1f} vs {one:.1f} s)."
        )
    return state


def _noise(clips, alignment=None) -> PropertyState:
    """[`NOISE`], where the noisier clip's noise floor is also higher: a clip made louder in part has a better SNR
    than its unchanged partner, which is no noisier for it."""
    state = NOISE(clips)
    floors = [clip.noise_floor for clip in clips]
    if not state.sign or any(floor is None for floor in floors):
        return state
    noisier = 2 if state.sign > 0 else 1
    common = held_band(clips[0].long_term_spectrum) & held_band(clips[1].long_term_spectrum)
    level = [float(np.median(10 * np.log10(floor[common] + 1e-20))) for floor in floors]  # tonal bins aside
    rise = level[noisier - 1] - level[2 - noisier]
    state.numbers["floor_rise_db"] = round(float(rise), 1)
    if rise < MIN_FLOOR_RISE_DB:
        state.sign, state.sentence = 0, None
        state.reason = f"audio {noisier}'s noise floor is not higher ({rise:+.1f} dB)"
    return state


def _band_levels_db(clip: ClipMeasurements, edges: np.ndarray) -> np.ndarray:
    """The long-term spectrum's level (dB) in each band between `edges` (Hz)."""
    frequencies = np.arange(len(clip.long_term_spectrum)) * ANALYSIS_RATE / N_FFT
    bands = np.digitize(frequencies, edges) - 1
    return np.array([_db(clip.long_term_spectrum[bands == i].sum()) for i in range(len(edges) - 1)])


def _one_filter(states: dict, clips) -> None:
    """A treble cut on one clip makes the other look bass-heavy by comparison (and a bass cut, treble-heavy). Where
    the two findings name different clips, the half-octave band levels decide: a cut is where one clip falls far
    under the other, so the finding kept is the one whose clip falls further somewhere (the other clip differs only
    by the level the cut took away)."""
    treble, bass = states["treble"], states["bass"]
    if not (treble.sign and bass.sign) or any(clip.long_term_spectrum is None for clip in clips):
        return
    duller, thinner = (1 if treble.sign > 0 else 2), (1 if bass.sign > 0 else 2)
    if duller == thinner:
        return
    edges = 50.0 * 2 ** (np.arange(0, 2 * np.log2(ANALYSIS_RATE / 2 / 50.0) + 1) / 2)
    levels = [_band_levels_db(clip, edges) for clip in clips]
    heard = np.maximum(*levels) >= np.maximum(*levels).max() - 60.0  # bands where either clip holds sound
    under = levels[thinner - 1][heard] - levels[duller - 1][heard]  # > 0 where the duller clip falls under
    treble_cut, bass_cut = float(under.max()), float(-under.min())
    kept, dropped = (treble, bass) if treble_cut >= bass_cut else (bass, treble)
    dropped.sign, dropped.sentence = 0, None
    cut = duller if kept is treble else thinner
    dropped.reason = (
        f"explained by audio {cut}'s {kept.name} cut (bands {max(treble_cut, bass_cut):.0f} dB under the other "
        f"clip, against {min(treble_cut, bass_cut):.0f} dB)"
    )


def _filter_cut(states: dict, clips, alignment, view: "PairView") -> None:
    """Where the two clips keep the same timing and pitch (the same sound, filtered or not: their waveforms or
    their envelopes line up as they are), the treble and bass findings come from the clips' half-octave band
    levels against each other (`pair.filter_cuts`): a treble cut is all of a clip's upper bands falling
    `FILTER_CUT_DB` or more under the level it keeps below, relative to the other clip, however little energy the
    sound has near the cut. The deepest cut found names the filter."""
    treble, bass = states["treble"], states["bass"]
    factor, score, _ = alignment
    in_place = view.aligned or (score >= ALIGNED_CORRELATION and abs(np.log(factor)) <= 0.02)
    if not in_place or states["pitch"].sign:
        return
    if any(clip.long_term_spectrum is None for clip in clips):
        return
    levels = [_band_levels_db(clip, HALF_OCTAVES) for clip in clips]
    heard = np.maximum(*levels) >= np.maximum(*levels).max() - 50.0
    if heard.sum() < 4:
        return
    cuts = pair.filter_cuts(levels[0][heard], levels[1][heard])
    name, depth = max(cuts.items(), key=lambda item: item[1])
    for state in (treble, bass):
        state.numbers |= {f"{key}_cut_db": round(value, 1) for key, value in cuts.items() if key.startswith(state.name)}
    cut_clip = int(name[-1])
    noisier = states["noise"].sign
    if depth < FILTER_CUT_DB or (noisier and cut_clip != (2 if noisier > 0 else 1)):
        return  # hiss added to one clip fills its upper bands: no cut of the other's to read
    kept, other = (treble, bass) if name.startswith("treble") else (bass, treble)
    kept.sign = -1 if cut_clip == 2 else 1  # the other clip has more treble (or bass)
    other.sign, other.sentence = 0, None
    other.reason = f"explained by audio {cut_clip}'s {kept.name} cut ({depth:.0f} dB)"
    if kept is treble:
        kept.sentence = (
            f"Audio {cut_clip} is duller (muffled): its upper frequency bands fall {depth:.0f} dB under the level it "
            f"keeps below them, against audio {3 - cut_clip}."
        )
    else:
        kept.sentence = (
            f"Audio {cut_clip} is thinner (less bass): its lower frequency bands fall {depth:.0f} dB under the level "
            f"it keeps above them, against audio {3 - cut_clip}."
        )
    kept.reason = None


def _unmatched_gaps(clips) -> list[list[tuple[float, float]]]:
    """Each clip's inner silences that the other clip does not have at the same (duration-scaled) time: for two
    recordings whose timing does not match."""
    lengths = [clip.values.get("active_duration") or 0.0 for clip in clips]
    result = []
    for index, clip in enumerate(clips):
        other = clips[1 - index]
        scale = lengths[1 - index] / lengths[index] if lengths[index] else 1.0
        mine = []
        for start, length in clip.gaps:
            begin, end = start * scale, (start + length) * scale
            if not any(s < end and begin < s + n for s, n in other.gaps):
                mine.append((start, length))
        result.append(mine)
    return result


def _silent_while_other_sounds(clip, other, factor: float) -> list[tuple[float, float]]:
    """Silences of `clip` (after it first sounds) through which `other` sounds for at least the silence threshold,
    on `clip`'s time axis (`other` runs `factor` times as fast). A silence that runs to the end of `clip` counts
    only when it starts with a cut (30 dB down within three frames), not a natural decay."""
    hop_seconds = ENVELOPE_HOP / ANALYSIS_RATE
    frames = np.arange(len(clip.active))
    positions = np.round(frames / factor).astype(int)
    other_active = np.zeros(len(frames), bool)
    inside = positions < len(other.active)
    other_active[inside] = other.active[positions[inside]]
    sounding = np.flatnonzero(clip.active)
    if len(sounding) == 0:
        return []
    silent = ~clip.active
    silent[: sounding[0]] = False
    padded = np.concatenate([[0], silent.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    stretches = []
    least = MEASURES["silence"].threshold
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        # long enough, and the other clip sounds through at least that long of it
        if (end - start) * hop_seconds < least or other_active[start:end].sum() * hop_seconds < least:
            continue
        if end > sounding[-1]:  # nothing sounds after it: a cut, or just the end of the sound?
            before = clip.envelope_db[max(start - 1, 0)]
            if before - clip.envelope_db[min(start + 2, len(frames) - 1)] < 30.0:
                continue
        stretches.append((start * hop_seconds, (end - start) * hop_seconds))
    return stretches


def _gap(clips, alignment: tuple[float, float, float]) -> PropertyState:
    state = PropertyState("gap")
    if None in [clip.values.get("silence") for clip in clips] or clips[0].active is None or clips[1].active is None:
        _, state.reason = _values(clips, "silence")
        return state
    factor, score, _ = alignment
    durations = [clip.values["duration"] for clip in clips]
    if score < ALIGNED_CORRELATION and abs(durations[1] - durations[0]) <= 0.01 * max(durations):
        factor, score = 1.0, ALIGNED_CORRELATION  # too short to align by onsets, but the same length: in place
    if score >= ALIGNED_CORRELATION:
        first, second = clips
        unmatched = [
            _silent_while_other_sounds(first, second, 1 / factor),
            _silent_while_other_sounds(second, first, factor),
        ]
    else:
        unmatched = _unmatched_gaps(clips)
    longest = [max((n for _, n in gaps), default=0.0) for gaps in unmatched]
    state.present = tuple(bool(n >= MEASURES["silence"].threshold) for n in longest)
    state.numbers = {
        "audio1_gaps": [[round(s, 2), round(n, 2)] for s, n in unmatched[0]],
        "audio2_gaps": [[round(s, 2), round(n, 2)] for s, n in unmatched[1]],
    }
    state.sign = int(state.present[1]) - int(state.present[0])
    if state.sign:
        which = 2 if state.sign > 0 else 1
        start, length = max(unmatched[which - 1], key=lambda g: g[1])
        state.sentence = f"Audio {which} has a {length:.1f} s silence at {start:.1f} s where audio {3 - which} sounds."
    return state


class PairView:
    """Two clips' excerpts compared sample by sample (`adiff_hf.evidence.pair`), each measure computed once."""

    def __init__(self, first: ClipMeasurements, second: ClipMeasurements):
        self.first, self.second = first, second
        least = ENVELOPE_HOP  # 12 ms
        self.usable = all(clip.excerpt is not None and len(clip.excerpt) >= least for clip in (first, second))

    @cached_property
    def waveforms(self) -> pair.Waveforms:
        return pair.Waveforms(self.first.excerpt, self.second.excerpt)

    @cached_property
    def match(self) -> tuple[int, float]:
        return self.waveforms.match()

    @property
    def aligned(self) -> bool:
        """Whether the two waveforms line up as the same recording."""
        return self.usable and abs(self.match[1]) >= SAME_WAVEFORM

    @cached_property
    def reversal(self) -> tuple[float, float]:
        return self.waveforms.reversal()

    @cached_property
    def echoes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        return self.waveforms.echo_tap(), self.waveforms.echo_tap(forward=False)

    @cached_property
    def saturation(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        lag = self.match[0]
        return self.waveforms.saturation(lag), self.waveforms.saturation(lag, forward=False)

    @cached_property
    def tails(self) -> tuple[tuple[float, int], tuple[float, int]]:
        """`tail_excess` of audio 2 over audio 1, and of audio 1 over audio 2, on envelopes lined up."""
        a, b = self.envelopes
        return pair.tail_excess(a, b), pair.tail_excess(b, a)

    @cached_property
    def envelopes(self) -> tuple[np.ndarray, np.ndarray]:
        """The two level envelopes, lined up by the waveforms' match."""
        shift = int(round(self.match[0] / ENVELOPE_HOP))
        a, b = self.first.envelope_db, self.second.envelope_db
        return (a, b[shift:]) if shift >= 0 else (a[-shift:], b)

    @cached_property
    def local_slope(self) -> tuple[float, int, float]:
        """`level_slope` of the two envelopes' swings around their one-second medians."""
        width = round(ANALYSIS_RATE / ENVELOPE_HOP)
        a, b = self.envelopes
        n = min(len(a), len(b))
        if n < 2 * width:
            return self.slope
        from scipy.ndimage import median_filter

        # around a running median: a step in level (a louder passage) is no swing
        floored = [np.maximum(e[:n], np.percentile(e[:n], 95) - 40.0) for e in (a, b)]  # silences at one floor
        swing = [e - median_filter(e, size=width, mode="nearest") for e in floored]
        loud = [e[:n] > np.percentile(e[:n], 95) - 30.0 for e in (a, b)]
        both = loud[0] & loud[1]
        return pair.level_slope(swing[0][both] + 100.0, swing[1][both] + 100.0, range_db=200.0)

    @cached_property
    def coding(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """`Waveforms.coding` of audio 2 keeping audio 1, and of audio 1 keeping audio 2."""
        return self.waveforms.coding(self.match[0])

    @cached_property
    def slope(self) -> tuple[float, int, float]:
        return pair.level_slope(*self.envelopes)

    def unaligned_reason(self) -> str:
        if not self.usable:
            return "a clip is silent or too short to compare sample by sample"
        return (
            f"the two waveforms do not line up (correlation {abs(self.match[1]):.2f}, {SAME_WAVEFORM} needed): "
            "different recordings, or a change of timing or pitch"
        )


def _reverb(clips, alignment, view: PairView) -> PropertyState:
    """Where the waveforms line up, the level each clip keeps after the other's sounds stop (`pair.tail_excess`): a
    reverberant copy stays up while the dry one falls. Otherwise [`REVERB`]'s decay times."""
    state = REVERB(clips)
    if not view.aligned or clips[0].envelope_db is None or clips[1].envelope_db is None:
        return state
    (excess2, frames2), (excess1, frames1) = view.tails
    state.numbers |= {"audio2_tail_excess_db": round(excess2, 1), "audio1_tail_excess_db": round(excess1, 1)}
    if excess2 >= TAIL_EXCESS_DB and excess1 <= 0:
        state.sign, which, excess = 1, 2, excess2
    elif excess1 >= TAIL_EXCESS_DB and excess2 <= 0:
        state.sign, which, excess = -1, 1, excess1
    else:
        return state
    state.reason = None
    state.sentence = (  # the direct comparison decides over the two decay estimates
        f"Audio {which} is more reverberant: where audio {3 - which}'s sounds have died away ({pair.TAIL_FALL_DB:.0f} "
        f"dB down), audio {which} stays {excess:.0f} dB louder."
    )
    return state


def _echo(clips, alignment, view: PairView) -> PropertyState:
    """A delayed repeat in the response from one clip to the other (and inverted the other way)."""
    state = PropertyState("echo")
    if not view.aligned:
        state.reason = view.unaligned_reason()
        return state
    (delay12, level12), (delay21, level21) = view.echoes
    state.numbers = {"delay_s": round(delay12, 3), "level_1_to_2": round(level12, 2), "level_2_to_1": round(level21, 2)}
    same_delay = abs(delay12 - delay21) <= 0.003
    state.sign = 0
    if same_delay and level12 >= ECHO_LEVEL and level21 <= -ECHO_INVERSE:
        state.sign, delay, level = 1, delay12, level12
    elif same_delay and level21 >= ECHO_LEVEL and level12 <= -ECHO_INVERSE:
        state.sign, delay, level = -1, delay21, level21
    if state.sign:
        which = 2 if state.sign > 0 else 1
        state.sentence = (
            f"Audio {which} echoes: it repeats {delay * 1000:.0f} ms after each sound at {20 * np.log10(level):.0f} dB "
            f"({level:.0%} of the direct sound), which audio {3 - which} does not."
        )
    return state


def _distortion(clips, alignment, view: PairView) -> PropertyState:
    """Saturation: one clip's samples bend flat where the other's peak, and its crest factor falls."""
    state = PropertyState("distortion")
    crests = [clip.values.get("crest") for clip in clips]
    if not view.aligned or None in crests:
        state.reason = view.unaligned_reason() if not view.aligned else _values(clips, "crest")[1]
        return state
    (bend12, fit12, gains12), (bend21, fit21, gains21) = view.saturation
    state.numbers = {
        "audio1_crest_db": round(crests[0], 1),
        "audio2_crest_db": round(crests[1], 1),
        "bend_1_to_2": round(bend12, 2),
        "bend_2_to_1": round(bend21, 2),
    }
    drop = crests[0] - crests[1]  # > 0: audio 2 has the lower crest factor
    state.sign = 0
    # a curve, not a level that changes over time (a gain per half second would explain that better)
    if bend12 >= SATURATION_BEND and fit12 >= SATURATION_FIT and fit12 >= gains12 - 0.01:
        state.sign = 1 if drop >= SATURATION_CREST_DB else 0
    if not state.sign and bend21 >= SATURATION_BEND and fit21 >= SATURATION_FIT and fit21 >= gains21 - 0.01:
        state.sign = -1 if -drop >= SATURATION_CREST_DB else 0
    if state.sign:
        which = 2 if state.sign > 0 else 1
        bend = bend12 if which == 2 else bend21
        state.sentence = (
            f"Audio {which} is saturated (distorted): its samples flatten where audio {3 - which}'s peak "
            f"(bend {bend:.2f}), and its crest factor is {abs(drop):.1f} dB lower ({crests[which - 1]:.1f} vs "
            f"{crests[2 - which]:.1f} dB)."
        )
    return state


def _compression(clips, alignment, view: PairView) -> PropertyState:
    """Squeezed dynamics: one clip's level rises less than the other's over the frames both sound in."""
    state = PropertyState("compression")
    if not view.aligned or clips[0].envelope_db is None or clips[1].envelope_db is None:
        state.reason = view.unaligned_reason()
        return state
    slope, frames, correlation = view.slope
    state.numbers = {"level_slope_2_per_1": round(slope, 2), "frames": frames, "correlation": round(correlation, 2)}
    ranges = [clip.values.get("loudness_range") for clip in clips]
    if None not in ranges:
        state.numbers |= {"audio1_lra_lu": round(ranges[0], 1), "audio2_lra_lu": round(ranges[1], 1)}
    state.sign = 0
    local, _, _ = view.local_slope
    state.numbers["local_slope_2_per_1"] = round(local, 2)
    if frames >= 8 and 0 < slope <= COMPRESSION_SLOPE and local <= LOCAL_SLOPE:
        state.sign = 1
    elif frames >= 8 and slope >= 1 / COMPRESSION_SLOPE and local >= 1 / LOCAL_SLOPE:
        state.sign = -1
    if state.sign:
        which = 2 if state.sign > 0 else 1
        per = slope if which == 2 else 1 / slope
        state.sentence = (
            f"Audio {which} is compressed: its level moves {per:.2f} dB for each dB of audio {3 - which}'s over the "
            "frames both sound in."
        )
    return state


def _soft_clipping(states: dict) -> None:
    """Peaks rounded off rather than cut flat (soft clipping) leave no flat tops: a clip found saturated against
    the other (`distortion`) has its peaks clipped too."""
    clipping, saturated = states["clipping"], states["distortion"]
    if not saturated.sign or clipping.present is None:
        return
    which = 2 if saturated.sign > 0 else 1
    if clipping.present[which - 1]:
        return
    present = list(clipping.present)
    present[which - 1] = True
    clipping.present = tuple(present)
    clipping.sign = int(present[1]) - int(present[0])
    clipping.numbers["soft_clipped"] = which
    clipping.sentence = (
        f"Audio {which}'s peaks are clipped (rounded off, as soft clipping and saturation do: see its distortion)."
        if clipping.sign
        else None
    )


# findings that add sound to one clip (hiss, harmonics, repeats): beside them, the other clip looks band-limited
ADDED_SOUND = ("noise", "distortion", "clipping", "bitcrush", "compression", "echo")


def _codec(states: dict, view: PairView) -> None:
    """A lossy codec: one clip's band ends well under the other's, deeper than a filter leaves it, and what it
    keeps below carries the other's sound with coding noise and holes (`pair.Waveforms.coding`), where a filter
    carries it almost exactly. Not read where the other clip has sound added (hiss, harmonics, a tail), which
    makes any clip look band-limited beside it."""
    state = PropertyState("codec")
    states["codec"] = state
    if not view.aligned:
        state.reason = view.unaligned_reason()
        return
    (ratio2, cut2, residual2), (ratio1, cut1, residual1) = view.coding
    state.numbers = {
        "audio1_top_ratio": round(ratio1, 2),
        "audio2_top_ratio": round(ratio2, 2),
        "audio1_cut_db": round(cut1, 1),
        "audio2_cut_db": round(cut2, 1),
        "audio1_residual_db": round(min(residual1, 99.0), 1),
        "audio2_residual_db": round(min(residual2, 99.0), 1),
    }
    coded = [
        ratio <= CODEC_TOP_RATIO and cut <= -CODEC_CUT_DB and residual <= CODEC_RESIDUAL_DB
        for ratio, cut, residual in ((ratio1, cut1, residual1), (ratio2, cut2, residual2))
    ]
    state.sign = int(coded[1]) - int(coded[0])
    if not state.sign:
        return
    which = 2 if state.sign > 0 else 1
    added = [name for name in ADDED_SOUND if _names_clip(states[name], 3 - which)]
    if added:
        state.sign, state.reason = 0, f"audio {3 - which} has sound added ({', '.join(added)}): no band limit to read"
        return
    ratio, cut, residual = (ratio2, cut2, residual2) if which == 2 else (ratio1, cut1, residual1)
    state.sentence = (
        f"Audio {which} sounds codec-degraded: its band ends at {ratio:.0%} of audio {3 - which}'s, {-cut:.0f} dB "
        f"deeper than a filter leaves it, and what it keeps carries audio {3 - which}'s sound only {residual:.0f} dB "
        "above coding noise."
    )


def _names_clip(state: PropertyState, which: int) -> bool:
    """Whether a finding says audio `which` has more of its property."""
    if state.present is not None and state.name in PRESENCE:
        return bool(state.present[which - 1]) and not state.present[2 - which]
    return state.sign == (1 if which == 2 else -1)


def _bitcrush(clips, alignment=None) -> PropertyState:
    """Coarse quantisation: a few dozen distinct sample values, in steps far coarser than the other clip's."""
    state = PropertyState("bitcrush")
    levels, reason = _values(clips, "levels")
    steps, step_reason = _values(clips, "step")
    if levels is None or steps is None:
        state.reason = reason or step_reason
        return state
    state.numbers = {
        "audio1_levels_bits": round(levels[0], 1),
        "audio2_levels_bits": round(levels[1], 1),
        "audio1_step_dbfs": round(steps[0], 1),
        "audio2_step_dbfs": round(steps[1], 1),
    }
    coarse = [levels[i] <= BITCRUSH_MAX_BITS and steps[i] - steps[1 - i] >= MEASURES["step"].threshold for i in (0, 1)]
    state.sign = int(coarse[1]) - int(coarse[0])
    if state.sign:
        which = 2 if state.sign > 0 else 1
        state.sentence = (
            f"Audio {which} is bit-crushed: its samples take {2 ** levels[which - 1]:.0f} distinct values (about "
            f"{levels[which - 1]:.0f} bits), in steps {steps[which - 1] - steps[2 - which]:.0f} dB coarser than "
            f"audio {3 - which}'s."
        )
    return state


def _reverse(clips, alignment, view: PairView) -> PropertyState:
    """Whether one clip is the other played backwards (a relation: both clips have it or neither)."""
    state = PropertyState("reverse")
    if not view.usable:
        state.reason = view.unaligned_reason()
        return state
    forward, backward = view.reversal
    state.numbers = {"forward_match": round(forward, 2), "backward_match": round(backward, 2)}
    if backward >= REVERSED_MATCH and backward - forward >= REVERSED_MARGIN:
        state.present, state.sign = (True, True), 0
        state.sentence = (
            f"Audio 2 is audio 1 played backwards: reversed, its waveform matches with correlation {backward:.2f} "
            f"(as it is, {forward:.2f})."
        )
    elif backward >= REVERSED_MATCH:
        state.reason = f"the clips match as well as they are ({forward:.2f}) as reversed ({backward:.2f})"
    elif forward >= SAME_WAVEFORM or alignment[1] >= ALIGNED_CORRELATION:
        state.present, state.sign = (False, False), 0
    else:
        state.reason = "the two waveforms match neither as they are nor reversed"
    return state


# every property's rule, in `PROPERTIES` order: each takes the two clips and their alignment (see [`time_scale`]);
# those in PAIR_RULES also their sample-by-sample view
PAIR_RULES = (_reverb, _echo, _distortion, _compression, _reverse)
RULES = (
    _loudness,
    TREBLE,
    BASS,
    _pitch,
    _speed,
    DURATION,
    _length,
    _noise,
    _reverb,
    _echo,
    _distortion,
    _compression,
    _bitcrush,
    CLIPPING,
    _gap,
    _reverse,
    SPEECH,
)


def compare_measurements(first: ClipMeasurements, second: ClipMeasurements) -> Evidence:
    """The [`Evidence`] from two clips' measurements."""
    clips = (first, second)
    alignment = time_scale(first, second)
    view = PairView(first, second)
    states = {}
    for rule in RULES:
        state = rule(clips, alignment, view) if rule in PAIR_RULES else rule(clips, alignment)
        states[state.name] = state
    _one_filter(states, clips)
    _filter_cut(states, clips, alignment, view)
    _soft_clipping(states)
    _codec(states, view)
    if states["duration"].differs:  # the sounding spans already say it
        states["length"].sentence = None
    return Evidence(clips, {name: states[name] for name in PROPERTIES})


def compare_clips(
    audio1,
    audio2,
    sampling_rate: int | None = None,
    max_seconds: float | None = None,
    crop: str = "start",
    progress: bool = False,
) -> Evidence:
    """Measure two clips and say how they differ, with numbers.

    Args:
        audio1, audio2: the clips, in any form the processor takes: file paths, 1-D or multichannel arrays (give
            `sampling_rate`), or `{"array", "sampling_rate"}` dicts; any rate, channel count and length (a long
            file is read in segments: memory stays bounded).
        sampling_rate: the rate of array inputs.
        max_seconds, crop: measure only `max_seconds` of each clip, cut where `crop` says (`"start"`,
            `"center"`): what a model that hears that much heard. `Evidence.scope` says what was measured.
        progress: show a progress bar (long recordings take about 1.6 s a minute of audio on 2 cores).

    Returns:
        [`Evidence`]: `.sentences` ("Audio 2 is 8.1 LU quieter than audio 1 (...)"), `.properties` (every
        property's state, above threshold or not), `.table()` (both clips' measurements) and `.to_dict()`.

    Example:

    ```python
    >>> from adiff_hf.evidence import compare_clips
    >>> evidence = compare_clips("take1.wav", "take2.wav")
    >>> print("\\n".join(evidence.sentences))
    ```
    """
    clips = [audio1, audio2]
    first, second = measure_clips(
        clips, sampling_rate, names=["audio1", "audio2"], max_seconds=max_seconds, crop=crop, progress=progress
    )
    return compare_measurements(first, second)


__all__ = ["PRESENCE", "PROPERTIES", "Evidence", "PropertyState", "compare_clips", "compare_measurements", "time_scale"]
