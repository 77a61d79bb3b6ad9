"""Issue 14 item 2: ``evaluate`` on a labelled stratified sample of points adds the
area-adjusted estimates (Olofsson et al. 2014; Stehman 2014 with a strata raster)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from landcover_mlp.core.area_estimation import olofsson_estimates
from landcover_mlp.core.errors import LandCoverError
from landcover_mlp.core.evaluation import evaluate

DEFAULT_GT = (500_000.0, 10.0, 0.0, 4_200_000.0, 0.0, -10.0)  # 10 m pixels
DEFAULT_EPSG = 32633
NAMES = ["", "forest", "water", "urban"]  # class values 1-3; 255 = nodata
SIZE = 60


def class_map(path: Path, write_raster, seed: int = 0) -> tuple[Path, np.ndarray]:
    """A named class raster of blocks of forest / water / urban, and a truth that differs."""
    rng = np.random.default_rng(seed)
    arr = np.ones((SIZE, SIZE), np.uint8)
    arr[:, 40:] = 2
    arr[45:, :20] = 3
    arr[:3, :3] = 255
    write_raster(path, arr, nodata=255, geotransform=DEFAULT_GT, epsg=DEFAULT_EPSG)
    ds = gdal.Open(str(path), gdal.GA_Update)
    ds.GetRasterBand(1).SetCategoryNames(NAMES)
    ds = None
    truth = arr.copy()
    flip = (rng.random(arr.shape) < 0.15) & (arr != 255)
    truth[flip] = rng.integers(1, 4, int(flip.sum()))
    return path, truth


def points_layer(
    path: Path,
    cells: list[tuple[int, int]],
    labels: list[str | None],
    strata: list[int] | None = None,
    epsg: int = DEFAULT_EPSG,
) -> Path:
    """Points at pixel centres ``cells`` (row, col) with a ``reference`` text field."""
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(DEFAULT_EPSG)
    target = osr.SpatialReference()
    target.ImportFromEPSG(epsg)
    for s in (srs, target):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_target = osr.CoordinateTransformation(srs, target)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    lyr = ds.CreateLayer("sample", target, ogr.wkbPoint)
    lyr.CreateField(ogr.FieldDefn("reference", ogr.OFTString))
    if strata is not None:
        lyr.CreateField(ogr.FieldDefn("stratum", ogr.OFTInteger))
    x0, dx, _, y0, _, dy = DEFAULT_GT
    for i, ((row, col), label) in enumerate(zip(cells, labels)):
        feature = ogr.Feature(lyr.GetLayerDefn())
        if label is not None:
            feature.SetField("reference", label)
        if strata is not None:
            feature.SetField("stratum", strata[i])
        x, y, _ = to_target.TransformPoint(x0 + (col + 0.5) * dx, y0 + (row + 0.5) * dy)
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(x, y)
        feature.SetGeometry(point)
        lyr.CreateFeature(feature)
    ds = None
    return path


def stratified_cells(arr: np.ndarray, per_class: int, seed: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    cells = []
    for value in (1, 2, 3):
        rows, cols = np.nonzero(arr == value)
        pick = rng.choice(rows.size, per_class, replace=False)
        cells += list(zip(rows[pick].tolist(), cols[pick].tolist()))
    return cells


@pytest.fixture
def sample(tmp_path: Path, make_raster) -> tuple[Path, Path, np.ndarray, list[tuple[int, int]]]:
    classified, truth = class_map(tmp_path / "map.tif", make_raster)
    arr = gdal.Open(str(classified)).ReadAsArray()
    cells = stratified_cells(arr, 25, seed=1)
    labels: list[str | None] = [NAMES[truth[r, c]] for r, c in cells]
    labels[0] = None  # not visited yet
    labels[1] = "  "
    points = points_layer(tmp_path / "points.gpkg", cells, labels)
    return classified, points, truth, cells


def test_points_give_the_olofsson_estimates_of_their_labels(sample) -> None:
    classified, points, truth, cells = sample
    report = evaluate(classified, points, "reference")
    area = report.area_adjusted.to_dict()
    assert area["n_points"] == 73 and area["n_points_unlabelled"] == 2
    assert report.n_pixels == 73 and "2 point(s) with an empty" in " ".join(report.warnings)
    arr = gdal.Open(str(classified)).ReadAsArray()
    mapped = np.array([(arr == v).sum() for v in (1, 2, 3)], float)
    counts = np.zeros((3, 3))  # rows = reference, columns = map
    for r, c in cells[2:]:
        counts[truth[r, c] - 1, arr[r, c] - 1] += 1
    expected = olofsson_estimates(counts, mapped)
    assert area["overall_accuracy"] == pytest.approx(expected.overall_accuracy)
    assert [c["name"] for c in area["classes"]] == ["forest", "water", "urban"]
    got = [c["area_proportion"] for c in area["classes"]]
    assert got == pytest.approx(expected.area_proportion.tolist())
    assert area["area_unit"] == "ha"  # 10 m pixels: 0.01 ha each
    assert [c["mapped_area_ha"] for c in area["classes"]] == pytest.approx((mapped / 100).tolist())
    assert "Olofsson" in area["protocol"]
    assert report.confusion_matrix == counts.astype(int).tolist()  # counts of points
    json.dumps(report.to_dict(), allow_nan=False)


def test_points_in_another_crs_land_on_the_same_pixels(sample, tmp_path: Path) -> None:
    classified, points, truth, cells = sample
    labels = [NAMES[truth[r, c]] for r, c in cells]
    geographic = points_layer(tmp_path / "wgs84.gpkg", cells, labels, epsg=4326)
    same = points_layer(tmp_path / "same.gpkg", cells, labels)
    a = evaluate(classified, geographic, "reference").area_adjusted.to_dict()
    b = evaluate(classified, same, "reference").area_adjusted.to_dict()
    assert a == b and a["n_points"] == 75


def test_an_unknown_reference_name_is_refused(sample, tmp_path: Path) -> None:
    classified, _, _, cells = sample
    points = points_layer(tmp_path / "typo.gpkg", cells[:4], ["forest", "Forest", "wetland", "x"])
    with pytest.raises(LandCoverError, match=r"'wetland' \(1 point\), 'x' \(1 point\) are not"):
        evaluate(classified, points, "reference")


def test_strata_other_than_the_map_classes_need_the_strata_raster(
    sample, tmp_path: Path, make_raster
) -> None:
    classified, _, truth, cells = sample
    arr = gdal.Open(str(classified)).ReadAsArray()
    strata_arr = np.where(np.arange(SIZE)[None, :] < 30, 1, 2).repeat(SIZE, 0).astype(np.uint8)
    strata_path = make_raster(tmp_path / "strata.tif", strata_arr, geotransform=DEFAULT_GT,
                              epsg=DEFAULT_EPSG)  # fmt: skip
    labels = [NAMES[truth[r, c]] for r, c in cells]
    own = [int(strata_arr[r, c]) for r, c in cells]
    points = points_layer(tmp_path / "strata.gpkg", cells, labels, strata=own)
    with pytest.raises(LandCoverError, match="give the strata raster"):
        evaluate(classified, points, "reference")
    report = evaluate(classified, points, "reference", strata=strata_path)
    area = report.area_adjusted.to_dict()
    assert "Stehman" in area["protocol"] and area["n_points"] == 75
    total = sum(c["area_proportion"] for c in area["classes"])
    assert total == pytest.approx(1.0)
    wrong = points_layer(tmp_path / "wrong.gpkg", cells, labels, strata=[3 - s for s in own])
    with pytest.raises(LandCoverError, match="differs from the strata raster"):
        evaluate(classified, wrong, "reference", strata=strata_path)
    assert arr.shape == strata_arr.shape


def test_strata_with_polygons_are_refused(landsat7) -> None:
    with pytest.raises(LandCoverError, match="Strata apply to a sample of reference points"):
        evaluate(landsat7.author_labels, landsat7.polygons, "class_id",
                 strata=landsat7.author_labels)  # fmt: skip


def test_the_html_report_shows_the_area_table_and_its_protocol(sample, tmp_path: Path) -> None:
    from landcover_mlp.core.reports import write_report_html

    classified, points, _, _ = sample
    report = evaluate(classified, points, "reference")
    page = write_report_html(report, tmp_path / "r.html", "Accuracy report").read_text()
    area = report.area_adjusted
    assert "Area-adjusted estimates" in page and "Olofsson et al. 2014" in page
    forest = area.classes[0]
    assert f"{forest.mapped_area_ha:,.1f}&nbsp;ha" in page
    assert f"{forest.area_ha:,.1f}&nbsp;ha &plusmn; {forest.area_ha_ci95:,.1f}&nbsp;ha" in page
    assert "Rows are the reference (truth), columns the map class." in page
    assert "Unweighted sample accuracy" in page and "73 labelled" in page
    assert "2 unlabelled point(s) left out" in page
    assert "<th>reference points</th>" in page and "<th>reference pixels</th>" not in page


def test_the_area_table_as_text(sample) -> None:
    from landcover_mlp.core.reports import area_table_text

    classified, points, _, _ = sample
    area = evaluate(classified, points, "reference").area_adjusted
    lines = area_table_text(area)
    forest = area.classes[0]
    assert lines[1].split()[0] == "forest"
    assert f"{forest.area_ha:,.1f} +/- {forest.area_ha_ci95:,.1f}" in lines[1]
    assert f"{forest.mapped_area_ha:,.1f}" in lines[1] and "estimated ha (95% CI)" in lines[0]
    assert "73 labelled points (2 unlabelled left out)" in lines[-2]
    assert lines[-1] == area.protocol


def test_command_line_sample_label_evaluate(tmp_path: Path, make_raster, capsys) -> None:
    """accuracy-sample, then the points labelled, then evaluate: the area table printed and
    ``area_adjusted`` in the report, on the default ``make test`` route (in-process CLI)."""
    from landcover_mlp.core.cli import main

    classified, truth = class_map(tmp_path / "map.tif", make_raster)
    points = tmp_path / "sample.gpkg"
    assert main(["-q", "accuracy-sample", "--classified", str(classified), "--output",
                 str(points), "--size", "90", "--min-per-class", "20", "--seed", "3"]) == 0  # fmt: skip
    inverse = gdal.InvGeoTransform(DEFAULT_GT)
    ds = ogr.Open(str(points), 1)
    layer = ds.GetLayer(0)
    for feature in layer:
        x, y = feature.GetGeometryRef().GetPoint_2D(0)
        col = int(inverse[0] + inverse[1] * x + inverse[2] * y)
        row = int(inverse[3] + inverse[4] * x + inverse[5] * y)
        feature.SetField("reference", NAMES[truth[row, col]])
        layer.SetFeature(feature)
    feature = layer = ds = None
    capsys.readouterr()
    report = tmp_path / "r.json"
    assert main(["-q", "evaluate", "--classified", str(classified), "--reference", str(points),
                 "--class-field", "reference", "--report", str(report)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    area = json.loads(report.read_text())["area_adjusted"]
    assert area["n_points"] == 90 and area["n_points_unlabelled"] == 0
    assert "Area-adjusted overall accuracy" in out and "estimated ha (95% CI)" in out
    assert f"{100 * area['overall_accuracy']:.1f}%" in out
    assert json.loads(report.read_text())["provenance"]["reference_layer"] == "sample"


def test_a_numbered_field_against_named_classes_is_refused(landsat7, scene, scene_model, tmp_path):
    """Trial: a map trained on class names, assessed with the polygons' class_id numbers, gave
    21 % and advice to draw more polygons, without a word about the mismatch."""
    from landcover_mlp.core.explain import explain_samples
    from landcover_mlp.core.prediction import classify_raster

    classified = tmp_path / "map.tif"
    classify_raster(scene.raster, scene_model, classified)
    with pytest.raises(LandCoverError, match="names its classes .* holds numbers"):
        evaluate(classified, scene.polygons, "class_id")
    with pytest.raises(LandCoverError, match="The model names its classes"):
        explain_samples(scene_model, str(scene.raster), str(scene.polygons), "class_id")
    report = evaluate(landsat7.author_labels, landsat7.polygons, "class_id")  # numbered: fine
    assert report.n_pixels > 0
