"""Background tasks of the teaching views: the learning-rate explorer and the decision regions.

The thread rules of :mod:`.tasks` hold: ``work()`` runs in a worker thread, calls the core and
emits signals; the panels receive them on the main thread (queued), so the explorer's curves
grow epoch by epoch without polling.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgis.PyQt.QtCore import pyqtSignal

from ..core.config import TrainRequest
from ..core.explain import ExplainResult, decision_regions
from ..core.explore import ExploreConfig, ExploreOutputs, ExploreResult, ExploreRun, run_explore
from ..core.model_io import LandCoverModel
from .tasks import BaseTask


@dataclass(frozen=True)
class ExploreOutcome:
    """What :class:`ExploreTask` produced.

    Attributes:
        result: every run of the grid.
        outputs: explore.png and explore.csv.
    """

    result: ExploreResult
    outputs: ExploreOutputs


class ExploreTask(BaseTask):
    """Train the grid of learning rates x momentums and write its figure and table.

    The grid is trained by :func:`core.explore.run_explore`.

    Signals:
        epoch_ended(dict): every epoch of every run (learning_rate, momentum, epoch,
            train_loss, val_loss, diverged), emitted from the worker thread.
        run_ended(ExploreRun): a finished run (a diverged one included).
    """

    epoch_ended = pyqtSignal(object)
    run_ended = pyqtSignal(object)

    def __init__(self, request: TrainRequest, config: ExploreConfig, folder: Path) -> None:
        """Prepare the task; nothing runs before the task manager starts it.

        Args:
            request: raster, polygons, bands, network, validation share, seed and device.
            config: the grid, epochs and loss threshold.
            folder: where explore.png and explore.csv go (checked writable by the caller).
        """
        super().__init__("Land Cover MLP: explore learning rate and momentum")
        self.request = request
        self.config = config
        self.folder = Path(folder)

    def _emit_epoch(self, record: dict[str, Any]) -> None:
        self.epoch_ended.emit(dict(record))

    def _emit_run(self, run: ExploreRun) -> None:
        self.run_ended.emit(run)

    def work(self) -> ExploreOutcome:
        """Sample, train every run (progress 0-100), write the figure and the table."""
        hooks = dataclasses.replace(self.hooks(0, 100), epoch=self._emit_epoch)
        result, outputs = run_explore(self.request, self.config, self.folder, hooks,
                                      self._emit_run)  # fmt: skip
        return ExploreOutcome(result, outputs)


class ExplainTask(BaseTask):
    """Draw a model's decision regions beside a perceptron's.

    See :func:`core.explain.decision_regions`.
    """

    def __init__(
        self,
        model: LandCoverModel,
        raster: str,
        polygons: str,
        class_field: str,
        plot_bands: tuple[int, int],
        output: Path,
        layer: str | None = None,
    ) -> None:
        """Prepare the task; nothing runs before the task manager starts it.

        Args:
            model: the trained model.
            raster: the image it was trained on.
            polygons: its training polygons (``layer`` inside them).
            class_field: their class field.
            plot_bands: raster band numbers of the horizontal and the vertical axis.
            output: the PNG to write.
            layer: layer name inside ``polygons``.
        """
        super().__init__("Land Cover MLP: decision regions")
        self.model = model
        self.args = (raster, polygons, class_field, plot_bands, Path(output))
        self.layer = layer

    def work(self) -> ExplainResult:
        """Sample, train the perceptron, classify both grids, write the PNG."""
        raster, polygons, class_field, plot_bands, output = self.args
        return decision_regions(self.model, raster, polygons, class_field, plot_bands, output,
                                self.hooks(0, 100), layer=self.layer)  # fmt: skip
