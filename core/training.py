"""Training: mini-batch gradient descent with momentum, early stopping, seeded. Imports torch."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import threads
from .callbacks import Hooks
from .config import ModelConfig, TrainingConfig
from .errors import LandCoverError
from .network import MLP, select_device, state_to_numpy


@dataclass(frozen=True)
class TrainedNetwork:
    """Result of :func:`train_network`.

    Attributes:
        state: weights and standardisation buffers (float32 numpy).
        history: one record per epoch: epoch, train_loss, val_loss, val_accuracy, lr.
        best_epoch: epoch whose weights were kept (1-based).
        stopped_early: early stopping ended training before the last epoch.
        device: description of the device used.
        seconds: wall time of training.
    """

    state: dict[str, np.ndarray]
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    device: str
    seconds: float


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Balanced weights n / (k * count), as scikit-learn's ``class_weight='balanced'``."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)
    return weights.astype(np.float32)


def _evaluate(
    model: MLP, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module
) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        total_loss, correct = 0.0, 0
        for start in range(0, x.shape[0], 65536):
            logits = model(x[start : start + 65536])
            target = y[start : start + 65536]
            total_loss += float(loss_fn(logits, target)) * target.shape[0]
            correct += int((logits.argmax(1) == target).sum())
    model.train()
    n = max(1, x.shape[0])
    return total_loss / n, correct / n


def train_network(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray | None,
    y_val: np.ndarray | None,
    n_classes: int,
    model_config: ModelConfig,
    config: TrainingConfig,
    hooks: Hooks | None = None,
) -> TrainedNetwork:
    """Train an MLP on standardised pixels.

    Early stopping watches the validation loss (the training loss when there is no
    validation set) and restores the weights of the best epoch.

    Args:
        x_train: training features (n, bands), raw values.
        y_train: class indices (n,).
        x_val: validation features, or None.
        y_val: validation class indices, or None.
        n_classes: number of classes.
        model_config: architecture.
        config: optimiser, epochs, early stopping, seed, device.
        hooks: progress, per-epoch history, cancel (checked every batch), log.

    Returns:
        The trained weights and the history.

    Raises:
        LandCoverError: no training samples, or training diverged.
        CancelledError: the user cancelled.
    """
    # Dropout and batch order draw from torch's global RNG: seed a private copy of it so the
    # same data and seed give the same model, and the caller's RNG state is left untouched.
    # Mini-batches of an MLP are tiny matrix products: on the CPU one thread is many times
    # faster than several (thread wake-ups dominate), and it makes results independent of the
    # core count. core/threads.py owns the setting and restores the caller's.
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with threads.single_threaded(torch), torch.random.fork_rng(devices=devices):
        torch.manual_seed(config.seed)
        return _train_network(
            x_train, y_train, x_val, y_val, n_classes, model_config, config, hooks
        )


def _train_network(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray | None,
    y_val: np.ndarray | None,
    n_classes: int,
    model_config: ModelConfig,
    config: TrainingConfig,
    hooks: Hooks | None = None,
) -> TrainedNetwork:
    hooks = hooks or Hooks()
    if len(y_train) == 0:
        raise LandCoverError("No training samples are left: draw more training polygons.")
    device, device_name = select_device(config.device)
    hooks.log(f"Training on {device_name}.")
    started = time.perf_counter()
    has_val = x_val is not None and y_val is not None and len(y_val) > 0
    mean = x_train.mean(axis=0, dtype=np.float64)
    std = x_train.std(axis=0, dtype=np.float64)
    std = np.where(std > 1e-6 * np.maximum(1.0, np.abs(mean)), std, 1.0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = MLP(
            x_train.shape[1],
            model_config.hidden_layers,
            n_classes,
            model_config.activation,
            model_config.dropout,
        )
    model.mean.copy_(torch.from_numpy(mean.astype(np.float32)))
    model.std.copy_(torch.from_numpy(std.astype(np.float32)))
    model.to(device)
    xt = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32)).to(device)
    yt = torch.from_numpy(np.asarray(y_train, dtype=np.int64)).to(device)
    if has_val:
        xv = torch.from_numpy(np.ascontiguousarray(x_val, dtype=np.float32)).to(device)
        yv = torch.from_numpy(np.asarray(y_val, dtype=np.int64)).to(device)
    weight = None
    if config.class_weights:
        weight = torch.from_numpy(class_weights(np.asarray(y_train), n_classes)).to(device)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    optimiser = torch.optim.SGD(
        model.parameters(),
        lr=config.learning_rate,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    generator = torch.Generator().manual_seed(config.seed)
    n = xt.shape[0]
    batch = min(config.batch_size, n)
    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state = math.inf, 0, state_to_numpy(model)
    stale = 0
    stopped_early = False
    model.train()
    for epoch in range(1, config.epochs + 1):
        order = torch.randperm(n, generator=generator).to(device)
        running = 0.0
        for start in range(0, n, batch):
            hooks.check()
            idx = order[start : start + batch]
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            optimiser.step()
            running += float(loss.detach()) * idx.shape[0]
        train_loss = running / n
        if not math.isfinite(train_loss):
            raise LandCoverError(
                "Training diverged (the loss is no longer a number): lower the learning rate "
                f"(now {config.learning_rate}) or the momentum."
            )
        record: dict[str, float] = {"epoch": epoch, "train_loss": train_loss}
        if has_val:
            val_loss, val_acc = _evaluate(model, xv, yv, loss_fn)
            record.update(val_loss=val_loss, val_accuracy=val_acc)
            watched = val_loss
        else:
            watched = train_loss
        history.append(record)
        hooks.epoch(dict(record))
        if watched < best_loss - 1e-6:
            best_loss, best_epoch, stale = watched, epoch, 0
            best_state = state_to_numpy(model)
        else:
            stale += 1
        hooks.progress(100.0 * epoch / config.epochs)
        if config.patience and stale >= config.patience:
            stopped_early = epoch < config.epochs
            hooks.log(f"Early stopping at epoch {epoch}: best epoch was {best_epoch}.")
            break
    hooks.progress(100.0)
    return TrainedNetwork(
        state=best_state,
        history=history,
        best_epoch=best_epoch,
        stopped_early=stopped_early,
        device=device_name,
        seconds=time.perf_counter() - started,
    )
