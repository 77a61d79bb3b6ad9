"""Accuracy: confusion matrix (rows = reference), overall accuracy, kappa, per-class scores."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn import metrics

from landcover_mlp.core.accuracy import assess, confusion_matrix, report_from_matrix
from landcover_mlp.core.classes import ClassInfo
from landcover_mlp.core.reports import write_report_json

CLASSES = (
    ClassInfo(1, "forest", "#00aa00"),
    ClassInfo(2, "water", "#0000ff"),
    ClassInfo(3, "urban", "#ff0000"),
)


def test_confusion_matrix_rows_are_reference():
    # 5 forest reference pixels: 3 right, 2 called water; 2 water: both right; 1 urban: water
    reference = np.array([0, 0, 0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    m = confusion_matrix(reference, predicted, 3)
    expected = np.array([[3, 2, 0], [0, 2, 0], [0, 1, 0]])
    np.testing.assert_array_equal(m, expected)
    assert m.sum(axis=1).tolist() == [5, 2, 1]  # row sums = reference pixels per class
    np.testing.assert_array_equal(
        m, metrics.confusion_matrix(reference, predicted, labels=[0, 1, 2])
    )

    rep = assess(reference, predicted, CLASSES)
    assert rep.confusion_matrix == expected.tolist()
    assert rep.overall_accuracy == pytest.approx(5 / 8)
    assert rep.n_pixels == 8
    forest, water, urban = rep.per_class
    assert forest.recall == pytest.approx(3 / 5)  # producer's accuracy: along the row
    assert forest.precision == pytest.approx(1.0)  # user's accuracy: down the column
    assert water.recall == pytest.approx(1.0)
    assert water.precision == pytest.approx(2 / 5)
    assert urban.support == 1 and urban.recall == 0.0
    assert math.isnan(urban.precision)  # never predicted: no user's accuracy
    assert urban.f1 == 0.0  # but never found either (issue 13 item 8: shown as "-")
    assert [s.support for s in rep.per_class] == [5, 2, 1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    n, k = 500, 4
    reference = rng.integers(0, k, n)
    predicted = np.where(rng.random(n) < 0.7, reference, rng.integers(0, k, n))
    predicted[rng.random(n) < 0.1] = 2  # a bias towards one class: asymmetric errors
    classes = tuple(ClassInfo(i + 1, f"c{i}", "#000000") for i in range(k))
    rep = assess(reference, predicted, classes)

    assert rep.overall_accuracy == pytest.approx(metrics.accuracy_score(reference, predicted))
    assert rep.kappa == pytest.approx(metrics.cohen_kappa_score(reference, predicted))
    p, r, f, s = metrics.precision_recall_fscore_support(
        reference, predicted, labels=list(range(k)), zero_division=0
    )
    np.testing.assert_allclose([c.precision for c in rep.per_class], p)
    np.testing.assert_allclose([c.recall for c in rep.per_class], r)
    np.testing.assert_allclose([c.f1 for c in rep.per_class], f)
    assert [c.support for c in rep.per_class] == s.tolist()
    np.testing.assert_array_equal(
        rep.confusion_matrix, metrics.confusion_matrix(reference, predicted, labels=range(k))
    )


def test_perfect_and_single_class():
    y = np.array([0, 1, 2, 2])
    rep = assess(y, y, CLASSES)
    assert rep.overall_accuracy == 1.0 and rep.kappa == pytest.approx(1.0)
    one = report_from_matrix(np.array([[4, 0], [0, 0]]), CLASSES[:2])
    assert one.overall_accuracy == 1.0
    assert one.kappa == 1.0
    assert any("water" in w for w in one.warnings)  # no reference pixel for water


def test_class_without_reference_pixels():
    reference = np.array([0, 0, 1, 1])
    predicted = np.array([0, 2, 1, 1])
    rep = assess(reference, predicted, CLASSES)
    urban = rep.per_class[2]
    assert urban.support == 0
    assert math.isnan(urban.recall) and math.isnan(urban.f1)
    assert urban.precision == 0.0
    assert any("urban" in w and "No reference pixel" in w for w in rep.warnings)
    d = rep.to_dict()
    assert d["recall"]["urban"] is None
    json.dumps(d, allow_nan=False)  # NaN became null


def test_report_json(tmp_path):
    reference = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    predicted = np.array([0, 1, 0, 1, 1, 2, 0, 2])
    rep = assess(reference, predicted, CLASSES, method="grouped split", warnings=["careful"])
    path = write_report_json(rep, tmp_path / "report.json", {"details": {"epochs": 3}})
    data = json.loads(path.read_text())
    assert data["overall_accuracy"] == pytest.approx(6 / 8)
    assert data["kappa"] == pytest.approx(metrics.cohen_kappa_score(reference, predicted))
    assert data["confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 2]]
    orientation = "rows = reference (truth), columns = predicted"
    assert data["confusion_matrix_orientation"] == orientation
    assert data["assessed_model"] == rep.assessed_model
    # per class: the statistics, keyed by the class name (not repeated inside)
    assert sorted(data["per_class"]) == ["forest", "urban", "water"]
    assert "name" not in data["per_class"]["forest"]
    assert data["per_class"]["forest"]["support"] == 3
    assert [c["name"] for c in data["classes"]] == ["forest", "water", "urban"]
    assert [c["value"] for c in data["classes"]] == [1, 2, 3]
    p, r, f, _ = metrics.precision_recall_fscore_support(reference, predicted, labels=[0, 1, 2])
    for i, name in enumerate(["forest", "water", "urban"]):
        assert data["precision"][name] == pytest.approx(p[i])
        assert data["recall"][name] == pytest.approx(r[i])
        assert data["f1"][name] == pytest.approx(f[i])
        per = data["per_class"][name]
        assert per["precision"] == pytest.approx(p[i])
        assert per["recall"] == pytest.approx(r[i])
        assert per["f1"] == pytest.approx(f[i])
        assert per["support"] == int((reference == i).sum())
    assert data["method"] == "grouped split"
    assert data["warnings"] == ["careful"]
    assert data["details"] == {"epochs": 3}
    assert data["n_pixels"] == 8


def test_a_class_never_classified_right_is_named():
    """A class with reference pixels and none of them right (recall 0) is a warning, however
    high the overall accuracy: the map misses it."""
    from landcover_mlp.core.accuracy import report_from_matrix
    from landcover_mlp.core.classes import ClassInfo

    classes = [ClassInfo(1, "forest", "#00ff00"), ClassInfo(2, "bare", "#aa7700"),
               ClassInfo(3, "water", "#0000ff")]  # fmt: skip
    missed = report_from_matrix([[900, 0, 0], [7, 0, 0], [0, 0, 100]], classes)
    assert missed.overall_accuracy > 0.99
    said = [w for w in missed.warnings if "recall 0" in w]
    assert len(said) == 1 and "bare (7 px)" in said[0] and "forest" not in said[0]
    found = report_from_matrix([[900, 0, 0], [6, 1, 0], [0, 0, 100]], classes)
    assert not any("recall 0" in w for w in found.warnings)
    absent = report_from_matrix([[900, 0, 0], [0, 0, 0], [0, 0, 100]], classes)
    assert not any("recall 0" in w for w in absent.warnings)  # no reference: another warning
