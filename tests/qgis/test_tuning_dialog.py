"""The "Find the best settings" tab driven by code on the Landsat 7 scene: the table fills in
live and best first, "Use these settings" copies the chosen configuration into the training
widgets, a cancel keeps the finished rows, a tiny time budget stops early and says so, and bad
values to try are refused before anything runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtCore import QCoreApplication, QEventLoop, QTimer

from landcover_mlp.core.model_io import load_model
from landcover_mlp.core.selection import ConfigScore
from landcover_mlp.core.settings import default
from landcover_mlp.core.tuning import parse_space
from landcover_mlp.ui import settings
from landcover_mlp.ui.dialog import LandCoverDialog

pytestmark = pytest.mark.qgis_tier

BANDS = (1, 2, 3, 4, 5, 6, 7)
TIMEOUT_S = 120
OA_COLUMN = 5


@pytest.fixture(autouse=True)
def own_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings under a group of their own, so a user's remembered values never leak in."""
    monkeypatch.setattr(settings, "PREFIX", "landcover_mlp_tests_tuning")
    settings.clear()
    yield
    settings.clear()


@pytest.fixture
def dialog(
    qgis_iface: Any,
    landsat7: Any,
    qgis_new_project: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LandCoverDialog]:
    """The dialog on the Landsat scene, class_name, bands 1-7, CPU, 30 epochs; the project
    has a file in a folder of its own (default outputs go there, never beside the data)."""
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
    dlg.epochsSpin.setValue(30)
    yield dlg
    dlg.shutdown()
    dlg.hide()
    dlg.deleteLater()


def search(dialog: LandCoverDialog, hidden: str = "8;32", **kw: Any) -> None:
    """A tiny search: two hidden-layer sets, one learning rate and momentum, 3 folds."""
    panel = dialog.tuning
    panel.hiddenSetsEdit.setText(hidden)
    panel.learningRatesEdit.setText(kw.get("learning_rates", "0.05"))
    panel.momentumsEdit.setText(kw.get("momentums", "0.9"))
    panel.activationsEdit.setText("")
    panel.batchSizesEdit.setText("")
    panel.foldsSpin.setValue(3)
    panel.budgetSpin.setValue(kw.get("budget", 10.0))


def wait_tuned(dialog: LandCoverDialog, timeout_s: float = TIMEOUT_S) -> bool:
    """Run the event loop until the search ended; its success flag."""
    outcome: list[bool] = []
    loop, timer = QEventLoop(), QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)

    def done(ok: bool) -> None:
        outcome.append(ok)
        loop.quit()

    dialog.tuning_finished.connect(done)
    timer.start(int(timeout_s * 1000))
    loop.exec()
    timer.stop()
    dialog.tuning_finished.disconnect(done)
    if not outcome:
        pytest.fail(f"The search did not finish within {timeout_s} s.")
    return outcome[0]


def message(dialog: LandCoverDialog) -> str:
    item = dialog.message_bar.currentItem()
    return f"{item.title()} {item.text()}" if item is not None else ""


def oa_means(dialog: LandCoverDialog) -> list[float]:
    table = dialog.tuning.tuneTable
    texts = [table.item(i, OA_COLUMN).text() for i in range(table.rowCount())]
    return [float(t.split("±")[0]) for t in texts]


def test_table_fills_live_best_first_and_settings_are_copied(
    dialog: LandCoverDialog, tmp_path: Path
) -> None:
    search(dialog)
    dialog.tuning.tunedModelWidget.setFilePath(str(tmp_path / "tuned.safetensors"))
    live: list[tuple[ConfigScore, int]] = []
    dialog.tuning.tuneButton.click()
    task = dialog.task
    assert task is not None and dialog.cancelButton.isEnabled()
    assert not dialog.runButton.isEnabled() and not dialog.tuning.tuneButton.isEnabled()
    assert dialog.resultTabs.currentWidget() is dialog.tuningTab
    # Connected after the dialog: the row of each configuration is already in the table.
    task.score_ready.connect(lambda s: live.append((s, dialog.tuning.tuneTable.rowCount())))
    progress: list[float] = []
    task.progressChanged.connect(progress.append)

    assert wait_tuned(dialog), message(dialog)

    assert [rows for _, rows in live] == [1, 2], "one signal and one new row per configuration"
    assert [s.model.hidden_layers for s, _ in live] == [(8,), (32,)]
    outcome = dialog.tuning.outcome
    result = outcome.search
    assert result.planned == 2 and len(result.scores) == 2 and not result.budget_exhausted
    table = dialog.tuning.tuneTable
    assert table.rowCount() == 2
    means = oa_means(dialog)
    assert means == sorted(means, reverse=True)
    assert means[0] == pytest.approx(100 * result.best.oa_mean, abs=0.05)
    assert table.item(0, 0).text() == ",".join(map(str, result.best.model.hidden_layers))
    assert table.item(0, 0).font().bold() and not table.item(1, 0).font().bold()
    assert progress and max(progress) == pytest.approx(100.0) and dialog.progressBar.value() == 100
    summary = dialog.tuning.tuneSummaryLabel.text()
    assert "grouped 3-fold cross-validation by polygon" in summary
    assert "urban" in summary and "fewer than the 3 folds" in summary  # 2 urban polygons
    assert "Search done" in message(dialog)
    assert outcome.model == tmp_path / "tuned.safetensors" and outcome.model.is_file()
    assert {c.name for c in load_model(outcome.model).classes} >= {"forest", "water"}
    assert (tmp_path / "tuned_search.html").is_file() and (tmp_path / "tuned_search.csv").is_file()
    assert "search table" in dialog.tuning.tuneFilesLabel.text()

    # Nothing selected: "Use these settings" copies the best row into the training widgets.
    dialog.hiddenLayersEdit.setText("5")
    dialog.learningRateSpin.setValue(0.5)
    dialog.momentumSpin.setValue(0.1)
    dialog.batchSizeSpin.setValue(7)
    dialog.activationCombo.setCurrentIndex(dialog.activationCombo.findData("tanh"))
    assert dialog.tuning.useSettingsButton.isEnabled()
    dialog.tuning.useSettingsButton.click()
    best = result.best
    assert dialog.hiddenLayersEdit.text() == ",".join(map(str, best.model.hidden_layers))
    assert dialog.activationCombo.currentData() == "relu"
    assert dialog.learningRateSpin.value() == pytest.approx(best.training.learning_rate)
    assert dialog.momentumSpin.value() == pytest.approx(best.training.momentum)
    assert dialog.batchSizeSpin.value() == best.training.batch_size != 7
    assert "Settings copied" in message(dialog)
    request = dialog.form.build_request()
    assert request.model.hidden_layers == best.model.hidden_layers

    # A selected row wins over the best.
    table.selectRow(1)
    dialog.tuning.useSettingsButton.click()
    other = dialog.tuning.selected_score()
    assert other is not best and dialog.hiddenLayersEdit.text() == table.item(1, 0).text()


def test_cancel_after_the_first_row_keeps_it(dialog: LandCoverDialog) -> None:
    dialog.epochsSpin.setValue(400)
    dialog.patienceSpin.setValue(0)  # every fold trains all epochs: time to cancel
    search(dialog)
    dialog.tuning.tuneButton.click()
    rows: list[int] = []

    def cancel_once(_score: ConfigScore) -> None:
        rows.append(dialog.tuning.tuneTable.rowCount())
        if len(rows) == 1:
            dialog.cancelButton.click()

    dialog.task.score_ready.connect(cancel_once)
    # Cancelled during the second configuration: the core returns the finished rows.
    assert wait_tuned(dialog)

    assert rows == [1], "no configuration finished after the cancel"
    result = dialog.tuning.outcome.search
    assert result.cancelled and len(result.scores) == 1 and result.final is None
    assert dialog.tuning.tuneTable.rowCount() == 1
    assert dialog.task is None and dialog.tuning.tuneButton.isEnabled()
    assert "Cancelled" in message(dialog) and "Cancelled" in dialog.statusLabel.text()
    assert "Cancelled after 1 of 2" in dialog.tuning.tuneSummaryLabel.text()
    assert dialog.tuning.useSettingsButton.isEnabled()
    dialog.tuning.useSettingsButton.click()
    assert dialog.hiddenLayersEdit.text() == dialog.tuning.tuneTable.item(0, 0).text()


def test_tiny_time_budget_stops_early_and_says_so(dialog: LandCoverDialog) -> None:
    dialog.epochsSpin.setValue(1000)
    dialog.patienceSpin.setValue(0)
    search(dialog, budget=0.01)  # 0.6 s: less than the search's 6 folds of 1000 epochs
    dialog.tuning.tuneButton.click()

    assert wait_tuned(dialog)

    result = dialog.tuning.outcome.search
    assert result.budget_exhausted and not result.cancelled
    assert len(result.scores) < 2 and dialog.tuning.tuneTable.rowCount() == len(result.scores)
    assert "Time budget reached" in message(dialog)
    assert "time budget stopped the search early" in dialog.tuning.tuneSummaryLabel.text()
    assert dialog.runButton.isEnabled()


def test_shutdown_stops_a_running_search(dialog: LandCoverDialog, batch_counter: Any) -> None:
    """Plugin unload cancels the search, which stops within the batch in flight, and waits
    for it: no batch trains once shutdown() has returned (batches counted, not seconds)."""
    dialog.epochsSpin.setValue(400)
    dialog.patienceSpin.setValue(0)
    search(dialog)
    ended: list[bool] = []
    dialog.tuning_finished.connect(ended.append)
    dialog.tuning.tuneButton.click()
    task = dialog.task
    batch_counter.watch(task.isCanceled)
    loop, timer = QEventLoop(), QTimer()
    task.progressChanged.connect(lambda value: value > 5 and loop.quit())  # folds started
    timer.timeout.connect(loop.quit)
    timer.start(TIMEOUT_S * 1000)
    loop.exec()
    timer.stop()

    dialog.shutdown()  # plugin unload: cancels and waits briefly, without an event loop
    batch_counter.close()
    assert dialog.task is None
    deadline = time.monotonic() + 10
    while QgsApplication.taskManager().countActiveTasks() and time.monotonic() < deadline:
        QCoreApplication.processEvents()  # the test only: let the manager finish the task
    assert QgsApplication.taskManager().countActiveTasks() == 0
    assert batch_counter.before > 0, "the search never ran a batch"
    assert batch_counter.after_cancel <= 1, "more than the batch in flight ran after the cancel"
    assert batch_counter.after_close == 0, "the search went on after shutdown() returned"
    assert ended == [], "a shut-down dialog gets no more signals"


def test_bad_values_to_try_are_refused_before_running(dialog: LandCoverDialog) -> None:
    search(dialog, hidden="8;x")
    assert "not a list of layer sizes" in dialog.tuning.planLabel.text()
    dialog.tuning.tuneButton.click()
    assert dialog.task is None and "Check the search" in message(dialog)

    search(dialog, learning_rates="0.05,-1")
    dialog.tuning.tuneButton.click()
    assert dialog.task is None and "Learning rate must be between" in message(dialog)

    search(dialog, hidden="8;16;32", learning_rates="0.01,0.1")
    assert dialog.tuning.planLabel.text().startswith("6 configurations × 3 folds = 18 trainings")
    dialog.tuning.strategyCombo.setCurrentIndex(dialog.tuning.strategyCombo.findData("random"))
    dialog.tuning.nIterSpin.setValue(4)
    assert dialog.tuning.planLabel.text().startswith("4 of 6 configurations (random)")


def test_parse_space_reads_the_text_fields() -> None:
    space = parse_space("32; 64,64 ;", "0.01, 0.1", "0.9", "relu,TANH", "16,64", "sigmoid")
    assert space.hidden_layers == ((32,), (64, 64))
    assert space.learning_rate == (0.01, 0.1) and space.momentum == (0.9,)
    assert space.activation == ("relu", "tanh") and space.batch_size == (16, 64)
    assert parse_space("8", "0.1", "0.5", default_activation="tanh").activation == ("tanh",)
    with pytest.raises(Exception, match="at least one momentum"):
        parse_space("8", "0.1", "")
    with pytest.raises(Exception, match="'swish' is not one of relu, tanh, sigmoid"):
        parse_space("8", "0.1", "0.5", "swish")


def test_search_options_are_remembered(qgis_iface: Any) -> None:
    first = LandCoverDialog(qgis_iface)
    first.tuning.hiddenSetsEdit.setText("16;16,16")
    first.tuning.foldsSpin.setValue(4)
    first.tuning.budgetSpin.setValue(2.5)
    first.tuning.strategyCombo.setCurrentIndex(first.tuning.strategyCombo.findData("random"))
    first.close()

    second = LandCoverDialog(qgis_iface)
    assert second.tuning.hiddenSetsEdit.text() == "16;16,16"
    assert second.tuning.foldsSpin.value() == 4 and second.tuning.budgetSpin.value() == 2.5
    assert second.tuning.strategyCombo.currentData() == "random"
    assert second.tuning.nIterSpin.isEnabled()
    second.tuning.restore_defaults()
    assert second.tuning.foldsSpin.value() == 5 and second.tuning.budgetSpin.value() == 10.0
    for dlg in (first, second):
        dlg.deleteLater()


def test_use_settings_needs_a_table(dialog: LandCoverDialog) -> None:
    assert not dialog.tuning.useSettingsButton.isEnabled()
    dialog.use_settings()  # a programmatic click does nothing either
    assert dialog.hiddenLayersEdit.text() == default("hidden_layers")
    assert dialog.tuning.tuneTable.selectionBehavior() == dialog.tuning.tuneTable.SelectRows
    assert dialog.tuning.tuneTable.editTriggers() == dialog.tuning.tuneTable.NoEditTriggers


def test_the_tuned_model_is_kept_without_a_path(dialog: LandCoverDialog) -> None:
    """Issue 13 item 9: with no model file chosen the retrained best model was thrown away.
    Now it goes to the run folder, with its table."""
    assert not dialog.tuning.tunedModelWidget.filePath()
    dialog.find_best()
    task = dialog.task
    assert task is not None and task.model is not None
    project = Path(QgsProject.instance().fileName()).parent
    assert task.model.parent.parent == project / "landcover_mlp"
    assert task.model.name == "tuned_model.safetensors" and task.table.parent == task.model.parent
    dialog.shutdown()
