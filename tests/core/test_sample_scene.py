"""Tests of the seeded sample-scene recipe (headless: numpy and GDAL only)."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from osgeo import gdal, ogr

from landcover_mlp.core.sample_scene import (
    BAND_DESCRIPTIONS,
    CLASSES,
    MIN_SIZE,
    SampleScene,
    generate_sample_scene,
)

RED, NIR, SWIR1 = 2, 3, 4
VALUE = {cls.name: cls.value for cls in CLASSES}
LAYERS = (("polygons", "training"), ("validation_polygons", "validation"))


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> SampleScene:
    return generate_sample_scene(tmp_path_factory.mktemp("scene"))


@pytest.fixture(scope="module")
def image(scene: SampleScene) -> npt.NDArray[np.uint16]:
    return _open(scene.raster).ReadAsArray()


@pytest.fixture(scope="module")
def reference(scene: SampleScene) -> npt.NDArray[np.uint8]:
    return _open(scene.reference).ReadAsArray()


def _open(path: Path) -> gdal.Dataset:
    ds = gdal.Open(str(path))
    assert ds is not None, f"GDAL cannot open {path}"
    return ds


def _features(path: Path, layer_name: str) -> list[dict[str, object]]:
    ds = ogr.Open(str(path))
    assert ds is not None, f"OGR cannot open {path}"
    layer = ds.GetLayerByName(layer_name)
    assert layer is not None, f"{path} has no layer {layer_name!r}"
    return [
        {
            "fid": feature.GetFID(),
            "class_id": feature.GetField("class_id"),
            "class_name": feature.GetField("class_name"),
            "colour": feature.GetField("colour"),
            "wkt": feature.GetGeometryRef().ExportToWkt(),
        }
        for feature in layer
    ]


def _burn(scene: SampleScene, path: Path, layer_name: str, where: str | None = None) -> np.ndarray:
    """Rasterise class_id of the (filtered) polygons onto the reference grid."""
    ref = _open(scene.reference)
    mem = gdal.GetDriverByName("MEM").Create("", ref.RasterXSize, ref.RasterYSize, 1, gdal.GDT_Byte)
    mem.SetGeoTransform(ref.GetGeoTransform())
    mem.SetProjection(ref.GetProjection())
    ds = ogr.Open(str(path))
    layer = ds.GetLayerByName(layer_name)
    layer.SetAttributeFilter(where)
    assert gdal.RasterizeLayer(mem, [1], layer, options=["ATTRIBUTE=class_id"]) == 0
    return mem.ReadAsArray()


def _class_means(image: np.ndarray, reference: np.ndarray) -> dict[str, np.ndarray]:
    return {cls.name: image[:, reference == cls.value].mean(axis=1) for cls in CLASSES}


def test_files_exist_and_open(scene: SampleScene) -> None:
    for path in (scene.raster, scene.reference, scene.polygons, scene.validation_polygons):
        assert path.is_file()
    _open(scene.raster)
    _open(scene.reference)
    assert scene.class_field == "class_name"
    assert scene.classes == CLASSES
    assert not list(scene.raster.parent.glob(".tmp-*"))


def test_classes_are_distinct() -> None:
    assert [cls.value for cls in CLASSES] == [1, 2, 3, 4, 5, 6]
    assert [cls.name for cls in CLASSES] == [
        "water",
        "forest",
        "grassland",
        "cropland",
        "bare_soil",
        "built_up",
    ]
    colours = [cls.colour for cls in CLASSES]
    assert len(set(colours)) == len(colours)
    assert all(len(c) == 7 and c.startswith("#") and int(c[1:], 16) >= 0 for c in colours)


def test_raster_layout(scene: SampleScene) -> None:
    ds = _open(scene.raster)
    assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (400, 300, 6)
    assert ds.GetSpatialRef().GetAuthorityCode(None) == "32633"
    gt = ds.GetGeoTransform()
    assert (gt[1], gt[2], gt[4], gt[5]) == (10.0, 0.0, 0.0, -10.0)
    assert 166_000 < gt[0] < 834_000 and 0 < gt[3] < 9_330_000  # inside the UTM zone
    assert ds.GetMetadata("IMAGE_STRUCTURE").get("COMPRESSION") == "DEFLATE"
    for i, description in enumerate(BAND_DESCRIPTIONS, start=1):
        band = ds.GetRasterBand(i)
        assert band.DataType == gdal.GDT_UInt16
        assert band.GetNoDataValue() == 0
        assert band.GetDescription() == description
        assert band.GetBlockSize() == [256, 256]


def test_reference_layout(scene: SampleScene, reference: np.ndarray) -> None:
    ds, image_ds = _open(scene.reference), _open(scene.raster)
    assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (400, 300, 1)
    assert ds.GetGeoTransform() == image_ds.GetGeoTransform()
    assert ds.GetSpatialRef().IsSame(image_ds.GetSpatialRef())
    band = ds.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Byte
    assert band.GetNoDataValue() == 0
    assert set(np.unique(reference)) == {0, *VALUE.values()}
    table, names = band.GetColorTable(), band.GetCategoryNames()
    for cls in CLASSES:
        rgb = tuple(int(cls.colour[i : i + 2], 16) for i in (1, 3, 5))
        assert table.GetColorEntry(cls.value)[:3] == rgb
        assert names[cls.value] == cls.name


def test_nodata_swath(image: np.ndarray, reference: np.ndarray) -> None:
    nodata = reference == 0
    assert 0.01 < nodata.mean() < 0.1
    assert nodata[0, -1] and not nodata[-1, 0]  # a corner cut off, not a frame
    assert (image[:, nodata] == 0).all()
    assert (image[:, ~nodata] > 0).all()


@pytest.mark.parametrize(("attribute", "layer_name"), LAYERS)
def test_polygon_layers(scene: SampleScene, attribute: str, layer_name: str) -> None:
    path = getattr(scene, attribute)
    ds = ogr.Open(str(path))
    layer = ds.GetLayerByName(layer_name)
    assert layer.GetFIDColumn() == "fid"
    assert layer.GetGeomType() == ogr.wkbPolygon
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "32633"
    definition = layer.GetLayerDefn()
    fields = {
        definition.GetFieldDefn(i).GetName(): definition.GetFieldDefn(i).GetType()
        for i in range(definition.GetFieldCount())
    }
    assert fields == {
        "class_id": ogr.OFTInteger,
        "class_name": ogr.OFTString,
        "colour": ogr.OFTString,
    }
    minimum = 3 if layer_name == "training" else 2
    features = _features(path, layer_name)
    for cls in CLASSES:
        mine = [f for f in features if f["class_id"] == cls.value]
        assert len(mine) >= minimum, cls.name
        assert {(f["class_name"], f["colour"]) for f in mine} == {(cls.name, cls.colour)}
    assert len(features) >= (4 if layer_name == "training" else 2) * len(CLASSES)
    xmin, xmax, ymin, ymax = layer.GetExtent()
    gt = _open(scene.raster).GetGeoTransform()
    assert gt[0] < xmin and xmax < gt[0] + 400 * gt[1]
    assert gt[3] + 300 * gt[5] < ymin and ymax < gt[3]
    for feature in features:
        geometry = ogr.CreateGeometryFromWkt(str(feature["wkt"]))
        assert geometry.IsValid()
        assert 5 <= geometry.GetGeometryRef(0).GetPointCount() - 1 <= 8
        assert 5 * 100 < geometry.GetArea() <= 400 * 100  # at most a few hundred pixels


def test_training_and_validation_do_not_intersect(scene: SampleScene) -> None:
    training = [ogr.CreateGeometryFromWkt(f["wkt"]) for f in _features(scene.polygons, "training")]
    validation = [
        ogr.CreateGeometryFromWkt(f["wkt"])
        for f in _features(scene.validation_polygons, "validation")
    ]
    for a, b in itertools.product(training, validation):
        assert not a.Intersects(b)
    for a, b in itertools.combinations(training + validation, 2):
        assert not a.Intersects(b)


@pytest.mark.parametrize(("attribute", "layer_name"), LAYERS)
def test_polygons_cover_their_own_class(
    scene: SampleScene, reference: np.ndarray, attribute: str, layer_name: str
) -> None:
    path = getattr(scene, attribute)
    for feature in _features(path, layer_name):
        burnt = _burn(scene, path, layer_name, f"fid = {feature['fid']}")
        under = reference[burnt > 0]
        assert under.size >= 10
        assert (under == feature["class_id"]).mean() >= 0.8, feature


def test_mean_spectra_are_plausible(image: np.ndarray, reference: np.ndarray) -> None:
    means = _class_means(image.astype(np.float64) / 10_000, reference)
    assert means["water"][NIR] < 0.05
    assert means["water"][NIR] == min(m[NIR] for m in means.values())
    assert means["water"][NIR] < means["forest"][NIR]
    assert means["forest"][NIR] > 3 * means["forest"][RED]
    assert means["grassland"][NIR] > 3 * means["grassland"][RED]
    assert means["bare_soil"][SWIR1] > means["forest"][SWIR1]
    assert means["bare_soil"][SWIR1] > means["bare_soil"][NIR]
    assert means["built_up"][SWIR1] > means["built_up"][NIR]
    assert means["bare_soil"][RED] > means["grassland"][RED]


def test_classes_separable_but_not_trivially(
    scene: SampleScene, image: np.ndarray, reference: np.ndarray
) -> None:
    """A Gaussian maximum-likelihood classifier trained on the polygons: good, not perfect."""
    pixels = image.reshape(image.shape[0], -1).T.astype(np.float64) / 10_000
    train = _burn(scene, scene.polygons, "training").ravel()
    models = []
    for cls in CLASSES:
        sample = pixels[train == cls.value]
        cov = np.cov(sample, rowvar=False) + 1e-8 * np.eye(sample.shape[1])
        models.append((sample.mean(axis=0), np.linalg.inv(cov), np.linalg.slogdet(cov)[1]))
    valid = reference.ravel() > 0
    x = pixels[valid]
    scores = [
        -0.5 * np.einsum("ij,jk,ik->i", x - mean, inv, x - mean) - 0.5 * logdet
        for mean, inv, logdet in models
    ]
    predicted = np.array([cls.value for cls in CLASSES])[np.argmax(scores, axis=0)]
    truth = reference.ravel()[valid].astype(np.int64)
    accuracy = (predicted == truth).mean()
    assert 0.8 < accuracy < 0.99
    confusion = np.bincount(truth * 8 + predicted, minlength=64).reshape(8, 8)
    mixed = confusion + confusion.T
    assert mixed[VALUE["grassland"], VALUE["cropland"]] > 0.01 * confusion.sum()
    assert mixed[VALUE["bare_soil"], VALUE["built_up"]] > 0.001 * confusion.sum()


def test_same_seed_same_scene_other_seed_differs(tmp_path: Path) -> None:
    runs = [
        generate_sample_scene(tmp_path / name, seed=seed)
        for name, seed in (("a", 7), ("b", 7), ("c", 8))
    ]
    arrays = [(_open(run.raster).ReadAsArray(), _open(run.reference).ReadAsArray()) for run in runs]
    polygons = [
        [f["wkt"] for f in _features(r.polygons, "training")]
        + [f["wkt"] for f in _features(r.validation_polygons, "validation")]
        for r in runs
    ]
    assert np.array_equal(arrays[0][0], arrays[1][0])
    assert np.array_equal(arrays[0][1], arrays[1][1])
    assert polygons[0] == polygons[1]
    assert not np.array_equal(arrays[0][0], arrays[2][0])
    assert not np.array_equal(arrays[0][1], arrays[2][1])
    assert polygons[0] != polygons[2]


def test_overwrites_existing_files_and_creates_folders(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "scene"
    first = generate_sample_scene(out, seed=1, width=MIN_SIZE, height=MIN_SIZE)
    second = generate_sample_scene(out, seed=2, width=200, height=150)
    assert first == second
    ds = _open(second.raster)
    assert (ds.RasterXSize, ds.RasterYSize) == (200, 150)
    assert "seed 2" in ds.GetMetadataItem("SOURCE")
    written = {second.raster, second.reference, second.polygons, second.validation_polygons}
    sidecar = Path(f"{second.reference}.aux.xml")  # GeoTIFF keeps category names in PAM
    assert set(out.iterdir()) == written | {sidecar}


def test_generation_is_vectorised(tmp_path: Path) -> None:
    """The scene is fast to make because no Python code runs per pixel: the interpreter's
    events (lines, calls, returns; about 80,000 on the 400 x 300 default) stay well below
    one per pixel. Counted, not timed: the count does not move with the machine's load."""
    generate_sample_scene(tmp_path)  # imports and first-call set-up are not the recipe's
    events = 0

    def trace(frame: object, event: str, arg: object) -> object:
        nonlocal events
        events += 1
        return trace

    previous = sys.gettrace()  # a coverage or debugger tracer, given back afterwards
    sys.settrace(trace)
    try:
        generate_sample_scene(tmp_path, seed=1)
    finally:
        sys.settrace(previous)
    pixels = 400 * 300
    assert 10_000 < events < 1.25 * pixels


def test_rejects_tiny_scene(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        generate_sample_scene(tmp_path, width=MIN_SIZE - 1)
