"""The dialog driven by code on the Landsat 7 scene: a full run that adds styled layers and
shows the accuracy, closing during training, input problems, remembered settings, memory
layers, and the dialog without PyTorch."""

from __future__ import annotations

import os
import re as _re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from osgeo import ogr
from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCategorizedSymbolRenderer,
    QgsFeature,
    QgsFeatureRequest,
    QgsGeometry,
    QgsPalettedRasterRenderer,
    QgsProject,
    QgsRasterLayer,
    QgsRendererCategory,
    QgsSingleBandGrayRenderer,
    QgsSymbol,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication, QEventLoop, QTimer
from qgis.PyQt.QtGui import QColor, QImage, QPainter

from landcover_mlp.core.settings import default
from landcover_mlp.plugin import compat, torch_check
from landcover_mlp.ui import settings
from landcover_mlp.ui.dialog import LandCoverDialog
from landcover_mlp.ui.sources import polygon_source

pytestmark = pytest.mark.qgis_tier

BANDS = (1, 2, 3, 4, 5, 6, 7)
COLOURS = {
    "forest": "#0b6623",
    "water": "#1e90ff",
    "herbaceous": "#9acd32",
    "barren": "#d2b48c",
    "urban": "#ff00ff",
}
TIMEOUT_S = 120
PLUGINS = Path(__file__).resolve().parents[2] / "build" / "plugins"
HIDDEN_TORCH_SCRIPT = """
import sys
sys.modules["torch"] = None  # hidden: `import torch` raises ImportError
from qgis.core import QgsApplication
app = QgsApplication([], True)
app.initQgis()
from landcover_mlp.plugin.torch_check import missing_torch_message
from landcover_mlp.ui import settings
from landcover_mlp.ui.dialog import LandCoverDialog
settings.PREFIX = "landcover_mlp_tests_no_torch"
dialog = LandCoverDialog(None)
dialog.show()
dialog.run()
item = dialog.message_bar.currentItem()
assert not dialog.runButton.isEnabled(), "Run is enabled"
assert item is not None and missing_torch_message() == item.toolTip(), "no message"
assert dialog.task is None and "torch" not in [m for m in sys.modules if sys.modules[m]]
settings.clear()
print("DIALOG WITHOUT TORCH OK")
"""


@pytest.fixture(autouse=True)
def own_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings under a group of their own, so a user's remembered values never leak in."""
    monkeypatch.setattr(settings, "PREFIX", "landcover_mlp_tests")
    settings.clear()
    yield
    settings.clear()


@pytest.fixture
def layers(landsat7: Any, qgis_new_project: None) -> tuple[QgsRasterLayer, QgsVectorLayer]:
    """The Landsat raster and the polygons, styled by class, in a fresh project."""
    raster = QgsRasterLayer(str(landsat7.raster), "landsat 1999")
    polygons = QgsVectorLayer(str(landsat7.polygons), "training", "ogr")
    assert raster.isValid() and polygons.isValid()
    categories = []
    for name, colour in COLOURS.items():
        symbol = QgsSymbol.defaultSymbol(compat.GEOMETRY_POLYGON)
        symbol.setColor(QColor(colour))
        categories.append(QgsRendererCategory(name, symbol, name))
    polygons.setRenderer(QgsCategorizedSymbolRenderer("class_name", categories))
    QgsProject.instance().addMapLayers([raster, polygons])
    return raster, polygons


@pytest.fixture
def dialog(
    qgis_iface: Any, qgis_new_project: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LandCoverDialog]:
    # a project file in a folder of its own: outputs left to the default go there, never
    # beside the shared data
    QgsProject.instance().setFileName(str(tmp_path_factory.mktemp("project") / "project.qgz"))
    dlg = LandCoverDialog(qgis_iface)
    dlg.show()
    yield dlg
    dlg.shutdown()
    dlg.hide()
    dlg.deleteLater()


def fill(
    dialog: LandCoverDialog, raster: QgsRasterLayer, polygons: QgsVectorLayer, **kw: Any
) -> None:
    dialog.rasterCombo.setLayer(raster)
    dialog.polygonCombo.setLayer(polygons)
    dialog.classFieldCombo.setField("class_name")
    dialog.form.set_checked_bands(BANDS)
    dialog.deviceCombo.setCurrentIndex(dialog.deviceCombo.findData("cpu"))
    dialog.epochsSpin.setValue(kw.get("epochs", 15))
    dialog.patienceSpin.setValue(kw.get("patience", 30))
    if "folder" in kw:
        dialog.modelFileWidget.setFilePath(str(kw["folder"] / "model.safetensors"))
        dialog.classRasterWidget.setFilePath(str(kw["folder"] / "land_cover.tif"))


def wait_finished(dialog: LandCoverDialog, timeout_s: float = TIMEOUT_S) -> bool:
    """Run the event loop until the dialog's run ended; its success flag."""
    outcome: list[bool] = []
    loop = QEventLoop()
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)

    def done(ok: bool) -> None:
        outcome.append(ok)
        loop.quit()

    dialog.training_finished.connect(done)
    timer.start(int(timeout_s * 1000))
    loop.exec()
    timer.stop()
    dialog.training_finished.disconnect(done)
    if not outcome:
        pytest.fail(f"The dialog's run did not finish within {timeout_s} s.")
    return outcome[0]


def message(dialog: LandCoverDialog) -> str:
    item = dialog.message_bar.currentItem()
    return f"{item.title()} {item.text()}" if item is not None else ""


def test_run_adds_styled_layers_and_shows_accuracy(
    dialog: LandCoverDialog, layers: Any, tmp_path: Path
) -> None:
    raster, polygons = layers
    fill(dialog, raster, polygons, folder=tmp_path)
    assert [dialog.bandList.item(i).text() for i in range(2)] == [
        "1: band 1 reflectance",
        "2: band 2 reflectance",
    ]
    dialog.runButton.click()
    assert dialog.task is not None and dialog.cancelButton.isEnabled()
    assert not dialog.runButton.isEnabled()

    assert wait_finished(dialog), message(dialog)

    # the assessment run's epochs (the ensemble, then the network distilled from it, both
    # with validation), then the saved model's on all polygons (ensemble, distilled)
    records = dialog.loss_plot.records
    n = len(records) // 4
    assert n and [r["epoch"] for r in records] == [*range(1, n + 1)] * 4
    assert all("val_loss" in r for r in records[:n])
    assert all("distill_val_loss" in r for r in records[n : 2 * n])
    assert all("final_train_loss" in r and "train_loss" not in r for r in records[2 * n : 3 * n])
    assert all("final_distill_loss" in r for r in records[3 * n :])
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    legend = [label for row in dialog.loss_plot._legend_rows(painter) for label, *_ in row]
    painter.end()
    assert "distilled: validation loss" in legend and "ensemble: validation loss" in legend
    assert "saved model (distilled), all polygons" in legend
    assert dialog.progressBar.value() == 100
    assert dialog.runButton.isEnabled() and not dialog.cancelButton.isEnabled()
    found = {layer.name(): layer for layer in QgsProject.instance().mapLayers().values()}
    run = dialog.form.run_name  # named by the run (raster, date, time): runs never pile up
    assert _re.fullmatch(r"landsat_1999_\d{8}_\d{6}", run)
    classes = found[f"Land cover ({run})"]
    node = QgsProject.instance().layerTreeRoot().findLayer(classes.id())
    assert node.isExpanded()  # the legend shows the classes
    renderer = classes.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    assert {c.label: c.color.name() for c in renderer.classes()} == COLOURS
    assert isinstance(found[f"Confidence ({run})"].renderer(), QgsSingleBandGrayRenderer)
    assert (tmp_path / "land_cover.qml").is_file()
    for name in ("model.safetensors", "land_cover.tif", "land_cover_confidence.tif",
                 "model_report.html", "model_loss.png"):  # fmt: skip
        assert (tmp_path / name).is_file(), name
    assert "Overall accuracy" in dialog.summaryLabel.text()
    assert "distilled from an ensemble of 5" in dialog.summaryLabel.text()
    assert "trained without the held-out polygons" in dialog.summaryLabel.text()
    assert "kappa" in dialog.summaryLabel.text()
    table = dialog.resultTable
    # classes + Total row; classes + Total, precision, recall, F1 columns
    assert table.rowCount() == 6 and table.columnCount() == 9
    assert table.horizontalHeaderItem(8).text() == "F1"
    rows = {table.verticalHeaderItem(i).text().split(": ", 1)[-1] for i in range(5)}
    assert rows == set(COLOURS)
    assert "validation report" in dialog.outputsLabel.text()


@pytest.mark.parametrize("how", ["close", "escape"])
def test_closing_during_training_keeps_the_run_going(
    dialog: LandCoverDialog, layers: Any, tmp_path: Path, qgis_iface: Any, how: str
) -> None:
    """Issue 13 item 5: closing (or Escape) silently cancelled the run. The run goes on as a
    QGIS task; its layers are added and QGIS's own message bar reports when it ends."""
    fill(dialog, *layers, epochs=4, patience=0, folder=tmp_path)
    closed: list[int] = []
    bar = qgis_iface.messageBar()
    for messages in bar.messages.values():
        messages.clear()

    def close_once(record: dict[str, Any]) -> None:
        if not closed:
            closed.append(record["epoch"])
            dialog.close() if how == "close" else dialog.reject()

    dialog.runButton.click()
    dialog.task.epoch_ended.connect(close_once)
    assert wait_finished(dialog), message(dialog)

    assert closed == [1] and not dialog.isVisible()
    assert any("goes on in the background" in m for m in bar.get_messages(Qgis.MessageLevel.Info))
    assert any("Classified" in m for m in bar.get_messages(Qgis.MessageLevel.Success))
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "land_cover.tif").is_file()
    names = [layer.name() for layer in QgsProject.instance().mapLayers().values()]
    assert f"Land cover ({dialog.form.run_name})" in names


def test_sampling_training_and_classification_run_in_the_task_thread(
    dialog: LandCoverDialog, layers: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13 item 4: nothing heavy on the GUI thread during a run (QGIS stalled while the
    first run sampled the polygons)."""
    import threading

    from landcover_mlp.core import training, workflow
    from landcover_mlp.plugin import tasks

    threads: dict[str, set[str]] = {}

    def recorded(module: Any, name: str) -> None:
        real = getattr(module, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            threads.setdefault(name, set()).add(threading.current_thread().name)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, call)

    recorded(workflow, "collect_samples")
    recorded(training, "train_network")
    recorded(tasks, "classify_raster")
    fill(dialog, *layers, epochs=2, patience=0, folder=tmp_path)
    dialog.runButton.click()
    assert wait_finished(dialog), message(dialog)
    assert set(threads) == {"collect_samples", "train_network", "classify_raster"}
    assert threading.main_thread().name not in set().union(*threads.values())


def test_cancel_during_classification_keeps_the_trained_model(
    dialog: LandCoverDialog, layers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13 item 5: a cancel once training ended keeps the committed stage (model, report,
    loss curves in the run folder) and says where; no part of the class raster is left."""
    from landcover_mlp.plugin import tasks

    real = tasks.classify_raster

    def cancel_then_classify(*args: Any, **kwargs: Any) -> Any:
        dialog.task.cancel()  # the user presses Cancel as the classification starts
        return real(*args, **kwargs)

    monkeypatch.setattr(tasks, "classify_raster", cancel_then_classify)
    fill(dialog, *layers, epochs=3, patience=0)  # outputs to the default run folder
    dialog.runButton.click()
    assert not wait_finished(dialog)

    run = next((Path(QgsProject.instance().fileName()).parent / "landcover_mlp").iterdir())
    assert dialog.form.created_folder == run  # created by this run, and kept
    kept = sorted(p.name for p in run.iterdir())
    assert {"model.safetensors", "model_report.html", "model_loss.png"} <= set(kept), kept
    assert not any(name.startswith("land_cover") for name in kept), kept
    assert "Cancelled during the classification" in message(dialog)
    assert str(run) in message(dialog) and "no output was written" not in message(dialog)
    assert "validation report" in dialog.outputsLabel.text()
    assert "not classified" in dialog.summaryLabel.text()


def test_missing_inputs_are_listed_in_the_message_bar(dialog: LandCoverDialog, layers: Any) -> None:
    raster, _ = layers
    dialog.rasterCombo.setLayer(raster)
    dialog.form.set_checked_bands(())
    dialog.polygonCombo.setLayer(None)
    dialog.runButton.click()

    assert dialog.task is None
    text = message(dialog)
    assert "Check at least one band" in text
    assert "training polygons" in text


def test_settings_are_remembered(qgis_iface: Any, layers: Any, tmp_path: Path) -> None:
    raster, polygons = layers
    first = LandCoverDialog(qgis_iface)
    fill(first, raster, polygons, epochs=77)
    first.form.set_checked_bands((1, 2, 3))
    first.hiddenLayersEdit.setText("32,16")
    first.close()

    second = LandCoverDialog(qgis_iface)
    assert second.epochsSpin.value() == 77
    assert second.hiddenLayersEdit.text() == "32,16"
    assert second.deviceCombo.currentData() == "cpu"
    assert second.rasterCombo.currentLayer() is raster
    assert second.polygonCombo.currentLayer() is polygons
    assert second.classFieldCombo.currentField() == "class_name"
    assert second.form.checked_bands() == (1, 2, 3)
    second.form.restore_defaults()
    assert second.epochsSpin.value() == default("epochs") != 77
    assert second.hiddenLayersEdit.text() == default("hidden_layers") != "32,16"
    for dlg in (first, second):
        dlg.deleteLater()


def test_memory_layer_is_exported_for_the_core(landsat7: Any, tmp_path: Path) -> None:
    source = QgsVectorLayer(str(landsat7.polygons), "training", "ogr")
    memory = source.materialize(QgsFeatureRequest())
    assert memory.providerType() == "memory" and memory.featureCount() == 30

    path, layer_name = polygon_source(memory, lambda: tmp_path)
    assert Path(path).parent == tmp_path and layer_name == "polygons"
    dataset = ogr.Open(path)  # keep it: a layer dies with its dataset
    exported = dataset.GetLayerByName(layer_name)
    assert exported.GetFeatureCount() == 30
    assert exported.GetLayerDefn().GetFieldIndex("class_name") >= 0

    assert polygon_source(source, lambda: tmp_path) == (str(landsat7.polygons), None)
    source.setSubsetString("class_name = 'water'")
    (tmp_path / "sub").mkdir()
    filtered, _ = polygon_source(source, lambda: tmp_path / "sub")
    assert Path(filtered).parent == tmp_path / "sub"
    dataset = ogr.Open(filtered)
    assert 0 < dataset.GetLayer(0).GetFeatureCount() < 30


def test_without_torch_the_dialog_opens_with_run_disabled_and_a_set_up_button(
    qgis_iface: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13 item 7: no way from the dialog to the installer, no word on why Run is
    disabled, the warning cut to two lines."""
    from qgis.PyQt.QtWidgets import QPushButton

    from landcover_mlp.ui import torch_setup_dialog

    present = [False]
    monkeypatch.setattr(torch_check, "torch_available", lambda: present[0])
    dlg = LandCoverDialog(qgis_iface)
    dlg.show()

    assert not dlg.runButton.isEnabled() and not dlg.tuning.tuneButton.isEnabled()
    assert "PyTorch is missing" in dlg.runButton.toolTip()
    assert "PyTorch is missing" in dlg.tuning.tuneButton.toolTip()
    item = dlg.message_bar.currentItem()
    assert "needs PyTorch" in item.text() and len(item.text()) < 90  # fits the bar
    assert item.toolTip() == torch_check.missing_torch_message()  # the whole sentence
    assert dlg.deviceLabel.text() == "PyTorch missing"
    dlg.run()  # a programmatic click does nothing either
    assert dlg.task is None

    button = item.findChild(QPushButton, "setupTorchButton")
    button.click()
    setup = torch_setup_dialog._DIALOG
    assert setup is not None and setup.isVisible()
    present[0] = True  # the set-up dialog installed it
    setup.install_finished.emit(True)
    assert dlg.runButton.isEnabled() and dlg.torch_ok
    assert "PyTorch" not in dlg.runButton.toolTip()
    assert dlg.message_bar.currentItem() is None  # the warning is gone
    torch_setup_dialog.close_torch_setup()
    dlg.shutdown()
    dlg.deleteLater()


def test_shutdown_stops_a_running_task(
    dialog: LandCoverDialog, layers: Any, tmp_path: Path, batch_counter: Any
) -> None:
    """Plugin unload cancels the task, which stops within the batch in flight, and waits
    for it: no batch trains once shutdown() has returned (batches counted, not seconds)."""
    fill(dialog, *layers, epochs=5000, patience=0, folder=tmp_path)
    ended: list[bool] = []
    dialog.training_finished.connect(ended.append)
    dialog.runButton.click()
    batch_counter.watch(dialog.task.isCanceled)
    loop, timer, epochs = QEventLoop(), QTimer(), []
    dialog.task.epoch_ended.connect(lambda record: (epochs.append(record), loop.quit()))
    timer.timeout.connect(loop.quit)
    timer.start(TIMEOUT_S * 1000)
    loop.exec()
    timer.stop()
    assert epochs, "training never started"

    dialog.shutdown()  # plugin unload: cancels and waits briefly, without an event loop
    batch_counter.close()
    assert dialog.task is None
    deadline = time.monotonic() + 10
    while QgsApplication.taskManager().countActiveTasks() and time.monotonic() < deadline:
        QCoreApplication.processEvents()  # the test only: let the manager finish the task
    assert QgsApplication.taskManager().countActiveTasks() == 0
    assert batch_counter.before > 0, "training never ran a batch"
    assert batch_counter.after_cancel <= 1, "more than the batch in flight ran after the cancel"
    assert batch_counter.after_close == 0, "training went on after shutdown() returned"
    assert ended == [], "a shut-down dialog gets no more signals"
    assert list(tmp_path.iterdir()) == []


def test_dialog_imports_and_opens_with_torch_hidden(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PLUGINS), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-c", HIDDEN_TORCH_SCRIPT],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0 and "DIALOG WITHOUT TORCH OK" in proc.stdout, proc.stderr[-3000:]


def test_class_field_defaults_to_the_styled_field_and_never_offers_fid(
    dialog: LandCoverDialog, layers: tuple[QgsRasterLayer, QgsVectorLayer], landsat7: Any
) -> None:
    """Issue 13 item 3: the class field defaulted to fid, which the plugin then refused."""
    _, polygons = layers  # styled by class_name
    dialog.polygonCombo.setLayer(polygons)
    offered = [dialog.classFieldCombo.itemText(i) for i in range(dialog.classFieldCombo.count())]
    assert "fid" not in offered and {"class_id", "class_name"} <= set(offered)
    assert dialog.classFieldCombo.currentField() == "class_name"  # the style's field
    plain = QgsVectorLayer(str(landsat7.polygons), "plain", "ogr")  # single-symbol style
    QgsProject.instance().addMapLayer(plain)
    dialog.polygonCombo.setLayer(plain)
    assert dialog.classFieldCombo.currentField() == "id"  # the first field that repeats
    numbered = QgsVectorLayer(
        "Polygon?crs=EPSG:32615&field=poly_id:integer&field=cover:string", "numbered", "memory"
    )
    for i, cover in enumerate(["forest", "forest", "water"]):
        feature = QgsFeature(numbered.fields())
        feature.setAttributes([i + 1, cover])
        feature.setGeometry(QgsGeometry.fromWkt(f"POLYGON(({i} 0, {i} 1, {i + 1} 1, {i} 0))"))
        numbered.dataProvider().addFeature(feature)
    QgsProject.instance().addMapLayer(numbered)
    dialog.polygonCombo.setLayer(numbered)
    assert dialog.classFieldCombo.currentField() == "cover"  # poly_id differs on every polygon


def test_results_go_to_a_visible_run_folder_never_qgis_temp(
    dialog: LandCoverDialog,
    qgis_new_project: None,
    tmp_path: Path,
    make_raster: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 13 item 1: with the output files left empty, the model went to QGIS's temporary
    folder, deleted at exit. Now <project folder>/landcover_mlp/<raster name>_<date time>,
    else beside the raster, else in the home folder."""
    import re as _re

    from qgis.core import QgsProcessingUtils

    from landcover_mlp.ui import form as form_mod

    image = tmp_path / "images" / "scene one.tif"
    image.parent.mkdir()
    make_raster(image, np.ones((2, 8, 8), np.uint8))
    layer = QgsRasterLayer(str(image), "scene one")
    QgsProject.instance().addMapLayer(layer)
    dialog.rasterCombo.setLayer(layer)
    project = Path(QgsProject.instance().fileName()).parent  # the fixture's project file
    out = dialog.form.output_paths()
    run = out.model.parent
    assert run.parent == project / "landcover_mlp" and run.is_dir()
    assert _re.fullmatch(r"scene_one_\d{8}_\d{6}", run.name)
    assert out.classified.parent == run and out.report.parent == run
    assert not str(out.model).startswith(QgsProcessingUtils.tempFolder())
    dialog.form.update_output_hint()  # the folder exists now: the hint links to it
    hint = dialog.outputHintLabel.text()
    assert f'href="{(project / "landcover_mlp").as_uri()}"' in hint, hint
    assert "temporary" not in hint and dialog.outputHintLabel.openExternalLinks()
    QgsProject.instance().setFileName("")  # no project file: beside the raster
    assert str(image.parent / "landcover_mlp") in dialog.outputHintLabel.text()
    assert dialog.form.output_paths().model.parent.parent == image.parent / "landcover_mlp"
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setattr(Path, "home", lambda: home)
    # only the home folder (and what is in it) is writable now
    monkeypatch.setattr(
        form_mod.os, "access", lambda path, mode: home in (Path(path), *Path(path).parents)
    )
    assert dialog.form.output_paths().model.parent.parent == home / "landcover_mlp"


def test_the_device_check_never_runs_on_the_gui_thread(
    qgis_iface: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13 item 4: opening the dialog imported torch on the GUI thread (QGIS froze
    3 s). The devices are found in a worker thread; the label fills when it reports."""
    import threading

    from landcover_mlp.core import network

    threads: list[str] = []
    real = network.available_devices

    def recorded() -> dict[str, str]:
        threads.append(threading.current_thread().name)
        return real()

    monkeypatch.setattr(network, "available_devices", recorded)
    monkeypatch.setattr(torch_check, "preload_torch_libraries",
                        lambda: threads.append("preload") or [])  # fmt: skip
    monkeypatch.setattr(torch_check, "device_summary",
                        lambda: threads.append(threading.current_thread().name) or "CPU: test")  # fmt: skip
    dlg = LandCoverDialog(qgis_iface)
    dlg.show()
    assert dlg.deviceLabel.text() == "Checking the devices..."  # the dialog is up at once
    for _ in range(2000):  # events, not time: until the worker's report is delivered
        if dlg.deviceLabel.text().startswith("Detected"):
            break
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
    assert dlg.deviceLabel.text() == "Detected: CPU: test"
    assert threads[0] == "preload"  # libtorch loaded without the GIL, before the import
    assert len(threads) == 3 and threading.main_thread().name not in threads
    dlg.shutdown()
    dlg.hide()
    dlg.deleteLater()


PRELOAD_SCRIPT = """
import sys
from landcover_mlp.plugin.torch_check import preload_torch_libraries
loaded = preload_torch_libraries()
maps = open("/proc/self/maps").read()
assert "torch" not in sys.modules, "preloading imported torch"
assert any(p.endswith("libtorch_cpu.so") for p in loaded) and "libtorch_cpu.so" in maps, loaded
import torch
assert float(torch.ones(3).sum()) == 3.0
assert preload_torch_libraries() == []  # once torch is imported: nothing to do
print("PRELOAD OK")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_torch_libraries_are_preloaded_before_the_import(tmp_path: Path) -> None:
    """Issue 13 item 4: ``import torch`` loads libtorch with the GIL held (QGIS's GUI thread
    stalled 200-300 ms while a worker imported it); the libraries are loaded first through
    ctypes, which releases the GIL, and the import still works."""
    env = {**os.environ, "PYTHONPATH": str(PLUGINS)}
    proc = subprocess.run([sys.executable, "-c", PRELOAD_SCRIPT], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0 and "PRELOAD OK" in proc.stdout, proc.stderr[-3000:]


def test_the_input_panel_never_clips_its_rows(dialog: LandCoverDialog) -> None:
    """Opening the Advanced box brought a vertical scroll bar that hid the right edge of every
    input row (combo arrows, spin buttons): the panel keeps its widgets' width in view."""
    dialog.resize(1240, 840)
    for collapsed in (True, False, True, False):
        dialog.advancedGroup.setCollapsed(collapsed)
        dialog.splitter.setSizes([200, 1040])  # as narrow as the user can drag it
        for _ in range(20):  # events, not time: layouts settle in a few passes
            QCoreApplication.processEvents()
        scroll = dialog.inputScroll
        assert scroll.widget().width() <= scroll.viewport().width(), collapsed


def test_enter_in_a_field_never_starts_a_run(dialog: LandCoverDialog, layers: Any) -> None:
    """Trial: Return in the band-range entry pressed the default button, Run."""
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtTest import QTest

    fill(dialog, *layers)
    dialog.bandRangeEdit.setFocus()
    QTest.keyClicks(dialog.bandRangeEdit, "1-7")
    QTest.keyClick(dialog.bandRangeEdit, Qt.Key.Key_Return)
    assert dialog.task is None and dialog.form.checked_bands() == (1, 2, 3, 4, 5, 6, 7)
