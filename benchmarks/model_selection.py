"""Model-selection benchmark: the leakage of a random pixel split, and tuned vs default.

For indian_pines and landsat7_ogt it prints
  1. overall accuracy of the default configuration under k-fold with a RANDOM PIXEL split and
     under k-fold GROUPED BY POLYGON (same k, same seed): the gap is the leakage;
  2. the grouped k-fold search (core.selection) over a small grid: the tuned configuration
     against the default one on the same grouped folds.

Usage: PYTHONPATH=build/plugins .venv/bin/python benchmarks/model_selection.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "build" / "plugins"))

from landcover_mlp.core.config import (  # noqa: E402
    ModelConfig,
    SamplingConfig,
    TrainingConfig,
    TrainRequest,
)
from landcover_mlp.core.errors import LandCoverError  # noqa: E402
from landcover_mlp.core.sampling import collect_samples  # noqa: E402
from landcover_mlp.core.selection import (  # noqa: E402
    SearchSpace,
    cross_validate,
    grouped_stratified_folds,
    rank,
)

DATA = ROOT.parent / "shared" / "data"
DATASETS = {
    "landsat7_ogt": (
        "landsat7_ogt/LE70220491999322EDC01_stack.tif",
        "landsat7_ogt/training_polygons.gpkg",
        tuple(range(1, 8)),
    ),
    "indian_pines": (
        "indian_pines/indian_pines_corrected.tif",
        "indian_pines/indian_pines_gt_polygons.gpkg",
        (),
    ),
}


def random_pixel_folds(n: int, k: int, seed: int) -> np.ndarray:
    """Pixels dealt to k folds at random: neighbours of one polygon land on both sides."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(n) % k)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 folds, a 4-configuration grid")
    parser.add_argument("--folds", type=int, default=None)
    args = parser.parse_args()
    k = args.folds or (3 if args.quick else 5)
    space = (
        SearchSpace(hidden_layers=((32,), (64, 64)), learning_rate=(0.003, 0.03), momentum=(0.9,))
        if args.quick
        else SearchSpace(
            hidden_layers=((32,), (64, 64), (128, 64)),
            learning_rate=(0.003, 0.01, 0.03),
            momentum=(0.5, 0.9),
        )
    )
    import torch

    torch.set_num_threads(1)
    out: dict[str, dict] = {}
    for name, (raster, polygons, bands) in DATASETS.items():
        if not (DATA / raster).exists():
            raise SystemExit(
                f"Missing dataset {DATA / raster}: the benchmark needs ../shared/data."
            )
        request = TrainRequest(
            str(DATA / raster), str(DATA / polygons), SamplingConfig("class_name", bands=bands)
        )
        samples = collect_samples(request.raster, request.polygons, request.sampling)
        default_model, default_train = ModelConfig(), TrainingConfig()
        grouped, warnings = grouped_stratified_folds(samples, k, seed=0)
        pixel = random_pixel_folds(len(samples), k, seed=0)
        t0 = time.perf_counter()
        by_pixel = cross_validate(samples, pixel, default_model, default_train)
        by_group = cross_validate(samples, grouped, default_model, default_train)
        print(f"\n{name}: {len(samples)} px, {len(samples.classes)} classes, {k} folds")
        for w in warnings:
            print("  note:", w)
        print(f"  default {by_group.label()}")
        print(f"  random pixel k-fold OA     {by_pixel.oa_mean:.1%} +/- {by_pixel.oa_std:.1%}")
        print(f"  grouped polygon k-fold OA  {by_group.oa_mean:.1%} +/- {by_group.oa_std:.1%}")
        print(f"  leakage (pixel - grouped)  {by_pixel.oa_mean - by_group.oa_mean:+.1%}")
        scores = [by_group]
        for hidden, lr, mom, act, bs in (
            (h, lr, m, a, default_train.batch_size)
            for h in space.hidden_layers
            for lr in space.learning_rate
            for m in space.momentum
            for a in space.activation
        ):
            model = replace(default_model, hidden_layers=tuple(hidden), activation=act)
            train = replace(default_train, learning_rate=lr, momentum=mom, batch_size=bs)
            if model == default_model and train == default_train:
                continue
            try:
                scores.append(cross_validate(samples, grouped, model, train))
            except LandCoverError as exc:  # a diverging learning rate: report, go on
                print(f"  left out lr={lr:g} m={mom:g} {hidden}: {exc}")
        best = rank(scores)[0]
        print(f"  tuned (best of {len(scores)}) {best.label()}")
        print(f"  tuned grouped k-fold OA    {best.oa_mean:.1%} +/- {best.oa_std:.1%}")
        print(f"  default grouped k-fold OA  {by_group.oa_mean:.1%} +/- {by_group.oa_std:.1%}")
        print(f"  seconds                    {time.perf_counter() - t0:.0f}")
        out[name] = {
            "pixel_kfold_oa": round(by_pixel.oa_mean, 4),
            "grouped_kfold_oa": round(by_group.oa_mean, 4),
            "leakage": round(by_pixel.oa_mean - by_group.oa_mean, 4),
            "default": by_group.label(),
            "tuned": best.label(),
            "tuned_grouped_oa": round(best.oa_mean, 4),
            "configurations": len(scores),
            "folds": k,
        }
    print("\nNote: the tuned score is the maximum over the grid on the same folds, so it carries a")
    print("small selection bias; nested cross-validation would remove it.")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
