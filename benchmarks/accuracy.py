"""Accuracy benchmark on the real data sets in ../shared/data (prints figures; not a test).

For every data set, this plugin's default model is compared, in the same run, with what a user
would pick instead: scikit-learn's ``RandomForestClassifier(500 trees)`` and
``StandardScaler`` + ``MLPClassifier((64, 64))``.

1. Polygon-grouped evaluation. Seeded grouped splits of the polygons
   (:func:`core.splitting.split_by_polygon`, 30 % of each class's polygons held out for
   testing). Our model is trained on the training polygons exactly as
   :func:`core.workflow.train_model` does (:func:`core.workflow.fit_networks`: an assessment
   run on an inner grouped split, then the saved model on all training polygons), once per
   training seed (``seed`` of the settings, 0-4); scikit-learn's models train on all training
   polygons with the split's index as their seed. Classes with a single polygon fall back to a
   pixel split inside the core (the script says which).
2. Indian Pines, published pixel protocol (Roy et al. 2020, HybridSN, suppl. Table 1):
   30 % of the labelled pixels per class at random for training (3,074 px, stratified, like
   ``train_test_split(test_size=0.7, stratify=y)`` in their code), 70 % for testing.
   Pixel-wise SVM: 85.30 +/- 2.81 % OA. Our assessment run takes a random stratified 30 % of
   the training pixels (the grouped split with one "polygon" per pixel).

Reported: overall accuracy (OA), Cohen's kappa and average accuracy on the test pixels, as
mean +/- std over splits (and our seeds); the spread between our seeds on one split (max - min
OA, mean and worst over the splits); training seconds and the seconds to predict every valid
pixel of the scene (in memory, no file I/O). ``--previous`` also runs the defaults and policy
of release 0.1 (one network, batch 16, constant learning rate, 300 epochs with early stopping
after 50, saved model = the early-stopped network trained on 70 % of the polygons), printed
first. The last line of output is one JSON object with all figures.

Run from the repository root: ``python benchmarks/accuracy.py [--quick] [--previous]``
(``--quick``: 3 grouped splits, 2 pixel splits, seeds 0-1). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PUBLISHED_SVM_OA = 85.30

try:  # the repository root is the package; ``make`` puts build/plugins on PYTHONPATH
    import landcover_mlp  # noqa: F401
except ImportError:  # pragma: no cover - running the file directly
    sys.path.insert(0, str(ROOT / "build" / "plugins"))

from osgeo import gdal  # noqa: E402

from landcover_mlp.core.accuracy import assess  # noqa: E402
from landcover_mlp.core.config import (  # noqa: E402
    ModelConfig,
    PredictionConfig,
    SamplingConfig,
    SplitConfig,
    TrainingConfig,
)
from landcover_mlp.core.model_io import LandCoverModel  # noqa: E402
from landcover_mlp.core.raster import open_raster, raster_info, read_window  # noqa: E402
from landcover_mlp.core.sampling import Samples, collect_samples  # noqa: E402
from landcover_mlp.core.splitting import split_by_polygon  # noqa: E402

gdal.UseExceptions()

OURS, PREVIOUS = "ours (defaults)", "ours, release 0.1"
SK_MLP, SK_RF = "sklearn MLP (64,64)", "sklearn RF (500)"
MODELS = (OURS, SK_MLP, SK_RF)
RF_TREES = 500
SK_HIDDEN = (64, 64)


@dataclass(frozen=True)
class Dataset:
    """A raster, its labelled polygons and the bands to use."""

    name: str
    raster: str
    polygons: str
    bands: tuple[int, ...] = ()
    labels: str | None = None  # full ground-truth raster for the pixel protocol


DATASETS = (
    Dataset(
        "landsat7_ogt",
        "landsat7_ogt/LE70220491999322EDC01_stack.tif",
        "landsat7_ogt/training_polygons.gpkg",
        bands=(1, 2, 3, 4, 5, 6, 7),  # band 8 is the Fmask cloud mask
    ),
    Dataset(
        "rstoolbox_lsat5", "rstoolbox_lsat5/lsat.tif", "rstoolbox_lsat5/training_polygons.gpkg"
    ),
    Dataset(
        "indian_pines",
        "indian_pines/indian_pines_corrected.tif",
        "indian_pines/indian_pines_gt_polygons.gpkg",
        labels="indian_pines/indian_pines_gt.tif",
    ),
)


@dataclass(frozen=True)
class Ours:
    """The settings our MLP is trained with (the product defaults unless tuning)."""

    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    split: SplitConfig = SplitConfig()


#: Release 0.1's defaults: one network, batch 16, constant rate, early stopping.
PREVIOUS_SETTINGS = Ours(
    ModelConfig((64, 64), ensemble=1),
    TrainingConfig(
        learning_rate=0.01,
        momentum=0.9,
        lr_schedule="constant",
        epochs=300,
        batch_size=16,
        patience=50,
        weight_decay=1e-3,
    ),  # fmt: skip
    SplitConfig(0.3),
)


@dataclass
class Fitted:
    predict: Callable[[np.ndarray], np.ndarray]
    train_seconds: float
    info: dict[str, float]


def _path(relative: str) -> str:
    path = DATA / relative
    if not path.exists():
        raise SystemExit(
            f"Missing benchmark data: {path}. The real data sets live in ../shared/data "
            "(relative to the repository root); see its README.md."
        )
    return str(path)


def scene_pixels(raster: str, bands: Sequence[int]) -> np.ndarray:
    """Every valid pixel of the raster, shape (n, bands), float32."""
    ds = open_raster(raster)
    info = raster_info(ds)
    from landcover_mlp.core.raster import Window, resolve_bands

    chosen = resolve_bands(info, bands)
    data, valid = read_window(ds, chosen, Window(0, 0, info.width, info.height), info.nodata)
    return data[:, valid].T.astype(np.float32)


# ----------------------------------------------------------------------------- models


def _seeded(ours: Ours, seed: int) -> Ours:
    """The settings with the product's one ``seed`` (split and training)."""
    return replace(
        ours, training=replace(ours.training, seed=seed), split=replace(ours.split, seed=seed)
    )


def _fitted(train: Samples, ours: Ours, state: dict, started: float, info: dict) -> Fitted:
    from landcover_mlp.core.predictor import Predictor

    seconds = time.perf_counter() - started
    model = LandCoverModel(
        state=state,
        bands=train.bands,
        band_names=train.band_names,
        band_count=max(train.bands),
        nodata=(None,) * len(train.bands),
        classes=train.classes,
        model=ours.model,
    )
    predictor = Predictor(model, "cpu", PredictionConfig().chunk_pixels)
    return Fitted(lambda x: predictor.run(x, want_probs=False)[0], seconds, info)


def fit_ours(train: Samples, ours: Ours, seed: int) -> Fitted:
    """What train_model does with the training polygons (core.workflow.fit_networks)."""
    from landcover_mlp.core.workflow import fit_networks

    ours = _seeded(ours, seed)
    started = time.perf_counter()
    split = split_by_polygon(train, ours.split)
    held = split.validation.any()
    fit, val = (
        (train.subset(split.train), train.subset(split.validation)) if held else (train, None)
    )
    net, _ = fit_networks(fit, val, bool(held), ours.model, ours.training)
    return _fitted(train, ours, net.state, started,
                   {"epochs": net.best_epoch})  # fmt: skip


def fit_previous(train: Samples, ours: Ours, seed: int) -> Fitted:
    """Release 0.1: the early-stopped network trained without the held-out polygons is saved."""
    from landcover_mlp.core.training import train_network

    ours = _seeded(ours, seed)
    started = time.perf_counter()
    split = split_by_polygon(train, ours.split)
    if split.validation.any():
        fit, val = train.subset(split.train), train.subset(split.validation)
        xv, yv = val.x, val.y
    else:
        fit, xv, yv = train, None, None
    net = train_network(fit.x, fit.y, xv, yv, len(train.classes), ours.model, ours.training)
    return _fitted(train, ours, net.state, started, {"epochs": net.best_epoch})


def fit_sklearn(kind: str, x: np.ndarray, y: np.ndarray, seed: int) -> Fitted:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == SK_MLP:
        clf = make_pipeline(StandardScaler(), MLPClassifier(SK_HIDDEN, random_state=seed))
    else:
        clf = RandomForestClassifier(n_estimators=RF_TREES, n_jobs=-1, random_state=seed)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    seconds = time.perf_counter() - started
    info = {"epochs": float(clf[-1].n_iter_)} if kind == SK_MLP else {}
    return Fitted(clf.predict, seconds, info)


def run_model(
    kind: str,
    train: Samples,
    test: Samples,
    scene: np.ndarray,
    ours: Ours,
    seed: int,
) -> dict[str, float]:
    """Train one model, score it on the test pixels, time the prediction of the scene."""
    if kind == OURS:
        fitted = fit_ours(train, ours, seed)
    elif kind == PREVIOUS:
        fitted = fit_previous(train, PREVIOUS_SETTINGS, seed)
    else:
        fitted = fit_sklearn(kind, train.x, train.y, seed)
    report = assess(test.y, fitted.predict(test.x), train.classes)
    started = time.perf_counter()
    fitted.predict(scene)
    recall = [c.recall for c in report.per_class if c.support > 0]
    return {
        "oa": 100.0 * report.overall_accuracy,
        "kappa": report.kappa,
        "aa": 100.0 * float(np.mean(recall)),
        "train_s": fitted.train_seconds,
        "predict_s": time.perf_counter() - started,
        **fitted.info,
    }


# ----------------------------------------------------------------------------- protocols


def grouped_runs(
    samples: Samples, repeats: int, share: float = 0.3
) -> list[tuple[Samples, Samples, tuple[str, ...]]]:
    """Seeded grouped splits of the polygons: (train, test, warnings) per repeat."""
    out = []
    for r in range(repeats):
        split = split_by_polygon(samples, SplitConfig(validation_share=share, seed=r))
        out.append((samples.subset(split.train), samples.subset(split.validation), split.warnings))
    return out


def pixel_runs(dataset: Dataset, repeats: int) -> tuple[Samples, list[tuple[Samples, Samples]]]:
    """The published Indian Pines protocol on the full ground-truth raster."""
    from sklearn.model_selection import train_test_split

    from landcover_mlp.core.classes import ClassInfo
    from landcover_mlp.core.raster import resolve_bands

    ds = open_raster(_path(dataset.raster))
    info = raster_info(ds)
    bands = resolve_bands(info, dataset.bands)
    labels = gdal.Open(_path(dataset.labels)).ReadAsArray().ravel()
    cube = ds.ReadAsArray(band_list=list(bands)).reshape(len(bands), -1)
    pixel = np.flatnonzero(labels > 0)
    values = np.unique(labels[pixel])
    samples = Samples(
        x=cube[:, pixel].T.astype(np.float32),
        y=np.searchsorted(values, labels[pixel]).astype(np.int64),
        polygon_id=pixel.astype(np.int64),  # one "polygon" per pixel: random inner split
        pixel_index=pixel.astype(np.int64),
        classes=tuple(ClassInfo(int(v), str(v), "#000000") for v in values),
        bands=bands,
        band_names=tuple(info.band_names[b - 1] for b in bands),
    )
    index = np.arange(len(samples))
    runs = []
    for seed in range(repeats):
        tr, te = train_test_split(index, test_size=0.7, random_state=seed, stratify=samples.y)
        runs.append((samples.subset(np.sort(tr)), samples.subset(np.sort(te))))
    return samples, runs


def summarise(records: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {"n": len(records)}
    for key in records[0]:
        v = np.array([r[key] for r in records], dtype=np.float64)
        out[key] = round(float(v.mean()), 4)
        out[key + "_std"] = round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4)
    return out


def evaluate(
    runs: Sequence[tuple[Samples, Samples]],
    scene: np.ndarray,
    models: Sequence[str],
    ours: Ours,
    label: str,
    seeds: Sequence[int],
) -> dict[str, dict[str, float]]:
    """Every model on every split; ours (and release 0.1) once per training seed."""
    results: dict[str, dict[str, float]] = {}
    for kind in models:
        records = []
        spreads = []
        for split, (train, test) in enumerate(runs):
            mine = seeds if kind in (OURS, PREVIOUS) else (split,)
            oas = []
            for seed in mine:
                records.append(run_model(kind, train, test, scene, ours, seed))
                rec = records[-1]
                oas.append(rec["oa"])
                print(
                    f"  {label:<28} {kind:<22} split {split} seed {seed}: OA {rec['oa']:6.2f}  "
                    f"kappa {rec['kappa']:.3f}  train {rec['train_s']:6.2f}s",
                    file=sys.stderr,
                    flush=True,
                )
            spreads.append(max(oas) - min(oas))
        results[kind] = summarise(records)
        if kind in (OURS, PREVIOUS):
            results[kind]["seed_spread_mean"] = round(float(np.mean(spreads)), 3)
            results[kind]["seed_spread_max"] = round(float(np.max(spreads)), 3)
    return results


def warm_up() -> None:
    """Import and first-call costs of torch and scikit-learn stay out of the timings."""
    from landcover_mlp.core.training import train_network

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = np.arange(64) % 2
    train_network(x, y, x, y, 2, ModelConfig(), replace(TrainingConfig(), epochs=2))
    train_network(x, y, x, y, 2, PREVIOUS_SETTINGS.model, replace(TrainingConfig(), epochs=2))
    fit_sklearn(SK_MLP, x, y, 0)
    fit_sklearn(SK_RF, x, y, 0)


def benchmark(
    repeats: int,
    seeds: int,
    models: Sequence[str] = MODELS,
    datasets: Sequence[str] | None = None,
    ours: Ours | None = None,
    train_seeds: Sequence[int] = (0, 1, 2, 3, 4),
) -> dict[str, dict[str, dict[str, object]]]:
    """All figures: {dataset: {protocol: {facts..., model: summary, ...}, ...}, ...}.

    Args:
        repeats: seeded grouped splits per data set.
        seeds: seeded random pixel splits for the published Indian Pines protocol (0 skips it).
        train_seeds: our training seeds, each run on every split.
        models: which models to run.
        datasets: names of the data sets to run (None = all).
        ours: settings of our MLP (None = the product defaults).
    """
    ours = ours or Ours()
    chosen = [d for d in DATASETS if datasets is None or d.name in datasets]
    if not chosen:
        raise SystemExit(f"No data set selected; choose from {[d.name for d in DATASETS]}.")
    for d in chosen:  # fail on a missing file before the first model trains
        for relative in (d.raster, d.polygons, d.labels):
            if relative:
                _path(relative)
    warm_up()
    results: dict[str, dict[str, dict[str, object]]] = {}
    for d in chosen:
        sampling = SamplingConfig("class_id", bands=d.bands)
        samples = collect_samples(_path(d.raster), _path(d.polygons), sampling)
        scene = scene_pixels(_path(d.raster), d.bands)
        results[d.name] = {}
        if repeats:
            runs = grouped_runs(samples, repeats)
            fallback = sorted(
                {w.split("'")[1] for _, _, ws in runs for w in ws if "single polygon" in w},
                key=lambda v: (len(v), v),
            )
            first_pixel = np.unique(samples.polygon_id, return_index=True)[1]
            results[d.name]["polygon-grouped"] = {
                "pixels": len(samples),
                "polygons": int(first_pixel.size),
                "classes": len(samples.classes),
                "bands": len(samples.bands),
                "scene_pixels": int(scene.shape[0]),
                "mean_test_pixels": round(float(np.mean([len(te) for _, te, _ in runs])), 1),
                "single_polygon_classes_pixel_split": fallback,
                **evaluate(
                    [(tr, te) for tr, te, _ in runs],
                    scene,
                    models,
                    ours,
                    d.name + " grouped",
                    train_seeds,
                ),
            }
        if seeds and d.labels:
            pix_samples, pruns = pixel_runs(d, seeds)
            results[d.name]["pixel 30% (published)"] = {
                "pixels": len(pix_samples),
                "train_pixels": len(pruns[0][0]),
                "test_pixels": len(pruns[0][1]),
                "scene_pixels": int(scene.shape[0]),
                "published_svm_oa": PUBLISHED_SVM_OA,
                **evaluate(pruns, scene, models, ours, d.name + " pixel 30%", train_seeds),
            }
    return results


def _pm(s: dict[str, float], key: str, fmt: str) -> str:
    return f"{s[key]:{fmt}} +/- {s[key + '_std']:{fmt}}"


def print_table(results: dict[str, dict[str, dict[str, object]]], repeats: int, seeds: int,
                train_seeds: Sequence[int], ours: Ours) -> None:  # fmt: skip
    m, t = ours.model, ours.training
    print(
        f"\nLand Cover MLP accuracy benchmark: mean +/- std over {repeats} grouped split(s) "
        f"and {seeds} pixel split(s), ours x training seeds {list(train_seeds)}; AA = mean "
        "per-class recall; spread = max - min OA between our seeds on one split (mean / worst "
        "over splits); predict = every valid pixel of the scene, in memory"
    )
    ensemble = (
        f"ensemble of {m.ensemble}" if m.ensemble else
        "automatic ensemble (5 networks up to 12,000 training pixels, every scene here; 1 above)"
    )  # fmt: skip
    print(
        f"our defaults: {ensemble}"
        f"{', distilled into one network' if m.distill and m.ensemble != 1 else ''}, hidden {list(m.hidden_layers)} {m.activation}, "
        f"dropout {m.dropout}, SGD lr {t.learning_rate} ({t.lr_schedule}) momentum {t.momentum}, "
        f"batch {t.batch_size}, epochs {t.epochs}, patience {t.patience}, weight decay "
        f"{t.weight_decay}, class weights {t.class_weights}, validation share "
        f"{ours.split.validation_share} (assessment run), saved model on all training polygons"
    )
    print(
        f"sklearn: StandardScaler + MLPClassifier({SK_HIDDEN}); "
        f"RandomForestClassifier(n_estimators={RF_TREES}, n_jobs=-1)"
    )
    header = (
        f"{'dataset':<16} {'protocol':<21} {'model':<22} {'OA %':>15} {'spread':>11} "
        f"{'kappa':>15} {'AA %':>15} {'train s':>13} {'predict s':>15}"
    )
    print(header)
    print("-" * len(header))
    for name, protocols in results.items():
        for protocol, block in protocols.items():
            for kind in (PREVIOUS, *MODELS):
                s = block.get(kind)
                if not isinstance(s, dict):
                    continue
                spread = (
                    f"{s['seed_spread_mean']:5.2f}/{s['seed_spread_max']:5.2f}"
                    if "seed_spread_mean" in s
                    else ""
                )
                print(
                    f"{name:<16} {protocol:<21} {kind:<22} {_pm(s, 'oa', '6.2f')} {spread:>11} "
                    f"{_pm(s, 'kappa', '6.3f')} {_pm(s, 'aa', '6.2f')} "
                    f"{_pm(s, 'train_s', '5.1f')} {_pm(s, 'predict_s', '6.3f')}"
                )
            keys = ("pixels", "polygons", "train_pixels", "test_pixels", "mean_test_pixels")
            notes = [f"{k}={block[k]}" for k in (*keys, "scene_pixels") if k in block]
            pad = " " * 38
            print(f"{pad} ({', '.join(notes)})")
            fallback = block.get("single_polygon_classes_pixel_split")
            if fallback:
                print(
                    f"{pad} (classes with a single polygon, pixel-split by the core: "
                    f"{', '.join(map(str, fallback))})"  # type: ignore[call-overload]
                )
            if "published_svm_oa" in block:
                print(f"{pad} (published pixel-wise SVM, same protocol: {PUBLISHED_SVM_OA} % OA)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 grouped splits, 2 pixel splits and training seeds 0-1 (default 10, 5, 0-4)",
    )
    parser.add_argument("--repeats", type=int, help="grouped splits per data set (0 skips)")
    parser.add_argument("--seeds", type=int, help="pixel splits for Indian Pines (0 skips)")
    parser.add_argument("--train-seeds", type=int, help="our training seeds 0..N-1")
    parser.add_argument("--datasets", nargs="+", help="only these data sets")
    parser.add_argument(
        "--models", nargs="+", choices=("ours", "previous", "mlp", "rf"), help="only these"
    )
    parser.add_argument(
        "--previous", action="store_true", help="also run release 0.1's defaults (printed first)"
    )
    parser.add_argument(
        "--ensemble", type=int, help="our networks per ensemble (default: the setting's default)"
    )
    parser.add_argument(
        "--no-distill",
        action="store_true",
        help="save (and score) our whole ensemble instead " "of the one network distilled from it",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 10)
    seeds = args.seeds if args.seeds is not None else (2 if args.quick else 5)
    train_seeds = tuple(range(args.train_seeds or (2 if args.quick else 5)))
    pick = {"ours": OURS, "previous": PREVIOUS, "mlp": SK_MLP, "rf": SK_RF}
    models = [pick[m] for m in args.models] if args.models else list(MODELS)
    if args.previous and PREVIOUS not in models:
        models.insert(0, PREVIOUS)
    started = time.perf_counter()
    ours = Ours()
    if args.ensemble:
        ours = replace(ours, model=replace(ours.model, ensemble=args.ensemble))
    if args.no_distill:
        ours = replace(ours, model=replace(ours.model, distill=False))
    results = benchmark(repeats, seeds, models, args.datasets, ours, train_seeds)
    print_table(results, repeats, seeds, train_seeds, ours)
    print(f"\ntotal {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPU core(s)")
    print(
        json.dumps(
            {
                "benchmark": "accuracy",
                "grouped_repeats": repeats,
                "pixel_seeds": seeds,
                "train_seeds": list(train_seeds),
                "our_defaults": {
                    "model": {
                        **asdict(ours.model),
                        "hidden_layers": list(ours.model.hidden_layers),
                    },
                    "training": asdict(ours.training),
                    "split": asdict(ours.split),
                },
                "sklearn_rf_trees": RF_TREES,
                "sklearn_mlp_hidden": list(SK_HIDDEN),
                "results": results,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
