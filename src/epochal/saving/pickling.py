"""Pickling models as the bytes of a `.keras` file: `pickle.dumps(model)` stores no tensors and no code.

`Model.__reduce__` returns `(restore_model, (keras_bytes, objects))`. `objects` holds the user's own
classes and functions the config names (custom layers, a loss function, ...); pickle stores them by
reference (module and name), as it does any class, so unpickling needs the same code importable.
"""
from __future__ import annotations

from typing import Any

from epochal.saving.api import model_from_bytes, model_to_bytes


def reduce_model(model: Any) -> tuple:
    """What `Model.__reduce__` returns: a function and its arguments that rebuild `model`."""
    return restore_model, (model_to_bytes(model), _own_objects(model))


def restore_model(data: bytes, objects: dict[str, Any]) -> Any:
    """Rebuild a pickled model (weights, compile arguments and optimizer state included)."""
    return model_from_bytes(data, custom_objects=objects)


def _own_objects(model: Any) -> dict[str, Any]:
    """The user's classes and functions the model's config names: layers, losses, metrics, optimizer."""
    candidates = [type(module) for module in model.modules()]
    compiled = model.compiled
    if compiled is not None:
        candidates += [type(compiled.optimizer), *_flat(compiled.loss_identifier), *compiled.metrics,
                       *compiled.weighted_metrics]
    objects = {}
    for candidate in candidates:
        if candidate is None or isinstance(candidate, str):
            continue
        if not isinstance(candidate, type) and not hasattr(candidate, "__name__"):
            candidate = type(candidate)  # an instance of a user's Loss or Metric class
        if not getattr(candidate, "__module__", "epochal").startswith("epochal"):
            objects[candidate.__name__] = candidate
    return objects


def _flat(identifier: Any) -> list:
    if isinstance(identifier, dict):
        return [item for value in identifier.values() for item in _flat(value)]
    if isinstance(identifier, (list, tuple)):
        return [item for value in identifier for item in _flat(value)]
    return [identifier]
