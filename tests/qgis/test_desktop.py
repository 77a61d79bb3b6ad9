"""End to end through the real QGIS desktop under Xvfb: the plugin enabled in a fresh profile,
the dialog opened from its Raster-menu action, a training run, the styled map, a search.

Runs ``desktop_screenshot.py`` (which also makes the README screenshots) into a temporary
folder; any failure inside QGIS (menu action missing, dialog error, training failure, a dialog
blocking the exit) makes it exit non-zero with the reason.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("desktop_screenshot.py")
SHOTS = ("dialog_training.png", "dialog_results.png", "result_map.png", "tuning.png")


def _free_display() -> str:
    for number in range(140, 240):
        if not Path(f"/tmp/.X{number}-lock").exists():
            return f":{number}"
    pytest.fail("No free X display number for Xvfb.")


def test_qgis_desktop_runs_the_dialog_from_the_menu(tmp_path: Path, landsat7) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--display", _free_display(),
         "--epoch", "3", "--timeout", "240"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    for name in SHOTS:
        shot = tmp_path / name
        assert shot.is_file(), f"{name} was not taken"
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert shot.stat().st_size > 30_000, f"{name} looks blank"
    assert not (tmp_path / "screenshot_error.txt").exists()
