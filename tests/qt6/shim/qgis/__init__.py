"""Stand-in ``qgis`` package for the PyQt6 check of ``ui/`` (tests/qt6): NOT QGIS.

QGIS 4 (Qt 6 / PyQt6) cannot be installed here, so ``tests/qt6/run_qt6_check.sh`` puts this
folder first on ``PYTHONPATH`` of a venv that has PyQt6 from PyPI and no QGIS:

* ``qgis.PyQt.*`` maps to PyQt6 the way QGIS 4's own ``qgis/PyQt/*.py`` wrappers do (star
  import plus the few aliases QGIS adds). Qt enums are NOT made permissive: an unscoped
  PyQt5-only member such as ``Qt.UserRole`` fails here exactly as it fails in QGIS 4.
* ``qgis.core`` / ``qgis.gui`` / ``qgis.utils`` are stand-ins for import and ``.ui`` load
  checks only: the custom widgets of the ``.ui`` files are plain subclasses of their Qt base
  classes with the few methods the plugin calls, and other QGIS names are dummies. They have
  none of QGIS's behaviour and say nothing about the QGIS 4 API itself.
"""

QT6_CHECK_SHIM = True
"""Marker: tests/qt6/conftest.py only collects when ``qgis`` is this package."""
