"""landcover_mlp:tune - grouped k-fold search for the best settings, then retrain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFileDestination,
)

from ...core import settings
from ...core.errors import LandCoverError
from ...core.naming import SearchOutputs
from ...core.tuning import run_search, search_config
from ..feedback import hooks_from_feedback
from ..styling import colours_from_symbology
from .base import tr
from .jobs import core_call
from .parameters import add_settings, read_settings
from .train import MODEL_FILTER, TrainAlgorithm


class TuneAlgorithm(TrainAlgorithm):
    """Cross-validate configurations by polygon-grouped k-fold and keep the best."""

    TABLE = "TABLE"
    TABLE_HTML = "TABLE_HTML"
    BEST_CONFIGURATION = "BEST_CONFIGURATION"

    def name(self) -> str:
        """The algorithm id within the provider (``landcover_mlp:tune``)."""
        return "tune"

    def displayName(self) -> str:  # noqa: N802 - QGIS virtual
        """The translated name shown in the toolbox."""
        return tr("Find the best settings (grouped cross-validation)")

    def summary(self) -> str:
        """What the algorithm does, the first paragraph of its help."""
        return tr(
            "Neural networks overfit easily: this tries every combination of the hidden "
            "layers, learning rates and momentums given (or a random subset), scoring each by "
            "k-fold cross-validation in which whole polygons stay in one fold (a random pixel "
            "split would flatter every model). The best configuration (highest mean overall "
            "accuracy; ties go to the smaller network) is retrained on all training polygons "
            "and saved. A time budget or a cancel keeps the configurations already finished."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802
        """Add the parameters (QGIS virtual; ``config`` is unused)."""
        self.add_raster_parameters()
        self.add_training_parameters()
        add_settings(self, settings.SEARCH)
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

    def processAlgorithm(  # noqa: N802 - QGIS virtual
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Search, then retrain and save the best configuration.

        Returns:
            The outputs by name: MODEL, TABLE, TABLE_HTML, BEST_CONFIGURATION,
            OVERALL_ACCURACY and KAPPA (the best configuration's mean over the folds).

        Raises:
            QgsProcessingException: an input is invalid, the search fails, or no
                configuration finished (time budget or cancel).
        """
        request = self.train_request(parameters, context, feedback)
        names = settings.SEARCH + (settings.setting("seed"),)
        try:
            search = search_config(read_settings(self, parameters, context, names),
                                   request.model.activation)  # fmt: skip
        except LandCoverError as exc:
            raise QgsProcessingException(str(exc)) from exc
        table = Path(self.parameterAsFileOutput(parameters, self.TABLE, context))
        table_html = self.parameterAsFileOutput(parameters, self.TABLE_HTML, context)
        model_path = self.parameterAsFileOutput(parameters, self.MODEL, context)
        layer = self.parameterAsVectorLayer(parameters, self.POLYGONS, context)
        colours = colours_from_symbology(layer, request.sampling.class_field)
        outputs = SearchOutputs(table, Path(table_html), table.with_suffix(".json"))
        run = core_call(run_search, request, search, outputs, model_path, colours,
                        hooks_from_feedback(feedback, False))  # fmt: skip
        result = run.result
        for w in result.warnings:
            feedback.pushWarning(w)
        if result.final is None or run.model is None:
            raise QgsProcessingException(
                "No configuration finished within the time budget: raise the budget or try "
                "fewer configurations."
                if not result.cancelled
                else "Cancelled by the user."
            )
        best = result.best
        feedback.pushInfo(
            f"Best ({result.method}): {best.label()}, OA {best.oa_mean:.1%} +/- {best.oa_std:.1%}"
        )
        return {
            self.MODEL: str(run.model),
            self.TABLE: str(run.table_csv),
            self.TABLE_HTML: str(run.table_html),
            self.BEST_CONFIGURATION: best.label(),
            self.OVERALL_ACCURACY: best.oa_mean,
            self.KAPPA: best.kappa_mean,
        }
