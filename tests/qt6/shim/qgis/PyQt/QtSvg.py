"""``qgis.PyQt.QtSvg`` as QGIS 4 builds it: PyQt6.QtSvg (stand-in for tests/qt6)."""

from PyQt6.QtSvg import *  # noqa: F403
