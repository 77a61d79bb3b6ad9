"""The ``landcover_mlp`` Processing provider."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .classify import ClassifyAlgorithm
from .evaluate import EvaluateAlgorithm
from .train import TrainAlgorithm
from .trainclassify import TrainClassifyAlgorithm
from .tune import TuneAlgorithm

ICON = Path(__file__).resolve().parents[2] / "resources" / "icon.svg"


class LandCoverMlpProvider(QgsProcessingProvider):
    """Registers the Land Cover MLP algorithms."""

    def loadAlgorithms(self) -> None:  # noqa: N802 - QGIS virtual
        for alg in (
            TrainAlgorithm,
            ClassifyAlgorithm,
            TrainClassifyAlgorithm,
            EvaluateAlgorithm,
            TuneAlgorithm,
        ):
            self.addAlgorithm(alg())

    def id(self) -> str:
        return "landcover_mlp"

    def name(self) -> str:
        return "Land Cover MLP"

    def longName(self) -> str:  # noqa: N802 - QGIS virtual
        return "Land Cover MLP (neural-network land-cover classification)"

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def supportedOutputRasterLayerExtensions(self) -> list[str]:  # noqa: N802 - QGIS virtual
        return ["tif"]

    def defaultRasterFileExtension(self) -> str:  # noqa: N802 - QGIS virtual
        return "tif"
