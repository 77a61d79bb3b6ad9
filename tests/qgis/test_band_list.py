"""The dialog's band list with 200 bands, driven as a user would: All / None, the range entry
("1-7, 9") and its refusals, toggling a selection by its check box and by Space, at least 12
rows in view, mask bands left unchecked, and the choice remembered per raster."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QCoreApplication, QPoint, Qt
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QStyle, QStyleOptionViewItem

from landcover_mlp.plugin import torch_check
from landcover_mlp.ui import settings
from landcover_mlp.ui.band_list import (
    VISIBLE_ROWS,
    looks_like_mask,
    odd_nodata_bands,
    ranges_text,
)
from landcover_mlp.ui.dialog import LandCoverDialog

pytestmark = pytest.mark.qgis_tier

ALL = tuple(range(1, 201))


def write_raster(path: Path, names: Sequence[str]) -> Path:
    """A 4 x 3 px Int16 GeoTIFF with one band per name (its description)."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 4, 3, len(names), gdal.GDT_Int16)
    ds.SetGeoTransform((500_000.0, 10.0, 0.0, 4_200_000.0, 0.0, -10.0))
    for i, name in enumerate(names, start=1):
        band = ds.GetRasterBand(i)
        band.SetDescription(name)
        band.WriteArray(np.full((3, 4), i, dtype=np.int16))
    ds = None
    return path


@pytest.fixture(autouse=True)
def own_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings under a group of their own, so a user's remembered values never leak in."""
    monkeypatch.setattr(settings, "PREFIX", "landcover_mlp_tests_bands")
    settings.clear()
    yield
    settings.clear()


@pytest.fixture
def rasters(tmp_path: Path, qgis_new_project: None) -> tuple[QgsRasterLayer, QgsRasterLayer]:
    """Two 200-band rasters ("band 1" ... "band 200") in a fresh project."""
    layers = []
    for name in ("hyper_a", "hyper_b"):
        path = write_raster(tmp_path / f"{name}.tif", [f"band {i}" for i in ALL])
        layer = QgsRasterLayer(str(path), name)
        assert layer.isValid() and layer.bandCount() == 200
        layers.append(layer)
    QgsProject.instance().addMapLayers(layers)
    return layers[0], layers[1]


@pytest.fixture
def open_dialog(
    qgis_iface: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], LandCoverDialog]]:
    """``open_dialog()`` -> a new dialog, shown at its default size (closed at the end)."""
    # the band list needs no device check: no torch import in a worker thread
    monkeypatch.setattr(torch_check, "torch_available", lambda: False)
    made: list[LandCoverDialog] = []

    def make() -> LandCoverDialog:
        dlg = LandCoverDialog(qgis_iface)
        dlg.show()
        made.append(dlg)
        return dlg

    yield make
    for dlg in made:
        dlg.shutdown()
        dlg.hide()
        dlg.deleteLater()


def show_raster(dialog: LandCoverDialog, layer: QgsRasterLayer) -> None:
    dialog.rasterCombo.setLayer(layer)
    assert dialog.rasterCombo.currentLayer() is layer
    assert dialog.bandList.count() == layer.bandCount()


def type_range(dialog: LandCoverDialog, text: str) -> None:
    """Replace the range entry's text as a paste would (one edit), then press Enter."""
    edit = dialog.bandRangeEdit
    edit.setFocus()
    edit.selectAll()
    edit.insert(text)
    QTest.keyClick(edit, Qt.Key.Key_Return)


def check_box_centre(view: Any, row: int) -> QPoint:
    """Where the check box of a row is drawn (the style's indicator rectangle)."""
    init = getattr(view, "initViewItemOption", None)  # Qt 6; Qt 5 has viewOptions()
    if init is not None:
        option = QStyleOptionViewItem()
        init(option)
    else:
        option = view.viewOptions()
    option.rect = view.visualItemRect(view.item(row))
    option.features |= QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
    indicator = QStyle.SubElement.SE_ItemViewItemCheckIndicator
    return view.style().subElementRect(indicator, option, view).center()


def test_all_and_none_buttons(open_dialog: Callable[[], LandCoverDialog], rasters: Any) -> None:
    dialog = open_dialog()
    show_raster(dialog, rasters[0])

    dialog.bandsNoneButton.click()
    assert dialog.form.checked_bands() == ()
    assert dialog.bandRangeEdit.text() == ""
    assert dialog.bandStatusLabel.text() == "0 of 200 bands checked"

    dialog.bandsAllButton.click()
    assert dialog.form.checked_bands() == ALL
    assert dialog.bandRangeEdit.text() == "1-200"
    assert dialog.bandStatusLabel.text() == "200 of 200 bands checked"


def test_range_entry_checks_exactly_the_bands_typed(
    open_dialog: Callable[[], LandCoverDialog], rasters: Any
) -> None:
    dialog = open_dialog()
    show_raster(dialog, rasters[0])
    dialog.bandRangeEdit.setFocus()
    dialog.bandRangeEdit.selectAll()

    QTest.keyClicks(dialog.bandRangeEdit, "200-1")  # typing: prefixes never apply
    assert dialog.form.checked_bands() == ALL  # not band 200 alone, typed on the way
    assert "runs backwards" in dialog.bandStatusLabel.text()
    dialog.bandRangeEdit.selectAll()
    QTest.keyClicks(dialog.bandRangeEdit, "1-7, 9")
    assert dialog.form.checked_bands() == ALL and "Press Enter" in dialog.bandStatusLabel.text()
    QTest.keyClick(dialog.bandRangeEdit, Qt.Key.Key_Return)

    assert dialog.form.checked_bands() == (1, 2, 3, 4, 5, 6, 7, 9)
    assert dialog.bandStatusLabel.text() == "8 of 200 bands checked"
    # clicking an item rewrites the entry as compact ranges
    item = dialog.bandList.item(7)
    item.setCheckState(Qt.CheckState.Checked)
    assert dialog.bandRangeEdit.text() == "1-9"
    assert ranges_text((12, 3, 1, 2, 10, 11)) == "1-3, 10-12"


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("1-7, 250", "Band 250 is not in this raster: it has bands 1 to 200."),
        ("9-3", "Band range '9-3' in '9-3' runs backwards"),  # the core parser's sentence
        ("one", "Cannot read band list 'one'"),
        ("1 2", "Put a comma between band numbers in '1 2'"),
    ],
)
def test_a_bad_range_gives_a_sentence_and_leaves_the_checks(
    open_dialog: Callable[[], LandCoverDialog], rasters: Any, text: str, sentence: str
) -> None:
    dialog = open_dialog()
    show_raster(dialog, rasters[0])
    type_range(dialog, "1-7, 9")
    assert dialog.form.checked_bands() == (1, 2, 3, 4, 5, 6, 7, 9)

    type_range(dialog, text)

    assert dialog.form.checked_bands() == (1, 2, 3, 4, 5, 6, 7, 9)
    assert sentence in dialog.bandStatusLabel.text().replace("&#x27;", "'")
    assert sentence in dialog.bandRangeEdit.toolTip()
    assert dialog.bandRangeEdit.text() == text  # the user's text stays, to be corrected
    type_range(dialog, "1-3")
    assert dialog.form.checked_bands() == (1, 2, 3)
    assert dialog.bandStatusLabel.text() == "3 of 200 bands checked"


def test_toggling_one_of_five_selected_rows_toggles_all_five(
    open_dialog: Callable[[], LandCoverDialog], rasters: Any
) -> None:
    dialog = open_dialog()
    show_raster(dialog, rasters[0])
    dialog.bandsNoneButton.click()
    view = dialog.bandList
    viewport = view.viewport()

    def click(row: int, on_box: bool = False, shift: bool = False) -> None:
        where = (
            check_box_centre(view, row) if on_box else view.visualItemRect(view.item(row)).center()
        )
        modifier = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, modifier, where)

    def selected() -> list[int]:
        return sorted(view.row(item) for item in view.selectedItems())

    click(3, on_box=True)  # one row, not selected before: that row alone
    assert dialog.form.checked_bands() == (4,)
    click(7)
    click(3, shift=True)  # shift-click on the text: rows 3-7 selected, the current one checked
    assert selected() == [3, 4, 5, 6, 7]
    assert dialog.form.checked_bands() == (4,)

    # Space checks the five (not all checked), then unchecks them (all checked)
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Space)
    assert dialog.form.checked_bands() == (4, 5, 6, 7, 8)
    QTest.keyClick(view, Qt.Key.Key_Space)
    assert dialog.form.checked_bands() == ()
    assert selected() == [3, 4, 5, 6, 7]

    # a click on the check box of one selected row checks the five; they stay selected
    click(5, on_box=True)
    assert dialog.form.checked_bands() == (4, 5, 6, 7, 8)
    assert selected() == [3, 4, 5, 6, 7]
    assert dialog.bandRangeEdit.text() == "4-8"

    # a click on an unselected row's box toggles that row alone
    click(0, on_box=True)
    assert dialog.form.checked_bands() == (1, 4, 5, 6, 7, 8)


def test_at_least_twelve_rows_are_in_view(
    open_dialog: Callable[[], LandCoverDialog], rasters: Any
) -> None:
    dialog = open_dialog()
    show_raster(dialog, rasters[0])
    QCoreApplication.processEvents()  # the scroll area lays its panel out
    view = dialog.bandList
    area = view.viewport().rect()
    in_view = [
        row for row in range(view.count()) if area.contains(view.visualItemRect(view.item(row)))
    ]
    assert in_view[0] == 0
    assert len(in_view) >= VISIBLE_ROWS >= 12, f"{len(in_view)} rows in view"


def test_the_choice_is_remembered_per_raster(
    open_dialog: Callable[[], LandCoverDialog], rasters: Any
) -> None:
    raster_a, raster_b = rasters
    first = open_dialog()
    show_raster(first, raster_a)
    type_range(first, "1-7, 9")
    show_raster(first, raster_b)
    assert first.form.checked_bands() == ALL  # raster b: nothing remembered yet
    first.bandsNoneButton.click()
    show_raster(first, raster_a)
    assert first.form.checked_bands() == (1, 2, 3, 4, 5, 6, 7, 9)
    assert first.bandRangeEdit.text() == "1-7, 9"

    second = open_dialog()
    show_raster(second, raster_b)
    assert second.form.checked_bands() == ()
    show_raster(second, raster_a)
    assert second.form.checked_bands() == (1, 2, 3, 4, 5, 6, 7, 9)

    # a choice made when the raster had another number of bands is not restored
    settings.remember_bands(raster_b.source(), 199, "1-3")
    show_raster(second, raster_b)
    assert second.form.checked_bands() == ALL


def test_a_band_named_like_a_mask_starts_unchecked(
    open_dialog: Callable[[], LandCoverDialog], tmp_path: Path, qgis_new_project: None
) -> None:
    path = write_raster(tmp_path / "scene.tif", ["blue", "green", "cloud mask", "pixel_qa"])
    layer = QgsRasterLayer(str(path), "scene")
    QgsProject.instance().addMapLayer(layer)
    dialog = open_dialog()
    show_raster(dialog, layer)

    assert dialog.form.checked_bands() == (1, 2)
    assert dialog.bandList.item(2).text() == "3: cloud mask"
    assert "mask or quality band" in dialog.bandList.item(2).toolTip()
    assert dialog.bandList.item(0).toolTip() == ""
    # once the user checks it, that choice is remembered for this raster
    dialog.bandList.item(2).setCheckState(Qt.CheckState.Checked)
    again = open_dialog()
    show_raster(again, layer)
    assert again.form.checked_bands() == (1, 2, 3)


def test_the_landsat_fmask_band_starts_unchecked(
    open_dialog: Callable[[], LandCoverDialog], landsat7: Any, qgis_new_project: None
) -> None:
    """Issue 13 item 6: band 8 of the Landsat 7 stack is an Fmask cloud mask with no name that
    says so; its nodata (255) differs from the reflectance bands' (-9999)."""
    dialog = open_dialog()
    layer = QgsRasterLayer(str(landsat7.raster), "landsat 1999")  # band 8: no description
    QgsProject.instance().addMapLayer(layer)
    show_raster(dialog, layer)
    assert dialog.form.checked_bands() == (1, 2, 3, 4, 5, 6, 7)
    assert "nodata value (255) differs" in dialog.bandList.item(7).toolTip()
    assert dialog.bandList.item(0).toolTip() == ""


@pytest.mark.parametrize(
    ("nodata", "odd"),
    [([-9999.0] * 7 + [255.0], {8}), ([None] * 5 + [0.0], {6}), ([0.0, 255.0], set()),
     ([None, 1.0, 2.0, 3.0], set()), ([float("nan")] * 3 + [None], set()), ([None] * 4, set())],
)  # fmt: skip
def test_odd_nodata_bands(nodata: list[float | None], odd: set[int]) -> None:
    assert odd_nodata_bands(nodata) == odd


@pytest.mark.parametrize(
    "name",
    ["cloud mask", "Fmask", "pixel_qa", "QA_PIXEL", "BQA", "SCL", "QA60", "Quality", "MSK_CLDPRB",
     "Clouds"],
)  # fmt: skip
def test_mask_and_quality_names(name: str) -> None:
    assert looks_like_mask(name)


@pytest.mark.parametrize(
    "name", ["band 1 reflectance", "Band 8", "aqua", "red edge", "SWIR 1", "B10", "scale"]
)
def test_measurement_names(name: str) -> None:
    assert not looks_like_mask(name)
