"""landcover_mlp:train - train a model from a raster and training polygons."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterFileDestination,
)

from ..styling import colours_from_symbology
from .base import LandCoverAlgorithm, _help, tr
from .jobs import train_and_save

MODEL_FILTER = "Land Cover MLP model (*.safetensors)"


class TrainAlgorithm(LandCoverAlgorithm):
    """Sample the pixels under the polygons, train the MLP, validate on held-out polygons."""

    def name(self) -> str:
        return "train"

    def displayName(self) -> str:  # noqa: N802 - QGIS virtual
        return tr("Train land-cover model")

    def summary(self) -> str:
        return tr(
            "Samples the raster pixels under the training polygons and trains an ensemble of "
            "multilayer perceptrons by mini-batch gradient descent with momentum, then distils "
            "it into one network of the same architecture, which is saved. Whole "
            "polygons are held out to measure accuracy (never single pixels); the saved model "
            "is then trained on all training polygons, these included. Writes the model "
            "file, the loss curves and a validation report (confusion matrix, overall "
            "accuracy, kappa, per-class F1, and which model was scored)."
        )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 - QGIS virtual
        self.add_raster_parameters()
        self.add_training_parameters()
        self.add_model_outputs()

    def add_model_outputs(self) -> None:
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

    def training_outputs(self, parameters, context, feedback):
        request = self.train_request(parameters, context, feedback)
        layer = self.parameterAsVectorLayer(parameters, self.POLYGONS, context)
        colours = colours_from_symbology(layer, request.sampling.class_field)
        model_path = self.parameterAsFileOutput(parameters, self.MODEL, context)
        curve = self.parameterAsFileOutput(parameters, self.LOSS_CURVE, context) or None
        report = self.parameterAsFileOutput(parameters, self.REPORT, context) or None
        return train_and_save(request, colours, model_path, curve, report, feedback)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS virtual
        _, outputs = self.training_outputs(parameters, context, feedback)
        return outputs
