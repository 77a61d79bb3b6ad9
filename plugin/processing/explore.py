"""landcover_mlp:explore - the same pixels trained with a grid of learning rates x momentums.

Every loss curve in one figure (PNG) and table (CSV).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFolderDestination,
)

from ...core import explore
from ...core.errors import LandCoverError
from .. import compat
from ..feedback import hooks_from_feedback
from .base import LandCoverAlgorithm, _help, tr
from .jobs import core_call
from .parameters import add_settings, read_settings

if TYPE_CHECKING:
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback


def add_polygon_parameters(alg: LandCoverAlgorithm) -> None:
    """The training polygons and their class field (explore, explain)."""
    alg.addParameter(_help(
        QgsProcessingParameterFeatureSource(alg.POLYGONS, tr("Training polygons"),
                                            [compat.SOURCE_VECTOR_POLYGON]),
        "Polygons drawn over areas of known land cover."))  # fmt: skip
    alg.addParameter(_help(
        QgsProcessingParameterField(alg.CLASS_FIELD, tr("Class field"), None, alg.POLYGONS,
                                    compat.FIELD_ANY),
        "Field holding each polygon's class: whole numbers (kept as class values) or text "
        "(classes numbered 1..N in name order)."))  # fmt: skip


class ExploreAlgorithm(LandCoverAlgorithm):
    """Train one network per learning rate and momentum of the grid, draw every loss curve.

    Every network starts from the same first weights; the curves go in one figure.
    """

    OUTPUT_DIR = "OUTPUT_DIR"
    CSV = "CSV"
    PNG = "PNG"
    CONVERGED = "CONVERGED"

    def name(self) -> str:
        """The algorithm id within the provider (``landcover_mlp:explore``)."""
        return "explore"

    def displayName(self) -> str:  # noqa: N802 - QGIS virtual
        """The translated name shown in the toolbox."""
        return tr("Explore learning rate and momentum")

    def summary(self) -> str:
        """What the algorithm does, the first paragraph of its help."""
        return tr(
            "See how the learning rate and the momentum change gradient descent: the pixels "
            "under the training polygons are sampled once (whole polygons held out for the "
            "validation loss, as in training), then one network is trained per pair of a "
            "learning rate and a momentum of the grid, from the same first weights, by "
            "full-batch gradient descent with momentum (one gradient step per epoch, constant "
            "learning rate, no early stopping). Writes every training and validation loss "
            "curve in one figure (explore.png) and table (explore.csv, one row per run and "
            "epoch) into the output folder, with the epochs each run needed to converge (its "
            "training loss stays at most the loss threshold). A run whose loss stops being "
            "a number is kept, marked diverged, and the others go on."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802
        """Add the parameters (QGIS virtual; ``config`` is unused)."""
        self.add_raster_parameters()
        add_polygon_parameters(self)
        add_settings(self, explore.SETTINGS)
        self.addParameter(_help(
            QgsProcessingParameterFolderDestination(self.OUTPUT_DIR, tr("Output folder")),
            "Folder for explore.png (every loss curve) and explore.csv (one row per run and "
            "epoch: learning_rate, momentum, epoch, train_loss, val_loss, diverged); created "
            "when missing."))  # fmt: skip
        self.addOutput(QgsProcessingOutputFile(self.PNG, tr("Loss curves of every run")))
        self.addOutput(QgsProcessingOutputFile(self.CSV, tr("Losses per run and epoch")))
        self.addOutput(QgsProcessingOutputNumber(self.CONVERGED, tr("Runs that converged")))

    def processAlgorithm(  # noqa: N802 - QGIS virtual
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Train every run of the grid and write the figure and the table.

        Returns:
            The outputs by name: OUTPUT_DIR, PNG, CSV and CONVERGED (the runs that converged).

        Raises:
            QgsProcessingException: no polygons, a value the explorer refuses or a failed
                step.
        """
        polygons = self.source_path(parameters, self.POLYGONS, context, feedback)
        if polygons is None:
            raise QgsProcessingException(tr("Choose the training polygons."))
        try:
            request, config = explore.explore_request(
                self.raster_path(parameters, context), polygons[0],
                self.parameterAsString(parameters, self.CLASS_FIELD, context),
                read_settings(self, parameters, context, explore.SETTINGS),
                bands=self.bands(parameters, context), polygons_layer=polygons[1],
            )  # fmt: skip
        except LandCoverError as exc:
            raise QgsProcessingException(str(exc)) from exc
        folder = Path(self.parameterAsString(parameters, self.OUTPUT_DIR, context))
        hooks = hooks_from_feedback(feedback, log_epochs=False)  # one line per run instead
        result, outputs = core_call(explore.run_explore, request, config, folder, hooks)
        for warning in result.warnings:
            feedback.pushWarning(warning)
        converged = sum(run.epochs_to_threshold is not None for run in result.runs)
        return {
            self.OUTPUT_DIR: str(folder),
            self.PNG: str(outputs.png),
            self.CSV: str(outputs.csv),
            self.CONVERGED: converged,
        }
