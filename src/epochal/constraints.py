"""Weight constraints (MaxNorm, NonNeg, UnitNorm, MinMaxNorm), projected after each optimizer step.

A constraint maps a weight to the nearest allowed weight. Layers register the constraints of their
weights (`Dense(kernel_constraint=...)`), and the training step calls `model.apply_constraints()`
after every update, which is when Keras applies them too. Norms are taken along `axis`: for a Dense
kernel of shape (inputs, units), axis 0 bounds the incoming weights of each unit.

Example:
    >>> import torch
    >>> [round(v, 4) for v in MaxNorm(max_value=1.0)(torch.tensor([[3.0], [4.0]])).flatten().tolist()]
    [0.6, 0.8]
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, Union

import torch

from epochal.utils.lookup import keyword_checked, lookup

# Keras divides by (epsilon + norm), so an all-zero column stays zero instead of becoming NaN.
EPSILON = 1e-7

Axis = Union[int, Sequence[int]]


class Constraint:
    """Base class: `__call__(weight) -> constrained weight` of the same shape.

    Subclass it and override `__call__` (and `get_config` when the constructor takes arguments).

    Example:
        >>> import torch
        >>> class Clip(Constraint):
        ...     def __call__(self, weight):
        ...         return weight.clamp(-1, 1)
        >>> Clip()(torch.tensor([-3.0, 0.5])).tolist()
        [-1.0, 0.5]
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:  # MaxNorm(max_valu=3) names 'max_value'
            cls.__init__ = keyword_checked(cls.__init__)

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        return weight

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this constraint with `from_config`."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Constraint":
        return cls(**config)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


def _norms(weight: torch.Tensor, axis: Axis) -> torch.Tensor:
    dims = (axis,) if isinstance(axis, int) else tuple(axis)
    return weight.square().sum(dim=dims, keepdim=True).sqrt()


def _check_axis(axis: Any) -> Axis:
    if isinstance(axis, bool) or not (isinstance(axis, int) or isinstance(axis, (list, tuple))
                                      and all(isinstance(a, int) and not isinstance(a, bool) for a in axis)):
        raise TypeError(f"axis must be an integer or a list of integers, e.g. axis=0 or axis=[0, 1, 2]. "
                        f"Received: axis={axis!r}")
    return list(axis) if isinstance(axis, tuple) else axis


def _check_norm(argument: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{argument} must be a number >= 0. Received: {argument}={value!r}")


class MaxNorm(Constraint):
    """Rescales each slice along `axis` whose L2 norm exceeds `max_value` down to that norm.

    Args:
        max_value: the largest allowed norm. Defaults to 2.
        axis: axis (or list of axes) along which norms are taken. Defaults to 0, the incoming
            weights of each unit of a Dense kernel.

    Example:
        >>> import torch
        >>> kernel = MaxNorm(2)(torch.tensor([[6.0, 0.3], [8.0, 0.4]]))  # column norms 10 and 0.5
        >>> [round(v, 4) for v in kernel.flatten().tolist()]
        [1.2, 0.3, 1.6, 0.4]
    """

    def __init__(self, max_value: float = 2, axis: Axis = 0):
        _check_norm("max_value", max_value)
        self.max_value = max_value
        self.axis = _check_axis(axis)

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        norms = _norms(weight, self.axis)
        return weight * (norms.clamp(0, self.max_value) / (EPSILON + norms))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to zero.

    Example:
        >>> import torch
        >>> NonNeg()(torch.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        return weight.clamp_min(0)


class UnitNorm(Constraint):
    """Rescales each slice along `axis` to an L2 norm of 1.

    Args:
        axis: axis (or list of axes) along which norms are taken. Defaults to 0.

    Example:
        >>> import torch
        >>> [round(v, 4) for v in UnitNorm()(torch.tensor([[3.0], [4.0]])).flatten().tolist()]
        [0.6, 0.8]
    """

    def __init__(self, axis: Axis = 0):
        self.axis = _check_axis(axis)

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        return weight / (EPSILON + _norms(weight, self.axis))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves the L2 norm of each slice along `axis` into [min_value, max_value].

    The new norm is `rate * clip(norm, min_value, max_value) + (1 - rate) * norm`: rate=1.0 enforces
    the bounds at once, a smaller rate moves the norms part of the way at every step.

    Args:
        min_value: the smallest allowed norm. Defaults to 0.0.
        max_value: the largest allowed norm. Defaults to 1.0.
        rate: how far to move towards the bounds at each step, in [0, 1]. Defaults to 1.0.
        axis: axis (or list of axes) along which norms are taken. Defaults to 0.

    Example:
        >>> import torch
        >>> [round(v, 4) for v in MinMaxNorm(1.0, 2.0)(torch.tensor([[0.3], [0.4]])).flatten().tolist()]
        [0.6, 0.8]
    """

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Axis = 0):
        _check_norm("min_value", min_value)
        _check_norm("max_value", max_value)
        if min_value > max_value:
            raise ValueError(f"min_value must not exceed max_value. Received: min_value={min_value!r}, "
                             f"max_value={max_value!r}")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"rate must be a number in [0, 1]. Received: rate={rate!r}")
        self.min_value, self.max_value, self.rate = min_value, max_value, rate
        self.axis = _check_axis(axis)

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        norms = _norms(weight, self.axis)
        desired = self.rate * norms.clamp(self.min_value, self.max_value) + (1 - self.rate) * norms
        return weight * (desired / (EPSILON + norms))

    def get_config(self) -> dict[str, Any]:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


# Keras's lower-case aliases.
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_CLASSES = {cls.__name__: cls for cls in (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)}
_REGISTRY = {**_CLASSES, "max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm}

ConstraintLike = Union[str, Constraint, dict, Callable[[torch.Tensor], torch.Tensor], None]


def get(identifier: ConstraintLike) -> Union[Constraint, Callable, None]:
    """Resolve a constraint from a name, an instance, a function, a config dict or None.

    Args:
        identifier: 'max_norm', 'non_neg', 'unit_norm', 'min_max_norm' or a class name such as
            'MaxNorm' (built with its defaults); a Constraint or any function weight -> weight
            (returned as is); a config dict as `serialize` writes it; or None.

    Raises:
        ValueError: an unknown name (with the closest known one).
        TypeError: anything else, or a config with arguments the class does not take.

    Example:
        >>> get("max_norm")
        MaxNorm(max_value=2, axis=0)
        >>> get({"class_name": "UnitNorm", "config": {"axis": 1}})
        UnitNorm(axis=1)
    """
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str):
        return lookup("constraint", identifier, _REGISTRY)()
    if isinstance(identifier, dict):
        return _from_config(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    raise TypeError("Could not interpret constraint. Expected 'max_norm', 'non_neg', 'unit_norm', "
                    f"'min_max_norm', a Constraint, a function or None. Received: {identifier!r}")


def _from_config(entry: dict) -> Constraint:
    class_name = entry.get("class_name")
    if not isinstance(class_name, str):
        raise ValueError("A constraint config must look like {'class_name': 'MaxNorm', 'config': {...}}. "
                         f"Received: {entry!r}")
    cls = _CLASSES.get(class_name) or lookup("constraint", class_name, _REGISTRY)
    return cls.from_config(dict(entry.get("config") or {}))


def serialize(constraint: Union[Constraint, Callable, None]) -> Union[dict[str, Any], str, None]:
    """Keras 3's {'module', 'class_name', 'config', 'registered_name'} entry of a constraint.

    A plain function is written as its name; loading it back needs a Constraint class instead.

    Example:
        >>> serialize(NonNeg())
        {'module': 'keras.constraints', 'class_name': 'NonNeg', 'config': {}, 'registered_name': None}
    """
    if constraint is None:
        return None
    if isinstance(constraint, Constraint):
        builtin = _CLASSES.get(type(constraint).__name__) is type(constraint)
        return {"module": "keras.constraints" if builtin else type(constraint).__module__,
                "class_name": type(constraint).__name__, "config": constraint.get_config(),
                "registered_name": None if builtin else type(constraint).__name__}
    return getattr(constraint, "__name__", repr(constraint))


def deserialize(config: dict[str, Any]) -> Constraint:
    """Build a constraint from what `serialize` wrote."""
    return _from_config(config)


__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "deserialize", "get", "max_norm",
           "min_max_norm", "non_neg", "serialize", "unit_norm"]
