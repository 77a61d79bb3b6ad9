"""The "Find the best settings" tab.

The values to try as text, the search options, the table of configurations that fills in live
(best first) and the choice of one to train with.

Parsing and display only: the search runs in :class:`~landcover_mlp.plugin.tasks.TuneTask`,
which the dialog starts; the copy into the training widgets is done by the form.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from qgis.gui import QgsFileWidget
from qgis.PyQt import uic
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QBrush, QColor, QFont
from qgis.PyQt.QtWidgets import QHeaderView, QTableWidgetItem, QWidget

from ..core import settings
from ..core.config import TrainRequest
from ..core.errors import LandCoverError
from ..core.fileio import check_writable
from ..core.selection import ConfigScore, SearchConfig, SearchSpace, TuneResult, rank
from ..core.tuning import search_config, space_from
from ..plugin.tasks import TuneOutcome
from . import setting_widgets
from .results import file_link

FORM_CLASS, _ = uic.loadUiType(str(Path(__file__).with_name("tuning_panel.ui")))

#: The search settings (core/settings.py) and the widgets of tuning_panel.ui that show them.
SEARCH_WIDGETS = {
    "search_hidden_layers": "hiddenSetsEdit",
    "search_learning_rates": "learningRatesEdit",
    "search_momentums": "momentumsEdit",
    "search_activations": "activationsEdit",
    "search_batch_sizes": "batchSizesEdit",
    "strategy": "strategyCombo",
    "n_iter": "nIterSpin",
    "folds": "foldsSpin",
    "time_budget": "budgetSpin",
}
COLUMNS = (
    "Hidden\nlayers", "Activation", "Learning\nrate", "Momentum", "Batch\nsize",
    "Overall acc.\n(mean ± sd)", "Kappa\n(mean)", "Val. loss\n(mean)", "Time\n(s)",
)  # fmt: skip
HEADER_TIPS = (
    "Neurons per hidden layer.", "Activation function.", "Learning rate.", "Momentum.",
    "Batch size.",
    "Overall accuracy on the held-out fold: mean ± standard deviation over the folds.",
    "Cohen's kappa on the held-out fold, mean over the folds.",
    "Cross-entropy loss on the held-out fold, mean over the folds.",
    "Seconds spent cross-validating this configuration.",
)  # fmt: skip
BEST_ROW = QColor("#e3f2e1")


def _pm(mean: float, std: float, fmt: str, scale: float = 1.0, unit: str = "") -> str:
    if not math.isfinite(mean):
        return "–"
    return f"{mean * scale:{fmt}} ± {std * scale:{fmt}}{unit}"


def score_cells(score: ConfigScore) -> list[str]:
    """The table's cells for one configuration (means ± standard deviations over the folds)."""
    row = score.row()
    return [
        row["hidden_layers"] or "none",
        row["activation"],
        f"{row['learning_rate']:g}",
        f"{row['momentum']:g}",
        str(row["batch_size"]),
        _pm(score.oa_mean, score.oa_std, ".1f", 100, " %"),
        "–" if not math.isfinite(score.kappa_mean) else f"{score.kappa_mean:.3f}",
        "–" if not math.isfinite(score.val_loss_mean) else f"{score.val_loss_mean:.3f}",
        f"{score.seconds:.1f}",
    ]


def score_tooltip(score: ConfigScore) -> str:
    """The configuration and all its means ± standard deviations over the folds."""
    return (
        f"{score.label()}\nOverall accuracy {_pm(score.oa_mean, score.oa_std, '.1f', 100, ' %')}"
        f"\nKappa {_pm(score.kappa_mean, score.kappa_std, '.3f')}\nValidation loss "
        f"{_pm(score.val_loss_mean, score.val_loss_std, '.3f')}\n{score.folds} folds, "
        f"{score.seconds:.1f} s"
    )


def summary_html(result: TuneResult) -> str:
    """The best configuration, why the search stopped, how accuracy was estimated, warnings."""
    e = html.escape
    done = len(result.scores)
    lines = []
    if result.best is not None:
        best = result.best
        lines.append(
            f"<b>Best: {e(best.label())} &middot; overall accuracy "
            f"{_pm(best.oa_mean, best.oa_std, '.1f', 100, ' %')} &middot; kappa "
            f"{_pm(best.kappa_mean, best.kappa_std, '.3f')}</b>"
        )
    if result.cancelled:
        lines.append(
            f"Cancelled after {done} of {result.planned} configurations; the table keeps the "
            "finished ones."
        )
    elif result.budget_exhausted:
        lines.append(
            f"The time budget stopped the search early: {result.tried} of {result.planned} "
            f"configurations started, {done} finished."
        )
    else:
        lines.append(f"All {result.planned} configurations finished.")
    lines.append(
        f"<small>Accuracy estimated by {e(result.method)}: no polygon is in two folds. Best = "
        "highest mean overall accuracy; ties go to the smaller network.</small>"
    )
    lines += [f"<small>&#9888; {e(w)}</small>" for w in result.warnings]
    return "<br>".join(lines)


class TuningPanel(QWidget, FORM_CLASS):
    """Search options, live table of configurations and the chosen one.

    Attributes:
        scores: configurations finished so far, in arrival order.
        outcome: the last finished search (None while searching or before).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        """The tab's widgets, the search options set up from the settings table."""
        super().__init__(parent)
        self.setupUi(self)
        self.scores: list[ConfigScore] = []
        self.outcome: TuneOutcome | None = None
        self._ranked: list[ConfigScore] = []
        self._running = False
        self.widgets: dict[str, QWidget] = {
            name: getattr(self, attr) for name, attr in SEARCH_WIDGETS.items()
        }
        for name, widget in self.widgets.items():
            setting_widgets.configure(widget, settings.setting(name))
        widget = self.tunedModelWidget
        widget.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        widget.setConfirmOverwrite(True)
        widget.setFilter("Land Cover MLP model (*.safetensors)")
        table = self.tuneTable
        table.setColumnCount(len(COLUMNS))
        table.setHorizontalHeaderLabels(COLUMNS)
        for j, tip in enumerate(HEADER_TIPS):
            table.horizontalHeaderItem(j).setToolTip(tip)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # room for long layer sets
        self.restore_defaults()
        for edit in (self.hiddenSetsEdit, self.learningRatesEdit, self.momentumsEdit,
                     self.activationsEdit, self.batchSizesEdit):  # fmt: skip
            edit.textChanged.connect(self.update_plan)
        self.strategyCombo.currentIndexChanged.connect(self.update_plan)
        self.nIterSpin.valueChanged.connect(self.update_plan)
        self.foldsSpin.valueChanged.connect(self.update_plan)
        table.itemSelectionChanged.connect(self._update_use_button)
        self.update_plan()

    @property
    def plain_widgets(self) -> dict[str, QWidget]:
        """Settings name -> widget, for the values remembered between sessions."""
        return dict(self.widgets)

    def restore_defaults(self) -> None:
        """Every search option to its default from the settings table."""
        for name, widget in self.widgets.items():
            setting_widgets.set_value(widget, settings.setting(name), settings.default(name))

    def values(self) -> dict[str, Any]:
        """Setting name -> value of every search option's widget."""
        return setting_widgets.values_of(self.widgets, settings.BY_NAME)

    # -- the search --------------------------------------------------------------------------
    def space(self, default_activation: str = "relu") -> SearchSpace:
        """The values to try (raises LandCoverError with a sentence)."""
        return space_from(self.values(), default_activation)

    def search_config(self, base: TrainRequest) -> SearchConfig:
        """The core's SearchConfig (the same builder as every route).

        The seed is the training seed.

        Raises:
            LandCoverError: a value that cannot be read or used.
        """
        return search_config({**self.values(), "seed": base.training.seed}, base.model.activation)

    def model_path(self) -> Path | None:
        """Where to save the tuned model (None = not saved).

        Raises:
            LandCoverError: the folder does not exist or is not writable.
        """
        text = self.tunedModelWidget.filePath().strip()
        if not text:
            return None
        path = Path(text)
        if path.suffix.lower() != ".safetensors":
            path = path.with_name(path.name + ".safetensors")
        check_writable(path)
        return path

    def update_plan(self, *_: Any) -> None:
        """Say how many configurations and trainings the options give (or what is wrong)."""
        self.nIterSpin.setEnabled(self.strategyCombo.currentData() == "random")
        try:
            space = self.space()
        except LandCoverError as exc:
            self.planLabel.setText(f"<span style='color:#b00020'>{html.escape(str(exc))}</span>")
            return
        sizes = (space.hidden_layers, space.learning_rate, space.momentum, space.activation,
                 space.batch_size or (None,))  # fmt: skip
        total = math.prod(len(s) for s in sizes)
        tried = total
        text = f"{total} configurations"
        if self.strategyCombo.currentData() == "random" and self.nIterSpin.value() < total:
            tried = self.nIterSpin.value()
            text = f"{tried} of {total} configurations (random)"
        folds = self.foldsSpin.value()
        self.planLabel.setText(
            f"{text} × {folds} folds = {tried * folds} trainings at most, then the best "
            "is retrained on all polygons."
        )

    # -- the table ---------------------------------------------------------------------------
    def clear(self) -> None:
        """Empty the table: a new search starts."""
        self.scores, self.outcome = [], None
        self._fill()
        self.tuneSummaryLabel.setText("Searching: each configuration appears when it finishes.")
        self.tuneFilesLabel.setText("")

    def add_score(self, score: ConfigScore) -> None:
        """One more finished configuration (live): re-rank the table."""
        self.scores.append(score)
        self._fill()

    def show_outcome(self, outcome: TuneOutcome) -> None:
        """The finished search: its ranked table, summary and files."""
        self.outcome = outcome
        self.scores = list(outcome.search.scores)
        self._fill()
        self.tuneSummaryLabel.setText(summary_html(outcome.search))
        links = [file_link(outcome.table, "search table"), file_link(outcome.model, "tuned model")]
        links = [link for link in links if link]
        self.tuneFilesLabel.setText("Files: " + " &middot; ".join(links) if links else "")

    def show_stopped(self, text: str) -> None:
        """A search that ended without a result (failed, or cancelled before the end)."""
        kept = f" The table keeps the {len(self.scores)} finished." if self.scores else ""
        self.tuneSummaryLabel.setText(html.escape(text + kept))

    def _fill(self) -> None:
        table = self.tuneTable
        chosen = self._selected()
        self._ranked = rank(self.scores)
        table.clearSelection()
        table.setRowCount(len(self._ranked))
        bold = QFont()
        bold.setBold(True)
        for i, score in enumerate(self._ranked):
            for j, text in enumerate(score_cells(score)):
                item = QTableWidgetItem(text)
                item.setTextAlignment(
                    (Qt.AlignmentFlag.AlignLeft if j < 2 else Qt.AlignmentFlag.AlignRight)
                    | Qt.AlignmentFlag.AlignVCenter
                )
                item.setToolTip(score_tooltip(score))
                if i == 0:
                    item.setBackground(QBrush(BEST_ROW))
                    item.setFont(bold)
                table.setItem(i, j, item)
        for i, score in enumerate(self._ranked):
            if score is chosen:  # the same row stays selected as rows arrive and re-rank
                table.selectRow(i)
        self._update_use_button()

    def _selected(self) -> ConfigScore | None:
        rows = self.tuneTable.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._ranked):
            return None
        return self._ranked[rows[0].row()]

    def selected_score(self) -> ConfigScore | None:
        """The selected configuration; the best when none is selected; None when empty."""
        return self._selected() or (self._ranked[0] if self._ranked else None)

    def set_running(self, running: bool, can_start: bool = True) -> None:
        """Lock the options while any task runs."""
        self.searchGroup.setEnabled(not running)
        self.tuneButton.setEnabled(can_start and not running)
        self._running = running
        self._update_use_button()

    def _update_use_button(self) -> None:
        self.useSettingsButton.setEnabled(not self._running and bool(self._ranked))
