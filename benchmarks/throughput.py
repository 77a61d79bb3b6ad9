"""Prediction throughput of ``classify_raster`` next to its floors and scikit-learn.

Run from the repository root (``make bench`` does)::

    PYTHONPATH=build/plugins .venv/bin/python benchmarks/throughput.py [--size 10000]

Steps:

1. Generate (once; reused while the recipe matches) a SIZE x SIZE raster of 10 UInt16 bands,
   tiled GeoTIFF, strip by strip so generation stays within the memory target: blocky
   "fields" of six spectral classes with per-field brightness and per-pixel noise, and a
   nodata corner (3 % of the pixels) like the edge of a scene.
2. Draw training polygons inside fields of known class and train the default model (the
   settings' defaults: an ensemble of 5 networks of 32-32, relu) on them with
   ``workflow.train_model`` (10 epochs by default: the classes are easy, and the model's
   quality does not change its speed).
3. Time the I/O floor (plain GDAL read of the 10 bands block row by block row, plus writing a
   Byte tiled compressed GeoTIFF of the same size) and the compute floor (the network's FLOPs
   per pixel, all networks of the ensemble, against the FLOP/s of a 4096 x 4096 float32
   matmul with all cores).
4. Time scikit-learn's ``MLPClassifier((64, 64)).predict`` (what a user would pick instead)
   on pixels of the raster.
5. Time ``classify_raster`` on the whole raster in a fresh subprocess, whose peak RSS
   (VmHWM: the whole process, so Python, torch and GDAL included) is the memory figure.
   Not ``ru_maxrss``: Linux keeps that across fork and exec, so a child would report the
   benchmark's own peak.

The input is read from the OS page cache (the file was just written or read), for the floor
and for the classifier alike, so the figures are CPU figures, not disk figures. Other work on
the machine lowers every wall-clock figure: the load average and the classify step's CPU time
are printed too. The last line printed is one JSON object with all the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr, osr

try:
    import landcover_mlp  # noqa: F401
except ImportError:  # run without PYTHONPATH: use the plugin folder link of `make link`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build" / "plugins"))

gdal.UseExceptions()
ogr.UseExceptions()

BANDS = 10
CELL = 40  # field size in pixels
BLOCK = 256
NODATA = 0
PIXEL = 10.0
ORIGIN = (500_000.0, 5_000_000.0)
RECIPE = "throughput-v1"
CLASSES = ("water", "forest", "grassland", "cropland", "urban", "bare soil")
# Made-up reflectance x 10000 of each class in 10 bands (visible to SWIR-like).
SPECTRA = np.array(
    [
        [520, 480, 400, 300, 220, 160, 120, 90, 70, 60],
        [300, 420, 320, 900, 2600, 3000, 3100, 1500, 800, 600],
        [450, 650, 600, 1200, 2400, 2700, 2800, 2300, 1600, 1200],
        [600, 800, 900, 1500, 2000, 2200, 2300, 2600, 2100, 1700],
        [1200, 1300, 1400, 1500, 1600, 1700, 1750, 2100, 2000, 1900],
        [1100, 1400, 1800, 2200, 2500, 2700, 2900, 3300, 3100, 2800],
    ],
    dtype=np.float32,
).T  # (bands, classes)


def _rss_mb(key: str = "VmRSS") -> float:
    """Current (VmRSS) or peak (VmHWM) resident memory of this process, in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Scene:
    """The seeded layout: class and brightness of every field; any strip can be rebuilt."""

    def __init__(self, size: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        cells = -(-size // CELL)
        # Regions of 8 x 8 fields share a class; 35 % of the fields take another one.
        region = rng.integers(0, len(CLASSES), (cells // 8 + 1, cells // 8 + 1))
        grid = np.kron(region, np.ones((8, 8), dtype=region.dtype))[:cells, :cells]
        other = rng.random((cells, cells)) < 0.35
        grid[other] = rng.integers(0, len(CLASSES), int(other.sum()))
        self.size = size
        self.seed = seed
        self.grid = grid
        self.gain = rng.normal(1.0, 0.06, (cells, cells)).astype(np.float32)

    def labels(self, y0: int, rows: int) -> np.ndarray:
        """Class index (0-based) of every pixel of a full-width strip; -1 for nodata."""
        ys = np.arange(y0, y0 + rows)[:, None]
        xs = np.arange(self.size)[None, :]
        out = self.grid[ys // CELL, xs // CELL].astype(np.int8)
        out[xs + ys < self.size // 4] = -1  # the nodata corner
        return out

    def strip(self, y0: int, rows: int, rng: np.random.Generator) -> np.ndarray:
        """Pixel values (bands, rows, size) UInt16 of a full-width strip."""
        labels = self.labels(y0, rows)
        ys = np.arange(y0, y0 + rows)[:, None] // CELL
        gain = self.gain[ys, np.arange(self.size)[None, :] // CELL]
        value = SPECTRA[:, np.maximum(labels, 0)] * gain
        noise = rng.standard_normal(value.shape, dtype=np.float32)
        value += (0.05 * value + 30.0) * noise
        out = np.clip(value, 1, 65535).astype(np.uint16)
        out[:, labels < 0] = NODATA
        return out


def _srs_wkt() -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    return srs.ExportToWkt()


def generate_raster(scene: Scene, path: Path, compress: str) -> float:
    """Write the scene's raster unless an identical one is there; returns seconds spent."""
    recipe = f"{RECIPE} size={scene.size} seed={scene.seed} compress={compress}"
    if path.exists():
        try:
            if gdal.Open(str(path)).GetMetadataItem("BENCH_RECIPE") == recipe:
                return 0.0
        except RuntimeError:
            pass
    started = time.perf_counter()
    tmp = path.with_suffix(".tmp.tif")
    options = ["TILED=YES", f"BLOCKXSIZE={BLOCK}", f"BLOCKYSIZE={BLOCK}", "BIGTIFF=IF_SAFER"]
    if compress != "NONE":
        options.append(f"COMPRESS={compress}")
    ds = gdal.GetDriverByName("GTiff").Create(
        str(tmp), scene.size, scene.size, BANDS, gdal.GDT_UInt16, options
    )
    ds.SetGeoTransform((ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL))
    ds.SetProjection(_srs_wkt())
    for b in range(BANDS):
        ds.GetRasterBand(b + 1).SetNoDataValue(NODATA)
        ds.GetRasterBand(b + 1).SetDescription(f"B{b + 1}")
    rng = np.random.default_rng(scene.seed + 1)
    for y in range(0, scene.size, BLOCK):
        rows = min(BLOCK, scene.size - y)
        ds.WriteArray(scene.strip(y, rows, rng), 0, y)
        ds.FlushCache()  # write the strip out now: dirty blocks would fill the GDAL cache
    ds.SetMetadataItem("BENCH_RECIPE", recipe)
    ds = None
    os.replace(tmp, path)
    return time.perf_counter() - started


def write_polygons(scene: Scene, path: Path, per_class: int, side: int = 24) -> int:
    """Square training polygons inside fields of each class (class_id = class index + 1)."""
    rng = np.random.default_rng(scene.seed + 2)
    cells = scene.size // CELL
    inset = (CELL - side) // 2
    if path.exists():
        path.unlink()
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromWkt(_srs_wkt())
    layer = ds.CreateLayer("training", srs, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))
    layer.CreateField(ogr.FieldDefn("class_name", ogr.OFTString))
    layer.StartTransaction()
    n = 0
    for k, name in enumerate(CLASSES):
        rows, cols = np.nonzero(scene.grid[:cells, :cells] == k)
        keep = (rows + cols) * CELL > scene.size // 4 + 2 * CELL  # away from the nodata corner
        rows, cols = rows[keep], cols[keep]
        for i in rng.permutation(len(rows))[:per_class]:
            x0 = ORIGIN[0] + (cols[i] * CELL + inset) * PIXEL
            y0 = ORIGIN[1] - (rows[i] * CELL + inset) * PIXEL
            x1, y1 = x0 + side * PIXEL, y0 - side * PIXEL
            feature = ogr.Feature(layer.GetLayerDefn())
            feature.SetField("class_id", k + 1)
            feature.SetField("class_name", name)
            wkt = f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"
            feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
            layer.CreateFeature(feature)
            n += 1
    layer.CommitTransaction()
    ds = None
    return n


#: The peer's hidden layers: scikit-learn's MLPClassifier as a user would set it up.
SKLEARN_HIDDEN = (64, 64)


def flops_per_pixel(sizes: list[int]) -> int:
    """Multiply-adds x 2 of one pixel through fully connected layers of these widths."""
    return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def io_floor(raster: Path, out_path: Path, scene: Scene, create: list[str]) -> float:
    """Seconds to read every band of the raster block row by block row and write a Byte
    GeoTIFF of the same size (the true class map, so it compresses like a classification)."""
    labels = [
        (scene.labels(y, min(BLOCK, scene.size - y)) + 1).astype(np.uint8)
        for y in range(0, scene.size, BLOCK)
    ]
    started = time.perf_counter()
    ds = gdal.Open(str(raster))
    out = gdal.GetDriverByName("GTiff").Create(
        str(out_path), ds.RasterXSize, ds.RasterYSize, 1, gdal.GDT_Byte, create
    )
    out.SetGeoTransform(ds.GetGeoTransform())
    out.SetProjection(ds.GetProjection())
    band = out.GetRasterBand(1)
    band.SetNoDataValue(0)
    for i, y in enumerate(range(0, scene.size, BLOCK)):
        rows = min(BLOCK, scene.size - y)
        data = ds.ReadAsArray(0, y, ds.RasterXSize, rows)
        assert data.shape == (BANDS, rows, ds.RasterXSize)
        band.WriteArray(labels[i], 0, y)
        ds.FlushCache()  # both flushes keep memory bounded, as classify_raster does
        out.FlushCache()
    out = None
    ds = None
    return time.perf_counter() - started


def compute_floor_flops(repeats: int = 5) -> float:
    """FLOP/s torch reaches on a 4096 x 4096 float32 matmul with all its threads (best of
    ``repeats``: the fastest run is the one least disturbed by other work on the machine)."""
    import torch

    a = torch.randn(4096, 4096)
    b = torch.randn(4096, 4096)
    c = torch.empty(4096, 4096)
    torch.mm(a, b, out=c)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(a, b, out=c)
        best = min(best, time.perf_counter() - started)
    return 2 * 4096**3 / best


def sklearn_seconds(
    raster: Path, x: np.ndarray, y: np.ndarray, hidden: tuple[int, ...], n_pixels: int
) -> tuple[float, int, float]:
    """Fit MLPClassifier briefly on the samples, then time predict on raster pixels.

    The timed part does what classify_raster does to the same pixels: cast, standardise,
    predict, in chunks of 262144 pixels (measured as fast as one call on all pixels, and
    ~1.5x faster than 65536-pixel chunks; numpy uses Debian's OpenBLAS). Returns (seconds,
    pixels predicted, training accuracy).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    mean = x.mean(axis=0)
    std = x.std(axis=0)
    clf = MLPClassifier(hidden_layer_sizes=hidden, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit((x - mean) / std, y)
    accuracy = float(clf.score((x - mean) / std, y))
    ds = gdal.Open(str(raster))
    strips = []
    y0 = ds.RasterYSize // 2  # below the nodata corner: every pixel valid
    while sum(s.shape[0] for s in strips) < n_pixels and y0 < ds.RasterYSize:
        rows = min(BLOCK, ds.RasterYSize - y0)
        strips.append(ds.ReadAsArray(0, y0, ds.RasterXSize, rows).reshape(BANDS, -1).T.copy())
        y0 += rows
    pixels = np.concatenate(strips)[:n_pixels]
    mean32, scale32 = mean.astype(np.float32), (1.0 / std).astype(np.float32)
    best = float("inf")
    for _ in range(2):  # best of two, as the other figures are best-of or long runs
        started = time.perf_counter()
        for s in range(0, len(pixels), 262_144):
            clf.predict((pixels[s : s + 262_144].astype(np.float32) - mean32) * scale32)
        best = min(best, time.perf_counter() - started)
    return best, len(pixels), accuracy


def agreement(path: Path, scene: Scene) -> float:
    """Share of valid pixels whose class equals the generated truth."""
    ds = gdal.Open(str(path))
    same = total = 0
    for y in range(0, scene.size, BLOCK):
        rows = min(BLOCK, scene.size - y)
        truth = scene.labels(y, rows).astype(np.int16) + 1
        got = ds.ReadAsArray(0, y, scene.size, rows)
        valid = truth > 0
        same += int(np.count_nonzero(got[valid] == truth[valid]))
        total += int(np.count_nonzero(valid))
    return same / max(1, total)


def child(args: argparse.Namespace) -> None:
    """Classify in this fresh process and print its timings and peak memory as JSON."""
    import torch

    from landcover_mlp.core.config import PredictionConfig
    from landcover_mlp.core.model_io import load_model
    from landcover_mlp.core.prediction import classify_raster

    model = load_model(args.model)
    config = PredictionConfig(device="cpu")
    before = _rss_mb()
    cpu = time.process_time()
    started = time.perf_counter()
    result = classify_raster(
        args.raster, model, args.output, args.confidence_output or None, config=config
    )
    seconds = time.perf_counter() - started
    figures = {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "valid_pixels": result.valid_pixels,
        "rss_before_mb": before,
        "peak_rss_mb": _rss_mb("VmHWM"),
        "torch_threads": torch.get_num_threads(),
        "memory_mb": config.memory_mb,
        "chunk_pixels": config.chunk_pixels,
    }
    print(json.dumps(figures))


def run_child(raster: Path, model: Path, output: Path, confidence: Path | None) -> dict:
    """Run :func:`child` in a fresh interpreter and return its figures."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child"]
    cmd += ["--raster", str(raster), "--model", str(model), "--output", str(output)]
    if confidence is not None:
        cmd += ["--confidence-output", str(confidence)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="raster side in pixels")
    parser.add_argument("--out", default="bench_output", help="work folder (default %(default)s)")
    parser.add_argument("--confidence", action="store_true", help="also write confidence")
    parser.add_argument(
        "--input-compress",
        default="NONE",
        choices=("NONE", "DEFLATE", "LZW", "ZSTD"),
        help="compression of the generated input raster (default %(default)s)",
    )
    parser.add_argument("--epochs", type=int, default=10, help="training epochs")
    parser.add_argument("--repeat", type=int, default=1, help="classify runs (best time kept)")
    parser.add_argument("--sklearn-pixels", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--ensemble", type=int, help="networks per ensemble (default: the setting's default)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--raster", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--confidence-output", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    import torch

    from landcover_mlp.core import prediction
    from landcover_mlp.core.config import (
        ModelConfig,
        SamplingConfig,
        TrainingConfig,
        TrainRequest,
    )
    from landcover_mlp.core.model_io import save_model
    from landcover_mlp.core.sampling import collect_samples
    from landcover_mlp.core.workflow import train_model

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size = args.size
    mpx = size * size / 1e6
    scene = Scene(size, args.seed)
    raster = out / f"throughput_{size}.tif"
    gen_s = generate_raster(scene, raster, args.input_compress)
    print(f"Raster: {raster} {size} x {size} x {BANDS} UInt16 ({mpx:.1f} Mpx)", end="")
    print(f", generated in {gen_s:.1f} s" if gen_s else ", reused")

    polygons = out / "throughput_polygons.gpkg"
    n_poly = write_polygons(scene, polygons, per_class=20)
    sampling = SamplingConfig(class_field="class_id", max_per_class=3000, seed=args.seed)
    started = time.perf_counter()
    trained = train_model(
        TrainRequest(
            raster=str(raster),
            polygons=str(polygons),
            sampling=sampling,
            model=ModelConfig(ensemble=args.ensemble or ModelConfig().ensemble),
            training=TrainingConfig(epochs=args.epochs, device="cpu"),
        )
    )
    model_path = save_model(trained.model, out / "throughput_model.safetensors")
    hidden = trained.model.model.hidden_layers
    members = trained.model.model.saved_networks
    sizes = [len(trained.model.bands), *hidden, len(trained.model.classes)]
    val_acc = trained.report.overall_accuracy if trained.report else float("nan")
    print(
        f"Model: {trained.model.describe_network()}, {n_poly} polygons, {trained.n_train} "
        f"training pixels, "
        f"{args.epochs} epochs in {time.perf_counter() - started:.1f} s, "
        f"validation accuracy {val_acc:.1%}"
    )

    create = list(getattr(prediction, "_CREATE", ["TILED=YES", "COMPRESS=DEFLATE"]))
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        io_s = io_floor(raster, Path(tmp) / "floor.tif", scene, create)
    io_floor_mpx = mpx / io_s
    print(f"I/O floor: read 10 bands + write Byte in {io_s:.2f} s = {io_floor_mpx:.1f} Mpx/s")

    flop = members * flops_per_pixel(sizes)
    flops = compute_floor_flops()
    compute_floor_mpx = flops / flop / 1e6
    print(
        f"Compute floor: {flop} FLOP/pixel, matmul {flops / 1e9:.1f} GFLOP/s on "
        f"{torch.get_num_threads()} threads = {compute_floor_mpx:.1f} Mpx/s"
    )

    samples = collect_samples(str(raster), str(polygons), sampling)
    sk_s, sk_n, sk_acc = sklearn_seconds(
        raster, samples.x, samples.y, SKLEARN_HIDDEN, args.sklearn_pixels
    )
    sklearn_mpx = sk_n / 1e6 / sk_s
    print(
        f"scikit-learn MLPClassifier({SKLEARN_HIDDEN}).predict: {sk_n / 1e6:.1f} Mpx in {sk_s:.2f} s = "
        f"{sklearn_mpx:.2f} Mpx/s (training accuracy {sk_acc:.1%})"
    )

    output = out / "throughput_classes.tif"
    confidence = out / "throughput_confidence.tif" if args.confidence else None
    load_before = os.getloadavg()[0]
    runs = [run_child(raster, model_path, output, confidence) for _ in range(args.repeat)]
    load_after = os.getloadavg()[0]
    best = min(runs, key=lambda r: r["seconds"])
    peak = max(r["peak_rss_mb"] for r in runs)
    mpx_s = mpx / best["seconds"]
    agree = agreement(output, scene)
    print(
        f"classify_raster: {mpx:.1f} Mpx in {best['seconds']:.2f} s = {mpx_s:.2f} Mpx/s "
        f"({best['valid_pixels'] / 1e6 / best['seconds']:.2f} valid Mpx/s), "
        f"{best['torch_threads']} torch threads, agreement with truth {agree:.1%}"
    )
    print(
        f"  CPU time {best['cpu_seconds']:.1f} s ({mpx / best['cpu_seconds']:.2f} Mpx per "
        f"CPU-second); load average {load_before:.1f} before, {load_after:.1f} after "
        f"(on {os.cpu_count()} CPUs)"
    )
    print(
        f"Peak RSS of the classify process: {peak:.0f} MiB "
        f"({best['rss_before_mb']:.0f} MiB after imports and model load)"
    )
    floor = min(io_floor_mpx, compute_floor_mpx)
    print(
        f"Targets: >= half the lower floor ({floor / 2:.2f} Mpx/s): "
        f"{'yes' if mpx_s >= floor / 2 else 'NO'}; >= 2x scikit-learn "
        f"({2 * sklearn_mpx:.2f} Mpx/s): {'yes' if mpx_s >= 2 * sklearn_mpx else 'NO'}; "
        f"peak RSS < 1536 MiB: {'yes' if peak < 1536 else 'NO'}"
    )
    figures = {
        "size": size,
        "megapixels": round(mpx, 3),
        "valid_share": round(best["valid_pixels"] / (size * size), 4),
        "confidence": bool(args.confidence),
        "input_compress": args.input_compress,
        "mpix_per_s": round(mpx_s, 3),
        "classify_s": round(best["seconds"], 3),
        "classify_cpu_s": round(best["cpu_seconds"], 3),
        "load_avg_before": round(load_before, 2),
        "load_avg_after": round(load_after, 2),
        "io_floor_mpix_per_s": round(io_floor_mpx, 3),
        "compute_floor_mpix_per_s": round(compute_floor_mpx, 3),
        "flop_per_pixel": flop,
        "matmul_gflop_per_s": round(flops / 1e9, 2),
        "sklearn_mpix_per_s": round(sklearn_mpx, 3),
        "peak_rss_mb": round(peak, 1),
        "rss_before_classify_mb": round(best["rss_before_mb"], 1),
        "torch_threads": best["torch_threads"],
        "memory_mb": best["memory_mb"],
        "chunk_pixels": best["chunk_pixels"],
        "agreement_with_truth": round(agree, 4),
        "validation_accuracy": round(val_acc, 4),
        "repeats": args.repeat,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
