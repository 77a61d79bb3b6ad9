"""The point-and-click route: choose layers and settings, train and classify in the background,
watch the loss curves, get a styled land-cover map and its accuracy.

The dialog wires widgets to the core's config objects (:mod:`.form`) and shows results; the
work runs in :class:`~landcover_mlp.plugin.tasks.TrainClassifyTask`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsProject
from qgis.PyQt import uic
from qgis.PyQt.QtCore import QTimer, pyqtSignal
from qgis.PyQt.QtGui import QCloseEvent
from qgis.PyQt.QtWidgets import QDialog, QSizePolicy, QWidget

from ..core.errors import LandCoverError
from ..plugin import styling, torch_check
from ..plugin.feedback import LOG_TAG, format_epoch
from ..plugin.tasks import TrainClassifyResult, TrainClassifyTask
from . import results, settings
from .form import TrainingForm
from .loss_plot import LossPlot

FORM_CLASS, _ = uic.loadUiType(str(Path(__file__).with_name("main_dialog.ui")))
WAIT_ON_SHUTDOWN_MS = 5000


class LandCoverDialog(QDialog, FORM_CLASS):
    """Train a land-cover classifier on polygons and classify a raster, in the background.

    Attributes:
        form: the input widgets as a form (builds the core's request).
        task: the running task, or None (kept referenced while it runs).
        result: the last successful run's result.
        loss_plot: live loss curves.

    Signals:
        training_finished(bool): a run ended (True on success); after results are shown.
    """

    training_finished = pyqtSignal(bool)

    def __init__(self, iface: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setupUi(self)
        self.iface = iface
        self.task: TrainClassifyTask | None = None
        self.result: TrainClassifyResult | None = None
        self.loss_plot = LossPlot(self)
        self.lossLayout.addWidget(self.loss_plot)
        self.message_bar = self.messageBar
        self.statusLabel.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.splitter.setSizes([500, 740])
        self.splitter.setStretchFactor(1, 1)
        self.torch_ok = torch_check.torch_available()
        self.form = TrainingForm(self, self.torch_ok)
        settings.restore_form(self.form)
        self._run_name = ""
        self.runButton.clicked.connect(self.run)
        self.cancelButton.clicked.connect(self.cancel)
        self.closeButton.clicked.connect(self.close)
        self._set_running(False)
        if self.torch_ok:
            QTimer.singleShot(0, self.form.update_device_label)  # imports torch: after showing
        else:
            self.form.update_device_label()
            self.message_bar.pushMessage(
                "PyTorch missing", torch_check.missing_torch_message(), Qgis.Warning, 0
            )

    # -- running -----------------------------------------------------------------------------
    def run(self) -> None:
        """Validate, then start training and classification in the background."""
        if self.task is not None or not self.torch_ok:
            return
        self.message_bar.clearWidgets()
        problems = self.form.input_problems()
        if problems:
            self.message_bar.pushMessage("Check the inputs", " ".join(problems), Qgis.Warning, 0)
            return
        self.form.new_run()
        try:
            request = self.form.build_request()
            outputs = self.form.output_paths()
        except LandCoverError as exc:
            self.message_bar.pushMessage("Check the inputs", str(exc), Qgis.Warning, 0)
            return
        colours = styling.colours_from_symbology(
            self.polygonCombo.currentLayer(), request.sampling.class_field
        )
        settings.save_form(self.form)
        task = TrainClassifyTask(request, outputs, request.training.device, colours)
        task.epoch_ended.connect(self.loss_plot.add_epoch)
        task.epoch_ended.connect(self._show_epoch)
        task.progressChanged.connect(self._show_progress)
        task.log_message.connect(self.statusLabel.setText)
        task.succeeded.connect(self._on_succeeded)
        task.failed.connect(self._on_failed)
        self.task = task
        self.result = None
        self._run_name = self.rasterCombo.currentLayer().name()
        self.loss_plot.clear()
        results.clear_result(self.summaryLabel, self.resultTable, self.outputsLabel)
        self.progressBar.setValue(0)
        self.statusLabel.setText("Starting...")
        self._set_running(True)
        QgsApplication.taskManager().addTask(task)

    def cancel(self) -> None:
        """Ask the running task to stop; it reports back through ``failed``."""
        if self.task is not None:
            self.statusLabel.setText("Cancelling...")
            self.cancelButton.setEnabled(False)
            self.task.cancel()

    def _set_running(self, running: bool) -> None:
        self.inputPanel.setEnabled(not running)
        self.runButton.setEnabled(self.torch_ok and not running)
        self.cancelButton.setEnabled(running)

    def _show_progress(self, value: float) -> None:
        self.progressBar.setValue(int(value))

    def _show_epoch(self, record: dict[str, Any]) -> None:
        self.statusLabel.setText(format_epoch(record))

    def _on_succeeded(self, result: TrainClassifyResult) -> None:
        self.task = None
        self.result = result
        self._set_running(False)
        self.progressBar.setValue(100)
        self.loss_plot.mark_epoch(result.model.info.get("best_epoch"))
        results.show_result(self.summaryLabel, self.resultTable, self.outputsLabel, result)
        self._add_layers(result)
        pixels = result.prediction.valid_pixels
        self.statusLabel.setText(f"Done: {pixels:,} pixels classified.")
        self.message_bar.pushMessage(
            "Done",
            f"Classified {pixels:,} pixels into {len(result.model.classes)} classes.",
            Qgis.Success,
            10,
        )
        self.training_finished.emit(True)

    def _add_layers(self, result: TrainClassifyResult) -> None:
        """Add the confidence raster, then the class raster on top of it, styled."""
        name = self._run_name
        project = QgsProject.instance()
        if result.prediction.confidence is not None:
            layer = styling.load_confidence_layer(
                result.prediction.confidence, f"Confidence ({name})"
            )
            project.addMapLayer(layer)
        layer = styling.load_classified_layer(
            result.prediction.classified, result.model.classes, f"Land cover ({name})"
        )
        if not layer.isValid():
            self.message_bar.pushMessage(
                "Layer", f"Could not open {result.prediction.classified}.", Qgis.Warning, 0
            )
            return
        project.addMapLayer(layer)

    def _on_failed(self, message: str) -> None:
        cancelled = self.task is not None and self.task.was_cancelled
        self.task = None
        self._set_running(False)
        self.progressBar.setValue(0)
        self.loss_plot.mark_epoch(None)
        results.clear_result(self.summaryLabel, self.resultTable, self.outputsLabel)
        self.summaryLabel.setText("No result.")
        if cancelled:
            self.statusLabel.setText("Cancelled.")
            self.message_bar.pushMessage("Cancelled", message, Qgis.Info, 5)
        else:
            self.statusLabel.setText("Failed.")
            self.message_bar.pushMessage("Training failed", message, Qgis.Critical, 0)
            QgsMessageLog.logMessage(message, LOG_TAG, Qgis.Critical)
        self.training_finished.emit(False)

    # -- closing -----------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt virtual
        """Closing during a run cancels it (no question asked); settings are remembered."""
        self.cancel()
        settings.save_form(self.form)
        super().closeEvent(event)

    def reject(self) -> None:
        """Escape closes like the window button: cancel a running task first."""
        self.cancel()
        super().reject()

    def shutdown(self) -> None:
        """Plugin unload / QGIS exit: cancel a running task and wait briefly for it to stop."""
        task, self.task = self.task, None
        if task is None:
            return
        for signal in (
            task.epoch_ended,
            task.progressChanged,
            task.log_message,
            task.succeeded,
            task.failed,
        ):
            try:
                signal.disconnect()
            except (TypeError, RuntimeError):  # nothing connected / already deleted
                pass
        try:
            task.cancel()
            task.waitForFinished(WAIT_ON_SHUTDOWN_MS)
        except RuntimeError:  # the task manager already deleted it
            pass
