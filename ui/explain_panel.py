"""The "Decision regions..." panel of a trained model.

Choose two of its bands, draw in the background what the model and a perceptron decide on
their plane (core/explain.py), show the figure.

The raster, polygons and class field are those the model was trained on (its header); the
work runs in :class:`~landcover_mlp.plugin.explore_task.ExplainTask`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from qgis.core import QgsApplication
from qgis.gui import QgsFileWidget
from qgis.PyQt import uic
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QCloseEvent, QPixmap, QResizeEvent
from qgis.PyQt.QtWidgets import QDialog, QWidget

from ..core.errors import LandCoverError
from ..core.explain import ExplainResult, parse_plot_bands
from ..core.fileio import check_writable
from ..core.model_io import LandCoverModel
from ..plugin.explore_task import ExplainTask

FORM_CLASS, _ = uic.loadUiType(str(Path(__file__).with_name("explain_panel.ui")))


class ExplainPanel(QDialog, FORM_CLASS):
    """Decision regions of one model.

    Attributes:
        model: the model explained.
        task: the running task, or None (kept referenced while it runs).
        result: the last drawing (None before).

    Signals:
        finished_drawing(bool): a drawing ended (True when the figure is shown).
    """

    finished_drawing = pyqtSignal(bool)

    def __init__(
        self, model: LandCoverModel, model_path: Path | None, parent: QWidget | None = None
    ) -> None:
        """The panel of ``model``; the figure's file is named after ``model_path`` when given."""
        super().__init__(parent)
        self.setupUi(self)
        self.model = model
        self.task: ExplainTask | None = None
        self.result: ExplainResult | None = None
        self._pixmap: QPixmap | None = None
        for combo in (self.xBandCombo, self.yBandCombo):
            for band, name in zip(model.bands, model.band_names):
                combo.addItem(f"{band}: {name}" if name else str(band), band)
        self.yBandCombo.setCurrentIndex(min(1, self.yBandCombo.count() - 1))
        widget = self.outputWidget
        widget.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        widget.setConfirmOverwrite(True)
        widget.setFilter("PNG image (*.png)")
        if model_path is not None:
            widget.setFilePath(
                str(Path(model_path).with_name(f"{Path(model_path).stem}_regions.png"))
            )
        self.drawButton.clicked.connect(self.draw)

    def inputs(self) -> tuple[str, str, str, str | None]:
        """Raster, polygons, class field and layer the model was trained on.

        Raises:
            LandCoverError: the model's header does not name them (an older model file).
        """
        info = self.model.info
        raster, polygons, field = info.get("raster"), info.get("polygons"), info.get("class_field")
        if not (raster and polygons and field):
            raise LandCoverError(
                "The model does not name the raster and polygons it was trained on: draw its "
                "decision regions with Processing's 'Decision regions of a model'."
            )
        return str(raster), str(polygons), str(field), info.get("polygons_layer")

    def draw(self) -> None:
        """Check the choices, then draw in the background."""
        if self.task is not None:
            return
        try:
            bands = parse_plot_bands([self.xBandCombo.currentData(), self.yBandCombo.currentData()])
            text = self.outputWidget.filePath().strip()
            if not text:
                raise LandCoverError("Choose the PNG file to write.")
            output = Path(text if text.lower().endswith(".png") else text + ".png")
            check_writable(output)
            raster, polygons, field, layer = self.inputs()
        except LandCoverError as exc:
            self.statusLabel.setText(f"<span style='color:#b00020'>{html.escape(str(exc))}</span>")
            return
        task = ExplainTask(self.model, raster, polygons, field, bands, output, layer)
        task.progressChanged.connect(lambda value: self.progressBar.setValue(int(value)))
        task.log_message.connect(self.statusLabel.setText)
        task.succeeded.connect(self._succeeded)
        task.failed.connect(self._failed)
        self.task = task
        self.drawButton.setEnabled(False)
        self.progressBar.setValue(0)
        self.statusLabel.setText("Drawing...")
        QgsApplication.taskManager().addTask(task)

    def _succeeded(self, result: ExplainResult) -> None:
        self.task, self.result = None, result
        self.drawButton.setEnabled(True)
        self.progressBar.setValue(100)
        self._pixmap = QPixmap(str(result.path))
        self._show_pixmap()
        self.statusLabel.setText(
            f"Training pixels classified right (all bands): perceptron "
            f"{result.perceptron_accuracy:.1%}, the model {result.mlp_accuracy:.1%}. "
            f"Figure: {html.escape(str(result.path))}"
        )
        self.finished_drawing.emit(True)

    def _failed(self, message: str) -> None:
        self.task = None
        self.drawButton.setEnabled(True)
        self.progressBar.setValue(0)
        self.statusLabel.setText(html.escape(message))
        self.finished_drawing.emit(False)

    def _show_pixmap(self) -> None:
        if self._pixmap is None or self._pixmap.isNull():
            return
        self.imageLabel.setPixmap(self._pixmap.scaled(
            self.imageLabel.size(), Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))  # fmt: skip

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt virtual
        """Scale the figure to the new size."""
        super().resizeEvent(event)
        self._show_pixmap()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt virtual
        """Closing cancels a drawing that goes on (nothing is written then)."""
        if self.task is not None:
            self.task.cancel()
        super().closeEvent(event)

    def shutdown(self, *_: Any) -> None:
        """Cancel a running drawing and wait briefly for it (the dialog closes for good)."""
        task, self.task = self.task, None
        if task is not None:
            try:
                task.cancel()
                task.waitForFinished(5000)
            except RuntimeError:  # already deleted by the task manager
                pass
