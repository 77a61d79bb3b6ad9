"""The whole training job: sample, split, train, assess."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from landcover_mlp.core import CancelledError, LandCoverError
from landcover_mlp.core.callbacks import Hooks
from landcover_mlp.core.config import (
    ModelConfig,
    SamplingConfig,
    SplitConfig,
    TrainingConfig,
    TrainRequest,
)
from landcover_mlp.core.workflow import predict_samples, train_model

FAST = TrainingConfig(epochs=10, patience=0, seed=0, device="cpu", batch_size=64)


def _request(scene, field="class_name", **kw) -> TrainRequest:
    return TrainRequest(
        raster=str(scene.raster),
        polygons=str(scene.polygons),
        sampling=SamplingConfig(field),
        model=ModelConfig((8,)),
        training=FAST,
        **kw,
    )


def test_train_model_on_scene(scene):
    progress: list[float] = []
    epochs: list[dict] = []
    result = train_model(_request(scene), Hooks(progress=progress.append, epoch=epochs.append))
    model = result.model
    total = sum(scene.box_mask(b).sum() for _, b in scene.boxes) - 48
    # the saved model learnt from every training pixel, the held-out ones included
    assert result.n_train == total
    assert 0 < result.n_validation < total
    assert [c.name for c in model.classes] == ["forest", "urban", "water"]
    assert model.bands == (1, 2, 3)
    assert model.band_names == ("blue", "green", "nir")
    assert model.band_count == 3
    assert model.nodata == (scene.nodata,) * 3
    # the hook saw the assessment run (the ensemble with validation, then the network
    # distilled from it, with validation), then the saved model's run (ensemble, distilled)
    assert [r["epoch"] for r in epochs] == [*range(1, 11)] * 4
    runs = [epochs[i : i + 10] for i in range(0, 40, 10)]
    keys = [("train_loss", "val_loss"), ("distill_loss", "distill_val_loss"),
            ("final_train_loss",), ("final_distill_loss",)]  # fmt: skip
    others = {k for ks in keys for k in ks}
    for run, own in zip(runs, keys):
        assert all(set(own) <= r.keys() and not (others - set(own)) & r.keys() for r in run)
    assert len(model.history) == 10
    for i, rec in enumerate(model.history):
        assert rec["val_loss"] == runs[0][i]["val_loss"]
        assert rec["distill_val_loss"] == runs[1][i]["distill_val_loss"]
        assert rec["final_train_loss"] == runs[2][i]["final_train_loss"]
        assert rec["final_distill_loss"] == runs[3][i]["final_distill_loss"]
    assert model.state["layers.0.weight"].shape[0] == 1  # the distilled network is saved
    assert "distilled from an ensemble of 5" in model.describe_network()
    assert model.training["n_train"] == result.n_train
    sampling = model.training["sampling"]
    assert sum(sampling["pixels_used"]) == result.n_train  # no cap reached here
    assert sampling["pixels_available"] >= sampling["pixels_used"]
    assert all(a >= u > 0 for a, u in zip(sampling["pixels_available"], sampling["pixels_used"]))
    assert model.training["sampling"]["class_field"] == "class_name"
    assert 1 <= model.info["best_epoch"] <= 10
    assert result.report is not None
    assert model.metrics["overall_accuracy"] == result.report.overall_accuracy
    assert result.report.n_pixels == result.n_validation
    assert "no polygon on both sides" in result.report.method
    assert result.report.saved_model_saw_reference is True
    assert "trained without the held-out polygons" in result.report.assessed_model
    assert model.metrics["saved_model_saw_reference"] is True
    assert result.report.overall_accuracy > 0.9
    # the score is the distilled network's of the assessment run (its last epoch's)
    assert result.report.overall_accuracy == pytest.approx(
        model.history[-1]["distill_val_accuracy"]
    )
    assert progress[-1] == 100.0
    assert progress == sorted(progress)


def test_saved_model_learns_the_held_out_polygons(scene):
    """The standardisation is the mean and spread of the pixels a network trained on: the
    saved model's are those of ALL training pixels, the assessment run's those without the
    held-out polygons."""
    from landcover_mlp.core.sampling import collect_samples
    from landcover_mlp.core.splitting import split_by_polygon

    request = _request(scene, split=SplitConfig(0.34, seed=2))
    result = train_model(request)
    samples = collect_samples(str(scene.raster), str(scene.polygons), SamplingConfig("class_name"))
    kept = samples.subset(split_by_polygon(samples, request.split).train)
    assert len(kept) < len(samples)
    np.testing.assert_allclose(result.model.state["mean"], samples.x.mean(0), rtol=1e-6)
    assert not np.allclose(result.model.state["mean"], kept.x.mean(0), rtol=1e-4)


def test_separate_validation_polygons(scene):
    result = train_model(_request(scene, validation_polygons=str(scene.polygons)))
    total = sum(scene.box_mask(b).sum() for _, b in scene.boxes) - 48
    assert result.n_train == total  # nothing held out of the training polygons
    assert result.n_validation == total
    assert "separate validation layer" in result.report.method
    # no second run: the saved model itself was scored, and it never saw that layer
    assert result.report.saved_model_saw_reference is False
    assert result.report.assessed_model.startswith("the saved model")
    assert all("final_train_loss" not in r for r in result.model.history)


def test_validation_polygons_with_unknown_class(scene, tmp_path, make_polygons, rect):
    other = make_polygons(tmp_path / "val.gpkg", [(rect(1, 1, 5, 5), {"class_name": "glacier"})])
    with pytest.raises(LandCoverError, match="glacier"):
        train_model(_request(scene, validation_polygons=str(other)))


def test_share_zero_gives_no_report(scene):
    result = train_model(_request(scene, split=SplitConfig(0.0)))
    assert result.report is None
    assert result.n_validation == 0
    assert all("val_loss" not in r for r in result.model.history)


def test_single_class_refused(scene, tmp_path, make_polygons, rect):
    one = make_polygons(
        tmp_path / "one.gpkg",
        [
            (rect(1, 10, 5, 15), {"class_name": "water"}),
            (rect(1, 20, 5, 25), {"class_name": "water"}),
        ],
    )
    request = TrainRequest(str(scene.raster), str(one), SamplingConfig("class_name"), training=FAST)
    with pytest.raises(LandCoverError, match="at least two classes"):
        train_model(request)


def test_cancel_during_sampling(scene):
    with pytest.raises(CancelledError):
        train_model(_request(scene), Hooks(cancelled=lambda: True))


def test_predict_samples_matches_validation_report(scene, tmp_path, make_polygons, rect):
    """With a separate validation layer the saved model itself is scored: the report written
    to disk is the confusion matrix (rows = reference) of the saved model's predictions of
    that layer's pixels, and its overall accuracy theirs."""
    import json

    from sklearn import metrics

    from landcover_mlp.core.outputs import save_training_outputs
    from landcover_mlp.core.sampling import collect_samples

    # one box per class, away from the training polygons; the "forest" one reaches 4 columns
    # into the urban stripe (columns 43-46): those pixels are mapped urban, the matrix is
    # not symmetric and a transposed one would show
    boxes = {"water": (12, 5, 20, 18), "forest": (36, 30, 47, 33), "urban": (56, 3, 63, 15)}
    validation = make_polygons(tmp_path / "validation.gpkg", [
        (rect(*box), {"class_name": name}) for name, box in boxes.items()
    ])  # fmt: skip
    result = train_model(_request(scene, validation_polygons=str(validation)))
    save_training_outputs(result, tmp_path / "m.safetensors", report=tmp_path / "m_report.html")
    report = json.loads((tmp_path / "m_report.json").read_text(encoding="utf-8"))

    samples = collect_samples(str(scene.raster), str(validation), SamplingConfig("class_name"),
                              classes=result.model.classes)  # fmt: skip
    predicted = predict_samples(result.model, samples.x)
    assert [c["name"] for c in report["classes"]] == ["forest", "urban", "water"]
    expected = metrics.confusion_matrix(samples.y, predicted, labels=[0, 1, 2])
    assert report["confusion_matrix"] == expected.tolist()
    assert report["n_pixels"] == len(samples) == sum((b[2] - b[0]) * (b[3] - b[1])
                                                     for b in boxes.values())  # fmt: skip
    assert report["overall_accuracy"] == pytest.approx((predicted == samples.y).mean())
    assert expected[0, 1] >= 10 and expected[1, 0] == 0  # forest mapped urban, not the reverse


def test_landsat_workflow(landsat7):
    request = TrainRequest(
        raster=str(landsat7.raster),
        polygons=str(landsat7.polygons),
        sampling=SamplingConfig("class_name", bands=landsat7.bands),
        model=ModelConfig((32,)),
        training=TrainingConfig(epochs=30, patience=0, seed=0, device="cpu"),
    )
    result = train_model(request)
    assert result.n_train == 718 and 0 < result.n_validation < 718
    assert result.model.band_count == 8
    assert result.model.bands == landsat7.bands
    assert result.model.nodata == (-9999.0,) * 7
    assert [c.name for c in result.model.classes] == [
        "barren",
        "forest",
        "herbaceous",
        "urban",
        "water",
    ]
    assert result.report is not None
    assert sum(map(sum, result.report.confusion_matrix)) == result.n_validation
    assert result.model.training["class_counts"] == [106, 383, 145, 68, 16]


def test_early_stopping_chooses_the_saved_models_epochs(scene):
    """With patience, the assessment run stops early and the saved model, trained on all
    polygons with nothing left to watch, trains for the best epoch's count."""

    training = replace(FAST, epochs=200, patience=3, learning_rate=0.3, lr_schedule="constant")
    seen: list[dict] = []
    request = replace(_request(scene), training=training)
    result = train_model(request, Hooks(epoch=seen.append))
    first = [r for r in seen if "train_loss" in r]
    final = [r for r in seen if "final_train_loss" in r]
    best = result.model.info["best_epoch"]
    assert result.model.info["stopped_early"] and len(first) == best + 3 < 200
    assert [r["epoch"] for r in final] == list(range(1, best + 1))
    assert result.model.early_stopping_epoch == best
    assert f"for {best} epochs of the same learning-rate schedule" in result.report.assessed_model
    # the distilled networks, scored and saved, train for the ensemble's best epochs: alike
    scored = [r for r in seen if "distill_loss" in r]
    saved = [r for r in seen if "final_distill_loss" in r]
    assert [r["epoch"] for r in scored] == [r["epoch"] for r in saved] == list(range(1, best + 1))
    assert result.report.assessed_model.startswith("the distilled network")
    assert result.report.overall_accuracy == pytest.approx(scored[-1]["distill_val_accuracy"])


def test_saved_model_after_early_stopping_follows_the_assessed_schedule(scene):
    """The saved model's learning rate at epoch e is the assessment run's at epoch e: its
    schedule keeps the full length, it only stops at the chosen epoch."""

    training = replace(FAST, epochs=200, patience=3, learning_rate=0.3)
    seen: list[dict] = []
    train_model(replace(_request(scene), training=training), Hooks(epoch=seen.append))
    first = {r["epoch"]: r["lr"] for r in seen if "train_loss" in r}
    final = {r["epoch"]: r["lr"] for r in seen if "final_train_loss" in r}
    assert final and all(final[e] == pytest.approx(first[e], rel=1e-9) for e in final)
    assert min(final.values()) > 0.25  # far from the end of a 200-epoch cosine


def test_the_report_scores_the_assessment_run_not_the_saved_model(landsat7):
    """The reported matrix is that of the network trained without the held-out polygons
    (scoring the saved model, which learnt them, would flatter it)."""

    from landcover_mlp.core.accuracy import confusion_matrix
    from landcover_mlp.core.sampling import collect_samples
    from landcover_mlp.core.splitting import split_by_polygon
    from landcover_mlp.core.workflow import fit_networks

    request = TrainRequest(
        raster=str(landsat7.raster),
        polygons=str(landsat7.polygons),
        sampling=SamplingConfig("class_name", bands=landsat7.bands),
        model=ModelConfig((16,), ensemble=2),
        training=TrainingConfig(epochs=15, seed=0, device="cpu"),
    )
    result = train_model(request)
    samples = collect_samples(request.raster, request.polygons, request.sampling)
    split = split_by_polygon(samples, request.split)
    train, val = samples.subset(split.train), samples.subset(split.validation)
    saved, first = fit_networks(train, val, True, request.model, request.training)
    np.testing.assert_array_equal(saved.state["layers.0.weight"],
                                  result.model.state["layers.0.weight"])  # fmt: skip
    n = len(samples.classes)
    expected = confusion_matrix(
        val.y, predict_samples(replace(result.model, state=first.state), val.x), n
    )
    flattering = confusion_matrix(val.y, predict_samples(result.model, val.x), n)
    assert result.report.confusion_matrix == expected.tolist()
    assert np.trace(flattering) > np.trace(expected)  # the saved model learnt these pixels


def test_sampling_warnings_are_logged_once(scene):
    """Sampling logs its own warnings (here the cap); the training step does not repeat them,
    and the report keeps them."""

    logs: list[str] = []
    request = replace(_request(scene), sampling=SamplingConfig("class_name", max_per_class=40))
    result = train_model(request, Hooks(log=logs.append))
    capped = [m for m in logs if "capped at 40 pixels" in m]
    assert len(capped) == 1, capped
    assert any("capped at 40 pixels" in w for w in result.report.warnings)


def test_automatic_ensemble_is_that_of_the_saved_models_pixels_in_both_runs(scene, monkeypatch):
    """The assessment run trains on fewer pixels than the saved model: with the threshold
    between the two counts, it still trains what is saved (5 networks distilled), as does the
    saved run, and the model file says so."""
    from landcover_mlp.core import training

    members: list[int] = []
    real = training.train_network

    def spy(x, y, xv, yv, n, model, config, *args, **kw):
        members.append(model.ensemble)
        return real(x, y, xv, yv, n, model, config, *args, **kw)

    monkeypatch.setattr(training, "train_network", spy)
    request = replace(_request(scene), training=replace(FAST, epochs=2))
    first = train_model(request)
    n_all, n_assessed = first.n_train, first.n_train - first.n_validation
    assert n_assessed < n_all
    members.clear()
    # one network above the threshold: the saved model's pixels are above it, the assessment
    # run's below
    monkeypatch.setattr(training, "LARGE_DATA_PIXELS", (n_assessed + n_all) // 2)
    result = train_model(request)
    assert members == [1, 1]
    assert result.model.model.ensemble == 1
    members.clear()
    monkeypatch.setattr(training, "LARGE_DATA_PIXELS", n_all)  # all at or below it: 5
    assert train_model(request).model.model.ensemble == 5 and members == [5, 5]


def test_large_data_schedule_is_used_by_both_runs_and_recorded(scene, monkeypatch):
    """Above LARGE_DATA_PIXELS the batch grows and the epochs shrink: the assessment run and
    the saved model's run use the one schedule of the saved model's pixels, the log says so
    and the model records it."""
    from landcover_mlp.core import training

    monkeypatch.setattr(training, "LARGE_DATA_PIXELS", 100)
    logs: list[str] = []
    seen: list[dict] = []
    result = train_model(_request(scene), Hooks(log=logs.append, epoch=seen.append))
    used = training.schedule_for(FAST, result.n_train)
    assert used.epochs < FAST.epochs and used.batch_size > FAST.batch_size
    assert len(result.model.history) == used.epochs
    assert [r["epoch"] for r in seen if "final_train_loss" in r] == list(range(1, used.epochs + 1))
    assert result.model.training["schedule"] == {
        "batch_size": used.batch_size, "epochs": used.epochs,
        "learning_rate": used.learning_rate, "weight_decay": used.weight_decay,
    }  # fmt: skip
    assert result.model.training["epochs"] == FAST.epochs  # the settings as given
    assert sum("scaled above 100 pixels" in m for m in logs) == 1
    # the automatic ensemble is one network above LARGE_DATA_PIXELS, in both runs
    assert _request(scene).model.ensemble == 0
    assert (result.model.model.ensemble, result.model.model.distils) == (1, False)
    assert not any("distill_loss" in r for r in seen)
    assert sum("one network (the automatic ensemble" in m for m in logs) == 1
    assert not any("networks at once" in m for m in logs)
