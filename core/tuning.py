"""The "find the best settings" pipeline of every route.

It reads the search settings, searches by grouped k-fold cross-validation, and saves the
table and the retrained model. The command line (``tune``), the Processing algorithm ``landcover_mlp:tune`` and the dialog's
task all call :func:`search_config` and :func:`run_search`; the search itself is
:func:`core.selection.tune_model`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import settings
from .callbacks import Hooks
from .config import ACTIVATIONS, TrainRequest, parse_hidden_layers
from .errors import LandCoverError
from .fileio import OutputStage, output_path
from .model_io import save_model
from .naming import SearchOutputs
from .outputs import apply_colours
from .selection import (
    ConfigScore,
    SearchConfig,
    SearchSpace,
    TuneResult,
    search_summary,
    tune_model,
)
from .tuning_report import write_search_csv, write_search_html


def _numbers(text: str, kind: type, what: str, example: str) -> tuple[Any, ...]:
    parts = [p for p in text.replace(" ", "").replace(";", ",").split(",") if p]
    try:
        return tuple(kind(p) for p in parts)
    except ValueError as exc:
        raise LandCoverError(
            f"{what} '{text}' is not a list of numbers: write e.g. {example}."
        ) from exc


def parse_space(
    hidden_layers: str,
    learning_rates: str,
    momentums: str,
    activations: str = "",
    batch_sizes: str = "",
    default_activation: str = "relu",
) -> SearchSpace:
    """The search space from its text fields (``"32;64,64"``, ``"0.01,0.05"``, ...).

    Every value is checked against the range of its setting (core/settings.py). Empty
    activations mean ``default_activation``; empty batch sizes the training batch size.

    Raises:
        LandCoverError: a field that cannot be read or a value out of range (the message
            says what to write).
    """
    body = hidden_layers.strip().strip(";")
    raw_sets = body.split(";") if body.strip() else []
    if any(not v.strip() for v in raw_sets):
        raise LandCoverError(
            f"Hidden layers to try '{hidden_layers}' has an empty set between ';': write e.g. "
            "32;64;64,64."
        )
    sets = tuple(parse_hidden_layers(v) for v in raw_sets)
    rates = _numbers(learning_rates, float, "Learning rates", "0.003,0.01,0.03")
    moms = _numbers(momentums, float, "Momentums", "0.5,0.9")
    for values, what, example in (
        (sets, "hidden-layer set", "32;64;64,64"),
        (rates, "learning rate", "0.01,0.05"),
        (moms, "momentum", "0.5,0.9"),
    ):
        if not values:
            raise LandCoverError(f"Give at least one {what} to try, e.g. {example}.")
    for rate in rates:
        settings.check("learning_rate", rate)
    for mom in moms:
        settings.check("momentum", mom)
    acts = tuple(a.strip().lower() for a in activations.split(",") if a.strip())
    for name in acts:
        if name not in ACTIVATIONS:
            raise LandCoverError(f"Activation '{name}' is not one of {', '.join(ACTIVATIONS)}.")
    sizes = _numbers(batch_sizes, int, "Batch sizes", "16,32,64")
    for size in sizes:
        settings.check("batch_size", size)
    return SearchSpace(
        hidden_layers=sets,
        learning_rate=rates,
        momentum=moms,
        activation=acts or (default_activation,),
        batch_size=sizes,
    )


def space_from(values: Mapping[str, Any], default_activation: str = "relu") -> SearchSpace:
    """The search space from the search settings' values (setting name -> text).

    Raises:
        LandCoverError: a value that :func:`parse_space` refuses.
    """
    return parse_space(
        values["search_hidden_layers"],
        values["search_learning_rates"],
        values["search_momentums"],
        values["search_activations"],
        values["search_batch_sizes"],
        default_activation,
    )


def search_config(values: Mapping[str, Any], default_activation: str = "relu") -> SearchConfig:
    """The search of every route from the settings' values (search settings and ``seed``).

    The time budget is in minutes (0 = no limit), as the settings table says.

    Raises:
        LandCoverError: a value the settings table or :func:`parse_space` refuses.
    """
    names = settings.SEARCH + (settings.BY_NAME["seed"],)
    v = settings.resolve({k: val for k, val in values.items() if k in settings.BY_NAME}, names)
    space = space_from(v, default_activation)
    minutes = v["time_budget"]
    return SearchConfig(
        space, v["strategy"], v["n_iter"], v["folds"], minutes * 60 if minutes > 0 else None,
        v["seed"],
    )  # fmt: skip


@dataclass(frozen=True)
class SearchRun:
    """What :func:`run_search` produced.

    Attributes:
        result: the core's result: ranked table, best configuration, retrained model,
            cancelled / budget flags, fold warnings and how accuracy was estimated.
        table_csv: the search table (.csv), or None when no configuration finished.
        table_html: the same table as a page, or None.
        summary_json: method, best configuration and flags (.json), or None.
        model: the model retrained with the best settings, or None (none finished, or no
            model path was given).
    """

    result: TuneResult
    table_csv: Path | None
    table_html: Path | None
    summary_json: Path | None
    model: Path | None


def run_search(
    request: TrainRequest,
    search: SearchConfig,
    outputs: SearchOutputs,
    model: str | Path | None,
    colours: Mapping[str, str] | None = None,
    hooks: Hooks | None = None,
    on_score: Callable[[ConfigScore], None] | None = None,
) -> SearchRun:
    """Search, then write the table (CSV, HTML, JSON) and the retrained model as one stage.

    The files are committed together when the search ends (finished, cancelled or out of
    time: the finished configurations are kept); an error leaves none of them.

    Args:
        request: raster, polygons and the base settings the search varies.
        search: space, strategy, folds, time budget and seed (see :func:`search_config`).
        outputs: where the table goes (see ``core/naming.py: search_outputs``).
        model: where to save the model retrained with the best settings (None = not saved).
        colours: class name or value -> "#rrggbb" for the saved model's classes.
        hooks: progress, cancel and log.
        on_score: called with each finished configuration.

    Raises:
        LandCoverError: bad data, or a file that cannot be written.
    """
    result = tune_model(request, search, hooks, on_score)
    if not result.scores:
        return SearchRun(result, None, None, None, None)
    saved: Path | None = None
    with OutputStage() as stage:
        csv_path = write_search_csv(result, outputs.table_csv, stage=stage)
        html_path = write_search_html(result, outputs.table_html, stage=stage)
        with output_path(outputs.summary_json, stage) as tmp:
            tmp.write_text(json.dumps(search_summary(result), indent=2), encoding="utf-8")
        if model is not None and result.final is not None:
            final = result.final.model
            if colours:
                final = replace(final, classes=apply_colours(final.classes, colours))
            saved = save_model(final, model, stage=stage)
    return SearchRun(result, csv_path, html_path, Path(outputs.summary_json), saved)
