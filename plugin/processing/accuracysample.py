"""landcover_mlp:accuracysample - a stratified random sample of points for accuracy assessment.

The sample is drawn for an accuracy assessment of a class raster (Olofsson et al. 2014),
styled by map class when loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsMapLayer,
    QgsMarkerSymbol,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingOutputNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
    QgsRendererCategory,
    QgsVectorLayer,
)

from ...core import settings
from ...core.accuracy_sample import FIELDS, make_accuracy_sample, sample_design
from ...core.classes import ClassInfo
from .. import compat
from ..feedback import hooks_from_feedback
from .base import LandCoverAlgorithm, _help, tr
from .jobs import core_call
from .parameters import parameter_for, read_settings

SOURCE_VECTOR_POINT = compat.SOURCE_VECTOR_POINT  # the sample's layer type


def style_sample_points(layer: QgsVectorLayer, classes: Sequence[ClassInfo]) -> None:
    """Make the sample points ready to label.

    A categorised renderer on ``map_class`` in the map's colours and class names, and every
    field but ``reference`` read-only in the attribute form.
    """
    categories = []
    for c in classes:
        symbol = QgsMarkerSymbol.createSimple(
            {"name": "circle", "color": c.colour, "outline_color": "#000000", "size": "2.6"}
        )
        categories.append(QgsRendererCategory(c.value, symbol, c.name))
    layer.setRenderer(QgsCategorizedSymbolRenderer("map_class", categories))
    form = layer.editFormConfig()
    for name in FIELDS:
        index = layer.fields().indexOf(name)
        if index >= 0 and name != "reference":
            form.setReadOnly(index, True)
    layer.setEditFormConfig(form)
    layer.triggerRepaint()


def is_temporary(path: str) -> bool:
    """``path`` lies in QGIS's Processing temporary folder (deleted when QGIS closes)."""
    from qgis.core import QgsProcessingUtils

    try:
        Path(path).resolve().relative_to(Path(QgsProcessingUtils.tempFolder()).resolve())
    except ValueError:
        return False
    return True


class StylePointsWhenLoaded(QgsProcessingLayerPostProcessorInterface):
    """Styles the sample points once Processing has added them to the project.

    The pattern of :class:`.jobs.StyleWhenLoaded`, for a point layer.
    """

    def __init__(self, classes: Sequence[ClassInfo]) -> None:
        """Keep ``classes``, the map classes whose colours and names style the points."""
        super().__init__()
        self.classes = tuple(classes)

    def postProcessLayer(  # noqa: N802 - QGIS virtual
        self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        """Style ``layer`` as sample points to label, when it is a valid vector layer."""
        if isinstance(layer, QgsVectorLayer) and layer.isValid():
            style_sample_points(layer, self.classes)


#: Python references to the post-processors handed to QGIS, by output path: the context owns
#: the C++ object, but a Python subclass collected by Python loses its postProcessLayer.
_POST_PROCESSORS: dict[str, StylePointsWhenLoaded] = {}


class AccuracySampleAlgorithm(LandCoverAlgorithm):
    """Stratified random sample of pixel centres, strata = map classes."""

    SAMPLE = "SAMPLE"
    POINTS = "POINTS"
    NEEDS_TORCH = False  # reads a class raster and writes points: no network

    def name(self) -> str:
        """The algorithm id within the provider (``landcover_mlp:accuracysample``)."""
        return "accuracysample"

    def displayName(self) -> str:  # noqa: N802 - QGIS virtual
        """The translated name shown in the toolbox."""
        return tr("Stratified sample for accuracy assessment")

    def summary(self) -> str:
        """What the algorithm does, the first paragraph of its help."""
        return tr(
            "Draws a stratified random sample of pixel centres from a class raster for an "
            "accuracy assessment and area estimation as Olofsson et al. (2014) recommend: the "
            "map classes are the strata; each class first gets the minimum per class, the rest "
            "of the sample is shared in proportion to mapped area. The sample size is given, "
            "or computed from a target standard error of overall accuracy and the expected "
            "user's accuracies, or 500 by default. The points (GeoPackage) carry sample_id, "
            "map_class, map_class_name, stratum and an empty reference field: label each "
            "point with the class seen on the ground or in high-resolution imagery, then "
            "assess the map with these points."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802
        """Add the parameters (QGIS virtual; ``config`` is unused)."""
        self.addParameter(_help(
            QgsProcessingParameterRasterLayer(self.CLASSIFIED, tr("Classified raster")),
            "The class raster to assess (band 1; nodata pixels are never drawn). Class names "
            "and colours come from its category names and colour table."))  # fmt: skip
        for s in settings.ACCURACY_SAMPLE:
            self.addParameter(parameter_for(s))
        self.addParameter(_help(
            QgsProcessingParameterVectorDestination(self.SAMPLE, tr("Sample points"),
                                                    SOURCE_VECTOR_POINT),
            "Point GeoPackage (.gpkg) to write, in the map's CRS."))  # fmt: skip
        self.addOutput(QgsProcessingOutputNumber(self.POINTS, tr("Points drawn")))

    def processAlgorithm(  # noqa: N802 - QGIS virtual
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Draw the sample and write the points, styled for labelling when loaded.

        Returns:
            The outputs by name: SAMPLE (the points' file) and POINTS (the number drawn).

        Raises:
            QgsProcessingException: no valid classified raster, a value out of range or a
                failed draw or write.
        """
        classified = self.parameterAsRasterLayer(parameters, self.CLASSIFIED, context)
        if classified is None or not classified.isValid():
            raise QgsProcessingException(tr("Choose the classified raster."))
        values = read_settings(self, parameters, context, settings.ACCURACY_SAMPLE)
        design = core_call(sample_design, values)
        output = self.parameterAsOutputLayer(parameters, self.SAMPLE, context)
        result = core_call(make_accuracy_sample, classified.source(), output, design,
                           hooks_from_feedback(feedback))  # fmt: skip
        feedback.pushInfo(f"Stratified random sample: {result.allocation.how}.")
        for line in result.allocation.table():
            feedback.pushInfo(line)
        for warning in result.warnings:
            feedback.pushWarning(warning)
        if is_temporary(output):  # the points are hours of labelling: never lose them
            feedback.pushWarning(
                tr(
                    "The points are in a temporary file that QGIS deletes when it closes: "
                    "give the Sample an output file, or right-click the layer > Make "
                    "Permanent, before you label them."
                )
            )
        if context.willLoadLayerOnCompletion(output):
            details = context.layerToLoadOnCompletionDetails(output)
            details.name = tr("Accuracy sample")
            processor = StylePointsWhenLoaded(result.allocation.classes)
            _POST_PROCESSORS[output] = processor
            details.setPostProcessor(processor)
        return {self.SAMPLE: output, self.POINTS: result.allocation.total}
