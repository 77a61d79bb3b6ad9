"""Decision regions on the small generated scene: the PNG is written, the region grid holds
the classes the model (and the perceptron) assign at the grid's points, the other bands sit at
the model's training mean, and a band the model does not read is refused in a sentence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from landcover_mlp.core.errors import LandCoverError
from landcover_mlp.core.explain import (
    band_columns,
    decision_regions,
    explain_samples,
    parse_plot_bands,
    train_perceptron,
)
from landcover_mlp.core.model_io import save_model
from landcover_mlp.core.network import layer_count, state_probabilities

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLUGINS = Path(__file__).resolve().parents[2] / "build" / "plugins"
SIZE = 30


@pytest.fixture(scope="module")
def regions(scene: Any, scene_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Decision regions of the scene's model on bands 3 (horizontal) and 1 (vertical)."""
    out = tmp_path_factory.mktemp("explain") / "regions.png"
    return decision_regions(scene_model, str(scene.raster), str(scene.polygons), "class_name",
                            (3, 1), out, size=SIZE)  # fmt: skip


def expected_classes(model: Any, points: np.ndarray) -> np.ndarray:
    """The classes the network itself (torch, not the predictor) gives ``points``."""
    return state_probabilities(model.state, model.model, points).argmax(1).reshape(SIZE, SIZE)


def test_the_png_is_written(regions: Any) -> None:
    assert regions.path.read_bytes()[:8] == PNG_MAGIC
    assert regions.plot_bands == (3, 1)
    assert regions.n_pixels > 100


def test_the_grid_holds_the_models_classes_at_its_points(regions: Any, scene_model: Any) -> None:
    grid = regions.mlp
    assert grid.classes.shape == (SIZE, SIZE) and grid.points.shape == (SIZE * SIZE, 3)
    points = grid.points.reshape(SIZE, SIZE, 3)
    # row i has the vertical band's (band 1, column 0) value i, column j the horizontal's
    # (band 3, column 2) value j; band 2 sits at the model's training mean (standardised 0)
    assert np.allclose(points[:, :, 2], grid.x_values[None, :].astype(np.float32))
    assert np.allclose(points[:, :, 0], grid.y_values[:, None].astype(np.float32))
    assert np.all(points[:, :, 1] == np.float32(scene_model.state["mean"][1]))
    assert np.all(np.diff(grid.x_values) > 0) and np.all(np.diff(grid.y_values) > 0)
    np.testing.assert_array_equal(grid.classes, expected_classes(scene_model, grid.points))
    assert len(np.unique(grid.classes)) >= 2  # the plane crosses a boundary


def test_the_perceptrons_grid_is_its_own_classes(regions: Any, scene_model: Any) -> None:
    perceptron = regions.perceptron_model
    assert perceptron.model.hidden_layers == () and layer_count(perceptron.state) == 1
    np.testing.assert_array_equal(regions.perceptron.points, regions.mlp.points)
    np.testing.assert_array_equal(regions.perceptron.classes,
                                  expected_classes(perceptron, regions.perceptron.points))  # fmt: skip
    assert 0.9 < regions.perceptron_accuracy <= 1 and 0.9 < regions.mlp_accuracy <= 1


def test_the_perceptron_is_seeded(scene: Any, scene_model: Any) -> None:
    samples = explain_samples(scene_model, str(scene.raster), str(scene.polygons), "class_name")
    first, again = (train_perceptron(scene_model, samples).state for _ in range(2))
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])


def test_a_band_the_model_does_not_read_is_refused(scene_model: Any, tmp_path: Path) -> None:
    with pytest.raises(LandCoverError) as caught:
        decision_regions(scene_model, "none.tif", "none.gpkg", "class_name", (1, 5),
                         tmp_path / "x.png")  # fmt: skip
    assert str(caught.value) == (
        "Band 5 is not one the model uses: choose two of its bands 1, 2, 3."
    )
    assert band_columns(scene_model, (3, 1)) == (2, 0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", ["3", "3,3", "1,2,3", "a,b"])
def test_plot_bands_must_be_two_different_bands(text: str) -> None:
    with pytest.raises(LandCoverError, match="band number"):
        parse_plot_bands(text)


def test_command_line(scene: Any, scene_model: Any, tmp_path: Path) -> None:
    model = save_model(scene_model, tmp_path / "model.safetensors")
    base = [sys.executable, "-m", "landcover_mlp.core", "-q", "explain", "--model", str(model),
            "--raster", str(scene.raster), "--polygons", str(scene.polygons), "--class-field",
            "class_name", "--output", str(tmp_path / "regions.png")]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PLUGINS), "OMP_NUM_THREADS": "1"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], capture_output=True, text=True, env=env,
                              timeout=300, check=False)  # fmt: skip

    refused = run("--plot-bands", "2,4")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (
        "error: Band 4 is not one the model uses: choose two of its bands 1, 2, 3."
    )
    assert not (tmp_path / "regions.png").exists()
    done = run("--plot-bands", "1,3")
    assert done.returncode == 0, done.stderr
    assert f"Decision regions: {tmp_path / 'regions.png'}" in done.stdout
    assert (tmp_path / "regions.png").read_bytes()[:8] == PNG_MAGIC
