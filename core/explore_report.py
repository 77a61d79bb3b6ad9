"""The explorer's files: every run's losses per epoch as CSV, and all the loss curves as PNG.

The loss curves are one figure (matplotlib as :func:`core.reports.plot_loss_curves` uses it).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from .explore import ExploreResult, ExploreRun
from .fileio import OutputStage, output_path

#: The CSV's columns: one row per run and epoch.
COLUMNS = ("learning_rate", "momentum", "epoch", "train_loss", "val_loss", "diverged")
#: One colour per learning rate (matplotlib's tab10), one line style per momentum.
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip
STYLES = ("-", "--", ":", "-.")


def _number(value: float | None) -> float | str:
    """A loss for the CSV: empty when there is none, "nan" when it was not a number."""
    if value is None:
        return ""
    return "nan" if not math.isfinite(value) else value


def write_explore_csv(
    result: ExploreResult, path: str | Path, *, stage: OutputStage | None = None
) -> Path:
    """Write the exploration as CSV, one row per run and epoch.

    Columns: learning_rate, momentum, epoch, train_loss, val_loss (empty without validation
    pixels; "nan" on the epoch a run diverged) and diverged (1 on every row of a run that
    diverged, else 0).

    Args:
        result: the exploration.
        path: the CSV file.
        stage: the output stage the file belongs to; None writes it on its own.

    Returns:
        ``path``.
    """
    path = Path(path)
    with output_path(path, stage) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for run in result.runs:
            for rec in run.history:
                writer.writerow([run.learning_rate, run.momentum, rec["epoch"],
                                 _number(rec["train_loss"]), _number(rec.get("val_loss")),
                                 int(run.diverged)])  # fmt: skip
    return path


def run_style(result: ExploreResult, run: ExploreRun) -> tuple[str, str]:
    """(colour, matplotlib line style) of a run.

    The colour says the learning rate, the style the momentum (the dialog's plot uses the
    same).
    """
    i = result.config.learning_rates.index(run.learning_rate)
    j = result.config.momentums.index(run.momentum)
    return COLOURS[i % len(COLOURS)], STYLES[j % len(STYLES)]


def loss_axis_top(result: ExploreResult) -> float:
    """Top of the loss axis.

    1.3 times the loss of a uniform guess, ln(classes), which every run starts near (a run
    that climbs above it is oscillating or diverging: it leaves the plot), or the highest loss
    when all stay lower.
    """
    guess = 1.3 * math.log(max(2, len(result.classes)))
    finite = [
        v
        for run in result.runs
        for rec in run.history
        for v in (rec["train_loss"], rec.get("val_loss"))
        if v is not None and math.isfinite(v)
    ]
    return min(guess, 1.05 * max(finite)) if finite else guess


def plot_explore(
    result: ExploreResult, path: str | Path, *, stage: OutputStage | None = None
) -> Path:
    """Training loss (left) and validation loss (right) per epoch of every run in one PNG.

    The legend gives each run's learning rate, momentum and the epochs it needed to reach the
    loss threshold (or where it diverged, marked x).

    Args:
        result: the exploration.
        path: the PNG file.
        stage: the output stage the file belongs to; None writes it on its own.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    path = Path(path)
    config = result.config
    with_val = result.n_validation > 0
    fig = Figure(figsize=(11 if with_val else 7, 6.0), dpi=110)
    axes = [fig.add_subplot(1, 2 if with_val else 1, k + 1) for k in range(2 if with_val else 1)]
    keys = ("train_loss", "val_loss")
    titles = ("training loss", f"validation loss ({result.n_validation} pixels, held-out polygons)")
    top = loss_axis_top(result)
    for ax, key, title in zip(axes, keys, titles):
        for run in result.runs:
            colour, style = run_style(result, run)
            epochs = [r["epoch"] for r in run.history]
            values = [math.nan if r.get(key) is None else r[key] for r in run.history]
            label = f"{run.label()}: {run.outcome(config.epochs)}"
            ax.plot(epochs, values, color=colour, linestyle=style, linewidth=1.6, label=label)
            finite = [(e, v) for e, v in zip(epochs, values) if math.isfinite(v)]
            if run.diverged and finite:
                ax.plot(finite[-1][0], min(finite[-1][1], top * 0.98), marker="x",
                        color=colour, markersize=9, markeredgewidth=2)  # fmt: skip
        ax.set_ylim(0, top)
        ax.set_xlim(0, config.epochs + 1)
        ax.set_xlabel("epoch (one full-batch gradient step)")
        ax.set_ylabel(f"cross-entropy {title.split(' (')[0]}")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].axhline(config.loss_threshold, color="black", linewidth=0.9, linestyle=(0, (5, 5)))
    axes[0].annotate(f"threshold {config.loss_threshold:g}", (config.epochs, config.loss_threshold),
                     xytext=(0, 3), textcoords="offset points", ha="right", fontsize=8)  # fmt: skip
    fig.suptitle(
        f"Land Cover MLP: learning rate and momentum (network {result.network}, "
        f"{result.n_train} training pixels, same first weights)",
        fontsize=11,
    )
    handles, labels = axes[0].get_legend_handles_labels()
    columns = max(1, min(3, len(config.momentums)))
    fig.legend(handles, labels, loc="lower center", ncol=columns, fontsize=8, frameon=False,
               title=f"converged: the training loss stays at most {config.loss_threshold:g} "
               "from that epoch on", title_fontsize=8)  # fmt: skip
    rows = -(-len(labels) // columns) + 1  # the legend's title
    fig.tight_layout(rect=(0, 0.035 * rows + 0.01, 1, 0.96))
    with output_path(path, stage) as tmp:
        fig.savefig(tmp, format="png")
    return path
