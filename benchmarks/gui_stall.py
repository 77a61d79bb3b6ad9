"""How long the QGIS GUI thread stalls while the dialog opens and while a run goes on.

Run from the repository root (``make bench`` does)::

    PYTHONPATH=build/plugins .venv/bin/python benchmarks/gui_stall.py [--raster R --polygons P]

A 50 ms ``QTimer`` ticks on the GUI thread of an offscreen ``QgsApplication`` from the first
step on. Every tick records the time since the previous one: an interval far above 50 ms is a
freeze the user would feel (nothing repaints, clicks wait). The phases:

1. ``open``: the first open of the dialog in a fresh process, as the plugin's menu action does
   it (``import landcover_mlp.ui.dialog``, then ``LandCoverDialog(...).show()``), until the
   device label is filled by the background device check (``import torch`` happens there).
   Before it, the plugin is loaded as QGIS loads it at start-up (``classFactory``, then
   ``initProcessing``: the Processing provider imports the core).
2. ``run``: a training and classification with the default settings on the Landsat 7 scene
   of ``../shared/data`` (the dialog's Run button), until the dialog reports the end.

Printed per phase: the largest interval, the count of intervals above 200 ms (the target:
none), and the five largest with what the status line said then. The last line is one JSON
object with the figures. Other load on the machine lengthens intervals: the load average is
printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

try:
    import landcover_mlp  # noqa: F401
except ImportError:  # run without PYTHONPATH: use the plugin folder link of `make link`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build" / "plugins"))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "landsat7_ogt"
TICK_MS = 50
TARGET_MS = 200.0


class GapRecorder:
    """Intervals between the ticks of a 50 ms timer on the GUI thread, tagged by phase."""

    def __init__(self) -> None:
        from qgis.PyQt.QtCore import QTimer

        self.phase = "start"
        self.note = lambda: ""
        self.gaps: list[tuple[str, float, str]] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((self.phase, 1000 * (now - self._last), self.note()))
        self._last = now

    def close_phase(self) -> None:
        """Count the time since the last tick into the current phase (a phase that ends
        inside a freeze must not hand the freeze to the next one)."""
        self._tick()

    def summary(self, phase: str) -> dict[str, object]:
        mine = sorted((g for g in self.gaps if g[0] == phase), key=lambda g: -g[1])
        return {
            "largest_ms": round(mine[0][1], 1) if mine else None,
            "over_target": sum(1 for g in mine if g[1] > TARGET_MS),
            "ticks": len(mine),
            "top": [(round(ms, 1), note) for _, ms, note in mine[:5]],
        }


def wait_until(condition, timeout_s: float) -> bool:
    """Run the event loop until ``condition()`` holds (checked every 10 ms of events)."""
    from qgis.PyQt.QtCore import QCoreApplication, QEventLoop

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raster", type=Path, default=DATA / "LE70220491999322EDC01_stack.tif")
    parser.add_argument("--polygons", type=Path, default=DATA / "training_polygons.gpkg")
    parser.add_argument("--class-field", default="class_name")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    import tempfile

    from qgis.core import QgsApplication, QgsProject, QgsRasterLayer, QgsVectorLayer

    app = QgsApplication([], True)
    app.initQgis()
    out = Path(tempfile.mkdtemp(prefix="gui_stall_"))
    QgsProject.instance().setFileName(str(out / "project.qgz"))  # outputs go beside it
    raster = QgsRasterLayer(str(args.raster), "scene")
    polygons = QgsVectorLayer(str(args.polygons), "training", "ogr")
    QgsProject.instance().addMapLayers([raster, polygons])
    from landcover_mlp import classFactory

    plugin = classFactory(None)  # as QGIS at start-up: the plugin and its Processing provider
    plugin.initProcessing()
    torch_before = "torch" in sys.modules
    recorder = GapRecorder()
    wait_until(lambda: len(recorder.gaps) >= 3, 5)  # the timer runs

    recorder.phase = "open"
    from landcover_mlp.ui import settings as ui_settings

    ui_settings.PREFIX = "landcover_mlp_gui_stall"  # never the user's remembered values
    ui_settings.clear()
    from landcover_mlp.ui.dialog import LandCoverDialog

    dialog = LandCoverDialog(None)
    dialog.show()
    recorder.note = dialog.deviceLabel.text
    filled = wait_until(lambda: dialog.deviceLabel.text() != "Checking the devices...", 120)
    recorder.close_phase()

    recorder.phase = "run"
    recorder.note = dialog.statusLabel.text
    dialog.rasterCombo.setLayer(raster)
    dialog.polygonCombo.setLayer(polygons)
    dialog.classFieldCombo.setField(args.class_field)
    ended: list[bool] = []
    dialog.training_finished.connect(ended.append)
    dialog.runButton.click()
    finished = wait_until(lambda: bool(ended), args.timeout)
    recorder.close_phase()

    figures = {
        "torch_imported_before_open": torch_before,
        "device_label": dialog.deviceLabel.text(),
        "device_label_filled": filled,
        "run_succeeded": bool(ended and ended[0]),
        "run_finished": finished,
        "load_average": os.getloadavg(),
        "target_ms": TARGET_MS,
        "open": recorder.summary("open"),
        "run": recorder.summary("run"),
    }
    for phase in ("open", "run"):
        s = figures[phase]
        print(f"{phase}: largest interval {s['largest_ms']} ms, {s['over_target']} over "
              f"{TARGET_MS:.0f} ms, {s['ticks']} ticks")  # fmt: skip
        for ms, note in s["top"]:
            print(f"    {ms:8.1f} ms  {note}")
    print(f"load average {figures['load_average']}")
    dialog.shutdown()
    ui_settings.clear()
    print(json.dumps(figures), flush=True)
    os._exit(0)  # skip QGIS's exit handlers (nothing to save)


if __name__ == "__main__":
    main()
