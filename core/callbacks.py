"""Plain-callable hooks for progress, per-epoch history and cancellation.

The core never sees Qt or QGIS: the plugin adapts ``QgsProcessingFeedback`` / ``QgsTask`` to
these callables, the command line adapts a terminal progress bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import CancelledError

ProgressFn = Callable[[float], None]
"""Receives a completion percentage in [0, 100]."""
CancelFn = Callable[[], bool]
"""Returns True when the user asked to stop."""
EpochFn = Callable[[dict[str, Any]], None]
"""Receives one history record per epoch (epoch, train_loss, val_loss, val_accuracy, ...;
final_train_loss during the saved model's run on all polygons; distill_loss,
distill_val_loss, distill_val_accuracy and final_distill_loss for the network distilled from an
ensemble)."""
LogFn = Callable[[str], None]


def _no_progress(_: float) -> None:
    return None


def _never() -> bool:
    return False


def _no_epoch(_: dict[str, Any]) -> None:
    return None


def _no_log(_: str) -> None:
    return None


@dataclass(frozen=True)
class Hooks:
    """Callbacks handed to long-running core functions.

    Attributes:
        progress: called with 0-100 as work advances.
        cancelled: polled often (every batch / block); True stops the work.
        epoch: called after each training epoch with that epoch's history record.
        log: human-readable messages (device chosen, warnings, losses).
    """

    progress: ProgressFn = field(default=_no_progress)
    cancelled: CancelFn = field(default=_never)
    epoch: EpochFn = field(default=_no_epoch)
    log: LogFn = field(default=_no_log)

    def check(self) -> None:
        """Raise :class:`CancelledError` when the user asked to stop."""
        if self.cancelled():
            raise CancelledError()

    def scaled(self, start: float, end: float) -> Hooks:
        """Hooks whose progress 0-100 maps onto ``start``-``end`` of this one (multi-step work)."""
        outer = self.progress

        def progress(p: float) -> None:
            outer(start + (end - start) * max(0.0, min(100.0, p)) / 100.0)

        return Hooks(progress=progress, cancelled=self.cancelled, epoch=self.epoch, log=self.log)

    def renaming(self, names: dict[str, str]) -> Hooks:
        """Hooks whose epoch records have keys renamed by ``names`` (old -> new)."""
        inner = self.epoch

        def epoch(rec: dict[str, Any]) -> None:
            inner({names.get(k, k): v for k, v in rec.items()})

        return Hooks(progress=self.progress, cancelled=self.cancelled, epoch=epoch, log=self.log)


def merge_records(first: list[dict[str, Any]], second: list[dict[str, Any]],
                  names: dict[str, str]) -> list[dict[str, Any]]:  # fmt: skip
    """Epoch records of ``first`` with keys of ``second``'s records added, matched by epoch.

    The keys added are those ``names`` lists, renamed (old -> new); the records are in epoch
    order.
    """
    merged = {int(r["epoch"]): dict(r) for r in first}
    for r in second:
        merged.setdefault(int(r["epoch"]), {"epoch": r["epoch"]}).update(
            {new: r[old] for old, new in names.items() if old in r}
        )
    return [merged[e] for e in sorted(merged)]


def describe_epoch(rec: dict[str, Any]) -> str:
    """One line per epoch record for logs.

    E.g. "Epoch 3: training loss 0.4120, validation loss 0.5010, accuracy 81.0%",
    "Epoch 3 (distilled network): distillation loss 0.3010, ..." or
    "Epoch 3 (all polygons): training loss 0.4010".
    """
    if "final_train_loss" in rec and "train_loss" not in rec:
        return f"Epoch {rec['epoch']} (all polygons): training loss {rec['final_train_loss']:.4f}"
    if "final_distill_loss" in rec and "distill_loss" not in rec:
        return (
            f"Epoch {rec['epoch']} (all polygons, distilled network): distillation loss "
            f"{rec['final_distill_loss']:.4f}"
        )
    if "distill_loss" in rec and "train_loss" not in rec:
        text = (
            f"Epoch {rec['epoch']} (distilled network): distillation loss {rec['distill_loss']:.4f}"
        )
        if rec.get("distill_val_loss") is not None:
            text += (
                f", validation loss {rec['distill_val_loss']:.4f}, "
                f"accuracy {rec['distill_val_accuracy']:.1%}"
            )
        return text
    text = f"Epoch {rec['epoch']}: training loss {rec['train_loss']:.4f}"
    if rec.get("val_loss") is not None:
        text += f", validation loss {rec['val_loss']:.4f}, accuracy {rec['val_accuracy']:.1%}"
    return text
