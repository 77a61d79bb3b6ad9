"""Training: mini-batch gradient descent with momentum, early stopping, seeded. Imports torch."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from . import threads
from .callbacks import Hooks, merge_records
from .config import ModelConfig, TrainingConfig
from .diagnosis import diagnose
from .errors import LandCoverError
from .network import MLP, ensemble_loss, select_device, state_probabilities, state_to_numpy
from .settings import setting


@dataclass(frozen=True)
class TrainedNetwork:
    """Result of :func:`train_network`.

    Attributes:
        state: weights and standardisation buffers (float32 numpy) of the saved network(s):
            the ensemble, or the one network distilled from it.
        history: one record per epoch: epoch, train_loss (mean over the members),
            val_loss and val_accuracy (the ensemble's), lr (at the epoch's end); when the
            ensemble was distilled, also distill_loss, distill_val_loss and
            distill_val_accuracy (the saved network's, see :func:`train_network`).
        best_epoch: epoch whose weights were kept (1-based; the last one without early
            stopping).
        stopped_early: early stopping ended training before the last epoch.
        device: description of the device used.
        seconds: wall time of training.
    """

    state: dict[str, npt.NDArray[np.float32]]
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    device: str
    seconds: float


def class_weights(y: npt.NDArray[np.integer[Any]], n_classes: int) -> npt.NDArray[np.float32]:
    """Balanced weights n / (k * count), as scikit-learn's ``class_weight='balanced'``.

    Args:
        y: class index of each training sample, integer (n,), in [0, n_classes).
        n_classes: number of classes k.

    Returns:
        float32 (n_classes,); 0 for a class without samples.

    Raises:
        ValueError: a class index is negative.
    """
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)
    return weights.astype(np.float32)


def train_network(
    x_train: npt.NDArray[np.floating[Any]],
    y_train: npt.NDArray[np.integer[Any]],
    x_val: npt.NDArray[np.floating[Any]] | None,
    y_val: npt.NDArray[np.integer[Any]] | None,
    n_classes: int,
    model_config: ModelConfig,
    config: TrainingConfig,
    hooks: Hooks | None = None,
    schedule_epochs: int | None = None,
) -> TrainedNetwork:
    """Train an MLP on standardised pixels.

    ``model_config.ensemble`` networks (0: as :func:`ensemble_for` chooses for these pixels;
    the workflow resolves it for the saved model's pixels first, so that both runs train the
    same) are trained at once (see :class:`network.MLP`), each
    with its own first weights and batch order, by mini-batch gradient descent with momentum;
    the learning rate follows ``config.lr_schedule`` (:func:`learning_rate_at`). With
    ``config.patience`` > 0, early stopping watches the ensemble's validation loss (the
    training loss when there is no validation set) and restores the weights of the best
    epoch; with 0 (the default) the weights of the last epoch are kept. The history's
    ``train_loss`` is the mean of the members' training losses; ``val_loss`` and
    ``val_accuracy`` are the ensemble's (probabilities averaged).

    With ``model_config.distils`` (an ensemble and ``distill`` on, the default) the ensemble
    then teaches one network of the same architecture, which is returned in its place: the
    map costs one network's arithmetic and keeps the ensemble's decisions. This is knowledge
    distillation (Hinton, Vinyals and Dean 2015, "Distilling the knowledge in a neural
    network"; Bucilua, Caruana and Niculescu-Mizil 2006, "Model compression"): the network
    trains with the same settings, on the training pixels and as many mixtures of two random
    training pixels (:func:`distillation_inputs`), to reproduce the ensemble's averaged class
    probabilities (cross-entropy with those probabilities as targets), for the ensemble's
    epochs (with early stopping: up to its best epoch, along the same learning-rate schedule,
    without stopping of its own). Its records join the history as ``distill_loss``,
    ``distill_val_loss`` and ``distill_val_accuracy``.

    Args:
        x_train: training features (n, bands), raw values.
        y_train: class indices (n,).
        x_val: validation features, or None.
        y_val: validation class indices, or None.
        n_classes: number of classes.
        model_config: architecture.
        config: optimiser, epochs, early stopping, seed, device.
        hooks: progress, per-epoch history, cancel (checked every batch), log.
        schedule_epochs: length of the learning-rate schedule in epochs when it differs from
            ``config.epochs`` (the saved model after early stopping: it follows the first
            ``config.epochs`` epochs of the assessed run's schedule); None = ``config.epochs``.

    Returns:
        The trained weights and the history.

    Raises:
        LandCoverError: no training samples, or training diverged (the loss is no longer a
            number; the sentence is :func:`core.diagnosis.diagnose`'s, with the learning rate
            to try).
        CancelledError: the user cancelled.
    """
    # Dropout and batch order draw from torch's global RNG: seed a private copy of it so the
    # same data and seed give the same model, and the caller's RNG state is left untouched.
    # Mini-batches of an MLP are tiny matrix products: on the CPU one thread is many times
    # faster than several (thread wake-ups dominate), and it makes results independent of the
    # core count. core/threads.py owns the setting and restores the caller's.
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    hooks = hooks or Hooks()
    model_config = ensemble_for(model_config, len(y_train))
    distils = model_config.distils
    with threads.single_threaded(torch), torch.random.fork_rng(devices=devices):
        torch.manual_seed(config.seed)
        ensemble = _train_network(
            x_train, y_train, x_val, y_val, n_classes, model_config, config,
            hooks.scaled(0, 50) if distils else hooks, schedule_epochs,
        )  # fmt: skip
        if not distils:
            return ensemble
        hooks.log("Distilling the ensemble into one network...")
        x = distillation_inputs(x_train, config.seed)
        targets = state_probabilities(ensemble.state, model_config, x, config.device)
        # The distilled network trains for the ensemble's epochs (its best one, with early
        # stopping) along the same schedule: no stopping of its own, so that the network
        # scored in an assessment run and the one saved are trained alike.
        single = _train_network(
            x, y_train, x_val, y_val, n_classes, replace(model_config, ensemble=1),
            replace(config, epochs=ensemble.best_epoch, patience=0),
            hooks.scaled(50, 100).renaming(DISTILL_NAMES), schedule_epochs or config.epochs,
            targets,
            (ensemble.state["mean"], ensemble.state["std"]),  # the training pixels' own
        )  # fmt: skip
    return replace(
        ensemble,
        state=single.state,
        history=merge_records(ensemble.history, single.history, DISTILL_NAMES),
        seconds=ensemble.seconds + single.seconds,
    )


#: History keys of the distilled network's run (its keys -> the history's).
DISTILL_NAMES = {
    "train_loss": "distill_loss",
    "val_loss": "distill_val_loss",
    "val_accuracy": "distill_val_accuracy",
}


def distillation_inputs(x: npt.NDArray[np.floating[Any]], seed: int) -> npt.NDArray[np.float32]:
    """The pixels the distilled network learns from.

    ``x`` followed by n mixtures ``l * x[i] + (1 - l) * x[j]`` of random pixel pairs, l
    uniform in [0, 1) (the inputs of mixup, Zhang et al. 2018), so that it also learns the
    ensemble's decisions between the training pixels.

    Args:
        x: the training pixels' band values, (n, bands).
        seed: random seed; the same seed gives the same mixtures.

    Returns:
        float32 (2n, bands).
    """
    x = np.asarray(x, dtype=np.float32)
    rng = np.random.default_rng([seed, 2015])
    n = x.shape[0]
    i, j = rng.integers(0, n, n), rng.integers(0, n, n)
    share = rng.random((n, 1), dtype=np.float32)
    return np.concatenate([x, share * x[i] + (1 - share) * x[j]])


#: Up to this many training pixels the settings are used as given (every real scene the
#: defaults were chosen on has fewer); above it :func:`schedule_for` scales them.
LARGE_DATA_PIXELS = 12_000
#: The batch grows with the data up to this multiple of the set batch size.
MAX_BATCH_GROWTH = 8
#: Scaled schedules keep at least this many epochs.
MIN_SCALED_EPOCHS = 3


def schedule_for(config: TrainingConfig, n: int) -> TrainingConfig:
    """The settings to train on ``n`` pixels.

    ``config`` itself up to :data:`LARGE_DATA_PIXELS`, else a schedule that grows well with
    the data.

    With f = n / LARGE_DATA_PIXELS: the batch grows f times (at most :data:`MAX_BATCH_GROWTH`
    times, never beyond n or the setting's maximum), the epochs shrink f times (at least
    :data:`MIN_SCALED_EPOCHS`, never more than set), and the learning rate grows with the square
    root of the batch growth (Krizhevsky 2014, "One weird trick for parallelizing convolutional
    neural networks"; Hoffer, Hubara and Soudry 2017, "Train longer, generalize better"). Each
    network then sees about as many samples as on LARGE_DATA_PIXELS pixels (epochs x n), in
    fewer, larger steps: on 100 k pixels 12 epochs of batch 256 instead of 100 epochs of batch
    32, with the same held-out accuracy (benchmarks/training_scale.py). Early stopping's
    patience counts epochs of the scaled schedule.

    The weight decay shrinks f times: it is an L2 penalty (a Gaussian prior on the weights)
    added to the MEAN loss, so its weight against the data would otherwise stay that of
    LARGE_DATA_PIXELS pixels however many there are, where a prior's weight against the
    likelihood falls as 1/n (MacKay 1992, "A practical Bayesian framework for backpropagation
    networks"; scikit-learn's MLP divides its ``alpha`` by n the same way). Kept at the set
    value, it cost 0.1 point of held-out accuracy at 100 k and 1 M pixels.
    """
    if n <= LARGE_DATA_PIXELS:
        return config
    f = n / LARGE_DATA_PIXELS
    # never beyond the data or the setting's maximum: a batch the user set near them stays
    ceiling = min(n, setting("batch_size").maximum or n)
    growth = max(1.0, min(f, MAX_BATCH_GROWTH, ceiling / config.batch_size))
    batch = max(config.batch_size, round(config.batch_size * growth))
    epochs = min(config.epochs, max(MIN_SCALED_EPOCHS, round(config.epochs / f)))
    rate = config.learning_rate * math.sqrt(batch / config.batch_size)
    decay = config.weight_decay / f
    return replace(config, batch_size=batch, epochs=epochs, learning_rate=rate, weight_decay=decay)


#: Networks of the automatic ensemble (setting ``ensemble`` 0) up to LARGE_DATA_PIXELS.
AUTO_ENSEMBLE = 5


def ensemble_for(model_config: ModelConfig, n: int) -> ModelConfig:
    """The architecture to train on ``n`` pixels.

    ``model_config`` itself when its ensemble size is set (>= 1); the automatic ensemble (0,
    the default) is :data:`AUTO_ENSEMBLE` networks up to :data:`LARGE_DATA_PIXELS` pixels and
    one network above.

    An ensemble is variance reduction: on the few thousand pixels of a real scene's polygons
    one network's map depends on its seed (Indian Pines, grouped splits: 3.4 points between
    seeds for one network, 1.2 for the distilled ensemble; benchmarks/accuracy.py). On many
    pixels one network's spread is already small and the ensemble (and its distillation) costs
    about four times the training time for no accuracy (benchmarks/training_scale.py: 15.5 k
    pixels 82.1 % for one network, 82.0 % distilled from 5; 100 k pixels 87.0 % and 86.9 %).

    A perceptron (no hidden layer) is always one network: its loss is convex, so every
    member would learn the same decisions (:func:`core.config.train_request` refuses a set
    ensemble of more; here any size becomes 1, so that a search's perceptron trains one).
    """
    if model_config.is_perceptron:
        return replace(model_config, ensemble=1)
    if model_config.ensemble:
        return model_config
    return replace(model_config, ensemble=AUTO_ENSEMBLE if n <= LARGE_DATA_PIXELS else 1)


def describe_schedule(
    given: TrainingConfig,
    used: TrainingConfig,
    n: int,
    model_config: ModelConfig | None = None,
) -> str | None:
    """One sentence when :func:`schedule_for` changed the settings, else None.

    Also when :func:`ensemble_for` chose one network.
    """
    single = model_config is not None and model_config.ensemble == 0 and n > LARGE_DATA_PIXELS
    if used == given and not single:
        return None
    parts = [f"{n:,} training pixels:"]
    if single:
        parts.append("one network (the automatic ensemble trains one above "
                     f"{LARGE_DATA_PIXELS:,} pixels),")  # fmt: skip
    parts.append(
        f"batch {used.batch_size}, {used.epochs} epochs, learning rate "
        f"{used.learning_rate:.4g}, weight decay {used.weight_decay:.3g} (set: batch "
        f"{given.batch_size}, {given.epochs} epochs, {given.learning_rate:.4g}, "
        f"{given.weight_decay:.3g}; scaled above {LARGE_DATA_PIXELS:,} pixels so that training "
        "grows well with the data)."
    )
    return " ".join(parts)


def learning_rate_at(config: TrainingConfig, step: int, total: int) -> float:
    """The learning rate of gradient step ``step`` (0-based) of ``total``.

    "cosine" decays it from ``config.learning_rate`` to 0 along half a cosine,
    lr * (1 + cos(pi * step / total)) / 2 (Loshchilov and Hutter 2017, "SGDR", without
    restarts): large steps first, then small ones that settle in a minimum, so the last
    epoch's weights are good ones and no held-out data is needed to pick an epoch.
    "constant" keeps ``config.learning_rate`` throughout (the lecture's plain gradient descent).
    """
    if config.lr_schedule == "constant" or total <= 0:
        return config.learning_rate
    return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))


class FlatSGD:
    """Mini-batch gradient descent with momentum over all of a model's parameters at once.

    The same update as ``torch.optim.SGD(params, lr, momentum, weight_decay=...)`` (no
    dampening, not Nesterov; Sutskever et al. 2013, eq. 1-2; Polyak 1964), element by element
    and in the same order of operations, so the weights are the same to the last bit:
    ``g = grad + weight_decay * w``, ``v = momentum * v + g``, ``w = w - lr * v`` (the first
    step's v is g). The parameters are made views of one flat vector and their gradients
    views of another, so a step is three operations on the whole network instead of three per
    weight tensor: a small network's step is dominated by per-operation overhead, and this
    takes a third off a training step on the CPU (benchmarks/training_scale.py).

    Args:
        model: the network, already on its device; its parameters become views of
            :attr:`weights` (values kept).
        momentum: momentum coefficient, >= 0.
        weight_decay: L2 penalty coefficient, >= 0.
    """

    def __init__(self, model: nn.Module, momentum: float, weight_decay: float) -> None:
        """Make ``model``'s parameters views of one flat weight vector (arguments above)."""
        params = list(model.parameters())
        total = sum(p.numel() for p in params)
        device, dtype = params[0].device, params[0].dtype
        self.weights = torch.empty(total, device=device, dtype=dtype)
        self.grad = torch.zeros(total, device=device, dtype=dtype)
        self.velocity = torch.zeros(total, device=device, dtype=dtype)
        self.momentum, self.weight_decay = momentum, weight_decay
        offset = 0
        for p in params:
            n = p.numel()
            view = self.weights[offset : offset + n].view_as(p)
            view.copy_(p.detach())
            p.data = view
            # autograd accumulates into an existing gradient in place: backward() writes here
            p.grad = self.grad[offset : offset + n].view_as(p)
            offset += n

    def zero_grad(self) -> None:
        """Set the gradients to zero (before the next backward pass)."""
        self.grad.zero_()

    def step(self, lr: float) -> None:
        """One update with learning rate ``lr`` from the gradients backward() left."""
        g = self.grad
        if self.weight_decay:
            g = g.add(self.weights, alpha=self.weight_decay)
        self.velocity.mul_(self.momentum).add_(g)
        self.weights.add_(self.velocity, alpha=-lr)


def _member_losses(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None
) -> torch.Tensor:
    """Mean cross-entropy of each member over its own batch, shape (members,).

    ``logits`` (members, b, classes), ``target`` (members, b) class indices, or
    (members, b, classes) class probabilities (then -sum(p * log softmax), unweighted: the
    targets already carry what the class weights did to the ensemble). With class weights
    it is torch's weighted mean, sum(w_i * loss_i) / sum(w_i), per member.
    """
    k, b, c = logits.shape
    if target.is_floating_point():  # class probabilities (members, b, classes)
        return -(target * torch.log_softmax(logits, -1)).sum(-1).mean(1)
    each = nn.functional.cross_entropy(
        logits.reshape(k * b, c), target.reshape(k * b), weight=weight, reduction="none"
    ).view(k, b)
    if weight is None:
        return each.mean(1)
    return each.sum(1) / weight[target].sum(1)


def _evaluate(
    model: MLP, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None
) -> tuple[float, float]:
    """The ensemble's loss and accuracy on ``x`` (n, bands), ``y`` (n,).

    The loss is the cross-entropy of its averaged probabilities, class-weighted as in training.
    """
    model.eval()
    with torch.no_grad():
        probs = torch.cat([model(x[s : s + 65536]) for s in range(0, x.shape[0], 65536)])
        loss = ensemble_loss(probs, y, weight)
        correct = int((probs.argmax(1) == y).sum())
    model.train()
    return float(loss), correct / max(1, x.shape[0])


def _train_network(
    x_train: npt.NDArray[np.floating[Any]],
    y_train: npt.NDArray[np.integer[Any]],
    x_val: npt.NDArray[np.floating[Any]] | None,
    y_val: npt.NDArray[np.integer[Any]] | None,
    n_classes: int,
    model_config: ModelConfig,
    config: TrainingConfig,
    hooks: Hooks | None = None,
    schedule_epochs: int | None = None,
    targets: npt.NDArray[np.float32] | None = None,
    scaling: tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]] | None = None,
) -> TrainedNetwork:
    """:func:`train_network`'s loop.

    ``targets`` (n, classes) class probabilities to learn instead of the classes ``y_train``
    (which then only give the class weights); ``scaling`` the (mean, std) to standardise with
    instead of those of ``x_train``.
    """
    hooks = hooks or Hooks()
    if len(y_train) == 0:
        raise LandCoverError("No training samples are left: draw more training polygons.")
    device, device_name = select_device(config.device)
    members = model_config.ensemble
    if members > 1:
        hooks.log(f"Training {members} networks at once on {device_name}.")
    elif targets is None:
        hooks.log(f"Training on {device_name}.")
    started = time.perf_counter()
    has_val = x_val is not None and y_val is not None and len(y_val) > 0
    if scaling is None:
        mean = x_train.mean(axis=0, dtype=np.float64)
        std = x_train.std(axis=0, dtype=np.float64)
        std = np.where(std > 1e-6 * np.maximum(1.0, np.abs(mean)), std, 1.0)
    else:
        mean, std = scaling
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = MLP(
            x_train.shape[1],
            model_config.hidden_layers,
            n_classes,
            model_config.activation,
            model_config.dropout,
            members,
        )
    model.mean.copy_(torch.from_numpy(mean.astype(np.float32)))
    model.std.copy_(torch.from_numpy(std.astype(np.float32)))
    model.to(device)
    xt = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32)).to(device)
    if targets is None:
        yt = torch.from_numpy(np.asarray(y_train, dtype=np.int64)).to(device)
    else:
        yt = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32)).to(device)
    if has_val:
        xv = torch.from_numpy(np.ascontiguousarray(x_val, dtype=np.float32)).to(device)
        yv = torch.from_numpy(np.asarray(y_val, dtype=np.int64)).to(device)
    weight = None
    if config.class_weights:
        weight = torch.from_numpy(class_weights(np.asarray(y_train), n_classes)).to(device)
    optimiser = FlatSGD(model, config.momentum, config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    n = xt.shape[0]
    batch = min(config.batch_size, n)
    total_steps = (schedule_epochs or config.epochs) * math.ceil(n / batch)
    step = 0
    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state = math.inf, 0, state_to_numpy(model)
    stale = 0
    stopped_early = False
    model.train()
    for epoch in range(1, config.epochs + 1):
        # Each member its own order of the samples: the members differ by their first weights
        # and by the batches they see.
        order = torch.stack([torch.randperm(n, generator=generator) for _ in range(members)])
        order = order.to(device)
        running = torch.zeros(members, device=device)
        for start in range(0, n, batch):
            hooks.check()
            idx = order[:, start : start + batch]
            optimiser.zero_grad()
            losses = _member_losses(
                model.member_logits(xt[idx]), yt[idx], None if targets is not None else weight
            )
            losses.sum().backward()  # members share no weight: each gets its own gradient
            optimiser.step(learning_rate_at(config, step, total_steps))
            running.add_(losses.detach(), alpha=idx.shape[1])
            step += 1
        train_loss = float(running.mean()) / n
        if not math.isfinite(train_loss):
            # the diagnosis of the epochs so far, this one included, gives the advice
            failed = [*history, {"epoch": epoch, "train_loss": train_loss}]
            found = diagnose(failed, config.learning_rate, n_classes)
            raise LandCoverError(found[0]["message"])
        record: dict[str, float] = {
            "epoch": epoch,
            "train_loss": train_loss,
            "lr": learning_rate_at(config, step, total_steps),
        }
        if has_val:
            val_loss, val_acc = _evaluate(model, xv, yv, weight)
            record.update(val_loss=val_loss, val_accuracy=val_acc)
            watched = val_loss
        else:
            watched = train_loss
        history.append(record)
        hooks.epoch(dict(record))
        if not config.patience:
            best_epoch = epoch
        elif watched < best_loss - 1e-6:
            best_loss, best_epoch, stale = watched, epoch, 0
            best_state = state_to_numpy(model)
        else:
            stale += 1
        hooks.progress(100.0 * epoch / config.epochs)
        if config.patience and stale >= config.patience:
            stopped_early = epoch < config.epochs
            hooks.log(f"Early stopping at epoch {epoch}: best epoch was {best_epoch}.")
            break
    if not config.patience:
        best_state = state_to_numpy(model)
    hooks.progress(100.0)
    return TrainedNetwork(
        state=best_state,
        history=history,
        best_epoch=best_epoch,
        stopped_early=stopped_early,
        device=device_name,
        seconds=time.perf_counter() - started,
    )
