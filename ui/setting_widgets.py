"""Dialog widgets built from the settings table (core/settings.py), and read back.

One widget per setting: a spin box for numbers (range, decimals, step and the clear value =
the default from the table), a check box for yes/no, a combo box for a choice (the table's
labels, the values as item data), a line edit for text. Each gets the table's help as its
tool tip and the object name :func:`widget_name` gives (``learningRateSpin``), set as an
attribute of the dialog's ``ui`` so code and tests find it by name.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from qgis.gui import QgsDoubleSpinBox, QgsSpinBox
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from ..core.settings import Setting

_SUFFIX = {"int": "Spin", "float": "Spin", "bool": "Check", "choice": "Combo", "text": "Edit"}
_INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int
_COUNTED = ("MB", "epochs", "minutes", "pixels", "samples")  # shown after the number


def tooltip(setting: Setting) -> str:
    """The setting's help as rich text, which Qt wraps (plain text shows as one long line)."""
    return f"<p>{html.escape(setting.describe())}</p>"


def widget_name(setting: Setting) -> str:
    """The widget's object name: ``learning_rate`` -> ``learningRateSpin``."""
    head, *rest = setting.name.split("_")
    return head + "".join(w.capitalize() for w in rest) + _SUFFIX[setting.kind]


def make_widget(setting: Setting, parent: QWidget | None = None) -> QWidget:
    """A new widget for ``setting``, configured by :func:`configure`."""
    widget: QWidget
    if setting.kind == "int":
        widget = QgsSpinBox(parent)
    elif setting.kind == "float":
        widget = QgsDoubleSpinBox(parent)
    elif setting.kind == "bool":
        widget = QCheckBox(setting.label, parent)
    elif setting.kind == "choice":
        widget = QComboBox(parent)
    else:
        widget = QLineEdit(parent)
    widget.setObjectName(widget_name(setting))
    configure(widget, setting)
    return widget


def configure(widget: QWidget, setting: Setting) -> None:
    """Give ``widget`` the table's range, choices, tool tip and default value."""
    widget.setToolTip(tooltip(setting))
    if isinstance(widget, QDoubleSpinBox):
        widget.setDecimals(setting.decimals)
        widget.setSingleStep(setting.step)
        widget.setRange(
            setting.minimum if setting.minimum is not None else -1e12,
            setting.maximum if setting.maximum is not None else 1e12,
        )
    elif isinstance(widget, QSpinBox):
        low = int(setting.minimum) if setting.minimum is not None else -_INT_LIMIT
        high = int(setting.maximum) if setting.maximum is not None else _INT_LIMIT
        widget.setRange(low, min(high, _INT_LIMIT))
    elif isinstance(widget, QComboBox) and widget.count() == 0:
        for value, label in zip(setting.choices, setting.labels):
            widget.addItem(label, value)
    if setting.unit in _COUNTED and isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        widget.setSuffix(f" {setting.unit}")
    if setting.zero_means and isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        widget.setSpecialValueText(f"0 ({setting.zero_means})")
    if hasattr(widget, "setClearValue"):
        widget.setClearValue(setting.default)  # the clear button goes back to the default
    set_value(widget, setting, setting.default)


def set_value(widget: QWidget, setting: Setting, value: bool | int | float | str) -> None:
    """Show ``value`` in ``widget``."""
    if isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        widget.setValue(value)
    elif isinstance(widget, QComboBox):
        index = widget.findData(value)
        if index >= 0:
            widget.setCurrentIndex(index)
    elif isinstance(widget, QLineEdit):
        widget.setText(str(value))


def value_of(widget: QWidget, setting: Setting) -> bool | int | float | str:
    """The value ``widget`` shows, in the setting's type."""
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        return widget.value()
    if isinstance(widget, QComboBox):
        return widget.currentData()
    if isinstance(widget, QLineEdit):
        return widget.text()
    raise TypeError(f"No value for a {type(widget).__name__} ({setting.name}).")


def place(
    ui: QWidget, form: QFormLayout, settings: Iterable[Setting], row: int = 0
) -> dict[str, QWidget]:
    """Make one labelled row per setting in ``form`` from ``row`` on.

    Each widget is also set as ``ui.<widget_name>``. Returns setting name -> widget.
    """
    made: dict[str, QWidget] = {}
    for setting in settings:
        widget = make_widget(setting, ui)
        setattr(ui, widget.objectName(), widget)
        if isinstance(widget, QCheckBox):
            form.insertRow(row, QLabel("", ui), widget)
        else:
            label = QLabel(setting.label, ui)
            label.setToolTip(tooltip(setting))
            label.setBuddy(widget)
            form.insertRow(row, label, widget)
        made[setting.name] = widget
        row += 1
        if isinstance(widget, QLineEdit) and setting.zero_means:
            switch = zero_switch(widget, setting, ui)
            setattr(ui, switch.objectName(), switch)
            form.insertRow(row, QLabel("", ui), switch)
            row += 1
    return made


def zero_switch(edit: QLineEdit, setting: Setting, parent: QWidget | None = None) -> QCheckBox:
    """A check box under a text setting's line edit, for the value its ``zero_means`` names.

    The table's ``zero_means``: "Perceptron (linear)" beside the hidden layers.

    Checking it writes "0" in ``edit`` (the one value every route reads, see
    :meth:`Setting.means_zero`); unchecking it gives back the text it replaced (the default
    when there was none). It follows the text too: typing 0, none or nothing checks it. Its
    object name is the edit's with ``ZeroCheck`` for ``Edit`` (``hiddenLayersZeroCheck``).
    """
    words = setting.zero_means
    box = QCheckBox(words[:1].upper() + words[1:], parent)
    box.setObjectName(widget_name(setting).removesuffix(_SUFFIX["text"]) + "ZeroCheck")
    box.setToolTip(tooltip(setting))
    replaced = [""]

    def on_toggled(checked: bool) -> None:
        if checked and not setting.means_zero(edit.text()):
            replaced[0] = edit.text()
            edit.setText("0")
        elif not checked and setting.means_zero(edit.text()):
            edit.setText(replaced[0] or str(setting.default))

    def on_text(text: str) -> None:
        # on_toggled leaves a text that already agrees with the box as it is
        box.setChecked(setting.means_zero(text))

    box.toggled.connect(on_toggled)
    edit.textChanged.connect(on_text)
    on_text(edit.text())
    return box


def values_of(widgets: Mapping[str, QWidget], table: Mapping[str, Setting]) -> dict[str, Any]:
    """Setting name -> value of every widget in ``widgets``."""
    return {name: value_of(w, table[name]) for name, w in widgets.items()}
