"""Bad and odd rasters (issue 12): nodata a band cannot hold, masks, point georeferencing,
complex bands, several rasters in one file, unreadable pixels, band lists."""

from __future__ import annotations

import math

import numpy as np
import pytest
from osgeo import gdal

from landcover_mlp.core import LandCoverError
from landcover_mlp.core.callbacks import Hooks
from landcover_mlp.core.config import ModelConfig, SamplingConfig, TrainingConfig, TrainRequest
from landcover_mlp.core.evaluation import evaluate
from landcover_mlp.core.prediction import classify_raster
from landcover_mlp.core.raster import Window, raster_info, read_window, usable_nodata
from landcover_mlp.core.sampling import collect_samples
from landcover_mlp.core.workflow import train_model

QUICK_MODEL = ModelConfig((4,), ensemble=1)


QUICK = TrainingConfig(epochs=2, batch_size=64, device="cpu", seed=0)


@pytest.mark.parametrize(
    ("value", "gdal_type", "usable"),
    [
        (-1, gdal.GDT_Byte, None),  # would wrap to 255
        (-9999, gdal.GDT_Byte, None),  # 241
        (256, gdal.GDT_Byte, None),
        (2.5, gdal.GDT_Byte, None),
        (255, gdal.GDT_Byte, 255),
        (0, gdal.GDT_Byte, 0),
        (-9999, gdal.GDT_UInt16, None),  # 55537
        (70000, gdal.GDT_UInt16, None),
        (-9999, gdal.GDT_Int16, -9999),
        (40000, gdal.GDT_Int16, None),
        (-1, gdal.GDT_UInt32, None),
        (1e39, gdal.GDT_Float32, None),  # beyond float32
        (-9999, gdal.GDT_Float32, -9999),
        (1e39, gdal.GDT_Float64, 1e39),
        (None, gdal.GDT_Byte, None),
    ],
)
def test_usable_nodata(value, gdal_type, usable):
    assert usable_nodata(value, gdal_type) == usable


def test_nan_nodata_stays_on_float_bands():
    assert math.isnan(usable_nodata(float("nan"), gdal.GDT_Float32))
    assert usable_nodata(float("nan"), gdal.GDT_Byte) is None


def _byte_scene(tmp_path, make_raster, make_polygons, rect, nodata):
    """20 x 20 Byte raster whose first band holds 255 on a quarter of the pixels (and 241 on
    some), tagged ``nodata``; two classes cover all of it."""
    rng = np.random.default_rng(0)
    arr = rng.integers(10, 200, size=(3, 20, 20)).astype(np.uint8)
    arr[0, ::2, ::2] = 255  # what -1 wraps to
    arr[1, 1::4, 1::4] = 241  # what -9999 wraps to
    arr[2, :, 10:] += 50  # the right half is another class
    raster = make_raster(tmp_path / "byte.tif", arr, nodata=nodata, dtype=gdal.GDT_Byte)
    polygons = make_polygons(
        tmp_path / "classes.gpkg",
        [(rect(0, 0, 10, 20), {"cls": "left"}), (rect(10, 0, 20, 20), {"cls": "right"})],
    )
    return raster, polygons


@pytest.mark.parametrize("nodata", [-1, -9999])
def test_nodata_the_band_cannot_hold_keeps_every_pixel_in_sampling(
    tmp_path, make_raster, make_polygons, rect, nodata
):
    raster, polygons = _byte_scene(tmp_path, make_raster, make_polygons, rect, nodata)
    ds = gdal.Open(str(raster))
    assert ds.GetRasterBand(1).GetNoDataValue() == nodata  # the tag is there
    assert ds.GetRasterBand(1).GetMaskBand().ReadAsArray().min() == 255  # GDAL: all valid
    logs: list[str] = []
    samples = collect_samples(raster, polygons, SamplingConfig("cls"), Hooks(log=logs.append))
    assert len(samples) == 400
    assert raster_info(raster).nodata == (None, None, None)
    said = [w for w in samples.warnings if f"tagged nodata {nodata}" in w]
    assert len(said) == 3 and "Byte" in said[0] and said[0] in logs


def test_nodata_the_band_cannot_hold_leaves_no_hole_in_the_map(
    tmp_path, make_raster, make_polygons, rect
):
    raster, polygons = _byte_scene(tmp_path, make_raster, make_polygons, rect, -1)
    request = TrainRequest(str(raster), str(polygons), SamplingConfig("cls"),
                           model=QUICK_MODEL, training=QUICK)  # fmt: skip
    model = train_model(request).model
    assert model.nodata == (None, None, None)
    logs: list[str] = []
    out = tmp_path / "classes.tif"
    classify_raster(raster, model, out, hooks=Hooks(log=logs.append))
    ds = gdal.Open(str(out))
    band = ds.GetRasterBand(1)
    assert (band.ReadAsArray() != band.GetNoDataValue()).all()  # 255s were classified
    assert sum("tagged nodata -1" in m for m in logs) == 3


def test_nodata_the_band_can_hold_still_masks(tmp_path, make_raster):
    arr = np.full((2, 4, 4), 7, dtype=np.int16)
    arr[0, 0, 0] = -9999
    arr[1, 3, 3] = -9999
    raster = make_raster(tmp_path / "int16.tif", arr, nodata=-9999)
    ds = gdal.Open(str(raster))
    info = raster_info(ds)
    _, valid = read_window(ds, (1, 2), Window(0, 0, 4, 4), info.nodata)
    assert valid.sum() == 14 and not valid[0, 0] and not valid[3, 3]
    _, valid = read_window(ds, (2,), Window(0, 0, 4, 4), info.nodata)
    assert valid.sum() == 15


def test_uint16_tagged_minus_9999_keeps_55537(tmp_path, make_raster):
    arr = np.full((1, 4, 4), 55537, dtype=np.uint16)
    raster = make_raster(tmp_path / "u16.tif", arr, nodata=-9999)
    ds = gdal.Open(str(raster))
    _, valid = read_window(ds, (1,), Window(0, 0, 4, 4), raster_info(ds).nodata)
    assert valid.all()


def test_a_bands_own_mask_is_honoured(tmp_path, make_raster):
    """A band with its own (not per-dataset) mask: GDAL's mask of any chosen band decides.
    A VRT whose band 2 has its own mask band (a third file)."""
    data = make_raster(tmp_path / "data.tif", np.full((2, 4, 4), 9, dtype=np.uint8))
    mask = np.full((4, 4), 255, dtype=np.uint8)
    mask[1, 2] = 0
    mask_file = make_raster(tmp_path / "mask.tif", mask)
    source = "<SourceFilename relativeToVRT='1'>{}</SourceFilename><SourceBand>{}</SourceBand>"
    bands = "".join(
        f"<VRTRasterBand dataType='Byte' band='{b}'><SimpleSource>"
        + source.format(data.name, b)
        + "</SimpleSource>"
        + (
            "<MaskBand><VRTRasterBand dataType='Byte'><SimpleSource>"
            + source.format(mask_file.name, 1)
            + "</SimpleSource></VRTRasterBand></MaskBand>"
            if b == 2
            else ""
        )
        + "</VRTRasterBand>"
        for b in (1, 2)
    )
    vrt = tmp_path / "masked.vrt"
    vrt.write_text(f"<VRTDataset rasterXSize='4' rasterYSize='4'>{bands}</VRTDataset>")
    ds = gdal.Open(str(vrt))
    assert ds.GetRasterBand(2).GetMaskFlags() == 0  # its own mask, not per dataset
    info = raster_info(ds)
    _, valid = read_window(ds, (1, 2), Window(0, 0, 4, 4), info.nodata)
    assert valid.sum() == 15 and not valid[1, 2]
    _, valid = read_window(ds, (1,), Window(0, 0, 4, 4), info.nodata)
    assert valid.all()


def test_reference_raster_tagged_with_nodata_it_cannot_hold(tmp_path, make_raster):
    """A Byte reference tagged -1 has no usable nodata: 0 is then unlabelled, as for a
    reference without nodata, and the report says the tag was ignored."""
    classified = np.ones((4, 4), dtype=np.uint8)
    classified[:, 2:] = 2
    reference = classified.copy()
    reference[0, :] = 0  # unlabelled
    c = make_raster(tmp_path / "classified.tif", classified, nodata=0)
    r = make_raster(tmp_path / "reference.tif", reference, nodata=-1, dtype=gdal.GDT_Byte)
    report = evaluate(c, r)
    assert int(np.asarray(report.confusion_matrix).sum()) == 12
    assert report.overall_accuracy == 1.0
    assert any("tagged nodata -1" in w for w in report.warnings)


def test_evaluate_warns_of_a_classified_raster_tagged_with_impossible_nodata(tmp_path, make_raster):
    classified = np.ones((4, 4), dtype=np.uint8)
    c = make_raster(tmp_path / "c.tif", classified, nodata=-1, dtype=gdal.GDT_Byte)
    r = make_raster(tmp_path / "r.tif", classified, nodata=0)
    report = evaluate(c, r)
    assert any("'c.tif' is tagged nodata -1" in w for w in report.warnings)


def test_raster_placed_by_gcps_is_refused(tmp_path, make_raster, make_polygons, rect):
    raster = make_raster(tmp_path / "grid.tif", np.ones((2, 10, 10), np.uint8))
    gcp_file = tmp_path / "gcps.tif"
    gdal.Translate(str(gcp_file), str(raster), GCPs=[
        gdal.GCP(500_000.0, 4_200_000.0, 0, 0, 0), gdal.GCP(500_100.0, 4_200_000.0, 0, 10, 0),
        gdal.GCP(500_000.0, 4_199_900.0, 0, 0, 10)], outputSRS="EPSG:32633")  # fmt: skip
    assert gdal.Open(str(gcp_file)).GetGCPCount() == 3
    polygons = make_polygons(tmp_path / "p.gpkg", [(rect(0, 0, 5, 10), {"cls": "a"}),
                                                   (rect(5, 0, 10, 10), {"cls": "b"})])  # fmt: skip
    with pytest.raises(LandCoverError, match="3 ground control points .* warp it"):
        collect_samples(gcp_file, polygons, SamplingConfig("cls"))
    assert len(collect_samples(raster, polygons, SamplingConfig("cls"))) == 100  # the grid


def test_raster_placed_by_rpcs_is_refused(tmp_path):
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "rpc.tif"), 4, 4, 1)
    ds.SetMetadata({"LINE_OFF": "0", "SAMP_OFF": "0", "LAT_OFF": "45", "LONG_OFF": "7",
                    "HEIGHT_OFF": "0", "LINE_SCALE": "1", "SAMP_SCALE": "1", "LAT_SCALE": "1",
                    "LONG_SCALE": "1", "HEIGHT_SCALE": "1",
                    "LINE_NUM_COEFF": " ".join(["1"] * 20), "LINE_DEN_COEFF": " ".join(["1"] * 20),
                    "SAMP_NUM_COEFF": " ".join(["1"] * 20), "SAMP_DEN_COEFF": " ".join(["1"] * 20)},
                   "RPC")  # fmt: skip
    ds = None
    with pytest.raises(LandCoverError, match="rational polynomial coefficients"):
        raster_info(tmp_path / "rpc.tif")


def test_a_plain_pixel_grid_without_georeferencing_is_used(tmp_path):
    """No geotransform, no GCPs (Indian Pines' local grid): used as it is."""
    gdal.GetDriverByName("GTiff").Create(str(tmp_path / "local.tif"), 4, 4, 1).FlushCache()
    assert raster_info(tmp_path / "local.tif").width == 4


def test_complex_bands_are_refused(tmp_path, make_polygons, rect):
    path = str(tmp_path / "sar.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 10, 10, 2, gdal.GDT_CInt16)
    ds.SetGeoTransform((500_000.0, 10.0, 0.0, 4_200_000.0, 0.0, -10.0))
    ds = None
    polygons = make_polygons(tmp_path / "p.gpkg", [(rect(0, 0, 5, 10), {"cls": "a"}),
                                                   (rect(5, 0, 10, 10), {"cls": "b"})])  # fmt: skip
    with pytest.raises(LandCoverError, match=r"Band\(s\) 1, 2 .* complex numbers \(CInt16\)"):
        collect_samples(tmp_path / "sar.tif", polygons, SamplingConfig("cls"))


def test_a_file_of_several_rasters_lists_them(tmp_path):
    """A GeoPackage with two raster tables (or a NetCDF of several variables) has no bands of
    its own: the sentence lists the subdatasets to choose from."""
    path = tmp_path / "two.gpkg"
    for name in ("first", "second"):
        ds = gdal.GetDriverByName("GPKG").Create(
            str(path), 4, 4, 1, gdal.GDT_Byte, [f"RASTER_TABLE={name}", "APPEND_SUBDATASET=YES"]
        )
        ds.SetGeoTransform((0, 1, 0, 0, 0, -1))
        ds = None
    with pytest.raises(LandCoverError, match="holds 2 rasters .*GPKG:.*:first"):
        raster_info(path)


def test_unreadable_pixels_are_a_sentence_naming_the_input(tmp_path, scene, scene_model):
    """A VRT whose source file is gone: train and evaluate raised a RuntimeError traceback,
    classify blamed its output."""
    source = tmp_path / "gone.tif"
    gdal.Translate(str(source), str(scene.raster))
    vrt = tmp_path / "missing.vrt"
    gdal.BuildVRT(str(vrt), [str(source)])
    source.unlink()
    said = "Could not read the pixels of 'missing.vrt'.*a file it refers to is missing"
    with pytest.raises(LandCoverError, match=said):
        collect_samples(vrt, scene.polygons, SamplingConfig("class_name"))
    with pytest.raises(LandCoverError, match=said):
        classify_raster(vrt, scene_model, tmp_path / "map.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["missing.vrt"]


@pytest.mark.parametrize(
    ("text", "said"),
    [("7-1", "runs backwards"), ("1--3", "runs backwards"), ("1-99999999999", "more than"),
     (",,", "names no band")],
)  # fmt: skip
def test_band_lists_that_used_to_mean_all_bands_or_crash(text, said):
    from landcover_mlp.core.raster import parse_bands

    with pytest.raises(LandCoverError, match=said):
        parse_bands(text)
    assert parse_bands("3-5,1") == (3, 4, 5, 1) and parse_bands("") is None
