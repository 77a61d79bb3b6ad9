"""``qgis.PyQt.QtNetwork`` as QGIS 4 builds it: PyQt6.QtNetwork (stand-in for tests/qt6)."""

from PyQt6.QtNetwork import *  # noqa: F403
