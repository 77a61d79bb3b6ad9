"""The plugin class QGIS loads: menu entry, toolbar button, Processing provider, dialog."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsApplication
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from .feedback import install_log_bridge, remove_log_bridge
from .processing.provider import LandCoverMlpProvider
from .torch_setup import add_site_dir_to_path

ICON = Path(__file__).resolve().parents[1] / "resources" / "icon.svg"
MENU = "&Land Cover MLP"


class LandCoverMlpPlugin:
    """Registers everything on load and removes everything on unload."""

    # iface is a qgis.gui.QgsInterface, which that module does not export everywhere (not on
    # QGIS 3.22 without a GUI: tests/qgis/qt6_forms.py refuses the import), so not annotated.
    def __init__(self, iface) -> None:  # noqa: ANN001
        """Keep ``iface`` (QGIS's ``QgsInterface``); nothing is registered before ``initGui``."""
        self.iface = iface
        self.provider: LandCoverMlpProvider | None = None
        self.action: QAction | None = None
        self.dialog = None
        self._log_handler = None
        # -- PyTorch set-up (issue #5): torch installed by "Set up PyTorch..." ------------------
        self.torch_setup_action: QAction | None = None
        add_site_dir_to_path()  # the profile's PyTorch folder, before any torch import
        # -- end PyTorch set-up ----------------------------------------------------------------

    def initProcessing(self) -> None:  # noqa: N802 - QGIS virtual
        """Register the Processing provider (also called by qgis_process without a GUI)."""
        if self.provider is None:
            self.provider = LandCoverMlpProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS virtual
        """Add the menu entries and toolbar button, the provider and the log bridge."""
        self._log_handler = install_log_bridge()
        self.initProcessing()
        self.action = QAction(QIcon(str(ICON)), "Land Cover MLP...", self.iface.mainWindow())
        self.action.setObjectName("landcover_mlp_open")
        self.action.setToolTip("Train a neural network on polygons and classify a raster")
        self.action.triggered.connect(self.open_dialog)
        self.iface.addToolBarIcon(self.action)  # the Plugins toolbar: shown in a fresh profile
        self.iface.addPluginToRasterMenu(MENU, self.action)
        # -- PyTorch set-up (issue #5) ---------------------------------------------------------
        self.torch_setup_action = QAction("Set up PyTorch...", self.iface.mainWindow())
        self.torch_setup_action.setObjectName("landcover_mlp_torch_setup")
        self.torch_setup_action.setToolTip("Install PyTorch into QGIS's Python and check it")
        self.torch_setup_action.triggered.connect(self.open_torch_setup)
        self.iface.addPluginToRasterMenu(MENU, self.torch_setup_action)
        # -- end PyTorch set-up ----------------------------------------------------------------

    def unload(self) -> None:
        """Remove menu entry, button, provider and dialog; cancels a running training."""
        if self.dialog is not None:
            self.dialog.shutdown()
            self.dialog.deleteLater()
            self.dialog = None
        # -- PyTorch set-up (issue #5) ---------------------------------------------------------
        if self.torch_setup_action is not None:
            from ..ui.torch_setup_dialog import close_torch_setup

            close_torch_setup()
            self.iface.removePluginRasterMenu(MENU, self.torch_setup_action)
            self.torch_setup_action.deleteLater()
            self.torch_setup_action = None
        # -- end PyTorch set-up ----------------------------------------------------------------
        if self.action is not None:
            self.iface.removePluginRasterMenu(MENU, self.action)
            self.iface.removeToolBarIcon(self.action)
            self.action.deleteLater()
            self.action = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        remove_log_bridge(self._log_handler)
        self._log_handler = None

    def open_dialog(self) -> None:
        """Show the dialog (created once, kept while QGIS runs)."""
        if self.dialog is None:
            from ..ui.dialog import LandCoverDialog

            self.dialog = LandCoverDialog(self.iface, self.iface.mainWindow())
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()

    # -- PyTorch set-up (issue #5) -------------------------------------------------------------
    def open_torch_setup(self) -> None:
        """Show the "Set up PyTorch..." dialog."""
        from ..ui.torch_setup_dialog import open_torch_setup

        open_torch_setup(self.iface.mainWindow())
