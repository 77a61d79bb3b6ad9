"""Classify several rasters (scenes, or the tiles of a region) with one model.

Each input gets its own output set, named by the naming table (``core/naming.py``:
``<DIR>/<raster>_classes.tif`` and its side files). All inputs are checked before the first
is classified (the same bands as each other and as the model), so a wrong 57th scene is
refused at once, not after 56 others. Each input's outputs are one output stage, committed
as soon as that input is done: a cancel or an error keeps the inputs finished before it. The
windows are classified here or on a Dask cluster (a :class:`~.prediction.WindowRunner`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .callbacks import Hooks
from .config import PredictionConfig
from .errors import LandCoverError
from .fileio import check_writable
from .model_io import LandCoverModel
from .naming import classification_outputs, raster_path, scene_outputs
from .prediction import PredictionResult, WindowRunner, classify_raster
from .raster import RasterInfo, open_raster, raster_info, refuse_complex_bands


@dataclass(frozen=True)
class SceneJob:
    """One input and the files its classification writes.

    Attributes:
        raster: the input (a GDAL raster: a GeoTIFF, a VRT mosaic, ...).
        classified: class raster.
        confidence: confidence raster, or None.
        probabilities: probability raster, or None.
    """

    raster: str
    classified: Path
    confidence: Path | None = None
    probabilities: Path | None = None


def scene_jobs(
    rasters: Sequence[str],
    output: str | None = None,
    output_dir: str | None = None,
    confidence: str | None = None,
    probabilities: str | None = None,
) -> list[SceneJob]:
    """The output files of each input, from the command line's choices.

    Args:
        rasters: the inputs, at least one.
        output: the class raster of a single input (``--output``), or None.
        output_dir: the folder of every input's outputs (``--output-dir``), or None.
        confidence: None: no confidence raster; "": named by the naming table; a file name:
            that file (single input with ``output`` only).
        probabilities: as ``confidence``, for the probability raster.

    Returns:
        One job per input, in the order given.

    Raises:
        LandCoverError: several inputs without ``output_dir``, both or neither of ``output``
            and ``output_dir``, a file name given for side files of several outputs, an
            unwritable folder, or two inputs whose outputs would have the same name.
    """
    if not rasters:
        raise LandCoverError("Give at least one raster to classify.")
    if output and output_dir:
        raise LandCoverError(
            "Give --output FILE for one raster or --output-dir DIR for one or more, not both."
        )
    if len(rasters) > 1 and not output_dir:
        raise LandCoverError(
            f"{len(rasters)} rasters need --output-dir DIR: each gets its own class raster "
            "there, named <raster>_classes.tif (--output names a single file)."
        )
    if output:
        classified = raster_path(output)
        table = classification_outputs(classified)
        return [SceneJob(rasters[0], classified, _chosen(confidence, table.confidence),
                         _chosen(probabilities, table.probabilities))]  # fmt: skip
    if not output_dir:
        raise LandCoverError("Give --output FILE (the class raster) or --output-dir DIR.")
    for flag, value in (("confidence", confidence), ("probabilities", probabilities)):
        if value:
            raise LandCoverError(
                f"With --output-dir each input's {flag} raster is named "
                f"<raster>_classes_{flag}.tif: give --{flag} without a file name."
            )
    jobs = []
    by_output: dict[Path, str] = {}
    for raster in rasters:
        names = scene_outputs(output_dir, raster)
        check_writable(names.classified)
        key = names.classified.resolve()
        if key in by_output:
            raise LandCoverError(
                f"'{by_output[key]}' and '{raster}' would both be written to "
                f"'{names.classified}': classify rasters of the same name into different "
                "folders."
            )
        by_output[key] = raster
        jobs.append(
            SceneJob(
                raster,
                names.classified,
                names.confidence if confidence is not None else None,
                names.probabilities if probabilities is not None else None,
            )
        )
    return jobs


def _chosen(value: str | None, named: Path) -> Path | None:
    """A side file as asked: None (not wanted), "" (``named``) or the file given."""
    if value is None:
        return None
    return raster_path(value) if value else named


def check_scenes(rasters: Sequence[str], model: LandCoverModel) -> list[RasterInfo]:
    """Refuse, before any work, inputs that differ in their bands or from the model's.

    Returns:
        Each input's description, in order.

    Raises:
        LandCoverError: an input cannot be opened, the inputs' band counts differ, or they
            are not the bands the model was trained on.
    """
    infos = [raster_info(open_raster(r)) for r in rasters]
    counts = {info.band_count for info in infos}
    if len(counts) > 1:
        first = infos[0]
        other = next(i for i in infos if i.band_count != first.band_count)
        raise LandCoverError(
            f"The rasters differ in their bands: '{Path(first.path).name}' has "
            f"{first.band_count} band(s), '{Path(other.path).name}' {other.band_count}. "
            "Classify rasters with the same bands, in the same order, as the training raster."
        )
    for info in infos:
        model.check_raster(info)
        refuse_complex_bands(info, model.bands)
    return infos


def classify_scenes(
    jobs: Sequence[SceneJob],
    model: LandCoverModel,
    config: PredictionConfig | None = None,
    hooks: Hooks | None = None,
    runner: WindowRunner | None = None,
) -> list[PredictionResult]:
    """Classify every input into its own outputs, one after the other.

    Args:
        jobs: the inputs and their outputs (:func:`scene_jobs`).
        model: the trained model.
        config: memory budget, chunk size, device.
        hooks: progress over all inputs (in proportion to their pixels), cancel, log.
        runner: who classifies the windows (None: this process; see
            :func:`~.prediction.classify_raster`).

    Returns:
        What was written for each input, in order.

    Raises:
        LandCoverError: see :func:`check_scenes` and :func:`~.prediction.classify_raster`;
            the inputs finished before the error keep their outputs.
        CancelledError: the user cancelled; the input being classified leaves no output.
    """
    config = config or PredictionConfig()
    hooks = hooks or Hooks()
    infos = check_scenes([j.raster for j in jobs], model)
    if runner is None:
        from .prediction import LocalRunner

        runner = LocalRunner(model, config)
    sizes = [info.width * info.height for info in infos]
    total = max(1, sum(sizes))
    done = 0
    results = []
    for k, (job, size) in enumerate(zip(jobs, sizes)):
        if len(jobs) > 1:
            hooks.log(f"Raster {k + 1} of {len(jobs)}: {job.raster}")
        step = hooks.scaled(100.0 * done / total, 100.0 * (done + size) / total)
        results.append(
            classify_raster(
                job.raster,
                model,
                job.classified,
                job.confidence,
                job.probabilities,
                config,
                step,
                runner=runner,
            )  # fmt: skip
        )
        done += size
    return results
