"""End to end through the real command-line client, ``qgis_process`` (a separate QGIS).

qgis_process loads only *enabled* plugins found on QGIS_PLUGINPATH; each test gets a fresh
profile (QGIS_CUSTOM_CONFIG_PATH) whose QGIS3.ini enables landcover_mlp, and torch reaches
QGIS's Python through PYTHONPATH (see conftest.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from osgeo import gdal

pytestmark = pytest.mark.qgis_tier

ALGORITHMS = ("train", "classify", "trainclassify", "evaluate")


def test_plugins_enable_and_list(qgis_process: Any) -> None:
    """The official route: ``qgis_process plugins enable landcover_mlp`` in an empty profile,
    then ``list`` shows the algorithms."""
    qp = qgis_process
    (qp.config_dir / "profiles" / "default" / "QGIS" / "QGIS3.ini").unlink()
    before = qp("list")
    assert before.returncode == 0, qp.explain(before)
    assert "landcover_mlp:" not in before.stdout, "a disabled plugin stays unloaded"
    enabled = qp("plugins", "enable", "landcover_mlp")
    assert enabled.returncode == 0, qp.explain(enabled)
    assert "* landcover_mlp" in enabled.stdout
    listed = qp("list")
    assert listed.returncode == 0, qp.explain(listed)
    for name in ALGORITHMS:
        assert f"landcover_mlp:{name}" in listed.stdout


def test_help_shows_parameters(qgis_process: Any) -> None:
    proc = qgis_process("help", "landcover_mlp:trainclassify")
    assert proc.returncode == 0, qgis_process.explain(proc)
    for key in ("RASTER", "BANDS", "POLYGONS", "CLASS_FIELD", "EPOCHS", "MODEL", "CLASSIFIED"):
        assert key in proc.stdout


def test_trainclassify_landsat(qgis_process: Any, landsat7: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = qgis_process.run(
        "trainclassify",
        RASTER=landsat7.raster,
        BANDS=[1, 2, 3, 4, 5, 6, 7],  # a multi-value parameter repeats its key
        POLYGONS=landsat7.polygons,
        CLASS_FIELD="class_name",
        EPOCHS=40,
        MODEL=out / "model.safetensors",
        CLASSIFIED=out / "classes.tif",
        CONFIDENCE=out / "confidence.tif",
        REPORT=out / "report.html",
        LOSS_CURVE=out / "loss.png",
    )
    assert proc.returncode == 0, qgis_process.explain(proc)
    assert "OVERALL_ACCURACY" in proc.stdout
    results = qgis_process.results_of(proc.stdout)
    # one polygon-grouped split of landsat7_ogt: see test_processing.LANDSAT_OA_FLOOR
    assert float(results["OVERALL_ACCURACY"]) > 0.75, qgis_process.explain(proc)
    assert 0.0 < float(results["KAPPA"]) <= 1.0
    for name in ("model.safetensors", "classes.tif", "classes.qml", "confidence.tif",
                 "report.html", "loss.png"):  # fmt: skip
        assert (out / name).is_file(), name
    assert Path(results["CLASSIFIED"]) == out / "classes.tif"
    assert "Epoch 1: training loss" in proc.stdout, "per-epoch losses reach the log"
    ds = gdal.Open(str(out / "classes.tif"))
    band = ds.GetRasterBand(1)
    band.GetNoDataValue()  # GDAL 3.6 reads the .aux.xml only after a first other call
    names = [n for n in band.GetCategoryNames() or [] if n]
    assert names == ["barren", "forest", "herbaceous", "urban", "water"]
    from landcover_mlp.core.model_io import load_model

    assert load_model(out / "model.safetensors").bands == (1, 2, 3, 4, 5, 6, 7)


def test_bad_input_exits_non_zero_with_the_reason(
    qgis_process: Any, landsat7: Any, tmp_path: Path
) -> None:
    model = tmp_path / "broken.safetensors"
    model.write_bytes(b"not a model" * 20)
    proc = qgis_process.run(
        "classify", RASTER=landsat7.raster, MODEL=model, CLASSIFIED=tmp_path / "map.tif"
    )
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "'broken.safetensors' is not a Land Cover MLP model file" in text
    assert "Traceback" not in text, "a user sees the sentence, not a Python traceback"
    assert not (tmp_path / "map.tif").exists()
