"""Long recording pairs with one known local difference: what localisation is tested and measured on.

A scene (sound events at random times over a quiet background) is written as audio 1; audio 2 is the same scene
with one change over a known span, optionally starting later (a lead-in of other sound). Both files are written in
10 s blocks, so an hour costs no more memory than a minute.
"""

import os
from dataclasses import asdict, dataclass

import numpy as np
import soundfile as sf

LONG_CHANGES = ("event", "mute", "level", "filter")
_BLOCK_SECONDS = 10


@dataclass
class LongPair:
    """Where the difference is: `start`–`end` in audio 1's time (audio 2's is `+ offset_seconds`)."""

    audio1: str
    audio2: str
    change: str
    start: float
    end: float
    offset_seconds: float
    duration: float
    sampling_rate: int

    def to_dict(self) -> dict:
        return asdict(self)


def synthetic_sources(rate: int, seed: int = 0) -> list[np.ndarray]:
    """A few short synthetic sounds (chimes, chirps, a noise burst, a plucked tone) to build scenes from."""
    rng = np.random.default_rng(seed)
    sounds = []
    for base in (523.25, 659.25, 392.0, 880.0):
        t = np.arange(int(1.5 * rate)) / rate
        sounds.append((np.sin(2 * np.pi * base * t) + 0.5 * np.sin(2 * np.pi * 2.76 * base * t)) * np.exp(-3 * t) * 0.5)
    for low in (300.0, 1200.0):
        t = np.arange(int(0.8 * rate)) / rate
        sounds.append(np.sin(2 * np.pi * low * t * (1 + 2 * t)) * np.hanning(len(t)) * 0.4)
    burst = rng.standard_normal(int(0.6 * rate)) * np.exp(-6 * np.arange(int(0.6 * rate)) / rate) * 0.3
    sounds.append(burst)
    return [s.astype(np.float32) for s in sounds]


def _event_sound(rate: int) -> np.ndarray:
    """The inserted event: a 2 s two-note horn (harmonic, 310/415 Hz), unlike the scene's sounds."""
    t = np.arange(int(1.0 * rate)) / rate
    notes = []
    for f in (310.0, 415.0):
        harmonic = sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 6))
        notes.append(harmonic * np.minimum(1, np.minimum(t, t[::-1]) * 20))
    return (0.25 * np.concatenate(notes)).astype(np.float32)


def _scene_block(index: int, rate: int, sources: list[np.ndarray], seed: int, density: float) -> np.ndarray:
    rng = np.random.default_rng([seed, index])
    length = _BLOCK_SECONDS * rate
    block = rng.standard_normal(length).astype(np.float32) * 0.003  # a quiet background
    for _ in range(rng.poisson(density * _BLOCK_SECONDS)):
        sound = sources[rng.integers(len(sources))] * rng.uniform(0.3, 1.0)
        if len(sound) >= length:
            continue
        at = rng.integers(0, length - len(sound))
        block[at : at + len(sound)] += sound
    return block


def _lowpass(wave: np.ndarray, rate: int, cutoff: float = 1000.0) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    return sosfiltfilt(butter(6, cutoff, btype="low", fs=rate, output="sos"), wave).astype(np.float32)


def _changed(wave: np.ndarray, change: str, rate: int) -> np.ndarray:
    """`wave` (the changed span) with `change` applied, faded in and out over 20 ms."""
    if change == "event":
        event = _event_sound(rate)
        out = wave.copy()
        at = max(0, (len(wave) - len(event)) // 2)
        out[at : at + len(event)] += event[: len(wave) - at]
        return out
    if change == "mute":
        target = np.zeros_like(wave)
    elif change == "level":
        target = wave * 10 ** (9 / 20)
    else:
        target = _lowpass(wave, rate)
    fade = np.ones(len(wave), dtype=np.float32)
    ramp = min(len(wave) // 2, int(0.02 * rate))
    fade[:ramp], fade[len(wave) - ramp :] = np.linspace(0, 1, ramp), np.linspace(1, 0, ramp)
    return wave * (1 - fade) + target * fade


def make_long_pair(
    output_dir: str,
    minutes: float,
    change: str = "event",
    change_seconds: float = 4.0,
    offset_seconds: float = 0.0,
    sampling_rate: int = 16000,
    sources: list[np.ndarray] | None = None,
    seed: int = 0,
    density: float = 0.6,
    names: tuple[str, str] = ("long1.wav", "long2.wav"),
) -> LongPair:
    """Write a long pair with one known difference and return where it is.

    Args:
        output_dir: where `names` are written (16-bit WAV).
        minutes: length of audio 1.
        change: one of `LONG_CHANGES`: `"event"` (a 2 s horn added), `"mute"` (silenced), `"level"` (+9 dB),
            `"filter"` (low-passed at 1 kHz); it spans `change_seconds` at a random time away from the ends.
        offset_seconds: audio 2 starts with this much other sound before the scene (its time of audio 1's start);
            a negative one (above -10 s) starts audio 2 that far into the scene.
        sampling_rate: of both files.
        sources: mono sounds at `sampling_rate` to scatter over the scene (default: [`synthetic_sources`]).
        seed: the scene, the change's time and the lead-in follow from it.
        density: sound events per second.
    """
    if not -_BLOCK_SECONDS < offset_seconds:
        raise ValueError(f"offset_seconds must be above -{_BLOCK_SECONDS}, got {offset_seconds}.")
    if change not in LONG_CHANGES:
        raise ValueError(f"change must be one of {LONG_CHANGES}, got {change!r}.")
    rate = sampling_rate
    sources = sources if sources is not None else synthetic_sources(rate, seed)
    rng = np.random.default_rng(seed)
    total = int(round(minutes * 60 * rate))
    margin = min(10 * rate, total // 4)
    start = int(rng.integers(margin, max(margin + 1, total - margin - int(change_seconds * rate))))
    end = min(total, start + int(change_seconds * rate))
    os.makedirs(output_dir, exist_ok=True)
    path1, path2 = (os.path.join(output_dir, name) for name in names)
    with (
        sf.SoundFile(path1, "w", rate, 1, subtype="PCM_16") as one,
        sf.SoundFile(path2, "w", rate, 1, subtype="PCM_16") as two,
    ):
        lead = int(round(offset_seconds * rate))
        if lead > 0:  # other sound before the scene in audio 2
            other = np.concatenate(
                [_scene_block(i, rate, sources[::-1], seed + 1, density) for i in range(-(-lead // (10 * rate)))]
            )
            two.write(other[:lead])
        block_length = _BLOCK_SECONDS * rate
        for index in range(-(-total // block_length)):
            first = index * block_length
            block = _scene_block(index, rate, sources, seed, density)[: total - first]
            one.write(np.clip(block, -1, 1))
            lo, hi = max(start - first, 0), min(end - first, len(block))
            if lo < hi:
                block = block.copy()
                # the change is applied to the whole span at once when it crosses blocks, so fades fall at its ends
                span = np.concatenate(
                    [
                        _scene_block(i, rate, sources, seed, density)
                        for i in range(start // block_length, (end - 1) // block_length + 1)
                    ]
                )[start - (start // block_length) * block_length :][: end - start]
                block[lo:hi] = _changed(span, change, rate)[first + lo - start : first + hi - start]
            two.write(np.clip(block[max(0, -lead) :] if index == 0 else block, -1, 1))
    return LongPair(path1, path2, change, start / rate, end / rate, offset_seconds, total / rate, rate)


__all__ = ["LONG_CHANGES", "LongPair", "make_long_pair", "synthetic_sources"]
