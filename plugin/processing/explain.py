"""landcover_mlp:explain - decision regions on two bands.

A perceptron trained on the same pixels and the model side by side (PNG).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
)

from ...core.errors import LandCoverError
from ...core.explain import band_columns, decision_regions, parse_plot_bands
from ...core.model_io import load_model
from ..feedback import hooks_from_feedback
from .base import LandCoverAlgorithm, _help, tr
from .explore import add_polygon_parameters
from .jobs import core_call

if TYPE_CHECKING:
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback


class ExplainAlgorithm(LandCoverAlgorithm):
    """The classes a model and a perceptron assign on a plane of two bands.

    The training pixels are drawn over them.
    """

    PLOT_BANDS = "PLOT_BANDS"
    OUTPUT = "OUTPUT"
    PERCEPTRON_ACCURACY = "PERCEPTRON_ACCURACY"
    MODEL_ACCURACY = "MODEL_ACCURACY"

    def name(self) -> str:
        """The algorithm id within the provider (``landcover_mlp:explain``)."""
        return "explain"

    def displayName(self) -> str:  # noqa: N802 - QGIS virtual
        """The translated name shown in the toolbox."""
        return tr("Decision regions of a model")

    def summary(self) -> str:
        """What the algorithm does, the first paragraph of its help."""
        return tr(
            "Draws what a trained model decides on a plane of two of its bands: a grid of "
            "their values over the training pixels' range, every other band held at its "
            "training mean, coloured by the class the model assigns, with the training pixels "
            "on top. Beside it, the same for a perceptron (no hidden layer: a linear "
            "classifier) trained on the same pixels with the model's settings and seed: where "
            "the perceptron can only cut the plane with straight lines, the multilayer "
            "perceptron combines regions."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802
        """Add the parameters (QGIS virtual; ``config`` is unused)."""
        self.addParameter(_help(
            QgsProcessingParameterFile(self.MODEL, tr("Model file"), extension="safetensors"),
            "A model file written by 'Train land-cover model'."))  # fmt: skip
        self.addParameter(_help(
            QgsProcessingParameterRasterLayer(self.RASTER, tr("Raster")),
            "The image the model was trained on (or one with the same bands)."))  # fmt: skip
        add_polygon_parameters(self)
        self.addParameter(_help(
            QgsProcessingParameterBand(self.PLOT_BANDS, tr("Bands of the plot"), None,
                                       self.RASTER, allowMultiple=True),
            "Two band numbers the model reads: the first on the horizontal axis, the second "
            "on the vertical (e.g. 3,5)."))  # fmt: skip
        self.addParameter(_help(
            QgsProcessingParameterFileDestination(self.OUTPUT, tr("Decision regions"),
                                                  "PNG image (*.png)"),
            "The figure: the perceptron's regions left, the model's right."))  # fmt: skip
        self.addOutput(QgsProcessingOutputNumber(
            self.PERCEPTRON_ACCURACY, tr("Training pixels right: perceptron")))  # fmt: skip
        self.addOutput(QgsProcessingOutputNumber(
            self.MODEL_ACCURACY, tr("Training pixels right: model")))  # fmt: skip

    def plot_bands(
        self, parameters: dict[str, Any], context: QgsProcessingContext
    ) -> tuple[int, int]:
        """The two bands, from a list (the band widget) or text such as "3,5"."""
        raw = parameters.get(self.PLOT_BANDS)
        try:
            if isinstance(raw, str):
                return parse_plot_bands(raw.replace(";", ","))
            return parse_plot_bands(self.parameterAsInts(parameters, self.PLOT_BANDS, context))
        except LandCoverError as exc:
            raise QgsProcessingException(str(exc)) from exc

    def processAlgorithm(  # noqa: N802 - QGIS virtual
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Train the perceptron on the polygons' pixels and draw both models' regions.

        Returns:
            The outputs by name: OUTPUT (the figure), PERCEPTRON_ACCURACY and MODEL_ACCURACY
            (the share of training pixels each classifies right).

        Raises:
            QgsProcessingException: bad bands, an unreadable model, no polygons or a failed
                step.
        """
        plot_bands = self.plot_bands(parameters, context)
        model = core_call(load_model, self.parameterAsFile(parameters, self.MODEL, context))
        core_call(band_columns, model, plot_bands)  # refused before sampling
        polygons = self.source_path(parameters, self.POLYGONS, context, feedback)
        if polygons is None:
            raise QgsProcessingException(tr("Choose the training polygons."))
        output = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        result = core_call(
            decision_regions, model, self.raster_path(parameters, context), polygons[0],
            self.parameterAsString(parameters, self.CLASS_FIELD, context), plot_bands, output,
            hooks_from_feedback(feedback, log_epochs=False), layer=polygons[1],
        )  # fmt: skip
        feedback.pushInfo(
            f"Training pixels classified right (all bands): perceptron "
            f"{result.perceptron_accuracy:.1%}, the model {result.mlp_accuracy:.1%}."
        )
        return {
            self.OUTPUT: str(result.path),
            self.PERCEPTRON_ACCURACY: result.perceptron_accuracy,
            self.MODEL_ACCURACY: result.mlp_accuracy,
        }
