"""Fixtures of the QGIS tier: Processing with the Land Cover MLP provider, the generated sample
scene, one trained run on it shared by the tests, and a ``qgis_process`` runner that sees the
plugin.

pytest-qgis starts one offscreen ``QgsApplication`` for the session (with a throw-away profile
in ``QGIS_CUSTOM_CONFIG_PATH``). The real Landsat data come from the ``landsat7`` fixture of
``tests/conftest.py``, which fails (never skips) when ../shared/data is missing.
"""

from __future__ import annotations

import os
import subprocess
import sysconfig
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from qgis.core import QgsApplication, QgsProcessingFeedback

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "build" / "plugins"
PROVIDER_ID = "landcover_mlp"
# Debian's /usr/bin/qgis_process wrapper adds $QGIS_OPTS, which the binary may reject.
QGIS_PROCESS = Path("/usr/bin/qgis_process.bin")

# --------------------------------------------------------------------------------------------
# Processing


class RecordingFeedback(QgsProcessingFeedback):
    """Keeps every message; ``cancel_at`` cancels when a message starts with that text
    (``cancelled_at``: the index in ``infos`` of the message that cancelled).

    Cancelling calls ``cancel()`` (not an ``isCanceled`` override): ``isCanceled`` is not virtual
    in C++, and the multi-step feedback of trainclassify follows the parent's ``canceled``
    signal, so this is how a click on Cancel reaches every step.
    """

    def __init__(self, cancel_at: str | None = None) -> None:
        super().__init__(False)
        self.infos: list[str] = []
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self.cancel_at = cancel_at
        self.cancelled_at: int | None = None

    def pushInfo(self, info: str) -> None:  # noqa: N802 - QGIS virtual
        self.infos.append(info)
        if self.cancel_at and info.startswith(self.cancel_at) and not self.isCanceled():
            self.cancelled_at = len(self.infos) - 1
            self.cancel()

    def pushWarning(self, warning: str) -> None:  # noqa: N802 - QGIS virtual
        self.warnings.append(warning)

    def reportError(self, error: str, fatalError: bool = False) -> None:  # noqa: N802, N803
        self.errors.append(error)

    def epochs(self) -> list[str]:
        """The per-epoch loss lines."""
        return [m for m in self.infos if m.startswith("Epoch ")]


class BatchCounter:
    """Counts training's batches (gradient steps) by what had happened when each ran:
    ``before`` the watched cancel, ``after_cancel`` it, and ``after_close`` (once the test
    called :meth:`close`: none may run then). A cancel is judged by batches, never seconds.

    Counted in the worker thread, read by the test once the work has ended.
    """

    def __init__(self) -> None:
        self.before = self.after_cancel = self.after_close = 0
        self._cancelled: Callable[[], bool] = lambda: False
        self._closed = False

    def watch(self, cancelled: Callable[[], bool]) -> None:
        """Judge each batch by ``cancelled()`` (a feedback's or task's ``isCanceled``)."""
        self._cancelled = cancelled

    def close(self) -> None:
        """From now on every batch counts as ``after_close``."""
        self._closed = True

    def count(self) -> None:
        if self._closed:
            self.after_close += 1
        elif self._cancelled():
            self.after_cancel += 1
        else:
            self.before += 1


@pytest.fixture
def batch_counter(monkeypatch: pytest.MonkeyPatch) -> BatchCounter:
    """A :class:`BatchCounter` fed by every ``FlatSGD.step`` (one per batch) of this test."""
    from landcover_mlp.core import training

    counter = BatchCounter()
    real_step = training.FlatSGD.step

    def counting_step(self: Any, lr: float) -> None:
        counter.count()
        real_step(self, lr)

    monkeypatch.setattr(training.FlatSGD, "step", counting_step)
    return counter


@pytest.fixture(scope="session")
def processing_framework(qgis_processing: None) -> None:
    """Processing initialised (pytest-qgis puts QGIS's python/plugins on sys.path)."""
    import processing  # noqa: F401 - fails here if the Processing plugin is missing


_KEEP: list[Any] = []  # Python references to providers handed to the registry


def ensure_provider() -> Any:
    """The registered ``landcover_mlp`` provider, registering one when there is none."""
    from landcover_mlp.plugin.processing.provider import LandCoverMlpProvider

    registry = QgsApplication.processingRegistry()
    provider = registry.providerById(PROVIDER_ID)
    if provider is None:
        provider = LandCoverMlpProvider()
        assert registry.addProvider(provider)
        _KEEP.append(provider)
    return provider


@pytest.fixture
def provider(processing_framework: None) -> Any:
    """The Land Cover MLP provider, registered (tests of the plugin class may remove it)."""
    return ensure_provider()


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Tiny batches: extra OpenMP threads only spin on a small shared machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_algorithm(
    name: str, parameters: dict[str, Any], feedback: RecordingFeedback | None = None
) -> dict[str, Any]:
    """``processing.run('landcover_mlp:<name>', ...)``; errors raise QgsProcessingException."""
    import processing

    ensure_provider()
    with one_torch_thread():
        return processing.run(f"{PROVIDER_ID}:{name}", parameters, feedback=feedback)


@pytest.fixture(scope="session")
def run_alg(processing_framework: None) -> Callable[..., dict[str, Any]]:
    """``run_alg(name, parameters, feedback=None)`` -> results of processing.run."""
    return run_algorithm


@pytest.fixture(scope="session")
def recording_feedback() -> type[RecordingFeedback]:
    """The feedback class that records messages (``cancel_at=`` cancels on a message)."""
    return RecordingFeedback


# --------------------------------------------------------------------------------------------
# Data


@pytest.fixture(scope="session")
def sample_scene(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The seeded synthetic scene of core/sample_scene.py (400 x 300 px, 6 bands)."""
    from landcover_mlp.core.sample_scene import generate_sample_scene

    return generate_sample_scene(tmp_path_factory.mktemp("sample_scene"))


SCENE_EPOCHS = 40


@dataclass
class Run:
    """Outputs of one algorithm run with the messages it logged."""

    folder: Path
    parameters: dict[str, Any]
    results: dict[str, Any]
    feedback: RecordingFeedback
    seconds: float = 0.0

    def path(self, key: str) -> Path:
        return Path(self.results[key])


def trainclassify_parameters(folder: Path, **parameters: Any) -> dict[str, Any]:
    """trainclassify outputs in ``folder`` plus ``parameters``."""
    return {
        "MODEL": str(folder / "model.safetensors"),
        "CLASSIFIED": str(folder / "classes.tif"),
        "CONFIDENCE": str(folder / "confidence.tif"),
        "REPORT": str(folder / "report.html"),
        "LOSS_CURVE": str(folder / "loss.png"),
        **parameters,
    }


@pytest.fixture(scope="session")
def scene_run(
    processing_framework: None, sample_scene: Any, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    """trainclassify on the sample scene (class_name, grouped validation), run once."""
    folder = tmp_path_factory.mktemp("scene_run")
    parameters = trainclassify_parameters(
        folder,
        RASTER=str(sample_scene.raster),
        POLYGONS=str(sample_scene.polygons),
        CLASS_FIELD=sample_scene.class_field,
        EPOCHS=SCENE_EPOCHS,
        PATIENCE=10,
        DEVICE=1,  # cpu: the same model on every machine
    )
    feedback = RecordingFeedback()
    started = time.perf_counter()
    results = run_algorithm("trainclassify", parameters, feedback)
    return Run(folder, parameters, results, feedback, time.perf_counter() - started)


# --------------------------------------------------------------------------------------------
# qgis_process


def venv_site_packages() -> str:
    """Where this interpreter's packages (torch) live; QGIS's own Python needs it on its path."""
    return sysconfig.get_paths()["purelib"]


def enable_plugin(config_dir: Path, plugin: str = PROVIDER_ID) -> Path:
    """A QGIS profile folder (for QGIS_CUSTOM_CONFIG_PATH) in which ``plugin`` is enabled.

    This is the setting ``qgis_process plugins enable <plugin>`` writes; qgis_process loads only
    enabled plugins.
    """
    ini = config_dir / "profiles" / "default" / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text(f"[PythonPlugins]\n{plugin}=true\n", encoding="utf-8")
    return config_dir


def qgis_process_env(
    plugin_path: Path, config_dir: Path, unset: Sequence[str] = (), **extra: str
) -> dict[str, str]:
    """Environment for qgis_process: offscreen, the given plugin folder and profile, torch.

    PYTHONPATH holds only the site-packages of this interpreter (torch); the build/plugins
    folder the test process imports from is left out so qgis_process imports the plugin from
    ``plugin_path``. pytest-qgis's own QGIS_CUSTOM_CONFIG_PATH is replaced.
    """
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        QGIS_PLUGINPATH=str(plugin_path),
        QGIS_CUSTOM_CONFIG_PATH=str(config_dir),
        PYTHONPATH=venv_site_packages(),
        XDG_RUNTIME_DIR=str(config_dir / "runtime"),
        OMP_NUM_THREADS="1",  # tiny batches: extra OpenMP threads only spin
        **extra,
    )
    (config_dir / "runtime").mkdir(mode=0o700, parents=True, exist_ok=True)
    return env


@dataclass
class QgisProcess:
    """Runs ``qgis_process.bin`` with a plugin folder and a profile of its own."""

    plugin_path: Path
    config_dir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()

    def env(self) -> dict[str, str]:
        """The environment qgis_process runs with."""
        return qgis_process_env(self.plugin_path, self.config_dir, self.unset, **self.env_extra)

    def __call__(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        if not QGIS_PROCESS.exists():
            pytest.fail(f"{QGIS_PROCESS} is missing: install the Debian package qgis.")
        return subprocess.run(
            [str(QGIS_PROCESS), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(self, algorithm: str, **parameters: Any) -> subprocess.CompletedProcess[str]:
        """``qgis_process run landcover_mlp:<algorithm> -- KEY=VALUE ...``; lists repeat the key."""
        return self("run", f"{PROVIDER_ID}:{algorithm}", "--", *cli_arguments(parameters))

    @staticmethod
    def results_of(stdout: str) -> dict[str, str]:
        """The ``KEY:<tab>value`` lines qgis_process prints under "Results"."""
        _, _, tail = stdout.partition("Results\n----------------")
        pairs = (line.split(":\t", 1) for line in tail.splitlines() if ":\t" in line)
        return {k.strip(): v.strip() for k, v in pairs}

    @staticmethod
    def explain(proc: subprocess.CompletedProcess[str]) -> str:
        """The end of a run's output, for assertion messages."""
        return (
            f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}\n"
            f"--- stderr ---\n{proc.stderr[-4000:]}"
        )


def cli_arguments(parameters: dict[str, Any]) -> list[str]:
    """KEY=VALUE arguments; a list or tuple value repeats KEY (qgis_process's multi-value form)."""
    out: list[str] = []
    for key, value in parameters.items():
        values: Sequence[Any] = value if isinstance(value, (list, tuple)) else [value]
        out.extend(f"{key}={v}" for v in values)
    return out


@pytest.fixture
def qgis_process_for(tmp_path: Path) -> Callable[..., QgisProcess]:
    """``qgis_process_for(plugin_path, unset=(), **env)``: a runner with its own profile in which
    the plugin is enabled; ``unset`` names variables taken out of its environment."""
    made = 0

    def make(plugin_path: Path, unset: Sequence[str] = (), **env_extra: str) -> QgisProcess:
        nonlocal made
        made += 1
        profile = enable_plugin(tmp_path / f"qgis_profile_{made}")
        return QgisProcess(Path(plugin_path), profile, env_extra, tuple(unset))

    return make


@pytest.fixture
def qgis_process(qgis_process_for: Callable[..., QgisProcess]) -> QgisProcess:
    """qgis_process seeing the repository through build/plugins, the plugin enabled."""
    if not (PLUGINS / PROVIDER_ID / "metadata.txt").exists():
        pytest.fail(f"{PLUGINS / PROVIDER_ID} is missing: run `make link` first.", pytrace=False)
    return qgis_process_for(PLUGINS)


@pytest.fixture(autouse=True)
def _single_torch_thread() -> Iterator[None]:
    """Every QGIS-tier test trains tiny batches: one torch thread (see one_torch_thread)."""
    with one_torch_thread():
        yield
