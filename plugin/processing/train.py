"""landcover_mlp:train - train a model from a raster and training polygons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFileDestination,
)

from ..styling import colours_from_symbology
from .base import LandCoverAlgorithm, _help, tr
from .jobs import train_and_save

if TYPE_CHECKING:
    from ...core.workflow import TrainResult

MODEL_FILTER = "Land Cover MLP model (*.safetensors)"


class TrainAlgorithm(LandCoverAlgorithm):
    """Sample the pixels under the polygons, train the MLP, validate on held-out polygons."""

    def name(self) -> str:
        """The algorithm id within the provider (``landcover_mlp:train``)."""
        return "train"

    def displayName(self) -> str:  # noqa: N802 - QGIS virtual
        """The translated name shown in the toolbox."""
        return tr("Train land-cover model")

    def summary(self) -> str:
        """What the algorithm does, the first paragraph of its help."""
        return tr(
            "Samples the raster pixels under the training polygons and trains an ensemble of "
            "multilayer perceptrons by mini-batch gradient descent with momentum, then distils "
            "it into one network of the same architecture, which is saved. Whole "
            "polygons are held out to measure accuracy (never single pixels); the saved model "
            "is then trained on all training polygons, these included. Writes the model "
            "file, the loss curves and a validation report (confusion matrix, overall "
            "accuracy, kappa, per-class F1, and which model was scored)."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802
        """Add the parameters (QGIS virtual; ``config`` is unused)."""
        self.add_raster_parameters()
        self.add_training_parameters()
        self.add_model_outputs()

    def add_model_outputs(self) -> None:
        """Add the model file, loss curve and report destinations and the accuracy outputs."""
        dest = QgsProcessingParameterFileDestination
        self.addParameter(_help(dest(self.MODEL, tr("Model file"), MODEL_FILTER),
            "The trained network with its bands, classes and settings (.safetensors); "
            "'Classify raster with a model' applies it to other images."))  # fmt: skip
        self.addParameter(_help(dest(self.LOSS_CURVE, tr("Loss curves"), "PNG image (*.png)",
                                     optional=True),
            "Training and validation loss per epoch as a chart; the numbers are written to a "
            ".csv beside it."))  # fmt: skip
        self.addParameter(_help(dest(self.REPORT, tr("Validation report"), "HTML page (*.html)",
                                     optional=True),
            "Confusion matrix, overall accuracy, kappa and per-class scores on the held-out "
            "validation polygons; a JSON copy is written beside it."))  # fmt: skip
        self.addOutput(QgsProcessingOutputNumber(self.OVERALL_ACCURACY, tr("Overall accuracy")))
        self.addOutput(QgsProcessingOutputNumber(self.KAPPA, tr("Kappa")))

    def training_outputs(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> tuple[TrainResult, dict[str, Any]]:
        """Train, save the model and write the loss curves and report.

        Args:
            parameters: the run's parameter values, by name.
            context: the Processing context (project, layers).
            feedback: progress, cancel and log of the run.

        Returns:
            ``(result, outputs)``: the training result and the outputs by name (MODEL,
            OVERALL_ACCURACY, KAPPA, ...).

        Raises:
            QgsProcessingException: an input is invalid or training fails, with a sentence
                for the user.
        """
        request = self.train_request(parameters, context, feedback)
        layer = self.parameterAsVectorLayer(parameters, self.POLYGONS, context)
        colours = colours_from_symbology(layer, request.sampling.class_field)
        model_path = self.parameterAsFileOutput(parameters, self.MODEL, context)
        curve = self.parameterAsFileOutput(parameters, self.LOSS_CURVE, context) or None
        report = self.parameterAsFileOutput(parameters, self.REPORT, context) or None
        return train_and_save(request, colours, model_path, curve, report, feedback)

    def processAlgorithm(  # noqa: N802 - QGIS virtual
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Run the algorithm; the outputs by name (see :meth:`training_outputs`)."""
        _, outputs = self.training_outputs(parameters, context, feedback)
        return outputs
