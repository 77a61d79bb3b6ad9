"""Prediction: classify a whole raster block by block within a memory budget.

Only valid pixels go through the network, in chunks of a few thousand pixels so that the
activations stay in cache. On the CPU one worker thread per core runs its own chunks with
single-threaded torch; reading the next window and writing the previous one run in two more
threads, so disk and compression overlap the network. Outputs are written window by window to
the temporary parts of an output stage, moved into place together only when everything
succeeded.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from osgeo import gdal

from .callbacks import Hooks
from .classes import ClassInfo, hex_to_rgb, output_encoding
from .config import PredictionConfig
from .errors import LandCoverError
from .fileio import OutputStage, quiet_gdal_destructors
from .model_io import LandCoverModel
from .predictor import Predictor
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
    """A sentence when the input's native blocks are larger than the memory budget, else None.

    GDAL decompresses (and caches) a whole block to read any part of it, so memory grows with
    the block, whatever the windows (a 15000 x 8000 x 4 raster stored as one DEFLATE strip
    took 2.9 GB, in 8192 px tiles 1.8 GB). None when the blocks fit.
    """
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
) -> tuple[npt.NDArray[np.number[Any]], npt.NDArray[np.bool_] | None]:
    """Valid pixels (bands, n) of a window, and its valid mask (None when all are valid).

    ``keep_blocks``: the next window reads the same native blocks (keep them cached).
    """
    data, valid = read_window(ds, bands, window, nodata)
    if not keep_blocks:  # drop the blocks just read: the cache would grow to GDAL_CACHEMAX
        ds.FlushCache()
    flat = data.reshape(len(bands), -1)
    if valid.all():
        return flat, None
    return np.compress(valid.reshape(-1), flat, axis=1), valid


def _put(out: gdal.Dataset, band: int, window: Window, valid: npt.NDArray[np.bool_] | None,
         values: npt.NDArray[np.number[Any]], nodata: float) -> None:  # fmt: skip
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
        # inside the GeoTIFF, so the names survive a copy without the .aux.xml (gdalwarp)
        self.datasets["class"].SetMetadataItem(
            CLASS_VALUES_ITEM, ",".join(str(c.value) for c in self.classes)
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

    def buffers(
        self, n: int
    ) -> tuple[
        npt.NDArray[np.int64], npt.NDArray[np.float32] | None, npt.NDArray[np.float32] | None
    ]:
        """Empty labels (n,), top probability (n,) and probabilities (classes, n) as needed.

        Args:
            n: valid pixels of the window.

        Returns:
            int64 labels (n,); float32 top probability (n,) when a confidence raster is
            written, else None; float32 probabilities (classes, n) when a probability raster
            is written, else None.
        """
        labels = np.empty(n, dtype=np.int64)
        top = np.empty(n, np.float32) if "conf" in self.datasets else None
        probs = np.empty((self.n_classes, n), np.float32) if "prob" in self.datasets else None
        return labels, top, probs

    def write(self, window: Window, valid: npt.NDArray[np.bool_] | None,
              labels: npt.NDArray[np.integer[Any]], top: npt.NDArray[np.float32] | None,
              probs: npt.NDArray[np.float32] | None) -> None:  # fmt: skip
        """Write one window's results (writer thread) and count its classes.

        Args:
            window: the window on the raster grid.
            valid: bool (rows, cols) mask of the window's valid pixels; None when all are.
            labels: class index of the valid pixels, integer (n,).
            top: top class probability of the valid pixels, float32 (n,), or None.
            probs: every class probability, float32 (classes, n), or None.
        """
        self.counts += np.bincount(labels, minlength=self.n_classes)
        _put(self.datasets["class"], 1, window, valid, np.take(self.lut, labels), self.nodata)
        if top is not None:
            _put(self.datasets["conf"], 1, window, valid, top, CONFIDENCE_NODATA)
        if probs is not None:
            for i in range(self.n_classes):
                _put(self.datasets["prob"], i + 1, window, valid, probs[i], CONFIDENCE_NODATA)
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


#: Dataset metadata of a class raster: its class values, in the order of the names in
#: ``LANDCOVER_MLP_CLASSES`` (both kept inside the file: see :func:`.evaluation.raster_classes`).
CLASS_VALUES_ITEM = "LANDCOVER_MLP_CLASS_VALUES"


def plan_windows(
    info: RasterInfo,
    model: LandCoverModel,
    config: PredictionConfig,
    want_probs: bool,
    max_pixels: int | None = None,
) -> list[Window]:
    """The windows to classify, in reading order.

    Aligned to the input's native blocks (:func:`~.raster.iter_windows`), each sized so that
    the work in flight fits ``config.memory_mb``, and ending on rows of the output's 256 px
    tiles where they can.

    Args:
        info: the input raster.
        model: the model (its bands and classes size the work per pixel).
        config: the memory budget.
        want_probs: confidence or probabilities are written too (more memory per pixel).
        max_pixels: a smaller cap on a window's pixels (a Dask task's share of the work), or
            None for the budget alone.

    Returns:
        Windows covering the raster once, each at most the budget (and ``max_pixels``).
    """
    itemsize = max(
        gdal.GetDataTypeSize(gdal.GetDataTypeByName(info.data_types[b - 1])) for b in model.bands
    )
    pixels = _window_pixels(
        config, max(1, itemsize // 8), len(model.bands), len(model.classes), want_probs
    )
    if max_pixels is not None:
        pixels = min(pixels, max(1, max_pixels))
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


class WindowRunner(Protocol):
    """Who classifies the windows of :func:`classify_raster` and hands their results on.

    Each window's results go to the outputs. The runner is this process
    (:class:`LocalRunner`) or the workers of a Dask cluster
    (:class:`~.distributed.DaskRunner`). The caller owns the outputs: one writer, whoever
    computes.
    """

    device_name: str
    #: a cap on a window's pixels, or None for the memory budget alone
    max_window_pixels: int | None

    def run(self, ds: gdal.Dataset, info: RasterInfo, bands: tuple[int, ...],
            windows: list[Window], out: _OutputRasters, hooks: Hooks) -> None:  # fmt: skip
        """Classify every window and pass its results to ``out.write``.

        ``hooks`` (cancel, progress) are checked as windows complete.
        """


class LocalRunner:
    """The windows classified in this process.

    A reader thread, the network's worker threads and a writer thread, overlapped (see
    :class:`~.predictor.Predictor`).
    """

    max_window_pixels: int | None = None

    def __init__(self, model: LandCoverModel, config: PredictionConfig) -> None:
        """Build the network on ``config.device`` (imports torch)."""
        self.net = Predictor(model, config.device, config.chunk_pixels)
        self.device_name = self.net.device_name

    def run(self, ds: gdal.Dataset, info: RasterInfo, bands: tuple[int, ...],
            windows: list[Window], out: _OutputRasters, hooks: Hooks) -> None:  # fmt: skip
        """Read, classify and write every window (see :class:`WindowRunner`)."""
        _classify_windows(ds, info, bands, windows, self.net, out, hooks)


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
    runner: WindowRunner | None = None,
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
        runner: who classifies the windows; None: this process (:class:`LocalRunner`), a
            :class:`~.distributed.DaskRunner`: the workers of a Dask cluster. This process
            writes the outputs either way.

    Returns:
        What was written, by final file names.

    Raises:
        LandCoverError: band mismatch, unwritable output, disk full.
        CancelledError: the user cancelled; no output file is created or replaced.
    """
    if stage is None:
        with OutputStage() as own:
            return classify_raster(raster, model, output, confidence, probabilities, config,
                                   hooks, stage=own, runner=runner)  # fmt: skip
    config = config or PredictionConfig()
    hooks = hooks or Hooks()
    started = time.perf_counter()
    ds = _open_input(raster)
    info = raster_info(ds)
    model.check_raster(info)
    refuse_complex_bands(info, model.bands)
    finals = {"class": output, "conf": confidence, "prob": probabilities}
    _check_outputs(str(raster), [Path(p) for p in finals.values() if p])
    runner = runner or LocalRunner(model, config)
    for sentence in nodata_warnings(info, model.bands):
        hooks.log(sentence)
    hooks.log(f"Classifying on {runner.device_name}.")
    windows = plan_windows(info, model, config, bool(confidence or probabilities),
                           runner.max_window_pixels)  # fmt: skip
    too_big = big_block_warning(info, model.bands, config.memory_mb)
    if too_big:
        hooks.log(too_big)
    parts = {key: stage.part(path) for key, path in finals.items() if path}
    with stage.user_errors():
        out = _OutputRasters(parts, ds, model)
        # Closed before the stage moves or removes the parts: Windows cannot move a file
        # GDAL still holds open, and GDAL writes the .aux.xml sidecar when it closes.
        try:
            runner.run(ds, info, tuple(model.bands), windows, out, hooks)
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
        device=runner.device_name,
    )
