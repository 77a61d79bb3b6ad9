"""Accuracy of any classified raster against reference polygons or a reference raster."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from osgeo import gdal

from .accuracy import AccuracyReport, assess
from .callbacks import Hooks
from .classes import ClassInfo, default_colour
from .errors import LandCoverError
from .provenance import now_iso, plugin_version, polygon_layer_name
from .raster import (
    RasterInfo,
    Window,
    iter_windows,
    nodata_warnings,
    open_raster,
    raster_info,
    same_grid,
    unreadable,
)
from .sample_points import is_point_layer, point_layer_name, read_sample_points, values_at
from .vector import PolygonSource, iter_polygon_pixels, open_polygons


def _read(band: gdal.Band, w: Window) -> npt.NDArray[np.number[Any]]:
    """One window of a band; unreadable pixels are a sentence naming the file."""
    try:
        data: npt.NDArray[np.number[Any]] = band.ReadAsArray(w.xoff, w.yoff, w.xsize, w.ysize)
        return data
    except RuntimeError as exc:
        raise unreadable(band.GetDataset(), exc) from None


def _names_from_metadata(ds: gdal.Dataset) -> list[str]:
    """Category names (index = class value) from the metadata our class rasters carry inside.

    The metadata items are ``LANDCOVER_MLP_CLASSES`` and ``LANDCOVER_MLP_CLASS_VALUES``, read
    for a copy that lost its .aux.xml (gdalwarp, a file copied alone); [] when they are missing
    or disagree.
    """
    names = (ds.GetMetadataItem("LANDCOVER_MLP_CLASSES") or "").split(",")
    values = (ds.GetMetadataItem("LANDCOVER_MLP_CLASS_VALUES") or "").split(",")
    if not names or len(names) != len(values) or not all(v.isdigit() for v in values):
        return []
    out = [""] * (max(int(v) for v in values) + 1)
    for value, name in zip(values, names):
        out[int(value)] = name
    return out


def raster_classes(
    ds: gdal.Dataset, values: npt.NDArray[np.integer[Any]] | None = None
) -> tuple[ClassInfo, ...]:
    """Classes of a class raster from its category names and colour table.

    Args:
        ds: the open class raster (band 1 holds the class values).
        values: the class values present, integer (k,); they name the classes when the
            raster carries no category names. Its nodata value is left out.

    Returns:
        The classes in value order, with the colour table's colours (a default colour
        where there is none).
    """
    band = ds.GetRasterBand(1)
    names = band.GetCategoryNames() or _names_from_metadata(ds)
    table = band.GetRasterColorTable()
    nodata = band.GetNoDataValue()
    found = [i for i, n in enumerate(names) if n] if names else []
    if not found and values is not None:
        found = [int(v) for v in values if nodata is None or v != nodata]
    classes: list[ClassInfo] = []
    for v in found:
        name = names[v] if v < len(names) and names[v] else str(v)
        colour = None
        if table is not None and v < table.GetCount():
            r, g, b, _ = table.GetColorEntry(v)
            colour = f"#{r:02x}{g:02x}{b:02x}"
        classes.append(ClassInfo(v, name, colour or default_colour(name, len(classes))))
    return tuple(classes)


def _distinct_values(ds: gdal.Dataset, info: RasterInfo) -> npt.NDArray[np.int64]:
    band = ds.GetRasterBand(1)
    seen: set[int] = set()
    for w in iter_windows(info, 4_000_000):
        seen.update(np.unique(_read(band, w)).tolist())
    return np.array(sorted(seen))


def _merge(a: tuple[ClassInfo, ...], b: tuple[ClassInfo, ...]) -> tuple[ClassInfo, ...]:
    by_value = {c.value: c for c in b}
    by_value.update({c.value: c for c in a})
    return tuple(by_value[v] for v in sorted(by_value))


def _named(classes: tuple[ClassInfo, ...]) -> bool:
    return bool(classes) and any(c.name != str(c.value) for c in classes)


def _match_by_name(
    ref: npt.NDArray[np.int64], own: tuple[ClassInfo, ...], theirs: tuple[ClassInfo, ...]
) -> tuple[npt.NDArray[np.int64], bool]:
    """Recode reference values to the classified raster's values when both carry class names.

    The same classes may be numbered differently, e.g. text classes numbered by name.
    """
    if not (_named(own) and _named(theirs)):
        return ref, False
    by_name = {c.name: c.value for c in own}
    unknown = sorted({c.name for c in theirs if c.name not in by_name} & {
        c.name for c in theirs if c.value in set(np.unique(ref).tolist())})  # fmt: skip
    if unknown:
        raise LandCoverError(
            f"Reference classes {', '.join(unknown)} are not classes of the classified raster "
            f"({', '.join(by_name)}): use a reference with the same class names."
        )
    lut = np.arange(max(int(ref.max(initial=0)), max(c.value for c in theirs)) + 1)
    for c in theirs:
        if c.name in by_name:
            lut[c.value] = by_name[c.name]
    return lut[ref], True


def refuse_numbers_for_names(
    classes: tuple[ClassInfo, ...], field_is_text: bool, class_field: str, what: str
) -> None:
    """Refuse a numeric class field against classes that have names.

    The class values of a map (or model) trained on a text field number the names
    (alphabetically), so another numbering in the reference (``class_id`` 1 = forest where
    the map's 1 = barren) would be compared value by value and give a wrong accuracy without
    a word. A field of whole numbers can only be read against numbered classes.

    Args:
        classes: the map's or model's classes.
        field_is_text: the reference field holds text.
        class_field: the reference field's name (for the sentence).
        what: the map or model file's name (for the sentence).

    Raises:
        LandCoverError: the field holds numbers and the classes have names.
    """
    if field_is_text or not _named(classes):
        return
    raise LandCoverError(
        f"{what} names its classes ({', '.join(c.name for c in classes)}) but the field "
        f"'{class_field}' holds numbers, which may number them differently: give the field "
        "with the class names."
    )


@dataclass(frozen=True)
class _Pairs:
    """Reference and predicted values of the compared pixels, and what they are."""

    ref: npt.NDArray[np.int64]  # (n,) class values of the reference
    pred: npt.NDArray[np.int64]  # (n,) class values of the classified raster
    classes: tuple[ClassInfo, ...]
    method: str
    warnings: list[str]


def _polygon_values(
    ds: gdal.Dataset, info: RasterInfo, source: PolygonSource, key: dict[str, int] | None,
    all_touched: bool, hooks: Hooks, log: list[str],
) -> tuple[list[npt.NDArray[np.int64]], list[npt.NDArray[np.int64]], set[str]]:  # fmt: skip
    """Reference value and classified values of the pixels under each polygon.

    Returns:
        Reference arrays and predicted arrays (one per polygon part), and the text classes
        that ``key`` does not know.
    """
    band = ds.GetRasterBand(1)
    refs, preds, unknown = [], [], set()
    for part in iter_polygon_pixels(source, info, all_touched, log):
        hooks.check()
        w = part.window
        pred = _read(band, w)[part.mask]
        if key is not None:
            if part.raw_class not in key:
                unknown.add(str(part.raw_class))
                continue
            ref_value = key[str(part.raw_class)]
        else:
            ref_value = int(part.raw_class)  # type: ignore[call-overload]
        refs.append(np.full(pred.size, ref_value, dtype=np.int64))
        preds.append(pred.astype(np.int64))
    return refs, preds, unknown


def _pairs_from_polygons(ds: gdal.Dataset, info: RasterInfo, classified: str | Path,
                         reference: str | Path, class_field: str, all_touched: bool,
                         hooks: Hooks, layer: str | None = None) -> _Pairs:  # fmt: skip
    """The pixels under the reference polygons; text classes matched by class name.

    The polygons of ``layer`` (None = the only polygon layer).
    """
    source = open_polygons(reference, class_field, layer)
    classes = raster_classes(ds, _distinct_values(ds, info))
    refuse_numbers_for_names(classes, source.is_text, class_field, f"'{Path(classified).name}'")
    key = {c.name: c.value for c in classes} if source.is_text else None
    log: list[str] = []
    refs, preds, unknown = _polygon_values(ds, info, source, key, all_touched, hooks, log)
    if unknown:
        raise LandCoverError(
            f"Reference classes {', '.join(sorted(unknown))} are not classes of "
            f"'{Path(classified).name}' ({', '.join(c.name for c in classes)}): use the "
            "same class names as for training."
        )
    if not refs:
        raise LandCoverError(
            "No reference polygon overlaps the classified raster: check their area and CRS."
        )
    ref = np.concatenate(refs)
    if not source.is_text:
        classes = _merge(classes, tuple(ClassInfo(int(v), str(v), default_colour(str(v), i))
                                        for i, v in enumerate(np.unique(ref))))  # fmt: skip
    method = f"reference polygons '{Path(reference).name}' (field {class_field})"
    return _Pairs(ref, np.concatenate(preds), classes, method, log)


def _on_the_grid(
    path: str | Path, what: str, info: RasterInfo, classified: str | Path
) -> tuple[gdal.Dataset, RasterInfo]:
    """Open a raster that must lie on the map's grid (a reference or strata raster).

    Raises:
        LandCoverError: it cannot be read, or its grid is not the map's.
    """
    ds = open_raster(path)
    other = raster_info(ds)
    if not same_grid(info, other):
        raise LandCoverError(
            f"{what} '{Path(path).name}' is not on the grid of '{Path(classified).name}' "
            f"({other.width}x{other.height} vs {info.width}x{info.height}): resample it to "
            "the same grid first."
        )
    return ds, other


def _pairs_from_raster(ds: gdal.Dataset, info: RasterInfo, classified: str | Path,
                       reference: str | Path, hooks: Hooks) -> _Pairs:  # fmt: skip
    """The reference raster's labelled pixels; classes matched by name when both have names."""
    rds, rinfo = _on_the_grid(reference, "Reference raster", info, classified)
    rband, band = rds.GetRasterBand(1), ds.GetRasterBand(1)
    rnodata = rinfo.nodata[0]  # None also when the band cannot hold its tag (then 0 = none)
    refs, preds = [], []
    windows = list(iter_windows(info, 4_000_000))
    for k, w in enumerate(windows):
        hooks.check()
        r = _read(rband, w)
        p = _read(band, w)
        ok = r != 0 if rnodata is None else r != rnodata  # without nodata, 0 is unlabelled
        refs.append(r[ok].astype(np.int64))
        preds.append(p[ok].astype(np.int64))
        hooks.progress(100.0 * (k + 1) / len(windows))
    ref, pred = np.concatenate(refs), np.concatenate(preds)
    own = raster_classes(ds, _distinct_values(ds, info))
    theirs = raster_classes(rds, np.unique(ref))
    ref, renamed = _match_by_name(ref, own, theirs)
    classes = own if renamed else _merge(own, theirs)
    return _Pairs(ref, pred, classes, f"reference raster '{Path(reference).name}'",
                  nodata_warnings(rinfo, [1]))  # fmt: skip


def _point_sample_report(
    ds: gdal.Dataset,
    info: RasterInfo,
    classified: str | Path,
    reference: str | Path,
    class_field: str,
    strata: str | Path | None,
    hooks: Hooks,
    layer: str | None,
) -> AccuracyReport:
    """The accuracy of a map from its labelled stratified sample of points.

    The sample's confusion matrix (counts of points) and the area-adjusted estimates of
    :func:`.area_estimation.area_adjusted` (Olofsson et al. 2014 with the map classes as
    strata; Stehman 2014 with ``strata``).
    """
    from .area_estimation import area_adjusted, mapped_areas

    mapped = mapped_areas(classified, info.nodata[0], hooks.scaled(0, 80 if strata else 100))
    classes = raster_classes(ds, np.array(sorted(mapped.pixels)))
    points = read_sample_points(reference, class_field, ds, info, classes, layer)
    name = Path(reference).name
    if strata is not None:
        sds, sinfo = _on_the_grid(strata, "Strata raster", info, classified)
        at_points = values_at(sds, points.rows, points.cols)
        if points.stratum is not None and (points.stratum != at_points).any():
            bad = int((points.stratum != at_points).sum())
            raise LandCoverError(
                f"The '{name}' stratum field differs from the strata raster at {bad} point(s): "
                "give the strata raster the points were drawn from."
            )
        strata_areas = mapped_areas(strata, sinfo.nodata[0], hooks.scaled(80, 100))
        area = area_adjusted(points.map_class, points.reference, classes, mapped,
                             strata=at_points, strata_areas=strata_areas,
                             n_unlabelled=points.n_unlabelled)  # fmt: skip
    else:
        if points.stratum is not None and (points.stratum != points.map_class).any():
            raise LandCoverError(
                f"The stratum field of '{name}' differs from the map class at some points: "
                "the strata are not the map's classes, so give the strata raster (--strata)."
            )
        area = area_adjusted(points.map_class, points.reference, classes, mapped,
                             n_unlabelled=points.n_unlabelled)  # fmt: skip
    warnings = list(points.warnings)
    if points.n_unlabelled:
        warnings.append(
            f"{points.n_unlabelled} point(s) with an empty '{class_field}' were left out."
        )
    method = (
        f"stratified random sample of points '{name}' (field {class_field}): the matrix "
        "counts sample points; the area-adjusted estimates weight them by mapped area"
    )
    pairs = _Pairs(points.reference, points.map_class, classes, method, warnings)
    return replace(_report(pairs, info.nodata[0]), area_adjusted=area)


def _report(pairs: _Pairs, nodata: float | None) -> AccuracyReport:
    """The accuracy of the pairs whose classified pixel is not nodata."""
    warnings = list(pairs.warnings)
    unclassified = pairs.pred == nodata if nodata is not None else np.zeros(pairs.pred.size, bool)
    if unclassified.any():
        warnings.append(
            f"{int(unclassified.sum())} reference pixel(s) are nodata in the classified "
            "raster and were left out."
        )
    ref, pred = pairs.ref[~unclassified], pairs.pred[~unclassified]
    if ref.size == 0:
        raise LandCoverError("No reference pixel falls on a classified pixel: nothing to compare.")
    values = np.unique(np.concatenate([ref, pred]))
    classes = _merge(pairs.classes, tuple(ClassInfo(int(v), str(v), default_colour(str(v), 0))
                                          for v in values))  # fmt: skip
    index = np.zeros(max(c.value for c in classes) + 1, dtype=np.int64)
    index[[c.value for c in classes]] = np.arange(len(classes))
    return assess(index[ref], index[pred], classes, pairs.method, warnings)


def evaluate(
    classified: str | Path,
    reference: str | Path,
    class_field: str | None = None,
    all_touched: bool = False,
    hooks: Hooks | None = None,
    layer: str | None = None,
    strata: str | Path | None = None,
) -> AccuracyReport:
    """Compare a class raster with reference polygons, reference points or a reference raster.

    Args:
        classified: class raster (e.g. written by :func:`classify_raster`).
        reference: polygon layer or point layer (both need ``class_field``), or a class
            raster on the same grid. A point layer is an accuracy sample (``accuracy-sample``):
            the report then also holds ``area_adjusted``, the area-adjusted accuracies and
            class areas with their standard errors (:mod:`.area_estimation`).
        class_field: reference class field; text classes are matched to the classified
            raster's class names, integer classes to its values. Points with an empty
            reference are left out and counted.
        all_touched: pixel rule for the reference polygons.
        hooks: progress and cancel.
        layer: layer of the reference polygons or points inside ``reference`` (None = its
            only layer with geometries).
        strata: for a point sample whose strata are not the map's classes, the strata raster
            it was drawn from (same grid as the map; Stehman 2014). None = strata are the map
            classes (Olofsson et al. 2014).

    Returns:
        The accuracy report; the confusion matrix rows are the reference.

    Raises:
        LandCoverError: unreadable input, unknown classes, different grids, no overlap,
            strata given for a reference that is not a point sample.
    """
    hooks = hooks or Hooks()
    ds = open_raster(classified)
    info = raster_info(ds)
    points = bool(class_field) and is_point_layer(reference, layer)
    if strata is not None and not points:
        raise LandCoverError(
            "Strata apply to a sample of reference points only: give the points "
            "(accuracy-sample) as the reference, or leave the strata out."
        )
    if points:
        report = _point_sample_report(ds, info, classified, reference, str(class_field),
                                      strata, hooks, layer)  # fmt: skip
        report = replace(report, warnings=(*report.warnings, *nodata_warnings(info, [1])))
        hooks.progress(100.0)
        return report
    if class_field:
        pairs = _pairs_from_polygons(ds, info, classified, reference, class_field, all_touched,
                                     hooks, layer)  # fmt: skip
    else:
        pairs = _pairs_from_raster(ds, info, classified, reference, hooks)
    pairs.warnings.extend(nodata_warnings(info, [1]))  # the classified raster's own tag
    report = _report(pairs, info.nodata[0])
    hooks.progress(100.0)
    return report


def evaluation_provenance(
    classified: str | Path,
    reference: str | Path,
    class_field: str | None = None,
    all_touched: bool = False,
    layer: str | None = None,
    strata: str | Path | None = None,
) -> dict[str, Any]:
    """What an accuracy report of :func:`evaluate` (same arguments) compared.

    For the report's *Provenance* section and its JSON key ``provenance``: ``classified`` (the
    class raster), ``reference`` (polygons, points or raster), for polygons
    ``reference_layer``, ``class_field`` and ``pixel_rule``, for points ``reference_layer``,
    ``class_field`` and ``strata`` (when given); then ``created`` (now, ISO 8601 with the UTC
    offset) and ``plugin_version``.

    Raises:
        LandCoverError: the reference polygon layer cannot be opened.
    """
    out: dict[str, Any] = {"classified": str(classified), "reference": str(reference)}
    if class_field and is_point_layer(reference, layer):  # an accuracy sample of points
        out.update(reference_layer=point_layer_name(reference, layer), class_field=class_field)
        if strata is not None:
            out["strata"] = str(strata)
    elif class_field:
        out.update(
            reference_layer=polygon_layer_name(reference, class_field, layer),
            class_field=class_field,
            pixel_rule="all_touched" if all_touched else "centre",
        )
    return {**out, "created": now_iso(), "plugin_version": plugin_version()}
