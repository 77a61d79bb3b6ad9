"""Model selection: k-fold cross-validation grouped by polygon and a hyperparameter search.

Folds never share a polygon (nearby pixels are near-duplicates, so a pixel split would flatter
every configuration). Each fold's model is trained as the saved model is: on the fold's whole
training part for the schedule's epochs; with early stopping (patience > 0) it watches an
inner polygon split of that training part, never the fold being scored.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from .accuracy import assess
from .callbacks import Hooks
from .config import ModelConfig, SplitConfig, TrainingConfig, TrainRequest
from .errors import CancelledError, LandCoverError
from .sampling import Samples, collect_samples
from .splitting import split_by_polygon


@dataclass(frozen=True)
class SearchSpace:
    """Values to try; each combination is one configuration."""

    hidden_layers: tuple[tuple[int, ...], ...] = ((32, 32), (64,), (64, 64), (128, 64), (128, 128))
    learning_rate: tuple[float, ...] = (0.003, 0.01, 0.03)
    momentum: tuple[float, ...] = (0.5, 0.9)
    activation: tuple[str, ...] = ("relu",)
    batch_size: tuple[int, ...] = ()  # empty: the training default

    def combinations(self, base: TrainRequest) -> list[tuple[ModelConfig, TrainingConfig]]:
        """All (model, training) configurations of the grid, built on ``base``."""
        batch = self.batch_size or (base.training.batch_size,)
        out = []
        for hidden, lr, mom, act, bs in itertools.product(
            self.hidden_layers, self.learning_rate, self.momentum, self.activation, batch
        ):
            out.append(
                (
                    replace(base.model, hidden_layers=tuple(hidden), activation=act),
                    replace(base.training, learning_rate=lr, momentum=mom, batch_size=bs),
                )
            )
        return out


@dataclass(frozen=True)
class SearchConfig:
    """How to search.

    Attributes:
        space: values to try.
        strategy: "grid" (every combination) or "random" (``n_iter`` drawn with the seed).
        n_iter: configurations tried by the random search.
        folds: k of the grouped k-fold cross-validation.
        time_budget_s: stop starting new work after this many seconds (None = no limit).
        seed: seed of the folds and of the random search.
    """

    space: SearchSpace = field(default_factory=SearchSpace)
    strategy: str = "grid"
    n_iter: int = 10
    folds: int = 5
    time_budget_s: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        """Check the search settings.

        Raises:
            LandCoverError: an unknown strategy, fewer than 2 folds, or another setting out
                of its range.
        """
        if self.strategy not in ("grid", "random"):
            raise LandCoverError(f"Search must be 'grid' or 'random'; got '{self.strategy}'.")
        if self.folds < 2:
            raise LandCoverError(f"Cross-validation needs at least 2 folds; got {self.folds}.")


def _label(model: ModelConfig, training: TrainingConfig) -> str:
    return (
        f"{','.join(map(str, model.hidden_layers)) or 'none'} {model.activation} "
        f"lr={training.learning_rate:g} m={training.momentum:g} batch={training.batch_size}"
    )


@dataclass(frozen=True)
class ConfigScore:
    """Cross-validated scores of one configuration (means and standard deviations over folds)."""

    model: ModelConfig
    training: TrainingConfig
    oa_mean: float
    oa_std: float
    kappa_mean: float
    kappa_std: float
    val_loss_mean: float
    val_loss_std: float
    seconds: float
    folds: int

    @property
    def n_parameters(self) -> int:
        """Hidden-to-hidden weights plus neurons, the size that breaks ties.

        Weights of the network for a given input/output size do not matter for ties: hidden
        sizes do.
        """
        h = self.model.hidden_layers
        return sum(h) + sum(a * b for a, b in zip(h, h[1:]))

    def label(self) -> str:
        """E.g. "64,64 relu lr=0.05 m=0.9 batch=32"."""
        return _label(self.model, self.training)

    def row(self) -> dict[str, Any]:
        """A flat table row."""
        return {
            "hidden_layers": ",".join(map(str, self.model.hidden_layers)),
            "activation": self.model.activation,
            "learning_rate": self.training.learning_rate,
            "momentum": self.training.momentum,
            "batch_size": self.training.batch_size,
            "oa_mean": self.oa_mean,
            "oa_std": self.oa_std,
            "kappa_mean": self.kappa_mean,
            "kappa_std": self.kappa_std,
            "val_loss_mean": self.val_loss_mean,
            "val_loss_std": self.val_loss_std,
            "seconds": round(self.seconds, 2),
            "folds": self.folds,
        }


def grouped_stratified_folds(
    samples: Samples, k: int, seed: int = 0
) -> tuple[npt.NDArray[np.int64], tuple[str, ...]]:
    """Assign every polygon (and so all its pixels) to one of ``k`` folds, per class.

    Within each class, polygons are shuffled with the seed and then given, largest first, to
    the fold holding the fewest pixels of that class, so every class appears in every fold
    when it has at least ``k`` polygons, with balanced pixel counts.

    Args:
        samples: the training pixels, with their polygon ids.
        k: number of folds, >= 2.
        seed: random seed of the shuffle.

    Returns:
        ``(fold, warnings)``: the fold (0..k-1) of each sample, int64 (n,), and a warning per
        class with fewer polygons than folds.
    """
    rng = np.random.default_rng(seed)
    fold = np.full(len(samples), -1, dtype=np.int64)
    warnings = []
    for c, info in enumerate(samples.classes):
        in_class = samples.y == c
        polys, sizes = np.unique(samples.polygon_id[in_class], return_counts=True)
        order = rng.permutation(polys.size)
        polys, sizes = polys[order], sizes[order]
        order = np.argsort(-sizes, kind="stable")
        load = np.zeros(k)
        start = int(rng.integers(k))
        for p, s in zip(polys[order], sizes[order]):
            # Least-loaded fold; ties broken from a seeded starting fold.
            candidates = np.flatnonzero(load == load.min())
            target = candidates[(np.searchsorted(candidates, start)) % candidates.size]
            load[target] += s
            fold[in_class & (samples.polygon_id == p)] = target
        if polys.size < k:
            warnings.append(
                f"Class '{info.name}' has {polys.size} polygon(s), fewer than the {k} folds: "
                f"it is missing from {k - polys.size} fold(s)."
            )
    return fold, tuple(warnings)


def cross_validate(
    samples: Samples,
    fold: npt.NDArray[np.int64],
    model_config: ModelConfig,
    training: TrainingConfig,
    hooks: Hooks | None = None,
    deadline: float | None = None,
    name: str = "",
) -> ConfigScore | None:
    """Grouped k-fold cross-validation of one configuration.

    Args:
        samples: the training pixels, with their polygon ids.
        fold: shape (n_pixels,), the fold (0 .. k-1) of each pixel.
        model_config: network of the configuration.
        training: training settings of the configuration.
        hooks: progress, cancel and log; each fold is logged as "<name>: fold f of k" (the
            dialog's status line shows which configuration and fold runs).
        deadline: ``time.perf_counter()`` value after which no new fold starts.
        name: how the configuration is named in the log ("" = its settings).

    Returns:
        The scores, or None when the deadline passed before all folds finished.
    """
    from .network import score_state
    from .training import ensemble_for, schedule_for, train_network

    hooks = hooks or Hooks()
    used = schedule_for(training, len(samples))  # the final model's schedule and ensemble
    architecture = ensemble_for(model_config, len(samples))
    k = int(fold.max()) + 1
    oas, kappas, losses = [], [], []
    started = time.perf_counter()
    for f in range(k):
        if deadline is not None and time.perf_counter() > deadline:
            return None
        test = fold == f
        if not test.any():
            continue
        hooks.log(f"{name or _label(model_config, training)}: fold {f + 1} of {k}")
        train_part = samples.subset(~test)
        if used.patience:  # early stopping watches an inner split, never the fold scored
            inner = split_by_polygon(train_part, SplitConfig(0.2, used.seed))
            fit, stop = train_part.subset(inner.train), train_part.subset(inner.validation)
        else:  # as the saved model: the whole training part, for the schedule's epochs
            fit, stop = train_part, train_part.subset(np.zeros(len(train_part), dtype=bool))
        net = train_network(
            fit.x, fit.y, stop.x if len(stop) else None, stop.y if len(stop) else None,
            len(samples.classes), architecture, used,
            hooks.scaled(100 * f / k, 100 * (f + 1) / k),
        )  # fmt: skip
        scored = samples.subset(test)
        predicted, loss = score_state(net.state, architecture, scored.x, scored.y)
        report = assess(scored.y, predicted, samples.classes)
        oas.append(report.overall_accuracy)
        kappas.append(report.kappa)
        losses.append(loss)
    return ConfigScore(
        model_config, training,
        float(np.mean(oas)), float(np.std(oas)), float(np.nanmean(kappas)), float(np.nanstd(kappas)),
        float(np.mean(losses)), float(np.std(losses)), time.perf_counter() - started, len(oas),
    )  # fmt: skip


@dataclass(frozen=True)
class TuneResult:
    """Outcome of :func:`tune_model`.

    Attributes:
        scores: finished configurations, best first.
        best: the chosen configuration (highest mean OA; ties go to the smaller network).
        final: the model retrained on all training polygons with it (None when cancelled or
            nothing finished).
        cancelled: the user cancelled.
        budget_exhausted: the time budget stopped the search early.
        tried: configurations started.
        planned: configurations planned.
        warnings: fold warnings (classes with fewer polygons than folds, ...).
        method: how the table's accuracy was estimated.
    """

    scores: tuple[ConfigScore, ...]
    best: ConfigScore | None
    final: Any
    cancelled: bool
    budget_exhausted: bool
    tried: int
    planned: int
    warnings: tuple[str, ...]
    method: str

    def table(self) -> list[dict[str, Any]]:
        """Rows for CSV/HTML, best first."""
        return [s.row() for s in self.scores]


def rank(scores: Sequence[ConfigScore]) -> list[ConfigScore]:
    """Best first: higher mean OA, then smaller network, then lower validation loss."""
    return sorted(scores, key=lambda s: (-round(s.oa_mean, 6), s.n_parameters, s.val_loss_mean))


def plan(request: TrainRequest, search: SearchConfig) -> list[tuple[ModelConfig, TrainingConfig]]:
    """The configurations the search will try, in order."""
    grid = search.space.combinations(request)
    if search.strategy == "random" and search.n_iter < len(grid):
        rng = np.random.default_rng(search.seed)
        chosen = sorted(int(i) for i in rng.choice(len(grid), search.n_iter, replace=False))
        grid = [grid[i] for i in chosen]
    return grid


def tune_model(
    request: TrainRequest,
    search: SearchConfig,
    hooks: Hooks | None = None,
    on_score: Callable[[ConfigScore], object] | None = None,
) -> TuneResult:
    """Grouped k-fold search over the space, then retrain the best on all training polygons.

    Args:
        request: raster, polygons and base settings (as for training).
        search: space, strategy, folds, budget, seed.
        hooks: progress, cancel (a cancel keeps the finished configurations), log.
        on_score: optional callable receiving each finished :class:`ConfigScore` (live table).

    Returns:
        The ranked table, the best configuration and the retrained model.
    """
    from .workflow import train_model

    hooks = hooks or Hooks()
    started = time.perf_counter()
    deadline = started + search.time_budget_s if search.time_budget_s else None
    samples = collect_samples(
        request.raster,
        request.polygons,
        request.sampling,
        hooks.scaled(0, 5),
        request.polygons_layer,
    )
    fold, warnings = grouped_stratified_folds(samples, search.folds, search.seed)
    for w in warnings:
        hooks.log("Warning: " + w)
    configs = plan(request, search)
    scores: list[ConfigScore] = []
    cancelled = budget = False
    tried = 0
    failed: list[str] = []
    for i, (model_cfg, train_cfg) in enumerate(configs):
        if deadline is not None and time.perf_counter() > deadline:
            budget = True
            break
        tried += 1
        sub = hooks.scaled(5 + 85 * i / len(configs), 5 + 85 * (i + 1) / len(configs))
        try:
            name = f"Configuration {i + 1} of {len(configs)} ({_label(model_cfg, train_cfg)})"
            score = cross_validate(samples, fold, model_cfg, train_cfg, sub, deadline, name)
        except CancelledError:
            cancelled = True
            break
        except LandCoverError as exc:  # e.g. a learning rate that diverges: skip, say why
            failed.append(f"{_label(model_cfg, train_cfg)} was left out: {exc}")
            hooks.log("Warning: " + failed[-1])
            continue
        if score is None:
            budget = True
            break
        scores.append(score)
        hooks.log(f"{score.label()}: OA {score.oa_mean:.1%} +/- {score.oa_std:.1%}")
        if on_score is not None:
            on_score(score)
    ranked = rank(scores)
    best = ranked[0] if ranked else None
    final = None
    if best is not None and not cancelled:
        hooks.log(f"Best: {best.label()}; retraining on all training polygons.")
        final = train_model(
            replace(request, model=best.model, training=best.training), hooks.scaled(90, 100)
        )
    if budget:
        hooks.log(f"Time budget reached after {tried} of {len(configs)} configurations.")
    method = f"grouped {search.folds}-fold cross-validation by polygon (seed {search.seed})"
    hooks.progress(100.0)
    return TuneResult(
        tuple(ranked), best, final, cancelled, budget, tried, len(configs),
        (*warnings, *failed), method,
    )  # fmt: skip


def search_summary(result: TuneResult) -> dict[str, Any]:
    """JSON-ready summary of a search."""
    return {
        "method": result.method,
        "best": result.best.row() if result.best else None,
        "best_model": asdict(result.best.model) if result.best else None,
        "cancelled": result.cancelled,
        "budget_exhausted": result.budget_exhausted,
        "tried": result.tried,
        "planned": result.planned,
        "warnings": list(result.warnings),
        "table": result.table(),
    }
