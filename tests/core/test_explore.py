"""The learning-rate and momentum explorer on the small generated scene: every run of the grid
is kept (a diverged one marked), the CSV has one row per run and epoch, the epochs to the
threshold are counted as documented, the same seed gives the same curves, momentum converges
sooner as in the course, and the command line writes both files or refuses in one sentence."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from landcover_mlp.core.callbacks import Hooks
from landcover_mlp.core.errors import CancelledError, LandCoverError
from landcover_mlp.core.explore import (
    ExploreConfig,
    epochs_to_threshold,
    explore_config,
    explore_learning,
    explore_request,
    run_explore,
)
from landcover_mlp.core.explore_report import COLUMNS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLUGINS = Path(__file__).resolve().parents[2] / "build" / "plugins"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m landcover_mlp.core ...`` as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(PLUGINS), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "landcover_mlp.core", *args],
                          capture_output=True, text=True, env=env, timeout=300, check=False)  # fmt: skip


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one ``error: <sentence>`` line a refused command ends with (no traceback)."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and proc.stderr.rstrip().splitlines()[-1] == errors[0], proc.stderr
    return errors[0]


def request_for(scene: Any, **values: Any) -> Any:
    """The training request of the scene (class_name, CPU) and the grid of ``values``."""
    return explore_request(str(scene.raster), str(scene.polygons), "class_name",
                           {"device": "cpu", **values})  # fmt: skip


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def test_a_diverged_run_is_kept_and_marked_and_the_others_finish(
    scene: Any, tmp_path: Path
) -> None:
    # Learning rate 10 (the setting's maximum) makes the 32-32 network's loss overflow
    # within 8 full-batch steps on this scene; 0.1 trains.
    request, config = request_for(scene, learning_rates="10,0.1", momentums="0,0.5", epochs=20)
    live: list[dict[str, Any]] = []
    finished: list[tuple[float, float]] = []
    result, outputs = run_explore(
        request, config, tmp_path / "out", Hooks(epoch=live.append),
        lambda run: finished.append((run.learning_rate, run.momentum)),
    )  # fmt: skip

    grid = [(10.0, 0.0), (10.0, 0.5), (0.1, 0.0), (0.1, 0.5)]
    assert [(r.learning_rate, r.momentum) for r in result.runs] == grid == finished
    diverged, trained = result.runs[:2], result.runs[2:]
    for run in diverged:
        assert run.diverged and run.epochs_to_threshold is None
        assert len(run.history) < 20 and math.isnan(run.history[-1]["train_loss"])
        assert all(math.isfinite(r["train_loss"]) for r in run.history[:-1])
        assert run.outcome(20) == f"diverged at epoch {len(run.history)}"
    for run in trained:
        assert not run.diverged
        assert [r["epoch"] for r in run.history] == list(range(1, 21))
        assert all(math.isfinite(r["train_loss"]) and math.isfinite(r["val_loss"])
                   for r in run.history)  # fmt: skip

    header, rows = read_rows(outputs.csv)
    assert tuple(header) == COLUMNS == (
        "learning_rate", "momentum", "epoch", "train_loss", "val_loss", "diverged",
    )  # fmt: skip
    assert len(rows) == sum(len(r.history) for r in result.runs) == len(live)
    assert [(float(r["learning_rate"]), float(r["momentum"]), int(r["epoch"])) for r in rows] == [
        (run.learning_rate, run.momentum, rec["epoch"]) for run in result.runs for rec in run.history
    ]  # fmt: skip
    assert {r["diverged"] for r in rows if float(r["learning_rate"]) == 10} == {"1"}
    assert {r["diverged"] for r in rows if float(r["learning_rate"]) == 0.1} == {"0"}
    last_of_first = [r for r in rows if (r["learning_rate"], r["momentum"]) == ("10.0", "0.0")][-1]
    assert last_of_first["train_loss"] == "nan" and last_of_first["val_loss"] == "nan"
    assert [rec["diverged"] for rec in live].count(True) == 2
    assert outputs.png.read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["explore.csv", "explore.png"]


@pytest.mark.parametrize(
    ("losses", "expected"),
    [
        ([1.2, 0.6, 0.45, 0.55, 0.4, 0.3], 5),  # dipped under at 3, climbed out, under from 5
        ([1.0, 0.4, 0.3], 2),
        ([0.4, 0.3], 1),
        ([0.7, 0.5], 2),  # "at most": the threshold itself counts
        ([1.0, 0.9, 0.8], None),
        ([1.0, 0.3, 0.9], None),  # under, then out again at the end: an oscillation
        ([0.4, math.nan], None),  # diverged
    ],
)
def test_epochs_to_threshold_on_made_histories(losses: list[float], expected: int | None) -> None:
    history = [{"epoch": i + 1, "train_loss": v} for i, v in enumerate(losses)]
    assert epochs_to_threshold(history, 0.5) == expected


def test_the_same_seed_gives_the_same_curves(scene: Any) -> None:
    # No validation share: the seed then only draws the first weights (no cap is applied).
    values = {"learning_rates": "0.1", "momentums": "0,0.9", "epochs": 5, "validation_share": 0}

    def curves(seed: int) -> list[list[float]]:
        result = explore_learning(*request_for(scene, seed=seed, **values))
        assert result.n_validation == 0
        assert all(r["val_loss"] is None for run in result.runs for r in run.history)
        return [[r["train_loss"] for r in run.history] for run in result.runs]

    first = curves(0)
    assert curves(0) == first
    other = curves(5)
    assert other[0][0] != first[0][0]  # other first weights
    # Every run of one exploration starts from the same first weights: the first step's
    # loss (measured during the step, before any update took effect) is the same.
    assert first[0][0] == first[1][0]


def test_momentum_converges_sooner_as_in_the_course(scene: Any) -> None:
    # The course: learning rate 0.1 needs 52 iterations, with momentum 0.5 only 29.
    result = explore_learning(*request_for(scene, learning_rates="0.1,0.01", momentums="0,0.5",
                                           epochs=40))  # fmt: skip
    plain, momentum, small, _ = result.runs
    assert (plain.learning_rate, plain.momentum, momentum.momentum) == (0.1, 0.0, 0.5)
    assert plain.epochs_to_threshold is not None and momentum.epochs_to_threshold is not None
    assert momentum.epochs_to_threshold < plain.epochs_to_threshold
    assert small.epochs_to_threshold is None  # a learning rate too small: not in 40 epochs


def test_a_cancel_writes_nothing(scene: Any, tmp_path: Path) -> None:
    request, config = request_for(scene, learning_rates="0.1,0.01", momentums="0", epochs=10)
    seen: list[dict[str, Any]] = []
    hooks = Hooks(epoch=seen.append, cancelled=lambda: len(seen) >= 13)  # in the second run
    with pytest.raises(CancelledError):
        run_explore(request, config, tmp_path, hooks)
    assert len(seen) == 13
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"learning_rates": "0.1,fast"}, "Learning rates '0.1,fast' is not a list of numbers"),
        ({"learning_rates": " , "}, "Give at least one value of learning rates"),
        ({"learning_rates": "20"}, "Learning rate must be between 1e-06 and 10; got 20.0."),
        ({"momentums": "0.5,1"}, "Momentum must be between 0 and 0.999; got 1.0."),
        ({"loss_threshold": 0}, "Loss threshold must be between 0.001 and 10; got 0.0."),
        ({"epochs": 0}, "Epochs must be between 1 and 100 000 epochs; got 0."),
    ],
)
def test_bad_values_are_refused_in_a_sentence(values: dict[str, Any], words: str) -> None:
    with pytest.raises(LandCoverError) as caught:
        explore_config(values)
    assert words in str(caught.value)


def test_the_grid_keeps_the_order_given_without_repeats() -> None:
    config = explore_config({"learning_rates": "0.1, 1,0.1", "momentums": "0.9;0"})
    assert config.grid() == [(0.1, 0.9), (0.1, 0.0), (1.0, 0.9), (1.0, 0.0)]
    assert ExploreConfig().grid()[:3] == [(1.0, 0.0), (1.0, 0.5), (1.0, 0.9)]
    with pytest.raises(LandCoverError, match="Unknown setting"):
        explore_request("r.tif", "p.gpkg", "class", {"learning_rate": 0.1})


def test_command_line_writes_the_figure_and_the_table(scene: Any, tmp_path: Path) -> None:
    out = tmp_path / "new" / "explore"  # created when missing
    proc = run_cli("-q", "explore", "--raster", str(scene.raster), "--polygons",
                   str(scene.polygons), "--class-field", "class_name", "--output-dir", str(out),
                   "--learning-rates", "10,0.1", "--momentums", "0.5", "--epochs", "12",
                   "--device", "cpu")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "lr 10, momentum 0.5: diverged at epoch" in proc.stdout
    assert "lr 0.1, momentum 0.5: " in proc.stdout
    _, rows = read_rows(out / "explore.csv")
    assert [int(r["epoch"]) for r in rows if r["learning_rate"] == "0.1"] == list(range(1, 13))
    assert (out / "explore.png").read_bytes()[:8] == PNG_MAGIC


def test_command_line_refuses_an_output_folder_that_is_a_file(scene: Any, tmp_path: Path) -> None:
    taken = tmp_path / "explore"
    taken.write_text("not a folder")
    proc = run_cli("-q", "explore", "--raster", str(scene.raster), "--polygons",
                   str(scene.polygons), "--class-field", "class_name", "--output-dir",
                   str(taken))  # fmt: skip
    assert one_error_line(proc) == f"error: Output folder '{taken}' is a file: give a folder."
    assert "Sampling" not in proc.stderr  # refused before any work
    assert sorted(p.name for p in tmp_path.iterdir()) == ["explore"]
