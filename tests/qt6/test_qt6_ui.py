"""PyQt6 check of ``ui/``: what QGIS 4 (Qt 6) would do with the dialogs, without QGIS 4.

Run by ``tests/qt6/run_qt6_check.sh`` (``make check-qt6``) in ``build/qt6-venv``: PyQt6 from
PyPI, no QGIS; ``qgis`` is the stand-in package in ``tests/qt6/shim`` (``qgis.PyQt`` = PyQt6 as
QGIS 4 wraps it, dummy ``qgis.core`` / ``qgis.gui``). The normal test run does not collect this
folder (see conftest.py).

1. every ``ui/*.ui`` file loads with PyQt6's uic into a fresh widget, with no warning;
2. every ``ui/*.py`` module imports as ``landcover_mlp.ui.<name>``;
3. the widgets that need only Qt are built and driven through the code paths that touch Qt
   enums (painting, tables, item flags, size policies, settings), and rendered with
   ``grab()``: an unscoped PyQt5-only enum (``Qt.UserRole``) or ``exec_()`` fails here.

The QGIS stand-ins say nothing about the QGIS 4 API (``Qgis.*`` / ``Qgs*`` names).
"""

from __future__ import annotations

import importlib
import logging
import math
import sys
import traceback
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from qgis.PyQt import QtWidgets, uic
from qgis.PyQt.QtCore import QtMsgType, qInstallMessageHandler
from qgis.PyQt.QtGui import QColor, QImage

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
UI_DIR = REPO / "ui"
UI_FILES = sorted(UI_DIR.glob("*.ui"))
UI_MODULES = sorted(p.stem for p in UI_DIR.glob("*.py") if p.stem != "__init__")
PKG = "landcover_mlp"


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def qapp() -> QtWidgets.QApplication:
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([sys.argv[0]])
    return app


OFFSCREEN_NOISE = ("This plugin does not support propagateSizeHints()",)
"""Qt warnings of the offscreen platform plugin itself (not of the plugin's code)."""


class QtProblems:
    """Exceptions raised in Qt slots (PyQt6 would abort the process), Qt warnings (qWarning
    and worse), PyQt6.uic log warnings and Python warnings during one test.

    ``tests/qt6/conftest.py`` fails the test (in its call phase) when there is any.
    """

    def __init__(self) -> None:
        self.messages: list[str] = []
        self._caught: list[warnings.WarningMessage] = []

    def qt_handler(self, mode: QtMsgType, context: object, message: str) -> None:
        if mode in (QtMsgType.QtDebugMsg, QtMsgType.QtInfoMsg) or message in OFFSCREEN_NOISE:
            return
        self.messages.append(f"Qt {mode.name}: {message}")

    def slot_exception(self, *exc: object) -> None:
        self.messages.append(
            "Exception in a Qt slot:\n" + "".join(traceback.format_exception(*exc))
        )

    def problems(self) -> list[str]:
        return self.messages + [
            f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in self._caught
        ]


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(f"{record.name} {record.levelname}: {record.getMessage()}")


@pytest.fixture(autouse=True)
def qt_problems(
    request: pytest.FixtureRequest, qapp: QtWidgets.QApplication
) -> Iterator[QtProblems]:
    """Collects what :class:`QtProblems` lists while the test runs."""
    problems = QtProblems()
    handler = _ListHandler(problems.messages)
    uic_log = logging.getLogger("PyQt6.uic")
    uic_log.addHandler(handler)
    previous = qInstallMessageHandler(problems.qt_handler)
    previous_hook = sys.excepthook
    sys.excepthook = problems.slot_exception
    request.node.qt_problems = problems
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            problems._caught = caught
            yield problems
    finally:
        sys.excepthook = previous_hook
        qInstallMessageHandler(previous)
        uic_log.removeHandler(handler)


def _ui(name: str):
    return importlib.import_module(f"{PKG}.ui.{name}")


def _render(widget: QtWidgets.QWidget, size: tuple[int, int] | None = None) -> QImage:
    """Lay out and paint the widget offscreen; the picture as an image."""
    if size:
        widget.resize(*size)
    widget.ensurePolished()
    pixmap = widget.grab()
    assert not pixmap.isNull(), f"{type(widget).__name__} rendered nothing"
    return pixmap.toImage()


def _has_colour(image: QImage, colour: QColor, tolerance: int = 30) -> bool:
    """Some pixel of ``image`` is within ``tolerance`` (sum over R, G, B) of ``colour``."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    rows = np.frombuffer(bits, np.uint8).reshape(image.height(), image.bytesPerLine())
    bgr = rows[:, : image.width() * 4].reshape(image.height(), image.width(), 4)[..., :3]
    target = np.array([colour.blue(), colour.green(), colour.red()], dtype=int)
    return bool((np.abs(bgr.astype(int) - target).sum(axis=-1) <= tolerance).any())


# -- the environment --------------------------------------------------------------------------
def test_environment_is_pyqt6_with_the_stand_in_qgis() -> None:
    import qgis
    from PyQt6.QtCore import PYQT_VERSION_STR, qVersion

    assert PYQT_VERSION_STR.startswith("6.") and qVersion().startswith("6."), qVersion()
    assert getattr(qgis, "QT6_CHECK_SHIM", False), qgis.__file__
    assert "PyQt5" not in sys.modules
    package = importlib.import_module(PKG)
    assert Path(package.__file__).resolve().parent == REPO, package.__file__
    assert len(UI_FILES) >= 3 and len(UI_MODULES) >= 8, (UI_FILES, UI_MODULES)


def test_stand_in_keeps_pyqt5_only_forms_failing() -> None:
    """The check is only worth something if the shim does not forgive PyQt5-only forms."""
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtWidgets import QDialog, QHeaderView, QSizePolicy

    for owner, name in (
        (Qt, "UserRole"),
        (Qt, "AlignRight"),
        (Qt, "SolidLine"),
        (Qt, "Checked"),
        (QHeaderView, "ResizeToContents"),
        (QSizePolicy, "Expanding"),
        (QDialog, "exec_"),
    ):
        assert not hasattr(owner, name), f"{owner.__name__}.{name} must not exist under PyQt6"
    assert Qt.ItemDataRole.UserRole.value == 256
    # QGIS 4's qgis.PyQt.QtWidgets also exports the actions that Qt 6 moved to QtGui
    from qgis.PyQt.QtGui import QAction as GuiAction
    from qgis.PyQt.QtWidgets import QAction, QActionGroup, QShortcut  # noqa: F401

    assert QAction is GuiAction


# -- 1. .ui files -----------------------------------------------------------------------------
def _declared_widgets(path: Path) -> tuple[str, list[tuple[str, str]]]:
    """(top-level class, [(object name, class)] of the widgets inside) from the XML."""
    root = ET.parse(path).getroot()
    top = root.find("widget")
    assert top is not None, f"{path.name}: no top-level <widget>"
    inner = [(w.get("name"), w.get("class")) for w in top.iter("widget") if w is not top]
    return top.get("class"), inner


@pytest.mark.parametrize("path", UI_FILES, ids=[p.name for p in UI_FILES])
def test_ui_file_loads_with_pyqt6_uic(path: Path, qt_problems: QtProblems) -> None:
    import qgis.gui

    top_class, inner = _declared_widgets(path)
    widget = getattr(QtWidgets, top_class)()
    uic.loadUi(str(path), widget)
    for name, cls_name in inner:
        child = getattr(widget, name, None)
        assert child is not None, f"{path.name}: widget {name} missing after loadUi"
        expected = getattr(QtWidgets, cls_name, None) or getattr(qgis.gui, cls_name)
        assert isinstance(child, expected), f"{path.name}: {name} is {type(child).__name__}"
    _render(widget)


@pytest.mark.parametrize("path", UI_FILES, ids=[p.name for p in UI_FILES])
def test_ui_file_compiles_with_pyqt6_uic(path: Path, qt_problems: QtProblems) -> None:
    """loadUiType, as the ui modules use it: a form class whose setupUi builds the widgets."""
    form_class, base_class = uic.loadUiType(str(path))
    widget = base_class()
    form = form_class()
    form.setupUi(widget)
    assert widget.objectName()


# -- 2. modules -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", UI_MODULES)
def test_ui_module_imports(name: str, qapp: QtWidgets.QApplication) -> None:
    module = _ui(name)
    assert Path(module.__file__).resolve() == UI_DIR / f"{name}.py"


# -- 3. widgets -------------------------------------------------------------------------------
def _history(epochs: int) -> list[dict[str, float]]:
    return [
        {
            "epoch": e,
            "train_loss": 1.6 * math.exp(-e / 4) + 0.1,
            "val_loss": 1.7 * math.exp(-e / 5) + 0.2,
            "val_accuracy": 1 - 0.8 * math.exp(-e / 3),
        }
        for e in range(1, epochs + 1)
    ]


def test_loss_plot_paints_curves(qt_problems: QtProblems) -> None:
    loss_plot = _ui("loss_plot")
    plot = loss_plot.LossPlot()
    assert plot.sizeHint().width() > 0
    empty = _render(plot, (560, 300))
    assert not _has_colour(empty, loss_plot.TRAIN_COLOUR)
    for record in _history(12):
        plot.add_epoch(record)
    plot.mark_epoch(9)
    image = _render(plot, (560, 300))
    for colour in (loss_plot.TRAIN_COLOUR, loss_plot.VAL_COLOUR, loss_plot.ACC_COLOUR):
        assert _has_colour(image, colour), colour.name()
    # one point only, no accuracy, a non-finite value: the other drawing branches
    plot.set_history([{"epoch": 1, "train_loss": 0.9, "val_loss": float("nan")}])
    plot.mark_epoch(None)
    assert _has_colour(_render(plot, (400, 240)), loss_plot.TRAIN_COLOUR)
    plot.clear()
    assert plot.records == [] and plot.best_epoch is None
    _render(plot, (320, 200))


def _report():
    from landcover_mlp.core.accuracy import report_from_matrix
    from landcover_mlp.core.classes import ClassInfo

    classes = [
        ClassInfo(1, "forest", "#1b7837"),
        ClassInfo(2, "water", "#2166ac"),
        ClassInfo(3, "urban", "#b2182b"),
    ]
    matrix = np.array([[50, 2, 1], [0, 20, 0], [3, 1, 30]])
    return report_from_matrix(matrix, classes, method="validation polygons", warnings=("w",))


def test_results_table_and_summary(tmp_path: Path, qt_problems: QtProblems) -> None:
    from qgis.PyQt.QtCore import Qt

    from landcover_mlp.plugin.tasks import OutputPaths

    results = _ui("results")
    report = _report()
    table = QtWidgets.QTableWidget()
    table.resize(800, 300)  # wide enough for class names as column headers
    results.fill_table(table, report)
    assert (table.rowCount(), table.columnCount()) == (4, 7)  # + Total row; Total, P, R, F1
    assert table.horizontalHeaderItem(6).text() == "F1"
    assert table.verticalHeaderItem(1).text() == "water"
    assert not table.verticalHeaderItem(1).icon().isNull()
    cell = table.item(0, 0)
    assert cell.text() == "50" and cell.font().bold()
    assert Qt.AlignmentFlag(cell.textAlignment()) & Qt.AlignmentFlag.AlignRight
    assert cell.background().color() == results.DIAGONAL
    assert table.maximumHeight() < 16777215
    _render(table, (500, 200))
    results.fill_table(table, None)
    assert table.rowCount() == 0 and table.isHidden()

    (tmp_path / "model_report.html").write_text("<html></html>")
    outputs = OutputPaths(
        model=tmp_path / "model.safetensors",
        classified=tmp_path / "land_cover.tif",
        confidence=None,
        report=tmp_path / "model_report.html",
        loss_curve=tmp_path / "model_loss.png",
    )
    result = SimpleNamespace(
        training=SimpleNamespace(report=report, n_train=400),
        model=SimpleNamespace(info={"best_epoch": 7, "device": "cpu"}),
        outputs=outputs,
    )
    summary, files = QtWidgets.QLabel(), QtWidgets.QLabel()
    results.show_result(summary, table, files, result)
    assert "Overall accuracy" in summary.text() and "validation report" in files.text()
    _render(summary)
    results.clear_result(summary, table, files)
    assert summary.text() == "Training..."


def _score(hidden: str, lr: float, oa: float):
    from landcover_mlp.core.config import ModelConfig, TrainingConfig
    from landcover_mlp.core.selection import ConfigScore

    return ConfigScore(
        model=ModelConfig(hidden, "relu"),
        training=TrainingConfig(learning_rate=lr, momentum=0.9, batch_size=16),
        oa_mean=oa, oa_std=0.02, kappa_mean=oa - 0.1, kappa_std=0.03,
        val_loss_mean=1 - oa, val_loss_std=0.05, seconds=1.5, folds=3,
    )  # fmt: skip


def _outcome(scores, tmp_path: Path):
    from landcover_mlp.core.selection import TuneResult, rank
    from landcover_mlp.plugin.tasks import TuneOutcome

    ranked = rank(scores)
    table = tmp_path / "search.html"
    table.write_text("<html></html>")
    search = TuneResult(
        scores=tuple(ranked), best=ranked[0], final=None, cancelled=False,
        budget_exhausted=False, tried=len(ranked), planned=len(ranked),
        warnings=("a class has fewer polygons than folds",), method="3-fold grouped CV",
    )  # fmt: skip
    return TuneOutcome(search=search, table=table, model=None)


def test_tuning_panel_fills_and_ranks(tmp_path: Path, qt_problems: QtProblems) -> None:
    from qgis.PyQt.QtCore import Qt

    tuning = _ui("tuning")
    panel = tuning.TuningPanel()
    table = panel.tuneTable
    assert table.columnCount() == len(tuning.COLUMNS)
    assert table.horizontalHeaderItem(0).toolTip() == tuning.HEADER_TIPS[0]
    assert "configurations" in panel.planLabel.text()
    panel.hiddenSetsEdit.setText("32;x")
    assert "b00020" in panel.planLabel.text()  # the parse error, in red
    panel.restore_defaults()
    panel.strategyCombo.setCurrentIndex(panel.strategyCombo.findData("random"))
    assert panel.nIterSpin.isEnabled()

    panel.clear()
    first, second = _score("32", 0.01, 0.80), _score("64,64", 0.03, 0.90)
    panel.add_score(first)
    panel.add_score(second)
    assert table.rowCount() == 2 and table.item(0, 0).text() == "64,64"
    assert table.item(0, 0).font().bold()
    assert Qt.AlignmentFlag(table.item(0, 5).textAlignment()) & Qt.AlignmentFlag.AlignRight
    table.selectRow(1)
    panel.add_score(_score("16", 0.1, 0.85))  # re-ranked: the selected row follows its score
    assert panel.selected_score() is first
    assert panel.useSettingsButton.isEnabled()
    panel.set_running(True)
    assert not panel.useSettingsButton.isEnabled() and not panel.searchGroup.isEnabled()
    panel.set_running(False)
    _render(panel, (900, 500))

    outcome = _outcome([first, second], tmp_path)
    panel.show_outcome(outcome)
    assert "Best: " in panel.tuneSummaryLabel.text()
    assert "search table" in panel.tuneFilesLabel.text()
    panel.show_stopped("Cancelled.")
    assert "keeps the 2 finished" in panel.tuneSummaryLabel.text()
    assert panel.model_path() is None
    _render(panel, (900, 500))


class _FakeRaster:
    """Enough of a raster layer for TrainingForm.fill_bands (a QgsRasterLayer stand-in)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def dataProvider(self) -> _FakeRaster:  # noqa: N802
        return self

    def generateBandName(self, band: int) -> str:  # noqa: N802
        return f"Band {band}: {self.names[band - 1]}"

    def bandCount(self) -> int:  # noqa: N802
        return len(self.names)

    def name(self) -> str:
        return "scene"

    def source(self) -> str:
        return "/data/scene.tif"


def _fake_raster(names: list[str]):
    from qgis.core import QgsRasterLayer

    return type("FakeRasterLayer", (_FakeRaster, QgsRasterLayer), {})(names)


def test_training_form_bands_and_defaults(qt_problems: QtProblems) -> None:
    form_mod = _ui("form")
    dialog = QtWidgets.QDialog()
    uic.loadUi(str(UI_DIR / "main_dialog.ui"), dialog)
    form = form_mod.TrainingForm(dialog, torch_ok=False)
    assert dialog.activationCombo.count() > 0 and dialog.pixelRuleCombo.count() == 2
    dialog.rasterCombo.setLayer(_fake_raster(["blue", "green", "red"]))
    assert dialog.bandList.count() == 3 and dialog.bandList.item(0).text() == "1: blue"
    assert form.checked_bands() == (1, 2, 3)
    form.set_checked_bands((2,))
    assert form.checked_bands() == (2,)
    form.update_device_label()
    assert dialog.deviceLabel.text() == "PyTorch missing"
    problems = form.input_problems()
    assert any("training polygons" in p for p in problems), problems
    form.restore_defaults()
    assert dialog.epochsSpin.value() == dialog.epochsSpin.clearValue()
    _render(dialog, (1200, 800))


def test_settings_round_trip(qt_problems: QtProblems) -> None:
    settings = _ui("settings")
    tuning = _ui("tuning")
    settings.PREFIX = "landcover_mlp_qt6_check"
    settings.clear()
    panel = tuning.TuningPanel()
    panel.foldsSpin.setValue(7)
    panel.budgetSpin.setValue(2.5)
    panel.learningRatesEdit.setText("0.5")
    panel.strategyCombo.setCurrentIndex(panel.strategyCombo.findData("random"))
    settings.save_tuning(panel)
    panel.restore_defaults()
    settings.restore_tuning(panel)
    assert panel.foldsSpin.value() == 7 and panel.budgetSpin.value() == 2.5
    assert panel.learningRatesEdit.text() == "0.5"
    assert panel.strategyCombo.currentData() == "random"
    settings.clear()


def test_main_dialog_builds_and_reacts(tmp_path: Path, qt_problems: QtProblems) -> None:
    dialog_mod = _ui("dialog")
    settings = _ui("settings")
    settings.PREFIX = "landcover_mlp_qt6_check"
    dialog = dialog_mod.LandCoverDialog(iface=None)
    assert not dialog.torch_ok  # no torch in the PyQt6 venv: the warning path
    assert dialog.message_bar.messages and not dialog.runButton.isEnabled()
    for record in _history(5):
        dialog.loss_plot.add_epoch(record)
        dialog._show_epoch(record)
    dialog._show_progress(42.5)
    assert dialog.progressBar.value() == 42
    dialog._set_running(True)
    assert dialog.cancelButton.isEnabled() and not dialog.inputPanel.isEnabled()
    dialog._set_running(False)
    dialog.torch_ok = True
    dialog.run()  # no layers chosen: says what to choose, starts nothing
    assert "Choose the raster" in " ".join(map(str, dialog.message_bar.messages[-1]))
    dialog.tuning.add_score(_score("64", 0.01, 0.9))
    dialog.use_settings()
    assert dialog.hiddenLayersEdit.text() == "64" and not dialog.advancedGroup.isCollapsed()
    dialog._on_tuned(_outcome([_score("64", 0.01, 0.9)], tmp_path))
    dialog._on_failed("Something failed.")
    assert dialog.summaryLabel.text() == "No result."
    _render(dialog, (1240, 800))
    dialog.close()
    dialog.shutdown()
    settings.clear()


def test_torch_setup_dialog_shows_state(tmp_path: Path, qt_problems: QtProblems) -> None:
    from qgis.core import QgsApplication

    setup = _ui("torch_setup_dialog")
    from landcover_mlp.plugin.torch_install_task import Probe

    dialog = setup.TorchSetupDialog(site=tmp_path)
    assert dialog.probe_task in QgsApplication.taskManager().tasks  # queued, never run here
    assert dialog.torchLabel.text() == "Checking..." and not dialog.installButton.isEnabled()
    dialog._show_state(Probe(Path(sys.executable), None, "", None))
    assert "Not installed" in dialog.torchLabel.text()
    assert dialog.installButton.isEnabled() and dialog.cpuRadio.isChecked()
    assert not dialog.cudaRadio.isEnabled()
    dialog._show_result("Failed, see https://pytorch.org/get-started", ok=False)
    assert "<a href=" in dialog.resultLabel.text()
    dialog._set_running(True)
    assert dialog.cancelButton.isEnabled()
    dialog._set_running(False)
    _render(dialog, (640, 520))
    dialog.show()
    dialog.buttonBox.button(QtWidgets.QDialogButtonBox.StandardButton.Close).click()
    assert not dialog.isVisible()
