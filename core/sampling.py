"""Sampling: the pixels under the training polygons become labelled samples.

Each sample keeps the id of its polygon so that validation can hold out whole polygons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal

from .callbacks import Hooks
from .classes import ClassInfo, build_classes
from .config import SamplingConfig
from .errors import LandCoverError
from .raster import RasterInfo, open_raster, raster_info, read_window, resolve_bands
from .vector import (
    PolygonPixels,
    PolygonSource,
    iter_polygon_pixels,
    open_polygons,
    polygons_by_class,
)


@dataclass(frozen=True)
class Samples:
    """Labelled pixels.

    Attributes:
        x: features, float32 (n, bands).
        y: class index into ``classes``, int64 (n,).
        polygon_id: id (FID) of the polygon each pixel came from, int64 (n,).
        pixel_index: row * width + col of each pixel on the raster grid, int64 (n,).
        classes: the classes, in value order.
        bands: 1-based band numbers used.
        band_names: names of those bands.
        warnings: things the user should know (skipped polygons, conflicts, caps).
    """

    x: np.ndarray
    y: np.ndarray
    polygon_id: np.ndarray
    pixel_index: np.ndarray
    classes: tuple[ClassInfo, ...]
    bands: tuple[int, ...]
    band_names: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def counts(self) -> np.ndarray:
        """Samples per class (index order)."""
        return np.bincount(self.y, minlength=len(self.classes))

    def subset(self, index: np.ndarray) -> Samples:
        """The samples at ``index`` (boolean mask or integer positions)."""
        return Samples(
            self.x[index],
            self.y[index],
            self.polygon_id[index],
            self.pixel_index[index],
            self.classes,
            self.bands,
            self.band_names,
            self.warnings,
        )


def _drop_duplicates(pixel: np.ndarray, raw_idx: np.ndarray, warnings: list[str]) -> np.ndarray:
    """Keep each pixel once; drop pixels claimed by polygons of different classes."""
    order = np.argsort(pixel, kind="stable")
    sorted_pix = pixel[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_pix[1:] != sorted_pix[:-1]
    keep = np.zeros(len(pixel), dtype=bool)
    keep[order[first]] = True
    if first.all():
        return keep
    group = np.cumsum(first) - 1
    labels = raw_idx[order]
    lo = np.minimum.reduceat(labels, np.flatnonzero(first))
    hi = np.maximum.reduceat(labels, np.flatnonzero(first))
    conflict_groups = np.flatnonzero(lo != hi)
    if conflict_groups.size:
        bad = np.isin(group, conflict_groups)
        keep[order[bad]] = False
        warnings.append(
            f"{conflict_groups.size} pixel(s) lie under overlapping polygons of different "
            "classes and were left out; fix the overlaps to use them."
        )
    return keep


def _cap_per_class(y: np.ndarray, cap: int, seed: int, warnings: list[str]) -> np.ndarray | None:
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    capped = 0
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if idx.size > cap:
            idx = np.sort(rng.choice(idx, size=cap, replace=False))
            capped += 1
        keep.append(idx)
    if not capped:
        return None
    warnings.append(f"{capped} class(es) were capped at {cap} samples (random, seeded).")
    return np.sort(np.concatenate(keep))


@dataclass
class _Pixels:
    """The valid pixels gathered under the polygons, before classes are assigned."""

    x: list[np.ndarray] = field(default_factory=list)  # per polygon part: (n, bands) float32
    polygon_id: list[np.ndarray] = field(default_factory=list)  # (n,) int64
    pixel_index: list[np.ndarray] = field(default_factory=list)  # (n,) int64
    raw: list[object] = field(default_factory=list)  # the class field's value, per pixel
    colours: dict[object, str] = field(default_factory=dict)  # first colour seen per class
    nodata: int = 0  # pixels under the polygons left out as nodata

    def add(self, part: PolygonPixels, data: np.ndarray, valid: np.ndarray, width: int) -> None:
        """Keep the valid pixels of one polygon part; ``data`` is (bands, rows, cols)."""
        take = part.mask & valid
        self.nodata += int(part.mask.sum() - take.sum())
        rows, cols = np.nonzero(take)
        self.x.append(data[:, rows, cols].T.astype(np.float32))
        self.polygon_id.append(np.full(rows.size, part.fid, dtype=np.int64))
        self.raw.extend([part.raw_class] * rows.size)
        self.pixel_index.append(
            (rows + part.window.yoff).astype(np.int64) * width + cols + part.window.xoff
        )
        if part.colour and part.raw_class not in self.colours:
            self.colours[part.raw_class] = part.colour


def _gather(ds: gdal.Dataset, info: RasterInfo, bands: tuple[int, ...], source: PolygonSource,
            all_touched: bool, hooks: Hooks, log: list[str]) -> _Pixels:  # fmt: skip
    """Read the pixels under every polygon, reporting progress polygon by polygon."""
    total = max(1, source.layer.GetFeatureCount())
    pixels = _Pixels()
    seen, last_fid = 0, None
    for part in iter_polygon_pixels(source, info, all_touched, log):
        hooks.check()
        data, valid = read_window(ds, bands, part.window, info.nodata)
        pixels.add(part, data, valid, info.width)
        if part.fid != last_fid:
            seen, last_fid = seen + 1, part.fid
            hooks.progress(100.0 * seen / total)
    return pixels


def _class_index(
    raw: list[object],
    source: PolygonSource,
    colours: dict[object, str],
    classes: Sequence[ClassInfo] | None,
) -> tuple[tuple[ClassInfo, ...], dict[object, int]]:
    """The classes and the class index of each raw value: derived, or the given ``classes``.

    Raises:
        LandCoverError: a raw value is none of the given ``classes``.
    """
    if classes is None:
        return build_classes(raw, source.is_text, colours)
    class_list = tuple(classes)
    key = (lambda c: c.name) if source.is_text else (lambda c: c.value)
    lookup: dict[object, int] = {key(c): i for i, c in enumerate(class_list)}
    unknown = sorted({str(v) for v in raw if v not in lookup})
    if unknown:
        raise LandCoverError(
            f"Layer '{source.name}' has classes the model does not know: "
            f"{', '.join(unknown[:10])}. Use the same class names/values as for training."
        )
    return class_list, lookup


def _kept(y: np.ndarray, pixel_index: np.ndarray, config: SamplingConfig,
          log: list[str]) -> np.ndarray:  # fmt: skip
    """Positions of the samples kept: each pixel once, then at most the cap per class."""
    keep = np.flatnonzero(_drop_duplicates(pixel_index, y, log))
    if config.max_per_class:
        idx = _cap_per_class(y[keep], config.max_per_class, config.seed, log)
        if idx is not None:
            keep = keep[idx]
    return keep


def _refuse_classes_without_pixels(
    source: PolygonSource, sampled: set[object], all_touched: bool
) -> None:
    """Stop when a class of the layer got no training pixel: training without it would map
    its area as another class without a word.

    Raises:
        LandCoverError: naming each such class and its polygons, with what to change.
    """
    missing = {raw: fids for raw, fids in polygons_by_class(source).items() if raw not in sampled}
    if not missing:
        return
    parts = []
    for raw, fids in sorted(missing.items(), key=lambda item: str(item[0])):
        shown = ", ".join(map(str, fids[:10])) + (
            f" and {len(fids) - 10} more" if len(fids) > 10 else ""
        )
        parts.append(f"'{raw}' (polygon id {shown})")
    rule = (
        "draw bigger polygons"
        if all_touched
        else "draw bigger polygons or take every pixel a polygon touches (pixel rule all_touched)"
    )
    raise LandCoverError(
        f"Class(es) {'; '.join(parts)} of '{source.name}' got no training pixel: the polygons "
        f"are smaller than a pixel, lie outside the raster, on nodata, or under polygons of "
        f"another class. To keep the class, {rule}; to leave it out, remove its polygons."
    )


def collect_samples(
    raster: str,
    polygons: str,
    config: SamplingConfig,
    hooks: Hooks | None = None,
    layer: str | None = None,
    classes: Sequence[ClassInfo] | None = None,
) -> Samples:
    """Sample the raster under the polygons.

    Args:
        raster: image file.
        polygons: polygon source (GeoPackage, shapefile, GeoJSON, any OGR source).
        config: class field, bands, pixel rule, cap and seed.
        hooks: progress and cancel.
        layer: layer name inside ``polygons``.
        classes: use these classes (matched by name for text fields, by value for integer
            fields) instead of deriving them, e.g. for separate validation polygons.

    Returns:
        The samples with their polygon ids.

    Raises:
        LandCoverError: bad input, no overlap or no valid pixel under the polygons.
    """
    hooks = hooks or Hooks()
    ds = open_raster(raster)
    info = raster_info(ds)
    bands = resolve_bands(info, config.bands)
    source = open_polygons(polygons, config.class_field, layer)
    log: list[str] = []
    all_touched = config.pixel_rule == "all_touched"
    pixels = _gather(ds, info, bands, source, all_touched, hooks, log)
    if not pixels.raw:
        raise LandCoverError(
            f"No valid pixel of '{info.path}' lies under the polygons of '{source.name}'. "
            f"Check that the polygons overlap the raster (same area, CRS) and are not all on "
            f"nodata. {' '.join(log)}".strip()
        )
    class_list, index_of = _class_index(pixels.raw, source, pixels.colours, classes)
    y = np.fromiter((index_of[v] for v in pixels.raw), dtype=np.int64, count=len(pixels.raw))
    pixel_index = np.concatenate(pixels.pixel_index)
    if pixels.nodata:
        log.append(f"{pixels.nodata} pixel(s) under the polygons are nodata and were skipped.")
    keep = _kept(y, pixel_index, config, log)
    if classes is None:
        present = set(np.unique(y[keep]).tolist())
        sampled = {raw for raw, i in index_of.items() if i in present}
        _refuse_classes_without_pixels(source, sampled, all_touched)
    for message in log:
        hooks.log(message)
    hooks.progress(100.0)
    return Samples(
        x=np.concatenate(pixels.x)[keep],
        y=y[keep],
        polygon_id=np.concatenate(pixels.polygon_id)[keep],
        pixel_index=pixel_index[keep],
        classes=class_list,
        bands=bands,
        band_names=tuple(info.band_names[b - 1] for b in bands),
        warnings=tuple(log),
    )
