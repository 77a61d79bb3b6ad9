"""Land Cover MLP: QGIS plugin entry point (the repository root is the plugin package)."""


# Unannotated: tests/qgis/test_package.py reads this signature literally in the zip.
def classFactory(iface):  # noqa: N802, ANN001, ANN201 - name and signature required by QGIS
    """Create the plugin instance; QGIS calls this when it loads the plugin.

    Args:
        iface: the QGIS application's interface (``QgsInterface``: main window, map canvas,
            message bar).

    Returns:
        The ``LandCoverMlpPlugin``, not yet initialised (QGIS calls its ``initGui``).
    """
    import sys

    # PyPI's Linux torch (the CUDA build, e.g. on Debian 13's Python 3.13) brings triton, which
    # torch's optimisers import lazily through torch._dynamo. triton ships its own LLVM, and
    # loading it into a QGIS desktop that already holds Mesa's libLLVM crashed QGIS (signal 11,
    # seen on Debian 13 / QGIS 3.40). The plugin never uses torch.compile: torch treats a
    # missing triton as "no triton" and carries on. Only while triton is not already loaded.
    sys.modules.setdefault("triton", None)  # type: ignore[arg-type]
    from .plugin.main import LandCoverMlpPlugin

    return LandCoverMlpPlugin(iface)
