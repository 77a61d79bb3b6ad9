"""The dialog's input widgets as a form.

Defaults, band list, device check, validation, and the core's TrainRequest and output paths
built from them. No training logic here.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qgis.core import QgsProcessingUtils, QgsProject
from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import QObject, pyqtSignal
from qgis.PyQt.QtWidgets import QWidget

from ..core import naming, settings
from ..core.config import (
    ModelConfig,
    PredictionConfig,
    TrainingConfig,
    TrainRequest,
    prediction_config,
    train_request,
)
from ..core.errors import LandCoverError
from ..core.fileio import check_writable
from ..plugin import compat, torch_check
from ..plugin.tasks import OutputPaths
from . import setting_widgets
from .band_list import BandList
from .sources import class_fields, default_class_field, polygon_source, raster_path

if TYPE_CHECKING:
    from qgis.core import QgsVectorLayer

#: Settings whose widget the .ui file places itself (beside the inputs and the device label);
#: the others get a row in the training box (or its Advanced box) made from the table.
PLACED_BY_UI = ("pixel_rule", "device")


class _DeviceProbe(QObject):
    """Carries the devices found by a worker thread back to the GUI thread.

    A signal emitted from another thread is delivered queued, in the receiver's thread.
    """

    found = pyqtSignal(object, str)


class TrainingForm:
    """Reads and checks the input widgets of a dialog built from ``main_dialog.ui``.

    Attributes:
        ui: the dialog holding the widgets.
        torch_ok: PyTorch can be imported (device checks need it).
    """

    def __init__(self, ui: QWidget, torch_ok: bool) -> None:
        """The form of the dialog ``ui``; ``torch_ok``: PyTorch can be imported."""
        self.ui = ui
        self.torch_ok = torch_ok
        self._devices: dict[str, str] | None = None
        self._summary = ""
        self._probe = _DeviceProbe()
        self._probe.found.connect(self._on_devices)
        self._probing = False
        self._temp_dir: Path | None = None
        #: the run folder the last :meth:`output_paths` created (removed if a run leaves it empty)
        self.created_folder: Path | None = None
        #: the last run's name (raster name, date and time), for its layers and folder
        self.run_name = ""
        self._setup()
        self.restore_defaults()
        ui.rasterCombo.layerChanged.connect(self.fill_bands)
        ui.rasterCombo.layerChanged.connect(self.update_output_hint)
        ui.outputHintLabel.setOpenExternalLinks(True)
        self.update_output_hint()
        ui.polygonCombo.layerChanged.connect(self.set_class_fields)
        ui.deviceCombo.currentIndexChanged.connect(self.update_device_label)
        ui.defaultsButton.clicked.connect(self.restore_defaults)

    def _setup(self) -> None:
        ui = self.ui
        ui.rasterCombo.setFilters(compat.LAYER_FILTER_RASTER)
        ui.polygonCombo.setFilters(compat.LAYER_FILTER_POLYGON)
        ui.validationCombo.setFilters(compat.LAYER_FILTER_POLYGON)
        ui.validationCombo.setAllowEmptyLayer(True)
        ui.validationCombo.setLayer(None)
        self.set_class_fields(ui.polygonCombo.currentLayer())
        table = settings.TRAINING
        self.widgets: dict[str, QWidget] = {}
        for name in PLACED_BY_UI:
            widget = getattr(ui, setting_widgets.widget_name(settings.setting(name)))
            setting_widgets.configure(widget, settings.setting(name))
            self.widgets[name] = widget
        # the classification's memory budget sits with the advanced training settings
        rest = [s for s in table + (settings.setting("memory_mb"),) if s.name not in PLACED_BY_UI]
        self.widgets.update(setting_widgets.place(ui, ui.trainingForm,
                                                  [s for s in rest if not s.advanced]))  # fmt: skip
        self.widgets.update(setting_widgets.place(ui, ui.advancedForm,
                                                  [s for s in rest if s.advanced]))  # fmt: skip
        for widget in (ui.modelFileWidget, ui.classRasterWidget):
            widget.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
            widget.setConfirmOverwrite(True)
        ui.modelFileWidget.setFilter("Land Cover MLP model (*.safetensors)")
        ui.classRasterWidget.setFilter("GeoTIFF (*.tif *.tiff)")
        self.band_list = BandList(ui.bandList, ui.bandRangeEdit, ui.bandsAllButton,
                                  ui.bandsNoneButton, ui.bandStatusLabel)  # fmt: skip
        self.fill_bands()

    @property
    def plain_widgets(self) -> dict[str, QWidget]:
        """Settings name -> widget, for the values remembered between sessions."""
        return {**self.widgets, "confidence": self.ui.confidenceCheck}

    def set_class_fields(self, layer: QgsVectorLayer | None, remembered: str = "") -> None:
        """Offer the layer's possible class fields and choose one.

        The fields are text or whole numbers, never the primary key. ``remembered`` is chosen
        when it is one of them, else the field of the layer's categorised style, else the
        first (see :func:`sources.default_class_field`).
        """
        combo = self.ui.classFieldCombo
        fields = class_fields(layer)
        combo.setFields(fields)
        names = [fields.at(i).name() for i in range(fields.count())]
        combo.setField(remembered if remembered in names else default_class_field(layer))

    def restore_defaults(self) -> None:
        """Set every setting's widget to its default from the settings table."""
        for name, widget in self.widgets.items():
            setting_widgets.set_value(widget, settings.setting(name), settings.default(name))

    def apply_settings(self, model: ModelConfig, training: TrainingConfig) -> None:
        """Put a configuration (e.g. the best of a search) into the training widgets.

        Hidden layers, activation, learning rate, momentum and batch size.
        """
        values = {
            "hidden_layers": ",".join(map(str, model.hidden_layers)),
            "activation": model.activation,
            "learning_rate": training.learning_rate,
            "momentum": training.momentum,
            "batch_size": training.batch_size,
        }
        for name, value in values.items():
            setting_widgets.set_value(self.widgets[name], settings.setting(name), value)

    def values(self) -> dict[str, object]:
        """Setting name -> value of every training setting's widget."""
        values = setting_widgets.values_of(self.widgets, settings.BY_NAME)
        return {s.name: values[s.name] for s in settings.TRAINING}

    def prediction_config(self) -> PredictionConfig:
        """The classification settings (memory budget, device) from their widgets."""
        values = setting_widgets.values_of(self.widgets, settings.BY_NAME)
        return prediction_config({s.name: values[s.name] for s in settings.PREDICTION})

    # -- bands -------------------------------------------------------------------------------
    def fill_bands(self, *_: Any) -> None:
        """List the current raster's bands (see :meth:`.band_list.BandList.fill`)."""
        self.band_list.fill(self.ui.rasterCombo.currentLayer())

    def checked_bands(self) -> tuple[int, ...]:
        """Band numbers checked in the band list, in band order."""
        return self.band_list.checked()

    def set_checked_bands(self, bands: tuple[int, ...]) -> None:
        """Check exactly ``bands`` (band numbers) in the band list."""
        self.band_list.set_checked(bands)

    # -- device ------------------------------------------------------------------------------
    def available_devices(self) -> dict[str, str]:
        """Devices torch finds here, once the background check has run.

        Empty before, and when torch is broken: ``import torch`` takes seconds and never runs
        on the GUI thread.
        """
        self._start_probe()
        return self._devices or {}

    def _start_probe(self) -> None:
        """Find the devices (imports torch) in a worker thread, once."""
        if self._devices is not None or self._probing or not self.torch_ok:
            return
        self._probing = True
        threading.Thread(target=self._probe_devices, name="landcover_mlp_devices",
                         daemon=True).start()  # fmt: skip

    def _probe_devices(self) -> None:  # worker thread
        try:
            torch_check.preload_torch_libraries()  # loads libtorch without the GIL held
            from ..core.network import available_devices

            devices = available_devices()
        except Exception:  # noqa: BLE001 - a broken torch is reported by the label instead
            devices = {}
        self._probe.found.emit(devices, torch_check.device_summary())

    def _on_devices(self, devices: dict[str, str], summary: str) -> None:  # GUI thread
        self._devices, self._summary, self._probing = devices, summary, False
        self.update_device_label()

    def device_problem(self, device: str) -> str | None:
        """Why a forced device cannot be used here, or None.

        None also while the background check runs: the run then says it, in one sentence, if
        the device is missing.
        """
        if device == "auto" or not self.torch_ok or self._devices is None:
            return None
        found = self._devices
        if device in found:
            return None
        listed = ", ".join(found.values()) or "none"
        return f"Device {device} is not available here (found: {listed}); choose auto or cpu."

    def update_device_label(self, *_: Any) -> None:
        """Say what 'auto' picks, or why a forced device cannot be used."""
        label = self.ui.deviceLabel
        if not self.torch_ok:
            label.setText("PyTorch missing")
            return
        if self._devices is None:
            label.setText("Checking the devices...")
            self._start_probe()
            return
        device = self.ui.deviceCombo.currentData()
        problem = self.device_problem(device)
        if problem:
            label.setText(f"<span style='color:#b00020'>{problem}</span>")
        elif device == "auto":
            label.setText(f"Detected: {self._summary}")
        else:
            label.setText(self._devices.get(device, device))

    # -- the job -----------------------------------------------------------------------------
    def new_run(self) -> None:
        """The next temporary files go to a fresh folder."""
        self._temp_dir = None

    def temp_folder(self) -> Path:
        """This run's temporary folder (created on first use)."""
        if self._temp_dir is None:
            root = QgsProcessingUtils.tempFolder()
            self._temp_dir = Path(tempfile.mkdtemp(prefix="landcover_mlp_", dir=root))
        return self._temp_dir

    def input_problems(self) -> list[str]:
        """What stops a run, as sentences (empty = ready)."""
        ui = self.ui
        problems = []
        raster, polygons = ui.rasterCombo.currentLayer(), ui.polygonCombo.currentLayer()
        if raster is None:
            problems.append("Choose the raster to classify.")
        elif not self.checked_bands():
            problems.append("Check at least one band of the raster.")
        if polygons is None:
            problems.append("Choose the training polygons (a polygon layer).")
        elif not ui.classFieldCombo.currentField():
            problems.append("Choose the field that holds the class of each polygon.")
        validation = ui.validationCombo.currentLayer()
        if validation is not None and validation is polygons:
            problems.append("Choose other validation polygons than the training polygons.")
        problem = self.device_problem(ui.deviceCombo.currentData())
        if problem:
            problems.append(problem)
        return problems

    def build_request(self) -> TrainRequest:
        """The core's TrainRequest from the widgets (layers converted to files).

        Raises:
            LandCoverError: a value the core refuses (the message says what to change).
        """
        ui = self.ui
        polygons, layer_name = polygon_source(ui.polygonCombo.currentLayer(), self.temp_folder)
        validation = ui.validationCombo.currentLayer()
        val_path, val_layer = (None, None)
        if validation is not None:
            val_path, val_layer = polygon_source(validation, self.temp_folder, "validation")
        return train_request(
            raster_path(ui.rasterCombo.currentLayer()),
            polygons,
            ui.classFieldCombo.currentField(),
            self.values(),
            bands=self.checked_bands(),
            polygons_layer=layer_name,
            validation_polygons=val_path,
            validation_layer=val_layer,
        )

    def run_folder(self) -> Path:
        """Where a run's outputs go when no file is chosen.

        Never QGIS's temporary folder, which QGIS deletes at exit with the user's model in it.

        ``<project folder>/landcover_mlp/<run name>`` when the project has a file, else
        ``landcover_mlp/<run name>`` beside the raster when that folder is writable, else in
        the user's home folder; the run name is the raster's name and the date and time
        (``landsat_1999_20261202_101500``). Created when the run starts.
        """
        layer = self.ui.rasterCombo.currentLayer()
        stem = re.sub(r"[^\w.-]+", "_", layer.name() if layer is not None else "run").strip("_")
        return self.runs_root() / f"{stem or 'run'}_{datetime.now():%Y%m%d_%H%M%S}"

    def runs_root(self) -> Path:
        """The folder that holds the run folders (see :meth:`run_folder`).

        ``landcover_mlp`` in the project's folder, else beside the raster, else in the home
        folder; the first whose parent is writable.
        """
        layer = self.ui.rasterCombo.currentLayer()
        project = QgsProject.instance().fileName()
        bases = [Path(project).parent] if project else []
        if layer is not None:
            bases.append(Path(raster_path(layer)).parent)
        bases.append(Path.home())
        for base in bases:
            if base.is_dir() and os.access(base, os.W_OK):
                return base / "landcover_mlp"
        return Path.home() / "landcover_mlp"

    def update_output_hint(self, *_: Any) -> None:
        """Say, with a link, where outputs left empty go (the project or raster changed)."""
        root = self.runs_root()
        shown = html.escape(str(root))
        if root.is_dir():
            shown = f'<a href="{root.resolve().as_uri()}">{shown}</a>'
        self.ui.outputHintLabel.setText(
            f"Leave a path empty to write to a new run folder (raster name, date and time) in "
            f"{shown}."
        )

    def output_paths(self) -> OutputPaths:
        """Output files from the file widgets; empty ones go to :meth:`run_folder`.

        Raises:
            LandCoverError: an output folder does not exist or is not writable.
        """
        ui = self.ui
        model_text = ui.modelFileWidget.filePath().strip()
        class_text = ui.classRasterWidget.filePath().strip()
        folder = self.run_folder()
        self.run_name = folder.name
        self.created_folder = None
        if not (model_text and class_text):
            try:
                if not folder.exists():
                    self.created_folder = folder
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LandCoverError(
                    f"Could not create the output folder '{folder}' ({exc}): choose the output "
                    "files."
                ) from exc
        model = naming.model_path(model_text or folder / "model.safetensors")
        classes = naming.classification_outputs(class_text or folder / "land_cover.tif")
        trained = naming.training_outputs(model)
        for path in (model, classes.classified):
            check_writable(path)
        return OutputPaths(
            model=trained.model,
            classified=classes.classified,
            confidence=classes.confidence if ui.confidenceCheck.isChecked() else None,
            report=trained.report,
            loss_curve=trained.loss_curve,
        )
