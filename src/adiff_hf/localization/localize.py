"""Where two long recordings differ: aligned, scored window by window, merged into ranked regions, explained.

1. [`align_recordings`] finds the offset between them.
2. Both are streamed once at 16 kHz (10 s blocks) into band levels every 100 ms: 24 log-spaced bands up to what
   both files can hold (0.45 of the lower sampling rate, at most 7.2 kHz). A frame's difference is the mean
   absolute band-level difference in dB, smoothed over 0.5 s.
3. Windows of the model's length (10 s) every `hop` seconds get the largest smoothed difference inside them
   (`signal_db`) and, with a model, the cosine distance between the audio tower's embeddings of the two windows
   (`model_distance`: what the model itself hears). Windows whose every frame matches within `screen` of the
   signal threshold are not sent to the model (it costs ~0.3 s a clip on 2 cores; their `model_distance` stays
   `None`); `screen=0` sends them all.
4. A window differs when `max(signal_db / signal_threshold_db, model_distance / model_threshold)` reaches 1.
   Differing windows that overlap or touch merge into a region, trimmed to the frames above the signal
   threshold; regions are ranked by that score.
5. With `explain=True` the top `top_k` regions are explained by the model in one batched `generate()`, each on
   the 10 s around it.
"""

from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np

from ..audio_io import format_hz, iter_blocks, read_span
from .alignment import Alignment, align_recordings, check_paths, check_recording, finite_number

SIGNAL_RATE = 16000  # the band levels are measured at this rate
FRAME_SECONDS = 0.1
_FFT = 2048  # 128 ms at 16 kHz, every 100 ms
_BANDS = 24
_LOW_HZ = 50.0
_FLOOR_DB = -80.0  # band levels below this count as silence (a band holding a full-scale sine is about -6 dB)
_SMOOTH_FRAMES = 5  # 0.5 s

SIGNAL_THRESHOLD_DB = 3.0
MODEL_THRESHOLD = 0.02
SCREEN = 0.25
MIN_SECONDS = 2 * FRAME_SECONDS  # a recording shorter than two band-level frames holds nothing to compare


@dataclass
class WindowScore:
    """One window of the aligned recordings: `start`–`end` in audio 1's time (audio 2's is `+ offset_seconds`).
    `model_distance` is `None` where the model did not hear the window (no model, or screened out)."""

    start: float
    end: float
    signal_db: float
    model_distance: float | None
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Region:
    """A stretch where the recordings differ: `start1`–`end1` in audio 1, `start2`–`end2` in audio 2.

    `score` is the largest window score in it (1 is the threshold); `level_change_db` is audio 2's level minus
    audio 1's over the region; `summary` says in words what the band levels show; `heard1`/`heard2` are where
    the 10 s the model explains start; `explanation` and `evidence` are filled by explaining.
    """

    rank: int
    start1: float
    end1: float
    start2: float
    end2: float
    score: float
    signal_db: float
    model_distance: float | None
    level_change_db: float
    summary: str
    heard1: float = 0.0
    heard2: float = 0.0
    explanation: str | None = None
    evidence: list[str] | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Localization:
    """What [`localize_differences`] found: the alignment, every window's scores and the ranked regions."""

    audio1: str
    audio2: str
    alignment: Alignment
    window_seconds: float
    hop_seconds: float
    windows: list[WindowScore]
    regions: list[Region]
    thresholds: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "audio1": self.audio1,
            "audio2": self.audio2,
            "alignment": self.alignment.to_dict(),
            "window_seconds": self.window_seconds,
            "hop_seconds": self.hop_seconds,
            "thresholds": self.thresholds,
            "regions": [region.to_dict() for region in self.regions],
            "windows": [window.to_dict() for window in self.windows],
        }

    def report(self) -> str:
        """The findings as text: the alignment, then each region with its time span and explanation."""
        a = self.alignment
        if a.method in ("assumed", "none"):
            how = (
                f"both recordings last {format_time(a.duration)}, so they are compared from their starts"
                if a.method == "assumed"
                else f"compared at the best guess, audio 2's {a.offset_seconds:+.3f} s for audio 1's 0 s"
            )
            lines = [
                f"Not aligned: no common content found (confidence {a.confidence:.2f}); {how} (give the offset "
                "if they line up otherwise)."
            ]
        else:
            found = "given offset" if a.method == "given" else f"confidence {a.confidence:.2f}"
            if abs(a.offset_seconds) < 5e-4:
                lines = [f"Aligned: the recordings start together ({found})."]
            else:
                later = "audio 2" if a.offset_seconds > 0 else "audio 1"
                lines = [f"Aligned: {later} starts {abs(a.offset_seconds):.3f} s later ({found})."]
        lines[0] += f" Compared {format_time(a.duration)} in {len(self.windows)} windows of {self.window_seconds:g} s."
        if not self.regions:
            top = max(self.windows, key=lambda w: w.score, default=None)
            detail = "" if top is None else f" (the largest window difference: {top.signal_db:.1f} dB"
            if top is not None and top.model_distance is not None:
                detail += f", model distance {top.model_distance:.3f}"
            lines.append(f"No region differs above the thresholds{detail}{')' if detail else ''}.")
            return "\n".join(lines)
        count = len(self.regions)
        lines.append(f"{count} region{'s' if count > 1 else ''} differ{'' if count > 1 else 's'}:")
        for region in self.regions:
            where = f"{format_time(region.start1)}-{format_time(region.end1)}"
            if abs(a.offset_seconds) >= 5e-4:
                where += f" (audio 2: {format_time(region.start2)}-{format_time(region.end2)})"
            lines.append(f"#{region.rank} {where}, score {region.score:.1f}: {region.summary}")
            if region.explanation is not None:
                lines.append(f"   {region.explanation}")
            for sentence in region.evidence or []:
                lines.append(f"   measured: {sentence}")
        return "\n".join(lines)


def format_time(seconds: float) -> str:
    """`seconds` as m:ss.s (h:mm:ss.s from an hour)."""
    tenths = int(round(max(0.0, seconds) * 10))
    minutes, rest = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    clock = f"{minutes:02d}:{rest // 10:02d}.{rest % 10}" if hours else f"{minutes}:{rest // 10:02d}.{rest % 10}"
    return f"{hours}:{clock}" if hours else clock


def _band_matrix(top_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Which FFT bins make up each of the `_BANDS` log-spaced bands from 50 Hz to `top_hz`, and the band edges."""
    edges = np.geomspace(_LOW_HZ, top_hz, _BANDS + 1)
    bins = np.fft.rfftfreq(_FFT, 1 / SIGNAL_RATE)
    matrix = np.zeros((len(bins), _BANDS), dtype=np.float32)
    for band in range(_BANDS):
        inside = (bins >= edges[band]) & (bins < edges[band + 1])
        if not inside.any():  # a band narrower than a bin takes its nearest bin
            inside[np.argmin(np.abs(bins - np.sqrt(edges[band] * edges[band + 1])))] = True
        matrix[inside, band] = 1.0
    return matrix, edges


def _band_levels(samples: np.ndarray, frames: int, matrix: np.ndarray) -> np.ndarray:
    """Band levels (dB, floored) of `frames` frames every 100 ms of `samples`."""
    hop = round(FRAME_SECONDS * SIGNAL_RATE)
    window = np.hanning(_FFT).astype(np.float32)
    starts = np.arange(frames) * hop
    full = starts[starts + _FFT <= len(samples)]
    framed = np.zeros((frames, _FFT), dtype=np.float32)
    if len(full):
        framed[: len(full)] = np.lib.stride_tricks.sliding_window_view(samples, _FFT)[full]
    for i, s in enumerate(starts[len(full) :], start=len(full)):  # frames reaching past the end: zero-padded
        part = samples[s : s + _FFT]
        framed[i, : len(part)] = part
    power = np.abs(np.fft.rfft(framed * window, axis=1)) ** 2 / np.sum(window) ** 2 * 4
    return np.maximum(10 * np.log10(power @ matrix + 1e-20), _FLOOR_DB).astype(np.float32)


def band_level_streams(alignment: Alignment, audio1, audio2, progress=None) -> tuple[np.ndarray, ...]:
    """Both recordings' band levels over their common span, `(frames, bands)` each in dB, and the band edges.

    The two files are read once, in 10 s blocks, in aligned time.
    """
    top = min(0.45 * min(alignment.sampling_rate1, alignment.sampling_rate2), 0.45 * SIGNAL_RATE)
    matrix, edges = _band_matrix(top)
    hop = round(FRAME_SECONDS * SIGNAL_RATE)
    total = round(alignment.duration * SIGNAL_RATE)
    frame_count = max(1, int(np.ceil(total / hop)))
    streams = [
        iter_blocks(audio1, 10.0, SIGNAL_RATE, start=alignment.start1),
        iter_blocks(audio2, 10.0, SIGNAL_RATE, start=alignment.start2),
    ]
    buffers = [np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32)]
    done, levels, frame = [False, False], ([], []), 0
    while frame < frame_count:
        for i in range(2):  # top each buffer up to at least one block ahead
            while not done[i] and len(buffers[i]) < 10 * SIGNAL_RATE + _FFT:
                block = next(streams[i], None)
                if block is None:
                    done[i] = True
                else:
                    buffers[i] = np.concatenate([buffers[i], block])
        available = min(len(b) for b in buffers)
        # the shorter buffer's file is read to its end, or the buffers hold every frame left
        finished = done[int(np.argmin([len(b) for b in buffers]))] or available >= (frame_count - frame) * hop + _FFT
        # frames whose whole FFT window is in both buffers (all the rest once both files are read)
        ready = frame_count - frame if finished else max(0, (available - _FFT) // hop + 1)
        ready = min(ready, frame_count - frame)
        if ready == 0 and not finished:
            continue
        for i in range(2):
            span = buffers[i][: min(len(buffers[i]), total - frame * hop)] if finished else buffers[i]
            levels[i].append(_band_levels(span, ready, matrix))
            buffers[i] = buffers[i][ready * hop :]
        frame += ready
        if progress is not None:
            progress.update(ready)
    return np.concatenate(levels[0]), np.concatenate(levels[1]), edges


def frame_differences(levels1: np.ndarray, levels2: np.ndarray, smooth: bool = True) -> np.ndarray:
    """Per 100 ms frame: the mean absolute band-level difference (dB), smoothed over 0.5 s unless `smooth=False`."""
    raw = np.abs(levels1 - levels2).mean(axis=1)
    if not smooth:
        return raw
    # a centred moving average over the frames there are (the ends and clips under 0.5 s are not diluted by
    # zeros beyond them); inside the recording it is the plain 5-frame mean
    kernel, first = np.ones(_SMOOTH_FRAMES), (_SMOOTH_FRAMES - 1) // 2
    total = np.convolve(raw, kernel, mode="full")[first : first + len(raw)]
    count = np.convolve(np.ones(len(raw)), kernel, mode="full")[first : first + len(raw)]
    return total / count


def window_starts(duration: float, window: float, hop: float) -> list[float]:
    """Window starts every `hop` seconds; the last window ends at `duration` (one window when it is shorter)."""
    if duration <= window:
        return [0.0]
    starts = list(np.arange(0.0, duration - window, hop))
    if duration - window - starts[-1] > 1e-6:
        starts.append(duration - window)
    return [float(s) for s in starts]


def _summary(levels1: np.ndarray, levels2: np.ndarray, edges: np.ndarray, heard: bool = False) -> tuple[float, str]:
    """Audio 2's level change over the frames (dB) and a sentence on what the band levels show; `heard`: the
    model's distance, not the band levels, scored the region."""

    def level(levels):
        return 10 * np.log10(np.mean(np.sum(10 ** (levels / 10), axis=1)) + 1e-20)

    change = float(level(levels2) - level(levels1))
    for one, two, name in ((levels1, levels2, "audio 2"), (levels2, levels1, "audio 1")):
        if np.mean(two <= _FLOOR_DB + 1) > 0.9 and np.mean(one <= _FLOOR_DB + 1) < 0.5:
            return change, f"{name} is silent here"
    bands = (levels2 - levels1).mean(axis=0)
    active = np.maximum(levels1, levels2).mean(axis=0) > _FLOOR_DB + 10
    if not active.any() or np.abs(bands).max() < 1:  # no lasting change of level or spectrum
        if heard:
            return change, "the model hears a difference here (the band levels barely change)"
        if not active.any():
            return change, "both are nearly silent here, and their faint sound differs"
        return change, "the sound differs here from moment to moment, with no lasting change of level or spectrum"
    if bands[active].std() < 3:  # the same change in every band that holds sound: a level change
        return change, f"audio 2 is {abs(change):.1f} dB {'louder' if change > 0 else 'quieter'} here"
    peak = int(np.argmax(np.where(active, np.abs(bands), 0)))
    sign, low, high = np.sign(bands[peak]), peak, peak
    while low > 0 and np.sign(bands[low - 1]) == sign and abs(bands[low - 1]) >= 6:
        low -= 1
    while high < len(bands) - 1 and np.sign(bands[high + 1]) == sign and abs(bands[high + 1]) >= 6:
        high += 1
    band = f"{format_hz(edges[low])}-{format_hz(edges[high + 1])}"
    words = f"{'more' if sign > 0 else 'less'} sound in audio 2 at {band} "
    return change, words + f"(up to {bands[peak]:+.0f} dB) here"


def read_spans(audio1, audio2, start1: float, start2: float, seconds: float, rate: int) -> tuple[np.ndarray, ...]:
    """`seconds` of each recording from `start1` / `start2` (their own times) at `rate`: what one window or one
    region's explanation hears (only those frames are read)."""
    return read_span(audio1, start1, seconds, rate), read_span(audio2, start2, seconds, rate)


def _model_distances(model, processor, alignment, audio1, audio2, starts, window, batch_size, progress=None):
    """Cosine distance between the audio tower's embeddings of each window pair (what the model hears)."""
    import torch

    rate = processor.feature_extractor.sampling_rate
    distances = []
    for first in range(0, len(starts), batch_size):
        pairs = [
            read_spans(audio1, audio2, alignment.start1 + s, alignment.start2 + s, window, rate)
            for s in starts[first : first + batch_size]
        ]
        features = processor.prepare_audio(pairs, sampling_rate=rate)["input_features"]
        with torch.no_grad():
            embeds = model.get_clip_embeddings(features.to(model.device))
        embeds = embeds.float().reshape(len(pairs), 2, -1)
        cosine = torch.nn.functional.cosine_similarity(embeds[:, 0], embeds[:, 1], dim=-1)
        distances += (1 - cosine).clamp(min=0).tolist()
        if progress is not None:
            progress.update(len(pairs))
    return distances


def _count(value, name: str) -> int:
    """`value` as a whole number of at least 1; errors name it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}.")
    return int(value)


def localize_differences(
    audio1,
    audio2,
    model=None,
    processor=None,
    window_seconds: float | None = None,
    hop_seconds: float | None = None,
    top_k: int = 3,
    offset_seconds: float | None = None,
    signal_threshold_db: float = SIGNAL_THRESHOLD_DB,
    model_threshold: float = MODEL_THRESHOLD,
    screen: float = SCREEN,
    batch_size: int = 8,
    explain: bool = False,
    prompt: str | None = None,
    evidence: bool = False,
    progress: bool = False,
    **generate_kwargs,
) -> Localization:
    """Find where two recordings differ, rank those places, and optionally explain each.

    Args:
        audio1, audio2: paths of the two recordings (any length, sampling rate and channel count).
        model, processor: an ADIFF model and its processor. Without them only the band levels score windows.
        window_seconds: window length (default: what the model hears, 10 s for ADIFF).
        hop_seconds: between window starts (default: half a window).
        top_k: how many regions to keep (and explain).
        offset_seconds: a known offset (audio 2's time of audio 1's start) instead of searching for it.
        signal_threshold_db, model_threshold: what counts as differing (see the module's description).
        screen: windows whose band levels stay under `screen * signal_threshold_db` skip the model.
        batch_size: windows embedded (and regions explained) at once.
        explain: explain each region with the model (`prompt`, default the detailed tier's).
        evidence: also measure each region's two spans (`adiff_hf.evidence.compare_clips`).
        progress: show progress bars.
        generate_kwargs: passed to `generate()` (`max_new_tokens`, `num_beams`, ...).

    Returns:
        [`Localization`].
    """
    from tqdm.auto import tqdm

    check_paths(audio1, audio2, "localize_differences")
    if (model is None) != (processor is None):
        raise ValueError("Give both `model` and `processor`, or neither (the band levels alone).")
    if explain and model is None:
        raise ValueError("explain=True needs a model and its processor.")
    top_k, batch_size = _count(top_k, "top_k"), _count(batch_size, "batch_size")
    if window_seconds is None:
        window = float(processor.heard_seconds if processor is not None else 10.0)
    else:
        window = finite_number(window_seconds, "window_seconds", positive=True)
    hop = window / 2 if hop_seconds is None else finite_number(hop_seconds, "hop_seconds", positive=True)
    if offset_seconds is not None:
        offset_seconds = finite_number(offset_seconds, "offset_seconds")
    signal_threshold_db = finite_number(signal_threshold_db, "signal_threshold_db", positive=True)
    model_threshold = finite_number(model_threshold, "model_threshold", positive=True)
    screen = finite_number(screen, "screen")
    if screen < 0:
        raise ValueError(f"screen must be at least 0 (0: the model hears every window), got {screen!r}.")
    for name, audio in (("audio1", audio1), ("audio2", audio2)):
        duration = check_recording(audio, name).duration
        if duration < MIN_SECONDS:
            raise ValueError(
                f"{name} ({audio}) lasts {duration:.3f} s: too short to compare (at least {MIN_SECONDS:g} s, two "
                f"{FRAME_SECONDS * 1000:g} ms band-level frames)."
            )
    alignment = align_recordings(audio1, audio2, offset_seconds=offset_seconds, progress=progress)
    if alignment.duration <= FRAME_SECONDS:
        raise ValueError(
            f"The recordings overlap for {alignment.duration:.2f} s once aligned (offset "
            f"{alignment.offset_seconds:.2f} s): nothing to compare. Give offset_seconds if the offset is known."
        )
    frames = int(np.ceil(alignment.duration / FRAME_SECONDS))
    with tqdm(total=frames, desc="comparing", unit="frame", disable=not progress, leave=False) as bar:
        levels1, levels2, edges = band_level_streams(alignment, audio1, audio2, progress=bar)
    differences = frame_differences(levels1, levels2)

    listen = None  # what the model hears: the distance between its embeddings of each window's two spans
    if model is not None:
        listen = partial(
            _model_distances, model, processor, alignment, audio1, audio2, window=window, batch_size=batch_size
        )
    thresholds = {"signal_db": signal_threshold_db, "model_distance": model_threshold, "screen": screen}
    windows = _score_windows(alignment, differences, window, hop, thresholds, listen, progress)
    regions = _regions(windows, levels1, levels2, edges, alignment, thresholds)[:top_k]
    _place(regions, alignment, window)
    if explain and regions:
        _explain(regions, model, processor, audio1, audio2, window, prompt, batch_size, **generate_kwargs)
    if evidence and regions:
        from ..evidence import compare_clips

        rate = SIGNAL_RATE
        for region in regions:
            clips = read_spans(audio1, audio2, region.heard1, region.heard2, window, rate)
            region.evidence = compare_clips(*clips, sampling_rate=rate).sentences
    return Localization(str(audio1), str(audio2), alignment, window, hop, windows, regions, thresholds)


def _score_windows(alignment, differences, window, hop, thresholds, listen, progress) -> list[WindowScore]:
    """Every window's score: its band-level difference over the signal threshold, or the model's distance over its
    threshold where `listen` (the model) hears it; windows whose levels stay under `screen` of the threshold are not
    heard."""
    from tqdm.auto import tqdm

    starts = window_starts(alignment.duration, window, hop)
    bounds = [(round(s / FRAME_SECONDS), round((s + window) / FRAME_SECONDS)) for s in starts]
    signal = [float(differences[first : max(first + 1, last)].max()) for first, last in bounds]
    model_distances = [None] * len(starts)
    if listen is not None:
        heard = [i for i, value in enumerate(signal) if value >= thresholds["screen"] * thresholds["signal_db"]]
        with tqdm(total=len(heard), desc="listening", unit="window", disable=not progress, leave=False) as bar:
            found = listen([starts[i] for i in heard], progress=bar)
        for i, value in zip(heard, found, strict=True):
            model_distances[i] = value  # the screened-out windows keep None: not heard by the model
    windows = []
    for start, value, distance in zip(starts, signal, model_distances, strict=True):
        score = value / thresholds["signal_db"]
        if distance is not None:
            score = max(score, distance / thresholds["model_distance"])
        end = min(start + window, alignment.duration)
        windows.append(WindowScore(start + alignment.start1, end + alignment.start1, value, distance, float(score)))
    return windows


def _place(regions: list[Region], alignment, window: float) -> None:
    """Ranks the regions and sets where each one's explanation listens: the window centred on it, inside the
    common span."""
    for rank, region in enumerate(regions, start=1):
        region.rank = rank
        centre = (region.start1 + region.end1) / 2 - alignment.start1  # in the common span's time
        heard = float(min(max(0.0, centre - window / 2), max(0.0, alignment.duration - window)))
        region.heard1, region.heard2 = round(heard + alignment.start1, 3), round(heard + alignment.start2, 3)


def _regions(windows, levels1, levels2, edges, alignment, thresholds) -> list[Region]:
    """Differing windows that overlap or touch, merged; trimmed to the frames above the signal threshold; ranked."""
    signal_threshold_db = thresholds["signal_db"]
    groups, current = [], []
    for window in windows:
        if window.score < 1:
            continue
        if current and window.start > current[-1].end + 1e-6:
            groups.append(current)
            current = []
        current.append(window)
    if current:
        groups.append(current)
    regions = []
    for group in groups:
        start, end = group[0].start - alignment.start1, group[-1].end - alignment.start1  # the common span's time
        first, last = int(round(start / FRAME_SECONDS)), int(np.ceil(end / FRAME_SECONDS))
        above = np.flatnonzero(
            frame_differences(levels1[first:last], levels2[first:last], smooth=False) >= signal_threshold_db
        )
        if len(above):  # trimmed to the frames whose band levels differ (unsmoothed, so the edges stay sharp)
            first, last = first + int(above[0]), first + int(above[-1]) + 1
            start, end = first * FRAME_SECONDS, min(last * FRAME_SECONDS, alignment.duration)
        best = max(group, key=lambda w: w.score)
        heard = best.model_distance is not None and (
            best.model_distance / thresholds["model_distance"] >= best.signal_db / signal_threshold_db
        )  # the model's distance, not the band levels, scored the region
        change, summary = _summary(levels1[first:last], levels2[first:last], edges, heard)
        distances = [w.model_distance for w in group if w.model_distance is not None]
        regions.append(
            Region(
                rank=0,
                start1=round(start + alignment.start1, 3),  # to the millisecond: frames are 100 ms
                end1=round(end + alignment.start1, 3),
                start2=round(start + alignment.start2, 3),
                end2=round(end + alignment.start2, 3),
                score=best.score,
                signal_db=max(w.signal_db for w in group),
                model_distance=max(distances) if distances else None,
                level_change_db=change,
                summary=summary,
            )
        )
    return sorted(regions, key=lambda r: -r.score)


def _explain(regions, model, processor, audio1, audio2, window, prompt, batch_size, **generate_kwargs) -> None:
    """Each region's explanation, by the audio-difference pipeline on the `window` seconds around it, batched."""
    from ..pipeline_adiff import AudioDifferencePipeline

    pipe = AudioDifferencePipeline(model=model, processor=processor)
    rate = processor.feature_extractor.sampling_rate
    pairs = [read_spans(audio1, audio2, r.heard1, r.heard2, window, rate) for r in regions]
    results = pipe(pairs, prompt=prompt, sampling_rate=rate, batch_size=batch_size, **generate_kwargs)
    for region, result in zip(regions, results, strict=True):
        region.explanation = result[0]["generated_text"]


__all__ = [
    "MODEL_THRESHOLD",
    "SIGNAL_THRESHOLD_DB",
    "Localization",
    "Region",
    "WindowScore",
    "band_level_streams",
    "format_time",
    "frame_differences",
    "localize_differences",
    "read_spans",
    "window_starts",
]
