"""``qgis.PyQt.QtSql`` as QGIS 4 builds it: PyQt6.QtSql (stand-in for tests/qt6)."""

from PyQt6.QtSql import *  # noqa: F403
