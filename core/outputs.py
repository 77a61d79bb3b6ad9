"""The files that go with a trained model: model file, loss curves, validation report.

One place for the dialog's task, the Processing algorithms, the command line and the demo.
"""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .classes import ClassInfo
from .diagnosis import diagnosis_html
from .diagram import network_html
from .fileio import OutputStage, output_path
from .model_io import save_model
from .provenance import model_provenance
from .reports import (
    plot_loss_curves,
    provenance_html,
    write_history_csv,
    write_report_html,
    write_report_json,
)
from .workflow import TrainResult

NO_VALIDATION = "No validation pixels: set a validation share above 0 or give validation polygons."
#: When a share was set but held out no pixel (too few polygons or pixels per class).
NO_VALIDATION_LEFT = (
    "No validation pixels: holding out {share:.0%} of each class's polygons left none (too few "
    "polygons or pixels per class, or a cap per class of a few pixels); add polygons, raise "
    "the cap or give validation polygons."
)
NO_VALIDATION_HTML = "<html><body><h1>No validation</h1>{paragraphs}</body></html>"


def no_validation_warnings(result: TrainResult) -> list[str]:
    """Why a run has no accuracy, then what else the user should know."""
    share = (result.model.training.get("split") or {}).get("validation_share") or 0
    first = NO_VALIDATION_LEFT.format(share=share) if share else NO_VALIDATION
    return [first, *result.warnings]


def no_validation_report(
    details: dict[str, Any], warnings: list[str] | None = None
) -> dict[str, Any]:
    """The report JSON of a model trained without validation pixels.

    The keys of an accuracy report (``docs/naming.md``) with no accuracy.
    """
    warnings = warnings or [NO_VALIDATION]
    return {
        "overall_accuracy": None,
        "kappa": None,
        "n_pixels": 0,
        "method": (
            "not measured: no polygon was held out and no validation layer was given"
            if warnings[0] == NO_VALIDATION
            else "not measured: the polygons held out gave no validation pixel"
        ),
        "assessed_model": "",
        "saved_model_saw_reference": None,
        "warnings": warnings,
        "details": details,
    }


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
    details: dict[str, Any] = {
        "model": model.describe_network(),
        "pixels the saved model learnt from": result.n_train,
        "validation pixels": result.n_validation,
        "epochs": model.info.get("best_epoch"),
        "device": model.info.get("device"),
    }
    sampling = model.training.get("sampling", {})
    used, available = sampling.get("pixels_used"), sampling.get("pixels_available")
    if used and available and len(used) == len(available) == len(model.classes):
        details["pixels used / available per class"] = ", ".join(
            f"{c.name} {u} / {a}" for c, u, a in zip(model.classes, used, available)
        )
    schedule = model.training.get("schedule")
    if schedule:
        details["training schedule"] = (
            f"batch {schedule['batch_size']}, {schedule['epochs']} epochs, learning rate "
            f"{schedule['learning_rate']:.4g}, weight decay {schedule['weight_decay']:.3g}"
        )
    return details


def save_training_outputs(
    result: TrainResult,
    model_path: str | Path,
    loss_curve: str | Path | None = None,
    report: str | Path | None = None,
    written: list[Path] | None = None,
) -> list[Path]:
    """Write the model, the loss curves (PNG + CSV) and the validation report (HTML + JSON).

    The files are one output stage: they are moved into place together once all of them
    were written, and an error or a cancel leaves none of them (and every existing file as
    it was). The paths are appended to ``written`` once they are in place.

    Args:
        result: the trained model and its validation report.
        model_path: the model file.
        loss_curve: the loss-curve PNG (the CSV goes beside it), or None.
        report: the validation report HTML (the JSON goes beside it), or None.
        written: a list to extend with the files written.

    Returns:
        The files written, in order.

    Raises:
        LandCoverError: unwritable folder, full disk or two outputs with one name.
    """
    with OutputStage() as stage:
        _stage_training_outputs(stage, result, Path(model_path), loss_curve, report)
    if written is None:
        return list(stage.committed)
    written.extend(stage.committed)
    return written


def _stage_training_outputs(
    stage: OutputStage,
    result: TrainResult,
    model_path: Path,
    loss_curve: str | Path | None,
    report: str | Path | None,
) -> None:
    model = result.model
    save_model(model, model_path, stage=stage)
    if loss_curve:
        best = model.early_stopping_epoch
        plot_loss_curves(model.history, loss_curve, best, stage=stage)
        write_history_csv(model.history, Path(loss_curve).with_suffix(".csv"), stage=stage)
    if not report:
        return
    report = Path(report)
    details = report_details(result)
    provenance = model_provenance(model)
    diagnosis = [dict(d) for d in result.diagnosis]
    sections = diagnosis_html(diagnosis) + network_html(model)
    if result.report is None:
        # Both files are written: an earlier run's report beside the same model must not
        # survive to describe a model that no longer exists.
        rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in details.items()
        )
        said = no_validation_warnings(result)
        paragraphs = "".join(f"<p>{html.escape(w)}</p>" for w in said)
        stage.part(report).write_text(
            NO_VALIDATION_HTML.format(paragraphs=paragraphs).replace(
                "</body>",
                f"{sections}<h2>Details</h2><table>{rows}</table>{provenance_html(provenance)}"
                "</body>",
            ),
            encoding="utf-8",
        )
        with output_path(report.with_suffix(".json"), stage) as tmp:
            data = {**no_validation_report(details, said), "diagnosis": diagnosis,
                    "provenance": provenance}  # fmt: skip
            tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return
    write_report_html(result.report, report, "Validation report", details, loss_curve,
                      provenance=provenance, stage=stage, sections=sections)  # fmt: skip
    write_report_json(result.report, report.with_suffix(".json"),
                      {"details": details, "diagnosis": diagnosis},
                      provenance=provenance, stage=stage)  # fmt: skip
