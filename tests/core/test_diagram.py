"""The network diagram of the training report: every layer size, the activation, the
parameter count (the torch module's) and every output class, as well-formed SVG."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace

from landcover_mlp.core.classes import ClassInfo
from landcover_mlp.core.config import PERCEPTRON, ModelConfig
from landcover_mlp.core.diagram import MAX_DRAWN, model_svg, network_svg, parameter_count
from landcover_mlp.core.network import MLP

SVG = "{http://www.w3.org/2000/svg}"


def _classes(n: int) -> tuple[ClassInfo, ...]:
    return tuple(ClassInfo(i + 1, f"class <{i + 1}> & co", "#1f77b4") for i in range(n))


def _numel(n_inputs: int, hidden: tuple[int, ...], n_classes: int, members: int = 1) -> int:
    module = MLP(n_inputs, hidden, n_classes, "relu", 0.0, members)
    return sum(p.numel() for p in module.parameters())


def _texts(svg: str) -> list[str]:
    """The text of every <text> and <title> of the drawing (parses: well-formed XML)."""
    root = ET.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter() if t.tag in (SVG + "text", SVG + "title")]


def test_parameter_count_is_the_torch_modules():
    for hidden in ((), (16,), (32, 32), (200, 7, 3)):
        assert parameter_count(6, hidden, 5) == _numel(6, hidden, 5), hidden
    assert parameter_count(6, (16,), 5, 3) == _numel(6, (16,), 5, members=3)


def test_the_svg_names_every_layer_the_activation_the_parameters_and_every_class():
    bands = [f"{b}: B{b}" for b in range(1, 8)]
    classes = _classes(12)
    svg = network_svg(bands, (200, 32), "tanh", classes)
    texts = _texts(svg)
    count = _numel(7, (200, 32), 12)
    assert (
        texts[0] == f"Multilayer perceptron 7-200-32-12: {count:,} parameters (weights and biases)"
    )
    for words in ("Input", "7 bands", "Hidden layer 1", "200 neurons", "Hidden layer 2",
                  "32 neurons", "Output", "12 classes", "softmax(w·x + b)"):  # fmt: skip
        assert words in texts, words
    assert texts.count("tanh(w·x + b)") == 2  # one per hidden layer
    for c in classes:  # every class, escaped in the source, named in the drawing
        assert c.name in texts
    assert "class &lt;1&gt; &amp; co" in svg
    for band in bands:  # 7 bands fit in MAX_DRAWN (8)
        assert band in texts
    # 7 bands drawn; 200 and 32 neurons: their first MAX_DRAWN - 1, an ellipsis and their
    # last one each; 12 classes all drawn
    circles = ET.fromstring(svg).findall(f"{SVG}circle")
    assert len(circles) == 7 + 2 * MAX_DRAWN + 12
    assert texts.count("\u22ee") == 2


def test_the_perceptron_and_an_ensemble():
    svg = network_svg(["1: a", "2: b"], (), "relu", _classes(3))
    texts = _texts(svg)
    assert (
        texts[0] == f"Perceptron (linear) 2-3: {_numel(2, (), 3)} parameters (weights and biases)"
    )
    assert not [t for t in texts if t.startswith("Hidden layer") or "relu" in t]
    five = _texts(network_svg(["1: a", "2: b"], (4,), "relu", _classes(3), networks=5))
    one = _numel(2, (4,), 3)
    assert f"5 x {one:,} = {_numel(2, (4,), 3, members=5):,} parameters" in five[0]


def test_the_training_report_shows_the_diagram(scene_model, tmp_path):
    from landcover_mlp.core.outputs import save_training_outputs
    from landcover_mlp.core.workflow import TrainResult

    state_count = sum(v.size for k, v in scene_model.state.items() if k.startswith("layers."))
    svg = model_svg(scene_model)
    assert f"{state_count:,} parameters" in _texts(svg)[0]
    report = tmp_path / "m_report.html"
    save_training_outputs(TrainResult(scene_model, None, 10, 0, 1.0), tmp_path / "m.safetensors",
                          None, report)  # fmt: skip
    page = report.read_text(encoding="utf-8")
    assert "<h2>Network</h2>" in page and svg in page
    details = json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))["details"]
    assert details["model"] == scene_model.describe_network()  # the text stays


def test_a_perceptron_model_says_it_is_linear(scene_model):
    linear = replace(
        scene_model,
        model=ModelConfig((), ensemble=1),
        state={
            "mean": scene_model.state["mean"],
            "std": scene_model.state["std"],
            "layers.0.weight": scene_model.state["layers.0.weight"][:, :3, :],
            "layers.0.bias": scene_model.state["layers.0.bias"][:, :3],
        },
    )
    assert linear.describe_network() == f"{PERCEPTRON}: one network 3-3"
    assert _texts(model_svg(linear))[0].startswith("Perceptron (linear) 3-3: 12 parameters")
