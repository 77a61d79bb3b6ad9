"""Training: seeded, early stopping with the best weights restored, cancel, divergence."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from landcover_mlp.core import CancelledError, LandCoverError
from landcover_mlp.core.callbacks import Hooks
from landcover_mlp.core.config import ModelConfig, TrainingConfig
from landcover_mlp.core.network import MLP, load_state, select_device
from landcover_mlp.core.training import class_weights, ensemble_for, train_network


def _blobs(n: int, n_features: int = 4, n_classes: int = 3, spread: float = 1.0, seed: int = 0):
    """Gaussian blobs around fixed centres; ``seed`` draws other pixels of the same classes."""
    centres = np.random.default_rng(1234).normal(0, 3, size=(n_classes, n_features))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    x = centres[y] + rng.normal(0, spread, size=(n, n_features))
    # raw, unscaled values like reflectance x 10000
    return (x * 500 + 3000).astype(np.float32), y.astype(np.int64)


def _states_equal(a: dict, b: dict) -> bool:
    assert a.keys() == b.keys()
    return all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_seeded_reproducibility(dropout):
    x, y = _blobs(300)
    xv, yv = _blobs(100, seed=1)
    model = ModelConfig((16, 8), "relu", dropout)
    cfg = TrainingConfig(epochs=8, batch_size=16, patience=0, seed=5, device="cpu")
    torch.manual_seed(1)
    a = train_network(x, y, xv, yv, 3, model, cfg)
    torch.rand(1000)  # the global RNG moves on between runs: it must not matter
    b = train_network(x, y, xv, yv, 3, model, cfg)
    assert _states_equal(a.state, b.state), "same data + seed must give the same weights"
    assert a.history == b.history
    other = train_network(x, y, xv, yv, 3, model, replace(cfg, seed=6))
    assert not _states_equal(a.state, other.state)


def test_training_does_not_reseed_global_rng():
    x, y = _blobs(100)
    torch.manual_seed(42)
    expected = torch.rand(3)
    torch.manual_seed(42)
    train_network(x, y, None, None, 3, ModelConfig((4,)), TrainingConfig(epochs=1, device="cpu"))
    # the weights are drawn from a forked generator; training itself may consume the global
    # generator only through dropout, which is off here
    assert torch.equal(torch.rand(3), expected)


def test_history_records_and_progress():
    x, y = _blobs(200)
    xv, yv = _blobs(80, seed=1)
    progress: list[float] = []
    epochs: list[dict] = []
    logs: list[str] = []
    hooks = Hooks(progress=progress.append, epoch=epochs.append, log=logs.append)
    net = train_network(
        x, y, xv, yv, 3, ModelConfig((8,)), TrainingConfig(epochs=6, patience=0, device="cpu"),
        hooks,
    )  # fmt: skip
    assert len(net.history) == 6
    assert [r["epoch"] for r in net.history] == [1, 2, 3, 4, 5, 6]
    distilled = ("distill_loss", "distill_val_loss", "distill_val_accuracy")
    for rec in net.history:
        assert {"train_loss", "val_loss", "val_accuracy", *distilled} <= rec.keys()
        assert np.isfinite(rec["train_loss"]) and rec["train_loss"] > 0
        assert np.isfinite(rec["distill_loss"]) and rec["distill_loss"] > 0
        assert 0.0 <= rec["val_accuracy"] <= 1.0
    # live: the ensemble's 6 epochs, then the distilled network's 6 under its own names
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4, 5, 6] * 2
    assert all("train_loss" in r and "distill_loss" not in r for r in epochs[:6])
    assert all("distill_loss" in r and "train_loss" not in r for r in epochs[6:])
    assert [{**b, **a} for a, b in zip(epochs[:6], epochs[6:])] == net.history
    assert progress[-1] == 100.0
    assert all(0.0 <= p <= 100.0 for p in progress)
    assert progress == sorted(progress)
    assert any("cpu" in m.lower() for m in logs)
    assert net.history[-1]["val_accuracy"] > 0.9  # separable blobs: it learns
    assert net.device.lower().startswith("cpu")
    assert not net.stopped_early


def test_history_without_validation_watches_training_loss():
    x, y = _blobs(200)
    cfg = TrainingConfig(epochs=5, patience=10, lr_schedule="constant", learning_rate=2.0,
                         device="cpu")  # fmt: skip
    net = train_network(x, y, None, None, 3, ModelConfig((8,)), cfg)
    assert all("val_loss" not in r for r in net.history)
    losses = [r["train_loss"] for r in net.history]
    assert net.best_epoch == int(np.argmin(losses)) + 1
    assert net.best_epoch < 5  # a learning rate this high jumps: the best is not the last


def test_without_patience_the_last_epoch_is_kept():
    x, y = _blobs(200)
    xv, yv = _blobs(80, seed=1)
    cfg = TrainingConfig(epochs=4, patience=0, device="cpu")
    seen: list[dict] = []
    net = train_network(x, y, xv, yv, 3, ModelConfig((8,)), cfg, Hooks(epoch=seen.append))
    assert net.best_epoch == 4 and not net.stopped_early
    # the kept weights are the last epoch's of the network distilled from the ensemble (the
    # saved model): they give its validation loss
    assert ensemble_for(ModelConfig(), len(y)).distils
    mlp = MLP(4, (8,), 3, members=1)
    load_state(mlp, net.state)
    mlp.eval()
    with torch.no_grad():
        probs = mlp(torch.from_numpy(xv))
    assert not cfg.class_weights  # the default: the loss is a plain mean
    loss = torch.nn.functional.nll_loss(torch.log(probs), torch.from_numpy(yv))
    assert float(loss) == pytest.approx(seen[-1]["distill_val_loss"], rel=1e-5)
    assert float(loss) != pytest.approx(seen[-2]["distill_val_loss"], rel=1e-5)


def test_cosine_schedule_reaches_zero():
    from landcover_mlp.core.training import learning_rate_at

    cfg = TrainingConfig(learning_rate=0.2, lr_schedule="cosine")
    assert learning_rate_at(cfg, 0, 100) == pytest.approx(0.2)
    assert learning_rate_at(cfg, 50, 100) == pytest.approx(0.1)
    assert learning_rate_at(cfg, 100, 100) == pytest.approx(0.0, abs=1e-12)
    assert learning_rate_at(replace(cfg, lr_schedule="constant"), 90, 100) == 0.2
    # the record of the last epoch carries the rate reached
    x, y = _blobs(64)
    net = train_network(x, y, None, None, 3, ModelConfig((4,)),
                        TrainingConfig(epochs=3, batch_size=16, learning_rate=0.2, device="cpu"))  # fmt: skip
    assert [r["lr"] for r in net.history] == pytest.approx([0.15, 0.05, 0.0], abs=1e-9)


def test_ensemble_members_are_independent_networks():
    """Each member learns from its own loss only: training K members at once equals
    training each alone from the same first weights and the same batches."""
    from landcover_mlp.core import training as tr

    x, y = _blobs(96)
    cfg = TrainingConfig(epochs=2, batch_size=32, class_weights=True, device="cpu", seed=7)
    three = train_network(x, y, None, None, 3, ModelConfig((8,), ensemble=3, distill=False), cfg)
    # member 1 alone: the same first weights and the same order of samples
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        full = MLP(4, (8,), 3, members=3)
    generator = torch.Generator().manual_seed(7)
    orders = [torch.stack([torch.randperm(96, generator=generator) for _ in range(3)])
              for _ in range(2)]  # fmt: skip
    one = MLP(4, (8,), 3, members=1)
    one.load_state_dict({k: (v[1:2] if k.startswith("layers.") else v)
                         for k, v in full.state_dict().items()})  # fmt: skip
    one.mean.copy_(torch.from_numpy(x.mean(0)))
    one.std.copy_(torch.from_numpy(x.std(0)))
    opt = torch.optim.SGD(one.parameters(), lr=cfg.learning_rate, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)  # fmt: skip
    weight = torch.from_numpy(class_weights(y, 3))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    step, total = 0, 2 * 3
    for order in orders:
        for start in range(0, 96, 32):
            for g in opt.param_groups:
                g["lr"] = tr.learning_rate_at(cfg, step, total)
            idx = order[1:2, start : start + 32]
            opt.zero_grad()
            tr._member_losses(one.member_logits(xt[idx]), yt[idx], weight).sum().backward()
            opt.step()
            step += 1
    for k, v in one.state_dict().items():
        expected = v.detach().numpy()
        got = three.state[k][1:2] if k.startswith("layers.") else three.state[k]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=k)


def test_ensemble_averages_member_probabilities():
    x, y = _blobs(120)
    net = train_network(x, y, None, None, 3, ModelConfig((8,), ensemble=4, distill=False),
                        TrainingConfig(epochs=2, device="cpu"))  # fmt: skip
    assert net.state["layers.0.weight"].shape == (4, 8, 4)
    mlp = MLP(4, (8,), 3, members=4)
    load_state(mlp, net.state)
    mlp.eval()
    with torch.no_grad():
        xt = torch.from_numpy(x)
        members = torch.softmax(mlp.member_logits(xt), 2)
        assert not torch.allclose(members[0], members[1])  # the members differ
        np.testing.assert_allclose(mlp(xt).numpy(), members.mean(0).numpy(), rtol=1e-6)


def test_early_stopping_restores_best_epoch():
    # few noisy training pixels and a big network: the validation loss turns up
    x, y = _blobs(40, n_features=6, n_classes=2, spread=3.0, seed=3)
    xv, yv = _blobs(600, n_features=6, n_classes=2, spread=3.0, seed=4)
    patience = 6
    cfg = TrainingConfig(
        learning_rate=0.1,
        momentum=0.9,
        epochs=300,
        batch_size=8,
        patience=patience,
        class_weights=False,
        weight_decay=0.0,
        seed=0,
        device="cpu",
    )
    net = train_network(x, y, xv, yv, 2, ModelConfig((128, 128), distill=False), cfg)
    val_losses = [r["val_loss"] for r in net.history]
    assert net.stopped_early
    assert len(net.history) < 300
    assert net.best_epoch == int(np.argmin(val_losses)) + 1
    assert len(net.history) == net.best_epoch + patience
    assert val_losses[-1] > val_losses[net.best_epoch - 1]

    # the returned weights are the best epoch's: they reproduce that epoch's validation loss
    mlp = MLP(6, (128, 128), 2, members=ensemble_for(ModelConfig(), len(y)).ensemble)
    load_state(mlp, net.state)
    mlp.eval()
    with torch.no_grad():
        loss = torch.nn.functional.nll_loss(torch.log(mlp(torch.from_numpy(xv))),
                                            torch.from_numpy(yv))  # fmt: skip
    assert float(loss) == pytest.approx(val_losses[net.best_epoch - 1], rel=1e-4)
    assert float(loss) != pytest.approx(val_losses[-1], rel=1e-3)


def test_distilled_network_takes_the_ensembles_decisions():
    """The saved network is one network that learnt the ensemble's probabilities: it agrees
    with the ensemble (trained the same way, not distilled) far beyond the training pixels."""
    from landcover_mlp.core.network import state_probabilities

    x, y = _blobs(150, spread=2.5, seed=2)
    cfg = TrainingConfig(epochs=30, device="cpu", seed=4)
    ensemble_cfg = ModelConfig((8,), ensemble=4, distill=False)
    ensemble = train_network(x, y, None, None, 3, ensemble_cfg, cfg)
    single = train_network(x, y, None, None, 3, replace(ensemble_cfg, distill=True), cfg)
    assert single.state["layers.0.weight"].shape == (1, 8, 4)
    np.testing.assert_array_equal(single.state["mean"], ensemble.state["mean"])
    # the ensemble part of the run is the same ensemble
    assert [r["train_loss"] for r in single.history] == [r["train_loss"] for r in ensemble.history]
    grid, _ = _blobs(4000, spread=2.5, seed=9)  # new pixels of the same classes
    teacher = state_probabilities(ensemble.state, ensemble_cfg, grid, "cpu").argmax(1)
    student = state_probabilities(single.state, ensemble_cfg, grid, "cpu").argmax(1)
    # without it, one network of the ensemble alone agrees less
    member = {k: (v[:1] if k.startswith("layers.") else v) for k, v in ensemble.state.items()}
    alone = state_probabilities(member, ensemble_cfg, grid, "cpu").argmax(1)
    assert np.mean(student == teacher) > 0.98
    assert np.mean(student == teacher) > np.mean(alone == teacher)


def test_distillation_inputs_are_pixels_and_their_mixtures():
    from landcover_mlp.core.training import distillation_inputs

    x = np.random.default_rng(1).normal(size=(50, 3)).astype(np.float32)
    out = distillation_inputs(x, seed=3)
    assert out.shape == (100, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:50], x)
    np.testing.assert_array_equal(out, distillation_inputs(x, seed=3))
    assert not np.array_equal(out, distillation_inputs(x, seed=4))
    mixed = out[50:]
    # each mixture lies on a segment between two pixels: some equal none of the pixels
    assert (mixed >= x.min(0)).all() and (mixed <= x.max(0)).all()
    assert not any((np.abs(x - m).max(1) < 1e-6).any() for m in mixed[:10])


def test_soft_targets_loss_is_cross_entropy_with_probabilities():
    from landcover_mlp.core.training import _member_losses

    logits = torch.randn(2, 5, 3)
    target = torch.tensor([[0, 1, 2, 1, 0], [2, 2, 1, 0, 1]])
    one_hot = torch.nn.functional.one_hot(target, 3).float()
    torch.testing.assert_close(_member_losses(logits, one_hot, None),
                               _member_losses(logits, target, None))  # fmt: skip
    soft = torch.softmax(torch.randn(2, 5, 3), 2)
    expected = -(soft * torch.log_softmax(logits, 2)).sum(2).mean(1)
    torch.testing.assert_close(_member_losses(logits, soft, None), expected)


@pytest.mark.parametrize(("momentum", "weight_decay"), [(0.9, 1e-3), (0.0, 0.0), (0.5, 0.0)])
def test_flat_sgd_is_torch_sgd(momentum, weight_decay):
    """Training's optimiser gives torch.optim.SGD's weights to the last bit, step after step,
    with a learning rate that changes every step."""
    from landcover_mlp.core.training import FlatSGD, _member_losses

    x, y = (torch.from_numpy(a) for a in _blobs(64))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        ours = MLP(4, (8, 5), 3, members=2)
    theirs = MLP(4, (8, 5), 3, members=2)
    theirs.load_state_dict(ours.state_dict())
    first = ours.layers[0].weight.detach().clone()
    flat = FlatSGD(ours, momentum, weight_decay)
    sgd = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=momentum,
                          weight_decay=weight_decay)  # fmt: skip
    idx = torch.arange(64).view(2, 32)
    for step in range(6):
        lr = 0.1 / (1 + step)
        flat.zero_grad()
        _member_losses(ours.member_logits(x[idx]), y[idx], None).sum().backward()
        flat.step(lr)
        sgd.zero_grad()
        for group in sgd.param_groups:
            group["lr"] = lr
        _member_losses(theirs.member_logits(x[idx]), y[idx], None).sum().backward()
        sgd.step()
        for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
            assert torch.equal(a, b), (step, name)
    assert not torch.equal(ours.layers[0].weight, first)  # it did train


@pytest.mark.parametrize("flip_after", [1, 37])
def test_cancel_within_one_batch(monkeypatch, flip_after):
    x, y = _blobs(1000)
    calls = {"n": 0, "flipped": False}

    def cancelled() -> bool:
        calls["n"] += 1
        if calls["n"] > flip_after:
            calls["flipped"] = True
        return calls["flipped"]

    from landcover_mlp.core import training as tr

    steps = {"before": 0, "after": 0}
    real_step = tr.FlatSGD.step

    def counting_step(self, *args, **kwargs):
        steps["after" if calls["flipped"] else "before"] += 1
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(tr.FlatSGD, "step", counting_step)
    cfg = TrainingConfig(epochs=50, batch_size=10, patience=0, device="cpu")
    with pytest.raises(CancelledError):
        train_network(x, y, None, None, 3, ModelConfig((8,)), cfg, Hooks(cancelled=cancelled))
    assert calls["flipped"]
    assert steps["after"] <= 1
    # polled before every batch: each "go on" answer allowed exactly one batch
    assert steps["before"] == flip_after


def test_cancel_from_epoch_hook():
    x, y = _blobs(200)
    state = {"stop": False}
    seen: list[int] = []

    def on_epoch(rec):
        seen.append(rec["epoch"])
        state["stop"] = rec["epoch"] == 2

    hooks = Hooks(cancelled=lambda: state["stop"], epoch=on_epoch)
    with pytest.raises(CancelledError):
        train_network(x, y, None, None, 3, ModelConfig((8,)), TrainingConfig(epochs=20), hooks)
    assert seen == [1, 2]


def test_forced_cuda_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    x, y = _blobs(50)
    with pytest.raises(LandCoverError) as info:
        train_network(
            x, y, None, None, 3, ModelConfig((4,)), TrainingConfig(epochs=1, device="cuda")
        )
    msg = str(info.value)
    assert "cuda" in msg and "cpu" in msg
    with pytest.raises(LandCoverError, match="cuda"):
        select_device("cuda")
    device, why = select_device("auto")
    assert device.type in ("cpu", "mps")


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without CUDA")
def test_forced_cuda_on_this_machine():
    with pytest.raises(LandCoverError, match="not available"):
        select_device("cuda")


def test_diverging_learning_rate():
    x, y = _blobs(300, spread=2.0)
    cfg = TrainingConfig(learning_rate=10, momentum=0.99, epochs=30, device="cpu")
    with pytest.raises(LandCoverError, match="learning rate"):
        train_network(x, y, None, None, 3, ModelConfig((32,)), cfg)


def test_no_training_samples():
    with pytest.raises(LandCoverError, match="No training samples"):
        train_network(
            np.zeros((0, 3), np.float32),
            np.zeros(0, np.int64),
            None,
            None,
            2,
            ModelConfig((4,)),
            TrainingConfig(epochs=1),
        )


def test_class_weights_match_sklearn():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0] * 50 + [1] * 5 + [2] * 20)
    ours = class_weights(y, 3)
    theirs = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    # a class absent from training gets weight 0
    assert class_weights(np.array([0, 0, 2]), 3)[1] == 0.0


def test_constant_band_does_not_break_standardisation():
    """The saved buffers are the training pixels' mean and spread (the buffers start at 0
    and 1: a value that stayed there would pass for a constant band); a constant band's
    spread becomes 1, so its standardised value is 0, not a division by zero."""
    x, y = _blobs(200)
    x[:, 1] = 1234.0  # a constant band
    net = train_network(
        x, y, None, None, 3, ModelConfig((8,)), TrainingConfig(epochs=3, device="cpu")
    )
    assert np.isfinite(net.history[-1]["train_loss"])
    expected_std = x.std(0, dtype=np.float64)
    assert expected_std[1] == 0.0 and (expected_std[[0, 2, 3]] > 100).all()
    expected_std[1] = 1.0
    np.testing.assert_allclose(net.state["mean"], x.mean(0, dtype=np.float64), rtol=1e-6)
    np.testing.assert_allclose(net.state["std"], expected_std, rtol=1e-6)
    assert net.state["mean"][1] == 1234.0 and net.state["std"][1] == 1.0
    assert all(np.isfinite(v).all() for v in net.state.values())


def test_weight_decay_reaches_the_optimiser():
    """One full-batch step of plain gradient descent (no momentum, constant rate): weight
    decay wd takes lr * wd * w0 more off every weight and bias than the same step without
    it (w1 = w0 - lr * (grad + wd * w0)), w0 being the seeded first weights."""
    x, y = _blobs(64)
    lr, wd = 0.1, 0.05
    cfg = TrainingConfig(epochs=1, batch_size=64, patience=0, learning_rate=lr, momentum=0.0,
                         lr_schedule="constant", weight_decay=0.0, seed=4, device="cpu")  # fmt: skip
    model = ModelConfig((8,), dropout=0.0, ensemble=1)
    plain = train_network(x, y, None, None, 3, model, cfg)
    decayed = train_network(x, y, None, None, 3, model, replace(cfg, weight_decay=wd))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4)
        first = MLP(4, (8,), 3, members=1)
    layers = [k for k in plain.state if k.startswith("layers.")]
    assert len(layers) == 4  # two weight matrices, two bias vectors
    for k in layers:
        w0 = first.state_dict()[k].numpy()
        np.testing.assert_allclose(plain.state[k] - decayed.state[k], lr * wd * w0,
                                   rtol=1e-4, atol=1e-7, err_msg=k)  # fmt: skip


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"learning_rate": 0}, "Learning rate"),
        ({"momentum": 1.0}, "Momentum"),
        ({"epochs": 0}, "Epochs"),
        ({"batch_size": 0}, "Batch size"),
        ({"device": "tpu"}, "Device"),
    ],
)
def test_training_config_validated(kwargs, word):
    with pytest.raises(LandCoverError, match=word):
        TrainingConfig(**kwargs)


def test_learning_rate_upper_bound_message():
    # 20 is refused; the message must say what is allowed, not "must be > 0; got 20"
    with pytest.raises(LandCoverError) as info:
        TrainingConfig(learning_rate=20)
    assert "10" in str(info.value)


def test_every_kind_of_epoch_record_is_described():
    from landcover_mlp.core.callbacks import describe_epoch

    assert describe_epoch(
        {"epoch": 3, "train_loss": 0.5, "val_loss": 0.6, "val_accuracy": 0.8}
    ) == ("Epoch 3: training loss 0.5000, validation loss 0.6000, accuracy 80.0%")
    assert describe_epoch(
        {"epoch": 2, "distill_loss": 0.25, "distill_val_loss": 0.5, "distill_val_accuracy": 0.9}
    ) == (
        "Epoch 2 (distilled network): distillation loss 0.2500, validation loss 0.5000, "
        "accuracy 90.0%"
    )
    assert describe_epoch({"epoch": 2, "distill_loss": 0.25}) == (
        "Epoch 2 (distilled network): distillation loss 0.2500"
    )
    assert describe_epoch({"epoch": 4, "final_train_loss": 0.125}) == (
        "Epoch 4 (all polygons): training loss 0.1250"
    )
    assert describe_epoch({"epoch": 4, "final_distill_loss": 0.125}) == (
        "Epoch 4 (all polygons, distilled network): distillation loss 0.1250"
    )


def test_distilled_network_follows_the_ensembles_early_stopping():
    """With early stopping, the distilled network trains for the ensemble's best epochs, with
    no stopping of its own (so the assessed and the saved one are trained alike)."""
    x, y = _blobs(40, n_features=6, n_classes=2, spread=3.0, seed=3)
    xv, yv = _blobs(600, n_features=6, n_classes=2, spread=3.0, seed=4)
    cfg = TrainingConfig(learning_rate=0.1, epochs=80, batch_size=8, patience=40,
                         weight_decay=0.0, seed=0, device="cpu")  # fmt: skip
    net = train_network(x, y, xv, yv, 2, ModelConfig((128, 128), ensemble=3), cfg)
    distilled = [r for r in net.history if "distill_loss" in r]
    assert net.stopped_early
    assert [r["epoch"] for r in distilled] == list(range(1, net.best_epoch + 1))
    assert net.best_epoch < len(net.history)


def test_automatic_ensemble_is_five_networks_on_small_data_and_one_on_large():
    from landcover_mlp.core.training import (
        AUTO_ENSEMBLE,
        LARGE_DATA_PIXELS,
        describe_schedule,
        schedule_for,
    )

    auto = ModelConfig()
    assert auto.ensemble == 0  # the default
    small = ensemble_for(auto, LARGE_DATA_PIXELS)
    assert (small.ensemble, small.distils, AUTO_ENSEMBLE) == (5, True, 5)
    large = ensemble_for(auto, LARGE_DATA_PIXELS + 1)
    assert (large.ensemble, large.distils, large.saved_networks) == (1, False, 1)
    assert (large.hidden_layers, large.distill) == (auto.hidden_layers, auto.distill)
    set_three = ModelConfig(ensemble=3)
    assert ensemble_for(set_three, 10**6) is set_three  # a size the user set is kept
    cfg = TrainingConfig()
    n = 2 * LARGE_DATA_PIXELS
    assert "one network" in describe_schedule(cfg, schedule_for(cfg, n), n, auto)
    assert "one network" not in describe_schedule(cfg, schedule_for(cfg, n), n, set_three)
    assert describe_schedule(cfg, cfg, 500, auto) is None


def test_schedule_grows_with_the_data():
    from landcover_mlp.core.training import LARGE_DATA_PIXELS, schedule_for

    cfg = TrainingConfig(batch_size=32, epochs=100, learning_rate=0.02)
    assert schedule_for(cfg, LARGE_DATA_PIXELS) is cfg  # every real scene: as set
    big = schedule_for(cfg, 100_000)  # f = 8.3
    assert (big.batch_size, big.epochs) == (256, 12)
    assert big.learning_rate == pytest.approx(0.02 * 8**0.5)
    assert big.weight_decay == pytest.approx(cfg.weight_decay * LARGE_DATA_PIXELS / 100_000)
    assert cfg.weight_decay > 0
    huge = schedule_for(cfg, 1_000_000)  # the batch stops growing, epochs reach their floor
    assert (huge.batch_size, huge.epochs) == (256, 3)
    assert schedule_for(replace(cfg, epochs=2), 1_000_000).epochs == 2  # never more than set
    # a batch set near the data or the maximum never grows past them (nor the rate with it)
    near = schedule_for(replace(cfg, batch_size=200_000), 800_000)
    assert near.batch_size == 800_000 and near.learning_rate == pytest.approx(0.02 * 2)
    top = schedule_for(replace(cfg, batch_size=1_000_000), 5_000_000)
    assert top.batch_size == 1_000_000 and top.learning_rate == cfg.learning_rate
    mid = schedule_for(cfg, 2 * LARGE_DATA_PIXELS)
    assert (mid.batch_size, mid.epochs) == (64, 50)
    assert (mid.patience, mid.seed, mid.momentum) == (cfg.patience, cfg.seed, cfg.momentum)
