"""Prediction: classify a whole raster block by block within a memory budget.

Only valid pixels go through the network, in chunks of a few thousand pixels so that the
activations stay in cache. Outputs are written window by window to temporary GeoTIFFs that
are moved into place only when everything succeeded.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from osgeo import gdal

from .callbacks import Hooks
from .classes import ClassInfo, hex_to_rgb, output_encoding
from .config import PredictionConfig
from .errors import LandCoverError
from .fileio import atomic_path
from .model_io import LandCoverModel
from .raster import Window, iter_windows, open_raster, raster_info, read_window

_CREATE = [
    "TILED=YES",
    "BLOCKXSIZE=256",
    "BLOCKYSIZE=256",
    "COMPRESS=DEFLATE",
    "BIGTIFF=IF_SAFER",
]
CONFIDENCE_NODATA = -1.0


@dataclass(frozen=True)
class PredictionResult:
    """What :func:`classify_raster` wrote.

    Attributes:
        classified: class raster path.
        confidence: confidence raster path, or None.
        probabilities: per-class probability raster path, or None.
        class_counts: pixels per class (index order of the model's classes).
        valid_pixels: pixels classified.
        seconds: wall time.
        device: description of the device used.
    """

    classified: Path
    confidence: Path | None
    probabilities: Path | None
    class_counts: tuple[int, ...]
    valid_pixels: int
    seconds: float
    device: str


class Predictor:
    """The MLP as plain matrix products on preallocated buffers (standardisation folded in)."""

    def __init__(self, model: LandCoverModel, device_name: str, chunk: int) -> None:
        import torch

        from .network import select_device

        self.torch = torch
        self.device, self.device_name = select_device(device_name)
        state = model.state
        mean = state["mean"].astype(np.float64)
        std = state["std"].astype(np.float64)
        keys = sorted(
            (k for k in state if k.endswith(".weight")),
            key=lambda k: int(k.split(".")[1]),
        )
        layers = []
        for i, key in enumerate(keys):
            w = state[key].astype(np.float64)
            b = state[key[: -len("weight")] + "bias"].astype(np.float64)
            if i == 0:  # (x - mean) / std folded into the first layer
                w = w / std[None, :]
                b = b - w @ mean
            layers.append(
                (
                    torch.from_numpy(np.ascontiguousarray(w.T, dtype=np.float32)).to(self.device),
                    torch.from_numpy(b.astype(np.float32)).to(self.device),
                )
            )
        self.layers = layers
        self.activation = {
            "relu": torch.relu_,
            "tanh": torch.tanh_,
            "sigmoid": torch.sigmoid_,
        }[model.model.activation]
        self.chunk = chunk if self.device.type == "cpu" else max(chunk, 262_144)
        self.buffers = [
            torch.empty((self.chunk, w.shape[1]), device=self.device) for w, _ in layers
        ]

    def run(
        self, x: np.ndarray, want_probs: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Class index, top probability and all probabilities of pixels ``x`` (n, bands)."""
        torch = self.torch
        n = x.shape[0]
        labels = np.empty(n, dtype=np.int64)
        top = np.empty(n, dtype=np.float32) if want_probs else None
        probs = np.empty((n, self.layers[-1][0].shape[1]), np.float32) if want_probs else None
        with torch.inference_mode():
            for s in range(0, n, self.chunk):
                e = min(n, s + self.chunk)
                h = torch.from_numpy(np.ascontiguousarray(x[s:e], dtype=np.float32))
                h = h.to(self.device, non_blocking=True)
                last = len(self.layers) - 1
                for i, (w, b) in enumerate(self.layers):
                    out = self.buffers[i][: e - s]
                    torch.addmm(b, h, w, out=out)
                    if i < last:
                        self.activation(out)
                    h = out
                labels[s:e] = h.argmax(1).cpu().numpy()
                if want_probs:
                    p = torch.softmax(h, dim=1)
                    probs[s:e] = p.cpu().numpy()  # type: ignore[index]
                    top[s:e] = p.max(1).values.cpu().numpy()  # type: ignore[index]
        return labels, top, probs


def _create(path: Path, like: gdal.Dataset, bands: int, dtype: str, nodata: float) -> gdal.Dataset:
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(
        str(path),
        like.RasterXSize,
        like.RasterYSize,
        bands,
        gdal.GetDataTypeByName(dtype),
        _CREATE,
    )
    ds.SetGeoTransform(like.GetGeoTransform())
    if like.GetProjection():
        ds.SetProjection(like.GetProjection())
    for i in range(bands):
        ds.GetRasterBand(i + 1).SetNoDataValue(nodata)
    return ds


def style_class_band(band: gdal.Band, classes: tuple[ClassInfo, ...], nodata: int) -> None:
    """Colour table and category names (index = class value) on a class raster band."""
    table = gdal.ColorTable()
    top = max(c.value for c in classes)
    names = [""] * (top + 1)
    for c in classes:
        table.SetColorEntry(c.value, (*hex_to_rgb(c.colour), 255))
        names[c.value] = c.name
    if nodata <= 255:
        table.SetColorEntry(nodata, (0, 0, 0, 0))
    band.SetRasterColorTable(table)
    band.SetRasterColorInterpretation(gdal.GCI_PaletteIndex)
    band.SetCategoryNames(names)
    band.SetDescription("class")


def _check_outputs(raster: str, outputs: list[Path]) -> None:
    for out in outputs:
        if out.suffix.lower() not in (".tif", ".tiff"):
            raise LandCoverError(f"Output '{out}' must be a GeoTIFF: give it a .tif extension.")
        if Path(raster).resolve() == out.resolve():
            raise LandCoverError(f"Output '{out}' is the input raster: choose another file name.")
    if len({o.resolve() for o in outputs}) != len(outputs):
        raise LandCoverError("Two outputs have the same file name: give each its own.")


def _write(
    out: gdal.Dataset,
    band: int,
    window: Window,
    valid: np.ndarray,
    values: np.ndarray,
    nodata: float,
    dtype: np.dtype,
) -> None:
    plane = np.full((window.ysize, window.xsize), nodata, dtype=dtype)
    plane[valid] = values
    out.GetRasterBand(band).WriteArray(plane, window.xoff, window.yoff)


def classify_raster(
    raster: str | Path,
    model: LandCoverModel,
    output: str | Path,
    confidence: str | Path | None = None,
    probabilities: str | Path | None = None,
    config: PredictionConfig | None = None,
    hooks: Hooks | None = None,
) -> PredictionResult:
    """Classify every valid pixel of ``raster`` and write a styled class GeoTIFF.

    Args:
        raster: image with the same bands as the training raster.
        model: the trained model.
        output: class raster (.tif), Byte or UInt16 as the class values need, with nodata,
            colour table and class names.
        confidence: optional Float32 raster of the top softmax probability (nodata -1).
        probabilities: optional Float32 raster with one probability band per class.
        config: memory budget, chunk size, device.
        hooks: progress and cancel (checked every block).

    Returns:
        What was written.

    Raises:
        LandCoverError: band mismatch, unwritable output, disk full.
        CancelledError: the user cancelled; no output file is created or replaced.
    """
    config = config or PredictionConfig()
    hooks = hooks or Hooks()
    started = time.perf_counter()
    ds = open_raster(raster)
    info = raster_info(ds)
    model.check_raster(info)
    outputs = [Path(p) for p in (output, confidence, probabilities) if p]
    _check_outputs(str(raster), outputs)
    net = Predictor(model, config.device, config.chunk_pixels)
    hooks.log(f"Classifying on {net.device_name}.")
    dtype, nodata = output_encoding(model.classes)
    values = np.array([c.value for c in model.classes])
    n_classes = len(model.classes)
    want_probs = bool(confidence or probabilities)
    bytes_per_pixel = len(model.bands) * 12 + 16 + (n_classes * 8 if want_probs else 0)
    max_pixels = max(65_536, config.memory_mb * 1024 * 1024 // bytes_per_pixel)
    windows = list(iter_windows(info, max_pixels))
    counts = np.zeros(n_classes, dtype=np.int64)
    with ExitStack() as stack:
        # Datasets live in this dict so that they are closed (dropped) before the temporary
        # files are moved into place or removed.
        dss: dict[str, gdal.Dataset] = {}
        stack.callback(dss.clear)
        dss["class"] = _create(stack.enter_context(atomic_path(output)), ds, 1, dtype, nodata)
        if confidence:
            tmp = stack.enter_context(atomic_path(confidence))
            dss["conf"] = _create(tmp, ds, 1, "Float32", CONFIDENCE_NODATA)
            dss["conf"].GetRasterBand(1).SetDescription("confidence (top class probability)")
        if probabilities:
            tmp = stack.enter_context(atomic_path(probabilities))
            dss["prob"] = _create(tmp, ds, n_classes, "Float32", CONFIDENCE_NODATA)
            for i, c in enumerate(model.classes):
                dss["prob"].GetRasterBand(i + 1).SetDescription(f"probability of {c.name}")
        for k, window in enumerate(windows):
            hooks.check()
            data, valid = read_window(ds, model.bands, window, info.nodata)
            labels, top, probs = net.run(data[:, valid].T, want_probs)
            counts += np.bincount(labels, minlength=n_classes)
            _write(dss["class"], 1, window, valid, values[labels], nodata, values.dtype)
            if "conf" in dss:
                _write(dss["conf"], 1, window, valid, top, CONFIDENCE_NODATA, np.float32)
            for i in range(n_classes if "prob" in dss else 0):
                _write(
                    dss["prob"],
                    i + 1,
                    window,
                    valid,
                    probs[:, i],
                    CONFIDENCE_NODATA,
                    np.float32,
                )
            hooks.progress(100.0 * (k + 1) / len(windows))
        hooks.check()
        style_class_band(dss["class"].GetRasterBand(1), model.classes, nodata)
        dss["class"].SetMetadataItem(
            "LANDCOVER_MLP_CLASSES", ",".join(c.name for c in model.classes)
        )
        gdal.ErrorReset()
        for out in dss.values():
            out.FlushCache()
        if gdal.GetLastErrorType() >= gdal.CE_Failure:
            raise LandCoverError(f"Writing failed: {gdal.GetLastErrorMsg()}")
    return PredictionResult(
        classified=Path(output),
        confidence=Path(confidence) if confidence else None,
        probabilities=Path(probabilities) if probabilities else None,
        class_counts=tuple(int(c) for c in counts),
        valid_pixels=int(counts.sum()),
        seconds=time.perf_counter() - started,
        device=net.device_name,
    )
