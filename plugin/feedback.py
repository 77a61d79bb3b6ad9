"""Adapters from QGIS feedback objects to the core's plain callables, and the logging bridge."""

from __future__ import annotations

import logging
from typing import Any

from qgis.core import Qgis, QgsMessageLog, QgsProcessingFeedback

from ..core.callbacks import Hooks, describe_epoch

LOG_TAG = "Land Cover MLP"


def format_epoch(rec: dict[str, Any]) -> str:
    """One log line per epoch."""
    return describe_epoch(rec)


def hooks_from_feedback(feedback: QgsProcessingFeedback | None, log_epochs: bool = True) -> Hooks:
    """Hooks that report to a Processing feedback (progress, log, per-epoch losses, cancel)."""
    if feedback is None:
        return Hooks()

    def on_epoch(rec: dict[str, Any]) -> None:
        if log_epochs:
            feedback.pushInfo(format_epoch(rec))

    return Hooks(
        progress=feedback.setProgress,
        cancelled=feedback.isCanceled,
        epoch=on_epoch,
        log=feedback.pushInfo,
    )


class QgsLogHandler(logging.Handler):
    """Sends the core's ``logging`` records to the QGIS message log panel."""

    _LEVELS = (
        (logging.ERROR, Qgis.MessageLevel.Critical),
        (logging.WARNING, Qgis.MessageLevel.Warning),
    )

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``record`` to QGIS's message log, errors and warnings at their level."""
        level = next((q for lv, q in self._LEVELS if record.levelno >= lv), Qgis.MessageLevel.Info)
        try:
            QgsMessageLog.logMessage(self.format(record), LOG_TAG, level)
        except RuntimeError:  # QGIS is shutting down
            pass


def install_log_bridge() -> QgsLogHandler:
    """Attach the bridge to the ``landcover_mlp`` logger; returns it for removal on unload."""
    handler = QgsLogHandler()
    logger = logging.getLogger("landcover_mlp")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def remove_log_bridge(handler: logging.Handler | None) -> None:
    """Detach the bridge (plugin unload)."""
    if handler is not None:
        logging.getLogger("landcover_mlp").removeHandler(handler)
