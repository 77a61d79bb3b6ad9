"""``qgis.PyQt.QtCore`` as QGIS 4 builds it on PyQt6 (stand-in for tests/qt6).

QGIS's wrapper star-imports PyQt6.QtCore, makes a null QVariant falsy and ``== None``, sets
``NULL = None``, puts the Qt 5 ``QVariant.Int``-style type constants back (as
``QMetaType.Type`` members), lets ``Qt.CheckState`` / ``QMetaType.Type`` compare with ints,
and re-adds the Qt 5 flag-type names (``Qt.ItemFlags`` ...) as constructors of the flag enum.
Unscoped enum members (``Qt.UserRole``) are NOT re-added, by QGIS or here.
"""

from enum import Enum

from PyQt6.QtCore import *  # noqa: F403
from PyQt6.QtCore import (
    QAbstractItemModel,
    QByteArray,
    QDir,
    QEventLoop,
    QItemSelectionModel,
    QLocale,
    QMetaType,
    QRegularExpression,
    Qt,
    QUrl,
    QVariant,
)

_variant_repr = QVariant.__repr__
_variant_eq = QVariant.__eq__
_variant_ne = QVariant.__ne__
_variant_hash = QVariant.__hash__


def _variant_is_null_like(other):
    return other is None or (isinstance(other, QVariant) and other.isNull())


QVariant.__bool__ = lambda self: not self.isNull()
QVariant.__repr__ = lambda self: "NULL" if self.isNull() else _variant_repr(self)
QVariant.__eq__ = (
    lambda self, other: _variant_is_null_like(other) if self.isNull() else _variant_eq(self, other)
)
QVariant.__ne__ = (
    lambda self, other: not _variant_is_null_like(other)
    if self.isNull()
    else _variant_ne(self, other)
)
QVariant.__hash__ = lambda self: 2178309 if self.isNull() else _variant_hash(self)

NULL = None

for _name, _type in (
    ("Invalid", "UnknownType"), ("Bool", "Bool"), ("Int", "Int"), ("UInt", "UInt"),
    ("LongLong", "LongLong"), ("ULongLong", "ULongLong"), ("Double", "Double"),
    ("Char", "QChar"), ("Map", "QVariantMap"), ("List", "QVariantList"),
    ("String", "QString"), ("StringList", "QStringList"), ("ByteArray", "QByteArray"),
    ("Date", "QDate"), ("Time", "QTime"), ("DateTime", "QDateTime"), ("Url", "QUrl"),
    ("Rect", "QRect"), ("RectF", "QRectF"), ("Size", "QSize"), ("SizeF", "QSizeF"),
    ("Point", "QPoint"), ("PointF", "QPointF"), ("Hash", "QVariantHash"),
    ("Font", "QFont"), ("Pixmap", "QPixmap"), ("Brush", "QBrush"), ("Color", "QColor"),
    ("Image", "QImage"), ("Icon", "QIcon"), ("UserType", "User"),
):  # fmt: skip
    setattr(QVariant, _name, getattr(QMetaType.Type, _type))


def _as_int(value):
    return int(value.value) if isinstance(value, Enum) else value


for _enum in (QMetaType.Type, Qt.CheckState):
    _enum.__int__ = _as_int
    _enum.__eq__ = lambda a, b: _as_int(a) == _as_int(b)


def _flags(enum_type):
    return lambda flags=0: enum_type(flags)


for _owner, _alias, _enum_name in (
    (QAbstractItemModel, "CheckIndexOptions", "CheckIndexOption"),
    (QByteArray, "Base64Options", "Base64Option"),
    (QDir, "Filters", "Filter"),
    (QDir, "SortFlags", "SortFlag"),
    (QEventLoop, "ProcessEventsFlags", "ProcessEventsFlag"),
    (QItemSelectionModel, "SelectionFlags", "SelectionFlag"),
    (QLocale, "NumberOptions", "NumberOption"),
    (QRegularExpression, "MatchOptions", "MatchOption"),
    (QRegularExpression, "PatternOptions", "PatternOption"),
    (QUrl, "FormattingOptions", "UrlFormattingOption"),
    (Qt, "Alignment", "AlignmentFlag"),
    (Qt, "DockWidgetAreas", "DockWidgetArea"),
    (Qt, "DropActions", "DropAction"),
    (Qt, "ItemFlags", "ItemFlag"),
    (Qt, "KeyboardModifiers", "KeyboardModifier"),
    (Qt, "MatchFlags", "MatchFlag"),
    (Qt, "MouseButtons", "MouseButton"),
    (Qt, "Orientations", "Orientation"),
    (Qt, "TextInteractionFlags", "TextInteractionFlag"),
    (Qt, "ToolBarAreas", "ToolBarArea"),
    (Qt, "WindowStates", "WindowState"),
    (Qt, "WindowFlags", "WindowType"),
):
    setattr(_owner, _alias, _flags(getattr(_owner, _enum_name)))
