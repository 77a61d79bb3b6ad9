"""Train/validation split by polygon."""

from __future__ import annotations

import numpy as np
import pytest

from landcover_mlp.core import LandCoverError
from landcover_mlp.core.classes import ClassInfo
from landcover_mlp.core.config import SamplingConfig, SplitConfig
from landcover_mlp.core.sampling import Samples, collect_samples
from landcover_mlp.core.splitting import missing_validation_classes, split_by_polygon


def _samples(polygons_per_class: list[int], pixels: int = 20, seed: int = 0) -> Samples:
    """Samples of len(polygons_per_class) classes; polygon ids are unique across classes."""
    rng = np.random.default_rng(seed)
    ys, pids = [], []
    pid = 100
    for c, k in enumerate(polygons_per_class):
        for _ in range(k):
            n = int(rng.integers(pixels // 2, pixels * 2))
            ys.append(np.full(n, c))
            pids.append(np.full(n, pid))
            pid += 1
    y = np.concatenate(ys).astype(np.int64)
    polygon_id = np.concatenate(pids).astype(np.int64)
    classes = tuple(
        ClassInfo(i + 1, f"class{i + 1}", "#000000") for i in range(len(polygons_per_class))
    )
    return Samples(
        x=rng.normal(size=(len(y), 3)).astype(np.float32),
        y=y,
        polygon_id=polygon_id,
        pixel_index=np.arange(len(y), dtype=np.int64),
        classes=classes,
        bands=(1, 2, 3),
        band_names=("a", "b", "c"),
    )


def _assert_grouped(samples: Samples, train: np.ndarray, validation: np.ndarray) -> None:
    assert not (train & validation).any()
    assert (train | validation).all()
    both = np.intersect1d(samples.polygon_id[train], samples.polygon_id[validation])
    assert both.size == 0, f"polygons {both} on both sides"


@pytest.mark.parametrize("share", [0.1, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_polygon_on_both_sides(share, seed):
    s = _samples([2, 3, 5, 11], seed=seed)
    split = split_by_polygon(s, SplitConfig(share, seed=seed))
    _assert_grouped(s, split.train, split.validation)
    left_with_one = []
    for c, k in enumerate([2, 3, 5, 11]):
        held = np.unique(s.polygon_id[split.validation & (s.y == c)]).size
        kept = np.unique(s.polygon_id[split.train & (s.y == c)]).size
        # every class with >= 2 polygons has validation and keeps training polygons
        assert held >= 1 and kept >= 1
        assert held == min(max(round(share * k), 1), k - 1)
        if kept == 1:
            left_with_one.append(f"class{c + 1}")
    # a warning exactly for each class the assessment run learns from a single polygon
    assert len(split.warnings) == len(left_with_one) >= 1  # class1 (2 polygons) at least
    for name, warning in zip(left_with_one, split.warnings):
        assert f"'{name}' has" in warning and "learnt it from one" in warning
    assert missing_validation_classes(s, split.validation) == []


def test_landsat_split_is_grouped(landsat7):
    s = collect_samples(str(landsat7.raster), str(landsat7.polygons), SamplingConfig("class_name"))
    split = split_by_polygon(s, SplitConfig(0.3, seed=0))
    _assert_grouped(s, split.train, split.validation)
    assert missing_validation_classes(s, split.validation) == []
    assert "no polygon on both sides" in split.method


def test_single_polygon_class_warns():
    s = _samples([4, 1, 3], pixels=30)
    split = split_by_polygon(s, SplitConfig(0.3, seed=0))
    assert len(split.warnings) == 1
    assert "class2" in split.warnings[0]
    assert "single polygon" in split.warnings[0]
    # that class falls back to a pixel split, the others stay grouped
    lone = s.y == 1
    assert split.validation[lone].any() and split.train[lone].any()
    others = ~lone
    both = np.intersect1d(
        s.polygon_id[split.train & others], s.polygon_id[split.validation & others]
    )
    assert both.size == 0


def test_single_polygon_with_too_few_pixels_warns():
    s = _samples([3, 3], pixels=20)
    tiny = Samples(
        x=np.concatenate([s.x, np.zeros((1, 3), np.float32)]),
        y=np.concatenate([s.y, [2]]),
        polygon_id=np.concatenate([s.polygon_id, [999]]),
        pixel_index=np.arange(len(s) + 1),
        classes=(*s.classes, ClassInfo(3, "tiny", "#ffffff")),
        bands=s.bands,
        band_names=s.band_names,
    )
    split = split_by_polygon(tiny, SplitConfig(0.3, seed=0))
    assert any("tiny" in w and "training only" in w for w in split.warnings)
    assert split.train[-1] and not split.validation[-1]
    assert missing_validation_classes(tiny, split.validation) == ["tiny"]


def test_share_zero_no_validation():
    s = _samples([3, 3, 3])
    split = split_by_polygon(s, SplitConfig(0.0, seed=0))
    assert split.train.all()
    assert not split.validation.any()
    assert missing_validation_classes(s, split.validation) == ["class1", "class2", "class3"]


def test_seeded_determinism():
    s = _samples([6, 7, 8])
    a = split_by_polygon(s, SplitConfig(0.3, seed=11))
    b = split_by_polygon(s, SplitConfig(0.3, seed=11))
    np.testing.assert_array_equal(a.validation, b.validation)
    np.testing.assert_array_equal(a.train, b.train)
    others = [split_by_polygon(s, SplitConfig(0.3, seed=k)).validation for k in range(12, 17)]
    assert any(not np.array_equal(a.validation, o) for o in others)


def test_share_validated():
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(LandCoverError, match="Validation share"):
            SplitConfig(bad)
