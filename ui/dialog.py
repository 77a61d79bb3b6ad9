"""The point-and-click route: choose layers and settings, train and classify in the background.

Watch the loss curves, get a styled land-cover map and its accuracy; or first find the best
settings by cross-validation and copy them into the training settings.

The dialog wires widgets to the core's config objects (:mod:`.form`, :mod:`.tuning`) and shows
results; the work runs in :class:`~landcover_mlp.plugin.tasks.TrainClassifyTask` and
:class:`~landcover_mlp.plugin.tasks.TuneTask`, one task at a time.
"""

from __future__ import annotations

import contextlib
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsProject
from qgis.gui import QgsMessageBarItem
from qgis.PyQt import uic
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtGui import QCloseEvent
from qgis.PyQt.QtWidgets import QDialog, QPushButton, QSizePolicy, QWidget

from ..core.config import TrainRequest
from ..core.errors import LandCoverError
from ..core.selection import plan
from ..plugin import styling, torch_check
from ..plugin.feedback import LOG_TAG, format_epoch
from ..plugin.tasks import BaseTask, TrainClassifyResult, TrainClassifyTask, TuneOutcome, TuneTask
from . import results, settings
from .explain_panel import ExplainPanel
from .explore_panel import ExplorePanel
from .form import TrainingForm
from .loss_plot import LossPlot
from .tuning import TuningPanel

if TYPE_CHECKING:
    from qgis.gui import QgisInterface

FORM_CLASS, _ = uic.loadUiType(str(Path(__file__).with_name("main_dialog.ui")))
WAIT_ON_SHUTDOWN_MS = 5000
RUN_TIP = (
    "Train on the polygons and classify the raster in the background; outputs left empty go "
    "to a new run folder (project folder, else beside the raster)."
)
TUNE_TIP = "Compare settings by cross-validation over whole polygons, in the background."
TASK_SIGNALS = (
    "epoch_ended",
    "score_ready",
    "progressChanged",
    "log_message",
    "succeeded",
    "failed",
)


class LandCoverDialog(QDialog, FORM_CLASS):
    """Train a land-cover classifier on polygons and classify a raster, in the background.

    Attributes:
        form: the input widgets as a form (builds the core's request).
        tuning: the "Find the best settings" tab (search options and live table).
        task: the running task (training or search), or None (kept referenced while it runs).
        result: the last successful run's result.
        loss_plot: live loss curves.

    Signals:
        training_finished(bool): a run ended (True on success); after results are shown.
        tuning_finished(bool): a search ended (True when it returned a table, also after a
            cancel or the time budget); after the table is shown.
    """

    training_finished = pyqtSignal(bool)
    tuning_finished = pyqtSignal(bool)
    exploring_finished = pyqtSignal(bool)  # the explorer's grid ended (True on success)

    def __init__(self, iface: QgisInterface | None, parent: QWidget | None = None) -> None:
        """The dialog for QGIS's ``iface`` (None: messages stay in the dialog) under ``parent``."""
        super().__init__(parent)
        self.setupUi(self)
        self.iface = iface
        self.task: BaseTask | None = None
        self.result: TrainClassifyResult | None = None
        self.loss_plot = LossPlot(self)
        self.lossLayout.addWidget(self.loss_plot)
        self.message_bar = self.messageBar
        self.statusLabel.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.splitter.setSizes([500, 740])
        self.splitter.setStretchFactor(1, 1)
        self.torch_ok = torch_check.torch_available()
        self.form = TrainingForm(self, self.torch_ok)
        self.tuning = TuningPanel(self)
        self.tuningLayout.addWidget(self.tuning)
        settings.restore_form(self.form)
        settings.restore_tuning(self.tuning)
        self._run_name = ""
        self.runButton.clicked.connect(self.run)
        self.tuning.tuneButton.clicked.connect(self.find_best)
        self.explore = ExplorePanel(self)  # the "Explore learning rate" tab
        self.resultTabs.addTab(self.explore, "Explore learning rate")
        self.explore.exploreButton.clicked.connect(self.explore_rates)
        self.explore.finished.connect(self._on_explored)
        self.explain_panel: ExplainPanel | None = None
        self.explainButton.clicked.connect(self.open_explain)
        self.tuning.useSettingsButton.clicked.connect(self.use_settings)
        self.cancelButton.clicked.connect(self.cancel)
        self.closeButton.clicked.connect(self.close)
        # a slot of this QObject: disconnected by Qt when the dialog is deleted
        QgsProject.instance().fileNameChanged.connect(self._project_file_changed)
        self._torch_banner: QgsMessageBarItem | None = None
        for button in self.findChildren(QPushButton):  # Enter in a field never starts a run
            button.setAutoDefault(False)
            button.setDefault(False)
        for group in (self.advancedGroup, self.trainingGroup):
            group.collapsedStateChanged.connect(self._fit_input_width)
        self._fit_input_width()
        self._set_running(False)
        self.form.update_device_label()  # with torch: starts the device check in a worker thread
        if not self.torch_ok:
            self._show_torch_missing()

    def _fit_input_width(self, *_: Any) -> None:
        """Keep the input panel at least as wide as its widgets plus a vertical scroll bar.

        When the Advanced box opens, the bar appears and would otherwise hide the right edge
        of every row (combo arrows, spin buttons).
        """
        scroll = self.inputScroll
        inner = scroll.widget().minimumSizeHint().width()
        bar = scroll.verticalScrollBar().sizeHint().width()
        scroll.setMinimumWidth(inner + bar + 2 * scroll.frameWidth())

    def _project_file_changed(self, *_: Any) -> None:
        self.form.update_output_hint()  # outputs left empty go beside the project

    # -- PyTorch missing ---------------------------------------------------------------------
    def _show_torch_missing(self) -> None:
        """A short warning with a button that opens "Set up PyTorch...".

        The full sentence, with the manual install command, is the warning's tooltip and the
        set-up dialog's text.
        """
        button = QPushButton("Set up PyTorch...")
        button.setObjectName("setupTorchButton")
        button.setToolTip("Install PyTorch into QGIS's Python and check it")
        button.clicked.connect(self.open_torch_setup)
        item = QgsMessageBarItem(
            "PyTorch missing",
            "Land Cover MLP needs PyTorch in QGIS's Python to train and classify.",
            button,
            Qgis.MessageLevel.Warning,
            0,
            self.message_bar,
        )
        item.setToolTip(torch_check.missing_torch_message())
        self._torch_button = button  # the item does not take ownership: keep it alive
        self.message_bar.pushItem(item)
        self._torch_banner = item

    def open_torch_setup(self) -> None:
        """Open the PyTorch set-up dialog; a successful install enables Run at once."""
        from .torch_setup_dialog import open_torch_setup

        setup = open_torch_setup(self)
        with contextlib.suppress(TypeError, RuntimeError):  # not connected yet
            setup.install_finished.disconnect(self._torch_installed)
        setup.install_finished.connect(self._torch_installed)

    def _torch_installed(self, ok: bool) -> None:
        importlib.invalidate_caches()
        if not ok or not torch_check.torch_available():
            return
        self.torch_ok = self.form.torch_ok = True
        if self._torch_banner is not None:
            with contextlib.suppress(RuntimeError):  # already closed by the user
                self.message_bar.popWidget(self._torch_banner)
            self._torch_banner = None
        self._set_running(self.task is not None)
        self.form.update_device_label()

    # -- running -----------------------------------------------------------------------------
    def _checked_request(self) -> TrainRequest | None:
        """The core's request from the widgets, or None after saying what to change."""
        if self.task is not None or not self.torch_ok:
            return None
        self.message_bar.clearWidgets()
        problems = self.form.input_problems()
        if problems:
            self.message_bar.pushMessage(
                "Check the inputs", " ".join(problems), Qgis.MessageLevel.Warning, 0
            )
            return None
        self.form.new_run()
        try:
            return self.form.build_request()
        except LandCoverError as exc:
            self.message_bar.pushMessage("Check the inputs", str(exc), Qgis.MessageLevel.Warning, 0)
            return None

    def _colours(self, request: TrainRequest) -> dict[str, str]:
        layer = self.polygonCombo.currentLayer()
        return styling.colours_from_symbology(layer, request.sampling.class_field)

    def _save_settings(self) -> None:
        settings.save_form(self.form)
        settings.save_tuning(self.tuning)

    def run(self) -> None:
        """Validate, then start training and classification in the background."""
        request = self._checked_request()
        if request is None:
            return
        try:
            outputs = self.form.output_paths()
        except LandCoverError as exc:
            self.message_bar.pushMessage("Check the inputs", str(exc), Qgis.MessageLevel.Warning, 0)
            return
        colours = self._colours(request)
        self._save_settings()
        task = TrainClassifyTask(
            request, outputs, request.training.device, colours, self.form.prediction_config()
        )
        task.epoch_ended.connect(self.loss_plot.add_epoch)
        task.epoch_ended.connect(self._show_epoch)
        task.progressChanged.connect(self._show_progress)
        task.log_message.connect(self.statusLabel.setText)
        task.succeeded.connect(self._on_succeeded)
        task.failed.connect(self._on_failed)
        self.task = task
        self.result = None
        self._run_name = self.form.run_name  # raster name, date and time: runs apart
        self.loss_plot.clear()
        results.clear_result(self.summaryLabel, self.resultTable, self.outputsLabel)
        self.resultTabs.setCurrentWidget(self.resultPanel)
        self.progressBar.setValue(0)
        self.statusLabel.setText("Starting...")
        self._set_running(True)
        QgsApplication.taskManager().addTask(task)

    def find_best(self) -> None:
        """Validate, then search the best settings in the background (the table fills live)."""
        request = self._checked_request()
        if request is None:
            return
        try:
            search = self.tuning.search_config(request)
            plan(request, search)  # a value the core refuses fails here, not in the worker
            model = self.tuning.model_path()
        except LandCoverError as exc:
            self.message_bar.pushMessage("Check the search", str(exc), Qgis.MessageLevel.Warning, 0)
            return
        if model is None:  # the retrained best model is the user's work: keep it
            folder = self.form.run_folder()
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self.message_bar.pushMessage(
                    "Check the search", f"Could not create '{folder}' ({exc}): choose the model "
                    "file.", Qgis.MessageLevel.Warning, 0,
                )  # fmt: skip
                return
            model = folder / "tuned_model.safetensors"
        table = model.with_name(f"{model.stem}_search.html")
        self._save_settings()
        task = TuneTask(request, search, table, model, self._colours(request))
        task.score_ready.connect(self.tuning.add_score)
        task.progressChanged.connect(self._show_progress)
        task.log_message.connect(self.statusLabel.setText)
        task.succeeded.connect(self._on_tuned)
        task.failed.connect(self._on_tune_failed)
        self.task = task
        self.tuning.clear()
        self.resultTabs.setCurrentWidget(self.tuningTab)
        self.progressBar.setValue(0)
        self.statusLabel.setText("Searching...")
        self._set_running(True)
        QgsApplication.taskManager().addTask(task)

    def explore_rates(self) -> None:
        """Validate, then train the explorer's grid in the background (curves fill live).

        Its figure and table go to a new run folder.
        """
        request = self._checked_request()
        if request is None:
            return
        try:
            task = self.explore.make_task(request, self.form.run_folder())
        except LandCoverError as exc:
            self.message_bar.pushMessage("Check the grid", str(exc), Qgis.MessageLevel.Warning, 0)
            return
        self._save_settings()
        task.progressChanged.connect(self._show_progress)
        task.log_message.connect(self.statusLabel.setText)
        self.task = task
        self.resultTabs.setCurrentWidget(self.explore)
        self.progressBar.setValue(0)
        self.statusLabel.setText("Exploring...")
        self._set_running(True)
        QgsApplication.taskManager().addTask(task)

    def _on_explored(self, ok: bool) -> None:
        cancelled = self.task is not None and self.task.was_cancelled
        self.task = None
        self._set_running(False)
        self.progressBar.setValue(100 if ok else 0)
        self.statusLabel.setText(self.explore.status_text(cancelled))
        if not ok and not cancelled:
            self._tell("Exploration failed", self.explore.error, Qgis.MessageLevel.Critical, 0)
        self.exploring_finished.emit(ok)

    def open_explain(self) -> None:
        """The decision regions of the last run's model, in a panel of their own."""
        if self.result is None:
            return
        if self.explain_panel is not None:
            self.explain_panel.shutdown()
        self.explain_panel = ExplainPanel(self.result.model, self.result.outputs.model, self)
        self.explain_panel.show()

    def use_settings(self) -> None:
        """Copy the selected (default: best) configuration into the training settings."""
        score = self.tuning.selected_score()
        if score is None or self.task is not None:
            return
        self.form.apply_settings(score.model, score.training)
        self.advancedGroup.setCollapsed(False)  # learning rate, momentum and batch size
        self.message_bar.pushMessage(
            "Settings copied",
            f"{score.label()}. Press Run to train with them.",
            Qgis.MessageLevel.Info,
            10,
        )

    def cancel(self) -> None:
        """Ask the running task to stop.

        A training reports back through ``failed``, a search through ``succeeded`` with the
        configurations it finished.
        """
        if self.task is not None:
            self.statusLabel.setText("Cancelling...")
            self.cancelButton.setEnabled(False)
            self.task.cancel()

    def _set_running(self, running: bool) -> None:
        self.inputPanel.setEnabled(not running)
        self.runButton.setEnabled(self.torch_ok and not running)
        self.cancelButton.setEnabled(running)
        self.tuning.set_running(running, self.torch_ok)
        self.explore.set_running(running, self.torch_ok)
        self.explainButton.setEnabled(not running and self.result is not None)
        why = self._why_disabled(running)
        self.runButton.setToolTip(why or RUN_TIP)
        self.tuning.tuneButton.setToolTip(why or TUNE_TIP)

    def _why_disabled(self, running: bool) -> str:
        """Why Run and Find the best settings cannot start now ("" when they can)."""
        if not self.torch_ok:
            return (
                "Disabled: PyTorch is missing. Press Set up PyTorch... in the warning above "
                f"(or {torch_check.SETUP_ACTION})."
            )
        if running:
            return "Disabled while a run or search goes on: wait for it or press Cancel."
        return ""

    def _show_progress(self, value: float) -> None:
        self.progressBar.setValue(int(value))

    def _show_epoch(self, record: dict[str, Any]) -> None:
        self.statusLabel.setText(format_epoch(record))

    def _on_succeeded(self, result: TrainClassifyResult) -> None:
        self.task = None
        self.result = result
        self._set_running(False)
        self.progressBar.setValue(100)
        self.loss_plot.mark_epoch(result.model.early_stopping_epoch)
        results.show_result(self.summaryLabel, self.resultTable, self.outputsLabel, result)
        self._add_layers(result)
        pixels = result.prediction.valid_pixels
        self.statusLabel.setText(f"Done: {pixels:,} pixels classified.")
        self._tell(
            "Done",
            f"Classified {pixels:,} pixels into {len(result.model.classes)} classes; the "
            f"files are in {result.outputs.model.parent}.",
            Qgis.MessageLevel.Success,
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
            self._tell(
                "Layer",
                f"Could not open {result.prediction.classified}.",
                Qgis.MessageLevel.Warning,
                0,
            )
            return
        project.addMapLayer(layer)
        node = project.layerTreeRoot().findLayer(layer.id())
        if node is not None:
            node.setExpanded(True)  # the legend shows the classes and their colours

    def _on_failed(self, message: str) -> None:
        task = self.task
        cancelled = task is not None and task.was_cancelled
        committed = getattr(task, "committed", None)  # training outputs kept on disk
        self.task = None
        folder = self.form.created_folder
        if folder is not None and committed is None:  # the run's own folder, left empty
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
        self._set_running(False)
        self.progressBar.setValue(0)
        self.loss_plot.mark_epoch(None)
        results.clear_result(self.summaryLabel, self.resultTable, self.outputsLabel)
        self.summaryLabel.setText("No result.")
        if committed is not None:
            if cancelled:  # the core's sentence says no output was written: not so here
                message = "Cancelled during the classification: no part of the map was written."
            message += (
                f" The trained model and its report are kept in {committed.model.parent}; "
                "classify the raster with the model later (Processing: Classify a raster)."
            )
            self.summaryLabel.setText("Model trained and saved; the raster was not classified.")
            links = [
                results.file_link(committed.report, "validation report"),
                results.file_link(committed.model.parent, "output folder"),
            ]
            self.outputsLabel.setText("Files: " + " &middot; ".join(x for x in links if x))
        if cancelled:
            self.statusLabel.setText("Cancelled.")
            self._tell("Cancelled", message, Qgis.MessageLevel.Info, 0 if committed else 5)
        else:
            self.statusLabel.setText("Failed.")
            self._tell("Training failed", message, Qgis.MessageLevel.Critical, 0)
            QgsMessageLog.logMessage(message, LOG_TAG, Qgis.MessageLevel.Critical)
        self.training_finished.emit(False)

    def _on_tuned(self, outcome: TuneOutcome) -> None:
        self.task = None
        self._set_running(False)
        self.tuning.show_outcome(outcome)
        result = outcome.search
        done, planned = len(result.scores), result.planned
        if result.cancelled:
            self.statusLabel.setText("Cancelled.")
            text = f"Search cancelled after {done} of {planned} configurations."
            self._tell("Cancelled", text, Qgis.MessageLevel.Info, 10)
        elif result.budget_exhausted:
            self.progressBar.setValue(100)
            self.statusLabel.setText("Time budget reached.")
            text = (
                f"Time budget reached: the search stopped after {result.tried} of {planned} "
                f"configurations ({done} finished). Raise the budget or try fewer values."
            )
            self._tell("Stopped early", text, Qgis.MessageLevel.Warning, 0)
        else:
            self.progressBar.setValue(100)
            self.statusLabel.setText(f"Done: {done} configurations scored.")
            best = result.best.label() if result.best else "none"
            text = f"Best: {best}. Press Use these settings, then Run."
            self._tell("Search done", text, Qgis.MessageLevel.Success, 10)
        self.tuning_finished.emit(True)

    def _on_tune_failed(self, message: str) -> None:
        cancelled = self.task is not None and self.task.was_cancelled
        self.task = None
        self._set_running(False)
        self.progressBar.setValue(0)
        if cancelled:
            self.statusLabel.setText("Cancelled.")
            self.tuning.show_stopped("Cancelled.")
            self._tell("Cancelled", message, Qgis.MessageLevel.Info, 5)
        else:
            self.statusLabel.setText("Failed.")
            self.tuning.show_stopped(f"The search failed: {message}")
            self._tell("Search failed", message, Qgis.MessageLevel.Critical, 0)
            QgsMessageLog.logMessage(message, LOG_TAG, Qgis.MessageLevel.Critical)
        self.tuning_finished.emit(False)

    # -- closing -----------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt virtual
        """Closing never cancels; settings are remembered.

        A run goes on as a QGIS task (progress in the task bar) and its layers are added when
        it ends.
        """
        self._save_settings()
        self._say_run_goes_on()
        super().closeEvent(event)

    def reject(self) -> None:
        """Escape hides the dialog like the window button: a run goes on in the background."""
        self._save_settings()
        self._say_run_goes_on()
        super().reject()

    def _say_run_goes_on(self) -> None:
        if self.task is None or not self.isVisible():
            return
        self._tell(
            "Still running",
            "The run goes on in the background (progress in the task bar); its results are "
            "added to the map when it ends. Open the dialog again to follow or cancel it.",
            Qgis.MessageLevel.Info,
            10,
            also_main_window=True,
        )

    def _tell(
        self,
        title: str,
        text: str,
        level: Qgis.MessageLevel,
        duration: int,
        also_main_window: bool = False,
    ) -> None:
        """A message in the dialog's bar, and in QGIS's own bar when the dialog is closed.

        A run that ends in the background still reports.
        """
        self.message_bar.pushMessage(title, text, level, duration)
        if (also_main_window or not self.isVisible()) and self.iface is not None:
            self.iface.messageBar().pushMessage(f"Land Cover MLP: {title}", text, level, duration)

    def shutdown(self) -> None:
        """Plugin unload / QGIS exit: cancel a running task and wait briefly for it to stop."""
        if self.explain_panel is not None:
            self.explain_panel.shutdown()
        task, self.task = self.task, None
        if task is None:
            return
        for name in TASK_SIGNALS:
            try:
                getattr(task, name).disconnect()
            except (AttributeError, TypeError, RuntimeError):  # not this kind / none / deleted
                pass
        try:
            task.cancel()
            task.waitForFinished(WAIT_ON_SHUTDOWN_MS)
        except RuntimeError:  # the task manager already deleted it
            pass
