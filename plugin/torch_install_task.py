"""Install PyTorch in the background, moved into place only after it imports.

pip runs in a subprocess; the install is verified by ``import torch`` in a fresh Python with
the paths QGIS will use, and moved into place only after that worked.

Everything one install writes lives in ``<site>.work`` (pip's target, its temp files and the
constraints file), so a failure, a refusal or a cancel removes one folder and leaves QGIS's
environment, and a previous working install, exactly as they were.

Thread rules (see :mod:`.tasks`): ``run()`` only starts processes, reads their output and
emits signals; the dialog reacts on the main thread. ``cancel()`` (main thread) kills the
running process and its children at once, which ends the worker's read loop.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qgis.PyQt.QtCore import pyqtSignal

from ..core.errors import CancelledError, LandCoverError
from . import torch_setup as ts
from .tasks import BaseTask

INFO_MARK = "LANDCOVER_MLP_TORCH "
CANCELLED = "Installation cancelled: nothing was installed and QGIS's Python is unchanged."

# Runs in a fresh interpreter: sys.path as QGIS will have it, then import torch, exchange an
# array with numpy and take one SGD step (which imports torch._dynamo and thus sympy: the
# check that catches an old dependency shadowing a new one).
PROBE = r"""
import json, sys
sys.path[:] = json.loads(sys.argv[1])
import torch
info = {"python": sys.version.split()[0], "version": str(getattr(torch, "__version__", "?")),
        "file": str(getattr(torch, "__file__", "")),
        "cuda_build": getattr(getattr(torch, "version", None), "cuda", None)}
cuda = getattr(torch, "cuda", None)
info["cuda"] = bool(cuda is not None and cuda.is_available())
info["device_name"] = str(cuda.get_device_name(0)) if info["cuda"] else ""
mps = getattr(getattr(torch, "backends", None), "mps", None)
info["mps"] = bool(mps is not None and mps.is_available())
try:
    import numpy
    info.update(numpy_file=numpy.__file__, numpy_version=numpy.__version__)
    if hasattr(torch, "from_numpy"):
        info["numpy_ok"] = float(torch.from_numpy(numpy.arange(3.0)).sum()) == 3.0
except Exception as exc:
    info.update(numpy_ok=False, numpy_error=f"{type(exc).__name__}: {exc}")
if hasattr(torch, "nn") and hasattr(torch, "optim"):
    try:
        net = torch.nn.Linear(3, 2)
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        torch.nn.functional.cross_entropy(net(torch.ones(4, 3)), torch.zeros(4).long()).backward()
        opt.step()
        info["train_ok"] = True
    except Exception as exc:
        info.update(train_ok=False, train_error=f"{type(exc).__name__}: {exc}")
print("%s%s" % (MARK, json.dumps(info)), flush=True)
""".replace("MARK", repr(INFO_MARK))

LineFn = Callable[[str], None]
ProcessFn = Callable[[subprocess.Popen], None]


# -- processes -----------------------------------------------------------------------------------
def child_env(tmp: Path | None = None) -> dict[str, str]:
    """Environment for pip and the probe.

    QGIS's own (PATH matters for Windows DLLs), output as UTF-8 without buffering, no
    prompts, never ``--user``, temp files in ``tmp``.
    """
    env = dict(os.environ)
    env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", PIP_NO_INPUT="1", PIP_USER="0")
    if tmp is not None:
        env.update(TMPDIR=str(tmp), TEMP=str(tmp), TMP=str(tmp))
    return env


def run_process(
    cmd: list[str], env: dict[str, str], on_line: LineFn, on_start: ProcessFn | None = None
) -> tuple[int, str]:
    """Run ``cmd`` with stdout and stderr merged, passing each line to ``on_line``.

    The process gets its own process group (POSIX session / Windows group) so that
    :func:`kill_tree` reaches its children too.

    Returns:
        Exit status and the last 300 lines of output.
    """
    extra: dict[str, Any] = ts.hidden_window()
    if os.name == "nt":
        extra["creationflags"] |= 0x00000200  # CREATE_NEW_PROCESS_GROUP (Windows only)
    else:
        extra["start_new_session"] = True
    proc = subprocess.Popen(  # noqa: S603 - the command is built here, never from user text
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, text=True, encoding="utf-8", errors="replace", bufsize=1, **extra,
    )  # fmt: skip
    if on_start is not None:
        on_start(proc)
    tail: deque[str] = deque(maxlen=300)
    assert proc.stdout is not None
    with proc.stdout:
        for raw in proc.stdout:
            line = raw.rstrip()
            tail.append(line)
            on_line(line)
    return proc.wait(), "\n".join(tail)


def kill_tree(proc: subprocess.Popen | None) -> None:
    """Kill a process started by :func:`run_process` and everything it started."""
    if proc is None or proc.poll() is not None:
        return
    try:
        if os.name == "nt":
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True,
                           check=False, **ts.hidden_window())  # fmt: skip
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    if proc.poll() is None:
        proc.kill()


def remove_quietly(path: Path, attempts: int = 10) -> None:
    """Remove a folder, retrying while Windows still holds files of a killed process."""
    for attempt in range(attempts):
        try:
            ts.remove_tree(path)
            return
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


# -- checks --------------------------------------------------------------------------------------
def probe(paths: list[str], python: Path, on_line: LineFn | None = None,
          on_start: ProcessFn | None = None) -> tuple[dict[str, Any] | None, str]:  # fmt: skip
    """``import torch`` in a fresh ``python`` whose sys.path is ``paths``.

    Returns:
        (info, output): info holds version, file, cuda_build, cuda, device_name, mps,
        numpy_file, numpy_version, numpy_ok, train_ok (and *_error); None when the import failed.
    """

    def show(line: str) -> None:
        if on_line is not None and not line.startswith(INFO_MARK):
            on_line(line)

    cmd = [str(python), "-c", PROBE, json.dumps(paths)]
    _, output = run_process(cmd, child_env(), show, on_start)
    for line in reversed(output.splitlines()):
        if line.startswith(INFO_MARK):
            return json.loads(line[len(INFO_MARK) :]), output
    return None, output


def verify(target: Path, site: Path, python: Path, on_line: LineFn | None = None,
           on_start: ProcessFn | None = None) -> tuple[bool, str, dict[str, Any]]:  # fmt: skip
    """Check a new install in ``target`` as QGIS will use it once it replaces ``site``.

    Returns:
        (ok, message, info): ok only when torch imports from ``target``, QGIS's numpy is still
        the numpy imported, both exchange an array, and one training step runs.
    """
    info, output = probe(ts.path_with(target, sys.path, replacing=site), python, on_line, on_start)
    if info is None:
        return False, ts.explain_failure(output), {}
    if not _inside(info.get("file", ""), target):
        return False, (f"Another PyTorch ({info.get('file')}) comes first on QGIS's path, so the "
                       "new one would not be used; remove that one first."), info  # fmt: skip
    spec = _numpy_origin()
    if spec and info.get("numpy_file") and not _same_file(spec, info["numpy_file"]):
        return False, f"The install would replace QGIS's numpy ({spec}); refused.", info
    if info.get("numpy_ok") is False:
        return False, (f"PyTorch {info['version']} cannot exchange data with QGIS's numpy "
                       f"{info.get('numpy_version', '?')} ({info.get('numpy_error', '')}): "
                       "choose an older PyTorch version."), info  # fmt: skip
    if info.get("train_ok") is False:
        return False, ts.explain_failure(info.get("train_error", "")), info
    return True, f"PyTorch {info['version']} works: {ts.describe_device(info)}.", info


def _inside(path: str, folder: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):
        return False


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _numpy_origin() -> str | None:
    module = sys.modules.get("numpy")
    if module is not None:
        return getattr(module, "__file__", None)
    import importlib.util

    spec = importlib.util.find_spec("numpy")
    return spec.origin if spec else None


def forbidden_found(target: Path) -> list[str]:
    """FORBIDDEN packages pip put into ``target`` (a second guard after the constraints)."""
    names = (ts.canonical(p.name.split("-")[0]) for p in target.glob("*.dist-info"))
    return sorted({n for n in names if n in ts.FORBIDDEN})


def prune_pinned(target: Path) -> list[str]:
    """Remove PINNED packages (QGIS's own version, pinned) from ``target`` so QGIS's build wins."""
    removed = []
    for dist in target.glob("*.dist-info"):
        if ts.canonical(dist.name.split("-")[0]) not in ts.PINNED:
            continue
        record = dist / "RECORD"
        lines = record.read_text(encoding="utf-8").splitlines() if record.is_file() else []
        for entry in {ln.split(",")[0] for ln in lines if ln and not ln.startswith("..")}:
            parts = Path(entry).parts
            top = target / (entry if parts[0] in ("bin", "Scripts") else parts[0])
            ts.remove_tree(top)
        ts.remove_tree(dist)
        removed.append(dist.name)
    return removed


# -- the installation ----------------------------------------------------------------------------
@dataclass(frozen=True)
class InstallRequest:
    """What to install where.

    Attributes:
        kind: "cpu" or "cuda".
        site: final folder (:func:`torch_setup.site_dir`).
        version: torch version, newest when None.
        find_links: a folder (or URL) of wheels; then no index is used.
        index_url: replaces PyTorch's index.
        no_deps: install torch alone.
        cuda_build: CUDA wheel variant, e.g. "cu126".
        python: interpreter; found with :func:`torch_setup.python_executable` when None.
    """

    kind: str
    site: Path
    version: str | None = None
    find_links: Path | str | None = None
    index_url: str | None = None
    no_deps: bool = False
    cuda_build: str | None = None
    python: Path | None = None


@dataclass
class InstallResult:
    """A verified installation.

    Attributes:
        site: where it is (or will be, after a restart, when ``in_place`` is False).
        in_place: moved into place now.
        message: one sentence for the user.
        info: what the verification found (see :func:`probe`).
    """

    site: Path
    in_place: bool
    message: str
    info: dict[str, Any] = field(default_factory=dict)


def install_torch(
    request: InstallRequest,
    on_line: LineFn,
    cancelled: Callable[[], bool] = lambda: False,
    on_start: ProcessFn | None = None,
) -> InstallResult:
    """Install, check and move into place; on any failure remove everything it wrote.

    Raises:
        LandCoverError: pip failed, a forbidden package was wanted, or torch does not work.
        CancelledError: ``cancelled()`` became true.
    """

    def step(text: str) -> None:
        if cancelled():
            raise CancelledError(CANCELLED)
        on_line(text)

    work = ts.work_dir(request.site)
    target, tmp = work / "target", work / "tmp"
    try:
        remove_quietly(work)  # left by a crashed session
    except OSError as exc:
        raise LandCoverError(f"'{work}' is in use: is another install running? ({exc})") from exc
    try:
        tmp.mkdir(parents=True)
        target.mkdir()
        python = request.python or ts.python_executable()
        lines = ts.write_constraints(work / "constraints.txt")
        step(f"Constraints (QGIS's packages stay as they are): {', '.join(lines[:3])}, ...")
        cmd = ts.build_pip_command(python, request.kind, target, work / "constraints.txt",
                                   request.find_links, request.index_url, request.version,
                                   request.no_deps, request.cuda_build)  # fmt: skip
        step("$ " + subprocess.list2cmdline(cmd))
        status, output = run_process(cmd, child_env(tmp), on_line, on_start)
        step(f"pip finished with status {status}.")
        if status != 0:
            raise LandCoverError(ts.explain_failure(output))
        bad = forbidden_found(target)
        if bad:
            raise LandCoverError(ts.explain_failure(f"{bad[0]}==={ts.REFUSED}"))
        for name in prune_pinned(target):
            on_line(f"Removed {name}: QGIS's own copy is used.")
        remove_quietly(tmp)
        step("Checking that PyTorch imports in a fresh Python with QGIS's paths...")
        ok, message, info = verify(target, request.site, python, on_line, on_start)
        step(message)
        if not ok:
            raise LandCoverError(message)
        in_place = ts.promote(target, request.site)
    except OSError as exc:  # a full disk, no permission, a missing interpreter
        _discard(work)
        raise LandCoverError(ts.explain_failure(f"{type(exc).__name__}: {exc}")) from exc
    except BaseException:
        _discard(work)
        raise
    with contextlib.suppress(OSError):  # in place already; the next install removes it
        remove_quietly(work)
    if not in_place:
        message += " Restart QGIS to finish: the previous PyTorch folder is in use."
    return InstallResult(request.site, in_place, message, info)


def _discard(work: Path) -> None:
    with contextlib.suppress(OSError):  # cleanup() tries again; the cause must surface
        remove_quietly(work)
        work.parent.rmdir()  # the deps folder, when this install created it


# -- tasks ---------------------------------------------------------------------------------------
class TorchInstallTask(BaseTask):
    """Runs :func:`install_torch` in QGIS's task manager.

    Signals:
        output(str): one line of pip's (or the check's) output, live.
    """

    output = pyqtSignal(str)

    def __init__(self, request: InstallRequest) -> None:
        """A task installing what ``request`` asks for (the build, the target folder)."""
        super().__init__(f"Land Cover MLP: install PyTorch ({request.kind.upper()})")
        self.request = request
        self.process: subprocess.Popen | None = None

    def _started(self, proc: subprocess.Popen) -> None:
        self.process = proc
        if self.isCanceled():
            kill_tree(proc)

    def work(self) -> InstallResult:
        """Install in the worker thread, each line of output emitted as :attr:`output`."""
        return install_torch(self.request, self.output.emit, self.isCanceled, self._started)

    def cancel(self) -> None:
        """Stop now: kill pip (or the check) and its children; run() then cleans up."""
        super().cancel()
        kill_tree(self.process)

    def cleanup(self) -> None:
        """Remove the install's work folder after a failure."""
        remove_quietly(ts.work_dir(self.request.site))


@dataclass
class Probe:
    """What is installed now (see :class:`TorchProbeTask`).

    Attributes:
        python: QGIS's Python interpreter, or None when it was not found.
        info: :func:`probe` info, or None when torch does not import.
        problem: why torch does not import (plain words), "" when it does or is absent.
        nvidia: the NVIDIA driver, or None.
    """

    python: Path | None
    info: dict[str, Any] | None
    problem: str
    nvidia: ts.NvidiaDriver | None


class TorchProbeTask(BaseTask):
    """Finds QGIS's Python, the NVIDIA driver and the PyTorch QGIS would import (off the UI)."""

    def __init__(self, site: Path) -> None:
        """A check of the PyTorch QGIS would import; ``site`` is the install folder (site_dir)."""
        super().__init__("Land Cover MLP: check PyTorch")
        self.site = site

    def work(self) -> Probe:
        """Find QGIS's Python, the NVIDIA driver and the PyTorch it imports (worker thread)."""
        nvidia = ts.detect_nvidia()
        try:
            python = ts.python_executable()
        except LandCoverError as exc:
            return Probe(None, None, str(exc), nvidia)
        paths = ts.path_with(self.site, sys.path) if self.site.is_dir() else list(sys.path)
        info, output = probe(paths, python)
        missing = info is None and "No module named 'torch'" in output
        return Probe(python, info, "" if info or missing else ts.explain_failure(output), nvidia)
