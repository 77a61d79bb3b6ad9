"""Command line: ``python -m landcover_mlp.core <command>``.

Commands: ``train | classify | evaluate | tune | accuracy-sample | explore | explain | demo``
(explore and explain: core/cli_learning.py).

Bad input ends with a one-line reason and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import settings
from .callbacks import Hooks, describe_epoch
from .config import TrainRequest, prediction_config, train_request
from .errors import CancelledError, LandCoverError
from .fileio import OutputStage, check_writable, quiet_gdal_destructors
from .naming import search_outputs, training_outputs
from .raster import parse_bands
from .terminal import TerminalProgress

log = logging.getLogger("landcover_mlp")


def _hooks(label: str, quiet: bool, verbose_epochs: bool = False) -> Hooks:
    def on_epoch(rec: dict[str, Any]) -> None:
        if verbose_epochs:
            log.info(describe_epoch(rec))

    return Hooks(
        progress=(lambda _: None) if quiet else TerminalProgress(label),
        epoch=on_epoch,
        log=log.info,
    )


def add_setting_arguments(p: argparse.ArgumentParser, table: tuple[settings.Setting, ...]) -> None:
    """One option per setting of the table (core/settings.py).

    Flag, type, default, choices, unit and help all come from there.
    """
    for s in table:
        allowed = f"; {s.range_text()}" if s.kind in ("int", "float") else ""
        shown = "%(default)s" if s.default != "" else "empty"
        text = f"{s.describe()} (default: {shown}{allowed})"
        if s.kind == "bool":
            p.add_argument(s.flag, action=argparse.BooleanOptionalAction, default=s.default,
                           help=text)  # fmt: skip
        elif s.kind == "choice":
            p.add_argument(s.flag, type=_checked(s), choices=s.choices, default=s.default,
                           metavar="{" + ",".join(s.choices) + "}", help=text)  # fmt: skip
        else:
            p.add_argument(s.flag, type=_checked(s), default=s.default, help=text)


def _checked(setting: settings.Setting) -> Callable[[str], object]:
    """An argparse type that converts and checks a value against the table.

    A wrong type or range gets the table's sentence before any work starts.
    """

    def convert(text: str) -> object:
        try:
            return setting.check(text)
        except LandCoverError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    convert.__name__ = setting.name
    return convert


class _Parser(argparse.ArgumentParser):
    """Bad arguments end with one line, ``error: <sentence>``, and exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Argparse's hook for a bad argument: print one line and exit with status 2."""
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def setting_values(a: argparse.Namespace, table: tuple[settings.Setting, ...]) -> dict[str, Any]:
    """The parsed values of the table's settings, by setting name."""
    return {s.name: getattr(a, s.name) for s in table}


def _add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--raster", required=True, help="image to learn from")
    p.add_argument("--bands", default="", help="1-based bands, e.g. 1-7 or 1,2,4 (default: all)")
    p.add_argument(
        "--polygons", required=True, help="training polygons (GeoPackage, shapefile, GeoJSON, ...)"
    )
    p.add_argument(
        "--layer", default=None, help="layer name inside --polygons (needed when it holds several)"
    )
    p.add_argument("--class-field", required=True, help="field holding the class (integer or text)")
    p.add_argument(
        "--validation-polygons",
        default=None,
        help="separate validation polygons (same class field)",
    )
    p.add_argument(
        "--validation-layer",
        default=None,
        help="layer name inside --validation-polygons (needed when it holds several)",
    )
    add_setting_arguments(p, settings.TRAINING)


def request_from_args(a: argparse.Namespace) -> TrainRequest:
    """Build the training request from parsed arguments (the same builder as every route)."""
    return train_request(
        a.raster,
        a.polygons,
        a.class_field,
        setting_values(a, settings.TRAINING),
        bands=parse_bands(a.bands) or (),
        polygons_layer=a.layer,
        validation_polygons=a.validation_polygons,
        validation_layer=a.validation_layer,
    )


def _writable_first(*named: object) -> None:
    """Check every output path of these name sets (naming.py dataclasses) before the work.

    A folder given as a file or an unwritable folder is refused at once, not after training.
    """
    for names in named:
        for value in vars(names).values():
            if isinstance(value, Path):
                check_writable(value)


def cmd_train(a: argparse.Namespace) -> int:
    from .outputs import save_training_outputs
    from .workflow import train_model

    names = training_outputs(a.model)
    _writable_first(names)
    result = train_model(request_from_args(a), _hooks("training", a.quiet, a.verbose))
    save_training_outputs(result, names.model, names.loss_curve, names.report)
    print(f"Model: {names.model}")
    print(f"Loss curves: {names.loss_curve} (and {names.loss_csv.name})")
    print(f"Validation report: {names.report} (and {names.report_json.name})")
    if result.report is not None:
        rep = result.report
        print(f"Overall accuracy {rep.overall_accuracy:.1%}, kappa {rep.kappa:.3f} ({rep.method})")
    return 0


def cmd_classify(a: argparse.Namespace) -> int:
    from .batch import check_scenes, classify_scenes, scene_jobs
    from .model_io import load_model

    jobs = scene_jobs(a.raster, a.output, a.output_dir, a.confidence, a.probabilities)
    model = load_model(a.model)
    check_scenes([j.raster for j in jobs], model)  # before a cluster starts
    config = prediction_config(setting_values(a, settings.PREDICTION))
    hooks = _hooks("classify", a.quiet)
    if a.scheduler or a.workers:  # dask is imported only here
        from .distributed import DaskRunner, dask_client

        with dask_client(a.scheduler, a.workers) as client:
            results = classify_scenes(jobs, model, config, hooks,
                                      DaskRunner(client, a.model, config))  # fmt: skip
    else:
        results = classify_scenes(jobs, model, config, hooks)
    for res in results:
        mpx = res.valid_pixels / 1e6
        print(f"Class raster: {res.classified} ({mpx:.2f} Mpx in {res.seconds:.1f} s on "
              f"{res.device})")  # fmt: skip
        for p in (res.confidence, res.probabilities):
            if p:
                print(f"Written: {p}")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from .evaluation import evaluate, evaluation_provenance
    from .reports import write_report_html, write_report_json

    for path in (a.report, a.html):  # before the work, not after it
        if path:
            check_writable(path)
    if a.html and Path(a.html).resolve() == Path(a.report).resolve():
        raise LandCoverError("--report and --html name the same file: give each its own.")
    rep = evaluate(
        a.classified,
        a.reference,
        a.class_field,
        a.pixel_rule == "all_touched",
        _hooks("evaluate", a.quiet),
        a.layer,
        a.strata,
    )
    provenance = evaluation_provenance(
        a.classified, a.reference, a.class_field, a.pixel_rule == "all_touched", a.layer, a.strata
    )
    with OutputStage() as stage:  # the report and its page together, or neither
        write_report_json(rep, a.report, stage=stage, provenance=provenance)
        if a.html:
            write_report_html(rep, a.html, "Accuracy report", stage=stage, provenance=provenance)
    if rep.area_adjusted is not None:  # a labelled sample of points: the area table first
        from .reports import area_table_text

        print("\n".join(area_table_text(rep.area_adjusted)))
        print(f"Unweighted sample accuracy {rep.overall_accuracy:.1%}; report: {a.report}")
    else:
        print(
            f"Overall accuracy {rep.overall_accuracy:.1%}, kappa {rep.kappa:.3f}; "
            f"report: {a.report}"
        )
    for w in rep.warnings:
        print("Warning: " + w)
    return 0


def cmd_tune(a: argparse.Namespace) -> int:
    from .tuning import run_search, search_config

    request = request_from_args(a)
    search = search_config(setting_values(a, settings.SEARCH + (settings.BY_NAME["seed"],)),
                           request.model.activation)  # fmt: skip
    names = training_outputs(a.model)
    table = search_outputs(names.model)
    _writable_first(names, table)
    run = run_search(request, search, table, names.model, hooks=_hooks("tuning", a.quiet))
    result = run.result
    if run.table_csv is not None:
        print(f"Search table: {run.table_csv} and {run.table_html} (summary {run.summary_json})")
    if result.final is None or run.model is None:
        print("No configuration finished; no model was written.")
        return 1 if not result.cancelled else 130
    best = result.best
    assert best is not None  # a final model implies a best configuration
    print(f"Best ({result.method}): {best.label()}: OA {best.oa_mean:.1%} +/- {best.oa_std:.1%}")
    print(f"Model retrained with it: {run.model}")
    return 0


def cmd_accuracy_sample(a: argparse.Namespace) -> int:
    from .accuracy_sample import make_accuracy_sample, sample_design

    design = sample_design(setting_values(a, settings.ACCURACY_SAMPLE))
    result = make_accuracy_sample(a.classified, a.output, design, _hooks("sample", a.quiet))
    print(f"Stratified random sample: {result.allocation.how}.")
    for line in result.allocation.table():
        print(line)
    for w in result.warnings:
        print("Warning: " + w)
    print(f"Points: {result.path} (fill the 'reference' field with the class seen at each point)")
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(a.output_dir), quiet=a.quiet)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all sub-commands."""
    parser = _Parser(prog="python -m landcover_mlp.core",
        description="Land-cover classification with a multilayer perceptron (Land Cover MLP).")  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every epoch")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train a model from a raster and training polygons")
    _add_training_options(t)
    t.add_argument("--model", required=True, help="model file to write (.safetensors)")
    t.set_defaults(func=cmd_train)
    c = sub.add_parser("classify", help="classify a raster with a trained model")
    c.add_argument(
        "--raster", required=True, nargs="+", action="extend", metavar="RASTER",
        help="image(s) with the same bands as the training image (GeoTIFF, VRT mosaic, ...); "
        "several need --output-dir",
    )  # fmt: skip
    c.add_argument("--model", required=True, help="model file")
    c.add_argument("--output", default=None, help="class raster (.tif) of one raster")
    c.add_argument(
        "--output-dir", default=None, metavar="DIR",
        help="folder of the outputs of each raster: <raster>_classes.tif (and "
        "<raster>_classes_confidence.tif, <raster>_classes_probabilities.tif)",
    )  # fmt: skip
    c.add_argument(
        "--confidence", nargs="?", const="", default=None, metavar="FILE",
        help="also write the confidence raster (.tif): to FILE, or without FILE named "
        "<classes>_confidence.tif",
    )  # fmt: skip
    c.add_argument(
        "--probabilities", nargs="?", const="", default=None, metavar="FILE",
        help="also write the per-class probability raster (.tif): to FILE, or without FILE "
        "named <classes>_probabilities.tif",
    )  # fmt: skip
    add_setting_arguments(c, settings.PREDICTION)
    from .distributed import CLUSTER  # the settings only: dask is imported when used

    add_setting_arguments(c, CLUSTER)
    c.set_defaults(func=cmd_classify)
    e = sub.add_parser("evaluate", help="accuracy of a class raster against reference data")
    e.add_argument("--classified", required=True, help="class raster")
    e.add_argument(
        "--reference",
        required=True,
        help="reference polygons or the labelled points of an accuracy-sample (both with "
        "--class-field), or a reference raster",
    )
    e.add_argument(
        "--class-field",
        default=None,
        help="class field of the reference polygons or points (for a sample: reference)",
    )
    e.add_argument(
        "--strata",
        default=None,
        help="for sample points whose strata are not the map classes: the strata raster they "
        "were drawn from (Stehman 2014)",
    )
    e.add_argument(
        "--layer", default=None, help="layer name inside --reference (needed when it holds several)"
    )
    add_setting_arguments(e, (settings.setting("pixel_rule"),))
    e.add_argument("--report", required=True, help="JSON report to write")
    e.add_argument("--html", default=None, help="also write an HTML report")
    e.set_defaults(func=cmd_evaluate)
    u = sub.add_parser("tune", help="grouped k-fold search for the best settings, then retrain")
    _add_training_options(u)
    u.add_argument("--model", required=True, help="model file to write with the best settings")
    add_setting_arguments(u, settings.SEARCH)
    u.set_defaults(func=cmd_tune)
    s = sub.add_parser(
        "accuracy-sample",
        help="stratified random sample of points from a class raster, to label for an "
        "accuracy assessment (Olofsson et al. 2014)",
    )
    s.add_argument("--classified", required=True, help="class raster (the map to assess)")
    s.add_argument("--output", required=True, help="point GeoPackage to write (.gpkg)")
    add_setting_arguments(s, settings.ACCURACY_SAMPLE)
    s.set_defaults(func=cmd_accuracy_sample)
    from .cli_learning import add_learning_commands  # explore, explain

    add_learning_commands(sub)
    d = sub.add_parser("demo", help="generate the sample scene and run the whole job on it")
    d.add_argument(
        "--output-dir",
        "--out",
        dest="output_dir",
        default="demo_output",
        help="output folder (default %(default)s; --out is an alias)",
    )
    d.set_defaults(func=cmd_demo)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> dict[int, Any]:
    """SIGTERM and SIGHUP end a run as Ctrl+C does.

    SIGTERM (``kill``, a batch system's time limit) and SIGHUP (the terminal closed): the
    stage's part files are removed and no output is replaced. Only in the command line's main
    thread: inside QGIS the host owns the signals.

    Returns:
        The previous handler of each signal set, to put back.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    names = ("SIGTERM", "SIGHUP")  # SIGHUP: Unix only
    return {
        sig: signal.signal(sig, _interrupt)
        for sig in (getattr(signal, n) for n in names if hasattr(signal, n))
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    started = time.perf_counter()
    previous = _stop_on_signals()
    with quiet_gdal_destructors():  # around the handlers too: datasets freed with exceptions
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
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            # a failed run's datasets may sit in reference cycles (an exception's traceback):
            # close them now, inside this block, not at exit
            gc.collect()
    if not args.quiet:
        log.info("Done in %.1f s.", time.perf_counter() - started)
    return status


__all__ = ["main", "build_parser"]
