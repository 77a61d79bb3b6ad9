"""Crafted and damaged model files (issue 12): every one is one sentence, read header first."""

from __future__ import annotations

import numpy as np
import pytest

from landcover_mlp.core import LandCoverError


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
