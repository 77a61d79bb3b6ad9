"""The release zip: ``make package`` builds what the Plugin Manager's "Install from ZIP" takes
(one landcover_mlp/ folder with metadata.txt), without tests or dev files, and the unpacked
copy runs in qgis_process on its own."""

from __future__ import annotations

import configparser
import fnmatch
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from osgeo import gdal

pytestmark = pytest.mark.qgis_tier

REPO = Path(__file__).resolve().parents[2]
PKG = "landcover_mlp"
DEV_ONLY = ("tests/", "benchmarks/", ".ci/", "Makefile", "pyproject.toml", "requirements-dev.txt",
            "constraints.txt", ".gitignore", ".gitattributes", "docs/screenshots/")  # fmt: skip


def metadata(text: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser["general"]


def git_ls_files(*options: str) -> set[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", *options], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return {f for f in out.split("\0") if f}


def export_ignored(path: str, patterns: list[str]) -> bool:
    """The .gitattributes export-ignore patterns of this repository: names and folders."""
    for pattern in patterns:
        p = pattern.rstrip("/")
        if fnmatch.fnmatch(path, p) or path.startswith(p + "/"):
            return True
    return False


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make package`` into a temporary folder (the zip dist/ would get)."""
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        ["make", "-s", "package", f"DIST={dist}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    version = metadata((REPO / "metadata.txt").read_text(encoding="utf-8"))["version"]
    path = dist / f"{PKG}-{version}.zip"
    assert f"Plugin zip: {path}" in proc.stdout
    assert path.is_file()
    return path


@pytest.fixture(scope="module")
def entries(plugin_zip: Path) -> list[str]:
    with zipfile.ZipFile(plugin_zip) as zf:
        assert zf.testzip() is None
        return [n for n in zf.namelist() if not n.endswith("/")]


def test_zip_has_one_plugin_folder_with_metadata(plugin_zip: Path, entries: list[str]) -> None:
    assert {n.split("/")[0] for n in entries} == {PKG}, "Install from ZIP wants one top folder"
    for required in ("metadata.txt", "__init__.py", "LICENSE", "plugin/main.py",
                     "plugin/processing/provider.py", "core/workflow.py",
                     "core/sample_scene.py"):  # fmt: skip
        assert f"{PKG}/{required}" in entries, required
    with zipfile.ZipFile(plugin_zip) as zf:
        meta = metadata(zf.read(f"{PKG}/metadata.txt").decode("utf-8"))
        init = zf.read(f"{PKG}/__init__.py").decode("utf-8")
    repo_meta = metadata((REPO / "metadata.txt").read_text(encoding="utf-8"))
    assert meta["name"] == repo_meta["name"] and meta["version"] == repo_meta["version"]
    assert meta["hasProcessingProvider"] == "yes"
    assert f"{PKG}/{meta['icon']}" in entries, "the icon metadata.txt names is packed"
    assert "def classFactory(iface)" in init


def test_zip_leaves_out_tests_and_dev_files(entries: list[str]) -> None:
    inside = [n[len(PKG) + 1 :] for n in entries]
    for dev in DEV_ONLY:
        hits = [n for n in inside if n == dev or (dev.endswith("/") and n.startswith(dev))]
        assert not hits, f"{dev} must stay out of the release zip: {hits[:5]}"
    junk = [n for n in inside if "__pycache__" in n or n.endswith((".pyc", ".gpkg-wal"))]
    assert not junk
    assert not [n for n in inside if n.split("/")[0] in ("build", "dist", ".venv", ".git")]


def test_zip_packs_the_working_tree(entries: list[str]) -> None:
    """Tracked files with their edits and untracked, not-ignored files, minus export-ignore."""
    patterns = [
        line.split()[0]
        for line in (REPO / ".gitattributes").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#") and "export-ignore" in line.split()[1:]
    ]
    files = git_ls_files("--cached") | git_ls_files("--others", "--exclude-standard")
    files -= git_ls_files("--deleted")
    expected = {f for f in files if not export_ignored(f, patterns)}
    packed = {n[len(PKG) + 1 :] for n in entries}
    assert (
        packed == expected
    ), f"missing: {sorted(expected - packed)[:10]}, extra: {sorted(packed - expected)[:10]}"


def test_unpacked_zip_runs_in_qgis_process(
    plugin_zip: Path, qgis_process_for: Any, scene_run: Any, sample_scene: Any, tmp_path: Path
) -> None:
    """Unpacked into an empty plugin folder, the zip alone serves qgis_process."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    with zipfile.ZipFile(plugin_zip) as zf:
        zf.extractall(plugins)
    # Bytecode is written (unlike under make) so the import location leaves a trace.
    qp = qgis_process_for(plugins, unset=("PYTHONDONTWRITEBYTECODE",))
    env = qp.env()
    assert env["QGIS_PLUGINPATH"] == str(plugins)
    for entry in env["PYTHONPATH"].split(":"):
        assert not (Path(entry) / PKG).exists(), f"{entry} would also provide {PKG}"
    assert "PYTHONDONTWRITEBYTECODE" not in env
    out = tmp_path / "out"
    out.mkdir()
    proc = qp.run(
        "classify",
        RASTER=sample_scene.raster,
        MODEL=scene_run.results["MODEL"],
        CLASSIFIED=out / "classified.tif",
        CONFIDENCE=out / "confidence.tif",
    )
    assert proc.returncode == 0, qp.explain(proc)
    cache = plugins / PKG / "plugin" / "processing" / "__pycache__"
    assert list(cache.glob("classify.*.pyc")), "qgis_process did not import the unpacked copy"
    assert (out / "classified.qml").is_file()
    ds_zip = gdal.Open(str(out / "classified.tif"))
    ds_repo = gdal.Open(scene_run.results["CLASSIFIED"])
    assert np.array_equal(
        ds_zip.GetRasterBand(1).ReadAsArray(), ds_repo.GetRasterBand(1).ReadAsArray()
    ), "the packed plugin classifies exactly like the repository"
