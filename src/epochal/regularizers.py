"""Weight regularizers (l1, l2, l1_l2) whose penalty is added to the training loss, as in Keras.

Example:
    >>> import torch
    >>> float(L2(0.5)(torch.tensor([1.0, 2.0])))
    2.5
"""
from __future__ import annotations

from typing import Any, Union

import torch

from epochal.utils.lookup import lookup


class Regularizer:
    """Base class: `__call__(weight) -> scalar penalty`."""

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Regularizer":
        return cls(**config)


class L1L2(Regularizer):
    """Penalty l1 * sum(|w|) + l2 * sum(w**2). Defaults to no penalty."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        for name, value in (("l1", l1), ("l2", l2)):
            if value < 0:
                raise ValueError(f"Regularization factor {name} must be >= 0. Received: {name}={value}")
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, weight):
        penalty = weight.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * weight.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * weight.square().sum()
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """L1 penalty; Keras's default factor is 0.01."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """L2 penalty; Keras's default factor is 0.01."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2
_REGISTRY = {"l1": L1, "l2": L2, "l1_l2": L1L2}
_CLASS_NAMES = {"L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier: Union[str, Regularizer, dict, None]):
    """Resolve 'l1' / 'l2' / 'l1_l2', an instance, a config dict or None."""
    if identifier is None or isinstance(identifier, Regularizer) or callable(identifier) and not isinstance(identifier, type):
        return identifier
    if isinstance(identifier, str):
        return lookup("regularizer", identifier, _REGISTRY)()
    if isinstance(identifier, dict):
        cls = _CLASS_NAMES.get(identifier.get("class_name")) or lookup("regularizer", str(identifier.get("class_name")), _REGISTRY)
        return cls(**(identifier.get("config") or {}))
    raise TypeError(f"Could not interpret regularizer. Expected 'l1', 'l2', 'l1_l2', a Regularizer or None. "
                    f"Received: {identifier!r}")


def serialize(regularizer: Regularizer | None):
    if regularizer is None:
        return None
    return {"module": "keras.regularizers", "class_name": type(regularizer).__name__,
            "config": regularizer.get_config(), "registered_name": None}
