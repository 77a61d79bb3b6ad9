"""One definition of every setting, used by every route: the command line, the Processing
algorithms and the dialog show each setting of core/settings.py with its default and range,
and the same values give the same training request, search and prediction settings."""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import pytest
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingParameterNumber
from qgis.PyQt.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from landcover_mlp.core import cli, explore, settings
from landcover_mlp.core.config import prediction_config, train_request
from landcover_mlp.core.tuning import search_config
from landcover_mlp.plugin.processing.parameters import read_settings
from landcover_mlp.ui import setting_widgets
from landcover_mlp.ui import settings as ui_settings
from landcover_mlp.ui.dialog import LandCoverDialog

pytestmark = pytest.mark.qgis_tier

# A value other than the default for every setting (within its range).
OTHER = {
    "pixel_rule": "all_touched", "max_per_class": 500, "validation_share": 0.25,
    "hidden_layers": "32,16", "activation": "tanh", "dropout": 0.1, "ensemble": 3, "distill": False,
    "learning_rate": 0.05, "lr_schedule": "constant", "momentum": 0.5, "batch_size": 64,
    "epochs": 40, "patience": 7, "weight_decay": 0.0005, "class_weights": True, "seed": 11,
    "device": "cpu", "memory_mb": 64,
    "search_hidden_layers": "8;16,8", "search_learning_rates": "0.01,0.1",
    "search_momentums": "0.9", "search_activations": "relu,tanh", "search_batch_sizes": "32",
    "strategy": "random", "n_iter": 3, "folds": 3, "time_budget": 2.5,
    "learning_rates": "0.1,0.01", "momentums": "0.9", "loss_threshold": 0.3,
    "size": 300, "min_per_class": 20, "target_se": 0.02, "expected_users_accuracy": "0.8",
}  # fmt: skip


def test_every_setting_has_another_value_here() -> None:
    assert set(OTHER) == set(settings.BY_NAME)
    for name, value in OTHER.items():
        assert value != settings.default(name), name
        assert settings.check(name, value) == value


@pytest.fixture
def dialog(qgis_iface: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[LandCoverDialog]:
    monkeypatch.setattr(ui_settings, "PREFIX", "landcover_mlp_tests_routes")
    ui_settings.clear()
    dlg = LandCoverDialog(qgis_iface)
    yield dlg
    dlg.shutdown()
    dlg.deleteLater()
    ui_settings.clear()


def _subparser(command: str) -> Any:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[command]


def _option(command: str, setting: settings.Setting) -> Any:
    matches = [a for a in _subparser(command)._actions if setting.flag in a.option_strings]
    assert matches, f"{command} has no {setting.flag}"
    return matches[0]


def _algorithm(name: str) -> Any:
    return QgsApplication.processingRegistry().algorithmById(f"landcover_mlp:{name}")


ROUTES = (
    ("train", "train", settings.TRAINING),
    ("tune", "tune", settings.TRAINING + settings.SEARCH),
    ("classify", "classify", settings.PREDICTION),
    ("accuracy-sample", "accuracysample", settings.ACCURACY_SAMPLE),
    ("explore", "explore", explore.SETTINGS),
)


@pytest.mark.parametrize(("command", "algorithm", "table"), ROUTES)
def test_cli_and_processing_show_every_setting_alike(
    provider: Any, command: str, algorithm: str, table: tuple[settings.Setting, ...]
) -> None:
    alg = _algorithm(algorithm)
    for s in table:
        option = _option(command, s)
        assert option.default == s.default, s.name
        if s.kind == "choice":
            assert tuple(option.choices) == s.choices
        param = alg.parameterDefinition(s.parameter)
        assert param is not None, f"{algorithm} lacks {s.parameter}"
        assert s.help in param.help()
        if s.kind == "choice":
            assert param.defaultValue() == s.choices.index(s.default)
            assert len(param.options()) == len(s.choices)
        else:
            assert param.defaultValue() == s.default, s.name
        if isinstance(param, QgsProcessingParameterNumber) and s.minimum is not None:
            assert param.minimum() == s.minimum
            if s.maximum is not None:
                assert param.maximum() == s.maximum


def test_dialog_shows_every_setting(dialog: LandCoverDialog) -> None:
    widgets = {**dialog.form.widgets, **dialog.tuning.widgets}
    every = settings.TRAINING + settings.SEARCH + settings.PREDICTION
    assert set(widgets) == {s.name for s in every}
    for name, widget in widgets.items():
        s = settings.setting(name)
        assert widget.toolTip() == f"<p>{html.escape(s.describe())}</p>"  # rich text wraps
        assert setting_widgets.value_of(widget, s) == s.default, name
        kind = {"int": QSpinBox, "float": QDoubleSpinBox, "bool": QCheckBox,
                "choice": QComboBox, "text": QLineEdit}[s.kind]  # fmt: skip
        assert isinstance(widget, kind), name
        if isinstance(widget, (QSpinBox, QDoubleSpinBox)) and s.minimum is not None:
            assert widget.minimum() == s.minimum
            if s.maximum is not None:
                assert widget.maximum() == s.maximum


def test_the_same_values_give_the_same_request_on_every_route(
    provider: Any, dialog: LandCoverDialog
) -> None:
    inputs = ("image.tif", "polygons.gpkg", "class_name")
    expected = train_request(*inputs, {s.name: OTHER[s.name] for s in settings.TRAINING})
    expected_search = search_config({**OTHER, "seed": OTHER["seed"]}, OTHER["activation"])

    # command line
    argv = ["tune", "--raster", inputs[0], "--polygons", inputs[1], "--class-field", inputs[2],
            "--model", "m.safetensors"]  # fmt: skip
    for s in settings.TRAINING + settings.SEARCH:
        value = OTHER[s.name]
        if s.kind == "bool":
            argv.append(s.flag if value else "--no-" + s.flag[2:])
        else:
            argv += [s.flag, str(value)]
    args = cli.build_parser().parse_args(argv)
    assert cli.request_from_args(args) == expected
    names = settings.SEARCH + (settings.setting("seed"),)
    assert search_config(cli.setting_values(args, names), "tanh") == expected_search

    # Processing: values as a user (or qgis_process) gives them; choices by index
    alg = _algorithm("tune")
    parameters = {
        s.parameter: s.choices.index(OTHER[s.name]) if s.kind == "choice" else OTHER[s.name]
        for s in settings.TRAINING + settings.SEARCH
    }
    context = QgsProcessingContext()
    values = read_settings(alg, parameters, context, settings.TRAINING)
    assert train_request(*inputs, values) == expected
    search_values = read_settings(alg, parameters, context, names)
    assert search_config(search_values, "tanh") == expected_search

    # dialog
    for name, widget in {**dialog.form.widgets, **dialog.tuning.widgets}.items():
        setting_widgets.set_value(widget, settings.setting(name), OTHER[name])
    assert train_request(*inputs, dialog.form.values()) == expected
    assert dialog.form.prediction_config() == prediction_config(
        {s.name: OTHER[s.name] for s in settings.PREDICTION}
    )
    assert search_config({**dialog.tuning.values(), "seed": OTHER["seed"]}, "tanh") == (
        expected_search
    )
