"""Where PyTorch goes in the user's QGIS and how pip is asked to put it there (no widgets).

PyTorch is installed with ``pip install --target`` into a folder of the QGIS profile, one per
Python version: ``<profile>/python/landcover_mlp_deps/py311``. It lives outside the plugin
folder, so plugin updates keep it, and the plugin puts it on ``sys.path`` when it loads.

Why the folder goes *before* site-packages and not at the very end of ``sys.path``: QGIS's
Python often holds older copies of PyTorch's pure-Python dependencies (Debian 12 ships sympy
1.11; torch needs >= 1.13 and ``torch.optim`` fails with the old one). Appending the folder
would let those old copies win. Instead the folder is made safe to put first: it never holds
a package QGIS itself is built on. numpy is pinned to QGIS's version and removed from the
folder after pip ran (so QGIS's own numpy build is the one imported), and GDAL, rasterio, PyQt
and friends are refused by an unsatisfiable constraint (pip constraints cannot forbid a
package, but ``name===refused-...`` matches no release, so a resolution that needs one fails
with a message naming it).

Everything here works on plain paths and is testable without QGIS; only :func:`profile_dir`
asks QGIS where the profile is.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any

from ..core.distributed import DEPS_FOLDER  # one definition: the Dask install command uses it

PINNED = ("numpy",)
"""Packages QGIS is built against: pinned to the installed version and never kept in the folder."""
FORBIDDEN = (
    "gdal", "rasterio", "fiona", "pyqt5", "pyqt5-qt5", "pyqt5-sip", "pyqt6", "pyqt6-qt6",
    "pyqt6-sip", "pyside2", "pyside6", "qgis",
)  # fmt: skip
"""Packages QGIS provides itself: a second copy would shadow or clash with QGIS's own."""
# A valid PEP 440 version no release will ever have: pip 25 (packaging 25) raises
# InvalidVersion on a non-version here instead of reporting the conflict.
REFUSED = "0+refused-by-landcover-mlp"
TORCH_INDEX = "https://download.pytorch.org/whl"
CUDA_BUILDS = (((12, 8), "cu128"), ((12, 0), "cu126"))
"""(lowest CUDA version the driver must report, PyTorch wheel variant), newest first."""
DEFAULT_CUDA_BUILD = "cu126"
VC_REDIST_URL = "https://aka.ms/vs/17/release/vc_redist.x64.exe"
SITE_NAMES = ("site-packages", "dist-packages")
PY = (sys.version_info[0], sys.version_info[1])


# -- where ---------------------------------------------------------------------------------------
def profile_dir() -> Path:
    """The active QGIS profile folder (asks QGIS)."""
    from qgis.core import QgsApplication

    return Path(QgsApplication.qgisSettingsDirPath())


def site_dir(profile: Path | None = None, version: Sequence[int] = PY) -> Path:
    """The folder PyTorch is installed into for this profile and Python version.

    Args:
        profile: QGIS profile folder; the active one when None.
        version: Python version (major, minor, ...); each version gets its own folder.
    """
    base = Path(profile) if profile is not None else profile_dir()
    return base / "python" / DEPS_FOLDER / f"py{version[0]}{version[1]}"


def work_dir(site: Path) -> Path:
    """Everything one install writes (pip's target, temp files, constraints) lives here."""
    return site.with_name(site.name + ".work")


def pending_dir(site: Path) -> Path:
    """A verified install waiting for the next QGIS start (the old folder was in use)."""
    return site.with_name(site.name + ".pending")


def old_dir(site: Path) -> Path:
    """The previous install while it is being replaced."""
    return site.with_name(site.name + ".old")


# -- sys.path ------------------------------------------------------------------------------------
def insert_position(paths: Sequence[str]) -> int:
    """Index before the first site-packages / dist-packages entry (the end when there is none).

    QGIS's own Python folders, its plugin folders and the standard library stay in front.
    """
    for i, entry in enumerate(paths):
        if PurePath(entry).name.lower() in SITE_NAMES:
            return i
    return len(paths)


def path_with(folder: Path, paths: Sequence[str], replacing: Path | None = None) -> list[str]:
    """``paths`` with ``folder`` at :func:`insert_position`, as the plugin would set it.

    ``replacing`` and ``folder`` are removed first; the input is not changed.
    """
    drop = {os.path.normcase(str(p)) for p in (folder, replacing) if p is not None}
    out = [p for p in paths if os.path.normcase(p) not in drop]
    out.insert(insert_position(out), str(folder))
    return out


def add_site_dir_to_path(site: Path | None = None) -> bool:
    """Put the PyTorch folder on ``sys.path`` (idempotent); called when the plugin loads.

    A pending install (see :func:`promote`) is moved into place first. Nothing happens when
    the folder does not exist.

    Returns:
        True when the folder was added now.
    """
    site = site if site is not None else site_dir()
    finish_pending(site)
    if not site.is_dir() or os.path.normcase(str(site)) in map(os.path.normcase, sys.path):
        return False
    sys.path.insert(insert_position(sys.path), str(site))
    sys.path_importer_cache.pop(str(site), None)
    importlib.invalidate_caches()
    return True


def load_in_process(site: Path) -> tuple[bool, str]:
    """After an install: make it importable in this QGIS session and try ``import torch``.

    Returns:
        (ok, sentence): ok False means the user must restart QGIS (the sentence says why).
    """
    add_site_dir_to_path(site)
    loaded = sys.modules.get("torch")
    if loaded is not None:
        return False, (f"This QGIS session already loaded PyTorch "
                       f"{getattr(loaded, '__version__', '')}: restart QGIS to use the new one.")  # fmt: skip
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - any import failure means: restart
        sys.modules.pop("torch", None)
        return False, f"Restart QGIS to use PyTorch ({explain_failure(repr(exc))})."
    return True, f"PyTorch {torch.__version__} is loaded: no restart needed."


def finish_pending(site: Path) -> None:
    """Swap in a verified install left pending by a previous session; drop a stale old one."""
    pending = pending_dir(site)
    try:
        if pending.is_dir():
            if site.exists():
                os.replace(site, old_dir(site))
            os.replace(pending, site)
        remove_tree(old_dir(site))
    except OSError:
        pass  # still locked (another QGIS running): the next start tries again


def promote(target: Path, site: Path) -> bool:
    """Move a verified install into place; the old install stays until this succeeds.

    Returns:
        True when it is in place; False when the old folder is in use (Windows keeps loaded
        DLLs locked) and the new one waits as :func:`pending_dir` for the next QGIS start.
    """
    site.parent.mkdir(parents=True, exist_ok=True)
    if site.exists():
        remove_tree(old_dir(site))
        try:
            os.replace(site, old_dir(site))
        except OSError:
            remove_tree(pending_dir(site))
            os.replace(target, pending_dir(site))
            return False
    os.replace(target, site)
    try:
        remove_tree(old_dir(site))
    except OSError:
        pass  # in place already; finish_pending() removes it at the next start
    return True


def remove_tree(path: Path) -> None:
    """Remove a folder (or file) if it exists; a failure raises OSError."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


# -- which Python --------------------------------------------------------------------------------
def python_candidates(
    platform: str,
    executable: str,
    exec_prefix: str,
    version: Sequence[int],
    base_prefix: str | None = None,
) -> list[PurePath]:
    r"""Where QGIS's Python interpreter may be, best first (no file system access).

    From the running Python's own prefixes, never from PATH: inside QGIS ``sys.executable``
    is QGIS itself (``qgis-bin.exe``, ``QGIS.app``) or, with an embedded Python, whatever
    ``python3`` comes first on PATH (a pyenv, conda or Homebrew Python), so it only comes
    last, to be checked like the others (:func:`python_executable`). Windows (OSGeo4W and the
    standalone installer): ``<exec_prefix>\python.exe`` is ``apps\Python3x\python.exe``;
    ``<root>\bin\python3.exe`` is the OSGeo4W wrapper. macOS QGIS.app:
    ``Contents/MacOS/bin/python3``. Linux: ``<prefix>/bin/python3.x`` (``/usr/bin/python3.11``).
    """
    short = f"{version[0]}.{version[1]}"
    windows = platform.startswith("win")
    kind = PureWindowsPath if windows else PurePosixPath
    exe = kind(executable)
    found: list[PurePath] = []
    for prefix in dict.fromkeys(kind(p) for p in (exec_prefix, base_prefix) if p):
        if windows:
            found += [prefix / "python.exe", prefix / "python3.exe",
                      prefix.parent.parent / "bin" / "python3.exe"]  # fmt: skip
        elif platform == "darwin":
            found += [prefix / "bin" / "python3", prefix / "bin" / f"python{short}"]
        else:
            found += [prefix / "bin" / f"python{short}", prefix / "bin" / "python3"]
    if windows:
        found += [exe.parent / "python.exe", exe.parent / "python3.exe"]
    elif platform == "darwin":
        found += [exe.parent / "bin" / "python3", exe.parent / "bin" / f"python{short}"]
    if exe.name.lower().startswith("python"):
        found.append(exe)
    return list(dict.fromkeys(found))


def python_executable() -> Path:
    """QGIS's Python interpreter.

    The first candidate that runs, has this Python's version and reports this Python's prefix
    (another ``python3.11`` first on PATH reports its own).

    Raises:
        LandCoverError: none was found.
    """
    from ..core.errors import LandCoverError

    want = f"{PY[0]}.{PY[1]}"
    ours = {_resolved(sys.prefix), _resolved(sys.base_prefix)}
    candidates = python_candidates(
        sys.platform, sys.executable, sys.exec_prefix, PY, sys.base_prefix
    )
    for candidate in candidates:
        if not Path(candidate).is_file():
            continue
        version, prefix = _python_identity(Path(candidate))
        if version == want and _resolved(prefix) in ours:
            return Path(candidate)
    raise LandCoverError(
        f"Could not find the Python {want} interpreter of this QGIS (looked for "
        f"{', '.join(map(str, candidates))}); see the README's 'Installing' section."
    )


def _resolved(path: str) -> str:
    try:
        return str(Path(path).resolve()) if path else ""
    except OSError:
        return path


def _python_identity(exe: Path) -> tuple[str, str]:
    """("3.11", sys.prefix) as ``exe`` reports them; ("", "") when it does not run."""
    try:
        out = subprocess.run(
            [str(exe), "-c", "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.prefix)"],
            capture_output=True, text=True, timeout=60, check=False, **hidden_window(),
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "", ""
    lines = out.stdout.strip().splitlines()
    return (lines[0].strip(), lines[1].strip()) if len(lines) >= 2 else ("", "")


def _python_version(exe: Path) -> str:
    return _python_identity(exe)[0]


def hidden_window() -> dict[str, Any]:
    """Popen arguments that keep a console window from flashing up on Windows."""
    return {"creationflags": 0x08000000} if os.name == "nt" else {}  # CREATE_NO_WINDOW


# -- NVIDIA --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NvidiaDriver:
    """An NVIDIA driver found on this machine.

    Attributes:
        version: driver version, e.g. "550.54.14".
        cuda: highest CUDA version the driver supports, e.g. (12, 4); None when unknown.
        gpus: GPU names, e.g. ("NVIDIA GeForce RTX 4070",).
    """

    version: str
    cuda: tuple[int, int] | None = None
    gpus: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line, e.g. "NVIDIA GeForce RTX 4070 (driver 550.54, CUDA 12.4)"."""
        cuda = f", CUDA {self.cuda[0]}.{self.cuda[1]}" if self.cuda else ""
        return f"{', '.join(self.gpus) or 'NVIDIA GPU'} (driver {self.version}{cuda})"


def parse_nvidia_smi(summary: str, listing: str = "") -> NvidiaDriver | None:
    """Driver from ``nvidia-smi`` (its header) and ``nvidia-smi -L`` (the GPU list)."""
    driver = re.search(r"Driver Version:\s*([\d.]+)", summary)
    if driver is None:
        return None
    cuda = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", summary)
    gpus = tuple(m.strip() for m in re.findall(r"^GPU \d+:\s*(.+?)\s*(?:\(UUID|$)", listing, re.M))
    return NvidiaDriver(driver.group(1), (int(cuda[1]), int(cuda[2])) if cuda else None, gpus)


def detect_nvidia() -> NvidiaDriver | None:
    """The NVIDIA driver of this machine, or None (never on macOS)."""
    if sys.platform == "darwin":
        return None
    smi = shutil.which("nvidia-smi")
    if smi is None and os.name == "nt":
        root = Path(os.environ.get("SYSTEMROOT", r"C:\Windows"))
        for exe in (root / "System32" / "nvidia-smi.exe",
                    Path(r"C:\Program Files\NVIDIA Corporation\NVSMI\nvidia-smi.exe")):  # fmt: skip
            if exe.is_file():
                smi = str(exe)
                break
    if smi is not None:
        try:
            run: dict[str, Any] = {
                "capture_output": True,
                "text": True,
                "timeout": 30,
                "check": False,
            }
            summary = subprocess.run([smi], **run, **hidden_window()).stdout
            listing = subprocess.run([smi, "-L"], **run, **hidden_window()).stdout
            found = parse_nvidia_smi(summary, listing)
            if found is not None:
                return found
        except (OSError, subprocess.SubprocessError):
            pass
    proc = Path("/proc/driver/nvidia/version")
    if proc.is_file():
        match = re.search(r"Kernel Module\s+([\d.]+)", proc.read_text(errors="replace"))
        return NvidiaDriver(match.group(1) if match else "unknown")
    return None


def cuda_build_for(driver: NvidiaDriver) -> str | None:
    """PyTorch's CUDA wheel variant for this driver; None when the driver is too old."""
    if driver.cuda is None:
        return DEFAULT_CUDA_BUILD
    for lowest, build in CUDA_BUILDS:
        if driver.cuda >= lowest:
            return build
    return None


# -- pip -----------------------------------------------------------------------------------------
def canonical(name: str) -> str:
    """PEP 503 normalised package name ("PyQt5_sip" -> "pyqt5-sip")."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(name: str) -> str | None:
    """Version of ``name`` in the running Python (the imported module's when loaded)."""
    module = sys.modules.get(name.replace("-", "_"))
    version = getattr(module, "__version__", None)
    if version is None:
        from importlib import metadata

        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            return None
    return str(version).split("+")[0]  # a local label (+ds) is no release on the index


def constraint_lines() -> list[str]:
    """Constraints from the running environment: PINNED at their versions, FORBIDDEN refused."""
    lines = [f"{n}=={v}" for n in PINNED if (v := installed_version(n))]
    return lines + [f"{name}==={REFUSED}" for name in FORBIDDEN]


def write_constraints(path: Path) -> list[str]:
    """Write :func:`constraint_lines` to ``path`` (a pip constraints file) and return them."""
    lines = constraint_lines()
    header = "# Land Cover MLP: keep QGIS's own packages as they are (=== refused: no release).\n"
    path.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    return lines


def default_index(kind: str, platform: str = sys.platform, cuda_build: str | None = None) -> str:
    """The package index for a build: PyTorch's CPU or CUDA index; PyPI ("") on macOS."""
    from ..core.errors import LandCoverError

    if kind not in ("cpu", "cuda"):
        raise ValueError(f"kind must be 'cpu' or 'cuda', not {kind!r}")
    if platform == "darwin":
        if kind == "cuda":
            raise LandCoverError("There is no CUDA build for macOS; the standard build uses MPS.")
        return ""
    return f"{TORCH_INDEX}/{'cpu' if kind == 'cpu' else cuda_build or DEFAULT_CUDA_BUILD}"


def build_pip_command(
    python: Path,
    kind: str,
    target: Path,
    constraints: Path,
    find_links: Path | str | None = None,
    index_url: str | None = None,
    version: str | None = None,
    no_deps: bool = False,
    cuda_build: str | None = None,
    platform: str = sys.platform,
) -> list[str]:
    """The pip command that installs torch into ``target``.

    Args:
        python: QGIS's Python interpreter (:func:`python_executable`).
        kind: "cpu" or "cuda".
        target: the (empty) folder pip installs into.
        constraints: file from :func:`write_constraints`.
        find_links: a folder (or URL) of wheels; then no index is used.
        index_url: replaces the default index (:func:`default_index`).
        version: a torch version such as "2.13.0"; the newest when None.
        no_deps: install torch alone.
        cuda_build: CUDA wheel variant ("cu126"), from :func:`cuda_build_for`.
        platform: ``sys.platform`` of the machine.
    """
    cmd = [str(python), "-m", "pip", "install", "--target", str(target),
           "--constraint", str(constraints), "--only-binary", ":all:", "--no-input",
           "--disable-pip-version-check", "--no-warn-script-location", "--progress-bar", "off"]  # fmt: skip
    if find_links is not None:
        cmd += ["--no-index", "--find-links", str(find_links)]
    else:
        index = index_url if index_url is not None else default_index(kind, platform, cuda_build)
        if index:
            cmd += ["--index-url", index]
    if no_deps:
        cmd.append("--no-deps")
    return cmd + [f"torch=={version}" if version else "torch"]


# -- in words ------------------------------------------------------------------------------------
def describe_device(info: dict | None, nvidia: NvidiaDriver | None = None) -> str:
    """Which device training will use and why, from a :func:`verify`-style info dict."""
    if not info:
        return "None: PyTorch is missing, so Land Cover MLP cannot train or classify"
    if info.get("cuda"):
        return f"CUDA: {info.get('device_name') or 'NVIDIA GPU'}"
    if info.get("mps"):
        return "Apple MPS"
    if info.get("cuda_build"):
        hint = " (is the NVIDIA driver too old?)" if nvidia else ""
        return f"CPU: PyTorch has CUDA {info['cuda_build']} but found no usable GPU{hint}"
    if nvidia is not None:
        return "CPU: PyTorch built without CUDA (install the CUDA build to use the NVIDIA GPU)"
    return "CPU: no CUDA device found"


_FAILURES: tuple[tuple[str, str], ...] = (
    (rf"===\s*{re.escape(REFUSED)}",
     "PyTorch's dependencies would install {pkg}, a package QGIS provides itself; a second "
     "copy would break QGIS, so the install was refused and nothing was changed."),
    (r"No space left on device|Errno 28|WinError 112|not enough space",
     "The disk is full: PyTorch needs about 1 GB (CPU build) or 6 GB (CUDA build) free in your "
     "QGIS profile folder. Free some space and try again."),
    (r"CERTIFICATE_VERIFY_FAILED|SSLError|SSL: ",
     "The secure connection to the download server could not be verified. A company proxy or "
     "antivirus may intercept HTTPS: ask your IT team, or set pip's 'cert' option."),
    (r"ProxyError|Tunnel connection failed|407 Proxy",
     "The proxy refused the connection: set HTTPS_PROXY (or pip's 'proxy' option) and retry."),
    (r"NewConnectionError|Temporary failure in name resolution|getaddrinfo failed|"
     r"Max retries exceeded|Network is unreachable|Read timed out|ConnectionResetError",
     "Could not reach the download server (download.pytorch.org or pypi.org): check the "
     "internet connection, firewall or proxy."),
    (r"conflicting dependencies[\s\S]*numpy|numpy[\s\S]*conflicting dependencies",
     "This PyTorch needs another numpy than QGIS's own numpy {numpy}, which must stay: choose an "
     "older PyTorch version."),
    (r"No matching distribution found for torch|Could not find a version that satisfies the "
     r"requirement torch",
     "No PyTorch build exists for this Python {python} on this system (for example Intel Macs "
     "get none after PyTorch 2.2, and 32-bit Python none at all)."),
    (r"No matching distribution|Could not find a version that satisfies",
     "A package PyTorch needs is not available for this Python {python}: {line}"),
    (r"DLL load failed|WinError 126|WinError 127|WinError 1114|\.dll",
     "Windows could not load PyTorch's libraries (DLL). Install the Microsoft Visual C++ "
     f"Redistributable ({VC_REDIST_URL}), restart the computer and try again."),
    (r"Permission denied|Errno 13|Access is denied|WinError 5\b",
     "No permission to write to the QGIS profile folder: close other QGIS windows and check "
     "the folder's permissions."),
    (r"No module named pip",
     "QGIS's Python has no pip. On Debian/Ubuntu: sudo apt install python3-pip; elsewhere "
     "reinstall QGIS with its Python packages."),
    (r"cannot import name|ImportError|ModuleNotFoundError",
     "PyTorch was installed but does not import with QGIS's packages: {line}"),
)  # fmt: skip


def explain_failure(output: str) -> str:
    """A plain-words reason for a failed pip run or ``import torch`` (from their output)."""
    errors = [ln.strip() for ln in output.splitlines() if re.match(r"\s*(ERROR|\w*Error)\b", ln)]
    line = errors[-1] if errors else (output.strip().splitlines() or ["no output"])[-1].strip()
    refused = re.search(rf"([\w.-]+)\s*===\s*{re.escape(REFUSED)}", output)
    fields = {
        "pkg": refused.group(1) if refused else "",
        "numpy": installed_version("numpy") or "?",
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "line": line,
    }
    for pattern, message in _FAILURES:
        if re.search(pattern, output, re.IGNORECASE):
            return message.format(**fields)
    return f"The installation failed: {line}"
