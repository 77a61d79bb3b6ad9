"""Training at scale: fit time, peak memory and held-out accuracy at 10 k, 100 k and 1 M pixels.

A generated scene like ``throughput.py``'s (10 UInt16 bands, 6 classes, fields of 40 x 40 px)
but with noisier spectra, so that accuracy is not 100 %. Training polygons (squares of 36 px
inside fields) are added until they hold the requested number of training pixels; 40 test
polygons per class, in other fields, are never trained on. For each size, in a fresh process
each (peak memory = that process's VmHWM):

- ours: the product's defaults, as ``train_model`` runs them (sampling with the automatic cap,
  an assessment run on 70 % of the polygons, then the saved model on all of them);
- scikit-learn: ``StandardScaler`` + ``MLPClassifier((64, 64), early_stopping=True)`` (adam)
  on the same pixels.

Each model is trained with each of ``--seeds`` (ours: the training seed; scikit-learn:
``random_state``); the summary gives the mean over seeds and, for accuracy, the range.

Targets (issue 11): our fit time at most scikit-learn's at 100 k and 1 M with accuracy at least
equal; peak memory < 1.5 GB at 1 M.

Usage::

    PYTHONPATH=build/plugins python benchmarks/training_scale.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from osgeo import ogr, osr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import throughput as tp  # noqa: E402  (the scene generator)

SIDE = 36  # training and test polygons: squares of 36 x 36 px inside 40 x 40 px fields
TEST_PER_CLASS = 40
RECIPE = "training-scale-v1"


class NoisyScene(tp.Scene):
    """``throughput.Scene`` with noisier spectra (20 % + 150 per band) and per-field gain of
    15 %: classes overlap, so the accuracy shows differences between models."""

    def __init__(self, size: int, seed: int) -> None:
        super().__init__(size, seed)
        rng = np.random.default_rng(seed + 9)
        self.gain = rng.normal(1.0, 0.15, self.gain.shape).astype(np.float32)

    def strip(self, y0: int, rows: int, rng: np.random.Generator) -> np.ndarray:
        labels = self.labels(y0, rows)
        ys = np.arange(y0, y0 + rows)[:, None] // tp.CELL
        gain = self.gain[ys, np.arange(self.size)[None, :] // tp.CELL]
        value = tp.SPECTRA[:, np.maximum(labels, 0)] * gain
        value += (0.2 * value + 150.0) * rng.standard_normal(value.shape, dtype=np.float32)
        out = np.clip(value, 1, 65535).astype(np.uint16)
        out[:, labels < 0] = tp.NODATA
        return out


def write_polygon_sets(
    scene: tp.Scene, folder: Path, sizes: list[int], rare: int = 0
) -> dict[str, Path]:
    """A test layer and, per size, a training layer with about that many pixels; with
    ``rare`` > 0 the last class's training polygons are one square of about ``rare`` pixels."""
    rng = np.random.default_rng(scene.seed + 3)
    cells = scene.size // tp.CELL
    fields: dict[int, np.ndarray] = {}
    for k in range(len(tp.CLASSES)):
        rows, cols = np.nonzero(scene.grid[:cells, :cells] == k)
        keep = (rows + cols) * tp.CELL > scene.size // 4 + 2 * tp.CELL  # off the nodata corner
        order = rng.permutation(int(keep.sum()))
        fields[k] = np.stack([rows[keep], cols[keep]], 1)[order]

    def write(
        path: Path, chosen: dict[int, np.ndarray], sides: dict[int, int] | None = None
    ) -> None:
        def squares():
            for k, cells_k in chosen.items():
                side = (sides or {}).get(k, SIDE)
                gap = (tp.CELL - side) // 2
                for r, c in cells_k:
                    x0 = tp.ORIGIN[0] + (c * tp.CELL + gap) * tp.PIXEL
                    y0 = tp.ORIGIN[1] - (r * tp.CELL + gap) * tp.PIXEL
                    yield k + 1, x0, y0, x0 + side * tp.PIXEL, y0 - side * tp.PIXEL

        write_rectangles(path, squares())

    out = {"test": folder / "test.gpkg"}
    write(out["test"], {k: f[:TEST_PER_CLASS] for k, f in fields.items()})
    for n in sizes:
        per_class = math.ceil(n / (len(tp.CLASSES) * SIDE * SIDE))
        short = [k for k, f in fields.items() if len(f) < TEST_PER_CLASS + per_class]
        if short:
            raise SystemExit(f"The scene is too small for {n} training pixels: use --scene larger.")
        chosen = {k: f[TEST_PER_CLASS : TEST_PER_CLASS + per_class] for k, f in fields.items()}
        sides = None
        if rare:
            last = len(tp.CLASSES) - 1
            chosen[last] = chosen[last][:1]
            sides = {last: max(1, round(math.sqrt(rare)))}
        out[str(n)] = folder / (f"train_{n}_rare{rare}.gpkg" if rare else f"train_{n}.gpkg")
        write(out[str(n)], chosen, sides)
    return out


def write_rectangles(path: Path, rectangles) -> None:
    """A GeoPackage polygon layer (the scene's CRS, field ``class_id``) of axis-aligned
    rectangles given as (class_id, x0, y0, x1, y1) in map units; replaces ``path``."""
    if path.exists():
        path.unlink()
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromWkt(tp._srs_wkt())
    layer = ds.CreateLayer("polygons", srs, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))
    layer.StartTransaction()
    for class_id, x0, y0, x1, y1 in rectangles:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("class_id", int(class_id))
        wkt = f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        layer.CreateFeature(feature)
    layer.CommitTransaction()
    ds = None


def write_big_polygons(scene: tp.Scene, path: Path) -> None:
    """Three polygons that cover the whole raster between them (three horizontal bands)."""
    x0, x1 = tp.ORIGIN[0], tp.ORIGIN[0] + scene.size * tp.PIXEL
    third = scene.size * tp.PIXEL / 3
    write_rectangles(path, (
        (k + 1, x0, tp.ORIGIN[1] - k * third, x1, tp.ORIGIN[1] - (k + 1) * third)
        for k in range(3)
    ))  # fmt: skip


def sampling_child(args: argparse.Namespace) -> None:
    """Sample the big polygons in this fresh process; print seconds and peak memory."""
    from landcover_mlp.core.config import SamplingConfig
    from landcover_mlp.core.sampling import collect_samples

    before = tp._rss_mb()
    started = time.perf_counter()
    cap = int(args.cap) or None
    samples = collect_samples(
        args.raster, args.polygons, SamplingConfig("class_id", max_per_class=cap)
    )
    print(json.dumps({
        "cap": cap or "automatic",
        "pixels": len(samples),
        "available": sum(samples.available),
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(tp._rss_mb("VmHWM"), 1),
        "rss_before_mb": round(before, 1),
    }))  # fmt: skip


def child(args: argparse.Namespace) -> None:
    """Train one model in this fresh process; print its figures as JSON."""
    from landcover_mlp.core.config import SamplingConfig, TrainingConfig, TrainRequest
    from landcover_mlp.core.sampling import collect_samples
    from landcover_mlp.core.workflow import predict_samples, train_model

    sampling = SamplingConfig("class_id")
    test = collect_samples(args.raster, args.test, sampling)
    before = tp._rss_mb()
    started = time.perf_counter()
    if args.model == "ours":
        result = train_model(
            TrainRequest(
                raster=args.raster,
                polygons=args.polygons,
                sampling=sampling,
                training=TrainingConfig(device="cpu", seed=args.train_seed),
            )  # fmt: skip
        )
        seconds = time.perf_counter() - started
        predicted = predict_samples(result.model, test.x)
        n_train = result.n_train
        info = {"network": result.model.describe_network(), "epochs": len(result.model.history)}
    else:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        train = collect_samples(args.raster, args.polygons, sampling)
        sampled = time.perf_counter()
        clf = make_pipeline(
            StandardScaler(),
            MLPClassifier((64, 64), early_stopping=True, random_state=args.train_seed),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(train.x, train.y)
        seconds = time.perf_counter() - started
        predicted = clf.predict(test.x)
        n_train = len(train)
        info = {"sampling_s": round(sampled - started, 2), "epochs": int(clf[-1].n_iter_)}
    last = test.y == np.max(test.y)  # the last class (the rare one with --rare)
    print(json.dumps({
        "model": args.model,
        "seed": args.train_seed,
        "n_train": int(n_train),
        "fit_s": round(seconds, 2),
        "accuracy": round(float(np.mean(predicted == test.y)), 4),
        "last_class_recall": round(float(np.mean(predicted[last] == test.y[last])), 4),
        "peak_rss_mb": round(tp._rss_mb("VmHWM"), 1),
        "rss_before_mb": round(before, 1),
        **info,
    }))  # fmt: skip


def run_child(model: str, raster: Path, polygons: Path, test: Path, seed: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--model", model,
           "--raster", str(raster), "--polygons", str(polygons), "--test", str(test),
           "--train-seed", str(seed)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{model} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--scene", type=int, default=3000, help="raster side in pixels")
    parser.add_argument("--out", default="bench_output", help="work folder (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the scene")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds of both models"
    )
    parser.add_argument("--models", nargs="+", default=["ours", "sklearn"])
    parser.add_argument(
        "--rare",
        type=int,
        default=0,
        help="the last class's training polygons: one square of about this many pixels",
    )
    parser.add_argument(
        "--big-polygons",
        action="store_true",
        help="instead: sample three polygons covering the whole raster (--scene px square), "
        "with the automatic cap and with a cap of 2000, and print the peak memory",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cap", default="0", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--raster", help=argparse.SUPPRESS)
    parser.add_argument("--polygons", help=argparse.SUPPRESS)
    parser.add_argument("--test", help=argparse.SUPPRESS)
    parser.add_argument("--train-seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        (sampling_child if args.model == "sampling" else child)(args)
        return
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scene = NoisyScene(args.scene, args.seed)
    raster = out / f"training_scale_{args.scene}.tif"
    tp.RECIPE = RECIPE  # a different recipe from throughput.py's scene: never reuse its raster
    generated = tp.generate_raster(scene, raster, "NONE")
    if args.big_polygons:
        polygons = out / "big_polygons.gpkg"
        write_big_polygons(scene, polygons)
        print(f"Raster {raster} ({args.scene} x {args.scene} x {tp.BANDS}), 3 polygons over all")
        for cap in ("0", "2000"):
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--model",
                   "sampling", "--raster", str(raster), "--polygons", str(polygons),
                   "--cap", cap]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(done.stderr[-3000:])
            print("  " + done.stdout.strip().splitlines()[-1], flush=True)
        return
    layers = write_polygon_sets(scene, out, args.sizes, args.rare)
    print(f"Raster: {raster} {args.scene} x {args.scene} x {tp.BANDS} UInt16, noisy spectra "
          f"(generated in {generated:.1f} s); {TEST_PER_CLASS} test polygons per class")  # fmt: skip
    rows = []
    for n in args.sizes:
        for seed in args.seeds:
            for model in args.models:
                figures = run_child(model, raster, layers[str(n)], layers["test"], seed)
                rows.append({"size": n, **figures})
                print(f"  {n:>9,} px  seed {seed}  {model:<8} train pixels "
                      f"{figures['n_train']:>9,}  fit {figures['fit_s']:>8.1f} s  accuracy "
                      f"{figures['accuracy']:.4f}  last class recall "
                      f"{figures['last_class_recall']:.3f}  peak {figures['peak_rss_mb']:>7.0f} MiB  "
                      f"epochs {figures['epochs']}", flush=True)  # fmt: skip
    print(f"\nmeans over seeds {args.seeds}")
    print("size        model     fit s   accuracy (min - max)      peak MiB   last class recall")
    means: dict[tuple[int, str], tuple[float, float]] = {}
    for n in args.sizes:
        for model in args.models:
            mine = [r for r in rows if r["size"] == n and r["model"] == model]
            fit = float(np.mean([r["fit_s"] for r in mine]))
            acc = [r["accuracy"] for r in mine]
            means[n, model] = fit, float(np.mean(acc))
            recall = np.mean([r["last_class_recall"] for r in mine])
            print(f"{n:>9,}   {model:<8} {fit:>6.1f}   {np.mean(acc):.4f} "
                  f"({min(acc):.4f} - {max(acc):.4f})   "
                  f"{max(r['peak_rss_mb'] for r in mine):>8.0f}   {recall:.3f}")  # fmt: skip
    if {"ours", "sklearn"} <= set(args.models):
        print("\nsize        ours/sklearn fit time   accuracy ours - sklearn (means)")
        for n in args.sizes:
            (fo, ao), (fs, as_) = means[n, "ours"], means[n, "sklearn"]
            print(f"{n:>9,}   {fo / fs:>10.2f}x   {100 * (ao - as_):>+18.2f} pt")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    print(json.dumps({"benchmark": "training_scale", "scene": args.scene, "rows": rows}))


if __name__ == "__main__":
    main()
