"""The headless tier's synthetic scene: a 64 x 48, 3-band raster of three class stripes and
nine box polygons (a module of its own, so test files import it by a name no other folder's
module has: ``from conftest import`` meets whichever folder's conftest pytest loaded last when
one run collects files of several folders)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
