"""Shared pieces of the algorithms.

Parameter definitions, reading them into core configs, the torch check, and running the core
with QGIS feedback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBand,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterRasterLayer,
)
from qgis.PyQt.QtGui import QIcon

from ...core import settings
from ...core.config import TrainRequest, train_request
from ...core.errors import LandCoverError
from ...core.raster import parse_bands
from .. import compat
from ..torch_check import missing_torch_message, torch_available, torch_problem
from .help import help_url, short_help
from .parameters import add_settings, read_settings, tr

ICON = Path(__file__).resolve().parents[2] / "resources" / "icon.svg"


def _help(
    param: QgsProcessingParameterDefinition, text: str, advanced: bool = False
) -> QgsProcessingParameterDefinition:
    param.setHelp(tr(text))
    if advanced:
        param.setFlags(param.flags() | compat.PARAMETER_ADVANCED)
    return param


class LandCoverAlgorithm(QgsProcessingAlgorithm):
    """Base: group, icon, torch check and shared parameters."""

    RASTER = "RASTER"
    BANDS = "BANDS"
    POLYGONS = "POLYGONS"
    CLASS_FIELD = "CLASS_FIELD"
    VALIDATION_POLYGONS = "VALIDATION_POLYGONS"
    MODEL = "MODEL"
    CLASSIFIED = "CLASSIFIED"
    CONFIDENCE = "CONFIDENCE"
    PROBABILITIES = "PROBABILITIES"
    REPORT = "REPORT"
    LOSS_CURVE = "LOSS_CURVE"
    OVERALL_ACCURACY = "OVERALL_ACCURACY"
    KAPPA = "KAPPA"

    def createInstance(self) -> LandCoverAlgorithm:  # noqa: N802 - QGIS virtual
        """A new instance of the same algorithm class (QGIS runs a copy of the algorithm)."""
        return type(self)()

    def group(self) -> str:
        """No group: the algorithms sit directly under the provider."""
        return ""

    def groupId(self) -> str:  # noqa: N802 - QGIS virtual
        """No group id (see :meth:`group`)."""
        return ""

    def icon(self) -> QIcon:
        """The plugin's icon, beside the algorithm in the toolbox."""
        return QIcon(str(ICON))

    def summary(self) -> str:
        """What the algorithm does, translated (the start of its help)."""
        raise NotImplementedError

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS virtual
        """The summary, then every parameter with its help (from the definitions)."""
        return short_help(self.summary(), self)

    def helpUrl(self) -> str:  # noqa: N802 - QGIS virtual
        """The algorithm's help page, written from the definitions (works offline)."""
        return help_url(self.summary(), self)

    #: Training and classification need torch; the evaluation does not.
    NEEDS_TORCH = True

    def canExecute(self) -> tuple[bool, str]:  # noqa: N802 - QGIS virtual
        """Whether the algorithm can run here and, when not, why (torch is missing)."""
        if self.NEEDS_TORCH and not torch_available():
            return False, missing_torch_message()
        return True, ""

    def prepareAlgorithm(  # noqa: N802 - QGIS virtual
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> bool:
        """Before any work, torch must import.

        qgis_process runs an algorithm without asking canExecute, and a broken install must
        give the set-up sentence, not a traceback.
        """
        problem = torch_problem() if self.NEEDS_TORCH else None
        if problem:
            raise QgsProcessingException(problem)
        return True

    def checkParameterValues(  # noqa: N802 - QGIS virtual
        self, parameters: dict[str, Any], context: QgsProcessingContext
    ) -> tuple[bool, str]:
        """The settings table's sentence for a value out of range, then QGIS's own checks.

        QGIS only says "Incorrect parameter value".
        """
        for s in settings.SETTINGS:
            if s.kind not in ("int", "float") or self.parameterDefinition(s.parameter) is None:
                continue
            raw = parameters.get(s.parameter)
            if raw is None or isinstance(raw, str) and not raw.strip():
                continue
            if not isinstance(raw, (str, int, float)):
                continue  # a data-defined property: QGIS evaluates it
            try:
                s.check(raw)
            except LandCoverError as exc:
                return False, str(exc)
        return super().checkParameterValues(parameters, context)

    # -- parameters ---------------------------------------------------------------------
    def add_raster_parameters(self) -> None:
        """Add the RASTER and BANDS parameters."""
        self.addParameter(_help(QgsProcessingParameterRasterLayer(self.RASTER, tr("Raster")),
                                "The image to learn from (any GDAL raster): its pixels under the polygons are the "
                                "training samples; trainclassify also classifies it."))  # fmt: skip
        self.addParameter(_help(
            QgsProcessingParameterBand(self.BANDS, tr("Bands"), None, self.RASTER, optional=True,
                                       allowMultiple=True),
            "Bands used as features; leave empty to use all bands."))  # fmt: skip

    def add_training_parameters(self) -> None:
        """Add the training and validation polygons, the class field and the training settings."""
        poly = [compat.SOURCE_VECTOR_POLYGON]
        self.addParameter(_help(
            QgsProcessingParameterFeatureSource(self.POLYGONS, tr("Training polygons"), poly),
            "Polygons drawn over areas of known land cover."))  # fmt: skip
        self.addParameter(_help(
            QgsProcessingParameterField(self.CLASS_FIELD, tr("Class field"), None, self.POLYGONS,
                                        compat.FIELD_ANY),
            "Field holding each polygon's class: whole numbers (kept as class values) or text "
            "(classes numbered 1..N in name order)."))  # fmt: skip
        self.addParameter(_help(
            QgsProcessingParameterFeatureSource(self.VALIDATION_POLYGONS,
                                                tr("Validation polygons"), poly,
                                                optional=True),
            "Separate polygons for validation with the same class field; when given, all "
            "training polygons are used for training."))  # fmt: skip
        add_settings(self, settings.TRAINING)

    # -- reading parameters -------------------------------------------------------------
    def raster_path(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
        """The source of the RASTER parameter's layer.

        Raises:
            QgsProcessingException: no valid raster layer was given.
        """
        layer = self.parameterAsRasterLayer(parameters, self.RASTER, context)
        if layer is None or not layer.isValid():
            raise QgsProcessingException(tr("Choose a valid raster layer."))
        return layer.source()

    def source_path(
        self,
        parameters: dict[str, Any],
        name: str,
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> tuple[str, str | None] | None:
        """An OGR-readable file (and layer name) for a feature source, exported if needed."""
        if parameters.get(name) in (None, ""):
            return None
        path, layer_name = self.parameterAsCompatibleSourceLayerPathAndLayerName(
            parameters, name, context, ["gpkg", "shp", "geojson"], "gpkg", feedback
        )
        if not path:
            raise QgsProcessingException(tr(f"Could not read the layer given as {name}."))
        return path, (layer_name or None)

    def bands(self, parameters: dict[str, Any], context: QgsProcessingContext) -> tuple[int, ...]:
        """Chosen band numbers; () means all. Text such as "1,2,4" or "1-7" is read too."""
        # QGIS reads only ';' between band numbers, turns "1,2,4" into band 0 and an empty
        # value (qgis_process BANDS=) into band 0 too: text is read here, by one parser.
        raw = parameters.get(self.BANDS)
        if raw is None or (isinstance(raw, (str, list, tuple)) and not raw):
            return ()
        try:
            if isinstance(raw, str):
                bands = parse_bands(raw.replace(";", ",")) or ()
            else:
                bands = tuple(self.parameterAsInts(parameters, self.BANDS, context) or ())
        except LandCoverError as exc:
            raise QgsProcessingException(str(exc)) from exc
        if any(b < 1 for b in bands):
            raise QgsProcessingException(
                f"Band numbers start at 1; got {', '.join(map(str, bands))}. Leave Bands "
                "empty to use all bands."
            )
        return bands

    def device(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
        """The value of the ``device`` setting."""
        return read_settings(self, parameters, context, (settings.setting("device"),))["device"]

    def train_request(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> TrainRequest:
        """Build the core's request; bad values become QgsProcessingException sentences."""
        polygons = self.source_path(parameters, self.POLYGONS, context, feedback)
        if polygons is None:
            raise QgsProcessingException(tr("Choose the training polygons."))
        validation = self.source_path(parameters, self.VALIDATION_POLYGONS, context, feedback)
        class_field = self.parameterAsString(parameters, self.CLASS_FIELD, context)
        try:
            return train_request(
                self.raster_path(parameters, context),
                polygons[0],
                class_field,
                read_settings(self, parameters, context, settings.TRAINING),
                bands=self.bands(parameters, context),
                polygons_layer=polygons[1],
                validation_polygons=validation[0] if validation else None,
                validation_layer=validation[1] if validation else None,
            )
        except LandCoverError as exc:
            raise QgsProcessingException(str(exc)) from exc
