"""The one naming table of a run's output files, used by every route (CLI, Processing, dialog).

``docs/naming.md`` shows the same table. Side files are named from the FULL name of the file
they go with, less its last suffix only: ``survey.v2.safetensors`` gives
``survey.v2_loss.png``, never ``survey_loss.png``.

| output set | file | name |
|---|---|---|
| training | model | the path the user chose (``.safetensors``) |
| training | loss curves | ``<model>_loss.png`` and ``<model>_loss.csv`` |
| training | validation report | ``<model>_report.html`` and ``<model>_report.json`` |
| classification | class raster | the path the user chose (``.tif``) |
| classification | confidence | ``<classes>_confidence.tif`` |
| classification | class probabilities | ``<classes>_probabilities.tif`` |
| classification of several rasters | class raster of each | ``<DIR>/<raster>_classes.tif`` |
| search | table | ``<model>_search.csv``, ``<model>_search.html``, ``<model>_search.json`` |
| any | style | ``<raster stem>.qml`` beside a raster (QGIS's rule) |

Confusion matrices: rows are the reference (truth), columns the predicted class, in every
report (HTML, JSON key ``confusion_matrix_orientation``, CSV header).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODEL_SUFFIX = ".safetensors"
RASTER_SUFFIXES = (".tif", ".tiff")
CONFUSION_ORIENTATION = "rows = reference (truth), columns = predicted"


def side_file(path: str | Path, tail: str) -> Path:
    """``path`` with its last suffix replaced by ``tail``.

    ``a.v2.safetensors`` + ``_loss.png`` gives ``a.v2_loss.png`` (the full name is kept, never
    cut at its first dot).
    """
    path = Path(path)
    return path.with_name(path.stem + tail) if path.suffix else path.with_name(path.name + tail)


def model_path(path: str | Path) -> Path:
    """The model file: ``.safetensors`` appended when the name has another suffix or none."""
    path = Path(path)
    return path if path.suffix.lower() == MODEL_SUFFIX else path.with_name(path.name + MODEL_SUFFIX)


def raster_path(path: str | Path) -> Path:
    """A GeoTIFF output: ``.tif`` appended when the name has another suffix or none."""
    path = Path(path)
    return path if path.suffix.lower() in RASTER_SUFFIXES else path.with_name(path.name + ".tif")


@dataclass(frozen=True)
class TrainingOutputs:
    """The files of the training stage.

    Attributes:
        model: model file (.safetensors).
        loss_curve: loss curves chart (.png); ``loss_csv`` holds the numbers.
        loss_csv: loss per epoch (.csv).
        report: validation report (.html); ``report_json`` is its JSON copy.
        report_json: validation report (.json).
    """

    model: Path
    loss_curve: Path
    loss_csv: Path
    report: Path
    report_json: Path


def training_outputs(model: str | Path) -> TrainingOutputs:
    """The training stage's files named from the model file (see the table above)."""
    model = model_path(model)
    return TrainingOutputs(
        model=model,
        loss_curve=side_file(model, "_loss.png"),
        loss_csv=side_file(model, "_loss.csv"),
        report=side_file(model, "_report.html"),
        report_json=side_file(model, "_report.json"),
    )


@dataclass(frozen=True)
class ClassificationOutputs:
    """The files of the classification stage.

    Attributes:
        classified: class raster (.tif).
        confidence: probability of the chosen class (.tif).
        probabilities: one probability band per class (.tif).
    """

    classified: Path
    confidence: Path
    probabilities: Path


def classification_outputs(classified: str | Path) -> ClassificationOutputs:
    """The classification stage's files named from the class raster (see the table above)."""
    classified = raster_path(classified)
    return ClassificationOutputs(
        classified=classified,
        confidence=side_file(classified, "_confidence.tif"),
        probabilities=side_file(classified, "_probabilities.tif"),
    )


def scene_outputs(folder: str | Path, raster: str | Path) -> ClassificationOutputs:
    """The classification files of one of several rasters classified into ``folder``.

    The class raster ``<raster>_classes.tif`` (``T32TQM.tif`` and ``T32TQM.vrt`` give
    ``T32TQM_classes.tif``), its side files named from it (see the table above).
    """
    return classification_outputs(Path(folder) / side_file(Path(raster).name, "_classes.tif"))


@dataclass(frozen=True)
class SearchOutputs:
    """The files of a search ("find the best settings").

    Attributes:
        table_csv: one row per finished configuration, best first.
        table_html: the same table as a page.
        summary_json: method, best configuration, flags and warnings.
    """

    table_csv: Path
    table_html: Path
    summary_json: Path


def search_outputs(model: str | Path) -> SearchOutputs:
    """A search's files named from the model file it saves (see the table above)."""
    model = model_path(model)
    return SearchOutputs(
        table_csv=side_file(model, "_search.csv"),
        table_html=side_file(model, "_search.html"),
        summary_json=side_file(model, "_search.json"),
    )
