"""The command line of the teaching views: ``explore`` and ``explain``.

``explore``: learning rates x momentums, every loss curve in one figure. ``explain``: decision
regions of a perceptron and the model on two bands. :func:`core.cli.build_parser` adds them
with :func:`add_learning_commands`.
"""

from __future__ import annotations

import argparse
import logging
import math
from typing import Any

from .callbacks import Hooks
from .cli import _hooks, _Parser, add_setting_arguments, setting_values
from .raster import parse_bands
from .terminal import TerminalProgress

log = logging.getLogger("landcover_mlp")


def describe_record(rec: dict[str, Any]) -> str:
    """One log line per epoch of a run.

    E.g. "lr 0.1, momentum 0.5, epoch 3: training loss 0.4120, validation loss 0.5010" (or
    "... diverged").
    """
    head = f"lr {rec['learning_rate']:g}, momentum {rec['momentum']:g}, epoch {rec['epoch']}"
    if rec.get("diverged"):
        return f"{head}: diverged (the loss is no longer a number)"
    text = f"{head}: training loss {rec['train_loss']:.4f}"
    val = rec.get("val_loss")
    if val is not None and math.isfinite(val):
        text += f", validation loss {val:.4f}"
    return text


def cmd_explore(a: argparse.Namespace) -> int:
    """Run ``explore``: a grid of learning rates x momentums, every loss curve in one figure.

    Args:
        a: the parsed command line.

    Returns:
        The exit status, 0.

    Raises:
        LandCoverError: an input cannot be read or an output written.
    """
    from .explore import SETTINGS, explore_request, run_explore

    request, config = explore_request(
        a.raster, a.polygons, a.class_field, setting_values(a, SETTINGS),
        bands=parse_bands(a.bands) or (), polygons_layer=a.layer,
    )  # fmt: skip
    hooks = Hooks(
        progress=(lambda _: None) if a.quiet else TerminalProgress("explore"),
        epoch=(lambda rec: log.info(describe_record(rec))) if a.verbose else (lambda _: None),
        log=log.info,
    )
    result, outputs = run_explore(request, config, a.output_dir, hooks)
    converged = [r for r in result.runs if r.epochs_to_threshold is not None]
    print(f"{len(result.runs)} runs, {len(converged)} converged (training loss at most "
          f"{config.loss_threshold:g} to the end):")  # fmt: skip
    for run in result.runs:
        print(f"  {run.label()}: {run.outcome(config.epochs)}")
    print(f"Loss curves: {outputs.png} (and {outputs.csv.name})")
    return 0


def cmd_explain(a: argparse.Namespace) -> int:
    """Run ``explain``: the model's decision regions over two bands, beside a perceptron's.

    Args:
        a: the parsed command line.

    Returns:
        The exit status, 0.

    Raises:
        LandCoverError: an input cannot be read, a plotted band is not one the model reads,
            or the output cannot be written.
    """
    from .explain import band_columns, decision_regions, parse_plot_bands
    from .fileio import check_writable
    from .model_io import load_model

    plot_bands = parse_plot_bands(a.plot_bands)
    check_writable(a.output)
    model = load_model(a.model)
    band_columns(model, plot_bands)  # a band the model does not read: refused before sampling
    result = decision_regions(model, a.raster, a.polygons, a.class_field, plot_bands, a.output,
                              _hooks("explain", a.quiet), layer=a.layer)  # fmt: skip
    print(f"Training pixels classified right (all bands): perceptron "
          f"{result.perceptron_accuracy:.1%}, the model {result.mlp_accuracy:.1%}.")  # fmt: skip
    print(f"Decision regions: {result.path}")
    return 0


def add_learning_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add ``explore`` and ``explain`` to the sub-commands ``sub`` (argparse's)."""
    from .explore import SETTINGS

    x = sub.add_parser(
        "explore",
        help="train the same pixels with a grid of learning rates x momentums and draw every "
        "loss curve in one figure (explore.png, explore.csv)",
    )
    x.add_argument("--raster", required=True, help="image to learn from")
    x.add_argument("--bands", default="", help="1-based bands, e.g. 1-7 or 1,2,4 (default: all)")
    x.add_argument("--polygons", required=True, help="training polygons")
    x.add_argument("--layer", default=None, help="layer name inside --polygons")
    x.add_argument("--class-field", required=True, help="field holding the class")
    x.add_argument("--output-dir", required=True,
                   help="folder for explore.png and explore.csv (created when missing)")  # fmt: skip
    add_setting_arguments(x, SETTINGS)
    x.set_defaults(func=cmd_explore)
    e = sub.add_parser(
        "explain",
        help="decision regions on two bands: a perceptron trained on the same pixels and the "
        "model side by side (PNG)",
    )
    e.add_argument("--model", required=True, help="model file (.safetensors)")
    e.add_argument("--raster", required=True, help="the image the model was trained on")
    e.add_argument("--polygons", required=True, help="its training polygons")
    e.add_argument("--layer", default=None, help="layer name inside --polygons")
    e.add_argument("--class-field", required=True, help="field holding the class")
    e.add_argument("--plot-bands", required=True,
                   help="two raster band numbers the model uses: horizontal,vertical (e.g. 3,5)")  # fmt: skip
    e.add_argument("--output", required=True, help="PNG to write")
    e.set_defaults(func=cmd_explain)
