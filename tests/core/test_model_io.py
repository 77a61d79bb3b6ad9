"""The model file: safetensors layout, round trip, refusal of foreign, pickled or damaged files."""

from __future__ import annotations

import json
import pickle
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from landcover_mlp.core import LandCoverError
from landcover_mlp.core.model_io import load_model, save_model
from landcover_mlp.core.prediction import classify_raster
from landcover_mlp.core.raster import raster_info


def _assert_same_model(a, b) -> None:
    assert a.state.keys() == b.state.keys()
    for k in a.state:
        assert a.state[k].dtype == np.float32
        np.testing.assert_array_equal(a.state[k], b.state[k], err_msg=k)
    assert a.classes == b.classes
    assert a.bands == b.bands
    assert a.band_names == b.band_names
    assert a.band_count == b.band_count
    assert a.nodata == b.nodata
    assert a.model == b.model
    assert a.history == b.history
    assert a.metrics == b.metrics
    assert a.training == b.training
    assert a.info == b.info


def test_round_trip(scene_model, tmp_path):
    path = save_model(scene_model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    _assert_same_model(scene_model, loaded)
    assert len(loaded.history) == 20
    assert loaded.bands == (1, 2, 3)
    assert loaded.band_names == ("blue", "green", "nir")
    assert [c.name for c in loaded.classes] == ["forest", "urban", "water"]
    assert loaded.metrics["overall_accuracy"] > 0.9
    # saving the loaded model gives the same bytes
    again = save_model(loaded, tmp_path / "again.safetensors")
    assert again.read_bytes() == path.read_bytes()


def test_file_is_plain_safetensors(scene_model, tmp_path):
    """The real ``safetensors`` package (Hugging Face's reader, not our own parser) reads
    every tensor of our file, bit for bit, and our description in its metadata."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    path = save_model(scene_model, tmp_path / "m.safetensors")
    tensors = load_file(str(path))
    assert tensors.keys() == scene_model.state.keys()
    for name, array in tensors.items():
        assert array.dtype == np.float32, name
        np.testing.assert_array_equal(array, scene_model.state[name], err_msg=name)
    with safe_open(str(path), framework="numpy") as fh:
        assert set(fh.keys()) == set(scene_model.state)
        metadata = fh.metadata()
    assert metadata.keys() == {"landcover_mlp"}
    meta = json.loads(metadata["landcover_mlp"])
    assert meta == json.loads(json.dumps(scene_model.header(), allow_nan=True))
    assert meta["format"] == "landcover_mlp" and meta["bands"] == [1, 2, 3]


def test_nan_in_history_survives(scene_model, tmp_path):
    model = replace(
        scene_model, history=[{"epoch": 1, "train_loss": 0.5, "val_loss": float("nan")}]
    )
    loaded = load_model(save_model(model, tmp_path / "m.safetensors"))
    assert np.isnan(loaded.history[0]["val_loss"])
    assert loaded.history[0]["train_loss"] == 0.5


def test_save_is_atomic(scene_model, tmp_path, monkeypatch):
    path = save_model(scene_model, tmp_path / "m.safetensors")
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("landcover_mlp.core.model_io.os.fsync", broken)
    with pytest.raises(LandCoverError, match="disk is full"):
        save_model(replace(scene_model, history=[]), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_band_mismatch_refused(scene, scene_model, tmp_path, make_raster):
    four = make_raster(tmp_path / "four.tif", np.ones((4, 8, 8), dtype=np.float32))
    with pytest.raises(LandCoverError) as info:
        scene_model.check_raster(raster_info(four))
    msg = str(info.value)
    assert "expects 3 band(s)" in msg
    for name in ("1: blue", "2: green", "3: nir"):
        assert name in msg
    assert "'four.tif' has 4 band(s)" in msg
    # classify_raster refuses before writing anything
    with pytest.raises(LandCoverError, match="expects 3 band"):
        classify_raster(four, scene_model, tmp_path / "out.tif")
    assert not (tmp_path / "out.tif").exists()
    scene_model.check_raster(raster_info(scene.raster))  # the training raster is fine


def _with_header_length(model, folder: Path, wanted: int, modulo: int) -> Path:
    """Save ``model`` with padding in its info so that header length % modulo == wanted."""
    path = folder / "m.safetensors"

    def save(k: int) -> int:
        save_model(replace(model, info={**model.info, "pad": "x" * k}), path)
        return struct.unpack("<Q", path.read_bytes()[:8])[0]

    n0 = save(0)
    target = n0 + (wanted - n0) % modulo
    for k in range(max(0, target - n0 - 8), target - n0 + 9):
        if save(k) % modulo == wanted:
            return path
    raise AssertionError("no padding gives the wanted header length")


@pytest.mark.parametrize(
    "first_bytes, wanted, modulo",
    [
        (b"\x80", 0x80, 256),  # looks like the start of a pickle
        (b"PK", 0x4B50, 65536),  # looks like the start of a zip
    ],
)
def test_valid_model_whose_header_length_looks_like_pickle(
    scene_model, tmp_path, first_bytes, wanted, modulo
):
    """The 8-byte header length is binary: 1 model in 32 starts with 0x80 by chance."""
    path = _with_header_length(scene_model, tmp_path, wanted, modulo)
    assert path.read_bytes().startswith(first_bytes)
    loaded = load_model(path)
    _assert_same_model(replace(scene_model, info=loaded.info), loaded)


def test_torch_save_refused(tmp_path):
    path = tmp_path / "torch.safetensors"
    torch.save({"state": {"w": torch.zeros(3)}, "classes": ["a", "b"]}, path)
    with pytest.raises(LandCoverError, match="pickle"):
        load_model(path)


class _Payload:
    """Unpickling this object would create a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_pickled_payload_never_executed(tmp_path, protocol):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(_Payload(marker), protocol=protocol))
    # the payload works when unpickled, so a loader that unpickled it would create the marker
    pickle.loads(path.read_bytes())
    assert marker.exists()
    marker.unlink()
    with pytest.raises(LandCoverError, match="not a Land Cover MLP model"):
        load_model(path)
    assert not marker.exists()


def test_pickle_inside_safetensors_header_not_executed(tmp_path):
    marker = tmp_path / "marker"
    evil = pickle.dumps(_Payload(marker)).hex()
    header = json.dumps({"__metadata__": {"landcover_mlp": evil}}).encode()
    path = tmp_path / "m.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(LandCoverError):
        load_model(path)
    assert not marker.exists()


def test_truncated_file_refused(scene_model, tmp_path):
    good = save_model(scene_model, tmp_path / "m.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", good[:8])
    for size, words in [
        (len(good) - 4, "damaged"),  # tensor bytes cut short
        (8 + n + 10, "damaged"),
        (8 + n // 2, "no valid header"),  # header cut short
        (5, "too short"),
        (0, "too short"),
    ]:
        path = tmp_path / f"cut{size}.safetensors"
        path.write_bytes(good[:size])
        with pytest.raises(LandCoverError) as info:
            load_model(path)
        msg = str(info.value)
        assert words in msg, (size, msg)
        assert "not a Land Cover MLP model file" in msg


def test_corrupt_files_refused(scene_model, tmp_path):
    good = save_model(scene_model, tmp_path / "m.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", good[:8])
    header = json.loads(good[8 : 8 + n])
    cases = {
        "garbage": np.random.default_rng(0).bytes(4096),
        "text": b"this is not a model at all, only some text\n" * 10,
        "bad_json": good[:8] + b"{" * n + good[8 + n :],
    }
    meta = json.loads(header["__metadata__"]["landcover_mlp"])
    meta["model"]["hidden_layers"] = [17]  # description no longer matches the weights
    wrong = dict(header, __metadata__={"landcover_mlp": json.dumps(meta)})
    blob = json.dumps(wrong).encode()
    cases["wrong_shapes"] = struct.pack("<Q", len(blob)) + blob + good[8 + n :]
    foreign = {k: v for k, v in header.items() if k != "__metadata__"}
    blob = json.dumps(foreign).encode()
    cases["foreign_safetensors"] = struct.pack("<Q", len(blob)) + blob + good[8 + n :]
    for name, raw in cases.items():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(raw)
        with pytest.raises(LandCoverError, match="not a Land Cover MLP model file"):
            load_model(path)


def test_newer_format_refused(scene_model, tmp_path):
    good = save_model(scene_model, tmp_path / "m.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", good[:8])
    header = json.loads(good[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["landcover_mlp"])
    meta["format_version"] = 99
    header["__metadata__"] = {"landcover_mlp": json.dumps(meta)}
    blob = json.dumps(header).encode()
    path = tmp_path / "new.safetensors"
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + good[8 + n :])
    with pytest.raises(LandCoverError, match="newer"):
        load_model(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(LandCoverError, match="does not exist"):
        load_model(tmp_path / "none.safetensors")


DATA = Path(__file__).resolve().parents[1] / "data"


def test_format_1_files_still_load_and_predict_the_same(tmp_path):
    """A model written by the previous release (format 1: one network, torch Sequential names,
    dropout shifting the layer numbers to 0, 3, 6) loads as an ensemble of one and predicts
    what that release predicted (its output for these pixels is stored beside it)."""
    from landcover_mlp.core.predictor import Predictor

    path = DATA / "model_format1.safetensors"
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    table = json.loads(raw[8 : 8 + n])
    assert json.loads(table["__metadata__"]["landcover_mlp"])["format_version"] == 1
    assert "layers.3.weight" in table and table["layers.0.weight"]["shape"] == [8, 7]
    model = load_model(path)
    assert model.model.ensemble == 1
    assert model.model.dropout == 0.1
    assert sorted(model.state) == ["layers.0.bias", "layers.0.weight", "layers.1.bias",
                                   "layers.1.weight", "layers.2.bias", "layers.2.weight",
                                   "mean", "std"]  # fmt: skip
    assert model.state["layers.1.weight"].shape == (1, 8, 8)
    expected = np.load(DATA / "model_format1_expected.npz")
    labels, _, probs = Predictor(model, "cpu", 4096).run(expected["x"], want_probs=True)
    np.testing.assert_array_equal(labels, expected["labels"])
    np.testing.assert_allclose(probs, expected["probs"], atol=1e-6)
    # saved again, it is a format-2 file of the same model
    again = load_model(save_model(model, tmp_path / "again.safetensors"))
    _assert_same_model(model, again)


def test_ensemble_shapes_checked(scene_model, tmp_path):
    assert scene_model.model.distils  # one network stored, its header names an ensemble of 5
    state = dict(scene_model.state)
    bias = state["layers.1.bias"]
    state["layers.1.bias"] = np.concatenate([bias, bias])  # two members' bias for one network
    path = save_model(replace(scene_model, state=state), tmp_path / "m.safetensors")
    with pytest.raises(LandCoverError, match="do not match its description"):
        load_model(path)


def test_format_2_files_still_load_and_predict_the_same(tmp_path):
    """A model written by the previous release (format 2: an ensemble of 3 networks 6-8-8-4,
    tanh, no "distill" in its header) loads as that ensemble, not as a distilled network, and
    predicts what that release predicted, which is the torch ensemble's averaged softmax."""
    from landcover_mlp.core.network import MLP, load_state
    from landcover_mlp.core.predictor import Predictor

    path = DATA / "model_format2.safetensors"
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(json.loads(raw[8 : 8 + n])["__metadata__"]["landcover_mlp"])
    assert header["format_version"] == 2 and "distill" not in header["model"]
    model = load_model(path)
    assert (model.model.ensemble, model.model.distill, model.model.saved_networks) == (3, False, 3)
    assert model.describe_network().startswith("ensemble of 3 networks 6-8-8-4 (tanh)")
    expected = np.load(DATA / "model_format2_expected.npz")
    labels, _, probs = Predictor(model, "cpu", 4096).run(expected["x"], want_probs=True)
    np.testing.assert_array_equal(labels, expected["labels"])
    np.testing.assert_allclose(probs, expected["probs"], atol=1e-6)
    mlp = MLP(6, (8, 8), 4, "tanh", members=3)
    load_state(mlp, model.state)
    mlp.eval()
    with torch.no_grad():
        np.testing.assert_allclose(probs, mlp(torch.from_numpy(expected["x"])).numpy(), atol=1e-5)
    again = load_model(save_model(model, tmp_path / "again.safetensors"))
    _assert_same_model(model, again)
    assert again.model.distill is False


def test_distilled_model_round_trip(scene_model, tmp_path):
    """A distilled model stores one network and names the ensemble that taught it."""
    assert scene_model.model.distils and scene_model.model.ensemble == 5
    path = save_model(scene_model, tmp_path / "m.safetensors")
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    table = json.loads(raw[8 : 8 + n])
    header = json.loads(table["__metadata__"]["landcover_mlp"])
    assert header["format_version"] == 3
    assert header["model"]["ensemble"] == 5 and header["model"]["distill"] is True
    assert table["layers.0.weight"]["shape"][0] == 1
    again = load_model(path)
    _assert_same_model(scene_model, again)
    assert again.model.saved_networks == 1
    assert again.describe_network().endswith("distilled from an ensemble of 5")
