"""Land Cover MLP: QGIS plugin entry point (the repository root is the plugin package)."""


def classFactory(iface):  # noqa: N802 - name required by QGIS
    """Create the plugin instance; QGIS calls this when it loads the plugin."""
    from .plugin.main import LandCoverMlpPlugin

    return LandCoverMlpPlugin(iface)
