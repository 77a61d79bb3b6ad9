"""Land-cover classes: value, name and colour, and the mapping from a polygon field."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import LandCoverError

# A distinct default palette (colour-blind friendly first, then extras).
DEFAULT_PALETTE = (
    "#1f77b4",
    "#2ca02c",
    "#ff7f0e",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#98df8a",
    "#ffbb78",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#dbdb8d",
    "#9edae5",
    "#393b79",
)

# Colours users expect for common land-cover names (matched as whole words, any language mix).
_NAMED_COLOURS = (
    (r"water|river|lake|sea|ocean", "#2b83ba"),
    (r"forest|wood|tree", "#1a7a33"),
    (r"grass|meadow|pasture|herb", "#8fd16a"),
    (r"crop|agri|field|corn|soy|wheat", "#f1c232"),
    (r"bare|soil|barren|sand|rock", "#b5835a"),
    (r"urban|built|building|settlement|road|impervious", "#d7191c"),
    (r"cloud|snow|ice", "#f0f0f0"),
    (r"shadow", "#404040"),
)

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class ClassInfo:
    """One land-cover class.

    Attributes:
        value: pixel value in the class raster.
        name: display name.
        colour: "#rrggbb".
    """

    value: int
    name: str
    colour: str


def default_colour(name: str, index: int, used: Iterable[str] = ()) -> str:
    """A colour for a class: a conventional one when the name says what it is, else the palette."""
    taken = {c.lower() for c in used}
    lowered = name.lower()
    for pattern, colour in _NAMED_COLOURS:
        if re.search(pattern, lowered) and colour.lower() not in taken:
            return colour
    free = [c for c in DEFAULT_PALETTE if c.lower() not in taken]
    pool = free or list(DEFAULT_PALETTE)
    return pool[index % len(pool)]


def valid_colour(text: object) -> str | None:
    """Return ``text`` when it is a '#rrggbb' colour, else None."""
    if isinstance(text, str) and _HEX.match(text.strip()):
        return text.strip().lower()
    return None


def build_classes(
    raw_values: Iterable[object],
    is_text: bool,
    colours: Mapping[object, str] | None = None,
) -> tuple[tuple[ClassInfo, ...], dict[object, int]]:
    """Turn the distinct values of a class field into classes.

    Text classes are sorted by name and numbered 1..N; integer classes keep their value and
    are named by it.

    Args:
        raw_values: the field values seen (NULLs already removed).
        is_text: whether the field is text.
        colours: optional colour per raw value (e.g. from a colour field or symbology).

    Returns:
        ``(classes, index_of)``: the classes in value order and the class index of each raw
        value.
    """
    values = set(raw_values)
    distinct: list[Any] = (
        sorted(values, key=lambda v: (str(v).lower(), str(v))) if is_text else sorted(values)
    )
    if not distinct:
        raise LandCoverError("The class field has no values: every polygon needs a class.")
    if is_text:
        pairs = [(i + 1, str(v)) for i, v in enumerate(distinct)]
    else:
        bad = [v for v in distinct if not 0 <= int(v) <= 65534]
        if bad:
            raise LandCoverError(
                f"Class values must be whole numbers from 0 to 65534; found {bad[:5]}."
            )
        pairs = [(int(v), str(v)) for v in distinct]
    colours = colours or {}
    classes: list[ClassInfo] = []
    for index, ((value, name), raw) in enumerate(zip(pairs, distinct)):
        colour = valid_colour(colours.get(raw)) or default_colour(
            name, index, (c.colour for c in classes)
        )
        classes.append(ClassInfo(value=value, name=name, colour=colour))
    return tuple(classes), {raw: i for i, raw in enumerate(distinct)}


def output_encoding(classes: Iterable[ClassInfo]) -> tuple[str, int]:
    """GDAL type name and nodata value for a class raster holding these class values."""
    values = [c.value for c in classes]
    nodata = 0 if 0 not in values else None
    if max(values) <= 254 or (nodata == 0 and max(values) <= 255):
        return "Byte", (0 if nodata == 0 else 255)
    return "UInt16", (0 if nodata == 0 else 65535)


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """'#rrggbb' -> (r, g, b)."""
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
