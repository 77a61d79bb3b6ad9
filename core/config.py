"""Configuration dataclasses: what the dialog, Processing and the command line all build.

Frozen and validated on construction, so a bad value fails early with a sentence that says
what to change, before any pixel is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import LandCoverError

ACTIVATIONS = ("relu", "tanh", "sigmoid")
PIXEL_RULES = ("centre", "all_touched")
DEVICES = ("auto", "cpu", "cuda", "mps")


def parse_hidden_layers(text: str | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """Parse hidden layer sizes such as "64,64" (an empty string means no hidden layer).

    Raises:
        LandCoverError: the text is not a comma-separated list of positive integers.
    """
    if isinstance(text, (tuple, list)):
        sizes = tuple(int(v) for v in text)
    else:
        parts = [p for p in str(text).replace(" ", "").replace(";", ",").split(",") if p]
        try:
            sizes = tuple(int(p) for p in parts)
        except ValueError as exc:
            raise LandCoverError(
                f"Hidden layers '{text}' is not a list of layer sizes: write e.g. 64,64."
            ) from exc
    if any(s < 1 or s > 8192 for s in sizes):
        raise LandCoverError(
            f"Hidden layer sizes must be between 1 and 8192 neurons; got {list(sizes)}."
        )
    return sizes


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise LandCoverError(message)


@dataclass(frozen=True)
class SamplingConfig:
    """How training pixels are taken from the polygons.

    Attributes:
        class_field: attribute holding the class (integer or text).
        bands: 1-based band numbers; empty means all bands.
        pixel_rule: "centre" (pixel centre inside the polygon) or "all_touched".
        max_per_class: keep at most this many pixels per class (random, seeded); None = all.
        seed: random seed for the cap.
    """

    class_field: str
    bands: tuple[int, ...] = ()
    pixel_rule: str = "centre"
    max_per_class: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        _require(
            bool(self.class_field),
            "Choose the field that holds the class of each polygon.",
        )
        _require(
            self.pixel_rule in PIXEL_RULES,
            f"Pixel rule must be one of {', '.join(PIXEL_RULES)}; got '{self.pixel_rule}'.",
        )
        _require(
            self.max_per_class is None or self.max_per_class > 0,
            "The cap on samples per class must be a positive number (or none).",
        )


@dataclass(frozen=True)
class SplitConfig:
    """How samples are split into training and validation.

    Attributes:
        validation_share: share of each class's polygons held out (0 disables validation
            unless separate validation polygons are given).
        seed: random seed of the split.
    """

    validation_share: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        _require(
            0.0 <= self.validation_share < 1.0,
            f"Validation share must be at least 0 and below 1; got {self.validation_share}.",
        )


@dataclass(frozen=True)
class ModelConfig:
    """Network architecture.

    Attributes:
        hidden_layers: neurons per hidden layer, e.g. (64, 64).
        activation: "relu", "tanh" or "sigmoid".
        dropout: dropout probability after each hidden layer (0 disables it).
    """

    hidden_layers: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_layers", parse_hidden_layers(self.hidden_layers))
        _require(
            self.activation in ACTIVATIONS,
            f"Activation must be one of {', '.join(ACTIVATIONS)}; got '{self.activation}'.",
        )
        _require(0.0 <= self.dropout < 1.0, f"Dropout must be in [0, 1); got {self.dropout}.")


@dataclass(frozen=True)
class TrainingConfig:
    """Mini-batch gradient descent with momentum.

    Attributes:
        learning_rate: SGD step size.
        momentum: SGD momentum.
        epochs: maximum number of passes over the training samples.
        batch_size: samples per gradient step.
        patience: stop after this many epochs without a lower validation loss (0 = never);
            the weights of the best epoch are restored.
        class_weights: weight the loss by inverse class frequency ("balanced").
        weight_decay: L2 penalty.
        seed: seed for weights and batch order (same data + seed = same model on CPU).
        device: "auto" (cuda, then mps, then cpu), "cpu", "cuda" or "mps".
    """

    # Defaults chosen on polygon-grouped splits of the three real scenes in ../shared/data and
    # the Indian Pines 30 % protocol (benchmarks/accuracy.py): lr 0.05 diverged on 200-band data.
    learning_rate: float = 0.01
    momentum: float = 0.9
    epochs: int = 300
    batch_size: int = 16
    patience: int = 50
    class_weights: bool = True
    weight_decay: float = 1e-3
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        _require(
            0 < self.learning_rate <= 10,
            f"Learning rate must be above 0 and at most 10; got {self.learning_rate}.",
        )
        _require(0 <= self.momentum < 1, f"Momentum must be in [0, 1); got {self.momentum}.")
        _require(self.epochs >= 1, f"Epochs must be at least 1; got {self.epochs}.")
        _require(
            self.batch_size >= 1,
            f"Batch size must be at least 1; got {self.batch_size}.",
        )
        _require(self.patience >= 0, f"Patience must be 0 or more; got {self.patience}.")
        _require(self.weight_decay >= 0, "Weight decay must be 0 or more.")
        _require(
            self.device in DEVICES,
            f"Device must be one of {', '.join(DEVICES)}; got '{self.device}'.",
        )


@dataclass(frozen=True)
class TrainRequest:
    """Everything needed to train a model from a raster and training polygons.

    Attributes:
        raster: image file.
        polygons: training polygons (any OGR source).
        sampling: class field, bands, pixel rule and per-class cap.
        validation_polygons: optional separate validation polygons (same class field); when
            given, no training polygon is held out.
        split: validation share and seed for the polygon split.
        model: architecture.
        training: optimiser settings.
        polygons_layer: layer name inside ``polygons`` (None = first layer).
        validation_layer: layer name inside ``validation_polygons`` (None = first layer).
    """

    raster: str
    polygons: str
    sampling: SamplingConfig
    validation_polygons: str | None = None
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    polygons_layer: str | None = None
    validation_layer: str | None = None


@dataclass(frozen=True)
class PredictionConfig:
    """Block-wise prediction of a whole raster.

    Attributes:
        memory_mb: budget for one block of input pixels and its activations.
        chunk_pixels: pixels pushed through the network at once (a few thousand keep
            activations in cache; huge chunks are several times slower).
        device: as in :class:`TrainingConfig`.
        confidence: also write the top softmax probability.
        probabilities: also write one probability band per class.
    """

    memory_mb: int = 256
    chunk_pixels: int = 4096
    device: str = "auto"

    def __post_init__(self) -> None:
        _require(self.memory_mb >= 16, "The prediction memory budget must be at least 16 MB.")
        _require(self.chunk_pixels >= 64, "Prediction chunks must hold at least 64 pixels.")
        _require(
            self.device in DEVICES,
            f"Device must be one of {', '.join(DEVICES)}; got '{self.device}'.",
        )
