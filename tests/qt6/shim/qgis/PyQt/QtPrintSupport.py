"""``qgis.PyQt.QtPrintSupport`` as QGIS 4 builds it: PyQt6.QtPrintSupport (stand-in for tests/qt6)."""

from PyQt6.QtPrintSupport import *  # noqa: F403
