# uic widget plugin (executed by PyQt6.uic, not imported): custom widget classes of .ui files
# are looked up in qgis.gui, as QGIS's own qgis_customwidgets.py does. Stand-in for tests/qt6.
pluginType = MODULE  # noqa: F821 - defined by uic when it runs this file


def moduleInformation():
    import qgis.gui

    return "qgis.gui", list(qgis.gui.CUSTOM_WIDGETS)
