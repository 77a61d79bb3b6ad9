"""The class layer as QGIS draws it: every class opaque in its colour, nodata transparent, also
nodata 255 of a map whose class 0 is a real class; with the style the plugin applies, again
from the .qml it saves beside the raster, and from the GeoTIFF's own palette (no .qml)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsRasterLayer
from qgis.PyQt.QtGui import QColor

from landcover_mlp.core.classes import ClassInfo, output_encoding
from landcover_mlp.core.prediction import style_class_band
from landcover_mlp.plugin.styling import load_classified_layer

pytestmark = pytest.mark.qgis_tier

COLOURS = ("#1f78b4", "#33a02c", "#e31a1c")


def drawn(layer: QgsRasterLayer, width: int, height: int) -> list[list[str]]:
    """The layer's renderer output, pixel by pixel, as "#aarrggbb"."""
    image = layer.renderer().block(1, layer.extent(), width, height).image()
    return [
        [QColor.fromRgba(image.pixel(c, r)).name(QColor.NameFormat.HexArgb) for c in range(width)]
        for r in range(height)
    ]


@pytest.mark.parametrize("values", [(1, 2, 3), (0, 1, 2)], ids=["nodata_0", "class_0_is_real"])
def test_classes_are_drawn_and_nodata_is_transparent(
    values: tuple[int, ...], make_raster: Any, tmp_path: Path
) -> None:
    classes = tuple(ClassInfo(v, n, c) for v, n, c in zip(values, ("water", "forest", "urban"),
                                                           COLOURS))  # fmt: skip
    dtype, nodata = output_encoding(classes)
    assert dtype == "Byte" and nodata == (0 if values[0] else 255)
    mapped = np.full((3, 4), nodata, dtype=np.uint8)  # columns 2-3: nodata
    for row, value in enumerate(values):
        mapped[row, :2] = value
    path = make_raster(tmp_path / "classes.tif", mapped, nodata=nodata, block=None)
    ds = gdal.Open(str(path), gdal.GA_Update)
    style_class_band(ds.GetRasterBand(1), classes, nodata)
    ds = None
    bare = tmp_path / "bare"  # the same file without the plugin's .qml beside it
    bare.mkdir()
    shutil.copy(path, bare / path.name)
    shutil.copy(f"{path}.aux.xml", bare / f"{path.name}.aux.xml")

    expected = [["#ff" + colour[1:]] * 2 + ["#00000000"] * 2 for colour in COLOURS]
    styled = load_classified_layer(path, classes)
    assert path.with_suffix(".qml").is_file()
    again = QgsRasterLayer(str(path), "again")  # QGIS reads the .qml beside the raster
    palette_only = QgsRasterLayer(str(bare / path.name), "bare")
    for layer in (styled, again, palette_only):
        assert layer.isValid() and layer.renderer().type() == "paletted", layer.name()
        assert drawn(layer, 4, 3) == expected, layer.name()
