"""The command line, run as a user would: ``python -m landcover_mlp.core ...`` in a subprocess."""

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

REPO = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "build" / "plugins")
    env["OMP_NUM_THREADS"] = "1"  # same arithmetic on every machine: a deterministic model
    return subprocess.run(
        [sys.executable, "-m", "landcover_mlp.core", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


def _assert_clean_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1] == errors[0]
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize(
    "command, options",
    [
        ("train", ["--raster", "--polygons", "--class-field", "--bands", "--epochs", "--model"]),
        ("classify", ["--raster", "--model", "--output", "--confidence", "--probabilities"]),
        ("evaluate", ["--classified", "--reference", "--class-field", "--report", "--html"]),
    ],
)
def test_help(command, options):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage:")
    for opt in options:
        assert opt in proc.stdout
    assert proc.stderr == ""


def test_top_level_help_lists_commands():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for command in ("train", "classify", "evaluate"):
        assert command in proc.stdout


@pytest.mark.slow
def test_train_classify_evaluate_landsat(landsat7, tmp_path):
    model = tmp_path / "model.safetensors"
    train = run_cli(
        "-q", "train",
        "--raster", str(landsat7.raster), "--bands", "1-7",
        "--polygons", str(landsat7.polygons), "--class-field", "class_name",
        "--epochs", "60", "--patience", "0", "--seed", "2", "--device", "cpu",
        "--model", str(model),
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    assert "Traceback" not in train.stderr
    files = {p.name for p in tmp_path.iterdir()}
    expected = {
        "model.safetensors",
        "model_loss.png",
        "model_loss.csv",
        "model_report.html",
        "model_report.json",
    }
    assert files == expected
    assert (tmp_path / "model_loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.reader((tmp_path / "model_loss.csv").open(encoding="utf-8")))
    assert len(rows) == 61
    validation = json.loads((tmp_path / "model_report.json").read_text())
    assert [c["name"] for c in validation["classes"]] == [
        "barren",
        "forest",
        "herbaceous",
        "urban",
        "water",
    ]
    assert "no polygon on both sides" in validation["method"]
    assert "Rows are the reference" in (tmp_path / "model_report.html").read_text()

    classified = tmp_path / "class.tif"
    confidence = tmp_path / "conf.tif"
    classify = run_cli(
        "-q", "classify", "--raster", str(landsat7.raster), "--model", str(model),
        "--output", str(classified), "--confidence", str(confidence), "--device", "cpu",
    )  # fmt: skip
    assert classify.returncode == 0, classify.stderr
    assert classified.exists() and confidence.exists()
    ds = gdal.Open(str(classified))
    assert (ds.RasterXSize, ds.RasterYSize) == (250, 250)
    band = ds.GetRasterBand(1)
    arr = band.ReadAsArray()
    assert set(np.unique(arr).tolist()) <= {0, 1, 2, 3, 4, 5}
    assert len(np.unique(arr[arr > 0])) >= 4

    report = tmp_path / "evaluation.json"
    evaluate = run_cli(
        "-q", "evaluate", "--classified", str(classified),
        "--reference", str(landsat7.polygons), "--class-field", "class_name",
        "--report", str(report), "--html", str(tmp_path / "evaluation.html"),
    )  # fmt: skip
    assert evaluate.returncode == 0, evaluate.stderr
    data = json.loads(report.read_text())
    assert data["n_pixels"] == 718
    assert data["overall_accuracy"] > 0.85
    assert {"kappa", "confusion_matrix", "classes", "precision", "recall", "f1"} <= data.keys()
    assert "Overall accuracy" in evaluate.stdout
    assert (tmp_path / "evaluation.html").exists()
    assert not [p for p in tmp_path.iterdir() if ".part-" in p.name]

    # the 2002 image: same grid and bands, the same model classifies it
    later = run_cli(
        "-q", "classify", "--raster", str(landsat7.raster_2002), "--model", str(model),
        "--output", str(tmp_path / "class2002.tif"), "--device", "cpu",
    )  # fmt: skip
    assert later.returncode == 0, later.stderr


def test_missing_raster_file(landsat7, tmp_path):
    proc = run_cli(
        "-q", "train", "--raster", str(tmp_path / "missing.tif"),
        "--polygons", str(landsat7.polygons), "--class-field", "class_name",
        "--epochs", "2", "--model", str(tmp_path / "m.safetensors"),
    )  # fmt: skip
    assert proc.returncode == 2
    _assert_clean_error(proc, "missing.tif", "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_unknown_class_field(landsat7, tmp_path):
    proc = run_cli(
        "-q", "train", "--raster", str(landsat7.raster),
        "--polygons", str(landsat7.polygons), "--class-field", "landuse",
        "--epochs", "2", "--model", str(tmp_path / "m.safetensors"),
    )  # fmt: skip
    assert proc.returncode == 2
    _assert_clean_error(proc, "landuse", "class_id", "class_name")
    assert list(tmp_path.iterdir()) == []


def test_bad_band_list_and_model(landsat7, tmp_path):
    proc = run_cli(
        "-q", "train", "--raster", str(landsat7.raster), "--bands", "1-9",
        "--polygons", str(landsat7.polygons), "--class-field", "class_name",
        "--epochs", "2", "--model", str(tmp_path / "m.safetensors"),
    )  # fmt: skip
    _assert_clean_error(proc, "9")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04junk")
    proc = run_cli(
        "-q", "classify", "--raster", str(landsat7.raster), "--model", str(junk),
        "--output", str(tmp_path / "out.tif"),
    )  # fmt: skip
    _assert_clean_error(proc, "junk.safetensors")
    assert not (tmp_path / "out.tif").exists()


def test_evaluate_report_names_what_it_compared(landsat7, tmp_path):
    """Issue 13 item 8: a report must say which map, which reference and which version."""
    report, page = tmp_path / "r.json", tmp_path / "r.html"
    proc = run_cli(
        "-q", "evaluate", "--classified", str(landsat7.author_labels),
        "--reference", str(landsat7.polygons), "--class-field", "class_id",
        "--report", str(report), "--html", str(page),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    provenance = json.loads(report.read_text())["provenance"]
    assert provenance["classified"] == str(landsat7.author_labels)
    assert provenance["reference"] == str(landsat7.polygons)
    assert provenance["class_field"] == "class_id" and provenance["pixel_rule"] == "centre"
    assert provenance["plugin_version"] and provenance["created"]
    text = page.read_text()
    assert "Provenance" in text and landsat7.polygons.name in text


def test_evaluate_bad_reference(landsat7, tmp_path):
    proc = run_cli(
        "-q", "evaluate", "--classified", str(landsat7.author_labels),
        "--reference", str(tmp_path / "nothing.tif"), "--report", str(tmp_path / "r.json"),
    )  # fmt: skip
    _assert_clean_error(proc, "nothing.tif")
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--learning-rate", "abc"], "Learning rate must be a number; got 'abc'"),
     (["--dropout", "nan"], "Dropout must be between 0 and 0.9; got nan"),
     (["--validation-share", "nan"], "Validation share of polygons must be between"),
     (["--epochs", "2.5"], "Epochs must be a whole number"),
     (["--activation", "swish"], "Activation must be one of relu, tanh, sigmoid")],
)  # fmt: skip
def test_bad_setting_is_one_sentence_before_any_work(capsys, tmp_path, args, message):
    """Wrong types, NaN and out-of-range values get the settings table's sentence on one
    line, exit 2, and nothing is read or written (the raster does not even exist)."""
    from landcover_mlp.core.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--raster", str(tmp_path / "none.tif"), "--polygons", "p.gpkg",
              "--class-field", "c", "--model", str(tmp_path / "m.safetensors"), *args])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--hidden-layers", "64,,64"], "empty entry between commas"),
     (["--search-hidden-layers", "8;;16"], "empty set between ';'")],
)  # fmt: skip
def test_empty_list_entries_are_refused(capsys, tmp_path, args, message):
    """'64,,64' could mean 64,64 or a typo: refused with a sentence, never read silently."""
    from landcover_mlp.core.cli import main

    status = main(["tune", "--raster", str(tmp_path / "none.tif"), "--polygons", "p.gpkg",
                   "--class-field", "c", "--model", str(tmp_path / "m.safetensors"), *args])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2 and message in err
    assert not list(tmp_path.iterdir())
