"""TrainClassifyTask run for real through QGIS's task manager on the Landsat 7 scene: outputs,
live epoch signals, progress, cancelling mid-training and a failure with a user sentence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QEventLoop, QTimer

from landcover_mlp.core.config import SamplingConfig, TrainingConfig, TrainRequest
from landcover_mlp.plugin.tasks import OutputPaths, TrainClassifyTask

pytestmark = pytest.mark.qgis_tier

BANDS = (1, 2, 3, 4, 5, 6, 7)  # band 8 is a cloud mask, not a feature
COLOURS = {
    "forest": "#0b6623",
    "water": "#1e90ff",
    "herbaceous": "#9acd32",
    "barren": "#d2b48c",
    "urban": "#ff00ff",
}
TIMEOUT_S = 120


class Outcome:
    """Records what a task reported: epochs, progress, and success or failure."""

    def __init__(self, task: TrainClassifyTask) -> None:
        self.epochs: list[dict[str, Any]] = []
        self.progress: list[float] = []
        self.result: Any = None
        self.message: str | None = None
        self.cancelled = False
        self.done = False
        self._task = task
        self._loop = QEventLoop()
        task.epoch_ended.connect(self.epochs.append)
        task.progressChanged.connect(self.progress.append)
        task.succeeded.connect(self._succeeded)
        task.failed.connect(self._failed)

    def _succeeded(self, result: Any) -> None:
        self.result, self.done = result, True
        self._loop.quit()

    def _failed(self, message: str) -> None:
        self.message, self.done = message, True
        self.cancelled = self._task.was_cancelled
        self._loop.quit()

    def wait(self, timeout_s: float = TIMEOUT_S) -> None:
        """Run the event loop until the task reported back (fails after ``timeout_s``)."""
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(self._loop.quit)
        timer.start(int(timeout_s * 1000))
        if not self.done:
            self._loop.exec()
        timer.stop()
        if not self.done:
            self._task.cancel()
            pytest.fail(f"The task did not finish within {timeout_s} s.")


def make_outputs(folder: Path) -> OutputPaths:
    return OutputPaths(
        model=folder / "model.safetensors",
        classified=folder / "classes.tif",
        confidence=folder / "confidence.tif",
        report=folder / "report.html",
        loss_curve=folder / "loss.png",
    )


def make_request(landsat7: Any, **training: Any) -> TrainRequest:
    return TrainRequest(
        raster=str(landsat7.raster),
        polygons=str(landsat7.polygons),
        sampling=SamplingConfig(class_field="class_name", bands=BANDS),
        training=TrainingConfig(device="cpu", **training),
    )


def start(task: TrainClassifyTask) -> Outcome:
    outcome = Outcome(task)
    QgsApplication.taskManager().addTask(task)
    return outcome


def test_task_trains_classifies_and_reports_every_epoch(landsat7: Any, tmp_path: Path) -> None:
    outputs = make_outputs(tmp_path)
    task = TrainClassifyTask(make_request(landsat7, epochs=40), outputs, "cpu", COLOURS)
    outcome = start(task)
    outcome.wait()

    assert outcome.message is None, outcome.message
    result = outcome.result
    for path in (
        *[p for p in vars(outputs).values()],
        tmp_path / "loss.csv",
        tmp_path / "report.json",
    ):
        assert Path(path).is_file(), f"{path} was not written"
    assert not list(tmp_path.glob(".*part*")), "temporary files were left behind"

    # every epoch of both runs reached the dialog: the assessment run's (ensemble, then the
    # network distilled from it), then the saved model's on all polygons (the same two); the
    # model's history holds all four, merged by epoch
    history = result.model.history
    n = len(history)
    assert [r["epoch"] for r in outcome.epochs] == [r["epoch"] for r in history] * 4
    assert outcome.epochs[0]["epoch"] == 1 and {"train_loss", "val_loss"} <= set(outcome.epochs[0])
    for i, key in enumerate(("val_loss", "distill_val_loss", "final_train_loss",
                             "final_distill_loss")):  # fmt: skip
        run = outcome.epochs[i * n : (i + 1) * n]
        assert [r[key] for r in run] == [r[key] for r in history], key
    assert max(outcome.progress) == pytest.approx(100.0)
    assert outcome.progress == sorted(outcome.progress), "progress never goes back"

    assert {c.name: c.colour for c in result.model.classes} == COLOURS
    assert {c.name: c.colour for c in result.training.report.classes} == COLOURS
    dataset = gdal.Open(str(outputs.classified))  # keep it: the band dies with its dataset
    band = dataset.GetRasterBand(1)
    values = band.ReadAsArray()
    present = set(np.unique(values[values != band.GetNoDataValue()]).tolist())
    assert present == {c.value for c in result.model.classes}
    assert len(present) == 5
    names = band.GetCategoryNames()
    assert sorted(names[v] for v in present) == sorted(COLOURS)
    table = band.GetRasterColorTable()
    for cls in result.model.classes:
        rgb = table.GetColorEntry(cls.value)[:3]
        assert "#{:02x}{:02x}{:02x}".format(*rgb) == COLOURS[cls.name]
    assert result.prediction.valid_pixels == 250 * 250
    assert 0.5 < result.training.report.overall_accuracy <= 1.0


def test_tune_task_saves_its_model_in_the_training_layers_colours(
    landsat7: Any, tmp_path: Path
) -> None:
    """The dialog's search task hands the training layer's class colours to the model it
    retrains and saves (run in this thread: the colours are the claim, not the threading)."""
    from landcover_mlp.core.model_io import load_model
    from landcover_mlp.core.selection import SearchConfig, SearchSpace
    from landcover_mlp.plugin.tasks import TuneTask

    space = SearchSpace(hidden_layers=((8,),), learning_rate=(0.05,), momentum=(0.9,))
    request = make_request(landsat7, epochs=3, patience=0)
    task = TuneTask(request, SearchConfig(space, folds=2), tmp_path / "search.html",
                    tmp_path / "tuned", COLOURS)  # fmt: skip
    assert task.run(), task.error
    outcome = task.result
    assert outcome.model == tmp_path / "tuned.safetensors" and outcome.search.final is not None
    saved = load_model(outcome.model)
    assert {c.name: c.colour for c in saved.classes} == COLOURS
    # the colours came from the task: the search's own model has the default ones
    defaults = {c.name: c.colour for c in outcome.search.final.model.classes}
    assert all(defaults[name] != colour for name, colour in COLOURS.items())
    assert {p.name for p in tmp_path.iterdir()} == {
        "tuned.safetensors", "search.html", "search.csv", "search.json",
    }  # fmt: skip


def test_cancel_after_the_first_epoch_leaves_no_output(landsat7: Any, tmp_path: Path) -> None:
    request = make_request(landsat7, epochs=5000, patience=0)
    task = TrainClassifyTask(request, make_outputs(tmp_path), "cpu", COLOURS)
    task.epoch_ended.connect(lambda _record: task.cancel())
    outcome = start(task)
    outcome.wait()

    assert outcome.result is None
    assert outcome.cancelled
    assert outcome.message and "Cancelled" in outcome.message
    assert 1 <= len(outcome.epochs) < 5000
    assert list(tmp_path.iterdir()) == [], "a cancelled run must leave no file"


def test_bad_class_field_fails_with_a_sentence(landsat7: Any, tmp_path: Path) -> None:
    request = TrainRequest(
        raster=str(landsat7.raster),
        polygons=str(landsat7.polygons),
        sampling=SamplingConfig(class_field="no_such_field", bands=BANDS),
    )
    outcome = start(TrainClassifyTask(request, make_outputs(tmp_path), "cpu"))
    outcome.wait()

    assert outcome.result is None and not outcome.cancelled
    assert "no_such_field" in (outcome.message or "")
    assert not outcome.message.startswith("Unexpected error")
    assert list(tmp_path.iterdir()) == []


def test_failure_after_training_keeps_the_committed_training_stage(
    landsat7: Any, tmp_path: Path
) -> None:
    """The output-commit rule (core/fileio.py): the training stage was committed before the
    classification failed, so the model and its reports stay; nothing of the failed
    classification stage is left, not even a temporary part."""
    existing = tmp_path / "notes.txt"
    existing.write_text("kept", encoding="utf-8")
    outputs = OutputPaths(
        model=tmp_path / "model.safetensors",
        classified=tmp_path / "classes.png",  # refused by the classifier, after training
        confidence=None,
        report=tmp_path / "report.html",
        loss_curve=tmp_path / "loss.png",
    )
    outcome = start(TrainClassifyTask(make_request(landsat7, epochs=3), outputs, "cpu"))
    outcome.wait()

    assert outcome.result is None and not outcome.cancelled
    assert "GeoTIFF" in (outcome.message or "")
    # the assessment run and the saved model's run, each an ensemble and a distilled network
    assert len(outcome.epochs) == 4 * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "loss.csv", "loss.png", "model.safetensors", "notes.txt", "report.html", "report.json",
    ]  # fmt: skip
