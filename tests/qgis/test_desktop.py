"""End to end through the real QGIS desktop under Xvfb: a new user's first hour (issue 13).

One QGIS session (``desktop_screenshot.py``, which also makes the README screenshots) runs in
a fresh profile with the plugin enabled and a fake ``python3`` first on PATH. It presses keys
and clicks through the X server where a user would: the plugin's toolbar button, All / None
and the band range entry, Run, Escape during training, the dialog's Close button. What it saw
is written to a JSON file; after QGIS has exited the driver adds what is left on disk. Each
test here reads one part of it. A check that fails inside QGIS stops the session with the
reason, so the tests of the later steps fail too, naming it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("desktop_screenshot.py")
SHOTS = ("dialog_training.png", "dialog_results.png", "result_map.png", "tuning.png")
SCENE_BANDS = [1, 2, 3, 4, 5, 6, 7]  # band 8 of the Landsat 7 stack is the Fmask band


def _free_display() -> str:
    for number in range(140, 240):
        if not Path(f"/tmp/.X{number}-lock").exists():
            return f":{number}"
    pytest.fail("No free X display number for Xvfb.")


@dataclass
class Session:
    """The finished desktop session: its exit, what it saw, and its folders."""

    proc: subprocess.CompletedProcess
    facts: dict
    shots: Path
    project: Path

    def step(self, name: str) -> dict:
        """What the session saw at one step; fails with the session's error if it never got
        there."""
        if name not in self.facts:
            pytest.fail(f"The session stopped before '{name}':\n{self.error()}")
        return self.facts[name]

    def error(self) -> str:
        error = self.shots / "screenshot_error.txt"
        told = error.read_text(encoding="utf-8") if error.exists() else ""
        return told or self.proc.stdout[-2000:] + self.proc.stderr[-4000:]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, landsat7) -> Session:
    root = tmp_path_factory.mktemp("desktop")
    shots, project, checks = root / "shots", root / "project", root / "checks.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(shots), "--display", _free_display(),
         "--epoch", "3", "--timeout", "300", "--checks", str(checks), "--project", str(project)],
        capture_output=True, text=True, timeout=360,
    )  # fmt: skip
    facts = json.loads(checks.read_text(encoding="utf-8")) if checks.exists() else {}
    return Session(proc, facts, shots, project)


def test_the_session_ends_and_the_screenshots_are_taken(session: Session) -> None:
    assert session.proc.returncode == 0, session.error()
    assert session.step("after_exit")["qgis_status"] == 0  # QGIS quit by itself
    for name in SHOTS:
        shot = session.shots / name
        assert shot.is_file(), f"{name} was not taken"
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert shot.stat().st_size > 30_000, f"{name} looks blank"


def test_outputs_left_empty_go_to_the_project_folder_and_outlive_qgis(session: Session) -> None:
    """Item 1: the run folder is <project folder>/landcover_mlp/<run name>; after QGIS has
    exited the model, class map and report are still there and QGIS's temp held no model."""
    start, outputs = session.step("start"), session.step("outputs")
    assert start["project_file"] == str(session.project / "first_hour.qgz")
    assert outputs["model_widget"] == outputs["class_widget"] == ""
    root = session.project / "landcover_mlp"
    assert str(root) in outputs["hint"]  # the dialog says where they go
    assert "run_name" in outputs, session.error()
    assert outputs["run_name"].startswith("Landsat_7_1999-11-18_")  # raster name, date, time
    run = root / outputs["run_name"]
    paths = {k: Path(outputs[k]) for k in ("model", "classified", "report")}
    assert paths == {
        "model": run / "model.safetensors",
        "classified": run / "land_cover.tif",
        "report": run / "model_report.html",
    }
    after = session.step("after_exit")
    assert after["qgis_status"] == 0, session.error()
    for path in paths.values():
        assert path.is_file() and path.stat().st_size > 0, f"{path} is gone after QGIS exited"
    assert start["processing_temp"].startswith(after["temp_folder"])  # the scan saw it
    assert outputs["models_in_processing_temp"] == []
    assert after["models_in_temp"] == []


def test_set_up_pytorch_uses_qgis_python_not_the_first_on_path(session: Session) -> None:
    """Item 2: with a fake python3 and python3.<minor> first on PATH (QGIS's sys.executable
    is then the fake), Set up PyTorch... shows and uses QGIS's own interpreter."""
    start, setup = session.step("start"), session.step("torch_setup")
    minor = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    assert Path(start["which_python3"]).parent.name == "fake_python"  # the trap is set
    assert Path(start["which_python_minor"]).name == minor and start["fake_python_minor_exists"]
    print("QGIS's sys.executable:", start["sys_executable"])
    assert setup["python_label"] == setup["python"]
    assert "fake_python" not in setup["python"]
    assert Path(setup["python"]).resolve().is_relative_to(Path(start["base_prefix"]).resolve())
    assert setup["python_reports_prefix"] == start["base_prefix"]
    assert setup["problem"] == "" and setup["torch_version"]
    assert setup["device_label"] not in ("", "Checking...") and "None" not in setup["device_label"]
    assert session.step("close").get("succeeded") is True, session.error()  # training works


def test_class_field_defaults_to_the_categorised_field_and_never_offers_fid(
    session: Session,
) -> None:
    """Item 3: the polygons are styled by class_name, which is not their first field."""
    field = session.step("class_field")
    assert field["polygon_layer"] == "training polygons"
    assert field["renderer_field"] == "class_name"
    assert field["current"] == "class_name"
    assert field["offered"][0] != "class_name"  # chosen by the style, not by position
    assert "fid" in field["layer_fields"] and "fid" not in field["offered"]


def test_torch_is_never_imported_on_the_gui_thread(session: Session, capsys) -> None:
    """Item 4: the event (where ``import torch`` ran), not the time; the largest gaps of a
    50 ms GUI timer are printed for the note (benchmarks/gui_stall.py gives figures)."""
    start, opened, run = session.step("start"), session.step("open"), session.step("run")
    with capsys.disabled():
        print(f"\nlargest GUI-thread gap: {opened['largest_gap_ms']} ms while the dialog "
              f"opened, {run['largest_gap_ms']} ms during the run")  # fmt: skip
    assert start["torch_loaded"] is False  # so the import below is the session's first
    events = session.step("torch_import").get("events")
    assert events is not None, session.error()
    assert len(events) == 1, events
    assert events[0]["python_main_thread"] is False and events[0]["qt_gui_thread"] is False
    assert opened["device_label"].startswith("Detected: ")  # filled by the background check


def test_escape_during_training_keeps_the_run_and_adds_its_layers(session: Session) -> None:
    """Item 5: Escape (a real key press) hides the dialog; the task goes on in QGIS's task
    manager and adds "Land cover (<run name>)" when it ends."""
    close = session.step("close")
    assert close["dialog_active_before_escape"] is True
    assert close["ended_before_escape"] is False
    assert close["ended_at_close"] == []  # still running after the dialog closed
    assert close["visible_after_escape"] is False
    assert close["task_kept"] is True and close["task_running"] is True
    assert close["in_task_manager"] is True
    assert "goes on in the background" in close["main_bar"]
    assert close.get("succeeded") is True, session.error()
    name = close["run_name"]
    assert f"Land cover ({name})" in close["layers"]
    assert f"Confidence ({name})" in close["layers"]


def test_band_list_leaves_the_mask_band_out_and_has_all_none_and_ranges(
    session: Session,
) -> None:
    """Item 6: clicked and typed as a user would."""
    bands = session.step("bands")
    assert bands["count"] == 8
    assert bands["default"] == SCENE_BANDS
    assert "255" in bands["band8_tooltip"]  # why it starts unchecked
    assert bands["after_all"] == [*SCENE_BANDS, 8]
    assert bands["after_none"] == []
    assert bands["after_range"] == SCENE_BANDS and bands["range_text"] == "1-7"


def test_toolbar_button_is_visible_in_a_fresh_profile(session: Session) -> None:
    """Item 7: the Raster toolbar is hidden in a fresh profile; the button is on a visible
    toolbar, and clicking it opens the dialog."""
    toolbar = session.step("toolbar")
    assert toolbar["raster_toolbar_visible"] is False
    assert toolbar["button_visible"] is True
    assert any(visible for _, visible in toolbar["toolbars"])
    assert toolbar.get("opened_by_click") is True, session.error()
    assert toolbar["raster_menu_entries"] == ["Land Cover MLP...", "Set up PyTorch..."]
