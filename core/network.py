"""The multilayer perceptron (an ensemble of them) and the choice of device.

Imports torch: import lazily.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from .errors import LandCoverError

if TYPE_CHECKING:
    from .config import ModelConfig

_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


class MLP(nn.Module):
    """An ensemble of fully connected networks of one architecture, input standardisation built in.

    The ensemble has ``members`` networks.

    The members share nothing but their input: each has its own weights, drawn with its own
    seed, and during training its own order of the mini-batches. Their weights are stacked
    along a first axis, so one batched matrix product (``torch.baddbmm``) runs a layer of
    every member at once: on the CPU a step of five small networks costs little more than a
    step of one, because a small network's step is dominated by per-operation overhead.
    With ``members=1`` it is the plain multilayer perceptron of the lecture.

    The ensemble's class probabilities are the mean of the members' softmax outputs (soft
    voting; Hansen and Salamon 1990, Lakshminarayanan et al. 2017 "Deep ensembles").

    Parameters: ``layers.{i}.weight`` of shape (members, out, in) and ``layers.{i}.bias`` of
    shape (members, out), for i = 0 .. hidden layers; buffers ``mean`` and ``std`` of shape
    (bands,) standardise the raw input, so they travel with the weights in the model file.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_layers: Sequence[int],
        n_classes: int,
        activation: str = "relu",
        dropout: float = 0.0,
        members: int = 1,
    ) -> None:
        """Build the ensemble with fresh weights (torch's default initialisation).

        Args:
            n_inputs: bands per pixel.
            hidden_layers: width of each hidden layer (empty: a perceptron).
            n_classes: output classes.
            activation: "relu", "tanh" or "sigmoid".
            dropout: dropout probability after each hidden layer, in [0, 1).
            members: networks in the ensemble, >= 1.

        Raises:
            KeyError: an unknown activation.
        """
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_inputs))
        self.register_buffer("std", torch.ones(n_inputs))
        self.members = members
        self.activation: Callable[[torch.Tensor], torch.Tensor] = _ACTIVATIONS[activation]
        self.dropout = dropout
        sizes = [n_inputs, *hidden_layers, n_classes]
        self.layers = nn.ModuleList()
        for n_in, n_out in zip(sizes, sizes[1:]):
            layer = nn.Module()
            # nn.Linear's initialisation, member by member: U(-1/sqrt(in), 1/sqrt(in)) for
            # weights and biases (kaiming_uniform with a = sqrt(5)).
            bound = 1.0 / math.sqrt(n_in)
            layer.weight = nn.Parameter(torch.empty(members, n_out, n_in).uniform_(-bound, bound))
            layer.bias = nn.Parameter(torch.empty(members, n_out).uniform_(-bound, bound))
            self.layers.append(layer)

    mean: torch.Tensor
    std: torch.Tensor

    def member_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every member, shape (members, n, classes).

        Args:
            x: raw (unstandardised) pixels, (n, bands) for the same pixels in every member or
                (members, n, bands) for each member's own pixels (training batches).
        """
        h = (x - self.mean) / self.std
        if h.dim() == 2:
            h = h.unsqueeze(0).expand(self.members, -1, -1)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            weight: torch.Tensor = layer.weight  # type: ignore[assignment]
            bias: torch.Tensor = layer.bias  # type: ignore[assignment]
            h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
            if i < last:
                h = self.activation(h)
                if self.dropout > 0 and self.training:
                    h = nn.functional.dropout(h, self.dropout, training=True)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities of the ensemble for raw pixels ``x`` (n, bands).

        The mean of the members' softmax outputs, shape (n, classes).
        """
        return torch.softmax(self.member_logits(x), dim=2).mean(0)


def ensemble_loss(
    probs: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy of the ensemble's averaged probabilities for class indices ``target``.

    ``probs`` has shape (n, classes), ``target`` (n,): the mean of -log p[target], weighted by
    ``weight`` per class as torch's ``nll_loss`` does.
    """
    return nn.functional.nll_loss(torch.log(probs.clamp_min(1e-12)), target, weight=weight)


def members_of(state: Mapping[str, npt.NDArray[np.float32]]) -> int:
    """Networks in the ensemble whose weights are ``state``.

    Args:
        state: weights and buffers by name; ``layers.0.weight`` is (members, out, in).

    Returns:
        The ensemble's size (1 for a single network).
    """
    return int(np.asarray(state["layers.0.weight"]).shape[0])


def layer_count(state: Mapping[str, npt.NDArray[np.float32]]) -> int:
    """Weight layers (hidden layers + 1) in ``state``.

    Args:
        state: weights and buffers by name (``layers.<i>.weight``).

    Returns:
        The number of ``layers.<i>.weight`` entries.
    """
    return sum(1 for k in state if k.startswith("layers.") and k.endswith(".weight"))


def state_to_numpy(model: nn.Module) -> dict[str, npt.NDArray[np.float32]]:
    """A CPU float32 copy of the model's weights and buffers.

    Args:
        model: the network, on any device.

    Returns:
        Its state dict as float32 numpy arrays (same names and shapes).
    """
    return {k: v.detach().cpu().float().numpy().copy() for k, v in model.state_dict().items()}


def load_state(model: nn.Module, state: Mapping[str, npt.NDArray[np.float32]]) -> None:
    """Load numpy weights into ``model``.

    Args:
        model: a network of the same architecture as the one that produced ``state``.
        state: weights and buffers by name, as :func:`state_to_numpy` gives them.

    Raises:
        RuntimeError: a name is missing or unexpected, or a shape does not match (torch's
            ``load_state_dict``).
    """
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


def state_probabilities(
    state: Mapping[str, npt.NDArray[np.float32]],
    model_config: ModelConfig,
    x: npt.NDArray[np.floating[Any]],
    device: str = "cpu",
) -> npt.NDArray[np.float32]:
    """The ensemble's averaged class probabilities of pixels ``x``.

    Args:
        state: the weights (any number of networks), as :func:`state_to_numpy` gives them.
        model_config: the architecture (hidden layers, activation) the weights belong to.
        x: raw band values of the pixels, (n, bands).
        device: "auto", "cpu", "cuda" or "mps".

    Returns:
        float32 (n, classes), each row summing to 1.

    Raises:
        LandCoverError: the device is not available.
    """
    last = f"layers.{layer_count(state) - 1}.weight"
    n_classes = int(state[last].shape[1])
    model = MLP(x.shape[1], model_config.hidden_layers, n_classes, model_config.activation,
                0.0, members_of(state))  # fmt: skip
    load_state(model, state)
    dev, _ = select_device(device)
    model.to(dev).eval()
    out = np.empty((x.shape[0], n_classes), np.float32)
    with torch.no_grad():
        for s in range(0, x.shape[0], 65536):
            chunk = torch.from_numpy(np.ascontiguousarray(x[s : s + 65536], dtype=np.float32))
            out[s : s + 65536] = model(chunk.to(dev)).cpu().numpy()
    return out


def score_state(
    state: Mapping[str, npt.NDArray[np.float32]],
    model_config: ModelConfig,
    x: npt.NDArray[np.floating[Any]],
    y: npt.NDArray[np.integer[Any]],
) -> tuple[npt.NDArray[np.int64], float]:
    """Predicted classes and loss of the weights ``state`` on labelled samples (on the CPU).

    Args:
        state: the weights (any number of networks), as :func:`state_to_numpy` gives them.
        model_config: the architecture (hidden layers, activation) the weights belong to.
        x: raw band values of the samples, (n, bands).
        y: class index of each sample, integer (n,).

    Returns:
        ``(predicted, loss)``: predicted class indices, int64 (n,), and the mean (unweighted)
        cross-entropy of the ensemble's averaged probabilities, in nats.
    """
    probs = torch.from_numpy(state_probabilities(state, model_config, x))
    loss = ensemble_loss(probs, torch.from_numpy(np.asarray(y, dtype=np.int64)))
    return probs.argmax(1).numpy(), float(loss)
