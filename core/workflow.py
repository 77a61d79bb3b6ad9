"""The main jobs end to end: train a model from polygons, classify a raster, write the outputs.

The file outputs are those that go with them. This is what the dialog, Processing and the
command line call.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .accuracy import AccuracyReport, assess
from .callbacks import Hooks, merge_records
from .config import ModelConfig, SplitConfig, TrainingConfig, TrainRequest
from .diagnosis import diagnose_model, diagnosis_lines
from .errors import LandCoverError
from .model_io import LandCoverModel
from .provenance import now_iso, plugin_version, training_inputs
from .raster import raster_info
from .sampling import Samples, collect_samples
from .splitting import Split, missing_validation_classes, split_by_polygon

if TYPE_CHECKING:
    from .training import TrainedNetwork


@dataclass(frozen=True)
class TrainResult:
    """Result of :func:`train_model`.

    Attributes:
        model: the trained model (with history and validation metrics in its header).
        report: validation accuracy report, or None without validation pixels.
        n_train: training pixels.
        n_validation: validation pixels.
        seconds: total wall time (sampling and training).
        warnings: what the user should know about the data (sampling, split); also in the
            report when there is one.
        diagnosis: what the loss curves of the run that chose the epochs say
            (:func:`core.diagnosis.diagnose_model`): ``{"kind", "epoch", "message"}`` dicts,
            empty when no rule fired.
    """

    model: LandCoverModel
    report: AccuracyReport | None
    n_train: int
    n_validation: int
    seconds: float
    warnings: tuple[str, ...] = ()
    diagnosis: tuple[dict[str, Any], ...] = ()


def versions() -> dict[str, str]:
    """Versions of the software that made a model (stored in its header)."""
    from osgeo import gdal

    out = {
        "landcover_mlp": plugin_version(),
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


def predict_samples(
    model: LandCoverModel, x: npt.NDArray[np.number[Any]], device: str = "cpu"
) -> npt.NDArray[np.int64]:
    """Class indices predicted for pixels.

    Args:
        model: the trained model.
        x: raw band values of the pixels, (n, bands), any numeric type.
        device: "auto", "cpu", "cuda" or "mps".

    Returns:
        Class index into ``model.classes`` of each pixel, int64 (n,).

    Raises:
        LandCoverError: the device is not available.
    """
    from .predictor import Predictor

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
    from .training import ensemble_for, schedule_for

    info = raster_info(request.raster)
    return LandCoverModel(
        state=net.state,
        bands=samples.bands,
        band_names=samples.band_names,
        band_count=info.band_count,
        nodata=tuple(info.nodata[b - 1] for b in samples.bands),
        classes=samples.classes,
        model=ensemble_for(request.model, n_train),
        training={
            **asdict(request.training),
            "sampling": {
                **asdict(request.sampling),
                "bands": list(samples.bands),
                # per class (index order): pixels under the polygons, and those trained on
                "pixels_available": list(samples.available),
                "pixels_used": samples.counts().tolist(),
                "cap_per_class": samples.cap,  # the one applied (max_per_class None: automatic)
            },
            "split": asdict(request.split if split is not None else SplitConfig(0.0)),
            "accuracy_estimate": method,
            "n_train": n_train,
            "n_validation": n_validation,
            # the batch, epochs, learning rate and weight decay used (scaled above
            # LARGE_DATA_PIXELS)
            "schedule": {
                k: v
                for k, v in asdict(schedule_for(request.training, n_train)).items()
                if k in ("batch_size", "epochs", "learning_rate", "weight_decay")
            },
            "class_counts": samples.counts().tolist(),
        },
        history=net.history,
        info={
            "created": now_iso(),
            "versions": versions(),
            "device": net.device,
            "best_epoch": net.best_epoch,
            "stopped_early": net.stopped_early,
            "train_seconds": round(net.seconds, 3),
            "crs_wkt": info.crs_wkt,
            **training_inputs(request),  # raster, polygons and layers, class field, settings
        },
    )


#: ``assessed_model`` of a report scored by an assessment run on held-out polygons.
ASSESSED_WITHOUT = (
    "a model of the same settings trained without the held-out polygons; the saved model "
    "was then trained on all training polygons, these included"
)
#: ``assessed_model`` after an assessment run with early stopping.
ASSESSED_EARLY_STOPPED = (
    "a model of the same settings trained without the held-out polygons for {best} epochs, "
    "the epoch early stopping chose when training had run {epochs}; the saved model was "
    "then trained on all training polygons, these included, for {best} epochs of the same "
    "learning-rate schedule"
)
#: ``assessed_model`` when the model scored is the saved model (a separate validation layer).
ASSESSED_SAVED = "the saved model itself, which never saw these polygons"
#: Put before ``assessed_model`` when the ensemble was distilled (the kind of model saved).
DISTILLED_SCORED = "the distilled network of "


def _assess(model: LandCoverModel, val: Samples, method: str, warnings: list[str], hooks: Hooks,
            assessed: str, saw: bool) -> AccuracyReport:  # fmt: skip
    """The validation report of ``model`` on ``val``, saying which model was scored."""
    report = assess(val.y, predict_samples(model, val.x), model.classes, method, warnings)
    report = replace(report, assessed_model=assessed, saved_model_saw_reference=saw)
    hooks.log(
        f"Validation: overall accuracy {report.overall_accuracy:.1%}, kappa {report.kappa:.3f} "
        f"({assessed})."
    )
    return report


def final_training(training: TrainingConfig, assessment: TrainedNetwork) -> TrainingConfig:
    """The training settings of the saved model's run on all polygons.

    Without early stopping it is the assessed recipe itself (same epochs, schedule, ensemble).
    With early stopping (``patience`` > 0) the assessment run chose the epochs: the saved
    model trains for the best epoch's count, with no held-out data left to watch, along the
    first epochs of the same learning-rate schedule (:func:`fit_networks` passes the
    schedule's full length).
    """
    if training.patience:
        return replace(training, epochs=max(1, assessment.best_epoch), patience=0)
    return training


def _merge_histories(first: list[dict[str, float]],
                     final: list[dict[str, float]]) -> list[dict[str, float]]:  # fmt: skip
    """The assessment run's records with the saved model's training losses added, by epoch.

    The losses are named as :data:`FINAL_NAMES` says.
    """
    return merge_records(first, final, FINAL_NAMES)


#: History keys of the saved model's run on all polygons (its keys -> the history's).
FINAL_NAMES = {"train_loss": "final_train_loss", "distill_loss": "final_distill_loss"}


def fit_networks(
    train: Samples,
    val: Samples | None,
    held_out: bool,
    model_config: ModelConfig,
    training: TrainingConfig,
    hooks: Hooks | None = None,
) -> tuple[TrainedNetwork, TrainedNetwork | None]:
    """The saved model's networks, and the assessment run's when there is one.

    With ``held_out`` (``val`` is polygons held out of the training layer) the recipe is first
    trained on ``train`` alone, watching ``val`` (the *assessment run*), then on ``train`` and
    ``val`` together (the saved model; see :func:`final_training` for its epochs). Otherwise one
    run trains on ``train``, watching ``val`` when given.

    Args:
        train: training pixels (n, bands) with classes.
        val: validation pixels, or None.
        held_out: ``val`` comes from the training polygons (else: a separate layer or None).
        model_config: architecture and ensemble size.
        training: gradient descent settings.
        hooks: progress, per-epoch records, cancel, log.

    Returns:
        ``(saved, assessment)``: the saved model's network (its history has the assessment
        run's records with ``final_train_loss`` added) and the assessment run (or None).
    """
    from .training import describe_schedule, ensemble_for, schedule_for, train_network

    hooks = hooks or Hooks()
    n_classes = len(train.classes)
    # One schedule and ensemble for both runs: those of the saved model's pixels (the
    # assessment run assesses exactly the recipe that is saved).
    n = len(train) + (len(val) if held_out and val is not None else 0)
    given, training = training, schedule_for(training, n)
    sentence = describe_schedule(given, training, n, model_config)
    model_config = ensemble_for(model_config, n)
    if sentence:
        hooks.log(sentence)
    if not held_out or val is None or not len(val):
        net = train_network(
            train.x, train.y, val.x if val is not None else None,
            val.y if val is not None else None, n_classes, model_config, training, hooks,
        )  # fmt: skip
        return net, None
    hooks.log("Assessment run: training without the held-out polygons...")
    first = train_network(train.x, train.y, val.x, val.y, n_classes, model_config, training,
                          hooks.scaled(0, 50))  # fmt: skip
    hooks.log("Training the saved model on all training polygons...")
    x = np.concatenate([train.x, val.x])
    y = np.concatenate([train.y, val.y])
    net = train_network(x, y, None, None, n_classes, model_config,
                        final_training(training, first),
                        hooks.scaled(50, 100).renaming(FINAL_NAMES),
                        schedule_epochs=training.epochs)  # fmt: skip
    return replace(
        net,
        history=_merge_histories(first.history, net.history),
        best_epoch=first.best_epoch,
        stopped_early=first.stopped_early,
        seconds=first.seconds + net.seconds,
    ), first


def train_model(request: TrainRequest, hooks: Hooks | None = None) -> TrainResult:
    """Sample, split, assess and train: a model ready to classify.

    The model is trained on every training polygon.

    One policy for every route (command line, Processing, dialog, the search's final model):

    - Polygons held out of the training layer (``validation_share`` > 0): an *assessment
      run* trains the same recipe on the other polygons and is scored on the held-out ones;
      that score is the reported accuracy (and, with early stopping, it chooses the number of
      epochs). Then the saved model is trained on ALL training polygons, held-out ones
      included: the report says so (``assessed_model``, ``saved_model_saw_reference``).
    - A separate validation layer: the saved model trains on all training polygons and is
      itself scored on the validation layer, which it never saw.
    - No validation (share 0): one run on all polygons, no accuracy.

    Args:
        request: raster, polygons and all settings.
        hooks: progress (0-100 over the whole job), per-epoch history (the saved model's run
            on all polygons sends ``final_train_loss`` instead of ``train_loss``), cancel, log.

    Returns:
        The model, its validation report and the diagnosis of its loss curves (each finding
        also logged, one line each, through ``hooks.log``).

    Raises:
        LandCoverError: bad input (message says what to change).
        CancelledError: the user cancelled.
    """
    hooks = hooks or Hooks()
    started = time.perf_counter()
    samples = _training_samples(request, hooks.scaled(0, 8))
    train, val, split, method, warnings = _split(request, samples, hooks.scaled(8, 10))
    logged = set(samples.warnings) | set(val.warnings if val is not None else ())
    for w in warnings:
        if w not in logged:  # sampling has logged its own
            hooks.log("Warning: " + w)
    _warn_missing_validation(val, warnings)
    n_val = len(val) if val is not None else 0
    held_out = split is not None and n_val > 0
    hooks.log(
        f"{len(train)} training and {n_val} validation pixels, "
        f"{len(samples.classes)} classes, {len(samples.bands)} bands."
    )
    net, first = fit_networks(train, val, held_out, request.model, request.training,
                              hooks.scaled(10, 100))  # fmt: skip
    report = None
    if first is not None:
        assert val is not None
        model = _build_model(request, samples, net, split, method, len(samples), n_val)
        words = ASSESSED_WITHOUT
        if request.training.patience:
            words = ASSESSED_EARLY_STOPPED.format(best=first.best_epoch, epochs=len(first.history))
        if model.model.distils:
            words = DISTILLED_SCORED + words
        # The assessment run's weights in the saved model's description: scored, never saved.
        report = _assess(replace(model, state=first.state), val, method, warnings, hooks,
                         words, True)  # fmt: skip
    else:
        model = _build_model(request, samples, net, split, method, len(train), n_val)
        if val is not None and n_val:
            report = _assess(model, val, method, warnings, hooks, ASSESSED_SAVED, False)
    if report is not None:
        model = replace(model, metrics=report.to_dict())
    n_saved = len(samples) if held_out else len(train)
    diagnosis = tuple(diagnose_model(model))
    for line in diagnosis_lines(diagnosis):
        hooks.log(line)
    return TrainResult(model, report, n_saved, n_val, time.perf_counter() - started,
                       tuple(warnings), diagnosis)  # fmt: skip
