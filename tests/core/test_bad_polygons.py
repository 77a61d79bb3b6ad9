"""Bad and odd polygon layers (issue 12): other geometries than polygons, curves, several
layers, tables, a validation share that holds out nothing."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from osgeo import ogr

from landcover_mlp.core import LandCoverError
from landcover_mlp.core.config import ModelConfig, SamplingConfig, TrainingConfig, TrainRequest
from landcover_mlp.core.evaluation import evaluate
from landcover_mlp.core.sampling import collect_samples
from landcover_mlp.core.workflow import train_model

QUICK_MODEL = ModelConfig((4,), ensemble=1)


QUICK = TrainingConfig(epochs=2, batch_size=64, device="cpu", seed=0)


def _generic_layer(tmp_path, make_raster, make_polygons, rect, extra):
    arr = np.random.default_rng(0).integers(0, 100, size=(2, 20, 20)).astype(np.uint8)
    raster = make_raster(tmp_path / "r.tif", arr)
    x0, y0 = 500_000.0, 4_200_000.0  # the raster's top-left corner (10 m pixels)
    shapes = {
        "point": f"POINT ({x0 + 55} {y0 - 55})",
        "line": f"LINESTRING ({x0 + 5} {y0 - 5}, {x0 + 150} {y0 - 150})",
    }
    features = [(rect(0, 0, 10, 20), {"cls": "a"}), (rect(10, 0, 20, 20), {"cls": "b"})]
    for kind, n in extra.items():
        features += [(shapes[kind], {"cls": "a"})] * n
    polygons = make_polygons(tmp_path / "generic.gpkg", features, geom_type=ogr.wkbUnknown)
    return raster, polygons


@pytest.mark.parametrize(
    ("extra", "said"),
    [({"point": 3}, "3 points"), ({"line": 1}, "1 line string"),
     ({"point": 1, "line": 2}, "2 line strings, 1 point")],
)  # fmt: skip
def test_generic_layer_with_non_polygon_features_is_refused(
    tmp_path, make_raster, make_polygons, rect, extra, said
):
    raster, polygons = _generic_layer(tmp_path, make_raster, make_polygons, rect, extra)
    with pytest.raises(LandCoverError) as err:
        collect_samples(raster, polygons, SamplingConfig("cls"))
    assert said in str(err.value) and "2 polygons" in str(err.value)
    assert "points are accuracy samples" in str(err.value)
    classified = make_raster(tmp_path / "c.tif", np.ones((20, 20), np.uint8), nodata=0)
    with pytest.raises(LandCoverError, match=said):
        evaluate(classified, polygons, "cls")


def test_generic_layer_of_polygons_trains(tmp_path, make_raster, make_polygons, rect):
    raster, polygons = _generic_layer(tmp_path, make_raster, make_polygons, rect, {})
    assert len(collect_samples(raster, polygons, SamplingConfig("cls"))) == 400


def test_curved_polygons_are_sampled_like_their_chords(tmp_path, make_raster, make_polygons):
    """A CurvePolygon (a circle) used to pass the geometry check and give no pixel."""
    raster = make_raster(tmp_path / "r.tif", np.ones((2, 40, 40), np.uint8))
    x0, y0 = 500_000.0, 4_200_000.0
    circle = (f"CURVEPOLYGON (CIRCULARSTRING ({x0 + 100} {y0 - 200}, {x0 + 300} {y0 - 200}, "
              f"{x0 + 100} {y0 - 200}))")  # fmt: skip
    square = (
        f"POLYGON (({x0} {y0}, {x0 + 50} {y0}, {x0 + 50} {y0 - 50}, {x0} {y0 - 50}, {x0} {y0}))"
    )
    polygons = make_polygons(tmp_path / "c.gpkg", [(circle, {"cls": "round"}), (square, {"cls": "sq"})],
                             geom_type=ogr.wkbUnknown)  # fmt: skip
    samples = collect_samples(raster, polygons, SamplingConfig("cls"))
    counts = dict(zip((c.name for c in samples.classes), samples.counts().tolist()))
    # a circle of radius 10 px: about pi * 100 pixels
    assert 290 <= counts["round"] <= 340 and counts["sq"] == 25


def test_a_point_in_a_layer_declared_polygon_is_refused(tmp_path, make_raster, make_polygons, rect):
    raster = make_raster(tmp_path / "r.tif", np.ones((2, 10, 10), np.uint8))
    features = [(rect(0, 0, 5, 10), {"cls": "a"}), (rect(5, 0, 10, 10), {"cls": "b"}),
                ("POINT (500025 4199975)", {"cls": "a"})]  # fmt: skip
    polygons = make_polygons(tmp_path / "p.gpkg", features)  # declared Polygon
    assert ogr.Open(str(polygons)).GetLayer(0).GetGeomType() == ogr.wkbPolygon
    with pytest.raises(LandCoverError, match="2 polygons, 1 point"):
        collect_samples(raster, polygons, SamplingConfig("cls"))


def test_a_table_given_as_the_layer_is_refused(tmp_path, make_raster, make_polygons, rect):
    raster = make_raster(tmp_path / "r.tif", np.ones((2, 10, 10), np.uint8))
    path = make_polygons(tmp_path / "p.gpkg", [(rect(0, 0, 5, 10), {"cls": "a"})])
    ds = ogr.Open(str(path), 1)
    ds.CreateLayer("layer_styles", geom_type=ogr.wkbNone).CreateField(ogr.FieldDefn("cls"))
    ds = None
    with pytest.raises(LandCoverError, match="'layer_styles' is a table without geometries"):
        collect_samples(raster, path, SamplingConfig("cls"), layer="layer_styles")


def test_a_source_with_several_polygon_layers_needs_a_layer_name(
    tmp_path, make_raster, make_polygons, rect
):
    raster = make_raster(tmp_path / "r.tif", np.ones((2, 10, 10), np.uint8))
    features = [(rect(0, 0, 5, 10), {"cls": "a"}), (rect(5, 0, 10, 10), {"cls": "b"})]
    path = make_polygons(tmp_path / "two.gpkg", features, layer="training")
    ds = ogr.Open(str(path), 1)
    table = ds.CreateLayer("layer_styles", geom_type=ogr.wkbNone)  # as QGIS saves styles
    table.CreateField(ogr.FieldDefn("styleName", ogr.OFTString))
    table = None
    ds = None
    assert len(collect_samples(raster, path, SamplingConfig("cls"))) == 100  # one with geometry
    ds = ogr.Open(str(path), 1)
    other = ds.CreateLayer("old_training", ds.GetLayerByName("training").GetSpatialRef(),
                           ogr.wkbPolygon)  # fmt: skip
    other.CreateField(ogr.FieldDefn("cls", ogr.OFTString))
    other = None
    ds = None
    with pytest.raises(LandCoverError, match="holds 2 layers .*'training'.*'old_training'"):
        collect_samples(raster, path, SamplingConfig("cls"))
    chosen = collect_samples(raster, path, SamplingConfig("cls"), layer="training")
    assert len(chosen) == 100


def test_a_share_that_held_out_nothing_is_not_reported_as_share_zero(tmp_path, scene):
    """With a cap of 1 pixel per class the held-out polygons give no pixel: the report says
    so (and the cap's warning), not "set a validation share above 0"."""
    import json

    from landcover_mlp.core.config import SplitConfig
    from landcover_mlp.core.outputs import save_training_outputs

    request = TrainRequest(str(scene.raster), str(scene.polygons),
                           SamplingConfig("class_name", max_per_class=1), split=SplitConfig(0.3),
                           model=QUICK_MODEL, training=QUICK)  # fmt: skip
    result = train_model(request)
    assert result.report is None and result.n_validation == 0
    save_training_outputs(result, tmp_path / "m.safetensors", report=tmp_path / "r.html")
    said = json.loads((tmp_path / "r.json").read_text())["warnings"]
    assert said[0].startswith("No validation pixels: holding out 30% of each class's polygons")
    assert any("capped at 1 pixels" in w for w in said)
    assert "holding out 30%" in (tmp_path / "r.html").read_text()
    none = replace(request, split=SplitConfig(0.0))
    save_training_outputs(train_model(none), tmp_path / "n.safetensors", report=tmp_path / "n.html")
    assert json.loads((tmp_path / "n.json").read_text())["warnings"][0].startswith(
        "No validation pixels: set a validation share above 0"
    )
