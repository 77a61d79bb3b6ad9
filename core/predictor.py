"""The trained network applied to pixels: plain matrix products.

Standardisation is folded into the first layer; pixels go in cache-sized chunks, one worker
thread per torch thread on the CPU. Imports torch when a :class:`Predictor` is made.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import threads
from .model_io import LandCoverModel

if TYPE_CHECKING:
    from torch import Tensor

# exp() of a logit this far below the top one is 1.8e-35, still a normal float32: lower ones
# give denormal numbers, which the CPU computes 20x slower (measured: the softmax of a
# confident ensemble took half the prediction time), for probabilities that are 0 anyway.
_EXP_FLOOR = -80.0


def _fused_linear(
    torch: ModuleType, activation: str
) -> Callable[[Tensor, Tensor, Tensor], Tensor] | None:
    """The oneDNN fused linear + activation, or None where this torch build lacks it.

    Why: for 64-wide layers it ran 2x faster than MKL's sgemm behind ``addmm`` on our AMD test
    machine, and it applies the activation while the output is still in registers. It is
    torch's own (private) op for compiled CPU graphs, hence the check that it still works.
    Only on x86-64, where it was measured; elsewhere (Apple, ARM) the BLAS path is kept.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        op = torch.ops.mkldnn._linear_pointwise
        x, w, b = torch.ones(64, 3), torch.ones(2, 3), torch.zeros(2)
        with torch.inference_mode():
            if torch.equal(op(x, w, b, "relu", [], ""), torch.full((64, 2), 3.0)):
                return lambda h, w, b: op(h, w, b, activation, [], "")
    except Exception:  # noqa: BLE001 - any failure means: use addmm
        pass
    return None


class Predictor:
    """The MLP as plain matrix products (standardisation folded into the first layer).

    On the CPU, one worker thread per torch thread takes chunks from a shared queue and runs
    them with single-threaded torch. Every chunk is computed at the full chunk size (a short
    last chunk is padded), because BLAS picks other kernels for other shapes and these round
    differently: so a pixel's result never depends on how pixels were split into windows,
    chunks or threads.
    """

    def __init__(self, model: LandCoverModel, device_name: str, chunk: int) -> None:
        """Fold the model's weights for prediction on a device.

        Args:
            model: the trained model.
            device_name: "auto", "cpu", "cuda" or "mps".
            chunk: pixels per chunk (rounded up to a multiple of 256; at least 262,144 off
                the CPU).

        Raises:
            LandCoverError: the device is not available.
        """
        import torch

        from .network import layer_count, members_of, select_device

        self.torch = torch
        self.device, self.device_name = select_device(device_name)
        self.cpu = self.device.type == "cpu"
        state = model.state
        mean = state["mean"].astype(np.float64)
        std = state["std"].astype(np.float64)
        n_layers = layer_count(state)
        self.members = members_of(state)

        def tensor(a: npt.NDArray[np.float32]) -> Tensor:
            return torch.from_numpy(np.ascontiguousarray(a)).to(self.device)

        layers = []  # per layer: weights (members, out, in), biases (members, out)
        for i in range(n_layers):
            w = state[f"layers.{i}.weight"].astype(np.float64)
            b = state[f"layers.{i}.bias"].astype(np.float64)
            if i == 0:  # (x - mean) / std folded into the first layer
                w = w / std[None, None, :]
                b = b - np.einsum("koi,i->ko", w, mean)
            layers.append((w.astype(np.float32), b.astype(np.float32)))

        # Per network of the ensemble: weights as (out, in). Hidden layers run pixels first,
        # (n, in) @ (in, out); the output layer transposed, (classes, in) @ (in, n): measured
        # fastest for each shape (a 64 -> 6 product is 3x slower the other way round), and
        # classes first suit the reductions. An ensemble's logits go into one
        # (members, classes, chunk) buffer so that the softmax and the mean run once per chunk.
        self.nets = [
            (
                [(tensor(w[m]), tensor(b[m])) for w, b in layers[:-1]],
                (tensor(layers[-1][0][m]), tensor(layers[-1][1][m][:, None])),
            )
            for m in range(self.members)
        ]
        self.n_bands = int(state["layers.0.weight"].shape[2])
        self.n_classes = int(state[f"layers.{n_layers - 1}.weight"].shape[1])
        act = model.model.activation
        self.activation = getattr(torch, act + "_")  # in place: relu_, tanh_, sigmoid_
        self.fused = _fused_linear(torch, act) if self.cpu else None
        # A multiple of 256 pixels: then no product or elementwise op has a ragged edge, which
        # BLAS and vector code compute by other paths (a pixel's result would then depend on
        # where it falls in its chunk).
        chunk = -(-chunk // 256) * 256
        self.chunk = chunk if self.cpu else max(chunk, 262_144)
        self.workers = threads.cpu_threads(torch) if self.cpu else 1
        self._slots: list[dict[str, Any]] = []

    def _buffers(self) -> dict[str, Any]:
        """One worker's buffers: input (chunk, bands) on the host, activations on the device."""
        torch, c, k, on = self.torch, self.chunk, self.n_classes, {"device": self.device}
        x = torch.zeros((c, self.n_bands))  # zeros: padding must be finite, never garbage
        widths = [w.shape[0] for w, _ in self.nets[0][0]]
        hidden = [] if self.fused else [torch.empty((c, width), **on) for width in widths]
        if self.members > 1:
            hidden = hidden + [torch.empty((self.members, k, c), **on)]
        return {"x": x, "x_np": x.numpy(), "hidden": hidden, "logits": torch.empty((k, c), **on),
                "probs": torch.empty((k, c), **on), "top": torch.empty(c, **on),
                "member_top": torch.empty((self.members, 1, c), **on),
                "member_sum": torch.empty((self.members, 1, c), **on),
                "index": torch.empty(c, dtype=torch.int64, **on)}  # fmt: skip

    def _logits(self, buf: dict[str, Any], h: Tensor, member: int = 0,
                out: Tensor | None = None) -> Tensor:  # fmt: skip
        """One network's logits (classes, chunk) of the chunk ``h`` (chunk, bands)."""
        torch = self.torch
        hidden, last = self.nets[member]
        if self.fused is not None:
            for w, b in hidden:  # a fresh output each layer: oneDNN has no out=
                h = self.fused(h, w, b)
        else:
            for (w, b), act in zip(hidden, buf["hidden"]):
                torch.addmm(b, h, w.T, out=act)
                self.activation(act)
                h = act
        logits: Tensor = buf["logits"] if out is None else out
        torch.addmm(last[1], last[0], h.T, out=logits)
        return logits

    def _ensemble_probs(self, buf: dict[str, Any], h: Tensor) -> Tensor:
        """The ensemble's mean class probabilities (classes, chunk) of ``h`` (chunk, bands)."""
        torch = self.torch
        logits = buf["hidden"][-1]  # (members, classes, chunk)
        for m in range(self.members):
            self._logits(buf, h, m, logits[m])
        # Each member's softmax from its max: exp(l - max) / sum, then the mean over members.
        torch.amax(logits, 1, keepdim=True, out=buf["member_top"])
        logits.sub_(buf["member_top"]).clamp_min_(_EXP_FLOOR).exp_()
        torch.sum(logits, 1, keepdim=True, out=buf["member_sum"])
        logits.div_(buf["member_sum"])
        probs: Tensor = torch.mean(logits, 0, out=buf["probs"])
        return probs

    def _work(self, buf: dict[str, Any], x: npt.NDArray[np.number[Any]], starts: Iterator[int],
              labels: npt.NDArray[np.int64], top: npt.NDArray[np.float32] | None,
              probs: npt.NDArray[np.float32] | None) -> None:  # fmt: skip
        torch, n = self.torch, x.shape[1]
        if self.cpu:  # MKL's thread count is per thread: a new thread would use every core
            torch.set_num_threads(1)
        with torch.inference_mode():
            for s in starts:
                e = min(n, s + self.chunk)
                # Cast and transpose in one copy: oneDNN wants pixels x bands contiguous.
                np.copyto(buf["x_np"][: e - s], x[:, s:e].T, casting="unsafe")
                h = buf["x"] if self.cpu else buf["x"].to(self.device)
                if self.members == 1:
                    logits = self._logits(buf, h)
                    # max() with out= is ~20x faster than argmax() along the first axis.
                    torch.max(logits, 0, out=(buf["top"], buf["index"]))
                    labels[s:e] = buf["index"][: e - s].cpu().numpy()
                    if top is None and probs is None:
                        continue
                    # Softmax from the max already at hand: p = exp(l - max) / sum.
                    p = torch.sub(logits, buf["top"], out=buf["probs"])
                    p.clamp_min_(_EXP_FLOOR).exp_()
                    total = p.sum(0)
                    if top is not None:
                        top[s:e] = total.reciprocal()[: e - s].cpu().numpy()
                    if probs is not None:
                        probs[:, s:e] = p.div_(total)[:, : e - s].cpu().numpy()
                    continue
                p = self._ensemble_probs(buf, h)
                torch.max(p, 0, out=(buf["top"], buf["index"]))
                labels[s:e] = buf["index"][: e - s].cpu().numpy()
                if top is not None:
                    top[s:e] = buf["top"][: e - s].cpu().numpy()
                if probs is not None:
                    probs[:, s:e] = p[:, : e - s].cpu().numpy()

    def predict(
        self,
        x: npt.NDArray[np.number[Any]],
        labels: npt.NDArray[np.int64],
        top: npt.NDArray[np.float32] | None = None,
        probs: npt.NDArray[np.float32] | None = None,
    ) -> None:
        """Classify pixels ``x`` into the given arrays.

        Args:
            x: raw pixel values (bands, n), any numeric type, one row per band.
            labels: (n,) int64, receives the class index.
            top: optional (n,) float32, receives the top softmax probability.
            probs: optional (classes, n) float32, receives every class probability.
        """
        n = x.shape[1]
        workers = max(1, min(self.workers, -(-n // self.chunk)))
        while len(self._slots) < workers:
            self._slots.append(self._buffers())
        starts = iter(range(0, n, self.chunk))  # shared: each worker takes the next chunk
        jobs = [(buf, x, starts, labels, top, probs) for buf in self._slots[:workers]]
        if not self.cpu:
            self._work(*jobs[0])
            return
        with threads.single_threaded(self.torch):
            if workers == 1:
                self._work(*jobs[0])
                return
            with ThreadPoolExecutor(workers) as pool:
                for job in [pool.submit(self._work, *args) for args in jobs]:
                    job.result()

    def run(
        self, x: npt.NDArray[np.number[Any]], want_probs: bool
    ) -> tuple[
        npt.NDArray[np.int64], npt.NDArray[np.float32] | None, npt.NDArray[np.float32] | None
    ]:
        """Class index, top probability and all probabilities of pixels ``x``.

        Args:
            x: raw pixel values (n, bands), any numeric type.
            want_probs: also compute the probabilities (else they are None).

        Returns:
            ``(labels, top, probs)``: class index int64 (n,), top softmax probability
            float32 (n,) and every class probability float32 (n, classes).
        """
        n = x.shape[0]
        labels = np.empty(n, dtype=np.int64)
        top = np.empty(n, dtype=np.float32) if want_probs else None
        probs = np.empty((self.n_classes, n), np.float32) if want_probs else None
        self.predict(x.T, labels, top, probs)
        return labels, top, None if probs is None else np.ascontiguousarray(probs.T)
