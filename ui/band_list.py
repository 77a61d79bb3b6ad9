"""The dialog's band list: one checkable row per band of the raster.

With All and None buttons, a range entry ("1-7, 9"), toggling of a whole selection, mask and
quality bands left unchecked, and the choice remembered per raster
(:func:`.settings.remember_bands`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from qgis.core import QgsRasterLayer
from qgis.PyQt.QtCore import QEvent, QObject, Qt
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
)

from ..core.errors import LandCoverError
from ..core.raster import parse_bands
from . import settings

#: Band names (descriptions) of masks and quality flags rather than measurements: a whole
#: word, case-insensitive, where "_" and digits separate words ("pixel_qa", "QA_PIXEL",
#: "QA60", "BQA", Sentinel-2's "SCL" and "MSK_CLDPRB", "Fmask", "cloud mask", "quality").
#: Such a band starts unchecked when no choice is remembered for the raster.
MASK_NAME = re.compile(
    r"(?<![a-z])(?:[a-z]*mask(?:s|ed)?|msk|clouds?|qa|bqa|scl|quality)(?![a-z])",
    re.IGNORECASE,
)

#: Rows the list shows without scrolling (the .ui's minimum height is raised to fit them).
VISIBLE_ROWS = 12
_ERROR_COLOUR = "#b00020"
_CHECKED, _UNCHECKED = Qt.CheckState.Checked, Qt.CheckState.Unchecked
_BAND = Qt.ItemDataRole.UserRole


def _nodata_text(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def looks_like_mask(name: str) -> bool:
    """True when a band's name reads like a mask or quality band (see :data:`MASK_NAME`)."""
    return MASK_NAME.search(name) is not None


def odd_nodata_bands(nodata: Sequence[float | None]) -> set[int]:
    """Band numbers whose nodata value differs from the one most bands share.

    A mask or quality band appended to a stack of measurements usually keeps its own nodata
    (the Landsat 7 stack of ``../shared/data``: -9999 on the 7 reflectance bands, 255 on the
    Fmask band, whose name says nothing). Only when at least 3 bands are given and more than
    half share one value (None = no nodata); otherwise nothing is odd.

    Args:
        nodata: each band's nodata value in band order (None when the band has none).
    """
    if len(nodata) < 3:
        return set()
    values = [None if v is None or v != v else float(v) for v in nodata]  # NaN as "none"
    common = max(set(values), key=values.count)
    if values.count(common) * 2 <= len(values):
        return set()
    return {band for band, value in enumerate(values, start=1) if value != common}


def ranges_text(bands: Iterable[int]) -> str:
    """Band numbers as compact ranges: (1, 2, 3, 4, 5, 6, 7, 9) -> "1-7, 9" ("" for none).

    Sorted, each band once; :func:`read_ranges` reads it back.
    """
    runs: list[list[int]] = []
    for band in sorted(set(bands)):
        if runs and band == runs[-1][1] + 1:
            runs[-1][1] = band
        else:
            runs.append([band, band])
    return ", ".join(f"{lo}-{hi}" if hi > lo else str(lo) for lo, hi in runs)


def read_ranges(text: str, band_count: int) -> tuple[int, ...]:
    """The band numbers of a range text such as "1-7, 9", read by the core's parser.

    The parser is :func:`~landcover_mlp.core.raster.parse_bands`.

    Args:
        text: comma-separated band numbers and low-high ranges.
        band_count: the raster's number of bands (bands are numbered 1 to band_count).

    Returns:
        The bands in the order written (a repeated band is kept: the list checks a set).

    Raises:
        LandCoverError: text the parser refuses, band numbers written without a comma between
            them, nothing written, or a band the raster does not have (the message says what
            to write).
    """
    if re.search(r"\d\s+\d", text):  # the core's parser drops spaces: "1 2" would read 12
        raise LandCoverError(f"Put a comma between band numbers in '{text}', as in 1-7, 9.")
    bands = parse_bands(text)
    if bands is None:
        raise LandCoverError("Write the bands to check, as in 1-7, 9.")
    outside = sorted({b for b in bands if not 1 <= b <= band_count})
    if outside:
        listed = ", ".join(map(str, outside[:5])) + (", ..." if len(outside) > 5 else "")
        has = f"bands 1 to {band_count}" if band_count else "no bands (choose a raster)"
        raise LandCoverError(f"Band {listed} is not in this raster: it has {has}.")
    return bands


class BandList(QObject):
    """Controls the band list widget and its All / None buttons, range entry and status label.

    - All / None check every band / no band.
    - The range entry checks exactly the bands typed ("1-7, 9") as they are typed; text it
      cannot read leaves the checks alone and its sentence shows in red below the list and in
      the entry's tooltip. Clicking items rewrites the entry as compact ranges.
    - Checking or unchecking one of several selected rows does the same to every selected row;
      Space checks every selected row (unchecks them when all are checked).
    - A raster's choice is remembered under its source (see :func:`.settings.remember_bands`)
      and restored when it is shown again with the same number of bands; otherwise every band
      is checked except those named like masks (:func:`looks_like_mask`).

    Attributes:
        view: the list widget (one checkable item per band, its band number as user data).
    """

    def __init__(
        self,
        view: QListWidget,
        range_edit: QLineEdit,
        all_button: QPushButton,
        none_button: QPushButton,
        status_label: QLabel,
    ) -> None:
        """Control ``view`` with its range entry, All and None buttons and status label."""
        super().__init__(view)
        self.view = view
        self._edit = range_edit
        self._status = status_label
        self._edit_tip = range_edit.toolTip()
        self._source = ""
        self._count = 0
        self._quiet_depth = 0
        self._keep_selection: list[int] | None = None
        self._problem: str | None = None
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setUniformItemSizes(True)
        view.itemChanged.connect(self._on_item_changed)
        view.itemSelectionChanged.connect(self._on_selection_changed)
        view.installEventFilter(self)
        view.viewport().installEventFilter(self)
        range_edit.textEdited.connect(self._on_text_edited)
        range_edit.editingFinished.connect(self._on_editing_finished)
        all_button.clicked.connect(lambda: self.set_checked(range(1, self._count + 1)))
        none_button.clicked.connect(lambda: self.set_checked(()))

    # -- public ------------------------------------------------------------------------------
    def fill(self, layer: object) -> None:
        """One checkable item per band of ``layer``, "1: <description>".

        The remembered choice for this raster, else every band but those named like masks or
        with a nodata value of their own, is checked. Anything but a readable raster layer
        leaves the list empty.
        """
        self._keep_selection = None
        with self._quiet():
            self.view.clear()
        self._source, self._count, self._problem = "", 0, None
        if not isinstance(layer, QgsRasterLayer) or layer.dataProvider() is None:
            self._changed(save=False)
            return
        provider = layer.dataProvider()
        count = layer.bandCount()
        chosen = self._remembered(layer.source(), count)
        nodata = [
            provider.sourceNoDataValue(b) if provider.sourceHasNoDataValue(b) else None
            for b in range(1, count + 1)
        ]
        odd = odd_nodata_bands(nodata)
        with self._quiet():
            for band in range(1, count + 1):
                name = re.sub(rf"^Band 0*{band}:?\s*", "", provider.generateBandName(band))
                item = QListWidgetItem(f"{band}: {name or f'Band {band}'}")
                item.setData(_BAND, band)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                mask = looks_like_mask(name) or band in odd
                if looks_like_mask(name):
                    item.setToolTip(
                        f"Band {band} is named like a mask or quality band, not a measurement: "
                        "it starts unchecked. Check it to use it as a feature."
                    )
                elif mask:
                    item.setToolTip(
                        f"Band {band}'s nodata value ({_nodata_text(nodata[band - 1])}) differs "
                        "from the other bands': it looks like a mask appended to the stack and "
                        "starts unchecked. Check it to use it as a feature."
                    )
                on = band in chosen if chosen is not None else not mask
                item.setCheckState(_CHECKED if on else _UNCHECKED)
                self.view.addItem(item)
        self._source, self._count = layer.source(), count
        self._fit_rows()
        self._changed(save=False)

    def checked(self) -> tuple[int, ...]:
        """Band numbers checked in the list, in band order."""
        return tuple(item.data(_BAND) for item in self._items() if item.checkState() == _CHECKED)

    def set_checked(self, bands: Iterable[int]) -> None:
        """Check exactly ``bands`` and remember the choice for the raster.

        ``bands`` are band numbers; others in it are ignored.
        """
        self._apply(set(bands), range(self.view.count()))
        self._changed(save=True)

    # -- Qt ----------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt virtual
        """Space toggles the selected rows; a new click or key forgets a kept selection."""
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress:
            self._keep_selection = None
        elif kind == QEvent.Type.KeyPress and watched is self.view:
            self._keep_selection = None
            if (
                event.key() == Qt.Key.Key_Space
                and event.modifiers() == Qt.KeyboardModifier.NoModifier
            ):
                return self._toggle_selection()
        return False

    # -- internals ---------------------------------------------------------------------------
    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Changes made here are the controller's own: no toggling of the selection."""
        self._quiet_depth += 1
        try:
            yield
        finally:
            self._quiet_depth -= 1

    def _items(self) -> Iterator[QListWidgetItem]:
        return (self.view.item(i) for i in range(self.view.count()))

    def _apply(self, bands: set[int], rows: Iterable[int]) -> None:
        with self._quiet():
            for row in rows:
                item = self.view.item(row)
                state = _CHECKED if item.data(_BAND) in bands else _UNCHECKED
                if item.checkState() != state:
                    item.setCheckState(state)

    def _remembered(self, source: str, count: int) -> set[int] | None:
        text = settings.remembered_bands(source, count)
        if text is None:
            return None
        if not text:
            return set()
        try:
            return set(read_ranges(text, count))
        except LandCoverError:  # edited by hand or by another version: use the default
            return None

    def _selected_rows(self) -> list[int]:
        return sorted(self.view.row(item) for item in self.view.selectedItems())

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._quiet_depth:
            return
        rows = self._selected_rows()
        if item.isSelected() and len(rows) > 1:
            with self._quiet():
                for row in rows:
                    self.view.item(row).setCheckState(item.checkState())
            # a click on a selected row's box is handled before the view selects that row
            # alone; _on_selection_changed puts the selection back
            self._keep_selection = rows
        self._changed(save=True)

    def _on_selection_changed(self) -> None:
        rows, self._keep_selection = self._keep_selection, None
        if rows and self._selected_rows() != rows:
            for row in rows:
                if row < self.view.count():
                    self.view.item(row).setSelected(True)

    def _toggle_selection(self) -> bool:
        rows = self._selected_rows()
        if not rows:
            return False
        items = [self.view.item(row) for row in rows]
        state = _UNCHECKED if all(it.checkState() == _CHECKED for it in items) else _CHECKED
        with self._quiet():
            for item in items:
                item.setCheckState(state)
        self._changed(save=True)
        return True

    def _on_text_edited(self, text: str) -> None:
        """While typing, only say whether the text reads; Enter or leaving the entry applies it.

        A prefix such as "200" of "200-1" must not check band 200 alone.
        """
        if not text.strip():  # nothing typed yet: the checks stay
            self._show(None)
            return
        try:
            read_ranges(text, self._count)
        except LandCoverError as exc:
            self._show(str(exc))
            return
        self._show(None)
        self._status.setText("Press Enter to check these bands.")

    def _on_editing_finished(self) -> None:
        """Enter or leaving the entry: check exactly the bands typed.

        A text that does not read leaves the checks as they were and says why.
        """
        text = self._edit.text()
        if not text.strip():
            self._changed(save=False)
            return
        try:
            bands = read_ranges(text, self._count)
        except LandCoverError as exc:
            self._show(str(exc))
            return
        self._apply(set(bands), range(self.view.count()))
        self._changed(save=True, from_entry=True)
        self._edit.setText(ranges_text(self.checked()))

    def _changed(self, save: bool, from_entry: bool = False) -> None:
        """After the checks changed: the entry (unless typed in), the status and the memory."""
        bands = self.checked()
        if not from_entry:
            self._edit.setText(ranges_text(bands))
        self._show(None)
        if save and self._source:
            settings.remember_bands(self._source, self._count, ranges_text(bands))

    def _show(self, problem: str | None) -> None:
        """The entry's refusal in red (and as its tooltip), else how many bands are checked."""
        self._problem = problem
        if problem:
            self._status.setText(
                f"<span style='color:{_ERROR_COLOUR}'>{html.escape(problem)}</span>"
            )
            self._edit.setToolTip(problem)
            return
        self._edit.setToolTip(self._edit_tip)
        self._status.setText(
            f"{len(self.checked())} of {self._count} bands checked" if self._count else ""
        )

    def _fit_rows(self) -> None:
        """Raise the list's minimum height to show :data:`VISIBLE_ROWS` rows."""
        view = self.view
        row = view.sizeHintForRow(0) if view.count() else view.fontMetrics().height()
        height = (
            VISIBLE_ROWS * row
            + 2 * view.frameWidth()
            + view.horizontalScrollBar().sizeHint().height()
        )
        view.setMinimumHeight(max(view.minimumHeight(), height))
