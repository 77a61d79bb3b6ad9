"""What produced a model or a report: inputs, settings, date and time, software versions.

A model's header holds these facts in its ``info`` (written by :mod:`core.workflow`); the
validation report shows them as its *Provenance* section and under the JSON key
``provenance`` (one dict, built here from the model), and the accuracy report of a map names
the classified raster and its reference (:func:`core.evaluation.evaluation_provenance`).
"""

from __future__ import annotations

import datetime as _dt
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import settings

if TYPE_CHECKING:
    from .config import TrainRequest
    from .model_io import LandCoverModel

METADATA = Path(__file__).resolve().parents[1] / "metadata.txt"
#: The version when metadata.txt is missing or has no ``version=`` line (a broken install).
UNKNOWN_VERSION = "unknown"


@functools.lru_cache(maxsize=1)
def plugin_version() -> str:
    """The plugin's version: the ``version=`` line of its ``metadata.txt``.

    ``metadata.txt`` is the one place it is written; :data:`UNKNOWN_VERSION` when the file or
    the line is missing.
    """
    try:
        lines = METADATA.read_text(encoding="utf-8").splitlines()
    except OSError:
        return UNKNOWN_VERSION
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip() == "version" and value.strip():
            return value.strip()
    return UNKNOWN_VERSION


def now_iso() -> str:
    """The local date and time in ISO 8601 with its UTC offset, to the second.

    E.g. ``2024-05-17T14:03:09+02:00``.
    """
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def training_settings(request: TrainRequest) -> dict[str, Any]:
    """Every training setting of the table (``core/settings.py``), name -> value.

    The values as the request holds them: :func:`core.config.train_request` with these values
    rebuilds the same request. ``max_per_class`` None (automatic) is 0 and ``hidden_layers``
    text such as ``"32,32"``, as the table writes them.

    Raises:
        KeyError: a training setting that no part of the request holds (a table out of step
            with ``core/config.py``).
    """
    parts = (request.training, request.model, request.split, request.sampling)
    out: dict[str, Any] = {}
    for s in settings.TRAINING:
        holder = next((p for p in parts if hasattr(p, s.name)), None)
        if holder is None:
            raise KeyError(f"no part of the training request holds the setting {s.name}")
        value = getattr(holder, s.name)
        if s.name == "hidden_layers":
            value = ",".join(str(n) for n in value)
        elif s.name == "max_per_class":
            value = value or 0
        out[s.name] = value
    return out


def polygon_layer_name(path: str | Path, class_field: str, layer: str | None) -> str:
    """The name of the polygon layer read from ``path``.

    ``layer``, or the layer :func:`core.vector.open_polygons` picks when it is None.

    Raises:
        LandCoverError: the layer cannot be opened (see :func:`core.vector.open_polygons`).
    """
    if layer:
        return layer
    from .vector import open_polygons

    return open_polygons(path, class_field).name


def training_inputs(request: TrainRequest) -> dict[str, Any]:
    """The inputs and settings of a training run, for the model's ``info``.

    ``raster``, ``polygons``, ``polygons_layer``, ``class_field``, ``validation_polygons`` and
    ``validation_layer`` (None without them) and ``settings`` (:func:`training_settings`).

    Raises:
        LandCoverError: a polygon layer cannot be opened.
    """
    field = request.sampling.class_field
    validation = request.validation_polygons
    return {
        "raster": str(request.raster),
        "polygons": str(request.polygons),
        "polygons_layer": polygon_layer_name(request.polygons, field, request.polygons_layer),
        "class_field": field,
        "validation_polygons": str(validation) if validation else None,
        "validation_layer": (
            polygon_layer_name(validation, field, request.validation_layer) if validation else None
        ),
        "settings": training_settings(request),
    }


def model_provenance(model: LandCoverModel) -> dict[str, Any]:
    """The provenance of a trained model's report, from its header.

    ``raster``, ``bands`` (``[{"band": 1, "name": "B1"}, ...]``), ``polygons``,
    ``polygons_layer``, ``class_field``, ``validation_polygons``, ``validation_layer``,
    ``settings`` (name -> value), ``created`` (ISO 8601), ``plugin_version``, ``torch`` (its
    version), ``device``. A fact the header lacks (a model saved by an older version) is None.
    """
    info = model.info
    versions = info.get("versions") or {}
    sampling = model.training.get("sampling") or {}
    return {
        "raster": info.get("raster"),
        "bands": [{"band": b, "name": n} for b, n in zip(model.bands, model.band_names)],
        "polygons": info.get("polygons"),
        "polygons_layer": info.get("polygons_layer"),
        "class_field": info.get("class_field") or sampling.get("class_field"),
        "validation_polygons": info.get("validation_polygons"),
        "validation_layer": info.get("validation_layer"),
        "settings": info.get("settings"),
        "created": info.get("created"),
        "plugin_version": versions.get("landcover_mlp"),
        "torch": versions.get("torch"),
        "device": info.get("device"),
    }
