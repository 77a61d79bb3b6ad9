"""The multilayer perceptron and the choice of device. Imports torch: import lazily."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import LandCoverError

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class MLP(nn.Module):
    """Fully connected network with input standardisation built in.

    ``forward`` returns logits; softmax gives class probabilities. ``mean`` and ``std`` are
    buffers, so they travel with the weights in the model file.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_layers: Sequence[int],
        n_classes: int,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_inputs))
        self.register_buffer("std", torch.ones(n_inputs))
        layers: list[nn.Module] = []
        width = n_inputs
        for size in hidden_layers:
            layers.append(nn.Linear(width, size))
            layers.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    mean: torch.Tensor
    std: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of raw (unstandardised) pixels, shape (n, bands)."""
        return self.layers((x - self.mean) / self.std)

    def linear_layers(self) -> list[nn.Linear]:
        """The Linear layers in order."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]


def state_to_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    """A CPU float32 copy of the model's weights and buffers."""
    return {k: v.detach().cpu().float().numpy().copy() for k, v in model.state_dict().items()}


def load_state(model: nn.Module, state: Mapping[str, np.ndarray]) -> None:
    """Load numpy weights into ``model`` (shapes must match)."""
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})


def available_devices() -> dict[str, str]:
    """What this machine offers: device kind -> description."""
    found = {"cpu": "CPU"}
    if torch.cuda.is_available():
        found["cuda"] = f"CUDA: {torch.cuda.get_device_name(0)}"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found["mps"] = "Apple MPS"
    return found


def select_device(requested: str = "auto") -> tuple[torch.device, str]:
    """Pick the device and say why.

    Args:
        requested: "auto" (cuda, then mps, then cpu), "cpu", "cuda" or "mps".

    Returns:
        ``(device, description)`` e.g. ``(cpu, "CPU: no CUDA device found")``.

    Raises:
        LandCoverError: a forced device is not available.
    """
    found = available_devices()
    if requested == "auto":
        for kind in ("cuda", "mps"):
            if kind in found:
                return torch.device(kind), found[kind]
        return torch.device("cpu"), "CPU: no CUDA device found"
    if requested not in found:
        raise LandCoverError(
            f"Device '{requested}' is not available here (found: {', '.join(found.values())}); "
            "choose 'auto' or 'cpu'."
        )
    return torch.device(requested), found[requested]


def score_state(
    state: Mapping[str, np.ndarray], model_config: Any, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, float]:
    """Predicted class indices and mean (unweighted) cross-entropy of weights ``state`` on
    samples ``x`` (n, bands) with labels ``y``."""
    n_out = int(
        state[
            f"layers.{max(int(k.split('.')[1]) for k in state if k.endswith('.weight'))}.weight"
        ].shape[0]
    )
    model = MLP(x.shape[1], model_config.hidden_layers, n_out, model_config.activation,
                model_config.dropout)  # fmt: skip
    load_state(model, state)
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        loss = nn.functional.cross_entropy(logits, torch.from_numpy(np.asarray(y, dtype=np.int64)))
    return logits.argmax(1).numpy(), float(loss)
