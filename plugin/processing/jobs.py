"""Train / classify / write reports with QGIS feedback: shared by the algorithms."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from qgis.core import (
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
)

from ...core.callbacks import Hooks
from ...core.config import PredictionConfig, TrainRequest
from ...core.errors import CancelledError, LandCoverError
from ...core.fileio import OutputStage
from ...core.model_io import LandCoverModel
from ...core.outputs import recolour, save_training_outputs
from ...core.prediction import PredictionResult, WindowRunner, classify_raster
from ...core.workflow import TrainResult, train_model
from ..feedback import hooks_from_feedback
from ..styling import save_style_beside, style_classified, style_confidence

_T = TypeVar("_T")


def core_call(func: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Run a core function; its errors become QgsProcessingException with the same sentence."""
    try:
        return func(*args, **kwargs)
    except CancelledError as exc:
        raise QgsProcessingException(str(exc)) from exc
    except LandCoverError as exc:
        raise QgsProcessingException(str(exc)) from exc


def train_and_save(
    request: TrainRequest,
    colours: dict[str, str],
    model_path: str,
    loss_curve: str | None,
    report: str | None,
    feedback: QgsProcessingFeedback,
) -> tuple[TrainResult, dict[str, Any]]:
    """Train, save the model and write the loss curves and validation report."""
    result: TrainResult = core_call(train_model, request, hooks_from_feedback(feedback))
    result = recolour(result, colours)
    core_call(save_training_outputs, result, model_path, loss_curve, report)
    outputs: dict[str, Any] = {"MODEL": model_path}
    if loss_curve:
        outputs["LOSS_CURVE"] = loss_curve
    if report:
        outputs["REPORT"] = report
    oa = result.report.overall_accuracy if result.report else float("nan")
    kappa = result.report.kappa if result.report else float("nan")
    outputs.update(OVERALL_ACCURACY=oa, KAPPA=kappa)
    if result.report:
        feedback.pushInfo(
            f"Validation ({result.report.method}): overall accuracy {oa:.1%}, kappa {kappa:.3f}"
        )
        for warning in result.report.warnings:
            feedback.pushWarning(warning)
    return result, outputs


def classify_and_style(
    raster: str,
    model: LandCoverModel,
    classified: str,
    confidence: str | None,
    probabilities: str | None,
    config: PredictionConfig,
    hooks: Hooks,
    runner: WindowRunner | None = None,
) -> PredictionResult:
    """Classify and write a .qml beside each output so QGIS opens them styled.

    ``runner``: who classifies the windows, see :func:`~...core.prediction.classify_raster`.
    """
    for path in (classified, confidence, probabilities):
        if path and Path(path).suffix.lower() not in (".tif", ".tiff"):
            raise QgsProcessingException(f"Output '{path}' must be a GeoTIFF (.tif).")
    try:
        # One stage: the rasters and their .qml styles are moved into place together.
        with OutputStage() as stage:
            result = classify_raster(raster, model, classified, confidence, probabilities,
                                     config, hooks, stage=stage, runner=runner)  # fmt: skip
            # Layers made here are never added to the project (worker thread): they only
            # write the styles beside the staged rasters, and are released before the commit.
            layer = QgsRasterLayer(str(stage.part_of(result.classified)), "classified")
            style_classified(layer, model.classes)
            save_style_beside(layer)
            del layer
            if result.confidence:
                conf = QgsRasterLayer(str(stage.part_of(result.confidence)), "confidence")
                style_confidence(conf)
                save_style_beside(conf)
                del conf
    except LandCoverError as exc:  # CancelledError included
        raise QgsProcessingException(str(exc)) from exc
    return result


def classify_on_cluster(
    scheduler: str,
    model_path: str,
    raster: str,
    model: LandCoverModel,
    classified: str,
    confidence: str | None,
    probabilities: str | None,
    config: PredictionConfig,
    hooks: Hooks,
) -> PredictionResult:
    """:func:`classify_and_style` with the windows classified by the workers of a Dask cluster.

    The workers of the Dask scheduler at ``scheduler`` read the model from ``model_path``;
    this process writes the outputs. Imports dask (its absence is a sentence with the install
    command).
    """
    from ...core.distributed import DaskRunner, dask_client

    try:
        with dask_client(scheduler) as client:
            runner = DaskRunner(client, model_path, config)
            return classify_and_style(raster, model, classified, confidence, probabilities,
                                      config, hooks, runner)  # fmt: skip
    except LandCoverError as exc:
        raise QgsProcessingException(str(exc)) from exc


class StyleWhenLoaded(QgsProcessingLayerPostProcessorInterface):
    """Styles an output raster once Processing has added it to the project.

    QGIS loads a Processing output without the ``.qml`` written beside it (a confidence
    raster came with a min-max grey stretch such as 0.215-0.9999), then hands the loaded
    layer to the post-processor of its details (:func:`style_when_loaded`).
    """

    def __init__(self, style: Callable[[QgsRasterLayer], None]) -> None:
        """Keep ``style``, the function that styles the loaded raster layer."""
        super().__init__()
        self.style = style

    def postProcessLayer(  # noqa: N802 - QGIS virtual
        self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        """Apply the style to ``layer`` when it is a valid raster layer."""
        if isinstance(layer, QgsRasterLayer) and layer.isValid():
            self.style(layer)


#: Python references to the post-processors handed to QGIS, by output path: the context owns
#: the C++ object, but a Python subclass collected by Python loses its postProcessLayer.
_POST_PROCESSORS: dict[str, StyleWhenLoaded] = {}


def style_when_loaded(
    context: QgsProcessingContext, path: str, name: str, style: Callable[[QgsRasterLayer], None]
) -> StyleWhenLoaded | None:
    """Name the output ``path`` and have ``style`` applied once Processing loads it.

    Applied when Processing loads it into the project (nothing when it is not loaded on
    completion).

    Returns:
        The post-processor set on the layer's details, or None.
    """
    if not context.willLoadLayerOnCompletion(path):
        return None
    details = context.layerToLoadOnCompletionDetails(path)
    details.name = name
    processor = StyleWhenLoaded(style)
    _POST_PROCESSORS[path] = processor
    details.setPostProcessor(processor)
    return processor
