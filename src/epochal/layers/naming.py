"""Keras-style unique layer names: 'dense', 'dense_1', 'dense_2', ... per session."""
from __future__ import annotations

import collections
import re

_counts: collections.Counter = collections.Counter()


def snake_case(class_name: str) -> str:
    """'Dense' -> 'dense', 'InputLayer' -> 'input_layer'."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


def unique_name(base: str) -> str:
    """The next unused name for `base`: the bare name first, then base_1, base_2, ..."""
    count = _counts[base]
    _counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def reset() -> None:
    """Forget issued names (called by `epochal.backend.clear_session`)."""
    _counts.clear()
