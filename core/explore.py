"""The learning-rate and momentum explorer: every loss curve of a grid of runs in one figure.

The same pixels are trained with a small grid of learning rates x momentums (the course's
worked example: "learning rate 1: more than 100 iterations, 0.1: 52, 0.1 with momentum 0.5:
29").

The command line (``explore``), the Processing algorithm ``landcover_mlp:explore`` and the
dialog's "Explore learning rate" tab all call :func:`explore_request` (or
:func:`explore_config`) and :func:`run_explore`.

How every run trains (and why):

- The pixels are sampled once, and split into training and validation pixels by holding out
  whole polygons, exactly as training does (``core/workflow.py``); every run sees the same
  pixels.
- Full-batch gradient descent: one gradient step per epoch over all training pixels, so an
  epoch is one *iteration* of the course's gradient descent, and the curves show the effect of
  the learning rate and the momentum alone (with mini-batches an epoch is many steps, and
  their noise mixes with the effect of the rate). Full batch is also cheap: 100 steps on the
  700 pixels of the Landsat 7 scene take 0.07 s on one CPU thread.
- The update is the project's own (:class:`core.training.FlatSGD` through
  :func:`core.training.train_network`): ``v = momentum * v + g``, ``w = w - lr * v``, with a
  constant learning rate (no schedule), no weight decay, no dropout, one network (no
  ensemble, no distillation), no early stopping: plain gradient descent with momentum, as in
  the lecture.
- Every run starts from the same first weights (the same seed).
- A run diverges when its loss stops being a number (training raises its divergence error):
  it is kept, marked ``diverged``, and the next run starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import settings
from .callbacks import Hooks
from .classes import ClassInfo
from .config import ModelConfig, TrainingConfig, TrainRequest, train_request
from .errors import CancelledError, LandCoverError
from .fileio import OutputStage, check_writable
from .sampling import Samples
from .settings import Setting

#: Default threshold of :func:`epochs_to_threshold`: a training cross-entropy of 0.5 means the
#: right class gets on (geometric) average a probability of exp(-0.5) = 61 %, clearly below the
#: loss every run starts from, that of a uniform guess, ln(classes) (0.69 for two classes, 1.61
#: for five). On the Landsat 7 scene (../shared/data/landsat7_ogt, 32-32 network) learning rate
#: 0.1 reaches it in 47 epochs and 0.1 with momentum 0.5 in 26, the course's 52 and 29.
DEFAULT_LOSS_THRESHOLD: float = settings.default("loss_threshold")

#: The explorer's settings (core/settings.py's table, group "explore"): the command line's
#: options (``--learning-rates``), the Processing parameters (``LEARNING_RATES``) and the
#: dialog's widgets are built from them. The network, the split, the seed and the device are
#: training settings (:data:`TRAINING_SETTINGS`).
LEARNING_RATES = settings.setting("learning_rates")
MOMENTUMS = settings.setting("momentums")
LOSS_THRESHOLD = settings.setting("loss_threshold")
#: The epochs setting with the explorer's own help (its default, 100, is also the length of
#: the course's worked example).
EPOCHS = replace(
    settings.setting("epochs"),
    help="Epochs of every run. Each epoch is one full-batch gradient step over all training "
    "pixels (an iteration of the course's gradient descent); no early stopping.",
    group="explore",
)
#: The training settings the explorer uses (from core/settings.py's table).
TRAINING_SETTINGS = tuple(
    settings.setting(name)
    for name in ("hidden_layers", "activation", "validation_share", "pixel_rule",
                 "max_per_class", "seed", "device")
)  # fmt: skip
#: Every setting of an exploration, in the order the routes show them.
SETTINGS: tuple[Setting, ...] = (
    LEARNING_RATES, MOMENTUMS, EPOCHS, LOSS_THRESHOLD, *TRAINING_SETTINGS,
)  # fmt: skip
BY_NAME = {s.name: s for s in SETTINGS}

#: The files of an exploration, in its output folder.
CSV_NAME = "explore.csv"
PNG_NAME = "explore.png"


def _values(text: str, name: str, what: str, example: str) -> tuple[float, ...]:
    """Comma-separated numbers, each checked against the setting ``name``, duplicates left out."""
    parts = [p for p in str(text).replace(" ", "").replace(";", ",").split(",") if p]
    try:
        numbers = [float(p) for p in parts]
    except ValueError as exc:
        raise LandCoverError(
            f"{what} '{text}' is not a list of numbers: write e.g. {example}."
        ) from exc
    if not numbers:
        raise LandCoverError(f"Give at least one value of {what.lower()}, e.g. {example}.")
    return tuple(dict.fromkeys(settings.check(name, v) for v in numbers))


@dataclass(frozen=True)
class ExploreConfig:
    """The grid and the length of an exploration.

    Attributes:
        learning_rates: learning rates to compare, in the order given.
        momentums: momentums to compare, in the order given.
        epochs: epochs (full-batch gradient steps) of every run.
        loss_threshold: training loss a run must reach to count as converged.
    """

    learning_rates: tuple[float, ...] = (1.0, 0.1, 0.01)
    momentums: tuple[float, ...] = (0.0, 0.5, 0.9)
    epochs: int = EPOCHS.default
    loss_threshold: float = DEFAULT_LOSS_THRESHOLD

    def __post_init__(self) -> None:
        """Check the grid and the settings against the settings table.

        Raises:
            LandCoverError: no learning rate or momentum to try, or a value out of its range.
        """
        for name, values in (("learning_rate", self.learning_rates), ("momentum", self.momentums)):
            if not values:
                raise LandCoverError(f"Give at least one {name.replace('_', ' ')} to try.")
            for v in values:
                settings.check(name, v)
        settings.check("epochs", self.epochs)
        LOSS_THRESHOLD.check(self.loss_threshold)

    def grid(self) -> list[tuple[float, float]]:
        """(learning rate, momentum) of every run: learning rates outer, momentums inner."""
        return [(lr, m) for lr in self.learning_rates for m in self.momentums]


def explore_config(values: Mapping[str, Any]) -> ExploreConfig:
    """The grid of every route from the explorer's settings' values.

    Missing values take their default.

    Raises:
        LandCoverError: a value that cannot be read or lies outside its setting's range.
    """
    v = {s.name: s.check(values.get(s.name, s.default)) for s in SETTINGS[:4]}
    return ExploreConfig(
        learning_rates=_values(v["learning_rates"], "learning_rate", "Learning rates",
                               "1,0.1,0.01"),
        momentums=_values(v["momentums"], "momentum", "Momentums", "0,0.5,0.9"),
        epochs=v["epochs"],
        loss_threshold=v["loss_threshold"],
    )  # fmt: skip


def explore_request(
    raster: str,
    polygons: str,
    class_field: str,
    values: Mapping[str, Any] | None = None,
    *,
    bands: tuple[int, ...] = (),
    polygons_layer: str | None = None,
) -> tuple[TrainRequest, ExploreConfig]:
    """The training request and the grid of an exploration, from the inputs and settings.

    The request holds data, network, split, seed and device; the settings are the values of
    :data:`SETTINGS` (by setting name).

    Raises:
        LandCoverError: an unknown setting, or a value its setting refuses.
    """
    values = dict(values or {})
    unknown = sorted(set(values) - set(BY_NAME))
    if unknown:
        raise LandCoverError(f"Unknown setting(s) of the explorer: {', '.join(unknown)}.")
    training = {s.name: values[s.name] for s in TRAINING_SETTINGS if s.name in values}
    request = train_request(raster, polygons, class_field, training, bands=bands,
                            polygons_layer=polygons_layer)  # fmt: skip
    return request, explore_config(values)


def epochs_to_threshold(history: Sequence[Mapping[str, Any]], threshold: float) -> int | None:
    """The epochs a run needed to converge, or None.

    The first epoch from which the training loss stays at most ``threshold`` up to the last
    epoch; None when the last epoch's is above it or not a number (a diverged run). A run
    that dips under the threshold and climbs back out (it oscillates) has not converged: the
    course's learning rate 1 "never converges".

    Args:
        history: one record per epoch, in order, with ``epoch`` and ``train_loss``.
        threshold: the training loss (cross-entropy) to reach.
    """
    first = None
    for rec in history:
        loss = rec.get("train_loss")
        if loss is not None and math.isfinite(loss) and loss <= threshold:
            first = int(rec["epoch"]) if first is None else first
        else:
            first = None
    return first


@dataclass(frozen=True)
class ExploreRun:
    """One run of the grid.

    Attributes:
        learning_rate: its learning rate.
        momentum: its momentum.
        history: one record per epoch: epoch, train_loss, val_loss (None without validation
            pixels); a diverged run ends with the epoch whose loss was no longer a number
            (both losses NaN).
        diverged: the loss stopped being a number; the run ended there.
        epochs_to_threshold: the epochs it needed to converge (see :func:`epochs_to_threshold`),
            or None.
    """

    learning_rate: float
    momentum: float
    history: tuple[dict[str, Any], ...]
    diverged: bool
    epochs_to_threshold: int | None

    def label(self) -> str:
        """E.g. "lr 0.1, momentum 0.5"."""
        return f"lr {self.learning_rate:g}, momentum {self.momentum:g}"

    def _last(self, key: str) -> float:
        finite = [r[key] for r in self.history if r.get(key) is not None and math.isfinite(r[key])]
        return float(finite[-1]) if finite else math.nan

    @property
    def final_train_loss(self) -> float:
        """Training loss of the last epoch with a finite one (NaN when none)."""
        return self._last("train_loss")

    @property
    def final_val_loss(self) -> float:
        """Validation loss of the last epoch with a finite one (NaN when none)."""
        return self._last("val_loss")

    def outcome(self, epochs: int) -> str:
        """The run's outcome in words.

        "converged in 26 epochs", "not converged in 100 epochs" or "diverged at epoch 12"
        (converged: see :func:`epochs_to_threshold`).
        """
        if self.diverged:
            return f"diverged at epoch {len(self.history)}"
        if self.epochs_to_threshold is None:
            return f"not converged in {epochs} epochs"
        return f"converged in {self.epochs_to_threshold} epochs"


@dataclass(frozen=True)
class ExploreResult:
    """Every run of an exploration and what they trained on.

    Attributes:
        runs: one per (learning rate, momentum), in :meth:`ExploreConfig.grid` order.
        config: the grid, epochs and threshold.
        network: the network trained, e.g. "7-32-32-5 (relu)".
        classes: the classes, in index order.
        n_train: training pixels (every run's batch).
        n_validation: validation pixels (0: no validation loss).
        method: how the validation pixels were held out.
        warnings: what the user should know about the data.
    """

    runs: tuple[ExploreRun, ...]
    config: ExploreConfig
    network: str
    classes: tuple[ClassInfo, ...]
    n_train: int
    n_validation: int
    method: str
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class ExploreOutputs:
    """The files of an exploration: ``csv`` and ``png``.

    ``csv``: one row per run and epoch; ``png``: all the loss curves.
    """

    csv: Path
    png: Path


def explore_outputs(folder: str | Path) -> ExploreOutputs:
    """``<folder>/explore.csv`` and ``<folder>/explore.png``."""
    folder = Path(folder)
    return ExploreOutputs(folder / CSV_NAME, folder / PNG_NAME)


def prepare_folder(folder: str | Path) -> ExploreOutputs:
    """Create the output folder when missing and check both outputs can be written.

    Done before any work.

    Raises:
        LandCoverError: the folder cannot be created, or an output is a folder or unwritable.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise LandCoverError(f"Output folder '{folder}' is a file: give a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LandCoverError(f"Could not create the output folder '{folder}' ({exc}).") from exc
    outputs = explore_outputs(folder)
    check_writable(outputs.csv)
    check_writable(outputs.png)
    return outputs


def _diverged_error(exc: LandCoverError) -> bool:
    """Training's own error for a loss that is no longer a number (core/training.py)."""
    return not isinstance(exc, CancelledError) and "diverged" in str(exc).lower()


def train_run(
    train: Samples,
    val: Samples | None,
    model: ModelConfig,
    training: TrainingConfig,
    threshold: float,
    hooks: Hooks | None = None,
) -> ExploreRun:
    """One run: ``training``'s learning rate and momentum, full batch, constant rate.

    Args:
        train: training pixels.
        val: validation pixels, or None.
        model: the network (trained as one network).
        training: seed, device, learning rate, momentum and epochs (the rest is set here).
        threshold: training loss of :func:`epochs_to_threshold`.
        hooks: progress, cancel; ``epoch`` gets every record with learning_rate, momentum,
            epoch, train_loss, val_loss and diverged.

    Returns:
        The run; a run whose loss stopped being a number is returned, marked diverged.

    Raises:
        CancelledError: the user cancelled.
    """
    from .training import train_network

    hooks = hooks or Hooks()
    lr, momentum = training.learning_rate, training.momentum
    n = len(train)
    batch = max(1, min(n, int(settings.setting("batch_size").maximum or n)))  # all pixels
    config = replace(training, lr_schedule="constant", batch_size=batch, patience=0,
                     class_weights=False, weight_decay=0.0)  # fmt: skip
    network = replace(model, dropout=0.0, ensemble=1, distill=False)
    history: list[dict[str, Any]] = []

    def on_epoch(rec: dict[str, Any]) -> None:
        row = {"epoch": int(rec["epoch"]), "train_loss": float(rec["train_loss"]),
               "val_loss": rec.get("val_loss")}  # fmt: skip
        history.append(row)
        hooks.epoch({"learning_rate": lr, "momentum": momentum, **row, "diverged": False})

    quiet = Hooks(progress=hooks.progress, cancelled=hooks.cancelled, epoch=on_epoch)
    diverged = False
    try:
        train_network(train.x, train.y, val.x if val is not None else None,
                      val.y if val is not None else None, len(train.classes), network, config,
                      quiet)  # fmt: skip
    except LandCoverError as exc:
        if not _diverged_error(exc):
            raise
        diverged = True
        row = {"epoch": len(history) + 1, "train_loss": math.nan,
               "val_loss": math.nan if val is not None and len(val) else None}  # fmt: skip
        history.append(row)
        hooks.epoch({"learning_rate": lr, "momentum": momentum, **row, "diverged": True})
    hooks.progress(100.0)
    return ExploreRun(lr, momentum, tuple(history), diverged,
                      epochs_to_threshold(history, threshold))  # fmt: skip


def explore_learning(
    request: TrainRequest,
    config: ExploreConfig,
    hooks: Hooks | None = None,
    on_run: Callable[[ExploreRun], None] | None = None,
) -> ExploreResult:
    """Sample once, hold out whole polygons as training does, then train every run of the grid.

    See the module's notes for how, and why.

    Args:
        request: raster, polygons, bands, network (hidden layers, activation), validation
            share, sampling, seed and device; its other training settings are not used.
        config: learning rates, momentums, epochs and loss threshold.
        hooks: progress (0-100 over the whole grid), cancel, log, and ``epoch`` with every
            epoch of every run (learning_rate, momentum, epoch, train_loss, val_loss,
            diverged).
        on_run: called with each finished run (a diverged one included).

    Returns:
        Every run, in :meth:`ExploreConfig.grid` order.

    Raises:
        LandCoverError: bad input (fewer than two classes, a device that is not there).
        CancelledError: the user cancelled.
    """
    from .network import select_device
    from .workflow import _split, _training_samples

    hooks = hooks or Hooks()
    select_device(request.training.device)  # a missing device fails once, before sampling
    samples = _training_samples(request, hooks.scaled(0, 8))
    train, val, _, method, warnings = _split(request, samples, hooks.scaled(8, 10))
    n_val = len(val) if val is not None else 0
    sizes = "-".join(map(str, (len(samples.bands), *request.model.hidden_layers,
                               len(samples.classes))))  # fmt: skip
    kind = request.model.activation if request.model.hidden_layers else "linear"
    network = f"{sizes} ({kind})"
    grid = config.grid()
    hooks.log(
        f"{len(train)} training and {n_val} validation pixels; {len(grid)} runs of "
        f"{config.epochs} full-batch epochs, network {network}."
    )
    runs: list[ExploreRun] = []
    for i, (lr, momentum) in enumerate(grid):
        share = 90.0 / len(grid)
        training = replace(request.training, learning_rate=lr, momentum=momentum,
                           epochs=config.epochs)  # fmt: skip
        run = train_run(train, val if n_val else None, request.model, training,
                        config.loss_threshold, hooks.scaled(10 + i * share, 10 + (i + 1) * share))  # fmt: skip
        runs.append(run)
        hooks.log(f"{run.label()}: {run.outcome(config.epochs)}.")
        if on_run is not None:
            on_run(run)
    hooks.progress(100.0)
    return ExploreResult(tuple(runs), config, network, samples.classes, len(train), n_val,
                         method, tuple(warnings))  # fmt: skip


def save_explore_outputs(result: ExploreResult, folder: str | Path) -> ExploreOutputs:
    """Write ``explore.csv`` and ``explore.png`` into ``folder`` as one stage.

    Both or neither are written (core/fileio.py).

    Raises:
        LandCoverError: a file cannot be written.
    """
    from .explore_report import plot_explore, write_explore_csv

    outputs = explore_outputs(folder)
    with OutputStage() as stage:
        write_explore_csv(result, outputs.csv, stage=stage)
        plot_explore(result, outputs.png, stage=stage)
    return outputs


def run_explore(
    request: TrainRequest,
    config: ExploreConfig,
    folder: str | Path,
    hooks: Hooks | None = None,
    on_run: Callable[[ExploreRun], None] | None = None,
) -> tuple[ExploreResult, ExploreOutputs]:
    """Check the outputs, explore (:func:`explore_learning`), write the CSV and the figure.

    Raises:
        LandCoverError: an output that cannot be written (before any work), or bad input.
        CancelledError: the user cancelled; nothing is written.
    """
    prepare_folder(folder)
    result = explore_learning(request, config, hooks, on_run)
    return result, save_explore_outputs(result, folder)
