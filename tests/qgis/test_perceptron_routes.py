"""Perceptron mode in the dialog and Processing: a "Perceptron (linear)" check box beside the
hidden layers, a Processing label that names it, and "0" / "none" / "" read as no hidden layer
by the one parser of every route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from qgis.core import QgsApplication, QgsProcessingContext
from qgis.PyQt.QtWidgets import QCheckBox

from landcover_mlp.core import settings
from landcover_mlp.core.config import train_request
from landcover_mlp.plugin.processing.parameters import read_settings
from landcover_mlp.ui import settings as ui_settings
from landcover_mlp.ui.dialog import LandCoverDialog

pytestmark = pytest.mark.qgis_tier


@pytest.fixture
def dialog(qgis_iface: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[LandCoverDialog]:
    monkeypatch.setattr(ui_settings, "PREFIX", "landcover_mlp_tests_perceptron")
    ui_settings.clear()
    dlg = LandCoverDialog(qgis_iface)
    yield dlg
    dlg.shutdown()
    dlg.deleteLater()
    ui_settings.clear()


def _request(values: dict[str, Any]) -> Any:
    return train_request("image.tif", "polygons.gpkg", "class_name", values)


def test_the_dialog_offers_the_perceptron_beside_the_hidden_layers(dialog: LandCoverDialog) -> None:
    edit, box = dialog.hiddenLayersEdit, dialog.hiddenLayersZeroCheck
    assert isinstance(box, QCheckBox) and box.text() == "Perceptron (linear)"
    form = dialog.trainingForm
    assert form.getWidgetPosition(box)[0] == form.getWidgetPosition(edit)[0] + 1  # the row below
    assert not box.isChecked() and edit.text() == settings.default("hidden_layers")

    edit.setText("64,16")
    box.setChecked(True)  # the user ticks it: the one value every route reads
    assert edit.text() == "0"
    assert _request(dialog.form.values()).model.hidden_layers == ()
    box.setChecked(False)  # untick: the layers it replaced come back
    assert edit.text() == "64,16" and _request(dialog.form.values()).model.hidden_layers == (64, 16)

    for text, ticked in (("none", True), ("8", False), ("", True), ("32,32", False)):
        edit.setText(text)  # typed, or restored from the last session
        assert box.isChecked() is ticked, text
        assert edit.text() == text  # following the text never rewrites it
    box.setChecked(True)
    dialog.form.restore_defaults()
    assert not box.isChecked() and edit.text() == settings.default("hidden_layers")


def test_processing_names_the_perceptron_and_reads_none_as_no_hidden_layer(provider: Any) -> None:
    alg = QgsApplication.processingRegistry().algorithmById("landcover_mlp:train")
    param = alg.parameterDefinition("HIDDEN_LAYERS")
    assert "0 = perceptron (linear)" in param.description()
    assert "the perceptron" in param.help()
    context = QgsProcessingContext()
    for text in ("0", "none", ""):
        values = read_settings(alg, {"HIDDEN_LAYERS": text}, context, settings.TRAINING)
        assert _request(values).model.hidden_layers == (), text


def test_the_summary_says_linear_and_gives_the_diagnosis() -> None:
    import numpy as np

    from landcover_mlp.core.accuracy import assess
    from landcover_mlp.core.classes import ClassInfo
    from landcover_mlp.core.config import PERCEPTRON, ModelConfig
    from landcover_mlp.core.diagnosis import diagnose
    from landcover_mlp.core.model_io import LandCoverModel
    from landcover_mlp.core.workflow import TrainResult
    from landcover_mlp.plugin.tasks import TrainClassifyResult
    from landcover_mlp.ui.results import summary_html

    model = LandCoverModel(
        state={"mean": np.zeros(2, np.float32), "std": np.ones(2, np.float32),
               "layers.0.weight": np.zeros((1, 2, 2), np.float32),
               "layers.0.bias": np.zeros((1, 2), np.float32)},
        bands=(1, 2), band_names=("a", "b"), band_count=2, nodata=(None, None),
        classes=(ClassInfo(1, "water", "#0000ff"), ClassInfo(2, "land", "#00ff00")),
        model=ModelConfig((), ensemble=1),
    )  # fmt: skip
    found = diagnose([{"epoch": e, "train_loss": 0.69} for e in range(1, 11)], 0.02, 2,
                     perceptron=True)  # fmt: skip
    assert [f["kind"] for f in found] == ["underfitting"]
    training = TrainResult(model, None, 10, 0, 1.0, diagnosis=tuple(found))
    text = summary_html(TrainClassifyResult(model, training, None, None))  # type: ignore[arg-type]
    assert PERCEPTRON in text
    assert "Diagnosis (underfitting)</b>: Underfitting: the losses stayed high" in text
    assert "add a hidden layer" in text
    report = assess(np.array([0, 1]), np.array([0, 1]), model.classes, "two polygons held out")
    scored = TrainResult(model, report, 10, 2, 1.0, diagnosis=tuple(found))
    text = summary_html(TrainClassifyResult(model, scored, None, None))  # type: ignore[arg-type]
    assert "Overall accuracy" in text and PERCEPTRON in text
    assert "Diagnosis (underfitting)</b>: Underfitting" in text
