"""Mapped area of each class of a class raster: pixel counts and hectares, block by block.

A projected CRS gives every pixel the same area (the geotransform's 2x2 determinant in the CRS's
unit of length, in metres); a geographic CRS gives each row of pixels its own area on the
ellipsoid (Snyder 1987's authalic formula); without a CRS the areas stay in pixels. These areas
weight the strata of :mod:`.area_estimation`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from osgeo import gdal, osr

from .callbacks import Hooks
from .errors import LandCoverError
from .raster import RasterInfo, iter_windows, open_raster, raster_info, read_window

osr.UseExceptions()

Floats = npt.NDArray[np.float64]


class MappedAreas(NamedTuple):
    """Pixels and areas of each value of a class raster (nodata left out).

    Attributes:
        pixels: pixel count per class value.
        hectares: area in hectares per class value; None when the raster has no CRS (or a
            CRS without a known unit of length).
        unit_note: one sentence saying how the areas were found (or why they are in pixels).
    """

    pixels: dict[int, int]
    hectares: dict[int, float] | None
    unit_note: str


def ellipsoid_cell_area(
    lat1: npt.ArrayLike, lat2: npt.ArrayLike, dlon: float, semi_major: float, inv_flattening: float
) -> Floats:
    """Area on the ellipsoid of cells between two latitudes, in m^2.

    The authalic formula of Snyder (1987, eq. 3-12), (a^2 (1-e^2) dlon / 2) [q(phi)] from
    lat1 to lat2 with
    q(phi) = sin(phi)/(1 - e^2 sin^2(phi)) + ln((1 + e sin(phi))/(1 - e sin(phi))) / (2e);
    a sphere (``inv_flattening`` 0) gives a^2 dlon (sin(lat2) - sin(lat1)).

    Args:
        lat1: southern or northern edge of each cell, radians (any shape).
        lat2: the other edge, radians (broadcast against ``lat1``).
        dlon: the cells' width in longitude, radians.
        semi_major: the ellipsoid's semi-major axis a, metres.
        inv_flattening: the ellipsoid's inverse flattening 1/f (0: a sphere).

    Returns:
        Areas (>= 0), float64 with the broadcast shape of lat1 and lat2.
    """
    f = 1.0 / inv_flattening if inv_flattening else 0.0
    e2 = f * (2.0 - f)
    e = math.sqrt(e2)

    def q(lat: npt.ArrayLike) -> Floats:
        s: Floats = np.sin(np.clip(np.asarray(lat, dtype=np.float64), -np.pi / 2, np.pi / 2))
        # (numpy 1.24's stubs type a float times an array as Any: hence the typed names)
        if e == 0.0:
            sphere: Floats = 2.0 * s
            return sphere
        spheroid: Floats = s / (1.0 - e2 * s * s) + np.log((1.0 + e * s) / (1.0 - e * s)) / (
            2.0 * e
        )
        return spheroid

    area: Floats = np.abs(semi_major**2 * (1.0 - e2) * dlon / 2.0 * (q(lat2) - q(lat1)))
    return area


def _area_rule(ds: gdal.Dataset, info: RasterInfo) -> tuple[float | Floats | None, str]:
    """The area rule of the raster's pixels, with the sentence saying which.

    Hectares of one pixel (projected CRS), of each row's pixels (geographic CRS, shape
    (rows,)), or None (no CRS).

    Raises:
        LandCoverError: a rotated grid in a geographic CRS.
    """
    name = Path(info.path).name
    pixels = f"Areas are in pixels: '{name}' has no "
    if ds.GetGeoTransform(can_return_null=True) is None:
        return None, pixels + "geotransform, so the size of its pixels on the ground is unknown."
    if not info.crs_wkt:
        return None, pixels + "CRS, so the size of its pixels on the ground is unknown."
    srs = osr.SpatialReference()
    srs.ImportFromWkt(info.crs_wkt)
    x0, a, b, y0, d, e = info.geotransform
    crs = srs.GetName() or "unnamed CRS"
    if srs.IsLocal():  # e.g. "Pixel grid, 1 unit = 1 pixel (no georeferencing)", in "metre"
        return None, pixels + (
            f"projected or geographic CRS, only a local one ({crs}), whose units may not be "
            "lengths on the ground."
        )
    if srs.IsProjected():
        metres = srs.GetLinearUnits()
        m2 = abs(a * e - b * d) * metres**2  # a rotated pixel is a parallelogram
        return m2 / 1e4, (
            f"Areas in hectares from the projected CRS of '{name}' ({crs}): {m2:,.6g} m^2 per "
            "pixel."
        )
    if not srs.IsGeographic():
        return None, pixels + f"projected or geographic CRS ({crs}) to measure areas in."
    if b or d:
        raise LandCoverError(
            f"'{name}' is in a geographic CRS on a rotated grid: warp it to a north-up grid "
            "(gdalwarp) to measure class areas on the ellipsoid."
        )
    radians = srs.GetAngularUnits()
    rows = np.arange(info.height + 1, dtype=np.float64)
    edges = (y0 + rows * e) * radians
    m2_rows = ellipsoid_cell_area(edges[:-1], edges[1:], abs(a) * radians,
                                  srs.GetSemiMajor(), srs.GetInvFlattening())  # fmt: skip
    return m2_rows / 1e4, (
        f"Areas in hectares on the ellipsoid of the geographic CRS of '{name}' ({crs}): each "
        "row's pixels get their own area (authalic formula, Snyder 1987)."
    )


def _tally(values: npt.NDArray[np.int64], weights: Floats | None) -> tuple[Any, Any, Any]:
    """Distinct values, their counts and their summed weights (None without weights)."""
    if values.size and values.min() >= 0 and values.max() <= 65_535:  # bincount is faster
        counts = np.bincount(values)
        found = np.flatnonzero(counts)
        sums = None if weights is None else np.bincount(values, weights)[found]
        return found, counts[found], sums
    found, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = None if weights is None else np.bincount(inverse.ravel(), weights, found.size)
    return found, counts, sums


def mapped_areas(
    classified: str | Path,
    nodata: float | None,
    hooks: Hooks | None = None,
    max_pixels: int = 4_000_000,
) -> MappedAreas:
    """Pixels and hectares of each class value of a class raster, read block by block.

    A projected CRS gives each pixel |det| of the geotransform's 2x2 part in the CRS's unit
    of length, converted to metres (rotated grids included); a geographic CRS gives the
    pixels of each row their area on the CRS's ellipsoid (:func:`ellipsoid_cell_area`); no
    CRS (or no geotransform) gives areas in pixels only.

    Args:
        classified: class raster (band 1 holds integer class values).
        nodata: value of band 1 that is no data (None = none); NaN and the raster's own
            mask are no data too.
        hooks: progress and cancel, polled once per block.
        max_pixels: pixels read at once (memory bound: ~20 bytes each).

    Returns:
        Pixel counts, hectares (None without a CRS) and the sentence on the unit.

    Raises:
        LandCoverError: unreadable raster, a geographic CRS on a rotated grid.
        CancelledError: the user cancelled.
    """
    hooks = hooks or Hooks()
    ds = open_raster(classified)
    info = raster_info(ds)
    rule, note = _area_rule(ds, info)
    pixels: dict[int, int] = {}
    hectares: dict[int, float] = {}
    windows = list(iter_windows(info, max_pixels))
    for done, w in enumerate(windows, 1):
        hooks.check()
        data, valid = read_window(ds, (1,), w, (nodata,))
        values = data[0][valid].astype(np.int64)
        weights = None
        if isinstance(rule, np.ndarray):
            rows = rule[w.yoff : w.yoff + w.ysize, None]
            weights = np.broadcast_to(rows, valid.shape)[valid]
        found, counts, sums = _tally(values, weights)
        for i, (v, c) in enumerate(zip(found.tolist(), counts.tolist())):
            pixels[v] = pixels.get(v, 0) + int(c)
            if sums is not None:
                hectares[v] = hectares.get(v, 0.0) + float(sums[i])
        hooks.progress(100.0 * done / len(windows))
    pixels = dict(sorted(pixels.items()))
    if rule is None:
        return MappedAreas(pixels, None, note)
    if isinstance(rule, float):
        return MappedAreas(pixels, {v: c * rule for v, c in pixels.items()}, note)
    return MappedAreas(pixels, {v: hectares[v] for v in pixels}, note)
