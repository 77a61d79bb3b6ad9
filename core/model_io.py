"""The model file: weights plus a JSON header, in the safetensors layout.

Layout: 8-byte little-endian header length, a JSON header (tensor names, dtypes, shapes, byte
offsets, and ``__metadata__`` holding this plugin's own JSON description), then the raw
little-endian float32 tensor bytes. Format version 2 stores an ensemble (weights stacked along a
first axis of members); version 3 adds the network distilled from an ensemble (one network,
stored as an ensemble of one, with the ensemble's size in the header). Files of versions 1 and 2
still load.
Loading parses JSON and copies bytes: it never executes code from the file (no pickle), and any
safetensors reader can open it.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .classes import ClassInfo
from .config import PERCEPTRON, ModelConfig
from .errors import LandCoverError
from .fileio import OutputStage, output_path
from .raster import RasterInfo

FORMAT = "landcover_mlp"
# 1: one network; weights "layers.{i}.weight" (out, in) with i the index in torch's
#    Sequential (0, 2, 4 ...; 0, 3, 6 ... with dropout).
# 2: an ensemble; weights "layers.{j}.weight" (members, out, in) and biases (members, out),
#    j = 0, 1, 2 ... the weight layers in order; header "model" has "ensemble".
# 3: header "model" has "distill"; when true, the weights are one network (members axis 1)
#    distilled from an ensemble of "ensemble" networks.
FORMAT_VERSION = 3
MODEL_SUFFIX = ".safetensors"
_MAX_HEADER = 64 * 1024 * 1024


@dataclass(frozen=True)
class LandCoverModel:
    """A trained classifier and everything needed to apply and explain it.

    Attributes:
        state: weights and standardisation buffers: "mean" and "std" (bands,),
            "layers.{i}.weight" (members, out, in) and "layers.{i}.bias" (members, out) for
            the weight layers i = 0, 1, ... in order.
        bands: 1-based band numbers of the raster the model reads.
        band_names: names of those bands at training time.
        band_count: number of bands of the training raster.
        nodata: nodata value of each used band at training time.
        classes: output classes in index order.
        model: architecture.
        training: training settings (as a dict of TrainingConfig fields) and sampling/split.
        history: per-epoch records.
        metrics: validation accuracy report (dict), may be empty.
        info: provenance: created, versions, device, best epoch, source files.
    """

    state: dict[str, npt.NDArray[np.float32]]
    bands: tuple[int, ...]
    band_names: tuple[str, ...]
    band_count: int
    nodata: tuple[float | None, ...]
    classes: tuple[ClassInfo, ...]
    model: ModelConfig
    training: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def header(self) -> dict[str, Any]:
        """The JSON-serialisable description stored in the file."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "bands": list(self.bands),
            "band_names": list(self.band_names),
            "band_count": self.band_count,
            "nodata": list(self.nodata),
            "classes": [asdict(c) for c in self.classes],
            "model": {
                **asdict(self.model),
                "hidden_layers": list(self.model.hidden_layers),
            },
            "training": self.training,
            "history": self.history,
            "metrics": self.metrics,
            "info": self.info,
        }

    @property
    def early_stopping_epoch(self) -> int | None:
        """The epoch early stopping chose (to mark on loss curves), or None.

        None without early stopping (the schedule's last epoch was kept).
        """
        if not self.training.get("patience"):
            return None
        best = self.info.get("best_epoch")
        return int(best) if best else None

    def describe_network(self) -> str:
        """The network in words.

        E.g. "one network 7-32-32-5 (relu), distilled from an ensemble of 5", "ensemble of
        5 networks 7-64-64-5 (relu), class probabilities averaged" or "one network 7-64-64-5
        (relu)"; a perceptron's starts with :data:`core.config.PERCEPTRON`: "Perceptron
        (linear: ...): one network 7-5".
        """
        sizes = "-".join(map(str, (len(self.bands), *self.model.hidden_layers, len(self.classes))))
        k = self.model.ensemble
        if self.model.is_perceptron:
            saved = self.model.saved_networks  # more than 1 only in models of older versions
            many = f"ensemble of {saved} networks {sizes}" if saved > 1 else f"one network {sizes}"
            return f"{PERCEPTRON}: {many}"
        kind = self.model.activation
        if self.model.distils:
            return f"one network {sizes} ({kind}), distilled from an ensemble of {k}"
        if k == 1:
            return f"one network {sizes} ({kind})"
        return f"ensemble of {k} networks {sizes} ({kind}), class probabilities averaged"

    def describe_bands(self) -> str:
        """E.g. "7 bands (1: B1, 2: B2, ...) of a 8-band raster"."""
        listed = ", ".join(f"{b}: {n}" for b, n in zip(self.bands, self.band_names))
        return f"{len(self.bands)} band(s) ({listed}) of a {self.band_count}-band raster"

    def check_raster(self, info: RasterInfo) -> None:
        """Refuse a raster that does not have the bands the model was trained on.

        Raises:
            LandCoverError: the band count differs from the training raster's.
        """
        if info.band_count != self.band_count:
            raise LandCoverError(
                f"The model expects {self.describe_bands()}, but '{Path(info.path).name}' has "
                f"{info.band_count} band(s). Choose a raster with the same bands, in the same "
                "order, as the training raster."
            )


def save_model(
    model: LandCoverModel, path: str | Path, *, stage: OutputStage | None = None
) -> Path:
    """Write the model file (safetensors); an error never leaves a partial file.

    Args:
        model: the model.
        path: the model file.
        stage: the output stage the file belongs to; None writes it on its own.

    Returns:
        The path written.

    Raises:
        LandCoverError: unwritable folder or full disk (only without ``stage``; with one,
            the stage's owner reports it).
    """
    path = Path(path)
    names = sorted(model.state)
    tensors: dict[str, Any] = {}
    offset = 0
    blobs = []
    for name in names:
        array = np.ascontiguousarray(model.state[name], dtype="<f4")
        blob = array.tobytes()
        tensors[name] = {
            "dtype": "F32",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        offset += len(blob)
        blobs.append(blob)
    tensors["__metadata__"] = {FORMAT: json.dumps(model.header(), allow_nan=True)}
    header = json.dumps(tensors, separators=(",", ":")).encode("utf-8")
    header += b" " * (-len(header) % 8)
    with output_path(path, stage) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(struct.pack("<Q", len(header)))
            fh.write(header)
            for blob in blobs:
                fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def _not_a_model(path: Path, why: str) -> LandCoverError:
    return LandCoverError(
        f"'{path.name}' is not a Land Cover MLP model file ({why}). Choose a model saved by "
        "Land Cover MLP, or train a new one."
    )


def load_model(path: str | Path) -> LandCoverModel:
    """Read a model file without executing anything from it.

    The header is read first and checked (sizes, then every field against
    :func:`_check_header`); then only the tensor bytes it declares are read, and every tensor
    is checked (shape against the description, finite values, standard deviations > 0).
    Memory is the model's size, whatever else the file holds.

    Raises:
        LandCoverError: missing, corrupt, pickled, foreign or malformed file (one sentence
            naming what is wrong).
    """
    path = Path(path)
    if not path.is_file():
        raise LandCoverError(f"Model file '{path}' does not exist: check the path.")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise _not_a_model(path, "the file is too short")
        (n,) = struct.unpack("<Q", head)
        first = f.read(1)
        if n > min(_MAX_HEADER, size - 8) or first != b"{":
            if head[:2] == b"PK" or head[:1] == b"\x80":
                raise _not_a_model(
                    path, "it is a pickle/zip file, which is never loaded because it can run code"
                )
            raise _not_a_model(path, "no valid header")
        text = first + f.read(n - 1)
        try:
            table = json.loads(text.decode("utf-8"))
            header = json.loads(table.pop("__metadata__")[FORMAT])
        except RecursionError:
            raise _not_a_model(path, "its header is nested too deeply") from None
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise _not_a_model(path, "its header is not a Land Cover MLP description") from None
        if not isinstance(header, dict):
            raise _not_a_model(path, "its description is not a JSON object")
        version = header.get("format_version", 0)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise _not_a_model(path, "its format_version is not a whole number >= 1")
        if version > FORMAT_VERSION:
            raise LandCoverError(
                f"'{path.name}' was written by a newer Land Cover MLP; update the plugin to "
                "load it."
            )
        spans = _tensor_spans(table, path)
        declared = max((end for _, _, end in spans.values()), default=0)
        if 8 + n + declared != size:
            raise _not_a_model(
                path,
                f"it holds {size - 8 - n} bytes of weights where its header declares "
                f"{declared}; it is damaged or has data appended",
            )
        data = f.read(declared)
    state: dict[str, npt.NDArray[np.float32]] = {}
    for name, (shape, begin, end) in spans.items():
        state[name] = np.frombuffer(data[begin:end], dtype="<f4").astype(np.float32).reshape(shape)
    if version < 2:
        try:
            state = _ensemble_of_one(state)
        except (KeyError, ValueError, IndexError):
            raise _not_a_model(path, "its weights are not named as a network's") from None
    problem = _check_header(header, version)
    if problem:
        raise _not_a_model(path, f"{problem}; it is damaged")
    model_part = dict(header["model"])
    model_part["hidden_layers"] = tuple(model_part["hidden_layers"])
    if version < 3:
        members = state.get("layers.0.weight")
        if members is None or members.ndim != 3:
            raise _not_a_model(path, "its weights do not match its description; it is damaged")
        model_part.update(ensemble=int(members.shape[0]), distill=False)
    try:
        model = LandCoverModel(
            state=state,
            bands=tuple(header["bands"]),
            band_names=tuple(header["band_names"]),
            band_count=header["band_count"],
            nodata=tuple(header["nodata"]),
            classes=tuple(ClassInfo(**c) for c in header["classes"]),
            model=ModelConfig(**model_part),
            training=header.get("training", {}),
            history=header.get("history", []),
            metrics=header.get("metrics", {}),
            info=header.get("info", {}),
        )
    except (LandCoverError, TypeError, ValueError) as exc:  # ModelConfig's own checks
        raise _not_a_model(path, f"its description is invalid ({exc})") from None
    _check_shapes(model, path)
    _check_values(model, path)
    return model


def _tensor_spans(table: object, path: Path) -> dict[str, tuple[tuple[int, ...], int, int]]:
    """Each tensor's (shape, begin, end) from the safetensors table, checked.

    Checked: float32, shape of whole numbers >= 0, offsets that match the shape and tile the
    data without overlap.
    """
    if not isinstance(table, dict):
        raise _not_a_model(path, "its tensor table is not a JSON object")
    spans: dict[str, tuple[tuple[int, ...], int, int]] = {}
    for name, spec in table.items():
        ok = (
            isinstance(spec, dict)
            and spec.get("dtype") == "F32"
            and isinstance(spec.get("shape"), list)
            and all(_whole(v) and v >= 0 for v in spec["shape"])
            and isinstance(spec.get("data_offsets"), list)
            and len(spec["data_offsets"]) == 2
            and all(_whole(v) for v in spec["data_offsets"])
        )
        if not ok:
            raise _not_a_model(path, f"tensor '{name}' is not described as float32 data")
        begin, end = spec["data_offsets"]
        shape = tuple(spec["shape"])
        if not 0 <= begin <= end or end - begin != 4 * math.prod(shape):  # exact: no overflow
            raise _not_a_model(path, f"tensor '{name}' has offsets that do not fit its shape")
        spans[name] = (shape, begin, end)
    ordered = sorted((b, e) for _, b, e in spans.values())
    if ordered and (ordered[0][0] != 0 or any(a[1] != b[0] for a, b in zip(ordered, ordered[1:]))):
        raise _not_a_model(path, "its tensors overlap or leave gaps")
    return spans


def _whole(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_header(h: dict[str, Any], version: int) -> str | None:
    """What is wrong with a model description, or None: the one schema of the header.

    Checked: ``band_count`` a whole number >= 1; ``bands`` distinct whole numbers in 1 ..
    band_count; ``band_names`` and ``nodata`` (numbers or null) one per band; ``classes`` a
    list of at least 2 objects with a whole ``value`` in 0 .. 65535 (the class raster is Byte
    or UInt16, with 0 or 65535 left for nodata), unique, a text ``name`` and a "#rrggbb"
    ``colour``; ``model`` an object with ``hidden_layers`` (whole numbers >= 1),
    ``activation``, ``dropout`` and (format 3) ``ensemble`` >= 1 and ``distill`` true/false;
    ``training``, ``metrics`` and ``info`` objects and ``history`` a list when present.
    """
    count = h.get("band_count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return "band_count is not a whole number >= 1"
    bands = h.get("bands")
    if not isinstance(bands, list) or not bands or not all(_whole(b) for b in bands):
        return "bands is not a list of band numbers"
    if not all(1 <= b <= count for b in bands) or len(set(bands)) != len(bands):
        return f"bands {bands} are not distinct bands of a {count}-band raster"
    names = h.get("band_names")
    if (
        not isinstance(names, list)
        or len(names) != len(bands)
        or not all(isinstance(x, str) for x in names)
    ):
        return "band_names is not one text per band"
    nodata = h.get("nodata")
    if (
        not isinstance(nodata, list)
        or len(nodata) != len(bands)
        or not all(v is None or _number(v) for v in nodata)
    ):
        return "nodata is not one number (or null) per band"
    classes = h.get("classes")
    if not isinstance(classes, list) or len(classes) < 2:
        return "classes is not a list of at least 2 classes"
    for c in classes:
        if not isinstance(c, dict) or set(c) != {"value", "name", "colour"}:
            return "a class is not an object with value, name and colour"
        if not _whole(c["value"]) or not 0 <= c["value"] <= 65535:
            return f"class value {c['value']!r} is not a whole number from 0 to 65535"
        if not isinstance(c["name"], str) or not isinstance(c["colour"], str):
            return f"class {c['value']}'s name or colour is not text"
        colour = c["colour"]
        if (
            len(colour) != 7
            or colour[0] != "#"
            or any(ch not in "0123456789abcdefABCDEF" for ch in colour[1:])
        ):
            return f"class {c['value']}'s colour {colour!r} is not #rrggbb"
    values = [c["value"] for c in classes]
    if len(set(values)) != len(values):
        return "two classes have the same value"
    if 0 in values and 65535 in values:
        return "class values 0 and 65535 leave no value for nodata in the class raster"
    model = h.get("model")
    if not isinstance(model, dict):
        return "model is not an object"
    hidden = model.get("hidden_layers")
    if not isinstance(hidden, list) or not all(_whole(v) and v >= 1 for v in hidden):
        return "hidden_layers is not a list of whole numbers >= 1"
    if not isinstance(model.get("activation"), str) or not _number(model.get("dropout")):
        return "activation or dropout is missing or of the wrong type"
    if version >= 3:
        if not _whole(model.get("ensemble")) or model["ensemble"] < 1:
            return "ensemble is not a whole number >= 1"
        if not isinstance(model.get("distill"), bool):
            return "distill is not true or false"
    for key, kind in (("training", dict), ("metrics", dict), ("info", dict), ("history", list)):
        if key in h and not isinstance(h[key], kind):
            return f"{key} is not a JSON {'object' if kind is dict else 'list'}"
    return None


#: Largest weight a trained network holds; far above any trained here (standardised inputs,
#: weight decay), far below where float32 arithmetic overflows to a one-class map.
_MAX_WEIGHT = 1e6


def _check_values(model: LandCoverModel, path: Path) -> None:
    """Every weight finite and every standard deviation > 0.

    A damaged or crafted file otherwise loads and maps nonsense or NaN.
    """
    for name, array in model.state.items():
        if not np.isfinite(array).all():
            raise _not_a_model(path, f"tensor '{name}' holds NaN or infinite values; it is damaged")
        if name.startswith("layers.") and (np.abs(array) > _MAX_WEIGHT).any():
            raise _not_a_model(
                path, f"tensor '{name}' holds weights beyond {_MAX_WEIGHT:g}; it is damaged"
            )
    std, mean = model.state["std"], model.state["mean"]
    if (std <= 1e-6 * np.maximum(1.0, np.abs(mean))).any():
        raise _not_a_model(
            path,
            "a band's standard deviation is zero or next to it (<= 1e-6 x its mean); "
            "it is damaged",
        )


def _ensemble_of_one(
    state: dict[str, npt.NDArray[np.float32]],
) -> dict[str, npt.NDArray[np.float32]]:
    """A format-1 state (one network, Sequential indices) as a format-2 ensemble of one."""
    out = {k: v for k, v in state.items() if not k.startswith("layers.")}
    indices = sorted({int(k.split(".")[1]) for k in state if k.startswith("layers.")})
    for j, i in enumerate(indices):
        out[f"layers.{j}.weight"] = state[f"layers.{i}.weight"][None]
        out[f"layers.{j}.bias"] = state[f"layers.{i}.bias"][None]
    return out


def _check_shapes(model: LandCoverModel, path: Path) -> None:
    sizes = [len(model.bands), *model.model.hidden_layers, len(model.classes)]
    k = model.model.saved_networks
    expected: dict[str, tuple[int, ...]] = {"mean": (len(model.bands),), "std": (len(model.bands),)}
    for i in range(len(sizes) - 1):
        expected[f"layers.{i}.weight"] = (k, sizes[i + 1], sizes[i])
        expected[f"layers.{i}.bias"] = (k, sizes[i + 1])
    found = {name: tuple(a.shape) for name, a in model.state.items()}
    if found != expected:
        raise _not_a_model(path, "its weights do not match its description; it is damaged")
