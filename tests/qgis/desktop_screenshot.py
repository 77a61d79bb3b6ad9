"""README screenshots from the real QGIS desktop under Xvfb (run by hand, not a test).

    .venv/bin/python tests/qgis/desktop_screenshot.py [--out docs/screenshots]

The driver starts Xvfb and QGIS with a throw-away profile in which the plugin is enabled, and
hands this same file to QGIS with ``--code``. Inside QGIS the file loads the Landsat 7 scene,
styles the polygons by class, opens the dialog through the plugin's Raster-menu action, trains
with the default settings and grabs the screen with ImageMagick's ``import``:

- ``dialog_training.png``: the dialog during training (live loss curves);
- ``dialog_results.png``: the dialog after the run (accuracy, confusion matrix);
- ``result_map.png``: QGIS with the styled land-cover map and its legend;
- ``tuning.png``: the "Find the best settings" tab after a small search, its best settings
  copied into the training settings.
"""

from __future__ import annotations

import argparse
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
SCREEN = (1600, 1000)
COLOURS = {
    "forest": "#1a7a33",
    "water": "#2b83ba",
    "herbaceous": "#8fd16a",
    "barren": "#b5835a",
    "urban": "#d7191c",
}


# --------------------------------------------------------------------------------------------
# Inside QGIS (executed by ``qgis --code``; ``iface`` is up, the plugin is loaded)


def in_qgis() -> None:
    """Load the scene, run the dialog and take the screenshots, then quit QGIS."""
    from qgis.core import (
        QgsCategorizedSymbolRenderer,
        QgsContrastEnhancement,
        QgsProject,
        QgsRendererCategory,
        QgsSymbol,
    )
    from qgis.PyQt.QtCore import QTimer
    from qgis.PyQt.QtGui import QColor
    from qgis.PyQt.QtWidgets import QAction, QApplication
    from qgis.utils import iface, plugins

    from landcover_mlp.plugin import compat

    out = Path(os.environ[OUT_ENV])
    data = Path(os.environ[DATA_ENV])
    shot_epoch = int(os.environ.get(EPOCH_ENV, "20"))
    state: dict = {}

    def fail() -> None:
        (out / "screenshot_error.txt").write_text(traceback.format_exc(), encoding="utf-8")
        os._exit(1)

    def shoot(name: str) -> None:
        QApplication.processEvents()  # this script only: let queued repaints reach the screen
        subprocess.run(["import", "-window", "root", str(out / name)], check=True, timeout=60)

    def load_scene() -> None:
        try:
            main = iface.mainWindow()
            main.setGeometry(0, 0, *SCREEN)
            # a project file in the output folder: the run's default output folder goes there,
            # never beside the shared data
            QgsProject.instance().setFileName(str(out / "screens.qgz"))
            raster = iface.addRasterLayer(
                str(data / "LE70220491999322EDC01_stack.tif"), "Landsat 7 1999-11-18"
            )
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
            state.update(raster=raster, polygons=polygons)
            QTimer.singleShot(1500, open_dialog)
        except Exception:  # noqa: BLE001 - report and stop, never hang
            fail()

    def open_dialog() -> None:
        try:
            action = iface.mainWindow().findChild(QAction, "landcover_mlp_open")
            action.trigger()  # the Raster > Land Cover MLP menu entry
            dialog = plugins["landcover_mlp"].dialog
            dialog.resize(1240, 860)
            dialog.move(SCREEN[0] - 1240 - 20, 70)
            dialog.rasterCombo.setLayer(state["raster"])
            dialog.polygonCombo.setLayer(state["polygons"])
            dialog.classFieldCombo.setField("class_name")
            dialog.form.set_checked_bands((1, 2, 3, 4, 5, 6, 7))  # band 8 is a cloud mask
            dialog.training_finished.connect(finished)
            state["dialog"] = dialog
            QTimer.singleShot(1500, run)
        except Exception:  # noqa: BLE001
            fail()

    def run() -> None:
        dialog = state["dialog"]
        dialog.runButton.click()
        dialog.task.epoch_ended.connect(on_epoch)

    def on_epoch(record: dict) -> None:
        if record["epoch"] == shot_epoch:
            try:
                state["dialog"].repaint()
                shoot("dialog_training.png")
            except Exception:  # noqa: BLE001
                fail()

    def finished(ok: bool) -> None:
        QTimer.singleShot(1500, after_run if ok else fail_run)

    def fail_run() -> None:
        (out / "screenshot_error.txt").write_text(
            "Training failed: " + state["dialog"].messageBar.currentItem().text(), encoding="utf-8"
        )
        os._exit(1)

    def after_run() -> None:
        try:
            shoot("dialog_results.png")
            dialog = state["dialog"]
            dialog.hide()
            iface.mapCanvas().setExtent(state["raster"].extent())
            iface.mapCanvas().refreshAllLayers()
            QTimer.singleShot(4000, map_shot)
        except Exception:  # noqa: BLE001
            fail()

    def map_shot() -> None:
        try:
            shoot("result_map.png")
            dialog = state["dialog"]
            dialog.show()
            dialog.message_bar.clearWidgets()
            panel = dialog.tuning
            panel.hiddenSetsEdit.setText("32;64;64,64")
            panel.learningRatesEdit.setText("0.01,0.05")
            panel.momentumsEdit.setText("0.9")
            dialog.tuning_finished.connect(tuned)
            QTimer.singleShot(1000, panel.tuneButton.click)
        except Exception:  # noqa: BLE001
            fail()

    def tuned(ok: bool) -> None:
        if not ok:
            (out / "screenshot_error.txt").write_text(
                "Search failed: " + state["dialog"].tuning.tuneSummaryLabel.text(), encoding="utf-8"
            )
            os._exit(1)
        state["dialog"].tuning.useSettingsButton.click()
        QTimer.singleShot(1500, tuning_shot)

    def tuning_shot() -> None:
        try:
            shoot("tuning.png")
        except Exception:  # noqa: BLE001
            fail()
        QgsProject.instance().setDirty(False)
        QTimer.singleShot(200, iface.actionExit().trigger)
        QTimer.singleShot(6000, still_running)

    def still_running() -> None:  # a question box blocks the exit: show it, then stop hard
        shoot("exit_blocked.png")
        (out / "screenshot_error.txt").write_text(
            "QGIS did not exit; see exit_blocked.png.", encoding="utf-8"
        )
        os._exit(3)

    QTimer.singleShot(3000, load_scene)


# --------------------------------------------------------------------------------------------
# Driver


def _write_profile(root: Path) -> None:
    ini = root / "profiles" / "default" / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text(
        "[PythonPlugins]\nlandcover_mlp=true\n\n[qgis]\ncheckVersion=false\n"
        # the results live in the temporary folder: quit without the "temporary layers" question
        "askToSaveProjectChanges=false\n\n[app]\naskToSaveMemoryLayers=false\n",
        encoding="utf-8",
    )


def _wait_for_display(number: str, timeout: float = 15) -> None:
    socket = Path(f"/tmp/.X11-unix/X{number.lstrip(':')}")
    end = time.monotonic() + timeout
    while not socket.exists():
        if time.monotonic() > end:
            raise RuntimeError(f"Xvfb did not start display {number}.")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    """Start Xvfb and QGIS, wait for the screenshots, stop both."""
    repo = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=repo / "docs" / "screenshots")
    parser.add_argument(
        "--data", type=Path, default=repo.parent / "shared" / "data" / "landsat7_ogt"
    )
    parser.add_argument("--display", default=":99")
    parser.add_argument("--epoch", type=int, default=20, help="epoch of the training screenshot")
    parser.add_argument("--timeout", type=float, default=300)
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
    names = ("dialog_training.png", "dialog_results.png", "result_map.png", "tuning.png")
    for name in (*names, "screenshot_error.txt"):
        (out / name).unlink(missing_ok=True)
    work = Path(tempfile.mkdtemp(prefix="landcover_screens_"))
    _write_profile(work)
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(
        DISPLAY=args.display,
        QGIS_PLUGINPATH=str(repo / "build" / "plugins"),
        PYTHONPATH=sysconfig.get_paths()["purelib"],  # torch from the venv running this script
        OMP_NUM_THREADS="1",
        XDG_RUNTIME_DIR=str(work / "runtime"),
        **{STAGE_ENV: "qgis", OUT_ENV: str(out), DATA_ENV: str(args.data.resolve()),
           EPOCH_ENV: str(args.epoch)},
    )  # fmt: skip
    (work / "runtime").mkdir(mode=0o700)
    xvfb = subprocess.Popen(
        ["Xvfb", args.display, "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"]
    )
    qgis = None
    try:
        _wait_for_display(args.display)
        command = ["qgis", "--nologo", "--noversioncheck", "--profiles-path", str(work)]
        qgis = subprocess.Popen([*command, "--code", str(Path(__file__).resolve())], env=env)
        try:
            qgis.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"QGIS did not finish within {args.timeout} s.", file=sys.stderr)
    finally:
        for proc in (qgis, xvfb):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    error = out / "screenshot_error.txt"
    if error.exists():
        print(error.read_text(encoding="utf-8"), file=sys.stderr)
        return 1
    missing = [n for n in names if not (out / n).is_file()]
    for name in names:
        print(out / name, "missing" if name in missing else "written")
    return 1 if missing else 0


if os.environ.get(STAGE_ENV) == "qgis":
    in_qgis()
elif __name__ == "__main__":
    sys.exit(main())
