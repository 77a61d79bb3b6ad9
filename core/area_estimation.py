"""Area-adjusted accuracy and class areas from a stratified random sample of map points.

The good-practice estimators land-cover mappers report (a stratified random sample of pixels,
each labelled with its reference class): overall, user's and producer's accuracy and each
class's area, with standard errors (SE) and 95 % confidence intervals (1.96 SE), weighted by
the size of each stratum:

- :func:`olofsson_estimates`: strata = map classes (Olofsson et al. 2014, Remote Sensing of
  Environment 148: 42-57, eqs. 2-10), from the count error matrix and the mapped areas.
- :func:`stehman_estimates`: strata that may differ from the map classes (Stehman 2014,
  Int. J. Remote Sens. 35: 4923-4939): stratified means (eq. 3, SE eq. 25) and ratio
  estimators R = Y/X (eq. 27, SE eq. 28). With strata = map classes both give the same numbers.
- :func:`disagreement`: quantity and allocation disagreement (Pontius and Millones 2011,
  Int. J. Remote Sens. 32: 4407-4429), which add up to 1 - overall accuracy.
- :func:`mapped_areas` (from :mod:`.map_areas`): pixels and hectares of each class value of
  a class raster.
- :func:`area_adjusted`: all of it for one point sample, as the report's ``area_adjusted``.

Conventions: every error matrix here has rows = reference (truth) and columns = map, as all
the reports of this project (Olofsson et al. and Stehman print the transpose). Stratum sizes
and mapped areas only enter as weights, so any unit works (pixels or hectares). The finite
population correction (1 - n_h/N_h) of Stehman's eqs. 25 and 28 is left out, as in
Olofsson et al. and the worked examples (a map has far more pixels than a sample has points),
unless :func:`stehman_estimates` is asked for it with sizes in pixels. An undefined number
(the user's accuracy of a class that is never mapped, any SE to which a stratum of one
labelled point contributes) is NaN in the arrays and None in JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .classes import ClassInfo
from .errors import LandCoverError
from .map_areas import MappedAreas, ellipsoid_cell_area, mapped_areas

__all__ = [
    "AreaAdjusted",
    "ClassArea",
    "Estimates",
    "MappedAreas",
    "area_adjusted",
    "disagreement",
    "ellipsoid_cell_area",
    "mapped_areas",
    "olofsson_estimates",
    "stehman_estimates",
]

Floats = npt.NDArray[np.float64]
Ints = npt.ArrayLike

#: z of the two-sided 95 % normal interval, as in Olofsson et al. (2014).
Z95 = 1.96

OLOFSSON_PROTOCOL = (
    "Stratified estimation with the map classes as strata (Olofsson et al. 2014, Remote "
    "Sensing of Environment 148: 42-57): the sample's error matrix weighted by the mapped "
    "area of each class (eqs. 2-4, 8-9), standard errors of eqs. 5-7 and 10, 95 % intervals "
    "of +/- 1.96 SE; quantity and allocation disagreement of Pontius and Millones (2011)."
)
STEHMAN_PROTOCOL = (
    "Stratified estimation with strata that differ from the map classes (Stehman 2014, Int. "
    "J. Remote Sens. 35: 4923-4939): stratified means (eq. 3) and ratio estimators (eq. 27) "
    "weighted by the size of each stratum, standard errors of eqs. 25 and 28, 95 % intervals "
    "of +/- 1.96 SE; quantity and allocation disagreement of Pontius and Millones (2011)."
)


@dataclass(frozen=True, eq=False)
class Estimates:
    """The numbers of one estimator; arrays of shape (k,) in class order, NaN = undefined.

    Attributes:
        overall_accuracy: estimated share of the area mapped right.
        overall_accuracy_se: its standard error.
        users_accuracy: share of each map class's area that is that class on the ground.
        users_accuracy_se: standard errors.
        producers_accuracy: share of each reference class's area mapped as that class.
        producers_accuracy_se: standard errors.
        area_proportion: share of the total area that is each class on the ground.
        area_proportion_se: standard errors.
        error_matrix: (k, k) estimated proportions of area, rows = reference, columns = map;
            sums to 1.
    """

    overall_accuracy: float
    overall_accuracy_se: float
    users_accuracy: Floats
    users_accuracy_se: Floats
    producers_accuracy: Floats
    producers_accuracy_se: Floats
    area_proportion: Floats
    area_proportion_se: Floats
    error_matrix: Floats


def _ratio(num: Floats, den: Floats) -> Floats:
    """The ratio num / den, NaN where den is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio: Floats = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return ratio


def _se(variance: Floats | float) -> Floats:
    """Square root of a variance; rounding just below 0 is 0, NaN stays NaN."""
    se: Floats = np.sqrt(np.maximum(np.asarray(variance, dtype=np.float64), 0.0))
    return se


def olofsson_estimates(counts: npt.ArrayLike, mapped_sizes: npt.ArrayLike) -> Estimates:
    """Olofsson et al. (2014) estimates with the map classes as strata.

    Args:
        counts: (k, k) sample counts, rows = reference class, columns = map class (the
            transpose of Olofsson et al.'s tables), classes in the order of ``mapped_sizes``.
        mapped_sizes: (k,) mapped area of each class, any unit (pixels, hectares): the
            weights W_i = A_i / sum(A).

    Returns:
        The estimates; p_ij = W_i n_ij / n_i. (eq. 4), SEs of eqs. 5, 6, 7 and 10.

    Raises:
        LandCoverError: shapes differ, negative numbers, a mapped class without a sample
            point, points on a class with no mapped area, or no mapped area at all.
    """
    n = np.asarray(counts, dtype=np.float64).T  # (map i, reference j), as in the paper
    sizes = np.asarray(mapped_sizes, dtype=np.float64)
    k = sizes.size
    if n.shape != (k, k) or sizes.ndim != 1:
        raise LandCoverError(
            f"The error matrix {n.shape} and the {k} mapped areas do not match: give a k x k "
            "matrix and k areas."
        )
    if (n < 0).any() or (sizes < 0).any() or not sizes.sum() > 0:
        raise LandCoverError("Sample counts and mapped areas must be >= 0, with some area.")
    n_i = n.sum(axis=1)
    for i in range(k):
        if sizes[i] > 0 and n_i[i] == 0:
            raise LandCoverError(
                f"Map class number {i + 1} has mapped area but no labelled sample point: its "
                "stratum cannot be estimated. Label points of every mapped class."
            )
        if sizes[i] == 0 and n_i[i] > 0:
            raise LandCoverError(
                f"Map class number {i + 1} has sample points but no mapped area: compute "
                "the mapped areas from the map the points were drawn on."
            )
    w = sizes / sizes.sum()
    share = _ratio(n, n_i[:, None])  # n_ij / n_i.
    share[w == 0] = 0.0
    p = w[:, None] * share
    with np.errstate(invalid="ignore", divide="ignore"):
        # (n_ij/n_i.)(1 - n_ij/n_i.)/(n_i. - 1): 0/0 = NaN for a stratum of one point
        var_share = share * (1.0 - share) / (n_i - 1.0)[:, None]
    var_share[w == 0] = 0.0
    weighted = w[:, None] ** 2 * var_share  # W_i^2 var(n_ij/n_i.)
    diag = np.diag(p)
    users = _ratio(np.diag(n), n_i)
    col = p.sum(axis=0)  # p_.j
    producers = _ratio(diag, col)
    off = weighted.sum(axis=0) - np.diag(weighted)  # sum over i != j
    with np.errstate(invalid="ignore"):
        var_producers = _ratio(
            np.diag(weighted) * (1.0 - producers) ** 2 + producers**2 * off, col**2
        )
    return Estimates(
        overall_accuracy=float(diag.sum()),
        overall_accuracy_se=float(_se(np.trace(weighted))),  # eq. 5
        users_accuracy=users,
        users_accuracy_se=_se(np.where(w > 0, np.diag(var_share), np.nan)),  # eq. 6
        producers_accuracy=producers,
        producers_accuracy_se=_se(var_producers),  # eq. 7
        area_proportion=col,
        area_proportion_se=_se(weighted.sum(axis=0)),  # eq. 10
        error_matrix=p.T.copy(),
    )


def _indices(values: Ints, index: Mapping[int, int], what: str) -> npt.NDArray[np.int64]:
    """Class indices of class values; a value outside the class list is an error."""
    arr = np.asarray(values, dtype=np.int64).ravel()
    unknown = sorted(set(np.unique(arr).tolist()) - set(index))
    if unknown:
        raise LandCoverError(
            f"{what} value(s) {', '.join(map(str, unknown[:10]))} are not in the class list "
            f"({', '.join(map(str, index))}): give the class of every sample point."
        )
    lut = dict(index)
    return np.array([lut[v] for v in arr.tolist()], dtype=np.int64)


def _sample_cov(a: Floats, b: Floats) -> Floats:
    """Column-wise sample covariance (n - 1 in the denominator); NaN for one row."""
    rows = a.shape[0]
    if rows < 2:
        return np.full(a.shape[1:], np.nan)
    cov: Floats = ((a - a.mean(axis=0)) * (b - b.mean(axis=0))).sum(axis=0) / (rows - 1)
    return cov


def stehman_estimates(
    strata: Ints,
    map_classes: Ints,
    reference: Ints,
    stratum_sizes: Mapping[int, float],
    class_values: Sequence[int],
    *,
    finite_population_correction: bool = False,
) -> Estimates:
    """Stehman (2014) estimates for stratified random sampling, strata free of the map classes.

    Each sample unit u carries y_u indicators: reference = k (area, eq. 14), map = reference
    (overall accuracy, eq. 12), map = k and reference = k (user's and producer's numerator,
    eqs. 18 and 22), map = k (user's denominator), map = i and reference = j (error matrix).

    Args:
        strata: (n,) stratum value of each labelled sample point.
        map_classes: (n,) map class value of each point.
        reference: (n,) reference class value of each point.
        stratum_sizes: size N_h of each stratum value (pixels, or any area unit unless
            ``finite_population_correction``); strata of size 0 are ignored.
        class_values: the k class values, in the order of the results.
        finite_population_correction: multiply each stratum's variance by 1 - n_h/N_h
            (eqs. 25 and 28 as printed); needs ``stratum_sizes`` in pixels.

    Returns:
        The estimates (SE NaN when a stratum holds a single point).

    Raises:
        LandCoverError: lengths differ, a class or stratum value that is not listed, a
            stratum with size but no point, or no point at all.
    """
    index = {int(v): i for i, v in enumerate(class_values)}
    if len(index) != len(class_values):
        raise LandCoverError(f"Class list {list(class_values)} repeats a value: list each once.")
    s = np.asarray(strata, dtype=np.int64).ravel()
    m = _indices(map_classes, index, "Map class")
    r = _indices(reference, index, "Reference class")
    if not s.size == m.size == r.size:
        raise LandCoverError(
            f"{s.size} strata, {m.size} map classes and {r.size} reference classes: give one "
            "of each per sample point."
        )
    if s.size == 0:
        raise LandCoverError("No labelled sample point: label the reference class of points.")
    sizes = {int(h): float(v) for h, v in stratum_sizes.items() if v > 0}
    unknown = sorted(set(np.unique(s).tolist()) - set(sizes))
    if unknown:
        raise LandCoverError(
            f"Stratum value(s) {', '.join(map(str, unknown[:10]))} of sample points have no "
            "stratum size: give the size of every stratum the points were drawn from."
        )
    empty = [h for h in sizes if not (s == h).any()]
    if empty:
        raise LandCoverError(
            f"Stratum value(s) {', '.join(map(str, empty[:10]))} have no labelled sample "
            "point: their share of the area cannot be estimated. Label points in every stratum."
        )
    k = len(index)
    eye = np.eye(k)
    mm, rr = eye[m], eye[r]  # (n, k) one-hot map and reference class
    correct = (m == r).astype(np.float64)
    yy = rr * correct[:, None]  # map = reference = k
    total_n = sum(sizes.values())
    tot_m, tot_r, tot_y, tot_o = np.zeros(k), np.zeros(k), np.zeros(k), 0.0
    cells = np.zeros((k, k))
    parts = []
    for h, size in sizes.items():
        sel = s == h
        n_h = int(sel.sum())
        fpc = 1.0 - n_h / size if finite_population_correction else 1.0
        tot_m += size * mm[sel].mean(axis=0)
        tot_r += size * rr[sel].mean(axis=0)
        tot_y += size * yy[sel].mean(axis=0)
        tot_o += size * correct[sel].mean()
        cells += size * (rr[sel].T @ mm[sel]) / n_h
        c = correct[sel][:, None]
        parts.append((size**2 * fpc / n_h, _sample_cov(yy[sel], yy[sel]),
                      _sample_cov(mm[sel], mm[sel]), _sample_cov(rr[sel], rr[sel]),
                      _sample_cov(yy[sel], mm[sel]), _sample_cov(yy[sel], rr[sel]),
                      float(_sample_cov(c, c)[0])))  # fmt: skip
    users = _ratio(tot_y, tot_m)
    producers = _ratio(tot_y, tot_r)
    var_u, var_p, var_a, var_o = np.zeros(k), np.zeros(k), np.zeros(k), 0.0
    for c_h, v_y, v_m, v_r, c_ym, c_yr, v_o in parts:
        var_u = var_u + c_h * (v_y + users**2 * v_m - 2 * users * c_ym)  # eq. 28
        var_p = var_p + c_h * (v_y + producers**2 * v_r - 2 * producers * c_yr)
        var_a = var_a + c_h * v_r  # eq. 25
        var_o += c_h * v_o
    return Estimates(
        overall_accuracy=tot_o / total_n,
        overall_accuracy_se=float(_se(var_o / total_n**2)),
        users_accuracy=users,
        users_accuracy_se=_se(_ratio(var_u, tot_m**2)),
        producers_accuracy=producers,
        producers_accuracy_se=_se(_ratio(var_p, tot_r**2)),
        area_proportion=tot_r / total_n,
        area_proportion_se=_se(var_a / total_n**2),
        error_matrix=cells / total_n,
    )


def disagreement(error_matrix: npt.ArrayLike) -> tuple[float, float]:
    """Quantity and allocation disagreement of Pontius and Millones (2011).

    q_g = |p_g+ - p_+g|, Q = sum(q_g) / 2; a_g = 2 min(p_g+ - p_gg, p_+g - p_gg),
    A = sum(a_g) / 2. Both are symmetric in rows and columns; Q + A = 1 - overall accuracy
    when the matrix sums to 1.

    Args:
        error_matrix: (k, k) estimated proportions of area (either orientation).

    Returns:
        ``(quantity_disagreement, allocation_disagreement)``.
    """
    p = np.asarray(error_matrix, dtype=np.float64)
    rows, cols, diag = p.sum(axis=1), p.sum(axis=0), np.diag(p)
    quantity = float(np.abs(rows - cols).sum() / 2)
    allocation = float((2 * np.minimum(rows - diag, cols - diag)).sum() / 2)
    return quantity, allocation


@dataclass(frozen=True)
class ClassArea:
    """Area-adjusted numbers of one class (NaN = undefined, None in JSON).

    Attributes:
        value: class value in the map.
        name: class name.
        users_accuracy: user's accuracy and its standard error (``users_accuracy_se``).
        users_accuracy_se: see ``users_accuracy``.
        producers_accuracy: producer's accuracy and its standard error.
        producers_accuracy_se: see ``producers_accuracy``.
        area_proportion: estimated share of the total area that is this class on the ground.
        area_proportion_se: its standard error.
        area_ha: estimated area, in the report's ``area_unit`` (hectares or pixels).
        area_ha_ci95: half-width of its 95 % confidence interval (1.96 SE), same unit.
        mapped_area_ha: the area the map shows as this class (pixel counting), same unit.
    """

    value: int
    name: str
    users_accuracy: float
    users_accuracy_se: float
    producers_accuracy: float
    producers_accuracy_se: float
    area_proportion: float
    area_proportion_se: float
    area_ha: float
    area_ha_ci95: float
    mapped_area_ha: float


def _json(v: object) -> object:
    """NaN and infinities become None; numpy numbers plain Python."""
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


@dataclass(frozen=True)
class AreaAdjusted:
    """Area-adjusted accuracy and class areas of a map from a stratified point sample.

    Attributes:
        overall_accuracy: estimated overall accuracy (share of the area mapped right).
        overall_accuracy_se: its standard error.
        classes: per class numbers, in map (class list) order.
        error_matrix: (k, k) estimated proportions of area, rows = reference, columns = map.
        quantity_disagreement: Pontius and Millones (2011) quantity disagreement.
        allocation_disagreement: their allocation disagreement (Q + A = 1 - OA).
        n_points: labelled sample points used.
        n_points_unlabelled: sample points with an empty reference, left out.
        area_unit: "ha", or "pixels" when the map has no CRS.
        area_note: the sentence saying how areas were measured.
        protocol: the sentence naming the estimator and its paper.
    """

    overall_accuracy: float
    overall_accuracy_se: float
    classes: tuple[ClassArea, ...]
    error_matrix: tuple[tuple[float, ...], ...]
    quantity_disagreement: float
    allocation_disagreement: float
    n_points: int
    n_points_unlabelled: int
    area_unit: str
    area_note: str
    protocol: str

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON object ``area_adjusted`` (undefined numbers are None)."""
        return {
            "overall_accuracy": _json(self.overall_accuracy),
            "overall_accuracy_se": _json(self.overall_accuracy_se),
            "classes": [{k: _json(v) for k, v in vars(c).items()} for c in self.classes],
            "error_matrix_orientation": (
                "rows = reference (truth), columns = map (predicted); cells = estimated "
                "proportion of the total area"
            ),
            "error_matrix": [[_json(v) for v in row] for row in self.error_matrix],
            "quantity_disagreement": _json(self.quantity_disagreement),
            "allocation_disagreement": _json(self.allocation_disagreement),
            "n_points": self.n_points,
            "n_points_unlabelled": self.n_points_unlabelled,
            "area_unit": self.area_unit,
            "area_note": self.area_note,
            "protocol": self.protocol,
        }


def _sizes(areas: MappedAreas, hectares: bool) -> dict[int, float]:
    if hectares and areas.hectares is not None:
        return dict(areas.hectares)
    return {v: float(c) for v, c in areas.pixels.items()}


def area_adjusted(
    map_classes: Ints,
    reference: Ints,
    classes: Sequence[ClassInfo],
    mapped: MappedAreas,
    *,
    strata: Ints | None = None,
    strata_areas: MappedAreas | None = None,
    n_unlabelled: int = 0,
) -> AreaAdjusted:
    """Area-adjusted accuracy and areas of a map from its labelled stratified sample.

    Without ``strata`` the map classes are the strata (Olofsson et al. 2014, weights = mapped
    areas); with them, Stehman (2014) with the strata's sizes. Areas are in hectares when
    the map (and the strata raster) have them, else everything is in pixels.

    Args:
        map_classes: (n,) map class value under each labelled point.
        reference: (n,) reference class value of each labelled point (as class values).
        classes: the map's classes, in the order of the report.
        mapped: :func:`mapped_areas` of the map.
        strata: (n,) stratum value of each labelled point, or None (strata = map classes).
        strata_areas: :func:`mapped_areas` of the strata raster (needed with ``strata``).
        n_unlabelled: points left out because their reference is empty.

    Returns:
        The report's ``area_adjusted`` numbers.

    Raises:
        LandCoverError: a map value missing from ``classes``, a class or stratum with area
            but no labelled point, values outside the class list, lengths that differ.
    """
    values = [c.value for c in classes]
    stray = sorted(set(mapped.pixels) - set(values))
    if stray:
        raise LandCoverError(
            f"The map holds value(s) {', '.join(map(str, stray[:10]))} that are not in its "
            f"class list ({', '.join(map(str, values))}): name every class of the map."
        )
    in_ha = mapped.hectares is not None and (strata is None or (
        strata_areas is not None and strata_areas.hectares is not None))  # fmt: skip
    map_sizes = _sizes(mapped, in_ha)
    sizes = np.array([map_sizes.get(v, 0.0) for v in values])
    n = int(np.asarray(map_classes).size)
    if strata is None:
        index = {v: i for i, v in enumerate(values)}
        m = _indices(map_classes, index, "Map class")
        r = _indices(reference, index, "Reference class")
        if m.size != r.size:
            raise LandCoverError(
                f"{m.size} map classes and {r.size} reference classes: give both per point."
            )
        missing = [c.name for c, size in zip(classes, sizes) if size > 0 and not (m == index[c.value]).any()]  # fmt: skip
        if missing:
            raise LandCoverError(
                f"Class(es) {', '.join(missing)} are mapped but have no labelled sample point: "
                "their area and accuracy cannot be estimated. Label points of every class."
            )
        counts = np.zeros((len(values), len(values)))
        np.add.at(counts, (r, m), 1)
        est = olofsson_estimates(counts, sizes)
        total, protocol = float(sizes.sum()), OLOFSSON_PROTOCOL
    else:
        if strata_areas is None:
            raise LandCoverError("Strata were given without the sizes of the strata.")
        stratum_sizes = _sizes(strata_areas, in_ha)
        est = stehman_estimates(strata, map_classes, reference, stratum_sizes, values)
        total, protocol = float(sum(stratum_sizes.values())), STEHMAN_PROTOCOL
    quantity, allocation = disagreement(est.error_matrix)
    rows = tuple(
        ClassArea(
            value=c.value,
            name=c.name,
            users_accuracy=float(est.users_accuracy[i]),
            users_accuracy_se=float(est.users_accuracy_se[i]),
            producers_accuracy=float(est.producers_accuracy[i]),
            producers_accuracy_se=float(est.producers_accuracy_se[i]),
            area_proportion=float(est.area_proportion[i]),
            area_proportion_se=float(est.area_proportion_se[i]),
            area_ha=float(est.area_proportion[i]) * total,
            area_ha_ci95=Z95 * float(est.area_proportion_se[i]) * total,
            mapped_area_ha=float(sizes[i]),
        )
        for i, c in enumerate(classes)
    )
    note = mapped.unit_note
    if not in_ha and mapped.hectares is not None:
        note = "Areas are in pixels: the strata raster has no CRS to measure hectares in."
    return AreaAdjusted(
        overall_accuracy=float(est.overall_accuracy),
        overall_accuracy_se=float(est.overall_accuracy_se),
        classes=rows,
        error_matrix=tuple(tuple(float(v) for v in row) for row in est.error_matrix),
        quantity_disagreement=quantity,
        allocation_disagreement=allocation,
        n_points=n,
        n_points_unlabelled=int(n_unlabelled),
        area_unit="ha" if in_ha else "pixels",
        area_note=note,
        protocol=protocol,
    )
