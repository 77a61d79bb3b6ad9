"""Reference points of an accuracy sample: their map class, stratum and reference class.

``accuracy-sample`` writes them, the user labels them; they are read from a point layer and
the map.

The reference is a class name typed by the user (or a class value in an integer field); an
empty reference leaves the point out and is counted. Points outside the map or on its nodata
are left out with a warning: they are not part of the mapped population.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from osgeo import gdal, ogr, osr

from .classes import ClassInfo
from .errors import LandCoverError
from .raster import RasterInfo, unreadable

ogr.UseExceptions()
osr.UseExceptions()

Ints = npt.NDArray[np.int64]
#: The field ``accuracy-sample`` gives each point's stratum.
STRATUM_FIELD = "stratum"


def is_point_layer(path: str | Path, layer: str | None = None) -> bool:
    """True when ``path`` holds points or multipoints.

    The layer read is ``layer``, else the first layer with geometries. False for polygons,
    rasters and anything OGR cannot open.
    """
    try:
        ds = gdal.OpenEx(str(path), gdal.OF_VECTOR)
    except RuntimeError:
        return False
    if ds is None or ds.GetLayerCount() == 0:
        return False
    if layer:
        lyr = ds.GetLayerByName(layer)
        layers = [lyr] if lyr is not None else []
    else:
        layers = [ds.GetLayer(i) for i in range(ds.GetLayerCount())]
        layers = [x for x in layers if x.GetGeomType() != ogr.wkbNone][:1]
    return bool(layers) and ogr.GT_Flatten(layers[0].GetGeomType()) in (
        ogr.wkbPoint,
        ogr.wkbMultiPoint,
    )


def point_layer_name(path: str | Path, layer: str | None = None) -> str:
    """The name of the point layer :func:`read_sample_points` reads from ``path``."""
    if layer:
        return layer
    ds = gdal.OpenEx(str(path), gdal.OF_VECTOR)
    layers = [ds.GetLayer(i) for i in range(ds.GetLayerCount())]
    names = [x.GetName() for x in layers if x.GetGeomType() != ogr.wkbNone]
    layers = []
    ds = None
    return names[0] if names else ""


@dataclass(frozen=True)
class SamplePoints:
    """The labelled points of an accuracy sample on a map.

    Attributes:
        map_class: (n,) map class value under each labelled point.
        reference: (n,) reference class value of each labelled point.
        stratum: (n,) the ``stratum`` field of each labelled point, or None without one.
        rows, cols: (n,) pixel of each labelled point in the map.
        n_unlabelled: points left out because their reference is empty.
        warnings: points left out for other reasons (outside the map, on nodata), in words.
    """

    map_class: Ints
    reference: Ints
    stratum: Ints | None
    rows: Ints
    cols: Ints
    n_unlabelled: int
    warnings: tuple[str, ...]


def _reference_value(raw: object, by_name: dict[str, int], values: set[int]) -> int | str | None:
    """A point's reference as a class value; None when empty; the text when unknown."""
    if raw is None:
        return None
    if isinstance(raw, (int, np.integer)):  # an integer field: class values
        return int(raw) if int(raw) in values else str(raw)
    text = str(raw).strip()
    if not text:
        return None
    return by_name.get(text, by_name.get(text.casefold(), text))


def read_sample_points(
    path: str | Path,
    class_field: str,
    ds: gdal.Dataset,
    info: RasterInfo,
    classes: tuple[ClassInfo, ...],
    layer: str | None = None,
) -> SamplePoints:
    """The labelled points of ``path`` on the map ``ds``.

    Args:
        path: point layer (GeoPackage, shapefile, ...), e.g. written by ``accuracy-sample``.
        class_field: the field with each point's reference class: a class name of the map
            (matched exactly, else ignoring case) or, in an integer field, a class value.
        ds: the map (class raster), open.
        info: ``raster_info(ds)``.
        classes: the map's classes (names and values).
        layer: the layer inside ``path`` (None = its only layer with geometries).

    Raises:
        LandCoverError: no such field, a reference that is no class of the map, a CRS that
            cannot be converted to the map's, no labelled point on the map.
    """
    records, srs_wkt, has_stratum = _read_features(path, class_field, layer)
    transform = _transform_to(srs_wkt, info, path)
    by_name = {c.name: c.value for c in classes}
    by_name.update({c.name.casefold(): c.value for c in classes})
    values = {c.value for c in classes}
    band = ds.GetRasterBand(1)
    nodata = info.nodata[0]
    inverse = gdal.InvGeoTransform(info.geotransform)
    kept: list[tuple[int, int, int, int, int]] = []  # map, reference, stratum, row, col
    unknown: dict[str, int] = {}
    unlabelled = outside = on_nodata = 0
    for xy, raw, stratum in records:
        if xy is None:
            outside += 1
            continue
        ref = _reference_value(raw, by_name, values)
        if ref is None:
            unlabelled += 1
            continue
        if isinstance(ref, str):
            unknown[ref] = unknown.get(ref, 0) + 1
            continue
        x, y = transform.TransformPoint(*xy)[:2] if transform is not None else xy
        col = int(np.floor(inverse[0] + inverse[1] * x + inverse[2] * y))
        row = int(np.floor(inverse[3] + inverse[4] * x + inverse[5] * y))
        if not (0 <= col < info.width and 0 <= row < info.height):
            outside += 1
            continue
        try:
            value = float(band.ReadAsArray(col, row, 1, 1)[0, 0])
        except RuntimeError as exc:
            raise unreadable(ds, exc) from None
        if nodata is not None and value == nodata:
            on_nodata += 1
            continue
        own = -1 if stratum is None else int(str(stratum))  # an integer field
        kept.append((int(value), ref, own, row, col))
    if unknown:
        listed = ", ".join(f"'{k}' ({n} point{'s' * (n > 1)})" for k, n in sorted(unknown.items()))
        raise LandCoverError(
            f"Reference classes {listed} are not classes of the map "
            f"({', '.join(c.name for c in classes)}): type the map's class names."
        )
    warnings = []
    if outside:
        warnings.append(f"{outside} point(s) outside the map were left out.")
    if on_nodata:
        warnings.append(f"{on_nodata} point(s) on nodata pixels of the map were left out.")
    if not kept:
        raise LandCoverError(
            f"No labelled point of '{Path(path).name}' falls on the map ({unlabelled} with an "
            f"empty '{class_field}'): fill in the reference class of the points."
        )
    table = np.array(kept, dtype=np.int64)
    strata = table[:, 2] if has_stratum else None
    if strata is not None and (strata < 0).any():
        raise LandCoverError(
            f"{int((strata < 0).sum())} labelled point(s) have an empty '{STRATUM_FIELD}' "
            "field: give every point its stratum, or remove the field."
        )
    return SamplePoints(
        map_class=table[:, 0],
        reference=table[:, 1],
        stratum=strata,
        rows=table[:, 3],
        cols=table[:, 4],
        n_unlabelled=unlabelled,
        warnings=tuple(warnings),
    )


def _read_features(
    path: str | Path, class_field: str, layer: str | None
) -> tuple[list[tuple[tuple[float, float] | None, object, object]], str, bool]:
    """Points' (x, y), raw reference and stratum; the layer's CRS; whether it has a stratum field.

    A point's (x, y) is None when it is empty; the CRS is WKT ("" = none).
    The file is closed on return, also when a sentence is raised (GDAL objects freed by a
    traceback in the wrong order crash).
    """
    try:
        src = gdal.OpenEx(str(path), gdal.OF_VECTOR)
    except RuntimeError as exc:
        raise LandCoverError(f"Cannot open the points '{path}' ({exc}).") from None
    lyr = src.GetLayerByName(layer) if layer else None
    if lyr is None:
        spatial = [src.GetLayer(i) for i in range(src.GetLayerCount())]
        lyr = [x for x in spatial if x.GetGeomType() != ogr.wkbNone][0]
        spatial = []
    defn = lyr.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    srs = lyr.GetSpatialRef()
    srs_wkt = srs.ExportToWkt() if srs is not None else ""
    has_stratum = STRATUM_FIELD in names
    records: list[tuple[tuple[float, float] | None, object, object]] = []
    if class_field in names:
        for feature in lyr:
            geom = feature.GetGeometryRef()
            xy = None if geom is None or geom.IsEmpty() else geom.GetPoint_2D(0)
            stratum = feature.GetField(STRATUM_FIELD) if has_stratum else None
            records.append((xy, feature.GetField(class_field), stratum))
        feature = geom = None
    defn = lyr = srs = None
    src = None
    if class_field not in names:
        raise LandCoverError(
            f"'{Path(path).name}' has no field '{class_field}' (fields: {', '.join(names)}): "
            "choose the field with the reference classes."
        )
    return records, srs_wkt, has_stratum


def _transform_to(
    srs_wkt: str, info: RasterInfo, path: str | Path
) -> osr.CoordinateTransformation | None:
    """The transformation of the points' CRS to the map's, or None.

    None when they are the same (or either has none).
    """
    if not srs_wkt or not info.crs_wkt:
        return None
    srs = osr.SpatialReference()
    srs.ImportFromWkt(srs_wkt)
    target = osr.SpatialReference()
    target.ImportFromWkt(info.crs_wkt)
    if srs.IsSame(target):
        return None
    for s in (srs, target):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    try:
        return osr.CoordinateTransformation(srs, target)
    except RuntimeError as exc:
        raise LandCoverError(
            f"The CRS of '{Path(path).name}' cannot be converted to the map's ({exc}): "
            "reproject the points to the map's CRS."
        ) from exc


def values_at(ds: gdal.Dataset, rows: Ints, cols: Ints) -> Ints:
    """The first band's value at each (row, col) of ``ds`` (one pixel read per point)."""
    band = ds.GetRasterBand(1)
    out = np.empty(rows.size, dtype=np.int64)
    for i, (row, col) in enumerate(zip(rows.tolist(), cols.tolist())):
        try:
            out[i] = int(band.ReadAsArray(int(col), int(row), 1, 1)[0, 0])
        except RuntimeError as exc:
            raise unreadable(ds, exc) from None
    return out
