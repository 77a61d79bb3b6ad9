"""The dialog's teaching views driven by code on the Landsat 7 scene: the "Explore learning
rate" tab trains a tiny grid in the background (every epoch reaches the curves and the table
as it happens; a diverged run is kept), a bad grid is refused before anything runs, and after a
run "Decision regions..." opens its panel, which draws the run's model beside a perceptron."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtCore import QEventLoop, QTimer

from landcover_mlp.plugin.explore_task import ExploreTask
from landcover_mlp.ui import settings
from landcover_mlp.ui.dialog import LandCoverDialog

pytestmark = pytest.mark.qgis_tier

BANDS = (1, 2, 3, 4, 5, 6, 7)
TIMEOUT_S = 120
LR, MOMENTUM, CONVERGED, FINAL_TRAIN, FINAL_VAL, DIVERGED = range(6)  # the table's columns


@pytest.fixture(autouse=True)
def own_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings under a group of their own, so a user's remembered values never leak in."""
    monkeypatch.setattr(settings, "PREFIX", "landcover_mlp_tests_explore")
    settings.clear()
    yield
    settings.clear()


@pytest.fixture
def dialog(
    qgis_iface: Any, landsat7: Any, qgis_new_project: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LandCoverDialog]:  # fmt: skip
    """The dialog on the Landsat scene (class_name, bands 1-7, CPU); the project has a file in
    a folder of its own, where outputs left empty go."""
    QgsProject.instance().setFileName(str(tmp_path_factory.mktemp("project") / "project.qgz"))
    raster = QgsRasterLayer(str(landsat7.raster), "landsat 1999")
    polygons = QgsVectorLayer(str(landsat7.polygons), "training", "ogr")
    assert raster.isValid() and polygons.isValid()
    QgsProject.instance().addMapLayers([raster, polygons])
    dlg = LandCoverDialog(qgis_iface)
    dlg.show()
    dlg.rasterCombo.setLayer(raster)
    dlg.polygonCombo.setLayer(polygons)
    dlg.classFieldCombo.setField("class_name")
    dlg.form.set_checked_bands(BANDS)
    dlg.deviceCombo.setCurrentIndex(dlg.deviceCombo.findData("cpu"))
    yield dlg
    dlg.shutdown()
    dlg.hide()
    dlg.deleteLater()


def wait_for(signal: Any, timeout_s: float = TIMEOUT_S) -> bool:
    """Run the event loop until ``signal(bool)`` is emitted; its value."""
    outcome: list[bool] = []
    loop, timer = QEventLoop(), QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)

    def done(ok: bool) -> None:
        outcome.append(ok)
        loop.quit()

    signal.connect(done)
    timer.start(int(timeout_s * 1000))
    loop.exec()
    timer.stop()
    signal.disconnect(done)
    if not outcome:
        pytest.fail(f"Nothing ended within {timeout_s} s.")
    return outcome[0]


def grid(dialog: LandCoverDialog, rates: str, momentums: str, epochs: int) -> None:
    panel = dialog.explore
    panel.widgets["learning_rates"].setText(rates)
    panel.widgets["momentums"].setText(momentums)
    panel.widgets["epochs"].setValue(epochs)


def message(dialog: LandCoverDialog) -> str:
    item = dialog.message_bar.currentItem()
    return f"{item.title()} {item.text()}" if item is not None else ""


def test_the_tab_trains_the_grid_live_and_keeps_a_diverged_run(dialog: LandCoverDialog) -> None:
    # On this scene the 32-32 network diverges at learning rate 10 (12 full-batch steps).
    grid(dialog, "10,0.1", "0", 15)
    panel = dialog.explore
    panel.exploreButton.click()
    task = dialog.task
    assert isinstance(task, ExploreTask)
    assert not dialog.runButton.isEnabled() and not panel.exploreButton.isEnabled()
    assert not dialog.tuning.tuneButton.isEnabled()
    assert dialog.resultTabs.currentWidget() is panel
    assert panel.runTable.rowCount() == 2  # a row per run before the first epoch
    # Connected after the panel: each epoch's loss is already in its run's row.
    seen: list[tuple[dict[str, Any], str]] = []

    def on_epoch(record: dict[str, Any]) -> None:
        row = 0 if record["learning_rate"] == 10 else 1
        seen.append((record, panel.runTable.item(row, FINAL_TRAIN).text()))

    task.epoch_ended.connect(on_epoch)

    assert wait_for(dialog.exploring_finished), message(dialog)

    outcome = panel.outcome
    diverged, trained = outcome.result.runs
    assert diverged.diverged and not trained.diverged
    by_run = {
        lr: [r for r, _ in seen if r["learning_rate"] == lr] for lr in (10.0, 0.1)
    }  # fmt: skip
    assert [r["epoch"] for r in by_run[0.1]] == list(range(1, 16))
    assert len(by_run[10.0]) == len(diverged.history) < 15 and by_run[10.0][-1]["diverged"]
    for record, shown in seen:
        if not record["diverged"]:
            assert shown == f"{record['train_loss']:.3f}"  # the row followed the epoch
    with open(outcome.outputs.csv, newline="", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == len(seen)  # the file holds what was shown
    assert len(panel.plot.records[(0.1, 0.0)]) == 15
    table = panel.runTable
    assert [table.item(i, LR).text() for i in range(2)] == ["10", "0.1"]
    assert table.item(0, DIVERGED).text() == f"yes, at epoch {len(diverged.history)}"
    assert table.item(1, DIVERGED).text() == "no"
    expected = str(trained.epochs_to_threshold) if trained.epochs_to_threshold else "> 15"
    assert table.item(1, CONVERGED).text() == expected
    assert table.item(1, FINAL_VAL).text() == f"{trained.final_val_loss:.3f}"
    project = Path(QgsProject.instance().fileName()).parent
    assert outcome.outputs.png.is_file() and project in outcome.outputs.png.parents
    assert "figure" in panel.filesLabel.text() and "1 diverged" in panel.summaryLabel.text()
    assert dialog.task is None and panel.exploreButton.isEnabled() and dialog.runButton.isEnabled()
    assert dialog.progressBar.value() == 100
    assert dialog.statusLabel.text() == "Done: 2 runs."


def test_a_cancel_keeps_the_curves_and_writes_nothing(dialog: LandCoverDialog) -> None:
    grid(dialog, "0.1", "0,0.9", 100)
    dialog.explore.exploreButton.click()
    task = dialog.task
    seen: list[dict[str, Any]] = []

    def cancel_at_five(record: dict[str, Any]) -> None:
        seen.append(record)
        if len(seen) == 5:
            dialog.cancelButton.click()

    task.epoch_ended.connect(cancel_at_five)
    assert not wait_for(dialog.exploring_finished)
    assert task.was_cancelled and dialog.statusLabel.text() == "Cancelled."
    assert 5 <= len(seen) < 200 and len(dialog.explore.plot.records[(0.1, 0.0)]) == len(seen)
    assert dialog.explore.outcome is None and dialog.task is None
    assert dialog.explore.exploreButton.isEnabled()
    folder = task.folder
    assert not folder.exists()  # nothing written: the run's empty folder is gone too


def test_a_bad_grid_is_refused_before_anything_runs(dialog: LandCoverDialog) -> None:
    grid(dialog, "0.1", "0.5,2", 10)
    assert "Momentum must be between 0 and 0.999" in dialog.explore.planLabel.text()
    dialog.explore.exploreButton.click()
    assert dialog.task is None
    assert "Momentum must be between 0 and 0.999; got 2.0." in message(dialog)
    assert dialog.explore.runTable.rowCount() == 0


def test_decision_regions_open_after_a_run(dialog: LandCoverDialog, tmp_path: Path) -> None:
    assert not dialog.explainButton.isEnabled()  # no run yet
    dialog.epochsSpin.setValue(5)
    dialog.modelFileWidget.setFilePath(str(tmp_path / "model.safetensors"))
    dialog.classRasterWidget.setFilePath(str(tmp_path / "land_cover.tif"))
    dialog.runButton.click()
    assert wait_for(dialog.training_finished), message(dialog)
    assert dialog.explainButton.isEnabled()

    dialog.explainButton.click()
    panel = dialog.explain_panel
    assert panel is not None and panel.isVisible() and panel.model is dialog.result.model
    assert panel.outputWidget.filePath() == str(tmp_path / "model_regions.png")
    panel.xBandCombo.setCurrentIndex(panel.xBandCombo.findData(3))
    panel.yBandCombo.setCurrentIndex(panel.yBandCombo.findData(3))
    panel.drawButton.click()  # the same band twice: refused, nothing runs
    assert panel.task is None and "two different band numbers" in panel.statusLabel.text()

    panel.yBandCombo.setCurrentIndex(panel.yBandCombo.findData(5))
    panel.drawButton.click()
    assert panel.task is not None and not panel.drawButton.isEnabled()
    assert wait_for(panel.finished_drawing), panel.statusLabel.text()
    assert panel.result.plot_bands == (3, 5)
    assert (tmp_path / "model_regions.png").is_file()
    assert not panel.imageLabel.pixmap().isNull()
    assert "perceptron" in panel.statusLabel.text() and panel.drawButton.isEnabled()
