"""The "Explore learning rate" tab: settings to compare, live loss curves and a table of runs.

The learning rates, momentums, epochs and loss threshold to compare, every run's loss curve
drawn live (one colour per learning rate, one line style per momentum, as in explore.png) and
a table of the runs that is also the plot's legend.

Display only: the runs train in :class:`~landcover_mlp.plugin.explore_task.ExploreTask`, which
the dialog starts (one task at a time) with :meth:`ExplorePanel.make_task`.
"""

from __future__ import annotations

import contextlib
import html
import math
from pathlib import Path
from typing import Any

from qgis.PyQt import uic
from qgis.PyQt.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from qgis.PyQt.QtGui import (
    QColor,
    QFontMetrics,
    QIcon,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
)
from qgis.PyQt.QtWidgets import QHeaderView, QSizePolicy, QTableWidgetItem, QWidget

from ..core.config import TrainRequest
from ..core.errors import LandCoverError
from ..core.explore import (
    SETTINGS,
    ExploreConfig,
    epochs_to_threshold,
    explore_config,
    prepare_folder,
)
from ..core.explore_report import COLOURS
from ..plugin.explore_task import ExploreOutcome, ExploreTask
from . import setting_widgets
from .loss_plot import nice_ticks
from .results import file_link

FORM_CLASS, _ = uic.loadUiType(str(Path(__file__).with_name("explore_panel.ui")))

#: The grid's settings shown in the tab; the network, split, seed and device are the training
#: settings of the dialog.
GRID_SETTINGS = SETTINGS[:4]
#: Qt's line style per momentum, in the order of explore.png's ("-", "--", ":", "-.").
PEN_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine,
              Qt.PenStyle.DashDotLine)  # fmt: skip
CURVES = (("train_loss", "Training loss"), ("val_loss", "Validation loss"))
COLUMNS = ("Learning\nrate", "Momentum", "Converged\n(epochs)", "Final training\nloss",
           "Final validation\nloss", "Diverged")  # fmt: skip
Key = tuple[float, float]


def run_pen(config: ExploreConfig, key: Key, width: float = 2.0) -> QPen:
    """The pen of a run: its learning rate's colour, its momentum's line style."""
    i, j = config.learning_rates.index(key[0]), config.momentums.index(key[1])
    return QPen(QColor(COLOURS[i % len(COLOURS)]), width, PEN_STYLES[j % len(PEN_STYLES)])


def _loss_text(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.3f}"


class ExplorePlot(QWidget):
    """Every run's loss per epoch (training or validation), drawn as records arrive.

    Attributes:
        config: the grid being drawn (None: nothing yet).
        records: per run (learning rate, momentum), its records in epoch order.
        key: "train_loss" or "val_loss".
    """

    MARGIN = (52, 14, 22)  # left, top, right; the bottom holds two lines of text

    def __init__(self, parent: QWidget | None = None) -> None:
        """An empty plot (no grid yet) of the training losses."""
        super().__init__(parent)
        self.setObjectName("explorePlot")
        self.config: ExploreConfig | None = None
        self.records: dict[Key, list[dict[str, Any]]] = {}
        self.key = "train_loss"
        self.setMinimumSize(300, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt virtual
        """The preferred size: 560 x 260 px."""
        return QSize(560, 260)

    def start(self, config: ExploreConfig) -> None:
        """Empty curves for a new grid."""
        self.config = config
        self.records = {key: [] for key in config.grid()}
        self.update()

    def add(self, record: dict[str, Any]) -> None:
        """One epoch of one run."""
        self.records.setdefault((record["learning_rate"], record["momentum"]), []).append(record)
        self.update()

    def show_curve(self, key: str) -> None:
        """Draw the training ("train_loss") or validation ("val_loss") losses."""
        self.key = key
        self.update()

    def _points(self, key: Key) -> list[tuple[float, float]]:
        out = []
        for rec in self.records.get(key, []):
            value = rec.get(self.key)
            if value is not None and math.isfinite(value):
                out.append((float(rec["epoch"]), float(value)))
        return out

    def _top(self) -> float:
        """1.3 times the highest first-epoch loss.

        Every run starts near the loss of a uniform guess; a run far above it oscillates or
        diverges and leaves the plot.
        """
        firsts = [points[0][1] for points in map(self._points, self.records) if points]
        return 1.3 * max(firsts) if firsts else 1.0

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt virtual
        """Draw the axes, the loss threshold and every run's curve (x where it diverged)."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.base())
        metrics = QFontMetrics(painter.font())
        left, top, right = self.MARGIN
        bottom = 2 * metrics.height() + 8  # the ticks' labels, then the axis title
        area = QRectF(left, top, max(10, self.width() - left - right),
                      max(10, self.height() - top - bottom))  # fmt: skip
        painter.setPen(palette.text().color())
        if self.config is None:
            painter.drawRect(area)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter,
                             "Every run's loss curve appears here as it trains.")  # fmt: skip
            painter.end()
            return
        y_ticks = nice_ticks(0.0, self._top(), 5)
        y_max = y_ticks[-1] or 1.0
        epochs = max(2, self.config.epochs)

        def to_px(epoch: float, value: float) -> QPointF:
            x = area.left() + (epoch - 1) / (epochs - 1) * area.width()
            return QPointF(x, area.bottom() - min(value, y_max * 1.02) / y_max * area.height())

        grid = QPen(palette.midlight().color(), 1)
        for tick in y_ticks:
            y = to_px(1, tick).y()
            painter.setPen(grid)
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(palette.text().color())
            text = f"{tick:.3g}"
            painter.drawText(QPointF(area.left() - 6 - metrics.horizontalAdvance(text),
                                     y + metrics.ascent() / 2 - 1), text)  # fmt: skip
        for tick in [t for t in nice_ticks(0, epochs, 6) if 1 <= t <= epochs]:
            x = to_px(tick, 0).x()
            text = str(int(tick))
            painter.drawText(QPointF(x - metrics.horizontalAdvance(text) / 2,
                                     area.bottom() + 4 + metrics.ascent()), text)  # fmt: skip
        painter.drawRect(area)
        title = f"epoch (one full-batch step); {dict(CURVES)[self.key].lower()}"
        painter.drawText(QPointF(area.center().x() - metrics.horizontalAdvance(title) / 2,
                                 self.height() - metrics.descent() - 2), title)  # fmt: skip
        if self.key == "train_loss":
            painter.setPen(QPen(palette.text().color(), 1, Qt.PenStyle.DashLine))
            y = to_px(1, self.config.loss_threshold).y()
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
        painter.setClipRect(area)
        for key in self.records:
            points = self._points(key)
            if not points:
                continue
            path = QPainterPath(to_px(*points[0]))
            for epoch, value in points[1:]:
                path.lineTo(to_px(epoch, value))
            painter.setPen(run_pen(self.config, key))
            painter.drawPath(path)
            if any(r.get("diverged") for r in self.records[key]):
                end = to_px(*points[-1])
                painter.drawLine(end + QPointF(-4, -4), end + QPointF(4, 4))
                painter.drawLine(end + QPointF(-4, 4), end + QPointF(4, -4))
        painter.end()


class ExplorePanel(QWidget, FORM_CLASS):
    """The grid's settings, the live curves and the table of runs.

    Attributes:
        widgets: setting name -> widget of the grid's settings.
        plot: the live curves.
        config: the grid of the running or last exploration.
        outcome: the last finished exploration (None while one runs or before).
        error: the sentence of the last failure ("" when none).

    Signals:
        finished(bool): an exploration ended (True on success), after the table shows it.
    """

    finished = pyqtSignal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        """The tab's widgets, the grid's settings at their defaults and an empty plot."""
        super().__init__(parent)
        self.setupUi(self)
        self.widgets = setting_widgets.place(self, self.gridForm, GRID_SETTINGS)
        self.plot = ExplorePlot(self)
        self.plotLayout.addWidget(self.plot)
        for key, label in CURVES:
            self.curveCombo.addItem(label, key)
        self.curveCombo.currentIndexChanged.connect(
            lambda _: self.plot.show_curve(self.curveCombo.currentData())
        )
        table = self.runTable
        table.setColumnCount(len(COLUMNS))
        table.setHorizontalHeaderLabels(COLUMNS)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setStretchLastSection(True)
        self.config: ExploreConfig | None = None
        self.outcome: ExploreOutcome | None = None
        self.error = ""
        self._rows: dict[Key, int] = {}
        self._folder: Path | None = None
        self.exploreButton.setToolTip(self.gridGroup.toolTip())
        for name in ("learning_rates", "momentums"):
            self.widgets[name].textChanged.connect(self.update_plan)
        self.widgets["epochs"].valueChanged.connect(self.update_plan)
        self.update_plan()

    def values(self) -> dict[str, Any]:
        """Setting name -> value of the grid's widgets."""
        return setting_widgets.values_of(self.widgets, {s.name: s for s in GRID_SETTINGS})

    def update_plan(self, *_: Any) -> None:
        """Say how many runs the grid gives, or what is wrong with it."""
        try:
            config = explore_config(self.values())
        except LandCoverError as exc:
            self.planLabel.setText(f"<span style='color:#b00020'>{html.escape(str(exc))}</span>")
            return
        runs = len(config.grid())
        self.planLabel.setText(f"{runs} runs × {config.epochs} epochs, one network each.")

    def make_task(self, request: TrainRequest, folder: Path) -> ExploreTask:
        """A task for the grid of the widgets on ``request``'s pixels and network.

        It writes into ``folder`` (created now); the curves and the table follow it live.

        Raises:
            LandCoverError: a value of the grid the core refuses, or a folder that cannot be
                written.
        """
        config = explore_config(self.values())
        prepare_folder(folder)
        self._folder = Path(folder)
        task = ExploreTask(request, config, folder)
        task.epoch_ended.connect(self.add_epoch)
        task.succeeded.connect(self._succeeded)
        task.failed.connect(self._failed)
        self.start(config)
        return task

    def start(self, config: ExploreConfig) -> None:
        """A new grid: one waiting row per run, empty curves."""
        self.config, self.outcome, self.error = config, None, ""
        self.plot.start(config)
        self._rows = {key: i for i, key in enumerate(config.grid())}
        self.runTable.setRowCount(len(self._rows))
        for key, i in self._rows.items():
            self._set_row(i, key, [], False)
        self.summaryLabel.setText("Training: each run's curve grows as it trains.")
        self.filesLabel.setText("")

    def _set_row(self, i: int, key: Key, history: list[dict[str, Any]], diverged: bool) -> None:
        assert self.config is not None
        epochs = epochs_to_threshold(history, self.config.loss_threshold) if history else None
        last = history[-1] if history else {}
        finite = [r for r in history if math.isfinite(r.get("train_loss", math.nan))]
        final = finite[-1] if finite else {}
        cells = [
            f"{key[0]:g}", f"{key[1]:g}",
            "–" if not history or diverged else (str(epochs) if epochs else f"> {last['epoch']}"),
            *(("–", "–") if diverged else  # its last finite losses are astronomic
              (_loss_text(final.get("train_loss")), _loss_text(final.get("val_loss")))),
            f"yes, at epoch {last['epoch']}" if diverged else "no",
        ]  # fmt: skip
        pixmap = QPixmap(28, 12)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setPen(run_pen(self.config, key))
        painter.drawLine(1, 6, 27, 6)
        painter.end()
        for j, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if j == 0:
                item.setIcon(QIcon(pixmap))  # the table is the plot's legend
            self.runTable.setItem(i, j, item)

    def add_epoch(self, record: dict[str, Any]) -> None:
        """One epoch of one run (live): its curve and its row."""
        self.plot.add(record)
        key = (record["learning_rate"], record["momentum"])
        if key in self._rows:
            self._set_row(self._rows[key], key, self.plot.records[key], bool(record["diverged"]))

    def _succeeded(self, outcome: ExploreOutcome) -> None:
        self.outcome = outcome
        result = outcome.result
        for run in result.runs:
            key = (run.learning_rate, run.momentum)
            self._set_row(self._rows[key], key, list(run.history), run.diverged)
        converged = sum(r.epochs_to_threshold is not None for r in result.runs)
        diverged = sum(r.diverged for r in result.runs)
        threshold = result.config.loss_threshold
        self.summaryLabel.setText(
            f"{len(result.runs)} runs on {result.n_train} training pixels (network "
            f"{html.escape(result.network)}): {converged} converged (training loss at most "
            f"{threshold:g} to the end), {diverged} diverged. Validation loss: "
            f"{result.n_validation} pixels of held-out polygons."
        )
        links = [file_link(outcome.outputs.png, "figure"), file_link(outcome.outputs.csv, "table")]
        self.filesLabel.setText("Files: " + " &middot; ".join(x for x in links if x))
        self.finished.emit(True)

    def _failed(self, message: str) -> None:
        self.error = message
        if self._folder is not None:
            with contextlib.suppress(OSError):
                self._folder.rmdir()  # the run's folder, when nothing was written into it
        self.summaryLabel.setText(html.escape(message))
        self.finished.emit(False)

    def status_text(self, cancelled: bool = False) -> str:
        """A short line for the dialog's status bar about the last exploration."""
        if self.outcome is not None:
            return f"Done: {len(self.outcome.result.runs)} runs."
        return "Cancelled." if cancelled else "Failed."

    def set_running(self, running: bool, can_start: bool = True) -> None:
        """Lock the grid while any task runs."""
        self.gridGroup.setEnabled(not running)
        self.exploreButton.setEnabled(can_start and not running)
