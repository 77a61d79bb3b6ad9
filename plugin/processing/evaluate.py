"""landcover_mlp:evaluate - accuracy of a class raster against reference data."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
)

from ...core import settings
from ...core.accuracy import AccuracyReport
from ...core.evaluation import evaluate, evaluation_provenance
from ...core.fileio import OutputStage, output_path
from ...core.reports import area_table_text, write_report_html, write_report_json
from .. import compat
from ..feedback import hooks_from_feedback
from .base import LandCoverAlgorithm, tr
from .jobs import core_call
from .parameters import parameter_for, read_settings

if TYPE_CHECKING:
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback


def write_evaluation_outputs(
    report: AccuracyReport, matrix_csv: str, html: str, provenance: dict[str, Any] | None = None
) -> None:
    """Write the confusion matrix and the report, committed together as one stage.

    The confusion matrix as CSV (rows = reference), the report as HTML + JSON beside it (with
    ``provenance``); one stage of core/fileio.py.
    """
    with OutputStage() as stage:
        with (
            output_path(matrix_csv, stage) as tmp,
            open(tmp, "w", newline="", encoding="utf-8") as fh,
        ):
            writer = csv.writer(fh)
            writer.writerow(["reference \\ predicted", *[c.name for c in report.classes]])
            for c, row in zip(report.classes, report.confusion_matrix):
                writer.writerow([c.name, *row])
        write_report_html(report, html, "Accuracy report", provenance=provenance, stage=stage)
        write_report_json(report, Path(html).with_suffix(".json"), provenance=provenance,
                          stage=stage)  # fmt: skip


class EvaluateAlgorithm(LandCoverAlgorithm):
    """Confusion matrix, overall accuracy, kappa and per-class scores of any class raster."""

    REFERENCE_POLYGONS = "REFERENCE_POLYGONS"
    REFERENCE_RASTER = "REFERENCE_RASTER"
    STRATA = "STRATA"
    CONFUSION_MATRIX = "CONFUSION_MATRIX"
    AREA_OVERALL_ACCURACY = "AREA_OVERALL_ACCURACY"
    PIXEL_RULE = settings.setting("pixel_rule").parameter

    def name(self) -> str:
        """The algorithm id within the provider (``landcover_mlp:evaluate``)."""
        return "evaluate"

    def displayName(self) -> str:  # noqa: N802 - QGIS virtual
        """The translated name shown in the toolbox."""
        return tr("Assess classification accuracy")

    def summary(self) -> str:
        """What the algorithm does, the first paragraph of its help."""
        return tr(
            "Compares a class raster with reference polygons (and their class field), with a "
            "labelled stratified sample of points (made by 'Stratified sample for accuracy "
            "assessment', its reference field filled in) or with a reference class raster on "
            "the same grid. Writes the confusion matrix (rows = reference, columns = "
            "predicted) as CSV and an HTML report with overall accuracy, kappa and per-class "
            "precision, recall and F1; for a sample of points, also the area-adjusted "
            "accuracies and class areas with 95 % intervals (Olofsson et al. 2014; Stehman "
            "2014 with a strata raster). Use reference data that was not used for training, or "
            "the accuracy is flattered."
        )

    NEEDS_TORCH = False  # evaluation compares rasters and polygons: no network

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802
        """Add the parameters (QGIS virtual; ``config`` is unused)."""
        params = [
            (QgsProcessingParameterRasterLayer(self.CLASSIFIED, tr("Classified raster")),
             "The class raster to assess."),
            (QgsProcessingParameterFeatureSource(
                self.REFERENCE_POLYGONS, tr("Reference polygons or sample points"),
                [compat.SOURCE_VECTOR_POLYGON, compat.SOURCE_VECTOR_POINT], optional=True),
             "Polygons of known class, or the points of an accuracy sample with their "
             "reference class filled in (give these or a reference raster)."),
            (QgsProcessingParameterField(self.CLASS_FIELD, tr("Class field"), None,
                                         self.REFERENCE_POLYGONS, optional=True),
             "Class field of the reference polygons or points (for a sample: 'reference'): "
             "text is matched to class names, numbers to class values; empty = not labelled."),
            (QgsProcessingParameterRasterLayer(self.REFERENCE_RASTER, tr("Reference raster"),
                                               optional=True),
             "A reference class raster on the same grid (0 or nodata = unlabelled)."),
            (QgsProcessingParameterRasterLayer(self.STRATA, tr("Strata raster"), optional=True),
             "For a sample of points whose strata are not the map classes: the strata raster "
             "it was drawn from (same grid; Stehman 2014). Empty: the map classes are the "
             "strata."),
            (parameter_for(settings.setting("pixel_rule"), advanced=False),
             "Which pixels of a reference polygon are compared: " +
             settings.setting("pixel_rule").help),
            (QgsProcessingParameterFileDestination(self.CONFUSION_MATRIX, tr("Confusion matrix"),
                                                   "CSV file (*.csv)"),
             "Rows = reference, columns = predicted."),
            (QgsProcessingParameterFileDestination(self.REPORT, tr("Accuracy report"),
                                                   "HTML page (*.html)"),
             "Readable report; a JSON copy is written beside it."),
        ]  # fmt: skip
        for param, text in params:
            param.setHelp(tr(text))
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputNumber(self.OVERALL_ACCURACY, tr("Overall accuracy")))
        self.addOutput(QgsProcessingOutputNumber(self.KAPPA, tr("Kappa")))
        self.addOutput(QgsProcessingOutputNumber(
            self.AREA_OVERALL_ACCURACY, tr("Area-adjusted overall accuracy")))  # fmt: skip

    def processAlgorithm(  # noqa: N802 - QGIS virtual
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Compare the class raster with the reference and write the matrix and the report.

        Returns:
            The outputs by name: CONFUSION_MATRIX, REPORT, OVERALL_ACCURACY, KAPPA and
            AREA_OVERALL_ACCURACY (None without a sample of points).

        Raises:
            QgsProcessingException: a missing input, unreadable or mismatched data, or a
                failed write.
        """
        classified = self.parameterAsRasterLayer(parameters, self.CLASSIFIED, context)
        if classified is None:
            raise QgsProcessingException(tr("Choose the classified raster."))
        polygons = self.source_path(parameters, self.REFERENCE_POLYGONS, context, feedback)
        ref_raster = self.parameterAsRasterLayer(parameters, self.REFERENCE_RASTER, context)
        field = self.parameterAsString(parameters, self.CLASS_FIELD, context)
        if polygons is None and ref_raster is None:
            raise QgsProcessingException(
                tr("Give reference polygons (with their class field) or a reference raster.")
            )
        if polygons is not None and not field:
            raise QgsProcessingException(tr("Choose the class field of the reference polygons."))
        reference = polygons[0] if polygons else ref_raster.source()
        compared = (
            classified.source(), reference, field if polygons else None,
            read_settings(self, parameters, context, (settings.setting("pixel_rule"),))[
                "pixel_rule"] == "all_touched",
        )  # fmt: skip
        layer = polygons[1] if polygons else None
        strata_layer = self.parameterAsRasterLayer(parameters, self.STRATA, context)
        strata = strata_layer.source() if strata_layer is not None else None
        report = core_call(evaluate, *compared, hooks_from_feedback(feedback), layer, strata)
        provenance = core_call(evaluation_provenance, *compared, layer, strata)
        matrix_path = self.parameterAsFileOutput(parameters, self.CONFUSION_MATRIX, context)
        html_path = self.parameterAsFileOutput(parameters, self.REPORT, context)
        core_call(write_evaluation_outputs, report, matrix_path, html_path, provenance)
        feedback.pushInfo(
            f"Overall accuracy {report.overall_accuracy:.1%}, kappa {report.kappa:.3f}"
        )
        area = report.area_adjusted
        if area is not None:  # the area table in the algorithm dialog's log
            for line in area_table_text(area):
                feedback.pushInfo(line)
        for warning in report.warnings:
            feedback.pushWarning(warning)
        return {
            self.AREA_OVERALL_ACCURACY: area.overall_accuracy if area is not None else None,
            self.CONFUSION_MATRIX: matrix_path,
            self.REPORT: html_path,
            self.OVERALL_ACCURACY: report.overall_accuracy,
            self.KAPPA: report.kappa,
        }
