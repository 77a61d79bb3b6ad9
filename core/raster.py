"""Raster input: open any GDAL raster, choose bands, mask nodata, read in native blocks.

Reading is always window by window so memory does not grow with the raster size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from osgeo import gdal, gdal_array, osr

from .errors import LandCoverError

gdal.UseExceptions()
osr.UseExceptions()


@dataclass(frozen=True)
class Window:
    """A pixel window of a raster: column/row offset and size."""

    xoff: int
    yoff: int
    xsize: int
    ysize: int

    @property
    def pixels(self) -> int:
        """Number of pixels in the window."""
        return self.xsize * self.ysize


@dataclass(frozen=True)
class RasterInfo:
    """What the core needs to know about an input raster.

    Attributes:
        path: file name (or any GDAL connection string).
        width: columns.
        height: rows.
        band_count: number of bands in the file.
        geotransform: GDAL affine geotransform.
        crs_wkt: CRS as WKT, "" when the raster has none.
        block_size: native (x, y) block size of band 1.
        nodata: per-band nodata value as the band's pixels can hold it (None when unset, or
            when the tagged value cannot occur in the band's data type, see
            :func:`usable_nodata`), index 0 is band 1.
        band_names: per-band description (or "Band N" when empty).
        data_types: per-band GDAL data type name.
        nodata_tags: per-band nodata value as tagged in the file (None when unset).
    """

    path: str
    width: int
    height: int
    band_count: int
    geotransform: tuple[float, ...]
    crs_wkt: str
    block_size: tuple[int, int]
    nodata: tuple[float | None, ...]
    band_names: tuple[str, ...]
    data_types: tuple[str, ...]
    nodata_tags: tuple[float | None, ...] = ()


def open_raster(path: str | Path) -> gdal.Dataset:
    """Open a raster read-only with a clear error when it cannot be read.

    Args:
        path: raster file name or GDAL connection string.

    Returns:
        The open GDAL dataset.

    Raises:
        LandCoverError: the file is missing or not a raster GDAL can read.
    """
    path = str(path)
    if not path:
        raise LandCoverError("No raster was given: choose the image to classify.")
    try:
        ds = gdal.Open(path, gdal.GA_ReadOnly)
    except RuntimeError as exc:
        if not Path(path).exists() and "/vsi" not in path and ":" not in path[2:]:
            raise LandCoverError(f"Raster '{path}' does not exist: check the path.") from exc
        raise LandCoverError(
            f"GDAL cannot open '{path}' as a raster ({exc}); choose a GeoTIFF or another "
            "GDAL-readable image."
        ) from exc
    if ds is not None and ds.RasterCount == 0 and ds.GetSubDatasets():
        subs = ds.GetSubDatasets()
        shown = "; ".join(name for name, _ in subs[:5]) + ("; ..." if len(subs) > 5 else "")
        raise LandCoverError(
            f"'{path}' holds {len(subs)} rasters (subdatasets), not one: give the one to use, "
            f"e.g. {subs[0][0]} (all: {shown})."
        )
    if ds is None or ds.RasterCount == 0:
        raise LandCoverError(f"'{path}' has no raster bands: choose a multi-band image.")
    return ds


def raster_info(ds_or_path: gdal.Dataset | str | Path) -> RasterInfo:
    """Describe a raster (size, grid, CRS, blocks, nodata, band names)."""
    ds = ds_or_path if isinstance(ds_or_path, gdal.Dataset) else open_raster(ds_or_path)
    _refuse_point_georeferencing(ds)
    bands = [ds.GetRasterBand(i + 1) for i in range(ds.RasterCount)]
    names = tuple((b.GetDescription() or f"Band {i + 1}") for i, b in enumerate(bands))
    tags = tuple(b.GetNoDataValue() for b in bands)
    return RasterInfo(
        path=ds.GetDescription(),
        width=ds.RasterXSize,
        height=ds.RasterYSize,
        band_count=ds.RasterCount,
        geotransform=tuple(ds.GetGeoTransform()),
        crs_wkt=ds.GetProjection() or "",
        block_size=tuple(bands[0].GetBlockSize()),
        nodata=tuple(usable_nodata(v, b.DataType) for v, b in zip(tags, bands)),
        band_names=names,
        data_types=tuple(gdal.GetDataTypeName(b.DataType) for b in bands),
        nodata_tags=tags,
    )


def _refuse_point_georeferencing(ds: gdal.Dataset) -> None:
    """Stop on a raster placed by ground control points or RPCs instead of a grid.

    Such a raster (a level-1 satellite product) has pixels with no map coordinates until
    warped, so polygons would be matched to the wrong pixels (or none) and the map would have
    no place on the ground.

    Raises:
        LandCoverError: saying to warp it first.
    """
    if ds.GetGeoTransform(can_return_null=True) is not None:
        return
    if ds.GetGCPCount():
        kind = f"{ds.GetGCPCount()} ground control points (GCPs)"
    elif ds.GetMetadata("RPC"):
        kind = "rational polynomial coefficients (RPCs)"
    else:
        return  # a plain pixel grid (no georeferencing at all): used as it is
    raise LandCoverError(
        f"'{Path(ds.GetDescription()).name}' is placed on the ground by {kind}, not by a grid: "
        "warp it to a grid first (Raster > Projections > Warp (Reproject), or gdalwarp), then "
        "train and classify on the warped raster."
    )


def usable_nodata(value: float | None, data_type: int) -> float | None:
    """The nodata value ``value`` as pixels of GDAL type ``data_type`` can hold it, or None.

    None when they cannot hold it.

    A value outside an integer type's range or with a fraction (-1 or 2.5 on a Byte band,
    -9999 on UInt16), or beyond Float32's range on a Float32 band, can never be a pixel's
    value: GDAL's nodata mask then marks every pixel valid (``GDALNoDataMaskBand``), and so
    do we. Casting it to the type instead (-1 -> 255, -9999 -> 55537) would make every pixel
    that happens to hold the wrapped value a hole. NaN stays NaN on float types.

    Args:
        value: the tagged nodata value (``GetNoDataValue()``), or None.
        data_type: GDAL data type code (``gdal.GDT_Byte`` ...).
    """
    if value is None:
        return None
    dtype = np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(data_type) or np.float64)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if not math.isfinite(value) or value != math.floor(value):
            return None
        return value if info.min <= value <= info.max else None
    if dtype == np.float32 and math.isfinite(value) and abs(value) > np.finfo(np.float32).max:
        return None
    return value


def refuse_complex_bands(info: RasterInfo, bands: Sequence[int]) -> None:
    """Stop on complex bands (radar CInt16, CFloat32 ...).

    Their imaginary part would be dropped without a word.

    Raises:
        LandCoverError: naming the bands, with what to do.
    """
    complex_bands = [b for b in bands if info.data_types[b - 1].startswith("C")]
    if complex_bands:
        raise LandCoverError(
            f"Band(s) {', '.join(map(str, complex_bands))} of '{Path(info.path).name}' hold "
            f"complex numbers ({info.data_types[complex_bands[0] - 1]}): derive real bands "
            "first (amplitude or intensity, e.g. with the Raster Calculator), then use those."
        )


def nodata_warnings(info: RasterInfo, bands: Sequence[int]) -> list[str]:
    """One sentence per chosen band whose tagged nodata value its pixels cannot hold.

    See :func:`usable_nodata`: the tag is ignored, as GDAL ignores it.
    """
    out = []
    for b in bands:
        tag = info.nodata_tags[b - 1] if info.nodata_tags else None
        if tag is not None and info.nodata[b - 1] is None:
            out.append(
                f"Band {b} of '{Path(info.path).name}' is tagged nodata {tag:g}, a value its "
                f"{info.data_types[b - 1]} pixels cannot hold: the tag is ignored (as GDAL "
                "ignores it) and every pixel of the band counts as data. If some pixels are "
                "no data, tag the value they hold (gdal_edit.py -a_nodata VALUE)."
            )
    return out


def resolve_bands(info: RasterInfo, bands: Sequence[int] | None) -> tuple[int, ...]:
    """Validate 1-based band numbers; ``None`` or empty means all bands.

    Raises:
        LandCoverError: a band number is out of range or repeated.
    """
    if not bands:
        return tuple(range(1, info.band_count + 1))
    out = tuple(int(b) for b in bands)
    bad = [b for b in out if b < 1 or b > info.band_count]
    if bad:
        raise LandCoverError(
            f"Band(s) {', '.join(map(str, bad))} do not exist: '{Path(info.path).name}' has "
            f"{info.band_count} band(s), numbered 1 to {info.band_count}."
        )
    if len(set(out)) != len(out):
        raise LandCoverError(f"Band list {list(out)} repeats a band: list each band once.")
    return out


def parse_bands(text: str | None) -> tuple[int, ...] | None:
    """Parse "1,2,5-7" into (1, 2, 5, 6, 7); empty or None means all bands."""
    if text is None or not str(text).strip():
        return None
    out: list[int] = []
    try:
        for part in str(text).replace(" ", "").split(","):
            if not part:
                continue
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                if hi < lo:
                    raise LandCoverError(
                        f"Band range '{part}' in '{text}' runs backwards: write it from low to "
                        f"high ({hi}-{lo}), or list the bands in the order you want."
                    )
                if hi - lo >= _MAX_BANDS:
                    raise LandCoverError(
                        f"Band range '{part}' holds more than {_MAX_BANDS:,} bands: check it."
                    )
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
    except ValueError as exc:
        raise LandCoverError(
            f"Cannot read band list '{text}': write band numbers like 1,2,3 or 1-7."
        ) from exc
    if not out:
        raise LandCoverError(
            f"Band list '{text}' names no band: write band numbers like 1,2,3 or 1-7, or "
            "leave it empty for all bands."
        )
    return tuple(out)


#: More bands than any raster format holds (GDAL's GeoTIFF: 65,535).
_MAX_BANDS = 65_536


def unreadable(ds: gdal.Dataset, exc: BaseException | None) -> LandCoverError:
    """The sentence for pixels GDAL could not read.

    A damaged file, or a missing file a VRT refers to (never blamed on an output).
    """
    why = f" ({str(exc).strip()})" if exc is not None else ""
    return LandCoverError(
        f"Could not read the pixels of '{Path(ds.GetDescription()).name}'{why}: the file is "
        "damaged or truncated, or a file it refers to is missing. Check it opens in QGIS, or "
        "recreate it."
    )


def read_window(
    ds: gdal.Dataset,
    bands: Sequence[int],
    window: Window,
    nodata: Sequence[float | None],
) -> tuple[npt.NDArray[np.number[Any]], npt.NDArray[np.bool_]]:
    """Read chosen bands of a window and the mask of valid pixels.

    A pixel is valid when no chosen band equals its nodata value or is NaN, and the dataset's
    own mask (alpha band / internal mask) marks it valid.

    Args:
        ds: open dataset.
        bands: 1-based band numbers.
        window: pixel window.
        nodata: nodata value of every band of the file (index 0 is band 1).

    Returns:
        ``(data, valid)``: data in the native type, shape (bands, rows, cols); valid is a
        boolean (rows, cols) array.
    """
    try:
        data = ds.ReadAsArray(
            window.xoff, window.yoff, window.xsize, window.ysize, band_list=list(bands)
        )
    except RuntimeError as exc:
        raise unreadable(ds, exc) from None
    if data is None:
        raise unreadable(ds, None)
    data = data.reshape(len(bands), window.ysize, window.xsize)
    valid = np.ones((window.ysize, window.xsize), dtype=bool)
    for i, b in enumerate(bands):
        nd = nodata[b - 1]
        plane = data[i]
        if nd is not None and not math.isnan(nd):
            valid &= plane != np.asarray(nd).astype(plane.dtype)
        if plane.dtype.kind == "f":
            valid &= np.isfinite(plane)
    band1 = ds.GetRasterBand(1)
    if band1.GetMaskFlags() & gdal.GMF_PER_DATASET:
        mask = band1.GetMaskBand().ReadAsArray(window.xoff, window.yoff, window.xsize, window.ysize)
        valid &= mask > 0
    else:
        for b in bands:  # a band's own mask (an internal per-band mask), beyond its nodata
            band = ds.GetRasterBand(b)
            if band.GetMaskFlags() & (gdal.GMF_ALL_VALID | gdal.GMF_NODATA):
                continue
            mask = band.GetMaskBand().ReadAsArray(
                window.xoff, window.yoff, window.xsize, window.ysize
            )
            valid &= mask > 0
    return data, valid


def iter_windows(info: RasterInfo, max_pixels: int, align_rows: int = 1) -> Iterator[Window]:
    """Windows that cover the raster, aligned to native blocks, each at most ``max_pixels``.

    Full-width strips when a strip of native block rows fits the budget (sequential reads),
    otherwise tiles made of whole native blocks.

    With ``align_rows`` (the row height of an output's tiles), full-width strips also end on
    multiples of ``align_rows`` at least every ``block rows x align_rows`` rows: their height is
    a multiple of ``align_rows`` when that fits the budget, else the native block rows times
    a power of two (1 row, 2, 4 ... for a striped GeoTIFF). A writer that flushes when a row
    of output tiles is complete then holds at most that many rows, whatever the input's
    block layout (a 20,000 px wide striped input held 6,400 rows).
    """
    bx, by = info.block_size
    bx = max(1, min(bx, info.width))
    by = max(1, min(by, info.height))
    if bx * by > max_pixels:  # native blocks larger than the budget (8192 px tiles, one strip)
        yield from _windows_inside_blocks(info, bx, by, max_pixels, align_rows)
        return
    if info.width * by <= max_pixels:
        rows = max(by, (max_pixels // info.width) // by * by)
        if align_rows > 1 and rows % align_rows:
            unit = math.lcm(by, align_rows)
            if rows >= unit:
                rows = rows // unit * unit
            else:
                rows = by
                while rows * 2 * info.width <= max_pixels:
                    rows *= 2
        for y in range(0, info.height, rows):
            yield Window(0, y, info.width, min(rows, info.height - y))
        return
    cols = max(bx, (max_pixels // by) // bx * bx)
    for y in range(0, info.height, by):
        for x in range(0, info.width, cols):
            yield Window(x, y, min(cols, info.width - x), min(by, info.height - y))


def _windows_inside_blocks(
    info: RasterInfo, bx: int, by: int, max_pixels: int, align_rows: int
) -> Iterator[Window]:
    """Windows of at most ``max_pixels`` inside each native block, block after block.

    So the reader decompresses each block once (see :func:`same_blocks`). Their rows are a
    multiple of ``align_rows`` when that fits, else a power of two, so that with blocks of
    whole output tiles each window completes whole output tiles.
    """
    rows = max(1, max_pixels // bx)
    if align_rows > 1:
        if rows >= align_rows:
            rows = rows // align_rows * align_rows
        else:
            rows = 1 << (rows.bit_length() - 1)
    for y0 in range(0, info.height, by):
        y1 = min(y0 + by, info.height)
        for x0 in range(0, info.width, bx):
            for y in range(y0, y1, rows):
                yield Window(x0, y, min(bx, info.width - x0), min(rows, y1 - y))


def same_blocks(info: RasterInfo, a: Window, b: Window) -> bool:
    """Whether window ``b`` starts in the native block where ``a`` starts.

    The blocks just read are then kept in GDAL's cache for ``b`` (windows inside one large
    block).
    """
    bx, by = (max(1, v) for v in info.block_size)
    return (a.xoff // bx, a.yoff // by) == (b.xoff // bx, b.yoff // by)


def same_grid(a: RasterInfo, b: RasterInfo, tolerance: float = 1e-6) -> bool:
    """True when two rasters share size and geotransform (pixel-for-pixel comparable)."""
    if (a.width, a.height) != (b.width, b.height):
        return False
    scale = max(abs(a.geotransform[1]), abs(a.geotransform[5]), 1e-12)
    return all(
        abs(x - y) <= tolerance * max(1.0, abs(x), scale)
        for x, y in zip(a.geotransform, b.geotransform)
    )
