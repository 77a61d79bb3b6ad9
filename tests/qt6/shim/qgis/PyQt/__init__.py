"""``qgis.PyQt`` on PyQt6, as in QGIS 4 (stand-in package for tests/qt6 only)."""
