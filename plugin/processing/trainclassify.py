"""landcover_mlp:trainclassify - train and classify in one run."""

from __future__ import annotations

from qgis.core import QgsProcessingException, QgsProcessingMultiStepFeedback

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
        return "trainclassify"

    def displayName(self) -> str:  # noqa: N802 - QGIS virtual
        return tr("Train and classify")

    def summary(self) -> str:
        return tr(
            "Trains an ensemble of multilayer perceptrons on the pixels under the training "
            "polygons, distils it into one network (whole polygons held out to measure "
            "accuracy, then the saved model trained on all of them) and classifies the whole raster with it. Outputs the model, the class raster with names and colours, a confidence "
            "raster, the loss curves, the validation report, overall accuracy and kappa."
        )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 - QGIS virtual
        self.add_raster_parameters()
        self.add_training_parameters()
        self.add_model_outputs()
        add_classify_outputs(self)
        add_settings(self, (settings.setting("memory_mb"), SCHEDULER))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS virtual
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
