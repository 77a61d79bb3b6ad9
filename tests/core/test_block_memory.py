"""Classification memory for any block layout of the input (issue 12): striped inputs, blocks
larger than the budget."""

from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from landcover_mlp.core.prediction import classify_raster
from landcover_mlp.core.raster import raster_info


@pytest.mark.parametrize("block_rows", [1, 3, 16, 256])
@pytest.mark.parametrize("budget_rows", [100, 200, 700])
def test_strip_windows_end_on_output_tile_rows(block_rows, budget_rows):
    """Windows over full-width strips end on a 256-row boundary at least every
    block rows x 256 rows, so the writer's flush (at complete rows of tiles) bounds memory."""
    from landcover_mlp.core.raster import RasterInfo, iter_windows

    width, height = 1000, 5000
    info = RasterInfo("x", width, height, 1, (0, 1, 0, 0, 0, -1), "", (width, block_rows),
                      (None,), ("b",), ("Byte",))  # fmt: skip
    windows = list(iter_windows(info, budget_rows * width, align_rows=256))
    assert sum(w.ysize for w in windows) == height and all(w.xsize == width for w in windows)
    if block_rows <= budget_rows:  # windows of whole blocks
        assert all(w.ysize % block_rows == 0 for w in windows[:-1])
    else:  # blocks larger than the budget: windows inside one block each
        assert all(w.yoff // block_rows == (w.yoff + w.ysize - 1) // block_rows for w in windows)
    assert all(w.ysize * w.xsize <= max(budget_rows, block_rows) * width for w in windows)
    ends = [w.yoff + w.ysize for w in windows if (w.yoff + w.ysize) % 256 == 0]
    gaps = np.diff([0, *ends, height])
    # a window of whole tile rows is flushed as it ends; else every block rows x 256 rows
    bound = max(block_rows * 256, max(w.ysize for w in windows))
    assert gaps.max() <= bound, (block_rows, budget_rows, gaps.max())


def test_striped_input_flushes_output_every_row_of_tiles(tmp_path, scene, scene_model, monkeypatch):
    """A striped GeoTIFF (one row per strip), 1,216 px wide, classified with a small budget:
    the outputs are flushed at least every 256 rows (before: only at the end)."""
    from landcover_mlp.core import prediction
    from landcover_mlp.core.config import PredictionConfig

    data = np.tile(scene.data, (1, 21, 19))
    path = tmp_path / "striped.tif"
    ds = gdal.GetDriverByName("GTiff").Create(
        str(path), data.shape[2], data.shape[1], 3, gdal.GDT_Float32, ["BLOCKYSIZE=1"]
    )
    ds.SetGeoTransform(gdal.Open(str(scene.raster)).GetGeoTransform())
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(data[b])
        ds.GetRasterBand(b + 1).SetNoDataValue(-9999.0)
    ds = None
    assert gdal.Open(str(path)).GetRasterBand(1).GetBlockSize() == [data.shape[2], 1]
    events: list[int] = []
    real_write = prediction._OutputRasters.write
    real_flush = gdal.Dataset.FlushCache

    def write(self, window, *args):
        real_write(self, window, *args)
        events.append(window.yoff + window.ysize)

    def flush(self, *args):
        if ".part-" in self.GetDescription():
            events.append(-1)
        return real_flush(self, *args)

    monkeypatch.setattr(prediction._OutputRasters, "write", write)
    monkeypatch.setattr(gdal.Dataset, "FlushCache", flush)
    config = PredictionConfig(memory_mb=16)
    classify_raster(path, scene_model, tmp_path / "c.tif", tmp_path / "p.tif", config=config)
    rows_since, flushed_at, worst = 0, 0, 0
    for e in events:
        if e == -1:
            flushed_at = rows_since
        else:
            rows_since = e
            worst = max(worst, rows_since - flushed_at)
    assert len([e for e in events if e != -1]) > 4  # many windows
    assert worst <= 256, worst


def test_native_blocks_larger_than_the_budget_are_read_in_windows(
    tmp_path, scene, scene_model, monkeypatch
):
    """One strip holding the whole raster (or 8192 px tiles): the windows were whole blocks,
    whatever --memory-mb said (2.8 GB). Now windows inside the block, the block decompressed
    once, the outputs flushed at least every 256 rows, and the same map."""
    from landcover_mlp.core import prediction
    from landcover_mlp.core.config import PredictionConfig
    from landcover_mlp.core.raster import iter_windows

    data = np.tile(scene.data, (1, 13, 10))  # 624 x 640 px
    path = tmp_path / "one_strip.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), data.shape[2], data.shape[1], 3,
                                              gdal.GDT_Float32, ["TILED=YES", "BLOCKXSIZE=640",
                                                                 "BLOCKYSIZE=624"])  # fmt: skip
    ds.SetGeoTransform(gdal.Open(str(scene.raster)).GetGeoTransform())
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(data[b])
        ds.GetRasterBand(b + 1).SetNoDataValue(-9999.0)
    ds = None
    info = raster_info(path)
    assert info.block_size == (640, 624)
    windows = list(iter_windows(info, 200_000, align_rows=256))
    assert [w.ysize for w in windows] == [256, 256, 112] and windows[0].xsize == 640
    whole = tmp_path / "whole.tif"
    classify_raster(path, scene_model, whole)  # the default budget: one window
    events: list[str] = []
    real_flush = gdal.Dataset.FlushCache

    def flush(self, *args):
        events.append("out" if ".part-" in self.GetDescription() else "in")
        return real_flush(self, *args)

    monkeypatch.setattr(gdal.Dataset, "FlushCache", flush)
    monkeypatch.setattr(prediction, "_window_pixels", lambda *a: 200_000)
    small = tmp_path / "small.tif"
    classify_raster(path, scene_model, small, config=PredictionConfig(memory_mb=16))
    assert events.count("in") == 1  # the one block, dropped once, after its last window
    assert events.count("out") >= 3 + 1  # after each of the 3 windows, and at the end
    a, b = gdal.Open(str(whole)), gdal.Open(str(small))
    np.testing.assert_array_equal(a.ReadAsArray(), b.ReadAsArray())


def test_blocks_larger_than_the_budget_are_reported():
    from landcover_mlp.core.prediction import big_block_warning
    from landcover_mlp.core.raster import RasterInfo

    def info(block):
        return RasterInfo("/d/big.tif", 15_000, 8_000, 4, (0, 1, 0, 0, 0, -1), "", block,
                          (None,) * 4, ("b",) * 4, ("UInt16",) * 4)  # fmt: skip

    said = big_block_warning(info((8192, 8192)), (1, 2, 3, 4), 256)
    assert said and "blocks of 8192 x 8192 (512 MB" in said and "re-tile it" in said
    assert big_block_warning(info((15_000, 8_000)), (1, 2, 3, 4), 256)  # one strip
    assert big_block_warning(info((256, 256)), (1, 2, 3, 4), 256) is None
    assert big_block_warning(info((15_000, 1)), (1, 2, 3, 4), 16) is None  # striped
