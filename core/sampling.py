"""Sampling: the pixels under the training polygons become labelled samples.

Each sample keeps the id of its polygon so that validation can hold out whole polygons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from osgeo import gdal

from .callbacks import Hooks
from .classes import ClassInfo, build_classes
from .config import SamplingConfig
from .errors import LandCoverError
from .raster import (
    RasterInfo,
    nodata_warnings,
    open_raster,
    raster_info,
    read_window,
    refuse_complex_bands,
    resolve_bands,
)
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
        available: pixels under the polygons per class (index order) before the cap per
            class, nodata and overlaps included; empty when not counted.
        cap: the cap per class that was applied (the user's or the automatic one), 0 when
            not known.
    """

    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.int64]
    polygon_id: npt.NDArray[np.int64]
    pixel_index: npt.NDArray[np.int64]
    classes: tuple[ClassInfo, ...]
    bands: tuple[int, ...]
    band_names: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())
    available: tuple[int, ...] = field(default=())
    cap: int = 0

    def __len__(self) -> int:
        """Number of samples (pixels)."""
        return int(self.y.shape[0])

    def counts(self) -> npt.NDArray[np.intp]:
        """Samples per class, int (n_classes,) in index order."""
        return np.bincount(self.y, minlength=len(self.classes))

    def subset(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.integer[Any]]) -> Samples:
        """The samples at ``index``: a bool (n,) mask or integer positions (k,)."""
        return Samples(
            self.x[index],
            self.y[index],
            self.polygon_id[index],
            self.pixel_index[index],
            self.classes,
            self.bands,
            self.band_names,
            self.warnings,
            self.available,
            self.cap,
        )


def _drop_duplicates(
    pixel: npt.NDArray[np.int64], raw_idx: npt.NDArray[np.int64], warnings: list[str]
) -> npt.NDArray[np.bool_]:
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


#: The automatic cap per class (setting ``max_per_class`` 0) keeps the samples' values
#: (pixels x bands, float32, all classes together) under this count: 64 M values = 256 MB.
AUTO_CAP_VALUES = 64_000_000
#: ... and never above this many pixels per class.
AUTO_CAP_PIXELS = 200_000
#: ... nor above this multiple of the smallest class's pixels ...
AUTO_IMBALANCE = 20
#: ... unless below this many pixels per class (every class of the real scenes in
#: ../shared/data keeps all its pixels: the largest has 2,661).
AUTO_CAP_FLOOR = 5_000


def automatic_cap(n_bands: int, n_classes: int, smallest: int | None = None) -> int:
    """Pixels per class kept when the user set no cap.

    Enough to train any MLP of this plugin, few enough that the samples of all classes fit in
    256 MB (at least 1,000); and, given the pixel count of the ``smallest`` class, at most
    :data:`AUTO_IMBALANCE` times that (but at least :data:`AUTO_CAP_FLOOR`). A network learns
    the class shares of its training pixels as priors: one class of 100 pixels beside classes
    of 160,000 was never mapped (recall 0 on held-out polygons, benchmarks/training_scale.py
    scene), and 41-57 % with the big classes capped at 5,000-1,000 pixels.
    """
    cap = int(min(AUTO_CAP_PIXELS, max(1000, AUTO_CAP_VALUES // max(1, n_bands * n_classes))))
    if smallest is None:
        return cap
    return min(cap, max(AUTO_CAP_FLOOR, AUTO_IMBALANCE * smallest))


def _automatic_words(cap: int, smallest: int | None) -> str:
    """Why the automatic cap is ``cap``: the class balance, or memory."""
    if smallest is None or cap != max(AUTO_CAP_FLOOR, AUTO_IMBALANCE * smallest):
        return "automatic cap"
    if cap == AUTO_CAP_FLOOR:
        return (
            f"automatic cap: its floor of {AUTO_CAP_FLOOR:,} pixels, as {AUTO_IMBALANCE} x the "
            f"smallest class's {smallest:,} pixels is less; it keeps large classes from "
            "drowning small ones"
        )
    return (
        f"automatic cap: {AUTO_IMBALANCE} x the smallest class's {smallest:,} pixels, so that "
        "large classes do not drown small ones"
    )


def polygon_quotas(
    counts: dict[int, tuple[object, int]], cap: int, rng: np.random.Generator, log: list[str]
) -> dict[int, int]:
    """Pixels to draw from each polygon so that no class has more than ``cap``.

    ``counts`` maps each polygon id to its (class, pixel count). A class within the cap keeps
    every pixel (its polygons are not in the result). A larger class shares ``cap`` among its
    polygons in proportion to their pixels (largest remainders), each polygon keeping at least
    one pixel, so that small polygons are never dropped; when the class has more polygons than
    ``cap``, ``cap`` of them chosen at random keep one pixel each (and ``log`` says so).

    Returns:
        {polygon id: pixels to draw} for the polygons of capped classes; the quotas of a
        class sum to ``cap``.
    """
    by_class: dict[object, list[tuple[int, int]]] = {}
    for fid, (raw, count) in counts.items():
        if count:
            by_class.setdefault(raw, []).append((fid, count))
    quotas: dict[int, int] = {}
    for raw, polygons in sorted(by_class.items(), key=lambda item: str(item[0])):
        fids = np.array([f for f, _ in polygons])
        sizes = np.array([c for _, c in polygons], dtype=np.int64)
        if sizes.sum() <= cap:
            continue
        if len(sizes) > cap:
            q = np.zeros(len(sizes), dtype=np.int64)
            q[rng.choice(len(sizes), size=cap, replace=False)] = 1
            log.append(
                f"Class '{raw}' has {len(sizes)} polygons but the cap is {cap} pixels: "
                f"{len(sizes) - cap} of its polygons give no training pixel; raise the cap."
            )
        else:
            share = cap * sizes / sizes.sum()
            q = np.maximum(np.floor(share).astype(np.int64), 1)
            diff = cap - int(q.sum())
            if diff > 0:  # largest remainders first
                for i in np.argsort(-(share - np.floor(share)), kind="stable")[:diff]:
                    q[i] += 1
            while diff < 0:  # the one-pixel floor overshot: take from the largest quotas
                i = int(np.argmax(q))
                q[i] -= 1
                diff += 1
        quotas.update(zip(fids.tolist(), q.tolist()))
    return quotas


@dataclass
class _Pixels:
    """The valid pixels gathered under the polygons, before classes are assigned."""

    x: list[npt.NDArray[np.float32]] = field(default_factory=list)  # per part: (n, bands)
    polygon_id: list[npt.NDArray[np.int64]] = field(default_factory=list)  # (n,)
    pixel_index: list[npt.NDArray[np.int64]] = field(default_factory=list)  # (n,)
    raw: list[tuple[object, int]] = field(default_factory=list)  # per part: (class, pixels)
    colours: dict[object, str] = field(default_factory=dict)  # first colour seen per class
    nodata: int = 0  # pixels under the polygons left out as nodata

    def add(self, part: PolygonPixels, chosen: npt.NDArray[np.bool_],
            data: npt.NDArray[np.number[Any]], valid: npt.NDArray[np.bool_],
            width: int) -> None:  # fmt: skip
        """Keep the valid ``chosen`` pixels of one polygon part.

        Args:
            part: the polygon part, its window on the raster grid.
            chosen: bool (rows, cols), the pixels drawn in the window.
            data: the window's band values, (bands, rows, cols), any dtype.
            valid: bool (rows, cols), pixels that are not nodata in any band.
            width: raster width in pixels (for the pixel index).
        """
        take = chosen & valid
        self.nodata += int(chosen.sum() - take.sum())
        rows, cols = np.nonzero(take)
        self.x.append(data[:, rows, cols].T.astype(np.float32))
        self.polygon_id.append(np.full(rows.size, part.fid, dtype=np.int64))
        self.raw.append((part.raw_class, int(rows.size)))
        self.pixel_index.append(
            (rows + part.window.yoff).astype(np.int64) * width + cols + part.window.xoff
        )
        if part.colour and part.raw_class not in self.colours:
            self.colours[part.raw_class] = part.colour


def _count(source: PolygonSource, info: RasterInfo, all_touched: bool,
           hooks: Hooks) -> dict[int, tuple[object, int]]:  # fmt: skip
    """{polygon id: (class, pixels)} of every polygon on the raster grid (no band is read)."""
    counts: dict[int, tuple[object, int]] = {}
    for part in iter_polygon_pixels(source, info, all_touched, []):
        hooks.check()
        raw, n = counts.get(part.fid, (part.raw_class, 0))
        counts[part.fid] = (raw, n + int(part.mask.sum()))
    return counts


def _gather(ds: gdal.Dataset, info: RasterInfo, bands: tuple[int, ...], source: PolygonSource,
            all_touched: bool, hooks: Hooks, log: list[str],
            draw: tuple[dict[int, int], dict[int, int], np.random.Generator] | None = None,
            ) -> _Pixels:  # fmt: skip
    """Read the pixels under every polygon, reporting progress polygon by polygon.

    ``draw`` = (quotas, polygon pixel counts, generator): a polygon with a quota gives that
    many of its pixels, a uniform random draw without replacement made tile by tile (the
    number taken from each tile is hypergeometric given what is left), so that only the
    drawn pixels are ever held in memory.
    """
    total = max(1, source.layer.GetFeatureCount())
    pixels = _Pixels()
    seen, last_fid = 0, None
    left: dict[int, list[int]] = {}
    if draw is not None:
        quotas, counts, rng = draw
        left = {fid: [q, counts[fid]] for fid, q in quotas.items()}
    for part in iter_polygon_pixels(source, info, all_touched, log):
        hooks.check()
        chosen = part.mask
        if part.fid in left:
            quota, remaining = left[part.fid]
            flat = np.flatnonzero(part.mask)
            k = int(rng.hypergeometric(quota, remaining - quota, flat.size)) if quota else 0
            left[part.fid] = [quota - k, remaining - flat.size]
            chosen = np.zeros_like(part.mask)
            chosen.flat[rng.choice(flat, size=k, replace=False)] = True
        if not chosen.any():
            continue
        data, valid = read_window(ds, bands, part.window, info.nodata)
        ds.FlushCache()  # drop the blocks just read: the GDAL cache would grow to GDAL_CACHEMAX
        pixels.add(part, chosen, data, valid, info.width)
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

    def key(c: ClassInfo) -> object:
        return c.name if source.is_text else c.value

    lookup: dict[object, int] = {key(c): i for i, c in enumerate(class_list)}
    unknown = sorted({str(v) for v in raw if v not in lookup})
    if unknown:
        raise LandCoverError(
            f"Layer '{source.name}' has classes the model does not know: "
            f"{', '.join(unknown[:10])}. Use the same class names/values as for training."
        )
    return class_list, lookup


def _refuse_classes_without_pixels(
    source: PolygonSource, sampled: set[object], all_touched: bool
) -> None:
    """Stop when a class of the layer got no training pixel.

    Training without it would map its area as another class without a word.

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
    refuse_complex_bands(info, bands)
    source = open_polygons(polygons, config.class_field, layer)
    log: list[str] = nodata_warnings(info, bands)
    all_touched = config.pixel_rule == "all_touched"
    # First the polygons' pixel counts (masks only), so that the cap per class is drawn
    # while reading: memory holds the drawn pixels, never all those under the polygons.
    counts = _count(source, info, all_touched, hooks.scaled(0, 20))
    per_class: dict[object, int] = {}
    for raw, n in counts.values():
        per_class[raw] = per_class.get(raw, 0) + n
    sizes = [n for n in per_class.values() if n > 0]
    smallest = min(sizes) if sizes else None
    cap = config.max_per_class or automatic_cap(len(bands), max(1, len(per_class)), smallest)
    rng = np.random.default_rng(config.seed)
    quotas = polygon_quotas(counts, cap, rng, log)
    draw = (quotas, {f: n for f, (_, n) in counts.items()}, rng) if quotas else None
    pixels = _gather(ds, info, bands, source, all_touched, hooks.scaled(20, 100), log, draw)
    if not pixels.raw:
        raise LandCoverError(
            f"No valid pixel of '{info.path}' lies under the polygons of '{source.name}'. "
            f"Check that the polygons overlap the raster (same area, CRS) and are not all on "
            f"nodata. {' '.join(log)}".strip()
        )
    class_list, index_of = _class_index([r for r, _ in pixels.raw], source, pixels.colours,
                                        classes)  # fmt: skip
    y = np.repeat(
        np.array([index_of[r] for r, _ in pixels.raw], dtype=np.int64),
        [n for _, n in pixels.raw],
    )
    pixel_index = np.concatenate(pixels.pixel_index)
    if pixels.nodata:
        log.append(f"{pixels.nodata} pixel(s) under the polygons are nodata and were skipped.")
    keep = np.flatnonzero(_drop_duplicates(pixel_index, y, log))
    if classes is None:
        present = set(np.unique(y[keep]).tolist())
        sampled = {raw for raw, i in index_of.items() if i in present}
        _refuse_classes_without_pixels(source, sampled, all_touched)
    available = np.zeros(len(class_list), dtype=np.int64)
    for raw, n in per_class.items():
        if raw in index_of:
            available[index_of[raw]] += n
    used = np.bincount(y[keep], minlength=len(class_list))
    if quotas:
        capped = [c.name for c, u, a in zip(class_list, used, available) if a > cap]
        log.append(
            f"{len(capped)} class(es) were capped at {cap:,} pixels "
            f"({'your cap' if config.max_per_class else _automatic_words(cap, smallest)}; a "
            f"seeded random draw, a share from every polygon): {', '.join(capped)}. Pixels "
            "used / "
            "available per class: "
            + ", ".join(f"{c.name} {u} / {a}" for c, u, a in zip(class_list, used, available))
            + "."
        )
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
        available=tuple(int(a) for a in available),
        cap=int(cap),
    )
