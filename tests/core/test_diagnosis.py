"""Training diagnosis: each rule on a history made to show it, none on a healthy one, and real
runs (a learning rate of 10, a perceptron on XOR) diagnosed as the lecture would."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from landcover_mlp.core import LandCoverError, diagnosis
from landcover_mlp.core.callbacks import Hooks
from landcover_mlp.core.config import (
    ModelConfig,
    SamplingConfig,
    SplitConfig,
    TrainingConfig,
    TrainRequest,
)
from landcover_mlp.core.diagnosis import diagnose, oscillation

K = 3  # classes: the loss of guessing is ln 3 = 1.099


def _history(train: list[float], val: list[float] | None = None) -> list[dict[str, float]]:
    records = [{"epoch": i + 1, "train_loss": t} for i, t in enumerate(train)]
    for rec, v in zip(records, val or []):
        rec["val_loss"] = v
    return records


def _decay(start: float, end: float, n: int) -> list[float]:
    """A smooth fall from ``start`` to ``end`` over ``n`` epochs."""
    return [end + (start - end) * math.exp(-4 * i / (n - 1)) for i in range(n)]


HEALTHY_TRAIN = _decay(1.0, 0.10, 30)
HEALTHY_VAL = [v * 1.15 for v in _decay(0.95, 0.12, 30)]


def _kinds(found: list[dict]) -> list[str]:
    return [f["kind"] for f in found]


def test_a_healthy_history_has_no_finding():
    assert diagnose(_history(HEALTHY_TRAIN, HEALTHY_VAL), 0.02, K) == []
    assert diagnose(_history(HEALTHY_TRAIN), 0.02, K) == []
    assert diagnose([], 0.02, K) == []


@pytest.mark.parametrize(
    ("train", "epoch", "words"),
    [
        ([1.0, 0.8, math.nan], 3, "no longer a number at epoch 3"),
        ([1.0, 50.0, math.inf], 2,
         "no longer a number at epoch 3, after the training loss reached 50 at epoch 2"),
        ([1.2, 5e4, 3e6, 0.9], 2, "reached 5e+04 at epoch 2"),
        ([1.2, 4.0, 0.9, 0.8], 2, "reached 4 at epoch 2, over 3 times"),  # 3 x ln 3 = 3.3
        ([1.0, 1.1, 1.2, 1.3], 1, "rose from 1.000 at epoch 1 to 1.300 at epoch 4"),
    ],
)  # fmt: skip
def test_diverged(train, epoch, words):
    found = diagnose(_history(train), 1.0, K)
    assert found == [{"kind": "diverged", "epoch": epoch, "message": found[0]["message"]}]
    assert words in found[0]["message"]
    assert "Lower the learning rate: try 0.1 (now 1)" in found[0]["message"]


def test_diverged_thresholds_are_the_documented_ones():
    chance = math.log(K)
    below = diagnosis.DIVERGED_CHANCE_FACTOR * chance * 0.99
    above = diagnosis.DIVERGED_CHANCE_FACTOR * chance * 1.01
    assert diagnose(_history([below, 0.5, 0.4, 0.3]), 0.02, K) == []
    assert _kinds(diagnose(_history([above, 0.5, 0.4, 0.3]), 0.02, K)) == ["diverged"]
    rise = 1 + diagnosis.DIVERGED_RISE
    assert diagnose(_history([0.4, 0.3, 0.4 * rise * 0.99]), 0.02, K) == []
    assert _kinds(diagnose(_history([0.4, 0.3, 0.4 * rise * 1.01]), 0.02, K)) == ["diverged"]


def test_a_diverged_run_gets_that_finding_only():
    """The huge losses of a diverging run would also read as oscillation: not reported."""
    train = [2e5, 1e3, 5e5, 2e3, 7e5, 1e3, 6e5, 2e3]
    assert _kinds(diagnose(_history(train, train), 1.0, K)) == ["diverged"]


def test_oscillation_statistics():
    turns, amplitude = oscillation([1.0, 2.0, 1.0, 2.0, 1.0])
    assert (turns, amplitude) == (1.0, 1.0)  # every change reverses; steps of 1, median 1
    turns, amplitude = oscillation([4.0, 3.0, 2.0, 1.0])
    assert turns == 0.0 and amplitude == pytest.approx(1 / 2.5)


def test_oscillating_validation_loss():
    val = HEALTHY_VAL[:20] + [0.2 * (1.3 if i % 2 else 0.75) for i in range(10)]
    found = diagnose(_history(HEALTHY_TRAIN, val), 0.3, K)
    assert _kinds(found) == ["oscillating"]
    assert found[0]["epoch"] == 21  # the first epoch of the last OSCILLATION_WINDOW (10)
    assert "validation loss jumps up and down over epochs 21-30" in found[0]["message"]
    assert "try 0.1, now 0.3" in found[0]["message"]
    # the same jumps, 4 % of the loss: noise of a settled loss, not oscillation
    calm = HEALTHY_VAL[:20] + [0.2 * (1.02 if i % 2 else 0.98) for i in range(10)]
    assert diagnose(_history(HEALTHY_TRAIN, calm), 0.3, K) == []


def test_oscillating_training_loss_without_validation():
    train = HEALTHY_TRAIN[:20] + [0.3 * (1.3 if i % 2 else 0.75) for i in range(10)]
    found = diagnose(_history(train), 0.3, K)
    assert _kinds(found) == ["oscillating"]
    assert "training loss jumps" in found[0]["message"]


def _overfitting_curves() -> tuple[list[float], list[float]]:
    train = _decay(1.0, 0.05, 30)
    val = _decay(0.9, 0.30, 12) + [0.30 + 0.03 * i for i in range(1, 19)]  # lowest at 12
    return train, val


def test_overfitting_names_the_epoch_and_the_model_kept():
    train, val = _overfitting_curves()
    found = diagnose(_history(train, val), 0.02, K, kept_epoch=30)
    assert _kinds(found) == ["overfitting"]
    assert found[0]["epoch"] == 12
    message = found[0]["message"]
    assert "from epoch 12 on the validation loss rose" in message
    assert "fewer neurons, more weight decay or dropout" in message
    assert "the model of the last epoch (30) was kept" in message
    stopped = diagnose(_history(train[:17], val[:17]), 0.02, K, kept_epoch=12,
                       early_stopping=True)  # fmt: skip
    assert "early stopping kept the model of epoch 12" in stopped[0]["message"]


def test_validation_rising_with_the_training_loss_is_not_overfitting():
    """Overfitting needs the training loss to keep falling while the validation loss rises."""
    train, val = _overfitting_curves()
    rising = train[:12] + [
        train[11] * (1 + 0.01 * i) for i in range(1, 19)
    ]  # < 25 %: no divergence
    assert diagnose(_history(rising, val), 0.02, K) == []


def test_underfitting():
    flat = [0.75, 0.70] + [0.69] * 18
    found = diagnose(_history(flat, [0.70] * 20), 0.02, 2)
    assert _kinds(found) == ["underfitting"]
    assert found[0]["epoch"] == 2  # within 5 % of the last loss from epoch 2 on
    message = found[0]["message"]
    assert "Try more neurons or layers, more epochs, or a higher learning rate (try 0.06" in message
    linear = diagnose(_history(flat, [0.70] * 20), 0.02, 2, perceptron=True)
    assert "add a hidden layer" in linear[0]["message"]
    # as high but still falling at the end: not flat, not underfitting (yet)
    falling = _decay(0.69 * 1.6, 0.69, 20)
    assert diagnose(_history(falling), 0.02, 2) == []
    # flat but low: learnt
    assert diagnose(_history([0.8, 0.2] + [0.19] * 18), 0.02, 2) == []


def _blobs(n: int, seed: int, spread: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    centres = np.random.default_rng(1234).normal(0, 3, size=(3, 4))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = centres[y] + rng.normal(0, spread, size=(n, 4))
    return (x * 500 + 3000).astype(np.float32), y.astype(np.int64)


def _xor(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The lecture's XOR: class 1 where exactly one of the two bands is above its middle."""
    x = np.random.default_rng(seed).uniform(-1, 1, (n, 2))
    return x.astype(np.float32), ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)


def test_learning_rate_10_is_diagnosed_diverged():
    from landcover_mlp.core.training import train_network

    x, y = _blobs(300, 0)
    xv, yv = _blobs(100, 1)
    config = TrainingConfig(learning_rate=10, momentum=0.9, epochs=12, device="cpu")
    net = train_network(x, y, xv, yv, 3, ModelConfig((32,), ensemble=1), config)
    found = diagnose(net.history, 10, 3)
    assert _kinds(found) == ["diverged"]
    assert "try 1 (now 10)" in found[0]["message"]
    # with a constant rate the loss stops being a number: the error carries the advice
    with pytest.raises(LandCoverError, match=r"Training diverged: .*try 1 \(now 10\)"):
        train_network(x, y, xv, yv, 3, ModelConfig((32,), ensemble=1),
                      TrainingConfig(learning_rate=10, momentum=0.9, epochs=20,
                                     lr_schedule="constant", device="cpu"))  # fmt: skip


def test_a_perceptron_on_xor_underfits_and_a_hidden_layer_learns_it():
    from landcover_mlp.core.training import train_network

    x, y = _xor(400, 0)
    xv, yv = _xor(200, 1)
    config = TrainingConfig(epochs=20, device="cpu")
    linear = train_network(x, y, xv, yv, 2, ModelConfig((), ensemble=1), config)
    found = diagnose(linear.history, 0.02, 2, perceptron=True)
    assert _kinds(found) == ["underfitting"]
    assert "A perceptron draws only straight boundaries" in found[0]["message"]
    hidden = train_network(x, y, xv, yv, 2, ModelConfig((16,), ensemble=1), config)
    assert diagnose(hidden.history, 0.02, 2) == []


def test_the_training_report_and_the_log_carry_the_diagnosis(scene, tmp_path):
    """train_model logs the diagnosis and returns it; the report JSON holds it under
    ``diagnosis`` and the HTML page shows it."""
    from landcover_mlp.core.outputs import save_training_outputs
    from landcover_mlp.core.workflow import train_model

    request = TrainRequest(
        raster=str(scene.raster),
        polygons=str(scene.polygons),
        sampling=SamplingConfig("class_name"),
        split=SplitConfig(0.34, seed=1),
        model=ModelConfig((8,), ensemble=1),
        training=TrainingConfig(learning_rate=10, momentum=0.9, epochs=6, batch_size=64,
                                device="cpu"),
    )  # fmt: skip
    logs: list[str] = []
    result = train_model(request, Hooks(log=logs.append))
    assert [d["kind"] for d in result.diagnosis] == ["diverged"]
    assert result.diagnosis == tuple(diagnosis.diagnose_model(result.model))
    assert f"Diagnosis (diverged, from epoch {result.diagnosis[0]['epoch']}): " \
           f"{result.diagnosis[0]['message']}" in logs  # fmt: skip
    report = tmp_path / "m_report.html"
    save_training_outputs(result, tmp_path / "m.safetensors", None, report)
    data = json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))
    assert data["diagnosis"] == [dict(d) for d in result.diagnosis]
    page = report.read_text(encoding="utf-8")
    assert "<h2>Training diagnosis</h2>" in page and "try 1 (now 10)" in page


def test_a_rising_validation_loss_with_rising_accuracy_is_not_overfitting():
    """Trial (Indian Pines, 200 bands): the validation loss rose from epoch 1 while the
    validation accuracy went from 34 % to 58 %; "keep the model of epoch 1" was harmful."""
    train, val = _overfitting_curves()
    history = _history(train, val)
    for i, rec in enumerate(history):
        rec["val_accuracy"] = 0.34 + 0.24 * i / (len(history) - 1)  # still rising at the end
    assert "overfitting" not in _kinds(diagnose(history, 0.02, K, kept_epoch=30))
    for rec in history:
        rec["val_accuracy"] = 0.80  # flat: the rising loss does cost accuracy-wise nothing new
    assert _kinds(diagnose(history, 0.02, K, kept_epoch=30)) == ["overfitting"]


def test_overfitting_and_underfitting_never_together_and_lines_name_the_kind_once():
    """Trial: one run was told both "use fewer neurons" and "try more neurons"."""
    from landcover_mlp.core.diagnosis import diagnosis_lines

    train = [1.0 - 0.002 * i for i in range(40)]  # high and nearly flat, yet falling
    val = [0.95] * 12 + [0.95 + 0.02 * i for i in range(28)]  # rising from epoch 13
    found = diagnose(_history(train, val), 0.02, K, kept_epoch=40)
    assert not {"overfitting", "underfitting"} <= set(_kinds(found))
    line = diagnosis_lines(found)[0] if found else ""
    assert "): Overfitting:" not in line and "): Underfitting:" not in line
