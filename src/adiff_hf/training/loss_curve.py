"""The loss curve of a training stage (matplotlib, imported only when drawing)."""

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


__all__ = ["plot_loss_curve"]
