"""The main jobs end to end: train a model from polygons, classify a raster, and the file
outputs that go with them. This is what the dialog, Processing and the command line call."""

from __future__ import annotations

import datetime as _dt
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .accuracy import AccuracyReport, assess
from .callbacks import Hooks
from .config import SplitConfig, TrainRequest
from .errors import LandCoverError
from .model_io import LandCoverModel
from .raster import raster_info
from .sampling import Samples, collect_samples
from .splitting import Split, missing_validation_classes, split_by_polygon

if TYPE_CHECKING:
    from .training import TrainedNetwork

__version__ = "0.1.0"


@dataclass(frozen=True)
class TrainResult:
    """Result of :func:`train_model`.

    Attributes:
        model: the trained model (with history and validation metrics in its header).
        report: validation accuracy report, or None without validation pixels.
        n_train: training pixels.
        n_validation: validation pixels.
        seconds: total wall time (sampling and training).
    """

    model: LandCoverModel
    report: AccuracyReport | None
    n_train: int
    n_validation: int
    seconds: float


def versions() -> dict[str, str]:
    """Versions of the software that made a model (stored in its header)."""
    from osgeo import gdal

    out = {
        "landcover_mlp": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gdal": gdal.__version__,
    }
    try:
        import torch

        out["torch"] = torch.__version__
    except ImportError:  # pragma: no cover - torch is required to train
        pass
    return out


def predict_samples(model: LandCoverModel, x: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Class indices predicted for feature rows ``x`` (n, bands)."""
    from .prediction import Predictor

    labels, _, _ = Predictor(model, device, 4096).run(x, want_probs=False)
    return labels


def _split(
    request: TrainRequest, samples: Samples, hooks: Hooks
) -> tuple[Samples, Samples | None, Split | None, str, list[str]]:
    """Training and validation samples, how accuracy is estimated, and warnings."""
    warnings: list[str] = list(samples.warnings)
    if request.validation_polygons:
        val = collect_samples(
            request.raster,
            request.validation_polygons,
            request.sampling,
            hooks.scaled(0, 100),
            layer=request.validation_layer,
            classes=samples.classes,
        )
        warnings.extend(val.warnings)
        method = f"separate validation layer '{Path(request.validation_polygons).name}'"
        return samples, val, None, method, warnings
    split = split_by_polygon(samples, request.split)
    warnings.extend(split.warnings)
    if not split.validation.any():
        return samples, None, split, split.method, warnings
    return (
        samples.subset(split.train),
        samples.subset(split.validation),
        split,
        split.method,
        warnings,
    )


def _training_samples(request: TrainRequest, hooks: Hooks) -> Samples:
    """The pixels under the training polygons.

    Raises:
        LandCoverError: fewer than two classes under the polygons.
    """
    hooks.log("Sampling the pixels under the training polygons...")
    samples = collect_samples(
        request.raster, request.polygons, request.sampling, hooks, request.polygons_layer
    )
    if len(samples.classes) < 2:
        raise LandCoverError(
            f"Only one class ('{samples.classes[0].name}') was found under the polygons: "
            "a classifier needs at least two classes."
        )
    return samples


def _warn_missing_validation(val: Samples | None, warnings: list[str]) -> None:
    """Add a warning for the classes that have no validation pixel."""
    if val is None:
        return
    missing = missing_validation_classes(val, np.ones(len(val), dtype=bool))
    if missing:
        warnings.append(
            f"No validation pixels for class(es) {', '.join(missing)}: their accuracy is "
            "not measured. Add validation polygons for them."
        )


def _build_model(request: TrainRequest, samples: Samples, net: TrainedNetwork,
                 split: Split | None, method: str, n_train: int,
                 n_validation: int) -> LandCoverModel:  # fmt: skip
    """The model file's content: weights, bands, classes, settings, history and provenance."""
    info = raster_info(request.raster)
    return LandCoverModel(
        state=net.state,
        bands=samples.bands,
        band_names=samples.band_names,
        band_count=info.band_count,
        nodata=tuple(info.nodata[b - 1] for b in samples.bands),
        classes=samples.classes,
        model=request.model,
        training={
            **asdict(request.training),
            "sampling": {**asdict(request.sampling), "bands": list(samples.bands)},
            "split": asdict(request.split if split is not None else SplitConfig(0.0)),
            "accuracy_estimate": method,
            "n_train": n_train,
            "n_validation": n_validation,
            "class_counts": samples.counts().tolist(),
        },
        history=net.history,
        info={
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": versions(),
            "device": net.device,
            "best_epoch": net.best_epoch,
            "stopped_early": net.stopped_early,
            "train_seconds": round(net.seconds, 3),
            "raster": str(request.raster),
            "polygons": str(request.polygons),
            "crs_wkt": info.crs_wkt,
        },
    )


def _validate(model: LandCoverModel, val: Samples, method: str, warnings: list[str],
              hooks: Hooks) -> tuple[LandCoverModel, AccuracyReport]:  # fmt: skip
    """The validation report, and the model with it as its metrics."""
    report = assess(val.y, predict_samples(model, val.x), model.classes, method, warnings)
    hooks.log(
        f"Validation: overall accuracy {report.overall_accuracy:.1%}, kappa {report.kappa:.3f}."
    )
    return replace(model, metrics=report.to_dict()), report


def train_model(request: TrainRequest, hooks: Hooks | None = None) -> TrainResult:
    """Sample, split, train and assess: a model ready to classify.

    Args:
        request: raster, polygons and all settings.
        hooks: progress (0-100 over the whole job), per-epoch history, cancel, log.

    Returns:
        The model and its validation report.

    Raises:
        LandCoverError: bad input (message says what to change).
        CancelledError: the user cancelled.
    """
    from .training import train_network

    hooks = hooks or Hooks()
    started = time.perf_counter()
    samples = _training_samples(request, hooks.scaled(0, 8))
    train, val, split, method, warnings = _split(request, samples, hooks.scaled(8, 10))
    for w in warnings:
        hooks.log("Warning: " + w)
    _warn_missing_validation(val, warnings)
    n_val = len(val) if val is not None else 0
    hooks.log(
        f"{len(train)} training and {n_val} validation pixels, "
        f"{len(samples.classes)} classes, {len(samples.bands)} bands."
    )
    net = train_network(
        train.x,
        train.y,
        val.x if val is not None else None,
        val.y if val is not None else None,
        len(samples.classes),
        request.model,
        request.training,
        hooks.scaled(10, 100),
    )
    model = _build_model(request, samples, net, split, method, len(train), n_val)
    report = None
    if val is not None and len(val):
        model, report = _validate(model, val, method, warnings, hooks)
    return TrainResult(model, report, len(train), n_val, time.perf_counter() - started)
