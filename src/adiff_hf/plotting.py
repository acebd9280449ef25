"""Pictures: training loss curves and spectrogram differences (matplotlib, imported only when drawing)."""

import os


def plot_loss_curve(log_history: list[dict], path: str | os.PathLike, title: str = "ADIFF training") -> str:
    """Draw training (and, when logged, evaluation) loss against the optimisation step; save a PNG at `path`.

    Args:
        log_history: `Trainer.state.log_history`.
        path: where the picture goes.
        title: the picture's title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e and "step" in e]
    evaluation = [(e["step"], e["eval_loss"]) for e in log_history if "eval_loss" in e and "step" in e]
    if not train and not evaluation:
        raise ValueError("The log history holds no loss to plot: log at least one step (logging_steps).")
    figure, axis = plt.subplots(figsize=(6, 4), dpi=100)
    for points, label, style in ((train, "train", "-"), (evaluation, "validation", "o--")):
        if points:
            steps, losses = zip(*points, strict=True)
            axis.plot(steps, losses, style, label=label)
    axis.set_xlabel("step")
    axis.set_ylabel("cross-entropy (answer tokens)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return os.fspath(path)


def plot_difference(
    features,
    explanation: str,
    path: str | os.PathLike,
    names: tuple[str, str] = ("audio 1", "audio 2"),
    hop_seconds: float = 0.01,
) -> str:
    """Both log-mel spectrograms and their difference (audio 2 − audio 1), with the explanation as the caption.

    Args:
        features: `(2, frames, mel_bins)` log-mel features of the pair (e.g. `processor(...)["input_features"][0]`).
        explanation: the generated text, printed under the pictures.
        path: where the PNG goes.
        names: the two clips' labels (file names, say).
        hop_seconds: seconds per frame (ADIFF: 320 samples at 32 kHz).
    """
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 3 or features.shape[0] != 2:
        raise ValueError(f"features must have shape (2, frames, mel_bins), got {features.shape}.")
    first, second = features[0].T, features[1].T  # (mel_bins, frames)
    extent = (0, first.shape[1] * hop_seconds, 0, first.shape[0])
    low, high = np.percentile(features, [1, 99])
    limit = float(np.abs(second - first).max()) or 1.0
    figure, axes = plt.subplots(3, 1, figsize=(9, 8), dpi=100, sharex=True)
    panels = [
        (first, f"log-mel: {names[0]}", "magma", (low, high), "dB"),
        (second, f"log-mel: {names[1]}", "magma", (low, high), "dB"),
        (second - first, f"difference: {names[1]} − {names[0]}", "coolwarm", (-limit, limit), "dB"),
    ]
    for axis, (image, title, cmap, (vmin, vmax), unit) in zip(axes, panels, strict=True):
        shown = axis.imshow(image, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, extent=extent)
        axis.set_title(title)
        axis.set_ylabel("mel bin")
        figure.colorbar(shown, ax=axis, label=unit)
    axes[-1].set_xlabel("time (s)")
    caption = "\n".join(textwrap.wrap(explanation or "(no explanation)", 110)[:8])
    figure.text(0.02, 0.01, caption, ha="left", va="bottom", fontsize=9, wrap=True)
    figure.tight_layout(rect=(0, 0.04 + 0.018 * caption.count("\n"), 1, 1))
    figure.savefig(path, metadata={"Title": "ADIFF explanation", "Description": explanation})
    plt.close(figure)
    return os.fspath(path)


__all__ = ["plot_difference", "plot_loss_curve"]
