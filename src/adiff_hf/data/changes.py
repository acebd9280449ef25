"""Controlled changes to a clip, the words for them, and the direction-aware labels an ear learns from.

One place for what a difference *is*: the local dataset (`adiff_hf.data.local`) writes fixed splits with these
changes, and [`~adiff_hf.data.pair_stream.DifferencePairStream`] draws pairs from them without end. Each change is
drawn with a strength from a range and applied by one of several implementations (a convolution reverb as well as
`pedalboard.Reverb`, brick-wall, Butterworth and cascaded one-pole filters, hard, soft and asymmetric clippers,
...), so that an ear learns the change rather than one program's fingerprint.

Level, speed, tempo, pitch and reversal read the same from either side ("audio 2 is louder" is "audio 1 is
quieter"): their labels name the direction from audio 1 to audio 2 and have no changed clip. The other changes
(reverb, filters, noise, ...) have a changed clip.
"""

from dataclasses import dataclass

import numpy as np

RATE = 32_000  # the rate pairs are made at (ADIFF's front end)


@dataclass
class Source:
    """One labelled source clip."""

    path: str
    label: str  # "a frog", "a woman saying 'activated'"
    package: str
    license: str
    kind: str = "sound"  # "sound", "speech" or "music"
    split: str | None = None  # a split of its own (else the pair stream assigns one by package and path)


@dataclass
class Change:
    """A controlled change applied to a source clip, with the words that describe it."""

    name: str
    value: float
    short: str  # "quieter": a few words
    phrase: str  # "about 9 dB quieter": the change and its size
    detail: str = ""  # what changed in the signal
    impression: str = ""  # how it strikes a listener ("seems farther away")
    variant: str = ""  # the codec used ("gsm" / "mp3"); other changes choose an implementation when applied
    strength: float = 0.5  # where the value lies in its range, 0 (mildest) to 1 (strongest)


# ---------------------------------------------------------------------------------------------- applying


def _rms(wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) + 1e-12


def _pedal(plugin, wave: np.ndarray, tail: float = 0.0) -> np.ndarray:
    """Run a pedalboard plugin on mono `wave` (with `tail` seconds of silence appended for reverb and echo)."""
    padded = np.concatenate([wave, np.zeros(int(tail * RATE), np.float32)]).astype(np.float32)
    return np.asarray(plugin(padded, RATE), dtype=np.float32).reshape(-1)


def _fft_filter(wave: np.ndarray, cutoff: float, low: bool) -> np.ndarray:
    """A brick-wall filter: the bins past `cutoff` zeroed."""
    spectrum = np.fft.rfft(wave)
    freqs = np.fft.rfftfreq(len(wave), 1 / RATE)
    spectrum[(freqs > cutoff) if low else (freqs < cutoff)] = 0
    return np.fft.irfft(spectrum, len(wave))


def _butter(wave: np.ndarray, cutoff: float, low: bool, order: int) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    sos = butter(order, cutoff, "lowpass" if low else "highpass", fs=RATE, output="sos")
    return sosfilt(sos, wave)


def _convolution_reverb(wave: np.ndarray, room: float, rng: np.random.Generator) -> np.ndarray:
    """The clip convolved with a random impulse response: noise decaying over a time that grows with `room`."""
    from scipy.signal import fftconvolve

    decay = 0.3 + 1.5 * room  # seconds to -60 dB
    length = int(min(decay, 2.0) * RATE)
    t = np.arange(length) / RATE
    response = rng.standard_normal(length) * np.exp(-6.9 * t / decay)
    response[: int(0.01 * RATE)] *= np.linspace(0, 1, int(0.01 * RATE))  # no second direct sound
    wet = fftconvolve(np.concatenate([wave, np.zeros(int(0.8 * RATE))]), response)[: len(wave) + int(0.8 * RATE)]
    dry = np.concatenate([wave, np.zeros(int(0.8 * RATE))])
    return 0.7 * dry + 0.6 * wet * _rms(dry) / _rms(wet)


def _taps_echo(wave: np.ndarray, delay: float, rng: np.random.Generator) -> np.ndarray:
    """Repeats every `delay` seconds, each `feedback` quieter."""
    step, feedback = int(delay * RATE), float(rng.uniform(0.3, 0.55))
    out = np.concatenate([wave, np.zeros(4 * step)]).astype(np.float64)
    for k in range(1, 5):
        out[k * step : k * step + len(wave)] += wave * feedback**k
    return out


# How each change can be made; `apply_change` draws one unless told. Several per change, so that an ear learns the
# change, not one implementation's fingerprint.
IMPLEMENTATIONS = {
    "speed": ("interp", "soxr"),
    "reverb": ("pedalboard", "convolution"),
    "echo": ("pedalboard", "taps"),
    "lowpass": ("onepole4", "butterworth", "brickwall"),
    "highpass": ("onepole4", "butterworth", "brickwall"),
    "noise": ("white", "pink"),
    "distortion": ("pedalboard", "tanh", "asymmetric"),
    "clipping": ("hard", "soft"),
    "gap": ("at_30", "anywhere"),
}


def _implementation(change: Change, rng: np.random.Generator) -> str:
    """The implementation a change is applied with this time (drawn, unless the change names its codec)."""
    choices = IMPLEMENTATIONS.get(change.name)
    return choices[int(rng.integers(len(choices)))] if choices else change.variant


def apply_change(wave: np.ndarray, change: Change, rng: np.random.Generator, implementation: str | None = None):
    """The changed copy of `wave` (32 kHz mono). Effects that are not about level keep the clip's RMS level.

    `implementation` picks how the change is made (see `IMPLEMENTATIONS`); by default one is drawn from `rng`.
    """
    import pedalboard

    how = implementation or _implementation(change, rng)
    keep_level = True
    name, value = change.name, change.value
    if name == "gain":
        out, keep_level = wave * 10 ** (value / 20), False
    elif name == "speed":  # resampling: faster and higher (or slower and lower) together
        if how == "soxr":
            import soxr

            out = soxr.resample(wave.astype(np.float32), RATE * value, RATE)
        else:
            out = np.interp(np.arange(0, len(wave) - 1, value), np.arange(len(wave)), wave)
        keep_level = False
    elif name == "tempo":  # the same pitch, another duration
        out = pedalboard.time_stretch(wave[None].astype(np.float32), RATE, stretch_factor=value)[0]
    elif name == "pitch":  # the same duration, another pitch
        out = _pedal(pedalboard.PitchShift(semitones=value), wave)
    elif name == "reverb":
        if how == "convolution":
            out = _convolution_reverb(wave, value, rng)
        else:
            room = pedalboard.Reverb(room_size=value, damping=0.3, wet_level=0.45, dry_level=0.7, width=0)
            out = _pedal(room, wave, tail=1.0)
    elif name == "echo":
        if how == "taps":
            out = _taps_echo(wave, value, rng)
        else:
            out = _pedal(pedalboard.Delay(delay_seconds=value, feedback=0.4, mix=0.45), wave, tail=0.8)
    elif name in ("lowpass", "highpass"):
        low = name == "lowpass"
        if how == "brickwall":
            out = _fft_filter(wave, value, low)
        elif how == "butterworth":
            out = _butter(wave, value, low, int(rng.integers(2, 7)))
        else:  # four 6 dB/octave stages: a linear 24 dB/octave slope (the ladder filter's drive would add harmonics)
            stage = pedalboard.LowpassFilter if low else pedalboard.HighpassFilter
            out = _pedal(pedalboard.Pedalboard([stage(value) for _ in range(4)]), wave)
    elif name == "distortion":
        if how == "tanh":
            gain = 10 ** (value / 20)
            out = np.tanh(wave * gain)
        elif how == "asymmetric":
            driven = wave * 10 ** (value / 20)
            out = np.where(driven > 0, np.tanh(driven), np.tanh(0.5 * driven) * 2 * 0.6)
        else:
            out = _pedal(pedalboard.Distortion(drive_db=value), wave)
    elif name == "bitcrush":
        out = _pedal(pedalboard.Bitcrush(bit_depth=value), wave)
    elif name == "compression":
        squash = pedalboard.Pedalboard([pedalboard.Compressor(threshold_db=value, ratio=10, attack_ms=1)])
        out = _pedal(squash, wave)
    elif name == "codec":
        codec = (
            pedalboard.GSMFullRateCompressor()
            if change.variant == "gsm"
            else pedalboard.MP3Compressor(vbr_quality=value)
        )
        out = _pedal(codec, wave)
    elif name == "noise":
        power = float(np.mean(wave**2)) + 1e-12
        hiss = rng.standard_normal(len(wave))
        if how == "pink":  # 1/f power: the spectrum scaled by 1/sqrt(f)
            spectrum = np.fft.rfft(hiss)
            spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
            hiss = np.fft.irfft(spectrum, len(wave))
            hiss /= _rms(hiss)
        out, keep_level = wave + hiss * np.sqrt(power / 10 ** (value / 10)), False
    elif name == "clipping":
        limit = np.abs(wave).max() * value
        if how == "soft":
            out = np.tanh(wave / max(limit, 1e-6) * 1.5) * limit
        else:
            out = np.clip(wave, -limit, limit)
        out, keep_level = out / max(value, 1e-3) * 0.9, False
    elif name == "reverse":
        out, keep_level = wave[::-1], False
    elif name == "gap":
        out, keep_level = wave.copy(), False
        start = int(len(out) * (float(rng.uniform(0.1, 0.6)) if how == "anywhere" else 0.3))
        out[start : start + int(value * RATE)] = 0.0
    else:
        raise ValueError(f"Unknown change {name!r}.")
    out = np.nan_to_num(np.asarray(out, dtype=np.float64))
    if keep_level:  # a filter that removes nearly everything is made up for by 12 dB at most
        out *= min(_rms(wave) / _rms(out), 4.0 if name in ("lowpass", "highpass") else 100.0)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------- drawing

CHANGE_NAMES = (
    "gain",
    "gain",
    "speed",
    "tempo",
    "pitch",
    "reverb",
    "echo",
    "lowpass",
    "highpass",
    "noise",
    "distortion",
    "clipping",
    "bitcrush",
    "compression",
    "codec",
    "reverse",
    "gap",
)

# The ranges strengths are drawn from; a two-sided change draws its magnitude from the range and a direction.
RANGES = {
    "gain": (4.0, 15.0),  # dB, either sign
    "speed": (0.15, 0.45),  # factor 1 + x or 1 / (1 + x)
    "tempo": (0.2, 0.5),
    "pitch": (2.0, 7.0),  # semitones, either sign
    "reverb": (0.5, 0.95),
    "echo": (0.15, 0.4),
    "lowpass": (np.log(2500), np.log(300)),  # log Hz: the lower the cutoff, the stronger
    "highpass": (np.log(800), np.log(4000)),
    "noise": (20.0, 0.0),  # SNR dB
    "distortion": (15.0, 35.0),
    "clipping": (0.5, 0.1),  # the limit as a share of the peak
    "bitcrush": (7.0, 3.0),
    "compression": (-25.0, -40.0),
    "gap": (0.2, 0.6),
}


def describe_change(name: str, value: float, variant: str = "", strength: float = 0.5) -> Change:
    """The words for change `name` of size `value` (dB, a factor, semitones, Hz, ... as `apply_change` reads it)."""
    up = value > (0 if name in ("gain", "pitch") else 1)
    words = {
        "gain": lambda v: (
            "louder" if up else "quieter",
            f"about {abs(v):.0f} dB {'louder' if up else 'quieter'}",
            "the level changes while the content stays the same",
            "feels closer and more forceful" if up else "feels more distant and easier to miss",
        ),
        "speed": lambda v: (
            "faster and higher-pitched" if up else "slower and lower-pitched",
            f"played {v:.2f} times as fast, so {'faster and higher-pitched' if up else 'slower and lower-pitched'}",
            "its duration and its pitch change together, as with a tape played at the wrong speed",
            "sounds hurried and chipmunk-like" if up else "sounds sluggish and heavy",
        ),
        "tempo": lambda v: (
            "faster" if up else "slower",
            f"{'faster' if up else 'slower'} at the same pitch ({v:.2f} times the tempo)",
            "it is time-stretched: the duration changes but the pitch does not",
            "feels rushed" if up else "feels drawn out and unhurried",
        ),
        "pitch": lambda v: (
            "higher-pitched" if up else "lower-pitched",
            f"{'higher-pitched' if up else 'lower-pitched'} by about {abs(v):.0f} semitones at the same tempo",
            "it is pitch-shifted while its timing stays the same",
            "sounds brighter and smaller" if up else "sounds darker and larger",
        ),
        "reverb": lambda v: (
            "reverberant",
            f"reverberant, as if in {'a large hall' if v > 0.8 else 'a large room'}",
            "a reverberation tail follows every sound",
            "seems farther away and less present",
        ),
        "echo": lambda v: (
            "echoing",
            f"echoing, with repeats every {v:.2f} s",
            "delayed copies of the sound repeat and fade",
            "sounds as if it bounced off a distant wall",
        ),
        "lowpass": lambda v: (
            "muffled",
            f"muffled, with frequencies above about {v:.0f} Hz cut",
            "its high frequencies are filtered away",
            "sounds as if heard through a wall",
        ),
        "highpass": lambda v: (
            "thin",
            f"thin and tinny, with frequencies below about {v:.0f} Hz cut",
            "its low frequencies are filtered away",
            "sounds small, as if from a cheap loudspeaker",
        ),
        "noise": lambda v: (
            "noisier",
            f"noisier, with hiss at about {v:.0f} dB below the sound",
            "a steady broadband hiss sits under it",
            "is harder to listen to",
        ),
        "distortion": lambda v: (
            "distorted",
            f"distorted, overdriven by about {v:.0f} dB",
            "it is saturated, which adds harsh harmonics",
            "sounds harsh and gritty",
        ),
        "clipping": lambda v: (
            "clipped",
            "clipped, its peaks flattened",
            "its peaks are cut flat, which adds harsh harmonics",
            "sounds crackly and overloaded",
        ),
        "bitcrush": lambda v: (
            "grainy",
            f"grainy and lo-fi, reduced to {v:.0f} bits",
            "its samples are quantised coarsely, which adds a gritty noise",
            "sounds like an old video game",
        ),
        "compression": lambda v: (
            "compressed",
            f"compressed, its dynamics squashed above {v:.0f} dB",
            "its loud and quiet moments are pushed to the same level",
            "sounds flat and dense, with less punch",
        ),
        "codec": lambda v: (
            "codec-degraded",
            "codec-degraded, as through a GSM phone line"
            if variant == "gsm"
            else "codec-degraded, as a low-bitrate MP3",
            "lossy coding removes detail and adds swirling artefacts",
            "sounds like a phone call" if variant == "gsm" else "sounds watery and smeared",
        ),
        "reverse": lambda v: (
            "reversed",
            "played backwards",
            "its onsets and decays are swapped in time",
            "sounds strange and unnatural",
        ),
        "gap": lambda v: (
            "interrupted",
            f"interrupted by about {v:.1f} s of silence",
            "it stops briefly, then resumes",
            "seems to drop out for a moment",
        ),
    }
    if name not in words:
        raise ValueError(f"Unknown change {name!r}.")
    rounding = {"gain": 1, "speed": 2, "tempo": 2, "pitch": 1, "reverb": 2, "echo": 2, "noise": 1}
    rounding = (rounding | {"distortion": 1, "gap": 2, "clipping": 2}).get(name, 0)
    value = round(float(value), rounding) if rounding else float(round(value))
    return Change(name, value, *words[name](value), variant=variant, strength=strength)


def draw_change(rng: np.random.Generator, name: str | None = None) -> Change:
    """One controlled change with a strength drawn from its range, and the words for it."""
    name = name or CHANGE_NAMES[int(rng.integers(len(CHANGE_NAMES)))]
    if name not in RANGES and name not in ("codec", "reverse"):
        raise ValueError(f"Unknown change {name!r}.")
    if name == "codec":
        gsm = bool(rng.random() < 0.5)
        return describe_change(name, 0.0 if gsm else 9.0, "gsm" if gsm else "mp3")
    if name == "reverse":
        return describe_change(name, 1.0)
    strength = float(rng.random())
    lo, hi = RANGES[name]
    x = lo + strength * (hi - lo)
    up = bool(rng.random() < 0.5)
    if name == "gain":
        value = x if up else -x
    elif name in ("speed", "tempo"):
        value = 1 + x if up else 1 / (1 + x)
    elif name == "pitch":
        value = x if up else -x
    elif name in ("lowpass", "highpass"):
        value = float(np.exp(x))
    elif name == "bitcrush":
        value = float(round(x))
    else:
        value = x
    return describe_change(name, value, strength=strength)


def reversed_change(change: Change) -> Change:
    """The same difference read from the other clip: +9 dB -> -9 dB, 1.25x -> 0.8x, +3 -> -3 semitones.

    Only two-sided changes (`TWO_SIDED`) have one; the others are not undone by swapping the clips.
    """
    if change.name not in TWO_SIDED:
        raise ValueError(f"{change.name!r} has a changed clip; it reads the same only from that clip.")
    inverse = {"gain": -change.value, "pitch": -change.value, "reverse": 1.0}.get(change.name)
    if inverse is None:  # speed, tempo: factors
        inverse = 1 / change.value
    return describe_change(change.name, inverse, change.variant, change.strength)


def draw_two_changes(rng: np.random.Generator) -> list[Change]:
    """Two changes of different kinds that can be heard together (not two level or two speed changes)."""
    first = draw_change(rng)
    families = {"gain": "level", "compression": "level", "speed": "time", "tempo": "time", "pitch": "time"}
    families |= {"reverse": "time", "gap": "time", "distortion": "drive", "clipping": "drive", "bitcrush": "drive"}
    while True:
        second = draw_change(rng)
        if families.get(second.name, second.name) != families.get(first.name, first.name):
            return [first, second]


def draw_inaudible_change(rng: np.random.Generator) -> Change:
    """A change below audibility: a fraction of a decibel, or a trace of background 60 dB down."""
    if rng.random() < 0.5:
        db = float(rng.uniform(0.1, 0.4)) * (1 if rng.random() < 0.5 else -1)
        return Change("gain", round(db, 2), "", f"{abs(db):.1f} dB off in level")
    return Change("noise", 60.0, "", "carrying a trace of background 60 dB down")


# ---------------------------------------------------------------------------------------------- labels

# Changes that read the same from either clip: their label is the direction from audio 1 to audio 2.
TWO_SIDED = ("gain", "speed", "tempo", "pitch", "reverse")
# What an ear tells apart. Two-sided changes are named from audio 2's side ("louder": audio 2 is louder than
# audio 1); one-sided ones by the change, with the changed clip as a separate label.
EAR_CLASSES = (
    "same",
    "louder",
    "quieter",
    "speed_up",
    "speed_down",
    "tempo_up",
    "tempo_down",
    "pitch_up",
    "pitch_down",
    "reverse",
    "reverb",
    "echo",
    "lowpass",
    "highpass",
    "noise",
    "distortion",
    "clipping",
    "bitcrush",
    "compression",
    "codec",
    "gap",
    "sources",
)
SOURCE_KINDS = ("speech", "music", "sound")
STRENGTH_BUCKETS = 3


def change_class(change: Change, changed_clip: int) -> str:
    """The direction-aware class of `change` applied to clip `changed_clip` (1 or 2) of a pair."""
    if change.name in TWO_SIDED:
        seen_from_2 = change if changed_clip == 2 else reversed_change(change)
        if seen_from_2.name == "reverse":
            return "reverse"
        up = seen_from_2.value > (0 if seen_from_2.name in ("gain", "pitch") else 1)
        prefix = {"gain": ("louder", "quieter"), "speed": ("speed_up", "speed_down")}
        prefix |= {"tempo": ("tempo_up", "tempo_down"), "pitch": ("pitch_up", "pitch_down")}
        return prefix[seen_from_2.name][0 if up else 1]
    return change.name


def changed_clip_label(changes: list[Change], changed_clip: int) -> int:
    """0 (audio 1) or 1 (audio 2) where a change has a side; -100 (ignored) where every change reads from both."""
    return changed_clip - 1 if any(c.name not in TWO_SIDED for c in changes) else -100


# ---------------------------------------------------------------------------------------------- texts


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _capital(text: str) -> str:
    return text[0].upper() + text[1:]


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


KIND_WORDS = {"speech": "a voice", "music": "a musical sound", "sound": "a sound effect"}
# The words an ear's head classes are called, as its answers call them: what `ADiffEarConfig.label_words` holds, so
# that a language model can read the ear's class posteriors as mixtures of these words' embeddings.
_TWO_SIDED_CLASS_CHANGES = {
    "louder": ("gain", 6.0),
    "quieter": ("gain", -6.0),
    "speed_up": ("speed", 1.25),
    "speed_down": ("speed", 0.8),
    "tempo_up": ("tempo", 1.25),
    "tempo_down": ("tempo", 0.8),
    "pitch_up": ("pitch", 3.0),
    "pitch_down": ("pitch", -3.0),
}
EAR_CLASS_WORDS = {
    name: "the same"
    if name == "same"
    else "different sounds"
    if name == "sources"
    else describe_change(*_TWO_SIDED_CLASS_CHANGES.get(name, (name, 1.0))).short
    for name in EAR_CLASSES
}
EAR_LABEL_WORDS = {
    "change": [EAR_CLASS_WORDS[name] for name in EAR_CLASSES],
    "clip": ["audio 1", "audio 2"],
    "strength": ["slightly", "clearly", "strongly"],
    "kind": [KIND_WORDS[kind] for kind in SOURCE_KINDS],
}


def texts_for_change(label: str, changes: list[Change], changed_first: bool, rng) -> dict[str, str]:
    """Three tiers and two captions for a source and its copy changed in one or two ways."""
    one, two = ("audio 1", "audio 2") if changed_first else ("audio 2", "audio 1")
    shorts = _and([c.short for c in changes])
    phrases = _and([c.phrase for c in changes])
    few = _pick(rng, [f"{one} is {shorts}.", f"{one}: {shorts}.", f"{one} sounds {shorts}."])
    sentence = _pick(
        rng,
        [
            f"{one} is {phrases}; otherwise both hold {label}.",
            f"{one} presents {label} {phrases}, while {two} leaves it untouched.",
            f"In {one}, {label} is {phrases}, compared with {two}.",
        ],
    )
    what = _pick(
        rng,
        [
            f"Both recordings contain {label}.",
            f"The two clips carry the same source, {label}.",
            f"What is heard in both clips is {label}.",
        ],
    )
    how = " ".join(
        _pick(
            rng,
            [
                f"In {one} it is {c.phrase}: {c.detail}.",
                f"{_capital(one)} differs in that it is {c.phrase}, because {c.detail}.",
            ],
        )
        for c in changes
    )
    rest = _pick(
        rng,
        [
            f"{_capital(two)} keeps the original, so nothing else separates them.",
            f"{_capital(two)} presents the sound unaltered; the rest of the content is the same.",
        ],
    )
    feel = _pick(
        rng,
        [
            f"To a listener, {one} {_and([c.impression for c in changes])}.",
            f"Heard side by side, {one} {_and([c.impression for c in changes])}.",
        ],
    )
    return {
        "few_words": _capital(few),
        "sentence": _capital(sentence),
        "detail": f"{what} {how} {rest} {feel}",
        "caption_changed": f"{label}, {phrases}",
        "caption_plain": label,
    }


def texts_for_same(label: str, kind: str, inaudible: Change | None, rng) -> dict[str, str]:
    """Three tiers and captions for an identical or near-identical pair: no audible difference."""
    few = _pick(rng, ["No audible difference.", "They sound the same.", "No difference; the same sound."])
    sentence = _pick(
        rng,
        [
            f"Both recordings are {label}, with no audible difference between them.",
            f"The two clips are the same {KIND_WORDS[kind][2:]}, {label}, and sound identical.",
        ],
    )
    nuance = (
        f" One copy is {inaudible.phrase}, far below what anyone could hear."
        if inaudible is not None
        else " They are the same recording."
    )
    detail = (
        f"Both recordings contain {label}.{nuance} Their level, timbre, timing and space match, so there is no "
        "audible difference, and a listener comparing them side by side would not be able to tell which is which."
    )
    return {"few_words": few, "sentence": sentence, "detail": detail, "caption_1": label, "caption_2": label}


def texts_for_sources(a: Source, b: Source, rng: np.random.Generator) -> dict[str, str]:
    """Three tiers and two captions for two different sources."""
    contrast = (
        "one is a voice and the other is not"
        if (a.kind == "speech") != (b.kind == "speech")
        else f"both are {KIND_WORDS[a.kind][2:]}s, but different ones"
        if a.kind == b.kind
        else f"one is {KIND_WORDS[a.kind]} and the other {KIND_WORDS[b.kind]}"
    )
    few = _pick(rng, [f"{a.label} versus {b.label}.", f"Audio 1: {a.label}; audio 2: {b.label}."])
    sentence = _pick(
        rng,
        [
            f"Audio 1 contains {a.label}, while audio 2 contains {b.label}.",
            f"The first recording is {a.label} and the second is {b.label}.",
        ],
    )
    detail = (
        f"The two recordings hold different sources: {contrast}. Audio 1 contains {a.label}, heard as "
        f"{KIND_WORDS[a.kind]}. Audio 2 contains {b.label}, heard as {KIND_WORDS[b.kind]}. They differ in what is "
        "heard, not only in how it sounds, so a listener would take them for two unrelated recordings."
    )
    return {
        "few_words": _capital(few),
        "sentence": sentence,
        "detail": detail,
        "caption_1": a.label,
        "caption_2": b.label,
    }
