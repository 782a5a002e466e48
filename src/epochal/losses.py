"""Losses with Keras's names, arguments and reductions, computed stably with PyTorch.

Functions (`sparse_categorical_crossentropy(y_true, y_pred)`, ...) return one value per sample; classes
(`SparseCategoricalCrossentropy(from_logits=False)`, ...) reduce them with `sample_weight`, as Keras.

A cross-entropy loss can take the *logits* of a softmax/sigmoid output layer instead of its
probabilities (`fused_activation`); the training engine uses that so a saturated softmax never yields
inf or NaN.

Example:
    >>> import torch
    >>> loss = SparseCategoricalCrossentropy()
    >>> round(float(loss(torch.tensor([0]), torch.tensor([[0.5, 0.5]]))), 4)
    0.6931
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F

from epochal.utils.lookup import accepted_parameters, check_kwargs, lookup

EPSILON = 1e-7
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "none", None, "auto")


def _sparse_labels(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Integer class indices shaped like y_pred without its class axis."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    return y_true.long() if y_true.dtype != torch.long else y_true


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False, axis: int = -1) -> torch.Tensor:
    """Per-sample cross-entropy between integer labels and class probabilities (or logits)."""
    labels = _sparse_labels(y_true, y_pred)
    if from_logits:
        log_probs = torch.log_softmax(y_pred, dim=axis)
    else:
        probs = y_pred / y_pred.sum(dim=axis, keepdim=True)
        log_probs = torch.log(probs.clamp(EPSILON, 1.0 - EPSILON))
    return -log_probs.gather(axis, labels.unsqueeze(axis)).squeeze(axis)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0,
                             axis: int = -1) -> torch.Tensor:
    """Per-sample cross-entropy between one-hot labels and class probabilities (or logits)."""
    y_true = y_true.to(y_pred.dtype)
    if label_smoothing:
        num_classes = y_pred.shape[axis]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
    if from_logits:
        log_probs = torch.log_softmax(y_pred, dim=axis)
    else:
        probs = y_pred / y_pred.sum(dim=axis, keepdim=True)
        log_probs = torch.log(probs.clamp(EPSILON, 1.0 - EPSILON))
    return -(y_true * log_probs).sum(dim=axis)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0,
                        axis: int = -1) -> torch.Tensor:
    """Per-sample binary cross-entropy, averaged over the last axis as Keras does."""
    y_true = y_true.to(y_pred.dtype)
    if y_true.ndim == y_pred.ndim - 1:
        y_true = y_true.unsqueeze(-1)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        values = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        probs = y_pred.clamp(EPSILON, 1.0 - EPSILON)
        values = -(y_true * torch.log(probs) + (1.0 - y_true) * torch.log1p(-probs))
    return values.mean(dim=axis)


def _match(y_true, y_pred):
    y_true = y_true.to(y_pred.dtype)
    if y_true.ndim == y_pred.ndim - 1:
        y_true = y_true.unsqueeze(-1)
    return y_true


def mean_squared_error(y_true, y_pred) -> torch.Tensor:
    """Per-sample mean of squared differences over the last axis."""
    return (y_pred - _match(y_true, y_pred)).square().mean(dim=-1)


def mean_absolute_error(y_true, y_pred) -> torch.Tensor:
    """Per-sample mean of absolute differences over the last axis."""
    return (y_pred - _match(y_true, y_pred)).abs().mean(dim=-1)


def mean_absolute_percentage_error(y_true, y_pred) -> torch.Tensor:
    """Per-sample 100 * mean(|y - p| / max(|y|, eps))."""
    y_true = _match(y_true, y_pred)
    return 100.0 * ((y_true - y_pred).abs() / y_true.abs().clamp_min(EPSILON)).mean(dim=-1)


def huber(y_true, y_pred, delta: float = 1.0) -> torch.Tensor:
    """Per-sample Huber loss (quadratic below `delta`, linear above)."""
    return F.huber_loss(y_pred, _match(y_true, y_pred), reduction="none", delta=delta).mean(dim=-1)


mse, mae, mape = mean_squared_error, mean_absolute_error, mean_absolute_percentage_error


class Loss:
    """Base class: `call(y_true, y_pred)` gives per-sample values; `__call__` reduces them.

    Args:
        name: shown in configs. Defaults to the snake-case class name.
        reduction: 'sum_over_batch_size' (Keras's default: mean over samples, weights included),
            'sum', 'mean' or 'none'.
    """

    fused_activation: Optional[str] = None  # 'softmax' / 'sigmoid' when `call_on_logits` exists

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _with_keyword_check(cls.__init__)

    def __init__(self, name: Optional[str] = None, reduction: Optional[str] = "sum_over_batch_size",
                 dtype: Any = None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {[r for r in REDUCTIONS if r]}. Received: reduction={reduction!r}")
        self.name = name or _snake_case(type(self).__name__)
        self.reduction = "sum_over_batch_size" if reduction in ("auto", "mean") else reduction
        self.dtype = dtype

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def call_on_logits(self, y_true: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} cannot take logits")

    def __call__(self, y_true, y_pred, sample_weight=None) -> torch.Tensor:
        y_pred = _as_tensor(y_pred, torch.float32)
        y_true = _as_tensor(y_true, None, y_pred.device)
        if sample_weight is not None:
            sample_weight = _as_tensor(sample_weight, torch.float32, y_pred.device)
        return self.reduce(self.call(y_true, y_pred), sample_weight)

    def reduce(self, values: torch.Tensor, sample_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Apply sample weights and the reduction to per-sample values."""
        if sample_weight is not None:
            values = values * sample_weight.to(values.dtype).reshape(values.shape[:1] + (1,) * (values.ndim - 1))
        if self.reduction is None or self.reduction == "none":
            return values
        if self.reduction == "sum":
            return values.sum()
        return values.sum() / max(values.numel(), 1)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Loss":
        return cls(**config)


def _with_keyword_check(init: Callable) -> Callable:
    """Wrap a Loss subclass's __init__ so a misspelt keyword names the argument that was meant."""
    signature_names = accepted_parameters(init)
    takes_any = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(init).parameters.values())

    @functools.wraps(init)
    def checked_init(self, *args, **kwargs):
        if not takes_any:
            check_kwargs(f"{type(self).__name__}()", kwargs, signature_names)
        init(self, *args, **kwargs)

    return checked_init


def _as_tensor(value: Any, dtype: Optional[torch.dtype], device: Optional[torch.device] = None) -> torch.Tensor:
    """Losses accept NumPy arrays and lists too, as in Keras."""
    if isinstance(value, torch.Tensor):
        return value if dtype is None or value.dtype == dtype or not value.is_floating_point() else value.to(dtype)
    tensor = torch.as_tensor(np.asarray(value), device=device)
    return tensor.to(dtype) if dtype is not None else tensor


class LossFunctionWrapper(Loss):
    """Turns a per-sample function `fn(y_true, y_pred, **kwargs)` into a Loss."""

    def __init__(self, fn: Callable, name: Optional[str] = None, reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction)
        self.fn = fn
        self.fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy for integer labels. Args: from_logits (Defaults to False), ignore_class, reduction."""

    fused_activation = "softmax"

    def __init__(self, from_logits: bool = False, ignore_class: Optional[int] = None, axis: int = -1,
                 reduction="sum_over_batch_size", name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis

    def call(self, y_true, y_pred):
        if self.from_logits:
            return self.call_on_logits(y_true, y_pred)
        return self._mask(y_true, sparse_categorical_crossentropy(y_true, y_pred, axis=self.axis))

    def call_on_logits(self, y_true, logits):
        labels = _sparse_labels(y_true, logits)
        if self.ignore_class is None and logits.ndim == 2:
            return F.cross_entropy(logits, labels, reduction="none")
        return self._mask(y_true, sparse_categorical_crossentropy(labels.clamp_min(0), logits, True, self.axis))

    def fast_mean_on_logits(self, y_true: torch.Tensor, logits: torch.Tensor) -> Optional[torch.Tensor]:
        """One fused kernel for the common case (2-D logits, no weights): used by the training step."""
        if self.ignore_class is None and logits.ndim == 2 and self.reduction == "sum_over_batch_size":
            return F.cross_entropy(logits, y_true if y_true.ndim == 1 else _sparse_labels(y_true, logits))
        return None

    def _mask(self, y_true, values):
        if self.ignore_class is None:
            return values
        keep = (_sparse_labels(y_true, values.unsqueeze(-1)) != self.ignore_class).to(values.dtype)
        return values * keep

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": self.ignore_class}


class _SmoothedCrossentropy(Loss):
    """Shared arguments of the one-hot and binary cross-entropies; `_function` computes per sample."""

    _function: Callable = staticmethod(categorical_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction="sum_over_batch_size", name: Optional[str] = None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def call(self, y_true, y_pred):
        return self._function(y_true, y_pred, self.from_logits, self.label_smoothing, self.axis)

    def call_on_logits(self, y_true, logits):
        return self._function(y_true, logits, True, self.label_smoothing, self.axis)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(_SmoothedCrossentropy):
    """Cross-entropy for one-hot labels. Args: from_logits (Defaults to False), label_smoothing, reduction."""

    fused_activation = "softmax"
    _function = staticmethod(categorical_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)


class BinaryCrossentropy(_SmoothedCrossentropy):
    """Binary cross-entropy. Args: from_logits (Defaults to False), label_smoothing, reduction."""

    fused_activation = "sigmoid"
    _function = staticmethod(binary_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)


class MeanSquaredError(Loss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return mean_absolute_error(y_true, y_pred)


class MeanAbsolutePercentageError(Loss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return mean_absolute_percentage_error(y_true, y_pred)


class Huber(Loss):
    """Huber loss. Args: delta (Defaults to 1.0), reduction."""

    def __init__(self, delta: float = 1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.delta = delta

    def call(self, y_true, y_pred):
        return huber(y_true, y_pred, self.delta)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


def _snake_case(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


_REGISTRY: dict[str, Callable[[], Loss]] = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "huber": Huber, "huber_loss": Huber,
}
_CLASSES = {cls.__name__: cls for cls in (
    SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError,
    MeanAbsoluteError, MeanAbsolutePercentageError, Huber)}
_FUNCTIONS = {
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    binary_crossentropy: BinaryCrossentropy,
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    huber: Huber,
}


def get(identifier: Union[str, Loss, Callable, dict]) -> Loss:
    """Resolve a loss from a Keras name, class, instance, per-sample function or config dict.

    Raises:
        ValueError: unknown name, with the closest known one.
        TypeError: an identifier of another kind.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        return lookup("loss", identifier, _REGISTRY)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"loss must be a name such as 'sparse_categorical_crossentropy', a Loss or a callable "
                    f"fn(y_true, y_pred). Received: {identifier!r}")


def serialize(loss: Loss) -> Union[dict, str]:
    """Keras config dict for a loss."""
    return {"module": "keras.losses", "class_name": type(loss).__name__, "config": loss.get_config(),
            "registered_name": None}


def deserialize(config: Union[dict, str]) -> Loss:
    """Inverse of `serialize`; also takes a plain name."""
    if isinstance(config, str):
        return get(config)
    class_name = config.get("class_name", "")
    cls = _CLASSES.get(class_name) or lookup("loss", class_name, _REGISTRY)
    return cls(**(config.get("config") or {}))
