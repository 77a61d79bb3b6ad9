"""Stand-in ``qgis.core`` for the PyQt6 check of ``ui/`` (tests/qt6): NOT QGIS.

For import and ``.ui`` load checks only. The few classes whose objects the exercised code
really uses get the minimum of behaviour (a QgsTask that is a QObject and never runs, a task
manager that only records, an empty project, QgsSettings on an ini file, layer base classes
for isinstance checks); every other ``Qgs*`` / ``Qgis`` name is a dummy class (see
``_standin``). Nothing here says anything about the QGIS 4 API.
"""

from __future__ import annotations

import enum
import os
import tempfile
from typing import Any

from qgis.PyQt.QtCore import QObject, QSettings, pyqtSignal

from ._standin import StandIn, module_getattr

__getattr__ = module_getattr(__name__)


class Qgis(StandIn):
    """Dummy: ``Qgis.MessageLevel.Warning`` and the like are stand-ins."""


class QgsMessageLog(StandIn):
    """Records messages in ``messages`` instead of showing them."""

    messages: list[tuple[str, str, Any]] = []

    @staticmethod
    def logMessage(message: str, tag: str = "", level: Any = None, notifyUser: bool = True) -> None:  # noqa: N802,N803
        QgsMessageLog.messages.append((message, tag, level))


class QgsTask(QObject):
    """A QObject with QgsTask's signals, flags and bookkeeping; nothing ever runs it."""

    class Flag(enum.IntFlag):
        CanCancel = 1 << 1
        CancelWithoutPrompt = 1 << 2
        Hidden = 1 << 3
        Silent = 1 << 4

    # QGIS 4's auto_additions keep the unscoped aliases of its own QgsTask.Flag
    CanCancel = Flag.CanCancel
    CancelWithoutPrompt = Flag.CancelWithoutPrompt
    Hidden = Flag.Hidden
    Silent = Flag.Silent

    progressChanged = pyqtSignal(float)
    statusChanged = pyqtSignal(int)
    begun = pyqtSignal()
    taskCompleted = pyqtSignal()
    taskTerminated = pyqtSignal()

    def __init__(self, description: str = "", flags: Any = Flag.CanCancel) -> None:
        super().__init__()
        self._description = description
        self._progress = 0.0
        self._canceled = False

    def description(self) -> str:
        return self._description

    def setProgress(self, progress: float) -> None:  # noqa: N802
        self._progress = float(progress)
        self.progressChanged.emit(self._progress)

    def progress(self) -> float:
        return self._progress

    def isCanceled(self) -> bool:  # noqa: N802
        return self._canceled

    def cancel(self) -> None:
        self._canceled = True

    def waitForFinished(self, timeout: int = 30000) -> bool:  # noqa: N802
        return True


class _TaskManager:
    """Records added tasks; never runs them."""

    def __init__(self) -> None:
        self.tasks: list[QgsTask] = []

    def addTask(self, task: QgsTask, priority: int = 0) -> int:  # noqa: N802
        self.tasks.append(task)
        return len(self.tasks)


class QgsApplication(StandIn):
    """Only ``taskManager()`` (a recorder) is real enough to call."""

    _task_manager = _TaskManager()

    @staticmethod
    def taskManager() -> _TaskManager:  # noqa: N802
        return QgsApplication._task_manager


class QgsMapLayer(StandIn):
    """Base for isinstance checks; tests subclass it for fake layers."""


class QgsRasterLayer(QgsMapLayer):
    """Base for isinstance checks; tests subclass it for fake layers."""


class QgsVectorLayer(QgsMapLayer):
    """Base for isinstance checks; tests subclass it for fake layers."""


class QgsProject(StandIn):
    """An empty project: no layers found; added layers are only recorded."""

    _instance: QgsProject | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.added: list[Any] = []

    @staticmethod
    def instance() -> QgsProject:
        if QgsProject._instance is None:
            QgsProject._instance = QgsProject()
        return QgsProject._instance

    def mapLayer(self, layer_id: str) -> None:  # noqa: N802
        return None

    def mapLayersByName(self, name: str) -> list[Any]:  # noqa: N802
        return []

    def addMapLayer(self, layer: Any, addToLegend: bool = True) -> Any:  # noqa: N802,N803
        self.added.append(layer)
        return layer


SETTINGS_FILE = os.environ.get("QT6_CHECK_SETTINGS") or os.path.join(
    tempfile.mkdtemp(prefix="qt6_check_settings_"), "QGIS3.ini"
)
"""Where the stand-in QgsSettings stores values (never a user's QGIS settings)."""


class QgsSettings(QSettings):
    """A QSettings on the ini file ``SETTINGS_FILE`` (QgsSettings is a QSettings in QGIS)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(SETTINGS_FILE, QSettings.Format.IniFormat)
