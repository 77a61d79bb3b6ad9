"""landcover_mlp:accuracysample: the stratified sample for an accuracy assessment runs through
Processing, and its points come into the project styled by map class, ready to label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (
    QgsApplication,
    QgsCategorizedSymbolRenderer,
    QgsProcessingAlgRunnerTask,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProject,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QEventLoop, QTimer

from landcover_mlp.core.classes import ClassInfo
from landcover_mlp.core.prediction import style_class_band

pytestmark = pytest.mark.qgis_tier

CLASSES = (
    ClassInfo(1, "forest", "#1a7a33"),
    ClassInfo(2, "water", "#2b83ba"),
    ClassInfo(3, "urban", "#d7191c"),
)
TIMEOUT_S = 120


@pytest.fixture
def class_map(tmp_path: Path, make_raster: Any) -> Path:
    """40 x 30 Byte map of three classes with names and colours, nodata 0 in one corner."""
    a = np.full((30, 40), 1, np.uint8)
    a[:, 20:32] = 2
    a[:, 32:] = 3
    a[25:, :5] = 0
    path = make_raster(tmp_path / "map.tif", a, nodata=0)
    ds = gdal.Open(str(path), gdal.GA_Update)
    style_class_band(ds.GetRasterBand(1), CLASSES, 0)
    ds = None
    return path


@pytest.fixture
def clean_project(provider: Any) -> Any:
    """The project (with the provider registered), emptied afterwards."""
    yield QgsProject.instance()
    QgsProject.instance().removeAllMapLayers()


def run_and_load(parameters: dict[str, Any]) -> dict[str, Any]:
    """``processing.runAndLoadResults``: the layers added to the project, by name."""
    import processing

    project = QgsProject.instance()
    before = set(project.mapLayers())
    context = QgsProcessingContext()
    context.setProject(project)
    processing.runAndLoadResults("landcover_mlp:accuracysample", parameters, context=context)
    return {project.mapLayer(i).name(): project.mapLayer(i)
            for i in set(project.mapLayers()) - before}  # fmt: skip


def run_in_task_and_load(parameters: dict[str, Any]) -> dict[str, Any]:
    """The algorithm dialog's way: a QgsProcessingAlgRunnerTask in another thread, then
    Processing's handleAlgorithmResults loads the outputs. The layers added, by name."""
    from processing.gui.Postprocessing import handleAlgorithmResults

    project = QgsProject.instance()
    before = set(project.mapLayers())
    alg = QgsApplication.processingRegistry().createAlgorithmById("landcover_mlp:accuracysample")
    context = QgsProcessingContext()
    context.setProject(project)
    feedback = QgsProcessingFeedback()
    parameters = {**parameters, "SAMPLE": QgsProcessingOutputLayerDefinition(
        parameters["SAMPLE"], project)}  # fmt: skip
    task = QgsProcessingAlgRunnerTask(alg, parameters, context, feedback)
    loop, outcome = QEventLoop(), []
    task.executed.connect(lambda ok, results: (outcome.append(ok), loop.quit()))
    QTimer.singleShot(TIMEOUT_S * 1000, loop.quit)
    QgsApplication.taskManager().addTask(task)
    if not outcome:
        loop.exec()
    assert outcome == [True], "the task ran the algorithm"
    assert handleAlgorithmResults(alg, context, feedback, parameters=parameters)
    return {project.mapLayer(i).name(): project.mapLayer(i)
            for i in set(project.mapLayers()) - before}  # fmt: skip


def test_algorithm_writes_the_sample(class_map: Path, tmp_path: Path, run_alg: Any,
                                     recording_feedback: Any) -> None:  # fmt: skip
    feedback = recording_feedback()
    out = tmp_path / "points.gpkg"
    results = run_alg("accuracysample", {
        "CLASSIFIED": str(class_map), "SIZE": 90, "MIN_PER_CLASS": 20, "SEED": 3,
        "SAMPLE": str(out),
    }, feedback)  # fmt: skip
    assert results == {"SAMPLE": str(out), "POINTS": 90}
    layer = QgsVectorLayer(str(out), "points", "ogr")
    assert layer.isValid() and layer.featureCount() == 90
    assert layer.fields().names() == ["fid", "sample_id", "map_class", "map_class_name",
                                      "stratum", "reference", "x", "y"]  # fmt: skip
    # the allocation table in the log: 20 each first, the other 30 by mapped area (575, 360
    # and 240 px): 14.68, 9.19, 6.13 -> 14, 9, 6 and the last point to forest (.68)
    rows = [m.split() for m in feedback.infos if m.split()[:1] in (["1"], ["2"], ["3"])]
    assert [(r[1], r[-1]) for r in rows] == [("forest", "35"), ("water", "29"), ("urban", "26")]


def test_algorithm_refuses_with_a_sentence(class_map: Path, tmp_path: Path, run_alg: Any) -> None:
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="not both"):
        run_alg("accuracysample", {"CLASSIFIED": str(class_map), "SIZE": 90, "TARGET_SE": 0.01,
                                   "EXPECTED_USERS_ACCURACY": "0.8",
                                   "SAMPLE": str(tmp_path / "p.gpkg")})  # fmt: skip
    assert not (tmp_path / "p.gpkg").exists()


@pytest.mark.parametrize("run", [run_and_load, run_in_task_and_load], ids=["run", "task"])
def test_points_come_styled_by_map_class_and_ready_to_label(
    run: Any, class_map: Path, tmp_path: Path, clean_project: Any
) -> None:
    added = run({"CLASSIFIED": str(class_map), "SAMPLE": str(tmp_path / "points.gpkg")})
    assert list(added) == ["Accuracy sample"]
    layer = added["Accuracy sample"]
    renderer = layer.renderer()
    assert isinstance(renderer, QgsCategorizedSymbolRenderer)
    assert renderer.classAttribute() == "map_class"
    shown = [(c.value(), c.label(), c.symbol().color().name()) for c in renderer.categories()]
    assert shown == [(c.value, c.name, c.colour) for c in CLASSES]
    # the reference field is empty text for the user to fill; the drawn fields are read-only
    reference = layer.fields().indexOf("reference")
    assert layer.fields().field(reference).typeName().lower() in ("text", "string")
    assert {f["reference"] for f in layer.getFeatures()} == {""}
    form = layer.editFormConfig()
    assert not form.readOnly(reference)
    for name in ("sample_id", "map_class", "map_class_name", "stratum", "x", "y"):
        assert form.readOnly(layer.fields().indexOf(name)), name
    assert layer.featureCount() == 500  # the default size


def test_a_labelled_sample_gives_area_adjusted_estimates_through_processing(
    class_map: Path, provider: Any, run_alg: Any, tmp_path: Path
) -> None:
    """Issue 14 end to end in Processing: draw the sample, label its points (here from a truth
    map that differs from the map), assess: the report holds the area-adjusted estimates
    and the algorithm returns the area-adjusted overall accuracy."""
    import json

    from osgeo import ogr

    points = tmp_path / "sample.gpkg"
    run_alg("accuracysample", {"CLASSIFIED": str(class_map), "SIZE": 60,
            "MIN_PER_CLASS": 10, "SEED": 4, "SAMPLE": str(points)})  # fmt: skip
    truth = {1: "forest", 2: "water", 3: "urban"}
    ds = ogr.Open(str(points), 1)
    layer = ds.GetLayer(0)
    labelled = 0
    for i, feature in enumerate(layer):
        # every 5th forest point is really water; one point is left unlabelled
        name = truth[feature.GetField("map_class")]
        if name == "forest" and i % 5 == 0:
            name = "water"
        if i == 1:
            name = ""
        labelled += bool(name)
        feature.SetField("reference", name)
        layer.SetFeature(feature)
    feature = layer = ds = None
    report = tmp_path / "report.html"
    out = run_alg("evaluate", {
        "CLASSIFIED": str(class_map), "REFERENCE_POLYGONS": str(points),
        "CLASS_FIELD": "reference", "CONFUSION_MATRIX": str(tmp_path / "m.csv"),
        "REPORT": str(report)})  # fmt: skip
    area = json.loads(report.with_suffix(".json").read_text())["area_adjusted"]
    assert area["n_points"] == labelled == 59 and area["n_points_unlabelled"] == 1
    assert out["AREA_OVERALL_ACCURACY"] == pytest.approx(area["overall_accuracy"])
    assert 0.5 < area["overall_accuracy"] < 1.0  # forest points mislabelled: not perfect
    water = next(c for c in area["classes"] if c["name"] == "water")
    assert water["area_ha"] > water["mapped_area_ha"]  # forest that is water adds to it
    assert "Area-adjusted estimates" in report.read_text()


def test_a_temporary_sample_is_said_to_be_temporary(
    class_map: Path, provider: Any, run_alg: Any, recording_feedback: Any, tmp_path: Path
) -> None:
    """Trial: the default output is a temporary file QGIS deletes at exit, and the points are
    hours of labelling: the log says so (and not for a file the user chose)."""
    warned = recording_feedback()
    run_alg("accuracysample", {"CLASSIFIED": str(class_map), "SIZE": 30, "MIN_PER_CLASS": 5,
            "SAMPLE": "TEMPORARY_OUTPUT"}, warned)  # fmt: skip
    assert any("temporary file that QGIS deletes" in w for w in warned.warnings)
    chosen = recording_feedback()
    run_alg("accuracysample", {"CLASSIFIED": str(class_map), "SIZE": 30, "MIN_PER_CLASS": 5,
            "SAMPLE": str(tmp_path / "kept.gpkg")}, chosen)  # fmt: skip
    assert not any("temporary file" in w for w in chosen.warnings)
