"""PyQt6 check of ``ui/`` (run by tests/qt6/run_qt6_check.sh in build/qt6-venv).

Collected only where PyQt6 is importable and ``qgis`` is the stand-in package in
``tests/qt6/shim``: the normal test run (PyQt5 venv with the real QGIS) ignores this folder.
When the check script runs it (``LANDCOVER_QT6_CHECK=1``) and that set-up is missing, the run
stops with an error instead of quietly collecting nothing.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

SHIM = Path(__file__).resolve().parent / "shim"


def _qt6_setup_problem() -> str | None:
    """Why this is not the PyQt6 check's environment, or None when it is."""
    if importlib.util.find_spec("PyQt6") is None:
        return "PyQt6 is not importable"
    spec = importlib.util.find_spec("qgis")
    if spec is None or spec.origin is None:
        return "no 'qgis' package on the path (the stand-in is tests/qt6/shim/qgis)"
    if Path(spec.origin).resolve().parent != SHIM / "qgis":
        return f"'qgis' is {spec.origin}, not the stand-in in {SHIM / 'qgis'}"
    return None


_problem = _qt6_setup_problem()
if _problem is not None:
    if os.environ.get("LANDCOVER_QT6_CHECK") == "1":
        raise RuntimeError(f"PyQt6 check: {_problem}; run tests/qt6/run_qt6_check.sh")
    collect_ignore_glob = ["*"]
else:
    collect_ignore = ["shim"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running cases (run by make test-all)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Fail a test of this folder that passed but raised in a Qt slot or made Qt, uic or Python
    warn (collected by the ``qt_problems`` fixture of test_qt6_ui.py); when the test failed
    too, report those first: a slot's exception is usually what made it fail."""
    problems = None
    try:
        result = yield
    except BaseException as exc:
        problems = getattr(item, "qt_problems", None)
        if problems is not None and problems.problems():  # the slot error is the likely cause
            raise pytest.fail.Exception("\n".join(problems.problems()), pytrace=False) from exc
        raise
    problems = getattr(item, "qt_problems", None)
    if problems is not None and problems.problems():
        pytest.fail("\n".join(problems.problems()), pytrace=False)
    return result
