"""Classification on a Dask cluster (core/distributed.py): the same map as a local run, a killed
worker's windows redone, cancel, errors, and the command line's several rasters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from synthetic_scene import CLASS_STRIPES, NODATA

from landcover_mlp.core import CancelledError, LandCoverError
from landcover_mlp.core.batch import classify_scenes, scene_jobs
from landcover_mlp.core.callbacks import Hooks
from landcover_mlp.core.config import PredictionConfig
from landcover_mlp.core.distributed import (
    DaskMissingError,
    DaskRunner,
    cluster_figures,
    dask_client,
    import_distributed,
)
from landcover_mlp.core.model_io import save_model
from landcover_mlp.core.prediction import classify_raster, plan_windows
from landcover_mlp.core.raster import raster_info

REPO = Path(__file__).resolve().parents[2]
CPU = PredictionConfig(memory_mb=16, chunk_pixels=256, device="cpu")
#: 256 x 128 px tasks: 2 per 256 px tile of the input, 24 on the big scene.
TASK = 256 * 128
WIDTH, HEIGHT = 900, 700  # 4 x 3 tiles of 256 px, the last ones partial


@pytest.fixture(scope="module")
def big_scene(tmp_path_factory: pytest.TempPathFactory, make_raster) -> Path:
    """A 900 x 700, 3-band Float32 raster tiled in 256 px blocks: the scene's class stripes
    repeated every 64 columns, with a nodata rectangle across two tiles."""
    rng = np.random.default_rng(7)
    data = np.empty((3, HEIGHT, WIDTH), np.float32)
    cols = np.arange(WIDTH) % 64
    for _, (_, _, c0, c1, mean) in CLASS_STRIPES.items():
        inside = (cols >= c0) & (cols < c1)
        for b in range(3):
            data[b][:, inside] = mean[b] + rng.normal(0, 120, (HEIGHT, int(inside.sum())))
    data[:, 200:330, 100:600] = NODATA
    folder = tmp_path_factory.mktemp("big")
    return make_raster(folder / "big.tif", data, nodata=NODATA, block=256)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory, scene_model) -> Path:
    return save_model(scene_model, tmp_path_factory.mktemp("model") / "scene.safetensors")


@pytest.fixture(scope="module")
def local_map(tmp_path_factory, big_scene, scene_model) -> tuple[np.ndarray, np.ndarray, Path]:
    """The class and confidence arrays of a local run (no Dask) on the big scene, and its
    class raster."""
    folder = tmp_path_factory.mktemp("local")
    out, conf = folder / "local.tif", folder / "local_confidence.tif"
    classify_raster(big_scene, scene_model, out, conf, config=CPU)
    return _read(out), _read(conf), out


@pytest.fixture(scope="module")
def cluster():
    """A local cluster of 2 worker processes, one thread each, for the module."""
    with dask_client(workers=2) as client:
        yield client


def _read(path: Path) -> np.ndarray:
    return gdal.Open(str(path)).ReadAsArray()


def _styling(path: Path) -> tuple:
    ds = gdal.Open(str(path))
    band = ds.GetRasterBand(1)
    table = band.GetRasterColorTable()
    colours = [table.GetColorEntry(i) for i in range(table.GetCount())]
    return (
        band.DataType, band.GetNoDataValue(), band.GetBlockSize(), band.GetCategoryNames(),
        colours, ds.GetGeoTransform(), ds.GetProjection(),
        ds.GetMetadataItem("LANDCOVER_MLP_CLASSES"),
    )  # fmt: skip


def _story(dask_scheduler, key: str) -> list[tuple[str, str, str]]:
    """The scheduler's transitions of task ``key``: (from, to, what caused it)."""
    return [(t[1], t[2], t[4].rsplit("-", 1)[0]) for t in dask_scheduler.story(key)]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".part-" in p.name)


def test_cluster_map_equals_local_map_and_workers_read_the_model_once(
    cluster, big_scene, scene_model, model_file, local_map, tmp_path
) -> None:
    windows = plan_windows(raster_info(big_scene), scene_model, CPU, True, TASK)
    assert len(windows) == 24  # several tasks per worker
    before = cluster_figures(cluster)
    out, conf = tmp_path / "dask.tif", tmp_path / "dask_confidence.tif"
    runner = DaskRunner(cluster, model_file, CPU, max_window_pixels=TASK)
    result = classify_raster(big_scene, scene_model, out, conf, config=CPU, runner=runner)

    classes, confidence, local = local_map
    np.testing.assert_array_equal(_read(out), classes)
    np.testing.assert_allclose(_read(conf), confidence, atol=1e-6)
    assert len(np.unique(classes)) == 4  # three classes and nodata: not a blank map
    assert _styling(out) == _styling(local)  # colour table, names, nodata, grid
    assert result.valid_pixels == int(np.count_nonzero(classes))
    assert "Dask cluster" in result.device
    after = cluster_figures(cluster)
    windows_done = {a: after[a]["windows"] - before.get(a, {}).get("windows", 0) for a in after}
    assert sum(windows_done.values()) == 24
    for address, figures in after.items():
        if windows_done[address] >= 2:  # a worker that classified several windows ...
            assert figures["model_loads"] == 1, address  # ... read the model file once
    assert _leftovers(tmp_path) == []


def test_local_workers_run_one_torch_thread_and_keep_a_window_s_arrays_in_their_heap(
    cluster,
) -> None:
    def threads(dask_worker) -> tuple[int, int]:
        """A worker's task threads and torch's threads there. Defined here, so cloudpickle
        sends it by value: by reference, a worker would import this test module, whose
        ``from synthetic_scene import`` finds another folder's conftest when the whole suite runs."""
        import torch

        return dask_worker.state.nthreads, torch.get_num_threads()

    assert list(cluster.run(threads).values()) == [(1, 1), (1, 1)]
    # dask's MALLOC_TRIM_THRESHOLD_ pins glibc's mmap threshold at 128 KiB (every array of a
    # window fresh pages: 2.3x the CPU); the local cluster's workers raise it to 32 MiB.
    found = cluster.run(os.environ.get, "MALLOC_MMAP_THRESHOLD_")
    assert list(found.values()) == [str(32 * 1024 * 1024)] * 2
    # Trial: Ctrl+C in a terminal reached the workers too, each printing a KeyboardInterrupt
    # traceback around the run's one sentence; the client alone handles it.
    assert list(cluster.run(signal.getsignal, signal.SIGINT).values()) == [signal.SIG_IGN] * 2


def test_a_worker_killed_mid_run_loses_no_window(
    cluster, big_scene, scene_model, model_file, local_map, tmp_path
) -> None:
    pids = cluster.run(os.getpid)  # worker address -> process id
    killed: dict[str, object] = {}

    def progress(percent: float) -> None:
        if killed or percent >= 50:
            return
        # a worker running a window of this run: its result is lost with it
        processing = cluster.processing()
        for address, pid in pids.items():
            ours = [k for k in processing.get(address, ()) if str(k).startswith("landcover-")]
            if ours:
                os.kill(pid, signal.SIGKILL)
                killed.update(address=address, pid=pid, keys=ours, percent=percent)
                return

    out, conf = tmp_path / "dask.tif", tmp_path / "dask_confidence.tif"
    runner = DaskRunner(cluster, model_file, CPU, max_window_pixels=TASK)
    classify_raster(big_scene, scene_model, out, conf, config=CPU,
                    hooks=Hooks(progress=progress), runner=runner)  # fmt: skip

    assert killed, "a worker running a window was killed before the run ended"
    with pytest.raises(ProcessLookupError):
        os.kill(killed["pid"], 0)
    # the scheduler's story of the killed worker's window: taken back when the worker died,
    # then computed by another worker
    # (any of its windows in flight: one may have finished between the look and the kill, and
    # its result, held by the dead worker, is lost too)
    taken_back = {
        (state, "released", "handle-worker-cleanup") for state in ("processing", "memory")
    }
    stories = [cluster.run_on_scheduler(_story, key=k) for k in killed["keys"]]
    redone = [story for story in stories if taken_back & set(story)]
    assert redone, f"no window of the killed worker was taken back: {stories}"
    died = max(redone[0].index(t) for t in taken_back & set(redone[0]))
    assert ("processing", "memory", "task-finished") in redone[0][died:]
    classes, confidence, _ = local_map
    np.testing.assert_array_equal(_read(out), classes)
    np.testing.assert_allclose(_read(conf), confidence, atol=1e-6)
    assert _leftovers(tmp_path) == []


def _our_tasks(dask_scheduler) -> list[str]:
    """The tasks of classifications the scheduler still holds."""
    return [str(k) for k in dask_scheduler.tasks if str(k).startswith("landcover-")]


def _tasks_left(client) -> list[str]:
    """The classification tasks the scheduler holds once the releases of the windows
    written have reached it (they travel apart from the calls that ask)."""
    for _ in range(50):
        left = client.run_on_scheduler(_our_tasks)
        if not left:
            break
        time.sleep(0.1)
    return left


def test_cancel_stops_submitting_cancels_the_windows_in_flight_and_leaves_no_output(
    cluster, big_scene, scene_model, model_file, tmp_path
) -> None:
    seen: list[float] = []
    before = cluster_figures(cluster)
    hooks = Hooks(progress=seen.append, cancelled=lambda: bool(seen))  # cancel after 1 window
    runner = DaskRunner(cluster, model_file, CPU, max_window_pixels=TASK, in_flight=4)
    out = tmp_path / "dask.tif"
    with pytest.raises(CancelledError) as caught:
        classify_raster(big_scene, scene_model, out, tmp_path / "c.tif", config=CPU,
                        hooks=hooks, runner=runner)  # fmt: skip
    # The futures in flight are still referenced by the traceback: only a cancel ends them.
    assert _tasks_left(cluster) == [] and caught.traceback
    assert list(tmp_path.iterdir()) == []
    assert len(seen) == 1
    after = cluster_figures(cluster)
    computed = sum(f["windows"] - before.get(a, {}).get("windows", 0) for a, f in after.items())
    assert computed <= 1 + 4 < 24  # the window written and those in flight, at most


def test_a_worker_that_cannot_read_the_model_says_so_and_leaves_no_output(
    cluster, big_scene, scene_model, tmp_path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    runner = DaskRunner(cluster, tmp_path / "elsewhere.safetensors", CPU, max_window_pixels=TASK)
    with pytest.raises(
        LandCoverError, match=r"Dask worker on .*elsewhere\.safetensors.*same paths"
    ) as caught:
        classify_raster(big_scene, scene_model, folder / "x.tif", config=CPU, runner=runner)
    assert list(folder.iterdir()) == []
    assert _tasks_left(cluster) == [] and caught.traceback


def test_a_vrt_mosaic_on_the_cluster_equals_the_local_map(
    cluster, big_scene, scene_model, model_file, local_map, tmp_path
) -> None:
    halves = [tmp_path / "west.tif", tmp_path / "east.tif"]
    gdal.Translate(str(halves[0]), str(big_scene), srcWin=[0, 0, 448, HEIGHT])
    gdal.Translate(str(halves[1]), str(big_scene), srcWin=[448, 0, WIDTH - 448, HEIGHT])
    mosaic = tmp_path / "mosaic.vrt"
    gdal.BuildVRT(str(mosaic), [str(p) for p in halves]).FlushCache()
    out = tmp_path / "mosaic_classes.tif"
    runner = DaskRunner(cluster, model_file, CPU, max_window_pixels=TASK)
    classify_raster(mosaic, scene_model, out, config=CPU, runner=runner)
    np.testing.assert_array_equal(_read(out), local_map[0])


# -- several rasters and the command line ---------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(REPO / "build" / "plugins"), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "landcover_mlp.core", *args],
        capture_output=True, text=True, env={**full, **(env or {})}, timeout=300,
    )  # fmt: skip


def _error_line(proc: subprocess.CompletedProcess) -> str:
    """The one ``error:`` line a refused run ends with (no traceback)."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.rstrip().splitlines()[-1]
    assert last.startswith("error: ") and proc.stderr.count("error: ") == 1, proc.stderr
    return last


def test_outputs_of_several_rasters_are_named_by_the_table(tmp_path) -> None:
    jobs = scene_jobs(["a/T32TQM.tif", "b/mosaic.v2.vrt"], output_dir=str(tmp_path),
                      confidence="")  # fmt: skip
    assert [(j.raster, j.classified, j.confidence, j.probabilities) for j in jobs] == [
        ("a/T32TQM.tif", tmp_path / "T32TQM_classes.tif",
         tmp_path / "T32TQM_classes_confidence.tif", None),
        ("b/mosaic.v2.vrt", tmp_path / "mosaic.v2_classes.tif",
         tmp_path / "mosaic.v2_classes_confidence.tif", None),
    ]  # fmt: skip
    one = scene_jobs(["x.tif"], output=str(tmp_path / "map"), probabilities="")
    assert (one[0].classified, one[0].confidence) == (tmp_path / "map.tif", None)
    assert one[0].probabilities == tmp_path / "map_probabilities.tif"
    with pytest.raises(LandCoverError, match="'a/T1.tif' and 'b/T1.tif' would both be written"):
        scene_jobs(["a/T1.tif", "b/T1.tif"], output_dir=str(tmp_path))
    with pytest.raises(LandCoverError, match="give --confidence without a file name"):
        scene_jobs(["a.tif", "b.tif"], output_dir=str(tmp_path), confidence="c.tif")


def test_several_rasters_locally_each_get_their_outputs(
    big_scene, scene_model, local_map, tmp_path
) -> None:
    copy = tmp_path / "copy.tif"
    gdal.Translate(str(copy), str(big_scene))
    jobs = scene_jobs([str(big_scene), str(copy)], output_dir=str(tmp_path), confidence="")
    seen: list[float] = []
    results = classify_scenes(jobs, scene_model, CPU, Hooks(progress=seen.append))
    for job in jobs:
        np.testing.assert_array_equal(_read(job.classified), local_map[0])
        np.testing.assert_allclose(_read(job.confidence), local_map[1], atol=1e-6)
    assert [r.classified for r in results] == [j.classified for j in jobs]
    assert seen == sorted(seen) and seen[-1] == 100.0 and 49 < seen[len(seen) // 2 - 1] <= 50


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("bands differ", "differ in their bands: 'big.tif' has 3 band(s), 'four.tif' 4"),
        ("no output dir", "2 rasters need --output-dir DIR"),
        ("both cluster options", "not both"),
    ],
)
def test_the_command_line_refuses_with_one_sentence(
    case, words, big_scene, model_file, tmp_path, make_raster
) -> None:
    four = make_raster(tmp_path / "four.tif", np.ones((4, 20, 30), np.float32))
    args = {
        "bands differ": ["--raster", str(big_scene), str(four), "--output-dir", str(tmp_path)],
        "no output dir": ["--raster", str(big_scene), str(big_scene), "--output",
                          str(tmp_path / "x.tif")],
        "both cluster options": ["--raster", str(big_scene), "--output", str(tmp_path / "x.tif"),
                                 "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"],
    }[case]  # fmt: skip
    proc = run_cli("-q", "classify", "--model", str(model_file), *args)
    assert words in _error_line(proc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["four.tif"]


def test_an_unreachable_scheduler_is_one_sentence(big_scene, model_file, tmp_path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    proc = run_cli(
        "-q", "classify", "--raster", str(big_scene), "--model", str(model_file),
        "--output", str(tmp_path / "x.tif"), "--scheduler", address,
        env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"},
    )  # fmt: skip
    assert f"Nothing listens at '{address}': start the scheduler" in _error_line(proc)
    assert list(tmp_path.iterdir()) == []


NO_DASK = """
import json, sys
from landcover_mlp.core.cli import main
status = [main(argv) for argv in json.loads(sys.argv[1])]
print(json.dumps([status, sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed"))]))
"""


def test_a_run_without_cluster_options_never_imports_dask(big_scene, model_file, tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "build" / "plugins"), "OMP_NUM_THREADS": "1"}
    common = ["-q", "classify", "--model", str(model_file), "--device", "cpu"]
    runs = [
        [*common, "--raster", str(big_scene), "--output", str(tmp_path / "one.tif")],
        [*common, "--raster", str(big_scene), "--output-dir", str(tmp_path)],
    ]
    proc = subprocess.run([sys.executable, "-c", NO_DASK, json.dumps(runs)], capture_output=True,
                          text=True, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    status, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert status == [0, 0] and modules == []
    assert sorted(p.name for p in tmp_path.glob("*.tif")) == ["big_classes.tif", "one.tif"]


def test_without_dask_the_option_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    with pytest.raises(DaskMissingError, match=r"pip install( --\S+)* dask==\S+ distributed==\S+"):
        import_distributed()
    proc = run_cli("classify", "--help")
    assert "pip install dask==2026.8.0 distributed==2026.8.0" in " ".join(proc.stdout.split())


def test_the_command_line_classifies_several_rasters_on_a_local_cluster(
    big_scene, model_file, local_map, tmp_path
) -> None:
    copy = tmp_path / "copy.tif"
    gdal.Translate(str(copy), str(big_scene))
    out = tmp_path / "maps"
    out.mkdir()
    proc = run_cli(
        "classify", "--raster", str(big_scene), str(copy), "--model", str(model_file),
        "--output-dir", str(out), "--confidence", "--workers", "2", "--device", "cpu",
        "--memory-mb", "16",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Dask cluster" in proc.stdout and "2 workers" in proc.stdout
    assert "classify   [#########################] 100%" in proc.stderr  # the progress bar
    assert "Nanny" not in proc.stderr  # dask's INFO lines are kept out of the run's log
    for stem in ("big", "copy"):
        np.testing.assert_array_equal(_read(out / f"{stem}_classes.tif"), local_map[0])
        conf = _read(out / f"{stem}_classes_confidence.tif")
        np.testing.assert_allclose(conf, local_map[1], atol=1e-6)
    assert _leftovers(out) == []


def test_an_address_that_is_no_scheduler_and_a_scheduler_without_workers(monkeypatch) -> None:
    """Trial: an SSH banner on the port gave a traceback (a 2.8 EiB allocation in dask's
    handshake); a scheduler without workers made the run wait forever, silently."""
    import socket
    import threading

    import dask
    import distributed

    from landcover_mlp.core import distributed as dist

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []

    def answer() -> None:  # not a scheduler: a banner, then silence
        for _ in range(20):
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n" * 4)
            held.append(conn)

    threading.Thread(target=answer, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        with pytest.raises(
            LandCoverError, match=f"Could not reach the Dask scheduler at '{address}'"
        ):
            with dist.dask_client(address):
                pass
    server.close()
    monkeypatch.setattr(dist, "WORKER_WAIT_S", 0.5)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as empty:
        with pytest.raises(LandCoverError, match="has had no worker for 0.5 s: start at least one"):
            with dist.dask_client(empty.scheduler_address):
                pass


def test_the_install_command_inside_qgis_is_qgis_python(monkeypatch) -> None:
    """Trial: inside QGIS sys.executable was the pyenv python3 first on PATH."""
    import types

    from landcover_mlp.core.distributed import install_command

    monkeypatch.setattr(sys, "executable", "/root/.pyenv/shims/python3")
    monkeypatch.setitem(sys.modules, "qgis.core", types.ModuleType("qgis.core"))
    command = install_command()
    assert "pyenv" not in command and command.startswith(sys.base_prefix)


def test_a_port_that_accepts_and_never_answers_is_one_sentence(monkeypatch) -> None:
    """Trial: --scheduler at the dashboard's HTTP port hung with no output until Ctrl-C."""
    import socket
    import threading

    import dask

    from landcover_mlp.core import distributed as dist

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []

    def accept_and_wait() -> None:  # like an HTTP server waiting for a request line
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept_and_wait, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    monkeypatch.setattr(dist, "HANDSHAKE_GRACE_S", 1.0)
    try:
        with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
            with pytest.raises(LandCoverError, match="scheduler"):
                with dist.dask_client(address):
                    pass
    finally:
        server.close()
        for conn in held:
            conn.close()


def _start(*command: str, pythonpath: str | None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.Popen([str(Path(sys.executable).parent / "dask"), *command], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def _listening(address: str) -> None:
    """Wait until a scheduler started at ``address`` accepts connections."""
    import socket

    host, port = address.rsplit("//", 1)[1].rsplit(":", 1)
    for _ in range(300):
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"no scheduler at {address} after 30 s")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("lacking", ["scheduler", "worker"])
def test_a_cluster_that_cannot_import_the_package_is_one_sentence(
    lacking, big_scene, scene_model, model_file, tmp_path
) -> None:
    """Trial: a scheduler started without landcover_mlp on its PYTHONPATH failed the run as
    "Could not write ... check the folder and free disk space"; a worker without it closed on
    its first task and the run waited at 0 % forever."""
    plugins = str(REPO / "build" / "plugins")
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = [_start("scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                      "--dashboard-address", ":0",
                      pythonpath=None if lacking == "scheduler" else plugins)]  # fmt: skip
    try:
        _listening(address)
        for path in (plugins, None if lacking == "worker" else plugins):
            started.append(_start("worker", address, "--nthreads", "1", "--no-nanny",
                                  pythonpath=path))  # fmt: skip
        with dask_client(address) as client:
            client.wait_for_workers(2, timeout=60)
            sentence = (
                "The Dask scheduler cannot import landcover_mlp"
                if lacking == "scheduler"
                else r"1 Dask worker of 2 cannot import landcover_mlp \(tcp://"
            )
            with pytest.raises(LandCoverError, match=f"{sentence}.*PYTHONPATH={plugins} "):
                DaskRunner(client, model_file, CPU, max_window_pixels=TASK)
    finally:
        for proc in reversed(started):  # workers first: they wait for a scheduler that left
            proc.kill()
            proc.wait(30)


@pytest.mark.timeout(180)  # broken, it waits forever
def test_a_cluster_left_without_workers_mid_run_is_one_sentence(
    big_scene, scene_model, model_file, tmp_path, monkeypatch
) -> None:
    """Trial: workers that died on their tasks and were not restarted (no nanny) left the run
    waiting at 0 % forever."""
    import distributed

    from landcover_mlp.core import distributed as dist

    seen: list[float] = []
    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as local:  # fmt: skip
        worker = _start("worker", local.scheduler_address, "--nthreads", "1", "--no-nanny",
                        pythonpath=str(REPO / "build" / "plugins"))  # fmt: skip
        try:
            with dask_client(local.scheduler_address) as client:
                monkeypatch.setattr(dist, "WORKER_WAIT_S", 1.0)

                def kill_after_first(percent: float) -> None:
                    seen.append(percent)
                    if len(seen) == 1:
                        worker.kill()

                runner = DaskRunner(client, model_file, CPU, max_window_pixels=TASK, in_flight=2)
                with pytest.raises(LandCoverError, match="no worker for 1 s .* not written"):
                    classify_raster(big_scene, scene_model, tmp_path / "x.tif", config=CPU,
                                    hooks=Hooks(progress=kill_after_first),
                                    runner=runner)  # fmt: skip
        finally:
            worker.kill()
            worker.wait(30)
    assert list(tmp_path.iterdir()) == [] and 1 <= len(seen) < 24


def test_more_workers_than_cores_a_web_address_and_a_closed_port_are_refused_at_once(
    monkeypatch,
) -> None:
    """Trial: --workers 1024 ran the machine out of memory; http://... and a port where nothing
    listens each waited dask's 30 s connect timeout before one sentence."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    with pytest.raises(LandCoverError, match="--workers 3 is more than this computer's 2 cores"):
        with dask_client(workers=3):
            pass
    with pytest.raises(LandCoverError, match="is a web address"):
        with dask_client("http://127.0.0.1:8787/status"):
            pass
    with pytest.raises(LandCoverError, match="no scheduler address: give tcp://host:port"):
        with dask_client("tcp://127.0.0.1"):
            pass
    import distributed

    clients: list[tuple] = []  # dask's Client retries a refused port for 30 s: never called
    monkeypatch.setattr(distributed, "Client", lambda *a, **k: clients.append(a))
    port = _free_port()  # nothing listens there
    with pytest.raises(LandCoverError, match=f"Nothing listens at '127.0.0.1:{port}'"):
        with dask_client(f"127.0.0.1:{port}"):
            pass
    assert clients == []


def test_the_install_command_inside_qgis_reaches_a_folder_qgis_python_reads(
    monkeypatch, tmp_path
) -> None:
    """Trial: the command given in QGIS ('python3.11 -m pip install dask...') failed on Debian
    12 with "externally-managed-environment"."""
    import sysconfig
    import types

    from landcover_mlp.core import distributed as dist

    monkeypatch.setitem(sys.modules, "qgis.core", types.ModuleType("qgis.core"))
    deps = tmp_path / "landcover_mlp_deps" / "py311"
    monkeypatch.setattr(sys, "path", [*sys.path, str(deps)])
    assert f"pip install --target {deps} dask==" in dist.install_command()
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(deps)])
    stdlib = tmp_path / "stdlib"
    stdlib.mkdir()
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(stdlib))
    assert " --user dask==" in dist.install_command()
    (stdlib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\n")
    assert " --user --break-system-packages dask==" in dist.install_command()
