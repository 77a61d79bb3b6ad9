"""``qgis.PyQt.QtWidgets`` as QGIS 4 builds it on PyQt6 (stand-in for tests/qt6).

QGIS's wrapper star-imports PyQt6.QtWidgets, also exports QAction, QActionGroup and QShortcut
(in QtGui under Qt 6) so that Qt 5 style imports keep working, adds ``QLayout.setMargin`` and
re-adds Qt 5 flag-type names (``QDialogButtonBox.StandardButtons`` ...) as constructors.
"""

from PyQt6.QtGui import QAction, QActionGroup, QShortcut  # noqa: F401
from PyQt6.QtWidgets import *  # noqa: F403
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QDialogButtonBox,
    QFileDialog,
    QGraphicsItem,
    QLayout,
    QMessageBox,
    QSizePolicy,
    QStyle,
    QWidget,
)

QLayout.setMargin = lambda self, m: self.setContentsMargins(m, m, m, m)

for _owner, _alias, _enum_name in (
    (QWidget, "RenderFlags", "RenderFlag"),
    (QGraphicsItem, "GraphicsItemFlags", "GraphicsItemFlag"),
    (QAbstractItemView, "EditTriggers", "EditTrigger"),
    (QStyle, "State", "StateFlag"),
    (QDialogButtonBox, "StandardButtons", "StandardButton"),
    (QFileDialog, "Options", "Option"),
    (QMessageBox, "StandardButtons", "StandardButton"),
    (QSizePolicy, "ControlTypes", "ControlType"),
):
    setattr(_owner, _alias, (lambda e: lambda flags=0: e(flags))(getattr(_owner, _enum_name)))
