"""Atomic output: write to a temporary file beside the target and move it into place only on
success, so an error or a cancel never leaves a half-written file or clobbers a good one."""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import CancelledError, LandCoverError

# Side files GDAL may write next to a raster (PAM metadata, category names).
SIDECARS = (".aux.xml",)


def check_writable(path: str | Path) -> Path:
    """Check that ``path`` can be created: its folder exists and is writable."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise LandCoverError(f"Folder '{folder}' does not exist: create it or choose another.")
    if not os.access(folder, os.W_OK):
        raise LandCoverError(f"Folder '{folder}' is not writable: choose another output folder.")
    return path


def _remove(path: Path) -> None:
    for p in (path, *(Path(str(path) + s) for s in SIDECARS)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def describe_os_error(exc: BaseException, path: Path) -> str:
    """A user sentence for a failed write, naming a full disk when that is the cause."""
    text = str(exc)
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left" in text:
        return f"The disk is full while writing '{path}': free some space or choose another folder."
    return f"Could not write '{path}' ({text}); check the folder and free disk space."


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it (and its sidecars) into place.

    On any exception the temporary file is removed and the existing ``path`` is untouched.
    """
    path = check_writable(path)
    tmp = path.with_name(f".{path.stem}.part-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        yield tmp
    except (CancelledError, LandCoverError):
        _remove(tmp)
        raise
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, (OSError, RuntimeError)):
            raise LandCoverError(describe_os_error(exc, path)) from exc
        raise
    try:
        for suffix in SIDECARS:
            side_tmp, side = Path(str(tmp) + suffix), Path(str(path) + suffix)
            if side_tmp.exists():
                os.replace(side_tmp, side)
            elif side.exists():
                side.unlink()
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise LandCoverError(describe_os_error(exc, path)) from exc
