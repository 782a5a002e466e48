"""Pickling models as the bytes of a `.keras` file: `pickle.dumps(model)` stores no tensors and no code.

`Model.__reduce__` returns `(restore_model, (keras_bytes, classes))`. `classes` holds the model's own
layer and model classes (not built into epochal); pickle stores them by reference (module and name),
as it does any class, so unpickling needs the same code importable, and nothing else.
"""
from __future__ import annotations

from typing import Any

from epochal.saving.api import model_from_bytes, model_to_bytes


def reduce_model(model: Any) -> tuple:
    """What `Model.__reduce__` returns: a function and its arguments that rebuild `model`."""
    return restore_model, (model_to_bytes(model), _own_classes(model))


def restore_model(data: bytes, classes: dict[str, type]) -> Any:
    """Rebuild a pickled model (weights, compile arguments and optimizer state included)."""
    return model_from_bytes(data, custom_objects=classes)


def _own_classes(model: Any) -> dict[str, type]:
    from epochal.layers.layer import Layer
    from epochal.layers.serialization import LAYER_CLASSES
    from epochal.models.functional import Functional
    from epochal.models.sequential import Sequential

    builtin = set(LAYER_CLASSES.values()) | {Sequential, Functional}
    return {type(module).__name__: type(module) for module in model.modules()
            if isinstance(module, Layer) and type(module) not in builtin}
