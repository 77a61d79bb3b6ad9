"""Fixtures of the headless tier: a small synthetic scene and a model trained on it."""

from __future__ import annotations

import os

import pytest
from synthetic_scene import (  # noqa: F401 - re-exported for the fixtures' users
    BAND_NAMES,
    CLASS_STRIPES,
    HEIGHT,
    NODATA,
    NODATA_BOX,
    POLYGON_BOXES,
    WIDTH,
    Scene,
    make_scene,
)

# Tiny batches on a small, busy machine: torch's intra-op threads only spin and wait (training
# that takes 0.1 s on one thread takes seconds on two). One thread keeps the tier fast; the
# variable also reaches the command-line subprocesses.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def scene(tmp_path_factory: pytest.TempPathFactory, make_raster, make_polygons, rect) -> Scene:
    return make_scene(tmp_path_factory.mktemp("scene"), make_raster, make_polygons, rect)


@pytest.fixture(scope="session")
def scene_model(scene: Scene):
    """A LandCoverModel trained (quickly, on CPU) on the synthetic scene's class_name field.

    Text classes are sorted by name: 1 = forest, 2 = urban, 3 = water.
    """
    from landcover_mlp.core.config import (
        ModelConfig,
        SamplingConfig,
        SplitConfig,
        TrainingConfig,
        TrainRequest,
    )
    from landcover_mlp.core.workflow import train_model

    request = TrainRequest(
        raster=str(scene.raster),
        polygons=str(scene.polygons),
        sampling=SamplingConfig("class_name"),
        split=SplitConfig(0.34, seed=1),
        model=ModelConfig((16,), "relu"),
        training=TrainingConfig(epochs=20, patience=0, seed=3, device="cpu", batch_size=64),
    )
    return train_model(request).model
