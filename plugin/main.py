"""The plugin class QGIS loads: menu entry, toolbar button, Processing provider, dialog."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsApplication
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from .feedback import install_log_bridge, remove_log_bridge
from .processing.provider import LandCoverMlpProvider

ICON = Path(__file__).resolve().parents[1] / "resources" / "icon.svg"
MENU = "&Land Cover MLP"


class LandCoverMlpPlugin:
    """Registers everything on load and removes everything on unload."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: LandCoverMlpProvider | None = None
        self.action: QAction | None = None
        self.dialog = None
        self._log_handler = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS virtual
        """Register the Processing provider (also called by qgis_process without a GUI)."""
        if self.provider is None:
            self.provider = LandCoverMlpProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS virtual
        self._log_handler = install_log_bridge()
        self.initProcessing()
        self.action = QAction(QIcon(str(ICON)), "Land Cover MLP...", self.iface.mainWindow())
        self.action.setObjectName("landcover_mlp_open")
        self.action.setToolTip("Train a neural network on polygons and classify a raster")
        self.action.triggered.connect(self.open_dialog)
        self.iface.addRasterToolBarIcon(self.action)
        self.iface.addPluginToRasterMenu(MENU, self.action)

    def unload(self) -> None:
        """Remove menu entry, button, provider and dialog; cancels a running training."""
        if self.dialog is not None:
            self.dialog.shutdown()
            self.dialog.deleteLater()
            self.dialog = None
        if self.action is not None:
            self.iface.removePluginRasterMenu(MENU, self.action)
            self.iface.removeRasterToolBarIcon(self.action)
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
