"""Training diagnosis in plain words, from the loss curves of the run that chose the epochs.

Four rules read a training history (one record per epoch, as :class:`core.workflow.TrainResult`
stores it: ``train_loss`` and, with validation pixels, ``val_loss``) and say what went wrong
and what to change, in the words of the lecture (learning rate, momentum, neurons, overfitting):

- **diverged**: a loss is no longer a number, the training loss climbs far above the loss of
  guessing, or it ends higher than it began. Lower the learning rate (the value to try is
  given).
- **oscillating**: the validation loss (the training loss without validation pixels) jumps up
  and down from epoch to epoch over the last epochs. Lower the learning rate or the momentum.
- **overfitting**: the validation loss rises from its lowest epoch on while the training loss
  keeps falling. Fewer neurons, more weight decay or dropout; which epoch's model was kept.
- **underfitting**: both losses stay high (near the loss of guessing) and flat. More neurons
  or epochs, a higher learning rate.

A diverged run gets that one finding only (the other rules would read noise); the other three
may appear together. Every constant of the rules is a module constant below, with its reason.
Guessing every one of K classes with probability 1/K gives a cross-entropy of ln K (the loss
of a network at its first random weights is near it): the rules measure "high" against it.

Pure Python (no numpy, no torch): the training loop calls :func:`diagnose` when it stops on a
loss that is no longer a number, so that the error sentence carries the advice.
"""

from __future__ import annotations

import html
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .settings import default

if TYPE_CHECKING:
    from .model_io import LandCoverModel

#: The findings, in the order they are listed.
KINDS = ("diverged", "oscillating", "overfitting", "underfitting")

#: Diverged when the training loss of an epoch exceeds this many times ln K (the loss of
#: guessing). Training starts near ln K and a working descent only lowers it; 3 x ln K
#: (3.3 for 3 classes) means the steps threw the weights far from where they started
#: (a learning rate of 10 reaches 10^5 and more in the first epoch).
DIVERGED_CHANCE_FACTOR = 3.0
#: Diverged ("rising from the start") when the last epoch's training loss is higher than the
#: first epoch's by more than this share: the run ended worse than it began.
DIVERGED_RISE = 0.25
#: A diverged run is told to try the learning rate divided by this (the lecture's steps:
#: 1, 0.1, 0.01).
DIVERGED_LR_DIVISOR = 10.0

#: Oscillation is measured over the last this many epochs (all of them in a shorter run)...
OSCILLATION_WINDOW = 10
#: ...and only when the run has at least this many.
OSCILLATION_MIN_EPOCHS = 5
#: Oscillating when at least this share of the epoch-to-epoch changes of the loss in the
#: window reverse the previous change's direction (a loss that settles changes direction
#: rarely; independent noise does so 2 times in 3)...
OSCILLATION_SIGN_SHARE = 0.5
#: ...and the mean size of a change is at least this share of the window's median loss (a
#: settled loss moves by a few per cent; steps that are too large move it by tens of per cent).
OSCILLATION_AMPLITUDE = 0.10
#: An oscillating run is told to try the learning rate divided by this.
OSCILLATION_LR_DIVISOR = 3.0

#: Overfitting compares the validation loss smoothed by a mean over this many consecutive
#: epochs (an even count: a loss that jumps up and down every other epoch smooths flat, and
#: is the oscillation rule's, not this one's)...
OVERFIT_SMOOTH = 4
#: ...at its lowest and at the end: the end is higher by at least this share...
OVERFIT_RISE = 0.10
#: ...at least this many epochs after the lowest validation loss (in the lowest window),
#: while the last training loss is below the training loss of that epoch.
OVERFIT_MIN_EPOCHS_AFTER = 3
#: No overfitting while the validation accuracy still rises by more than this (a share of
#: the pixels) from the epoch the validation loss was lowest to the end.
OVERFIT_ACCURACY_GAIN = 0.01

#: Underfitting when the last training loss (and validation loss, if any) is at least this
#: share of ln K: the network removed less than half of the uncertainty of a guess...
UNDERFIT_HIGH = 0.5
#: ...and it is flat: the loss came within this share of its last value...
UNDERFIT_FLAT = 0.05
#: ...at an epoch no later than this share of the run (it stopped learning half-way or
#: earlier)...
UNDERFIT_FLAT_SHARE = 0.5
#: ...in a run of at least this many epochs.
UNDERFIT_MIN_EPOCHS = 4
#: An underfitting run is told to try the learning rate multiplied by this.
UNDERFIT_LR_FACTOR = 3.0

#: Shown when no rule fires.
HEALTHY = "The loss curves show no sign of divergence, oscillation, overfitting or underfitting."


def _finding(kind: str, epoch: int, message: str) -> dict[str, Any]:
    return {"kind": kind, "epoch": int(epoch), "message": message}


def _series(history: Sequence[Mapping[str, Any]], key: str) -> list[tuple[int, float]]:
    """(epoch, value) of the records that have ``key``, in epoch order."""
    return [(int(r["epoch"]), float(r[key])) for r in history if r.get(key) is not None]


def _lr(value: float) -> str:
    return f"{value:.3g}"


def diverged_advice(learning_rate: float) -> str:
    """What to change after a divergence.

    E.g. "Lower the learning rate: try 1 (now 10), or lower the momentum.".
    """
    tried = learning_rate / DIVERGED_LR_DIVISOR
    return (
        f"Lower the learning rate: try {_lr(tried)} (now {_lr(learning_rate)}), or lower the "
        "momentum."
    )


def _diverged(
    train: list[tuple[int, float]], val: list[tuple[int, float]], chance: float, lr: float
) -> dict[str, Any] | None:
    limit = DIVERGED_CHANCE_FACTOR * chance
    high = next(((e, v) for e, v in train if math.isfinite(v) and v > limit), None)
    lost = next((e for e, v in sorted(train + val) if not math.isfinite(v)), None)
    if lost is not None:
        why = f"the loss is no longer a number at epoch {lost}"
        if high is not None and high[0] < lost:
            why += f", after the training loss reached {high[1]:.4g} at epoch {high[0]}"
        epoch = high[0] if high is not None and high[0] < lost else lost
        return _finding("diverged", epoch, f"Training diverged: {why}. {diverged_advice(lr)}")
    if high is not None:
        return _finding(
            "diverged", high[0],
            f"Training diverged: the training loss reached {high[1]:.4g} at epoch {high[0]}, "
            f"over {DIVERGED_CHANCE_FACTOR:g} times the loss of guessing ({chance:.3f}). "
            + diverged_advice(lr),
        )  # fmt: skip
    if len(train) >= 2 and train[-1][1] > train[0][1] * (1 + DIVERGED_RISE):
        (first, start), (last, end) = train[0], train[-1]
        return _finding(
            "diverged", first,
            f"Training diverged: the training loss rose from {start:.3f} at epoch {first} to "
            f"{end:.3f} at epoch {last}. " + diverged_advice(lr),
        )  # fmt: skip
    return None


def oscillation(values: Sequence[float]) -> tuple[float, float]:
    """The two statistics of the oscillation rule for a loss curve (at least 3 values).

    Returns:
        ``(sign_changes, amplitude)``: the share of consecutive epoch-to-epoch changes whose
        direction reverses (0-1), and the mean absolute change divided by the median loss.
    """
    steps = [b - a for a, b in zip(values, values[1:])]
    turns = sum(1 for a, b in zip(steps, steps[1:]) if a * b < 0)
    middle = statistics.median(values)
    amplitude = statistics.fmean(abs(s) for s in steps) / middle if middle > 0 else 0.0
    return turns / max(1, len(steps) - 1), amplitude


def _oscillating(series: list[tuple[int, float]], name: str, lr: float) -> dict[str, Any] | None:
    if len(series) < OSCILLATION_MIN_EPOCHS:
        return None
    window = series[-OSCILLATION_WINDOW:]
    turns, amplitude = oscillation([v for _, v in window])
    if turns < OSCILLATION_SIGN_SHARE or amplitude < OSCILLATION_AMPLITUDE:
        return None
    first, last = window[0][0], window[-1][0]
    return _finding(
        "oscillating", first,
        f"The {name} loss jumps up and down over epochs {first}-{last}: {turns:.0%} of its "
        f"changes reverse direction, by {amplitude:.0%} of the loss on average. The steps of "
        f"gradient descent are too large: lower the learning rate (try "
        f"{_lr(lr / OSCILLATION_LR_DIVISOR)}, now {_lr(lr)}) or the momentum, or use larger "
        "batches.",
    )  # fmt: skip


def _accuracy_still_rises(accuracy: list[tuple[int, float]], epoch: int) -> bool:
    """The validation accuracy at the end is above its value around ``epoch`` by a margin.

    The accuracy at the end is the mean of the last :data:`OVERFIT_SMOOTH` epochs; the margin
    is :data:`OVERFIT_ACCURACY_GAIN`. A rising validation loss is then the network growing
    over-confident on the pixels it gets wrong, not a network that maps worse (many bands, few
    pixels: Indian Pines went from 34 % at epoch 1 to 58 % at epoch 100 while its validation
    loss rose from epoch 1 on).
    """
    if len(accuracy) < OVERFIT_SMOOTH:
        return False
    values = dict(accuracy)
    around = [values[e] for e in range(epoch, epoch + OVERFIT_SMOOTH) if e in values]
    end = statistics.fmean(v for _, v in accuracy[-OVERFIT_SMOOTH:])
    return bool(around) and end > statistics.fmean(around) + OVERFIT_ACCURACY_GAIN


def _overfitting(
    train: list[tuple[int, float]],
    val: list[tuple[int, float]],
    kept_epoch: int | None,
    early_stopping: bool,
    accuracy: list[tuple[int, float]] | None = None,
) -> dict[str, Any] | None:
    by_epoch = dict(train)
    val = [(e, v) for e, v in val if e in by_epoch]
    if len(val) < OVERFIT_SMOOTH + OVERFIT_MIN_EPOCHS_AFTER:
        return None
    values = [v for _, v in val]
    smooth = [statistics.fmean(values[i : i + OVERFIT_SMOOTH])
              for i in range(len(values) - OVERFIT_SMOOTH + 1)]  # fmt: skip
    low = min(range(len(smooth)), key=smooth.__getitem__)
    best = min(range(low, low + OVERFIT_SMOOTH), key=values.__getitem__)
    epoch, lowest = val[best]
    last_epoch = val[-1][0]
    if len(val) - 1 - best < OVERFIT_MIN_EPOCHS_AFTER:
        return None
    if smooth[-1] < smooth[low] * (1 + OVERFIT_RISE) or by_epoch[last_epoch] >= by_epoch[epoch]:
        return None
    tail = smooth[-1]
    if accuracy and _accuracy_still_rises(accuracy, epoch):
        return None
    if early_stopping and kept_epoch:
        kept = f"early stopping kept the model of epoch {kept_epoch}."
    else:
        kept = (
            f"the model of the last epoch ({kept_epoch or last_epoch}) was kept; an "
            f"early-stopping patience would keep the model of epoch {epoch}."
        )
    return _finding(
        "overfitting", epoch,
        f"Overfitting: from epoch {epoch} on the validation loss rose (from {lowest:.3f} to "
        f"{tail:.3f} on average over the last {OVERFIT_SMOOTH} epochs) while the training "
        "loss kept falling (from "
        f"{by_epoch[epoch]:.3f} to {by_epoch[last_epoch]:.3f}): the network learns the "
        "training pixels rather than the classes. Use fewer neurons, more weight decay or "
        f"dropout; {kept}",
    )  # fmt: skip


def _underfitting(
    train: list[tuple[int, float]],
    val: list[tuple[int, float]],
    chance: float,
    lr: float,
    perceptron: bool,
) -> dict[str, Any] | None:
    if len(train) < UNDERFIT_MIN_EPOCHS:
        return None
    end = train[-1][1]
    if end < UNDERFIT_HIGH * chance or (val and val[-1][1] < UNDERFIT_HIGH * chance):
        return None
    flat_from = next(i for i, (_, v) in enumerate(train) if v <= end * (1 + UNDERFIT_FLAT))
    if flat_from + 1 > UNDERFIT_FLAT_SHARE * len(train):
        return None
    epoch = train[flat_from][0]
    losses = f"training {end:.3f}" + (f", validation {val[-1][1]:.3f}" if val else "")
    more = f"a higher learning rate (try {_lr(lr * UNDERFIT_LR_FACTOR)}, now {_lr(lr)})"
    if perceptron:
        advice = (
            "A perceptron draws only straight boundaries between classes: add a hidden layer "
            f"(e.g. 32,32), or try more epochs or {more}"
        )
    else:
        advice = f"Try more neurons or layers, more epochs, or {more}"
    return _finding(
        "underfitting", epoch,
        f"Underfitting: the losses stayed high ({losses}; guessing every class alike gives "
        f"{chance:.3f}) and flat from epoch {epoch} on: the network does not learn the "
        f"classes. {advice}; or the bands may not separate these classes.",
    )  # fmt: skip


def diagnose(
    history: Sequence[Mapping[str, Any]],
    learning_rate: float,
    n_classes: int,
    *,
    kept_epoch: int | None = None,
    early_stopping: bool = False,
    perceptron: bool = False,
) -> list[dict[str, Any]]:
    """What the loss curves of a training run say, as findings in plain words.

    Args:
        history: one record per epoch with ``epoch``, ``train_loss`` and, with validation
            pixels, ``val_loss`` (other keys are ignored).
        learning_rate: the learning rate set (the advice gives a value to try next to it).
        n_classes: K, the number of classes (the loss of guessing is ln K).
        kept_epoch: the epoch whose model was kept (named by the overfitting advice).
        early_stopping: early stopping chose ``kept_epoch``.
        perceptron: the network has no hidden layer (the underfitting advice says so).

    Returns:
        ``[{"kind": ..., "epoch": ..., "message": ...}, ...]``: ``kind`` one of
        :data:`KINDS`, ``epoch`` (1-based) where the finding starts, ``message`` one or two
        sentences with what to change. Empty when no rule fires (see :data:`HEALTHY`).
    """
    train = _series(history, "train_loss")
    val = _series(history, "val_loss")
    chance = math.log(max(2, n_classes))
    found = _diverged(train, val, chance, learning_rate)
    if found is not None:
        return [found]
    watched, name = (val, "validation") if val else (train, "training")
    overfitting = _overfitting(
        train, val, kept_epoch, early_stopping, _series(history, "val_accuracy")
    )
    # a training loss that kept falling (overfitting) is no flat one: never both
    underfitting = (
        None if overfitting else _underfitting(train, val, chance, learning_rate, perceptron)
    )
    findings = [_oscillating(watched, name, learning_rate), overfitting, underfitting]
    return [f for f in findings if f is not None]


def diagnose_model(model: LandCoverModel) -> list[dict[str, Any]]:
    """:func:`diagnose` of a trained model's stored history.

    The history is the records of the run that chose the epochs (the assessment run after
    held-out polygons), read with the model's learning rate, classes, kept epoch and
    architecture.
    """
    training = model.training
    patience = int(training.get("patience") or 0)
    best = model.info.get("best_epoch")
    return diagnose(
        model.history,
        float(training.get("learning_rate") or default("learning_rate")),
        len(model.classes),
        kept_epoch=int(best) if best else None,
        early_stopping=patience > 0,
        perceptron=model.model.is_perceptron,
    )


def diagnosis_lines(diagnosis: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per finding for logs, or the :data:`HEALTHY` line.

    E.g. "Diagnosis (overfitting, from epoch 12): ...".
    """
    if not diagnosis:
        return [f"Diagnosis: {HEALTHY}"]
    return [
        f"Diagnosis ({d['kind']}, from epoch {d['epoch']}): "
        + str(d["message"]).removeprefix(f"{str(d['kind']).capitalize()}: ")
        for d in diagnosis
    ]


def diagnosis_html(diagnosis: Sequence[Mapping[str, Any]]) -> str:
    """The *Training diagnosis* section of a report page."""
    e = html.escape
    if not diagnosis:
        return f"<h2>Training diagnosis</h2><p>{e(HEALTHY)}</p>"
    items = "".join(
        f"<li><b>{e(str(d['kind']))}</b> (from epoch {int(d['epoch'])}): {e(str(d['message']))}"
        "</li>"
        for d in diagnosis
    )
    return (
        "<h2>Training diagnosis</h2><p>Read from the loss curves of the run that chose the "
        f'epochs.</p><ul class="warn">{items}</ul>'
    )
