"""Train/validation split by polygon, stratified by class.

Neighbouring pixels of one polygon are near-duplicates: a random pixel split puts them on
both sides and flatters every model. Here all pixels of a polygon fall on one side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .config import SplitConfig
from .sampling import Samples


@dataclass(frozen=True)
class Split:
    """Boolean masks over the samples, plus how the split was made.

    Attributes:
        train: bool (n,) mask of training samples.
        validation: bool (n,) mask of validation samples.
        method: human-readable description of how accuracy is estimated.
        warnings: classes that fell back to a pixel split or lack validation pixels.
    """

    train: npt.NDArray[np.bool_]
    validation: npt.NDArray[np.bool_]
    method: str
    warnings: tuple[str, ...] = ()


def split_by_polygon(samples: Samples, config: SplitConfig) -> Split:
    """Hold out a share of each class's polygons for validation.

    For each class, ``round(share * polygons)`` polygons (at least one, and at least one kept
    for training) go to validation, drawn with the seed. Fallback for a class with a single
    polygon: its pixels are split at random instead; this is a pixel split, optimistic for
    that class, and a warning says so.

    Args:
        samples: labelled pixels with polygon ids.
        config: validation share and seed.

    Returns:
        The split. With share 0 all samples train and validation is empty.
    """
    n = len(samples)
    train = np.ones(n, dtype=bool)
    validation = np.zeros(n, dtype=bool)
    if config.validation_share <= 0:
        return Split(train, validation, "no validation (share 0)")
    rng = np.random.default_rng(config.seed)
    warnings: list[str] = []
    for c, info in enumerate(samples.classes):
        in_class = samples.y == c
        polys = np.unique(samples.polygon_id[in_class])
        if polys.size >= 2:
            k = int(round(config.validation_share * polys.size))
            k = min(max(k, 1), polys.size - 1)
            held = rng.choice(polys, size=k, replace=False)
            validation |= in_class & np.isin(samples.polygon_id, held)
            if polys.size - k == 1:
                warnings.append(
                    f"Class '{info.name}' has {polys.size} polygons: the assessment run learnt "
                    "it from one, so its accuracy in this report is pessimistic (the saved "
                    "model learns from all of them). Draw more polygons of this class for a "
                    "firmer estimate."
                )
        elif polys.size == 1:
            idx = np.flatnonzero(in_class)
            k = int(round(config.validation_share * idx.size))
            if 0 < k < idx.size:
                validation[rng.choice(idx, size=k, replace=False)] = True
                warnings.append(
                    f"Class '{info.name}' has a single polygon: its pixels were split at "
                    "random for validation, which overstates its accuracy. Draw at least two "
                    "polygons per class."
                )
            else:
                warnings.append(
                    f"Class '{info.name}' has too few pixels to validate; it is used for "
                    "training only."
                )
    train &= ~validation
    return Split(
        train,
        validation,
        f"grouped split: {config.validation_share:.0%} of each class's polygons held out "
        "(no polygon on both sides)",
        tuple(warnings),
    )


def missing_validation_classes(samples: Samples, validation: npt.NDArray[np.bool_]) -> list[str]:
    """Names of classes with no validation pixel.

    Args:
        samples: the labelled pixels.
        validation: bool (n,) mask of the validation samples.

    Returns:
        Class names, in index order.
    """
    counts = np.bincount(samples.y[validation], minlength=len(samples.classes))
    return [c.name for c, k in zip(samples.classes, counts) if k == 0]
