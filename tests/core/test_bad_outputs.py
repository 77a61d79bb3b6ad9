"""Outputs under odd conditions (issue 12): signals, folders given as files, stale sidecars,
full disks, the evaluate stage, outputs checked before the work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osgeo import ogr

from landcover_mlp.core import LandCoverError
from landcover_mlp.core.prediction import classify_raster

_SLOW_CLASSIFY = """
import sys, time
from landcover_mlp.core import cli, prediction
real = prediction.Predictor.predict
def slow(self, *a, **k):
    time.sleep(0.05)  # many windows, each slow: the signal lands mid-run
    return real(self, *a, **k)
prediction.Predictor.predict = slow
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_sigterm_mid_classify_leaves_no_part_and_keeps_the_old_output(
    tmp_path, scene, scene_model, make_raster, sig
):
    """SIGTERM ends a classify run as Ctrl+C does: exit 130, a sentence, no hidden part file,
    and the previous output untouched."""
    import os
    import signal
    import subprocess
    import sys
    import time as _time
    from pathlib import Path

    from landcover_mlp.core.model_io import save_model

    model = tmp_path / "m.safetensors"
    save_model(scene_model, model)
    big = np.tile(scene.data, (1, 20, 20))  # the scene's bands, 400 times the pixels: many windows
    raster = make_raster(tmp_path / "big.tif", big, nodata=-9999.0, block=256)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    old = out_dir / "classes.tif"
    old.write_bytes(b"the previous map")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "build" / "plugins")
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_CLASSIFY, "classify", "--raster", str(raster),
         "--model", str(model), "--output", str(old), "--memory-mb", "16"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    deadline = _time.monotonic() + 120  # a guard against a hang, not a timing assertion
    while not any(".part-" in p.name for p in out_dir.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert _time.monotonic() < deadline
        _time.sleep(0.01)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "cancelled" in err and "Traceback" not in err
    assert [p.name for p in out_dir.iterdir()] == ["classes.tif"]
    assert old.read_bytes() == b"the previous map"


def test_output_path_that_is_a_folder_is_refused_and_the_folder_kept(tmp_path, scene, scene_model):
    """Before: classify moved the user's folder aside (a hidden '.out.tif.old-*' backup that
    no run removed) and wrote the map in its place; or left 'out.tif.aux.xml' behind."""
    from landcover_mlp.core.model_io import save_model

    folder = tmp_path / "out.tif"
    folder.mkdir()
    (folder / "keep.txt").write_text("the user's file")
    with pytest.raises(LandCoverError, match="is a folder: give a file name"):
        classify_raster(scene.raster, scene_model, folder)
    model_folder = tmp_path / "model.safetensors"
    model_folder.mkdir()
    with pytest.raises(LandCoverError, match="is a folder"):
        save_model(scene_model, model_folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "out.tif"]
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]
    assert (folder / "keep.txt").read_text() == "the user's file"


def test_old_overviews_and_masks_go_when_the_map_is_replaced(tmp_path, scene, scene_model):
    """QGIS's "Build pyramids" leaves classes.tif.ovr: kept beside a new map, QGIS would draw
    the old map when zoomed out."""
    out = tmp_path / "classes.tif"
    classify_raster(scene.raster, scene_model, out)
    old = [Path(f"{out}{tail}") for tail in (".ovr", ".msk", ".ovr.aux.xml")]
    old += [out.with_suffix(".aux"), out.with_suffix(".qml")]  # Erdas overviews, QGIS style
    for path in old:
        path.write_bytes(b"the old map's")
    (tmp_path / "other.qml").write_bytes(b"not this map's")
    classify_raster(scene.raster, scene_model, out)
    assert [p.name for p in old if p.exists()] == []
    assert (tmp_path / "other.qml").exists()
    assert out.exists() and not any(p.name.startswith(".") for p in tmp_path.iterdir())


def _cli(*args: str) -> int:
    from landcover_mlp.core import cli

    return cli.main([str(a) for a in args])


def test_evaluate_writes_its_report_and_page_together_or_not_at_all(
    tmp_path, scene, scene_model, capsys
):
    classified = tmp_path / "map.tif"
    classify_raster(scene.raster, scene_model, classified)
    folder = tmp_path / "page.html"
    folder.mkdir()
    base = ["evaluate", "--classified", classified, "--reference", scene.polygons,
            "--class-field", "class_name"]  # fmt: skip
    assert _cli(*base, "--report", tmp_path / "r.json", "--html", folder) == 2
    assert "is a folder" in capsys.readouterr().err
    assert _cli(*base, "--report", tmp_path / "same.json", "--html", tmp_path / "same.json") == 2
    assert "the same file" in capsys.readouterr().err
    assert not [p.name for p in tmp_path.iterdir() if not p.name.startswith(("map.", "page."))]
    assert _cli(*base, "--report", tmp_path / "r.json", "--html", tmp_path / "r.html") == 0
    assert (tmp_path / "r.json").exists() and (tmp_path / "r.html").exists()


def test_reference_and_validation_layers_can_be_named(tmp_path, scene, scene_model, capsys):
    """A file with two polygon layers: refused without a layer name, used with one, on
    evaluate (--layer) and train (--validation-layer)."""
    import shutil

    two = tmp_path / "two.gpkg"
    shutil.copy(scene.polygons, two)
    src = ogr.Open(str(two), 1)
    src.CopyLayer(src.GetLayer(0), "copy")
    name = src.GetLayer(0).GetName()
    src = None
    classified = tmp_path / "map.tif"
    classify_raster(scene.raster, scene_model, classified)
    base = ["evaluate", "--classified", classified, "--reference", two,
            "--class-field", "class_name", "--report", tmp_path / "r.json"]  # fmt: skip
    assert _cli(*base) == 2 and "holds 2 layers" in capsys.readouterr().err
    assert _cli(*base, "--layer", name) == 0
    train = ["train", "--raster", scene.raster, "--polygons", scene.polygons, "--class-field",
             "class_name", "--validation-polygons", two, "--epochs", "1", "--ensemble", "1",
             "--model", tmp_path / "m.safetensors"]  # fmt: skip
    assert _cli(*train) == 2 and "--validation-layer" in capsys.readouterr().err
    assert _cli(*train, "--validation-layer", "copy") == 0


def test_train_refuses_an_output_folder_before_training(tmp_path, scene, capsys, monkeypatch):
    from landcover_mlp.core import workflow

    trained: list[object] = []
    monkeypatch.setattr(workflow, "train_model", lambda *a, **k: trained.append(a))
    (tmp_path / "m.safetensors").mkdir()
    code = _cli("train", "--raster", scene.raster, "--polygons", scene.polygons,
                "--class-field", "class_name", "--model", tmp_path / "m.safetensors")  # fmt: skip
    assert code == 2 and "is a folder" in capsys.readouterr().err
    assert trained == []  # refused before any work


def test_a_full_disk_during_classification_is_named(monkeypatch, tmp_path):
    """libtiff says "Write error at scanline N" when the disk fills: the sentence names the
    full disk (the free space decides), and GDAL's repeated errors from closing files are not
    printed as "Exception ignored ... Traceback" after it."""
    import shutil
    import sys
    import types

    from landcover_mlp.core.fileio import describe_os_error, quiet_gdal_destructors

    error = RuntimeError("TIFFAppendToStrip:Write error at scanline 1536")
    usage = types.SimpleNamespace(total=3 << 20, used=3 << 20, free=0)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage)
    assert describe_os_error(error, tmp_path / "c.tif").startswith("The disk is full")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: types.SimpleNamespace(free=1 << 30))
    assert describe_os_error(error, tmp_path / "c.tif").startswith("Could not write")
    seen: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    other = types.SimpleNamespace(exc_value=ValueError("x"), object="<function f>")
    with quiet_gdal_destructors():
        sys.unraisablehook(
            types.SimpleNamespace(
                exc_value=RuntimeError("x"), object="<built-in function delete_Dataset>"
            )
        )
        sys.unraisablehook(other)
    assert seen == [other] and sys.unraisablehook == seen.append
