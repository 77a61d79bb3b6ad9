"""The PyTorch installer for real, offline: pip installs tiny fake ``torch`` wheels from a local
folder (``--no-index --find-links``) into a temporary profile, verified in a fresh Python; a
failure, a refusal and a cancel leave nothing behind; the plugin puts the folder on sys.path
when it loads; the dialog installs and explains the device; the missing-torch message points
to "Set up PyTorch..."."""

from __future__ import annotations

import base64
import hashlib
import http.server
import os
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QEventLoop, QTimer

from landcover_mlp.core.errors import LandCoverError
from landcover_mlp.plugin import torch_setup as ts
from landcover_mlp.plugin.torch_install_task import (
    InstallRequest,
    TorchInstallTask,
    forbidden_found,
    install_torch,
    probe,
    prune_pinned,
)

pytestmark = pytest.mark.qgis_tier

FAKE_TORCH = """__version__ = "{version}"
from . import cuda
class version:
    cuda = None
def from_numpy(array):
    return array
"""
BROKEN_TORCH = "raise ImportError('DLL load failed while importing _C: The specified module "
BROKEN_TORCH += "could not be found.')\n"
_TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"
REAL_WHEEL = Path(f"/opt/wheels/torch-2.13.0+cpu-{_TAG}-{_TAG}-manylinux_2_28_x86_64.whl")


def make_wheel(folder: Path, name: str, version: str, files: dict[str, str],
               requires: tuple[str, ...] = ()) -> Path:  # fmt: skip
    """A pure-Python wheel written by hand (METADATA, WHEEL, RECORD with hashes)."""
    dist = f"{name}-{version}.dist-info"
    entries = dict(files)
    entries[f"{dist}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        + "".join(f"Requires-Dist: {r}\n" for r in requires)
    )
    entries[f"{dist}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"  # fmt: skip
    record = []
    for path, text in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    entries[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in entries.items():
            zf.writestr(path, text)
    return wheel


def fake_torch(folder: Path, version: str = "99.0", init: str | None = None,
               requires: tuple[str, ...] = ()) -> Path:  # fmt: skip
    files = {
        "torch/__init__.py": init or FAKE_TORCH.format(version=version),
        "torch/cuda.py": "def is_available():\n    return False\n",
    }
    return make_wheel(folder, "torch", version, files, requires)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torch 99.0 (works), 97.0 (import fails like a Windows DLL error), 98.0 (needs rasterio)."""
    folder = tmp_path_factory.mktemp("wheels")
    fake_torch(folder, "99.0")
    fake_torch(folder, "97.0", init=BROKEN_TORCH)
    fake_torch(folder, "98.0", requires=("rasterio",))
    make_wheel(folder, "rasterio", "1.0", {"rasterio/__init__.py": ""})
    return folder


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip sees no configuration of this machine (find-links, constraints, indexes), and
    sys.path is restored after each test."""
    for key in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture
def profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A QGIS profile folder with its usual python/plugins, used as the active profile."""
    folder = tmp_path / "profile"
    (folder / "python" / "plugins").mkdir(parents=True)
    monkeypatch.setattr(ts, "profile_dir", lambda: folder)
    return folder


def leftovers(profile: Path) -> list[str]:
    return sorted(str(p.relative_to(profile)) for p in profile.rglob("*"))


def wait_for(signal: Any, timeout_s: float = 60) -> list[Any]:
    """Run the event loop until ``signal`` fires; its arguments."""
    got: list[Any] = []
    loop = QEventLoop()
    signal.connect(lambda *args: (got.append(args), loop.quit()))
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    assert got, f"no signal within {timeout_s} s"
    return list(got[0])


# -- the installer ------------------------------------------------------------------------------
def test_install_from_local_wheels(profile: Path, wheels: Path) -> None:
    site = ts.site_dir()
    lines: list[str] = []
    result = install_torch(InstallRequest("cpu", site, find_links=wheels), lines.append)
    assert result.in_place and result.info["version"] == "99.0"
    assert ts.work_dir(site).as_posix() in result.info["file"], "verified in the staging folder"
    assert "Successfully installed torch-99.0" in lines
    assert "CPU: no CUDA device found" in result.message
    assert (site / "torch" / "__init__.py").is_file()
    assert not ts.work_dir(site).exists()
    info, _ = probe(ts.path_with(site, sys.path), ts.python_executable())
    assert info is not None and info["version"] == "99.0" and info["file"].startswith(str(site))
    assert info["numpy_file"] == sys.modules["numpy"].__file__, "QGIS's numpy still wins"


def test_failed_install_leaves_nothing(profile: Path, wheels: Path) -> None:
    before = leftovers(profile)
    request = InstallRequest("cpu", ts.site_dir(), version="123.0", find_links=wheels)
    with pytest.raises(LandCoverError, match="No PyTorch build exists"):
        install_torch(request, lambda _line: None)
    assert leftovers(profile) == before


def test_failed_check_keeps_the_previous_install(profile: Path, wheels: Path) -> None:
    site = ts.site_dir()
    install_torch(InstallRequest("cpu", site, find_links=wheels), lambda _line: None)
    before = leftovers(profile)
    broken = InstallRequest("cpu", site, version="97.0", find_links=wheels)
    with pytest.raises(LandCoverError, match="Visual C\\+\\+ Redistributable"):
        install_torch(broken, lambda _line: None)
    assert leftovers(profile) == before, "the working 99.0 install is untouched"


def test_forbidden_dependency_refused(profile: Path, wheels: Path) -> None:
    before = leftovers(profile)
    request = InstallRequest("cpu", ts.site_dir(), version="98.0", find_links=wheels)
    with pytest.raises(LandCoverError, match="would install rasterio, a package QGIS provides"):
        install_torch(request, lambda _line: None)
    assert leftovers(profile) == before


def test_second_guard_and_numpy_pruning(tmp_path: Path) -> None:
    for name in ("rasterio-1.0", "numpy-1.24.2", "torch-99.0"):
        (tmp_path / f"{name}.dist-info").mkdir()
    (tmp_path / "numpy").mkdir()
    (tmp_path / "numpy.libs").mkdir()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "f2py").write_text("")
    (tmp_path / "bin" / "torchrun").write_text("")
    (tmp_path / "numpy-1.24.2.dist-info" / "RECORD").write_text(
        "numpy/__init__.py,,\nnumpy.libs/x.so,,\nbin/f2py,,\nnumpy-1.24.2.dist-info/RECORD,,\n"
    )
    assert forbidden_found(tmp_path) == ["rasterio"]
    assert prune_pinned(tmp_path) == ["numpy-1.24.2.dist-info"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bin", "rasterio-1.0.dist-info", "torch-99.0.dist-info"]  # fmt: skip
    assert [p.name for p in (tmp_path / "bin").iterdir()] == ["torchrun"]


class StallingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the wheel folder, but never finishes sending a wheel: pip stays busy."""

    release = threading.Event()

    def do_GET(self) -> None:  # noqa: N802 - http.server virtual
        if not self.path.endswith(".whl"):
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Length", "10000000")
        self.end_headers()
        self.wfile.write(b"PK")
        self.release.wait(60)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stalling_index(wheels: Path) -> Iterator[str]:
    handler = lambda *a, **kw: StallingHandler(*a, directory=str(wheels), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    StallingHandler.release.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    StallingHandler.release.set()
    server.shutdown()
    server.server_close()


def test_cancel_mid_install_kills_pip(profile: Path, stalling_index: str) -> None:
    before = leftovers(profile)
    task = TorchInstallTask(InstallRequest("cpu", ts.site_dir(), find_links=stalling_index))
    lines: list[str] = []
    running_at_cancel: list[bool] = []

    def on_line(line: str) -> None:
        lines.append(line)
        if line.lstrip().startswith("Downloading") and not task.isCanceled():
            running_at_cancel.append(task.process is not None and task.process.poll() is None)
            task.cancel()

    task.output.connect(on_line)
    QgsApplication.taskManager().addTask(task)
    (message,) = wait_for(task.failed)
    assert running_at_cancel == [True], lines
    assert task.was_cancelled and "cancelled" in message, lines
    assert task.process.wait(10) != 0, "pip was killed"
    assert leftovers(profile) == before


@pytest.mark.slow
@pytest.mark.skipif(not REAL_WHEEL.exists(), reason=f"{REAL_WHEEL} is not on this machine")
def test_real_torch_wheel(profile: Path) -> None:
    site = ts.site_dir()
    request = InstallRequest("cpu", site, find_links=REAL_WHEEL.parent, no_deps=True)
    result = install_torch(request, lambda _line: None)
    assert result.info["version"].startswith("2.13.0") and result.info["train_ok"]
    assert result.info["numpy_ok"] and (site / "torch" / "__init__.py").is_file()


# -- plugin load, menu, missing torch -----------------------------------------------------------
@pytest.fixture
def raster_iface(qgis_iface: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """pytest-qgis's iface with the Raster menu calls it lacks, recorded in ``iface.menu``."""
    menu: list[Any] = []
    monkeypatch.setattr(qgis_iface, "menu", menu, raising=False)
    for name in ("addToolBarIcon", "removeToolBarIcon"):
        monkeypatch.setattr(qgis_iface, name, lambda *a: None, raising=False)
    monkeypatch.setattr(qgis_iface, "addPluginToRasterMenu",
                        lambda m, a: menu.append(a), raising=False)  # fmt: skip
    monkeypatch.setattr(qgis_iface, "removePluginRasterMenu",
                        lambda m, a: menu.remove(a), raising=False)  # fmt: skip
    return qgis_iface


def test_plugin_load_puts_the_folder_on_sys_path(
    profile: Path, raster_iface: Any, processing_framework: None
) -> None:
    import landcover_mlp

    registry = QgsApplication.processingRegistry()
    if registry.providerById("landcover_mlp") is not None:  # left by other tests
        registry.removeProvider(registry.providerById("landcover_mlp"))
    site = ts.site_dir()
    site.mkdir(parents=True)
    plugin = landcover_mlp.classFactory(raster_iface)
    assert str(site) in sys.path
    assert sys.path.index(str(site)) == ts.insert_position([p for p in sys.path if p != str(site)])
    plugin.initGui()
    try:
        assert plugin.torch_setup_action in raster_iface.menu
        assert plugin.torch_setup_action.text() == "Set up PyTorch..."
    finally:
        plugin.unload()
    assert not raster_iface.menu
    landcover_mlp.classFactory(raster_iface)
    assert sys.path.count(str(site)) == 1, "loading again adds nothing"


def test_missing_torch_points_to_setup(provider: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from landcover_mlp.plugin import torch_check
    from landcover_mlp.plugin.processing import base

    monkeypatch.setattr(base, "torch_available", lambda: False)
    alg = QgsApplication.processingRegistry().algorithmById("landcover_mlp:train")
    ok, message = alg.canExecute()
    assert not ok and "Set up PyTorch..." in message and "pip install" in message
    assert "Set up PyTorch..." in torch_check.missing_torch_message()


# -- the dialog ---------------------------------------------------------------------------------
def test_dialog_installs_and_explains(profile: Path, wheels: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import torch  # noqa: F401 - a torch loaded in this session: the dialog must ask for a restart

    from landcover_mlp.ui import torch_setup_dialog as tsd

    monkeypatch.setattr(ts, "detect_nvidia", lambda: None)
    dialog = tsd.TorchSetupDialog(None, options={"find_links": wheels})
    wait_for(dialog.checked)
    assert dialog.deviceLabel.text().startswith("CPU"), "the device and why"
    assert not dialog.cudaRadio.isEnabled() and dialog.installButton.isEnabled()
    assert "None found" in dialog.nvidiaLabel.text()
    dialog.installButton.click()
    assert wait_for(dialog.install_finished) == [True]
    assert "Successfully installed torch-99.0" in dialog.logView.toPlainText()
    assert "restart QGIS" in dialog.resultLabel.text()
    wait_for(dialog.checked)
    assert dialog.torchLabel.text() == "99.0 (CPU build, from the install folder)"
    assert "restart QGIS" in dialog.deviceLabel.text()
    dialog.deleteLater()


def test_dialog_offers_cuda_with_a_driver(profile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from landcover_mlp.ui import torch_setup_dialog as tsd

    driver = ts.NvidiaDriver("550.54.14", (12, 4), ("NVIDIA GeForce RTX 4070",))
    monkeypatch.setattr(ts, "detect_nvidia", lambda: driver)
    dialog = tsd.open_torch_setup(None)
    assert tsd.open_torch_setup(None) is dialog, "one dialog per session"
    wait_for(dialog.checked)
    assert dialog.cudaRadio.isEnabled() and "cu126 offered" in dialog.nvidiaLabel.text()
    tsd.close_torch_setup()
