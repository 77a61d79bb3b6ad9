"""Fixtures of the headless tier: a small synthetic scene and a model trained on it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

# Tiny batches on a small, busy machine: torch's intra-op threads only spin and wait (training
# that takes 0.1 s on one thread takes seconds on two). One thread keeps the tier fast; the
# variable also reaches the command-line subprocesses.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


WIDTH, HEIGHT = 64, 48
NODATA = -9999.0
BAND_NAMES = ("blue", "green", "nir")
# class value -> (name, colour, first column, end column, mean per band)
CLASS_STRIPES = {
    10: ("water", "#0000ff", 0, 21, (200.0, 300.0, 100.0)),
    20: ("forest", "#00aa00", 21, 43, (400.0, 500.0, 1500.0)),
    30: ("urban", "#ff0000", 43, 64, (900.0, 800.0, 1000.0)),
}
# polygons as integer pixel boxes (col0, row0, col1, row1), inset by a quarter pixel when drawn
POLYGON_BOXES = (
    (10, (1, 1, 10, 10)),
    (10, (2, 20, 12, 30)),
    (10, (5, 35, 15, 45)),
    (20, (23, 2, 33, 12)),
    (20, (25, 20, 40, 28)),
    (20, (30, 34, 40, 44)),
    (30, (45, 3, 55, 13)),
    (30, (48, 20, 60, 30)),
    (30, (50, 34, 62, 46)),
)
NODATA_BOX = (2, 2, 10, 8)  # cols 2..9, rows 2..7: under the first water polygon


@dataclass(frozen=True)
class Scene:
    """A 64 x 48, 3-band Float32 scene of three class stripes with nine box polygons."""

    raster: Path
    polygons: Path
    data: np.ndarray  # (bands, rows, cols) as written
    truth: np.ndarray  # class value of every pixel
    valid: np.ndarray  # False on the nodata box
    width: int = WIDTH
    height: int = HEIGHT
    nodata: float = NODATA
    band_names: tuple[str, ...] = BAND_NAMES
    classes: tuple[tuple[int, str, str], ...] = tuple(
        (v, name, colour) for v, (name, colour, *_) in CLASS_STRIPES.items()
    )
    boxes: tuple[tuple[int, tuple[int, int, int, int]], ...] = POLYGON_BOXES
    nodata_box: tuple[int, int, int, int] = NODATA_BOX

    def truth_as(self, classes) -> np.ndarray:
        """The truth map in the values of ``classes`` (matched by class name)."""
        by_name = {c.name: c.value for c in classes}
        out = np.zeros_like(self.truth)
        for value, name, _ in self.classes:
            out[self.truth == value] = by_name[name]
        return out

    @staticmethod
    def box_mask(box: tuple[int, int, int, int]) -> np.ndarray:
        c0, r0, c1, r1 = box
        mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
        mask[r0:r1, c0:c1] = True
        return mask


def make_scene(folder: Path, make_raster, make_polygons, rect, seed: int = 0) -> Scene:
    rng = np.random.default_rng(seed)
    data = np.empty((3, HEIGHT, WIDTH), dtype=np.float32)
    truth = np.zeros((HEIGHT, WIDTH), dtype=np.int32)
    for value, (_, _, c0, c1, mean) in CLASS_STRIPES.items():
        truth[:, c0:c1] = value
        for b in range(3):
            data[b, :, c0:c1] = mean[b] + rng.normal(0, 80, size=(HEIGHT, c1 - c0))
    valid = ~Scene.box_mask(NODATA_BOX)
    data[:, ~valid] = NODATA
    raster = make_raster(folder / "scene.tif", data, nodata=NODATA, band_names=BAND_NAMES)
    features = [
        (
            rect(box[0] + 0.25, box[1] + 0.25, box[2] - 0.25, box[3] - 0.25),
            {
                "class_id": value,
                "class_name": CLASS_STRIPES[value][0],
                "colour": CLASS_STRIPES[value][1],
            },
        )
        for value, box in POLYGON_BOXES
    ]
    polygons = make_polygons(folder / "scene.gpkg", features)
    return Scene(raster, polygons, data, truth, valid)


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
