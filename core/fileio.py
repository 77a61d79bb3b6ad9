"""The one output-commit rule of every route: a stage's files appear together or not at all.

A *stage* is the set of files one step writes: the training stage writes the model file, the
loss curves and the validation report; the classification stage the class, confidence and
probability rasters with their sidecars. Each file is written to a temporary *part* beside
its final name, ``.<stem>.part-<pid>-<token><suffix>``; only when the whole stage succeeded
are the parts moved onto their final names, together. A cancel or an error removes the parts
and leaves every existing file as it was, and stages committed earlier stay.

A part carries the id of the process that writes it, so a later run can tell the parts of a
crashed process (removed by :func:`remove_stale_parts`) from those of a run still writing.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import LandCoverError

if TYPE_CHECKING:
    import ctypes

log = logging.getLogger(__name__)

SIDECARS = (".aux.xml", ".ovr", ".ovr.aux.xml", ".msk")
"""Side files GDAL keeps next to a raster: PAM metadata and category names (``.aux.xml``),
external overviews (``.ovr``, QGIS's "Build pyramids") and masks (``.msk``). An old one left
beside a new raster would describe the old raster (QGIS would draw the old map's overviews
when zoomed out), so it goes when the raster is replaced."""

STEM_SIDECARS = (".aux", ".qml")
"""Side files named after a raster's stem: overviews in the Erdas format (``classes.aux``,
gdaladdo with USE_RRD) and the QGIS style (``classes.qml``, whose old class list would be
drawn over the new map). They go when the raster is replaced, unless the stage writes new ones."""

_RASTERS = (".tif", ".tiff")

_PART = re.compile(r"^\.(?P<stem>.+)\.part-(?P<pid>\d+)-(?P<token>[0-9a-f]{8})(?P<rest>\..*)?$")
_BACKUP = re.compile(r"^\.(?P<name>.+)\.old-(?P<pid>\d+)-(?P<token>[0-9a-f]{8})$")


def check_writable(path: str | Path) -> Path:
    """Check that ``path`` can be created: its folder exists and is writable.

    Returns:
        ``path`` as a Path.

    Raises:
        LandCoverError: the folder is missing or not writable, or ``path`` is a folder (it
            would be moved aside as a backup and replaced by a file).
    """
    path = Path(path)
    if path.is_dir():
        raise LandCoverError(
            f"Output '{path}' is a folder: give a file name, not a folder (e.g. "
            f"'{path / ('output' + path.suffix)}')."
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise LandCoverError(f"Folder '{folder}' does not exist: create it or choose another.")
    if not os.access(folder, os.W_OK):
        raise LandCoverError(f"Folder '{folder}' is not writable: choose another output folder.")
    return path


def describe_os_error(exc: BaseException, path: Path) -> str:
    """A user sentence for a failed write, naming a full disk when that is the cause."""
    text = str(exc)
    full = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left" in text
    if not full and "write error" in text.lower():  # libtiff's words for a failed write
        try:
            full = shutil.disk_usage(path.parent).free < 1 << 20
        except OSError:
            pass
    if full:
        return f"The disk is full while writing '{path}': free some space or choose another folder."
    return f"Could not write '{path}' ({text}); check the folder and free disk space."


@contextmanager
def quiet_gdal_destructors() -> Iterator[None]:
    """Within this block, GDAL errors raised while a dataset is deleted are not printed.

    Such errors come from a failed write on a full disk, repeated as each file closes: the run
    has already said what failed in one sentence, and Python would print "Exception ignored
    ... Traceback" after it. Other unraisable exceptions go to the hook that was in place.
    """
    previous = sys.unraisablehook

    def hook(info: sys.UnraisableHookArgs) -> None:
        if isinstance(info.exc_value, RuntimeError) and "Dataset" in repr(info.object):
            return
        previous(info)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _windows_process_alive(
    pid: int, kernel32: ctypes.CDLL | None = None, last_error: Callable[[], int] | None = None
) -> bool:
    """Whether process ``pid`` runs, asked of the Windows API (True when it cannot tell).

    ``os.kill(pid, 0)`` must not be used on Windows: there signal 0 is CTRL_C_EVENT.

    Args:
        pid: process id.
        kernel32: the kernel32 library (a stand-in in tests); loaded when None.
        last_error: returns the thread's last Windows error code; ``ctypes.get_last_error``
            when None.
    """
    try:
        import ctypes

        # pragma: no mutate start - loads the real Windows API: runs on Windows only, where
        # no CI runs; the tests pass a stand-in kernel32 and last_error
        if kernel32 is None:
            kernel32 = getattr(ctypes, "WinDLL")("kernel32", use_last_error=True)  # noqa: B009
            kernel32.OpenProcess.restype = ctypes.c_void_p
            kernel32.OpenProcess.argtypes = (ctypes.c_ulong, ctypes.c_int, ctypes.c_ulong)
            kernel32.GetExitCodeProcess.argtypes = (ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulong))
            kernel32.CloseHandle.argtypes = (ctypes.c_void_p,)
        if last_error is None:
            last_error = getattr(ctypes, "get_last_error")  # noqa: B009
        # pragma: no mutate end
        handle = kernel32.OpenProcess(0x1000, 0, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return bool(last_error() != 87)  # ERROR_INVALID_PARAMETER: no such process
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.pointer(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    except Exception:  # noqa: BLE001 - cannot tell: keep the part
        return True


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` is still running; True whenever that cannot be told.

    Args:
        pid: process id read from a part's name.
    """
    if pid <= 0:  # 0 and negative ids name process groups
        return True
    if os.name == "nt":
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: it runs, as another user
        return True
    return True


def remove_stale_parts(folder: str | Path) -> list[Path]:
    """Remove the parts left in ``folder`` by processes that are gone.

    Parts of running processes (this one included) are kept: they may be mid-write. The
    backup of a file replaced by a commit that crashed half-way is put back when its file is
    missing, and removed otherwise. A file that cannot be removed is logged and kept.

    Args:
        folder: the folder a writer is about to write into (not searched recursively).

    Returns:
        The leftovers removed or put back.
    """
    folder = Path(folder)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    removed: list[Path] = []
    for name in names:
        part, backup = _PART.match(name), _BACKUP.match(name)
        match = part or backup
        if match is None or process_alive(int(match["pid"])):
            continue
        path = folder / name
        try:
            final = folder / match["name"] if backup else None
            if final is not None and not os.path.lexists(final):
                os.replace(path, final)
            else:
                path.unlink()
            removed.append(path)
        except OSError as exc:
            log.warning("Could not remove the leftover '%s': %s", path, exc)
    if removed:
        log.info("Removed %d leftover part(s) of stopped runs in '%s'.", len(removed), folder)
    return removed


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


class OutputStage:
    """The files of one stage, written to parts and moved into place together on success.

    Use as a context manager: the stage commits when the block ends normally and aborts
    (removes every part, touches no final file) when it raises. An ``OSError`` or GDAL
    ``RuntimeError`` from the block becomes a :class:`LandCoverError` with a user sentence
    (full disk, unwritable folder).

    Sidecars follow their file: every file whose name starts with a part's stem and a dot is
    moved to the final stem, e.g. for ``classes.tif`` staged as
    ``.classes.part-<pid>-<token>.tif``, ``.classes.part-<pid>-<token>.tif.aux.xml`` becomes
    ``classes.tif.aux.xml`` and ``.classes.part-<pid>-<token>.qml`` becomes ``classes.qml``. So
    a caller may style a staged raster (open :meth:`part_of` and write its ``.qml``) before the
    commit; it must close what it opened first (Windows cannot move an open file).

    Example::

        with OutputStage() as stage:
            write_model(stage.part("model.safetensors"))
            write_curve(stage.part("curve.png"))
        # both files are in place here, or neither was touched
    """

    def __init__(self) -> None:
        """An empty, open stage; nothing is written before :meth:`part` is used."""
        # resolved final -> (final, part, prefix of the part and its sidecars)
        self._parts: dict[Path, tuple[Path, Path, str]] = {}
        self._folders: set[Path] = set()
        self._state = "open"
        self._committed: tuple[Path, ...] = ()

    def __enter__(self) -> OutputStage:
        """The stage itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Commit after a normal end; abort (and reword OS and GDAL errors) after an error."""
        if exc is None:
            if self._state == "open":
                self.commit()
            return
        self.abort()
        error = self._user_error(exc)
        if error is not None:
            raise error from exc

    def part(self, final: str | Path) -> Path:
        """A temporary path in the folder of ``final``, moved onto ``final`` at commit.

        The first part in a folder removes that folder's stale parts (see
        :func:`remove_stale_parts`).

        Args:
            final: the output file.

        Returns:
            ``.<stem>.part-<pid>-<token><suffix>`` beside ``final``; nothing is created.

        Raises:
            LandCoverError: the folder is missing or not writable, or ``final`` is already an
                output of this stage.
            RuntimeError: the stage was already committed or aborted.
        """
        if self._state != "open":
            raise RuntimeError(f"This output stage is already {self._state}.")
        final = check_writable(final)
        key = final.resolve()
        if key in self._parts:
            raise LandCoverError(
                f"Two outputs have the same file name '{final}': give each its own."
            )
        if key.parent not in self._folders:
            self._folders.add(key.parent)
            remove_stale_parts(key.parent)
        prefix = f".{final.stem}.part-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        part = final.with_name(prefix + final.suffix)
        self._parts[key] = (final, part, prefix)
        return part

    def part_of(self, final: str | Path) -> Path:
        """The part staged for ``final``.

        Raises:
            KeyError: ``final`` is not an output of this stage.
        """
        return self._parts[Path(final).resolve()][1]

    @property
    def finals(self) -> tuple[Path, ...]:
        """The outputs of this stage, in the order their parts were made."""
        return tuple(final for final, _, _ in self._parts.values())

    @property
    def committed(self) -> tuple[Path, ...]:
        """The outputs moved into place by :meth:`commit` (empty before, or after an abort)."""
        return self._committed

    @contextmanager
    def user_errors(self) -> Iterator[None]:
        """Turn an ``OSError`` / GDAL ``RuntimeError`` raised inside into a LandCoverError.

        For code that writes the parts of a stage it does not own (the owner commits): the
        sentence names the output concerned, or the last one staged.
        """
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - re-raised, reworded or as it is
            error = self._user_error(exc)
            if error is None:
                raise
            raise error from exc

    def _user_error(self, exc: BaseException) -> LandCoverError | None:
        if isinstance(exc, LandCoverError) or not isinstance(exc, (OSError, RuntimeError)):
            return None
        return LandCoverError(describe_os_error(exc, self._blame(exc)))

    def _blame(self, exc: BaseException) -> Path:
        """The output an error concerns: the one whose part it names, else the last staged."""
        named = str(getattr(exc, "filename", None) or "")
        text = f"{named} {exc}"  # GDAL names the file in its message
        for final, _, prefix in self._parts.values():
            if prefix in text:
                return final
        return self.finals[-1] if self._parts else Path(named or "the output")

    def _moves(self) -> list[tuple[Path, Path]]:
        """(source, destination) of every part and sidecar, each part's file first."""
        listing: dict[Path, list[str]] = {}
        moves: list[tuple[Path, Path]] = []
        for final, part, prefix in self._parts.values():
            if not part.is_file():
                raise LandCoverError(f"Could not write '{final}': its temporary file is missing.")
            names = listing.setdefault(part.parent, sorted(os.listdir(part.parent)))
            moves.append((part, final))
            moves.extend(
                (part.with_name(n), final.with_name(final.stem + n[len(prefix) :]))
                for n in names
                if n.startswith(prefix + ".") and n != part.name
            )
        targets = [dst.resolve() for _, dst in moves]
        if len(set(targets)) != len(targets):
            raise LandCoverError("Two outputs have the same file name: give each its own.")
        return moves

    def _replaced(self, moves: list[tuple[Path, Path]]) -> list[Path]:
        """Existing files the commit replaces, and old sidecars no new file replaces."""
        targets = [dst for _, dst in moves]
        stale = [Path(f"{final}{s}") for final, _, _ in self._parts.values() for s in SIDECARS]
        stale += [final.with_suffix(s) for final, _, _ in self._parts.values()
                  if final.suffix.lower() in _RASTERS for s in STEM_SIDECARS]  # fmt: skip
        return [p for p in dict.fromkeys([*targets, *stale]) if os.path.lexists(p)]

    def commit(self) -> tuple[Path, ...]:
        """Move every part (and its sidecars) onto its final name.

        Existing files are first renamed to backups; if any move fails, the files already
        moved are removed and the backups put back, so the commit too is all or nothing.

        Returns:
            The outputs, in the order their parts were made.

        Raises:
            LandCoverError: a part is missing, or a move failed (e.g. the final file is open
                in another program on Windows); nothing of the stage is then left.
        """
        if self._state != "open":
            raise RuntimeError(f"This output stage is already {self._state}.")
        try:
            moves = self._moves()
        except BaseException:
            self.abort()
            raise
        backups: list[tuple[Path, Path]] = []
        placed: list[Path] = []
        target = Path(".")
        try:
            for target in self._replaced(moves):
                backup = target.with_name(
                    f".{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                )
                os.replace(target, backup)
                backups.append((target, backup))
            for source, target in moves:
                os.replace(source, target)
                placed.append(target)
        except OSError as exc:
            self._roll_back(placed, backups)
            raise LandCoverError(describe_os_error(exc, target)) from exc
        for _, backup in backups:
            try:
                backup.unlink()
            except OSError as exc:  # removed by a later run's remove_stale_parts
                log.warning("Could not remove the replaced file '%s': %s", backup, exc)
        self._state = "committed"
        self._committed = self.finals
        return self._committed

    def _roll_back(self, placed: list[Path], backups: list[tuple[Path, Path]]) -> None:
        for path in placed:
            _unlink(path)
        for target, backup in reversed(backups):
            try:
                os.replace(backup, target)
            except OSError as exc:  # put back by a later run's remove_stale_parts
                log.warning("Could not put back '%s' (kept as '%s'): %s", target, backup, exc)
        self.abort()

    def abort(self) -> None:
        """Remove every part and its sidecars; final files are not touched.

        Does nothing after a commit, so a committed stage is never undone.
        """
        if self._state == "committed":
            return
        self._state = "aborted"
        for _, part, prefix in self._parts.values():
            try:
                names = os.listdir(part.parent)
            except OSError:
                continue
            for name in names:
                if name == part.name or name.startswith(prefix + "."):
                    try:
                        (part.parent / name).unlink()
                    except OSError as exc:  # a later run's remove_stale_parts removes it
                        log.warning("Could not remove '%s': %s", part.parent / name, exc)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A one-file stage: yield a temporary path, moved onto ``path`` on success.

    The temporary file is moved with its sidecars; on any exception it is removed and an
    existing ``path`` is untouched.

    Raises:
        LandCoverError: unwritable folder, full disk or another failed write.
    """
    with OutputStage() as stage:
        yield stage.part(path)


@contextmanager
def output_path(path: str | Path, stage: OutputStage | None = None) -> Iterator[Path]:
    """Where a writer writes ``path``: a part of ``stage``, or its own one-file stage.

    Args:
        path: the output file.
        stage: the stage the file belongs to (its owner commits it), or None to commit the
            file alone when the block ends without error.
    """
    if stage is None:
        with atomic_path(path) as tmp:
            yield tmp
    else:
        yield stage.part(path)
