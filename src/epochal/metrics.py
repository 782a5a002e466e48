"""Stateful metrics with Keras's names, defaults and numbers, computed on PyTorch.

The training engine calls `update_state` once per batch and `result()` once per epoch (and when the
progress bar refreshes), so the per-batch path is built for speed:

- state lives on the device as tensors, created lazily where the first batch lives;
- `update_state` never reads a tensor value back to the host (no `.item()`, no branching on values),
  so CUDA kernels queue without waiting;
- each update is a handful of kernels: sparse categorical accuracy is `argmax`, `==`, `sum` and one
  in-place add; unweighted sample counts are shapes, so they are summed on the host for free;
- threshold metrics (AUC, Precision, Recall, ...) keep a histogram of predictions per bucket, one
  `index_add_` per batch; true/false positives per threshold are cumulative sums taken in `result()`.

Example:
    >>> import torch
    >>> metric = get("sparse_categorical_accuracy")
    >>> metric.update_state(torch.tensor([1, 0]), torch.tensor([[0.2, 0.8], [0.3, 0.7]]))
    >>> float(metric.result())
    0.5
"""
from __future__ import annotations

import collections
import importlib
import inspect
import math
import numbers
import re
from typing import Any, Callable, Sequence

import torch

from epochal.backend import default_device
from epochal.utils.lookup import canonical, lookup

# Keras's fuzz factor: AUC's outer thresholds sit this far outside [0, 1] so that predictions of
# exactly 0 and 1 fall strictly inside the curve.
EPSILON = 1e-7
# Keras's stand-in for minus infinity: predictions outside the top k are pushed to it, and it is the
# default threshold when `top_k` is set, so every kept prediction counts as positive.
NEG_INF = -1e10

_name_counts: collections.Counter = collections.Counter()


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def _snake_case(name: str) -> str:
    """'TopKCategoricalAccuracy' -> 'top_k_categorical_accuracy', 'AUC' -> 'auc'."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    name = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return name.lower()


def _auto_name(class_name: str) -> str:
    """Keras's naming of unnamed metrics: 'auc', then 'auc_1', 'auc_2', ... within one process."""
    base = _snake_case(class_name)
    count = _name_counts[base]
    _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def _torch_dtype(dtype: Any) -> torch.dtype:
    """The floating dtype metric state is kept in; Keras's float32 when `dtype` is None."""
    if dtype is None:
        return torch.float32
    resolved = dtype if isinstance(dtype, torch.dtype) else getattr(torch, str(dtype), None)
    if not isinstance(resolved, torch.dtype) or not resolved.is_floating_point:
        raise ValueError(
            "Metric `dtype` must be a floating dtype such as 'float32' or 'float64'. "
            f"Received: dtype={dtype!r}"
        )
    return resolved


def _as_tensor(data: Any, device: torch.device | None = None) -> torch.Tensor:
    """A tensor view of `data` on `device`, detached so metric state never joins the autograd graph."""
    if isinstance(data, torch.Tensor):
        data = data.detach()
        return data if device is None or data.device == device else data.to(device)
    return torch.as_tensor(data, device=device)


def _match_rank(
    first: torch.Tensor, second: torch.Tensor, expand_rank_1: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconcile shapes like (n, 1) and (n,), which Keras treats as the same thing.

    When the ranks differ by one and the longer tensor ends in a dimension of size 1, that dimension
    is dropped, except that a rank-1 partner is given a trailing 1 instead (when `expand_rank_1`).
    """
    if first.ndim == second.ndim + 1 and first.shape[-1] == 1:
        if second.ndim == 1 and expand_rank_1:
            return first, second.unsqueeze(-1)
        return first.squeeze(-1), second
    if second.ndim == first.ndim + 1 and second.shape[-1] == 1:
        if first.ndim == 1 and expand_rank_1:
            return first.unsqueeze(-1), second
        return first, second.squeeze(-1)
    return first, second


def _pad_to_rank(weights: torch.Tensor, rank: int) -> torch.Tensor:
    """Append size-1 dimensions so per-sample weights (n,) broadcast against (n, ...) values."""
    return weights.reshape(tuple(weights.shape) + (1,) * (rank - weights.ndim))


def _broadcast_weights(weights: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Expand `weights` (padded on the right) to `shape`, or explain why it cannot be."""
    if weights.ndim > len(shape):
        raise ValueError(
            f"`sample_weight` has more dimensions than the values it weighs. Received: "
            f"sample_weight.shape={tuple(weights.shape)} for values of shape {tuple(shape)}. "
            "Pass one weight per sample, shape (batch_size,)."
        )
    try:
        return _pad_to_rank(weights, len(shape)).expand(shape)
    except RuntimeError:
        raise ValueError(
            f"`sample_weight` of shape {tuple(weights.shape)} cannot be broadcast to the values "
            f"of shape {tuple(shape)}. Pass one weight per sample, shape (batch_size,)."
        ) from None


def _divide_no_nan(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """numerator / denominator, with 0 wherever the denominator is 0 (empty counts mean 0, not NaN)."""
    return torch.where(denominator == 0, torch.zeros_like(numerator), numerator / denominator)


def _is_python_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _product(values: Sequence[int]) -> int:
    return math.prod(values) if values else 1


# --------------------------------------------------------------------------------------------------
# Base classes
# --------------------------------------------------------------------------------------------------


class Metric:
    """Base class of every stateful metric: accumulate with `update_state`, read with `result`.

    Subclasses describe their state tensors in `_new_state(device)`; the base class creates them on
    the device of the first batch (or the one given to `reset_state`), moves them if batches later
    arrive elsewhere, and zeroes them in place on `reset_state()`.

    Args:
        name: the metric's name, which becomes its key in the training logs. Defaults to the class
            name in snake case, numbered from the second unnamed instance on ('auc', 'auc_1').
        dtype: floating dtype of the accumulated state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> class BatchCount(Metric):
        ...     def _new_state(self, device):
        ...         return {"batches": self._zeros((), device)}
        ...     def update_state(self, y_true, y_pred, sample_weight=None):
        ...         self._state_on(_as_tensor(y_pred).device)["batches"].add_(1)
        ...     def result(self):
        ...         return self._current_state()["batches"].clone()
        >>> counter = BatchCount(name="batches")
        >>> counter.update_state(None, torch.zeros(4))
        >>> float(counter(None, torch.zeros(4)))
        2.0
    """

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Metric `name` must be a string or None. Received: name={name!r}")
        self.name = name if name is not None else _auto_name(type(self).__name__)
        self._dtype = _torch_dtype(dtype)
        self._state: dict[str, torch.Tensor] | None = None
        self._constants: dict[str, torch.Tensor] = {}
        self._device: torch.device | None = None

    @property
    def dtype(self) -> str:
        """Name of the state's dtype, e.g. 'float32' (as Keras reports it)."""
        return str(self._dtype).replace("torch.", "")

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Accumulate one batch into the state."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_state().")

    def result(self) -> torch.Tensor:
        """The metric's value so far, as a tensor on the state's device."""
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def reset_state(self, device: torch.device | str | None = None) -> None:
        """Zero the state in place, or create it afresh on `device` when one is given.

        Args:
            device: where to (re)create the state, e.g. the model's device at the start of `fit`.
                Defaults to None: keep the current tensors and zero them.
        """
        if device is not None:
            self._create_state(torch.device(device))
        elif self._state is not None:
            for tensor in self._state.values():
                tensor.zero_()
        self._reset_host_state()

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Update with one batch and return the result so far (Keras's `metric(y_true, y_pred)`)."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this metric with `from_config`."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Metric":
        """Build a metric from the output of `get_config`."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"

    # Hooks for subclasses --------------------------------------------------------------------

    def _new_state(self, device: torch.device) -> dict[str, torch.Tensor] | None:
        """Fresh zeroed state tensors on `device` (None while their shape is not yet known)."""
        return {}

    def _new_constants(self, device: torch.device) -> dict[str, torch.Tensor]:
        """Read-only tensors the update needs on the state's device (thresholds, ...)."""
        return {}

    def _reset_host_state(self) -> None:
        """Zero whatever part of the state lives on the host."""

    # State plumbing --------------------------------------------------------------------------

    def _zeros(self, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        return torch.zeros(shape, dtype=self._dtype, device=device)

    def _create_state(self, device: torch.device) -> None:
        # A metric first used under torch.inference_mode() would otherwise own inference tensors,
        # which cannot be updated in place once training resumes outside that mode.
        with torch.inference_mode(False):
            self._state = self._new_state(device)
            self._constants = self._new_constants(device)
        self._device = device

    def _state_on(self, device: torch.device) -> dict[str, torch.Tensor]:
        """The state tensors, created on `device` at first use and moved there if batches moved."""
        if self._state is None:
            self._create_state(device)
        elif device != self._device:
            self._state = {key: tensor.to(device) for key, tensor in self._state.items()}
            self._constants = {key: tensor.to(device) for key, tensor in self._constants.items()}
            self._device = device
        return self._state

    def _current_state(self) -> dict[str, torch.Tensor]:
        """The state for `result()`: zeros on the default device if nothing was accumulated yet."""
        if self._state is None:
            self._create_state(default_device())
        return self._state


# --------------------------------------------------------------------------------------------------
# Reductions: Mean, Sum, MeanMetricWrapper
# --------------------------------------------------------------------------------------------------


class Mean(Metric):
    """Weighted mean of values; the engine tracks the loss with one.

    Values of shape (batch, ...) count once per sample (their mean over the trailing axes). A
    scalar `sample_weight` (a number or a 0-d tensor) weighs the batch as a whole: its mean value
    counts that many times, so `update_state(batch_loss, sample_weight=batch_size)` averages a
    loss over samples.

    Args:
        name: name of the metric. Defaults to 'mean'.
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> mean = Mean()
        >>> mean.update_state(torch.tensor(2.0), sample_weight=3)
        >>> mean.update_state(torch.tensor(6.0), sample_weight=1)
        >>> float(mean.result())
        3.0
    """

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self._host_weight = 0.0

    def _new_state(self, device: torch.device) -> dict[str, torch.Tensor]:
        # Weights that are tensors are summed on the device; unweighted sample counts and Python
        # number weights are known on the host and summed there, sparing a kernel per batch.
        return {"total": self._zeros((), device), "weight": self._zeros((), device)}

    def _reset_host_state(self) -> None:
        self._host_weight = 0.0

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """Add a batch of values (any shape; a 0-d value is one sample).

        Args:
            values: the values to average.
            sample_weight: None, a number, or a tensor broadcastable to `values`. Defaults to None.
        """
        values = _as_tensor(values)
        state = self._state_on(values.device)
        samples = values.shape[0] if values.ndim else 1
        elements = values.numel()
        if elements == 0:
            return
        if sample_weight is None:
            state["total"].add_(values.sum(dtype=self._dtype), alpha=samples / elements)
            self._host_weight += samples
        elif _is_python_number(sample_weight):
            weight = float(sample_weight)
            state["total"].add_(values.sum(dtype=self._dtype), alpha=weight / elements)
            self._host_weight += weight
        else:
            self._add_weighted(state, values, _as_tensor(sample_weight, values.device))

    def _add_weighted(self, state: dict, values: torch.Tensor, weights: torch.Tensor) -> None:
        values, weights = _match_rank(values, weights.to(self._dtype))
        if weights.ndim == 0:
            state["total"].add_(values.sum(dtype=self._dtype) * weights, alpha=1 / values.numel())
            state["weight"].add_(weights)
            return
        weights = _broadcast_weights(weights, values.shape)
        # Keras averages each sample over the axes the weights do not cover, then over the rest of
        # the weights' own axes; both reduce to one scale factor on the plain sums.
        samples = values.shape[0]
        state["total"].add_((values * weights).sum(dtype=self._dtype), alpha=samples / values.numel())
        weight_axes = weights.ndim if weights.stride()[-1] else _covered_rank(weights)
        per_sample = _product(values.shape[1:weight_axes])
        state["weight"].add_(weights.sum(dtype=self._dtype), alpha=1 / (per_sample * _product(values.shape[weight_axes:])))

    def result(self) -> torch.Tensor:
        state = self._current_state()
        return _divide_no_nan(state["total"], state["weight"] + self._host_weight)


def _covered_rank(expanded: torch.Tensor) -> int:
    """How many leading axes of an expanded weight tensor carry real (not broadcast) values."""
    strides = expanded.stride()
    rank = expanded.ndim
    while rank > 1 and strides[rank - 1] == 0:
        rank -= 1
    return rank


class Sum(Metric):
    """Weighted sum of values.

    Args:
        name: name of the metric. Defaults to 'sum'.
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> total = Sum()
        >>> total.update_state(torch.tensor([1.0, 2.0]), sample_weight=torch.tensor([1.0, 0.5]))
        >>> float(total.result())
        2.0
    """

    def __init__(self, name: str = "sum", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def _new_state(self, device: torch.device) -> dict[str, torch.Tensor]:
        return {"total": self._zeros((), device)}

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """Add the (weighted) sum of a batch of values."""
        values = _as_tensor(values)
        total = self._state_on(values.device)["total"]
        if sample_weight is None:
            total.add_(values.sum(dtype=self._dtype))
        elif _is_python_number(sample_weight):
            total.add_(values.sum(dtype=self._dtype), alpha=float(sample_weight))
        else:
            weights = _as_tensor(sample_weight, values.device).to(self._dtype)
            values, weights = _match_rank(values, weights)
            total.add_((values * _broadcast_weights(weights, values.shape)).sum(dtype=self._dtype))

    def result(self) -> torch.Tensor:
        return self._current_state()["total"].clone()
