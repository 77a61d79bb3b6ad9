"""landcover_mlp:tune - grouped k-fold search for the best settings, then retrain."""

from __future__ import annotations

import json
from pathlib import Path

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ...core.config import parse_hidden_layers
from ...core.errors import LandCoverError
from ...core.model_io import save_model
from ...core.outputs import recolour
from ...core.selection import SearchConfig, SearchSpace, search_summary, tune_model
from ...core.tuning_report import write_search_csv, write_search_html
from .. import compat
from ..feedback import hooks_from_feedback
from ..styling import colours_from_symbology
from .base import tr
from .jobs import core_call
from .train import MODEL_FILTER, TrainAlgorithm


def _numbers(text: str, kind: type = float) -> tuple:
    try:
        return tuple(kind(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError as exc:
        raise QgsProcessingException(
            f"Cannot read '{text}': write values separated by commas, e.g. 0.01,0.05."
        ) from exc


class TuneAlgorithm(TrainAlgorithm):
    """Cross-validate configurations by polygon-grouped k-fold and keep the best."""

    SEARCH_HIDDEN_LAYERS = "SEARCH_HIDDEN_LAYERS"
    SEARCH_LEARNING_RATES = "SEARCH_LEARNING_RATES"
    SEARCH_MOMENTUMS = "SEARCH_MOMENTUMS"
    SEARCH_ACTIVATIONS = "SEARCH_ACTIVATIONS"
    SEARCH_BATCH_SIZES = "SEARCH_BATCH_SIZES"
    STRATEGY = "STRATEGY"
    N_ITER = "N_ITER"
    FOLDS = "FOLDS"
    TIME_BUDGET = "TIME_BUDGET"
    TABLE = "TABLE"
    TABLE_HTML = "TABLE_HTML"
    BEST_CONFIGURATION = "BEST_CONFIGURATION"

    def name(self) -> str:
        return "tune"

    def displayName(self) -> str:  # noqa: N802 - QGIS virtual
        return tr("Find the best settings (grouped cross-validation)")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS virtual
        return tr(
            "Neural networks overfit easily: this tries every combination of the hidden "
            "layers, learning rates and momentums given (or a random subset), scoring each by "
            "k-fold cross-validation in which whole polygons stay in one fold (a random pixel "
            "split would flatter every model). The best configuration (highest mean overall "
            "accuracy; ties go to the smaller network) is retrained on all training polygons "
            "and saved. A time budget or a cancel keeps the configurations already finished."
        )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 - QGIS virtual
        self.add_raster_parameters()
        self.add_training_parameters()
        number = QgsProcessingParameterNumber
        specs = [
            (QgsProcessingParameterString(self.SEARCH_HIDDEN_LAYERS, tr("Hidden layers to try"),
                                          "32;64;64,64;128,64;128,128"),
             "Layer sets separated by ';', each like 64,64.", False),
            (QgsProcessingParameterString(self.SEARCH_LEARNING_RATES, tr("Learning rates to try"),
                                          "0.003,0.01,0.03"), "Comma-separated.", False),
            (QgsProcessingParameterString(self.SEARCH_MOMENTUMS, tr("Momentums to try"), "0.5,0.9"),
             "Comma-separated.", False),
            (QgsProcessingParameterString(self.SEARCH_ACTIVATIONS, tr("Activations to try"), "relu"),
             "Comma-separated: relu, tanh, sigmoid.", True),
            (QgsProcessingParameterString(self.SEARCH_BATCH_SIZES, tr("Batch sizes to try"), "",
                                          optional=True),
             "Comma-separated; empty = the batch size above.", True),
            (QgsProcessingParameterEnum(self.STRATEGY, tr("Search"), ["Grid", "Random"],
                                        defaultValue=0),
             "Grid tries every combination; random tries a seeded subset.", False),
            (number(self.N_ITER, tr("Configurations for a random search"), compat.NUMBER_INTEGER, 10,
                    False, 1), "Used by the random search only.", True),
            (number(self.FOLDS, tr("Folds"), compat.NUMBER_INTEGER, 5, False, 2, 20),
             "k of the k-fold cross-validation grouped by polygon.", False),
            (number(self.TIME_BUDGET, tr("Time budget (minutes, 0 = none)"), compat.NUMBER_DOUBLE, 10.0,
                    False, 0.0),
             "No new work starts after this; finished configurations are kept.", False),
        ]  # fmt: skip
        for param, text, advanced in specs:
            param.setHelp(tr(text))
            if advanced:
                param.setFlags(param.flags() | compat.PARAMETER_ADVANCED)
            self.addParameter(param)
        outputs = [
            (self.MODEL, "Model retrained with the best settings", MODEL_FILTER,
             "The best configuration retrained on all training polygons."),
            (self.TABLE, "Search table (CSV)", "CSV file (*.csv)",
             "One row per finished configuration, best first (mean and standard deviation over "
             "the folds); a JSON summary is written beside it."),
            (self.TABLE_HTML, "Search table (HTML)", "HTML page (*.html)",
             "The same table as a readable page."),
        ]  # fmt: skip
        for name, label, file_filter, text in outputs:
            param = QgsProcessingParameterFileDestination(name, tr(label), file_filter)
            param.setHelp(tr(text))
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputString(self.BEST_CONFIGURATION, tr("Best configuration")))
        self.addOutput(
            QgsProcessingOutputNumber(self.OVERALL_ACCURACY, tr("Best mean overall accuracy"))
        )
        self.addOutput(QgsProcessingOutputNumber(self.KAPPA, tr("Best mean kappa")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS virtual
        request = self.train_request(parameters, context, feedback)
        text = lambda name: self.parameterAsString(parameters, name, context)  # noqa: E731
        try:
            space = SearchSpace(
                hidden_layers=tuple(parse_hidden_layers(v) for v in
                                    text(self.SEARCH_HIDDEN_LAYERS).split(";") if v.strip()),
                learning_rate=_numbers(text(self.SEARCH_LEARNING_RATES)),
                momentum=_numbers(text(self.SEARCH_MOMENTUMS)),
                activation=tuple(v.strip() for v in text(self.SEARCH_ACTIVATIONS).split(",") if v.strip()),
                batch_size=_numbers(text(self.SEARCH_BATCH_SIZES), int),
            )  # fmt: skip
            minutes = self.parameterAsDouble(parameters, self.TIME_BUDGET, context)
            search = SearchConfig(
                space,
                ["grid", "random"][self.parameterAsEnum(parameters, self.STRATEGY, context)],
                self.parameterAsInt(parameters, self.N_ITER, context),
                self.parameterAsInt(parameters, self.FOLDS, context),
                minutes * 60 if minutes > 0 else None,
                request.training.seed,
            )
        except LandCoverError as exc:
            raise QgsProcessingException(str(exc)) from exc
        result = core_call(tune_model, request, search, hooks_from_feedback(feedback, False))
        table = self.parameterAsFileOutput(parameters, self.TABLE, context)
        table_html = self.parameterAsFileOutput(parameters, self.TABLE_HTML, context)
        core_call(write_search_csv, result, table)
        core_call(write_search_html, result, table_html)
        Path(table).with_suffix(".json").write_text(json.dumps(search_summary(result), indent=2))
        for w in result.warnings:
            feedback.pushWarning(w)
        if result.final is None:
            raise QgsProcessingException(
                "No configuration finished within the time budget: raise the budget or try "
                "fewer configurations."
                if not result.cancelled
                else "Cancelled by the user."
            )
        layer = self.parameterAsVectorLayer(parameters, self.POLYGONS, context)
        colours = colours_from_symbology(layer, request.sampling.class_field)
        model = recolour(result.final, colours).model
        model_path = self.parameterAsFileOutput(parameters, self.MODEL, context)
        core_call(save_model, model, model_path)
        best = result.best
        feedback.pushInfo(
            f"Best ({result.method}): {best.label()}, OA {best.oa_mean:.1%} +/- {best.oa_std:.1%}"
        )
        return {
            self.MODEL: model_path,
            self.TABLE: table,
            self.TABLE_HTML: table_html,
            self.BEST_CONFIGURATION: best.label(),
            self.OVERALL_ACCURACY: best.oa_mean,
            self.KAPPA: best.kappa_mean,
        }
