"""Result layer styling: paletted class raster, grey confidence ramp, class colours.

The class raster is paletted with names and colours; class colours are taken from the
training layer's categorised symbology.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsContrastEnhancement,
    QgsMapLayer,
    QgsPalettedRasterRenderer,
    QgsRasterLayer,
    QgsSingleBandGrayRenderer,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor

from ..core.classes import ClassInfo


def colours_from_symbology(layer: QgsVectorLayer | None, class_field: str) -> dict[str, str]:
    """Class value (as text) -> '#rrggbb' from a categorised renderer on ``class_field``."""
    if layer is None:
        return {}
    renderer = layer.renderer()
    if not isinstance(renderer, QgsCategorizedSymbolRenderer):
        return {}
    if renderer.classAttribute() != class_field:
        return {}
    out = {}
    for cat in renderer.categories():
        if cat.symbol() is not None and cat.value() is not None:
            out[str(cat.value())] = cat.symbol().color().name()
    return out


def style_classified(layer: QgsRasterLayer, classes: Sequence[ClassInfo]) -> None:
    """Paletted renderer showing the class names in the class colours."""
    items = [QgsPalettedRasterRenderer.Class(c.value, QColor(c.colour), c.name) for c in classes]
    renderer = QgsPalettedRasterRenderer(layer.dataProvider(), 1, items)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def style_confidence(layer: QgsRasterLayer) -> None:
    """Grey ramp from 0 (black, uncertain) to 1 (white, confident)."""
    renderer = QgsSingleBandGrayRenderer(layer.dataProvider(), 1)
    ce = QgsContrastEnhancement(layer.dataProvider().dataType(1))
    ce.setContrastEnhancementAlgorithm(
        QgsContrastEnhancement.ContrastEnhancementAlgorithm.StretchToMinimumMaximum
    )
    ce.setMinimumValue(0.0)
    ce.setMaximumValue(1.0)
    renderer.setContrastEnhancement(ce)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def save_style_beside(layer: QgsMapLayer) -> Path | None:
    """Write ``<raster>.qml`` beside the file so QGIS restores the style when it is reopened."""
    source = Path(layer.source())
    if not source.exists():
        return None
    qml = source.with_suffix(".qml")
    _, ok = layer.saveNamedStyle(str(qml))
    return qml if ok else None


def load_classified_layer(
    path: str | Path, classes: Sequence[ClassInfo], name: str = "Land cover"
) -> QgsRasterLayer:
    """Open a class raster as a styled layer and save its .qml beside it."""
    layer = QgsRasterLayer(str(path), name)
    style_classified(layer, classes)
    save_style_beside(layer)
    return layer


def load_confidence_layer(path: str | Path, name: str = "Confidence") -> QgsRasterLayer:
    """Open a confidence raster with a grey 0-1 ramp and save its .qml beside it."""
    layer = QgsRasterLayer(str(path), name)
    style_confidence(layer)
    save_style_beside(layer)
    return layer
