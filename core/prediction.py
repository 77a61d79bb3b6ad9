"""Prediction: classify a whole raster block by block within a memory budget.

Only valid pixels go through the network, in chunks of a few thousand pixels so that the
activations stay in cache. On the CPU one worker thread per core runs its own chunks with
single-threaded torch; reading the next window and writing the previous one run in two more
threads, so disk and compression overlap the network. Outputs are written window by window to
the temporary parts of an output stage, moved into place together only when everything
succeeded.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from osgeo import gdal

from . import threads
from .callbacks import Hooks
from .classes import ClassInfo, hex_to_rgb, output_encoding
from .config import PredictionConfig
from .errors import LandCoverError
from .fileio import OutputStage, quiet_gdal_destructors
from .model_io import LandCoverModel
from .raster import (
    RasterInfo,
    Window,
    iter_windows,
    nodata_warnings,
    open_raster,
    raster_info,
    read_window,
    refuse_complex_bands,
    same_blocks,
)

_TILE = 256
_CREATE = [
    "TILED=YES",
    f"BLOCKXSIZE={_TILE}",
    f"BLOCKYSIZE={_TILE}",
    "COMPRESS=DEFLATE",
    # Level 1 compresses a class map 4x faster than the default 6, for files ~15 % larger.
    "ZLEVEL=1",
    "BIGTIFF=IF_SAFER",
]
CONFIDENCE_NODATA = -1.0
# exp() of a logit this far below the top one is 1.8e-35, still a normal float32: lower ones
# give denormal numbers, which the CPU computes 20x slower (measured: the softmax of a
# confident ensemble took half the prediction time), for probabilities that are 0 anyway.
_EXP_FLOOR = -80.0


def _fused_linear(torch: Any, activation: str) -> Any | None:
    """oneDNN's fused linear + activation, or None where this torch build lacks it.

    Why: for 64-wide layers it ran 2x faster than MKL's sgemm behind ``addmm`` on our AMD test
    machine, and it applies the activation while the output is still in registers. It is
    torch's own (private) op for compiled CPU graphs, hence the check that it still works.
    Only on x86-64, where it was measured; elsewhere (Apple, ARM) the BLAS path is kept.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        op = torch.ops.mkldnn._linear_pointwise
        x, w, b = torch.ones(64, 3), torch.ones(2, 3), torch.zeros(2)
        with torch.inference_mode():
            if torch.equal(op(x, w, b, "relu", [], ""), torch.full((64, 2), 3.0)):
                return lambda h, w, b: op(h, w, b, activation, [], "")
    except Exception:  # noqa: BLE001 - any failure means: use addmm
        pass
    return None


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
    """The MLP as plain matrix products (standardisation folded into the first layer).

    On the CPU, one worker thread per torch thread takes chunks from a shared queue and runs
    them with single-threaded torch. Every chunk is computed at the full chunk size (a short
    last chunk is padded), because BLAS picks other kernels for other shapes and these round
    differently: so a pixel's result never depends on how pixels were split into windows,
    chunks or threads.
    """

    def __init__(self, model: LandCoverModel, device_name: str, chunk: int) -> None:
        import torch

        from .network import layer_count, members_of, select_device

        self.torch = torch
        self.device, self.device_name = select_device(device_name)
        self.cpu = self.device.type == "cpu"
        state = model.state
        mean = state["mean"].astype(np.float64)
        std = state["std"].astype(np.float64)
        n_layers = layer_count(state)
        self.members = members_of(state)

        def tensor(a: np.ndarray) -> Any:
            return torch.from_numpy(np.ascontiguousarray(a)).to(self.device)

        layers = []  # per layer: weights (members, out, in), biases (members, out)
        for i in range(n_layers):
            w = state[f"layers.{i}.weight"].astype(np.float64)
            b = state[f"layers.{i}.bias"].astype(np.float64)
            if i == 0:  # (x - mean) / std folded into the first layer
                w = w / std[None, None, :]
                b = b - np.einsum("koi,i->ko", w, mean)
            layers.append((w.astype(np.float32), b.astype(np.float32)))

        # Per network of the ensemble: weights as (out, in). Hidden layers run pixels first,
        # (n, in) @ (in, out); the output layer transposed, (classes, in) @ (in, n): measured
        # fastest for each shape (a 64 -> 6 product is 3x slower the other way round), and
        # classes first suit the reductions. An ensemble's logits go into one
        # (members, classes, chunk) buffer so that the softmax and the mean run once per chunk.
        self.nets = [
            (
                [(tensor(w[m]), tensor(b[m])) for w, b in layers[:-1]],
                (tensor(layers[-1][0][m]), tensor(layers[-1][1][m][:, None])),
            )
            for m in range(self.members)
        ]
        self.n_bands = int(state["layers.0.weight"].shape[2])
        self.n_classes = int(state[f"layers.{n_layers - 1}.weight"].shape[1])
        act = model.model.activation
        self.activation = getattr(torch, act + "_")  # in place: relu_, tanh_, sigmoid_
        self.fused = _fused_linear(torch, act) if self.cpu else None
        # A multiple of 256 pixels: then no product or elementwise op has a ragged edge, which
        # BLAS and vector code compute by other paths (a pixel's result would then depend on
        # where it falls in its chunk).
        chunk = -(-chunk // 256) * 256
        self.chunk = chunk if self.cpu else max(chunk, 262_144)
        self.workers = threads.cpu_threads(torch) if self.cpu else 1
        self._slots: list[dict[str, Any]] = []

    def _buffers(self) -> dict[str, Any]:
        """One worker's buffers: input (chunk, bands) on the host, activations on the device."""
        torch, c, k, on = self.torch, self.chunk, self.n_classes, {"device": self.device}
        x = torch.zeros((c, self.n_bands))  # zeros: padding must be finite, never garbage
        widths = [w.shape[0] for w, _ in self.nets[0][0]]
        hidden = [] if self.fused else [torch.empty((c, width), **on) for width in widths]
        if self.members > 1:
            hidden = hidden + [torch.empty((self.members, k, c), **on)]
        return {"x": x, "x_np": x.numpy(), "hidden": hidden, "logits": torch.empty((k, c), **on),
                "probs": torch.empty((k, c), **on), "top": torch.empty(c, **on),
                "member_top": torch.empty((self.members, 1, c), **on),
                "member_sum": torch.empty((self.members, 1, c), **on),
                "index": torch.empty(c, dtype=torch.int64, **on)}  # fmt: skip

    def _logits(self, buf: dict[str, Any], h: Any, member: int = 0,
                out: Any = None) -> Any:  # fmt: skip
        """One network's logits (classes, chunk) of the chunk ``h`` (chunk, bands)."""
        torch = self.torch
        hidden, last = self.nets[member]
        if self.fused is not None:
            for w, b in hidden:  # a fresh output each layer: oneDNN has no out=
                h = self.fused(h, w, b)
        else:
            for (w, b), act in zip(hidden, buf["hidden"]):
                torch.addmm(b, h, w.T, out=act)
                self.activation(act)
                h = act
        logits = buf["logits"] if out is None else out
        torch.addmm(last[1], last[0], h.T, out=logits)
        return logits

    def _ensemble_probs(self, buf: dict[str, Any], h: Any) -> Any:
        """The ensemble's mean class probabilities (classes, chunk) of ``h`` (chunk, bands)."""
        torch = self.torch
        logits = buf["hidden"][-1]  # (members, classes, chunk)
        for m in range(self.members):
            self._logits(buf, h, m, logits[m])
        # Each member's softmax from its max: exp(l - max) / sum, then the mean over members.
        torch.amax(logits, 1, keepdim=True, out=buf["member_top"])
        logits.sub_(buf["member_top"]).clamp_min_(_EXP_FLOOR).exp_()
        torch.sum(logits, 1, keepdim=True, out=buf["member_sum"])
        logits.div_(buf["member_sum"])
        return torch.mean(logits, 0, out=buf["probs"])

    def _work(self, buf: dict[str, Any], x: np.ndarray, starts: Iterator[int], labels: np.ndarray,
              top: np.ndarray | None, probs: np.ndarray | None) -> None:  # fmt: skip
        torch, n = self.torch, x.shape[1]
        if self.cpu:  # MKL's thread count is per thread: a new thread would use every core
            torch.set_num_threads(1)
        with torch.inference_mode():
            for s in starts:
                e = min(n, s + self.chunk)
                # Cast and transpose in one copy: oneDNN wants pixels x bands contiguous.
                np.copyto(buf["x_np"][: e - s], x[:, s:e].T, casting="unsafe")
                h = buf["x"] if self.cpu else buf["x"].to(self.device)
                if self.members == 1:
                    logits = self._logits(buf, h)
                    # max() with out= is ~20x faster than argmax() along the first axis.
                    torch.max(logits, 0, out=(buf["top"], buf["index"]))
                    labels[s:e] = buf["index"][: e - s].cpu().numpy()
                    if top is None and probs is None:
                        continue
                    # Softmax from the max already at hand: p = exp(l - max) / sum.
                    p = torch.sub(logits, buf["top"], out=buf["probs"])
                    p.clamp_min_(_EXP_FLOOR).exp_()
                    total = p.sum(0)
                    if top is not None:
                        top[s:e] = total.reciprocal()[: e - s].cpu().numpy()
                    if probs is not None:
                        probs[:, s:e] = p.div_(total)[:, : e - s].cpu().numpy()
                    continue
                p = self._ensemble_probs(buf, h)
                torch.max(p, 0, out=(buf["top"], buf["index"]))
                labels[s:e] = buf["index"][: e - s].cpu().numpy()
                if top is not None:
                    top[s:e] = buf["top"][: e - s].cpu().numpy()
                if probs is not None:
                    probs[:, s:e] = p[:, : e - s].cpu().numpy()

    def predict(
        self,
        x: np.ndarray,
        labels: np.ndarray,
        top: np.ndarray | None = None,
        probs: np.ndarray | None = None,
    ) -> None:
        """Classify pixels ``x`` (bands, n), any numeric type, into the given arrays.

        Args:
            x: pixel values, one row per band.
            labels: (n,) int64, receives the class index.
            top: optional (n,) float32, receives the top softmax probability.
            probs: optional (classes, n) float32, receives every class probability.
        """
        n = x.shape[1]
        workers = max(1, min(self.workers, -(-n // self.chunk)))
        while len(self._slots) < workers:
            self._slots.append(self._buffers())
        starts = iter(range(0, n, self.chunk))  # shared: each worker takes the next chunk
        jobs = [(buf, x, starts, labels, top, probs) for buf in self._slots[:workers]]
        if not self.cpu:
            self._work(*jobs[0])
            return
        with threads.single_threaded(self.torch):
            if workers == 1:
                self._work(*jobs[0])
                return
            with ThreadPoolExecutor(workers) as pool:
                for job in [pool.submit(self._work, *args) for args in jobs]:
                    job.result()

    def run(
        self, x: np.ndarray, want_probs: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Class index, top probability and all probabilities of pixels ``x`` (n, bands)."""
        n = x.shape[0]
        labels = np.empty(n, dtype=np.int64)
        top = np.empty(n, dtype=np.float32) if want_probs else None
        probs = np.empty((self.n_classes, n), np.float32) if want_probs else None
        self.predict(x.T, labels, top, probs)
        return labels, top, None if probs is None else np.ascontiguousarray(probs.T)


def _create(path: Path, like: gdal.Dataset, bands: int, dtype: str, nodata: float) -> gdal.Dataset:
    size = (like.RasterXSize, like.RasterYSize, bands, gdal.GetDataTypeByName(dtype))
    ds = gdal.GetDriverByName("GTiff").Create(str(path), *size, _CREATE)
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


def _window_pixels(config: PredictionConfig, itemsize: int, bands: int, n_classes: int,
                   probs: bool) -> int:  # fmt: skip
    """Pixels per window so that everything in flight fits ``config.memory_mb``."""
    # Three windows are alive at once: one being read (GDAL's blocks and the array), one being
    # classified (the array and its valid pixels gathered) and one being written (labels,
    # class values and the plane with nodata), plus the float outputs when asked for.
    per_pixel = bands * itemsize * 4 + 3 + 2 * 8 + 2 * 2
    if probs:
        per_pixel += 3 * 4 * (n_classes + 1)
    return max(65_536, config.memory_mb * 1024 * 1024 // per_pixel)


def big_block_warning(info: RasterInfo, bands: tuple[int, ...], memory_mb: int) -> str | None:
    """A sentence when the input's native blocks are larger than the memory budget: GDAL
    decompresses (and caches) a whole block to read any part of it, so memory grows with the
    block, whatever the windows (a 15000 x 8000 x 4 raster stored as one DEFLATE strip took
    2.9 GB, in 8192 px tiles 1.8 GB). None when the blocks fit."""
    bx, by = (max(1, v) for v in info.block_size)
    itemsize = max(
        gdal.GetDataTypeSize(gdal.GetDataTypeByName(info.data_types[b - 1])) // 8 for b in bands
    )
    block_mb = bx * by * len(bands) * itemsize / 2**20
    if block_mb <= memory_mb:
        return None
    return (
        f"'{Path(info.path).name}' stores its pixels in blocks of {bx} x {by} ({block_mb:,.0f} MB "
        f"for the bands used), more than the {memory_mb} MB memory budget: GDAL reads a whole "
        "block at a time, so memory will exceed the budget. For bounded memory, re-tile it "
        "first: gdal_translate -co TILED=YES -co COMPRESS=DEFLATE in.tif out.tif."
    )


def _read(
    ds: gdal.Dataset,
    bands: tuple[int, ...],
    window: Window,
    nodata: tuple[float | None, ...],
    keep_blocks: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Valid pixels (bands, n) of a window, and its valid mask (None when all are valid).
    ``keep_blocks``: the next window reads the same native blocks (keep them cached)."""
    data, valid = read_window(ds, bands, window, nodata)
    if not keep_blocks:  # drop the blocks just read: the cache would grow to GDAL_CACHEMAX
        ds.FlushCache()
    flat = data.reshape(len(bands), -1)
    if valid.all():
        return flat, None
    return np.compress(valid.reshape(-1), flat, axis=1), valid


def _put(out: gdal.Dataset, band: int, window: Window, valid: np.ndarray | None,
         values: np.ndarray, nodata: float) -> None:  # fmt: skip
    shape = (window.ysize, window.xsize)
    if valid is None:
        plane = values.reshape(shape)
    else:
        plane = np.full(shape, nodata, dtype=values.dtype)
        plane[valid] = values
    out.GetRasterBand(band).WriteArray(plane, window.xoff, window.yoff)


class _OutputRasters:
    """The open output GeoTIFFs of one classification and how a window is written to them.

    After :meth:`open` only the writer thread uses them (a GDAL dataset must not be used by
    two threads at once); :meth:`close` drops them, which closes the files.
    """

    def __init__(self, parts: dict[str, Path], like: gdal.Dataset, model: LandCoverModel) -> None:
        """Create the outputs staged at ``parts`` ("class", and "conf" / "prob" when asked)."""
        self.classes = model.classes
        self.n_classes = len(model.classes)
        dtype, self.nodata = output_encoding(model.classes)
        self.lut = np.array([c.value for c in model.classes],
                            np.uint8 if dtype == "Byte" else np.uint16)  # fmt: skip
        self.counts = np.zeros(self.n_classes, dtype=np.int64)
        self.width, self.height = like.RasterXSize, like.RasterYSize
        self.datasets: dict[str, gdal.Dataset] = {}
        self.datasets["class"] = _create(parts["class"], like, 1, dtype, self.nodata)
        # Styled before any pixel is written: libtiff refuses a colour table (photometric
        # tag) once GDAL has had to write tiles out, e.g. a full cache on a large raster.
        style_class_band(self.datasets["class"].GetRasterBand(1), self.classes, self.nodata)
        self.datasets["class"].SetMetadataItem(
            "LANDCOVER_MLP_CLASSES", ",".join(c.name for c in self.classes)
        )
        if "conf" in parts:
            conf = _create(parts["conf"], like, 1, "Float32", CONFIDENCE_NODATA)
            conf.GetRasterBand(1).SetDescription("confidence (top class probability)")
            self.datasets["conf"] = conf
        if "prob" in parts:
            prob = _create(parts["prob"], like, self.n_classes, "Float32", CONFIDENCE_NODATA)
            for i, c in enumerate(self.classes):
                prob.GetRasterBand(i + 1).SetDescription(f"probability of {c.name}")
            self.datasets["prob"] = prob

    def buffers(self, n: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Empty labels (n,), top probability (n,) and probabilities (classes, n) as needed."""
        labels = np.empty(n, dtype=np.int64)
        top = np.empty(n, np.float32) if "conf" in self.datasets else None
        probs = np.empty((self.n_classes, n), np.float32) if "prob" in self.datasets else None
        return labels, top, probs

    def write(self, window: Window, valid: np.ndarray | None, labels: np.ndarray,
              top: np.ndarray | None, probs: np.ndarray | None) -> None:  # fmt: skip
        """Write one window's results (writer thread) and count its classes."""
        self.counts += np.bincount(labels, minlength=self.n_classes)
        _put(self.datasets["class"], 1, window, valid, np.take(self.lut, labels), self.nodata)
        if top is not None:
            _put(self.datasets["conf"], 1, window, valid, top, CONFIDENCE_NODATA)
        for i in range(self.n_classes if probs is not None else 0):
            _put(self.datasets["prob"], i + 1, window, valid, probs[i], CONFIDENCE_NODATA)  # type: ignore[index]
        # Flush (compress and release) once a row of output tiles is complete: earlier
        # would rewrite half-filled tiles, never would let the GDAL cache fill up.
        y_end = window.yoff + window.ysize
        x_end = window.xoff + window.xsize
        whole_tiles = (  # this window alone completes every output tile it touches
            window.xoff % _TILE == 0 and window.yoff % _TILE == 0
            and (x_end % _TILE == 0 or x_end == self.width)
            and (y_end % _TILE == 0 or y_end == self.height)
        )  # fmt: skip
        if whole_tiles or (x_end == self.width and (y_end % _TILE == 0 or y_end == self.height)):
            for out in self.datasets.values():
                out.FlushCache()

    def finish(self) -> None:
        """Flush everything to disk.

        Raises:
            LandCoverError: GDAL reported a failed write.
        """
        gdal.ErrorReset()
        for out in self.datasets.values():
            out.FlushCache()
        if gdal.GetLastErrorType() >= gdal.CE_Failure:
            raise LandCoverError(f"Writing failed: {gdal.GetLastErrorMsg()}")

    def close(self) -> None:
        """Close the files: no reference to a dataset may outlive this.

        A write that fails again while a file closes (the disk still full after
        :meth:`finish` or the run's error said so) raises inside GDAL's destructor, which
        Python can only print as "Exception ignored ... Traceback": such GDAL errors are not
        printed here, the failure having been reported already.
        """
        with quiet_gdal_destructors():
            self.datasets.clear()


def _open_input(raster: str | Path) -> gdal.Dataset:
    """Open the raster to classify with GDAL's direct I/O for uncompressed GeoTIFFs."""
    # Uncompressed GeoTIFFs are then read straight into our arrays, past GDAL's block cache:
    # twice as fast. Thread-local and read at open, so the host's settings stay untouched.
    previous = gdal.GetThreadLocalConfigOption("GTIFF_DIRECT_IO", None)
    gdal.SetThreadLocalConfigOption("GTIFF_DIRECT_IO", "YES")
    try:
        return open_raster(raster)
    finally:
        gdal.SetThreadLocalConfigOption("GTIFF_DIRECT_IO", previous)


def _plan_windows(
    info: RasterInfo, model: LandCoverModel, config: PredictionConfig, want_probs: bool
) -> list[Window]:
    """The windows to classify, each sized so that the work in flight fits the budget."""
    itemsize = max(
        gdal.GetDataTypeSize(gdal.GetDataTypeByName(info.data_types[b - 1])) for b in model.bands
    )
    pixels = _window_pixels(
        config, max(1, itemsize // 8), len(model.bands), len(model.classes), want_probs
    )
    return list(iter_windows(info, pixels, align_rows=_TILE))


def _classify_windows(ds: gdal.Dataset, info: RasterInfo, bands: tuple[int, ...],
                      windows: list[Window], net: Predictor, out: _OutputRasters,
                      hooks: Hooks) -> None:  # fmt: skip
    """Read, classify and write every window, the three overlapped in a pipeline.

    The reader thread alone uses ``ds``, the writer thread alone the outputs; the pools wait
    for their last job before this returns or raises.
    """
    with ThreadPoolExecutor(1) as reader, ThreadPoolExecutor(1) as writer:
        pending: Future[None] | None = None

        def keep(k: int) -> bool:
            return k + 1 < len(windows) and same_blocks(info, windows[k], windows[k + 1])

        ahead = reader.submit(_read, ds, bands, windows[0], info.nodata, keep(0))
        for k, window in enumerate(windows):
            hooks.check()
            x, valid = ahead.result()
            if k + 1 < len(windows):
                ahead = reader.submit(_read, ds, bands, windows[k + 1], info.nodata, keep(k + 1))
            labels, top, probs = out.buffers(x.shape[1])
            net.predict(x, labels, top, probs)
            if pending is not None:
                pending.result()  # one window written at a time; raises its error here
            pending = writer.submit(out.write, window, valid, labels, top, probs)
            hooks.progress(100.0 * (k + 1) / len(windows))
        if pending is not None:
            pending.result()


def classify_raster(
    raster: str | Path,
    model: LandCoverModel,
    output: str | Path,
    confidence: str | Path | None = None,
    probabilities: str | Path | None = None,
    config: PredictionConfig | None = None,
    hooks: Hooks | None = None,
    *,
    stage: OutputStage | None = None,
) -> PredictionResult:
    """Classify every valid pixel of ``raster`` and write a styled class GeoTIFF.

    The outputs are one output stage: written to temporary parts and moved into place
    together when everything succeeded (see :class:`~.fileio.OutputStage`).

    Args:
        raster: image with the same bands as the training raster.
        model: the trained model.
        output: class raster (.tif), Byte or UInt16 as the class values need, with nodata,
            colour table and class names.
        confidence: optional Float32 raster of the top softmax probability (nodata -1).
        probabilities: optional Float32 raster with one probability band per class.
        config: memory budget, chunk size, device.
        hooks: progress and cancel (checked every block).
        stage: a stage owned by the caller: the rasters are written, closed, to its parts
            (``stage.part_of(output)``), where the caller may add sidecars such as a .qml
            before it commits. None: the rasters are committed before this returns.

    Returns:
        What was written, by final file names.

    Raises:
        LandCoverError: band mismatch, unwritable output, disk full.
        CancelledError: the user cancelled; no output file is created or replaced.
    """
    if stage is None:
        with OutputStage() as own:
            return classify_raster(raster, model, output, confidence, probabilities, config,
                                   hooks, stage=own)  # fmt: skip
    config = config or PredictionConfig()
    hooks = hooks or Hooks()
    started = time.perf_counter()
    ds = _open_input(raster)
    info = raster_info(ds)
    model.check_raster(info)
    refuse_complex_bands(info, model.bands)
    finals = {"class": output, "conf": confidence, "prob": probabilities}
    _check_outputs(str(raster), [Path(p) for p in finals.values() if p])
    net = Predictor(model, config.device, config.chunk_pixels)
    for sentence in nodata_warnings(info, model.bands):
        hooks.log(sentence)
    hooks.log(f"Classifying on {net.device_name}.")
    windows = _plan_windows(info, model, config, bool(confidence or probabilities))
    too_big = big_block_warning(info, model.bands, config.memory_mb)
    if too_big:
        hooks.log(too_big)
    parts = {key: stage.part(path) for key, path in finals.items() if path}
    with stage.user_errors():
        out = _OutputRasters(parts, ds, model)
        # Closed before the stage moves or removes the parts: Windows cannot move a file
        # GDAL still holds open, and GDAL writes the .aux.xml sidecar when it closes.
        try:
            _classify_windows(ds, info, tuple(model.bands), windows, net, out, hooks)
            hooks.check()
            out.finish()
        finally:
            out.close()
    return PredictionResult(
        classified=Path(output),
        confidence=Path(confidence) if confidence else None,
        probabilities=Path(probabilities) if probabilities else None,
        class_counts=tuple(int(c) for c in out.counts),
        valid_pixels=int(out.counts.sum()),
        seconds=time.perf_counter() - started,
        device=net.device_name,
    )
