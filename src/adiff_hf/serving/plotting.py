"""Spectrogram pictures of a pair and their difference (matplotlib, imported only when drawing)."""

import os


def check_plot_path(path: str | os.PathLike) -> str:
    """`path` if a picture can be written there, checked before any work is done; else a `ValueError` saying why:
    a missing folder, a folder in its place, no permission, or a file type matplotlib cannot write."""
    from matplotlib.backend_bases import FigureCanvasBase

    path = os.fspath(path)
    if not path.strip():
        raise ValueError("the picture's path is empty")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        why = "is a file, not a folder" if os.path.exists(folder) else "does not exist"
        raise ValueError(f"cannot write {path}: the folder {folder} {why}")
    if os.path.isdir(path):
        raise ValueError(f"cannot write {path}: it is a folder; give a file name in it, such as plot.png")
    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    types = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in types:
        raise ValueError(f"cannot write {path}: .{suffix} is not a picture type matplotlib writes ({', '.join(types)})")
    existed = os.path.exists(path)
    try:  # the one sure test (permissions, read-only disks, root): open it for writing, and leave no new file behind
        with open(path, "ab"):
            pass
    except OSError as err:
        raise ValueError(f"cannot write {path}: {err.strerror or err}") from None
    if not existed:
        os.remove(path)
    return path


def spectrogram_view(features, processor) -> dict:
    """What [`plot_difference`] draws, in physical units, for either audio tower.

    Args:
        features: the pair's `input_features` as the processor made them (`processor(...)["input_features"][0]`):
            `(2, frames, mel_bins)` log-mel in dB from ADIFF's (HTSAT's) extractor, `(2, mel_bins, frames)` from
            Whisper's (log10, clamped, shifted and scaled).
        processor ([`ADiffProcessor`]): the processor that made them.

    Returns:
        `dict` with `images` `(2, mel_bins, frames)` in dB over the part of each clip the model hears (Whisper's
        padding to 30 s left out), `seconds` (that length) and `frequencies_hz` (each mel bin's centre frequency).
    """
    import numpy as np
    from transformers.audio_utils import hertz_to_mel, mel_to_hertz

    extractor = processor.feature_extractor
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 3 or features.shape[0] != 2:
        raise ValueError(f"features must hold the pair's two log-mels, shape (2, ., .); got {features.shape}.")
    whisper = extractor.__class__.__name__ == "WhisperFeatureExtractor"
    if whisper:
        images = 40.0 * features - 40.0  # Whisper stores (log10(power) + 4) / 4; 10 * log10(power) is dB
        heard = round(processor.clip_seconds * extractor.sampling_rate) // extractor.hop_length
        low, high = 0.0, extractor.sampling_rate / 2  # Whisper's mel filters span 0 Hz to Nyquist
    else:
        images = features.transpose(0, 2, 1)
        heard = extractor.nb_max_samples // extractor.hop_length
        low, high = extractor.frequency_min, extractor.frequency_max
    bins = images.shape[1]
    mels = np.linspace(hertz_to_mel(low, mel_scale="slaney"), hertz_to_mel(high, mel_scale="slaney"), bins + 2)
    return {
        "images": images[:, :, :heard],
        "seconds": heard * extractor.hop_length / extractor.sampling_rate,
        "frequencies_hz": mel_to_hertz(mels[1:-1], mel_scale="slaney"),  # the centres of the triangular filters
    }


def plot_difference(
    features,
    explanation: str,
    path: str | os.PathLike,
    processor,
    names: tuple[str, str] = ("audio 1", "audio 2"),
    evidence=None,
) -> str:
    """Both log-mel spectrograms and their difference (audio 2 − audio 1), with the explanation as the caption:
    time in seconds, mel frequency in Hz, colour in dB (see [`spectrogram_view`]).

    With `evidence` (from `adiff_hf.evidence.compare_clips`) the pictures are annotated with what was measured:
    each clip's loudness in its title, the silences one clip has where the other sounds shaded, each clip's
    85% spectral roll-off as a dashed line, and the measured differences listed on the
    difference panel.

    Args:
        features: the pair's `input_features` (`processor(...)["input_features"][0]`).
        explanation: the generated text, printed under the pictures.
        path: where the PNG goes.
        processor ([`ADiffProcessor`]): the processor that made `features`.
        names: the two clips' labels (file names, say).
        evidence ([`Evidence`], *optional*): the pair's measured differences.
    """
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    view = spectrogram_view(features, processor)
    first, second = view["images"]
    frequencies = view["frequencies_hz"]
    extent = (0, view["seconds"], 0, len(frequencies))
    low, high = np.percentile(view["images"], [1, 99])
    limit = float(np.abs(second - first).max()) or 1.0
    ticks = np.linspace(0, len(frequencies) - 1, 6).round().astype(int)
    figure, axes = plt.subplots(3, 1, figsize=(9, 8), dpi=100, sharex=True)
    titles = [f"log-mel: {names[0]}", f"log-mel: {names[1]}"]
    if evidence is not None:
        for index, clip in enumerate(evidence.clips):
            loudness = clip.values.get("loudness")
            if loudness is not None:
                titles[index] += f" ({loudness:.1f} LUFS)"
    panels = [
        (first, titles[0], "magma", (low, high)),
        (second, titles[1], "magma", (low, high)),
        (second - first, f"difference: {names[1]} − {names[0]}", "coolwarm", (-limit, limit)),
    ]
    for axis, (image, title, cmap, (vmin, vmax)) in zip(axes, panels, strict=True):
        shown = axis.imshow(image, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, extent=extent)
        axis.set_title(title)
        axis.set_yticks(ticks + 0.5, [f"{frequencies[i]:.0f}" for i in ticks])  # mel bins are evenly spaced in mel
        axis.set_ylabel("frequency (Hz)")
        figure.colorbar(shown, ax=axis, label="dB")
    if evidence is not None:
        _annotate(axes, evidence, frequencies, view["seconds"])
    axes[-1].set_xlabel("time (s)")
    caption = "\n".join(textwrap.wrap(explanation or "(no explanation)", 110)[:8])
    figure.text(0.02, 0.01, caption, ha="left", va="bottom", fontsize=9, wrap=True)
    figure.tight_layout(rect=(0, 0.04 + 0.018 * caption.count("\n"), 1, 1))
    figure.savefig(path, metadata={"Title": "ADIFF explanation", "Description": explanation})
    plt.close(figure)
    return os.fspath(path)


def _annotate(axes, evidence, frequencies, seconds: float) -> None:
    """Draw the measured differences on the three panels (see [`plot_difference`])."""
    import textwrap

    import numpy as np

    gaps = evidence.properties.get("gap")
    for index in (0, 1):
        clip = evidence.clips[index]
        edge = clip.values.get("high_edge")
        if edge is not None and frequencies[0] <= edge <= frequencies[-1]:
            position = float(np.interp(edge, frequencies, np.arange(len(frequencies)))) + 0.5
            axes[index].axhline(position, color="white", linestyle="--", linewidth=1)
            axes[index].text(0.01 * seconds, position, f" 85% roll-off {edge:.0f} Hz", color="white", va="bottom")
        spans = gaps.numbers.get(f"audio{index + 1}_gaps", []) if gaps is not None else []
        for start, length in spans:
            if start < seconds:
                axes[index].axvspan(start, min(start + length, seconds), color="cyan", alpha=0.35, label="silence")
                axes[index].text(start, len(frequencies) * 0.9, " silence", color="cyan", va="top")
    sentences = [state.sentence for state in evidence.findings][:4] or ["No measured difference above the thresholds."]
    note = "\n".join(textwrap.shorten(sentence, 95) for sentence in sentences)
    axes[2].text(
        0.01,
        0.97,
        note,
        transform=axes[2].transAxes,
        va="top",
        fontsize=8,
        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
    )


def _pooled(values, points: int = 4000):
    """`values` max-pooled down to about `points` (an hour of 10 ms frames would be 360,000)."""
    import numpy as np

    values = np.asarray(values, dtype=np.float32)
    step = max(1, len(values) // points)
    usable = len(values) // step * step
    return values[:usable].reshape(-1, step).max(axis=1), step


def plot_timeline(localization, path: str | os.PathLike, names: tuple[str, str] = ("audio 1", "audio 2")) -> str:
    """A timeline of both recordings (their level envelopes, audio 2 shifted by the found offset) and each window's
    difference score, with the differing regions shaded and labelled by rank (from
    `adiff_hf.localization.localize_differences`). Time is audio 1's, in seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..localization.alignment import ENVELOPE_RATE

    alignment = localization.alignment
    figure, axes = plt.subplots(3, 1, figsize=(12, 6.5), sharex=True, gridspec_kw={"height_ratios": [1, 1, 0.8]})
    for axis, envelope, shift, name in (
        (axes[0], alignment.envelope1, 0.0, names[0]),
        (axes[1], alignment.envelope2, -alignment.offset_seconds, names[1]),
    ):
        if envelope is not None and len(envelope):
            pooled, step = _pooled(envelope)
            floor = max(float(pooled.max()) - 60.0, -100.0)
            times = np.arange(len(pooled)) * step / ENVELOPE_RATE + shift
            axis.fill_between(times, floor, np.maximum(pooled, floor), color="tab:blue", linewidth=0)
            axis.set_ylim(floor, float(pooled.max()) + 3)
        label = name if axis is axes[0] else f"{name} (shifted {-alignment.offset_seconds:+.3f} s)"
        axis.set_ylabel("level (dB)")
        axis.set_title(label, loc="left", fontsize=9)
    centres = np.array([(w.start + w.end) / 2 for w in localization.windows])
    axes[2].plot(centres, [w.score for w in localization.windows], marker=".", color="black", linewidth=1)
    axes[2].axhline(1.0, color="tab:red", linestyle="--", linewidth=1, label="threshold")
    axes[2].set_ylabel("difference score")
    axes[2].set_xlabel("time in audio 1 (s)")
    axes[2].legend(loc="upper right", fontsize=8)
    for region in localization.regions:
        for axis in axes:
            axis.axvspan(region.start1, region.end1, color="tab:orange", alpha=0.35, linewidth=0)
        axes[0].annotate(
            f"#{region.rank}",
            ((region.start1 + region.end1) / 2, 1.0),
            xycoords=("data", "axes fraction"),
            ha="center",
            va="bottom",
            fontsize=9,
            color="tab:orange",
        )
    axes[2].set_xlim(alignment.start1, alignment.start1 + alignment.duration)
    found = len(localization.regions)
    figure.suptitle(
        f"Where the recordings differ: {found} region{'s' if found != 1 else ''}" if found else "No region differs",
        fontsize=11,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return os.fspath(path)


__all__ = ["check_plot_path", "plot_difference", "plot_timeline", "spectrogram_view"]
