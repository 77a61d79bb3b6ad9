"""The one table of settings: name, type, default, range, unit and help of every setting.

The command line's options (``core/cli.py``), the Processing parameters
(``plugin/processing/parameters.py``) and the dialog's widgets (``ui/setting_widgets.py``) are
all built from :data:`SETTINGS`, and the config dataclasses (``core/config.py``) take their
defaults and ranges from it, so a setting has the same name, default, range, unit and help on
every route. ``docs/naming.md`` lists the table and how each route names a setting.

Names: the Python name (``learning_rate``) is the key; the command line writes it as
``--learning-rate``, Processing as ``LEARNING_RATE`` and the dialog's widget as
``learningRateSpin`` (see :attr:`Setting.flag`, :attr:`Setting.parameter`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .errors import LandCoverError

ACTIVATIONS = ("relu", "tanh", "sigmoid")
PIXEL_RULES = ("centre", "all_touched")
DEVICES = ("auto", "cpu", "cuda", "mps")
STRATEGIES = ("grid", "random")
LR_SCHEDULES = ("cosine", "constant")

KINDS = ("int", "float", "bool", "choice", "text")


@dataclass(frozen=True)
class Setting:
    """One setting as every route shows it.

    Attributes:
        name: Python name, the key of the table (``learning_rate``).
        kind: "int", "float", "bool", "choice" (one of ``choices``) or "text".
        default: default value, in ``kind``'s type (a choice is its text).
        label: short label for forms and tables ("Learning rate").
        help: one or two sentences: what it does and when to change it.
        unit: unit of the value ("epochs", "minutes", "pixels", ...), "" for none.
        minimum: smallest value allowed (int and float), inclusive.
        maximum: largest value allowed (int and float), inclusive.
        choices: the allowed values of a "choice".
        decimals: decimals shown by a dialog's spin box (float).
        step: step of a dialog's spin box (float).
        group: "sampling", "model", "training", "prediction", "search", "explore" (the
            learning-rate explorer) or "accuracy" (the accuracy-assessment sample).
        advanced: Processing hides it under *Advanced parameters*; the dialog puts it in the
            collapsed *Advanced* box.
        zero_means: what 0 means when it switches something off ("all", "off", "no limit").
        choice_labels: words shown for ``choices`` in lists (same order); empty = the values.
    """

    name: str
    kind: str
    default: Any
    label: str
    help: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    decimals: int = 0
    step: float = 1.0
    group: str = "training"
    advanced: bool = True
    zero_means: str = ""
    choice_labels: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        """The command-line option: ``--learning-rate``."""
        return "--" + self.name.replace("_", "-")

    @property
    def parameter(self) -> str:
        """The Processing parameter name: ``LEARNING_RATE``."""
        return self.name.upper()

    @property
    def labels(self) -> tuple[str, ...]:
        """The words shown for :attr:`choices`."""
        return self.choice_labels or self.choices

    def describe(self) -> str:
        """The help text with the unit and what 0 means, for every route's help."""
        extra = [f"unit: {self.unit}"] if self.unit else []
        if self.zero_means:
            extra.append(f"0 = {self.zero_means}")
        return f"{self.help} ({'; '.join(extra)})" if extra else self.help

    def means_zero(self, value: object) -> bool:
        """``value`` is the one :attr:`zero_means` describes.

        That is 0 for a number, a text of :data:`ZERO_TEXTS` for a text, spaces and
        separators (, ;) around it ignored (``hidden_layers`` "0": the perceptron). False for
        a setting without ``zero_means``.
        """
        if not self.zero_means:
            return False
        if self.kind == "text":
            return str(value).replace(" ", "").strip(",;").lower() in ZERO_TEXTS
        return isinstance(value, (int, float)) and value == 0

    # Any: the value's type is this setting's kind (int, float, bool, text), known at run time.
    def check(self, value: Any) -> Any:  # noqa: ANN401
        """``value`` converted to this setting's type and checked against its range.

        Args:
            value: what a route gave: a number, a bool or a text (e.g. "0.01" from a
                command line).

        Returns:
            The value as an int, float, bool or str, by the setting's kind.

        Raises:
            LandCoverError: the value has the wrong type or lies outside the range, with a
                sentence naming the setting and the allowed range.
        """
        try:
            if self.kind == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                value = int(value)
            elif self.kind == "float":
                value = float(value)
            elif self.kind == "bool":
                value = _to_bool(value)
            else:
                value = "" if value is None else str(value).strip()
        except (TypeError, ValueError) as exc:
            raise LandCoverError(
                f"{self.label} must be {_KIND_WORDS[self.kind]}; got '{value}'."
            ) from exc
        if self.kind == "choice" and value not in self.choices:
            raise LandCoverError(
                f"{self.label} must be one of {', '.join(self.choices)}; got '{value}'."
            )
        if self.kind in ("int", "float"):
            low, high = self.minimum, self.maximum
            if not math.isfinite(value):  # NaN passes every comparison: refuse it by name
                raise LandCoverError(f"{self.label} must be {self.range_text()}; got {value}.")
            if (low is not None and value < low) or (high is not None and value > high):
                raise LandCoverError(f"{self.label} must be {self.range_text()}; got {value}.")
        return value

    def range_text(self) -> str:
        """The allowed range in words: "between 0 and 0.9", "at least 1"."""
        low, high = self.minimum, self.maximum
        unit = f" {self.unit}" if self.unit in _COUNTED_UNITS else ""
        if low is not None and high is not None:
            return f"between {_num(low)} and {_num(high)}{unit}"
        if low is not None:
            return f"at least {_num(low)}{unit}"
        if high is not None:
            return f"at most {_num(high)}{unit}"
        return "a number"


#: Texts (lower case, spaces removed) that mean 0 for a text setting with ``zero_means``: for
#: ``hidden_layers``, no hidden layer (the perceptron), whichever route the text comes from.
ZERO_TEXTS = ("0", "none", "")

_COUNTED_UNITS = ("MB", "epochs", "minutes", "pixels", "points", "samples")
_KIND_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "yes or no",
    "choice": "one of the listed values",
    "text": "text",
}


def _num(value: float) -> str:
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}".replace(",", " ")  # 1 000 000, never 1e+06
    return f"{value:g}"


def _to_bool(value: object) -> bool:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(value)
    return bool(value)


_S = Setting
SETTINGS: tuple[Setting, ...] = (
    # -- sampling ----------------------------------------------------------------------------
    _S("pixel_rule", "choice", "centre", "Pixels taken from a polygon",
       "centre: pixels whose centre lies inside the polygon; all_touched: every pixel the "
       "polygon touches (more samples, more mixed pixels).",
       choices=PIXEL_RULES, group="sampling",
       choice_labels=("Pixel centre inside polygon", "All pixels touched by polygon")),
    _S("max_per_class", "int", 0, "Maximum samples per class",
       "Cap the pixels per class: a seeded random draw made while reading, with a share "
       "from every polygon (in proportion to its pixels, at least one), so memory holds only "
       "the drawn pixels. 0 = automatic: at most 200,000 per class, fewer when the bands and "
       "classes would take more than 256 MB, and at most 20 times the smallest class's "
       "pixels (but at least 5,000), so that large classes do not drown a small one.",
       unit="pixels", minimum=0, maximum=100_000_000, group="sampling", zero_means="automatic"),
    _S("validation_share", "float", 0.3, "Validation share of polygons",
       "Share of each class's polygons held out to validate (whole polygons, never single "
       "pixels, so accuracy is not flattered).",
       unit="share of polygons", minimum=0.0, maximum=0.9, decimals=2, step=0.05,
       group="sampling", advanced=False, zero_means="no validation"),
    # -- network -----------------------------------------------------------------------------
    _S("hidden_layers", "text", "32,32", "Hidden layers",
       "Neurons per hidden layer, comma-separated (e.g. 64,64). 0 (or none, or empty): no "
       "hidden layer, the perceptron: a softmax of a weighted sum of the bands, linear, "
       "always one network; it cannot separate classes that are not linearly separable.",
       unit="neurons per layer", group="model", advanced=False,
       zero_means="perceptron (linear)"),
    _S("activation", "choice", "relu", "Activation",
       "Activation function of the hidden layers.", choices=ACTIVATIONS, group="model"),
    _S("dropout", "float", 0.0, "Dropout",
       "Probability of dropping each hidden neuron during training (regularisation).",
       unit="probability", minimum=0.0, maximum=0.9, decimals=2, step=0.05, group="model",
       zero_means="off"),
    _S("ensemble", "int", 0, "Networks in the ensemble",
       "Networks of this architecture trained at once, each from its own random weights and "
       "batch order; their averaged class probabilities depend far less on the seed than one "
       "network's. They teach one network (see Distil), or, with Distil off, the map "
       "averages them. 1 = a single network. Automatic: 5 networks up to 12,000 training "
       "pixels, one above (where one network's seed matters little and 5 would train 4x "
       "longer). A perceptron (hidden layers 0) is always one network: more are refused.",
       unit="networks", minimum=0, maximum=32, group="model", zero_means="automatic"),
    _S("distill", "bool", True, "Distil the ensemble into one network",
       "The ensemble teaches one network of the same architecture (knowledge distillation), "
       "which is the saved model: maps as fast as one network's, with the ensemble's "
       "decisions. Off: the saved model is the whole ensemble, which classifies as many "
       "times slower as it has networks. No effect with an ensemble of 1.",
       group="model"),
    # -- gradient descent --------------------------------------------------------------------
    _S("learning_rate", "float", 0.02, "Learning rate",
       "Step size of mini-batch gradient descent; lower it if the loss jumps or diverges.",
       minimum=1e-6, maximum=10.0, decimals=6, step=0.001),
    _S("momentum", "float", 0.9, "Momentum",
       "Momentum of gradient descent: adds a share of the previous step.",
       minimum=0.0, maximum=0.999, decimals=3, step=0.05, zero_means="plain gradient descent"),
    _S("lr_schedule", "choice", "cosine", "Learning-rate schedule",
       "cosine: the learning rate falls from its value to 0 along half a cosine over the "
       "epochs (large steps first, then small ones that settle); constant: the same rate "
       "throughout.",
       choices=LR_SCHEDULES,
       choice_labels=("Cosine decay to 0", "Constant")),
    _S("batch_size", "int", 32, "Batch size", "Samples per gradient step.",
       unit="samples", minimum=1, maximum=1_000_000),
    _S("epochs", "int", 100, "Epochs",
       "Passes over the training samples (fewer when early stopping ends training).",
       unit="epochs", minimum=1, maximum=100_000, advanced=False),
    _S("patience", "int", 0, "Early-stopping patience",
       "Stop when the validation loss of the held-out polygons (the training loss when none "
       "is held out) has not improved for this many epochs, keep the best epoch's weights, "
       "and train the saved model for that many epochs. Off by default: the decaying "
       "learning rate ends in a good minimum.",
       unit="epochs", minimum=0, maximum=100_000, zero_means="off"),
    _S("weight_decay", "float", 1e-3, "Weight decay",
       "L2 penalty on the weights (regularisation against overfitting).",
       minimum=0.0, maximum=1.0, decimals=6, step=0.0001, zero_means="off"),
    _S("class_weights", "bool", False, "Balance classes",
       "Weight the loss by inverse class frequency so that classes with few pixels count as "
       "much as large ones: raises their recall (and mapped area) at some cost in overall "
       "accuracy."),
    _S("seed", "int", 0, "Random seed",
       "Seed of the split, the sampling cap, the weights and the batch order: the same data "
       "and seed give the same model on the CPU.",
       minimum=0, maximum=2**31 - 1),
    _S("device", "choice", "auto", "Device",
       "auto: CUDA GPU when there is one, then Apple MPS, else the CPU.", choices=DEVICES),
    # -- prediction --------------------------------------------------------------------------
    _S("memory_mb", "int", 256, "Block memory budget",
       "Memory for one block of input pixels and its activations while classifying.",
       unit="MB", minimum=16, group="prediction"),
    # -- search ------------------------------------------------------------------------------
    _S("search_hidden_layers", "text", "32,32;64;64,64;128,64;128,128", "Hidden layers to try",
       "Layer sets separated by ';', each like 64,64; 0 = no hidden layer (the perceptron).",
       group="search", advanced=False),
    _S("search_learning_rates", "text", "0.003,0.01,0.03", "Learning rates to try",
       "Comma-separated.", group="search", advanced=False),
    _S("search_momentums", "text", "0.5,0.9", "Momentums to try", "Comma-separated.",
       group="search", advanced=False),
    _S("search_activations", "text", "relu", "Activations to try",
       "Comma-separated: relu, tanh, sigmoid.", group="search"),
    _S("search_batch_sizes", "text", "", "Batch sizes to try",
       "Comma-separated; empty = the batch size setting.", group="search"),
    _S("strategy", "choice", "grid", "Search",
       "grid tries every combination; random tries a seeded subset.",
       choices=STRATEGIES, group="search", advanced=False,
       choice_labels=("Grid (every combination)", "Random subset")),
    _S("n_iter", "int", 10, "Configurations of a random search",
       "Used by the random search only.", minimum=1, maximum=10_000, group="search"),
    _S("folds", "int", 5, "Folds", "k of the k-fold cross-validation grouped by polygon.",
       minimum=2, maximum=20, group="search", advanced=False),
    _S("time_budget", "float", 10.0, "Time budget",
       "No new work starts after this; finished configurations are kept.",
       unit="minutes", minimum=0.0, maximum=100_000.0, decimals=2, step=1.0, group="search",
       advanced=False, zero_means="no limit"),
    # -- learning-rate and momentum explorer (core/explore.py) -------------------------------
    _S("learning_rates", "text", "1,0.1,0.01", "Learning rates",
       "Learning rates to compare, comma-separated; each is tried with every momentum.",
       group="explore", advanced=False),
    _S("momentums", "text", "0,0.5,0.9", "Momentums",
       "Momentums to compare, comma-separated (0 = plain gradient descent); each is tried "
       "with every learning rate.",
       group="explore", advanced=False),
    _S("loss_threshold", "float", 0.5, "Loss threshold",
       "A run has converged at the first epoch from which its training loss (cross-entropy) "
       "stays at most this to the end. 0.5: the right class gets on average a probability of "
       "0.61, far below the loss of a uniform guess every run starts from.",
       minimum=0.001, maximum=10.0, decimals=3, step=0.05, group="explore", advanced=False),
    # -- accuracy-assessment sample ----------------------------------------------------------
    _S("size", "int", 0, "Sample size",
       "Points of the stratified random sample drawn from the map for an accuracy assessment "
       "(Olofsson et al. 2014). Automatic: from the target standard error when one is given, "
       "else 500 (more when the minimum per class needs it).",
       unit="points", minimum=0, maximum=10_000_000, group="accuracy", advanced=False,
       zero_means="automatic"),
    _S("min_per_class", "int", 50, "Minimum points per class",
       "Points every map class gets first (all its pixels when it has fewer); the rest of the "
       "sample is shared in proportion to mapped area. Olofsson et al. (2014) advise 50-100 "
       "for rare classes.",
       unit="points", minimum=0, maximum=1_000_000, group="accuracy", advanced=False),
    _S("target_se", "float", 0.0, "Target standard error of overall accuracy",
       "Size the sample so that overall accuracy gets this standard error (e.g. 0.01), from "
       "the expected user's accuracies (Olofsson et al. 2014, eq. 13); instead of a sample "
       "size.",
       unit="proportion", minimum=0.0, maximum=0.5, decimals=4, step=0.005, group="accuracy",
       advanced=False, zero_means="off"),
    _S("expected_users_accuracy", "text", "", "Expected user's accuracies",
       "With a target standard error: the user's accuracy expected of each map class, in map "
       "order (class value order), comma-separated (e.g. 0.9,0.7,0.8), or one value for all "
       "classes.",
       group="accuracy", advanced=False),
)  # fmt: skip

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}

#: The settings of a training run, in the order the routes show them.
TRAINING = tuple(s for s in SETTINGS if s.group in ("sampling", "model", "training"))
#: The settings of a classification run.
PREDICTION = (BY_NAME["memory_mb"], BY_NAME["device"])
#: The settings of a search (on top of :data:`TRAINING`).
SEARCH = tuple(s for s in SETTINGS if s.group == "search")
#: The seed as the accuracy-assessment sample uses it: the table's range and default, with
#: help about the points (the table's help speaks of training).
SAMPLE_SEED = replace(
    BY_NAME["seed"],
    help="Seed of the random draw of points: the same map, settings and seed give the same "
    "points.",
)
#: The settings of an accuracy-assessment sample (``accuracy-sample``, core/accuracy_sample.py).
ACCURACY_SAMPLE = tuple(s for s in SETTINGS if s.group == "accuracy") + (SAMPLE_SEED,)


def setting(name: str) -> Setting:
    """The setting named ``name``.

    Raises:
        KeyError: no such setting.
    """
    return BY_NAME[name]


def default(name: str) -> Any:  # noqa: ANN401 - the setting's kind, known at run time
    """The default value of a setting.

    Args:
        name: the setting's name.

    Returns:
        Its default, an int, float, bool or str by the setting's kind.

    Raises:
        KeyError: no such setting.
    """
    return BY_NAME[name].default


def check(name: str, value: Any) -> Any:  # noqa: ANN401 - the setting's kind, known at run time
    """``value`` checked against the setting's type and range (see :meth:`Setting.check`).

    Args:
        name: the setting's name.
        value: what a route gave: a number, a bool or a text.

    Returns:
        The value converted to the setting's kind.

    Raises:
        KeyError: no such setting.
        LandCoverError: the value has the wrong type or lies outside the range.
    """
    return BY_NAME[name].check(value)


def resolve(values: Mapping[str, Any], names: tuple[Setting, ...]) -> dict[str, Any]:
    """Every setting of ``names`` from ``values`` (missing ones take the default), checked.

    Raises:
        LandCoverError: a value of the wrong type or outside its range, or a name that is not
            a setting (a typo must not be dropped silently).
    """
    known = {s.name for s in SETTINGS}
    unknown = sorted(set(values) - known)
    if unknown:
        raise LandCoverError(f"Unknown setting(s): {', '.join(unknown)}.")
    return {s.name: s.check(values.get(s.name, s.default)) for s in names}


def markdown_table() -> str:
    """The settings table as Markdown (``docs/naming.md`` holds it; a test keeps it current)."""
    lines = [
        "| setting | command line | Processing | type | default | range | unit | help |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        if s.kind == "choice":
            allowed = " / ".join(s.choices)
        elif s.kind in ("int", "float"):
            allowed = s.range_text()
        else:
            allowed = ""
        default_text = "" if s.default == "" else f"`{s.default}`"
        zero = f"{'; ' if allowed else ''}0 = {s.zero_means}" if s.zero_means else ""
        lines.append(
            f"| `{s.name}` | `{s.flag}` | `{s.parameter}` | {s.kind} | {default_text} | "
            f"{allowed}{zero} | {s.unit} | {s.help} |"
        )
    return "\n".join(lines) + "\n"
