"""landcover_mlp:trainclassify - train and classify in one run."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingMultiStepFeedback,
)

from ...core import settings
from ...core.distributed import SCHEDULER
from ..feedback import hooks_from_feedback
from .base import tr
from .classify import add_classify_outputs, classify_outputs
from .parameters import add_settings
from .train import TrainAlgorithm


class TrainClassifyAlgorithm(TrainAlgorithm):
    """Train a model, then classify the same raster with it."""

    def name(self) -> str:
        """The algorithm id within the provider (``landcover_mlp:trainclassify``)."""
        return "trainclassify"

    def displayName(self) -> str:  # noqa: N802 - QGIS virtual
        """The translated name shown in the toolbox."""
        return tr("Train and classify")

    def summary(self) -> str:
        """What the algorithm does, the first paragraph of its help."""
        return tr(
            "Trains an ensemble of multilayer perceptrons on the pixels under the training "
            "polygons, distils it into one network (whole polygons held out to measure "
            "accuracy, then the saved model trained on all of them) and classifies the whole raster with it. Outputs the model, the class raster with names and colours, a confidence "
            "raster, the loss curves, the validation report, overall accuracy and kappa."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802
        """Add the parameters (QGIS virtual; ``config`` is unused)."""
        self.add_raster_parameters()
        self.add_training_parameters()
        self.add_model_outputs()
        add_classify_outputs(self)
        add_settings(self, (settings.setting("memory_mb"), SCHEDULER))

    def processAlgorithm(  # noqa: N802 - QGIS virtual
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Train, save, then classify the raster with the saved model.

        Returns:
            The outputs by name: the training's (MODEL, OVERALL_ACCURACY, ...) and the
            classification's (CLASSIFIED, ...).

        Raises:
            QgsProcessingException: an input is invalid, a step fails, or the user cancelled
                after training.
        """
        steps = QgsProcessingMultiStepFeedback(2, feedback)
        steps.setCurrentStep(0)
        result, outputs = self.training_outputs(parameters, context, steps)
        if feedback.isCanceled():
            raise QgsProcessingException(tr("Cancelled by the user after training."))
        steps.setCurrentStep(1)
        # the model file just saved: the workers of a Dask cluster read it from there
        _, classified = classify_outputs(
            self, parameters, context, result.model, hooks_from_feedback(steps), outputs["MODEL"]
        )
        outputs.update(classified)
        return outputs
