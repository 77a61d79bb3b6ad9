"""``make demo``: the whole job on the built-in sample scene, from a terminal.

Generates the seeded sample scene (core/sample_scene.py), trains with default settings,
classifies the scene, assesses the map against the scene's independent validation polygons and
its full reference map, and writes everything into one folder.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from .callbacks import Hooks
from .config import PredictionConfig, SamplingConfig, TrainRequest
from .evaluation import evaluate, evaluation_provenance
from .outputs import save_training_outputs
from .prediction import classify_raster
from .reports import write_report_html, write_report_json
from .workflow import train_model

log = logging.getLogger("landcover_mlp")


def run_demo(out: Path, quiet: bool = False) -> int:
    """Run the demo into folder ``out`` and print where the results are.

    Returns:
        0 on success (errors raise :class:`LandCoverError`).
    """
    from .sample_scene import generate_sample_scene
    from .terminal import TerminalProgress

    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def hooks(label: str) -> Hooks:
        return Hooks(progress=(lambda _: None) if quiet else TerminalProgress(label), log=log.info)

    scene = generate_sample_scene(out / "scene")
    log.info("Sample scene: %s (%d classes)", scene.raster, len(scene.classes))
    result = train_model(
        TrainRequest(str(scene.raster), str(scene.polygons), SamplingConfig(scene.class_field)),
        hooks("training"),
    )
    model = result.model
    curve = out / "loss_curves.png"
    save_training_outputs(result, out / "model.safetensors", curve, out / "validation_report.html")
    pred = classify_raster(
        scene.raster,
        model,
        out / "classified.tif",
        confidence=out / "confidence.tif",
        config=PredictionConfig(),
        hooks=hooks("classify"),
    )
    independent = evaluate(pred.classified, scene.validation_polygons, scene.class_field)
    full_map = evaluate(pred.classified, scene.reference)
    details = {
        "model": model.describe_network(),
        "pixels the saved model learnt from (all training polygons)": result.n_train,
        "validation pixels (held-out training polygons)": result.n_validation,
        "validation OA (held-out polygons, assessment run)": f"{result.report.overall_accuracy:.1%}"
        if result.report
        else "n/a",
        "independent validation polygons OA": f"{independent.overall_accuracy:.1%}",
        "epochs": model.info["best_epoch"],
        "device": model.info["device"],
        "prediction": f"{pred.valid_pixels} px in {pred.seconds:.2f} s",
    }
    provenance = evaluation_provenance(
        pred.classified, scene.validation_polygons, scene.class_field
    )
    write_report_json(independent, out / "report.json", {"details": details}, provenance=provenance)
    html = write_report_html(
        independent,
        out / "report.html",
        "Land Cover MLP demo: accuracy report",
        details,
        curve,
        provenance=provenance,
    )
    write_report_json(full_map, out / "report_full_reference_map.json")
    print()
    print(f"Demo finished in {time.perf_counter() - started:.1f} s. Results in {out.resolve()}:")
    for label, path in (
        ("class map", pred.classified),
        ("confidence map", pred.confidence),
        ("model", out / "model.safetensors"),
        ("loss curves", curve),
        ("accuracy report", html),
    ):
        print(f"  {label:<16} {path}")
    if result.report is not None:
        print(
            f"Validation (held-out training polygons): OA {result.report.overall_accuracy:.1%}, "
            f"kappa {result.report.kappa:.3f}"
        )
    print(
        f"Independent validation polygons:         OA {independent.overall_accuracy:.1%}, "
        f"kappa {independent.kappa:.3f}"
    )
    print(
        f"Whole map against the reference map:     OA {full_map.overall_accuracy:.1%}, "
        f"kappa {full_map.kappa:.3f}"
    )
    return 0
