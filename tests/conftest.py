"""Shared, QGIS-free fixtures: where the real data live and small GDAL/OGR file builders.

Nothing here imports QGIS, Qt or torch, so both the headless tier (tests/core) and the QGIS
tier can use it.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

REPO = Path(__file__).resolve().parents[1]
PLUGINS = REPO / "build" / "plugins"
DATA = REPO.parent / "shared" / "data"

# The package is imported as ``landcover_mlp`` through build/plugins/landcover_mlp -> repo.
if PLUGINS.is_dir() and str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))


def require_data(*relative: str) -> list[Path]:
    """Paths of real data files under ../shared/data; fail loudly when one is missing."""
    paths = [DATA / r for r in relative]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        pytest.fail(
            "Real test data are missing: " + ", ".join(missing) + ". They are expected in "
            f"{DATA} (../shared/data from the repository root); see its README.md.",
            pytrace=False,
        )
    return paths


@dataclass(frozen=True)
class Landsat7:
    """The landsat7_ogt data set (see ../shared/data/landsat7_ogt/PROVENANCE.md)."""

    raster: Path
    raster_2002: Path
    polygons: Path
    author_labels: Path
    bands: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
    # class_id -> (class_name, pixel-centre count, all-touched count)
    classes: tuple[tuple[int, str, int, int], ...] = (
        (1, "forest", 383, 583),
        (2, "water", 16, 24),
        (3, "herbaceous", 145, 223),
        (4, "barren", 106, 173),
        (5, "urban", 68, 97),
    )


@pytest.fixture(scope="session")
def landsat7(tmp_path_factory: pytest.TempPathFactory) -> Landsat7:
    """The real Landsat 7 scene with its 30 hand-drawn polygons, as a copy in a temporary
    folder: QGIS writes statistics into a raster's .aux.xml and opens a GeoPackage for update
    when it loads them, and a test run (as root, whom the files' read-only mode does not stop)
    must never change the shared data."""
    paths = require_data(
        "landsat7_ogt/LE70220491999322EDC01_stack.tif",
        "landsat7_ogt/LE70220492002106EDC00_stack.tif",
        "landsat7_ogt/training_polygons.gpkg",
        "landsat7_ogt/training_labels_author.tif",
    )
    copy = tmp_path_factory.mktemp("data") / "landsat7_ogt"
    shutil.copytree(paths[0].parent, copy)
    raster, raster_2002, polygons, labels = (copy / p.name for p in paths)
    return Landsat7(raster, raster_2002, polygons, labels)


# --------------------------------------------------------------------------------------------
# Builders for small synthetic files (pure GDAL/OGR).

DEFAULT_GT = (500_000.0, 10.0, 0.0, 4_200_000.0, 0.0, -10.0)
DEFAULT_EPSG = 32633


def write_raster(
    path: str | Path,
    array: np.ndarray,
    *,
    geotransform: Sequence[float] = DEFAULT_GT,
    epsg: int | None = DEFAULT_EPSG,
    nodata: float | None = None,
    block: int | None = 16,
    band_names: Sequence[str] | None = None,
    dtype: int | None = None,
) -> Path:
    """Write ``array`` (bands, rows, cols) or (rows, cols) as a GeoTIFF and return its path."""
    path = Path(path)
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[None]
    if dtype is None:
        dtype = gdal.GetDataTypeByName(
            {
                "uint8": "Byte",
                "int16": "Int16",
                "uint16": "UInt16",
                "int32": "Int32",
                "float32": "Float32",
                "float64": "Float64",
            }[arr.dtype.name]
        )
    options = []
    if block:
        options = ["TILED=YES", f"BLOCKXSIZE={block}", f"BLOCKYSIZE={block}"]
    ds = gdal.GetDriverByName("GTiff").Create(
        str(path), arr.shape[2], arr.shape[1], arr.shape[0], dtype, options
    )
    ds.SetGeoTransform(list(geotransform))
    if epsg is not None:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        ds.SetProjection(srs.ExportToWkt())
    for i in range(arr.shape[0]):
        band = ds.GetRasterBand(i + 1)
        band.WriteArray(arr[i])
        if nodata is not None:
            band.SetNoDataValue(nodata)
        if band_names:
            band.SetDescription(band_names[i])
    ds.FlushCache()
    ds = None
    return path


def pixel_rect(
    col0: float,
    row0: float,
    col1: float,
    row1: float,
    geotransform: Sequence[float] = DEFAULT_GT,
) -> str:
    """WKT polygon of a rectangle given in (fractional) pixel coordinates of a north-up grid."""
    gt = geotransform
    x0, x1 = gt[0] + col0 * gt[1], gt[0] + col1 * gt[1]
    y0, y1 = gt[3] + row0 * gt[5], gt[3] + row1 * gt[5]
    return f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


def write_polygons(
    path: str | Path,
    features: Sequence[tuple[str, dict[str, Any]]],
    *,
    epsg: int | None = DEFAULT_EPSG,
    fields: dict[str, int] | None = None,
    layer: str = "training",
    geom_type: int = ogr.wkbPolygon,
) -> Path:
    """Write polygons (WKT, attributes) to a GeoPackage; field types from ``fields`` or values;
    the layer's declared geometry type ``geom_type`` (``ogr.wkbUnknown``: any geometry)."""
    path = Path(path)
    if path.exists():
        path.unlink()
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = None
    if epsg is not None:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
    lyr = ds.CreateLayer(layer, srs=srs, geom_type=geom_type)
    if fields is None:
        fields = {}
        for _, attrs in features:
            for k, v in attrs.items():
                if k not in fields:
                    fields[k] = {
                        int: ogr.OFTInteger,
                        float: ogr.OFTReal,
                        str: ogr.OFTString,
                    }[type(v)]
    for name, ftype in fields.items():
        lyr.CreateField(ogr.FieldDefn(name, ftype))
    for wkt, attrs in features:
        feat = ogr.Feature(lyr.GetLayerDefn())
        feat.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        for k, v in attrs.items():
            if v is None:
                feat.SetFieldNull(k)
            else:
                feat.SetField(k, v)
        lyr.CreateFeature(feat)
    ds = None
    return path


@pytest.fixture(scope="session")
def make_raster() -> Callable[..., Path]:
    """``make_raster(path, array, geotransform=, epsg=, nodata=, block=, band_names=)``."""
    return write_raster


@pytest.fixture(scope="session")
def make_polygons() -> Callable[..., Path]:
    """``make_polygons(path, [(wkt, {field: value}), ...], epsg=, fields=, layer=)``."""
    return write_polygons


@pytest.fixture(scope="session")
def rect() -> Callable[..., str]:
    """``rect(col0, row0, col1, row1, geotransform=DEFAULT_GT)`` -> WKT in map coordinates."""
    return pixel_rect


def rasterize_counts(
    raster: str | Path,
    polygons: str | Path,
    attribute: str,
    all_touched: bool,
    where: str | None = None,
) -> np.ndarray:
    """GDAL's own whole-grid rasterisation of ``attribute`` on a MEM copy of the raster grid."""
    src = gdal.Open(str(raster))
    mem = gdal.GetDriverByName("MEM").Create(
        "", src.RasterXSize, src.RasterYSize, 1, gdal.GDT_Int32
    )
    mem.SetGeoTransform(src.GetGeoTransform())
    mem.SetProjection(src.GetProjection())
    vec = ogr.Open(str(polygons))
    lyr = vec.GetLayer(0)
    lyr.SetAttributeFilter(where)
    options = [f"ATTRIBUTE={attribute}"] + (["ALL_TOUCHED=TRUE"] if all_touched else [])
    assert gdal.RasterizeLayer(mem, [1], lyr, options=options) == 0
    return mem.GetRasterBand(1).ReadAsArray()


@pytest.fixture(scope="session")
def gdal_rasterize() -> Callable[..., np.ndarray]:
    """``gdal_rasterize(raster, polygons, attribute, all_touched, where=None)`` -> label grid."""
    return rasterize_counts
