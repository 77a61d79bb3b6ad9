"""Background tasks: the core's long jobs run in QGIS's task manager, off the main thread.

Thread rules (QgsTask): ``run()`` executes in a worker thread and only calls the core, reads
files and emits signals; it never touches widgets, layers or the project. ``finished()`` runs
on the main thread once ``run()`` returned and turns the outcome into ``succeeded`` /
``failed`` signals. Signals emitted from ``run()`` reach main-thread receivers queued, so the
dialog can plot every epoch, and fill the search table with every configuration, live without
polling.
"""

from __future__ import annotations

import dataclasses
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgis.core import Qgis, QgsMessageLog, QgsTask
from qgis.PyQt.QtCore import pyqtSignal

from ..core import naming
from ..core.callbacks import Hooks
from ..core.config import PredictionConfig, TrainRequest
from ..core.errors import CancelledError, LandCoverError
from ..core.model_io import LandCoverModel
from ..core.outputs import recolour, save_training_outputs
from ..core.prediction import PredictionResult, classify_raster
from ..core.selection import ConfigScore, SearchConfig, TuneResult
from ..core.tuning import run_search
from ..core.workflow import TrainResult, train_model
from .feedback import LOG_TAG
from .torch_check import preload_torch_libraries

TRAIN_SHARE = 80.0
"""Share of the progress bar given to training; classification gets the rest."""


class BaseTask(QgsTask):
    """A cancellable task whose ``work()`` runs in a worker thread.

    Subclasses implement :meth:`work` with the core and return a result object. Errors are
    caught in the worker thread and reported on the main thread: ``succeeded(result)`` or
    ``failed(message)``, exactly one of them per task. Keep a Python reference to a running
    task until one of them arrived.

    Attributes:
        result: what :meth:`work` returned (None until it succeeded).
        error: the user sentence of the failure (None on success).
        details: traceback of an unexpected exception, for the message log.
        was_cancelled: the user cancelled (``failed`` then carries the cancel sentence).
    """

    succeeded = pyqtSignal(object)
    failed = pyqtSignal(str)
    log_message = pyqtSignal(str)

    def __init__(self, description: str) -> None:
        """A cancellable task named ``description`` (the task manager shows it)."""
        super().__init__(description, QgsTask.Flag.CanCancel)
        self.result: Any = None
        self.error: str | None = None
        self.details: str | None = None
        self.was_cancelled = False

    def work(self) -> object:
        """Do the job in the worker thread; the subclass's result becomes :attr:`result`.

        Raises:
            LandCoverError: the job failed, with a sentence for the user.
            CancelledError: the user cancelled.
        """
        raise NotImplementedError

    def cleanup(self) -> None:
        """Remove partial outputs after a failure (worker thread); nothing by default."""

    def log(self, text: str) -> None:
        """Forward a core message to the message log and to listeners (thread-safe)."""
        QgsMessageLog.logMessage(text, LOG_TAG, Qgis.MessageLevel.Info)
        self.log_message.emit(text)

    def hooks(self, start: float, end: float) -> Hooks:
        """Core hooks mapping 0-100 onto ``start``-``end`` % of this task's progress."""
        return Hooks(
            progress=self.setProgress,
            cancelled=self.isCanceled,
            log=self.log,
        ).scaled(start, end)

    def run(self) -> bool:
        """Worker thread: call :meth:`work` and store its result or error."""
        try:
            preload_torch_libraries()  # no-op once torch is imported; keeps the GUI responsive
            self.result = self.work()
            return True
        except CancelledError as exc:
            self.was_cancelled = True
            self.error = str(exc)
        except LandCoverError as exc:
            self.error = str(exc)
        except MemoryError:
            self.error = "Not enough memory: select fewer bands or a smaller raster."
        except Exception as exc:  # noqa: BLE001 - reported on the main thread, never lost
            self.error = f"Unexpected error: {exc}. The message log has the details."
            self.details = traceback.format_exc()
        self._cleanup_quietly()
        return False

    def _cleanup_quietly(self) -> None:
        try:
            self.cleanup()
        except OSError as exc:  # a locked file must not hide the original error
            self.details = (self.details or "") + f"\nCould not remove partial output: {exc}"

    def finished(self, result: bool) -> None:  # QgsTask virtual
        """Main thread: emit ``succeeded`` or ``failed``."""
        if result:
            self.succeeded.emit(self.result)
            return
        if self.error is None:  # cancelled before run() started
            self.was_cancelled = True
            self.error = str(CancelledError())
        if self.details:
            QgsMessageLog.logMessage(self.details, LOG_TAG, Qgis.MessageLevel.Critical)
        self.failed.emit(self.error)


@dataclass(frozen=True)
class OutputPaths:
    """Files written by :class:`TrainClassifyTask`.

    Attributes:
        model: model file (.safetensors).
        classified: class raster (.tif).
        confidence: confidence raster (.tif), or None.
        report: validation report (.html; a .json is written beside it).
        loss_curve: loss curves (.png; a .csv is written beside it).
    """

    model: Path
    classified: Path
    confidence: Path | None
    report: Path
    loss_curve: Path


@dataclass(frozen=True)
class TrainClassifyResult:
    """What :class:`TrainClassifyTask` produced.

    Attributes:
        model: the trained model, with the class colours of the training layer.
        training: training result (its report uses the same colours).
        prediction: what the classification wrote.
        outputs: all output paths.
    """

    model: LandCoverModel
    training: TrainResult
    prediction: PredictionResult
    outputs: OutputPaths


class TrainClassifyTask(BaseTask):
    """Train a model on polygons, save it with its reports and classify the same raster.

    The training outputs (model, report, loss curves) are committed before the classification
    starts: a cancel or failure during the classification keeps them (``committed`` says so)
    and leaves no part of the rasters.

    Signals:
        epoch_ended(dict): one history record per epoch (epoch, train_loss, val_loss,
            val_accuracy), emitted from the worker thread.

    Attributes:
        committed: the outputs already on disk when the task failed or was cancelled (the
            model, report and loss curves once training ended), else None.
    """

    epoch_ended = pyqtSignal(object)

    def __init__(
        self,
        request: TrainRequest,
        outputs: OutputPaths,
        device: str = "auto",
        colours: dict[str, str] | None = None,
        prediction: PredictionConfig | None = None,
    ) -> None:
        """Prepare the task; nothing runs before the task manager starts it.

        Args:
            request: raster, polygons and settings (files readable by GDAL/OGR).
            outputs: where to write the model, rasters and reports.
            device: device used to classify ("auto", "cpu", "cuda", "mps").
            colours: class value or name -> "#rrggbb" from the training layer's symbology.
            prediction: the classification settings (memory budget); its device is replaced
                by ``device``. None = the defaults of the settings table.
        """
        super().__init__("Land Cover MLP: train and classify")
        self.request = request
        self.outputs = outputs
        self.prediction = dataclasses.replace(prediction or PredictionConfig(), device=device)
        self.colours = dict(colours or {})
        self.committed: OutputPaths | None = None

    def _emit_epoch(self, record: dict[str, Any]) -> None:
        self.epoch_ended.emit(dict(record))

    def work(self) -> TrainClassifyResult:
        """Train (0-80 %), write model and reports, classify (80-100 %)."""
        hooks = dataclasses.replace(self.hooks(0, TRAIN_SHARE), epoch=self._emit_epoch)
        trained = train_model(self.request, hooks)
        trained = recolour(trained, self.colours)
        model = trained.model
        hooks.check()
        out = self.outputs
        # Two stages (core/fileio.py): the training outputs are committed here, so a failed
        # or cancelled classification keeps the model and leaves no part of its rasters.
        save_training_outputs(trained, out.model, out.loss_curve, out.report)
        self.committed = out
        hooks.check()
        prediction = classify_raster(
            self.request.raster,
            model,
            out.classified,
            out.confidence,
            None,
            self.prediction,
            self.hooks(TRAIN_SHARE, 100),
        )
        self.setProgress(100.0)
        return TrainClassifyResult(model, trained, prediction, out)


@dataclass(frozen=True)
class TuneOutcome:
    """What :class:`TuneTask` produced.

    Attributes:
        search: the core's result: ranked table, best configuration, retrained model,
            cancelled / budget flags, fold warnings and how accuracy was estimated.
        table: the search table page (.html; a .csv is written beside it), or None when no
            configuration finished.
        model: where the model retrained with the best settings was saved, or None.
    """

    search: TuneResult
    table: Path | None
    model: Path | None


class TuneTask(BaseTask):
    """Find the best settings by grouped k-fold cross-validation (``tune_model``).

    A cancel or the time budget keeps the finished configurations: the task then still
    succeeds, with ``search.cancelled`` / ``search.budget_exhausted`` set.

    Signals:
        score_ready(ConfigScore): one finished configuration, emitted from the worker thread.
    """

    score_ready = pyqtSignal(object)

    def __init__(
        self,
        request: TrainRequest,
        search: SearchConfig,
        table: Path,
        model: Path | None = None,
        colours: dict[str, str] | None = None,
    ) -> None:
        """Prepare the task; nothing runs before the task manager starts it.

        Args:
            request: raster, polygons and the base settings the search varies.
            search: search space, strategy, folds, time budget and seed.
            table: where to write the search table (.html, and .csv beside it).
            model: where to save the model retrained with the best settings (None = not saved).
            colours: class value or name -> "#rrggbb" for the saved model's classes.
        """
        super().__init__("Land Cover MLP: find the best settings")
        self.request = request
        self.search = search
        self.table = table
        self.model = model
        self.colours = dict(colours or {})

    def _emit_score(self, score: ConfigScore) -> None:
        self.score_ready.emit(score)

    def work(self) -> TuneOutcome:
        """Search (progress 0-100), then write the table and the model as one stage."""
        model = naming.model_path(self.model) if self.model is not None else None
        table = naming.side_file(self.table, ".csv")
        outputs = naming.SearchOutputs(table, self.table, naming.side_file(self.table, ".json"))
        run = run_search(self.request, self.search, outputs, model, self.colours,
                         self.hooks(0, 100), self._emit_score)  # fmt: skip
        self.was_cancelled = run.result.cancelled
        return TuneOutcome(run.result, run.table_html, run.model)
