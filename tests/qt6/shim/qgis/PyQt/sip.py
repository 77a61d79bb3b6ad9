"""``qgis.PyQt.sip``: PyQt6's sip module (stand-in for tests/qt6)."""

from PyQt6.sip import *  # noqa: F403
