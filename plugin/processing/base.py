"""Shared pieces of the algorithms: parameter definitions, reading them into core configs,
the torch check, and running the core with QGIS feedback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBand,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ...core.config import (
    ACTIVATIONS,
    DEVICES,
    PIXEL_RULES,
    ModelConfig,
    SamplingConfig,
    SplitConfig,
    TrainingConfig,
    TrainRequest,
    parse_hidden_layers,
)
from ...core.errors import LandCoverError
from ...core.raster import parse_bands
from .. import compat
from ..torch_check import missing_torch_message, torch_available

ICON = Path(__file__).resolve().parents[2] / "resources" / "icon.svg"
PIXEL_RULE_LABELS = ["Pixel centre inside the polygon", "All pixels touched by the polygon"]


def tr(text: str) -> str:
    """Translate in the plugin's context."""
    return QCoreApplication.translate("LandCoverMLP", text)


def _help(param: QgsProcessingParameterDefinition, text: str, advanced: bool = False):
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
    PIXEL_RULE = "PIXEL_RULE"
    VALIDATION_SHARE = "VALIDATION_SHARE"
    MAX_PER_CLASS = "MAX_PER_CLASS"
    HIDDEN_LAYERS = "HIDDEN_LAYERS"
    ACTIVATION = "ACTIVATION"
    LEARNING_RATE = "LEARNING_RATE"
    MOMENTUM = "MOMENTUM"
    BATCH_SIZE = "BATCH_SIZE"
    EPOCHS = "EPOCHS"
    PATIENCE = "PATIENCE"
    CLASS_WEIGHTS = "CLASS_WEIGHTS"
    SEED = "SEED"
    DEVICE = "DEVICE"
    MODEL = "MODEL"
    CLASSIFIED = "CLASSIFIED"
    CONFIDENCE = "CONFIDENCE"
    PROBABILITIES = "PROBABILITIES"
    REPORT = "REPORT"
    LOSS_CURVE = "LOSS_CURVE"
    OVERALL_ACCURACY = "OVERALL_ACCURACY"
    KAPPA = "KAPPA"

    def createInstance(self):  # noqa: N802 - QGIS virtual
        return type(self)()

    def group(self) -> str:
        return ""

    def groupId(self) -> str:  # noqa: N802 - QGIS virtual
        return ""

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def helpUrl(self) -> str:  # noqa: N802 - QGIS virtual
        return "https://github.com/landcover-mlp/landcover_mlp#readme"

    def canExecute(self) -> tuple[bool, str]:  # noqa: N802 - QGIS virtual
        if not torch_available():
            return False, missing_torch_message()
        return True, ""

    # -- parameters ---------------------------------------------------------------------
    def add_raster_parameters(self) -> None:
        self.addParameter(_help(QgsProcessingParameterRasterLayer(self.RASTER, tr("Raster")),
                                "The image to classify (any GDAL raster)."))  # fmt: skip
        self.addParameter(_help(
            QgsProcessingParameterBand(self.BANDS, tr("Bands"), None, self.RASTER, optional=True,
                                       allowMultiple=True),
            "Bands used as features; leave empty to use all bands."))  # fmt: skip

    def add_training_parameters(self) -> None:
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
                                                tr("Validation polygons (optional)"), poly,
                                                optional=True),
            "Separate polygons for validation with the same class field; when given, all "
            "training polygons are used for training."))  # fmt: skip
        self.addParameter(_help(
            QgsProcessingParameterEnum(self.PIXEL_RULE, tr("Pixels taken from a polygon"),
                                       PIXEL_RULE_LABELS, defaultValue=0),
            "Pixel centre: pixels whose centre lies inside. All touched: every pixel the "
            "polygon touches (more samples, more mixed pixels).", advanced=True))  # fmt: skip
        s, m, t = SplitConfig(), ModelConfig(), TrainingConfig()
        number = QgsProcessingParameterNumber
        specs = [
            (number(self.VALIDATION_SHARE, tr("Validation share of polygons"), compat.NUMBER_DOUBLE,
                    s.validation_share, False, 0.0, 0.9),
             "Share of each class's polygons held out to validate (whole polygons, never "
             "single pixels, so accuracy is not flattered)."),
            (number(self.MAX_PER_CLASS, tr("Maximum samples per class (0 = all)"), compat.NUMBER_INTEGER,
                    0, False, 0),
             "Cap the pixels per class (random, seeded) to speed up training on large polygons."),
            (QgsProcessingParameterString(self.HIDDEN_LAYERS, tr("Hidden layers"),
                                          ",".join(map(str, m.hidden_layers))),
             "Neurons per hidden layer, comma-separated (e.g. 64,64)."),
            (QgsProcessingParameterEnum(self.ACTIVATION, tr("Activation"), list(ACTIVATIONS),
                                        defaultValue=ACTIVATIONS.index(m.activation)),
             "Activation function of the hidden layers."),
            (number(self.LEARNING_RATE, tr("Learning rate"), compat.NUMBER_DOUBLE, t.learning_rate,
                    False, 1e-6, 10.0),
             "Step size of mini-batch gradient descent; lower it if the loss jumps or diverges."),
            (number(self.MOMENTUM, tr("Momentum"), compat.NUMBER_DOUBLE, t.momentum, False, 0.0, 0.999),
             "Momentum of gradient descent (0 = plain gradient descent)."),
            (number(self.BATCH_SIZE, tr("Batch size"), compat.NUMBER_INTEGER, t.batch_size, False, 1),
             "Samples per gradient step."),
            (number(self.EPOCHS, tr("Maximum epochs"), compat.NUMBER_INTEGER, t.epochs, False, 1),
             "Maximum passes over the training samples."),
            (number(self.PATIENCE, tr("Early-stopping patience (epochs, 0 = off)"),
                    compat.NUMBER_INTEGER, t.patience, False, 0),
             "Stop when the validation loss has not improved for this many epochs; the best "
             "epoch's weights are kept."),
            (QgsProcessingParameterBoolean(self.CLASS_WEIGHTS, tr("Balance classes"),
                                           t.class_weights),
             "Weight the loss by inverse class frequency so small classes count."),
            (number(self.SEED, tr("Random seed"), compat.NUMBER_INTEGER, t.seed, False, 0),
             "Same data and seed give the same model on the CPU."),
        ]  # fmt: skip
        for param, text in specs:
            self.addParameter(_help(param, text, advanced=True))
        self.add_device_parameter()

    def add_device_parameter(self) -> None:
        self.addParameter(_help(
            QgsProcessingParameterEnum(self.DEVICE, tr("Device"), list(DEVICES), defaultValue=0),
            "auto: CUDA GPU when there is one, then Apple MPS, else the CPU.",
            advanced=True))  # fmt: skip

    # -- reading parameters -------------------------------------------------------------
    def raster_path(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
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
        # QGIS reads only ';' between band numbers and turns "1,2,4" into band 0.
        raw = parameters.get(self.BANDS)
        if isinstance(raw, str) and ("," in raw or "-" in raw):
            return parse_bands(raw) or ()
        return tuple(self.parameterAsInts(parameters, self.BANDS, context) or ())

    def device(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
        return DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)]

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
        seed = self.parameterAsInt(parameters, self.SEED, context)
        cap = self.parameterAsInt(parameters, self.MAX_PER_CLASS, context)
        try:
            return TrainRequest(
                raster=self.raster_path(parameters, context),
                polygons=polygons[0],
                polygons_layer=polygons[1],
                validation_polygons=validation[0] if validation else None,
                validation_layer=validation[1] if validation else None,
                sampling=SamplingConfig(
                    class_field=class_field,
                    bands=self.bands(parameters, context),
                    pixel_rule=PIXEL_RULES[
                        self.parameterAsEnum(parameters, self.PIXEL_RULE, context)
                    ],
                    max_per_class=cap or None,
                    seed=seed,
                ),
                split=SplitConfig(
                    self.parameterAsDouble(parameters, self.VALIDATION_SHARE, context), seed
                ),
                model=ModelConfig(
                    parse_hidden_layers(
                        self.parameterAsString(parameters, self.HIDDEN_LAYERS, context)
                    ),
                    ACTIVATIONS[self.parameterAsEnum(parameters, self.ACTIVATION, context)],
                ),
                training=TrainingConfig(
                    learning_rate=self.parameterAsDouble(parameters, self.LEARNING_RATE, context),
                    momentum=self.parameterAsDouble(parameters, self.MOMENTUM, context),
                    epochs=self.parameterAsInt(parameters, self.EPOCHS, context),
                    batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
                    patience=self.parameterAsInt(parameters, self.PATIENCE, context),
                    class_weights=self.parameterAsBool(parameters, self.CLASS_WEIGHTS, context),
                    seed=seed,
                    device=self.device(parameters, context),
                ),
            )
        except LandCoverError as exc:
            raise QgsProcessingException(str(exc)) from exc
