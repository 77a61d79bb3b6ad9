"""The core is headless: it never imports QGIS or Qt, and torch only when it is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import {module}
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_import(module: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSTARTUP",)}
    env["PYTHONPATH"] = str(REPO / "build" / "plugins")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _gui(modules: list[str]) -> list[str]:
    return [m for m in modules if m.lower().startswith(("qgis", "pyqt", "pyside"))]


@pytest.mark.parametrize(
    "module",
    [
        "landcover_mlp.core",
        "landcover_mlp.core.workflow",
        "landcover_mlp.core.prediction",
        "landcover_mlp.core.cli",
        "landcover_mlp.core.training",
        "landcover_mlp.core.evaluation",
        "landcover_mlp.core.reports",
    ],
)
def test_no_qgis_or_qt(module):
    modules = _modules_after_import(module)
    assert module in modules
    assert _gui(modules) == []


@pytest.mark.parametrize(
    "module",
    [
        "landcover_mlp.core",
        "landcover_mlp.core.cli",
        "landcover_mlp.core.workflow",
        "landcover_mlp.core.prediction",
        "landcover_mlp.core.model_io",
        "landcover_mlp.core.sampling",
        "landcover_mlp.core.evaluation",
    ],
)
def test_torch_imported_lazily(module):
    modules = _modules_after_import(module)
    assert "torch" not in modules, f"importing {module} imported torch"


def test_probe_detects_torch():
    """The probe itself works: a module that needs torch shows up with it."""
    assert "torch" in _modules_after_import("landcover_mlp.core.network")
