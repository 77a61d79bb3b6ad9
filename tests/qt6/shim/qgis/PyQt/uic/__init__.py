"""``qgis.PyQt.uic`` as QGIS 4 builds it on PyQt6 (stand-in for tests/qt6).

QGIS's wrapper re-exports PyQt6.uic (``loadUi``, ``loadUiType`` with its DeprecationWarnings
silenced) and QGIS installs a uic widget plugin, ``qgis_customwidgets.py``, into PyQt6's
``uic/widget-plugins`` so that ``.ui`` custom widgets (``<header>qgsfilewidget.h</header>``)
resolve to ``qgis.gui``. Instead of writing into the venv's PyQt6, the same kind of plugin is
kept beside this file and its folder is added to uic's plugin path.
"""

import os
import warnings

from PyQt6.uic import *  # noqa: F403
from PyQt6.uic import loadUiType as _pyqt_load_ui_type
from PyQt6.uic import properties, uiparser  # noqa: F401
from PyQt6.uic.objcreator import widgetPluginPath

_PLUGINS = os.path.join(os.path.dirname(__file__), "widget-plugins")
if _PLUGINS not in widgetPluginPath:
    widgetPluginPath.append(_PLUGINS)


def loadUiType(*args, **kwargs):  # noqa: N802 - PyQt's name
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return _pyqt_load_ui_type(*args, **kwargs)
