"""The network as a diagram, an inline SVG for the training report.

The diagram shows layers, neurons, activations, parameter count and the softmax output classes.

Drawn as the lecture draws a multilayer perceptron: one column of neurons per layer, every
neuron joined to every neuron of the next layer (a weighted sum), the inputs on the left (the
bands), the softmax outputs on the right (one per class, named and coloured). A layer of more
than :data:`MAX_DRAWN` neurons shows its first ones, a vertical ellipsis and its last one;
the output layer always shows every class. Pure Python: no torch, no plotting library.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .classes import ClassInfo
from .config import PERCEPTRON

if TYPE_CHECKING:
    from .model_io import LandCoverModel

#: Neurons drawn in an input or hidden column; a larger layer shows MAX_DRAWN - 1 of them, an
#: ellipsis and its last one. The output column shows every class.
MAX_DRAWN = 8
_ROW = 26  # px between neuron centres
_RADIUS = 8
_COLUMN = 170  # px between layer columns
_LEFT = 120  # room for the band labels
_RIGHT = 190  # room for the class labels
_TOP = 56  # title and layer names
_BOTTOM = 64  # layer sizes and activations
_FILL = {"input": "#dce6f2", "hidden": "#fde3c8"}


def parameter_count(
    n_inputs: int, hidden_layers: Sequence[int], n_classes: int, networks: int = 1
) -> int:
    """Weights and biases of ``networks`` fully connected networks n_inputs-hidden-n_classes.

    The sum over layers of (inputs + 1) x outputs, times ``networks`` (the input
    standardisation's mean and standard deviation are not learnt, so not counted).
    """
    sizes = [n_inputs, *hidden_layers, n_classes]
    return networks * sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))


def _rows(n: int, limit: int | None) -> list[int | None]:
    """Indices of the neurons drawn in a column of ``n`` (None: the ellipsis)."""
    if limit is None or n <= limit:
        return list(range(n))
    return [*range(limit - 1), None, n - 1]


def network_svg(
    bands: Sequence[str],
    hidden_layers: Sequence[int],
    activation: str,
    classes: Sequence[ClassInfo],
    networks: int = 1,
) -> str:
    """The network as an SVG element (to put inside an HTML page).

    Args:
        bands: one label per input band ("1: blue"), in input order.
        hidden_layers: neurons per hidden layer; () for the perceptron.
        activation: activation of the hidden layers ("relu", "tanh", "sigmoid").
        classes: the output classes, in output order (named and coloured in the drawing).
        networks: networks of this architecture in the model (an ensemble not distilled).

    Returns:
        ``<svg ...>...</svg>``: a title naming the architecture and the parameter count, one
        column per layer with its name, size and activation below it, the band labels on the
        left and every class on the right.
    """
    e = html.escape
    sizes = [len(bands), *hidden_layers, len(classes)]
    params = parameter_count(len(bands), hidden_layers, len(classes), 1)
    columns = [_rows(n, MAX_DRAWN) for n in sizes[:-1]] + [_rows(sizes[-1], None)]
    height_rows = max(len(c) for c in columns)
    width = _LEFT + _COLUMN * (len(sizes) - 1) + _RIGHT
    height = _TOP + _ROW * height_rows + _BOTTOM

    def centre(col: int, row: int) -> tuple[float, float]:
        drawn = len(columns[col])
        top = _TOP + _ROW * (height_rows - drawn) / 2 + _ROW / 2
        return _LEFT + _COLUMN * col, top + _ROW * row

    arch = "-".join(map(str, sizes))
    kind = "Perceptron (linear)" if not hidden_layers else "Multilayer perceptron"
    total = f"{params:,} parameters (weights and biases)"
    if networks > 1:
        total = f"ensemble of {networks} networks, {networks} x {params:,} = {networks * params:,} "
        total += "parameters (weights and biases)"
    title = f"{kind} {arch}: {total}"
    width = max(width, 7 * len(title) + 20)  # the bold title (about 7 px a character) fits
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{e(title)}" '
        'font-family="system-ui,sans-serif" font-size="12">',
        f"<title>{e(title)}</title>",
        f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-weight="bold">'
        f"{e(title)}</text>",
    ]
    # connections first, under the neurons
    for col in range(len(columns) - 1):
        for a, ia in enumerate(columns[col]):
            for b, ib in enumerate(columns[col + 1]):
                if ia is None or ib is None:
                    continue
                (x1, y1), (x2, y2) = centre(col, a), centre(col + 1, b)
                parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                             'stroke="#b8b8b8" stroke-width="0.6"/>')  # fmt: skip
    last = len(columns) - 1
    for col, rows in enumerate(columns):
        for r, index in enumerate(rows):
            x, y = centre(col, r)
            if index is None:
                parts.append(f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle" '
                             'font-size="16">&#8942;</text>')  # fmt: skip
                continue
            if col == last:
                fill = classes[index].colour
            else:
                fill = _FILL["input" if col == 0 else "hidden"]
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{_RADIUS}" fill="{e(fill)}" '
                         'stroke="#444" stroke-width="1"/>')  # fmt: skip
            if col == 0:
                parts.append(f'<text x="{x - _RADIUS - 6:.1f}" y="{y + 4:.1f}" '
                             f'text-anchor="end">{e(bands[index])}</text>')  # fmt: skip
            elif col == last:
                parts.append(f'<text x="{x + _RADIUS + 6:.1f}" y="{y + 4:.1f}">'
                             f"{e(classes[index].name)}</text>")  # fmt: skip
    for col, n in enumerate(sizes):
        x = _LEFT + _COLUMN * col
        if col == 0:
            name, size, rule = "Input", f"{n} bands", "standardised"
        elif col == last:
            name, size, rule = "Output", f"{n} classes", "softmax(w·x + b)"
        else:
            name, size, rule = f"Hidden layer {col}", f"{n} neurons", f"{activation}(w·x + b)"
        parts.append(f'<text x="{x}" y="{_TOP - 12}" text-anchor="middle" '
                     f'font-weight="bold">{e(name)}</text>')  # fmt: skip
        base = height - _BOTTOM + 20
        parts.append(f'<text x="{x}" y="{base}" text-anchor="middle">{e(size)}</text>')
        parts.append(f'<text x="{x}" y="{base + 16}" text-anchor="middle" '
                     f'fill="#555">{e(rule)}</text>')  # fmt: skip
    parts.append("</svg>")
    return "\n".join(parts)


def model_svg(model: LandCoverModel) -> str:
    """:func:`network_svg` of a trained model (its bands, layers, classes and saved networks)."""
    bands = [f"{b}: {n}" for b, n in zip(model.bands, model.band_names)]
    return network_svg(bands, model.model.hidden_layers, model.model.activation, model.classes,
                       model.model.saved_networks)  # fmt: skip


def network_html(model: LandCoverModel) -> str:
    """The *Network* section of a training report: the diagram and what it shows."""
    if model.model.is_perceptron:
        words = (
            f"{PERCEPTRON}. Each output neuron computes a weighted sum of the standardised "
            "bands plus a bias; the softmax turns these class scores into probabilities that "
            "sum to 1."
        )
    else:
        words = (
            "Each neuron computes a weighted sum of the previous layer's outputs plus a bias, "
            f"then its activation ({model.model.activation}); the output layer's softmax "
            "turns the class scores into probabilities that sum to 1. Training adjusts the "
            "weights by gradient descent, the gradients found by backpropagation."
        )
    return (
        f"<h2>Network</h2><p>{html.escape(model.describe_network())}.</p>"
        f'<div class="net">{model_svg(model)}</div><p>{html.escape(words)}</p>'
    )
