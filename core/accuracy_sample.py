"""A stratified random sample of points for an accuracy assessment of a class raster.

The good-practice protocol of Olofsson et al. (2014, "Good practices for estimating area and
assessing accuracy of land change", Remote Sensing of Environment 148: 42-57): strata = the
map classes, a sample size from the standard error wanted for overall accuracy (their eq. 13)
or given, at least a minimum per class (50-100 for rare classes, their section 5.1.3) and the
rest in proportion to mapped area; each point is the centre of a pixel drawn at random,
without replacement, from its class. The user labels each point with the reference class;
the estimators (``core/area_estimation.py``) weight the points by the mapped area of their
stratum.

The map is read twice, window by window, whatever its size: first the pixels of each class,
then the drawn ranks of each class are mapped to pixels; memory holds one window and the
drawn points.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from osgeo import gdal, ogr, osr

from . import settings
from .callbacks import Hooks
from .classes import ClassInfo, default_colour
from .errors import LandCoverError
from .evaluation import raster_classes
from .fileio import check_writable, output_path
from .raster import RasterInfo, Window, iter_windows, open_raster, raster_info, read_window

ogr.UseExceptions()

#: Pixels read at once (one band): 4 M pixels, 32 MB as float64.
WINDOW_PIXELS = 4_000_000
#: The automatic sample size without a target standard error.
DEFAULT_SIZE = 500
#: More distinct values than this: the raster is not a class map (an image was given).
MAX_CLASSES = 1000
#: The fields of the point layer, in order.
FIELDS = ("sample_id", "map_class", "map_class_name", "stratum", "reference", "x", "y")


@dataclass(frozen=True)
class SampleDesign:
    """How many points, and how they are shared among the map classes.

    Attributes:
        size: points in all; 0 = automatic (from ``target_se`` when given, else
            :data:`DEFAULT_SIZE`, raised to the minimum per class times the classes).
        min_per_class: points every class gets first (all its pixels when it has fewer).
        target_se: standard error wanted for overall accuracy (a proportion, e.g. 0.01);
            0 = off.
        expected_users_accuracy: the user's accuracy expected of each class in map order
            (class value order), or one value for all classes; needed with ``target_se``.
        seed: seed of the random draw.
    """

    size: int = 0
    min_per_class: int = settings.default("min_per_class")
    target_se: float = 0.0
    expected_users_accuracy: tuple[float, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        """Check the design.

        Raises:
            LandCoverError: a setting is out of its range or the settings contradict each
                other, with a sentence saying which.
        """
        if self.size and self.target_se:
            raise LandCoverError(
                "Give either a sample size or a target standard error of overall accuracy, "
                "not both: set the other to 0."
            )
        if self.target_se and not self.expected_users_accuracy:
            raise LandCoverError(
                "A target standard error needs the expected user's accuracies: give one per "
                "class in map order (e.g. 0.9,0.7,0.8), or one value for all classes."
            )
        if self.expected_users_accuracy and not self.target_se:
            raise LandCoverError(
                "Expected user's accuracies are used only with a target standard error of "
                "overall accuracy: give that too (e.g. 0.01), or leave them empty."
            )


def parse_accuracies(text: str | Sequence[float]) -> tuple[float, ...]:
    """Expected user's accuracies such as "0.9,0.7,0.8" (empty: none).

    Raises:
        LandCoverError: an entry is not a number from 0 to 1.
    """
    if not isinstance(text, str):
        values = tuple(float(v) for v in text)
    else:
        parts = [p for p in text.replace(";", ",").replace(" ", "").split(",") if p]
        try:
            values = tuple(float(p) for p in parts)
        except ValueError as exc:
            raise LandCoverError(
                f"Expected user's accuracies '{text}' are not numbers: write proportions "
                "such as 0.9,0.7,0.8."
            ) from exc
    bad = [v for v in values if not 0.0 <= v <= 1.0]  # NaN fails both comparisons
    if bad:
        raise LandCoverError(
            f"Expected user's accuracies are proportions from 0 to 1; got {bad[0]:g}. Write "
            "0.85 for 85 %."
        )
    return values


def sample_design(values: Mapping[str, Any]) -> SampleDesign:
    """The design from setting values by name, checked against the settings table.

    The settings are those of ``settings.ACCURACY_SAMPLE``; missing ones take their default.

    Raises:
        LandCoverError: a value out of range, or settings that contradict each other.
    """
    v = {s.name: s.check(values.get(s.name, s.default)) for s in settings.ACCURACY_SAMPLE}
    return SampleDesign(
        size=v["size"],
        min_per_class=v["min_per_class"],
        target_se=v["target_se"],
        expected_users_accuracy=parse_accuracies(v["expected_users_accuracy"]),
        seed=v["seed"],
    )


def sample_size(
    weights: ArrayLike,
    expected_users_accuracy: ArrayLike,
    target_se: float,
) -> int:
    """Sample size of a stratified random sample for a target standard error of overall accuracy.

    Olofsson et al. (2014) eq. 13, n = (sum_i W_i S_i / S(O))^2 with
    S_i = sqrt(U_i (1 - U_i)) (Cochran 1977, eq. 5.25), rounded up.

    Their example (section 5.1): W = 0.02, 0.015, 0.32, 0.645, U = 0.70, 0.60, 0.90, 0.95
    and S(O) = 0.01 give n = 641.

    Args:
        weights: mapped area (or pixels) of each class, shape (classes,); normalised here to
            proportions W_i.
        expected_users_accuracy: the user's accuracy U_i expected of each class (0-1), shape
            (classes,).
        target_se: the standard error S(O) wanted for overall accuracy (a proportion > 0).

    Returns:
        The number of points (0 when every class is expected to be perfect or never right).

    Raises:
        LandCoverError: shapes differ, no positive weight, or values out of range.
    """
    w = np.asarray(weights, dtype=np.float64)
    u = np.asarray(expected_users_accuracy, dtype=np.float64)
    if w.shape != u.shape or w.ndim != 1:
        raise LandCoverError(
            f"{u.size} expected user's accuracies for {w.size} classes: give one per class."
        )
    if not (np.all(w >= 0) and w.sum() > 0):
        raise LandCoverError("The class weights must be mapped areas: positive numbers.")
    if not np.all((u >= 0) & (u <= 1)):
        raise LandCoverError("Expected user's accuracies are proportions from 0 to 1.")
    if not (math.isfinite(target_se) and target_se > 0):
        raise LandCoverError(f"The target standard error must be above 0; got {target_se}.")
    spread = float(np.sum(w / w.sum() * np.sqrt(u * (1.0 - u))))
    # rounding noise must not add a point: (0.2 / 0.01)^2 is 400, not 400.0000000001
    return int(math.ceil(round((spread / target_se) ** 2, 9)))


def allocate(counts_per_class: ArrayLike, total: int, min_per_class: int) -> NDArray[np.int64]:
    """Points per class of a stratified sample of ``total`` points.

    The rule (Olofsson et al. 2014, section 5.1.3: allocate 50-100 points to rare classes,
    proportionally otherwise): every class first gets ``min_per_class`` points, or all its
    pixels when it has fewer; the rest of ``total`` is then shared in proportion to the classes'
    mapped pixels, by largest remainders (ties to the class first in map order, so the result
    is deterministic); a class never gets more points than it has pixels, and what it cannot
    take goes to the others, again in proportion to their pixels.

    Args:
        counts_per_class: mapped pixels of each class, shape (classes,).
        total: points in all.
        min_per_class: points each class gets first.

    Returns:
        Points per class, int64 (classes,), summing to ``total``.

    Raises:
        LandCoverError: ``total`` cannot hold every class's minimum, or exceeds the mapped
            pixels.
    """
    counts = np.asarray(counts_per_class, dtype=np.int64)
    points = np.minimum(counts, max(0, int(min_per_class)))
    need, available = int(points.sum()), int(counts.sum())
    if total < need:
        k = counts.size
        raise LandCoverError(
            f"A sample of {total} points cannot give each of the {k} classes its minimum of "
            f"{min_per_class} points ({need} in all): raise the sample size to at least {need} "
            f"points, or lower the minimum per class to {total // max(1, k)} or less."
        )
    if total > available:
        raise LandCoverError(
            f"A sample of {total} points is more than the {available} mapped pixels: ask for "
            f"at most {available} points."
        )
    rest = total - need
    while rest > 0 and np.any(points < counts):  # the refusal above: the loop always ends full
        room = counts - points
        open_ = room > 0
        share = np.zeros(counts.size)
        share[open_] = rest * counts[open_] / counts[open_].sum()
        add = np.floor(share).astype(np.int64)
        left = rest - int(add.sum())
        order = np.argsort(-(share - add), kind="stable")  # largest remainders first
        add[order[:left]] += 1
        add = np.minimum(add, room)  # a full class hands its excess back to the others
        points += add
        rest -= int(add.sum())
    return points


@dataclass(frozen=True)
class Allocation:
    """The strata of a map and the points each gets.

    Attributes:
        classes: the map classes with pixels, in value order (the strata).
        pixels: mapped pixels of each class, (classes,).
        points: points drawn from each class, (classes,).
        how: how the total was chosen, in one sentence.
    """

    classes: tuple[ClassInfo, ...]
    pixels: tuple[int, ...]
    points: tuple[int, ...]
    how: str

    @property
    def total(self) -> int:
        """Points in all."""
        return sum(self.points)

    def table(self) -> list[str]:
        """The allocation as text lines: class, mapped pixels, share of the map, points."""
        all_pixels = max(1, sum(self.pixels))
        width = max([len("class")] + [len(f"{c.value} {c.name}") for c in self.classes])
        lines = [f"{'class':<{width}}  {'mapped pixels':>13}  {'share':>7}  {'points':>6}"]
        for c, n, k in zip(self.classes, self.pixels, self.points):
            lines.append(
                f"{f'{c.value} {c.name}':<{width}}  {n:>13,}  {n / all_pixels:>7.2%}  {k:>6}"
            )
        lines.append(f"{'total':<{width}}  {sum(self.pixels):>13,}  {1:>7.2%}  {self.total:>6}")
        return lines


def plan(classes: tuple[ClassInfo, ...], pixels: Sequence[int], design: SampleDesign) -> Allocation:
    """The total of the design for this map, shared by :func:`allocate`.

    Raises:
        LandCoverError: the expected user's accuracies do not match the classes, or the total
            does not fit the map (see :func:`allocate`).
    """
    counts = np.asarray(pixels, dtype=np.int64)
    need = int(np.minimum(counts, design.min_per_class).sum())
    if design.target_se:
        expected = design.expected_users_accuracy
        if len(expected) == 1:
            expected = expected * len(classes)
        if len(expected) != len(classes):
            raise LandCoverError(
                f"{len(design.expected_users_accuracy)} expected user's accuracies for the "
                f"{len(classes)} classes of the map ({', '.join(c.name for c in classes)}): "
                "give one per class in this order, or one value for all classes."
            )
        n = sample_size(counts, expected, design.target_se)
        total = max(n, need)
        how = (
            f"{n} points for a standard error of {design.target_se:g} on overall accuracy "
            "(Olofsson et al. 2014, eq. 13)"
            + (f", raised to {total} by the minimum per class" if total > n else "")
        )
    elif design.size:
        total, how = design.size, f"{design.size} points as asked"
    else:
        total = max(DEFAULT_SIZE, need)
        how = f"{total} points (automatic" + (
            f": the minimum per class x {len(classes)} classes)" if total > DEFAULT_SIZE else ")"
        )
    if total > counts.sum() and not design.size:
        total = int(counts.sum())
        how += f", cut to the map's {total} pixels"
    points = allocate(counts, total, design.min_per_class)
    how += (
        f"; {design.min_per_class} per class first (all pixels of a smaller class), the rest "
        "in proportion to mapped area"
    )
    return Allocation(classes, tuple(int(n) for n in counts), tuple(int(k) for k in points), how)


@dataclass(frozen=True)
class SamplePoints:
    """The drawn points: pixel centres, in the map's CRS.

    Attributes:
        x: x of each point, float64 (n,).
        y: y of each point, float64 (n,).
        col: column of each point's pixel, int64 (n,).
        row: row of each point's pixel, int64 (n,).
        map_class: class value of the map at each point, int64 (n,); the stratum too.
        sample_id: 1..n in a seeded random order (labelling by id does not go class by
            class), int64 (n,).
    """

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    col: NDArray[np.int64]
    row: NDArray[np.int64]
    map_class: NDArray[np.int64]
    sample_id: NDArray[np.int64]

    def __len__(self) -> int:
        """Number of sample points."""
        return int(self.x.shape[0])


@dataclass
class ClassCounts:
    """The first pass over a class raster: the valid pixels of each value in each window.

    Attributes:
        windows: the windows read, in reading order.
        per_window: {value: pixels} of each window (values with pixels only).
    """

    windows: list[Window] = field(default_factory=list)
    per_window: list[dict[int, int]] = field(default_factory=list)

    def totals(self) -> dict[int, int]:
        """{value: pixels} of the whole raster."""
        out: dict[int, int] = {}
        for counts in self.per_window:
            for v, n in counts.items():
                out[v] = out.get(v, 0) + n
        return out


def _class_values(ds: gdal.Dataset, data: NDArray[np.number[Any]]) -> NDArray[np.number[Any]]:
    """The band's values (whole numbers); non-whole values mean the raster is not a class map."""
    if data.dtype.kind == "f" and not np.array_equal(data, np.round(data)):
        raise LandCoverError(
            f"'{Path(ds.GetDescription()).name}' holds values with decimals, not class "
            "values: choose the class raster (the classified map)."
        )
    return data if data.dtype.kind in "iu" else data.astype(np.int64)


def count_classes(
    ds: gdal.Dataset, info: RasterInfo, hooks: Hooks, window_pixels: int = WINDOW_PIXELS
) -> ClassCounts:
    """Pass 1: the valid pixels of each value of band 1, window by window.

    Raises:
        LandCoverError: the raster holds more than :data:`MAX_CLASSES` values or non-whole
            values (not a class raster).
    """
    out = ClassCounts()
    windows = list(iter_windows(info, window_pixels))
    seen: set[int] = set()
    for i, w in enumerate(windows):
        hooks.check()
        data, valid = read_window(ds, [1], w, info.nodata)
        values = _class_values(ds, data[0][valid])
        if values.dtype.kind == "u" and values.dtype.itemsize <= 2:  # a Byte / UInt16 map
            n = np.bincount(values, minlength=1)
            found = np.flatnonzero(n)
            n = n[found]
        else:
            found, n = np.unique(values, return_counts=True)
        out.windows.append(w)
        out.per_window.append(dict(zip(found.tolist(), n.tolist())))
        seen.update(found.tolist())
        if len(seen) > MAX_CLASSES:
            raise LandCoverError(
                f"'{Path(info.path).name}' holds more than {MAX_CLASSES} distinct values: it "
                "is not a class raster. Choose the classified map."
            )
        hooks.progress(100.0 * (i + 1) / len(windows))
    return out


def map_classes(ds: gdal.Dataset, values: Sequence[int]) -> tuple[ClassInfo, ...]:
    """The classes of the values found in the map, with their names and colours.

    Names and colours come from the raster's category names and colour table, else the value
    is the name and the colour a default one.
    """
    named = {c.value: c for c in raster_classes(ds)}
    out: list[ClassInfo] = []
    for v in sorted(values):
        out.append(named.get(v) or ClassInfo(v, str(v), default_colour(str(v), len(out))))
    return tuple(out)


def draw_sample(
    classified_path: str | Path,
    allocation: Allocation | Mapping[int, int],
    seed: int,
    hooks: Hooks | None = None,
    window_pixels: int = WINDOW_PIXELS,
    counted: ClassCounts | None = None,
) -> SamplePoints:
    """A stratified random sample of pixel centres: ``allocation[value]`` of each map class.

    Each class's pixels are drawn uniformly without replacement among its valid pixels (nodata
    excluded).

    Two passes over the raster, one window at a time: the pixels of each class per window
    (skipped when ``counted`` holds them), then the drawn ranks of each class (random,
    seeded) are found in the windows holding them. Memory: one window and the points.

    Args:
        classified_path: the class raster (band 1).
        allocation: points per class value (an :class:`Allocation` or {value: points}).
        seed: seed of the draw; the same raster, allocation and seed give the same points.
        hooks: progress and cancel.
        window_pixels: pixels read at once.
        counted: the first pass already made on this raster (:func:`count_classes`).

    Returns:
        The points, grouped by class in value order, ``sample_id`` in random order.

    Raises:
        LandCoverError: a class has fewer pixels than its points, or the raster changed
            between the passes.
    """
    hooks = hooks or Hooks()
    ds = open_raster(classified_path)
    info = raster_info(ds)
    if isinstance(allocation, Allocation):
        wanted = {c.value: k for c, k in zip(allocation.classes, allocation.points)}
    else:
        wanted = {int(v): int(k) for v, k in allocation.items()}
    if counted is None:
        counted = count_classes(ds, info, hooks.scaled(0, 50), window_pixels)
        hooks = hooks.scaled(50, 100)
    totals = counted.totals()
    rng = np.random.default_rng(seed)
    ranks: dict[int, NDArray[np.int64]] = {}
    for value in sorted(wanted):
        k, n = wanted[value], totals.get(value, 0)
        if k > n:
            raise LandCoverError(
                f"Class {value} has {n} pixels in the map: {k} points cannot be drawn from it."
            )
        if k:
            ranks[value] = np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)
    # pixels of each class before each window, to tell which windows hold drawn ranks
    before = {v: 0 for v in ranks}
    parts: dict[int, list[tuple[NDArray[np.int64], NDArray[np.int64]]]] = {v: [] for v in ranks}
    n_windows = max(1, len(counted.windows))
    for i, (w, counts) in enumerate(zip(counted.windows, counted.per_window)):
        hooks.check()
        hits = {}
        for v, r in ranks.items():
            m = counts.get(v, 0)
            lo, hi = np.searchsorted(r, [before[v], before[v] + m])
            if hi > lo:
                hits[v] = r[lo:hi] - before[v]
            before[v] += m
        if hits:
            data, valid = read_window(ds, [1], w, info.nodata)
            for v, local in hits.items():
                flat = np.flatnonzero((data[0] == v) & valid)  # row-major, as pass 1 counted
                if flat.size != counts[v]:
                    raise LandCoverError(
                        f"'{Path(info.path).name}' changed while it was read: run again."
                    )
                pos = flat[local]
                parts[v].append((w.yoff + pos // w.xsize, w.xoff + pos % w.xsize))
        hooks.progress(100.0 * (i + 1) / n_windows)
    rows, cols, classes = [], [], []
    for v in ranks:
        for r, c in parts[v]:
            rows.append(r)
            cols.append(c)
            classes.append(np.full(r.size, v, dtype=np.int64))
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    gt = info.geotransform
    x = gt[0] + (col + 0.5) * gt[1] + (row + 0.5) * gt[2]
    y = gt[3] + (col + 0.5) * gt[4] + (row + 0.5) * gt[5]
    return SamplePoints(
        x=x.astype(np.float64),
        y=y.astype(np.float64),
        col=col.astype(np.int64),
        row=row.astype(np.int64),
        map_class=np.concatenate(classes) if classes else np.zeros(0, dtype=np.int64),
        sample_id=rng.permutation(row.size).astype(np.int64) + 1,
    )


def write_sample(
    points: SamplePoints,
    path: str | Path,
    classes: Sequence[ClassInfo],
    crs: str,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write the points as a GeoPackage point layer named after the file, committed whole.

    The file is committed whole through core/fileio.py. Fields: ``sample_id`` (int),
    ``map_class`` (int), ``map_class_name`` (text), ``stratum`` (int, the map class),
    ``reference`` (empty text, for the user to fill with class names), ``x`` and ``y`` (the
    point in the map's CRS); the points in ``sample_id`` order.

    Args:
        points: the drawn points.
        path: the GeoPackage to write (.gpkg); an existing file is replaced.
        classes: the map classes (names of ``map_class``).
        crs: the map's CRS as WKT; "" for none.
        metadata: items stored on the layer (source map, seed, allocation).

    Returns:
        ``path`` as a Path.

    Raises:
        LandCoverError: not a .gpkg name, an unwritable folder or a failed write.
    """
    path = Path(path)
    _check_gpkg(path)
    names = {c.value: c.name for c in classes}
    srs = None
    if crs:
        srs = osr.SpatialReference()
        srs.ImportFromWkt(crs)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    with output_path(path) as part:
        ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(part))
        try:
            layer = ds.CreateLayer(path.stem, srs, ogr.wkbPoint, ["FID=fid"])
            kinds = (ogr.OFTInteger, ogr.OFTInteger, ogr.OFTString, ogr.OFTInteger,
                     ogr.OFTString, ogr.OFTReal, ogr.OFTReal)  # fmt: skip
            for name, kind in zip(FIELDS, kinds):
                layer.CreateField(ogr.FieldDefn(name, kind))
            for key, text in (metadata or {}).items():
                layer.SetMetadataItem(key, text)
            layer.StartTransaction()
            for i in np.argsort(points.sample_id, kind="stable"):
                feature = ogr.Feature(layer.GetLayerDefn())
                value = int(points.map_class[i])
                x, y = float(points.x[i]), float(points.y[i])
                feature.SetField("sample_id", int(points.sample_id[i]))
                feature.SetField("map_class", value)
                feature.SetField("map_class_name", names.get(value, str(value)))
                feature.SetField("stratum", value)
                feature.SetField("reference", "")
                feature.SetField("x", x)
                feature.SetField("y", y)
                geometry = ogr.Geometry(ogr.wkbPoint)
                geometry.AddPoint_2D(x, y)
                feature.SetGeometry(geometry)
                layer.CreateFeature(feature)
            layer.CommitTransaction()
        finally:
            ds = None  # closed before the commit moves the file
    return path


def _check_gpkg(path: Path) -> None:
    if path.suffix.lower() != ".gpkg":
        raise LandCoverError(f"Output '{path}' must be a GeoPackage: give it a .gpkg extension.")


@dataclass(frozen=True)
class AccuracySample:
    """A written accuracy-assessment sample.

    Attributes:
        path: the point GeoPackage.
        allocation: the strata and their points.
        points: the points.
        crs: the map's CRS (WKT), "" for none.
        warnings: things the user should know (named classes with no pixel).
    """

    path: Path
    allocation: Allocation
    points: SamplePoints
    crs: str
    warnings: tuple[str, ...] = ()


def make_accuracy_sample(
    classified: str | Path,
    output: str | Path,
    design: SampleDesign,
    hooks: Hooks | None = None,
    window_pixels: int = WINDOW_PIXELS,
) -> AccuracySample:
    """Draw a stratified random sample from a class raster and write it as points.

    Args:
        classified: the class raster (band 1; its nodata is left out).
        output: the point GeoPackage (.gpkg) to write.
        design: sample size, minimum per class, target standard error, seed.
        hooks: progress, cancel and log (the allocation table).
        window_pixels: pixels read at once.

    Returns:
        The written sample.

    Raises:
        LandCoverError: an unwritable or non-.gpkg output (before any pixel is read), a map
            with no class pixel, or a design that does not fit the map.
    """
    hooks = hooks or Hooks()
    output = Path(output)
    _check_gpkg(output)
    check_writable(output)
    ds = open_raster(classified)
    info = raster_info(ds)
    if ds.RasterCount != 1:  # the image rather than its map: 896 "classes" of reflectance
        raise LandCoverError(
            f"'{Path(info.path).name}' has {ds.RasterCount} bands, a class map has one: "
            "choose the classified map (the class raster), not the image."
        )
    counted = count_classes(ds, info, hooks.scaled(0, 45), window_pixels)
    totals = counted.totals()
    if not totals:
        raise LandCoverError(
            f"'{Path(info.path).name}' has no class pixel (every pixel is nodata): choose the "
            "classified map."
        )
    classes = map_classes(ds, list(totals))
    absent = [c.name for c in raster_classes(ds) if c.value not in totals]
    warnings = tuple(
        f"Class '{name}' has no pixel in the map: no point is drawn for it." for name in absent
    )
    allocation = plan(classes, [totals[c.value] for c in classes], design)
    points = draw_sample(classified, allocation, design.seed, hooks.scaled(45, 95),
                         window_pixels, counted)  # fmt: skip
    metadata = {
        "source_map": str(info.path),
        "seed": str(design.seed),
        "allocation": json.dumps(
            [
                {"value": c.value, "name": c.name, "pixels": n, "points": k}
                for c, n, k in zip(allocation.classes, allocation.pixels, allocation.points)
            ]
        ),  # fmt: skip
        "design": allocation.how,
    }
    write_sample(points, output, classes, info.crs_wkt, metadata)
    hooks.progress(100.0)
    return AccuracySample(output, allocation, points, info.crs_wkt, warnings)
