"""Is PyTorch importable here? Checked without importing it at plugin load.

Importing torch takes seconds; the message says how to install it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path

_STATE: dict[str, object] = {}
SETUP_ACTION = "Raster > Land Cover MLP > Set up PyTorch..."  # issue #5: the guided installer


def torch_available() -> bool:
    """True when ``import torch`` can be attempted (a spec is found on sys.path)."""
    if "torch" in sys.modules and sys.modules["torch"] is not None:
        return True
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def install_command() -> str:
    """The command that installs a CPU build of torch into QGIS's Python."""
    if sys.platform.startswith("win"):
        return (
            "In the OSGeo4W Shell: python -m pip install torch --index-url "
            "https://download.pytorch.org/whl/cpu"
        )
    if sys.platform == "darwin":
        return "/Applications/QGIS.app/Contents/MacOS/bin/python3 -m pip install --user torch"
    # QGIS's own interpreter, from its prefix: "python3" would be whatever comes first on PATH
    python = f"{sys.base_prefix}/bin/python{sys.version_info[0]}.{sys.version_info[1]}"
    return (
        f'{python} -m pip install --user torch "numpy=={qgis_numpy_version()}" --index-url '
        "https://download.pytorch.org/whl/cpu (the numpy pin keeps the numpy QGIS was built "
        "against: never let pip replace it)"
    )


def qgis_numpy_version() -> str:
    """The version of the numpy this QGIS imports (the one its GDAL and QGIS were built with)."""
    try:
        import numpy

        return str(numpy.__version__)
    except ImportError:
        return "<the version QGIS has>"


def missing_torch_message() -> str:
    """A user sentence: what is missing and how to get it."""
    return (
        "PyTorch is not installed in QGIS's Python, and Land Cover MLP needs it to train and "
        # -- PyTorch set-up (issue #5): point to the guided installer first --------------------
        f"classify. Install it with {SETUP_ACTION} (it checks the install and keeps QGIS's own "
        "packages safe), or by hand and then restart QGIS: "
        f"{install_command()}"
    )


def torch_problem() -> str | None:
    """Why torch cannot be used here as one user sentence, or None when it imports.

    Imports torch (seconds, once): call it right before work that needs torch, so a missing or
    broken install (a Windows "DLL load failed", a half-removed package) gets the set-up
    message instead of a traceback, on every route.
    """
    if not torch_available():
        return missing_torch_message()
    try:
        import torch  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any failure of an optional import is reported
        return (
            f"PyTorch is installed but cannot be loaded ({type(exc).__name__}: {exc}). "
            f"Repair it with {SETUP_ACTION}, or reinstall it by hand and restart QGIS: "
            f"{install_command()}"
        )
    return None


def device_summary() -> str:
    """What training would use, e.g. "CPU: no CUDA device found" (imports torch)."""
    if not torch_available():
        return "PyTorch missing"
    if "summary" not in _STATE:
        try:
            from ..core.network import select_device

            _STATE["summary"] = select_device("auto")[1]
        except Exception as exc:  # noqa: BLE001 - a broken torch install must not break the UI
            _STATE["summary"] = f"PyTorch cannot be loaded: {exc}"
    return str(_STATE["summary"])


#: torch's own shared libraries in load order, loaded ahead of ``import torch`` (Linux, macOS).
PRELOAD = ("libtorch_global_deps", "libc10", "libtorch_cpu", "libtorch")


def preload_torch_libraries() -> list[str]:
    """Load torch's shared libraries without holding Python's GIL.

    Call it in a worker thread before ``import torch``.

    ``import torch`` loads ``torch._C`` with the GIL held, and loading libtorch_cpu (its static
    initialisers: 200-300 ms on a 2-core machine) then stops every other Python thread, QGIS's
    GUI thread included. ``dlopen`` called through ctypes releases the GIL (a foreign function
    call), so the libraries load while the GUI goes on; the import then finds them loaded.
    Best effort: nothing happens on Windows, without torch, or when a library is missing, and
    the import works as before.

    Returns:
        The paths loaded (empty when nothing was preloaded).
    """
    if sys.platform.startswith("win") or "torch" in sys.modules:
        return []
    try:
        spec = importlib.util.find_spec("torch")
        if spec is None or spec.origin is None:
            return []
        folder = Path(spec.origin).parent / "lib"
        libc = ctypes.CDLL(None)
        libc.dlopen.restype = ctypes.c_void_p
        libc.dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
        suffix = ".dylib" if sys.platform == "darwin" else ".so"
        loaded = []
        for name in PRELOAD:
            path = folder / f"{name}{suffix}"
            if not path.is_file():
                continue
            if not libc.dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_GLOBAL):
                break  # let the import load (and report) it as usual
            loaded.append(str(path))
        return loaded
    except (OSError, AttributeError, ValueError, ImportError):
        return []
