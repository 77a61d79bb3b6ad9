"""QGIS layers to file paths the core can read (the core sees files, never layers).

Main thread only: exporting a layer reads its features through QGIS.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qgis.core import (
    QgsProject,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsVectorFileWriter,
    QgsVectorLayer,
)

from ..core.errors import LandCoverError


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
