"""Classify on a Dask cluster (``dask.distributed``): the windows of a raster are the tasks.

The client (this process) plans the windows of each input as a local run does (aligned to the
input's native blocks, :func:`~.prediction.plan_windows`), submits them with a bounded number
in flight, and writes each window's classes (and confidence, probabilities) as it arrives, into
the same outputs as a local run (:class:`~.prediction.LocalRunner`'s writer, under the output
stage of :func:`~.prediction.classify_raster`): one writer per input, no shared filesystem
needed for the outputs. A task carries paths and a window, never weights: each worker reads
the model file once (a cache keyed by path, modification time and size) and reads its window
of the input itself, so the workers must reach the inputs and the model by the same paths
(absolute paths are sent).

A worker that dies mid-run loses nothing: the scheduler gives its tasks, and the results it
held that the client had not fetched yet, to other workers; the client writes a window only
from a finished task's result.

dask and distributed are optional: this module imports them only when a cluster is used
(:func:`import_distributed`), so a local run never loads them.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .callbacks import Hooks
from .config import PredictionConfig
from .errors import LandCoverError
from .raster import RasterInfo, Window
from .settings import Setting

if TYPE_CHECKING:
    from distributed import Client, Future
    from osgeo import gdal

    from .model_io import LandCoverModel
    from .prediction import _OutputRasters
    from .predictor import Predictor

#: The versions requirements-dev.txt pins (Python 3.10 to 3.14).
DASK_VERSION = "2026.8.0"
#: glibc's mmap threshold for the workers of a local cluster (32 MiB, its largest): dask
#: starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also pins this threshold at 128 KiB,
#: so every array of a window (20 MB of input for 1 Mpx of 10 UInt16 bands) was fresh pages
#: from the kernel: measured 2.3x the CPU time per window (half of it page faults). Workers
#: started by hand should get the same variable (see the README).
MMAP_THRESHOLD = 32 * 1024 * 1024
WORKER_MALLOC = "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_"
#: Pixels of one task: 16 output tiles of 256 x 256 px, 0.1 s of one core's work for the
#: 10-band, 10-32-32-6 network of benchmarks/distributed.py: the scheduler's millisecond per
#: task does not count, the work spreads over many workers, a lost window is quickly redone.
TASK_PIXELS = 1 << 20


def install_command() -> str:
    """The command that installs dask and distributed for this Python.

    Inside QGIS it names QGIS's own interpreter (as plugin/torch_check.py does; sys.executable
    is qgis there, or whatever python3 is first on PATH) and a folder that Python reads: the
    plugin's dependency folder on ``sys.path`` (where "Set up PyTorch" put torch), else the
    user's site-packages, with ``--break-system-packages`` where the distribution marks its
    Python as externally managed (Debian 12 and later refuse a plain pip install). Neither
    package touches numpy.
    """
    import sysconfig

    packages = f"dask=={DASK_VERSION} distributed=={DASK_VERSION}"
    python = sys.executable
    inside_qgis = "qgis.core" in sys.modules
    if not inside_qgis and Path(python).name.lower().startswith("python"):
        return f"{python} -m pip install {packages}"
    if sys.platform.startswith("win"):
        return f"in the OSGeo4W Shell: python -m pip install {packages}"
    if sys.platform == "darwin":
        python = "/Applications/QGIS.app/Contents/MacOS/bin/python3"
    else:
        python = f"{sys.base_prefix}/bin/python{sys.version_info[0]}.{sys.version_info[1]}"
    deps = [p for p in sys.path if Path(p).parent.name == DEPS_FOLDER]
    if deps:
        return f"{python} -m pip install --target {deps[0]} {packages}"
    managed = Path(sysconfig.get_path("stdlib")) / "EXTERNALLY-MANAGED"
    extra = " --break-system-packages" if managed.exists() else ""
    return f"{python} -m pip install --user{extra} {packages}"


#: The folder of the plugin's dependencies in the QGIS profile (plugin/torch_setup.py's
#: ``DEPS_FOLDER``; one sub-folder per Python version).
DEPS_FOLDER = "landcover_mlp_deps"


SCHEDULER = Setting(
    "scheduler", "text", "", "Dask scheduler",
    "Address of a running dask.distributed scheduler (e.g. tcp://10.0.0.5:8786): its workers "
    "classify the windows and this computer writes the outputs. The scheduler and the "
    "workers must import landcover_mlp (its folder on their PYTHONPATH), and the workers "
    "read the rasters and the model file by the same paths as this computer. Empty: "
    "classify here. "
    f"Needs dask and distributed: {install_command()}.",
    group="prediction",
)  # fmt: skip
WORKERS = Setting(
    "workers", "int", 0, "Local Dask workers",
    "Start a local Dask cluster of this many worker processes (one torch thread each) for "
    "the run, and stop it at the end. Needs dask and distributed: "
    f"{install_command()}.",
    unit="workers", minimum=0, maximum=1024, group="prediction", zero_means="off",
)  # fmt: skip
#: The settings of a classification on a Dask cluster (command line: ``--scheduler``,
#: ``--workers``; Processing: the scheduler only).
CLUSTER: tuple[Setting, ...] = (SCHEDULER, WORKERS)


class DaskMissingError(LandCoverError):
    """dask or distributed cannot be imported; the message says how to install them."""


def import_distributed() -> ModuleType:
    """The ``distributed`` module, imported now.

    Returns:
        The module.

    Raises:
        DaskMissingError: it is missing or broken (any import error, e.g. a dependency of
            the wrong version), with the install command.
    """
    try:
        import distributed
    except Exception as exc:  # noqa: BLE001 - any failure of an optional import is reported
        raise DaskMissingError(
            "Classifying on a Dask cluster needs the dask and distributed packages, which "
            f"cannot be imported here ({type(exc).__name__}: {exc}): install them with "
            f"{install_command()}"
        ) from None
    return distributed


@contextmanager
def dask_client(scheduler: str = "", workers: int = 0) -> Iterator[Client]:
    """A ``distributed.Client`` of a running scheduler, or of a local cluster for the block.

    Args:
        scheduler: address of a running scheduler (``tcp://host:8786``), or "".
        workers: without ``scheduler``: start a local cluster of this many worker processes,
            one thread each (so one torch thread each), closed when the block ends.

    Yields:
        The client.

    Raises:
        LandCoverError: both or neither given, the scheduler cannot be reached (after dask's
            connect timeout, ``distributed.comm.timeouts.connect``), or dask is missing
            (:class:`DaskMissingError`).
    """
    scheduler = scheduler.strip()
    if scheduler and workers:
        raise LandCoverError(
            "Give either a Dask scheduler to connect to (--scheduler) or a number of local "
            "workers to start (--workers), not both."
        )
    if not scheduler and workers < 1:
        raise LandCoverError("A Dask cluster needs a scheduler address or at least 1 worker.")
    cores = os.cpu_count() or 1
    if workers > cores:
        raise LandCoverError(
            f"--workers {workers} is more than this computer's {cores} cores: give "
            f"--workers {cores} at most (each worker is a process with one torch thread and "
            "about 400 MB; more only compete for the cores), or --scheduler for a cluster "
            "of several machines."
        )
    if scheduler:
        _check_address(scheduler)
    distributed = import_distributed()
    with _quiet_dask_logs(), ExitStack() as stack:
        if scheduler:
            client = _connect(distributed, scheduler)
        else:
            import dask

            # The workers' logs stay quiet: a task's failure reaches the client as its
            # sentence, and "Compute Failed" or a cancelled task's warning would repeat it.
            with dask.config.set({WORKER_MALLOC: MMAP_THRESHOLD}):
                cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.CRITICAL,
                    preload=[__name__],  # dask_setup below: Ctrl+C is this process's
                )  # fmt: skip
            stack.callback(cluster.close)
            client = distributed.Client(cluster, set_as_default=False)
        stack.callback(client.close)  # first: the cluster closes after
        yield client


def dask_setup(worker: object) -> None:
    """Make a worker of a local cluster ignore SIGINT (dask's preload hook, run as it starts).

    Ctrl+C in a terminal reaches the whole process group; the client cancels the run and
    closes the cluster, and the workers' own KeyboardInterrupt tracebacks would bury its one
    sentence.

    Args:
        worker: the starting ``distributed.Worker`` (unused).
    """
    import signal

    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread (a worker inside this process): nothing to do
        pass


def _check_address(scheduler: str) -> None:
    """Refuse at once what cannot be a scheduler's address.

    A web address, or a port where nothing listens (dask would retry for its whole connect
    timeout, 30 s).

    Raises:
        LandCoverError: the sentence.
    """
    from urllib.parse import urlsplit

    scheme = scheduler.split("://", 1)[0].lower() if "://" in scheduler else "tcp"
    if scheme in ("http", "https"):
        raise LandCoverError(
            f"'{scheduler}' is a web address (the dashboard's?): give the scheduler's address, "
            "tcp://host:8786 (dask scheduler prints it as it starts)."
        )
    if scheme != "tcp":
        return  # tls://, ucx://, inproc://: dask's own checks
    parts = urlsplit(scheduler if "://" in scheduler else f"tcp://{scheduler}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is no number
        host, port = None, None
    if not host or not port:
        raise LandCoverError(
            f"'{scheduler}' is no scheduler address: give tcp://host:port (e.g. "
            "tcp://10.0.0.5:8786)."
        )
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
    except ConnectionRefusedError:
        raise LandCoverError(
            f"Nothing listens at '{scheduler}': start the scheduler (dask scheduler, then dask "
            "worker on each machine) or check the host and port (8786 by default)."
        ) from None
    except OSError:
        pass  # a timeout or a name to resolve: dask's connect says more


#: Seconds beyond dask's connect timeout that the handshake with a scheduler may take.
HANDSHAKE_GRACE_S = 10.0
#: Seconds to wait for a scheduler without workers to get one before the run is refused.
WORKER_WAIT_S = 10.0


def _seconds(value: str | float) -> float:
    """A dask timeout setting ("30s", "1 minute", 10) in seconds."""
    from dask.utils import parse_timedelta

    return float(parse_timedelta(value, default="seconds") or 0.0)


def _connect(distributed: ModuleType, scheduler: str) -> Client:
    """A client of the scheduler at ``scheduler`` that has workers, or a sentence why not.

    Anything that answers but is no Dask scheduler (an SSH server, the dashboard's HTTP port)
    fails the handshake in many ways (a decoding error, a 2.8 EiB allocation, a timeout):
    every one is the same sentence.
    """
    outcome: dict[str, Any] = {}

    def connect() -> None:  # in a thread: a peer that never answers must not hang the run
        try:
            outcome["client"] = distributed.Client(scheduler, set_as_default=False)
        except Exception as exc:  # noqa: BLE001 - any failure of the handshake: one sentence
            outcome["error"] = exc

    import dask

    limit = _seconds(dask.config.get("distributed.comm.timeouts.connect")) + HANDSHAKE_GRACE_S
    thread = threading.Thread(target=connect, name="landcover_mlp_dask_connect", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():  # e.g. the dashboard's HTTP port: it accepts and never answers
        raise LandCoverError(
            f"'{scheduler}' did not answer as a Dask scheduler within {limit:.0f} s: give the "
            "scheduler's address (tcp://host:8786, not the dashboard's) and check it runs."
        )
    if "error" in outcome:
        exc = outcome["error"]
        raise LandCoverError(
            f"Could not reach the Dask scheduler at '{scheduler}' ({type(exc).__name__}: "
            f"{str(exc)[:200]}): start it (dask scheduler, then dask worker on each machine) "
            "and give its address (tcp://host:8786, not the dashboard's)."
        ) from None
    client: Client = outcome["client"]
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except (TimeoutError, OSError):
        client.close()
        raise LandCoverError(
            f"The Dask scheduler at '{scheduler}' has had no worker for {WORKER_WAIT_S:g} s: "
            "start at least one "
            f"(dask worker {scheduler}) on a machine that reads the rasters and the model by "
            "the same paths and has landcover_mlp on its PYTHONPATH."
        ) from None
    return client


@contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Only dask's warnings (a worker lost, memory) meanwhile.

    Its INFO lines (workers started, comms closed) would bury the run's own on the command
    line's log.
    """
    logger = logging.getLogger("distributed")
    previous = logger.level
    logger.setLevel(max(previous, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(previous)


# -- the worker's side ---------------------------------------------------------------------


@dataclass(frozen=True)
class WindowTask:
    """One window to classify: what a task sends to a worker (paths, never weights).

    Attributes:
        raster: the input, by a path every worker can read.
        model: the model file, by a path every worker can read.
        bands: 1-based bands the model uses.
        nodata: nodata value of every band of the input (index 0 is band 1), or None.
        window: the pixel window.
        device: device setting (auto, cpu, cuda, mps) of the worker's network.
        chunk: pixels pushed through the network at once.
        confidence: return the top class probability.
        probabilities: return every class probability.
    """

    raster: str
    model: str
    bands: tuple[int, ...]
    nodata: tuple[float | None, ...]
    window: Window
    device: str
    chunk: int
    confidence: bool
    probabilities: bool


@dataclass(frozen=True)
class WindowResult:
    """What a task returns: one window's results, as the writer takes them.

    Attributes:
        window: the pixel window.
        valid: (rows, cols) bool mask of the classified pixels, None when all are.
        labels: (n,) class index of each valid pixel (uint8, uint16 above 256 classes).
        top: (n,) float32 top class probability, or None.
        probs: (classes, n) float32 class probabilities, or None.
    """

    window: Window
    valid: npt.NDArray[np.bool_] | None
    labels: npt.NDArray[np.unsignedinteger[Any]]
    top: npt.NDArray[np.float32] | None
    probs: npt.NDArray[np.float32] | None


_lock = threading.Lock()
_models: dict[tuple[str, int, int], LandCoverModel] = {}
_local = threading.local()
#: Model files this process has read (the workers' load-once rule is checked with it), and
#: windows it has classified.
_model_loads = 0
_windows_done = 0


def _worker_model(path: str) -> tuple[tuple[str, int, int], LandCoverModel]:
    """The model of ``path``, read once per process and file version (path, mtime, size)."""
    global _model_loads
    from .model_io import load_model

    stat = os.stat(path)
    key = (path, stat.st_mtime_ns, stat.st_size)
    with _lock:
        model = _models.get(key)
        if model is None:
            model = load_model(path)
            _models.clear()  # an older version of the file, or another model: not needed
            _models[key] = model
            _model_loads += 1
    return key, model


def _predictor(task: WindowTask) -> Predictor:
    """This thread's network for ``task``'s model.

    A Predictor keeps per-call buffers, so each of a worker's threads has its own; the weights
    come from the process's cache.
    """
    from .predictor import Predictor

    key, model = _worker_model(task.model)
    wanted = (key, task.device, task.chunk)
    cached = getattr(_local, "predictor", None)
    if cached is None or cached[0] != wanted:
        net = Predictor(model, task.device, task.chunk)
        # One thread per task: the worker's own threads run tasks side by side.
        net.workers = 1
        cached = _local.predictor = (wanted, net)
    return cached[1]


def _dataset(raster: str) -> gdal.Dataset:
    """This thread's open dataset of ``raster`` (a GDAL dataset is not shared by threads)."""
    from .prediction import _open_input

    cached = getattr(_local, "dataset", None)
    if cached is None or cached[0] != raster:
        _local.dataset = None  # the previous input closes before the next opens
        cached = _local.dataset = (raster, _open_input(raster))
    return cached[1]


def classify_window(task: WindowTask) -> WindowResult:
    """Read and classify one window (runs on a Dask worker).

    Returns:
        The window's class indices of valid pixels, its valid mask and the probabilities
        asked for.

    Raises:
        LandCoverError: the worker could not read the input or the model, or the network
            failed; the sentence names the worker's machine.
    """
    from .prediction import _read

    try:
        ds = _dataset(task.raster)
        x, valid = _read(ds, task.bands, task.window, task.nodata)
        net = _predictor(task)
        n = x.shape[1]
        labels = np.empty(n, dtype=np.int64)
        top = np.empty(n, np.float32) if task.confidence else None
        probs = np.empty((net.n_classes, n), np.float32) if task.probabilities else None
        net.predict(x, labels, top, probs)
    except Exception as exc:  # noqa: BLE001 - every failure gets the worker's sentence
        text = str(exc)
        about_files = isinstance(exc, OSError | RuntimeError) or any(
            Path(p).name in text for p in (task.raster, task.model)
        )
        hint = (
            " (workers read the rasters and the model file by the same paths as the "
            "computer that runs the classification)"
            if about_files
            else ""
        )
        raise LandCoverError(
            f"A Dask worker on '{socket.gethostname()}' could not classify a window of "
            f"'{Path(task.raster).name}' with '{Path(task.model).name}': "
            f"{text.rstrip('.')}{hint}."
        ) from None
    global _windows_done
    with _lock:
        _windows_done += 1
    small = np.uint8 if net.n_classes <= 256 else np.uint16  # 8x less to send than int64
    return WindowResult(task.window, valid, labels.astype(small), top, probs)


def worker_figures() -> dict[str, float]:
    """This worker's model-file reads, windows classified and peak resident memory.

    Returns:
        ``model_loads``, ``windows`` and ``peak_rss_mb`` (VmHWM in MiB; NaN where /proc is
        missing).
    """
    peak = float("nan")
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
    except OSError:
        pass
    return {"model_loads": _model_loads, "windows": _windows_done, "peak_rss_mb": peak}


# -- the client's side ---------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    """``1 worker``, ``2 workers``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


#: The package the tasks name (``landcover_mlp.core.distributed.classify_window``): the
#: scheduler unpickles the task graph and the workers the tasks, so both must import it.
PACKAGE = __name__.split(".")[0]


def package_folder() -> str:
    """The folder that holds this package here (what the cluster's PYTHONPATH must name)."""
    # not resolved: the package may be a link (a plugin folder linked to a checkout)
    return str(Path(os.path.abspath(__file__)).parent.parent.parent)


def check_cluster_environment(client: Client) -> None:
    """Refuse a cluster whose scheduler or workers cannot import this package.

    Without it the scheduler fails every task with "Error during deserialization of the
    task graph" and a worker closes on its first task (the client would then wait for
    workers forever). The check asks with a function of the standard library
    (``importlib.util.find_spec``), which any Python can unpickle.

    Args:
        client: a connected client.

    Raises:
        LandCoverError: the scheduler or some workers lack the package (naming them and the
            PYTHONPATH to give them).
    """
    import importlib.util

    hint = (
        f"start it with PYTHONPATH={package_folder()} (the folder holding {PACKAGE}, at the "
        "same path on every machine) or install the plugin there"
    )
    try:
        on_scheduler = client.run_on_scheduler(importlib.util.find_spec, PACKAGE)
        on_workers = client.run(importlib.util.find_spec, PACKAGE)
    except Exception:  # noqa: BLE001 - a cluster that refuses the check: the tasks will tell
        return
    if on_scheduler is None:
        raise LandCoverError(
            f"The Dask scheduler cannot import {PACKAGE}, which it needs to read the "
            f"tasks: {hint}."
        )
    missing = sorted(address for address, spec in on_workers.items() if spec is None)
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise LandCoverError(
            f"{_count(len(missing), 'Dask worker')} of {len(on_workers)} cannot import "
            f"{PACKAGE} ({shown}): "
            f"{hint.replace('start it', 'restart it' if len(missing) == 1 else 'restart them')}."
        )


def _shared_path(path: str) -> str:
    """An existing file as an absolute path, other GDAL names as given.

    A worker's working folder is not ours; ``/vsicurl/...`` names and connection strings
    mean the same everywhere.
    """
    return str(Path(path).resolve()) if Path(path).exists() else path


class DaskRunner:
    """Windows classified by the workers of a Dask cluster, written here as they arrive.

    A :class:`~.prediction.WindowRunner` for :func:`~.prediction.classify_raster`.

    Memory here stays bounded: at most ``in_flight`` windows are submitted and not yet
    written, and their results wait on the workers until this process fetches them, one at
    a time.
    """

    def __init__(self, client: Client, model_path: str | Path, config: PredictionConfig,
                 max_window_pixels: int | None = TASK_PIXELS,
                 in_flight: int | None = None) -> None:  # fmt: skip
        """Classify with ``client``'s workers and the model file ``model_path``.

        Args:
            client: a ``distributed.Client`` (see :func:`dask_client`).
            model_path: the model file the workers read (the model the caller loaded).
            config: chunk size and device of the workers' networks.
            max_window_pixels: pixels of one task at most (and the memory budget).
            in_flight: windows submitted and not yet written, at most; None: twice the
                cluster's threads (each busy, and as many results waiting to be fetched).
        """
        self.client = client
        self.model_path = _shared_path(str(model_path))
        self.config = config
        self.max_window_pixels = max_window_pixels
        info = client.scheduler_info()
        workers = info.get("workers", {})
        self.threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        self.in_flight = in_flight or max(2, 2 * self.threads)
        self.device_name = (
            f"the Dask cluster at {info.get('address', '?')} ({_count(len(workers), 'worker')}, "
            f"{_count(self.threads, 'thread')})"
        )
        check_cluster_environment(client)

    def _task(self, raster: str, info: RasterInfo, bands: tuple[int, ...], window: Window,
              out: _OutputRasters) -> WindowTask:  # fmt: skip
        return WindowTask(raster, self.model_path, bands, info.nodata, window,
                          self.config.device, self.config.chunk_pixels,
                          "conf" in out.datasets, "prob" in out.datasets)  # fmt: skip

    def run(self, ds: gdal.Dataset, info: RasterInfo, bands: tuple[int, ...],
            windows: list[Window], out: _OutputRasters, hooks: Hooks) -> None:  # fmt: skip
        """Submit every window, write each result as it arrives.

        See :class:`~.prediction.WindowRunner`.

        A cancel stops submitting and cancels the windows in flight.

        Raises:
            CancelledError: the user cancelled.
            LandCoverError: a worker failed (its sentence), tasks were lost with too many
                workers (``distributed.scheduler.allowed-failures``), or the scheduler went
                away.
        """
        raster = _shared_path(info.path)
        token = uuid.uuid4().hex[:8]
        queue = iter(enumerate(windows))
        pending: set[Future[WindowResult]] = set()

        def submit_next() -> None:
            for k, window in queue:
                pending.add(self.client.submit(
                    classify_window, self._task(raster, info, bands, window, out),
                    key=f"landcover-{Path(raster).stem}-{token}-{k}", pure=False,
                ))  # fmt: skip
                return

        try:
            for _ in range(self.in_flight):
                submit_next()
            with self.client.as_current():  # wait() looks for its client there
                self._drain(pending, submit_next, out, len(windows), hooks)
        finally:
            if pending:  # cancelled or failed: the rest is not wanted
                self.client.cancel(list(pending))

    def _drain(self, pending: set[Future[WindowResult]], submit_next: Callable[[], None],
               out: _OutputRasters, total: int, hooks: Hooks) -> int:  # fmt: skip
        """Write results as tasks finish, submitting one window per window written.

        Runs until none is pending; returns the windows written.
        """
        distributed = import_distributed()
        written = 0
        no_worker_since: float | None = None
        while pending:
            hooks.check()
            # wait() with a timeout rather than as_completed(): a cancel is seen within
            # half a second even while every worker is busy (or gone).
            try:
                done = distributed.wait(pending, timeout=0.5, return_when="FIRST_COMPLETED")
            except TimeoutError:
                no_worker_since = self._check_workers(no_worker_since)
                continue
            no_worker_since = None
            for future in done.done:
                result = self._result(future, distributed, hooks)  # a failed one stays pending
                pending.discard(future)
                out.write(result.window, result.valid, result.labels, result.top,
                          result.probs)  # fmt: skip
                written += 1
                hooks.progress(100.0 * written / total)
                hooks.check()
                submit_next()
        return written

    def _check_workers(self, since: float | None) -> float | None:
        """When the cluster first had no worker (None: it has some now).

        Raises:
            LandCoverError: it has had none for :data:`WORKER_WAIT_S` (workers that died
                and were not restarted, or stopped): the tasks would wait forever.
        """
        if self.client.nthreads():
            return None
        now = time.monotonic()
        if since is None:
            return now
        if now - since >= WORKER_WAIT_S:
            raise LandCoverError(
                f"The Dask cluster has had no worker for {WORKER_WAIT_S:g} s (they died or "
                "were stopped; their logs say why): start workers again and rerun; the "
                "outputs of this raster were not written."
            )
        return since

    def _result(self, future: Future[WindowResult], distributed: ModuleType,
                hooks: Hooks) -> WindowResult:  # fmt: skip
        """The finished task's result, fetched here and released on the cluster.

        A worker that dies holding the result makes the scheduler compute it again: the
        fetch waits for that, checking for a cancel and for workers meanwhile.
        """
        no_worker_since: float | None = None
        try:
            while True:
                try:
                    result: WindowResult = future.result(timeout=0.5)
                    break
                except TimeoutError:
                    hooks.check()
                    no_worker_since = self._check_workers(no_worker_since)
            future.release()
        except distributed.KilledWorker as exc:
            raise LandCoverError(
                f"{exc.allowed_failures + 1} Dask workers in a row died while classifying one "
                "window (distributed.scheduler.allowed-failures): they may run out of memory; "
                "give them more, or lower the memory budget."
            ) from None
        except (distributed.comm.CommClosedError, distributed.client.FutureCancelledError) as exc:
            # the scheduler went away (the client cancels every future it had then)
            raise LandCoverError(
                f"Lost the connection to the Dask scheduler ({exc}); the outputs of this "
                "raster were not written."
            ) from None
        except LandCoverError:
            raise  # the worker's own sentence
        except Exception as exc:  # noqa: BLE001 - e.g. the scheduler could not read the task
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise LandCoverError(
                f"The Dask cluster failed a window ({type(exc).__name__}: {first[:200]}); the "
                "outputs of this raster were not written."
            ) from None
        return result


def cluster_figures(client: Client) -> dict[str, dict[str, float]]:
    """Each worker's model-file reads and peak memory (:func:`worker_figures`), by address."""
    figures: dict[str, dict[str, float]] = client.run(worker_figures)
    return figures
