"""Model selection: grouped stratified k-fold and the hyperparameter search (issue 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from landcover_mlp.core.callbacks import Hooks
from landcover_mlp.core.config import (
    ModelConfig,
    SamplingConfig,
    TrainingConfig,
    TrainRequest,
)
from landcover_mlp.core.sample_scene import generate_sample_scene
from landcover_mlp.core.sampling import collect_samples
from landcover_mlp.core.selection import (
    ConfigScore,
    SearchConfig,
    SearchSpace,
    grouped_stratified_folds,
    plan,
    rank,
    tune_model,
)

FAST = TrainingConfig(epochs=12, patience=5, batch_size=64)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory):
    return generate_sample_scene(tmp_path_factory.mktemp("scene"))


@pytest.fixture(scope="module")
def request_(scene) -> TrainRequest:
    return TrainRequest(
        str(scene.raster), str(scene.polygons), SamplingConfig(scene.class_field), training=FAST
    )


@pytest.fixture(scope="module")
def samples(request_: TrainRequest):
    return collect_samples(request_.raster, request_.polygons, request_.sampling)


def test_folds_never_share_a_polygon_and_hold_every_class(samples) -> None:
    fold, warnings = grouped_stratified_folds(samples, 4, seed=3)
    assert fold.min() == 0 and fold.max() == 3
    for poly in np.unique(samples.polygon_id):
        assert np.unique(fold[samples.polygon_id == poly]).size == 1
    for f in range(4):  # 8 polygons per class >= 4 folds: every class in every fold
        assert set(np.unique(samples.y[fold == f])) == set(range(len(samples.classes)))
    assert warnings == ()
    again, _ = grouped_stratified_folds(samples, 4, seed=3)
    assert np.array_equal(fold, again)


def test_fewer_polygons_than_folds_is_warned(samples) -> None:
    keep = np.isin(samples.polygon_id, np.unique(samples.polygon_id[samples.y == 0])[:2])
    keep |= samples.y != 0
    _, warnings = grouped_stratified_folds(samples.subset(keep), 5)
    name = samples.classes[0].name
    assert any(name in w and "fewer than the 5 folds" in w for w in warnings)


def test_ties_go_to_the_smaller_network() -> None:
    def score(hidden: tuple[int, ...], oa: float) -> ConfigScore:
        return ConfigScore(ModelConfig(hidden), TrainingConfig(), oa, 0, 0, 0, 1.0, 0, 1.0, 5)

    ranked = rank([score((128, 128), 0.9), score((32,), 0.9), score((64,), 0.95)])
    assert [s.model.hidden_layers for s in ranked] == [(64,), (32,), (128, 128)]


def test_grid_and_random_plans(request_: TrainRequest) -> None:
    space = SearchSpace(hidden_layers=((8,), (16,), (32,)), learning_rate=(0.01, 0.03))
    assert len(plan(request_, SearchConfig(space, "grid"))) == 3 * 2 * 2
    first = plan(request_, SearchConfig(space, "random", n_iter=4, seed=1))
    assert len(first) == 4 and first == plan(request_, SearchConfig(space, "random", 4, seed=1))


def test_search_retrains_the_reported_best(request_: TrainRequest) -> None:
    space = SearchSpace(hidden_layers=((8,), (32,)), learning_rate=(0.01,), momentum=(0.9,))
    seen: list[ConfigScore] = []
    logged: list[str] = []
    result = tune_model(request_, SearchConfig(space, folds=3), Hooks(log=logged.append),
                        on_score=seen.append)  # fmt: skip
    # the status line says which configuration and fold runs (issue 13 item 9)
    folds = [m for m in logged if ": fold " in m]
    assert folds[0] == "Configuration 1 of 2 (8 relu lr=0.01 m=0.9 batch=64): fold 1 of 3"
    assert [m.rsplit(": ", 1)[1] for m in folds] == [f"fold {f} of 3" for f in (1, 2, 3)] * 2
    assert folds[3].startswith("Configuration 2 of 2 (32 relu")
    assert len(seen) == 2 and len(result.scores) == 2 and not result.cancelled
    assert result.best is result.scores[0]
    assert result.scores[0].oa_mean >= result.scores[1].oa_mean
    assert 0.5 < result.best.oa_mean <= 1.0 and result.best.folds == 3
    final = result.final.model
    assert final.model.hidden_layers == result.best.model.hidden_layers
    assert final.training["learning_rate"] == result.best.training.learning_rate
    assert "grouped 3-fold" in result.method


class _Clock:
    """The search's clock, moved on by the test: the budget runs out at a chosen event (a
    configuration or a fold finished), never by the machine's speed or load."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


THREE = SearchSpace(hidden_layers=((8,), (16,), (32,)), learning_rate=(0.01,), momentum=(0.9,))


def test_budget_keeps_finished_configurations(
    request_: TrainRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The budget runs out as the first configuration finishes: it is kept, ranked and the
    model is retrained with it; the other two never start."""
    from landcover_mlp.core import selection

    clock = _Clock()
    monkeypatch.setattr(selection, "time", clock)

    def finished(score: ConfigScore) -> None:
        clock.now += 3600.0  # an hour later: far past the one-minute budget

    result = tune_model(request_, SearchConfig(THREE, folds=2, time_budget_s=60.0),
                        on_score=finished)  # fmt: skip
    assert result.budget_exhausted and not result.cancelled
    assert (result.tried, result.planned) == (1, 3)
    assert [s.model.hidden_layers for s in result.scores] == [(8,)]
    assert result.best is result.scores[0] and result.best.folds == 2
    assert result.final is not None
    assert result.final.model.model.hidden_layers == (8,)


def test_budget_ending_inside_a_configuration_keeps_the_finished_ones(
    request_: TrainRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The budget runs out during the second configuration's first fold: its second fold
    never starts, it is left out (a half-scored configuration is no score), and the first
    one is kept and retrained."""
    from landcover_mlp.core import selection

    clock = _Clock()
    monkeypatch.setattr(selection, "time", clock)
    folds: list[str] = []

    def log(message: str) -> None:
        if ": fold " in message:
            folds.append(message)
            if message.startswith("Configuration 2 of 3") and message.endswith("fold 1 of 2"):
                clock.now += 3600.0

    result = tune_model(request_, SearchConfig(THREE, folds=2, time_budget_s=60.0), Hooks(log=log))
    assert [m.rsplit(": ", 1)[1] for m in folds] == ["fold 1 of 2", "fold 2 of 2", "fold 1 of 2"]
    assert result.budget_exhausted and not result.cancelled
    assert (result.tried, result.planned) == (2, 3)
    assert [s.model.hidden_layers for s in result.scores] == [(8,)]
    assert result.final is not None
    assert result.final.model.model.hidden_layers == (8,)


def test_cancel_keeps_finished_configurations(request_: TrainRequest) -> None:
    space = THREE
    scores: list[ConfigScore] = []
    hooks = Hooks(cancelled=lambda: len(scores) >= 1)
    result = tune_model(request_, SearchConfig(space, folds=2), hooks, on_score=scores.append)
    assert result.cancelled and len(result.scores) == 1 and result.final is None
    assert result.scores[0].model.hidden_layers == (8,)


def test_diverging_configuration_is_left_out_with_a_reason(
    request_: TrainRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from landcover_mlp.core import selection
    from landcover_mlp.core.errors import LandCoverError

    real = selection.cross_validate

    def diverge_at_high_rates(samples, fold, model, training, *args, **kwargs):
        if training.learning_rate > 1:
            raise LandCoverError("Training diverged: lower the learning rate (now 10).")
        return real(samples, fold, model, training, *args, **kwargs)

    monkeypatch.setattr(selection, "cross_validate", diverge_at_high_rates)
    space = SearchSpace(hidden_layers=((16,),), learning_rate=(10.0, 0.01), momentum=(0.9,))
    result = tune_model(request_, SearchConfig(space, folds=2))
    assert [s.training.learning_rate for s in result.scores] == [0.01]
    assert result.final is not None and result.tried == 2
    assert any("left out" in w and "learning rate" in w for w in result.warnings)


def test_cli_tune_help_lists_the_search_space(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": str(root / "build" / "plugins"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "landcover_mlp.core", "tune", "--help"],
                         capture_output=True, text=True, env=env, check=True)  # fmt: skip
    for option in ("--search-hidden-layers", "--folds", "--time-budget", "--strategy"):
        assert option in out.stdout


def test_cross_validation_trains_the_final_models_schedule(samples, monkeypatch) -> None:
    """Above LARGE_DATA_PIXELS each fold trains with the schedule of the final model (all
    samples), and the score keeps the settings as given (the final model scales them once)."""
    from landcover_mlp.core import training
    from landcover_mlp.core.selection import cross_validate

    monkeypatch.setattr(training, "LARGE_DATA_PIXELS", 100)
    used: list[TrainingConfig] = []
    members: list[int] = []
    real = training.train_network

    def spy(x, y, xv, yv, n, model, config, *args, **kw):
        used.append(config)
        members.append(model.ensemble)
        return real(x, y, xv, yv, n, model, config, *args, **kw)

    monkeypatch.setattr(training, "train_network", spy)
    fold, _ = grouped_stratified_folds(samples, 3, seed=0)
    given = TrainingConfig(epochs=20, patience=0, device="cpu", batch_size=16)
    automatic = ModelConfig((8,))  # ensemble 0: resolved for all samples, as the final model
    score = cross_validate(samples, fold, automatic, given)
    assert score is not None and score.training == given and score.model == automatic
    assert used and all(c == training.schedule_for(given, len(samples)) for c in used)
    assert used[0].batch_size > 16 and used[0].epochs < 20
    # each fold holds fewer than all samples, yet trains the final model's one network
    assert members == [1] * len(used)


def test_early_stopping_in_cross_validation_never_watches_the_fold_scored(
    samples, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With patience, each fold's network stops on an inner polygon split of the fold's
    training part: its training and stopping pixels are exactly the other folds' pixels,
    never one of the fold it is scored on, and no polygon is on both sides."""
    from landcover_mlp.core import training
    from landcover_mlp.core.selection import cross_validate

    calls: list[tuple[np.ndarray, np.ndarray | None]] = []
    real = training.train_network

    def spy(x, y, xv, yv, *args, **kw):
        calls.append((x, xv))
        return real(x, y, xv, yv, *args, **kw)

    monkeypatch.setattr(training, "train_network", spy)
    polygon_of = {row.tobytes(): p for row, p in zip(samples.x, samples.polygon_id)}
    assert len(polygon_of) == len(samples), "every pixel is told apart by its values"
    fold, _ = grouped_stratified_folds(samples, 3, seed=0)
    patient = TrainingConfig(epochs=4, patience=2, device="cpu", batch_size=64)
    score = cross_validate(samples, fold, ModelConfig((8,), ensemble=1), patient)
    assert score is not None and score.folds == 3 and len(calls) == 3

    def rows(a: np.ndarray) -> set[bytes]:
        return {r.tobytes() for r in a}

    for f, (fit, stop) in enumerate(calls):
        assert stop is not None and len(stop) > 0, "patience > 0: an inner split to stop on"
        scored, others = rows(samples.x[fold == f]), rows(samples.x[fold != f])
        watched = len(rows(stop) & scored)
        assert watched == 0, f"fold {f + 1}: {watched} stopping pixels are of the fold scored"
        assert len(rows(fit) & rows(stop)) == 0
        assert len(rows(fit) | rows(stop)) == len(others) == len(fit) + len(stop)
        assert rows(fit) | rows(stop) == others
        fit_polygons = {polygon_of[r] for r in rows(fit)}
        stop_polygons = {polygon_of[r] for r in rows(stop)}
        assert not fit_polygons & stop_polygons, "the inner split is by polygon"


def test_tune_on_a_full_disk_keeps_the_previous_search(request_: TrainRequest, tmp_path,
                                                        monkeypatch) -> None:  # fmt: skip
    """The search's files are one stage: a full disk while writing the summary is one
    sentence, and no file is left empty or half-replaced (before: a traceback and a 0-byte
    ``*_search.json``)."""
    from landcover_mlp.core import LandCoverError
    from landcover_mlp.core.naming import search_outputs
    from landcover_mlp.core.tuning import run_search

    model = tmp_path / "m.safetensors"
    outputs = search_outputs(model)
    for old in (outputs.table_csv, outputs.table_html, outputs.summary_json, model):
        old.write_text("previous")
    real = Path.write_text

    def full(self, *args, **kwargs):
        if "_search" in self.name and self.name.endswith(".json"):
            open(self, "w").close()  # as a real write: the file is created, then the disk fills
            raise OSError(28, "No space left on device", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    space = SearchSpace(hidden_layers=((8,),), learning_rate=(0.01,), momentum=(0.9,))
    with pytest.raises(LandCoverError, match="(?i)disk|space"):
        run_search(request_, SearchConfig(space, folds=2), outputs, model)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (outputs.table_csv, outputs.table_html, outputs.summary_json, model)
    )
    assert all(p.read_text() == "previous" for p in tmp_path.iterdir())
