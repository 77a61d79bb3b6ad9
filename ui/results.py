"""Show a finished run in the dialog: accuracy summary, confusion matrix with per-class F1,
and links to the files written."""

from __future__ import annotations

import html
import math
from pathlib import Path

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QBrush, QColor, QFont, QIcon, QPixmap
from qgis.PyQt.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem

from ..core.accuracy import AccuracyReport
from ..plugin.tasks import TrainClassifyResult

DIAGONAL = QColor("#e3f2e1")


def _pct(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.1f} %"


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


def _item(text: str, bold: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if bold:
        font = QFont()
        font.setBold(True)
        item.setFont(font)
    return item


def summary_html(result: TrainClassifyResult) -> str:
    """One paragraph: overall accuracy, kappa, pixels, how accuracy was estimated."""
    report = result.training.report
    if report is None:
        return (
            "<b>No validation pixels</b>: accuracy was not measured. Set a validation share "
            "above 0 or choose validation polygons."
        )
    kappa = "–" if not math.isfinite(report.kappa) else f"{report.kappa:.3f}"
    text = (
        f"<b>Overall accuracy {_pct(report.overall_accuracy)}</b> &middot; "
        f"<b>kappa {kappa}</b> &middot; {report.n_pixels} validation pixels, "
        f"{result.training.n_train} pixels learnt by the saved model<br>"
        f"<small>Estimated by {html.escape(report.method or 'validation')}"
        + (f", scoring {html.escape(report.assessed_model)}" if report.assessed_model else "")
        + f". Model: {html.escape(result.model.describe_network())}; "
        f"{result.model.info.get('best_epoch')} epochs on "
        f"{html.escape(str(result.model.info.get('device')))}.</small>"
    )
    for warning in report.warnings:
        text += f"<br><small>&#9888; {html.escape(warning)}</small>"
    return text


def fill_table(table: QTableWidget, report: AccuracyReport | None) -> None:
    """Confusion matrix (rows reference, columns predicted) with each class's F1."""
    table.clear()
    table.setVisible(report is not None)
    if report is None:
        table.setRowCount(0)
        table.setColumnCount(0)
        return
    names = [c.name for c in report.classes]
    n = len(names)
    table.setRowCount(n)
    table.setColumnCount(n + 2)
    table.setHorizontalHeaderLabels([*names, "Total", "F1"])
    for i, cls in enumerate(report.classes):
        header = QTableWidgetItem(_swatch(cls.colour), cls.name)
        table.setVerticalHeaderItem(i, header)
        row = report.confusion_matrix[i]
        for j, count in enumerate(row):
            item = _item(str(count), bold=i == j)
            if i == j:
                item.setBackground(QBrush(DIAGONAL))
            table.setItem(i, j, item)
        table.setItem(i, n, _item(str(sum(row))))
        table.setItem(i, n + 1, _item(_pct(report.per_class[i].f1), bold=True))
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.resizeRowsToContents()
    # As tall as its rows (no empty band below them): the loss plot gets the rest.
    frame = 2 * table.frameWidth()
    rows = sum(table.rowHeight(i) for i in range(n))
    scrollbar = table.horizontalScrollBar().sizeHint().height()
    table.setMaximumHeight(table.horizontalHeader().sizeHint().height() + rows + frame + scrollbar)


def file_link(path: Path | None, text: str) -> str:
    """An HTML link that opens ``path`` in the system's viewer ("" when it does not exist)."""
    if path is None or not path.exists():
        return ""
    return f'<a href="{path.resolve().as_uri()}">{html.escape(text)}</a>'


def outputs_html(result: TrainClassifyResult) -> str:
    """Links to the files written (open in the system's viewer)."""
    out = result.outputs
    links = [
        file_link(out.report, "validation report"),
        file_link(out.loss_curve, "loss curves"),
        file_link(out.model.parent, "output folder"),
    ]
    return "Files: " + " &middot; ".join(link for link in links if link)


def show_result(
    summary: QLabel, table: QTableWidget, files: QLabel, result: TrainClassifyResult
) -> None:
    """Fill the results area of the dialog."""
    summary.setText(summary_html(result))
    fill_table(table, result.training.report)
    files.setText(outputs_html(result))
    files.setToolTip(str(result.outputs.model.parent))


def clear_result(summary: QLabel, table: QTableWidget, files: QLabel) -> None:
    """Empty the results area (a new run starts)."""
    summary.setText("Training...")
    fill_table(table, None)
    files.setText("")
