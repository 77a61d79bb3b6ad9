"""Bad and odd inputs (issue 12): each is refused with one sentence, or reported, or carried
through correctly; never a silently wrong result. Grouped by the kind of fault."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr

from landcover_mlp.core import LandCoverError
from landcover_mlp.core.callbacks import Hooks
from landcover_mlp.core.config import ModelConfig, SamplingConfig, TrainingConfig, TrainRequest
from landcover_mlp.core.evaluation import evaluate
from landcover_mlp.core.prediction import classify_raster
from landcover_mlp.core.raster import Window, raster_info, read_window, usable_nodata
from landcover_mlp.core.sampling import collect_samples
from landcover_mlp.core.workflow import train_model

QUICK_MODEL = ModelConfig((4,), ensemble=1)
QUICK = TrainingConfig(epochs=2, batch_size=64, device="cpu", seed=0)

# -- nodata the band type cannot hold -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "gdal_type", "usable"),
    [
        (-1, gdal.GDT_Byte, None),  # would wrap to 255
        (-9999, gdal.GDT_Byte, None),  # 241
        (256, gdal.GDT_Byte, None),
        (2.5, gdal.GDT_Byte, None),
        (255, gdal.GDT_Byte, 255),
        (0, gdal.GDT_Byte, 0),
        (-9999, gdal.GDT_UInt16, None),  # 55537
        (70000, gdal.GDT_UInt16, None),
        (-9999, gdal.GDT_Int16, -9999),
        (40000, gdal.GDT_Int16, None),
        (-1, gdal.GDT_UInt32, None),
        (1e39, gdal.GDT_Float32, None),  # beyond float32
        (-9999, gdal.GDT_Float32, -9999),
        (1e39, gdal.GDT_Float64, 1e39),
        (None, gdal.GDT_Byte, None),
    ],
)
def test_usable_nodata(value, gdal_type, usable):
    assert usable_nodata(value, gdal_type) == usable


def test_nan_nodata_stays_on_float_bands():
    assert math.isnan(usable_nodata(float("nan"), gdal.GDT_Float32))
    assert usable_nodata(float("nan"), gdal.GDT_Byte) is None


def _byte_scene(tmp_path, make_raster, make_polygons, rect, nodata):
    """20 x 20 Byte raster whose first band holds 255 on a quarter of the pixels (and 241 on
    some), tagged ``nodata``; two classes cover all of it."""
    rng = np.random.default_rng(0)
    arr = rng.integers(10, 200, size=(3, 20, 20)).astype(np.uint8)
    arr[0, ::2, ::2] = 255  # what -1 wraps to
    arr[1, 1::4, 1::4] = 241  # what -9999 wraps to
    arr[2, :, 10:] += 50  # the right half is another class
    raster = make_raster(tmp_path / "byte.tif", arr, nodata=nodata, dtype=gdal.GDT_Byte)
    polygons = make_polygons(
        tmp_path / "classes.gpkg",
        [(rect(0, 0, 10, 20), {"cls": "left"}), (rect(10, 0, 20, 20), {"cls": "right"})],
    )
    return raster, polygons


@pytest.mark.parametrize("nodata", [-1, -9999])
def test_nodata_the_band_cannot_hold_keeps_every_pixel_in_sampling(
    tmp_path, make_raster, make_polygons, rect, nodata
):
    raster, polygons = _byte_scene(tmp_path, make_raster, make_polygons, rect, nodata)
    ds = gdal.Open(str(raster))
    assert ds.GetRasterBand(1).GetNoDataValue() == nodata  # the tag is there
    assert ds.GetRasterBand(1).GetMaskBand().ReadAsArray().min() == 255  # GDAL: all valid
    logs: list[str] = []
    samples = collect_samples(raster, polygons, SamplingConfig("cls"), Hooks(log=logs.append))
    assert len(samples) == 400
    assert raster_info(raster).nodata == (None, None, None)
    said = [w for w in samples.warnings if f"tagged nodata {nodata}" in w]
    assert len(said) == 3 and "Byte" in said[0] and said[0] in logs


def test_nodata_the_band_cannot_hold_leaves_no_hole_in_the_map(
    tmp_path, make_raster, make_polygons, rect
):
    raster, polygons = _byte_scene(tmp_path, make_raster, make_polygons, rect, -1)
    request = TrainRequest(str(raster), str(polygons), SamplingConfig("cls"),
                           model=QUICK_MODEL, training=QUICK)  # fmt: skip
    model = train_model(request).model
    assert model.nodata == (None, None, None)
    logs: list[str] = []
    out = tmp_path / "classes.tif"
    classify_raster(raster, model, out, hooks=Hooks(log=logs.append))
    ds = gdal.Open(str(out))
    band = ds.GetRasterBand(1)
    assert (band.ReadAsArray() != band.GetNoDataValue()).all()  # 255s were classified
    assert sum("tagged nodata -1" in m for m in logs) == 3


def test_nodata_the_band_can_hold_still_masks(tmp_path, make_raster):
    arr = np.full((2, 4, 4), 7, dtype=np.int16)
    arr[0, 0, 0] = -9999
    arr[1, 3, 3] = -9999
    raster = make_raster(tmp_path / "int16.tif", arr, nodata=-9999)
    ds = gdal.Open(str(raster))
    info = raster_info(ds)
    _, valid = read_window(ds, (1, 2), Window(0, 0, 4, 4), info.nodata)
    assert valid.sum() == 14 and not valid[0, 0] and not valid[3, 3]
    _, valid = read_window(ds, (2,), Window(0, 0, 4, 4), info.nodata)
    assert valid.sum() == 15


def test_uint16_tagged_minus_9999_keeps_55537(tmp_path, make_raster):
    arr = np.full((1, 4, 4), 55537, dtype=np.uint16)
    raster = make_raster(tmp_path / "u16.tif", arr, nodata=-9999)
    ds = gdal.Open(str(raster))
    _, valid = read_window(ds, (1,), Window(0, 0, 4, 4), raster_info(ds).nodata)
    assert valid.all()


def test_a_bands_own_mask_is_honoured(tmp_path, make_raster):
    """A band with its own (not per-dataset) mask: GDAL's mask of any chosen band decides.
    A VRT whose band 2 has its own mask band (a third file)."""
    data = make_raster(tmp_path / "data.tif", np.full((2, 4, 4), 9, dtype=np.uint8))
    mask = np.full((4, 4), 255, dtype=np.uint8)
    mask[1, 2] = 0
    mask_file = make_raster(tmp_path / "mask.tif", mask)
    source = "<SourceFilename relativeToVRT='1'>{}</SourceFilename><SourceBand>{}</SourceBand>"
    bands = "".join(
        f"<VRTRasterBand dataType='Byte' band='{b}'><SimpleSource>"
        + source.format(data.name, b)
        + "</SimpleSource>"
        + (
            "<MaskBand><VRTRasterBand dataType='Byte'><SimpleSource>"
            + source.format(mask_file.name, 1)
            + "</SimpleSource></VRTRasterBand></MaskBand>"
            if b == 2
            else ""
        )
        + "</VRTRasterBand>"
        for b in (1, 2)
    )
    vrt = tmp_path / "masked.vrt"
    vrt.write_text(f"<VRTDataset rasterXSize='4' rasterYSize='4'>{bands}</VRTDataset>")
    ds = gdal.Open(str(vrt))
    assert ds.GetRasterBand(2).GetMaskFlags() == 0  # its own mask, not per dataset
    info = raster_info(ds)
    _, valid = read_window(ds, (1, 2), Window(0, 0, 4, 4), info.nodata)
    assert valid.sum() == 15 and not valid[1, 2]
    _, valid = read_window(ds, (1,), Window(0, 0, 4, 4), info.nodata)
    assert valid.all()


def test_reference_raster_tagged_with_nodata_it_cannot_hold(tmp_path, make_raster):
    """A Byte reference tagged -1 has no usable nodata: 0 is then unlabelled, as for a
    reference without nodata, and the report says the tag was ignored."""
    classified = np.ones((4, 4), dtype=np.uint8)
    classified[:, 2:] = 2
    reference = classified.copy()
    reference[0, :] = 0  # unlabelled
    c = make_raster(tmp_path / "classified.tif", classified, nodata=0)
    r = make_raster(tmp_path / "reference.tif", reference, nodata=-1, dtype=gdal.GDT_Byte)
    report = evaluate(c, r)
    assert int(np.asarray(report.confusion_matrix).sum()) == 12
    assert report.overall_accuracy == 1.0
    assert any("tagged nodata -1" in w for w in report.warnings)


# -- features that are not polygons in a layer of generic geometry type ------------------------


def _generic_layer(tmp_path, make_raster, make_polygons, rect, extra):
    arr = np.random.default_rng(0).integers(0, 100, size=(2, 20, 20)).astype(np.uint8)
    raster = make_raster(tmp_path / "r.tif", arr)
    x0, y0 = 500_000.0, 4_200_000.0  # the raster's top-left corner (10 m pixels)
    shapes = {
        "point": f"POINT ({x0 + 55} {y0 - 55})",
        "line": f"LINESTRING ({x0 + 5} {y0 - 5}, {x0 + 150} {y0 - 150})",
    }
    features = [(rect(0, 0, 10, 20), {"cls": "a"}), (rect(10, 0, 20, 20), {"cls": "b"})]
    for kind, n in extra.items():
        features += [(shapes[kind], {"cls": "a"})] * n
    polygons = make_polygons(tmp_path / "generic.gpkg", features, geom_type=ogr.wkbUnknown)
    return raster, polygons


@pytest.mark.parametrize(
    ("extra", "said"),
    [({"point": 3}, "3 points"), ({"line": 1}, "1 line string"),
     ({"point": 1, "line": 2}, "2 line strings, 1 point")],
)  # fmt: skip
def test_generic_layer_with_non_polygon_features_is_refused(
    tmp_path, make_raster, make_polygons, rect, extra, said
):
    raster, polygons = _generic_layer(tmp_path, make_raster, make_polygons, rect, extra)
    with pytest.raises(LandCoverError) as err:
        collect_samples(raster, polygons, SamplingConfig("cls"))
    assert said in str(err.value) and "2 polygons" in str(err.value)
    assert "points are accuracy samples" in str(err.value)
    classified = make_raster(tmp_path / "c.tif", np.ones((20, 20), np.uint8), nodata=0)
    with pytest.raises(LandCoverError, match=said):
        evaluate(classified, polygons, "cls")


def test_generic_layer_of_polygons_trains(tmp_path, make_raster, make_polygons, rect):
    raster, polygons = _generic_layer(tmp_path, make_raster, make_polygons, rect, {})
    assert len(collect_samples(raster, polygons, SamplingConfig("cls"))) == 400


# -- crafted or damaged model files ------------------------------------------------------------


def _rewrite(src, dst, header=None, state=None, metadata=None, tail=b"", table=None):
    """Copy a model file, editing its description (``header(h)``), its tensors
    (``state(dict)``), the whole ``__metadata__`` or the tensor table (``table(t)``)."""
    import json
    import struct

    raw = src.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    tab = json.loads(raw[8 : 8 + n])
    meta = tab.pop("__metadata__")
    h = json.loads(meta["landcover_mlp"])
    data = raw[8 + n :]
    tensors = {
        k: np.frombuffer(data[v["data_offsets"][0] : v["data_offsets"][1]], "<f4")
        .reshape(v["shape"])
        .copy()
        for k, v in tab.items()
    }
    if header:
        header(h)
    if state:
        state(tensors)
    out, blob = {}, b""
    for k, v in tensors.items():
        b = np.ascontiguousarray(v, dtype="<f4").tobytes()
        out[k] = {
            "dtype": "F32",
            "shape": list(v.shape),
            "data_offsets": [len(blob), len(blob) + len(b)],
        }
        blob += b
    if table:
        table(out)
    out["__metadata__"] = metadata if metadata is not None else {"landcover_mlp": json.dumps(h)}
    text = json.dumps(out).encode()
    dst.write_bytes(struct.pack("<Q", len(text)) + text + blob + tail)
    return dst


def _set(key, value):
    return lambda h: h.__setitem__(key, value)


def _class(i, **kw):
    return lambda h: h["classes"][i].update(kw)


def _tensor(name, fn):
    def edit(t):
        t[name] = fn(t[name])

    return edit


CRAFTED = {
    "std 0": ({"state": _tensor("std", lambda a: a * 0)}, "standard deviation"),
    "nan weight": ({"state": _tensor("layers.0.weight", lambda a: a * np.nan)}, "NaN"),
    "infinite mean": ({"state": _tensor("mean", lambda a: a + np.inf)}, "infinite"),
    "class 70000": ({"header": _class(0, value=70000)}, "class value 70000"),
    "class -1": ({"header": _class(0, value=-1)}, "class value -1"),
    "class 2.5": ({"header": _class(0, value=2.5)}, "class value 2.5"),
    "duplicated class": ({"header": _class(1, value=1)}, "same value"),
    "0 and 65535": (
        {
            "header": lambda h: (
                h["classes"][0].update(value=0),
                h["classes"][1].update(value=65535),
            )
        },
        "no value for nodata",
    ),
    "metadata a list": ({"metadata": ["x"]}, "not a Land Cover MLP description"),
    "description a list": ({"metadata": {"landcover_mlp": "[1, 2]"}}, "not a JSON object"),
    "version text": ({"header": _set("format_version", "3")}, "format_version"),
    "deep nesting": (
        {"metadata": {"landcover_mlp": "[" * 100_000 + "]" * 100_000}},
        "nested too deeply",
    ),
    "band 9 of 4": ({"header": _set("bands", [9, 1, 2])}, "distinct bands"),
    "band 0": ({"header": _set("bands", [0, 1, 2])}, "distinct bands"),
    "bands text": ({"header": _set("bands", "1,2,3")}, "list of band numbers"),
    "band_count text": ({"header": _set("band_count", "4")}, "band_count"),
    "bad colour": ({"header": _class(0, colour="red")}, "colour 'red'"),
    "name a number": ({"header": _class(0, name=5)}, "name or colour"),
    "class missing colour": (
        {"header": lambda h: h["classes"][0].pop("colour")},
        "value, name and colour",
    ),
    "one class": ({"header": lambda h: h.__setitem__("classes", h["classes"][:1])}, "at least 2"),
    "band_names short": ({"header": lambda h: h["band_names"].pop()}, "band_names"),
    "nodata text": ({"header": _set("nodata", ["x", None, None])}, "nodata"),
    "hidden text": (
        {"header": lambda h: h["model"].__setitem__("hidden_layers", "8")},
        "hidden_layers",
    ),
    "ensemble 0": ({"header": lambda h: h["model"].__setitem__("ensemble", 0)}, "ensemble"),
    "activation unknown": (
        {"header": lambda h: h["model"].__setitem__("activation", "gelu")},
        "description is invalid",
    ),
    "history a dict": ({"header": _set("history", {})}, "history"),
    "missing std": ({"state": lambda t: t.pop("std")}, "do not match"),
    "odd tensor name": (
        {"state": lambda t: t.__setitem__("layers.x.weight", t.pop("layers.0.weight"))},
        "do not match",
    ),
    "float64 tensor": ({"table": lambda t: t["std"].__setitem__("dtype", "F64")}, "float32"),
    "offsets past shape": (
        {"table": lambda t: t["std"].__setitem__("shape", [1000])},
        "offsets that do not fit",
    ),
    "appended data": ({"tail": b"\0" * 1_000_000}, "data appended"),
    "tiny std": ({"state": _tensor("std", lambda a: a * 0 + 1e-30)}, "standard deviation"),
    "huge weight": (
        {"state": _tensor("layers.0.weight", lambda a: a * 0 + 3e38)},
        "weights beyond",
    ),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_model_files_are_refused_with_one_sentence(tmp_path, scene_model, case):
    from landcover_mlp.core.model_io import load_model, save_model

    good = tmp_path / "good.safetensors"
    save_model(scene_model, good)
    load_model(good)  # the original loads
    edits, said = CRAFTED[case]
    bad = _rewrite(good, tmp_path / "bad.safetensors", **edits)
    with pytest.raises(LandCoverError) as err:
        load_model(bad)
    message = str(err.value)
    assert said in message, message
    assert "\n" not in message and message.startswith("'bad.safetensors' is not a Land Cover")


def test_a_raster_given_as_model_is_refused_after_reading_its_first_bytes(tmp_path, make_raster):
    from landcover_mlp.core.model_io import load_model

    tif = make_raster(tmp_path / "image.tif", np.zeros((1, 64, 64), np.uint8))
    with pytest.raises(LandCoverError, match="no valid header"):
        load_model(tif)


def test_model_loading_reads_only_the_declared_bytes(tmp_path, scene_model):
    """A file with 4 MB appended is judged by its header and size, never read whole."""
    import tracemalloc

    from landcover_mlp.core.model_io import load_model, save_model

    good = tmp_path / "good.safetensors"
    save_model(scene_model, good)
    bad = _rewrite(good, tmp_path / "big.safetensors", tail=b"\0" * 4_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(LandCoverError, match="data appended"):
            load_model(bad)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, peak


# -- a run killed from outside ---------------------------------------------------------------

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


# -- an output path that is a folder -----------------------------------------------------------


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


# -- memory for any block layout of the input --------------------------------------------------


@pytest.mark.parametrize("block_rows", [1, 3, 16, 256])
@pytest.mark.parametrize("budget_rows", [100, 200, 700])
def test_strip_windows_end_on_output_tile_rows(block_rows, budget_rows):
    """Windows over full-width strips end on a 256-row boundary at least every
    block rows x 256 rows, so the writer's flush (at complete rows of tiles) bounds memory."""
    from landcover_mlp.core.raster import RasterInfo, iter_windows

    width, height = 1000, 5000
    info = RasterInfo("x", width, height, 1, (0, 1, 0, 0, 0, -1), "", (width, block_rows),
                      (None,), ("b",), ("Byte",))  # fmt: skip
    windows = list(iter_windows(info, budget_rows * width, align_rows=256))
    assert sum(w.ysize for w in windows) == height and all(w.xsize == width for w in windows)
    if block_rows <= budget_rows:  # windows of whole blocks
        assert all(w.ysize % block_rows == 0 for w in windows[:-1])
    else:  # blocks larger than the budget: windows inside one block each
        assert all(w.yoff // block_rows == (w.yoff + w.ysize - 1) // block_rows for w in windows)
    assert all(w.ysize * w.xsize <= max(budget_rows, block_rows) * width for w in windows)
    ends = [w.yoff + w.ysize for w in windows if (w.yoff + w.ysize) % 256 == 0]
    gaps = np.diff([0, *ends, height])
    # a window of whole tile rows is flushed as it ends; else every block rows x 256 rows
    bound = max(block_rows * 256, max(w.ysize for w in windows))
    assert gaps.max() <= bound, (block_rows, budget_rows, gaps.max())


def test_striped_input_flushes_output_every_row_of_tiles(tmp_path, scene, scene_model, monkeypatch):
    """A striped GeoTIFF (one row per strip), 1,216 px wide, classified with a small budget:
    the outputs are flushed at least every 256 rows (before: only at the end)."""
    from landcover_mlp.core import prediction
    from landcover_mlp.core.config import PredictionConfig

    data = np.tile(scene.data, (1, 21, 19))
    path = tmp_path / "striped.tif"
    ds = gdal.GetDriverByName("GTiff").Create(
        str(path), data.shape[2], data.shape[1], 3, gdal.GDT_Float32, ["BLOCKYSIZE=1"]
    )
    ds.SetGeoTransform(gdal.Open(str(scene.raster)).GetGeoTransform())
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(data[b])
        ds.GetRasterBand(b + 1).SetNoDataValue(-9999.0)
    ds = None
    assert gdal.Open(str(path)).GetRasterBand(1).GetBlockSize() == [data.shape[2], 1]
    events: list[int] = []
    real_write = prediction._OutputRasters.write
    real_flush = gdal.Dataset.FlushCache

    def write(self, window, *args):
        real_write(self, window, *args)
        events.append(window.yoff + window.ysize)

    def flush(self, *args):
        if ".part-" in self.GetDescription():
            events.append(-1)
        return real_flush(self, *args)

    monkeypatch.setattr(prediction._OutputRasters, "write", write)
    monkeypatch.setattr(gdal.Dataset, "FlushCache", flush)
    config = PredictionConfig(memory_mb=16)
    classify_raster(path, scene_model, tmp_path / "c.tif", tmp_path / "p.tif", config=config)
    rows_since, flushed_at, worst = 0, 0, 0
    for e in events:
        if e == -1:
            flushed_at = rows_since
        else:
            rows_since = e
            worst = max(worst, rows_since - flushed_at)
    assert len([e for e in events if e != -1]) > 4  # many windows
    assert worst <= 256, worst


# -- other members of the kinds: georeferencing forms, multi-layer sources, sidecars ------------


def test_raster_placed_by_gcps_is_refused(tmp_path, make_raster, make_polygons, rect):
    raster = make_raster(tmp_path / "grid.tif", np.ones((2, 10, 10), np.uint8))
    gcp_file = tmp_path / "gcps.tif"
    gdal.Translate(str(gcp_file), str(raster), GCPs=[
        gdal.GCP(500_000.0, 4_200_000.0, 0, 0, 0), gdal.GCP(500_100.0, 4_200_000.0, 0, 10, 0),
        gdal.GCP(500_000.0, 4_199_900.0, 0, 0, 10)], outputSRS="EPSG:32633")  # fmt: skip
    assert gdal.Open(str(gcp_file)).GetGCPCount() == 3
    polygons = make_polygons(tmp_path / "p.gpkg", [(rect(0, 0, 5, 10), {"cls": "a"}),
                                                   (rect(5, 0, 10, 10), {"cls": "b"})])  # fmt: skip
    with pytest.raises(LandCoverError, match="3 ground control points .* warp it"):
        collect_samples(gcp_file, polygons, SamplingConfig("cls"))
    assert len(collect_samples(raster, polygons, SamplingConfig("cls"))) == 100  # the grid


def test_raster_placed_by_rpcs_is_refused(tmp_path):
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "rpc.tif"), 4, 4, 1)
    ds.SetMetadata({"LINE_OFF": "0", "SAMP_OFF": "0", "LAT_OFF": "45", "LONG_OFF": "7",
                    "HEIGHT_OFF": "0", "LINE_SCALE": "1", "SAMP_SCALE": "1", "LAT_SCALE": "1",
                    "LONG_SCALE": "1", "HEIGHT_SCALE": "1",
                    "LINE_NUM_COEFF": " ".join(["1"] * 20), "LINE_DEN_COEFF": " ".join(["1"] * 20),
                    "SAMP_NUM_COEFF": " ".join(["1"] * 20), "SAMP_DEN_COEFF": " ".join(["1"] * 20)},
                   "RPC")  # fmt: skip
    ds = None
    with pytest.raises(LandCoverError, match="rational polynomial coefficients"):
        raster_info(tmp_path / "rpc.tif")


def test_a_plain_pixel_grid_without_georeferencing_is_used(tmp_path):
    """No geotransform, no GCPs (Indian Pines' local grid): used as it is."""
    gdal.GetDriverByName("GTiff").Create(str(tmp_path / "local.tif"), 4, 4, 1).FlushCache()
    assert raster_info(tmp_path / "local.tif").width == 4


def test_a_source_with_several_polygon_layers_needs_a_layer_name(
    tmp_path, make_raster, make_polygons, rect
):
    raster = make_raster(tmp_path / "r.tif", np.ones((2, 10, 10), np.uint8))
    features = [(rect(0, 0, 5, 10), {"cls": "a"}), (rect(5, 0, 10, 10), {"cls": "b"})]
    path = make_polygons(tmp_path / "two.gpkg", features, layer="training")
    ds = ogr.Open(str(path), 1)
    table = ds.CreateLayer("layer_styles", geom_type=ogr.wkbNone)  # as QGIS saves styles
    table.CreateField(ogr.FieldDefn("styleName", ogr.OFTString))
    table = None
    ds = None
    assert len(collect_samples(raster, path, SamplingConfig("cls"))) == 100  # one with geometry
    ds = ogr.Open(str(path), 1)
    other = ds.CreateLayer("old_training", ds.GetLayerByName("training").GetSpatialRef(),
                           ogr.wkbPolygon)  # fmt: skip
    other.CreateField(ogr.FieldDefn("cls", ogr.OFTString))
    other = None
    ds = None
    with pytest.raises(LandCoverError, match="holds 2 layers .*'training'.*'old_training'"):
        collect_samples(raster, path, SamplingConfig("cls"))
    chosen = collect_samples(raster, path, SamplingConfig("cls"), layer="training")
    assert len(chosen) == 100


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


def test_a_share_that_held_out_nothing_is_not_reported_as_share_zero(tmp_path, scene):
    """With a cap of 1 pixel per class the held-out polygons give no pixel: the report says
    so (and the cap's warning), not "set a validation share above 0"."""
    import json

    from landcover_mlp.core.config import SplitConfig
    from landcover_mlp.core.outputs import save_training_outputs

    request = TrainRequest(str(scene.raster), str(scene.polygons),
                           SamplingConfig("class_name", max_per_class=1), split=SplitConfig(0.3),
                           model=QUICK_MODEL, training=QUICK)  # fmt: skip
    result = train_model(request)
    assert result.report is None and result.n_validation == 0
    save_training_outputs(result, tmp_path / "m.safetensors", report=tmp_path / "r.html")
    said = json.loads((tmp_path / "r.json").read_text())["warnings"]
    assert said[0].startswith("No validation pixels: holding out 30% of each class's polygons")
    assert any("capped at 1 pixels" in w for w in said)
    assert "holding out 30%" in (tmp_path / "r.html").read_text()
    none = replace(request, split=SplitConfig(0.0))
    save_training_outputs(train_model(none), tmp_path / "n.safetensors", report=tmp_path / "n.html")
    assert json.loads((tmp_path / "n.json").read_text())["warnings"][0].startswith(
        "No validation pixels: set a validation share above 0"
    )


# -- second hostile-input trial ----------------------------------------------------------------


def test_curved_polygons_are_sampled_like_their_chords(tmp_path, make_raster, make_polygons):
    """A CurvePolygon (a circle) used to pass the geometry check and give no pixel."""
    raster = make_raster(tmp_path / "r.tif", np.ones((2, 40, 40), np.uint8))
    x0, y0 = 500_000.0, 4_200_000.0
    circle = (f"CURVEPOLYGON (CIRCULARSTRING ({x0 + 100} {y0 - 200}, {x0 + 300} {y0 - 200}, "
              f"{x0 + 100} {y0 - 200}))")  # fmt: skip
    square = (
        f"POLYGON (({x0} {y0}, {x0 + 50} {y0}, {x0 + 50} {y0 - 50}, {x0} {y0 - 50}, {x0} {y0}))"
    )
    polygons = make_polygons(tmp_path / "c.gpkg", [(circle, {"cls": "round"}), (square, {"cls": "sq"})],
                             geom_type=ogr.wkbUnknown)  # fmt: skip
    samples = collect_samples(raster, polygons, SamplingConfig("cls"))
    counts = dict(zip((c.name for c in samples.classes), samples.counts().tolist()))
    # a circle of radius 10 px: about pi * 100 pixels
    assert 290 <= counts["round"] <= 340 and counts["sq"] == 25


def test_a_point_in_a_layer_declared_polygon_is_refused(tmp_path, make_raster, make_polygons, rect):
    raster = make_raster(tmp_path / "r.tif", np.ones((2, 10, 10), np.uint8))
    features = [(rect(0, 0, 5, 10), {"cls": "a"}), (rect(5, 0, 10, 10), {"cls": "b"}),
                ("POINT (500025 4199975)", {"cls": "a"})]  # fmt: skip
    polygons = make_polygons(tmp_path / "p.gpkg", features)  # declared Polygon
    assert ogr.Open(str(polygons)).GetLayer(0).GetGeomType() == ogr.wkbPolygon
    with pytest.raises(LandCoverError, match="2 polygons, 1 point"):
        collect_samples(raster, polygons, SamplingConfig("cls"))


def test_a_table_given_as_the_layer_is_refused(tmp_path, make_raster, make_polygons, rect):
    raster = make_raster(tmp_path / "r.tif", np.ones((2, 10, 10), np.uint8))
    path = make_polygons(tmp_path / "p.gpkg", [(rect(0, 0, 5, 10), {"cls": "a"})])
    ds = ogr.Open(str(path), 1)
    ds.CreateLayer("layer_styles", geom_type=ogr.wkbNone).CreateField(ogr.FieldDefn("cls"))
    ds = None
    with pytest.raises(LandCoverError, match="'layer_styles' is a table without geometries"):
        collect_samples(raster, path, SamplingConfig("cls"), layer="layer_styles")


@pytest.mark.parametrize(
    ("text", "said"),
    [("7-1", "runs backwards"), ("1--3", "runs backwards"), ("1-99999999999", "more than"),
     (",,", "names no band")],
)  # fmt: skip
def test_band_lists_that_used_to_mean_all_bands_or_crash(text, said):
    from landcover_mlp.core.raster import parse_bands

    with pytest.raises(LandCoverError, match=said):
        parse_bands(text)
    assert parse_bands("3-5,1") == (3, 4, 5, 1) and parse_bands("") is None


@pytest.mark.parametrize("shape", [[2**70], [2**32, 2**32]])
def test_model_tensor_shapes_that_overflow_are_one_sentence(tmp_path, scene_model, shape):
    from landcover_mlp.core.model_io import load_model, save_model

    good = tmp_path / "good.safetensors"
    save_model(scene_model, good)

    def extra(t):
        t["extra"] = {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}

    bad = _rewrite(good, tmp_path / "bad.safetensors", table=extra)
    with pytest.raises(LandCoverError, match="offsets that do not fit its shape"):
        load_model(bad)


def test_unreadable_pixels_are_a_sentence_naming_the_input(tmp_path, scene, scene_model):
    """A VRT whose source file is gone: train and evaluate raised a RuntimeError traceback,
    classify blamed its output."""
    source = tmp_path / "gone.tif"
    gdal.Translate(str(source), str(scene.raster))
    vrt = tmp_path / "missing.vrt"
    gdal.BuildVRT(str(vrt), [str(source)])
    source.unlink()
    said = "Could not read the pixels of 'missing.vrt'.*a file it refers to is missing"
    with pytest.raises(LandCoverError, match=said):
        collect_samples(vrt, scene.polygons, SamplingConfig("class_name"))
    with pytest.raises(LandCoverError, match=said):
        classify_raster(vrt, scene_model, tmp_path / "map.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["missing.vrt"]


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


def test_complex_bands_are_refused(tmp_path, make_polygons, rect):
    path = str(tmp_path / "sar.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 10, 10, 2, gdal.GDT_CInt16)
    ds.SetGeoTransform((500_000.0, 10.0, 0.0, 4_200_000.0, 0.0, -10.0))
    ds = None
    polygons = make_polygons(tmp_path / "p.gpkg", [(rect(0, 0, 5, 10), {"cls": "a"}),
                                                   (rect(5, 0, 10, 10), {"cls": "b"})])  # fmt: skip
    with pytest.raises(LandCoverError, match=r"Band\(s\) 1, 2 .* complex numbers \(CInt16\)"):
        collect_samples(tmp_path / "sar.tif", polygons, SamplingConfig("cls"))


def test_evaluate_warns_of_a_classified_raster_tagged_with_impossible_nodata(tmp_path, make_raster):
    classified = np.ones((4, 4), dtype=np.uint8)
    c = make_raster(tmp_path / "c.tif", classified, nodata=-1, dtype=gdal.GDT_Byte)
    r = make_raster(tmp_path / "r.tif", classified, nodata=0)
    report = evaluate(c, r)
    assert any("'c.tif' is tagged nodata -1" in w for w in report.warnings)


def test_native_blocks_larger_than_the_budget_are_read_in_windows(
    tmp_path, scene, scene_model, monkeypatch
):
    """One strip holding the whole raster (or 8192 px tiles): the windows were whole blocks,
    whatever --memory-mb said (2.8 GB). Now windows inside the block, the block decompressed
    once, the outputs flushed at least every 256 rows, and the same map."""
    from landcover_mlp.core import prediction
    from landcover_mlp.core.config import PredictionConfig
    from landcover_mlp.core.raster import iter_windows

    data = np.tile(scene.data, (1, 13, 10))  # 624 x 640 px
    path = tmp_path / "one_strip.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), data.shape[2], data.shape[1], 3,
                                              gdal.GDT_Float32, ["TILED=YES", "BLOCKXSIZE=640",
                                                                 "BLOCKYSIZE=624"])  # fmt: skip
    ds.SetGeoTransform(gdal.Open(str(scene.raster)).GetGeoTransform())
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(data[b])
        ds.GetRasterBand(b + 1).SetNoDataValue(-9999.0)
    ds = None
    info = raster_info(path)
    assert info.block_size == (640, 624)
    windows = list(iter_windows(info, 200_000, align_rows=256))
    assert [w.ysize for w in windows] == [256, 256, 112] and windows[0].xsize == 640
    whole = tmp_path / "whole.tif"
    classify_raster(path, scene_model, whole)  # the default budget: one window
    events: list[str] = []
    real_flush = gdal.Dataset.FlushCache

    def flush(self, *args):
        events.append("out" if ".part-" in self.GetDescription() else "in")
        return real_flush(self, *args)

    monkeypatch.setattr(gdal.Dataset, "FlushCache", flush)
    monkeypatch.setattr(prediction, "_window_pixels", lambda *a: 200_000)
    small = tmp_path / "small.tif"
    classify_raster(path, scene_model, small, config=PredictionConfig(memory_mb=16))
    assert events.count("in") == 1  # the one block, dropped once, after its last window
    assert events.count("out") >= 3 + 1  # after each of the 3 windows, and at the end
    a, b = gdal.Open(str(whole)), gdal.Open(str(small))
    np.testing.assert_array_equal(a.ReadAsArray(), b.ReadAsArray())


def test_blocks_larger_than_the_budget_are_reported():
    from landcover_mlp.core.prediction import big_block_warning
    from landcover_mlp.core.raster import RasterInfo

    def info(block):
        return RasterInfo("/d/big.tif", 15_000, 8_000, 4, (0, 1, 0, 0, 0, -1), "", block,
                          (None,) * 4, ("b",) * 4, ("UInt16",) * 4)  # fmt: skip

    said = big_block_warning(info((8192, 8192)), (1, 2, 3, 4), 256)
    assert said and "blocks of 8192 x 8192 (512 MB" in said and "re-tile it" in said
    assert big_block_warning(info((15_000, 8_000)), (1, 2, 3, 4), 256)  # one strip
    assert big_block_warning(info((256, 256)), (1, 2, 3, 4), 256) is None
    assert big_block_warning(info((15_000, 1)), (1, 2, 3, 4), 16) is None  # striped


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


def test_a_file_of_several_rasters_lists_them(tmp_path):
    """A GeoPackage with two raster tables (or a NetCDF of several variables) has no bands of
    its own: the sentence lists the subdatasets to choose from."""
    path = tmp_path / "two.gpkg"
    for name in ("first", "second"):
        ds = gdal.GetDriverByName("GPKG").Create(
            str(path), 4, 4, 1, gdal.GDT_Byte, [f"RASTER_TABLE={name}", "APPEND_SUBDATASET=YES"]
        )
        ds.SetGeoTransform((0, 1, 0, 0, 0, -1))
        ds = None
    with pytest.raises(LandCoverError, match="holds 2 rasters .*GPKG:.*:first"):
        raster_info(path)
