"""Area-adjusted accuracy and class areas from a stratified sample (Olofsson et al. 2014,
Stehman 2014), quantity and allocation disagreement (Pontius and Millones 2011), and the
mapped area of each class of a class raster."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.integrate import quad

from landcover_mlp.core import CancelledError, LandCoverError
from landcover_mlp.core.area_estimation import (
    Estimates,
    MappedAreas,
    area_adjusted,
    disagreement,
    ellipsoid_cell_area,
    mapped_areas,
    olofsson_estimates,
    stehman_estimates,
)
from landcover_mlp.core.callbacks import Hooks
from landcover_mlp.core.classes import ClassInfo

# Olofsson et al. (2014), section 5, table 8: rows = map, columns = reference.
OLOFSSON_COUNTS = [[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]]
OLOFSSON_PIXELS = {1: 200_000, 2: 150_000, 3: 3_200_000, 4: 6_450_000}  # 30 m: 0.09 ha
OLOFSSON_CLASSES = tuple(
    ClassInfo(v, n, "#000000")
    for v, n in enumerate(("Deforestation", "Forest gain", "Stable forest", "Stable non-forest"), 1)
)
# Stehman (2014), table 2: stratum -> (map, reference) of its 10 units; A-D = 1-4.
A, B, C, D = 1, 2, 3, 4
STEHMAN_UNITS = {
    1: [(A, A)] * 5 + [(A, C), (A, B), (B, A), (B, B), (B, C)],
    2: [(A, A)] + [(B, B)] * 5 + [(B, A), (B, A), (B, B), (B, B)],
    3: [(B, C), (B, C)] + [(C, C)] * 3 + [(C, D), (C, D), (C, B), (B, B), (B, A)],
    4: [(D, D)] * 7 + [(D, C), (D, C), (D, B)],
}
STEHMAN_SIZES = {1: 40_000, 2: 30_000, 3: 20_000, 4: 10_000}


def _points(counts_map_rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Map and reference value (1-based) of each point of a count matrix with map rows."""
    m, r = [], []
    for i, row in enumerate(counts_map_rows, 1):
        for j, n in enumerate(row, 1):
            m += [i] * n
            r += [j] * n
    return np.array(m), np.array(r)


def _stehman_sample() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = [(h, m, r) for h, units in STEHMAN_UNITS.items() for m, r in units]
    return tuple(np.array(c) for c in zip(*rows))  # type: ignore[return-value]


def test_olofsson_worked_example_matches_the_printed_results():
    """Section 5 of Olofsson et al. (2014): accuracies with their 95 % intervals (p. 54),
    areas in hectares with their 95 % intervals, and table 9's proportions of area."""
    m, r = _points(OLOFSSON_COUNTS)
    mapped = MappedAreas(
        OLOFSSON_PIXELS, {v: 0.09 * n for v, n in OLOFSSON_PIXELS.items()}, "30 m pixels."
    )
    out = area_adjusted(m, r, OLOFSSON_CLASSES, mapped, n_unlabelled=3).to_dict()
    rows = out["classes"]
    assert [round(c["users_accuracy"], 2) for c in rows] == [0.88, 0.73, 0.93, 0.96]
    assert [round(1.96 * c["users_accuracy_se"], 2) for c in rows] == [0.07, 0.10, 0.04, 0.02]
    assert [round(c["producers_accuracy"], 2) for c in rows] == [0.75, 0.85, 0.93, 0.96]
    assert round(1.96 * rows[0]["producers_accuracy_se"], 2) == 0.21
    assert round(1.96 * rows[2]["producers_accuracy_se"], 2) == 0.03
    assert round(out["overall_accuracy"], 2) == 0.95
    assert round(1.96 * out["overall_accuracy_se"], 2) == 0.02
    assert [round(c["area_ha"]) for c in rows] == [21_158, 11_686, 285_770, 581_386]
    assert [round(c["area_ha_ci95"]) for c in rows] == [6_158, 3_756, 15_510, 16_282]
    assert [round(c["mapped_area_ha"]) for c in rows] == [18_000, 13_500, 288_000, 580_500]
    table9 = [
        [0.0176, 0, 0.0013, 0.0011],
        [0, 0.0110, 0.0016, 0.0024],
        [0.0019, 0, 0.2967, 0.0213],
        [0.0040, 0.0020, 0.0179, 0.6212],
    ]  # rows = map as printed; ours are rows = reference
    assert np.round(np.array(out["error_matrix"]).T, 4).tolist() == table9
    assert [c["name"] for c in rows] == [c.name for c in OLOFSSON_CLASSES]
    assert (out["n_points"], out["n_points_unlabelled"], out["area_unit"]) == (640, 3, "ha")
    assert "Olofsson et al. 2014" in out["protocol"]


def test_stehman_worked_example_matches_the_printed_results():
    """Stehman (2014), pp. 4932-4936. The SE of producer's accuracy of B is 0.1166: the paper
    prints 0.114, which eq. 28 gives only with s2_xh = 0 in stratum 4, yet stratum 4 holds
    one unit of reference B among 10 (D, B), so s2_x4 = 0.1 (worked by hand: the stratum
    terms N_h^2 (s2_y + P^2 s2_x - 2 P s_xy) / n_h are 11,349,600 + 890,142 + 2,837,400 +
    630,623 = 15,707,765, / X^2 = 34,000^2 -> SE 0.11657)."""
    s, m, r = _stehman_sample()
    e = stehman_estimates(s, m, r, STEHMAN_SIZES, [A, B, C, D])
    assert round(e.area_proportion[0], 2) == 0.35
    assert round(e.area_proportion_se[0], 3) == 0.082
    assert round(e.area_proportion[2], 2) == 0.20
    assert round(e.area_proportion_se[2], 3) == 0.064
    assert round(e.overall_accuracy, 2) == 0.63
    assert round(e.overall_accuracy_se, 3) == 0.085
    assert round(e.users_accuracy[1], 3) == 0.574
    assert round(e.users_accuracy_se[1], 3) == 0.125
    assert round(e.producers_accuracy[1], 3) == 0.794
    assert round(e.producers_accuracy_se[1], 4) == 0.1166
    assert round(e.error_matrix[C - 1, B - 1], 2) == 0.08  # p_23: map B, reference C
    assert e.error_matrix.sum() == pytest.approx(1.0)
    # the finite population correction (eqs. 25, 28 as printed) shrinks each term a little
    fpc = stehman_estimates(s, m, r, STEHMAN_SIZES, [A, B, C, D], finite_population_correction=True)
    assert fpc.overall_accuracy_se == pytest.approx(
        math.sqrt(sum(
            (n / 1e5) ** 2 * (1 - 10 / n) * np.var([mm == rr for mm, rr in STEHMAN_UNITS[h]],
                                                   ddof=1) / 10
            for h, n in STEHMAN_SIZES.items()
        )), rel=1e-12,
    )  # fmt: skip
    assert fpc.overall_accuracy_se < e.overall_accuracy_se


def _fields(e: Estimates) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=float) for k, v in vars(e).items()}


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_stehman_with_map_classes_as_strata_equals_olofsson(seed):
    """Random samples (5 classes, the last one never mapped but found on the ground)."""
    rng = np.random.default_rng(seed)
    k = 5
    counts = rng.integers(0, 12, size=(k, k)) * (rng.random((k, k)) < 0.7)
    counts[np.arange(k - 1), np.arange(k - 1)] += 2  # every mapped stratum: >= 2 points
    counts[:, k - 1] = 0  # map column of class 5: never mapped
    sizes = np.append(rng.uniform(100, 1e6, size=k - 1), 0.0)
    olof = olofsson_estimates(counts, sizes)
    r_idx, m_idx = np.nonzero(counts)
    reps = counts[r_idx, m_idx]
    m = np.repeat(m_idx + 11, reps)  # class values 11..15
    r = np.repeat(r_idx + 11, reps)
    steh = stehman_estimates(m, m, r, dict(zip(range(11, 16), sizes)), list(range(11, 16)))
    got, want = _fields(steh), _fields(olof)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-12, equal_nan=True,
                                   err_msg=name)  # fmt: skip
    assert np.isnan(olof.users_accuracy[-1]) and olof.producers_accuracy[-1] == 0.0


def test_quantity_plus_allocation_is_one_minus_overall_accuracy():
    # rows = reference: row sums .6 .4, column sums .7 .3, diagonal .5 .2
    assert disagreement([[0.5, 0.1], [0.2, 0.2]]) == pytest.approx((0.1, 0.2))
    assert disagreement([[0.5, 0.2], [0.1, 0.2]]) == pytest.approx((0.1, 0.2))
    s, m, r = _stehman_sample()
    e = stehman_estimates(s, m, r, STEHMAN_SIZES, [A, B, C, D])
    q, a = disagreement(e.error_matrix)
    assert (q, a) == pytest.approx((0.13, 0.24))
    assert q + a == pytest.approx(1 - e.overall_accuracy, abs=1e-12)
    rng = np.random.default_rng(7)
    for _ in range(5):
        e = olofsson_estimates(rng.integers(1, 30, size=(6, 6)), rng.uniform(1, 100, size=6))
        q, a = disagreement(e.error_matrix)
        assert q > 0 and a > 0
        assert q + a == pytest.approx(1 - e.overall_accuracy, abs=1e-12)


# --- simulation: a known truth map, a map with known errors, repeated stratified samples ---

VALUES = [1, 2, 3, 4]
REPETITIONS = 2000  # the share of 2,000 intervals has a binomial SE of 0.005


def _truth_and_maps() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """300 x 300 truth of 4 classes (class 1 rare, 4 %) and two maps with known errors."""
    rng = np.random.default_rng(2014)
    coarse = rng.normal(size=(31, 31))
    field = np.kron(coarse, np.ones((10, 10)))[:300, :300] + 0.5 * rng.normal(size=(300, 300))
    truth = 1 + np.digitize(field, np.quantile(field, [0.04, 0.25, 0.6]))
    maps = []
    # (true class, mapped as, share of that class) for each map
    for errors in ([(1, 2, 0.3), (2, 1, 0.08), (2, 3, 0.1), (3, 4, 0.1), (3, 2, 0.05), (4, 3, 0.08)],
                   [(1, 3, 0.2), (2, 4, 0.1), (3, 2, 0.1), (4, 2, 0.05), (4, 1, 0.02)]):  # fmt: skip
        u = rng.random(truth.shape)
        out, low = truth.copy(), {}
        for t, to, share in errors:
            lo = low.get(t, 0.0)
            out[(truth == t) & (u >= lo) & (u < lo + share)] = to
            low[t] = lo + share
        maps.append(out.ravel())
    return truth.ravel(), maps[0], maps[1]


def _coverage(est: np.ndarray, se: np.ndarray, true: np.ndarray) -> np.ndarray:
    return np.abs(est - true) <= 1.96 * se


def test_95_percent_intervals_hold_the_true_class_areas_95_percent_of_the_time():
    """2,000 stratified samples (100, 200, 150, 150 points in the strata of map 1) of a
    generated map with known errors. Shares of the intervals that held the true areas (seed
    2014): Olofsson 0.946, 0.954, 0.949, 0.949 (map 1); Stehman, with map 1's strata for
    map 2, 0.945, 0.953, 0.949, 0.948. Not asserted: user's and producer's accuracies are
    held 0.93-0.96 (Olofsson) and 0.90-0.94 (Stehman: the ratio estimators fall short where
    few points are mapped as the rare class), overall accuracy 0.958 and 0.940.
    """
    truth, map1, map2 = _truth_and_maps()
    true_p = np.array([(truth == v).mean() for v in VALUES])
    strata = [np.flatnonzero(map1 == v) for v in VALUES]
    sizes = np.array([s.size for s in strata], dtype=float)
    n_h = [100, 200, 150, 150]
    stratum_of = np.repeat(VALUES, n_h)
    rng = np.random.default_rng(2014)
    held_olofsson = np.zeros(4)
    held_stehman = np.zeros(4)
    for _ in range(REPETITIONS):
        pick = np.concatenate([rng.choice(s, n, replace=False) for s, n in zip(strata, n_h)])
        counts = np.zeros((4, 4))
        np.add.at(counts, (truth[pick] - 1, map1[pick] - 1), 1)
        e = olofsson_estimates(counts, sizes)
        held_olofsson += _coverage(e.area_proportion, e.area_proportion_se, true_p)
        e = stehman_estimates(stratum_of, map2[pick], truth[pick], dict(zip(VALUES, sizes)),
                              VALUES, finite_population_correction=True)  # fmt: skip
        held_stehman += _coverage(e.area_proportion, e.area_proportion_se, true_p)
    for held in (held_olofsson / REPETITIONS, held_stehman / REPETITIONS):
        assert ((held >= 0.93) & (held <= 0.97)).all(), held


# --- the report object ---


def test_area_adjusted_json_keys_orientation_and_undefined_values():
    """A class in the list that is neither mapped nor found has no user's or producer's
    accuracy (None); a stratum of one point leaves the SEs it enters None; no NaN in JSON."""
    classes = (ClassInfo(1, "forest", "#00aa00"), ClassInfo(2, "water", "#0000ff"),
               ClassInfo(3, "urban", "#ff0000"))  # fmt: skip
    mapped = MappedAreas({1: 600, 2: 400}, None, "Areas are in pixels: no CRS.")
    m = np.array([1, 1, 1, 1, 2, 2, 2])
    r = np.array([1, 1, 1, 2, 2, 2, 1])
    out = area_adjusted(m, r, classes, mapped, n_unlabelled=2).to_dict()
    assert set(out) == {
        "overall_accuracy", "overall_accuracy_se", "classes", "error_matrix",
        "error_matrix_orientation", "quantity_disagreement", "allocation_disagreement",
        "n_points", "n_points_unlabelled", "area_unit", "area_note", "protocol",
    }  # fmt: skip
    assert set(out["classes"][0]) == {
        "value", "name", "users_accuracy", "users_accuracy_se", "producers_accuracy",
        "producers_accuracy_se", "area_proportion", "area_proportion_se", "area_ha",
        "area_ha_ci95", "mapped_area_ha",
    }  # fmt: skip
    assert out["error_matrix_orientation"].startswith("rows = reference")
    # forest stratum (0.6): 3 of 4 forest, 1 water; water stratum (0.4): 2 of 3 water, 1 forest
    f, w = 0.6, 0.4
    np.testing.assert_allclose(
        out["error_matrix"],
        [[f * 3 / 4, w * 1 / 3, 0.0], [f * 1 / 4, w * 2 / 3, 0.0], [0.0, 0.0, 0.0]],
        rtol=1e-12,
    )
    urban = out["classes"][2]
    assert urban["users_accuracy"] is None and urban["producers_accuracy"] is None
    assert urban["area_ha"] == 0.0 and urban["mapped_area_ha"] == 0.0
    forest = out["classes"][0]
    assert forest["area_ha"] == pytest.approx((f * 3 / 4 + w / 3) * 1000)
    assert forest["mapped_area_ha"] == 600
    assert (out["area_unit"], out["n_points"], out["n_points_unlabelled"]) == ("pixels", 7, 2)
    assert out["area_note"] == "Areas are in pixels: no CRS."
    one = area_adjusted(np.array([1, 1, 2]), np.array([1, 2, 2]), classes, mapped).to_dict()
    assert one["overall_accuracy_se"] is None and one["classes"][0]["area_proportion_se"] is None
    assert one["classes"][0]["users_accuracy_se"] is not None  # forest stratum has 2 points
    assert one["classes"][1]["users_accuracy_se"] is None
    assert "NaN" not in json.dumps(one)


def test_area_adjusted_with_strata_uses_stehman_and_the_strata_sizes():
    s, m, r = _stehman_sample()
    classes = tuple(ClassInfo(v, n, "#000000") for v, n in zip((A, B, C, D), "ABCD"))
    mapped = MappedAreas({A: 35_000, B: 35_000, C: 20_000, D: 10_000}, None, "pixels")
    strata = MappedAreas(STEHMAN_SIZES, None, "pixels")
    out = area_adjusted(m, r, classes, mapped, strata=s, strata_areas=strata).to_dict()
    assert "Stehman 2014" in out["protocol"]
    assert out["classes"][0]["area_ha"] == pytest.approx(35_000)  # 0.35 of 100,000 pixels
    assert out["classes"][0]["area_ha_ci95"] == pytest.approx(1.96 * 0.0823 * 1e5, rel=1e-3)
    assert out["classes"][1]["mapped_area_ha"] == 35_000
    assert out["overall_accuracy"] == pytest.approx(0.63)
    mapped_ha = MappedAreas(mapped.pixels, {v: n / 100 for v, n in mapped.pixels.items()}, "ha")
    mixed = area_adjusted(m, r, classes, mapped_ha, strata=s, strata_areas=strata)
    assert mixed.area_unit == "pixels" and "strata raster has no CRS" in mixed.area_note


def test_area_adjusted_refuses_unsampled_strata_and_unknown_values():
    classes = (ClassInfo(1, "forest", "#00aa00"), ClassInfo(2, "water", "#0000ff"))
    mapped = MappedAreas({1: 600, 2: 400}, None, "pixels")
    with pytest.raises(LandCoverError, match="water are mapped but have no labelled sample"):
        area_adjusted(np.array([1, 1]), np.array([1, 2]), classes, mapped)
    with pytest.raises(LandCoverError, match=r"value\(s\) 7 that are not in its class list"):
        area_adjusted([1, 2], [1, 2], classes, MappedAreas({1: 5, 2: 5, 7: 1}, None, ""))
    with pytest.raises(LandCoverError, match=r"Reference class value\(s\) 9"):
        area_adjusted(np.array([1, 2]), np.array([1, 9]), classes, mapped)
    s, m, r = _stehman_sample()
    with pytest.raises(LandCoverError, match=r"Stratum value\(s\) 4 have no labelled"):
        stehman_estimates(s[s < 4], m[s < 4], r[s < 4], STEHMAN_SIZES, [A, B, C, D])
    with pytest.raises(LandCoverError, match=r"Stratum value\(s\) 1 of sample points have no"):
        stehman_estimates(s, m, r, {2: 1, 3: 1, 4: 1}, [A, B, C, D])


# --- mapped areas of a class raster ---

ARRAY = np.array([[1, 1, 2, 2, 0], [3, 3, 3, 2, 1]] * 20, dtype=np.uint8)  # 40 x 5, 0 = nodata


@pytest.mark.parametrize(
    ("epsg", "geotransform", "m2_per_pixel"),
    [
        (32633, (500_000.0, 10.0, 0.0, 4_200_000.0, 0.0, -10.0), 100.0),  # 10 m: 0.01 ha
        (2263, (980_000.0, 10.0, 0.0, 200_000.0, 0.0, -10.0), (10 * 1200 / 3937) ** 2),  # US ft
        (32633, (500_000.0, 8.0, 6.0, 4_200_000.0, 6.0, -8.0), 100.0),  # rotated: |det| = 100
    ],
)
def test_mapped_areas_projected(tmp_path, make_raster, epsg, geotransform, m2_per_pixel):
    path = make_raster(tmp_path / "map.tif", ARRAY, epsg=epsg, geotransform=geotransform,
                       nodata=0, block=16)  # fmt: skip
    seen = []
    out = mapped_areas(path, 0, Hooks(progress=seen.append), max_pixels=40)
    assert out.pixels == {1: 60, 2: 60, 3: 60}
    assert out.hectares == pytest.approx({v: 60 * m2_per_pixel / 1e4 for v in (1, 2, 3)})
    assert "projected CRS" in out.unit_note
    assert len(seen) > 1 and seen[-1] == 100.0


def test_mapped_areas_geographic_gives_each_row_its_ellipsoidal_area(tmp_path, make_raster):
    """61 rows of 1 degree pixels from 61 N to the equator on WGS 84; a 1 x 1 degree cell on
    the equator is 12,308 km^2, the others are checked against a numerical integral of the
    ellipsoid's area element a^2 (1 - e^2) cos(phi) / (1 - e^2 sin^2(phi))^2."""
    arr = np.full((61, 2), 3, dtype=np.uint8)
    arr[0] = 2  # 60-61 N
    arr[60] = 1  # 0-1 N
    arr[30, 1] = 0  # nodata
    path = make_raster(tmp_path / "geo.tif", arr, epsg=4326, nodata=0, block=16,
                       geotransform=(20.0, 1.0, 0.0, 61.0, 0.0, -1.0))  # fmt: skip
    out = mapped_areas(path, 0, max_pixels=64)
    assert out.pixels == {1: 2, 2: 2, 3: 117}
    a, f = 6_378_137.0, 1 / 298.257223563
    e2 = f * (2 - f)

    def cell_ha(lat0: float) -> float:
        def element(p: float) -> float:
            return a * a * (1 - e2) * math.cos(p) / (1 - e2 * math.sin(p) ** 2) ** 2

        lo, hi = math.radians(lat0), math.radians(lat0 + 1)
        return quad(element, lo, hi, epsabs=0, epsrel=1e-13)[0] * math.radians(1) / 1e4

    assert round(out.hectares[1] / 2 / 100) == 12_308  # km^2
    assert out.hectares[1] == pytest.approx(2 * cell_ha(0), rel=1e-9)
    assert out.hectares[2] == pytest.approx(2 * cell_ha(60), rel=1e-9)
    rest = sum(2 * cell_ha(lat) for lat in range(1, 60)) - cell_ha(30)
    assert out.hectares[3] == pytest.approx(rest, rel=1e-9)
    assert "ellipsoid" in out.unit_note
    sphere = ellipsoid_cell_area(0.0, math.radians(1), math.radians(1), 6_371_000.0, 0.0)
    assert sphere == pytest.approx(6_371_000.0**2 * math.radians(1) * math.sin(math.radians(1)))


def test_mapped_areas_without_crs_are_in_pixels(tmp_path, make_raster):
    path = make_raster(tmp_path / "plain.tif", ARRAY, epsg=None, nodata=0)
    out = mapped_areas(path, 0)
    assert out.pixels == {1: 60, 2: 60, 3: 60}
    assert out.hectares is None
    assert out.unit_note.startswith("Areas are in pixels") and "no CRS" in out.unit_note
    counted = mapped_areas(path, None)  # nodata None: 0 is a class too
    assert counted.pixels == {0: 20, 1: 60, 2: 60, 3: 60}


def test_mapped_areas_of_a_local_pixel_grid_crs_are_in_pixels(tmp_path, make_raster):
    """Indian Pines' CRS is LOCAL_CS "Pixel grid, 1 unit = 1 pixel" in "metre": read as a
    projected CRS, every class had 0.0 ha (trial). A local CRS gives pixels, said."""
    from osgeo import gdal

    path = make_raster(tmp_path / "grid.tif", ARRAY, epsg=None, nodata=0)
    ds = gdal.Open(str(path), gdal.GA_Update)
    ds.SetProjection('LOCAL_CS["Pixel grid, 1 unit = 1 pixel (no georeferencing)",'
                     'UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],'
                     'AXIS["Northing",NORTH]]')  # fmt: skip
    ds = None
    out = mapped_areas(path, 0)
    assert out.hectares is None and out.pixels == {1: 60, 2: 60, 3: 60}
    assert "local one (Pixel grid" in out.unit_note


def test_mapped_areas_refuses_a_rotated_geographic_grid_and_stops_when_cancelled(
    tmp_path, make_raster
):
    path = make_raster(tmp_path / "rot.tif", ARRAY, epsg=4326, nodata=0,
                       geotransform=(20.0, 0.01, 0.001, 10.0, 0.001, -0.01))  # fmt: skip
    with pytest.raises(LandCoverError, match="geographic CRS on a rotated grid"):
        mapped_areas(path, 0)
    plain = make_raster(tmp_path / "plain.tif", ARRAY, nodata=0)
    with pytest.raises(CancelledError):
        mapped_areas(plain, 0, Hooks(cancelled=lambda: True))


def test_mapped_areas_of_negative_and_large_class_values(tmp_path, make_raster):
    """Values outside 0-65535 (Int32 maps) are tallied as exactly as Byte ones."""
    gt = (20.0, 0.5, 0.0, 50.0, 0.0, -0.5)
    small = mapped_areas(make_raster(tmp_path / "b.tif", ARRAY, epsg=4326, geotransform=gt,
                                     nodata=0), 0, max_pixels=64)  # fmt: skip
    recoded = np.select([ARRAY == 1, ARRAY == 2, ARRAY == 3], [-3, 70_000, 5], -9).astype(np.int32)
    big = mapped_areas(make_raster(tmp_path / "i.tif", recoded, epsg=4326, geotransform=gt,
                                   nodata=-9), -9, max_pixels=64)  # fmt: skip
    assert big.pixels == {-3: 60, 5: 60, 70_000: 60}
    assert big.hectares is not None and small.hectares is not None
    assert [big.hectares[v] for v in (-3, 70_000, 5)] == pytest.approx(
        [small.hectares[v] for v in (1, 2, 3)], rel=1e-12
    )
    assert small.hectares[1] != pytest.approx(small.hectares[3], rel=1e-6)  # rows differ
