"""The "Set up PyTorch..." dialog.

What is installed, which device training will use and why, and a guided install of the CPU or
CUDA build with live output and cancel.

All logic lives in :mod:`..plugin.torch_setup` and :mod:`..plugin.torch_install_task`; this
class wires widgets to them. Open it with :func:`open_torch_setup` (menu action, the main
dialog's button).
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path
from typing import Any

from qgis.core import QgsApplication
from qgis.PyQt import uic
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QDialog, QDialogButtonBox, QSizePolicy, QWidget

from ..plugin import torch_setup
from ..plugin.torch_install_task import (
    InstallRequest,
    InstallResult,
    Probe,
    TorchInstallTask,
    TorchProbeTask,
)

FORM_CLASS, _ = uic.loadUiType(str(Path(__file__).with_name("torch_setup_dialog.ui")))
_DIALOG: TorchSetupDialog | None = None


def open_torch_setup(parent: QWidget | None = None) -> TorchSetupDialog:
    """Show the set-up dialog (one per QGIS session, kept while an install runs).

    Args:
        parent: parent widget, e.g. ``iface.mainWindow()`` or the main dialog.

    Returns:
        The dialog, shown and raised.
    """
    global _DIALOG
    if _DIALOG is None:
        _DIALOG = TorchSetupDialog(parent)
    _DIALOG.show()
    _DIALOG.raise_()
    _DIALOG.activateWindow()
    return _DIALOG


def close_torch_setup() -> None:
    """Cancel a running install and delete the dialog (plugin unload)."""
    global _DIALOG
    if _DIALOG is not None:
        _DIALOG.shutdown()
        _DIALOG.deleteLater()
        _DIALOG = None


def _as_html(text: str) -> str:
    return re.sub(r"https?://[^\s)]+", lambda m: f'<a href="{m[0]}">{m[0]}</a>', html.escape(text))


class TorchSetupDialog(QDialog, FORM_CLASS):
    """Shows the installed PyTorch and installs one.

    Attributes:
        site: the install folder.
        options: extra :class:`InstallRequest` fields (e.g. ``find_links`` for offline use).
        state: the last check of what is installed, or None while checking.
        task: the running install, or None.

    Signals:
        checked(): the installed state was (re)read.
        install_finished(bool): an install ended (True on success), after the result is shown.
    """

    checked = pyqtSignal()
    install_finished = pyqtSignal(bool)

    def __init__(
        self,
        parent: QWidget | None = None,
        site: Path | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        """The dialog for the install folder ``site`` (the default folder when None).

        ``options`` are extra :class:`InstallRequest` fields; the check of what is installed
        starts at once.
        """
        super().__init__(parent)
        self.setupUi(self)
        self.site = site if site is not None else torch_setup.site_dir()
        self.options = dict(options or {})
        self.state: Probe | None = None
        self.task: TorchInstallTask | None = None
        self.probe_task: TorchProbeTask | None = None
        self.folderLabel.setText(str(self.site))
        for label in (self.torchLabel, self.deviceLabel, self.nvidiaLabel, self.pythonLabel,
                      self.folderLabel, self.resultLabel):  # fmt: skip
            label.setSizePolicy(
                QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
            )  # wrap, never widen
        self.installButton.clicked.connect(self.install)
        self.cancelButton.clicked.connect(self.cancel)
        self.buttonBox.button(QDialogButtonBox.StandardButton.Close).clicked.connect(self.close)
        self._set_running(False)
        self.refresh()

    # -- state ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read what is installed, in the background."""
        if self.probe_task is not None:
            return
        self.state = None
        for label in (self.torchLabel, self.deviceLabel, self.nvidiaLabel, self.pythonLabel):
            label.setText("Checking...")
        self._set_running(self.task is not None)
        self.probe_task = TorchProbeTask(self.site)
        self.probe_task.succeeded.connect(self._show_state)
        self.probe_task.failed.connect(lambda msg: self._show_state(Probe(None, None, msg, None)))
        QgsApplication.taskManager().addTask(self.probe_task)

    def _show_state(self, state: Probe) -> None:
        self.probe_task = None
        self.state = state
        info = state.info
        if info:
            where = "the install folder" if self._inside(info["file"]) else info["file"]
            build = f"CUDA {info['cuda_build']} build" if info.get("cuda_build") else "CPU build"
            self.torchLabel.setText(f"{info['version']} ({build}, from {where})")
        else:
            self.torchLabel.setText(state.problem or "Not installed in QGIS's Python.")
        device = torch_setup.describe_device(info, state.nvidia)
        loaded = sys.modules.get("torch")
        if info and loaded is not None and getattr(loaded, "__file__", "") != info["file"]:
            version = getattr(loaded, "__version__", "")
            device += f" (this QGIS session still runs PyTorch {version}: restart QGIS)"
        self.deviceLabel.setText(device)
        self.pythonLabel.setText(str(state.python) if state.python else state.problem)
        nvidia = state.nvidia
        build = torch_setup.cuda_build_for(nvidia) if nvidia else None
        if nvidia is None:
            self.nvidiaLabel.setText("None found: the CUDA build is not offered.")
        elif build is None:
            self.nvidiaLabel.setText(f"{nvidia.describe()}: too old for PyTorch, update it.")
        else:
            self.nvidiaLabel.setText(f"{nvidia.describe()}: CUDA build {build} offered.")
        self._set_running(self.task is not None)
        self.checked.emit()

    def _inside(self, path: str) -> bool:
        try:
            return Path(path).resolve().is_relative_to(self.site.resolve())
        except (OSError, ValueError):
            return False

    def cuda_build(self) -> str | None:
        """The CUDA variant to install, or None when no suitable NVIDIA driver was found."""
        nvidia = self.state.nvidia if self.state else None
        return torch_setup.cuda_build_for(nvidia) if nvidia else None

    def _set_running(self, running: bool) -> None:
        ready = self.state is not None and self.state.python is not None
        self.installButton.setEnabled(ready and not running)
        self.cancelButton.setEnabled(running)
        self.cpuRadio.setEnabled(not running)
        self.cudaRadio.setEnabled(not running and self.cuda_build() is not None)
        if not self.cudaRadio.isEnabled() and not running:
            self.cpuRadio.setChecked(True)

    # -- install -------------------------------------------------------------------------------
    def install(self) -> None:
        """Start installing the chosen build in the background."""
        if self.task is not None or self.state is None or self.state.python is None:
            return
        kind = "cuda" if self.cudaRadio.isChecked() and self.cudaRadio.isEnabled() else "cpu"
        request = InstallRequest(kind=kind, site=self.site, cuda_build=self.cuda_build(),
                                 python=self.state.python, **self.options)  # fmt: skip
        self.logView.clear()
        self.resultLabel.setText("Installing... (QGIS stays usable; this can take minutes)")
        self.task = TorchInstallTask(request)
        self.task.output.connect(self.logView.appendPlainText)
        self.task.log_message.connect(self.logView.appendPlainText)
        self.task.succeeded.connect(self._succeeded)
        self.task.failed.connect(self._failed)
        self._set_running(True)
        QgsApplication.taskManager().addTask(self.task)

    def cancel(self) -> None:
        """Stop the running install; nothing is left behind."""
        if self.task is not None:
            self.task.cancel()

    def _succeeded(self, result: InstallResult) -> None:
        self.task = None
        if result.in_place:
            _, note = torch_setup.load_in_process(result.site)
        else:
            note = "Restart QGIS to finish."
        self._show_result(f"Done. {result.message} {note}", ok=True)
        self.refresh()
        self.install_finished.emit(True)

    def _failed(self, message: str) -> None:
        was_cancelled = self.task is not None and self.task.was_cancelled
        self.task = None
        self._show_result(message, ok=was_cancelled)
        self._set_running(False)
        self.install_finished.emit(False)

    def _show_result(self, text: str, ok: bool) -> None:
        colour = "" if ok else ' style="color:#b00020"'
        self.resultLabel.setText(f"<span{colour}>{_as_html(text)}</span>")

    # -- closing -------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel the running install (plugin unload).

        Closing the dialog only hides it, so an install goes on in the task manager.
        """
        self.cancel()
