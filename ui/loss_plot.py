"""A small live plot of the loss curves painted with QPainter (no plotting library needed).

Training and validation loss share the left axis; validation accuracy (0-100 %) uses the right
axis. For an ensemble, the training loss is the mean of its networks' losses and the validation
curves are the ensemble's (probabilities averaged); the network distilled from the ensemble
(the saved kind) has orange curves. When polygons were held out, a second run trains the saved
model on all polygons: its curves are grey. Points arrive one epoch at a time through
:meth:`LossPlot.add_epoch`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from qgis.PyQt.QtCore import QPointF, QRectF, QSize, Qt
from qgis.PyQt.QtGui import QColor, QFontMetrics, QPainter, QPainterPath, QPaintEvent, QPen
from qgis.PyQt.QtWidgets import QSizePolicy, QWidget

# Same colours as the PNG written by core.reports.plot_loss_curves.
TRAIN_COLOUR = QColor("#1f77b4")
FINAL_COLOUR = QColor("#7f7f7f")
VAL_COLOUR = QColor("#d62728")
ACC_COLOUR = QColor("#2ca02c")
DISTILL_COLOUR = QColor("#ff7f0e")
SERIES = (
    ("train_loss", "training loss", TRAIN_COLOUR, Qt.PenStyle.SolidLine),
    ("final_train_loss", "saved model (all polygons)", FINAL_COLOUR, Qt.PenStyle.SolidLine),
    ("val_loss", "validation loss", VAL_COLOUR, Qt.PenStyle.SolidLine),
    ("val_accuracy", "validation accuracy", ACC_COLOUR, Qt.PenStyle.DashLine),
    ("distill_loss", "distilled: distillation loss", DISTILL_COLOUR, Qt.PenStyle.DotLine),
    ("distill_val_loss", "distilled: validation loss", DISTILL_COLOUR, Qt.PenStyle.SolidLine),
    ("distill_val_accuracy", "distilled: validation accuracy", DISTILL_COLOUR,
     Qt.PenStyle.DashLine),
    ("final_distill_loss", "saved model (distilled), all polygons", FINAL_COLOUR,
     Qt.PenStyle.DotLine),
)  # fmt: skip
#: Labels when an ensemble was distilled: its own curves are then not the saved model's.
DISTILLED_LABELS = {
    "train_loss": "ensemble: training loss",
    "val_loss": "ensemble: validation loss",
    "val_accuracy": "ensemble: validation accuracy",
    "final_train_loss": "ensemble: training loss, all polygons",
}
#: Series on the right axis (0-100 %); the others share the loss axis.
ACCURACY_KEYS = ("val_accuracy", "distill_val_accuracy")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering ``low``-``high``."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step  # the top tick covers the highest value
    return [round(first + i * step, 12) for i in range(int(round((last - first) / step)) + 1)]


ToPixel = Callable[[float, float, float], QPointF]
"""(epoch, value, axis top) -> widget coordinates."""


def _label(value: float) -> str:
    return f"{value:.3g}"


class LossPlot(QWidget):
    """Loss per epoch (left axis) and validation accuracy (right axis), with a legend.

    Attributes:
        records: the history records received so far, in epoch order.
        best_epoch: epoch marked with a vertical line (None = no mark).
    """

    MARGIN_LEFT = 56
    MARGIN_RIGHT = 50
    MARGIN_TOP = 30
    MARGIN_BOTTOM = 40

    def __init__(self, parent: QWidget | None = None) -> None:
        """An empty plot, its tooltip explaining the curves."""
        super().__init__(parent)
        self.records: list[dict[str, Any]] = []
        self.best_epoch: int | None = None
        self.setObjectName("lossPlot")
        self.setToolTip(
            "Training loss: the mean of the ensemble's networks. Validation loss and accuracy: "
            "the ensemble (class probabilities averaged), on the held-out polygons. Distilled "
            "(orange): the one network that learns the ensemble's probabilities, the kind of "
            "model that is saved and scored. Saved model (grey): the second run, on all "
            "training polygons, which is the model saved."
        )
        self.setMinimumSize(320, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt virtual
        """The preferred size: 560 x 300 px."""
        return QSize(560, 300)

    def add_epoch(self, record: dict[str, Any]) -> None:
        """Append one epoch's record (keys epoch, train_loss, val_loss, val_accuracy)."""
        self.records.append(dict(record))
        self.update()

    def set_history(self, history: Sequence[dict[str, Any]]) -> None:
        """Replace all points (e.g. to show a finished model's history)."""
        self.records = [dict(r) for r in history]
        self.update()

    def mark_epoch(self, epoch: int | None) -> None:
        """Draw a dotted vertical line at ``epoch`` (the best epoch), or remove it."""
        self.best_epoch = epoch
        self.update()

    def clear(self) -> None:
        """Remove all points and the mark."""
        self.records = []
        self.best_epoch = None
        self.update()

    # -- painting --------------------------------------------------------------------------
    def _values(self, key: str) -> list[tuple[float, float]]:
        out = []
        for rec in self.records:
            value = rec.get(key)
            if value is not None and math.isfinite(float(value)):
                out.append((float(rec["epoch"]), float(value)))
        return out

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt virtual
        """Draw the legend, the axes, the best epoch's mark and every curve recorded so far."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.base())
        legend = self._legend_rows(painter)
        top = self.MARGIN_TOP + (len(legend) - 1) * QFontMetrics(painter.font()).height()
        area = QRectF(
            self.MARGIN_LEFT,
            top,
            max(10, self.width() - self.MARGIN_LEFT - self.MARGIN_RIGHT),
            max(10, self.height() - top - self.MARGIN_BOTTOM),
        )
        text_colour = palette.text().color()
        if not self.records:
            painter.setPen(palette.mid().color())
            painter.drawRect(area)
            painter.setPen(text_colour)
            painter.drawText(
                area, Qt.AlignmentFlag.AlignCenter, "The loss curves appear here during training."
            )
            painter.end()
            return
        losses = [
            v for key, _, _, _ in SERIES if key not in ACCURACY_KEYS for _, v in self._values(key)
        ]
        loss_ticks = nice_ticks(0.0, max(max(losses, default=1.0), 1e-6) * 1.05)
        y_max = loss_ticks[-1] if loss_ticks[-1] > 0 else 1.0
        last_epoch = max(int(r["epoch"]) for r in self.records)
        x_ticks = [t for t in nice_ticks(0, max(last_epoch, 5), 6) if t >= 1] or [1.0]
        x_lo, x_hi = 1.0, max(float(last_epoch), x_ticks[-1], 2.0)

        def to_px(epoch: float, value: float, top: float) -> QPointF:
            x = area.left() + (epoch - x_lo) / (x_hi - x_lo) * area.width()
            y = area.bottom() - value / top * area.height()
            return QPointF(x, y)

        self._draw_axes(painter, area, loss_ticks, x_ticks, y_max, to_px)
        has_acc = any(self._values(key) for key in ACCURACY_KEYS)
        if has_acc:
            self._draw_right_axis(painter, area, to_px)
        if self.best_epoch:
            pen = QPen(palette.mid().color(), 1, Qt.PenStyle.DotLine)
            painter.setPen(pen)
            x = to_px(self.best_epoch, 0, 1).x()
            painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
        painter.setClipRect(area.adjusted(-2, -2, 2, 2))
        for key, _, colour, style in SERIES:
            points = self._values(key)
            if not points:
                continue
            top = 1.0 if key in ACCURACY_KEYS else y_max
            path = QPainterPath(to_px(*points[0], top))
            for epoch, value in points[1:]:
                path.lineTo(to_px(epoch, value, top))
            painter.setPen(QPen(colour, 2, style))
            painter.drawPath(path)
            if len(points) == 1:
                painter.drawEllipse(to_px(*points[0], top), 2.5, 2.5)
        painter.setClipping(False)
        self._draw_legend(painter, legend)
        painter.end()

    def _draw_axes(
        self,
        painter: QPainter,
        area: QRectF,
        loss_ticks: list[float],
        x_ticks: list[float],
        y_max: float,
        to_px: ToPixel,
    ) -> None:
        palette = self.palette()
        metrics = QFontMetrics(painter.font())
        grid = QPen(palette.midlight().color(), 1, Qt.PenStyle.SolidLine)
        axis = QPen(palette.text().color(), 1)
        for tick in loss_ticks:
            y = to_px(1.0, tick, y_max).y()
            painter.setPen(grid)
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(axis)
            painter.drawLine(QPointF(area.left() - 4, y), QPointF(area.left(), y))
            text = _label(tick)
            w = metrics.horizontalAdvance(text)
            painter.drawText(QPointF(area.left() - 7 - w, y + metrics.ascent() / 2 - 1), text)
        for tick in x_ticks:
            x = to_px(tick, 0, 1).x()
            painter.setPen(axis)
            painter.drawLine(QPointF(x, area.bottom()), QPointF(x, area.bottom() + 4))
            text = str(int(tick))
            w = metrics.horizontalAdvance(text)
            painter.drawText(QPointF(x - w / 2, area.bottom() + 6 + metrics.ascent()), text)
        painter.setPen(axis)
        painter.drawRect(area)
        title = f"epoch ({self._status()})"
        w = metrics.horizontalAdvance(title)
        painter.drawText(
            QPointF(area.center().x() - w / 2, self.height() - metrics.descent() - 3), title
        )
        painter.save()
        painter.translate(metrics.height() - 2, area.center().y())
        painter.rotate(-90)
        title = "cross-entropy loss"
        painter.drawText(QPointF(-metrics.horizontalAdvance(title) / 2, 0), title)
        painter.restore()

    def _draw_right_axis(self, painter: QPainter, area: QRectF, to_px: ToPixel) -> None:
        metrics = QFontMetrics(painter.font())
        painter.setPen(QPen(ACC_COLOUR.darker(130), 1))
        for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
            y = to_px(1.0, tick, 1.0).y()
            painter.drawLine(QPointF(area.right(), y), QPointF(area.right() + 4, y))
            painter.drawText(QPointF(area.right() + 7, y + metrics.ascent() / 2 - 1), f"{tick:.0%}")

    def _status(self) -> str:
        """Where training is, with the best epoch if marked.

        E.g. "now: 12", "distilled: 12", "saved model: 20".
        """
        last = self.records[-1]
        run = "now"
        if "train_loss" not in last and "distill_loss" not in last:
            run = "saved model" if any(k.startswith("final_") for k in last) else run
        elif "distill_loss" in last and "train_loss" not in last:
            run = "distilled"
        text = f"{run}: {int(last['epoch'])}"
        if self.best_epoch:
            text += f", best {self.best_epoch}"
        return text

    def _legend_rows(self, painter: QPainter) -> list[list[tuple[str, QColor, Any, float]]]:
        """The legend's entries (label, colour, pen style, x), in rows that fit the widget.

        The entries are wrapped into rows that fit the widget's width.
        """
        metrics = QFontMetrics(painter.font())
        rows: list[list[tuple[str, QColor, Any, float]]] = [[]]
        x = float(self.MARGIN_LEFT)
        distilled = any("distill_loss" in r or "final_distill_loss" in r for r in self.records)
        for key, label, colour, style in SERIES:
            if not self._values(key):
                continue
            if distilled:
                label = DISTILLED_LABELS.get(key, label)
            width = 27 + metrics.horizontalAdvance(label) + 16
            if rows[-1] and x + width > self.width() - 4:
                rows.append([])
                x = float(self.MARGIN_LEFT)
            rows[-1].append((label, colour, style, x))
            x += width
        return rows

    def _draw_legend(self, painter: QPainter,
                     rows: list[list[tuple[str, QColor, Any, float]]]) -> None:  # fmt: skip
        metrics = QFontMetrics(painter.font())
        y = self.MARGIN_TOP - 10
        for row in rows:
            for label, colour, style, x in row:
                painter.setPen(QPen(colour, 2, style))
                painter.drawLine(
                    QPointF(x, y - metrics.ascent() / 3), QPointF(x + 22, y - metrics.ascent() / 3)
                )
                painter.setPen(self.palette().text().color())
                painter.drawText(QPointF(x + 27, y), label)
            y += metrics.height()
