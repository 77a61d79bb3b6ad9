"""Processing outputs come into the project styled (issue 13 item 8): QGIS loads an output
without the .qml written beside it, so the class layer must come paletted with the class names
and the confidence layer with the fixed 0-1 grey ramp, not a min-max stretch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from qgis.core import (
    QgsApplication,
    QgsPalettedRasterRenderer,
    QgsProcessingAlgRunnerTask,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProject,
    QgsSingleBandGrayRenderer,
)
from qgis.PyQt.QtCore import QEventLoop, QTimer

pytestmark = pytest.mark.qgis_tier


TIMEOUT_S = 120


def run_and_load(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """``processing.runAndLoadResults`` (the Python console's way): the layers it added to the
    project, by name."""
    import processing

    project = QgsProject.instance()
    before = set(project.mapLayers())
    context = QgsProcessingContext()
    context.setProject(project)
    processing.runAndLoadResults(f"landcover_mlp:{name}", parameters, context=context)
    return {project.mapLayer(i).name(): project.mapLayer(i)
            for i in set(project.mapLayers()) - before}  # fmt: skip


def run_in_task_and_load(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The algorithm dialog's way: the algorithm runs in a QgsProcessingAlgRunnerTask (another
    thread, with a context of its own whose layers to load pass to the dialog's), then
    Processing's handleAlgorithmResults loads them. The layers added, by name."""
    from processing.gui.Postprocessing import handleAlgorithmResults

    project = QgsProject.instance()
    before = set(project.mapLayers())
    alg = QgsApplication.processingRegistry().createAlgorithmById(f"landcover_mlp:{name}")
    context = QgsProcessingContext()
    context.setProject(project)
    feedback = QgsProcessingFeedback()
    destinations = {p.name() for p in alg.destinationParameterDefinitions()}
    parameters = {k: QgsProcessingOutputLayerDefinition(v, project) if k in destinations else v
                  for k, v in parameters.items()}  # fmt: skip
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


def assert_styled_layers(added: dict[str, Any], names: list[str]) -> None:
    assert set(added) == {"Land cover", "Confidence"}
    confidence = added["Confidence"].renderer()
    assert isinstance(confidence, QgsSingleBandGrayRenderer)
    ramp = confidence.contrastEnhancement()
    assert (ramp.minimumValue(), ramp.maximumValue()) == (0.0, 1.0)
    classes = added["Land cover"].renderer()
    assert isinstance(classes, QgsPalettedRasterRenderer)
    assert sorted(c.label for c in classes.classes()) == names


@pytest.fixture
def clean_project(provider: Any) -> Any:
    """The project (with the provider registered), emptied afterwards."""
    yield QgsProject.instance()
    QgsProject.instance().removeAllMapLayers()


@pytest.mark.parametrize("run", [run_and_load, run_in_task_and_load], ids=["run", "task"])
def test_classify_loads_styled_layers(
    run: Any, scene_run: Any, sample_scene: Any, tmp_path: Path, clean_project: Any
) -> None:
    added = run("classify", {
        "RASTER": str(sample_scene.raster),
        "MODEL": scene_run.results["MODEL"],
        "CLASSIFIED": str(tmp_path / "classes.tif"),
        "CONFIDENCE": str(tmp_path / "confidence.tif"),
    })  # fmt: skip
    assert_styled_layers(added, sorted(c.name for c in sample_scene.classes))


def test_trainclassify_loads_styled_layers(
    sample_scene: Any, tmp_path: Path, clean_project: Any
) -> None:
    added = run_and_load("trainclassify", {
        "RASTER": str(sample_scene.raster),
        "POLYGONS": str(sample_scene.polygons),
        "CLASS_FIELD": sample_scene.class_field,
        "EPOCHS": 2,
        "ENSEMBLE": 1,
        "DEVICE": 1,  # cpu
        "MODEL": str(tmp_path / "model.safetensors"),
        "CLASSIFIED": str(tmp_path / "classes.tif"),
        "CONFIDENCE": str(tmp_path / "confidence.tif"),
    })  # fmt: skip
    assert_styled_layers(added, sorted(c.name for c in sample_scene.classes))
