"""``qgis.PyQt.QtXml`` as QGIS 4 builds it: PyQt6.QtXml (stand-in for tests/qt6)."""

from PyQt6.QtXml import *  # noqa: F403
