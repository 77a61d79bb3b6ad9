"""Progress on a terminal: used by the command line and the demo."""

from __future__ import annotations

import sys
from typing import TextIO


class TerminalProgress:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        """A bar named ``label`` (padded to 10 characters) on ``stream`` (stderr when None)."""
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = -1

    def __call__(self, percent: float) -> None:
        """Show ``percent`` (0 to 100) done; off a terminal only every 10 % is printed."""
        p = int(percent)
        if p == self.last or (not self.tty and p % 10 and p != 100):
            return
        self.last = p
        bar = "#" * (p // 4) + "-" * (25 - p // 4)
        end = "\r" if self.tty and p < 100 else "\n"
        self.stream.write(f"{self.label:<10} [{bar}] {p:3d}%{end}")
        self.stream.flush()
