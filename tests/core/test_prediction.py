"""Block-wise prediction of a whole raster, its output format and its all-or-nothing writes."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from osgeo import gdal

from landcover_mlp.core import CancelledError, LandCoverError
from landcover_mlp.core import prediction as prediction_mod
from landcover_mlp.core.callbacks import Hooks
from landcover_mlp.core.classes import ClassInfo, hex_to_rgb, output_encoding
from landcover_mlp.core.config import PredictionConfig
from landcover_mlp.core.network import MLP, load_state
from landcover_mlp.core.prediction import classify_raster
from landcover_mlp.core.predictor import Predictor
from landcover_mlp.core.raster import Window, read_window

CPU = PredictionConfig(memory_mb=16, chunk_pixels=64, device="cpu")


@pytest.fixture
def small_windows(monkeypatch) -> list:
    """Make classify_raster cut the raster into 16 x 16 windows (12 on the scene)."""
    real = prediction_mod.iter_windows
    seen: list = []

    def tiny(info, max_pixels, align_rows=1):
        for w in real(info, 256):
            seen.append(w)
            yield w

    monkeypatch.setattr(prediction_mod, "iter_windows", tiny)
    return seen


def _read(path: Path) -> np.ndarray:
    ds = gdal.Open(str(path))
    return ds.ReadAsArray()


def _whole(scene, model) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features of all valid pixels at once, and Predictor.run's answer for them."""
    ds = gdal.Open(str(scene.raster))
    nodata = tuple(ds.GetRasterBand(i + 1).GetNoDataValue() for i in range(ds.RasterCount))
    data, valid = read_window(ds, model.bands, Window(0, 0, scene.width, scene.height), nodata)
    x = data[:, valid].T
    labels, top, probs = Predictor(model, "cpu", 4096).run(x, want_probs=True)
    return x, valid, labels, probs


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".part-" in p.name or ".old-" in p.name)


def test_blockwise_equals_whole_array(scene, scene_model, tmp_path, small_windows):
    out, conf, prob = tmp_path / "class.tif", tmp_path / "conf.tif", tmp_path / "prob.tif"
    res = classify_raster(scene.raster, scene_model, out, conf, prob, CPU)
    assert len(small_windows) == 12
    x, valid, labels, probs = _whole(scene, scene_model)
    values = np.array([c.value for c in scene_model.classes])
    assert (valid == scene.valid).all()

    classes = _read(out)
    np.testing.assert_array_equal(classes[valid], values[labels])
    assert (classes[~valid] == 0).all()
    np.testing.assert_allclose(_read(prob)[:, valid].T, probs, atol=1e-6)
    np.testing.assert_allclose(_read(conf)[valid], probs.max(axis=1), atol=1e-6)
    assert res.valid_pixels == int(valid.sum())
    assert res.class_counts == tuple(np.bincount(labels, minlength=3).tolist())

    # ... and equal to the torch network itself
    mlp = MLP(len(scene_model.bands), scene_model.model.hidden_layers, 3, "relu",
              members=scene_model.model.saved_networks)  # fmt: skip
    load_state(mlp, scene_model.state)
    mlp.eval()
    with torch.no_grad():
        torch_probs = mlp(torch.from_numpy(x.astype(np.float32))).numpy()
    np.testing.assert_allclose(probs, torch_probs, atol=1e-5)
    margin = np.sort(torch_probs, axis=1)
    clear = margin[:, -1] - margin[:, -2] > 1e-4
    np.testing.assert_array_equal(labels[clear], torch_probs.argmax(1)[clear])
    # the model learnt the stripes
    assert (classes[valid] == scene.truth_as(scene_model.classes)[valid]).mean() > 0.95


def test_chunk_size_does_not_change_the_result(scene, scene_model):
    x, _, labels, probs = _whole(scene, scene_model)
    for chunk in (64, 1000, 100_000):
        got, top, p = Predictor(scene_model, "cpu", chunk).run(x, want_probs=True)
        np.testing.assert_array_equal(got, labels)
        np.testing.assert_allclose(p, probs, atol=1e-6)
        np.testing.assert_allclose(top, p.max(axis=1))
    only, top, p = Predictor(scene_model, "cpu", 64).run(x, want_probs=False)
    np.testing.assert_array_equal(only, labels)
    assert top is None and p is None


def test_output_format(scene, scene_model, tmp_path):
    out = tmp_path / "class.tif"
    classify_raster(scene.raster, scene_model, out, config=CPU)
    ds = gdal.Open(str(out))
    src = gdal.Open(str(scene.raster))
    assert ds.GetGeoTransform() == src.GetGeoTransform()
    assert ds.GetProjection() == src.GetProjection()
    band = ds.GetRasterBand(1)
    assert gdal.GetDataTypeName(band.DataType) == "Byte"
    assert band.GetNoDataValue() == 0
    assert ds.GetMetadata("IMAGE_STRUCTURE").get("COMPRESSION") == "DEFLATE"
    assert band.GetBlockSize() == [256, 256]  # tiled, not strips
    table = band.GetRasterColorTable()
    assert table is not None
    assert band.GetRasterColorInterpretation() == gdal.GCI_PaletteIndex
    names = band.GetCategoryNames()
    by_name = sorted((n, c) for _, n, c in scene.classes)
    assert [(c.value, c.name, c.colour) for c in scene_model.classes] == [
        (i + 1, n, c) for i, (n, c) in enumerate(by_name)
    ]
    for c in scene_model.classes:
        assert table.GetColorEntry(c.value)[:3] == hex_to_rgb(c.colour)
        assert names[c.value] == c.name
    assert table.GetColorEntry(0)[3] == 0  # nodata is transparent
    assert ds.GetMetadataItem("LANDCOVER_MLP_CLASSES") == "forest,urban,water"
    assert set(np.unique(band.ReadAsArray()).tolist()) == {0, 1, 2, 3}


def test_uint16_when_class_value_above_255(scene, scene_model, tmp_path):
    big = tuple(
        ClassInfo(v, c.name, c.colour) for v, c in zip((100, 300, 1000), scene_model.classes)
    )
    model = replace(scene_model, classes=big)
    out = tmp_path / "class16.tif"
    classify_raster(scene.raster, model, out, config=CPU)
    ds = gdal.Open(str(out))
    band = ds.GetRasterBand(1)
    assert gdal.GetDataTypeName(band.DataType) == "UInt16"
    assert band.GetNoDataValue() == 0
    _, valid, labels, _ = _whole(scene, scene_model)
    arr = band.ReadAsArray()
    np.testing.assert_array_equal(arr[valid], np.array([100, 300, 1000])[labels])
    assert (arr[~valid] == 0).all()
    names = band.GetCategoryNames()
    assert [names[v] for v in (100, 300, 1000)] == ["forest", "urban", "water"]
    table = band.GetRasterColorTable()
    assert table.GetColorEntry(300)[:3] == hex_to_rgb(big[1].colour)


def test_class_value_zero_uses_another_nodata(scene, scene_model, tmp_path):
    zero = tuple(ClassInfo(v, c.name, c.colour) for v, c in zip((0, 1, 2), scene_model.classes))
    out = tmp_path / "class0.tif"
    classify_raster(scene.raster, replace(scene_model, classes=zero), out, config=CPU)
    ds = gdal.Open(str(out))
    band = ds.GetRasterBand(1)
    assert gdal.GetDataTypeName(band.DataType) == "Byte"
    assert band.GetNoDataValue() == 255
    arr = band.ReadAsArray()
    assert (arr[~scene.valid] == 255).all()
    assert set(np.unique(arr[scene.valid]).tolist()) <= {0, 1, 2}
    assert (arr[scene.valid] == 0).sum() > 0
    # the palette: nodata 255 is transparent, class 0 is a real class drawn in its colour
    table = band.GetRasterColorTable()
    assert table.GetColorEntry(255) == (0, 0, 0, 0)
    assert table.GetColorEntry(0) == (*hex_to_rgb(zero[0].colour), 255)
    assert band.GetCategoryNames()[0] == zero[0].name


@pytest.mark.parametrize(
    ("values", "encoding"),
    [((1, 2, 3), ("Byte", 0)), ((1, 255), ("Byte", 0)), ((1, 256), ("UInt16", 0)),
     ((0, 1, 2), ("Byte", 255)), ((0, 254), ("Byte", 255)), ((0, 255), ("UInt16", 65535)),
     ((0, 300), ("UInt16", 65535))],
)  # fmt: skip
def test_nodata_is_never_a_class_value(values, encoding):
    """Nodata is 0 unless 0 is a class; then 255, unless 255 is a class too (then the map
    needs UInt16 and nodata 65535): no class is ever drawn transparent or lost as nodata."""
    classes = [ClassInfo(v, f"c{v}", "#123456") for v in values]
    assert output_encoding(classes) == encoding
    assert encoding[1] not in values


def test_only_valid_pixels_classified(scene, scene_model, tmp_path):
    out, conf, prob = tmp_path / "c.tif", tmp_path / "conf.tif", tmp_path / "p.tif"
    res = classify_raster(scene.raster, scene_model, out, conf, prob, CPU)
    assert res.valid_pixels == int(scene.valid.sum())
    arr = _read(out)
    assert (arr[~scene.valid] == 0).all()
    assert (arr[scene.valid] != 0).all()
    c = _read(conf)
    assert (c[~scene.valid] == -1).all()
    ds = gdal.Open(str(conf))
    assert ds.GetRasterBand(1).GetNoDataValue() == -1
    p = _read(prob)
    assert p.shape == (3, scene.height, scene.width)
    assert (p[:, ~scene.valid] == -1).all()


def test_confidence_and_probabilities(scene, scene_model, tmp_path):
    conf, prob = tmp_path / "conf.tif", tmp_path / "p.tif"
    classify_raster(scene.raster, scene_model, tmp_path / "c.tif", conf, prob, CPU)
    c = _read(conf)[scene.valid]
    p = _read(prob)[:, scene.valid]
    cds = gdal.Open(str(conf))
    assert gdal.GetDataTypeName(cds.GetRasterBand(1).DataType) == "Float32"
    assert ((c >= 0) & (c <= 1)).all()
    assert (c >= 1 / 3 - 1e-6).all()
    np.testing.assert_allclose(c, p.max(axis=0), atol=1e-7)
    np.testing.assert_allclose(p.sum(axis=0), 1.0, atol=1e-5)
    assert ((p >= 0) & (p <= 1)).all()
    ds = gdal.Open(str(prob))
    assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(3)] == [
        "probability of forest",
        "probability of urban",
        "probability of water",
    ]
    # the class raster is the argmax of the probabilities
    cls = _read(tmp_path / "c.tif")[scene.valid]
    np.testing.assert_array_equal(cls, np.array([1, 2, 3])[p.argmax(axis=0)])


def test_confidence_only(scene, scene_model, tmp_path):
    conf = tmp_path / "conf.tif"
    res = classify_raster(scene.raster, scene_model, tmp_path / "c.tif", conf, config=CPU)
    assert res.confidence == conf and res.probabilities is None
    c = _read(conf)[scene.valid]
    assert ((c > 0) & (c <= 1)).all()


def test_progress_reaches_100(scene, scene_model, tmp_path, small_windows):
    progress: list[float] = []
    classify_raster(
        scene.raster, scene_model, tmp_path / "c.tif", config=CPU,
        hooks=Hooks(progress=progress.append),
    )  # fmt: skip
    assert progress[-1] == 100.0
    assert progress == sorted(progress)
    assert len(progress) == len(small_windows)


def _good_output(scene, model, folder: Path) -> tuple[Path, str]:
    out = folder / "class.tif"
    classify_raster(scene.raster, model, out, config=CPU)
    return out, _sha(out)


def test_error_mid_way_leaves_nothing(scene, scene_model, tmp_path, small_windows, monkeypatch):
    out, before = _good_output(scene, scene_model, tmp_path)
    before_files = sorted(p.name for p in tmp_path.iterdir())
    calls = {"n": 0}
    real = prediction_mod.read_window

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:
            raise RuntimeError("simulated read failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(prediction_mod, "read_window", failing)
    conf, prob = tmp_path / "conf.tif", tmp_path / "prob.tif"
    with pytest.raises(LandCoverError):
        classify_raster(scene.raster, scene_model, out, conf, prob, CPU)
    assert calls["n"] == 3
    assert _sha(out) == before, "the good output was modified"
    assert not conf.exists() and not prob.exists()
    assert _leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before_files


def test_cancel_mid_way_leaves_nothing(scene, scene_model, tmp_path, small_windows):
    out, before = _good_output(scene, scene_model, tmp_path)
    before_files = sorted(p.name for p in tmp_path.iterdir())
    polls = {"n": 0}

    def cancelled() -> bool:
        polls["n"] += 1
        return polls["n"] > 4

    conf = tmp_path / "conf.tif"
    with pytest.raises(CancelledError):
        classify_raster(
            scene.raster, scene_model, out, conf, config=CPU, hooks=Hooks(cancelled=cancelled)
        )
    assert polls["n"] == 5  # polled once per window
    assert _sha(out) == before
    assert not conf.exists()
    assert _leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before_files


def test_datasets_closed_before_moved_into_place(scene, scene_model, tmp_path, monkeypatch):
    """A temporary GeoTIFF must be closed by GDAL before it is renamed onto the output.

    On Windows renaming an open file fails, and on any system GDAL may still write to the
    file (or its .aux.xml) when it closes it after the move.
    """
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        pytest.skip("needs /proc/self/fd to see open files")
    real_replace = os.replace
    still_open: list[str] = []

    def checking_replace(src, dst, *args, **kwargs):
        target = os.path.realpath(src)
        for fd in fd_dir.iterdir():
            try:
                if os.readlink(fd) == target:
                    still_open.append(Path(src).name)
            except OSError:
                pass
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", checking_replace)
    out, conf, prob = tmp_path / "c.tif", tmp_path / "conf.tif", tmp_path / "p.tif"
    classify_raster(scene.raster, scene_model, out, conf, prob, CPU)
    assert out.exists() and conf.exists() and prob.exists()
    assert still_open == [], f"renamed while GDAL still had them open: {still_open}"
    assert _leftovers(tmp_path) == []
    assert Path(f"{out}.aux.xml").exists()  # category names live in the PAM sidecar
    ds = gdal.Open(str(out))
    assert ds.GetProjection()  # GDAL 3.6 GTiff loads PAM lazily: not on GetCategoryNames
    names = ds.GetRasterBand(1).GetCategoryNames()
    assert [names[v] for v in (1, 2, 3)] == ["forest", "urban", "water"]


def test_output_equal_to_input_refused(scene, scene_model, tmp_path):
    before = _sha(scene.raster)
    with pytest.raises(LandCoverError, match="input raster"):
        classify_raster(scene.raster, scene_model, scene.raster, config=CPU)
    with pytest.raises(LandCoverError, match="input raster"):
        classify_raster(
            scene.raster, scene_model, tmp_path / "c.tif", confidence=scene.raster, config=CPU
        )
    assert _sha(scene.raster) == before


@pytest.mark.parametrize("name", ["class.png", "class.img", "class"])
def test_non_tif_output_refused(scene, scene_model, tmp_path, name):
    with pytest.raises(LandCoverError, match=r"\.tif"):
        classify_raster(scene.raster, scene_model, tmp_path / name, config=CPU)
    assert list(tmp_path.iterdir()) == []


def test_two_outputs_with_one_name_refused(scene, scene_model, tmp_path):
    out = tmp_path / "c.tif"
    with pytest.raises(LandCoverError, match="same file name"):
        classify_raster(scene.raster, scene_model, out, confidence=out, config=CPU)
    assert list(tmp_path.iterdir()) == []


def test_missing_output_folder_refused(scene, scene_model, tmp_path):
    with pytest.raises(LandCoverError, match="does not exist"):
        classify_raster(scene.raster, scene_model, tmp_path / "nope" / "c.tif", config=CPU)


def test_prediction_config_validated():
    with pytest.raises(LandCoverError, match="16 MB"):
        PredictionConfig(memory_mb=1)
    with pytest.raises(LandCoverError, match="64 pixels"):
        PredictionConfig(chunk_pixels=8)


def test_class_names_survive_a_copy_without_the_aux_xml(scene, scene_model, tmp_path):
    """GTiff keeps category names in the .aux.xml sidecar only: a gdalwarp copy or a file
    copied alone lost them, and accuracy-sample / evaluate saw classes "1", "2" (trial)."""
    from landcover_mlp.core.evaluation import raster_classes

    out = tmp_path / "class.tif"
    classify_raster(scene.raster, scene_model, out, config=CPU)
    Path(f"{out}.aux.xml").unlink()
    warped = tmp_path / "warped.tif"
    gdal.Warp(str(warped), str(out), dstSRS="EPSG:4326")
    for path in (out, warped):
        ds = gdal.Open(str(path))
        assert ds.GetRasterBand(1).GetCategoryNames() is None  # no sidecar
        found = [(c.value, c.name) for c in raster_classes(ds)]
        assert found == [(c.value, c.name) for c in scene_model.classes], path.name
