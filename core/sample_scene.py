"""Seeded recipe for a synthetic Sentinel-2-like land-cover scene.

The scene is built in three steps: a label map (warped Voronoi landscape, a field grid, towns,
roads, a meandering river and lakes), a spectral image synthesised from that map (per-class
endmember mixtures, per-patch offsets, smooth texture, a sensor point-spread blur that mixes
pixels along class boundaries, and sensor noise), and digitised training and validation
polygons placed inside class patches. Only numpy and GDAL/OGR are used, so the recipe runs in
headless tests, benchmarks and the demo alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from osgeo import gdal, ogr, osr

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Circle = tuple[float, float, float]  # centre col, centre row, radius (pixels)


@dataclass(frozen=True)
class SceneClass:
    """One land-cover class of the sample scene.

    Attributes:
        value: Class value in the reference raster and the ``class_id`` field.
        name: Class name, as written to the ``class_name`` field.
        colour: Display colour as ``#rrggbb``.
    """

    value: int
    name: str
    colour: str


CLASSES: tuple[SceneClass, ...] = (
    SceneClass(1, "water", "#1f78b4"),
    SceneClass(2, "forest", "#1b7837"),
    SceneClass(3, "grassland", "#a6d96a"),
    SceneClass(4, "cropland", "#f1c232"),
    SceneClass(5, "bare_soil", "#b07d4f"),
    SceneClass(6, "built_up", "#e31a1c"),
)


@dataclass(frozen=True)
class SampleScene:
    """Paths and metadata of a generated sample scene.

    Attributes:
        raster: Six-band UInt16 reflectance GeoTIFF (reflectance x 10000, nodata 0).
        polygons: GeoPackage with the training polygons in layer ``training``.
        validation_polygons: GeoPackage with the validation polygons in layer ``validation``.
        reference: Byte GeoTIFF with the true class of every pixel (nodata 0).
        class_field: Name of the polygon field that holds the class name.
        classes: The classes of the scene.
    """

    raster: Path
    polygons: Path
    validation_polygons: Path
    reference: Path
    class_field: str
    classes: tuple[SceneClass, ...]


BAND_DESCRIPTIONS: tuple[str, ...] = (
    "B2 blue 490nm",
    "B3 green 560nm",
    "B4 red 665nm",
    "B8 NIR 842nm",
    "B11 SWIR1 1610nm",
    "B12 SWIR2 2190nm",
)
WAVELENGTHS_NM: tuple[int, ...] = (490, 560, 665, 842, 1610, 2190)
EPSG = 32633
PIXEL_SIZE = 10.0
ORIGIN = (448_000.0, 5_412_000.0)  # UTM 33N, about 48.8 N 14.3 E (southern Bohemia)
REFLECTANCE_SCALE = 10_000
MIN_SIZE = 120
_ATTEMPTS = 20

_GTIFF_OPTIONS = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE"]


# Endmember reflectances x 1000 (B2 B3 B4 B8 B11 B12), typical Sentinel-2 L2A values.
_PURE = {
    "water": (40, 36, 22, 13, 7, 4),  # clear, deep
    "forest": (20, 38, 21, 270, 130, 60),  # dense conifer
    "grassland": (34, 68, 45, 370, 215, 105),  # green meadow
    "cropland": (28, 72, 34, 440, 200, 90),  # full-cover green crop
    "bare_soil": (95, 125, 165, 245, 335, 295),  # dry bright soil, quarry
    "built_up": (110, 120, 135, 185, 245, 225),  # concrete, grey roofs
}
_ALT = {
    "water": (62, 72, 52, 32, 12, 7),  # turbid, shallow
    "forest": (30, 56, 32, 360, 175, 85),  # broadleaf
    "grassland": (60, 85, 92, 280, 300, 200),  # dry grass
    "cropland": (55, 74, 96, 160, 225, 175),  # tilled moist soil
    "bare_soil": (80, 105, 135, 210, 295, 255),  # darker soil
    "built_up": (85, 100, 140, 200, 280, 250),  # red tile roofs (soil-like: the hard pair)
}
# Per-patch uniform draw -> fraction of the alternative endmember (np.interp knots), and the
# amplitude of its smooth within-patch texture. Cropland fields range from green to bare.
_MIXING = {
    "water": (((0, 1), (0, 0.6)), 0.1),
    "forest": (((0, 1), (0, 1)), 0.25),
    "grassland": (((0, 1), (0, 0.5)), 0.15),
    "cropland": (((0, 0.65, 0.9, 1), (0, 0.18, 0.55, 0.85)), 0.08),
    "bare_soil": (((0, 1), (0, 1)), 0.2),
    "built_up": (((0, 1), (0, 0.8)), 0.25),
}
_WATER, _FOREST, _GRASS, _CROP, _BARE, _BUILT = (cls.value for cls in CLASSES)


def generate_sample_scene(
    out_dir: str | Path, seed: int = 7, width: int = 400, height: int = 300
) -> SampleScene:
    """Generate the sample scene into ``out_dir``.

    The same seed and size always give byte-identical raster arrays and identical polygon
    coordinates. Existing files of the same names in ``out_dir`` are replaced.

    Args:
        out_dir: Folder for the four output files; created when missing.
        seed: Non-negative seed of every random draw.
        width: Raster width in pixels (10 m each).
        height: Raster height in pixels.

    Returns:
        The paths of the written files and the class list.

    Raises:
        ValueError: If the scene is smaller than ``MIN_SIZE`` pixels on a side.
        RuntimeError: If, even after redrawing, too few polygons fit into some class.
        OSError: If GDAL cannot write a file.
    """
    if width < MIN_SIZE or height < MIN_SIZE:
        raise ValueError(f"width and height must be at least {MIN_SIZE} pixels")
    for attempt in range(_ATTEMPTS):  # redraw (deterministically) if a class has no room
        rng_layout, rng_image, rng_polygons = (
            np.random.default_rng(s) for s in np.random.SeedSequence([seed, attempt]).spawn(3)
        )
        labels, patches = _layout(rng_layout, height, width)
        polygons = _place_polygons(rng_polygons, labels, patches)
        if polygons is not None:
            break
    else:
        raise RuntimeError(f"no room for the polygons of every class in {width}x{height} pixels")
    image = _synthesise(rng_image, labels, patches)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scene = SampleScene(
        raster=out / "sample_scene.tif",
        polygons=out / "training_polygons.gpkg",
        validation_polygons=out / "validation_polygons.gpkg",
        reference=out / "sample_reference.tif",
        class_field="class_name",
        classes=CLASSES,
    )
    _write_image(scene.raster, image, seed)
    _write_reference(scene.reference, labels)
    _write_polygons(scene.polygons, "training", polygons[0])
    _write_polygons(scene.validation_polygons, "validation", polygons[1])
    return scene


def _blur(array: FloatArray, sigma: float, pad: int = 0) -> FloatArray:
    """Gaussian blur via FFT; ``pad`` reflect-pads first so edges do not wrap around."""
    if pad:
        array = np.pad(array, pad, mode="reflect")
    fy = np.fft.fftfreq(array.shape[0], 1.0)[:, None]
    fx = np.fft.rfftfreq(array.shape[1], 1.0)[None, :]
    kernel = np.exp(-2.0 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))
    out = np.fft.irfft2(np.fft.rfft2(array) * kernel, s=array.shape)
    return out[pad : out.shape[0] - pad, pad : out.shape[1] - pad] if pad else out


def _field(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> FloatArray:
    """Smooth random field with zero mean and unit standard deviation (periodic edges)."""
    smooth = _blur(rng.standard_normal(shape), sigma)
    normalised: FloatArray = (smooth - smooth.mean()) / smooth.std()
    return normalised


def _layout(rng: np.random.Generator, height: int, width: int) -> tuple[IntArray, IntArray]:
    """Draw the land-cover map and a map of patch ids (one id per field, block, cell, lake)."""
    shape = (height, width)
    size = float(min(height, width))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    elevation = _field(rng, shape, 0.18 * size)
    zone = elevation < np.quantile(elevation, 0.38)  # lowland: fields
    river_y, river_half = _river(rng, xx, height, width)
    town_x = rng.uniform(0.3, 0.65) * width
    town_y = float(np.interp(town_x, xx[0], river_y[0])) + rng.uniform(-0.03, 0.03) * size
    town = (town_x, town_y, max(0.13 * size, 20.0))

    # Natural background: Voronoi cells warped by smooth noise, forest on the higher ground.
    n_cells = max(16, round(56 * height * width / 120_000))
    seeds: npt.NDArray[np.float64] = np.asarray(
        rng.uniform((0.0, 0.0), (width, height), size=(n_cells, 2)), dtype=np.float64
    )
    warp = [0.07 * size * _field(rng, shape, 0.1 * size) + 1.5 * _field(rng, shape, 2.0)]
    warp.append(0.07 * size * _field(rng, shape, 0.1 * size) + 1.5 * _field(rng, shape, 2.0))
    best = np.full(shape, np.inf)
    patches = np.zeros(shape, np.int64)
    for i in range(n_cells):
        sx, sy = float(seeds[i, 0]), float(seeds[i, 1])
        dist = (xx + warp[0] - sx) ** 2 + (yy + warp[1] - sy) ** 2
        closer = dist < best
        best[closer], patches[closer] = dist[closer], i
    col, row = seeds.astype(int).T
    p_forest = np.where(elevation[row, col] > 0.2, 0.75, 0.25)
    cell_class = np.where(rng.uniform(size=n_cells) < p_forest, _FOREST, _GRASS)
    upland = np.flatnonzero(~zone[row, col])
    pool = upland if upland.size >= 4 else np.arange(n_cells)
    cell_class[rng.choice(pool, size=max(3, round(0.12 * n_cells)), replace=False)] = _BARE
    labels = cell_class[patches]

    # Fields: strips of irregular width in a slightly rotated grid, cut at staggered lengths.
    theta = rng.uniform(-0.35, 0.35)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    strip = _cut(rng, u, 14.0, 32.0)
    field = np.zeros(shape, np.int64)
    for s in np.unique(strip):
        in_strip = strip == s
        field[in_strip] = s * 1000 + _cut(rng, v[in_strip], 10.0, 26.0)
    ids, inverse = np.unique(field, return_inverse=True)
    inverse = inverse.reshape(shape)
    in_zone = np.bincount(inverse.ravel(), weights=zone.ravel()) / np.bincount(inverse.ravel())
    field_class = np.where(rng.uniform(size=ids.size) < 0.82, _CROP, _GRASS)
    agri = (in_zone > 0.5)[inverse]
    labels[agri] = field_class[inverse][agri]
    patches[agri] = 10_000 + inverse[agri]

    # Settlements: a town with parks and building sites on the river, two villages, roads.
    next_id = 100_000
    villages = [(rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height, 0.05 * size)]
    villages.append((rng.uniform(0.1, 0.6) * width, rng.uniform(0.5, 0.9) * height, 0.045 * size))
    villages = [(x, y, max(r, 9.0)) for x, y, r in villages]
    settlements = [town, *villages]
    for k, (cx, cy, radius) in enumerate(settlements):
        angle = rng.uniform(0, 2 * np.pi)
        road = np.abs((xx - cx) * np.sin(angle) - (yy - cy) * np.cos(angle)) < 0.7
        road &= (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle) > 0
        labels[road], patches[road] = _BUILT, next_id
        phi = np.arctan2(yy - cy, xx - cx)
        edge = radius * (
            1 + sum(rng.uniform(0, 0.12) * np.cos(h * phi + rng.uniform(0, 7)) for h in (2, 3, 5))
        )
        inside = np.hypot(xx - cx, yy - cy) < edge
        pitch = rng.uniform(8.0, 12.0)
        bu, bv = np.floor(u / pitch), np.floor(v / pitch)
        street = (u % pitch < 1.5) | (v % pitch < 1.5)
        local = ((bu - bu.min()) * 1000 + bv - bv.min()).astype(np.int64)
        kinds = rng.choice([_BUILT, _GRASS, _BARE], size=int(local.max()) + 1, p=[0.84, 0.1, 0.06])
        kind = np.where(street, _BUILT, kinds[local] if k == 0 else _BUILT)  # parks: town only
        block = next_id + 1 + local
        labels[inside], patches[inside] = kind[inside], np.where(street, next_id, block)[inside]
        next_id = int(block.max()) + 1

    # Water last: the river, a lake and a pond (they may join, as real ones do).
    water = np.abs(yy - river_y) < river_half
    labels[water], patches[water] = _WATER, next_id
    for j, radius in enumerate((max(rng.uniform(0.09, 0.12) * size, 16.0), max(0.05 * size, 9.0))):
        water, lake = _lake(rng, xx, yy, radius, settlements)
        labels[water], patches[water] = _WATER, next_id + 1 + j
        settlements.append(lake)

    nodata = (width - xx) / (0.24 * width) + yy / (0.36 * height) < 1.0  # swath edge
    labels[nodata], patches[nodata] = 0, -1
    return labels, patches


def _cut(rng: np.random.Generator, coord: FloatArray, low: float, high: float) -> IntArray:
    """Index of the interval of irregular width (``low``..``high``) that holds each coord."""
    start = coord.min() - rng.uniform(0, high)
    widths = rng.uniform(low, high, size=int((coord.max() - start) / low) + 2)
    return np.searchsorted(start + np.cumsum(widths), coord).astype(np.int64)


def _river(
    rng: np.random.Generator, xx: FloatArray, height: int, width: int
) -> tuple[FloatArray, FloatArray]:
    """Centre line and half width (both per pixel) of a river meandering left to right."""
    x = xx[0]
    y0 = rng.uniform(0.35, 0.65) * height
    centre = y0 + 0.08 * height * np.sin(2 * np.pi * x / (0.6 * width) + rng.uniform(0, 7))
    centre += 0.02 * height * np.sin(2 * np.pi * x / (0.2 * width) + rng.uniform(0, 7))
    slope = np.gradient(centre)
    half = (3.0 + 0.8 * np.sin(2 * np.pi * x / (0.35 * width))) * np.sqrt(1 + slope**2)
    return np.broadcast_to(centre, xx.shape), np.broadcast_to(half, xx.shape)


def _lake(
    rng: np.random.Generator, xx: FloatArray, yy: FloatArray, radius: float, avoid: list[Circle]
) -> tuple[BoolArray, Circle]:
    """Mask and circle of a lake with a warped shore, away from ``avoid`` and the swath edge."""
    height, width = xx.shape
    for _ in range(100):
        cx, cy = rng.uniform(0.12, 0.7) * width, rng.uniform(0.15, 0.85) * height
        if all(np.hypot(cx - ax, cy - ay) > ar + radius + 3 for ax, ay, ar in avoid):
            break
    ratio, angle = rng.uniform(0.55, 0.9), rng.uniform(0, np.pi)
    du, dv = xx - cx, yy - cy
    a = (du * np.cos(angle) + dv * np.sin(angle)) / radius
    b = (-du * np.sin(angle) + dv * np.cos(angle)) / (radius * ratio)
    shore = 0.15 * _field(rng, xx.shape, max(radius / 3, 2.0))
    return np.hypot(a, b) + shore < 1.0, (cx, cy, radius)


def _synthesise(rng: np.random.Generator, labels: IntArray, patches: IntArray) -> FloatArray:
    """Reflectance image (bands, rows, cols) for a label map; 0 where the label is 0."""
    shape = labels.shape
    ids, inverse = np.unique(patches, return_inverse=True)
    inverse = inverse.reshape(shape)
    draw = rng.uniform(size=ids.size)
    brightness = 1 + 0.06 * rng.standard_normal(ids.size)
    tint = 1 + 0.03 * rng.standard_normal((ids.size, len(WAVELENGTHS_NM)))
    coarse, fine = _field(rng, shape, 4.0), _field(rng, shape, 1.0)
    illumination = 1 + 0.03 * _field(rng, shape, 30.0)
    grass = np.array(_PURE["grassland"]) / 1000

    pure = np.zeros((*shape, len(WAVELENGTHS_NM)))
    for cls in CLASSES:
        mask = labels == cls.value
        (knots, texture), patch = _MIXING[cls.name], inverse[mask]
        frac = np.clip(np.interp(draw[patch], *knots) + texture * coarse[mask], 0.0, 1.0)
        pure_end, alt_end = np.array(_PURE[cls.name]) / 1000, np.array(_ALT[cls.name]) / 1000
        spectra = (1 - frac[:, None]) * pure_end + frac[:, None] * alt_end
        if cls.name == "built_up":  # gardens and street trees at sub-pixel scale
            green = np.clip(0.12 + 0.1 * fine[mask], 0.0, 0.4)[:, None]
            spectra = (1 - green) * spectra + green * grass
        pure[mask] = spectra * brightness[patch][:, None] * tint[patch]
    pure *= illumination[..., None]

    # The sensor's point-spread function mixes neighbouring surfaces over 1-2 pixels.
    image = np.stack([_blur(pure[..., b], 0.7, pad=3) for b in range(pure.shape[-1])])
    image *= 1 + 0.015 * rng.standard_normal(image.shape)
    image += 0.0025 * rng.standard_normal(image.shape)
    image[:, labels == 0] = 0.0
    return image


# Class value and closed ring in pixel coordinates (col, row).
_Polygon = tuple[int, tuple[tuple[float, float], ...]]


def _depth(mask: BoolArray, cap: int) -> IntArray:
    """Chessboard distance (capped) from each pixel of ``mask`` to the nearest pixel outside."""
    depth = np.zeros(mask.shape, np.int64)
    current = mask.copy()
    rows, cols = mask.shape
    for _ in range(cap):
        depth += current
        padded = np.pad(current, 1)
        for dr in (0, 1, 2):
            for dc in (0, 1, 2):
                current = current & padded[dr : dr + rows, dc : dc + cols]
    return depth


def _place_polygons(
    rng: np.random.Generator, labels: IntArray, patches: IntArray
) -> tuple[list[_Polygon], list[_Polygon]] | None:
    """Digitise training and validation polygons inside patches of each class, or None.

    Polygons sit inside circles that never come closer than two pixels, so no two intersect;
    each prefers a patch that no earlier polygon of its class used. The required minimum of
    each set (3 training, 2 validation) is placed before the extra ones take up room; None
    means the minimum did not fit.
    """
    scale = min(1.0, float(np.sqrt(labels.size / 120_000)))
    extra_training, extra_validation = max(1, round(8 * scale)) - 3, max(0, round(4 * scale) - 2)
    plan = [("training", 3), ("validation", 2), ("training", extra_training)]
    plan.append(("validation", extra_validation))
    placed: list[Circle] = []
    result: dict[str, list[_Polygon]] = {"training": [], "validation": []}
    for cls in CLASSES:
        depth = _depth(labels == cls.value, cap=10)
        used: set[int] = set()
        for step, (phase, count) in enumerate(plan):
            for _ in range(count):
                spot = _find_spot(rng, depth, patches, used, placed)
                if spot is None and step < 2:
                    return None
                if spot is None:
                    break
                placed.append(spot)
                used.add(int(patches[int(spot[1]), int(spot[0])]))
                result[phase].append((cls.value, _ring(rng, spot)))
    for polygons in result.values():
        polygons.sort(key=lambda polygon: polygon[0])
    return result["training"], result["validation"]


def _ring(rng: np.random.Generator, spot: Circle) -> tuple[tuple[float, float], ...]:
    """Closed ring of 5-8 vertices at sorted, jittered angles: star-shaped, so simple."""
    cx, cy, radius = spot
    n = int(rng.integers(5, 9))
    angles = 2 * np.pi * (np.arange(n) + rng.uniform(-0.3, 0.3, n)) / n + rng.uniform(0, 2 * np.pi)
    radii = radius * rng.uniform(0.6, 1.0, n)
    ring = [(cx + r * np.cos(a), cy + r * np.sin(a)) for r, a in zip(radii, angles)]
    return (*ring, ring[0])


def _find_spot(
    rng: np.random.Generator,
    depth: IntArray,
    patches: IntArray,
    used: set[int],
    placed: list[Circle],
) -> Circle | None:
    """Centre and radius (pixels) of a free spot deep enough inside the class, or None."""
    wanted = rng.uniform(5.0, 9.0) * float(np.clip(min(depth.shape) / 300, 0.6, 1.0))
    for radius in (wanted, 0.7 * wanted, 3.5, 3.0):
        rows, cols = np.nonzero(depth >= int(np.ceil(radius)))
        if rows.size == 0:
            continue
        order = rng.permutation(rows.size)[:5000]
        cx, cy = cols[order] + 0.5, rows[order] + 0.5
        free = np.ones(order.size, bool)
        for px, py, pr in placed:
            free &= np.hypot(cx - px, cy - py) > radius + pr + 2.0
        fresh = free & ~np.isin(patches[rows[order], cols[order]], list(used))
        for ok in (fresh, free):
            hits = np.flatnonzero(ok)
            if hits.size:
                return float(cx[hits[0]]), float(cy[hits[0]]), float(radius)
    return None


def _srs() -> osr.SpatialReference:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(EPSG)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def _temporary(path: Path) -> Path:
    return path.with_name(f".tmp-{os.getpid()}-{path.name}")


def _commit(tmp: Path, path: Path) -> None:
    """Move a finished file (and its GDAL side-car, or lack of one) over ``path``."""
    for suffix in ("", ".aux.xml"):
        src, dst = Path(f"{tmp}{suffix}"), Path(f"{path}{suffix}")
        if src.exists():
            os.replace(src, dst)
        elif dst.exists():
            dst.unlink()


def _create_tiff(path: Path, rows: int, cols: int, bands: int, dtype: int) -> gdal.Dataset:
    ds = gdal.GetDriverByName("GTiff").Create(str(path), cols, rows, bands, dtype, _GTIFF_OPTIONS)
    if ds is None:
        raise OSError(f"GDAL could not create {path}: {gdal.GetLastErrorMsg()}")
    ds.SetGeoTransform((ORIGIN[0], PIXEL_SIZE, 0.0, ORIGIN[1], 0.0, -PIXEL_SIZE))
    ds.SetProjection(_srs().ExportToWkt())
    return ds


def _write_image(path: Path, image: FloatArray, seed: int) -> None:
    counts = np.rint(image * REFLECTANCE_SCALE)
    valid = image.any(axis=0)
    counts = np.where(valid, np.clip(counts, 1, 65535), 0).astype(np.uint16)
    tmp = _temporary(path)
    ds = _create_tiff(tmp, image.shape[1], image.shape[2], image.shape[0], gdal.GDT_UInt16)
    ds.SetMetadataItem("SOURCE", f"landcover_mlp synthetic sample scene, seed {seed}")
    ds.SetMetadataItem("REFLECTANCE_SCALE", str(REFLECTANCE_SCALE))
    for i, (description, nm) in enumerate(zip(BAND_DESCRIPTIONS, WAVELENGTHS_NM), start=1):
        band = ds.GetRasterBand(i)
        band.SetDescription(description)
        band.SetNoDataValue(0)
        band.SetMetadata({"wavelength": str(nm), "wavelength_units": "nm"})
        band.WriteArray(counts[i - 1])
    ds = None
    _commit(tmp, path)


def _write_reference(path: Path, labels: IntArray) -> None:
    tmp = _temporary(path)
    ds = _create_tiff(tmp, labels.shape[0], labels.shape[1], 1, gdal.GDT_Byte)
    band = ds.GetRasterBand(1)
    band.SetDescription("land cover class")
    band.SetNoDataValue(0)
    table = gdal.ColorTable()
    table.SetColorEntry(0, (0, 0, 0, 0))
    for cls in CLASSES:
        table.SetColorEntry(cls.value, (*bytes.fromhex(cls.colour[1:]), 255))
    band.SetRasterColorTable(table)
    band.SetRasterColorInterpretation(gdal.GCI_PaletteIndex)
    band.SetCategoryNames(["", *(cls.name for cls in CLASSES)])  # index = value (1, 2, ...)
    band.WriteArray(labels.astype(np.uint8))
    ds = None
    _commit(tmp, path)


def _write_polygons(path: Path, layer_name: str, polygons: list[_Polygon]) -> None:
    tmp = _temporary(path)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp))
    if ds is None:
        raise OSError(f"OGR could not create {tmp}: {gdal.GetLastErrorMsg()}")
    layer = ds.CreateLayer(layer_name, _srs(), ogr.wkbPolygon, ["FID=fid", "GEOMETRY_NAME=geom"])
    for name, kind in (("class_id", ogr.OFTInteger), ("class_name", ogr.OFTString)):
        layer.CreateField(ogr.FieldDefn(name, kind))
    layer.CreateField(ogr.FieldDefn("colour", ogr.OFTString))
    classes = {cls.value: cls for cls in CLASSES}
    layer.StartTransaction()
    for value, points in polygons:
        xy = (
            f"{ORIGIN[0] + c * PIXEL_SIZE:.2f} {ORIGIN[1] - r * PIXEL_SIZE:.2f}" for c, r in points
        )
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("class_id", value)
        feature.SetField("class_name", classes[value].name)
        feature.SetField("colour", classes[value].colour)
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POLYGON (({', '.join(xy)}))"))
        if layer.CreateFeature(feature) != 0:
            raise OSError(f"OGR could not write a feature to {tmp}")
    layer.CommitTransaction()
    ds = None
    _commit(tmp, path)
