"""The ``landcover_mlp`` Processing provider."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .accuracysample import AccuracySampleAlgorithm
from .classify import ClassifyAlgorithm
from .evaluate import EvaluateAlgorithm
from .explain import ExplainAlgorithm
from .explore import ExploreAlgorithm
from .train import TrainAlgorithm
from .trainclassify import TrainClassifyAlgorithm
from .tune import TuneAlgorithm

ICON = Path(__file__).resolve().parents[2] / "resources" / "icon.svg"


class LandCoverMlpProvider(QgsProcessingProvider):
    """Registers the Land Cover MLP algorithms."""

    def loadAlgorithms(self) -> None:  # noqa: N802 - QGIS virtual
        """Add one instance of each algorithm (QGIS calls this on refresh)."""
        for alg in (
            TrainAlgorithm,
            ClassifyAlgorithm,
            TrainClassifyAlgorithm,
            EvaluateAlgorithm,
            TuneAlgorithm,
            AccuracySampleAlgorithm,
            ExploreAlgorithm,
            ExplainAlgorithm,
        ):
            self.addAlgorithm(alg())

    def id(self) -> str:
        """The provider id, the prefix of every algorithm id (``landcover_mlp:train``)."""
        return "landcover_mlp"

    def name(self) -> str:
        """The name shown in the Processing toolbox."""
        return "Land Cover MLP"

    def longName(self) -> str:  # noqa: N802 - QGIS virtual
        """The name with what the provider does, for tooltips."""
        return "Land Cover MLP (neural-network land-cover classification)"

    def icon(self) -> QIcon:
        """The plugin's icon, beside the provider in the toolbox."""
        return QIcon(str(ICON))

    def supportedOutputRasterLayerExtensions(self) -> list[str]:  # noqa: N802 - QGIS virtual
        """GeoTIFF only: the class, confidence and probability rasters are written as such."""
        return ["tif"]

    def defaultRasterFileExtension(self) -> str:  # noqa: N802 - QGIS virtual
        """GeoTIFF, for temporary raster outputs."""
        return "tif"

    def supportedOutputVectorLayerExtensions(self) -> list[str]:  # noqa: N802 - QGIS virtual
        """The accuracy sample's points are written as GeoPackage only (core/accuracy_sample.py)."""
        return ["gpkg"]

    def defaultVectorFileExtension(self, hasGeometry: bool = True) -> str:  # noqa: N802, N803
        """GeoPackage, with or without geometry (``hasGeometry`` does not change it)."""
        return "gpkg"
