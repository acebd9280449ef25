"""Spectrogram pictures of a pair and their difference (matplotlib, imported only when drawing)."""

import os


def spectrogram_view(features, feature_extractor) -> dict:
    """What [`plot_difference`] draws, in physical units, for either front end.

    Args:
        features: the pair's `input_features` as the processor made them (`processor(...)["input_features"][0]`):
            `(2, frames, mel_bins)` log-mel in dB for HTSAT, `(2, mel_bins, frames)` Whisper log-mel (log10, shifted
            and scaled by Whisper's extractor) for a Whisper tower.
        feature_extractor ([`ADiffFeatureExtractor`]): the extractor that made them.

    Returns:
        `dict` with `images` `(2, mel_bins, frames)` in dB over the part of each clip the model hears (Whisper's
        padding to 30 s left out), `seconds` (that length) and `frequencies_hz` (each mel bin's centre frequency).
    """
    import numpy as np
    from transformers.audio_utils import hertz_to_mel, mel_to_hertz

    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 3 or features.shape[0] != 2:
        raise ValueError(f"features must hold the pair's two log-mels, shape (2, ., .); got {features.shape}.")
    whisper = feature_extractor.front_end == "whisper"
    images = features if whisper else features.transpose(0, 2, 1)
    if whisper:
        images = 40.0 * images - 40.0  # Whisper stores (log10(power) + 4) / 4; 10 * log10(power) is dB
    heard = min(images.shape[2], feature_extractor.nb_max_samples // feature_extractor.hop_length)
    bins = images.shape[1]
    mels = np.linspace(
        hertz_to_mel(feature_extractor.frequency_min, mel_scale="slaney"),
        hertz_to_mel(feature_extractor.frequency_max, mel_scale="slaney"),
        bins + 2,
    )[1:-1]  # the centres of the triangular filters
    return {
        "images": images[:, :, :heard],
        "seconds": heard * feature_extractor.hop_length / feature_extractor.sampling_rate,
        "frequencies_hz": mel_to_hertz(mels, mel_scale="slaney"),
    }


def plot_difference(
    features,
    explanation: str,
    path: str | os.PathLike,
    feature_extractor,
    names: tuple[str, str] = ("audio 1", "audio 2"),
) -> str:
    """Both log-mel spectrograms and their difference (audio 2 − audio 1), with the explanation as the caption:
    time in seconds, mel frequency in Hz, colour in dB (see [`spectrogram_view`]).

    Args:
        features: the pair's `input_features` (`processor(...)["input_features"][0]`).
        explanation: the generated text, printed under the pictures.
        path: where the PNG goes.
        feature_extractor ([`ADiffFeatureExtractor`]): the extractor that made `features`.
        names: the two clips' labels (file names, say).
    """
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    view = spectrogram_view(features, feature_extractor)
    first, second = view["images"]
    frequencies = view["frequencies_hz"]
    extent = (0, view["seconds"], 0, len(frequencies))
    low, high = np.percentile(view["images"], [1, 99])
    limit = float(np.abs(second - first).max()) or 1.0
    ticks = np.linspace(0, len(frequencies) - 1, 6).round().astype(int)
    figure, axes = plt.subplots(3, 1, figsize=(9, 8), dpi=100, sharex=True)
    panels = [
        (first, f"log-mel: {names[0]}", "magma", (low, high)),
        (second, f"log-mel: {names[1]}", "magma", (low, high)),
        (second - first, f"difference: {names[1]} − {names[0]}", "coolwarm", (-limit, limit)),
    ]
    for axis, (image, title, cmap, (vmin, vmax)) in zip(axes, panels, strict=True):
        shown = axis.imshow(image, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, extent=extent)
        axis.set_title(title)
        axis.set_yticks(ticks + 0.5, [f"{frequencies[i]:.0f}" for i in ticks])  # mel bins are evenly spaced in mel
        axis.set_ylabel("frequency (Hz)")
        figure.colorbar(shown, ax=axis, label="dB")
    axes[-1].set_xlabel("time (s)")
    caption = "\n".join(textwrap.wrap(explanation or "(no explanation)", 110)[:8])
    figure.text(0.02, 0.01, caption, ha="left", va="bottom", fontsize=9, wrap=True)
    figure.tight_layout(rect=(0, 0.04 + 0.018 * caption.count("\n"), 1, 1))
    figure.savefig(path, metadata={"Title": "ADIFF explanation", "Description": explanation})
    plt.close(figure)
    return os.fspath(path)


__all__ = ["plot_difference", "spectrogram_view"]
