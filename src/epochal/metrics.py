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
import numbers
import re
from typing import Any, Callable, Sequence

import torch

from epochal.backend import default_device
from epochal.utils.lookup import canonical, keyword_checked, lookup

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


# --------------------------------------------------------------------------------------------------
# Base classes
# --------------------------------------------------------------------------------------------------


class Metric:
    """Base class of every stateful metric: accumulate with `update_state`, read with `result`.

    Subclasses describe their state tensors in `_new_state(device)` and reach them through
    `_state_on(batch_device)` in `update_state` and `_current_state()` in `result`. The base class
    creates them on the device of the first batch (or the one given to `reset_state`), moves them
    if batches later arrive elsewhere, and zeroes them in place on `reset_state()`.

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
        ...         self._state_on(y_pred.device)["batches"].add_(1)
        ...     def result(self):
        ...         return self._current_state()["batches"].clone()
        >>> counter = BatchCount(name="batches")
        >>> counter.update_state(None, torch.zeros(4))
        >>> float(counter(None, torch.zeros(4)))
        2.0
    """

    # "up"/"down" when a higher/lower value is better, as in Keras; callbacks with mode="auto" read it.
    _direction: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:  # AUC(num_threshold=10) names 'num_thresholds'
            cls.__init__ = keyword_checked(cls.__init__)

    @keyword_checked
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
            state["total"].add_(self._sum(values), alpha=samples / elements)
            self._host_weight += samples
        elif _is_python_number(sample_weight):
            weight = float(sample_weight)
            state["total"].add_(self._sum(values), alpha=weight / elements)
            self._host_weight += weight
        else:
            self._add_weighted(state, values, _as_tensor(sample_weight, values.device))

    def _sum(self, values: torch.Tensor) -> torch.Tensor:
        # A 0-d value (the engine's per-batch loss) is added as is: one kernel instead of two.
        return values if values.ndim == 0 else values.sum(dtype=self._dtype)

    def _add_weighted(self, state: dict, values: torch.Tensor, weights: torch.Tensor) -> None:
        values, weights = _match_rank(values, weights.to(self._dtype))
        if weights.ndim == 0:
            state["total"].add_(values.sum(dtype=self._dtype) * weights, alpha=1 / values.numel())
            state["weight"].add_(weights)
            return
        weights = _broadcast_weights(weights, values.shape)
        # Keras averages each sample over the axes the weights do not cover, then over the rest of
        # the weights' own axes, for values and weights alike: one scale factor on the plain sums.
        scale = values.shape[0] / values.numel()
        state["total"].add_((values * weights).sum(dtype=self._dtype), alpha=scale)
        state["weight"].add_(weights.sum(dtype=self._dtype), alpha=scale)

    def result(self) -> torch.Tensor:
        state = self._current_state()
        return _divide_no_nan(state["total"], state["weight"] + self._host_weight)


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


class MeanMetricWrapper(Mean):
    """Turn a per-sample function `fn(y_true, y_pred) -> tensor[batch]` into a (weighted) mean metric.

    Args:
        fn: the per-sample function; extra keyword arguments are passed to it on every call.
        name: name of the metric. Defaults to `fn.__name__`.
        dtype: dtype of the state. Defaults to 'float32'.
        **fn_kwargs: keyword arguments for `fn`, e.g. `from_logits=True`.

    Example:
        >>> import torch
        >>> def absolute_error(y_true, y_pred):
        ...     return (y_true - y_pred).abs()
        >>> metric = MeanMetricWrapper(absolute_error)
        >>> metric.name
        'absolute_error'
        >>> float(metric(torch.tensor([1.0, 2.0]), torch.tensor([1.5, 2.0])))
        0.25
    """

    def __init__(self, fn: Callable, name: str | None = None, dtype: Any = None, **fn_kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(
                "MeanMetricWrapper expects a function fn(y_true, y_pred) returning one value per "
                f"sample. Received: fn={fn!r}"
            )
        super().__init__(name=name if name is not None else _function_name(fn), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = fn_kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add `fn(y_true, y_pred)` for one batch."""
        y_pred = _as_tensor(y_pred)
        y_true = _as_tensor(y_true, y_pred.device)
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": _function_name(self._fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "MeanMetricWrapper":
        config = dict(config)
        if isinstance(config.get("fn"), str):
            config["fn"] = _function_by_name(config["fn"])
        return cls(**config)


def _function_name(fn: Callable) -> str:
    return getattr(fn, "__name__", None) or _snake_case(type(fn).__name__)


class _LossFunction:
    """A per-sample loss from `epochal.losses`, imported on first call.

    Metrics named after losses ('binary_crossentropy', 'huber', ...) reuse the loss code, but this
    module must import on its own, so the loss module is only looked up when a batch arrives.
    """

    def __init__(self, loss_name: str) -> None:
        self.__name__ = loss_name
        self._function: Callable | None = None

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        if self._function is None:
            self._function = getattr(importlib.import_module("epochal.losses"), self.__name__)
        return self._function(y_true, y_pred, **kwargs)


def _losses_module():
    """`epochal.losses`, or None while it does not exist yet."""
    try:
        return importlib.import_module("epochal.losses")
    except ModuleNotFoundError as error:
        if error.name != "epochal.losses":
            raise
        return None


def _loss_function_named(name: str) -> Callable | None:
    """The per-sample loss function `epochal.losses.<name>`, if there is one."""
    losses = _losses_module()
    function = getattr(losses, name, None) if losses is not None and not name.startswith("_") else None
    return function if inspect.isfunction(function) else None


# --------------------------------------------------------------------------------------------------
# Per-sample functions. The private ones return booleans (one kernel fewer than Keras's float32);
# the public ones, with Keras's names, return float32 as Keras does.
# --------------------------------------------------------------------------------------------------


def _exact_matches(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_true, y_pred = _match_rank(y_true.to(y_pred.dtype), y_pred)
    return y_true == y_pred


def _binary_matches(y_true: torch.Tensor, y_pred: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    y_true, y_pred = _match_rank(y_true, y_pred)
    return (y_pred > threshold) == y_true


def _categorical_matches(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    return y_true.argmax(-1) == y_pred.argmax(-1)


def _sparse_labels(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Class indices shaped like `y_pred` without its class axis: (n, 1) labels become (n,)."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        return y_true.squeeze(-1)
    return y_true


def _sparse_categorical_matches(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    return y_pred.argmax(-1) == _sparse_labels(y_true, y_pred)


def _in_top_k(labels: torch.Tensor, scores: torch.Tensor, k: int) -> torch.Tensor:
    """Whether each label's score is among the k largest; ties at the boundary count as in (as Keras)."""
    label_scores = scores.gather(-1, labels.long().unsqueeze(-1))
    return (scores > label_scores).sum(-1) < k


def _top_k_matches(y_true: torch.Tensor, y_pred: torch.Tensor, k: int = 5) -> torch.Tensor:
    return _in_top_k(y_true.argmax(-1), y_pred, k)


def _sparse_top_k_matches(y_true: torch.Tensor, y_pred: torch.Tensor, k: int = 5) -> torch.Tensor:
    return _in_top_k(_sparse_labels(y_true, y_pred), y_pred, k)


def _public(matches: Callable, name: str, summary: str) -> Callable:
    """A Keras-named per-sample function returning float32, built on a boolean one."""

    def per_sample(y_true: Any, y_pred: Any, **kwargs: Any) -> torch.Tensor:
        y_pred = _as_tensor(y_pred)
        return matches(_as_tensor(y_true, y_pred.device), y_pred, **kwargs).to(torch.float32)

    per_sample.__name__ = per_sample.__qualname__ = name
    per_sample.__doc__ = f"{summary}\n\n    Returns one float32 value (1.0 or 0.0) per sample, as Keras does.\n"
    return per_sample


accuracy = _public(_exact_matches, "accuracy", "Whether `y_true` equals `y_pred` exactly, elementwise.")
binary_accuracy = _public(
    _binary_matches, "binary_accuracy", "Whether `y_pred > threshold` (default 0.5) agrees with `y_true`."
)
categorical_accuracy = _public(
    _categorical_matches, "categorical_accuracy", "Whether the one-hot label's class has the top score."
)
sparse_categorical_accuracy = _public(
    _sparse_categorical_matches, "sparse_categorical_accuracy", "Whether the integer label has the top score."
)
top_k_categorical_accuracy = _public(
    _top_k_matches, "top_k_categorical_accuracy", "Whether the one-hot label is among the k (default 5) top scores."
)
sparse_top_k_categorical_accuracy = _public(
    _sparse_top_k_matches,
    "sparse_top_k_categorical_accuracy",
    "Whether the integer label is among the k (default 5) top scores.",
)


def _regression_pair(y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return _match_rank(y_true.to(y_pred.dtype), y_pred)


def _mean_squared_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return (y_true - y_pred).square().mean(-1)


def _mean_absolute_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return (y_true - y_pred).abs().mean(-1)


def _mean_absolute_percentage_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_true, y_pred = _regression_pair(y_true, y_pred)
    # Dividing by at least EPSILON keeps zero targets finite, as Keras does.
    relative = (y_true - y_pred) / y_true.abs().clamp_min(EPSILON)
    return 100.0 * relative.abs().mean(-1)


# --------------------------------------------------------------------------------------------------
# Accuracy and regression metrics
# --------------------------------------------------------------------------------------------------


class _FixedFunctionMetric(MeanMetricWrapper):
    """A MeanMetricWrapper whose function is part of the class, so its config holds no `fn`."""

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, **self._fn_kwargs}


class Accuracy(_FixedFunctionMetric):
    """How often predictions equal labels exactly.

    Args:
        name: name of the metric. Defaults to 'accuracy'.
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> float(Accuracy()(torch.tensor([1, 2, 3, 4]), torch.tensor([0, 2, 3, 4])))
        0.75
    """

    _direction = "up"

    def __init__(self, name: str = "accuracy", dtype: Any = None) -> None:
        super().__init__(_exact_matches, name=name, dtype=dtype)


class BinaryAccuracy(_FixedFunctionMetric):
    """How often `y_pred > threshold` agrees with the 0/1 labels.

    Args:
        name: name of the metric. Defaults to 'binary_accuracy'.
        dtype: dtype of the state. Defaults to 'float32'.
        threshold: predictions above it count as 1. Defaults to 0.5.

    Example:
        >>> import torch
        >>> float(BinaryAccuracy()(torch.tensor([[1], [0]]), torch.tensor([[0.9], [0.6]])))
        0.5
    """

    _direction = "up"

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5) -> None:
        if not _is_python_number(threshold):
            raise TypeError(f"BinaryAccuracy `threshold` must be a number. Received: threshold={threshold!r}")
        super().__init__(_binary_matches, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(_FixedFunctionMetric):
    """How often the one-hot label's class gets the highest score.

    Args:
        name: name of the metric. Defaults to 'categorical_accuracy'.
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> y_true = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
        >>> float(CategoricalAccuracy()(y_true, torch.tensor([[0.3, 0.7], [0.4, 0.6]])))
        0.5
    """

    _direction = "up"

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(_categorical_matches, name=name, dtype=dtype)


class SparseCategoricalAccuracy(_FixedFunctionMetric):
    """How often the integer label gets the highest score; labels may be (n,) or (n, 1), int or float.

    Args:
        name: name of the metric. Defaults to 'sparse_categorical_accuracy'.
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> metric = SparseCategoricalAccuracy()
        >>> float(metric(torch.tensor([[1], [0]]), torch.tensor([[0.3, 0.7], [0.4, 0.6]])))
        0.5
    """

    _direction = "up"

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(_sparse_categorical_matches, name=name, dtype=dtype)


def _check_k(k: Any) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"Top-k accuracy needs a positive integer `k`. Received: k={k!r}")


class TopKCategoricalAccuracy(_FixedFunctionMetric):
    """How often the one-hot label's class is among the `k` highest scores.

    Args:
        k: how many top scores count as a hit. Defaults to 5.
        name: name of the metric. Defaults to 'top_k_categorical_accuracy'.
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> y_true = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
        >>> y_pred = torch.tensor([[0.1, 0.5, 0.4], [0.1, 0.05, 0.85]])
        >>> float(TopKCategoricalAccuracy(k=2)(y_true, y_pred))
        0.5
    """

    _direction = "up"

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None) -> None:
        _check_k(k)
        super().__init__(_top_k_matches, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(_FixedFunctionMetric):
    """How often the integer label is among the `k` highest scores.

    Args:
        k: how many top scores count as a hit. Defaults to 5.
        name: name of the metric. Defaults to 'sparse_top_k_categorical_accuracy'.
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> y_pred = torch.tensor([[0.1, 0.5, 0.4], [0.1, 0.05, 0.85]])
        >>> float(SparseTopKCategoricalAccuracy(k=2)(torch.tensor([2, 1]), y_pred))
        0.5
    """

    _direction = "up"

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype: Any = None) -> None:
        _check_k(k)
        super().__init__(_sparse_top_k_matches, name=name, dtype=dtype, k=k)
        self.k = k


class MeanSquaredError(_FixedFunctionMetric):
    """Mean of the squared errors, averaged over the last axis per sample.

    Args:
        name: name of the metric. Defaults to 'mean_squared_error'.
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> float(MeanSquaredError()(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]])))
        0.5
    """

    _direction = "down"

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(_mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(_FixedFunctionMetric):
    """Mean of the absolute errors, averaged over the last axis per sample.

    Args:
        name: name of the metric. Defaults to 'mean_absolute_error'.
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> float(MeanAbsoluteError()(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]])))
        0.5
    """

    _direction = "down"

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(_mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_FixedFunctionMetric):
    """Mean of 100 * |y_true - y_pred| / |y_true| (the denominator at least 1e-7).

    Args:
        name: name of the metric. Defaults to 'mean_absolute_percentage_error'.
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> float(MeanAbsolutePercentageError()(torch.tensor([[2.0, 4.0]]), torch.tensor([[1.0, 4.0]])))
        25.0
    """

    _direction = "down"

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype: Any = None) -> None:
        super().__init__(_mean_absolute_percentage_error, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """Square root of the mean squared error over every element seen.

    Args:
        name: name of the metric. Defaults to 'root_mean_squared_error'.
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> float(RootMeanSquaredError()(torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]])))
        3.535533905029297
    """

    _direction = "down"

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add the squared errors of one batch."""
        y_pred = _as_tensor(y_pred).to(self._dtype)
        y_true = _as_tensor(y_true, y_pred.device).to(self._dtype)
        y_true, y_pred = _match_rank(y_true, y_pred)
        super().update_state((y_pred - y_true).square(), sample_weight)

    def result(self) -> torch.Tensor:
        return super().result().sqrt()


class BinaryCrossentropy(_FixedFunctionMetric):
    """Mean binary crossentropy, computed by `epochal.losses.binary_crossentropy`.

    Args:
        name: name of the metric. Defaults to 'binary_crossentropy'.
        dtype: dtype of the state. Defaults to 'float32'.
        from_logits: whether `y_pred` holds logits rather than probabilities. Defaults to False.
        label_smoothing: squeeze labels towards 0.5 by this much. Defaults to 0.

    Example:
        >>> BinaryCrossentropy(from_logits=True).get_config()["from_logits"]
        True
    """

    _direction = "down"

    def __init__(
        self,
        name: str = "binary_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0,
    ) -> None:
        super().__init__(
            _LossFunction("binary_crossentropy"),
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
        )


class CategoricalCrossentropy(_FixedFunctionMetric):
    """Mean crossentropy of one-hot labels, computed by `epochal.losses.categorical_crossentropy`.

    Args:
        name: name of the metric. Defaults to 'categorical_crossentropy'.
        dtype: dtype of the state. Defaults to 'float32'.
        from_logits: whether `y_pred` holds logits rather than probabilities. Defaults to False.
        label_smoothing: squeeze labels towards uniform by this much. Defaults to 0.
        axis: the class axis. Defaults to -1.

    Example:
        >>> CategoricalCrossentropy().name
        'categorical_crossentropy'
    """

    _direction = "down"

    def __init__(
        self,
        name: str = "categorical_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0,
        axis: int = -1,
    ) -> None:
        super().__init__(
            _LossFunction("categorical_crossentropy"),
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class SparseCategoricalCrossentropy(_FixedFunctionMetric):
    """Mean crossentropy of integer labels, computed by `epochal.losses.sparse_categorical_crossentropy`.

    Args:
        name: name of the metric. Defaults to 'sparse_categorical_crossentropy'.
        dtype: dtype of the state. Defaults to 'float32'.
        from_logits: whether `y_pred` holds logits rather than probabilities. Defaults to False.
        axis: the class axis. Defaults to -1.

    Example:
        >>> SparseCategoricalCrossentropy().name
        'sparse_categorical_crossentropy'
    """

    _direction = "down"

    def __init__(
        self,
        name: str = "sparse_categorical_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        axis: int = -1,
    ) -> None:
        super().__init__(
            _LossFunction("sparse_categorical_crossentropy"),
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            axis=axis,
        )


# --------------------------------------------------------------------------------------------------
# Threshold metrics: confusion counts, Precision, Recall, AUC
# --------------------------------------------------------------------------------------------------


def _threshold_list(thresholds: Any, default: float) -> list[float]:
    """User thresholds as a list of floats in [0, 1] (their order kept), or `[default]`."""
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
    if not values or any(not _is_python_number(value) or not 0 <= value <= 1 for value in values):
        raise ValueError(
            f"`thresholds` must be a number or a non-empty list of numbers in [0, 1]. "
            f"Received: thresholds={thresholds!r}"
        )
    return [float(value) for value in values]


def _is_evenly_spaced(thresholds: Sequence[float]) -> bool:
    """Whether thresholds are 0, 1/(n-1), ..., 1 up to Keras's tolerance (enables bucketing by ceil)."""
    count = len(thresholds)
    if count < 3:
        return False
    return all(
        abs(value - index / (count - 1)) <= EPSILON + 1e-5 * index / (count - 1)
        for index, value in enumerate(thresholds)
    )


class _ThresholdCounts(Metric):
    """Weighted label counts per prediction bucket, from which TP/FP/TN/FN per threshold follow.

    A prediction p falls in bucket k = the number of thresholds strictly below p: it is predicted
    positive at exactly the k lowest thresholds. The state is a histogram of shape
    (labels, 2, thresholds + 1) over (label column, y_true != 0, k), grown by one `index_add_` per
    batch; `result()` turns it into counts per threshold with cumulative sums. That keeps each
    update at a few kernels regardless of the number of thresholds.
    """

    def __init__(
        self,
        thresholds: list[float],
        name: str | None,
        dtype: Any,
        multi_label: bool = False,
        num_labels: int | None = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        self.thresholds = list(thresholds)
        self._sorted_thresholds = sorted(self.thresholds)
        order = sorted(range(len(thresholds)), key=lambda index: thresholds[index])
        # Where each user-ordered threshold sits among the sorted ones, to report results in the
        # order the user gave (Keras does not sort Precision's thresholds).
        self._user_order = sorted(range(len(order)), key=lambda index: order[index])
        # Keras only takes the ceil shortcut for thresholds given in ascending order.
        self._evenly_spaced = self._sorted_thresholds == self.thresholds and _is_evenly_spaced(self.thresholds)
        self._with_epsilon = self._sorted_thresholds[0] < 0 or self._sorted_thresholds[-1] > 1
        self._multi_label = multi_label
        self._num_labels = num_labels if multi_label else 1

    # State -----------------------------------------------------------------------------------

    def _new_state(self, device: torch.device) -> dict[str, torch.Tensor] | None:
        if self._num_labels is None:
            return None
        return {"counts": self._zeros((self._num_labels, 2, len(self.thresholds) + 1), device)}

    def _new_constants(self, device: torch.device) -> dict[str, torch.Tensor]:
        constants = {"one": torch.ones((), dtype=self._dtype, device=device)}
        if not self._evenly_spaced:
            constants["thresholds"] = torch.tensor(self._sorted_thresholds, dtype=self._dtype, device=device)
        if self._user_order != sorted(self._user_order):
            constants["user_order"] = torch.tensor(self._user_order, device=device)
        if self._multi_label and self._num_labels:
            stride = 2 * (len(self.thresholds) + 1)
            constants["label_offsets"] = torch.arange(self._num_labels, device=device) * stride
        return constants

    # Update ----------------------------------------------------------------------------------

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Count one batch of labels (0 = negative, anything else = positive) and scores."""
        y_pred = _as_tensor(y_pred)
        y_true = _as_tensor(y_true, y_pred.device)
        y_pred, y_true = _match_rank(y_pred, y_true)
        if y_true.shape != y_pred.shape:
            raise ValueError(
                f"{type(self).__name__} needs labels and predictions of the same shape. Received: "
                f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}."
            )
        self._prepare(y_pred)
        counts = self._state_on(y_pred.device)["counts"]
        y_true, y_pred = self._select(y_true, y_pred)
        alpha, weights = self._weights(sample_weight, y_pred)
        index = self._bucket(y_pred.to(self._dtype)) + (y_true != 0) * (len(self.thresholds) + 1)
        if "label_offsets" in self._constants:
            index = index + self._constants["label_offsets"]
        source = weights.reshape(-1) if weights is not None else self._constants["one"].expand(index.numel())
        counts.view(-1).index_add_(0, index.reshape(-1), source, alpha=alpha)

    def _prepare(self, y_pred: torch.Tensor) -> None:
        """Check or learn shape-dependent settings from the first batch (multi-label AUC)."""

    def _select(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Transform labels and scores before counting (top-k, class_id, logits)."""
        return y_true, y_pred

    def _extra_weights(self, shape: torch.Size) -> torch.Tensor | None:
        """Per-element weights multiplied into the sample weights (AUC's label_weights)."""
        return None

    def _weights(self, sample_weight: Any, y_pred: torch.Tensor) -> tuple[float, torch.Tensor | None]:
        """(scalar factor, per-element weights or None) for `index_add_`."""
        alpha, weights = 1.0, None
        if _is_python_number(sample_weight):
            alpha = float(sample_weight)
        elif sample_weight is not None:
            sample_weight = _as_tensor(sample_weight, y_pred.device).to(self._dtype)
            weights = _broadcast_weights(sample_weight, y_pred.shape)
        extra = self._extra_weights(y_pred.shape)
        if extra is not None:
            weights = extra if weights is None else weights * extra
        return alpha, weights

    def _bucket(self, scores: torch.Tensor) -> torch.Tensor:
        """Number of (sorted) thresholds strictly below each score, as int64."""
        if not self._evenly_spaced:
            return torch.searchsorted(self._constants["thresholds"], scores.contiguous())
        # Keras's fast path for evenly spaced thresholds: the bucket follows from the score by ceil.
        last = len(self.thresholds) - 1
        buckets = torch.ceil(scores.clamp(0.0, 1.0) * last).long()
        # The epsilon-wide outer thresholds put scores of exactly 0 above the first threshold; the
        # integer clamp also keeps NaN scores inside the histogram instead of indexing out of it.
        return buckets.clamp_(1 if self._with_epsilon else 0, last)

    # Results ---------------------------------------------------------------------------------

    def _confusion(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(tp, fp, tn, fn), each (labels, thresholds) with thresholds ascending."""
        counts = self._current_state()["counts"]
        # Bucket k is predicted positive at thresholds 0..k-1, so at threshold i the positives are
        # buckets above i and the negatives buckets up to i. Summing each side directly (rather
        # than subtracting from totals) keeps small counts exact next to large ones.
        predicted_positive = counts.flip(-1).cumsum(-1).flip(-1)[..., 1:]
        predicted_negative = counts.cumsum(-1)[..., :-1]
        false_positives, true_positives = predicted_positive[:, 0], predicted_positive[:, 1]
        true_negatives, false_negatives = predicted_negative[:, 0], predicted_negative[:, 1]
        return true_positives, false_positives, true_negatives, false_negatives

    def _in_user_order(self, per_threshold: torch.Tensor) -> torch.Tensor:
        """Reorder the last (threshold) axis as the user listed the thresholds."""
        if "user_order" in self._constants:
            return per_threshold.index_select(-1, self._constants["user_order"])
        return per_threshold

    def _keras_layout(self, per_threshold: torch.Tensor) -> torch.Tensor:
        """(labels, thresholds) -> Keras's variable shape: (thresholds,) or (thresholds, labels)."""
        per_threshold = self._in_user_order(per_threshold)
        return per_threshold.T.contiguous() if self._multi_label else per_threshold[0].clone()

    def _one_or_many(self, per_threshold: torch.Tensor) -> torch.Tensor:
        """A 0-d result for a single threshold, else one value per threshold in the user's order."""
        per_threshold = self._in_user_order(per_threshold)[0]
        return per_threshold[0] if len(self.thresholds) == 1 else per_threshold

    @property
    def true_positives(self) -> torch.Tensor:
        """Weighted true positives per threshold (Keras's variable of the same name)."""
        return self._keras_layout(self._confusion()[0])

    @property
    def false_positives(self) -> torch.Tensor:
        """Weighted false positives per threshold."""
        return self._keras_layout(self._confusion()[1])

    @property
    def true_negatives(self) -> torch.Tensor:
        """Weighted true negatives per threshold."""
        return self._keras_layout(self._confusion()[2])

    @property
    def false_negatives(self) -> torch.Tensor:
        """Weighted false negatives per threshold."""
        return self._keras_layout(self._confusion()[3])


class _ConfusionCount(_ThresholdCounts):
    """One cell of the confusion matrix, per threshold."""

    _cell = 0

    def __init__(self, thresholds: Any = None, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(_threshold_list(thresholds, 0.5), name=name, dtype=dtype)
        self.init_thresholds = thresholds

    def result(self) -> torch.Tensor:
        return self._one_or_many(self._confusion()[self._cell]).clone()

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """Weighted count of positive labels predicted above each threshold.

    Args:
        thresholds: a number or list of numbers in [0, 1]; predictions above one count as
            positive. Defaults to 0.5. A list gives one count per threshold.
        name: name of the metric. Defaults to 'true_positives' (numbered when reused).
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> float(TruePositives()(torch.tensor([0, 1, 1, 1]), torch.tensor([1.0, 0.0, 1.0, 1.0])))
        2.0
    """

    _cell = 0


class FalsePositives(_ConfusionCount):
    """Weighted count of negative labels predicted above each threshold.

    Args:
        thresholds: a number or list of numbers in [0, 1]. Defaults to 0.5.
        name: name of the metric. Defaults to 'false_positives' (numbered when reused).
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> float(FalsePositives()(torch.tensor([0, 1, 0, 0]), torch.tensor([0.0, 0.0, 1.0, 1.0])))
        2.0
    """

    _cell = 1


class TrueNegatives(_ConfusionCount):
    """Weighted count of negative labels predicted at or below each threshold.

    Args:
        thresholds: a number or list of numbers in [0, 1]. Defaults to 0.5.
        name: name of the metric. Defaults to 'true_negatives' (numbered when reused).
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> float(TrueNegatives()(torch.tensor([0, 1, 0, 0]), torch.tensor([0.0, 0.0, 1.0, 0.0])))
        2.0
    """

    _cell = 2


class FalseNegatives(_ConfusionCount):
    """Weighted count of positive labels predicted at or below each threshold.

    Args:
        thresholds: a number or list of numbers in [0, 1]. Defaults to 0.5.
        name: name of the metric. Defaults to 'false_negatives' (numbered when reused).
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> float(FalseNegatives()(torch.tensor([0, 1, 1, 1]), torch.tensor([0.0, 1.0, 0.0, 0.0])))
        2.0
    """

    _cell = 3


class _PrecisionRecallBase(_ThresholdCounts):
    """Shared arguments of Precision and Recall: thresholds, top_k, class_id."""

    def __init__(
        self,
        thresholds: Any = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
            raise ValueError(f"`top_k` must be a positive integer or None. Received: top_k={top_k!r}")
        if class_id is not None and (not isinstance(class_id, int) or isinstance(class_id, bool) or class_id < 0):
            raise ValueError(f"`class_id` must be a non-negative integer or None. Received: class_id={class_id!r}")
        # With top_k and no thresholds, every score kept in the top k counts as a positive prediction.
        default_threshold = 0.5 if top_k is None else NEG_INF
        super().__init__(_threshold_list(thresholds, default_threshold), name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id

    def _select(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.top_k is not None:
            top_indices = y_pred.topk(self.top_k, dim=-1).indices
            kept = torch.zeros_like(y_pred, dtype=torch.bool).scatter_(-1, top_indices, True)
            y_pred = torch.where(kept, y_pred, NEG_INF)
        if self.class_id is not None:
            if y_pred.ndim < 2:
                raise ValueError(
                    "With `class_id`, y_pred must have shape (num_samples, num_classes). "
                    f"Received: y_pred.shape={tuple(y_pred.shape)}"
                )
            y_true = y_true[..., self.class_id : self.class_id + 1]
            y_pred = y_pred[..., self.class_id : self.class_id + 1]
        return y_true, y_pred

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_PrecisionRecallBase):
    """Fraction of positive predictions that are right: tp / (tp + fp), per threshold.

    Args:
        thresholds: a number or list of numbers in [0, 1]; predictions above one count as
            positive. Defaults to 0.5 (or, with `top_k`, every prediction in the top k).
        top_k: only the k highest scores of each sample may count as positive. Defaults to None.
        class_id: compute the metric for this class column only. Defaults to None.
        name: name of the metric. Defaults to 'precision' (numbered when reused).
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> float(Precision()(torch.tensor([0, 1, 1, 1]), torch.tensor([1.0, 0.0, 1.0, 1.0])))
        0.6666666865348816
    """

    _direction = "up"

    def result(self) -> torch.Tensor:
        true_positives, false_positives, _, _ = self._confusion()
        return self._one_or_many(_divide_no_nan(true_positives, true_positives + false_positives))


class Recall(_PrecisionRecallBase):
    """Fraction of positive labels that are found: tp / (tp + fn), per threshold.

    Args:
        thresholds: a number or list of numbers in [0, 1]; predictions above one count as
            positive. Defaults to 0.5 (or, with `top_k`, every prediction in the top k).
        top_k: only the k highest scores of each sample may count as positive. Defaults to None.
        class_id: compute the metric for this class column only. Defaults to None.
        name: name of the metric. Defaults to 'recall' (numbered when reused).
        dtype: dtype of the state. Defaults to 'float32'.

    Example:
        >>> import torch
        >>> float(Recall()(torch.tensor([0, 1, 1, 1]), torch.tensor([1.0, 0.0, 1.0, 1.0])))
        0.6666666865348816
    """

    _direction = "up"

    def result(self) -> torch.Tensor:
        true_positives, _, _, false_negatives = self._confusion()
        return self._one_or_many(_divide_no_nan(true_positives, true_positives + false_negatives))


_CURVES = ("ROC", "PR", "PRGAIN")
_SUMMATION_METHODS = ("interpolation", "minoring", "majoring")


class AUC(_ThresholdCounts):
    """Area under the ROC or precision-recall curve, approximated over fixed thresholds as Keras does.

    Predictions are counted against `num_thresholds` thresholds spread evenly over [0, 1] (the
    outer two nudged by 1e-7 outside it); the area is then a Riemann sum over those points.

    Args:
        num_thresholds: number of thresholds, more than 1. Defaults to 200.
        curve: 'ROC', 'PR' (precision-recall) or 'PRGAIN'. Defaults to 'ROC'.
        summation_method: 'interpolation' (trapezoids; for PR the Davis & Goadrich
            interpolation), 'minoring' or 'majoring'. Defaults to 'interpolation'.
        name: name of the metric. Defaults to 'auc' (numbered when reused).
        dtype: dtype of the state. Defaults to 'float32'.
        thresholds: explicit thresholds in [0, 1] instead of evenly spaced ones. Defaults to None.
        multi_label: treat each column of a (batch, labels) prediction as its own binary problem
            and average their AUCs, instead of pooling every element. Defaults to False.
        num_labels: number of label columns when `multi_label` (otherwise learnt from the first
            batch). Defaults to None.
        label_weights: one weight per label column: weights the average over labels with
            `multi_label`, else weights each column's elements. Defaults to None.
        from_logits: apply a sigmoid to predictions first. Defaults to False.

    Example:
        >>> import torch
        >>> auc = AUC(num_thresholds=3)
        >>> float(auc(torch.tensor([0, 0, 1, 1]), torch.tensor([0.0, 0.5, 0.3, 0.9])))
        0.75
    """

    _direction = "up"

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype: Any = None,
        thresholds: Sequence[float] | None = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Sequence[float] | None = None,
        from_logits: bool = False,
    ) -> None:
        self.curve = _choice("curve", curve, _CURVES, str.upper)
        self.summation_method = _choice("summation_method", summation_method, _SUMMATION_METHODS, str.lower)
        if num_labels is not None and not multi_label:
            raise ValueError(
                "`num_labels` is only used with `multi_label=True`. "
                f"Received: num_labels={num_labels!r}, multi_label={multi_label!r}"
            )
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_threshold_list(list(thresholds), 0.5))
        else:
            if not isinstance(num_thresholds, int) or isinstance(num_thresholds, bool) or num_thresholds <= 1:
                raise ValueError(
                    "`num_thresholds` must be an integer greater than 1. "
                    f"Received: num_thresholds={num_thresholds!r}"
                )
            inner = [(index + 1) / (num_thresholds - 1) for index in range(num_thresholds - 2)]
        super().__init__(
            [-EPSILON] + inner + [1.0 + EPSILON],
            name=name,
            dtype=dtype,
            multi_label=multi_label,
            num_labels=num_labels,
        )
        # Keras decides the bucketing from the thresholds as if the outer ones were exactly 0 and 1.
        self._evenly_spaced = _is_evenly_spaced([0.0] + inner + [1.0])
        self.num_thresholds = len(inner) + 2
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else [float(weight) for weight in label_weights]
        self._from_logits = from_logits

    def _new_constants(self, device: torch.device) -> dict[str, torch.Tensor]:
        constants = super()._new_constants(device)
        if self.label_weights is not None:
            constants["label_weights"] = torch.tensor(self.label_weights, dtype=self._dtype, device=device)
        return constants

    def _prepare(self, y_pred: torch.Tensor) -> None:
        if not self.multi_label:
            return
        if y_pred.ndim != 2:
            raise ValueError(
                "With `multi_label=True`, y_pred must have shape (batch_size, num_labels). "
                f"Received: y_pred.shape={tuple(y_pred.shape)}"
            )
        if self._num_labels is None:
            self._num_labels = y_pred.shape[1]
        elif y_pred.shape[1] != self._num_labels:
            raise ValueError(
                f"AUC was built for {self._num_labels} labels but y_pred has {y_pred.shape[1]} columns. "
                f"Received: y_pred.shape={tuple(y_pred.shape)}"
            )

    def _select(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return y_true, torch.sigmoid(y_pred) if self._from_logits else y_pred

    def _extra_weights(self, shape: torch.Size) -> torch.Tensor | None:
        # With multi_label, label weights average the per-label areas instead (see result()).
        if self.label_weights is None or self.multi_label:
            return None
        return self._constants["label_weights"].expand(shape)

    def result(self) -> torch.Tensor:
        if self._state is None and self._num_labels is None:
            return torch.zeros((), dtype=self._dtype, device=default_device())
        true_positives, false_positives, true_negatives, false_negatives = self._confusion()
        if self.curve == "PR" and self.summation_method == "interpolation":
            per_label = _interpolated_pr_area(true_positives, false_positives, false_negatives)
        else:
            x, y = _curve_points(self.curve, true_positives, false_positives, true_negatives, false_negatives)
            per_label = _riemann_sum(x, y, self.summation_method)
        if not self.multi_label:
            return per_label[0]
        if self.label_weights is None:
            return per_label.mean()
        weights = self._constants["label_weights"]
        return _divide_no_nan((per_label * weights).sum(), weights.sum())

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": self.label_weights,
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


def _choice(argument: str, value: Any, allowed: Sequence[str], normalise: Callable[[str], str]) -> str:
    if isinstance(value, str) and normalise(value) in allowed:
        return normalise(value)
    raise ValueError(f"`{argument}` must be one of {list(allowed)}. Received: {argument}={value!r}")


def _curve_points(curve, true_positives, false_positives, true_negatives, false_negatives):
    """The (x, y) points of the curve, one per threshold, for the Riemann sum."""
    recall = _divide_no_nan(true_positives, true_positives + false_negatives)
    if curve == "ROC":
        return _divide_no_nan(false_positives, false_positives + true_negatives), recall
    if curve == "PR":
        return recall, _divide_no_nan(true_positives, true_positives + false_positives)
    # Precision-recall-gain (Flach & Kull, 2015): gains rescale against the always-positive baseline.
    scale = _divide_no_nan(true_positives + false_negatives, true_negatives + false_positives)
    recall_gain = 1.0 - scale * _divide_no_nan(false_negatives, true_positives)
    precision_gain = 1.0 - scale * _divide_no_nan(false_positives, true_positives)
    no_true_positives = true_positives == 0
    recall_gain = torch.where(no_true_positives, 0.0, recall_gain).clamp_min(0.0)
    precision_gain = torch.where(no_true_positives, 1.0, precision_gain)
    return recall_gain, precision_gain


def _riemann_sum(x: torch.Tensor, y: torch.Tensor, method: str) -> torch.Tensor:
    """Area under y(x) over the threshold axis; x decreases as the threshold rises."""
    if method == "interpolation":
        heights = (y[..., :-1] + y[..., 1:]) / 2.0
    elif method == "minoring":
        heights = torch.minimum(y[..., :-1], y[..., 1:])
    else:
        heights = torch.maximum(y[..., :-1], y[..., 1:])
    return ((x[..., :-1] - x[..., 1:]) * heights).sum(-1)


def _interpolated_pr_area(true_positives, false_positives, false_negatives) -> torch.Tensor:
    """PR area with precision interpolated between thresholds (Davis & Goadrich, 2006).

    Between two thresholds, true positives grow linearly with predicted positives, so precision
    is tp/p = slope + intercept/p, whose integral over recall has a closed form with a log term.
    """
    predicted = true_positives + false_positives
    tp_step = true_positives[..., :-1] - true_positives[..., 1:]
    predicted_step = predicted[..., :-1] - predicted[..., 1:]
    slope = _divide_no_nan(tp_step, predicted_step.clamp_min(0.0))
    intercept = true_positives[..., 1:] - slope * predicted[..., 1:]
    both_positive = (predicted[..., :-1] > 0) & (predicted[..., 1:] > 0)
    ratio = torch.where(
        both_positive, _divide_no_nan(predicted[..., :-1], predicted[..., 1:].clamp_min(0.0)), 1.0
    )
    positives = (true_positives[..., 1:] + false_negatives[..., 1:]).clamp_min(0.0)
    increments = _divide_no_nan(slope * (tp_step + intercept * torch.log(ratio)), positives)
    return increments.sum(-1)


# --------------------------------------------------------------------------------------------------
# Lookup by name: get() and resolve_accuracy()
# --------------------------------------------------------------------------------------------------

_METRIC_CLASSES: tuple[type[Metric], ...] = (
    Mean,
    Sum,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    RootMeanSquaredError,
    AUC,
    Precision,
    Recall,
    TruePositives,
    FalsePositives,
    TrueNegatives,
    FalseNegatives,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
)
_CLASSES_BY_NAME: dict[str, type[Metric]] = {
    **{cls.__name__: cls for cls in (*_METRIC_CLASSES, MeanMetricWrapper)},
}


def _loss_metric(loss_name: str) -> Callable[..., Metric]:
    def build(name: str | None = None) -> Metric:
        return MeanMetricWrapper(_LossFunction(loss_name), name=name or loss_name)

    return build


# Names a user may write in `metrics=[...]`, compared after folding case and '-'.
_REGISTRY: dict[str, Callable[..., Metric]] = {
    **{_snake_case(cls.__name__): cls for cls in _METRIC_CLASSES},
    "acc": Accuracy,
    "mse": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "bce": BinaryCrossentropy,
    "huber": _loss_metric("huber"),
}

_PER_SAMPLE_FUNCTIONS: dict[str, Callable] = {
    function.__name__: function
    for function in (
        accuracy,
        binary_accuracy,
        categorical_accuracy,
        sparse_categorical_accuracy,
        top_k_categorical_accuracy,
        sparse_top_k_categorical_accuracy,
    )
}


def _function_by_name(name: str) -> Callable:
    """The per-sample function a MeanMetricWrapper config refers to."""
    if name in _PER_SAMPLE_FUNCTIONS:
        return _PER_SAMPLE_FUNCTIONS[name]
    if _loss_function_named(name) is not None:
        return _LossFunction(name)
    raise ValueError(
        f"Cannot rebuild MeanMetricWrapper: no per-sample function named '{name}' in epochal.metrics "
        f"or epochal.losses. Known: {', '.join(sorted(_PER_SAMPLE_FUNCTIONS))}. "
        "Build the metric yourself with MeanMetricWrapper(your_function)."
    )


def _from_string(identifier: str) -> Metric:
    """A metric for a name from `metrics=[...]`, named as the user wrote it (it keys the history)."""
    cls = _CLASSES_BY_NAME.get(identifier)
    if cls is MeanMetricWrapper:
        raise ValueError(
            "'MeanMetricWrapper' needs a function; pass MeanMetricWrapper(fn) or fn itself instead of the name."
        )
    if cls is not None:
        return cls(name=identifier)
    folded = {canonical(key): factory for key, factory in _REGISTRY.items()}
    factory = folded.get(canonical(identifier))
    if factory is not None:
        return factory(name=identifier)
    loss_function = _loss_function_named(identifier)
    if loss_function is not None:
        return MeanMetricWrapper(loss_function, name=identifier)
    return lookup("metric", identifier, _REGISTRY)  # raises "Unknown metric ... Did you mean ...?"


def _from_config(identifier: dict) -> Metric:
    class_name = identifier.get("class_name")
    config = identifier.get("config", {})
    cls = _CLASSES_BY_NAME.get(class_name) if isinstance(class_name, str) else None
    if cls is None and isinstance(class_name, str):
        cls = {canonical(key): value for key, value in _REGISTRY.items() if isinstance(value, type)}.get(
            canonical(class_name)
        )
    if cls is None or not isinstance(config, dict):
        raise ValueError(
            "A metric config must look like {'class_name': 'AUC', 'config': {...}} with a class from "
            f"epochal.metrics. Received: {identifier!r}. Known classes: {', '.join(sorted(_CLASSES_BY_NAME))}."
        )
    return cls.from_config(config)


def get(identifier: Any) -> Metric | None:
    """Turn anything Keras accepts in `metrics=[...]` into a Metric instance.

    Args:
        identifier: one of
            - a name: 'accuracy', 'acc', 'mse', 'auc', 'sparse_categorical_accuracy', a class
              name such as 'MeanSquaredError', or the name of a loss in `epochal.losses`
              ('binary_crossentropy', 'huber', ...); the metric is named exactly as written;
            - a Metric class (instantiated with defaults) or instance (returned as is);
            - a function `fn(y_true, y_pred) -> tensor[batch]`, wrapped in a MeanMetricWrapper
              named `fn.__name__`;
            - a config dict `{'class_name': ..., 'config': {...}}`;
            - None, returned as None.

    Note that 'accuracy' means exact equality here, as in `keras.metrics.get`; `compile` picks
    the binary, categorical or sparse variant with `resolve_accuracy`.

    Raises:
        ValueError: for an unknown name (with the closest known names) or a malformed config.
        TypeError: for anything else.

    Example:
        >>> get("mse").name, type(get("mse")).__name__
        ('mse', 'MeanSquaredError')
        >>> get(AUC).name.startswith("auc")
        True
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        return _from_string(identifier)
    if isinstance(identifier, dict):
        return _from_config(identifier)
    if isinstance(identifier, type):
        if issubclass(identifier, Metric):
            return identifier()
        raise TypeError(
            f"A metric class must subclass epochal.metrics.Metric. Received: {identifier!r}"
        )
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=_function_name(identifier))
    raise TypeError(
        "Could not interpret metric identifier: expected a name, a Metric class or instance, a "
        f"function fn(y_true, y_pred) or a config dict. Received: {identifier!r}"
    )


_LOSS_FAMILIES = {
    "binarycrossentropy": "binary",
    "bce": "binary",
    "sparsecategoricalcrossentropy": "sparse",
    "categoricalcrossentropy": "categorical",
}


def _output_kind(y_true_shape: Sequence, y_pred_shape: Sequence, loss_name: str | None) -> str:
    """'binary', 'sparse' or 'categorical': what kind of labels and outputs a model has."""
    loss_family = None
    if isinstance(loss_name, str):
        loss_family = _LOSS_FAMILIES.get(canonical(loss_name).replace("_", ""))
    true_rank, pred_rank = len(y_true_shape), len(y_pred_shape)
    pred_last = y_pred_shape[-1] if pred_rank else None
    true_last = y_true_shape[-1] if true_rank else None
    # A rank-1 output has no class axis at all: it can only be one probability per sample.
    if loss_family == "binary" or pred_last == 1 or pred_rank <= 1:
        return "binary"
    if loss_family == "sparse" or true_rank < pred_rank or (true_last == 1 and pred_last != 1):
        return "sparse"
    return "categorical"


_ACCURACY_BY_KIND = {
    "binary": BinaryAccuracy,
    "sparse": SparseCategoricalAccuracy,
    "categorical": CategoricalAccuracy,
}
_CROSSENTROPY_BY_KIND = {
    "binary": BinaryCrossentropy,
    "sparse": SparseCategoricalCrossentropy,
    "categorical": CategoricalCrossentropy,
}


def resolve_accuracy(
    name: Any,
    y_true_shape: Sequence[int | None],
    y_pred_shape: Sequence[int | None],
    loss_name: str | None = None,
) -> Metric:
    """Pick the metric `compile(metrics=[name])` means, given the data's shapes and the loss.

    'accuracy' and 'acc' become binary accuracy when the model outputs one value per sample
    (last dimension 1, or a binary crossentropy loss), sparse categorical accuracy when labels
    are class indices (a sparse categorical crossentropy loss, labels of one rank less than
    the outputs, or labels ending in 1 against several outputs), and categorical accuracy when
    labels are one-hot like the outputs. 'crossentropy' and 'ce' resolve the same way to the
    matching crossentropy. The metric keeps the name the user wrote, which keys the history.
    Any other identifier goes to `get`.

    Args:
        name: the identifier from `metrics=[...]`.
        y_true_shape: shape of a batch of labels (None allowed for the batch dimension).
        y_pred_shape: shape of a batch of model outputs.
        loss_name: the loss's name, e.g. 'binary_crossentropy', if known. Defaults to None.

    Example:
        >>> metric = resolve_accuracy("acc", (32,), (32, 10), "sparse_categorical_crossentropy")
        >>> type(metric).__name__, metric.name
        ('SparseCategoricalAccuracy', 'acc')
        >>> type(resolve_accuracy("accuracy", (None, 1), (None, 1))).__name__
        'BinaryAccuracy'
    """
    if isinstance(name, str) and canonical(name) in ("accuracy", "acc"):
        return _ACCURACY_BY_KIND[_output_kind(y_true_shape, y_pred_shape, loss_name)](name=name)
    if isinstance(name, str) and canonical(name) in ("crossentropy", "ce"):
        return _CROSSENTROPY_BY_KIND[_output_kind(y_true_shape, y_pred_shape, loss_name)](name=name)
    return get(name)


__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "FalseNegatives",
    "FalsePositives",
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "Sum",
    "TopKCategoricalAccuracy",
    "TrueNegatives",
    "TruePositives",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "get",
    "resolve_accuracy",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]
