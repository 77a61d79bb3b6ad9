"""Accuracy assessment: confusion matrix, overall accuracy, kappa, per-class scores.

Convention: confusion matrix rows are the reference (truth), columns the prediction, so row
sums are reference pixels per class and recall is the producer's accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .classes import ClassInfo


@dataclass(frozen=True)
class ClassScore:
    """Per-class scores; NaN where undefined (no reference or no predicted pixel)."""

    name: str
    value: int
    precision: float  # user's accuracy
    recall: float  # producer's accuracy
    f1: float
    support: int  # reference pixels


@dataclass(frozen=True)
class AccuracyReport:
    """Accuracy of a classification against reference labels.

    Attributes:
        overall_accuracy: share of correctly classified reference pixels.
        kappa: Cohen's kappa.
        confusion_matrix: rows = reference, columns = predicted, class index order.
        classes: the classes, in matrix order.
        per_class: precision / recall / F1 / support per class.
        n_pixels: reference pixels compared.
        method: how the accuracy was estimated (e.g. grouped split by polygon).
        warnings: caveats (classes without validation pixels, pixel-split fallback, ...).
        assessed_model: which model was scored, in words ("" = not stated): the saved model,
            or a model of the same settings trained without the held-out polygons.
        saved_model_saw_reference: whether the saved model was trained on these reference
            pixels too (True after an assessment run; None = not stated).
    """

    overall_accuracy: float
    kappa: float
    confusion_matrix: list[list[int]]
    classes: tuple[ClassInfo, ...]
    per_class: tuple[ClassScore, ...]
    n_pixels: int
    method: str = ""
    warnings: tuple[str, ...] = field(default=())
    assessed_model: str = ""
    saved_model_saw_reference: bool | None = None
    #: area-adjusted estimates (:class:`.area_estimation.AreaAdjusted`) when the reference is a
    #: stratified sample of points, else None
    area_adjusted: Any = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes None)."""

        def clean(v: object) -> object:
            if isinstance(v, float) and not np.isfinite(v):
                return None
            return v

        out = {
            "overall_accuracy": clean(self.overall_accuracy),
            "kappa": clean(self.kappa),
            "n_pixels": self.n_pixels,
            "method": self.method,
            "assessed_model": self.assessed_model,
            "saved_model_saw_reference": self.saved_model_saw_reference,
            "confusion_matrix_orientation": "rows = reference (truth), columns = predicted",
            "classes": [asdict(c) for c in self.classes],
            "confusion_matrix": self.confusion_matrix,
            "per_class": {
                s.name: {k: clean(v) for k, v in asdict(s).items() if k != "name"}
                for s in self.per_class
            },
            "precision": {s.name: clean(s.precision) for s in self.per_class},
            "recall": {s.name: clean(s.recall) for s in self.per_class},
            "f1": {s.name: clean(s.f1) for s in self.per_class},
            "warnings": list(self.warnings),
        }
        if self.area_adjusted is not None:
            out["area_adjusted"] = self.area_adjusted.to_dict()
        return out


def confusion_matrix(
    reference: npt.NDArray[np.integer[Any]], predicted: npt.NDArray[np.integer[Any]], n_classes: int
) -> npt.NDArray[np.int64]:
    """Counts of (reference, predicted) class-index pairs.

    Args:
        reference: class index of each reference pixel, integer (n,), in [0, n_classes).
        predicted: predicted class index of the same pixels, integer (n,), in [0, n_classes).
        n_classes: number of classes (the matrix's side).

    Returns:
        int64 (n_classes, n_classes): rows = reference, columns = predicted.

    Raises:
        ValueError: a class index is negative.
    """
    ref = np.asarray(reference, dtype=np.int64)
    pred = np.asarray(predicted, dtype=np.int64)
    flat = np.bincount(ref * n_classes + pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def report_from_matrix(
    matrix: npt.NDArray[np.integer[Any]] | npt.NDArray[np.floating[Any]],
    classes: Sequence[ClassInfo],
    method: str = "",
    warnings: Sequence[str] = (),
) -> AccuracyReport:
    """Scores from a confusion matrix.

    Args:
        matrix: pixel counts (n_classes, n_classes), rows = reference, columns = predicted.
        classes: the classes, in matrix order.
        method: how the accuracy was estimated, in words (for the report).
        warnings: caveats to carry into the report; classes without reference pixels and
            classes never classified right are added.

    Returns:
        Overall accuracy, kappa and per-class user's/producer's accuracy and F1 (NaN where
        undefined).
    """
    m = np.asarray(matrix, dtype=np.float64)
    total = m.sum()
    diag = np.diag(m)
    ref = m.sum(axis=1)
    pred = m.sum(axis=0)
    oa = float(diag.sum() / total) if total else float("nan")
    expected = float((ref * pred).sum() / total**2) if total else float("nan")
    kappa = (oa - expected) / (1 - expected) if total and expected < 1 else float("nan")
    if total and expected >= 1:  # a single class, perfectly predicted
        kappa = 1.0 if oa == 1.0 else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(pred > 0, diag / pred, np.nan)
        recall = np.where(ref > 0, diag / ref, np.nan)
        f1 = np.where((precision + recall) > 0, 2 * precision * recall / (precision + recall), 0.0)
    # a class never predicted has no user's accuracy but an F1 of 0 (it is never found);
    # a class without reference pixels has neither recall nor F1
    f1 = np.where(np.isnan(recall), np.nan, np.where(np.isnan(precision), 0.0, f1))
    warn = list(warnings)
    absent = [c.name for c, r in zip(classes, ref) if r == 0]
    if absent:
        warn.append(
            f"No reference pixel for class(es) {', '.join(absent)}: their recall and F1 are "
            "undefined and they do not count in the overall accuracy."
        )
    missed = [f"{c.name} ({int(r)} px)" for c, r, d in zip(classes, ref, diag) if r > 0 and d == 0]
    if missed:
        warn.append(
            f"Class(es) {', '.join(missed)} were never classified right (recall 0): the map "
            "misses them. Give them more training polygons, spread over the scene, or lower "
            "the cap per class so that large classes do not drown them."
        )
    scores = tuple(
        ClassScore(c.name, c.value, float(p), float(r), float(f), int(s))
        for c, p, r, f, s in zip(classes, precision, recall, f1, ref)
    )
    return AccuracyReport(
        overall_accuracy=oa,
        kappa=float(kappa),
        confusion_matrix=[[int(v) for v in row] for row in m],
        classes=tuple(classes),
        per_class=scores,
        n_pixels=int(total),
        method=method,
        warnings=tuple(warn),
    )


def assess(
    reference: npt.NDArray[np.integer[Any]],
    predicted: npt.NDArray[np.integer[Any]],
    classes: Sequence[ClassInfo],
    method: str = "",
    warnings: Sequence[str] = (),
) -> AccuracyReport:
    """Accuracy of class indices ``predicted`` against ``reference``.

    Args:
        reference: class index of each reference pixel, integer (n,), into ``classes``.
        predicted: predicted class index of the same pixels, integer (n,).
        classes: the classes, in index order.
        method: how the accuracy was estimated, in words (for the report).
        warnings: caveats to carry into the report.

    Returns:
        The report of :func:`report_from_matrix` on their confusion matrix.

    Raises:
        ValueError: a class index is negative.
    """
    return report_from_matrix(
        confusion_matrix(reference, predicted, len(classes)), classes, method, warnings
    )
