"""The dialog's results table: confusion matrix (rows = reference) with a totals row, per-class
precision (user's accuracy), recall (producer's accuracy) and F1, its caption, and a 16-class
matrix (Indian Pines) that stays readable at the dialog's default size (issue 13 item 8)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtWidgets import QLabel, QTableWidget

from landcover_mlp.core.accuracy import AccuracyReport, report_from_matrix
from landcover_mlp.core.classes import ClassInfo
from landcover_mlp.ui import results, settings
from landcover_mlp.ui.dialog import LandCoverDialog

pytestmark = pytest.mark.qgis_tier

CAPTION = "Rows = reference (validation pixels), columns = predicted"
# Indian Pines reference classes and labelled pixels (../shared/data/indian_pines/PROVENANCE.md)
INDIAN_PINES = {
    "Alfalfa": 46,
    "Corn-notill": 1428,
    "Corn-mintill": 830,
    "Corn": 237,
    "Grass-pasture": 483,
    "Grass-trees": 730,
    "Grass-pasture-mowed": 28,
    "Hay-windrowed": 478,
    "Oats": 20,
    "Soybean-notill": 972,
    "Soybean-mintill": 2455,
    "Soybean-clean": 593,
    "Wheat": 205,
    "Woods": 1265,
    "Buildings-Grass-Trees-Drives": 386,
    "Stone-Steel-Towers": 93,
}
# Class columns fully visible for 16 Indian Pines classes in the dialog at its default size
# (1240 x 840) with the test run's font (offscreen: DejaVu 12 pt): 12 (4 before issue 13; all 16
# at 9 pt). One column of margin.
MIN_VISIBLE_CLASS_COLUMNS = 11

# reference rows, predicted columns; deliberately asymmetric. water is predicted (twice) but
# never right, wetland is never predicted, snow has no reference pixel.
CLASSES = (
    ClassInfo(1, "forest", "#1b7837"),
    ClassInfo(2, "water", "#2166ac"),
    ClassInfo(3, "urban", "#b2182b"),
    ClassInfo(4, "wetland", "#80cdc1"),
    ClassInfo(5, "snow", "#f7f7f7"),
)
MATRIX = [
    [8, 2, 0, 0, 0],
    [3, 0, 1, 0, 0],
    [0, 0, 5, 0, 0],
    [2, 0, 0, 0, 0],
    [0, 0, 0, 0, 0],
]


@pytest.fixture(autouse=True)
def own_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings under a group of their own, so a user's remembered values never leak in."""
    monkeypatch.setattr(settings, "PREFIX", "landcover_mlp_tests")
    settings.clear()
    yield
    settings.clear()


@pytest.fixture
def dialog(qgis_iface: Any, qgis_new_project: None) -> Iterator[LandCoverDialog]:
    """The real dialog, shown at its default size (offscreen)."""
    dlg = LandCoverDialog(qgis_iface)
    dlg.show()
    yield dlg
    dlg.shutdown()
    dlg.hide()
    dlg.deleteLater()


def column(table: QTableWidget, title: str) -> list[str]:
    """The texts of the class rows in the column headed ``title``."""
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    c = headers.index(title)
    return [table.item(r, c).text() for r in range(table.rowCount() - 1)]


def header_tip(table: QTableWidget, title: str) -> str:
    for c in range(table.columnCount()):
        if table.horizontalHeaderItem(c).text() == title:
            return table.horizontalHeaderItem(c).toolTip()
    raise AssertionError(f"no column {title!r}")


def shown(dialog: LandCoverDialog, report: AccuracyReport) -> QTableWidget:
    """The dialog's table filled with ``report`` and laid out."""
    table = dialog.resultTable
    results.fill_table(table, report)
    QCoreApplication.processEvents()  # the layout settles (caption inserted, columns sized)
    return table


def indian_pines_report() -> AccuracyReport:
    """A 16-class validation matrix: 30 % of each class's pixels, 80 % of them right."""
    rng = np.random.default_rng(0)
    n = len(INDIAN_PINES)
    classes = [
        ClassInfo(i + 1, name, f"#{rng.integers(0, 0xFFFFFF):06x}")
        for i, name in enumerate(INDIAN_PINES)
    ]
    wrong = 0.2 / (n - 1)
    matrix = np.array(
        [
            rng.multinomial(int(0.3 * px), np.full(n, wrong) + np.eye(n)[i] * (0.8 - wrong))
            for i, px in enumerate(INDIAN_PINES.values())
        ]
    )
    return report_from_matrix(matrix, classes)


def fully_visible(table: QTableWidget, columns: range) -> list[int]:
    width = table.viewport().width()
    return [
        c
        for c in columns
        if table.columnViewportPosition(c) >= 0
        and table.columnViewportPosition(c) + table.columnWidth(c) <= width
    ]


def test_precision_recall_and_f1_are_the_reports_and_zero_reads_zero() -> None:
    report = report_from_matrix(MATRIX, CLASSES)
    table = QTableWidget()
    results.fill_table(table, report)

    def pct(value: float) -> str:
        return f"{100 * value:.1f} %"

    forest, water, urban, wetland, snow = report.per_class
    assert column(table, "Precision") == [
        pct(forest.precision),  # 8 of the 13 pixels mapped as forest
        "0.0 %",  # mapped as water twice, never right
        pct(urban.precision),
        "–",  # never mapped as wetland: undefined
        "–",
    ]
    assert column(table, "Recall") == [pct(forest.recall), "0.0 %", "100.0 %", "0.0 %", "–"]
    assert column(table, "F1") == [pct(forest.f1), "0.0 %", pct(urban.f1), "0.0 %", "–"]
    assert column(table, "Precision")[0] == "61.5 %" and column(table, "Recall")[0] == "80.0 %"
    assert "user's accuracy" in header_tip(table, "Precision")
    assert "producer's accuracy" in header_tip(table, "Recall")


def test_rows_are_the_reference_with_a_totals_row_of_column_sums(
    dialog: LandCoverDialog,
) -> None:
    report = report_from_matrix(MATRIX, CLASSES)
    table = shown(dialog, report)
    n = len(CLASSES)

    assert table.rowCount() == n + 1 and table.verticalHeaderItem(n).text() == "Total"
    # orientation: row "water" holds the 3 water pixels mapped as forest, not the 2 forest
    # pixels mapped as water
    water = [c.name for c in CLASSES].index("water")
    assert table.verticalHeaderItem(water).toolTip().startswith("water")
    assert [table.item(water, j).text() for j in range(n)] == ["3", "0", "1", "0", "0"]
    assert [table.item(n, j).text() for j in range(n)] == ["13", "2", "6", "0", "0"]
    assert column(table, "Total") == ["10", "4", "5", "2", "0"]  # reference pixels: row sums
    assert table.item(n, n).text() == "21"

    captions = dialog.findChildren(QLabel, "matrixCaption")
    assert len(captions) == 1
    caption = captions[0]
    assert caption.text() == CAPTION and caption.isVisible()
    assert caption.geometry().bottom() < table.geometry().top()  # above the table
    results.fill_table(table, report)  # a second run reuses the caption
    assert dialog.findChildren(QLabel, "matrixCaption") == [caption]
    results.fill_table(table, None)
    assert not caption.isVisible() and not table.isVisible()


def test_small_matrices_keep_class_names_as_column_headers(dialog: LandCoverDialog) -> None:
    three = report_from_matrix([[50, 2, 1], [0, 20, 0], [3, 1, 30]], CLASSES[:3])
    table = shown(dialog, three)
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["forest", "water", "urban", "Total", "Precision", "Recall", "F1"]
    assert [table.verticalHeaderItem(r).text() for r in range(4)] == [
        "forest",
        "water",
        "urban",
        "Total",
    ]
    assert fully_visible(table, range(7)) == list(range(7))
    assert all(table.item(i, i).font().bold() for i in range(3))
    assert table.horizontalScrollBar().maximum() == 0


def test_a_16_class_matrix_shows_most_class_columns_and_scrolls_to_the_rest(
    dialog: LandCoverDialog,
) -> None:
    report = indian_pines_report()
    n = len(report.classes)
    table = shown(dialog, report)

    visible = fully_visible(table, range(n))
    assert len(visible) >= MIN_VISIBLE_CLASS_COLUMNS, visible
    assert table.verticalHeader().width() < table.viewport().width()
    # short headers: the class value, the name as tooltip; rows "value: name" (maybe cut)
    assert [table.horizontalHeaderItem(j).text() for j in range(n)] == [
        str(c.value) for c in report.classes
    ]
    assert [table.horizontalHeaderItem(j).toolTip() for j in range(n)] == [
        f"Predicted as {c.name} (class value {c.value})" for c in report.classes
    ]
    for i, cls in enumerate(report.classes):
        text, full = table.verticalHeaderItem(i).text(), f"{cls.value}: {cls.name}"
        assert (
            text == full
            or (  # cut, but never below 14 characters
                text.endswith("…") and full.startswith(text[:-1]) and len(text) >= 14
            )
        )
        assert table.verticalHeaderItem(i).toolTip().startswith(cls.name)
    assert table.verticalHeaderItem(1).text() == "2: Corn-notill"  # not cut to "2: Corn-…"
    # compact columns: as wide as their widest text (value header or count) plus the cell
    # padding, never the style's wider minimum; the diagonal marked by shading, not bold
    metrics = table.fontMetrics()
    for j in range(n):
        texts = [table.horizontalHeaderItem(j).text()]
        texts += [table.item(i, j).text() for i in range(n + 1)]
        assert table.columnWidth(j) <= max(map(metrics.horizontalAdvance, texts)) + 12, j
    assert table.item(0, 0).background().color() == results.DIAGONAL
    assert not any(table.item(i, i).font().bold() for i in range(n))
    # what does not fit scrolls: the scroll bar reaches the last column (F1)
    bar = table.horizontalScrollBar()
    content = sum(table.columnWidth(c) for c in range(table.columnCount()))
    assert bar.maximum() == content - table.viewport().width() > 0
