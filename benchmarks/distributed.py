"""Throughput of classification on a local Dask cluster of 1, 2, ... workers, next to a local run.

Run from the repository root::

    PYTHONPATH=build/plugins .venv/bin/python benchmarks/distributed.py [--size 10000] [--workers 1,2]

Steps:

1. The raster and the model of ``benchmarks/throughput.py`` (imported: the same generator,
   polygons and default model): SIZE x SIZE, 10 UInt16 bands, 256 px tiles.
2. The local figure: ``classify_raster`` without Dask in a fresh process (all cores, one
   torch thread per core), as throughput.py measures it.
3. For each worker count N (default: 1, 2, ... up to the machine's cores): a LocalCluster of N
   worker processes, one thread each, started, warmed up on a 1024 x 1024 crop (the workers
   import torch and read the model file once), then timed on the whole raster: Mpx/s, the
   scaling efficiency (Mpx/s over N times the 1-worker figure) and each worker's peak
   resident memory (VmHWM read by ``client.run``), and the CPU time the workers and the
   client spent (Mpx per worker CPU-second does not depend on other work on the machine as
   much as the wall-clock figures do). The class raster is checked to be the local run's,
   pixel for pixel.

The client (this process) writes the outputs: on a machine with as many workers as cores it
competes with them for the CPU, as on a real cluster it would not (the client runs elsewhere).
The last line printed is one JSON object with all the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

# This file is named like the ``distributed`` package, and Python puts its folder first on
# sys.path: take the folder off, or ``import distributed`` would import this file.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import numpy as np  # noqa: E402
from osgeo import gdal  # noqa: E402


def _throughput():  # noqa: ANN202 - a module
    """benchmarks/throughput.py: the raster generator, the model recipe and the local run."""
    spec = importlib.util.spec_from_file_location("throughput", HERE / "throughput.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["throughput"] = module
    spec.loader.exec_module(module)
    return module


throughput = _throughput()

from landcover_mlp.core.config import (  # noqa: E402
    ModelConfig,
    PredictionConfig,
    SamplingConfig,
    TrainingConfig,
    TrainRequest,
)
from landcover_mlp.core.distributed import DaskRunner, cluster_figures, dask_client  # noqa: E402
from landcover_mlp.core.model_io import load_model, save_model  # noqa: E402
from landcover_mlp.core.prediction import classify_raster  # noqa: E402
from landcover_mlp.core.workflow import train_model  # noqa: E402


def _model(raster: Path, out: Path, scene, epochs: int) -> Path:  # noqa: ANN001
    """The default model trained on the scene (as throughput.py trains it), saved."""
    polygons = out / "throughput_polygons.gpkg"
    throughput.write_polygons(scene, polygons, per_class=20)
    sampling = SamplingConfig(class_field="class_id", max_per_class=3000, seed=scene.seed)
    trained = train_model(
        TrainRequest(
            raster=str(raster),
            polygons=str(polygons),
            sampling=sampling,
            model=ModelConfig(),
            training=TrainingConfig(epochs=epochs, device="cpu"),
        )
    )
    return save_model(trained.model, out / "distributed_model.safetensors")


def _same(a: Path, b: Path) -> bool:
    """Whether two class rasters hold the same pixels (compared strip by strip)."""
    da, db = gdal.Open(str(a)), gdal.Open(str(b))
    for y in range(0, da.RasterYSize, 1024):
        rows = min(1024, da.RasterYSize - y)
        if not np.array_equal(
            da.ReadAsArray(0, y, da.RasterXSize, rows), db.ReadAsArray(0, y, db.RasterXSize, rows)
        ):
            return False
    return True


def run_cluster(workers: int, raster: Path, crop: Path, model_path: Path, out: Path) -> dict:
    """Start a local cluster of ``workers``, warm it up on ``crop``, time ``raster``."""
    model = load_model(model_path)
    config = PredictionConfig(device="cpu")
    started = time.perf_counter()
    with dask_client(workers=workers) as client:
        runner = DaskRunner(client, model_path, config)
        classify_raster(crop, model, out / "warmup.tif", config=config, runner=runner)
        warm_s = time.perf_counter() - started
        output = out / f"distributed_{workers}.tif"
        load = os.getloadavg()[0]
        cpu_before = client.run(time.process_time)
        client_cpu = time.process_time()
        began = time.perf_counter()
        result = classify_raster(raster, model, output, config=config, runner=runner)
        seconds = time.perf_counter() - began
        client_cpu = time.process_time() - client_cpu
        cpu_after = client.run(time.process_time)
        figures = cluster_figures(client)
    worker_cpu = sum(cpu_after[a] - cpu_before[a] for a in cpu_after)
    return {
        "workers": workers,
        "seconds": round(seconds, 3),
        "startup_and_warmup_s": round(warm_s, 3),
        "valid_pixels": result.valid_pixels,
        "worker_cpu_s": round(worker_cpu, 3),
        "client_cpu_s": round(client_cpu, 3),
        "peak_rss_mb_per_worker": sorted(round(f["peak_rss_mb"], 1) for f in figures.values()),
        "model_loads_per_worker": sorted(int(f["model_loads"]) for f in figures.values()),
        "load_avg_before": round(load, 2),
        "output": str(output),
    }


def main() -> None:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="raster side in pixels")
    parser.add_argument("--out", default="bench_output", help="work folder (default %(default)s)")
    parser.add_argument(
        "--workers",
        default=",".join(str(n) for n in range(1, cores + 1)),
        help="worker counts to time, comma-separated (default: 1 to the cores, %(default)s)",
    )
    parser.add_argument("--epochs", type=int, default=10, help="training epochs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    counts = [int(n) for n in args.workers.split(",")]
    size = args.size
    mpx = size * size / 1e6
    scene = throughput.Scene(size, args.seed)
    raster = out / f"throughput_{size}.tif"
    gen_s = throughput.generate_raster(scene, raster, "NONE")
    print(f"Raster: {raster} {size} x {size} x {throughput.BANDS} UInt16 ({mpx:.1f} Mpx)", end="")
    print(f", generated in {gen_s:.1f} s" if gen_s else ", reused")
    crop = out / "distributed_crop.tif"
    gdal.Translate(str(crop), str(raster), srcWin=[size // 2, size // 2, 1024, 1024])
    model_path = _model(raster, out, scene, args.epochs)
    print(f"Model: {load_model(model_path).describe_network()}")

    local_out = out / "distributed_local.tif"
    local = throughput.run_child(raster, model_path, local_out, None)
    local_mpx = mpx / local["seconds"]
    print(
        f"Local (no Dask): {local_mpx:.2f} Mpx/s, {local['torch_threads']} torch threads, "
        f"peak RSS {local['peak_rss_mb']:.0f} MiB"
    )

    runs = []
    for n in counts:
        run = run_cluster(n, raster, crop, model_path, out)
        run["mpix_per_s"] = round(mpx / run["seconds"], 3)
        run["mpix_per_worker_cpu_s"] = round(mpx / run["worker_cpu_s"], 3)
        run["identical_to_local"] = _same(Path(run.pop("output")), local_out)
        runs.append(run)
    one = next((r["mpix_per_s"] for r in runs if r["workers"] == 1), None)
    for run in runs:
        run["scaling_efficiency"] = (
            round(run["mpix_per_s"] / (run["workers"] * one), 3) if one else None
        )
        print(
            f"{run['workers']} worker(s): {run['mpix_per_s']:.2f} Mpx/s "
            f"(efficiency {run['scaling_efficiency']}; {run['mpix_per_worker_cpu_s']:.2f} Mpx per "
            f"worker CPU-second, client CPU {run['client_cpu_s']:.1f} s), peak RSS per worker "
            f"{run['peak_rss_mb_per_worker']} MiB, model read {run['model_loads_per_worker']} "
            f"time(s) per worker, start-up and warm-up {run['startup_and_warmup_s']:.1f} s, "
            f"same map as local: {run['identical_to_local']}"
        )
    figures = {
        "size": size,
        "megapixels": round(mpx, 3),
        "cores": cores,
        "local_mpix_per_s": round(local_mpx, 3),
        "local_peak_rss_mb": round(local["peak_rss_mb"], 1),
        "local_torch_threads": local["torch_threads"],
        "local_mpix_per_cpu_s": round(mpx / local["cpu_seconds"], 3),
        "runs": runs,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
