"""The command line's jobs in the default suite, on the small generated scene (64 x 48 px, nine
polygons) so that each run takes seconds: ``train`` as a user runs it (a real
``python -m landcover_mlp.core`` subprocess), then ``classify``, ``evaluate`` and ``tune``
in-process through :func:`core.cli.main`. Each test reads the files a user gets back.
(test_cli.py's Landsat run of the same commands is marked slow.)"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from sklearn import metrics

from landcover_mlp.core.cli import main
from landcover_mlp.core.model_io import load_model

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 6
TRAINING = ("--epochs", str(EPOCHS), "--hidden-layers", "8", "--batch-size", "64",
            "--seed", "1", "--device", "cpu")  # fmt: skip


@pytest.fixture(scope="module")
def trained(scene, tmp_path_factory: pytest.TempPathFactory):
    """``train`` run once as a subprocess; (folder, completed process)."""
    folder = tmp_path_factory.mktemp("cli_train")
    env = dict(os.environ, PYTHONPATH=str(REPO / "build" / "plugins"), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "landcover_mlp.core", "-q", "train",
         "--raster", str(scene.raster), "--polygons", str(scene.polygons),
         "--class-field", "class_name", *TRAINING, "--model", str(folder / "scene.safetensors")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    return folder, proc


@pytest.fixture(scope="module")
def classified(scene, trained, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``classify`` in-process with the trained model; the class raster's path."""
    folder, _ = trained
    out = tmp_path_factory.mktemp("cli_classify") / "classes.tif"
    status = main(["-q", "classify", "--raster", str(scene.raster),
                   "--model", str(folder / "scene.safetensors"), "--output", str(out),
                   "--confidence", "--device", "cpu"])  # fmt: skip
    assert status == 0
    return out


def test_train_writes_the_model_loss_curves_and_report(trained) -> None:
    folder, proc = trained
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert {p.name for p in folder.iterdir()} == {
        "scene.safetensors", "scene_loss.png", "scene_loss.csv",
        "scene_report.html", "scene_report.json",
    }  # fmt: skip
    for name in ("scene.safetensors", "scene_loss.png", "scene_report.html"):
        assert str(folder / name) in proc.stdout, name
    model = load_model(folder / "scene.safetensors")
    assert [c.name for c in model.classes] == ["forest", "urban", "water"]
    assert model.model.hidden_layers == (8,) and len(model.history) == EPOCHS

    assert (folder / "scene_loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(folder / "scene_loss.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == list(range(1, EPOCHS + 1))
    for row, record in zip(rows, model.history):  # the curves are the model's history
        for key in ("train_loss", "val_loss", "final_train_loss"):
            assert float(row[key]) == record[key], key

    report = json.loads((folder / "scene_report.json").read_text(encoding="utf-8"))
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (3, 3) and matrix.sum() == report["n_pixels"] > 0
    assert report["overall_accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert report["overall_accuracy"] == model.metrics["overall_accuracy"] > 0.9
    assert "Rows are the reference" in (folder / "scene_report.html").read_text(encoding="utf-8")


def test_classify_writes_the_map_and_its_confidence(scene, trained, classified: Path) -> None:
    folder, _ = trained
    model = load_model(folder / "scene.safetensors")
    ds = gdal.Open(str(classified))
    band = ds.GetRasterBand(1)
    values, nodata = band.ReadAsArray(), band.GetNoDataValue()
    assert nodata == 0 and (values[~scene.valid] == 0).all()
    truth = scene.truth_as(model.classes)
    assert (values[scene.valid] == truth[scene.valid]).mean() > 0.9
    confidence = gdal.Open(str(classified.with_name("classes_confidence.tif"))).ReadAsArray()
    assert (confidence[~scene.valid] == -1).all()
    assert ((confidence[scene.valid] > 0) & (confidence[scene.valid] <= 1)).all()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, make_polygons, rect) -> Path:
    """Reference polygons, one per class stripe, whose edges cut pixels (the rules differ)."""
    return make_polygons(tmp_path_factory.mktemp("cli_reference") / "reference.gpkg", [
        (rect(12.6, 1.3, 19.4, 9.7), {"class_id": 10, "class_name": "water"}),
        (rect(23.6, 14.3, 40.4, 19.7), {"class_id": 20, "class_name": "forest"}),
        (rect(44.6, 14.3, 62.4, 19.7), {"class_id": 30, "class_name": "urban"}),
    ])  # fmt: skip


@pytest.mark.parametrize("rule", ["centre", "all_touched"])
def test_evaluate_reports_the_matrix_of_the_reference_pixels(
    rule: str, scene, classified: Path, reference: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], gdal_rasterize,
) -> None:  # fmt: skip
    """The report's matrix is the one of the pixels GDAL burns under the pixel rule."""
    report = tmp_path / "accuracy.json"
    status = main(["-q", "evaluate", "--classified", str(classified),
                   "--reference", str(reference), "--class-field", "class_name",
                   "--pixel-rule", rule,
                   "--report", str(report), "--html", str(tmp_path / "accuracy.html")])  # fmt: skip
    assert status == 0
    data = json.loads(report.read_text(encoding="utf-8"))
    assert f"Overall accuracy {data['overall_accuracy']:.1%}" in capsys.readouterr().out
    # the expected matrix from GDAL's own rasterisation of the polygons
    names = {value: name for value, name, _ in scene.classes}
    value_of = {c["name"]: c["value"] for c in data["classes"]}
    burnt = gdal_rasterize(classified, reference, "class_id", rule == "all_touched")
    other = gdal_rasterize(classified, reference, "class_id", rule != "all_touched")
    assert (burnt > 0).sum() != (other > 0).sum()
    predicted = gdal.Open(str(classified)).ReadAsArray()
    keep = (burnt > 0) & (predicted != 0)
    reference = np.array([value_of[names[v]] for v in burnt[keep]])
    labels = [c["value"] for c in data["classes"]]
    expected = metrics.confusion_matrix(reference, predicted[keep], labels=labels)
    assert data["confusion_matrix"] == expected.tolist()
    assert data["n_pixels"] == int(keep.sum())
    assert (tmp_path / "accuracy.html").is_file()


def test_tune_saves_the_model_retrained_with_the_best_settings(
    scene, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path = tmp_path / "tuned.safetensors"
    status = main(["-q", "tune", "--raster", str(scene.raster), "--polygons", str(scene.polygons),
                   "--class-field", "class_name", "--epochs", "4", "--batch-size", "64",
                   "--device", "cpu", "--search-hidden-layers", "4;8",
                   "--search-learning-rates", "0.05", "--search-momentums", "0.9",
                   "--folds", "2", "--time-budget", "0", "--model", str(model_path)])  # fmt: skip
    assert status == 0
    assert f"Model retrained with it: {model_path}" in capsys.readouterr().out
    assert {p.name for p in tmp_path.iterdir()} == {
        "tuned.safetensors", "tuned_search.csv", "tuned_search.html", "tuned_search.json",
    }  # fmt: skip
    summary = json.loads((tmp_path / "tuned_search.json").read_text(encoding="utf-8"))
    with open(tmp_path / "tuned_search.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["hidden_layers"] for r in rows) == ["4", "8"]
    model = load_model(model_path)
    assert list(model.model.hidden_layers) == summary["best_model"]["hidden_layers"]
    assert rows[0]["hidden_layers"] == ",".join(map(str, model.model.hidden_layers))
    assert model.training["learning_rate"] == 0.05
    assert [c.name for c in model.classes] == ["forest", "urban", "water"]
