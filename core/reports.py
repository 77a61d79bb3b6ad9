"""Reports: loss curves (PNG and CSV) and the accuracy report (JSON and a readable HTML page)."""

from __future__ import annotations

import csv
import html
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .accuracy import AccuracyReport
from .fileio import OutputStage, output_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .area_estimation import AreaAdjusted

HISTORY_COLUMNS = (
    "epoch", "train_loss", "val_loss", "val_accuracy", "final_train_loss", "lr",
    "distill_loss", "distill_val_loss", "distill_val_accuracy", "final_distill_loss",
)  # fmt: skip


def write_history_csv(
    history: Sequence[dict[str, float]], path: str | Path, *, stage: OutputStage | None = None
) -> Path:
    """Write the training history as CSV, one row per epoch.

    Columns: epoch, train_loss, val_loss, val_accuracy, final_train_loss (the saved model's
    run on all polygons, after an assessment run), lr, and for a network distilled from the
    ensemble distill_loss, distill_val_loss, distill_val_accuracy and final_distill_loss
    (empty when unknown).

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


def _distilled(history: Sequence[dict[str, float]]) -> bool:
    return any("distill_loss" in r or "final_distill_loss" in r for r in history)


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
    distilled = _distilled(history)
    two_runs = _two_runs(history)
    ensemble = "ensemble: " if distilled else ""
    fig = Figure(figsize=(7, 5.0), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    ax2 = ax.twinx() if any("val_loss" in r for r in history) else None

    def curve(axis: Axes, key: str, label: str, colour: str, style: str = "-",
              alpha: float = 1.0) -> None:  # fmt: skip
        if any(key in r for r in history):
            axis.plot(epochs, [r.get(key, math.nan) for r in history], label=label,
                      color=colour, linestyle=style, alpha=alpha)  # fmt: skip

    run = " (assessment run)" if two_runs else ""
    curve(ax, "train_loss", f"{ensemble}training loss{run}", "#1f77b4")
    curve(ax, "val_loss", f"{ensemble}validation loss", "#d62728")
    saved = " (saved model)" if distilled and not two_runs else ""
    curve(ax, "distill_loss", f"distilled network{saved}: distillation loss{run}", "#ff7f0e", ":")
    curve(ax, "distill_val_loss", "distilled network: validation loss", "#ff7f0e")
    if distilled:
        curve(ax, "final_train_loss", "ensemble: training loss, all polygons", "#7f7f7f")
        curve(ax, "final_distill_loss", "saved model (distilled): distillation loss, all polygons",
              "#7f7f7f", ":")  # fmt: skip
    else:
        curve(ax, "final_train_loss", "saved model: training loss, all polygons", "#7f7f7f")
    if ax2 is not None:
        curve(ax2, "val_accuracy", f"{ensemble}validation accuracy", "#2ca02c", "--", 0.6)
        curve(ax2, "distill_val_accuracy", "distilled network: validation accuracy",
              "#ff7f0e", "--", 0.6)  # fmt: skip
        ax2.set_ylabel("validation accuracy")
        ax2.set_ylim(0, 1.02)
    if best_epoch:
        ax.axvline(best_epoch, color="black", linestyle="-.", linewidth=0.8,
                   label=f"best epoch ({best_epoch})")  # fmt: skip
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title("Land Cover MLP: loss curves")
    ax.grid(alpha=0.3)
    # One legend for both axes, below the plot: never over the curves.
    handles, labels = ax.get_legend_handles_labels()
    if ax2 is not None:
        more = ax2.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=7.5, frameon=False)
    rows = -(-len(labels) // 2)
    fig.tight_layout(rect=(0, 0.032 * rows + 0.01, 1, 1))
    with output_path(path, stage) as tmp:
        fig.savefig(tmp, format="png")
    return path


def write_report_json(
    report: AccuracyReport,
    path: str | Path,
    extra: dict[str, Any] | None = None,
    *,
    provenance: dict[str, Any] | None = None,
    stage: OutputStage | None = None,
) -> Path:
    """Write the accuracy report as JSON.

    Keys ``overall_accuracy``, ``kappa``, ``confusion_matrix``, ``classes``, per-class
    ``precision`` / ``recall`` / ``f1``, ...

    Args:
        report: the accuracy report.
        path: the JSON file.
        extra: more top-level keys.
        provenance: what produced the report, under the key ``provenance`` (see
            :func:`core.provenance.model_provenance`); None leaves the key out.
        stage: the output stage the file belongs to; None writes it on its own.

    Returns:
        ``path``.
    """
    path = Path(path)
    data = {**report.to_dict(), **(extra or {})}
    if provenance is not None:
        data["provenance"] = provenance
    with output_path(path, stage) as tmp:
        tmp.write_text(json.dumps(data, indent=2, allow_nan=False), encoding="utf-8")
    return path


#: Row labels of a report's Provenance section, by the key of its ``provenance`` dict.
PROVENANCE_LABELS = {
    "raster": "Raster",
    "bands": "Bands",
    "polygons": "Training polygons",
    "polygons_layer": "Training polygon layer",
    "class_field": "Class field",
    "validation_polygons": "Validation polygons",
    "validation_layer": "Validation polygon layer",
    "classified": "Classified raster",
    "reference": "Reference",
    "reference_layer": "Reference layer",
    "pixel_rule": "Pixels taken from a polygon",
    "settings": "Settings",
    "created": "Date and time",
    "plugin_version": "Land Cover MLP version",
    "torch": "PyTorch version",
    "device": "Device",
}


def _provenance_value(value: object) -> str:
    """One fact as HTML: bands as "1: B1, 2: B2", settings as name=value lines."""
    e = html.escape
    if value is None or value == "":
        return "none"
    if isinstance(value, dict):
        return "<br>".join(f"<code>{e(str(k))}={e(str(v))}</code>" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(
            e(f"{v['band']}: {v['name']}" if isinstance(v, dict) else str(v)) for v in value
        )
    return e(str(value))


def provenance_html(provenance: dict[str, Any] | None) -> str:
    """The *Provenance* section of a report page (``""`` for None).

    One row per fact of ``provenance`` (see :func:`core.provenance.model_provenance`),
    labelled by :data:`PROVENANCE_LABELS`.
    """
    if not provenance:
        return ""
    rows = "".join(
        f"<tr><th>{html.escape(PROVENANCE_LABELS.get(k, k))}</th>"
        f'<td class="prov">{_provenance_value(v)}</td></tr>'
        for k, v in provenance.items()
    )
    return f'<h2>Provenance</h2><table class="prov">{rows}</table>'


def _pct(v: float) -> str:
    return "&ndash;" if v is None or not math.isfinite(v) else f"{100 * v:.1f}&nbsp;%"


def _area(v: float | None, unit: str) -> str:
    if v is None or not math.isfinite(v):
        return "&ndash;"
    return f"{v:,.1f}&nbsp;ha" if unit == "ha" else f"{v:,.0f}&nbsp;px"


def _ci(value: float | None, half: float | None, fmt: Callable[[float], str]) -> str:
    """``value ± half`` (the 95 % interval's half-width) with ``fmt`` for each number."""
    if value is None or not math.isfinite(value):
        return "&ndash;"
    if half is None or not math.isfinite(half):
        return fmt(value)
    return f"{fmt(value)} &plusmn; {fmt(half)}"


def area_table_text(area: AreaAdjusted) -> list[str]:
    """The area-adjusted estimates as plain-text lines (terminal, Processing log).

    One line per class with its mapped area, estimated area and 95 % interval, user's and
    producer's accuracy, then the overall accuracy and the protocol.

    Args:
        area: an :class:`core.area_estimation.AreaAdjusted`.
    """
    unit = "ha" if area.area_unit == "ha" else "px"

    def num(v: float | None, digits: int = 1) -> str:
        return "-" if v is None or not math.isfinite(v) else f"{v:,.{digits}f}"

    def pct(v: float | None) -> str:
        return "-" if v is None or not math.isfinite(v) else f"{100 * v:.1f}%"

    width = max([len(c.name) for c in area.classes] + [5])
    lines = [
        f"{'class':<{width}}  {'mapped ' + unit:>14}  {'estimated ' + unit + ' (95% CI)':>30}  "
        f"{'users':>7}  {'producers':>9}"
    ]
    for c in area.classes:
        estimate = f"{num(c.area_ha)} +/- {num(c.area_ha_ci95)}"
        lines.append(
            f"{c.name:<{width}}  {num(c.mapped_area_ha):>14}  {estimate:>30}  "
            f"{pct(c.users_accuracy):>7}  {pct(c.producers_accuracy):>9}"
        )
    se = area.overall_accuracy_se
    half = pct(1.96 * se) if se is not None and math.isfinite(se) else "-"
    lines.append(
        f"Area-adjusted overall accuracy {pct(area.overall_accuracy)} +/- {half} (95% interval),"
        f" {area.n_points} labelled points ({area.n_points_unlabelled} unlabelled left out)."
    )
    lines.append(area.protocol)
    return lines


def area_adjusted_html(report: AccuracyReport) -> str:
    """The *Area-adjusted estimates* section of a report on a stratified sample of points.

    ``""`` without one. Overall, user's and producer's accuracy with 95 % intervals, the
    mapped area next to the estimated area and its 95 % interval, the error matrix in area
    proportions (rows = reference), quantity and allocation disagreement, and which protocol
    produced the numbers (see :mod:`core.area_estimation`).
    """
    area = report.area_adjusted
    if area is None:
        return ""
    e, z = html.escape, 1.96
    unit = area.area_unit
    pct = _pct

    def half(se: float | None) -> float | None:
        return None if se is None or not math.isfinite(se) else z * se

    rows = "".join(
        f'<tr><th><span class="sw" style="background:{e(info.colour)}"></span>{e(c.name)}</th>'
        f"<td>{_area(c.mapped_area_ha, unit)}</td>"
        f"<td>{_ci(c.area_ha, c.area_ha_ci95, lambda v: _area(v, unit))}</td>"
        f"<td>{_ci(c.users_accuracy, half(c.users_accuracy_se), pct)}</td>"
        f"<td>{_ci(c.producers_accuracy, half(c.producers_accuracy_se), pct)}</td></tr>"
        for c, info in zip(area.classes, report.classes)
    )
    head = "".join(f"<th>{e(c.name)}</th>" for c in area.classes)
    matrix = "".join(
        f"<tr><th>{e(c.name)}</th>"
        + "".join(f'<td class="{"diag" if i == j else ""}">{v:.4f}</td>' for j, v in enumerate(row))
        + "</tr>"
        for i, (c, row) in enumerate(zip(area.classes, area.error_matrix))
    )
    oa = _ci(area.overall_accuracy, half(area.overall_accuracy_se), pct)
    unlabelled = (
        f" ({area.n_points_unlabelled} unlabelled point(s) left out)"
        if area.n_points_unlabelled
        else ""
    )
    return f"""<h2>Area-adjusted estimates</h2>
<p class="big">Overall accuracy <b>{oa}</b> (95&nbsp;% interval) from {area.n_points} labelled
sample points{unlabelled}.</p>
<p>Protocol: {e(area.protocol)} {e(area.area_note)}</p>
<table><tr><th>class</th><th>mapped area</th><th>estimated area (95&nbsp;% interval)</th>
<th>user's accuracy</th><th>producer's accuracy</th></tr>{rows}</table>
<p>Mapped area counts the map's pixels, which is biased by the map's errors; the estimated
area corrects it with the sample.</p>
<h3>Error matrix in proportions of the area</h3>
<p>Rows are the reference (truth), columns the map class.</p>
<table><tr><th>reference \\ map</th>{head}</tr>{matrix}</table>
<p>Quantity disagreement {pct(area.quantity_disagreement)} &middot; allocation disagreement
{pct(area.allocation_disagreement)} (Pontius and Millones 2011; they add up to 1 &minus;
overall accuracy).</p>
<h2>Sample counts</h2>
<p>The tables below count sample points without weighting them by area: they describe the
sample, not the map.</p>"""


def report_html(
    report: AccuracyReport,
    title: str = "Accuracy report",
    details: dict[str, Any] | None = None,
    loss_curve: str | None = None,
    provenance: dict[str, Any] | None = None,
    sections: str = "",
) -> str:
    """A self-contained HTML page for the report.

    Args:
        report: the accuracy report.
        title: page title.
        details: facts shown in a table below the scores.
        loss_curve: URL of the loss-curve image, or None.
        provenance: what produced the report, shown as its *Provenance* section (see
            :func:`provenance_html`); None leaves the section out.
        sections: more HTML shown after the loss curves (a training report's diagnosis and
            network diagram: :func:`core.diagnosis.diagnosis_html`,
            :func:`core.diagram.network_html`).

    Returns:
        The page.
    """
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
    unit = "points" if report.area_adjusted is not None else "pixels"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:70em}}
table{{border-collapse:collapse;margin:1em 0}} td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
th{{background:#f4f4f4}} td.diag{{background:#e3f2e1;font-weight:bold}}
.sw{{display:inline-block;width:.9em;height:.9em;margin-right:.4em;border:1px solid #555}}
.big{{font-size:1.4em}} .warn{{color:#8a5300}} td.prov{{text-align:left}}
</style></head><body>
<h1>{e(title)}</h1>
<p class="big">{"Unweighted sample accuracy" if report.area_adjusted else "Overall accuracy"}
<b>{_pct(report.overall_accuracy)}</b> &middot; kappa <b>{kappa}</b>
&middot; {report.n_pixels} reference {"points" if report.area_adjusted else "pixels"}</p>
<p>How this accuracy was estimated: <b>{e(report.method or "not stated")}</b>.</p>
{f"<p>Model scored: {e(report.assessed_model)}.</p>" if report.assessed_model else ""}
{f'<h2>Warnings</h2><ul class="warn">{warn}</ul>' if warn else ""}
{area_adjusted_html(report)}
<h2>Confusion matrix</h2>
<p>Rows are the reference (truth), columns the predicted class.</p>
<table><tr><th>reference \\ predicted</th>{head}<th>total</th></tr>{"".join(rows)}
<tr><th>total</th>{col_tot}<td>{report.n_pixels}</td></tr></table>
<h2>Per-class scores</h2>
<p>Precision = user's accuracy, recall = producer's accuracy.</p>
<table><tr><th>class</th><th>value</th><th>precision</th><th>recall</th><th>F1</th><th>reference {unit}</th></tr>{scores}</table>
{img}
{sections}
{f"<h2>Details</h2><table>{info}</table>" if info else ""}
{provenance_html(provenance)}
</body></html>
"""


def write_report_html(
    report: AccuracyReport,
    path: str | Path,
    title: str = "Accuracy report",
    details: dict[str, Any] | None = None,
    loss_curve: str | Path | None = None,
    *,
    provenance: dict[str, Any] | None = None,
    stage: OutputStage | None = None,
    sections: str = "",
) -> Path:
    """Write :func:`report_html` to ``path`` (the loss curve is linked relative to it).

    Args:
        report: the accuracy report.
        path: the HTML file.
        title: page title.
        details: facts shown in a table below the scores.
        loss_curve: the loss-curve image to show, by its final name.
        provenance: what produced the report, shown as its *Provenance* section.
        stage: the output stage the file belongs to; None writes it on its own.
        sections: more HTML shown after the loss curves (see :func:`report_html`).

    Returns:
        ``path``.
    """
    path = Path(path)
    rel = None
    if loss_curve:
        lc = Path(loss_curve)
        rel = lc.name if lc.parent.resolve() == path.parent.resolve() else lc.resolve().as_uri()
    text = report_html(report, title, details, rel, provenance, sections)
    with output_path(path, stage) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
