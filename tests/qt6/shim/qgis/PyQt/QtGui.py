"""``qgis.PyQt.QtGui`` as QGIS 4 builds it on PyQt6 (stand-in for tests/qt6).

QGIS's wrapper star-imports PyQt6.QtGui (where Qt 6 keeps QAction, QActionGroup and
QShortcut), gives QColor a readable repr and re-adds a few Qt 5 flag-type names.
"""

from PyQt6.QtGui import *  # noqa: F403
from PyQt6.QtGui import QColor, QPainter, QTextDocument, QTextOption


def _colour_repr(self: QColor) -> str:
    if not self.isValid():
        return "<QColor: invalid>"
    return f"<QColor: RGBA {self.red()}, {self.green()}, {self.blue()}, {self.alpha()}>"


QColor.__repr__ = _colour_repr

for _owner, _alias, _enum_name in (
    (QPainter, "RenderHints", "RenderHint"),
    (QTextDocument, "FindFlags", "FindFlag"),
    (QTextOption, "Flags", "Flag"),
):
    setattr(_owner, _alias, (lambda e: lambda flags=0: e(flags))(getattr(_owner, _enum_name)))
