"""The files that go with a trained model: model file, loss curves, validation report.

One place for the dialog's task, the Processing algorithms, the command line and the demo.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .classes import ClassInfo
from .fileio import atomic_path
from .model_io import save_model
from .reports import plot_loss_curves, write_history_csv, write_report_html, write_report_json
from .workflow import TrainResult

NO_VALIDATION_HTML = (
    "<html><body><h1>No validation</h1><p>No validation pixels: set a validation share "
    "above 0 or give validation polygons.</p></body></html>"
)


def apply_colours(
    classes: tuple[ClassInfo, ...], colours: Mapping[str, str]
) -> tuple[ClassInfo, ...]:
    """Classes with colours replaced where ``colours`` (by class name or value) gives one."""
    return tuple(
        ClassInfo(c.value, c.name, colours.get(c.name) or colours.get(str(c.value)) or c.colour)
        for c in classes
    )


def recolour(result: TrainResult, colours: Mapping[str, str]) -> TrainResult:
    """The result with class colours taken from e.g. the training layer's symbology."""
    if not colours:
        return result
    classes = apply_colours(result.model.classes, colours)
    report = result.report
    if report is not None:
        report = dataclasses.replace(report, classes=classes)
    model = dataclasses.replace(
        result.model, classes=classes, metrics=report.to_dict() if report else result.model.metrics
    )
    return dataclasses.replace(result, model=model, report=report)


def report_details(result: TrainResult) -> dict[str, Any]:
    """The facts shown beside a validation report."""
    model = result.model
    return {
        "training pixels": result.n_train,
        "validation pixels": result.n_validation,
        "best epoch": model.info.get("best_epoch"),
        "device": model.info.get("device"),
        "hidden layers": ",".join(map(str, model.model.hidden_layers)),
    }


def save_training_outputs(
    result: TrainResult,
    model_path: str | Path,
    loss_curve: str | Path | None = None,
    report: str | Path | None = None,
    written: list[Path] | None = None,
) -> list[Path]:
    """Write the model, the loss curves (PNG + CSV) and the validation report (HTML + JSON).

    Each file is written atomically. Paths are appended to ``written`` as each one exists, so
    a caller that must undo a failed run removes only what this run wrote.

    Returns:
        The files written, in order.
    """
    written = [] if written is None else written
    model = result.model
    written.append(save_model(model, model_path))
    if loss_curve:
        best = model.info.get("best_epoch")
        written.append(plot_loss_curves(model.history, loss_curve, best))
        written.append(write_history_csv(model.history, Path(loss_curve).with_suffix(".csv")))
    if report:
        report = Path(report)
        if result.report is None:
            with atomic_path(report) as tmp:
                tmp.write_text(NO_VALIDATION_HTML, encoding="utf-8")
            written.append(report)
        else:
            details = report_details(result)
            written.append(write_report_html(result.report, report, "Validation report",
                                             details, loss_curve))  # fmt: skip
            written.append(write_report_json(result.report, report.with_suffix(".json"),
                                             {"details": details}))  # fmt: skip
    return written
