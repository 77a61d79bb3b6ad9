"""The reports name what produced them (issue 13 item 8): raster, bands, polygon layers, class
field, every training setting, date and time, plugin version, PyTorch version and device; the
accuracy report of a map names the classified raster and its reference."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from osgeo import gdal

from landcover_mlp.core import settings
from landcover_mlp.core.config import train_request
from landcover_mlp.core.evaluation import evaluate, evaluation_provenance
from landcover_mlp.core.outputs import save_training_outputs
from landcover_mlp.core.provenance import plugin_version, training_settings
from landcover_mlp.core.reports import write_report_html, write_report_json

METADATA = Path(__file__).resolve().parents[2] / "metadata.txt"
# Not the defaults, so that a report showing the table's defaults instead is caught.
VALUES = {
    "hidden_layers": "8",
    "ensemble": 1,
    "epochs": 4,
    "learning_rate": 0.05,
    "batch_size": 16,
    "max_per_class": 40,
    "pixel_rule": "all_touched",
    "seed": 7,
    "device": "cpu",
}


def metadata_version() -> str:
    match = re.search(r"^version=(.+)$", METADATA.read_text(encoding="utf-8"), re.M)
    assert match, "metadata.txt has a version= line"
    return match.group(1).strip()


def section(page: str) -> str:
    """The Provenance section of a report page."""
    head, found, tail = page.partition("<h2>Provenance</h2>")
    assert found, "the page has a Provenance section"
    return tail.split("</table>")[0]


def row(part: str, label: str) -> str:
    """The cell of the row labelled ``label``."""
    match = re.search(rf"<th>{re.escape(label)}</th><td[^>]*>(.*?)</td></tr>", part)
    assert match, f"no row '{label}' in the Provenance section"
    return match.group(1)


@pytest.fixture(scope="module")
def validation_layer(scene, tmp_path_factory) -> Path:
    """The scene's polygons again, as layer 'checks' of another file."""
    path = tmp_path_factory.mktemp("validation") / "checks.gpkg"
    gdal.VectorTranslate(str(path), str(scene.polygons), layerName="checks")
    return path


@pytest.fixture(scope="module")
def trained(scene, validation_layer):
    from landcover_mlp.core.workflow import train_model

    request = train_request(str(scene.raster), str(scene.polygons), "class_name", VALUES,
                            bands=(1, 3), validation_polygons=str(validation_layer))  # fmt: skip
    return train_model(request)


@pytest.mark.parametrize("values", [VALUES, {}], ids=["set", "defaults"])
def test_training_settings_rebuild_the_request(scene, values) -> None:
    request = train_request(str(scene.raster), str(scene.polygons), "class_name", values)
    recorded = training_settings(request)
    assert list(recorded) == [s.name for s in settings.TRAINING]
    assert recorded == settings.resolve(values, settings.TRAINING)  # max_per_class 0, not None
    again = train_request(str(scene.raster), str(scene.polygons), "class_name", recorded)
    assert again == request


def test_validation_report_names_what_produced_it(trained, scene, validation_layer, tmp_path):
    import torch

    report = tmp_path / "report.html"
    save_training_outputs(trained, tmp_path / "model.safetensors", report=report)
    part = section(report.read_text(encoding="utf-8"))
    assert html.escape(str(scene.raster)) in row(part, "Raster")
    assert row(part, "Bands") == "1: blue, 3: nir"
    assert html.escape(str(scene.polygons)) in row(part, "Training polygons")
    assert row(part, "Training polygon layer") == "training"  # found by opening the file
    assert row(part, "Class field") == "class_name"
    assert html.escape(str(validation_layer)) in row(part, "Validation polygons")
    assert row(part, "Validation polygon layer") == "checks"
    shown = row(part, "Settings").split("<br>")
    expected = settings.resolve(VALUES, settings.TRAINING)
    assert shown == [f"<code>{k}={html.escape(str(v))}</code>" for k, v in expected.items()]
    created = dt.datetime.fromisoformat(row(part, "Date and time"))
    assert created.tzinfo is not None, "local time with its UTC offset"
    assert row(part, "Land Cover MLP version") == metadata_version()
    assert row(part, "PyTorch version") == torch.__version__
    assert row(part, "Device") == "CPU"  # the device the network trained on

    data = json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))
    prov = data["provenance"]
    assert prov == {
        "raster": str(scene.raster),
        "bands": [{"band": 1, "name": "blue"}, {"band": 3, "name": "nir"}],
        "polygons": str(scene.polygons),
        "polygons_layer": "training",
        "class_field": "class_name",
        "validation_polygons": str(validation_layer),
        "validation_layer": "checks",
        "settings": expected,
        "created": prov["created"],
        "plugin_version": metadata_version(),
        "torch": torch.__version__,
        "device": "CPU",
    }
    assert dt.datetime.fromisoformat(prov["created"]) == created


def test_report_without_validation_names_what_produced_it(trained, scene, tmp_path):
    report = tmp_path / "report.html"
    result = replace(trained, report=None, n_validation=0)
    save_training_outputs(result, tmp_path / "model.safetensors", report=report)
    part = section(report.read_text(encoding="utf-8"))
    assert html.escape(str(scene.raster)) in row(part, "Raster")
    assert row(part, "Land Cover MLP version") == metadata_version()
    data = json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))
    assert data["overall_accuracy"] is None
    assert data["provenance"]["settings"] == settings.resolve(VALUES, settings.TRAINING)


def test_plugin_version_is_metadata_txt(monkeypatch, tmp_path, scene) -> None:
    """One version, read from metadata.txt, in the model header and every report."""
    from landcover_mlp.core import provenance
    from landcover_mlp.core.workflow import versions

    assert plugin_version() == metadata_version()
    other = tmp_path / "metadata.txt"
    other.write_text("[general]\nname=x\nversion=9.8.7\n", encoding="utf-8")
    monkeypatch.setattr(provenance, "METADATA", other)
    plugin_version.cache_clear()
    try:
        assert versions()["landcover_mlp"] == "9.8.7"
        prov = evaluation_provenance(scene.raster, scene.raster)
        assert prov["plugin_version"] == "9.8.7"
    finally:
        plugin_version.cache_clear()


def test_accuracy_report_names_the_map_and_its_reference(scene, scene_model, tmp_path):
    from landcover_mlp.core.prediction import classify_raster

    classified = classify_raster(scene.raster, scene_model, tmp_path / "map.tif").classified
    rep = evaluate(classified, scene.polygons, "class_name", all_touched=True)
    prov = evaluation_provenance(classified, scene.polygons, "class_name", all_touched=True)
    page = write_report_html(rep, tmp_path / "acc.html", provenance=prov)
    part = section(page.read_text(encoding="utf-8"))
    assert row(part, "Classified raster") == html.escape(str(classified))
    assert row(part, "Reference") == html.escape(str(scene.polygons))
    assert row(part, "Reference layer") == "training"
    assert row(part, "Class field") == "class_name"
    assert row(part, "Pixels taken from a polygon") == "all_touched"
    assert row(part, "Land Cover MLP version") == metadata_version()
    dt.datetime.fromisoformat(row(part, "Date and time"))
    data = json.loads(write_report_json(rep, tmp_path / "acc.json", provenance=prov).read_text())
    assert data["provenance"] == prov
    assert set(prov) == {"classified", "reference", "reference_layer", "class_field",
                         "pixel_rule", "created", "plugin_version"}  # fmt: skip
