"""numpy 2 promotion rules (NEP 50) where raster integers meet floats.

numpy 2 dropped value-based promotion (NEP 50, https://numpy.org/neps/nep-0050-scalar-promotion.html):
``uint8_array + 300`` is an error and ``np.float32(x) * 0.5`` stays float32 where numpy 1
gave float64. QGIS 3.22 ships numpy 1.24, QGIS 3.40 and later numpy 2. numpy 1.24 - 1.26 can
already apply the NEP 50 rules and warn wherever a result's dtype would change
(``np._set_promotion_state("weak_and_warn")``): these tests run the core pipeline that way with
those warnings as errors, so on numpy 1 they fail where numpy 2 would compute something else,
and they check that the map is the same under both rules. On numpy 2 they run under its own
rules (``make test-lts``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from synthetic_scene import CLASS_STRIPES, HEIGHT, POLYGON_BOXES, WIDTH, Scene

from landcover_mlp.core.config import (
    ModelConfig,
    SamplingConfig,
    SplitConfig,
    TrainingConfig,
    TrainRequest,
)
from landcover_mlp.core.prediction import classify_raster
from landcover_mlp.core.raster import Window, open_raster, raster_info, read_window
from landcover_mlp.core.workflow import train_model

NUMPY_1 = hasattr(np, "_set_promotion_state")  # numpy 1.24 - 1.26; numpy 2 removed it

# dtype -> (scale applied to the float scene, nodata value): every band type a raster of
# reflectances or digital numbers comes in, with a nodata value at the edge of its range.
DTYPES = {
    "uint8": (1 / 8, 0),
    "uint16": (1.0, 65535),
    "int16": (1.0, -32768),
    "int32": (1.0, -2147483648),
    "float32": (1.0, -9999.0),
}


@pytest.fixture
def nep50() -> Iterator[None]:
    """numpy 2's promotion rules, with numpy 1's warning of a changed result made an error."""
    if not NUMPY_1:
        yield
        return
    before = np._get_promotion_state()
    np._set_promotion_state("weak_and_warn")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="result dtype changed", category=UserWarning)
            yield
    finally:
        np._set_promotion_state(before)


def _scene(folder: Path, dtype: str, make_raster, make_polygons, rect) -> tuple[Path, Path]:
    """The stripes scene of ``tests/core/conftest.py`` written in ``dtype``, nodata box included."""
    scale, nodata = DTYPES[dtype]
    rng = np.random.default_rng(7)
    data = np.empty((3, HEIGHT, WIDTH), dtype=np.float64)
    for _, _, c0, c1, mean in CLASS_STRIPES.values():
        for b in range(3):
            data[b, :, c0:c1] = (mean[b] + rng.normal(0, 80, size=(HEIGHT, c1 - c0))) * scale
    info = np.iinfo(dtype) if dtype != "float32" else None
    if info is not None:
        # keep the valid pixels off the nodata value and inside the type
        data = np.clip(np.rint(data), info.min + 1, info.max - 1)
    hole = ~Scene.box_mask((2, 2, 10, 8))
    data[:, ~hole] = nodata
    raster = make_raster(folder / f"scene_{dtype}.tif", data.astype(dtype), nodata=nodata)
    features = [
        (
            rect(b[0] + 0.25, b[1] + 0.25, b[2] - 0.25, b[3] - 0.25),
            {"class_id": v, "class_name": CLASS_STRIPES[v][0], "colour": CLASS_STRIPES[v][1]},
        )
        for v, b in POLYGON_BOXES
    ]
    return raster, make_polygons(folder / f"scene_{dtype}.gpkg", features)


def _train_and_classify(raster: Path, polygons: Path, out: Path) -> np.ndarray:
    request = TrainRequest(
        raster=str(raster),
        polygons=str(polygons),
        sampling=SamplingConfig("class_name"),
        split=SplitConfig(0.34, seed=1),
        model=ModelConfig((8,), "relu"),
        training=TrainingConfig(epochs=8, patience=0, seed=3, device="cpu", batch_size=64),
    )
    model = train_model(request).model
    classify_raster(str(raster), model, str(out))
    ds = gdal.Open(str(out))
    return ds.GetRasterBand(1).ReadAsArray()


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_read_window_keeps_band_type_and_masks_nodata(
    dtype: str, tmp_path: Path, nep50: None, make_raster, make_polygons, rect
) -> None:
    raster, _ = _scene(tmp_path, dtype, make_raster, make_polygons, rect)
    ds = open_raster(str(raster))
    info = raster_info(ds)
    data, valid = read_window(ds, (1, 2, 3), Window(0, 0, WIDTH, HEIGHT), info.nodata)
    assert data.dtype == np.dtype(dtype), "bands are read in their own type"
    expected = ~Scene.box_mask((2, 2, 10, 8))
    assert valid.dtype == np.bool_
    assert (valid == expected).all(), f"{int((valid != expected).sum())} pixels misjudged"


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_pipeline_under_numpy2_rules(
    dtype: str, tmp_path: Path, nep50: None, make_raster, make_polygons, rect
) -> None:
    """Sampling, standardisation, training and block-wise prediction of an integer (or float)
    raster under numpy 2's rules: no result changes dtype, nodata stays nodata, the map is
    right."""
    raster, polygons = _scene(tmp_path, dtype, make_raster, make_polygons, rect)
    classes = _train_and_classify(raster, polygons, tmp_path / "classes.tif")
    hole = Scene.box_mask((2, 2, 10, 8))
    out = gdal.Open(str(tmp_path / "classes.tif"))  # kept: a band outlives no dataset
    nodata = out.GetRasterBand(1).GetNoDataValue()
    assert (classes[hole] == nodata).all(), "the nodata box must stay nodata"
    truth = np.zeros((HEIGHT, WIDTH), dtype=np.int64)
    # text classes are numbered in name order: 1 forest, 2 urban, 3 water
    for name, _, c0, c1, _ in CLASS_STRIPES.values():
        truth[:, c0:c1] = {"forest": 1, "urban": 2, "water": 3}[name]
    right = (classes == truth)[~hole].mean()
    assert right > 0.95, f"{dtype}: {right:.3f} of the valid pixels right"


@pytest.mark.skipif(not NUMPY_1, reason="compares numpy 1's legacy rules with numpy 2's")
@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_same_map_under_numpy1_and_numpy2_rules(
    dtype: str, tmp_path: Path, make_raster, make_polygons, rect
) -> None:
    raster, polygons = _scene(tmp_path, dtype, make_raster, make_polygons, rect)
    legacy = _train_and_classify(raster, polygons, tmp_path / "legacy.tif")
    before = np._get_promotion_state()
    np._set_promotion_state("weak")
    try:
        weak = _train_and_classify(raster, polygons, tmp_path / "weak.tif")
    finally:
        np._set_promotion_state(before)
    assert np.array_equal(legacy, weak)
