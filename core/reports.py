"""Reports: loss curves (PNG and CSV) and the accuracy report (JSON and a readable HTML page)."""

from __future__ import annotations

import csv
import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .accuracy import AccuracyReport
from .fileio import OutputStage, output_path

HISTORY_COLUMNS = (
    "epoch", "train_loss", "val_loss", "val_accuracy", "final_train_loss", "lr",
    "distill_loss", "distill_val_loss", "distill_val_accuracy", "final_distill_loss",
)  # fmt: skip


def write_history_csv(
    history: Sequence[dict[str, float]], path: str | Path, *, stage: OutputStage | None = None
) -> Path:
    """One row per epoch: epoch, train_loss, val_loss, val_accuracy, final_train_loss (the
    saved model's run on all polygons, after an assessment run), lr, and for a network
    distilled from the ensemble distill_loss, distill_val_loss, distill_val_accuracy and
    final_distill_loss (empty when unknown).

    Args:
        history: one record per epoch.
        path: the CSV file.
        stage: the output stage the file belongs to; None writes it on its own.

    Returns:
        ``path``.
    """
    path = Path(path)
    with output_path(path, stage) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HISTORY_COLUMNS)
        for rec in history:
            writer.writerow(["" if rec.get(k) is None else rec.get(k) for k in HISTORY_COLUMNS])
    return path


def _two_runs(history: Sequence[dict[str, float]]) -> bool:
    return any("final_train_loss" in r for r in history)


def plot_loss_curves(
    history: Sequence[dict[str, float]],
    path: str | Path,
    best_epoch: int | None = None,
    *,
    stage: OutputStage | None = None,
) -> Path:
    """Training and validation loss per epoch (and validation accuracy) as a PNG.

    Args:
        history: one record per epoch.
        path: the PNG file.
        best_epoch: marked by a vertical line when given.
        stage: the output stage the file belongs to; None writes it on its own.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    path = Path(path)
    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(7, 4.2), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    if any("train_loss" in r for r in history):
        ax.plot(
            epochs,
            [r.get("train_loss", math.nan) for r in history],
            label="training loss" + (" (assessment run)" if _two_runs(history) else ""),
            color="#1f77b4",
        )
    if _two_runs(history):
        ax.plot(
            epochs,
            [r.get("final_train_loss", math.nan) for r in history],
            label="training loss, all polygons (saved model)",
            color="#7f7f7f",
        )
    if any("val_loss" in r for r in history):
        ax.plot(
            epochs,
            [r.get("val_loss", math.nan) for r in history],
            label="validation loss",
            color="#d62728",
        )
        ax2 = ax.twinx()
        ax2.plot(
            epochs,
            [r.get("val_accuracy", math.nan) for r in history],
            label="validation accuracy",
            color="#2ca02c",
            alpha=0.6,
            linestyle="--",
        )
        if any("distill_val_accuracy" in r for r in history):
            ax2.plot(
                epochs,
                [r.get("distill_val_accuracy", math.nan) for r in history],
                label="validation accuracy, distilled network",
                color="#ff7f0e",
                alpha=0.6,
                linestyle="--",
            )
        ax2.set_ylabel("validation accuracy")
        ax2.set_ylim(0, 1.02)
        ax2.legend(loc="center right", fontsize=8)
    for key, label, style in (
        ("distill_loss", "distillation loss, distilled network", ":"),
        ("distill_val_loss", "validation loss, distilled network", "-"),
    ):
        if any(key in r for r in history):
            ax.plot(epochs, [r.get(key, math.nan) for r in history], label=label,
                    color="#ff7f0e", linestyle=style)  # fmt: skip
    if any("final_distill_loss" in r for r in history):
        ax.plot(epochs, [r.get("final_distill_loss", math.nan) for r in history],
                label="distillation loss, all polygons (saved network)", color="#7f7f7f",
                linestyle=":")  # fmt: skip
    if best_epoch:
        ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch ({best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title("Land Cover MLP: loss curves")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    with output_path(path, stage) as tmp:
        fig.savefig(tmp, format="png")
    return path


def write_report_json(
    report: AccuracyReport,
    path: str | Path,
    extra: dict[str, Any] | None = None,
    *,
    stage: OutputStage | None = None,
) -> Path:
    """The accuracy report as JSON (``overall_accuracy``, ``kappa``, ``confusion_matrix``,
    ``classes``, per-class ``precision`` / ``recall`` / ``f1``, ...).

    Args:
        report: the accuracy report.
        path: the JSON file.
        extra: more top-level keys.
        stage: the output stage the file belongs to; None writes it on its own.

    Returns:
        ``path``.
    """
    path = Path(path)
    data = {**report.to_dict(), **(extra or {})}
    with output_path(path, stage) as tmp:
        tmp.write_text(json.dumps(data, indent=2, allow_nan=False), encoding="utf-8")
    return path


def _pct(v: float) -> str:
    return "&ndash;" if v is None or not math.isfinite(v) else f"{100 * v:.1f}&nbsp;%"


def report_html(
    report: AccuracyReport,
    title: str = "Accuracy report",
    details: dict[str, Any] | None = None,
    loss_curve: str | None = None,
) -> str:
    """A self-contained HTML page for the report."""
    e = html.escape
    names = [c.name for c in report.classes]
    head = "".join(f"<th>{e(n)}</th>" for n in names)
    rows = []
    for c, row in zip(report.classes, report.confusion_matrix):
        cells = "".join(
            f'<td class="{"diag" if j == report.classes.index(c) else ""}">{v}</td>'
            for j, v in enumerate(row)
        )
        rows.append(
            f'<tr><th><span class="sw" style="background:{e(c.colour)}"></span>{e(c.name)}</th>'
            f"{cells}<td>{sum(row)}</td></tr>"
        )
    col_tot = "".join(f"<td>{sum(col)}</td>" for col in zip(*report.confusion_matrix))
    scores = "".join(
        f"<tr><th>{e(s.name)}</th><td>{s.value}</td><td>{_pct(s.precision)}</td>"
        f"<td>{_pct(s.recall)}</td><td>{_pct(s.f1)}</td><td>{s.support}</td></tr>"
        for s in report.per_class
    )
    warn = "".join(f"<li>{e(w)}</li>" for w in report.warnings)
    info = "".join(
        f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in (details or {}).items()
    )
    img = f'<h2>Loss curves</h2><img src="{e(loss_curve)}" alt="loss curves">' if loss_curve else ""
    kappa = "&ndash;" if not math.isfinite(report.kappa) else f"{report.kappa:.3f}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:70em}}
table{{border-collapse:collapse;margin:1em 0}} td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
th{{background:#f4f4f4}} td.diag{{background:#e3f2e1;font-weight:bold}}
.sw{{display:inline-block;width:.9em;height:.9em;margin-right:.4em;border:1px solid #555}}
.big{{font-size:1.4em}} .warn{{color:#8a5300}}
</style></head><body>
<h1>{e(title)}</h1>
<p class="big">Overall accuracy <b>{_pct(report.overall_accuracy)}</b> &middot; kappa <b>{kappa}</b>
&middot; {report.n_pixels} reference pixels</p>
<p>How this accuracy was estimated: <b>{e(report.method or "not stated")}</b>.</p>
{f"<p>Model scored: {e(report.assessed_model)}.</p>" if report.assessed_model else ""}
{f'<h2>Warnings</h2><ul class="warn">{warn}</ul>' if warn else ""}
<h2>Confusion matrix</h2>
<p>Rows are the reference (truth), columns the predicted class.</p>
<table><tr><th>reference \\ predicted</th>{head}<th>total</th></tr>{"".join(rows)}
<tr><th>total</th>{col_tot}<td>{report.n_pixels}</td></tr></table>
<h2>Per-class scores</h2>
<p>Precision = user's accuracy, recall = producer's accuracy.</p>
<table><tr><th>class</th><th>value</th><th>precision</th><th>recall</th><th>F1</th><th>reference pixels</th></tr>{scores}</table>
{img}
{f"<h2>Details</h2><table>{info}</table>" if info else ""}
</body></html>
"""


def write_report_html(
    report: AccuracyReport,
    path: str | Path,
    title: str = "Accuracy report",
    details: dict[str, Any] | None = None,
    loss_curve: str | Path | None = None,
    *,
    stage: OutputStage | None = None,
) -> Path:
    """Write :func:`report_html` to ``path`` (the loss curve is linked relative to it).

    Args:
        report: the accuracy report.
        path: the HTML file.
        title: page title.
        details: facts shown in a table below the scores.
        loss_curve: the loss-curve image to show, by its final name.
        stage: the output stage the file belongs to; None writes it on its own.

    Returns:
        ``path``.
    """
    path = Path(path)
    rel = None
    if loss_curve:
        lc = Path(loss_curve)
        rel = lc.name if lc.parent.resolve() == path.parent.resolve() else lc.resolve().as_uri()
    text = report_html(report, title, details, rel)
    with output_path(path, stage) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
