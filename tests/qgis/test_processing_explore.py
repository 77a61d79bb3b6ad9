"""The teaching algorithms through ``processing.run`` on the generated sample scene:
``landcover_mlp:explore`` writes every run's loss curves (PNG and CSV) and
``landcover_mlp:explain`` the decision regions of a model and a perceptron; bad values are
refused with the core's sentence."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from qgis.core import QgsProcessingException

pytestmark = pytest.mark.qgis_tier

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_explore_writes_every_run(run_alg: Any, sample_scene: Any, tmp_path: Path,
                                  recording_feedback: Any) -> None:  # fmt: skip
    feedback = recording_feedback()
    results = run_alg("explore", {
        "RASTER": str(sample_scene.raster),
        "POLYGONS": str(sample_scene.polygons),
        "CLASS_FIELD": sample_scene.class_field,
        "LEARNING_RATES": "10,0.1",
        "MOMENTUMS": "0,0.9",
        "EPOCHS": 8,
        "HIDDEN_LAYERS": "16",
        "DEVICE": 1,  # cpu
        "OUTPUT_DIR": str(tmp_path / "explore"),
    }, feedback)  # fmt: skip
    assert Path(results["PNG"]) == tmp_path / "explore" / "explore.png"
    assert Path(results["PNG"]).read_bytes()[:8] == PNG_MAGIC
    with open(results["CSV"], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    runs = {(r["learning_rate"], r["momentum"]) for r in rows}
    assert runs == {("10.0", "0.0"), ("10.0", "0.9"), ("0.1", "0.0"), ("0.1", "0.9")}
    assert [int(r["epoch"]) for r in rows if r["learning_rate"] == "0.1"] == [*range(1, 9)] * 2
    run_lines = [m for m in feedback.infos if m.startswith("lr ")]
    assert len(run_lines) == 4  # one line per run in the log
    assert 0 <= results["CONVERGED"] <= 4


def test_explore_refuses_a_bad_grid(run_alg: Any, sample_scene: Any, tmp_path: Path) -> None:
    with pytest.raises(QgsProcessingException, match="Momentum must be between 0 and 0.999"):
        run_alg("explore", {
            "RASTER": str(sample_scene.raster), "POLYGONS": str(sample_scene.polygons),
            "CLASS_FIELD": sample_scene.class_field, "MOMENTUMS": "0.5,2",
            "OUTPUT_DIR": str(tmp_path / "explore"),
        })  # fmt: skip
    assert not (tmp_path / "explore").exists()


@pytest.fixture(scope="module")
def scene_model(sample_scene: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model of bands 1-4 of the sample scene (one network, 20 epochs), saved."""
    from landcover_mlp.core.config import train_request
    from landcover_mlp.core.model_io import save_model
    from landcover_mlp.core.workflow import train_model

    request = train_request(str(sample_scene.raster), str(sample_scene.polygons),
                            sample_scene.class_field,
                            {"hidden_layers": "16", "ensemble": 1, "epochs": 20,
                             "device": "cpu", "validation_share": 0},
                            bands=(1, 2, 3, 4))  # fmt: skip
    path = tmp_path_factory.mktemp("explain") / "model.safetensors"
    return save_model(train_model(request).model, path)


def test_explain_draws_the_regions(run_alg: Any, sample_scene: Any, scene_model: Path,
                                   tmp_path: Path) -> None:  # fmt: skip
    results = run_alg("explain", {
        "MODEL": str(scene_model),
        "RASTER": str(sample_scene.raster),
        "POLYGONS": str(sample_scene.polygons),
        "CLASS_FIELD": sample_scene.class_field,
        "PLOT_BANDS": [3, 4],
        "OUTPUT": str(tmp_path / "regions.png"),
    })  # fmt: skip
    assert results["OUTPUT"] == str(tmp_path / "regions.png")
    assert (tmp_path / "regions.png").read_bytes()[:8] == PNG_MAGIC
    assert 0.5 < results["PERCEPTRON_ACCURACY"] <= 1 and 0.5 < results["MODEL_ACCURACY"] <= 1


@pytest.mark.parametrize(("bands", "words"), [
    ([3, 6], "Band 6 is not one the model uses: choose two of its bands 1, 2, 3, 4."),
    ([3], "Give two different band numbers"),
])  # fmt: skip
def test_explain_refuses_bands_in_a_sentence(run_alg: Any, sample_scene: Any, scene_model: Path,
                                             tmp_path: Path, bands: list[int], words: str) -> None:  # fmt: skip
    with pytest.raises(QgsProcessingException, match=words):
        run_alg("explain", {
            "MODEL": str(scene_model), "RASTER": str(sample_scene.raster),
            "POLYGONS": str(sample_scene.polygons), "CLASS_FIELD": sample_scene.class_field,
            "PLOT_BANDS": bands, "OUTPUT": str(tmp_path / "regions.png"),
        })  # fmt: skip
    assert not (tmp_path / "regions.png").exists()
