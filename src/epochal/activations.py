"""Activation functions by Keras name, computed with PyTorch.

Example:
    >>> import torch
    >>> get("relu")(torch.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
"""
from __future__ import annotations

from typing import Callable, Union

import torch
import torch.nn.functional as F

from epochal.utils.lookup import lookup

Activation = Callable[[torch.Tensor], torch.Tensor]


def linear(x: torch.Tensor) -> torch.Tensor:
    """Identity: returns `x` unchanged."""
    return x


def softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """Softmax over `axis` (the last one by default, as Keras)."""
    return torch.softmax(x, dim=axis)


def log_softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """Log of the softmax over `axis`."""
    return torch.log_softmax(x, dim=axis)


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Keras 3's hard sigmoid: relu6(x + 3) / 6."""
    return F.relu6(x + 3.0) / 6.0


def exponential(x: torch.Tensor) -> torch.Tensor:
    """Elementwise exp."""
    return torch.exp(x)


relu = torch.relu
sigmoid = torch.sigmoid
tanh = torch.tanh
elu = F.elu
selu = F.selu
softplus = F.softplus
softsign = F.softsign
silu = F.silu
swish = F.silu
gelu = F.gelu
relu6 = F.relu6
mish = F.mish


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.2) -> torch.Tensor:
    """Leaky ReLU with Keras's default slope of 0.2."""
    return F.leaky_relu(x, negative_slope)


_REGISTRY: dict[str, Activation] = {
    "linear": linear,
    "relu": relu,
    "sigmoid": sigmoid,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "tanh": tanh,
    "elu": elu,
    "selu": selu,
    "softplus": softplus,
    "softsign": softsign,
    "silu": silu,
    "swish": swish,
    "gelu": gelu,
    "relu6": relu6,
    "mish": mish,
    "leaky_relu": leaky_relu,
    "hard_sigmoid": hard_sigmoid,
    "exponential": exponential,
}


def get(identifier: Union[str, Activation, None]) -> Activation:
    """Resolve an activation name or callable; `None` means linear.

    Raises:
        ValueError: unknown name (with the closest known one).
        TypeError: neither a string, a callable nor None.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        return lookup("activation", identifier, _REGISTRY)
    if isinstance(identifier, dict) and "class_name" in identifier:
        return get(identifier.get("config", {}).get("name", identifier["class_name"]))
    if callable(identifier):
        return identifier
    raise TypeError(
        f"activation must be a string such as 'relu', a callable or None. Received: {identifier!r}"
    )


def serialize(activation: Activation) -> str:
    """The Keras name of an activation (a callable's __name__ when it is not built in)."""
    for name, function in _REGISTRY.items():
        if function is activation:
            return name
    return getattr(activation, "__name__", type(activation).__name__)


def deserialize(name: str) -> Activation:
    """Inverse of `serialize`."""
    return get(name)
