"""The model-selection table as CSV and as a readable HTML page."""

from __future__ import annotations

import csv
import html
from pathlib import Path

from .fileio import OutputStage, output_path
from .selection import TuneResult

COLUMNS = (
    "hidden_layers", "activation", "learning_rate", "momentum", "batch_size", "oa_mean",
    "oa_std", "kappa_mean", "kappa_std", "val_loss_mean", "val_loss_std", "seconds", "folds",
)  # fmt: skip


def write_search_csv(
    result: TuneResult, path: str | Path, *, stage: OutputStage | None = None
) -> Path:
    """One row per finished configuration, best first.

    Args:
        result: the search result.
        path: the CSV file.
        stage: the output stage the file belongs to; None writes it on its own.

    Returns:
        ``path``.
    """
    path = Path(path)
    with output_path(path, stage) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        writer.writerows(result.table())
    return path


def search_html(result: TuneResult) -> str:
    """A self-contained HTML page: how accuracy was estimated, the best, the table."""
    e = html.escape
    rows = "".join(
        "<tr"
        + (' class="best"' if i == 0 else "")
        + ">"
        + "".join(
            f"<td>{e(f'{r[c]:.1%}' if c.startswith(('oa_', 'kappa_')) and c.startswith('oa') else (f'{r[c]:.3f}' if isinstance(r[c], float) and c not in ('learning_rate', 'momentum') else str(r[c])))}</td>"
            for c in COLUMNS
        )
        + "</tr>"
        for i, r in enumerate(result.table())
    )
    head = "".join(f"<th>{e(c)}</th>" for c in COLUMNS)
    status = []
    if result.cancelled:
        status.append("The search was cancelled; the table holds the configurations it finished.")
    if result.budget_exhausted:
        status.append(
            f"The time budget stopped the search after {result.tried} of {result.planned} "
            "configurations; the table holds those that finished."
        )
    warn = "".join(f"<li>{e(w)}</li>" for w in (*status, *result.warnings))
    best = e(result.best.label()) if result.best else "none finished"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Model selection</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 7px;text-align:right}} tr.best{{background:#e3f2e1}}</style>
</head><body><h1>Model selection</h1>
<p>Accuracy estimated by <b>{e(result.method)}</b>: no polygon is in two folds. Best
configuration (highest mean overall accuracy; ties go to the smaller network): <b>{best}</b>.</p>
{f"<ul>{warn}</ul>" if warn else ""}
<table><tr>{head}</tr>{rows}</table></body></html>
"""


def write_search_html(
    result: TuneResult, path: str | Path, *, stage: OutputStage | None = None
) -> Path:
    """Write :func:`search_html`.

    Args:
        result: the search result.
        path: the HTML file.
        stage: the output stage the file belongs to; None writes it on its own.

    Returns:
        ``path``.
    """
    path = Path(path)
    with output_path(path, stage) as tmp:
        tmp.write_text(search_html(result), encoding="utf-8")
    return path
