"""Evaluation of any class raster against reference polygons or a reference raster."""

from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal
from sklearn import metrics

from landcover_mlp.core import LandCoverError
from landcover_mlp.core.config import PredictionConfig
from landcover_mlp.core.evaluation import evaluate
from landcover_mlp.core.prediction import classify_raster

NAMES = {1: "forest", 2: "water", 3: "urban"}
W, H = 20, 10


def _classified() -> np.ndarray:
    arr = np.zeros((H, W), dtype=np.uint8)
    arr[:, :10] = 1
    arr[:, 10:] = 2
    arr[0:5, 8:10] = 3  # urban where the reference says forest
    arr[5:10, 15:17] = 1  # forest where the reference says urban
    arr[5:10, 17:20] = 3
    arr[9, 0:4] = 0  # nodata under a reference polygon
    return arr


def _write_class_raster(path, arr, make_raster, names=NAMES, geotransform=None):
    kw = {"geotransform": geotransform} if geotransform else {}
    make_raster(path, arr, nodata=0, **kw)
    ds = gdal.Open(str(path), gdal.GA_Update)
    band = ds.GetRasterBand(1)
    cats = [""] * (max(names) + 1)
    table = gdal.ColorTable()
    for v, n in names.items():
        cats[v] = n
        table.SetColorEntry(v, (v * 40, 100, 200, 255))
    band.SetRasterColorTable(table)  # before the names: GTiff drops PAM names set earlier
    band.SetCategoryNames(cats)
    band = None
    ds = None
    return path


@pytest.fixture
def case(tmp_path, make_raster, make_polygons, rect):
    classified = _write_class_raster(tmp_path / "classified.tif", _classified(), make_raster)
    polygons = make_polygons(
        tmp_path / "ref.gpkg",
        [
            (rect(0, 0, 10, 10), {"class_id": 1, "class_name": "forest"}),
            (rect(10, 0, 20, 5), {"class_id": 2, "class_name": "water"}),
            (rect(15, 5, 20, 10), {"class_id": 3, "class_name": "urban"}),
        ],
    )
    return classified, polygons


def _expected_matrix(reference: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    keep = (reference > 0) & (predicted > 0)
    return metrics.confusion_matrix(reference[keep], predicted[keep], labels=[1, 2, 3])


def test_against_polygons_text_field(case, gdal_rasterize):
    classified, polygons = case
    rep = evaluate(classified, polygons, "class_name")
    reference = gdal_rasterize(classified, polygons, "class_id", False)
    expected = _expected_matrix(reference, _classified())
    assert rep.confusion_matrix == expected.tolist()
    # rows are the reference: 100 forest px minus 4 on nodata, 10 of them classified urban
    assert rep.confusion_matrix[0] == [86, 0, 10]
    assert rep.confusion_matrix[2] == [10, 0, 15]
    assert [c.name for c in rep.classes] == ["forest", "water", "urban"]
    assert [c.value for c in rep.classes] == [1, 2, 3]
    assert rep.n_pixels == 96 + 50 + 25
    assert rep.overall_accuracy == pytest.approx((86 + 50 + 15) / 171)
    keep = (reference > 0) & (_classified() > 0)
    assert rep.kappa == pytest.approx(
        metrics.cohen_kappa_score(reference[keep], _classified()[keep])
    )
    assert any("4 reference pixel(s) are nodata" in w for w in rep.warnings)


def test_against_polygons_integer_field(case, tmp_path, make_raster):
    """Numbers are compared value by value with a map of numbered classes; against a map
    whose classes have names they could number them otherwise: refused (one sentence)."""
    classified, polygons = case
    with pytest.raises(LandCoverError, match="names its classes .* 'class_id' holds numbers"):
        evaluate(classified, polygons, "class_id")
    numbered = tmp_path / "numbered.tif"
    make_raster(numbered, gdal.Open(str(classified)).ReadAsArray(), nodata=0)  # no names
    by_int = evaluate(numbered, polygons, "class_id")
    by_text = evaluate(classified, polygons, "class_name")
    assert by_int.confusion_matrix == by_text.confusion_matrix
    assert by_int.overall_accuracy == by_text.overall_accuracy


def test_pixel_rules_count_the_pixels_gdal_burns(tmp_path, make_raster, make_polygons, rect,
                                                gdal_rasterize):  # fmt: skip
    """Polygons whose edges cut pixels: each rule's confusion matrix is the one of the pixels
    GDAL burns with that rule (ALL_TOUCHED or not), pixel for pixel, and the rules differ."""
    classified = _write_class_raster(tmp_path / "classified.tif", _classified(), make_raster)
    gt = gdal.Open(str(classified)).GetGeoTransform()
    x, y = (lambda col: gt[0] + col * gt[1]), (lambda row: gt[3] + row * gt[5])
    triangle = (f"POLYGON (({x(15.3)} {y(5.2)}, {x(19.8)} {y(5.6)}, {x(19.4)} {y(9.9)}, "
                f"{x(15.3)} {y(5.2)}))")  # fmt: skip
    polygons = make_polygons(
        tmp_path / "ref.gpkg",
        [
            (rect(0.6, 0.3, 9.4, 9.7), {"class_id": 1, "class_name": "forest"}),
            (rect(10.2, 0.7, 19.6, 4.4), {"class_id": 2, "class_name": "water"}),
            (triangle, {"class_id": 3, "class_name": "urban"}),
        ],
    )
    counts = {}
    for all_touched in (False, True):
        rep = evaluate(classified, polygons, "class_name", all_touched=all_touched)
        reference = gdal_rasterize(classified, polygons, "class_id", all_touched)
        expected = _expected_matrix(reference, _classified())
        assert rep.confusion_matrix == expected.tolist(), all_touched
        assert rep.n_pixels == int(expected.sum())
        counts[all_touched] = rep.n_pixels
    # forest, water, urban (the triangle); forest less the nodata pixels of row 9 under it
    assert counts == {False: (80 - 3) + 30 + 12, True: (100 - 4) + 50 + 19}


def test_unknown_reference_class(tmp_path, make_raster, make_polygons, rect):
    classified = _write_class_raster(tmp_path / "c.tif", _classified(), make_raster)
    polygons = make_polygons(tmp_path / "r.gpkg", [(rect(0, 0, 5, 5), {"class_name": "swamp"})])
    with pytest.raises(LandCoverError) as info:
        evaluate(classified, polygons, "class_name")
    msg = str(info.value)
    assert "swamp" in msg and "forest, water, urban" in msg


def test_polygons_outside(tmp_path, make_raster, make_polygons, rect):
    classified = _write_class_raster(tmp_path / "c.tif", _classified(), make_raster)
    polygons = make_polygons(
        tmp_path / "r.gpkg", [(rect(100, 100, 105, 105), {"class_name": "forest"})]
    )
    with pytest.raises(LandCoverError, match="overlap"):
        evaluate(classified, polygons, "class_name")


def test_against_reference_raster(case, tmp_path, make_raster):
    classified, _ = case
    reference = np.zeros((H, W), dtype=np.uint8)
    reference[:, :10] = 1
    reference[:5, 10:] = 2
    reference[5:, 15:] = 3
    reference[0, :] = 0  # unlabelled
    ref_path = _write_class_raster(tmp_path / "reference.tif", reference, make_raster)
    rep = evaluate(classified, ref_path)
    expected = _expected_matrix(reference, _classified())
    assert rep.confusion_matrix == expected.tolist()
    assert rep.n_pixels == int(expected.sum())
    keep = (reference > 0) & (_classified() > 0)
    assert rep.overall_accuracy == pytest.approx(
        metrics.accuracy_score(reference[keep], _classified()[keep])
    )
    assert rep.kappa == pytest.approx(
        metrics.cohen_kappa_score(reference[keep], _classified()[keep])
    )
    assert [c.name for c in rep.classes] == ["forest", "water", "urban"]


def test_reference_raster_numbered_otherwise_without_nodata(case, tmp_path, make_raster):
    """Classes matched by name (water = 7, forest = 8 here), 0 unlabelled when no nodata."""
    classified, _ = case
    reference = np.zeros((H, W), dtype=np.uint8)
    reference[:, :10] = 8
    reference[:5, 10:] = 7
    reference[5:, 15:] = 9
    reference[0, :] = 0  # unlabelled: the raster has no nodata value
    ref_path = make_raster(tmp_path / "reference.tif", reference)
    ds = gdal.Open(str(ref_path), gdal.GA_Update)
    cats = [""] * 10
    cats[7], cats[8], cats[9] = "water", "forest", "urban"
    ds.GetRasterBand(1).SetCategoryNames(cats)
    ds = None
    assert gdal.Open(str(ref_path)).GetRasterBand(1).GetNoDataValue() is None
    rep = evaluate(classified, ref_path)
    recoded = np.select([reference == 8, reference == 7, reference == 9], [1, 2, 3], 0)
    assert rep.confusion_matrix == _expected_matrix(recoded, _classified()).tolist()
    assert [c.name for c in rep.classes] == ["forest", "water", "urban"]


def test_reference_raster_on_another_grid(case, tmp_path, make_raster):
    classified, _ = case
    bigger = make_raster(tmp_path / "bigger.tif", np.ones((H + 1, W), dtype=np.uint8))
    with pytest.raises(LandCoverError, match="grid"):
        evaluate(classified, bigger)
    gt = (500_015.0, 10.0, 0.0, 4_200_000.0, 0.0, -10.0)  # same size, shifted 1.5 pixels
    shifted = make_raster(tmp_path / "shifted.tif", np.ones((H, W), np.uint8), geotransform=gt)
    with pytest.raises(LandCoverError, match="resample"):
        evaluate(classified, shifted)


def test_classified_scene_against_its_polygons(scene, scene_model, tmp_path):
    out = tmp_path / "scene_class.tif"
    classify_raster(scene.raster, scene_model, out, config=PredictionConfig(device="cpu"))
    rep = evaluate(out, scene.polygons, "class_name")
    assert [c.name for c in rep.classes] == ["forest", "urban", "water"]
    expected_pixels = sum(scene.box_mask(b).sum() for _, b in scene.boxes) - 48
    assert rep.n_pixels == expected_pixels
    assert rep.overall_accuracy > 0.95
    # the integer field: the class raster's values 1..3 number its names, the polygons'
    # class_id values are 10/20/30: compared value by value nothing would agree: refused
    with pytest.raises(LandCoverError, match="holds numbers"):
        evaluate(out, scene.polygons, "class_id")
