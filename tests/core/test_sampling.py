"""Sampling: the pixels under the polygons, checked against GDAL's own rasterisation."""

from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, ogr

from landcover_mlp.core import LandCoverError
from landcover_mlp.core import vector as vector_mod
from landcover_mlp.core.callbacks import Hooks
from landcover_mlp.core.config import SamplingConfig
from landcover_mlp.core.raster import parse_bands
from landcover_mlp.core.sampling import Samples, collect_samples

RULES = ("centre", "all_touched")


def _sample(raster, polygons, field="class_id", **kw) -> Samples:
    return collect_samples(str(raster), str(polygons), SamplingConfig(field, **kw))


def _feature_ids(polygons) -> list[int]:
    ds = ogr.Open(str(polygons))
    return [f.GetFID() for f in ds.GetLayer(0)]


# --------------------------------------------------------------------------------------------
# Real data: landsat7_ogt


@pytest.mark.parametrize("rule", RULES)
def test_landsat_counts_equal_gdal_rasterisation(landsat7, gdal_rasterize, rule):
    all_touched = rule == "all_touched"
    s = _sample(landsat7.raster, landsat7.polygons, bands=landsat7.bands, pixel_rule=rule)
    grid = gdal_rasterize(landsat7.raster, landsat7.polygons, "class_id", all_touched)

    # the published counts (PROVENANCE.md)
    expected = {cid: (centre, touched)[all_touched] for cid, _, centre, touched in landsat7.classes}
    assert len(s) == (1100 if all_touched else 718)
    assert [c.value for c in s.classes] == [1, 2, 3, 4, 5]
    assert dict(zip((c.value for c in s.classes), s.counts().tolist())) == expected

    # exactly GDAL's pixels, class by class, not only the same number of them
    values = np.array([c.value for c in s.classes])[s.y]
    for cid in expected:
        ours = np.sort(s.pixel_index[values == cid])
        gdal_pixels = np.flatnonzero(grid.ravel() == cid)
        np.testing.assert_array_equal(ours, gdal_pixels)

    # the features are the raster's bands 1-7 at those pixels
    stack = gdal.Open(str(landsat7.raster)).ReadAsArray()[:7].reshape(7, -1)
    np.testing.assert_array_equal(s.x, stack[:, s.pixel_index].T.astype(np.float32))
    assert s.bands == landsat7.bands


def test_landsat_centre_rule_equals_author_labels(landsat7):
    s = _sample(landsat7.raster, landsat7.polygons, bands=landsat7.bands)
    labels = gdal.Open(str(landsat7.author_labels)).ReadAsArray().ravel()
    values = np.array([c.value for c in s.classes])[s.y]
    np.testing.assert_array_equal(labels[s.pixel_index], values)
    assert np.count_nonzero(labels) == len(s)


@pytest.mark.parametrize("rule", RULES)
def test_landsat_counts_equal_gdal_per_polygon(landsat7, gdal_rasterize, rule):
    all_touched = rule == "all_touched"
    s = _sample(landsat7.raster, landsat7.polygons, bands=landsat7.bands, pixel_rule=rule)
    fids = _feature_ids(landsat7.polygons)
    assert len(fids) == 30
    assert set(np.unique(s.polygon_id).tolist()) == set(fids)
    for fid in fids:
        grid = gdal_rasterize(
            landsat7.raster, landsat7.polygons, "class_id", all_touched, where=f"fid = {fid}"
        )
        expected = np.flatnonzero(grid.ravel() > 0)
        np.testing.assert_array_equal(
            np.sort(s.pixel_index[s.polygon_id == fid]), expected, err_msg=f"polygon {fid}"
        )


@pytest.mark.parametrize("rule", RULES)
def test_landsat_polygons_in_another_crs(landsat7, tmp_path, rule):
    wgs84 = tmp_path / "polygons_4326.gpkg"
    out = gdal.VectorTranslate(
        str(wgs84), str(landsat7.polygons), dstSRS="EPSG:4326", format="GPKG"
    )
    assert out is not None
    out = None
    vec = ogr.Open(str(wgs84))
    assert vec.GetLayer(0).GetSpatialRef().GetAuthorityCode(None) == "4326"
    vec = None

    native = _sample(landsat7.raster, landsat7.polygons, bands=landsat7.bands, pixel_rule=rule)
    moved = _sample(landsat7.raster, wgs84, bands=landsat7.bands, pixel_rule=rule)
    assert [c.value for c in moved.classes] == [1, 2, 3, 4, 5]
    diff = np.abs(moved.counts() - native.counts())
    assert diff.max() <= 2, (native.counts(), moved.counts())
    assert abs(len(moved) - len(native)) <= 2
    # the same pixels, give or take a couple on the edges
    assert len(np.setxor1d(native.pixel_index, moved.pixel_index)) <= 4
    assert any("reprojected" in w for w in moved.warnings), moved.warnings


def test_text_field_classes_sorted_by_name(landsat7):
    s = _sample(landsat7.raster, landsat7.polygons, "class_name", bands=landsat7.bands)
    names = sorted(name for _, name, _, _ in landsat7.classes)
    assert [c.name for c in s.classes] == names
    assert [c.value for c in s.classes] == [1, 2, 3, 4, 5]
    by_name = {name: centre for _, name, centre, _ in landsat7.classes}
    assert dict(zip((c.name for c in s.classes), s.counts().tolist())) == by_name
    # every pixel keeps its polygon's class: compare with the integer field
    ints = _sample(landsat7.raster, landsat7.polygons, "class_id", bands=landsat7.bands)
    id_to_name = {cid: name for cid, name, _, _ in landsat7.classes}
    order = np.argsort(s.pixel_index)
    iorder = np.argsort(ints.pixel_index)
    text_names = np.array([c.name for c in s.classes])[s.y[order]]
    int_names = np.array([id_to_name[c.value] for c in ints.classes])[ints.y[iorder]]
    np.testing.assert_array_equal(text_names, int_names)


def test_integer_field_keeps_values(tmp_path, make_raster, make_polygons, rect):
    data = np.arange(3 * 20 * 30, dtype=np.int16).reshape(3, 20, 30)
    raster = make_raster(tmp_path / "r.tif", data)
    feats = [
        (rect(1, 1, 5, 5), {"code": 250, "name": "zeta"}),
        (rect(10, 1, 13, 5), {"code": 7, "name": "alpha"}),
        (rect(20, 10, 25, 12), {"code": 1000, "name": "Mid"}),
    ]
    polygons = make_polygons(tmp_path / "p.gpkg", feats)
    ints = _sample(raster, polygons, "code")
    assert [(c.value, c.name) for c in ints.classes] == [(7, "7"), (250, "250"), (1000, "1000")]
    assert ints.counts().tolist() == [12, 16, 10]
    texts = _sample(raster, polygons, "name")
    # sorted by name (case-insensitive), numbered 1..N
    assert [(c.value, c.name) for c in texts.classes] == [(1, "alpha"), (2, "Mid"), (3, "zeta")]
    assert texts.counts().tolist() == [12, 10, 16]
    # features are the exact pixel values
    flat = data.reshape(3, -1)
    np.testing.assert_array_equal(ints.x, flat[:, ints.pixel_index].T.astype(np.float32))


# --------------------------------------------------------------------------------------------
# Synthetic rasters


def test_nodata_pixels_excluded(scene):
    s = _sample(scene.raster, scene.polygons)
    first_box = scene.boxes[0][1]
    poly = scene.box_mask(first_box)
    hole = poly & ~scene.valid
    assert hole.sum() == 48  # the nodata box lies under part of the first polygon
    expected = sum(scene.box_mask(b).sum() for _, b in scene.boxes) - hole.sum()
    assert len(s) == expected
    assert not np.isin(s.pixel_index, np.flatnonzero(hole.ravel())).any()
    assert (s.x != scene.nodata).all()
    assert any("nodata" in w for w in s.warnings), s.warnings
    # every other pixel of the polygon is there
    np.testing.assert_array_equal(
        np.sort(s.pixel_index[s.polygon_id == _feature_ids(scene.polygons)[0]]),
        np.flatnonzero((poly & scene.valid).ravel()),
    )


def test_nodata_in_one_selected_band_excludes_pixel(tmp_path, make_raster, make_polygons, rect):
    data = np.full((3, 10, 10), 5, dtype=np.int16)
    data[2, 4, 4] = -1  # nodata only in band 3
    raster = make_raster(tmp_path / "r.tif", data, nodata=-1)
    polygons = make_polygons(tmp_path / "p.gpkg", [(rect(0, 0, 10, 10), {"c": 1})])
    assert len(_sample(raster, polygons, "c")) == 99
    assert len(_sample(raster, polygons, "c", bands=(3,))) == 99
    assert len(_sample(raster, polygons, "c", bands=(1, 2))) == 100


def test_nan_in_float_raster_excluded(tmp_path, make_raster, make_polygons, rect):
    data = np.ones((2, 12, 12), dtype=np.float32)
    data[0, 3:6, 3:6] = np.nan  # 9 NaN pixels in band 1, no nodata value set
    data[1, 0, 0] = np.inf
    raster = make_raster(tmp_path / "nan.tif", data)
    polygons = make_polygons(
        tmp_path / "p.gpkg",
        [(rect(0, 0, 12, 6), {"c": 1}), (rect(0, 6, 12, 12), {"c": 2})],
    )
    s = _sample(raster, polygons, "c")
    assert len(s) == 144 - 9 - 1
    assert np.isfinite(s.x).all()
    assert s.counts().tolist() == [72 - 10, 72]


def test_polygons_outside_raster_error(tmp_path, make_raster, make_polygons, rect, scene):
    far = make_polygons(
        tmp_path / "far.gpkg",
        [(rect(500, 500, 510, 510), {"class_id": 1}), (rect(-100, -90, -80, -70), {"class_id": 2})],
    )
    with pytest.raises(LandCoverError, match="overlap") as info:
        _sample(scene.raster, far)
    assert "outside the raster" in str(info.value)


def test_polygons_only_on_nodata_error(tmp_path, make_polygons, rect, scene):
    c0, r0, c1, r1 = scene.nodata_box
    on_hole = make_polygons(tmp_path / "hole.gpkg", [(rect(c0, r0, c1, r1), {"class_id": 1})])
    with pytest.raises(LandCoverError, match="nodata"):
        _sample(scene.raster, on_hole)


def test_missing_class_field_lists_fields(scene):
    with pytest.raises(LandCoverError) as info:
        _sample(scene.raster, scene.polygons, "landcover")
    msg = str(info.value)
    assert "'landcover'" in msg
    for field in ("class_id", "class_name", "colour"):
        assert field in msg


def test_missing_polygon_file_error(scene, tmp_path):
    # like a missing raster, a missing polygon file should say that it does not exist
    with pytest.raises(LandCoverError, match="not exist"):
        _sample(scene.raster, tmp_path / "nope.gpkg")


def test_missing_raster_error(scene, tmp_path):
    with pytest.raises(LandCoverError, match="does not exist"):
        _sample(tmp_path / "nope.tif", scene.polygons)


def test_cap_per_class_seeded(landsat7):
    cap = 50
    kw = dict(bands=landsat7.bands, max_per_class=cap)
    a = _sample(landsat7.raster, landsat7.polygons, **kw, seed=7)
    b = _sample(landsat7.raster, landsat7.polygons, **kw, seed=7)
    c = _sample(landsat7.raster, landsat7.polygons, **kw, seed=8)
    full = _sample(landsat7.raster, landsat7.polygons, bands=landsat7.bands)
    assert a.counts().tolist() == [min(cap, n) for n in full.counts().tolist()]
    assert a.counts().tolist() == [50, 16, 50, 50, 50]
    np.testing.assert_array_equal(a.pixel_index, b.pixel_index)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.pixel_index, c.pixel_index)
    # the capped samples are a subset of the full ones, with the same labels
    assert np.isin(a.pixel_index, full.pixel_index).all()
    lookup = dict(zip(full.pixel_index.tolist(), full.y.tolist()))
    assert [lookup[p] for p in a.pixel_index.tolist()] == a.y.tolist()
    # the uncapped class (water, 16 px) is kept whole
    np.testing.assert_array_equal(
        np.sort(a.pixel_index[a.y == 1]), np.sort(full.pixel_index[full.y == 1])
    )
    assert any("capped" in w for w in a.warnings)


@pytest.mark.parametrize("bands", [(0,), (9,), (1, 2, 12)])
def test_band_out_of_range_error(landsat7, bands):
    with pytest.raises(LandCoverError) as info:
        _sample(landsat7.raster, landsat7.polygons, bands=bands)
    msg = str(info.value)
    bad = [b for b in bands if b < 1 or b > 8]
    assert all(str(b) in msg for b in bad)
    assert "8 band(s)" in msg


def test_repeated_band_error(landsat7):
    with pytest.raises(LandCoverError, match="repeats"):
        _sample(landsat7.raster, landsat7.polygons, bands=(1, 2, 2))


def test_band_selection_order_respected(landsat7):
    s = _sample(landsat7.raster, landsat7.polygons, bands=(5, 1))
    stack = gdal.Open(str(landsat7.raster)).ReadAsArray().reshape(8, -1)
    np.testing.assert_array_equal(s.x[:, 0], stack[4, s.pixel_index])
    np.testing.assert_array_equal(s.x[:, 1], stack[0, s.pixel_index])
    assert s.bands == (5, 1)


def test_parse_bands():
    assert parse_bands("1-7") == (1, 2, 3, 4, 5, 6, 7)
    assert parse_bands("1, 3,5-6") == (1, 3, 5, 6)
    assert parse_bands("") is None
    with pytest.raises(LandCoverError, match="band list"):
        parse_bands("one,two")


@pytest.mark.parametrize("rule", RULES)
def test_tiled_rasterisation_matches_whole_window(landsat7, monkeypatch, rule):
    whole = _sample(landsat7.raster, landsat7.polygons, bands=landsat7.bands, pixel_rule=rule)
    monkeypatch.setattr(vector_mod, "_TILE_PIXELS", 7)
    parts: list[int] = []
    real = vector_mod.iter_polygon_pixels

    def counting(*args, **kwargs):
        for part in real(*args, **kwargs):
            assert part.window.pixels <= 7
            parts.append(part.fid)
            yield part

    monkeypatch.setattr("landcover_mlp.core.sampling.iter_polygon_pixels", counting)
    tiled = _sample(landsat7.raster, landsat7.polygons, bands=landsat7.bands, pixel_rule=rule)
    assert len(parts) > 5 * 30  # really tile by tile
    assert tiled.counts().tolist() == whole.counts().tolist()
    a, b = np.argsort(whole.pixel_index), np.argsort(tiled.pixel_index)
    np.testing.assert_array_equal(whole.pixel_index[a], tiled.pixel_index[b])
    np.testing.assert_array_equal(whole.y[a], tiled.y[b])
    np.testing.assert_array_equal(whole.polygon_id[a], tiled.polygon_id[b])
    np.testing.assert_array_equal(whole.x[a], tiled.x[b])


def test_overlapping_polygons_of_different_classes(tmp_path, make_raster, make_polygons, rect):
    raster = make_raster(tmp_path / "r.tif", np.ones((1, 10, 10), dtype=np.int16))
    polygons = make_polygons(
        tmp_path / "p.gpkg",
        [
            (rect(0, 0, 6, 10), {"c": 1}),
            (rect(4, 0, 10, 10), {"c": 2}),  # columns 4-5 claimed by both classes
            (rect(0, 0, 2, 10), {"c": 1}),  # same class overlap: kept once
        ],
    )
    s = _sample(raster, polygons, "c")
    assert s.counts().tolist() == [40, 40]
    assert len(np.unique(s.pixel_index)) == len(s)
    cols = s.pixel_index % 10
    assert not np.isin(cols, [4, 5]).any()
    assert any("overlapping" in w for w in s.warnings)


def test_polygons_without_class_skipped(tmp_path, make_raster, make_polygons, rect):
    raster = make_raster(tmp_path / "r.tif", np.ones((1, 10, 10), dtype=np.int16))
    polygons = make_polygons(
        tmp_path / "p.gpkg",
        [(rect(0, 0, 5, 5), {"c": "a"}), (rect(5, 5, 10, 10), {"c": None})],
        fields={"c": ogr.OFTString},
    )
    s = _sample(raster, polygons, "c")
    assert len(s) == 25
    assert any("no class" in w for w in s.warnings)


@pytest.mark.parametrize(
    ("polygon", "nodata_box", "rule_hint"),
    [
        # smaller than a pixel, between pixel centres: no centre inside
        ("sliver", None, "all_touched"),
        # all on nodata
        ("on_nodata", (6, 6, 10, 10), "all_touched"),
        # outside the raster
        ("outside", None, "all_touched"),
    ],
)  # fmt: skip
def test_class_without_training_pixel_is_refused(
    tmp_path, make_raster, make_polygons, rect, polygon, nodata_box, rule_hint
):
    """A class of the layer that gets no pixel must stop training, naming the class and its
    polygons (issue 12 item 2), never be dropped so that its area maps as another class."""
    data = np.ones((1, 10, 10), dtype=np.int16)
    if nodata_box:
        c0, r0, c1, r1 = nodata_box
        data[:, r0:r1, c0:c1] = -9999
    raster = make_raster(tmp_path / "r.tif", data, nodata=-9999)
    third = {
        "sliver": rect(6.1, 6.1, 6.4, 6.4),
        "on_nodata": rect(7, 7, 9, 9),
        "outside": rect(20, 20, 22, 22),
    }[polygon]
    polygons = make_polygons(
        tmp_path / "p.gpkg",
        [(rect(0, 0, 5, 5), {"c": "forest"}), (rect(5, 0, 10, 5), {"c": "water"}),
         (third, {"c": "urban"})],
        fields={"c": ogr.OFTString},
    )  # fmt: skip
    with pytest.raises(LandCoverError, match=r"'urban' \(polygon id 3\).*no training pixel") as e:
        _sample(raster, polygons, "c")
    assert rule_hint in str(e.value)


def test_class_emptied_by_overlaps_is_refused(tmp_path, make_raster, make_polygons, rect):
    raster = make_raster(tmp_path / "r.tif", np.ones((1, 10, 10), dtype=np.int16))
    polygons = make_polygons(
        tmp_path / "p.gpkg",
        [(rect(0, 0, 10, 10), {"c": 1}), (rect(2, 2, 4, 4), {"c": 2})],  # 2 lies inside 1
    )
    with pytest.raises(LandCoverError, match=r"'2' \(polygon id 2\)"):
        _sample(raster, polygons, "c")


def test_every_class_sampled_passes_the_check(tmp_path, make_raster, make_polygons, rect):
    raster = make_raster(tmp_path / "r.tif", np.ones((1, 10, 10), dtype=np.int16))
    polygons = make_polygons(
        tmp_path / "p.gpkg", [(rect(0, 0, 5, 5), {"c": 1}), (rect(5, 5, 10, 10), {"c": 2})]
    )
    assert _sample(raster, polygons, "c").counts().tolist() == [25, 25]


# --------------------------------------------------------------------------------------------
# The cap per class, drawn while reading


def test_quotas_share_the_cap_among_every_polygon():
    from landcover_mlp.core.sampling import polygon_quotas

    counts = {1: ("a", 900), 2: ("a", 90), 3: ("a", 9), 4: ("a", 1), 5: ("b", 30), 6: ("b", 20)}
    log: list[str] = []
    q = polygon_quotas(counts, 100, np.random.default_rng(0), log)
    assert set(q) == {1, 2, 3, 4}  # class b (50 pixels) is within the cap: taken whole
    assert sum(q.values()) == 100
    assert all(q[f] >= 1 for f in q)  # every polygon keeps a share, the 1-pixel one too
    assert q[1] > q[2] > q[3] >= q[4]
    assert abs(q[1] - 90) <= 2 and abs(q[2] - 9) <= 2  # in proportion to the pixels
    assert not log
    # more polygons than the cap: the cap's worth of polygons keep one pixel each, and it says so
    many = {f: ("c", 5) for f in range(10)}
    q = polygon_quotas(many, 4, np.random.default_rng(0), log)
    assert sorted(q.values()) == [0] * 6 + [1] * 4
    assert log and "raise the cap" in log[0]


def test_cap_keeps_a_share_of_every_polygon_and_reports_used_and_available(landsat7):
    cap = 50
    full = _sample(landsat7.raster, landsat7.polygons, bands=landsat7.bands)
    a = _sample(landsat7.raster, landsat7.polygons, bands=landsat7.bands, max_per_class=cap)
    assert a.available == tuple(full.counts().tolist())  # nothing here is nodata or overlap
    assert set(np.unique(a.polygon_id)) == set(np.unique(full.polygon_id))
    message = next(w for w in a.warnings if "capped" in w)
    assert "your cap" in message
    for c, used, available in zip(a.classes, a.counts(), a.available):
        assert f"{c.name} {used} / {available}" in message


def test_only_the_drawn_pixels_are_held(landsat7, monkeypatch):
    """The cap is drawn while reading: the pixels kept in memory are the drawn ones, not every
    pixel under the polygons."""
    from landcover_mlp.core import sampling

    held: list[int] = []
    add = sampling._Pixels.add

    def counting(self, part, chosen, data, valid, width):
        add(self, part, chosen, data, valid, width)
        held.append(len(self.x[-1]))

    monkeypatch.setattr(sampling._Pixels, "add", counting)
    full = _sample(landsat7.raster, landsat7.polygons, bands=landsat7.bands)
    held.clear()
    capped = _sample(landsat7.raster, landsat7.polygons, bands=landsat7.bands, max_per_class=20)
    assert sum(held) == len(capped) == sum(min(20, n) for n in full.counts())


def test_automatic_cap_when_none_is_set(landsat7, monkeypatch):
    from landcover_mlp.core import sampling

    assert sampling.automatic_cap(10, 6) == sampling.AUTO_CAP_PIXELS
    assert sampling.automatic_cap(200, 16) == 20_000  # 64 M values / (200 bands x 16 classes)
    assert sampling.automatic_cap(10_000, 300) == 1000
    monkeypatch.setattr(sampling, "AUTO_CAP_PIXELS", 40)
    a = _sample(landsat7.raster, landsat7.polygons, bands=landsat7.bands)
    assert a.counts().max() == 40
    assert any("automatic cap" in w for w in a.warnings)


def test_draw_across_tiles_is_uniform(scene, monkeypatch):
    """A polygon larger than a tile is drawn tile by tile: each tile gives its share."""
    from landcover_mlp.core import vector

    monkeypatch.setattr(vector, "_TILE_PIXELS", 64)  # the scene's boxes span many tiles
    full = _sample(scene.raster, scene.polygons, field="class_name")
    cap = int(full.counts().min()) // 2
    a = _sample(scene.raster, scene.polygons, field="class_name", max_per_class=cap)
    # drawn pixels on nodata are skipped, never replaced: up to the cap, most of it
    assert all(0.7 * cap <= n <= cap for n in a.counts())
    width = gdal.Open(str(scene.raster)).RasterXSize
    for fid in np.unique(full.polygon_id):  # each polygon's drawn rows spread like its rows
        rows_full = full.pixel_index[full.polygon_id == fid] // width
        rows = a.pixel_index[a.polygon_id == fid] // width
        assert rows.size
        assert abs(np.median(rows) - np.median(rows_full)) <= 0.15 * np.ptp(rows_full) + 1


def test_tiles_shrink_with_the_band_count(scene, monkeypatch):
    """A polygon tile's band values stay bounded however many bands the raster has."""
    from landcover_mlp.core import vector
    from landcover_mlp.core.raster import open_raster, raster_info

    assert vector.tile_pixels(10) == 4_000_000
    assert vector.tile_pixels(200) == 200_000  # 40 M values / 200 bands
    assert vector.tile_pixels(100_000) == 4096
    monkeypatch.setattr(vector, "_TILE_VALUES", 3 * 50)  # the scene has 3 bands: 50 px tiles
    monkeypatch.setattr(vector, "tile_pixels", lambda n: max(1, vector._TILE_VALUES // n))
    info = raster_info(open_raster(str(scene.raster)))
    source = vector.open_polygons(str(scene.polygons), "class_name")
    parts = list(vector.iter_polygon_pixels(source, info, False, []))
    assert max(p.window.pixels for p in parts) <= 50
    full = _sample(scene.raster, scene.polygons, field="class_name")
    assert sum(int(p.mask.sum()) for p in parts) == len(full) + 48  # 48 px are nodata


def test_automatic_cap_bounds_the_class_imbalance(tmp_path, make_raster, make_polygons, rect):
    """Large classes are capped at 20x the smallest class (at least 5,000 pixels each), so
    that a small class is not drowned; the log says why, the model records the cap used."""
    from landcover_mlp.core import sampling
    from landcover_mlp.core.config import ModelConfig, TrainingConfig, TrainRequest
    from landcover_mlp.core.outputs import report_details
    from landcover_mlp.core.workflow import train_model

    assert sampling.automatic_cap(10, 6, smallest=100) == 5_000  # the floor
    assert sampling.automatic_cap(10, 6, smallest=1_000) == 20_000
    assert sampling.automatic_cap(10, 6, smallest=50_000) == sampling.AUTO_CAP_PIXELS
    assert sampling.automatic_cap(200, 16, smallest=5_000) == 20_000  # memory decides
    assert sampling.automatic_cap(10, 6) == sampling.AUTO_CAP_PIXELS
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 50, size=(2, 130, 100)).astype(np.uint8)
    arr[0, 60:120] += 100
    arr[1, 120:] += 100
    raster = make_raster(tmp_path / "r.tif", arr)
    polygons = make_polygons(
        tmp_path / "p.gpkg",
        [(rect(0, 0, 100, 60), {"cls": "big_a"}), (rect(0, 60, 100, 120), {"cls": "big_b"}),
         (rect(0, 120, 5, 130), {"cls": "rare"})],
    )  # fmt: skip
    logs: list[str] = []
    samples = sampling.collect_samples(raster, polygons, SamplingConfig("cls"),
                                       Hooks(log=logs.append))  # fmt: skip
    assert samples.counts().tolist() == [5_000, 5_000, 50]
    assert samples.available == (6_000, 6_000, 50) and samples.cap == 5_000
    said = [m for m in logs if "20 x the smallest class's 50 pixels" in m]
    assert len(said) == 1 and "big_a 5000 / 6000" in said[0]
    request = TrainRequest(str(raster), str(polygons), SamplingConfig("cls"),
                           model=ModelConfig((4,), ensemble=1),
                           training=TrainingConfig(epochs=1, device="cpu"))  # fmt: skip
    result = train_model(request)
    assert result.model.training["sampling"]["cap_per_class"] == 5_000
    details = report_details(result)
    assert details["pixels used / available per class"] == (
        "big_a 5000 / 6000, big_b 5000 / 6000, rare 50 / 50"
    )
    assert details["training schedule"].startswith("batch ")
