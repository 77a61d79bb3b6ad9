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
import os
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .classes import ClassInfo
from .config import ModelConfig
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

    state: dict[str, np.ndarray]
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
        """The epoch early stopping chose (to mark on loss curves), or None without early
        stopping (the schedule's last epoch was kept)."""
        if not self.training.get("patience"):
            return None
        best = self.info.get("best_epoch")
        return int(best) if best else None

    def describe_network(self) -> str:
        """E.g. "one network 7-32-32-5 (relu), distilled from an ensemble of 5", "ensemble of
        5 networks 7-64-64-5 (relu), class probabilities averaged" or "one network 7-64-64-5
        (relu)"."""
        sizes = "-".join(map(str, (len(self.bands), *self.model.hidden_layers, len(self.classes))))
        k = self.model.ensemble
        kind = self.model.activation if self.model.hidden_layers else "linear, no hidden layer"
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

    Raises:
        LandCoverError: missing, corrupt, pickled or foreign file.
    """
    path = Path(path)
    if not path.is_file():
        raise LandCoverError(f"Model file '{path}' does not exist: check the path.")
    raw = path.read_bytes()
    if len(raw) < 8:
        raise _not_a_model(path, "the file is too short")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > min(_MAX_HEADER, len(raw) - 8) or raw[8:9] != b"{":
        if raw[:2] == b"PK" or raw[:1] == b"\x80":
            raise _not_a_model(
                path, "it is a pickle/zip file, which is never loaded because it can run code"
            )
        raise _not_a_model(path, "no valid header")
    try:
        table = json.loads(raw[8 : 8 + n].decode("utf-8"))
        header = json.loads(table.pop("__metadata__")[FORMAT])
    except (
        UnicodeDecodeError,
        json.JSONDecodeError,
        KeyError,
        TypeError,
        AttributeError,
    ):
        raise _not_a_model(path, "its header is not a Land Cover MLP description") from None
    version = header.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise LandCoverError(
            f"'{path.name}' was written by a newer Land Cover MLP; update the plugin to load it."
        )
    data = raw[8 + n :]
    state: dict[str, np.ndarray] = {}
    try:
        for name, spec in table.items():
            begin, end = spec["data_offsets"]
            if spec["dtype"] != "F32" or not 0 <= begin <= end <= len(data):
                raise ValueError(name)
            array = np.frombuffer(data[begin:end], dtype="<f4").astype(np.float32)
            state[name] = array.reshape(spec["shape"])
        if version < 2:
            state = _ensemble_of_one(state)
        model = LandCoverModel(
            state=state,
            bands=tuple(header["bands"]),
            band_names=tuple(header["band_names"]),
            band_count=int(header["band_count"]),
            nodata=tuple(header["nodata"]),
            classes=tuple(ClassInfo(**c) for c in header["classes"]),
            model=ModelConfig(
                **{
                    **header["model"],
                    "hidden_layers": tuple(header["model"]["hidden_layers"]),
                    **(
                        {}
                        if version >= 3
                        else {"ensemble": int(state["layers.0.weight"].shape[0]), "distill": False}
                    ),
                }
            ),
            training=header.get("training", {}),
            history=header.get("history", []),
            metrics=header.get("metrics", {}),
            info=header.get("info", {}),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise _not_a_model(path, f"it is damaged: {exc}") from None
    _check_shapes(model, path)
    return model


def _ensemble_of_one(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
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
