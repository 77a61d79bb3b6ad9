"""Remember the dialog's last-used values with QgsSettings under ``landcover_mlp/...``.

Plain widgets are stored by value; layers by id (and name, so that a project reopened later,
where ids differ, still finds them); the class field by name; the checked bands per raster,
under a digest of its source (:func:`remember_bands`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qgis.core import QgsMapLayer, QgsProject, QgsSettings
from qgis.gui import QgsMapLayerComboBox
from qgis.PyQt.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QSpinBox,
    QWidget,
)

if TYPE_CHECKING:
    from .form import TrainingForm
    from .tuning import TuningPanel

PREFIX = "landcover_mlp"
"""Settings group; tests point it elsewhere so that they never touch a user's values."""


def _key(name: str) -> str:
    return f"{PREFIX}/{name}"


def read(
    name: str,
    default: Any = None,  # noqa: ANN401 - whatever the caller offers as the fallback value
    kind: type | None = None,
) -> Any:  # noqa: ANN401 - any value QgsSettings holds (of ``kind`` when given)
    """A stored value (``default`` when missing or unreadable)."""
    settings = QgsSettings()
    if kind is None:
        return settings.value(_key(name), default)
    try:
        return settings.value(_key(name), default, type=kind)
    except TypeError:  # a value of another type stored by an older version
        return default


def write(name: str, value: Any) -> None:  # noqa: ANN401 - any value QgsSettings can store
    """Store one value."""
    QgsSettings().setValue(_key(name), value)


def save_widgets(widgets: Mapping[str, QWidget]) -> None:
    """Store the value of each plain input widget under its name."""
    for name, widget in widgets.items():
        if isinstance(widget, QCheckBox):
            write(name, widget.isChecked())
        elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            write(name, widget.value())
        elif isinstance(widget, QLineEdit):
            write(name, widget.text())
        elif isinstance(widget, QComboBox):
            write(name, widget.currentData())


def restore_widgets(widgets: Mapping[str, QWidget]) -> None:
    """Set each widget to its stored value; widgets without one keep their current value."""
    for name, widget in widgets.items():
        if isinstance(widget, QCheckBox):
            widget.setChecked(read(name, widget.isChecked(), bool))
        elif isinstance(widget, QSpinBox):
            widget.setValue(read(name, widget.value(), int))
        elif isinstance(widget, QDoubleSpinBox):
            widget.setValue(read(name, widget.value(), float))
        elif isinstance(widget, QLineEdit):
            widget.setText(read(name, widget.text(), str))
        elif isinstance(widget, QComboBox):
            index = widget.findData(read(name, widget.currentData()))
            if index >= 0:
                widget.setCurrentIndex(index)
        if isinstance(widget, QAbstractSpinBox):
            widget.interpretText()


def save_layer(name: str, layer: QgsMapLayer | None) -> None:
    """Store a layer's id and name ("" when none is chosen)."""
    write(f"{name}_id", layer.id() if layer else "")
    write(f"{name}_name", layer.name() if layer else "")


def restore_layer(name: str, combo: QgsMapLayerComboBox) -> bool:
    """Select the stored layer in ``combo`` (by id, else by name); True when found."""
    project = QgsProject.instance()
    by_id = project.mapLayer(read(f"{name}_id", "", str))
    layer_name = read(f"{name}_name", "", str)
    candidates = [by_id] if by_id else project.mapLayersByName(layer_name) if layer_name else []
    previous = combo.currentLayer()
    for layer in candidates:
        combo.setLayer(layer)  # no selection when the combo's filter excludes the layer
        if combo.currentLayer() is layer:
            return True
    combo.setLayer(previous)
    return False


def _band_key(source: str) -> str:
    # a path holds characters a settings key cannot ('/', ':', '\\'): keyed by its digest
    return "bands_by_raster/" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def remember_bands(source: str, band_count: int, bands: str) -> None:
    """Remember the bands checked for one raster.

    Args:
        source: the raster layer's source (its path).
        band_count: the raster's number of bands; the choice is restored only to a raster with
            as many bands.
        bands: the checked bands as range text ("1-7, 9"; "" for none).
    """
    write(_band_key(source), f"{band_count}:{bands}")


def remembered_bands(source: str, band_count: int) -> str | None:
    """The range text remembered for this raster (see :func:`remember_bands`), or None.

    None when nothing is remembered or it was chosen when the raster had another number of
    bands.
    """
    count, sep, bands = read(_band_key(source), "", str).partition(":")
    return bands if sep and count == str(band_count) else None


def clear() -> None:
    """Forget everything stored under the settings group."""
    QgsSettings().remove(PREFIX)


def restore_form(form: TrainingForm) -> None:
    """Put the remembered values back into the dialog's form."""
    ui = form.ui
    restore_widgets(form.plain_widgets)
    restore_layer("raster", ui.rasterCombo)
    if restore_layer("polygons", ui.polygonCombo):
        form.set_class_fields(ui.polygonCombo.currentLayer(), read("class_field", "", str))
    if not restore_layer("validation", ui.validationCombo):
        ui.validationCombo.setLayer(None)
    # the band list restores the bands remembered for the raster when it fills (remember_bands)
    folder = read("output_folder", "", str)
    for widget in (ui.modelFileWidget, ui.classRasterWidget):
        widget.setDefaultRoot(folder)


def save_form(form: TrainingForm) -> None:
    """Remember layers, class field, hyperparameters, device and output folder.

    The band list remembers each raster's bands as they change, see :func:`remember_bands`.
    """
    ui = form.ui
    save_widgets(form.plain_widgets)
    save_layer("raster", ui.rasterCombo.currentLayer())
    save_layer("polygons", ui.polygonCombo.currentLayer())
    save_layer("validation", ui.validationCombo.currentLayer())
    write("class_field", ui.classFieldCombo.currentField())
    chosen = ui.modelFileWidget.filePath() or ui.classRasterWidget.filePath()
    if chosen:
        write("output_folder", str(Path(chosen).parent))


def restore_tuning(panel: TuningPanel) -> None:
    """Put the remembered search options back into the "Find the best settings" tab."""
    restore_widgets(panel.plain_widgets)
    panel.tunedModelWidget.setDefaultRoot(read("output_folder", "", str))


def save_tuning(panel: TuningPanel) -> None:
    """Remember the search options (the tuned model's folder as the output folder)."""
    save_widgets(panel.plain_widgets)
    chosen = panel.tunedModelWidget.filePath()
    if chosen:
        write("output_folder", str(Path(chosen).parent))
