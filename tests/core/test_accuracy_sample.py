"""The accuracy-assessment sample (core/accuracy_sample.py): Olofsson et al. (2014) sample size
and allocation, the stratified random draw of pixel centres, the point GeoPackage and the
``accuracy-sample`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from landcover_mlp.core import accuracy_sample as acs
from landcover_mlp.core.accuracy_sample import (
    SampleDesign,
    allocate,
    draw_sample,
    make_accuracy_sample,
    sample_design,
    sample_size,
)
from landcover_mlp.core.classes import ClassInfo
from landcover_mlp.core.cli import main
from landcover_mlp.core.errors import LandCoverError
from landcover_mlp.core.prediction import style_class_band

REPO = Path(__file__).resolve().parents[2]

# The map: 70 x 50 Byte, 16 px tiles, nodata 0 in the lower-left corner; class 4 has 4 pixels.
CLASSES = (
    ClassInfo(1, "forest", "#1a7a33"),
    ClassInfo(2, "water", "#2b83ba"),
    ClassInfo(3, "urban", "#d7191c"),
    ClassInfo(4, "wetland", "#9467bd"),
    ClassInfo(5, "snow", "#f0f0f0"),  # named in the raster, no pixel in the map
)


def class_map() -> np.ndarray:
    a = np.full((50, 70), 1, dtype=np.uint8)
    a[:, 35:60] = 2
    a[:, 60:] = 3
    a[10:12, 20:22] = 4
    a[40:, :8] = 0  # nodata
    return a


@pytest.fixture
def map_path(tmp_path: Path, make_raster) -> Path:
    path = make_raster(tmp_path / "map.tif", class_map(), nodata=0)
    ds = gdal.Open(str(path), gdal.GA_Update)
    style_class_band(ds.GetRasterBand(1), CLASSES, 0)
    ds = None
    return path


def counts_of(a: np.ndarray) -> dict[int, int]:
    values, n = np.unique(a[a != 0], return_counts=True)
    return dict(zip(values.tolist(), n.tolist()))


# -- sample size -----------------------------------------------------------------------------


def test_sample_size_reproduces_the_olofsson_example() -> None:
    """Olofsson et al. (2014) section 5.1: mapped areas of deforestation, forest gain, stable
    forest and stable non-forest (200,000 / 150,000 / 3,200,000 / 6,450,000 pixels), expected
    user's accuracies 0.70, 0.60, 0.90, 0.95 and a target standard error of 0.01 for overall
    accuracy give n = 641 (sum W_i S_i = 0.2531; 25.31^2 = 640.5, rounded up)."""
    expected = [0.70, 0.60, 0.90, 0.95]
    assert sample_size([200_000, 150_000, 3_200_000, 6_450_000], expected, 0.01) == 641
    assert sample_size([0.02, 0.015, 0.32, 0.645], expected, 0.01) == 641


def test_sample_size_is_rounded_up_but_not_by_float_noise() -> None:
    # one class: 0.7 x 0.3 / 0.02^2 = 525 exactly, 525.0000000000001 in floating point
    assert sample_size([1.0], [0.7], 0.02) == 525
    assert sample_size([1.0], [0.8], 0.02) == 400  # 399.9999999999999
    assert sample_size([1.0], [0.8], 0.0199) == 405  # 404.03 -> 405
    assert sample_size([1, 1], [1.0, 0.0], 0.01) == 0  # perfect classes: no spread


def test_sample_size_refuses_mismatched_accuracies() -> None:
    with pytest.raises(LandCoverError, match="3 expected user's accuracies for 2 classes"):
        sample_size([1, 2], [0.8, 0.8, 0.8], 0.01)
    with pytest.raises(LandCoverError, match="above 0"):
        sample_size([1, 2], [0.8, 0.8], 0.0)


# -- allocation ------------------------------------------------------------------------------


def test_allocation_minimum_first_then_proportional() -> None:
    """100 each first; the other 241 by mapped area with largest remainders: 241 x W =
    4.82, 3.615, 77.12, 155.445 -> 4, 3, 77, 155 and the 2 left to the largest remainders."""
    counts = [200_000, 150_000, 3_200_000, 6_450_000]
    assert allocate(counts, 641, 100).tolist() == [105, 104, 177, 255]
    # purely proportional: 641 x W = 12.82, 9.615, 205.12, 413.445
    assert allocate(counts, 641, 0).tolist() == [13, 10, 205, 413]


def test_allocation_never_exceeds_a_class_pixels() -> None:
    # the 10-pixel class gets its 10 pixels; its proportional share goes to the others
    assert allocate([10, 1000, 5000], 500, 50).tolist() == [10, 115, 375]
    # minimum larger than the class: all its pixels, the rest to the big class
    assert allocate([3, 100], 60, 50).tolist() == [3, 57]
    assert allocate([3, 3, 3], 9, 50).tolist() == [3, 3, 3]


def test_allocation_rules_hold_on_random_maps() -> None:
    rng = np.random.default_rng(5)
    for _ in range(200):
        counts = rng.integers(1, 400, size=rng.integers(1, 8))
        minimum = int(rng.integers(0, 60))
        need = int(np.minimum(counts, minimum).sum())
        total = int(rng.integers(need, counts.sum() + 1))
        points = allocate(counts, total, minimum)
        assert points.sum() == total
        assert np.all(points <= counts)
        assert np.all(points >= np.minimum(counts, minimum))


def test_allocation_ties_go_to_the_first_class() -> None:
    assert allocate([100, 100, 100], 1, 0).tolist() == [1, 0, 0]
    assert allocate([100, 100, 100], 2, 0).tolist() == [1, 1, 0]


def test_allocation_refusals_say_what_to_do() -> None:
    with pytest.raises(
        LandCoverError,
        match=r"raise the sample size to at least 150 points, or lower the minimum per class "
        r"to 33 or less",
    ):
        allocate([500, 500, 500], 100, 50)
    with pytest.raises(LandCoverError, match="more than the 30 mapped pixels: ask for at most 30"):
        allocate([10, 20], 31, 5)


# -- the draw --------------------------------------------------------------------------------


def map_values_at(path: Path, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The map's value at each point, and whether each point is a pixel centre."""
    ds = gdal.Open(str(path))
    a = ds.ReadAsArray()
    inv = gdal.InvGeoTransform(ds.GetGeoTransform())
    col = inv[0] + inv[1] * x + inv[2] * y
    row = inv[3] + inv[4] * x + inv[5] * y
    centred = np.allclose(col % 1, 0.5) and np.allclose(row % 1, 0.5)
    return a[row.astype(int), col.astype(int)], np.array(centred)


def test_draw_gives_exact_counts_on_the_map_and_never_nodata(map_path: Path) -> None:
    wanted = {1: 30, 2: 20, 3: 10, 4: 4}
    pts = draw_sample(map_path, wanted, seed=1, window_pixels=256)
    assert counts_of(pts.map_class) == wanted
    values, centred = map_values_at(map_path, pts.x, pts.y)
    assert np.array_equal(values, pts.map_class) and centred
    assert np.all(values != 0)  # nodata never drawn
    assert len({(r, c) for r, c in zip(pts.row.tolist(), pts.col.tolist())}) == len(pts)
    assert sorted(pts.sample_id.tolist()) == list(range(1, 65))


def test_drawing_every_pixel_of_a_class_returns_exactly_its_pixels(map_path: Path) -> None:
    """Ranks map to pixels across window borders: asking for all of a class's pixels gives
    every one of them once (nodata corner and other classes excluded)."""
    a = class_map()
    pts = draw_sample(map_path, {1: int((a == 1).sum()), 4: 4}, seed=0, window_pixels=256)
    for value in (1, 4):
        rows, cols = np.nonzero(a == value)
        drawn = pts.map_class == value
        assert set(zip(pts.row[drawn].tolist(), pts.col[drawn].tolist())) == set(
            zip(rows.tolist(), cols.tolist())
        )


def test_points_spread_over_the_class_as_a_uniform_draw(map_path: Path) -> None:
    """300 of forest's 1,666 pixels: their mean row and column lie within about three
    standard errors of the class's own (a draw taking the first pixels of each window, or of
    the raster, lies far off)."""
    a = class_map()
    rows, cols = np.nonzero(a == 1)
    pts = draw_sample(map_path, {1: 300}, seed=11, window_pixels=256)
    for drawn, every in ((pts.row, rows), (pts.col, cols)):
        se = every.std() / np.sqrt(300)
        assert abs(drawn.mean() - every.mean()) < 3 * se


def test_masked_pixels_are_never_drawn(tmp_path: Path, make_raster) -> None:
    """A pixel hidden by the raster's mask band (no nodata value) is no data too."""
    path = make_raster(tmp_path / "masked.tif", np.ones((20, 20), np.uint8), nodata=None)
    ds = gdal.Open(str(path), gdal.GA_Update)
    ds.CreateMaskBand(gdal.GMF_PER_DATASET)
    mask = np.full((20, 20), 255, np.uint8)
    mask[5:15, 5:15] = 0
    ds.GetRasterBand(1).GetMaskBand().WriteArray(mask)
    ds = None
    pts = draw_sample(path, {1: 300}, seed=0, window_pixels=256)
    drawn = set(zip(pts.row.tolist(), pts.col.tolist()))
    assert drawn == set(zip(*(v.tolist() for v in np.nonzero(mask))))


def test_draw_is_reproducible_with_the_seed(map_path: Path) -> None:
    wanted = {1: 25, 2: 25, 3: 25}
    a = draw_sample(map_path, wanted, seed=7)
    b = draw_sample(map_path, wanted, seed=7)
    c = draw_sample(map_path, wanted, seed=8)
    key = lambda p: sorted(zip(p.row.tolist(), p.col.tolist(), p.sample_id.tolist()))  # noqa: E731
    assert key(a) == key(b)
    assert key(a) != key(c)


def test_reading_is_window_by_window(map_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory is bounded by the window: every read is at most ``window_pixels``; the first
    pass reads each window once, the second only the windows holding points."""
    reads: list[int] = []
    real = acs.read_window

    def counting(ds, bands, window, nodata):
        reads.append(window.pixels)
        return real(ds, bands, window, nodata)

    monkeypatch.setattr(acs, "read_window", counting)
    pts = draw_sample(map_path, {1: 1, 2: 1, 3: 1}, seed=3, window_pixels=256)
    windows = len(list(acs.iter_windows(acs.raster_info(str(map_path)), 256)))
    assert len(pts) == 3
    assert windows == 20  # 5 x 4 tiles of 16 x 16 px (the map is 70 x 50)
    assert max(reads) <= 256
    assert windows < len(reads) <= windows + 3  # pass 1: every window; pass 2: <= 1 per point


# -- the GeoPackage and the whole sample ----------------------------------------------------


def test_geopackage_fields_crs_and_points(map_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "points.gpkg"
    result = make_accuracy_sample(map_path, out, SampleDesign(size=120, min_per_class=20, seed=2))
    # 20 each (wetland: its 4 pixels), the other 56 by mapped area (1666, 1250, 500, 4 px):
    # 27.28, 20.47, 8.19, 0.07 -> 27, 20, 8, 0 and the last point to water (.47)
    assert result.allocation.points == (47, 41, 28, 4)
    assert [c.name for c in result.allocation.classes] == ["forest", "water", "urban", "wetland"]
    assert result.warnings == ("Class 'snow' has no pixel in the map: no point is drawn for it.",)
    ds = ogr.Open(str(out))
    assert ds.GetLayerCount() == 1
    layer = ds.GetLayer(0)
    assert layer.GetName() == "points"
    assert layer.GetGeomType() == ogr.wkbPoint
    defn = layer.GetLayerDefn()
    fields = [(defn.GetFieldDefn(i).GetName(), defn.GetFieldDefn(i).GetTypeName())
              for i in range(defn.GetFieldCount())]  # fmt: skip
    assert fields == [("sample_id", "Integer"), ("map_class", "Integer"),
                      ("map_class_name", "String"), ("stratum", "Integer"),
                      ("reference", "String"), ("x", "Real"), ("y", "Real")]  # fmt: skip
    raster_srs = osr.SpatialReference(wkt=gdal.Open(str(map_path)).GetProjection())
    assert layer.GetSpatialRef().IsSame(raster_srs)
    rows = [(f["sample_id"], f["map_class"], f["map_class_name"], f["stratum"], f["reference"],
             f["x"], f["y"], f.GetGeometryRef().GetX(), f.GetGeometryRef().GetY())
            for f in layer]  # fmt: skip
    ds = None
    assert [r[0] for r in rows] == list(range(1, 121))  # written in sample_id order
    # ids in random order: labelling by id does not go class by class
    assert [r[1] for r in rows] != sorted(r[1] for r in rows)
    names = {c.value: c.name for c in CLASSES}
    assert all(r[2] == names[r[1]] and r[3] == r[1] for r in rows)
    assert all(r[4] == "" for r in rows)  # empty text, for the user to fill
    x, y = np.array([r[5] for r in rows]), np.array([r[6] for r in rows])
    assert np.array_equal(x, [r[7] for r in rows]) and np.array_equal(y, [r[8] for r in rows])
    values, centred = map_values_at(map_path, x, y)
    assert np.array_equal(values, [r[1] for r in rows]) and centred
    assert counts_of(values) == {1: 47, 2: 41, 3: 28, 4: 4}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.tif", "map.tif.aux.xml",
                                                          "points.gpkg"]  # fmt: skip


def test_a_map_without_crs_or_names(tmp_path: Path, make_raster) -> None:
    a = np.full((20, 30), 7, dtype=np.uint16)
    a[:, 20:] = 300
    a[0, 0] = 65535
    path = make_raster(tmp_path / "plain.tif", a, epsg=None, nodata=65535)
    out = tmp_path / "p.gpkg"
    result = make_accuracy_sample(path, out, SampleDesign(min_per_class=10, seed=1))
    assert [(c.value, c.name) for c in result.allocation.classes] == [(7, "7"), (300, "300")]
    # the default 500: 10 each, the other 480 by 399 / 200 px: 319.73, 160.27 -> 320, 160
    assert result.allocation.points == (330, 170)
    ds = ogr.Open(str(out))  # kept: a layer outlives no dataset
    srs = ds.GetLayer(0).GetSpatialRef()  # GeoPackage's "undefined" SRS (srs_id 0) in GDAL 3.6
    assert srs is None or (srs.GetAuthorityCode(None) is None and "ndefined" in srs.GetName())
    assert ds.GetLayer(0).GetFeatureCount() == 500


def test_design_from_settings_and_target_se() -> None:
    design = sample_design(
        {"target_se": 0.01, "expected_users_accuracy": "0.7, 0.6,0.9,0.95", "min_per_class": 100}
    )
    assert design.expected_users_accuracy == (0.7, 0.6, 0.9, 0.95)
    classes = tuple(ClassInfo(i, f"c{i}", "#000000") for i in range(1, 5))
    counts = (200_000, 150_000, 3_200_000, 6_450_000)
    allocation = acs.plan(classes, counts, design)
    assert allocation.total == 641
    assert allocation.points == (105, 104, 177, 255)
    one = acs.plan(classes, counts, sample_design({"target_se": 0.01,
                                                   "expected_users_accuracy": "0.9"}))  # fmt: skip
    assert one.total == 900  # S = 0.3 everywhere: (0.3 / 0.01)^2
    assert sample_design({}) == SampleDesign(size=0, min_per_class=50, target_se=0.0, seed=0)


# -- the command line ------------------------------------------------------------------------


def test_command_line_end_to_end(map_path: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "build" / "plugins"))
    out = tmp_path / "sample.gpkg"
    proc = subprocess.run(
        [sys.executable, "-m", "landcover_mlp.core", "-q", "accuracy-sample", "--classified",
         str(map_path), "--output", str(out), "--size", "100", "--min-per-class", "10",
         "--seed", "4"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    table = lines[lines.index(next(x for x in lines if x.startswith("class "))) :]
    assert table[0].split() == ["class", "mapped", "pixels", "share", "points"]
    assert [t.split() for t in table[1:6]] == [
        ["1", "forest", "1,666", "48.71%", "42"],
        ["2", "water", "1,250", "36.55%", "34"],
        ["3", "urban", "500", "14.62%", "20"],
        ["4", "wetland", "4", "0.12%", "4"],
        ["total", "3,420", "100.00%", "100"],
    ]
    assert "Warning: Class 'snow' has no pixel in the map" in proc.stdout
    assert "[" not in proc.stderr  # -q: no progress bar
    ds = ogr.Open(str(out))
    drawn = counts_of(np.array([f["map_class"] for f in ds.GetLayer(0)]))
    assert drawn == {1: 42, 2: 34, 3: 20, 4: 4}


def refusal(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the command in-process; return its one-line error (exit status 2)."""
    status = main(["-q", "accuracy-sample", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--size", "100", "--target-se", "0.01", "--expected-users-accuracy", "0.8"],
      "Give either a sample size or a target standard error of overall accuracy, not both"),
     (["--target-se", "0.01", "--expected-users-accuracy", "0.8,0.9"],
      "2 expected user's accuracies for the 4 classes of the map (forest, water, urban, "
      "wetland): give one per class in this order, or one value for all classes."),
     (["--target-se", "0.01"], "A target standard error needs the expected user's accuracies"),
     (["--expected-users-accuracy", "0.8"], "are used only with a target standard error"),
     (["--target-se", "0.01", "--expected-users-accuracy", "80"], "proportions from 0 to 1"),
     (["--size", "100"], "A sample of 100 points cannot give each of the 4 classes its minimum "
      "of 50 points (154 in all): raise the sample size to at least 154 points, or lower the "
      "minimum per class to 25 or less."),
     (["--size", "5000"], "ask for at most 3420 points")],
)  # fmt: skip
def test_command_line_refusals(capsys, map_path: Path, tmp_path: Path, args, message) -> None:
    out = tmp_path / "s.gpkg"
    error = refusal(capsys, "--classified", str(map_path), "--output", str(out), *args)
    assert message in error
    assert not out.exists()


def test_command_line_refuses_a_map_without_classes(capsys, tmp_path: Path, make_raster) -> None:
    empty = make_raster(tmp_path / "empty.tif", np.zeros((8, 8), np.uint8), nodata=0)
    out = tmp_path / "s.gpkg"
    error = refusal(capsys, "--classified", str(empty), "--output", str(out))
    assert "'empty.tif' has no class pixel (every pixel is nodata)" in error
    assert not out.exists()


def test_command_line_refuses_the_image_instead_of_its_map(capsys, landsat7, tmp_path) -> None:
    """Trial: the 8-band Landsat image was taken as a map of 896 classes (18,094 points)."""
    out = tmp_path / "s.gpkg"
    error = refusal(capsys, "--classified", str(landsat7.raster), "--output", str(out))
    assert "has 8 bands, a class map has one: choose the classified map" in error
    assert not out.exists()


def test_command_line_refuses_a_bad_output_before_reading(capsys, tmp_path: Path) -> None:
    """The output is checked first: the (missing) raster is never opened."""
    error = refusal(capsys, "--classified", str(tmp_path / "none.tif"), "--output",
                    str(tmp_path / "s.shp"))  # fmt: skip
    assert "must be a GeoPackage: give it a .gpkg extension" in error
    error = refusal(capsys, "--classified", str(tmp_path / "none.tif"), "--output",
                    str(tmp_path / "no" / "s.gpkg"))  # fmt: skip
    assert f"Folder '{tmp_path / 'no'}' does not exist" in error


def test_an_image_is_not_taken_for_a_class_map(tmp_path: Path, make_raster) -> None:
    rng = np.random.default_rng(0)
    image = make_raster(tmp_path / "image.tif", rng.normal(size=(10, 10)).astype(np.float32))
    with pytest.raises(LandCoverError, match="holds values with decimals, not class values"):
        make_accuracy_sample(image, tmp_path / "a.gpkg", SampleDesign())
    counts = make_raster(tmp_path / "dn.tif", np.arange(1001, dtype=np.uint16).reshape(7, 143))
    with pytest.raises(LandCoverError, match="more than 1000 distinct values: it is not a class"):
        make_accuracy_sample(counts, tmp_path / "a.gpkg", SampleDesign())
    assert not (tmp_path / "a.gpkg").exists()
