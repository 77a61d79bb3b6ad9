"""Stand-in ``qgis.gui`` for the PyQt6 check of ``ui/`` (tests/qt6): NOT QGIS.

For import and ``.ui`` load checks only. The custom widgets that the ``.ui`` files declare
(``<customwidgets>``) are subclasses of the Qt base class named there (``<extends>``), with the
few methods the plugin calls storing plain values: no layers, fields or file dialogs. Every other
``Qgs*`` name is a dummy class (see ``_standin``).
"""

from __future__ import annotations

import enum
from typing import Any

from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGroupBox,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from ._standin import module_getattr

__getattr__ = module_getattr(__name__)


class QgsMapLayerComboBox(QComboBox):
    """Holds one layer object; ``layerChanged`` when it changes."""

    layerChanged = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layer: Any = None
        self._filters: Any = None
        self._allow_empty = False

    def setFilters(self, filters: Any) -> None:  # noqa: N802
        self._filters = filters

    def filters(self) -> Any:
        return self._filters

    def setAllowEmptyLayer(self, allow: bool, text: str = "", icon: Any = None) -> None:  # noqa: N802
        self._allow_empty = allow

    def allowEmptyLayer(self) -> bool:  # noqa: N802
        return self._allow_empty

    def setLayer(self, layer: Any) -> None:  # noqa: N802
        if layer is not self._layer:
            self._layer = layer
            self.layerChanged.emit(layer)

    def currentLayer(self) -> Any:  # noqa: N802
        return self._layer


class QgsFieldComboBox(QComboBox):
    """Holds a layer object and a field name."""

    fieldChanged = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layer: Any = None
        self._field = ""

    def setLayer(self, layer: Any) -> None:  # noqa: N802
        self._layer = layer

    def layer(self) -> Any:
        return self._layer

    def setField(self, name: str) -> None:  # noqa: N802
        self._field = name or ""
        self.fieldChanged.emit(self._field)

    def currentField(self) -> str:  # noqa: N802
        return self._field


class QgsFileWidget(QWidget):
    """A line edit holding a path; storage mode, filter and default root are only stored."""

    class StorageMode(enum.IntEnum):
        """Scoped, as PyQt6 makes every enum of QGIS 4 (no unscoped ``QgsFileWidget.SaveFile``)."""

        GetFile = 0
        GetDirectory = 1
        GetMultipleFiles = 2
        SaveFile = 3

    fileChanged = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lineEdit = QLineEdit(self)
        self._mode = self.StorageMode.GetFile
        self._confirm = True
        self._filter = ""
        self._root = ""

    def setStorageMode(self, mode: int) -> None:  # noqa: N802
        self._mode = mode

    def storageMode(self) -> int:  # noqa: N802
        return self._mode

    def setConfirmOverwrite(self, confirm: bool) -> None:  # noqa: N802
        self._confirm = confirm

    def confirmOverwrite(self) -> bool:  # noqa: N802
        return self._confirm

    def setFilter(self, text: str) -> None:  # noqa: N802
        self._filter = text

    def filter(self) -> str:
        return self._filter

    def setDefaultRoot(self, root: str) -> None:  # noqa: N802
        self._root = root

    def defaultRoot(self) -> str:  # noqa: N802
        return self._root

    def setFilePath(self, path: str) -> None:  # noqa: N802
        self.lineEdit.setText(path)
        self.fileChanged.emit(path)

    def filePath(self) -> str:  # noqa: N802
        return self.lineEdit.text()


class QgsCollapsibleGroupBox(QGroupBox):
    """A group box with a stored collapsed flag."""

    collapsedStateChanged = pyqtSignal(bool)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._collapsed = False
        self._save_collapsed = True

    def setCollapsed(self, collapsed: bool) -> None:  # noqa: N802
        self._collapsed = bool(collapsed)
        self.collapsedStateChanged.emit(self._collapsed)

    def isCollapsed(self) -> bool:  # noqa: N802
        return self._collapsed

    def setSaveCollapsedState(self, save: bool) -> None:  # noqa: N802
        self._save_collapsed = bool(save)

    def saveCollapsedState(self) -> bool:  # noqa: N802
        return self._save_collapsed


class _ClearValue:
    """QgsSpinBox / QgsDoubleSpinBox extras: a clear value and a clear button flag."""

    _clear_value: Any = None

    def setClearValue(self, value: Any, text: str = "") -> None:  # noqa: N802
        self._clear_value = value

    def clearValue(self) -> Any:  # noqa: N802
        return self._clear_value

    def setShowClearButton(self, show: bool) -> None:  # noqa: N802
        self._show_clear = show


class QgsSpinBox(_ClearValue, QSpinBox):
    """A QSpinBox with a clear value."""


class QgsDoubleSpinBox(_ClearValue, QDoubleSpinBox):
    """A QDoubleSpinBox with a clear value."""


class QgsMessageBar(QFrame):
    """Records pushed messages in ``messages`` instead of showing them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.messages: list[tuple[Any, ...]] = []

    def pushMessage(self, *args: Any, **kwargs: Any) -> None:  # noqa: N802
        self.messages.append(args)

    def clearWidgets(self) -> bool:  # noqa: N802
        self.messages.clear()
        return True


CUSTOM_WIDGETS = (
    "QgsCollapsibleGroupBox",
    "QgsDoubleSpinBox",
    "QgsFieldComboBox",
    "QgsFileWidget",
    "QgsMapLayerComboBox",
    "QgsMessageBar",
    "QgsSpinBox",
)
"""The classes that uic may create for ``.ui`` custom widgets (see the uic widget plugin)."""
