"""The SCHEDULER parameter of classify and trainclassify: the windows classified by the workers
of a Dask cluster, the outputs written (and styled) by the Processing run as a local run does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsApplication, QgsProcessingException

from landcover_mlp.plugin import compat

pytestmark = pytest.mark.qgis_tier


@pytest.fixture(scope="module")
def scheduler() -> Any:
    """The address of a local Dask cluster of 2 worker processes, for the module."""
    from landcover_mlp.core.distributed import dask_client

    with dask_client(workers=2) as client:
        yield client.scheduler.address


def _read(path: str | Path) -> np.ndarray:
    return gdal.Open(str(path)).ReadAsArray()


@pytest.mark.parametrize("name", ["classify", "trainclassify"])
def test_the_scheduler_is_an_advanced_parameter_that_says_how_to_get_dask(
    provider: Any, name: str
) -> None:
    alg = QgsApplication.processingRegistry().algorithmById(f"landcover_mlp:{name}")
    param = alg.parameterDefinition("SCHEDULER")
    assert param is not None and param.flags() & compat.PARAMETER_ADVANCED
    assert re.search(r"pip install( --\S+)* dask==", param.help()) and param.defaultValue() == ""


def test_classify_on_a_cluster_equals_the_local_map(
    scene_run: Any, sample_scene: Any, run_alg: Any, recording_feedback: Any, scheduler: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    feedback = recording_feedback()
    out = run_alg("classify", {
        "RASTER": str(sample_scene.raster), "MODEL": scene_run.results["MODEL"],
        "CLASSIFIED": str(tmp_path / "map.tif"), "CONFIDENCE": str(tmp_path / "confidence.tif"),
        "DEVICE": 1, "SCHEDULER": scheduler,
    }, feedback)  # fmt: skip
    np.testing.assert_array_equal(_read(out["CLASSIFIED"]), _read(scene_run.path("CLASSIFIED")))
    np.testing.assert_allclose(
        _read(out["CONFIDENCE"]), _read(scene_run.path("CONFIDENCE")), atol=1e-6
    )
    assert (tmp_path / "map.qml").is_file()  # styled as a local run's
    assert any(m.startswith("Classifying on the Dask cluster at ") for m in feedback.infos)


def test_trainclassify_on_a_cluster_classifies_with_the_model_it_saved(
    sample_scene: Any, run_alg: Any, scheduler: str, tmp_path: Path
) -> None:
    out = run_alg("trainclassify", {
        "RASTER": str(sample_scene.raster), "POLYGONS": str(sample_scene.polygons),
        "CLASS_FIELD": sample_scene.class_field, "EPOCHS": 3, "DEVICE": 1,
        "MODEL": str(tmp_path / "model.safetensors"), "CLASSIFIED": str(tmp_path / "cluster.tif"),
        "SCHEDULER": scheduler,
    })  # fmt: skip
    local = run_alg("classify", {
        "RASTER": str(sample_scene.raster), "MODEL": out["MODEL"], "DEVICE": 1,
        "CLASSIFIED": str(tmp_path / "local.tif"),
    })  # fmt: skip
    np.testing.assert_array_equal(_read(out["CLASSIFIED"]), _read(local["CLASSIFIED"]))


def test_an_unreachable_scheduler_is_one_sentence(
    scene_run: Any, sample_scene: Any, run_alg: Any, tmp_path: Path
) -> None:
    import socket

    import dask

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(QgsProcessingException, match=f"Nothing listens at '{address}'"),
    ):
        run_alg("classify", {
            "RASTER": str(sample_scene.raster), "MODEL": scene_run.results["MODEL"],
            "CLASSIFIED": str(tmp_path / "map.tif"), "SCHEDULER": address,
        })  # fmt: skip
    assert list(tmp_path.iterdir()) == []
