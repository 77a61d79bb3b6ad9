"""Command line: ``python -m landcover_mlp.core train | classify | evaluate | demo``.

Bad input ends with a one-line reason and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .callbacks import Hooks
from .config import (
    ACTIVATIONS,
    DEVICES,
    PIXEL_RULES,
    ModelConfig,
    PredictionConfig,
    SamplingConfig,
    SplitConfig,
    TrainingConfig,
    TrainRequest,
    parse_hidden_layers,
)
from .errors import CancelledError, LandCoverError
from .raster import parse_bands

log = logging.getLogger("landcover_mlp")


class TerminalProgress:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = -1

    def __call__(self, percent: float) -> None:
        p = int(percent)
        if p == self.last or (not self.tty and p % 10 and p != 100):
            return
        self.last = p
        bar = "#" * (p // 4) + "-" * (25 - p // 4)
        end = "\r" if self.tty and p < 100 else "\n"
        self.stream.write(f"{self.label:<10} [{bar}] {p:3d}%{end}")
        self.stream.flush()


def _hooks(label: str, quiet: bool, verbose_epochs: bool = False) -> Hooks:
    def on_epoch(rec: dict[str, Any]) -> None:
        if verbose_epochs:
            val = rec.get("val_loss")
            log.info(
                "epoch %d: train loss %.4f%s",
                rec["epoch"],
                rec["train_loss"],
                ""
                if val is None
                else f", validation loss {val:.4f}, accuracy {rec['val_accuracy']:.1%}",
            )

    return Hooks(
        progress=(lambda _: None) if quiet else TerminalProgress(label),
        epoch=on_epoch,
        log=log.info,
    )


def _add_training_options(p: argparse.ArgumentParser) -> None:
    d, m, s = TrainingConfig(), ModelConfig(), SplitConfig()
    p.add_argument("--raster", required=True, help="image to learn from")
    p.add_argument("--bands", default="", help="1-based bands, e.g. 1-7 or 1,2,4 (default: all)")
    p.add_argument(
        "--polygons", required=True, help="training polygons (GeoPackage, shapefile, GeoJSON, ...)"
    )
    p.add_argument("--layer", default=None, help="layer name inside --polygons (default: first)")
    p.add_argument("--class-field", required=True, help="field holding the class (integer or text)")
    p.add_argument(
        "--validation-polygons",
        default=None,
        help="separate validation polygons (same class field)",
    )
    p.add_argument(
        "--pixel-rule",
        choices=PIXEL_RULES,
        default="centre",
        help="which pixels a polygon takes (default: centre)",
    )
    p.add_argument(
        "--max-per-class", type=int, default=None, help="cap on samples per class (random, seeded)"
    )
    p.add_argument(
        "--validation-share",
        type=float,
        default=s.validation_share,
        help=f"share of each class's polygons held out (default {s.validation_share})",
    )
    p.add_argument(
        "--hidden-layers",
        default=",".join(map(str, m.hidden_layers)),
        help="neurons per hidden layer (default %(default)s)",
    )
    p.add_argument(
        "--activation", choices=ACTIVATIONS, default=m.activation, help="default %(default)s"
    )
    p.add_argument("--dropout", type=float, default=m.dropout, help="default %(default)s")
    p.add_argument(
        "--learning-rate", type=float, default=d.learning_rate, help="default %(default)s"
    )
    p.add_argument("--momentum", type=float, default=d.momentum, help="default %(default)s")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="default %(default)s")
    p.add_argument(
        "--epochs", type=int, default=d.epochs, help="maximum epochs (default %(default)s)"
    )
    p.add_argument(
        "--patience",
        type=int,
        default=d.patience,
        help="early-stopping patience in epochs, 0 = off (default %(default)s)",
    )
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="default %(default)s")
    p.add_argument(
        "--no-class-weights", action="store_true", help="do not balance the loss by class frequency"
    )
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default %(default)s)")
    p.add_argument("--device", choices=DEVICES, default="auto", help="default %(default)s")


def request_from_args(a: argparse.Namespace) -> TrainRequest:
    """Build the training request from parsed arguments."""
    return TrainRequest(
        raster=a.raster,
        polygons=a.polygons,
        polygons_layer=a.layer,
        validation_polygons=a.validation_polygons,
        sampling=SamplingConfig(
            class_field=a.class_field,
            bands=parse_bands(a.bands) or (),
            pixel_rule=a.pixel_rule,
            max_per_class=a.max_per_class,
            seed=a.seed,
        ),
        split=SplitConfig(validation_share=a.validation_share, seed=a.seed),
        model=ModelConfig(parse_hidden_layers(a.hidden_layers), a.activation, a.dropout),
        training=TrainingConfig(
            learning_rate=a.learning_rate,
            momentum=a.momentum,
            epochs=a.epochs,
            batch_size=a.batch_size,
            patience=a.patience,
            class_weights=not a.no_class_weights,
            weight_decay=a.weight_decay,
            seed=a.seed,
            device=a.device,
        ),
    )


def _side(path: Path, suffix: str) -> Path:
    return path.with_name(path.name.split(".")[0] + suffix)


def cmd_train(a: argparse.Namespace) -> int:
    from .outputs import save_training_outputs
    from .workflow import train_model

    model_path = Path(a.model)
    result = train_model(request_from_args(a), _hooks("training", a.quiet, a.verbose))
    curve, html = _side(model_path, "_loss.png"), _side(model_path, "_validation.html")
    save_training_outputs(result, model_path, curve, html)
    print(f"Model: {model_path}")
    print(f"Loss curves: {curve} (and .csv)")
    print(f"Validation report: {html} (and .json)")
    if result.report is not None:
        rep = result.report
        print(f"Overall accuracy {rep.overall_accuracy:.1%}, kappa {rep.kappa:.3f} ({rep.method})")
    return 0


def cmd_classify(a: argparse.Namespace) -> int:
    from .model_io import load_model
    from .prediction import classify_raster

    model = load_model(a.model)
    res = classify_raster(
        a.raster, model, a.output, a.confidence, a.probabilities,
        PredictionConfig(memory_mb=a.memory_mb, device=a.device), _hooks("classify", a.quiet),
    )  # fmt: skip
    mpx = res.valid_pixels / 1e6
    print(f"Class raster: {res.classified} ({mpx:.2f} Mpx in {res.seconds:.1f} s on {res.device})")
    for p in (res.confidence, res.probabilities):
        if p:
            print(f"Written: {p}")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from .evaluation import evaluate
    from .reports import write_report_html, write_report_json

    rep = evaluate(
        a.classified,
        a.reference,
        a.class_field,
        a.pixel_rule == "all_touched",
        _hooks("evaluate", a.quiet),
    )
    write_report_json(rep, a.report)
    if a.html:
        write_report_html(rep, a.html, "Accuracy report")
    print(f"Overall accuracy {rep.overall_accuracy:.1%}, kappa {rep.kappa:.3f}; report: {a.report}")
    for w in rep.warnings:
        print("Warning: " + w)
    return 0


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise LandCoverError(f"Cannot read '{text}': write numbers separated by commas.") from exc


def cmd_tune(a: argparse.Namespace) -> int:
    from .model_io import save_model
    from .selection import SearchConfig, SearchSpace, search_summary, tune_model
    from .tuning_report import write_search_csv, write_search_html

    layers = tuple(parse_hidden_layers(v) for v in a.search_hidden_layers.split(";") if v.strip())
    space = SearchSpace(
        hidden_layers=layers,
        learning_rate=_floats(a.search_learning_rates),
        momentum=_floats(a.search_momentums),
        activation=tuple(v.strip() for v in a.search_activations.split(",") if v.strip()),
        batch_size=tuple(int(v) for v in _floats(a.search_batch_sizes))
        if a.search_batch_sizes
        else (),
    )
    search = SearchConfig(space, a.strategy, a.n_iter, a.folds, a.time_budget, a.seed)
    result = tune_model(request_from_args(a), search, _hooks("tuning", a.quiet))
    model_path = Path(a.model)
    table = write_search_csv(result, _side(model_path, "_search.csv"))
    html = write_search_html(result, _side(model_path, "_search.html"))
    Path(_side(model_path, "_search.json")).write_text(json.dumps(search_summary(result), indent=2))
    print(f"Search table: {table} and {html}")
    if result.final is None:
        print("No configuration finished; no model was written.")
        return 1 if not result.cancelled else 130
    save_model(result.final.model, model_path)
    best = result.best
    assert best is not None  # a final model implies a best configuration
    print(f"Best ({result.method}): {best.label()}: OA {best.oa_mean:.1%} +/- {best.oa_std:.1%}")
    print(f"Model retrained with it: {model_path}")
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(a.out), quiet=a.quiet)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all sub-commands."""
    parser = argparse.ArgumentParser(prog="python -m landcover_mlp.core",
        description="Land-cover classification with a multilayer perceptron (Land Cover MLP).")  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every epoch")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model from a raster and training polygons")
    _add_training_options(t)
    t.add_argument("--model", required=True, help="model file to write (.safetensors)")
    t.set_defaults(func=cmd_train)
    c = sub.add_parser("classify", help="classify a raster with a trained model")
    c.add_argument(
        "--raster", required=True, help="image with the same bands as the training image"
    )
    c.add_argument("--model", required=True, help="model file")
    c.add_argument("--output", required=True, help="class raster (.tif)")
    c.add_argument("--confidence", default=None, help="optional confidence raster (.tif)")
    c.add_argument(
        "--probabilities", default=None, help="optional per-class probability raster (.tif)"
    )
    c.add_argument(
        "--memory-mb",
        type=int,
        default=PredictionConfig().memory_mb,
        help="block memory budget (default %(default)s)",
    )
    c.add_argument("--device", choices=DEVICES, default="auto", help="default %(default)s")
    c.set_defaults(func=cmd_classify)
    e = sub.add_parser("evaluate", help="accuracy of a class raster against reference data")
    e.add_argument("--classified", required=True, help="class raster")
    e.add_argument(
        "--reference",
        required=True,
        help="reference polygons (with --class-field) or reference raster",
    )
    e.add_argument("--class-field", default=None, help="class field of the reference polygons")
    e.add_argument(
        "--pixel-rule", choices=PIXEL_RULES, default="centre", help="default %(default)s"
    )
    e.add_argument("--report", required=True, help="JSON report to write")
    e.add_argument("--html", default=None, help="also write an HTML report")
    e.set_defaults(func=cmd_evaluate)
    u = sub.add_parser("tune", help="grouped k-fold search for the best settings, then retrain")
    _add_training_options(u)
    u.add_argument("--model", required=True, help="model file to write with the best settings")
    u.add_argument(
        "--search-hidden-layers",
        default="32;64;64,64;128,64;128,128",
        help="layer sets separated by ';' (default %(default)s)",
    )
    u.add_argument("--search-learning-rates", default="0.003,0.01,0.03", help="default %(default)s")
    u.add_argument("--search-momentums", default="0.5,0.9", help="default %(default)s")
    u.add_argument(
        "--search-activations", default="relu", help="e.g. relu,tanh (default %(default)s)"
    )
    u.add_argument("--search-batch-sizes", default="", help="e.g. 32,128 (default: --batch-size)")
    u.add_argument(
        "--strategy", choices=("grid", "random"), default="grid", help="default %(default)s"
    )
    u.add_argument(
        "--n-iter",
        type=int,
        default=10,
        help="configurations of a random search (default %(default)s)",
    )
    u.add_argument(
        "--folds", type=int, default=5, help="k of the grouped k-fold (default %(default)s)"
    )
    u.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="seconds; unfinished work is dropped, finished configurations kept",
    )
    u.set_defaults(func=cmd_tune)
    d = sub.add_parser("demo", help="generate the sample scene and run the whole job on it")
    d.add_argument("--out", default="demo_output", help="output folder (default %(default)s)")
    d.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    started = time.perf_counter()
    try:
        status = int(args.func(args))
    except CancelledError as exc:
        print(f"cancelled: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("cancelled: interrupted; no partial output was left.", file=sys.stderr)
        return 130
    except LandCoverError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        log.info("Done in %.1f s.", time.perf_counter() - started)
    return status


__all__ = ["main", "build_parser", "json"]
