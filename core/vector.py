"""Polygon input: open, check the class field, reproject and rasterise one polygon at a time.

Any OGR source is opened; polygons are reprojected to the raster grid and each is rasterised
onto its own window of the grid.

Rasterising polygon by polygon keeps memory bounded by the largest polygon (itself tiled),
never by the raster.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from osgeo import gdal, ogr, osr

from .errors import LandCoverError
from .raster import RasterInfo, Window

ogr.UseExceptions()

_TILE_PIXELS = 4_000_000  # a polygon window larger than this is rasterised tile by tile
#: ... and one with more pixels x raster bands than this: a tile's band values (read whole by
#: sampling) stay near 80 MB in 16 bits however many bands the raster has.
_TILE_VALUES = 40_000_000


def tile_pixels(band_count: int) -> int:
    """The most pixels of one polygon tile for a raster of ``band_count`` bands."""
    return min(_TILE_PIXELS, max(4096, _TILE_VALUES // max(1, band_count)))


_INT_TYPES = (ogr.OFTInteger, ogr.OFTInteger64)
_COLOUR_FIELDS = ("colour", "color")


@dataclass(frozen=True)
class PolygonPixels:
    """The pixels of one polygon inside one window of the raster grid."""

    fid: int
    raw_class: object
    colour: str | None
    window: Window
    mask: npt.NDArray[np.bool_]  # (rows, cols): pixel belongs to the polygon


@dataclass(frozen=True)
class PolygonSource:
    """An open polygon layer with its class field checked."""

    dataset: ogr.DataSource
    layer: ogr.Layer
    class_field: str
    is_text: bool
    colour_field: str | None

    @property
    def name(self) -> str:
        """Layer name for messages."""
        return str(self.layer.GetName())


#: Geometry types that cover an area.
_POLYGON_TYPES = (ogr.wkbPolygon, ogr.wkbMultiPolygon, ogr.wkbCurvePolygon, ogr.wkbMultiSurface)


def _other_geometries(lyr: ogr.Layer) -> str | None:
    """The refusal when a layer of generic geometry type holds features that are not polygons.

    E.g. a GeoPackage layer of type GEOMETRY with points; the refusal gives the count of each
    geometry type found; None when all are polygons. Sampling would otherwise take the few
    pixels under them without a word, where a Point layer is refused.
    """
    counts: dict[int, int] = {}
    lyr.ResetReading()
    feature = lyr.GetNextFeature()
    while feature is not None:
        geom = feature.GetGeometryRef()
        if geom is not None and not geom.IsEmpty():  # empty ones: skipped by sampling
            kind = ogr.GT_Flatten(geom.GetGeometryType())
            counts[kind] = counts.get(kind, 0) + 1
        geom = None  # owned by the feature: never outlive it
        feature = lyr.GetNextFeature()
    lyr.ResetReading()
    if all(kind in _POLYGON_TYPES for kind in counts):
        return None
    found = ", ".join(
        f"{n} {ogr.GeometryTypeToName(kind).lower()}{'s' if n > 1 else ''}"
        for kind, n in sorted(counts.items(), key=lambda item: -item[1])
    )
    return (
        f"Layer '{lyr.GetName()}' holds {found}: training and reference areas must all be "
        "polygons (points are accuracy samples, not training areas). Keep only the polygons, "
        "e.g. with Vector > Geometry Tools or a filter on the geometry type."
    )


def open_polygons(path: str | Path, class_field: str, layer: str | None = None) -> PolygonSource:
    """Open a polygon layer and check its class field.

    Raises:
        LandCoverError: missing file, no polygon layer, or no such class field.
    """
    path = str(path)
    if not Path(path).exists() and "/vsi" not in path and ":" not in path[2:]:
        raise LandCoverError(f"Polygon file '{path}' does not exist: check the path.")
    try:
        ds = ogr.Open(path, 0)
    except RuntimeError as exc:
        raise LandCoverError(
            f"Cannot open polygons '{path}' ({exc}); choose a GeoPackage, shapefile or GeoJSON."
        ) from exc
    if ds is None or ds.GetLayerCount() == 0:
        raise LandCoverError(f"'{path}' holds no vector layer: choose a polygon layer.")
    if layer:
        lyr = ds.GetLayerByName(layer)
    else:  # the one layer with geometries (a GeoPackage may also hold tables: layer_styles)
        spatial = [ds.GetLayer(i) for i in range(ds.GetLayerCount())]
        spatial = [x for x in spatial if x.GetGeomType() != ogr.wkbNone] or spatial[:1]
        if len(spatial) > 1:
            count, listed = len(spatial), ", ".join(f"'{x.GetName()}'" for x in spatial)
            spatial = []
            ds = None  # closed now, not whenever the traceback is collected
            raise LandCoverError(
                f"'{path}' holds {count} layers ({listed}): say which one holds the polygons "
                "(on the command line --layer, or --validation-layer for validation polygons; "
                "in QGIS, choose the layer)."
            )
        lyr = spatial[0]
    if lyr is None:
        names = [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())]
        raise LandCoverError(f"'{path}' has no layer '{layer}'; its layers are {names}.")
    flat = ogr.GT_Flatten(lyr.GetGeomType())
    if flat == ogr.wkbNone:
        raise LandCoverError(
            f"Layer '{lyr.GetName()}' is a table without geometries: choose the polygon layer."
        )
    if flat not in (*_POLYGON_TYPES, ogr.wkbUnknown):
        raise LandCoverError(
            f"Layer '{lyr.GetName()}' holds {ogr.GeometryTypeToName(flat).lower()}s, not "
            "polygons: draw training areas as polygons."
        )
    if flat in (*_POLYGON_TYPES, ogr.wkbUnknown):  # what the features are decides: a file
        problem = _other_geometries(lyr)  # may hold other types than its layer declares
        if problem:
            lyr = ds = None  # closed now, not whenever the traceback is collected
            raise LandCoverError(problem)
    defn = lyr.GetLayerDefn()
    fields = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    if class_field not in fields:
        raise LandCoverError(
            f"Layer '{lyr.GetName()}' has no field '{class_field}'; choose one of: "
            f"{', '.join(fields) or '(no fields)'}."
        )
    ftype = defn.GetFieldDefn(fields.index(class_field)).GetType()
    if ftype not in (*_INT_TYPES, ogr.OFTString, ogr.OFTReal):
        raise LandCoverError(
            f"Class field '{class_field}' must hold whole numbers or text; choose another field."
        )
    colour_field = next((f for f in fields if f.lower() in _COLOUR_FIELDS), None)
    return PolygonSource(ds, lyr, class_field, ftype == ogr.OFTString, colour_field)


def _transform_to(
    source: PolygonSource, info: RasterInfo, log: list[str]
) -> osr.CoordinateTransformation | None:
    vec_srs = source.layer.GetSpatialRef()
    if not info.crs_wkt or vec_srs is None:
        if bool(info.crs_wkt) != (vec_srs is not None):
            log.append(
                f"Layer '{source.name}' or the raster has no CRS; coordinates are assumed to "
                "be in the raster's CRS."
            )
        return None
    ras_srs = osr.SpatialReference()
    ras_srs.ImportFromWkt(info.crs_wkt)
    for srs in (ras_srs, vec_srs):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    if vec_srs.IsSame(ras_srs):
        return None
    log.append(
        f"Layer '{source.name}' is in {vec_srs.GetName()}; it is reprojected to the raster's "
        f"{ras_srs.GetName()}."
    )
    try:
        return osr.CoordinateTransformation(vec_srs, ras_srs)
    except RuntimeError as exc:
        raise LandCoverError(
            f"Cannot reproject '{source.name}' from {vec_srs.GetName()} to the raster's CRS "
            f"({exc}); reproject the polygons first."
        ) from exc


def _pixel_window(geom: ogr.Geometry, info: RasterInfo) -> Window | None:
    gt = info.geotransform
    if gt[2] != 0 or gt[4] != 0:
        raise LandCoverError("Rotated rasters are not supported: warp the raster to north-up.")
    minx, maxx, miny, maxy = geom.GetEnvelope()
    cols = sorted(((minx - gt[0]) / gt[1], (maxx - gt[0]) / gt[1]))
    rows = sorted(((miny - gt[3]) / gt[5], (maxy - gt[3]) / gt[5]))
    x0, x1 = max(0, math.floor(cols[0])), min(info.width, math.ceil(cols[1]) + 1)
    y0, y1 = max(0, math.floor(rows[0])), min(info.height, math.ceil(rows[1]) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    return Window(x0, y0, x1 - x0, y1 - y0)


def _tiles(window: Window, most: int) -> Iterator[Window]:
    """``window`` cut into row strips (column pieces of wide rows) of at most ``most`` pixels."""
    if window.pixels <= most:
        yield window
        return
    rows = max(1, most // window.xsize)
    cols = min(window.xsize, most)
    for y in range(window.yoff, window.yoff + window.ysize, rows):
        for x in range(window.xoff, window.xoff + window.xsize, cols):
            yield Window(
                x,
                y,
                min(cols, window.xoff + window.xsize - x),
                min(rows, window.yoff + window.ysize - y),
            )


def polygons_by_class(source: PolygonSource) -> dict[object, list[int]]:
    """Class value -> feature ids of the polygons holding it, in layer order.

    Polygons without a class are left out.
    """
    out: dict[object, list[int]] = {}
    source.layer.ResetReading()
    for feature in source.layer:
        raw = _raw_class(feature, source)
        if raw is not None:
            out.setdefault(raw, []).append(int(feature.GetFID()))
    source.layer.ResetReading()
    return out


def _raw_class(feature: ogr.Feature, source: PolygonSource) -> object | None:
    if not feature.IsFieldSetAndNotNull(source.class_field):
        return None
    value: object = feature.GetField(source.class_field)
    if source.is_text:
        value = str(value).strip()
        return value or None
    if isinstance(value, float):
        if not value.is_integer():
            raise LandCoverError(
                f"Class field '{source.class_field}' holds {value}; classes must be whole "
                "numbers or text."
            )
        value = int(value)
    return value


def iter_polygon_pixels(
    source: PolygonSource, info: RasterInfo, all_touched: bool, log: list[str]
) -> Iterator[PolygonPixels]:
    """Yield the raster-grid pixels of every polygon, polygon by polygon (tiled when large).

    Polygons without a class, with an empty geometry or outside the raster are skipped and
    counted in ``log``.
    """
    transform = _transform_to(source, info, log)
    mem_vec = ogr.GetDriverByName("Memory").CreateDataSource("poly")
    srs = None
    if info.crs_wkt:
        srs = osr.SpatialReference()
        srs.ImportFromWkt(info.crs_wkt)
    mem_layer = mem_vec.CreateLayer("poly", srs=srs, geom_type=ogr.wkbMultiPolygon)
    mem_drv = gdal.GetDriverByName("MEM")
    options = ["ALL_TOUCHED=TRUE"] if all_touched else []
    gt = info.geotransform
    no_class = outside = 0
    source.layer.ResetReading()
    for feature in source.layer:
        raw = _raw_class(feature, source)
        geom = feature.GetGeometryRef()
        if raw is None:
            no_class += 1
            continue
        if geom is None or geom.IsEmpty():
            outside += 1
            continue
        geom = geom.Clone()
        if geom.HasCurveGeometry():  # arcs (CurvePolygon, MultiSurface): rasterise their chords
            geom = geom.GetLinearGeometry()
        if transform is not None:
            geom.Transform(transform)
        window = _pixel_window(geom, info)
        if window is None:
            outside += 1
            continue
        colour = None
        if source.colour_field:
            colour = feature.GetField(source.colour_field)
        tmp = ogr.Feature(mem_layer.GetLayerDefn())
        tmp.SetGeometry(geom)
        mem_layer.CreateFeature(tmp)
        for tile in _tiles(window, tile_pixels(info.band_count)):
            grid = mem_drv.Create("", tile.xsize, tile.ysize, 1, gdal.GDT_Byte)
            grid.SetGeoTransform(
                (
                    gt[0] + tile.xoff * gt[1],
                    gt[1],
                    0.0,
                    gt[3] + tile.yoff * gt[5],
                    0.0,
                    gt[5],
                )
            )
            gdal.RasterizeLayer(grid, [1], mem_layer, burn_values=[1], options=options)
            mask = grid.GetRasterBand(1).ReadAsArray().astype(bool)
            if mask.any():
                yield PolygonPixels(feature.GetFID(), raw, colour, tile, mask)
        mem_layer.DeleteFeature(tmp.GetFID())
    if no_class:
        log.append(f"{no_class} polygon(s) of '{source.name}' have no class and were skipped.")
    if outside:
        log.append(
            f"{outside} polygon(s) of '{source.name}' lie outside the raster or are empty and "
            "were skipped."
        )
