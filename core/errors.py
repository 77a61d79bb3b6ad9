"""Exceptions raised by the core.

Every message is a sentence a user can act on: it says what is wrong and what to change. The
plugin shows these messages as they are (message bar, Processing log, terminal).
"""

from __future__ import annotations


class LandCoverError(Exception):
    """Bad input or an operation that cannot go on; the message tells the user what to do."""


class CancelledError(LandCoverError):
    """The user cancelled; nothing half-written is left behind."""

    def __init__(self, message: str = "Cancelled by the user; no output was written.") -> None:
        """Carry ``message``, the sentence shown to the user."""
        super().__init__(message)
