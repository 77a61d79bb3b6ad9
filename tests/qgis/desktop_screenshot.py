"""The README screenshots and the desktop checks, from the real QGIS desktop under Xvfb.

    .venv/bin/python tests/qgis/desktop_screenshot.py [--out docs/screenshots]

The driver starts Xvfb and QGIS with a throw-away profile in which the plugin is enabled, a
fake ``python3`` and ``python3.<minor>`` first on PATH (they report another prefix or fail, as
a pyenv or conda Python would), and hands this same file to QGIS with ``--code``. Inside QGIS
the file plays a new user's first hour, with real X key presses and mouse clicks (XTest) where
a user would press or click:

1. loads the Landsat 7 scene and the polygons styled by ``class_name`` into a project whose
   file lies in a folder of the driver's, and watches where ``import torch`` runs;
2. opens "Set up PyTorch..." from the Raster menu action and reads which Python it found;
3. opens the dialog by clicking the plugin's toolbar button while a 50 ms timer measures the
   largest gap on the GUI thread until the device label is filled;
4. reads the defaults (class field, bands), clicks All, None and types ``1-7`` in the range
   entry, and clicks Run with the output files left empty;
5. shoots the dialog during training, then presses Escape: the run goes on without the
   dialog and adds its layers; the dialog is opened again from the Raster menu action;
6. shoots the results, closes the dialog with its Close button, shoots the map, runs a small
   search and shoots it, then quits QGIS.

Screenshots (written to ``--out``):

- ``dialog_training.png``: the dialog during training (live loss curves);
- ``dialog_results.png``: the dialog after the run (accuracy, confusion matrix);
- ``result_map.png``: QGIS with the styled land-cover map and its legend;
- ``tuning.png``: the "Find the best settings" tab after a small search, its best settings
  copied into the training settings.

What it saw goes to ``--checks`` as JSON (one object per step; after QGIS exited the driver
adds what is left on disk). Any check that fails inside QGIS, or an error, stops QGIS with
``screenshot_error.txt`` in ``--out`` saying why, and the driver exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import traceback
from pathlib import Path

STAGE_ENV = "LANDCOVER_SCREENSHOT_STAGE"
OUT_ENV = "LANDCOVER_SCREENSHOT_OUT"
DATA_ENV = "LANDCOVER_SCREENSHOT_DATA"
EPOCH_ENV = "LANDCOVER_SCREENSHOT_EPOCH"
CHECKS_ENV = "LANDCOVER_SCREENSHOT_CHECKS"
PROJECT_ENV = "LANDCOVER_SCREENSHOT_PROJECT"
FAKE_ENV = "LANDCOVER_SCREENSHOT_FAKE_PYTHON"
SCREEN = (1600, 1000)
SHOTS = ("dialog_training.png", "dialog_results.png", "result_map.png", "tuning.png")
RASTER_NAME = "Landsat 7 1999-11-18"
COLOURS = {
    "forest": "#1a7a33",
    "water": "#2b83ba",
    "herbaceous": "#8fd16a",
    "barren": "#b5835a",
    "urban": "#d7191c",
}
TICK_MS = 50
FAKE_PREFIX = "/opt/fake-pyenv"


# --------------------------------------------------------------------------------------------
# Inside QGIS (executed by ``qgis --code``; ``iface`` is up, the plugin is loaded)


class TorchImportWatch:
    """A ``sys.meta_path`` finder that records the thread on which ``torch`` is executed.

    It finds nothing itself: for ``torch`` it asks the other finders and wraps the loader, so
    ``importlib.util.find_spec("torch")`` (a cheap look-up the GUI may do) records nothing and
    only the import itself (the module's execution) does.
    """

    def __init__(self) -> None:
        import threading

        self.events: list[dict[str, object]] = []
        self._local = threading.local()

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        """The other finders' spec for ``torch`` with a recording loader; None otherwise."""
        if name != "torch" or getattr(self._local, "busy", False):
            return None
        import importlib.util

        self._local.busy = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._local.busy = False
        if spec is not None and spec.loader is not None:
            spec.loader = _RecordingLoader(spec.loader, self.events)
        return spec


class _RecordingLoader:
    def __init__(self, inner: object, events: list[dict[str, object]]) -> None:
        self._inner = inner
        self._events = events

    def create_module(self, spec: object) -> object:
        return self._inner.create_module(spec)

    def exec_module(self, module: object) -> None:
        import threading

        from qgis.PyQt.QtCore import QCoreApplication, QThread

        thread = threading.current_thread()
        self._events.append({
            "thread": thread.name,
            "python_main_thread": thread is threading.main_thread(),
            "qt_gui_thread": QThread.currentThread() == QCoreApplication.instance().thread(),
        })  # fmt: skip
        self._inner.exec_module(module)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


class GapRecorder:
    """The largest interval between the ticks of a 50 ms timer on the GUI thread, per phase
    (as benchmarks/gui_stall.py); time in phase None (screenshots) counts nowhere."""

    def __init__(self) -> None:
        from qgis.PyQt.QtCore import QTimer

        self.phase: str | None = None
        self.largest: dict[str, float] = {}
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        """Count the time since the last tick into the current phase."""
        now = time.perf_counter()
        if self.phase is not None:
            gap = 1000 * (now - self._last)
            self.largest[self.phase] = round(max(self.largest.get(self.phase, 0.0), gap), 1)
        self._last = now

    def enter(self, phase: str | None) -> None:
        """Close the current phase at this instant and start ``phase``."""
        self.tick()
        self.phase = phase


class XInput:
    """Real key presses and mouse clicks through the X server (the XTest extension), as a
    keyboard and mouse deliver them; no xdotool needed."""

    def __init__(self) -> None:
        import ctypes

        c = ctypes
        self.x11 = c.CDLL("libX11.so.6")
        self.xtst = c.CDLL("libXtst.so.6")
        self.x11.XOpenDisplay.restype = c.c_void_p
        self.x11.XOpenDisplay.argtypes = [c.c_char_p]
        self.x11.XFlush.argtypes = [c.c_void_p]
        self.x11.XStringToKeysym.restype = c.c_ulong
        self.x11.XStringToKeysym.argtypes = [c.c_char_p]
        self.x11.XKeysymToKeycode.restype = c.c_ubyte
        self.x11.XKeysymToKeycode.argtypes = [c.c_void_p, c.c_ulong]
        self.xtst.XTestFakeMotionEvent.argtypes = [c.c_void_p, c.c_int, c.c_int, c.c_int,
                                                   c.c_ulong]  # fmt: skip
        self.xtst.XTestFakeButtonEvent.argtypes = [c.c_void_p, c.c_uint, c.c_int, c.c_ulong]
        self.xtst.XTestFakeKeyEvent.argtypes = [c.c_void_p, c.c_uint, c.c_int, c.c_ulong]
        self.display = self.x11.XOpenDisplay(None)
        if not self.display:
            raise RuntimeError("XOpenDisplay failed: no X display for XTest.")

    def move(self, x: int, y: int) -> None:
        """Move the pointer to screen pixel (x, y)."""
        self.xtst.XTestFakeMotionEvent(self.display, -1, x, y, 0)
        self.x11.XFlush(self.display)

    def click(self, widget: object) -> None:
        """A left click in the middle of ``widget`` (it must be on screen, not covered)."""
        centre = widget.mapToGlobal(widget.rect().center())
        self.move(centre.x(), centre.y())
        for down in (True, False):
            self.xtst.XTestFakeButtonEvent(self.display, 1, down, 0)
        self.x11.XFlush(self.display)

    def keys(self, *names: str) -> None:
        """Press and release each key, by X keysym name ("Escape", "1", "minus")."""
        for name in names:
            code = self.x11.XKeysymToKeycode(self.display, self.x11.XStringToKeysym(name.encode()))
            if not code:
                raise RuntimeError(f"No key code for keysym {name!r}.")
            for down in (True, False):
                self.xtst.XTestFakeKeyEvent(self.display, code, down, 0)
        self.x11.XFlush(self.display)


class Until:
    """Wait (event loop running) until ``condition()`` holds; fail after ``timeout_s``."""

    def __init__(self, condition: object, what: str, timeout_s: float = 10) -> None:
        self.condition = condition
        self.what = what
        self.deadline = time.monotonic() + timeout_s


def in_qgis() -> None:
    """Play the session (see the module docstring) and quit QGIS."""
    watch = TorchImportWatch()
    sys.meta_path.insert(0, watch)
    torch_at_start = "torch" in sys.modules

    from qgis.core import (
        QgsApplication,
        QgsCategorizedSymbolRenderer,
        QgsContrastEnhancement,
        QgsProcessingUtils,
        QgsProject,
        QgsRendererCategory,
        QgsSymbol,
        QgsTask,
    )
    from qgis.PyQt.QtCore import QPoint, QTimer
    from qgis.PyQt.QtGui import QColor
    from qgis.PyQt.QtWidgets import QAction, QApplication, QDialog, QDialogButtonBox, QToolBar
    from qgis.utils import iface, plugins

    from landcover_mlp.plugin import compat

    out = Path(os.environ[OUT_ENV])
    data = Path(os.environ[DATA_ENV])
    checks_file = Path(os.environ[CHECKS_ENV])
    project_dir = Path(os.environ[PROJECT_ENV])
    fake_bin = Path(os.environ[FAKE_ENV])
    shot_epoch = int(os.environ.get(EPOCH_ENV, "20"))
    facts: dict[str, dict] = {}

    def save_facts() -> None:
        checks_file.write_text(json.dumps(facts, indent=1, default=str), encoding="utf-8")

    def fail(reason: str = "") -> None:
        save_facts()
        text = reason or traceback.format_exc()
        (out / "screenshot_error.txt").write_text(text, encoding="utf-8")
        try:
            subprocess.run(["import", "-window", "root", str(out / "error.png")], timeout=60)
        finally:
            os._exit(1)

    def require(ok: bool, why: str) -> None:
        if not ok:
            raise AssertionError(why)

    gaps = GapRecorder()
    x = XInput()

    def shoot(name: str) -> None:
        phase = gaps.phase
        gaps.enter(None)  # the screenshot blocks the GUI thread: not the plugin's stall
        item = iface.messageBar().currentItem()  # QGIS's own bar, mostly behind the dialog
        facts.setdefault("main_bar_at_shots", {})[name] = item.text() if item else None
        iface.messageBar().clearWidgets()
        QApplication.processEvents()  # this script only: let queued repaints reach the screen
        subprocess.run(["import", "-window", "root", str(out / name)], check=True, timeout=60)
        gaps.enter(phase)

    def park_pointer() -> None:  # over the map, away from tooltips
        canvas = iface.mapCanvas()
        spot = canvas.mapToGlobal(QPoint(12, canvas.height() - 12))
        x.move(spot.x(), spot.y())

    def drive(steps: object) -> None:
        def step() -> None:
            try:
                wait = next(steps)
            except StopIteration:
                return
            except Exception:  # noqa: BLE001 - report and stop, never hang
                fail()
            if isinstance(wait, Until):
                poll(wait)
            else:
                QTimer.singleShot(int(wait), step)

        def poll(until: Until) -> None:
            try:
                done = until.condition()
            except Exception:  # noqa: BLE001
                fail()
            if done:
                step()
            elif time.monotonic() > until.deadline:
                fail(f"Timed out waiting for: {until.what}")
            else:
                QTimer.singleShot(50, lambda: poll(until))

        step()

    def session():  # a generator of waits (milliseconds or Until) for drive()
        main = iface.mainWindow()
        main.setGeometry(0, 0, *SCREEN)
        project = QgsProject.instance()
        # a project file in the driver's folder: outputs left empty go to its landcover_mlp
        project.setFileName(str(project_dir / "first_hour.qgz"))
        fake_python = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        facts["start"] = {
            "torch_loaded": torch_at_start,
            "project_file": project.fileName(),
            "which_python3": shutil.which("python3"),
            "which_python_minor": shutil.which(fake_python),
            "fake_python_minor_exists": (fake_bin / fake_python).is_file(),
            "sys_executable": sys.executable,
            "base_prefix": sys.base_prefix,
            "processing_temp": QgsProcessingUtils.tempFolder(),
        }
        require(not torch_at_start, "torch was imported at QGIS start (plugin load).")
        require(Path(project.fileName()).parent == project_dir, "The project file is not set.")
        require(
            shutil.which("python3") == str(fake_bin / "python3"),
            "The fake python3 is not first on PATH.",
        )

        # -- the scene ---------------------------------------------------------------------
        raster = iface.addRasterLayer(str(data / "LE70220491999322EDC01_stack.tif"), RASTER_NAME)
        renderer = raster.renderer()
        renderer.setRedBand(5)
        renderer.setGreenBand(4)
        renderer.setBlueBand(3)
        raster.setContrastEnhancement(
            QgsContrastEnhancement.ContrastEnhancementAlgorithm.StretchToMinimumMaximum,
            compat.RANGE_LIMIT_CUMULATIVE_CUT,
        )
        polygons = iface.addVectorLayer(
            str(data / "training_polygons.gpkg"), "training polygons", "ogr"
        )
        categories = []
        for name, colour in COLOURS.items():
            symbol = QgsSymbol.defaultSymbol(compat.GEOMETRY_POLYGON)
            symbol.setColor(QColor(colour))
            categories.append(QgsRendererCategory(name, symbol, name))
        polygons.setRenderer(QgsCategorizedSymbolRenderer("class_name", categories))
        polygons.triggerRepaint()
        iface.layerTreeView().refreshLayerSymbology(polygons.id())
        iface.mapCanvas().setExtent(raster.extent())
        park_pointer()
        yield 1000

        # -- item 7: the toolbar button and the Raster menu ----------------------------------
        open_action = main.findChild(QAction, "landcover_mlp_open")
        setup_action = main.findChild(QAction, "landcover_mlp_torch_setup")
        require(open_action is not None and setup_action is not None, "Plugin actions missing.")
        bars = [bar for bar in main.findChildren(QToolBar) if open_action in bar.actions()]
        button = next(
            (b.widgetForAction(open_action) for b in bars
             if b.isVisible() and b.widgetForAction(open_action).isVisible()),
            None,
        )  # fmt: skip
        in_menu = [
            a.text() for m in iface.rasterMenu().actions() if m.menu() is not None
            for a in m.menu().actions() if a in (open_action, setup_action)
        ]  # fmt: skip
        facts["toolbar"] = {
            "toolbars": [[b.objectName(), b.isVisible()] for b in bars],
            "button_visible": button is not None,
            "raster_toolbar_visible": iface.rasterToolBar().isVisible(),
            "raster_menu_entries": in_menu,
        }
        require(button is not None, "The plugin's toolbar button is not on a visible toolbar.")

        # -- item 2: Set up PyTorch... finds QGIS's own Python, not the fake first on PATH ---
        setup_action.trigger()  # Raster > Land Cover MLP > Set up PyTorch...
        setup = main.findChild(QDialog, "TorchSetupDialog")
        require(setup is not None and setup.isVisible(), "Set up PyTorch... did not open.")
        yield Until(lambda: setup.state is not None, "the PyTorch check", 120)
        probe = setup.state
        identity = ["", ""]
        if probe.python is not None:
            answer = subprocess.run(
                [str(probe.python), "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            identity = (answer.stdout.splitlines() + ["", ""])[:2]
        facts["torch_setup"] = {
            "python_label": setup.pythonLabel.text(),
            "python": str(probe.python) if probe.python else None,
            "python_reports_prefix": identity[0],
            "torch_label": setup.torchLabel.text(),
            "torch_version": (probe.info or {}).get("version"),
            "problem": probe.problem,
            "device_label": setup.deviceLabel.text(),
        }
        require(probe.python is not None, f"No Python found: {probe.problem}")
        require(
            not str(probe.python).startswith(str(fake_bin)),
            f"Set up PyTorch chose the fake Python {probe.python}.",
        )
        require(
            Path(identity[0]).resolve() == Path(sys.base_prefix).resolve(),
            f"{probe.python} reports prefix {identity[0]!r}, QGIS's is {sys.base_prefix!r}.",
        )
        require(probe.info is not None, f"PyTorch not found by the check: {probe.problem}")
        x.click(setup.buttonBox.button(QDialogButtonBox.StandardButton.Close))
        yield Until(lambda: not setup.isVisible(), "Set up PyTorch to close on Close")
        park_pointer()

        # -- item 7 + 4: open by the toolbar button, measure the GUI thread until filled ----
        gaps.enter("open")
        x.click(button)
        yield Until(lambda: plugins["landcover_mlp"].dialog is not None, "the dialog to open")
        dialog = plugins["landcover_mlp"].dialog
        yield Until(
            lambda: dialog.deviceLabel.text() != "Checking the devices...",
            "the device label to be filled",
            120,
        )
        gaps.enter(None)
        facts["toolbar"]["opened_by_click"] = dialog.isVisible()
        facts["torch_import"] = {"events_when_open": list(watch.events)}
        on_gui = [e for e in watch.events if e["python_main_thread"] or e["qt_gui_thread"]]
        require(not on_gui, f"torch was imported on the GUI thread: {on_gui}")
        facts["open"] = {
            "largest_gap_ms": gaps.largest.get("open"),
            "device_label": dialog.deviceLabel.text(),
        }
        dialog.resize(1240, 860)
        dialog.move(SCREEN[0] - 1240 - 20, 70)
        park_pointer()
        yield 800

        # -- item 3: class field from the categorised style, never fid ----------------------
        combo = dialog.classFieldCombo
        facts["class_field"] = {
            "polygon_layer": getattr(dialog.polygonCombo.currentLayer(), "name", lambda: None)(),
            "renderer_field": polygons.renderer().classAttribute(),
            "current": combo.currentField(),
            "offered": [combo.itemText(i) for i in range(combo.count())],
            "layer_fields": [f.name() for f in polygons.fields()],
        }
        require(dialog.rasterCombo.currentLayer() is raster, "The raster is not preselected.")
        require(dialog.polygonCombo.currentLayer() is polygons, "Polygons not preselected.")
        require(combo.currentField() == "class_name", f"Class field: {combo.currentField()!r}")
        require("fid" not in facts["class_field"]["offered"], "fid is offered as class field.")

        # -- item 6: band 8 (Fmask) unchecked; All, None and the range entry by hand ---------
        bands = dialog.form.checked_bands
        band_facts = {"default": bands(), "count": dialog.bandList.count()}
        band_facts["band8_tooltip"] = dialog.bandList.item(7).toolTip()
        facts["bands"] = band_facts
        require(band_facts["default"] == (1, 2, 3, 4, 5, 6, 7), f"Default bands: {bands()}")
        x.click(dialog.bandsAllButton)
        yield Until(lambda: len(bands()) == 8, "All to check the 8 bands", 5)
        band_facts["after_all"] = bands()
        x.click(dialog.bandsNoneButton)
        yield Until(lambda: bands() == (), "None to uncheck every band", 5)
        band_facts["after_none"] = bands()
        x.click(dialog.bandRangeEdit)
        yield 300
        x.keys("1", "minus", "7", "Return")  # applied on Enter, never pressing Run
        yield Until(lambda: bands() == (1, 2, 3, 4, 5, 6, 7), "'1-7' in the range entry", 5)
        require(dialog.task is None, "Enter in the band-range entry started a run")
        band_facts["after_range"] = bands()
        band_facts["range_text"] = dialog.bandRangeEdit.text()
        park_pointer()

        # -- item 1: outputs left empty go to <project folder>/landcover_mlp ---------------
        facts["outputs"] = {
            "model_widget": dialog.modelFileWidget.filePath(),
            "class_widget": dialog.classRasterWidget.filePath(),
            "hint": dialog.outputHintLabel.text(),
        }
        require(
            not dialog.modelFileWidget.filePath() and not dialog.classRasterWidget.filePath(),
            "The output file widgets are not empty in a fresh profile.",
        )

        # -- a run, clicked; item 4: the GUI thread during the run ---------------------------
        epochs: list[int] = []
        ended: list[bool] = []
        dialog.training_finished.connect(ended.append)
        gaps.enter("run")
        x.click(dialog.runButton)
        yield Until(lambda: dialog.task is not None, "Run to start the task", 10)
        task = dialog.task
        task.epoch_ended.connect(lambda record: epochs.append(record["epoch"]))
        yield Until(lambda: epochs and epochs[-1] >= shot_epoch or ended, "the epoch to shoot", 240)
        require(not ended, "The run ended before the screenshot epoch.")
        dialog.repaint()
        shoot("dialog_training.png")

        # -- item 5: Escape during training: the dialog goes, the run goes on ---------------
        x.click(dialog.statusLabel)  # the user focuses the dialog
        yield 300
        focused = QApplication.activeWindow() is dialog
        ended_before = bool(ended)
        x.keys("Escape")
        yield Until(lambda: not dialog.isVisible() or ended, "Escape to close the dialog", 5)
        bar_item = iface.messageBar().currentItem()
        try:
            going = (QgsTask.TaskStatus.Running, QgsTask.TaskStatus.Queued)
            running = task.status() in going
            managed = any(t is task for t in QgsApplication.taskManager().activeTasks())
        except RuntimeError:  # the task manager deleted it: the task has ended
            running = managed = False
        facts["close"] = {
            "dialog_active_before_escape": focused,
            "visible_after_escape": dialog.isVisible(),
            "ended_before_escape": ended_before,
            "ended_at_close": list(ended),
            "task_kept": dialog.task is task,
            "task_running": running,
            "in_task_manager": managed,
            "main_bar": bar_item.text() if bar_item is not None else "",
        }
        require(not ended_before, "The run ended before Escape (raise the epoch count).")
        require(not dialog.isVisible(), "Escape did not close the dialog.")
        require(running and not ended, f"The run stopped when the dialog closed: {ended}")
        yield Until(lambda: ended, "the run to end without the dialog", 400)
        gaps.enter(None)
        facts["run"] = {"largest_gap_ms": gaps.largest.get("run"), "epochs": len(epochs)}
        run_name = dialog.form.run_name
        layers = [layer.name() for layer in project.mapLayers().values()]
        facts["close"].update(succeeded=ended[0], run_name=run_name, layers=layers)
        require(ended[0], "Training failed: " + dialog.messageBar.currentItem().text())
        require(f"Land cover ({run_name})" in layers, f"Run layers not added: {layers}")
        outputs = dialog.result.outputs
        facts["outputs"].update(
            run_name=run_name,
            model=str(outputs.model),
            classified=str(outputs.classified),
            confidence=str(outputs.confidence),
            report=str(outputs.report),
        )
        require(
            outputs.model.parent == project_dir / "landcover_mlp" / run_name,
            f"The model went to {outputs.model}, not the project's landcover_mlp folder.",
        )

        # -- the results (dialog opened again from the Raster menu action) -----------------
        yield 1000
        open_action.trigger()
        yield Until(dialog.isVisible, "the dialog to open again")
        dialog.message_bar.clearWidgets()
        iface.messageBar().clearWidgets()
        park_pointer()
        yield 1500
        shoot("dialog_results.png")
        x.click(dialog.closeButton)
        yield Until(lambda: not dialog.isVisible(), "Close to close the dialog")
        park_pointer()
        iface.mapCanvas().setExtent(raster.extent())
        iface.mapCanvas().refreshAllLayers()
        yield 4000
        shoot("result_map.png")

        # -- a small search ------------------------------------------------------------------
        open_action.trigger()
        dialog.message_bar.clearWidgets()
        panel = dialog.tuning
        panel.hiddenSetsEdit.setText("32;64;64,64")
        panel.learningRatesEdit.setText("0.01,0.05")
        panel.momentumsEdit.setText("0.9")
        tuned: list[bool] = []
        dialog.tuning_finished.connect(tuned.append)
        yield 1000
        panel.tuneButton.click()
        yield Until(lambda: tuned, "the search to end", 400)
        require(tuned[0], "Search failed: " + panel.tuneSummaryLabel.text())
        panel.useSettingsButton.click()
        item = iface.messageBar().currentItem()  # QGIS says the search task finished
        facts["main_bar_after_search"] = item.text() if item else None
        iface.messageBar().clearWidgets()  # cleared now: repainted before the screenshot
        yield 1500
        shoot("tuning.png")

        # -- item 4: where torch was imported; item 1: nothing of the run in QGIS's temp ----
        facts["torch_import"]["events"] = watch.events
        require(watch.events, "torch was never imported after the session began.")
        on_gui = [e for e in watch.events if e["python_main_thread"] or e["qt_gui_thread"]]
        require(not on_gui, f"torch was imported on the GUI thread: {on_gui}")
        temp = Path(QgsProcessingUtils.tempFolder())
        facts["outputs"]["models_in_processing_temp"] = [
            str(p) for p in temp.rglob("*.safetensors")
        ]
        require(not facts["outputs"]["models_in_processing_temp"], "A model in QGIS's temp.")
        save_facts()
        project.setDirty(False)
        QTimer.singleShot(200, iface.actionExit().trigger)
        yield 8000
        shoot("exit_blocked.png")  # a question box blocks the exit: show it, then stop hard
        fail("QGIS did not exit; see exit_blocked.png.")

    QTimer.singleShot(3000, lambda: drive(session()))


# --------------------------------------------------------------------------------------------
# Driver


def _write_profile(root: Path) -> None:
    ini = root / "profiles" / "default" / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text(
        "[PythonPlugins]\nlandcover_mlp=true\n\n[qgis]\ncheckVersion=false\n"
        # the project is never saved: quit without the "save changes" question
        "askToSaveProjectChanges=false\n\n[app]\naskToSaveMemoryLayers=false\n",
        encoding="utf-8",
    )


def _write_fake_pythons(folder: Path, log: Path) -> None:
    """``python3`` that reports this Python's version with another prefix, and
    ``python3.<minor>`` that fails like a broken pyenv shim; both log their calls."""
    folder.mkdir(parents=True)
    minor = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    scripts = {
        "python3": f'echo "{version}"\necho "{FAKE_PREFIX}"\n',
        minor: "echo \"ModuleNotFoundError: No module named '_posixsubprocess'\" >&2\nexit 1\n",
    }
    for name, body in scripts.items():
        path = folder / name
        path.write_text(f'#!/bin/sh\necho "$0 $*" >> "{log}"\n{body}', encoding="utf-8")
        path.chmod(0o755)


def _wait_for_display(number: str, timeout: float = 15) -> None:
    socket = Path(f"/tmp/.X11-unix/X{number.lstrip(':')}")
    end = time.monotonic() + timeout
    while not socket.exists():
        if time.monotonic() > end:
            raise RuntimeError(f"Xvfb did not start display {number}.")
        time.sleep(0.2)


def _run_qgis(args: argparse.Namespace, env: dict[str, str], work: Path) -> int | None:
    """Start Xvfb and QGIS; the QGIS exit status, or None when it did not exit in time."""
    xvfb = subprocess.Popen(
        ["Xvfb", args.display, "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"]
    )
    qgis = None
    try:
        _wait_for_display(args.display)
        command = ["qgis", "--nologo", "--noversioncheck", "--profiles-path", str(work)]
        qgis = subprocess.Popen([*command, "--code", str(Path(__file__).resolve())], env=env)
        try:
            return qgis.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"QGIS did not finish within {args.timeout} s.", file=sys.stderr)
            return None
    finally:
        for proc in (qgis, xvfb):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def main(argv: list[str] | None = None) -> int:
    """Start Xvfb and QGIS, wait for the session to end, check what is left on disk."""
    repo = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=repo / "docs" / "screenshots")
    parser.add_argument(
        "--data", type=Path, default=repo.parent / "shared" / "data" / "landsat7_ogt"
    )
    parser.add_argument("--display", default=":99")
    parser.add_argument("--epoch", type=int, default=20, help="epoch of the training screenshot")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--checks", type=Path, help="write what the session saw here (JSON)")
    parser.add_argument(
        "--project", type=Path, help="folder of the project file (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    for tool in ("Xvfb", "qgis", "import"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing (apt-get install xvfb qgis imagemagick).", file=sys.stderr)
            return 2
    if not (args.data / "training_polygons.gpkg").is_file():
        print(f"The Landsat 7 data are missing in {args.data}.", file=sys.stderr)
        return 2
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for name in (*SHOTS, "screenshot_error.txt", "error.png", "exit_blocked.png"):
        (out / name).unlink(missing_ok=True)
    work = Path(tempfile.mkdtemp(prefix="landcover_screens_"))
    project = (args.project or work / "project").resolve()
    project.mkdir(parents=True, exist_ok=True)
    _write_profile(work)
    fake_bin, fake_log = work / "fake_python", work / "fake_python_calls.log"
    _write_fake_pythons(fake_bin, fake_log)
    checks = work / "checks.json"
    # QGIS writes statistics into a raster's .aux.xml and opens a GeoPackage for update when
    # it shows them: it works on a copy, so the shared data are never changed (as root, their
    # read-only mode would not stop it).
    data = work / "data"
    shutil.copytree(args.data, data)
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(
        DISPLAY=args.display,
        PATH=f"{fake_bin}{os.pathsep}{env.get('PATH', '')}",
        TMPDIR=str(work / "tmp"),  # QGIS's temp folder (Processing's too): looked at after exit
        QGIS_PLUGINPATH=str(repo / "build" / "plugins"),
        PYTHONPATH=sysconfig.get_paths()["purelib"],  # torch from the venv running this script
        OMP_NUM_THREADS="1",
        XDG_RUNTIME_DIR=str(work / "runtime"),
        **{STAGE_ENV: "qgis", OUT_ENV: str(out), DATA_ENV: str(data),
           EPOCH_ENV: str(args.epoch), CHECKS_ENV: str(checks), PROJECT_ENV: str(project),
           FAKE_ENV: str(fake_bin)},
    )  # fmt: skip
    for folder in ("runtime", "tmp"):
        (work / folder).mkdir(mode=0o700)
    try:
        status = _run_qgis(args, env, work)
        facts = json.loads(checks.read_text(encoding="utf-8")) if checks.exists() else {}
        facts["after_exit"] = {
            "qgis_status": status,
            "temp_folder": str(work / "tmp"),
            "models_in_temp": [str(p) for p in (work / "tmp").rglob("*.safetensors")],
            "fake_python_calls": (
                fake_log.read_text(encoding="utf-8").splitlines() if fake_log.exists() else []
            ),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.checks is not None:
        args.checks.write_text(json.dumps(facts, indent=1), encoding="utf-8")
    for step in ("open", "run"):
        print(f"largest GUI gap ({step}): {facts.get(step, {}).get('largest_gap_ms')} ms")
    error = out / "screenshot_error.txt"
    if error.exists():
        print(error.read_text(encoding="utf-8"), file=sys.stderr)
        return 1
    missing = [n for n in SHOTS if not (out / n).is_file()]
    for name in SHOTS:
        print(out / name, "missing" if name in missing else "written")
    return 1 if missing or status != 0 else 0


if os.environ.get(STAGE_ENV) == "qgis":
    in_qgis()
elif __name__ == "__main__":
    sys.exit(main())
