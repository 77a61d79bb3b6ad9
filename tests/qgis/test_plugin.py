"""The plugin class as QGIS drives it: classFactory, initGui, unload, load again, and the
plugin without PyTorch (it must load, show its provider and say how to install torch)."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from qgis.core import QgsApplication
from qgis.PyQt.QtWidgets import QAction

pytestmark = pytest.mark.qgis_tier

PROVIDER_ID = "landcover_mlp"
MENU = "&Land Cover MLP"
RASTER_CALLS = (
    "addToolBarIcon",
    "removeToolBarIcon",
    "addPluginToRasterMenu",
    "removePluginRasterMenu",
)


def registered() -> Any:
    return QgsApplication.processingRegistry().providerById(PROVIDER_ID)


def assert_all_removed(calls: dict[str, list[tuple[Any, ...]]]) -> None:
    """Every menu entry and toolbar button the plugin added was removed again."""
    for add, remove in (("addPluginToRasterMenu", "removePluginRasterMenu"),
                        ("addToolBarIcon", "removeToolBarIcon")):  # fmt: skip
        assert calls[add], f"nothing was added through {add}"
        assert sorted(calls[add], key=repr) == sorted(calls[remove], key=repr), remove


@pytest.fixture
def iface(qgis_iface: Any, processing_framework: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """pytest-qgis's interface with the Raster menu/toolbar calls it lacks, recorded.

    Any provider left by other tests is removed first, so the plugin registers its own.
    """
    calls: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for name in RASTER_CALLS:
        monkeypatch.setattr(
            qgis_iface, name, lambda *args, _n=name: calls[_n].append(args), raising=False
        )
    if registered() is not None:
        QgsApplication.processingRegistry().removeProvider(registered())
    yield SimpleNamespace(iface=qgis_iface, calls=calls)
    assert registered() is None, "a test left the plugin loaded"


@pytest.fixture
def plugin_loader(iface: Any) -> Iterator[Any]:
    """``load()`` -> an initialised plugin; whatever is still loaded is unloaded at the end."""
    import landcover_mlp

    loaded: list[Any] = []

    def load(package: Any = landcover_mlp) -> Any:
        plugin = package.classFactory(iface.iface)
        plugin.initGui()
        loaded.append(plugin)
        return plugin

    yield load
    for plugin in loaded:
        if plugin.provider is not None or plugin.action is not None:
            plugin.unload()


def test_init_gui_adds_action_and_provider(iface: Any, plugin_loader: Any) -> None:
    plugin = plugin_loader()
    action = plugin.action
    assert isinstance(action, QAction)
    assert action.text().startswith("Land Cover MLP")
    assert not action.icon().isNull(), "resources/icon.svg loads"
    assert (action,) in iface.calls["addToolBarIcon"]
    assert (MENU, action) in iface.calls["addPluginToRasterMenu"]
    provider = registered()
    assert provider is plugin.provider
    names = {alg.name() for alg in provider.algorithms()}
    assert {"train", "classify", "trainclassify", "evaluate"} <= names


def test_unload_removes_everything(iface: Any, plugin_loader: Any) -> None:
    plugin = plugin_loader()
    action = plugin.action
    plugin.unload()
    assert registered() is None
    assert (action,) in iface.calls["removeToolBarIcon"]
    assert_all_removed(iface.calls)
    assert plugin.action is None and plugin.provider is None


def test_load_unload_load_again(iface: Any, plugin_loader: Any) -> None:
    first = plugin_loader()
    first_action = first.action
    first.unload()
    second = plugin_loader()
    assert registered() is second.provider
    assert QgsApplication.processingRegistry().algorithmById("landcover_mlp:trainclassify")
    assert second.action is not first_action
    second.unload()
    assert registered() is None
    buttons = [args[0] for args in iface.calls["addToolBarIcon"]]
    assert buttons[0] is first_action and len(buttons) == 2
    assert_all_removed(iface.calls)


def test_init_processing_alone_registers_once(iface: Any) -> None:
    """qgis_process calls only initProcessing(); a second call must not register twice."""
    import landcover_mlp

    plugin = landcover_mlp.classFactory(iface.iface)
    plugin.initProcessing()
    provider = plugin.provider
    plugin.initProcessing()
    assert plugin.provider is provider and registered() is provider
    plugin.unload()
    assert registered() is None
    assert not iface.calls["removeToolBarIcon"], "no GUI was made, none is removed"


@pytest.fixture
def without_torch(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh import of the plugin package while ``import torch`` fails, as on a QGIS whose
    Python has no torch. The original modules come back after the test."""
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    for name in [m for m in sys.modules if m.split(".")[0] == "landcover_mlp"]:
        monkeypatch.delitem(sys.modules, name)
    import landcover_mlp

    return landcover_mlp


def test_without_torch_plugin_loads_and_explains(
    iface: Any, plugin_loader: Any, without_torch: Any
) -> None:
    with pytest.raises(ImportError):
        import torch  # noqa: F401 - any import of torch by the plugin fails the same way
    plugin = plugin_loader(without_torch)
    assert plugin.action is not None
    provider = registered()
    assert provider is not None, "the provider appears even without torch"
    assert type(provider).__module__.startswith("landcover_mlp.")
    algorithms = {alg.name(): alg for alg in provider.algorithms()}
    assert {"train", "classify", "trainclassify", "evaluate"} <= set(algorithms)
    for name, alg in algorithms.items():
        ok, message = alg.canExecute()
        if name in ("evaluate", "accuracysample"):
            assert ok, "assessing accuracy needs no torch"
        else:
            assert not ok, f"{name} claims it can run without torch"
            assert "PyTorch is not installed" in message
            assert "pip install" in message and "torch" in message
    plugin.unload()
    assert registered() is None


def test_install_advice_keeps_qgis_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The by-hand install advice pins the numpy QGIS imports, whatever its major version."""
    import numpy

    from landcover_mlp.plugin import torch_check

    monkeypatch.setattr(sys, "platform", "linux")
    advice = torch_check.install_command()
    assert f'"numpy=={numpy.__version__}"' in advice
    assert "numpy<2" not in advice and "below 2" not in advice


def test_loading_the_plugin_keeps_triton_out(tmp_path: Any) -> None:
    """classFactory blocks triton (PyPI torch's compiler, with its own LLVM, crashed the QGIS
    desktop on Debian 13) and torch's optimiser still runs. In a fresh interpreter, as QGIS
    loads the plugin before anything imported torch (this test process may hold the real
    triton already when torch is PyPI's CUDA build)."""
    import subprocess

    code = (
        "import sys\n"
        "import landcover_mlp\n"
        "landcover_mlp.classFactory(None)\n"
        "assert 'triton' in sys.modules and sys.modules['triton'] is None, 'not blocked'\n"
        "import torch\n"
        "m = torch.nn.Linear(2, 2)\n"
        "torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9).step()\n"
        "assert sys.modules['triton'] is None\n"
        "print('ok')\n"
    )
    import os
    from pathlib import Path

    import landcover_mlp

    plugins = Path(landcover_mlp.__file__).absolute().parents[1]  # the folder QGIS loads from
    env = {**os.environ, "PYTHONPATH": str(plugins)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=env)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
