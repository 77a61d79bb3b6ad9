"""Show a finished run in the dialog.

Accuracy summary, confusion matrix with totals and per-class precision (user's accuracy),
recall (producer's accuracy) and F1, and links to the files written.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QBrush, QColor, QFont, QIcon, QPixmap
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
)

from ..core.accuracy import AccuracyReport
from ..plugin.tasks import TrainClassifyResult

DIAGONAL = QColor("#e3f2e1")
SWATCH = 12  # px, the class colour square in the row headers
KEEP_CHARS = 16  # row names are elided to no fewer characters than this
CAPTION = "Rows = reference (validation pixels), columns = predicted"
CAPTION_NAME = "matrixCaption"
# (header, tooltip) of the columns after the matrix
STAT_COLUMNS = (
    ("Total", "Reference (validation) pixels of the class: the row sum."),
    (
        "Precision",
        "Precision = user's accuracy: of the pixels mapped as the class, the share that are "
        "the class (diagonal / column total). – when the class was never predicted.",
    ),
    (
        "Recall",
        "Recall = producer's accuracy: of the class's reference pixels, the share mapped as "
        "the class (diagonal / row total). – when the class has no reference pixel.",
    ),
    ("F1", "F1 score: the harmonic mean of precision and recall."),
)


def _pct(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.1f} %"


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(SWATCH, SWATCH)
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


def diagnosis_html(diagnosis: Sequence[Mapping[str, Any]]) -> str:
    """The training diagnosis (:mod:`core.diagnosis`) as small lines for the summary.

    One line per finding ("" when no rule fired).
    """
    return "".join(
        f"<br><small>&#9888; <b>Diagnosis ({html.escape(str(d['kind']))})</b>: "
        f"{html.escape(str(d['message']))}</small>"
        for d in diagnosis
    )


def summary_html(result: TrainClassifyResult) -> str:
    """The run's summary as one paragraph.

    Overall accuracy, kappa, pixels, how accuracy was estimated, the model, warnings and the
    training diagnosis.
    """
    report = result.training.report
    diagnosis = diagnosis_html(result.training.diagnosis)
    if report is None:
        return (
            "<b>No validation pixels</b>: accuracy was not measured. Set a validation share "
            "above 0 or choose validation polygons."
            f"<br><small>Model: {html.escape(result.model.describe_network())}.</small>" + diagnosis
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
    return text + diagnosis


def fill_table(table: QTableWidget, report: AccuracyReport | None) -> None:
    """Confusion matrix with totals, precision, recall and F1, and its caption above the table.

    Rows are the reference (validation pixels) and columns the prediction, as in
    :class:`~landcover_mlp.core.accuracy.AccuracyReport`: ``n`` class rows plus a "Total" row of
    column sums (pixels predicted as each class), ``n`` class columns plus "Total" (row sums),
    "Precision" (user's accuracy), "Recall" (producer's accuracy) and "F1", as percentages
    ("–" where undefined: no pixel predicted as, or no reference pixel of, the class).

    Columns are as wide as their contents. When the table, at its width at the call, cannot
    show every column headed by class names, the class columns are headed by the class value
    (full name as tooltip), the row headers read "value: name", the diagonal is marked by
    shading only (bold is wider), and long row names are cut ("…", full name as tooltip) as
    far as needed to show every class column, never below about 16 characters; what still does
    not fit scrolls horizontally.

    Args:
        table: the results table; the caption goes above it in its parent's box layout.
        report: the accuracy of the run, or None to empty and hide the table and caption.
    """
    table.clear()
    caption = matrix_caption(table)
    table.setVisible(report is not None)
    if caption is not None:
        caption.setVisible(report is not None)
    if report is None:
        table.setRowCount(0)
        table.setColumnCount(0)
        return
    n = len(report.classes)
    matrix = report.confusion_matrix
    table.setRowCount(n + 1)
    table.setColumnCount(n + len(STAT_COLUMNS))
    for j, cls in enumerate(report.classes):
        header = QTableWidgetItem(cls.name)
        header.setToolTip(f"Predicted as {cls.name} (class value {cls.value})")
        table.setHorizontalHeaderItem(j, header)
    for k, (title, tip) in enumerate(STAT_COLUMNS):
        header = QTableWidgetItem(title)
        header.setToolTip(tip)
        table.setHorizontalHeaderItem(n + k, header)
    for i, (cls, score) in enumerate(zip(report.classes, report.per_class)):
        header = QTableWidgetItem(_swatch(cls.colour), cls.name)
        header.setToolTip(f"{cls.name} (class value {cls.value}): reference pixels")
        table.setVerticalHeaderItem(i, header)
        row = matrix[i]
        for j, count in enumerate(row):
            item = _item(str(count), bold=i == j)
            if i == j:
                item.setBackground(QBrush(DIAGONAL))
            table.setItem(i, j, item)
        table.setItem(i, n, _item(str(sum(row))))
        table.setItem(i, n + 1, _item(_pct(score.precision)))
        table.setItem(i, n + 2, _item(_pct(score.recall)))
        table.setItem(i, n + 3, _item(_pct(score.f1), bold=True))
    total = QTableWidgetItem("Total")
    total.setToolTip("Pixels predicted as each class (column sums)")
    table.setVerticalHeaderItem(n, total)
    for j, count in enumerate(_column_sums(matrix, n)):
        table.setItem(n, j, _item(str(count)))
    table.setItem(n, n, _item(str(report.n_pixels)))
    _fit_width(table, report)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.resizeRowsToContents()
    # As tall as its rows (no empty band below them): the loss plot gets the rest.
    frame = 2 * table.frameWidth()
    rows = sum(table.rowHeight(i) for i in range(n + 1))
    scrollbar = table.horizontalScrollBar().sizeHint().height()
    table.setMaximumHeight(table.horizontalHeader().sizeHint().height() + rows + frame + scrollbar)


def _column_sums(matrix: list[list[int]], n: int) -> list[int]:
    return [sum(row[j] for row in matrix) for j in range(n)]


def _columns_width(table: QTableWidget, columns: range) -> int:
    """Width of ``columns`` sized to their contents (what ResizeToContents gives them)."""
    header = table.horizontalHeader()
    return sum(max(table.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in columns)


def _fit_width(table: QTableWidget, report: AccuracyReport) -> None:
    """Compact columns; class values as column headers when the full names do not fit."""
    n = len(report.classes)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    # narrow numbers get narrow columns (the style's default minimum is wider than "12")
    header.setMinimumSectionSize(header.fontMetrics().horizontalAdvance("00") + 8)
    table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    rows = table.verticalHeader()
    # the room inside the frame, less a vertical scroll bar (17+ rows rarely fit in height)
    room = table.width() - 2 * table.frameWidth() - table.verticalScrollBar().sizeHint().width()
    if rows.sizeHint().width() + _columns_width(table, range(table.columnCount())) <= room:
        return
    metrics = rows.fontMetrics()
    # header width beyond its widest text: swatch, margins
    overhead = rows.sizeHint().width() - max(
        metrics.horizontalAdvance(table.verticalHeaderItem(i).text()) for i in range(n + 1)
    )
    for j, cls in enumerate(report.classes):
        table.horizontalHeaderItem(j).setText(str(cls.value))
        table.item(j, j).setFont(table.font())  # the shading marks the diagonal; bold is wider
    spare = room - _columns_width(table, range(n)) - overhead
    # cut the longest row names (elided; full name as tooltip) so every class column shows,
    # but keep about 16 characters: "2: Corn-…" and "3: Corn-…" would read alike
    keep = max(spare, metrics.horizontalAdvance("x" * KEEP_CHARS))
    for i, cls in enumerate(report.classes):
        name = f"{cls.value}: {cls.name}"
        table.verticalHeaderItem(i).setText(
            metrics.elidedText(name, Qt.TextElideMode.ElideRight, keep)
        )


def matrix_caption(table: QTableWidget) -> QLabel | None:
    """The caption saying which way the matrix reads, above ``table`` in its box layout.

    Created on the first call (object name ``matrixCaption``) and found again after.

    Returns:
        The caption label, or None when the table is not in a box layout.
    """
    parent = table.parentWidget()
    if parent is None:
        return None
    label = parent.findChild(QLabel, CAPTION_NAME, Qt.FindChildOption.FindDirectChildrenOnly)
    if label is not None:
        return label
    layout = parent.layout()
    if not isinstance(layout, QBoxLayout) or layout.indexOf(table) < 0:
        return None
    label = QLabel(CAPTION, parent)
    label.setObjectName(CAPTION_NAME)
    label.setWordWrap(True)
    label.setToolTip(
        "Each row holds a class's validation (reference) pixels, each column what the map "
        "calls them; the diagonal is right."
    )
    layout.insertWidget(layout.indexOf(table), label)
    return label


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
