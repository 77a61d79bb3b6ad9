"""QGIS API names that moved between QGIS 3.22 and QGIS 4, resolved once for the running QGIS.

From 3.30 to 3.42 QGIS moved many enums from their class to the ``Qgis`` namespace
(``QgsProcessing.TypeVectorPolygon`` became ``Qgis.ProcessingSourceType.VectorPolygon`` in
3.36). The new names do not exist on 3.22, and QGIS 4 (Qt 6) no longer promises the old ones,
so the plugin names each such value once here: the new name when the running QGIS has it, else
the 3.22 name. Everything else in the plugin uses scoped Qt and ``Qgis`` enums directly
(``Qt.ItemDataRole.UserRole``, ``Qgis.MessageLevel.Warning``), which work on 3.22 through 4.x;
``tests/qgis/qt6_forms.py`` fails the test suite on any other form.
"""

from __future__ import annotations

from dataclasses import dataclass

from qgis import core, gui


@dataclass(frozen=True)
class Moved:
    """An API value under its new and its 3.22 name.

    Attributes:
        new: dotted name in ``qgis.core`` / ``qgis.gui`` of QGIS >= ``since``.
        old: the scoped dotted name on QGIS 3.22.
        since: ``Qgis.QGIS_VERSION_INT`` of the release that introduced ``new``.
    """

    new: str
    old: str
    since: int


def lookup(dotted: str) -> object | None:
    """The object a dotted name in ``qgis.core`` / ``qgis.gui`` names, or None when absent."""
    head, *rest = dotted.split(".")
    obj = getattr(core, head, None)
    if obj is None:
        obj = getattr(gui, head, None)
    for part in rest:
        if obj is None:
            return None
        obj = getattr(obj, part, None)
    return obj


def resolve(moved: Moved) -> object:
    """The value of ``moved`` on the running QGIS: the new name first, else the old one.

    Raises:
        AttributeError: when this QGIS has neither name (a QGIS that dropped the old name
            before adding the new one, which QGIS's deprecation policy excludes).
    """
    for name in (moved.new, moved.old):
        value = lookup(name)
        if value is not None:
            return value
    raise AttributeError(
        f"Neither {moved.new} nor {moved.old} exists in QGIS {core.Qgis.QGIS_VERSION}."
    )


#: Every moved name the plugin (and its tests) use, keyed by the constant below.
MOVED: dict[str, Moved] = {
    "SOURCE_VECTOR_POLYGON": Moved(
        "Qgis.ProcessingSourceType.VectorPolygon",
        "QgsProcessing.SourceType.TypeVectorPolygon",
        33600,
    ),
    "SOURCE_VECTOR_POINT": Moved(
        "Qgis.ProcessingSourceType.VectorPoint",
        "QgsProcessing.SourceType.TypeVectorPoint",
        33600,
    ),
    "PARAMETER_ADVANCED": Moved(
        "Qgis.ProcessingParameterFlag.Advanced",
        "QgsProcessingParameterDefinition.Flag.FlagAdvanced",
        33600,
    ),
    "PARAMETER_OPTIONAL": Moved(
        "Qgis.ProcessingParameterFlag.Optional",
        "QgsProcessingParameterDefinition.Flag.FlagOptional",
        33600,
    ),
    "FIELD_ANY": Moved(
        "Qgis.ProcessingFieldParameterDataType.Any",
        "QgsProcessingParameterField.DataType.Any",
        33600,
    ),
    "NUMBER_INTEGER": Moved(
        "Qgis.ProcessingNumberParameterType.Integer",
        "QgsProcessingParameterNumber.Type.Integer",
        33600,
    ),
    "NUMBER_DOUBLE": Moved(
        "Qgis.ProcessingNumberParameterType.Double",
        "QgsProcessingParameterNumber.Type.Double",
        33600,
    ),
    "LAYER_FILTER_RASTER": Moved(
        "Qgis.LayerFilter.RasterLayer", "QgsMapLayerProxyModel.Filter.RasterLayer", 33400
    ),
    "LAYER_FILTER_POLYGON": Moved(
        "Qgis.LayerFilter.PolygonLayer", "QgsMapLayerProxyModel.Filter.PolygonLayer", 33400
    ),
    "GEOMETRY_POLYGON": Moved(
        "Qgis.GeometryType.Polygon", "QgsWkbTypes.GeometryType.PolygonGeometry", 33000
    ),
    "RANGE_LIMIT_CUMULATIVE_CUT": Moved(
        "Qgis.RasterRangeLimit.CumulativeCut", "QgsRasterMinMaxOrigin.Limits.CumulativeCut", 34200
    ),
}

SOURCE_VECTOR_POLYGON = resolve(MOVED["SOURCE_VECTOR_POLYGON"])
SOURCE_VECTOR_POINT = resolve(MOVED["SOURCE_VECTOR_POINT"])
PARAMETER_ADVANCED = resolve(MOVED["PARAMETER_ADVANCED"])
PARAMETER_OPTIONAL = resolve(MOVED["PARAMETER_OPTIONAL"])
FIELD_ANY = resolve(MOVED["FIELD_ANY"])
NUMBER_INTEGER = resolve(MOVED["NUMBER_INTEGER"])
NUMBER_DOUBLE = resolve(MOVED["NUMBER_DOUBLE"])
LAYER_FILTER_RASTER = resolve(MOVED["LAYER_FILTER_RASTER"])
LAYER_FILTER_POLYGON = resolve(MOVED["LAYER_FILTER_POLYGON"])
GEOMETRY_POLYGON = resolve(MOVED["GEOMETRY_POLYGON"])
RANGE_LIMIT_CUMULATIVE_CUT = resolve(MOVED["RANGE_LIMIT_CUMULATIVE_CUT"])
