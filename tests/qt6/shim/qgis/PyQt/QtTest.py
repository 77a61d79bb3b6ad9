"""``qgis.PyQt.QtTest`` as QGIS 4 builds it: PyQt6.QtTest (stand-in for tests/qt6)."""

from PyQt6.QtTest import *  # noqa: F403
