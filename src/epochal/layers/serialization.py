"""Layer classes by Keras class name, and config (de)serialization of single layers.

Only registered classes are created from a config: a file never makes epochal run code it names.
"""
from __future__ import annotations

from typing import Any, Optional

from epochal.layers import core
from epochal.layers.layer import Layer
from epochal.utils.lookup import suggest

LAYER_CLASSES: dict[str, type] = {
    "InputLayer": core.InputLayer,
    "Dense": core.Dense,
    "Flatten": core.Flatten,
    "Dropout": core.Dropout,
    "Activation": core.Activation,
    "Reshape": core.Reshape,
}


def register_layer(cls: type) -> type:
    """Make a Layer subclass loadable from configs by its class name (usable as a decorator)."""
    LAYER_CLASSES[cls.__name__] = cls
    return cls


def serialize(layer: Layer) -> dict[str, Any]:
    """Keras 3 style {'module', 'class_name', 'config', 'registered_name'} of one layer."""
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": layer.get_config(),
            "registered_name": None}


def deserialize(config: dict[str, Any], custom_objects: Optional[dict[str, Any]] = None) -> Layer:
    """Create a layer from its config; unknown classes raise ValueError naming the class."""
    class_name = config.get("class_name")
    classes = {**LAYER_CLASSES, **(custom_objects or {})}
    if class_name not in classes:
        raise ValueError(f"Unknown layer class '{class_name}'.{suggest(str(class_name), classes)} "
                         f"Known layers: {', '.join(sorted(classes))}. Pass custom_objects={{'{class_name}': ...}} "
                         f"for a layer of your own.")
    return classes[class_name].from_config(dict(config.get("config") or {}))
