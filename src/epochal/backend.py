"""Where tensors live: CUDA when present, else the CPU."""
from __future__ import annotations

import functools

import torch


@functools.lru_cache(maxsize=None)
def default_device() -> torch.device:
    """The device epochal puts models and in-memory data on.

    Example:
        >>> default_device().type in ("cpu", "cuda")
        True
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def floatx() -> str:
    """Keras's default float type name."""
    return "float32"


def clear_session() -> None:
    """Reset layer-name counters, as `keras.backend.clear_session()` does ('dense', 'dense_1', ...)."""
    from epochal.layers import naming

    naming.reset()
