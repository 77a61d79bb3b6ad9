"""The decision-regions figure: the perceptron's regions and the model's side by side.

The training pixels are drawn over both (matplotlib, as :func:`core.reports.plot_loss_curves`
uses it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .explain import MAX_POINTS, ExplainResult, RegionGrid, class_rgb
from .model_io import LandCoverModel
from .sampling import Samples

#: The regions are the class colours blended with this share of white, so the pixels on top
#: (full colour, dark edge) stand out.
LIGHTEN = 0.45


def _band_label(model: LandCoverModel, band: int) -> str:
    """The band as "band 4 (nir)", or its name when that already says its number."""
    name = model.band_names[model.bands.index(band)].strip()
    if not name or name.lower().startswith(f"band {band}"):
        return name or f"band {band}"
    return f"band {band} ({name})"


def _network(model: LandCoverModel) -> str:
    """E.g. "7-32-32-5 (relu)"."""
    sizes = (len(model.bands), *model.model.hidden_layers, len(model.classes))
    return f"{'-'.join(map(str, sizes))} ({model.model.activation})"


def plot_regions(
    result: ExplainResult, model: LandCoverModel, samples: Samples, path: str | Path
) -> Path:
    """Write the figure to ``path`` (PNG): left the perceptron, right the model.

    Regions in the model's class colours, lightened; the training pixels on top (at most
    :data:`MAX_POINTS`, a seeded draw), in full colour.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    rgb = class_rgb(model)
    light = rgb * (1 - LIGHTEN) + LIGHTEN
    cx, cy = (model.bands.index(b) for b in result.plot_bands)
    keep = np.arange(len(samples))
    if len(keep) > MAX_POINTS:
        keep = np.sort(np.random.default_rng(0).choice(keep, MAX_POINTS, replace=False))
    fig = Figure(figsize=(12, 6.2), dpi=110)
    panels: list[tuple[str, RegionGrid, float]] = [
        ("Perceptron (linear, no hidden layer)", result.perceptron, result.perceptron_accuracy),
        (f"Multilayer perceptron {_network(model)}: the model", result.mlp, result.mlp_accuracy),
    ]
    for k, (title, grid, accuracy) in enumerate(panels):
        ax = fig.add_subplot(1, 2, k + 1)
        xs, ys = grid.x_values, grid.y_values
        ax.imshow(light[grid.classes], origin="lower", aspect="auto", interpolation="nearest",
                  extent=(xs[0], xs[-1], ys[0], ys[-1]))  # fmt: skip
        ax.scatter(samples.x[keep, cx], samples.x[keep, cy], c=rgb[samples.y[keep]], s=11,
                   edgecolors="#202020", linewidths=0.35)  # fmt: skip
        ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(ys[0], ys[-1])
        ax.set_xlabel(_band_label(model, result.plot_bands[0]))
        ax.set_ylabel(_band_label(model, result.plot_bands[1]))
        ax.set_title(f"{title}\n{accuracy:.1%} of the training pixels right (all bands)",
                     fontsize=9.5)  # fmt: skip
    handles = [Patch(facecolor=tuple(rgb[i]), edgecolor="#202020", label=c.name)
               for i, c in enumerate(model.classes)]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=min(8, len(handles)), fontsize=8.5,
               frameon=False)  # fmt: skip
    others = len(model.bands) - 2
    held = {0: "", 1: "; the other band held at its training mean"}.get(
        others, f"; the other {others} bands held at their training mean"
    )
    fig.suptitle(
        f"Land Cover MLP: decision regions on {_band_label(model, result.plot_bands[0])} and "
        f"{_band_label(model, result.plot_bands[1])}{held}\n{result.n_pixels} training pixels; "
        "the perceptron was trained on the same pixels with the same settings and seed",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 0.93))
    fig.savefig(path, format="png")
    return Path(path)
