"""landcover_mlp:classify - classify a raster with a trained model."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingException,
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ...core.errors import LandCoverError
from ...core.model_io import load_model
from ..feedback import hooks_from_feedback
from .base import LandCoverAlgorithm, _help, tr
from .jobs import classify_and_style


class ClassifyAlgorithm(LandCoverAlgorithm):
    """Apply a model to every valid pixel, block by block."""

    def name(self) -> str:
        return "classify"

    def displayName(self) -> str:  # noqa: N802 - QGIS virtual
        return tr("Classify raster with a model")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS virtual
        return tr(
            "Classifies every valid pixel of the raster with a model trained by Land Cover "
            "MLP, block by block within a fixed memory budget. The class raster carries the "
            "class names and colours; the optional confidence raster holds the probability of "
            "the chosen class (0-1) and the optional probability raster one band per class. "
            "The raster must have the same bands as the training raster."
        )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 - QGIS virtual
        self.addParameter(self._help_raster())
        self.addParameter(self._help_model())
        self.add_classify_outputs()
        self.add_device_parameter()

    def _help_raster(self):
        p = QgsProcessingParameterRasterLayer(self.RASTER, tr("Raster"))
        p.setHelp(tr("Image with the same bands, in the same order, as the training image."))
        return p

    def _help_model(self):
        p = QgsProcessingParameterFile(self.MODEL, tr("Model file"), extension="safetensors")
        p.setHelp(tr("A model file written by 'Train land-cover model'."))
        return p

    def add_classify_outputs(self) -> None:
        dest = QgsProcessingParameterRasterDestination
        self.addParameter(_help(dest(self.CLASSIFIED, tr("Classified raster")),
            "Class of every valid pixel (GeoTIFF) with the class names and colours; a .qml "
            "style is written beside it."))  # fmt: skip
        self.addParameter(_help(dest(self.CONFIDENCE, tr("Confidence raster"), optional=True,
                                     createByDefault=True),
            "Probability of the chosen class, 0-1 (GeoTIFF): low values show where the map is "
            "uncertain."))  # fmt: skip
        self.addParameter(_help(dest(self.PROBABILITIES, tr("Class probabilities"),
                                     optional=True, createByDefault=False),
            "One band per class with its probability (GeoTIFF)."))  # fmt: skip

    def classify_outputs(self, parameters, context, model, hooks):
        raster = self.raster_path(parameters, context)
        classified = self.parameterAsOutputLayer(parameters, self.CLASSIFIED, context)
        confidence = self.parameterAsOutputLayer(parameters, self.CONFIDENCE, context) or None
        probs = self.parameterAsOutputLayer(parameters, self.PROBABILITIES, context) or None
        result = classify_and_style(raster, model, classified, confidence, probs,
                                    self.device(parameters, context), hooks)  # fmt: skip
        for key, path in ((self.CLASSIFIED, classified), (self.CONFIDENCE, confidence)):
            if path and context.willLoadLayerOnCompletion(path):
                details = context.layerToLoadOnCompletionDetails(path)
                details.name = "Land cover" if key == self.CLASSIFIED else "Confidence"
        outputs = {self.CLASSIFIED: classified}
        if confidence:
            outputs[self.CONFIDENCE] = confidence
        if probs:
            outputs[self.PROBABILITIES] = probs
        return result, outputs

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS virtual
        path = self.parameterAsFile(parameters, self.MODEL, context)
        try:
            model = load_model(path)
        except LandCoverError as exc:
            raise QgsProcessingException(str(exc)) from exc
        feedback.pushInfo(f"Model: {len(model.classes)} classes, {model.describe_bands()}.")
        _, outputs = self.classify_outputs(
            parameters, context, model, hooks_from_feedback(feedback)
        )
        return outputs
