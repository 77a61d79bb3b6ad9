"""QGIS layers to file paths the core can read (the core sees files, never layers).

Main thread only: exporting a layer reads its features through QGIS.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFields,
    QgsProject,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsVectorFileWriter,
    QgsVectorLayer,
)

from ..core.errors import LandCoverError

if TYPE_CHECKING:
    from qgis.core import QgsField

#: Field type codes a class field may have (the core reads whole numbers and text): Int,
#: UInt, LongLong, ULongLong and String, the same numbers in Qt 5's QVariant.Type and Qt 6's
#: QMetaType.Type.
_CLASS_TYPES = (2, 3, 4, 5, 10)
_TEXT = 10


def _type_code(field: QgsField) -> int:
    """A field's type as a number, on Qt 5 (an int enum) and Qt 6 (a Python enum)."""
    kind = field.type()
    return int(getattr(kind, "value", kind))


def raster_path(layer: QgsRasterLayer) -> str:
    """The file behind a raster layer.

    Raises:
        LandCoverError: the layer is not a GDAL raster (e.g. a web service).
    """
    if layer.providerType() != "gdal":
        raise LandCoverError(
            f"Raster '{layer.name()}' is not read by GDAL (provider '{layer.providerType()}'): "
            "save it as a GeoTIFF (right-click > Export > Save As...) and choose that layer."
        )
    return layer.source()


def _ogr_file(layer: QgsVectorLayer) -> tuple[str, str | None] | None:
    """(path, layer name) when OGR can read exactly what the layer shows, else None."""
    if layer.providerType() != "ogr" or layer.subsetString():
        return None  # a filter would be lost: the core reads every feature of the file
    if layer.isEditable() and layer.isModified():
        return None  # unsaved edits are only in QGIS
    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    path = parts.get("path") or ""
    if not path or not Path(path).is_file():
        return None
    name = parts.get("layerName")
    return path, (str(name) if name else None)


def polygon_source(
    layer: QgsVectorLayer, temp_folder: Callable[[], Path], stem: str = "polygons"
) -> tuple[str, str | None]:
    """An OGR-readable file and layer name holding the features of ``layer``.

    OGR file layers are used in place; memory layers, other providers, filtered layers and
    layers with unsaved edits are exported to a GeoPackage in ``temp_folder()`` first.

    Raises:
        LandCoverError: the export failed.
    """
    found = _ogr_file(layer)
    if found is not None:
        return found
    target = temp_folder() / f"{stem}.gpkg"
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = stem
    options.fileEncoding = "UTF-8"
    error, message, *_ = QgsVectorFileWriter.writeAsVectorFormatV3(
        layer, str(target), QgsProject.instance().transformContext(), options
    )
    if error != QgsVectorFileWriter.WriterError.NoError:
        raise LandCoverError(
            f"Could not copy layer '{layer.name()}' to a temporary GeoPackage for training "
            f"({message}). Save the layer to a file and choose that layer."
        )
    return str(target), stem


def class_fields(layer: QgsVectorLayer | None) -> QgsFields:
    """The fields that can hold classes: whole numbers or text, never the primary key.

    A GeoPackage's ``fid`` numbers the features, it does not name classes.
    """
    out = QgsFields()
    if layer is None:
        return out
    keys = set(layer.primaryKeyAttributes())
    for i, field in enumerate(layer.fields()):
        if i in keys or field.name().lower() in ("fid", "ogc_fid"):
            continue
        if _type_code(field) in _CLASS_TYPES:
            out.append(field)
    return out


def default_class_field(layer: QgsVectorLayer | None) -> str:
    """The class field to offer first.

    The one the layer's categorised style colours by; else the first field whose values repeat
    (several polygons per class: a field with a different value on every feature numbers
    polygons, like ``id``); else the first text field; else the first; "" when there is none
    (see :func:`class_fields`).
    """
    fields = class_fields(layer)
    names = [fields.at(i).name() for i in range(fields.count())]
    if layer is None or not names:
        return ""
    renderer = layer.renderer()
    if isinstance(renderer, QgsCategorizedSymbolRenderer) and renderer.classAttribute() in names:
        return renderer.classAttribute()
    count = layer.featureCount()
    for name in names:
        if len(layer.uniqueValues(layer.fields().indexOf(name))) < count:
            return name
    texts = [n for n in names if _type_code(fields.at(names.index(n))) == _TEXT]
    return (texts or names)[0]
