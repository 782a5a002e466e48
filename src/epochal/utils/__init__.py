"""Utilities with Keras's names: `set_random_seed`, `to_categorical`."""
from __future__ import annotations

import random

import numpy as np
import torch


def set_random_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so two runs give identical histories and weights on the CPU.

    Args:
        seed: a non-negative integer.

    Example:
        >>> set_random_seed(42)
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"set_random_seed() expects a non-negative integer seed. Received: seed={seed!r}")
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def to_categorical(y, num_classes: int | None = None, dtype: str = "float32") -> np.ndarray:
    """One-hot encode integer class labels, as `keras.utils.to_categorical`.

    Example:
        >>> to_categorical([0, 2], num_classes=3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    labels = np.asarray(y, dtype="int64")
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    one_hot = np.zeros(labels.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(one_hot, labels[..., None], 1, axis=-1)
    return one_hot


__all__ = ["set_random_seed", "to_categorical"]
