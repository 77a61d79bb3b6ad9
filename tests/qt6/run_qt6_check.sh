#!/usr/bin/env bash
# PyQt6 check of ui/ (QGIS 4 runs on Qt 6 / PyQt6, which cannot be installed here with QGIS):
# loads every ui/*.ui with PyQt6's uic, imports every ui/ module and drives the pure-Qt widgets,
# in a separate venv (build/qt6-venv) with PyQt6 from PyPI and the stand-in qgis package in
# tests/qt6/shim. Idempotent: a second run only runs the tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$(pwd)

VENV=build/qt6-venv
# QGIS's own Python (the Makefile passes QGIS_PYTHON; Debian 12: 3.11, Debian 13: 3.13).
QGIS_PY=${QGIS_PYTHON:-/usr/bin/python3}
# numpy is the version of the numpy QGIS's Python imports (Debian 12: 1.24, Debian 13: 2.2), so
# that Debian's GDAL bindings linked below work with it.
NUMPY=$("$QGIS_PY" -c 'import numpy; print(numpy.__version__)')
PINS=(PyQt6==6.11.0 PyQt6-Qt6==6.11.2 PyQt6-sip==13.13.0 "numpy==$NUMPY" pytest==8.3.5 pytest-timeout==2.4.0)
STAMP="$VENV/.qt6-pins-$(echo "${PINS[*]}" | md5sum | cut -c1-12)"

want=$("$QGIS_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$want" ]; then
  rm -rf "$VENV"  # made with another Python (the machine moved to a newer Debian)
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$QGIS_PY" -m venv "$VENV"  # no system site packages: no PyQt5, no QGIS
fi
if [ ! -f "$STAMP" ]; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PINS[@]}"
  rm -f "$VENV"/.qt6-pins-* && touch "$STAMP"
fi

# The plugin is imported as landcover_mlp (as from a QGIS plugin folder), here from build/qt6.
mkdir -p build/qt6/plugins build/qt6/site
ln -sfn "$REPO" build/qt6/plugins/landcover_mlp
# core/ needs GDAL's Python bindings (ui/ imports it through plugin.tasks): Debian's
# python3-gdal, linked alone so that nothing else of the system's Python (PyQt5, QGIS) is seen.
OSGEO=$("$QGIS_PY" -c 'import os, osgeo; print(os.path.dirname(osgeo.__file__))') || {
  echo "run_qt6_check.sh: Debian's python3-gdal is missing (make system installs it)" >&2
  exit 1
}
ln -sfn "$OSGEO" build/qt6/site/osgeo

export PYTHONPATH="$REPO/tests/qt6/shim:$REPO/build/qt6/plugins:$REPO/build/qt6/site"
export QT_QPA_PLATFORM=offscreen
export LANDCOVER_QT6_CHECK=1
export PYTHONDONTWRITEBYTECODE=1
export QT6_CHECK_SETTINGS="$REPO/build/qt6/QGIS3.ini"
rm -f "$QT6_CHECK_SETTINGS"
# --confcutdir: tests/conftest.py belongs to the normal run; the ini warning is pytest-qgis's
# option in pyproject.toml (that plugin is not in this venv).
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider --confcutdir=tests/qt6 \
  -W "ignore:Unknown config option:pytest.PytestConfigWarning" tests/qt6 "$@"
