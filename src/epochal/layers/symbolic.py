"""Symbolic tensors for `epochal.Input` and the functional API: they carry a shape and their history."""
from __future__ import annotations

from typing import Any, Optional


class KerasTensor:
    """A placeholder for data flowing through a model being defined.

    Example:
        >>> import epochal as keras
        >>> keras.Input(shape=(28, 28)).shape
        (None, 28, 28)
    """

    def __init__(self, shape, dtype: str = "float32", name: Optional[str] = None,
                 source_layer: Any = None, inputs: Any = None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self.source_layer = source_layer
        self.inputs = inputs

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


def is_symbolic(value: Any) -> bool:
    """True for a KerasTensor or a non-empty list/tuple of them."""
    if isinstance(value, KerasTensor):
        return True
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(v, KerasTensor) for v in value)
