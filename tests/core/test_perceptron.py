"""Perceptron mode: hidden layers 0 (or none, or empty) on every route, always one network,
and reports that say the model is linear."""

from __future__ import annotations

import json

import pytest

from landcover_mlp.core import LandCoverError, settings
from landcover_mlp.core.config import (
    PERCEPTRON,
    ModelConfig,
    parse_hidden_layers,
    train_request,
)
from landcover_mlp.core.training import ensemble_for


@pytest.mark.parametrize("text", ["0", "none", "", " None ", "0,", " 0 "])
def test_zero_none_and_empty_mean_the_perceptron(text):
    assert parse_hidden_layers(text) == ()
    assert settings.setting("hidden_layers").means_zero(text) == (text.strip(" ,") in
                                                                  ("0", "none", "None", ""))  # fmt: skip


@pytest.mark.parametrize("text", ["0,32", "32,0", "0;0"])
def test_zero_beside_other_sizes_is_refused(text):
    with pytest.raises(LandCoverError, match="0 means no hidden layer .* stands alone"):
        parse_hidden_layers(text)


def test_layer_sizes_still_parse():
    assert parse_hidden_layers("64, 32") == (64, 32)
    assert settings.setting("hidden_layers").means_zero("32") is False
    assert settings.setting("learning_rate").means_zero(0) is False  # no zero_means


def test_a_perceptron_is_always_one_network():
    assert ensemble_for(ModelConfig((), ensemble=0), 100).ensemble == 1  # automatic: 1, not 5
    assert ensemble_for(ModelConfig((), ensemble=5), 100).ensemble == 1  # e.g. in a search
    assert ensemble_for(ModelConfig((8,), ensemble=0), 100).ensemble == 5
    assert not ensemble_for(ModelConfig((), ensemble=0), 100).distils


def test_a_perceptron_with_an_ensemble_is_refused_with_a_sentence():
    with pytest.raises(LandCoverError, match=r"always one network.*\(got 3\)"):
        train_request("r.tif", "p.gpkg", "c", {"hidden_layers": "0", "ensemble": 3})
    for ensemble in (0, 1):
        request = train_request("r.tif", "p.gpkg", "c", {"hidden_layers": "none",
                                                         "ensemble": ensemble})  # fmt: skip
        assert request.model.hidden_layers == () and request.model.is_perceptron
    assert train_request("r.tif", "p.gpkg", "c", {"ensemble": 3}).model.ensemble == 3


def test_every_route_offers_the_perceptron():
    """The table's row says what 0 means: the command line's help and Processing's label
    (core/settings.py -> plugin/processing/parameters.py) are made from it."""
    from landcover_mlp.core.cli import build_parser

    hidden = settings.setting("hidden_layers")
    assert hidden.zero_means == "perceptron (linear)"
    assert "0 = perceptron (linear)" in hidden.describe()
    train = next(a for a in build_parser()._actions if a.dest == "command").choices["train"]
    option = next(a for a in train._actions if "--hidden-layers" in a.option_strings)
    assert "0 = perceptron (linear)" in option.help


def test_cli_trains_a_perceptron_and_the_report_says_it_is_linear(scene, tmp_path):
    from landcover_mlp.core.cli import main
    from landcover_mlp.core.model_io import load_model

    model_path = tmp_path / "linear.safetensors"
    status = main(["-q", "train", "--raster", str(scene.raster), "--polygons", str(scene.polygons),
                   "--class-field", "class_name", "--hidden-layers", "0", "--epochs", "5",
                   "--batch-size", "64", "--device", "cpu", "--model", str(model_path)])  # fmt: skip
    assert status == 0
    model = load_model(model_path)
    assert model.model.hidden_layers == () and model.model.ensemble == 1
    assert {k: v.shape for k, v in model.state.items() if k.startswith("layers.")} == {
        "layers.0.weight": (1, 3, 3),  # one network: 3 classes x 3 bands, nothing hidden
        "layers.0.bias": (1, 3),
    }
    report = json.loads((tmp_path / "linear_report.json").read_text(encoding="utf-8"))
    assert report["details"]["model"] == f"{PERCEPTRON}: one network 3-3"
    page = (tmp_path / "linear_report.html").read_text(encoding="utf-8")
    assert PERCEPTRON in page and "Perceptron (linear) 3-3: 12 parameters" in page
    # the provenance's settings rebuild the same request
    again = train_request("r", "p", "class_name", report["provenance"]["settings"])
    assert again.model.hidden_layers == ()
