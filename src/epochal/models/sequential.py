"""`Sequential`: a plain stack of layers, each feeding the next."""
from __future__ import annotations

from typing import Any, Iterable, Optional

import torch

from epochal import activations
from epochal.layers.core import Activation, Dense, InputLayer
from epochal.layers.layer import Layer, forward_pass
from epochal.layers.symbolic import KerasTensor
from epochal.models.model import Model

_FUSABLE_ACTIVATIONS = {"softmax", "sigmoid"}


class Sequential(Model):
    """A linear stack of layers, given as a list or added one by one with `add()`.

    Example:
        >>> import epochal as keras
        >>> model = keras.Sequential()
        >>> model.add(keras.layers.Flatten(input_shape=(28, 28)))
        >>> model.add(keras.layers.Dense(100, activation="relu"))
        >>> model.add(keras.layers.Dense(10, activation="softmax"))
        >>> model.count_params()
        79510
    """

    def __init__(self, layers: Optional[Iterable[Any]] = None, trainable: bool = True, name: Optional[str] = None,
                 **kwargs: Any):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self._stack: list[Layer] = []
        self.input_layer: Optional[InputLayer] = None
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ structure
    def add(self, layer: Any) -> None:
        """Append a layer (or a keras.Input, which sets the input shape)."""
        if isinstance(layer, KerasTensor) and isinstance(layer.source_layer, InputLayer):
            layer = layer.source_layer
        if not isinstance(layer, Layer):
            raise TypeError("Sequential.add() takes a layer instance, e.g. keras.layers.Dense(10). "
                            f"Received: {layer!r} of type {type(layer).__name__}.")
        if isinstance(layer, InputLayer):
            if self._stack or self.input_layer is not None:
                raise ValueError("An InputLayer / keras.Input can only be the first entry of a Sequential model.")
            self.input_layer = layer
            self._rebuild()
            return
        if any(existing.name == layer.name for existing in self._stack):
            raise ValueError(f"All layers of a Sequential model need unique names; '{layer.name}' is already used. "
                             "Pass name=... to one of them.")
        if not self._stack and self.input_layer is None and layer.input_shape_arg is not None:
            self.input_layer = InputLayer(shape=layer.input_shape_arg)
        self._stack.append(layer)
        try:
            self.add_module(layer.name, layer)
        except KeyError:
            self._stack.pop()
            raise ValueError(f"A layer cannot be named '{layer.name}' inside a model: the name is taken by a model "
                             "attribute. Pass another name=...") from None
        self._rebuild()

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise ValueError("There are no layers to pop from this Sequential model.")
        layer = self._stack.pop()
        delattr(self, layer.name)
        self._rebuild()
        return layer

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def _rebuild(self) -> None:
        self.built = False
        if self.input_layer is not None and self._stack:
            self.build(self.input_layer.batch_shape)

    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of `input_shape` (batch axis included, may be None)."""
        if input_shape is None:
            if self.input_layer is None:
                raise ValueError("Sequential.build() needs an input shape, e.g. model.build((None, 28, 28)).")
            input_shape = self.input_layer.batch_shape
        shape = tuple(input_shape)
        self._build_input_shape = shape
        self._layer_shapes = {}
        for layer in self._stack:
            layer._maybe_build(shape)
            shape = layer.compute_output_shape(shape)
            self._layer_shapes[layer.name] = shape
        self._output_shape = shape
        self.built = True
        self.to_device()

    def compute_output_shape(self, input_shape) -> tuple:
        """Output shape for `input_shape`, through every layer (needed when this model is a layer of another)."""
        shape = tuple(input_shape)
        for layer in self._stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def layer_output_shape(self, layer: Layer):
        return getattr(self, "_layer_shapes", {}).get(layer.name)

    # ------------------------------------------------------------------ computing
    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        outputs = inputs
        for layer in self._stack:
            outputs = layer.forward(outputs, training)
        return outputs

    def output_activation_name(self) -> Optional[str]:
        if not self._stack:
            return None
        final = self._stack[-1]
        if final.activity_regularizer is not None:
            return None  # its penalty is of the probabilities, so the loss cannot start from the logits
        if isinstance(final, (Dense, Activation)):
            name = activations.serialize(final.activation)
            return name if name in _FUSABLE_ACTIVATIONS else None
        return None

    def call_logits(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        """The output before the final softmax/sigmoid (see `output_activation_name`)."""
        with forward_pass():  # one pass for all layers, as in call(), so their activity penalties count
            outputs = inputs
            for layer in self._stack[:-1]:
                outputs = layer.forward(outputs, training)
            final = self._stack[-1]
            if isinstance(final, Dense):
                return final.pre_activation(outputs)
            return outputs

    # ------------------------------------------------------------------ config
    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Optional[dict] = None) -> "Sequential":
        """Build a Sequential model from its Keras config (what `get_config()` returns)."""
        from epochal.saving.config import model_from_config

        return model_from_config({"class_name": "Sequential", "config": config}, custom_objects)
