"""Decision regions: what a trained model decides on a plane of two bands, beside a perceptron.

The perceptron is trained on the same pixels: the picture of the course's "combining regions".

For two bands the model reads, a grid of their values covers the training pixels' range; every
other band is held at its training mean, the ``mean`` the model standardises its inputs with
(``(x - mean) / std`` inside the network, :class:`core.network.MLP`, folded into the first
layer by :class:`core.predictor.Predictor`): there its standardised value is 0. The model
classifies every grid point; so does a perceptron (no hidden layer, softmax output: a linear
classifier) trained on the fly on the same pixels with the model's own settings and seed. The
training pixels are drawn over both, coloured by class with the model's class colours.

The regions are a slice through the space of all the bands: a pixel whose other bands are far
from their mean can lie in another class's region of the slice and still be classified right.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .callbacks import Hooks
from .classes import hex_to_rgb
from .config import ModelConfig, SamplingConfig, TrainingConfig
from .errors import LandCoverError
from .fileio import check_writable, output_path
from .model_io import LandCoverModel
from .raster import parse_bands, raster_info
from .sampling import Samples, collect_samples

#: Grid points along each axis of the plot (200 x 200 = 40,000 pixels to classify).
GRID_SIZE = 200
#: The grid reaches this share of the pixels' range beyond their smallest and largest value.
MARGIN = 0.05
#: At most this many training pixels are drawn (a seeded draw): more hide the regions.
MAX_POINTS = 3000


def parse_plot_bands(text: str | Sequence[int]) -> tuple[int, int]:
    """Two different band numbers from "4,3" (horizontal axis first) or a sequence.

    Raises:
        LandCoverError: not exactly two different band numbers.
    """
    bands = tuple(int(b) for b in text) if not isinstance(text, str) else parse_bands(text)
    if not bands or len(bands) != 2 or bands[0] == bands[1]:
        raise LandCoverError(
            f"Give two different band numbers for the plot's axes, e.g. 4,3; got '{text}'."
        )
    return bands[0], bands[1]


def band_columns(model: LandCoverModel, plot_bands: tuple[int, int]) -> tuple[int, int]:
    """The model's input columns of two raster band numbers.

    Raises:
        LandCoverError: a band the model does not use.
    """
    for band in plot_bands:
        if band not in model.bands:
            raise LandCoverError(
                f"Band {band} is not one the model uses: choose two of its bands "
                f"{', '.join(map(str, model.bands))}."
            )
    return model.bands.index(plot_bands[0]), model.bands.index(plot_bands[1])


@dataclass(frozen=True)
class RegionGrid:
    """The classes a model assigns on a grid of two bands.

    Attributes:
        x_values: values of the horizontal band, (size,), increasing.
        y_values: values of the vertical band, (size,), increasing.
        points: the pixels classified, raw values (size * size, bands): row-major, point
            ``i * size + j`` has ``y_values[i]`` and ``x_values[j]``, every other band at its
            training mean.
        classes: class index of every point, (size, size): row i = ``y_values[i]``.
    """

    x_values: npt.NDArray[np.float64]
    y_values: npt.NDArray[np.float64]
    points: npt.NDArray[np.float32]
    classes: npt.NDArray[np.int64]


def grid_points(
    mean: npt.NDArray[Any],
    columns: tuple[int, int],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    size: int = GRID_SIZE,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float32]]:
    """(x values, y values, points) of a size x size grid; see :class:`RegionGrid`.

    Args:
        mean: training mean of every band the model reads, (bands,).
        columns: input columns of the horizontal and the vertical band.
        x_range: (low, high) of the horizontal band.
        y_range: (low, high) of the vertical band.
        size: points along each axis.
    """
    xs = np.linspace(x_range[0], x_range[1], size)
    ys = np.linspace(y_range[0], y_range[1], size)
    points = np.tile(np.asarray(mean, dtype=np.float32), (size * size, 1))
    gx, gy = np.meshgrid(xs, ys)  # (size, size): row = y, column = x
    points[:, columns[0]] = gx.ravel()
    points[:, columns[1]] = gy.ravel()
    return xs, ys, points


def region_grid(
    model: LandCoverModel,
    columns: tuple[int, int],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    size: int = GRID_SIZE,
    device: str = "cpu",
) -> RegionGrid:
    """The classes ``model`` assigns on the grid of :func:`grid_points`.

    Its other bands are held at the model's training mean (``state["mean"]``).
    """
    from .workflow import predict_samples

    xs, ys, points = grid_points(model.state["mean"], columns, x_range, y_range, size)
    classes = predict_samples(model, points, device).reshape(size, size)
    return RegionGrid(xs, ys, points, classes)


def explain_samples(
    model: LandCoverModel,
    raster: str,
    polygons: str,
    class_field: str,
    layer: str | None = None,
    hooks: Hooks | None = None,
) -> Samples:
    """The pixels under the polygons, sampled as for the model, with the model's classes.

    Sampled as for the model: its bands, pixel rule, cap and seed.

    Raises:
        LandCoverError: the raster lacks the model's bands, or the polygons hold a class the
            model does not know.
    """
    model.check_raster(raster_info(raster))
    from .evaluation import refuse_numbers_for_names
    from .vector import open_polygons

    is_text = open_polygons(polygons, class_field, layer).is_text
    refuse_numbers_for_names(model.classes, is_text, class_field, "The model")
    sampling = model.training.get("sampling") or {}
    config = SamplingConfig(
        class_field, model.bands, sampling.get("pixel_rule", "centre"),
        sampling.get("max_per_class") or None, int(sampling.get("seed", 0)),
    )  # fmt: skip
    return collect_samples(raster, polygons, config, hooks, layer, classes=model.classes)


def train_perceptron(
    model: LandCoverModel, samples: Samples, hooks: Hooks | None = None
) -> LandCoverModel:
    """A perceptron trained on ``samples`` with the model's gradient-descent settings and seed.

    A perceptron: no hidden layer, softmax of a weighted sum of the bands. Trained as one
    network, on the CPU (a few weights: the same on every machine), without early stopping.

    Returns:
        ``model`` with the perceptron's weights and architecture.
    """
    from .training import schedule_for, train_network

    fields = {f.name for f in dataclasses.fields(TrainingConfig)}
    given = {k: v for k, v in model.training.items() if k in fields}
    config = TrainingConfig(**{**given, "patience": 0, "device": "cpu"})
    config = schedule_for(config, len(samples))
    linear = ModelConfig((), model.model.activation, 0.0, 1, False)
    net = train_network(samples.x, samples.y, None, None, len(model.classes), linear, config,
                        hooks)  # fmt: skip
    return replace(model, state=net.state, model=linear, history=net.history)


@dataclass(frozen=True)
class ExplainResult:
    """What :func:`decision_regions` drew.

    Attributes:
        path: the PNG written.
        plot_bands: the horizontal and the vertical band (raster band numbers).
        perceptron_model: the perceptron trained on the fly (no hidden layer).
        perceptron: the perceptron's regions.
        mlp: the model's regions.
        perceptron_accuracy: share of the training pixels the perceptron classifies right
            (all bands, not the slice).
        mlp_accuracy: the same for the model.
        n_pixels: training pixels.
    """

    path: Path
    plot_bands: tuple[int, int]
    perceptron_model: LandCoverModel
    perceptron: RegionGrid
    mlp: RegionGrid
    perceptron_accuracy: float
    mlp_accuracy: float
    n_pixels: int


def _range(values: npt.NDArray[Any]) -> tuple[float, float]:
    low, high = float(np.min(values)), float(np.max(values))
    pad = MARGIN * (high - low) or 1.0
    return low - pad, high + pad


def decision_regions(
    model: LandCoverModel,
    raster: str,
    polygons: str,
    class_field: str,
    plot_bands: tuple[int, int],
    output: str | Path,
    hooks: Hooks | None = None,
    layer: str | None = None,
    size: int = GRID_SIZE,
) -> ExplainResult:
    """Sample the training pixels, train the perceptron, classify both grids, write the PNG.

    Args:
        model: the trained model (the MLP).
        raster: the image it was trained on (or one with the same bands).
        polygons: training polygons (same class field and classes as the model's).
        class_field: their class field.
        plot_bands: raster band numbers of the horizontal and vertical axis; both read by
            the model.
        output: the PNG to write.
        hooks: progress, cancel and log.
        layer: layer name inside ``polygons``.
        size: grid points along each axis.

    Returns:
        The grids, the accuracies and the file.

    Raises:
        LandCoverError: a band the model does not use, an unwritable output, bad input.
        CancelledError: the user cancelled.
    """
    from .explain_report import plot_regions
    from .workflow import predict_samples

    hooks = hooks or Hooks()
    columns = band_columns(model, plot_bands)
    output = check_writable(output)
    hooks.log("Sampling the pixels under the training polygons...")
    samples = explain_samples(model, raster, polygons, class_field, layer, hooks.scaled(0, 30))
    hooks.log(f"Training a perceptron on the same {len(samples)} pixels...")
    perceptron = train_perceptron(model, samples, hooks.scaled(30, 90))
    x_range, y_range = _range(samples.x[:, columns[0]]), _range(samples.x[:, columns[1]])
    grids = [region_grid(m, columns, x_range, y_range, size) for m in (perceptron, model)]
    hooks.check()
    accuracy = [float(np.mean(predict_samples(m, samples.x) == samples.y))
                for m in (perceptron, model)]  # fmt: skip
    result = ExplainResult(output, plot_bands, perceptron, grids[0], grids[1], accuracy[0],
                           accuracy[1], len(samples))  # fmt: skip
    with output_path(output) as tmp:
        plot_regions(result, model, samples, tmp)
    hooks.progress(100.0)
    return result


def class_rgb(model: LandCoverModel) -> npt.NDArray[np.float64]:
    """The model's class colours as RGB in 0-1, (classes, 3)."""
    return np.array([hex_to_rgb(c.colour) for c in model.classes], dtype=np.float64) / 255.0
