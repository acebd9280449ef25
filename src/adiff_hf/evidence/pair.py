"""Measures only the two clips together show: how one clip's waveform maps onto the other's.

Where two clips hold the same recording, the second's samples can be compared with the first's directly: an echo is
a delayed copy in the impulse response from one to the other, reversal a match with the other played backwards,
saturation a curve bent at the peaks in the samples' relation, compression a level that rises less than the other's,
reverberation a level that stays up where the other's has fallen, a filter's cut the bands past it falling under the
level the rest keeps. The functions take the two clips' excerpts (mono, `ANALYSIS_RATE`, as
[`ClipMeasurements.excerpt`] keeps them), level envelopes or band levels, and return plain numbers; the rules in
`adiff_hf.evidence.compare` read them.
"""

import numpy as np
from scipy import fft

from .measures import ANALYSIS_RATE

MAX_LAG_SECONDS = 0.25  # how far the two clips' starts may differ for a waveform comparison
ECHO_LAGS = (0.06, 0.8)  # seconds: shorter is colouration or a room's early reflections, longer a repeat
CUT_BANDS = 3  # a filter's cut spans at least this many half-octave bands (one odd band is no filter)
TAIL_FALL_DB = 10.0  # a dry clip has died away where it is this far under its level of the last half second
TAIL_RANGE_DB = 60.0  # a tail further under the clip's loud level than this is not heard
WET_FALL_DB = 3.0  # a reverberant copy falls at least this much where the dry one has fallen
CODEC_RANGE_DB = 70.0  # a clip's band reaches up to where its long-term spectrum falls this far under its peak


def overlap(x: np.ndarray, y: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """The parts of `x` and `y` that line up when `y` runs `lag` samples after `x`."""
    if lag >= 0:
        y = y[lag:]
    else:
        x = x[-lag:]
    n = min(len(x), len(y))
    return x[:n], y[:n]


class Waveforms:
    """Two excerpts `x` and `y` compared sample by sample. Their spectra are taken once (zero-padded so that
    correlations do not wrap), and every measure reads them."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.x, self.y = x.astype(np.float64), y.astype(np.float64)
        # past twice the longer length: the correlation with `x` reversed over that length does not wrap either
        self.n = 1 << int(np.ceil(np.log2(max(2 * max(len(x), len(y)), 2))))
        # single precision for the transforms: correlations to three digits, at half the cost
        self.spectrum_x = fft.rfft(x.astype(np.float32), self.n, workers=-1)
        self.spectrum_y = fft.rfft(y.astype(np.float32), self.n, workers=-1)
        self.norm = float(np.sqrt(np.sum(self.x**2) * np.sum(self.y**2))) + 1e-20

    def _peak(self, cross: np.ndarray, max_lag: float = MAX_LAG_SECONDS) -> tuple[int, float]:
        reach = min(int(max_lag * ANALYSIS_RATE), self.n // 2 - 1)
        lags = np.concatenate([np.arange(0, reach + 1), np.arange(-reach, 0)])
        values = np.concatenate([cross[: reach + 1], cross[self.n - reach :]])
        best = int(np.argmax(np.abs(values)))
        return int(lags[best]), float(values[best] / self.norm)

    def match(self) -> tuple[int, float]:
        """`(lag, correlation)`: where `y` best matches `x` (samples of `y` after `x`, within `MAX_LAG_SECONDS`
        either way) and the normalised cross-correlation there, from -1 to 1."""
        if len(self.x) < 16 or len(self.y) < 16:
            return 0, 0.0
        return self._peak(fft.irfft(self.spectrum_y * np.conj(self.spectrum_x), self.n, workers=-1))

    def reversal(self) -> tuple[float, float]:
        """`(forward, backward)`: how well `y` matches `x` as it is and played backwards (peak normalised
        cross-correlation magnitudes; a reversed copy scores near 1 backwards). `x` reversed over the longer
        clip's length, so that a reversed clip's end lines up with the other's start."""
        if len(self.x) < 16 or len(self.y) < 16:
            return 0.0, 0.0
        length = max(len(self.x), len(self.y))
        # the spectrum of x padded to `length` and reversed: conj(X) turned by the shift of length - 1 samples; and
        # shifted by fractions of a sample too, since reversing a resampled clip lands between the samples of
        # resampling the reversed one
        phase = 2 * np.pi * np.arange(len(self.spectrum_x), dtype=np.float32) / self.n
        product = self.spectrum_y * self.spectrum_x * np.exp(1j * phase * (length - 1)).astype(np.complex64)
        best = abs(self._peak(fft.irfft(product, self.n, workers=-1))[1])
        if best >= 0.5:  # a likely reversal: also between the samples, where it matches best
            for fraction in (-0.5, -0.25, 0.25, 0.5):
                turned = product * np.exp(1j * phase * fraction).astype(np.complex64)
                best = max(best, abs(self._peak(fft.irfft(turned, self.n, workers=-1))[1]))
        return abs(self.match()[1]), best

    def saturation(self, lag: int, forward: bool = True, block_seconds: float = 0.5) -> tuple[float, float, float]:
        """`(bend, fit, gain_fit)`: how `y`'s samples bend against `x`'s at the peaks (with `forward=False`,
        `x`'s against `y`'s), lined up at `lag`. `y ≈ a·x + b·x·|x|` over the aligned samples (`x` scaled to a
        peak of 1); `bend` is `-b / a` (positive: `y` flattens where `x` peaks, as saturation, clipping and
        limiting do), `fit` the share of `y`'s power the curve explains (near 1 when one clip is a memoryless
        function of the other), and `gain_fit` the share a gain of its own for every `block_seconds` explains
        instead (near 1 when the level changes over time: a fade, a louder passage)."""
        a, b = overlap(self.x, self.y, lag)
        if not forward:
            a, b = b, a
        peak = np.abs(a).max() if len(a) else 0.0
        power = float(np.sum(b**2))
        if peak <= 0 or power <= 0:
            return 0.0, 0.0, 0.0
        a = a / peak
        bent = a * np.abs(a)
        gram = np.array([[a @ a, a @ bent], [a @ bent, bent @ bent]])
        if abs(np.linalg.det(gram)) < 1e-20:
            return 0.0, 0.0, 0.0
        linear, curve = np.linalg.solve(gram, np.array([a @ b, bent @ b]))
        fit = 1.0 - float(np.sum((b - linear * a - curve * bent) ** 2) / power)
        block = max(1, int(block_seconds * ANALYSIS_RATE))
        count = len(a) // block
        blocks_a, blocks_b = a[: count * block].reshape(count, block), b[: count * block].reshape(count, block)
        gains = (blocks_a * blocks_b).sum(axis=1) / np.maximum((blocks_a**2).sum(axis=1), 1e-20)
        residual = np.sum((blocks_b - gains[:, None] * blocks_a) ** 2) + np.sum(b[count * block :] ** 2)
        gain_fit = 1.0 - float(residual / power)
        if abs(linear) < 1e-12:
            return 0.0, fit, gain_fit
        return float(-curve / linear), fit, gain_fit

    def impulse_response(self, forward: bool = True, seconds: float = ECHO_LAGS[1]) -> np.ndarray:
        """The response from `x` to `y` (`y ≈ h * x`; with `forward=False` from `y` to `x`) over lags 0 to
        `seconds`, by regularised deconvolution (the cross-spectrum over the source's power plus 1% of its mean,
        so that bins it barely holds do not blow up)."""
        source, target = (self.spectrum_x, self.spectrum_y) if forward else (self.spectrum_y, self.spectrum_x)
        power = np.abs(source) ** 2
        response = fft.irfft(target * np.conj(source) / (power + 1e-2 * power.mean() + 1e-20), self.n, workers=-1)
        return response[: int(seconds * ANALYSIS_RATE)]

    def echo_tap(self, forward: bool = True) -> tuple[float, float]:
        """`(delay, level)`: the strongest repeat in the response from `x` to `y` (or back), `ECHO_LAGS` seconds
        after the direct sound, as a signed share of the direct sound (an echo added to `y`: positive; the
        response from an echoing clip back to its dry original inverts the repeat: negative)."""
        response = self.impulse_response(forward)
        direct_end = int(0.005 * ANALYSIS_RATE)
        direct = np.abs(response[:direct_end]).max() if len(response) > direct_end else 0.0
        start = int(ECHO_LAGS[0] * ANALYSIS_RATE)
        if direct <= 0 or len(response) <= start:
            return 0.0, 0.0
        late = response[start:]
        best = int(np.argmax(np.abs(late)))
        return (start + best) / ANALYSIS_RATE, float(late[best] / direct)

    def coding(self, lag: int, frame: int = 1024) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """How each clip keeps the other when it is the other through a lossy codec, the two lined up at `lag`:
        `(top_ratio, cut_db, residual_db)` of `y` keeping `x`, then of `x` keeping `y`. For `y` keeping `x`:
        `top_ratio` is the highest frequency `y` holds (its long-term spectrum within `CODEC_RANGE_DB` of its peak)
        over `x`'s (within 10 dB less: sound a change added at the edge of `x`'s band, such as clicks or hiss, is no
        band `y` lost), under 1 where `y` is band-limited; `cut_db` how much further under its own pass band `y`
        falls than `x` does above `y`'s top (0 where `y` reaches as high); `residual_db` the signal-to-residual
        ratio in `y`'s pass band (below 0.7 of its top, bins within 40 dB of `x`'s loudest): `x`'s share a fixed
        filter per frequency carries into `y`, against what is left. A filter leaves almost nothing (40 dB and
        more); a codec leaves its quantisation noise and spectral holes (10-25 dB)."""
        from scipy import signal

        a, b = overlap(self.x, self.y, lag)
        if len(a) < 4 * frame:
            return (1.0, 0.0, float("inf")), (1.0, 0.0, float("inf"))
        spectra = [signal.stft(wave, nperseg=frame, noverlap=frame * 3 // 4)[2] for wave in (a, b)]
        return _coding(*spectra), _coding(*spectra[::-1])


def _coding(spectrum_a: np.ndarray, spectrum_b: np.ndarray) -> tuple[float, float, float]:
    """`Waveforms.coding` of `b` keeping `a`, from their short-time spectra on one time base."""
    power_a, power_b = (np.abs(spectrum_a) ** 2).sum(1) + 1e-30, (np.abs(spectrum_b) ** 2).sum(1) + 1e-30
    db_a, db_b = 10 * np.log10(power_a), 10 * np.log10(power_b)

    def top(db, range_db):  # the highest bin within range of the peak
        return int(np.flatnonzero(db >= db.max() - range_db)[-1])

    top_a, top_b = top(db_a, CODEC_RANGE_DB - 10.0), top(db_b, CODEC_RANGE_DB)
    cut = 0.0
    if top_a > top_b + 4:  # the band b lost, a few bins past its top
        above = slice(top_b + 4, top_a + 1)
        kept_b, kept_a = power_b[: top_b + 1].mean(), power_a[: top_b + 1].mean()
        cut = float(10 * np.log10(power_b[above].mean() / kept_b) - 10 * np.log10(power_a[above].mean() / kept_a))
    gain = (np.conj(spectrum_a) * spectrum_b).sum(1) / power_a  # the best fixed filter, per frequency
    carried = np.abs(gain) ** 2 * power_a
    left = (np.abs(spectrum_b - gain[:, None] * spectrum_a) ** 2).sum(1)
    band = (np.arange(len(power_a)) <= int(0.7 * top_b)) & (db_a >= db_a.max() - 40.0)
    ratio = top_b / max(top_a, 1)
    if not band.any():
        return ratio, cut, float("inf")
    return ratio, cut, float(10 * np.log10(carried[band].sum() / max(left[band].sum(), 1e-30)))


def level_slope(first_db: np.ndarray, second_db: np.ndarray, range_db: float = 30.0) -> tuple[float, int, float]:
    """`(slope, frames, correlation)`: how many dB the second clip's level moves per dB of the first's, over the
    frames both sound in (within `range_db` of their loud level; level envelopes on one time base), and how closely
    the two levels follow each other. Under 1: the second's dynamics are squeezed (compression, limiting,
    saturation); over 1: the first's are."""
    n = min(len(first_db), len(second_db))
    a, b = first_db[:n], second_db[:n]
    if n < 8:
        return 1.0, 0, 0.0
    both = (a > np.percentile(a, 95) - range_db) & (b > np.percentile(b, 95) - range_db)
    if both.sum() < 8:
        return 1.0, int(both.sum()), 0.0
    a, b = a[both], b[both]
    spread_a = np.percentile(a, 90) - np.percentile(a, 10)
    spread_b = np.percentile(b, 90) - np.percentile(b, 10)
    if spread_a < 1.0 and spread_b < 1.0:  # a steady sound: nothing to compare
        return 1.0, int(both.sum()), 0.0
    correlation = float(np.corrcoef(a, b)[0, 1])
    # orthogonal (total least squares) slope: neither clip is the noise-free one
    a0, b0 = a - a.mean(), b - b.mean()
    covariance = np.cov(np.stack([a0, b0]))
    _, vectors = np.linalg.eigh(covariance)
    direction = vectors[:, -1]
    if abs(direction[0]) < 1e-9 or direction[1] / direction[0] <= 0:  # no common rise: no slope to read
        return 1.0, 0, correlation
    return float(direction[1] / direction[0]), int(both.sum()), correlation


def tail_excess(
    dry_db: np.ndarray, wet_db: np.ndarray, fall_db: float = TAIL_FALL_DB, memory: int = 43
) -> tuple[float, int]:
    """`(excess, frames)`: how much louder `wet_db` stays than `dry_db` (dB, median) in the frames where `dry_db` has
    fallen `fall_db` or more under its own level of the last `memory` frames (after a sound stops, or the clip
    ends), the two level envelopes matched on their loud frames first. A reverberant or echoing copy stays up
    there, falling more slowly; a dry one has fallen with the other. 0 where `wet_db` does not fall there at all
    (a level changed in steps)."""
    # a clip that ends is silent from there: the other's ringing on after it counts
    n = max(len(dry_db), len(wet_db))
    floor = min(dry_db.min(), wet_db.min()) if n else 0.0
    a, b = (np.pad(e, (0, n - len(e)), constant_values=floor) for e in (dry_db, wet_db))
    if n < memory + 4:
        return 0.0, 0
    loud = (a > np.percentile(a, 95) - 10.0) & (b > np.percentile(b, 95) - 10.0)
    if loud.sum() < 4:
        return 0.0, 0
    b = b - np.median(b[loud] - a[loud])
    # both at one floor, TAIL_RANGE_DB under the louder: hiss 60 dB down against digital silence is no tail
    floor = max(np.percentile(a, 95), np.percentile(b, 95)) - TAIL_RANGE_DB
    a, b = np.maximum(a, floor), np.maximum(b, floor)

    def recent(e):  # each frame's loudest of the last `memory` frames
        return np.lib.stride_tricks.sliding_window_view(np.pad(e, (memory, 0), mode="edge"), memory + 1)[:n].max(1)

    before = recent(a)
    falling = (a <= before - fall_db) & (before >= np.percentile(a, 95) - 40.0)
    if falling.sum() < 4:
        return 0.0, int(falling.sum())
    # a tail decays too, only later: where the other clip does not fall at all, the level changed (a step), no more
    if np.median((recent(b) - b)[falling]) < WET_FALL_DB:
        return 0.0, int(falling.sum())
    return float(np.median(b[falling] - a[falling])), int(falling.sum())


def filter_cuts(first_db: np.ndarray, second_db: np.ndarray, least: int = CUT_BANDS) -> dict:
    """How deep a filter cut each clip shows against the other, from their band levels (dB, low to high bands, the
    bands either clip holds sound in). For each of "treble1", "treble2", "bass1", "bass2": the most, over every
    split into lower and upper bands, that one side of the level difference lies beyond the median of the other
    side, where the other side is the pass band (the two clips' levels agree best there: a filter changes the level
    past its cut, and a level restored afterwards changes the rest far less), and the cut side spans `least` bands
    or more. A gain on the whole clip changes none of them."""
    difference = second_db - first_db  # > 0 where audio 2 is the louder
    cuts = {"treble1": 0.0, "treble2": 0.0, "bass1": 0.0, "bass2": 0.0}
    for k in range(1, len(difference)):
        low, high = difference[:k], difference[k:]
        low_middle, high_middle = float(np.median(low)), float(np.median(high))
        if abs(low_middle) <= abs(high_middle):  # the lower bands pass: a treble cut in one clip
            if len(high) < least:
                continue
            cuts["treble2"] = max(cuts["treble2"], low_middle - float(high.max()))
            cuts["treble1"] = max(cuts["treble1"], float(high.min()) - low_middle)
        else:  # the upper bands pass: a bass cut
            if len(low) < least:
                continue
            cuts["bass2"] = max(cuts["bass2"], high_middle - float(low.max()))
            cuts["bass1"] = max(cuts["bass1"], float(low.min()) - high_middle)
    return cuts


__all__ = ["Waveforms", "filter_cuts", "level_slope", "overlap", "tail_excess"]
