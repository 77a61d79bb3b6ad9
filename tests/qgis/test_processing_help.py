"""The Processing algorithms' help (issue 13 item 10): every parameter with its help in the
dialog's help panel (QGIS 3.22 shows only shortHelpString there), labels without a second
"(optional)", float parameters with the table's decimals, and a Help button that opens a page
of the plugin's own (offline) naming the algorithm and its parameters."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest
from qgis.core import QgsProcessingParameterNumber
from qgis.PyQt.QtCore import QUrl

from landcover_mlp.core import settings
from landcover_mlp.plugin import compat
from landcover_mlp.plugin.compat import PARAMETER_OPTIONAL

pytestmark = pytest.mark.qgis_tier

ALGORITHMS = ("train", "classify", "trainclassify", "evaluate", "tune", "accuracysample",
              "explore", "explain")  # fmt: skip


def algorithms(provider: Any) -> list[Any]:
    found = {alg.name(): alg for alg in provider.algorithms()}
    assert set(found) == set(ALGORITHMS)
    return [found[name] for name in ALGORITHMS]


def test_help_panel_lists_every_parameter_with_its_help(provider: Any) -> None:
    for alg in algorithms(provider):
        text = alg.shortHelpString()
        lines = text.split("\n")
        params = alg.parameterDefinitions()
        assert len(params) > 3
        # the summary, "Parameters:", then one line per parameter, in the dialog's order
        assert len(lines) == 2 + len(params), alg.name()
        for line, param in zip(lines[2:], params):
            label, _, help_text = line.partition(": ")
            assert label.startswith(param.description().rstrip(")")), (alg.name(), line)
            assert help_text == html.escape(param.help(), quote=False), (alg.name(), line)
            optional = bool(param.flags() & PARAMETER_OPTIONAL)
            assert ("optional" in label) == optional, (alg.name(), line)


def test_optional_and_advanced_are_said_once(provider: Any) -> None:
    train = next(a for a in algorithms(provider) if a.name() == "train")
    lines = train.shortHelpString().split("\n")
    validation = next(x for x in lines if x.startswith("Validation polygons"))
    assert validation.startswith("Validation polygons (optional): ")
    epochs = next(x for x in lines if x.startswith("Epochs"))
    assert epochs.startswith("Epochs: ")  # a main setting, and not "Epochs (epochs)"
    rate = next(x for x in lines if x.startswith("Learning rate"))
    assert rate.startswith("Learning rate (advanced): ")
    dropout = next(x for x in lines if x.startswith("Dropout"))
    assert dropout.startswith("Dropout (0 = off, advanced): ")  # one pair of brackets


def test_no_label_says_optional(provider: Any) -> None:
    """QGIS appends "[optional]" itself: "Validation polygons (optional) [optional]"."""
    doubled = [
        f"{alg.name()}:{p.name()}"
        for alg in algorithms(provider)
        for p in alg.parameterDefinitions()
        if "optional" in p.description().lower()
    ]
    assert not doubled


def test_every_float_parameter_shows_the_tables_decimals(provider: Any) -> None:
    """Not "Time budget 10.000000": the spin box shows the settings table's decimals."""
    seen = 0
    for alg in algorithms(provider):
        for p in alg.parameterDefinitions():
            if not isinstance(p, QgsProcessingParameterNumber):
                continue
            if p.dataType() != compat.NUMBER_DOUBLE:
                continue
            expected = settings.BY_NAME[p.name().lower()].decimals
            assert p.metadata()["widget_wrapper"]["decimals"] == expected, p.name()
            seen += 1
    assert seen >= 6


def test_help_url_is_a_page_naming_the_algorithm_and_its_parameters(provider: Any) -> None:
    for alg in algorithms(provider):
        url = QUrl(alg.helpUrl())
        assert url.isLocalFile(), alg.helpUrl()
        page = Path(url.toLocalFile()).read_text(encoding="utf-8")
        assert html.escape(alg.displayName()) in page
        assert f"landcover_mlp:{alg.name()}" in page
        for p in alg.parameterDefinitions():
            assert f"<code>{p.name()}</code>" in page, (alg.name(), p.name())
            assert html.escape(p.help()) in page, (alg.name(), p.name())
