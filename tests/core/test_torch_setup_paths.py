"""The PyTorch installer's plain logic, without QGIS: folders, sys.path order, which Python,
the constraints file, the pip command, the NVIDIA driver, and failures in plain words."""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import pytest

from landcover_mlp.core.errors import LandCoverError
from landcover_mlp.plugin import torch_setup as ts

QGIS_PATH = [
    "/usr/share/qgis/python",
    "/home/u/.local/share/QGIS/QGIS3/profiles/default/python",
    "/usr/lib/python311.zip",
    "/usr/lib/python3.11",
    "/usr/lib/python3.11/lib-dynload",
    "/home/u/.local/lib/python3.11/site-packages",
    "/usr/lib/python3/dist-packages",
]


def test_site_dir_is_per_profile_and_python_version(tmp_path: Path) -> None:
    site = ts.site_dir(tmp_path, (3, 12, 1))
    assert site == tmp_path / "python" / "landcover_mlp_deps" / "py312"
    assert ts.work_dir(site).parent == ts.pending_dir(site).parent == site.parent


def test_folder_goes_after_qgis_and_stdlib_before_site_packages() -> None:
    out = ts.path_with(Path("/p/deps/py311"), QGIS_PATH)
    assert out.index("/p/deps/py311") == 5, "after the stdlib, before user site-packages"
    assert out[:5] == QGIS_PATH[:5] and out[6:] == QGIS_PATH[5:]
    assert ts.insert_position(["/a", "/b"]) == 2, "no site-packages: the end"
    replaced = ts.path_with(Path("/p/new"), out, replacing=Path("/p/deps/py311"))
    assert "/p/deps/py311" not in replaced and replaced.index("/p/new") == 5


def test_add_site_dir_to_path_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(QGIS_PATH))
    site = ts.site_dir(tmp_path)
    assert not ts.add_site_dir_to_path(site), "a missing folder is not added"
    assert str(site) not in sys.path
    site.mkdir(parents=True)
    assert ts.add_site_dir_to_path(site)
    assert not ts.add_site_dir_to_path(site)
    assert sys.path.count(str(site)) == 1
    assert sys.path.index(str(site)) == 5


def test_pending_install_is_swapped_in_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(QGIS_PATH))
    site = ts.site_dir(tmp_path)
    (site / "torch").mkdir(parents=True)
    (site / "torch" / "old.txt").write_text("old")
    (ts.pending_dir(site) / "torch").mkdir(parents=True)
    (ts.pending_dir(site) / "torch" / "new.txt").write_text("new")
    assert ts.add_site_dir_to_path(site)
    assert (site / "torch" / "new.txt").exists() and not (site / "torch" / "old.txt").exists()
    assert not ts.pending_dir(site).exists() and not ts.old_dir(site).exists()


def test_promote_replaces_the_old_install(tmp_path: Path) -> None:
    site, target = tmp_path / "py311", tmp_path / "work" / "target"
    (site / "old").mkdir(parents=True)
    (target / "new").mkdir(parents=True)
    assert ts.promote(target, site)
    assert (site / "new").is_dir() and not (site / "old").exists()
    assert not target.exists() and not ts.old_dir(site).exists()


def test_python_candidates_windows_osgeo4w() -> None:
    found = ts.python_candidates(
        "win32", r"C:\OSGeo4W\bin\qgis-bin.exe", r"C:\OSGeo4W\apps\Python312", (3, 12)
    )
    assert found[0] == PureWindowsPath(r"C:\OSGeo4W\apps\Python312\python.exe")
    assert PureWindowsPath(r"C:\OSGeo4W\bin\python3.exe") in found
    assert all(p.name.lower().startswith("python") for p in found), "never qgis-bin.exe"


def test_python_candidates_macos_bundle() -> None:
    app = "/Applications/QGIS.app/Contents/MacOS"
    found = ts.python_candidates("darwin", f"{app}/QGIS", app, (3, 12))
    assert found[0] == PurePosixPath(f"{app}/bin/python3")
    assert PurePosixPath(f"{app}/bin/python3.12") in found


def test_python_candidates_linux() -> None:
    found = ts.python_candidates("linux", "/usr/bin/qgis", "/usr", (3, 11))
    assert found[0] == PurePosixPath("/usr/bin/python3.11")
    assert PurePosixPath("/usr/bin/qgis") not in found
    # an embedded Python's sys.executable is the first python3 on PATH: it comes last, and
    # PATH itself is never searched
    pyenv = "/home/u/.pyenv/shims/python3"
    found = ts.python_candidates("linux", pyenv, "/usr", (3, 11), "/usr")
    assert found[0] == PurePosixPath("/usr/bin/python3.11") and found[-1] == PurePosixPath(pyenv)


def test_another_python_first_on_path_is_never_qgis_python(tmp_path, monkeypatch) -> None:
    """A pyenv/conda ``python3`` of the same minor version first on PATH, and filled into
    ``sys.executable`` as QGIS's embedded Python does: never taken for QGIS's Python."""
    short = f"{sys.version_info[0]}.{sys.version_info[1]}"
    fake = tmp_path / "bin"
    fake.mkdir()
    other = f"/home/u/.pyenv/versions/{short}.9"
    for name in ("python3", f"python{short}"):  # a real Python of this version, elsewhere
        script = fake / name
        script.write_text(
            f"#!{sys.executable}\nimport sys\nsys.prefix = sys.base_prefix = {other!r}\n"
            "exec(sys.argv[sys.argv.index('-c') + 1])\n"
        )
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    monkeypatch.setattr(sys, "executable", str(fake / "python3"))
    exe = ts.python_executable()
    assert fake not in exe.parents
    assert ts._python_identity(exe)[1] in (sys.prefix, sys.base_prefix)
    assert ts._python_identity(fake / "python3") == (short, other)


def test_python_executable_has_this_version() -> None:
    exe = ts.python_executable()
    assert exe.is_file()
    assert ts._python_version(exe) == f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_constraints_pin_numpy_and_refuse_qgis_packages(tmp_path: Path) -> None:
    lines = ts.write_constraints(tmp_path / "constraints.txt")
    text = (tmp_path / "constraints.txt").read_text()
    assert f"numpy=={np.__version__.split('+')[0]}" in lines
    for name in ("gdal", "rasterio", "pyqt5", "pyqt6", "pyside6"):
        assert f"{name}==={ts.REFUSED}" in text.splitlines()


def test_pip_command(tmp_path: Path) -> None:
    py, target, cons = Path("/q/python3"), tmp_path / "t", tmp_path / "c.txt"
    cpu = ts.build_pip_command(py, "cpu", target, cons, platform="linux")
    assert cpu[:4] == ["/q/python3", "-m", "pip", "install"]
    assert cpu[cpu.index("--target") + 1] == str(target)
    assert cpu[cpu.index("--constraint") + 1] == str(cons)
    assert cpu[cpu.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    assert cpu[-1] == "torch" and "--only-binary" in cpu
    cuda = ts.build_pip_command(py, "cuda", target, cons, cuda_build="cu128", platform="win32")
    assert cuda[cuda.index("--index-url") + 1] == "https://download.pytorch.org/whl/cu128"
    mac = ts.build_pip_command(py, "cpu", target, cons, version="2.5.1", platform="darwin")
    assert "--index-url" not in mac and mac[-1] == "torch==2.5.1"
    with pytest.raises(LandCoverError, match="no CUDA build for macOS"):
        ts.build_pip_command(py, "cuda", target, cons, platform="darwin")
    local = ts.build_pip_command(py, "cpu", target, cons, find_links=tmp_path, no_deps=True)
    assert "--no-index" in local and "--index-url" not in local and "--no-deps" in local


SMI = """
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.14              Driver Version: 550.54.14      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
"""
SMI_L = "GPU 0: NVIDIA GeForce RTX 4070 (UUID: GPU-0b0c-11)\nGPU 1: NVIDIA T400 (UUID: GPU-2)\n"


def test_nvidia_driver_parsed_and_cuda_build_chosen() -> None:
    driver = ts.parse_nvidia_smi(SMI, SMI_L)
    assert driver == ts.NvidiaDriver(
        "550.54.14", (12, 4), ("NVIDIA GeForce RTX 4070", "NVIDIA T400")
    )
    assert "RTX 4070" in driver.describe() and "CUDA 12.4" in driver.describe()
    assert ts.cuda_build_for(driver) == "cu126"
    assert ts.cuda_build_for(ts.NvidiaDriver("570.1", (12, 8))) == "cu128"
    assert ts.cuda_build_for(ts.NvidiaDriver("470.1", (11, 4))) is None, "driver too old"
    assert ts.cuda_build_for(ts.NvidiaDriver("550")) == ts.DEFAULT_CUDA_BUILD
    assert ts.parse_nvidia_smi("NVIDIA-SMI has failed", "") is None


def test_device_explained() -> None:
    nvidia = ts.NvidiaDriver("550.54.14", (12, 4))
    assert ts.describe_device(None).startswith("None: PyTorch is missing")
    assert ts.describe_device({"cuda": True, "device_name": "RTX 4070"}) == "CUDA: RTX 4070"
    assert ts.describe_device({"mps": True}) == "Apple MPS"
    assert ts.describe_device({"cuda_build": None}) == "CPU: no CUDA device found"
    assert "built without CUDA" in ts.describe_device({"cuda_build": None}, nvidia)
    assert "has CUDA 12.6 but found no usable GPU" in ts.describe_device({"cuda_build": "12.6"})


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("ImportError: DLL load failed while importing _C: The specified module could not be "
         "found.", ts.VC_REDIST_URL),
        ("OSError: [WinError 126] Error loading c10.dll or one of its dependencies.", "Visual C++"),
        ("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on "
         "device", "disk is full"),
        ("ERROR: No matching distribution found for torch", "No PyTorch build exists"),
        ("SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED]", "proxy"),
        ("Failed to establish a new connection: [Errno -3] Temporary failure in name resolution",
         "Could not reach the download server"),
        (f"The user requested (constraint) rasterio==={ts.REFUSED}", "install rasterio"),
        ("ERROR: [Errno 13] Permission denied: '/p/py311.work'", "No permission"),
        ("/usr/bin/python3: No module named pip", "apt install python3-pip"),
        ("ImportError: cannot import name 'equal_valued' from 'sympy.core.numbers'", "equal_valued"),
        ("ERROR: something new happened", "The installation failed: ERROR: something new"),
    ],
)  # fmt: skip
def test_failures_in_plain_words(output: str, expected: str) -> None:
    assert expected in ts.explain_failure(output)
