"""Sampling: the pixels under the training polygons become labelled samples.

Each sample keeps the id of its polygon so that validation can hold out whole polygons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .callbacks import Hooks
from .classes import ClassInfo, build_classes
from .config import SamplingConfig
from .errors import LandCoverError
from .raster import open_raster, raster_info, read_window, resolve_bands
from .vector import iter_polygon_pixels, open_polygons


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
    total = max(1, source.layer.GetFeatureCount())
    xs, fids, raws, pix = [], [], [], []
    colours: dict[object, str] = {}
    nodata_pixels = 0
    seen = 0
    last_fid = None
    for part in iter_polygon_pixels(source, info, config.pixel_rule == "all_touched", log):
        hooks.check()
        data, valid = read_window(ds, bands, part.window, info.nodata)
        take = part.mask & valid
        nodata_pixels += int(part.mask.sum() - take.sum())
        rows, cols = np.nonzero(take)
        xs.append(data[:, rows, cols].T.astype(np.float32))
        fids.append(np.full(rows.size, part.fid, dtype=np.int64))
        raws.append([part.raw_class] * rows.size)
        pix.append(
            (rows + part.window.yoff).astype(np.int64) * info.width + cols + part.window.xoff
        )
        if part.colour and part.raw_class not in colours:
            colours[part.raw_class] = part.colour
        if part.fid != last_fid:
            seen, last_fid = seen + 1, part.fid
            hooks.progress(100.0 * seen / total)
    if not xs or sum(a.shape[0] for a in xs) == 0:
        reason = " ".join(log)
        raise LandCoverError(
            f"No valid pixel of '{info.path}' lies under the polygons of '{source.name}'. "
            f"Check that the polygons overlap the raster (same area, CRS) and are not all on "
            f"nodata. {reason}".strip()
        )
    raw_all = [v for chunk in raws for v in chunk]
    if classes is None:
        class_list, index_of = build_classes(raw_all, source.is_text, colours)
    else:
        class_list = tuple(classes)
        key = (lambda c: c.name) if source.is_text else (lambda c: c.value)
        lookup = {key(c): i for i, c in enumerate(class_list)}
        unknown = sorted({str(v) for v in raw_all if v not in lookup})
        if unknown:
            raise LandCoverError(
                f"Layer '{source.name}' has classes the model does not know: "
                f"{', '.join(unknown[:10])}. Use the same class names/values as for training."
            )
        index_of = lookup
    y = np.fromiter((index_of[v] for v in raw_all), dtype=np.int64, count=len(raw_all))
    x = np.concatenate(xs)
    polygon_id = np.concatenate(fids)
    pixel_index = np.concatenate(pix)
    if nodata_pixels:
        log.append(f"{nodata_pixels} pixel(s) under the polygons are nodata and were skipped.")
    keep = _drop_duplicates(pixel_index, y, log)
    x, y, polygon_id, pixel_index = (
        x[keep],
        y[keep],
        polygon_id[keep],
        pixel_index[keep],
    )
    if config.max_per_class:
        idx = _cap_per_class(y, config.max_per_class, config.seed, log)
        if idx is not None:
            x, y, polygon_id, pixel_index = (
                x[idx],
                y[idx],
                polygon_id[idx],
                pixel_index[idx],
            )
    for message in log:
        hooks.log(message)
    hooks.progress(100.0)
    return Samples(
        x=x,
        y=y,
        polygon_id=polygon_id,
        pixel_index=pixel_index,
        classes=class_list,
        bands=bands,
        band_names=tuple(info.band_names[b - 1] for b in bands),
        warnings=tuple(log),
    )
