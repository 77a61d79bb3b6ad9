"""landcover_mlp:classify - classify a raster with a trained model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qgis.core import (
    QgsProcessingException,
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ...core import settings
from ...core.config import prediction_config
from ...core.distributed import SCHEDULER
from ...core.errors import LandCoverError
from ...core.model_io import load_model
from ..feedback import hooks_from_feedback
from ..styling import style_classified, style_confidence
from .base import LandCoverAlgorithm, _help, tr
from .jobs import classify_and_style, classify_on_cluster, style_when_loaded
from .parameters import add_settings, read_settings

if TYPE_CHECKING:
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    from ...core.callbacks import Hooks
    from ...core.model_io import LandCoverModel
    from ...core.prediction import PredictionResult


def add_classify_outputs(alg: LandCoverAlgorithm) -> None:
    """The class, confidence and probability raster destinations (classify, trainclassify)."""
    dest = QgsProcessingParameterRasterDestination
    alg.addParameter(_help(dest(alg.CLASSIFIED, tr("Classified raster")),
        "Class of every valid pixel (GeoTIFF) with the class names and colours; a .qml "
        "style is written beside it."))  # fmt: skip
    alg.addParameter(_help(dest(alg.CONFIDENCE, tr("Confidence raster"), optional=True,
                                createByDefault=True),
        "Probability of the chosen class, 0-1 (GeoTIFF): low values show where the map is "
        "uncertain."))  # fmt: skip
    alg.addParameter(_help(dest(alg.PROBABILITIES, tr("Class probabilities"),
                                optional=True, createByDefault=False),
        "One band per class with its probability (GeoTIFF)."))  # fmt: skip


def classify_outputs(
    alg: LandCoverAlgorithm,
    parameters: dict[str, Any],
    context: QgsProcessingContext,
    model: LandCoverModel,
    hooks: Hooks,
    model_path: str,
) -> tuple[PredictionResult, dict[str, Any]]:
    """Classify the RASTER parameter with ``model`` into the destinations of the outputs.

    ``model`` is read from ``model_path``; the destinations are those of
    :func:`add_classify_outputs`. Classified with the prediction settings (memory budget,
    device), here or on the Dask cluster the SCHEDULER parameter names.

    Returns:
        The classification's result and the outputs by name (CLASSIFIED, and CONFIDENCE and
        PROBABILITIES when written).

    Raises:
        QgsProcessingException: no valid raster, a value out of range or a failed
            classification.
    """
    raster = alg.raster_path(parameters, context)
    classified = alg.parameterAsOutputLayer(parameters, alg.CLASSIFIED, context)
    confidence = alg.parameterAsOutputLayer(parameters, alg.CONFIDENCE, context) or None
    probs = alg.parameterAsOutputLayer(parameters, alg.PROBABILITIES, context) or None
    try:
        config = prediction_config(read_settings(alg, parameters, context, settings.PREDICTION))
    except LandCoverError as exc:
        raise QgsProcessingException(str(exc)) from exc
    scheduler = read_settings(alg, parameters, context, (SCHEDULER,))[SCHEDULER.name].strip()
    args = (raster, model, classified, confidence, probs, config, hooks)
    if scheduler:
        result = classify_on_cluster(scheduler, model_path, *args)
    else:
        result = classify_and_style(*args)
    # QGIS loads outputs without their .qml: style them once they are in the project.
    style_when_loaded(context, classified, tr("Land cover"),
                      lambda layer: style_classified(layer, model.classes))  # fmt: skip
    if confidence:
        style_when_loaded(context, confidence, tr("Confidence"), style_confidence)
    outputs = {alg.CLASSIFIED: classified}
    if confidence:
        outputs[alg.CONFIDENCE] = confidence
    if probs:
        outputs[alg.PROBABILITIES] = probs
    return result, outputs


class ClassifyAlgorithm(LandCoverAlgorithm):
    """Apply a model to every valid pixel, block by block."""

    def name(self) -> str:
        """The algorithm id within the provider (``landcover_mlp:classify``)."""
        return "classify"

    def displayName(self) -> str:  # noqa: N802 - QGIS virtual
        """The translated name shown in the toolbox."""
        return tr("Classify raster with a model")

    def summary(self) -> str:
        """What the algorithm does, the first paragraph of its help."""
        return tr(
            "Classifies every valid pixel of the raster with a model trained by Land Cover "
            "MLP, block by block within a fixed memory budget. The class raster carries the "
            "class names and colours; the optional confidence raster holds the probability of "
            "the chosen class (0-1) and the optional probability raster one band per class. "
            "The raster must have the same bands as the training raster."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802
        """Add the parameters (QGIS virtual; ``config`` is unused)."""
        self.addParameter(self._help_raster())
        self.addParameter(self._help_model())
        add_classify_outputs(self)
        add_settings(self, settings.PREDICTION)
        add_settings(self, (SCHEDULER,))  # advanced: a Dask cluster classifies the windows

    def _help_raster(self) -> QgsProcessingParameterRasterLayer:
        p = QgsProcessingParameterRasterLayer(self.RASTER, tr("Raster"))
        p.setHelp(tr("Image with the same bands, in the same order, as the training image."))
        return p

    def _help_model(self) -> QgsProcessingParameterFile:
        p = QgsProcessingParameterFile(self.MODEL, tr("Model file"), extension="safetensors")
        p.setHelp(tr("A model file written by 'Train land-cover model'."))
        return p

    def processAlgorithm(  # noqa: N802 - QGIS virtual
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Load the model and classify the raster with it.

        Returns:
            The outputs by name (see :func:`classify_outputs`).

        Raises:
            QgsProcessingException: an unreadable model or a failed classification.
        """
        path = self.parameterAsFile(parameters, self.MODEL, context)
        try:
            model = load_model(path)
        except LandCoverError as exc:
            raise QgsProcessingException(str(exc)) from exc
        feedback.pushInfo(f"Model: {len(model.classes)} classes, {model.describe_bands()}.")
        _, outputs = classify_outputs(
            self, parameters, context, model, hooks_from_feedback(feedback), path
        )
        return outputs
