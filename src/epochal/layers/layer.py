"""The base `Layer`: a `torch.nn.Module` that builds its weights from the first input shape, as Keras.

Weights are `torch.nn.Parameter`s stored in Keras's layout (a Dense kernel is (in, out)), so
`get_weights()` / `set_weights()` exchange NumPy arrays with Keras files unchanged.
"""
from __future__ import annotations

import inspect
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import torch

from epochal import initializers, regularizers
from epochal.layers import naming
from epochal.layers.symbolic import KerasTensor, is_symbolic
from epochal.utils.lookup import accepted_parameters, check_kwargs

Shape = tuple

BASE_KWARGS = ("name", "trainable", "dtype", "input_shape", "input_dim", "batch_input_shape", "batch_size",
                "autocast", "weights", "activity_regularizer")


class Layer(torch.nn.Module):
    """Base class of every layer.

    Args:
        name: unique name; defaults to the snake-case class name with a counter ('dense_1').
        trainable: whether the weights are updated by training. Defaults to True.
        dtype: only float32 is used for computation; kept in the config.
        input_shape: shape of one sample (without the batch axis), as in
            `Flatten(input_shape=(28, 28))`; lets a Sequential model build at once.

    Example:
        >>> import epochal as keras
        >>> layer = keras.layers.Dense(3)
        >>> layer.build((None, 4))
        >>> [w.shape for w in layer.get_weights()]
        [(4, 3), (3,)]
    """

    def __init__(self, **kwargs: Any):
        super().__init__()
        allowed = set(BASE_KWARGS) | set(accepted_parameters(type(self).__init__))
        check_kwargs(f"{type(self).__name__}()", kwargs, sorted(allowed))
        self.name: str = kwargs.get("name") or naming.unique_name(naming.snake_case(type(self).__name__))
        if not isinstance(self.name, str) or "." in self.name or "/" in self.name:
            raise ValueError(f"Layer name must be a string without '.' or '/'. Received: name={self.name!r}")
        self.dtype_name = _dtype_name(kwargs.get("dtype"))
        self._trainable = bool(kwargs.get("trainable", True))
        self._weight_names: list[str] = []
        self._weight_trainable: list[bool] = []
        self._regularized: list[tuple[Any, torch.nn.Parameter]] = []
        self.built = False
        self._build_input_shape: Optional[Shape] = None
        self.input_shape_arg = _input_shape_from_kwargs(kwargs)
        self._call_takes_training = "training" in inspect.signature(self.call).parameters

    # ------------------------------------------------------------------ building
    def build(self, input_shape: Shape) -> None:
        """Create the weights for inputs of `input_shape` (batch axis included, may be None)."""
        self.built = True

    def _maybe_build(self, input_shape: Shape) -> None:
        if not self.built:
            self._build_input_shape = tuple(input_shape)
            self.build(tuple(input_shape))
            self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """Output shape for `input_shape`; layers that change the shape override this."""
        return tuple(input_shape)

    def add_weight(self, name: str, shape: Sequence[int], initializer: Any = "glorot_uniform",
                   regularizer: Any = None, trainable: bool = True, dtype: Any = None) -> torch.nn.Parameter:
        """Create, register and return a weight (a Parameter), Keras-style."""
        values = initializers.get(initializer)(tuple(int(d) for d in shape), torch.float32)
        parameter = torch.nn.Parameter(values, requires_grad=trainable and self._trainable)
        self.register_parameter(name, parameter)
        self._weight_names.append(name)
        self._weight_trainable.append(trainable)
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self._regularized.append((regularizer, parameter))
        return parameter

    # ------------------------------------------------------------------ calling
    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        """The layer's computation; subclasses override this."""
        return inputs

    def forward(self, inputs, training: Optional[bool] = None, **kwargs):
        if not self.built:
            self._maybe_build(tuple(inputs.shape))
        if self._call_takes_training:
            return self.call(inputs, training=bool(training), **kwargs)
        return self.call(inputs, **kwargs)

    def __call__(self, inputs, *args, **kwargs):
        if is_symbolic(inputs):
            return self._call_symbolic(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def _call_symbolic(self, inputs):
        shape = inputs.shape if isinstance(inputs, KerasTensor) else [t.shape for t in inputs]
        self._maybe_build(shape)
        return KerasTensor(self.compute_output_shape(shape), source_layer=self, inputs=inputs)

    def regularization_losses(self) -> list[torch.Tensor]:
        """Penalties of this layer's weight regularizers (added to the training loss)."""
        return [regularizer(parameter) for regularizer, parameter in self._regularized]

    # ------------------------------------------------------------------ weights
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for parameter, trainable in zip(self._own_weights(), self._weight_trainable):
            parameter.requires_grad_(self._trainable and trainable)
        for child in self._child_layers():
            child.trainable = value

    def _own_weights(self) -> list[torch.nn.Parameter]:
        return [getattr(self, name) for name in self._weight_names]

    def _child_layers(self) -> list["Layer"]:
        return [module for module in self.children() if isinstance(module, Layer)]

    def _weight_entries(self) -> list[tuple[str, torch.nn.Parameter, bool]]:
        """(name, parameter, trainable-by-design) for this layer and its children, Keras order."""
        entries = [(name, getattr(self, name), trainable)
                   for name, trainable in zip(self._weight_names, self._weight_trainable)]
        for child in self._child_layers():
            entries += child._weight_entries()
        return entries

    @property
    def weights(self) -> list[torch.nn.Parameter]:
        """All weights, Keras's order (trainable first within each layer as created)."""
        return [parameter for _, parameter, _ in self._weight_entries()]

    @property
    def trainable_weights(self) -> list[torch.nn.Parameter]:
        return [p for p in self.weights if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[torch.nn.Parameter]:
        return [p for p in self.weights if not p.requires_grad]

    @property
    def variables(self) -> list[torch.nn.Parameter]:
        return self.weights

    def get_weights(self) -> list[np.ndarray]:
        """Weights as NumPy arrays in Keras layout."""
        return [parameter.detach().cpu().numpy().copy() for parameter in self.weights]

    def set_weights(self, weights: Iterable[Any]) -> None:
        """Copy `weights` (NumPy arrays in Keras layout) into this layer, checking count and shapes.

        Raises:
            ValueError: wrong number of arrays, or an array of the wrong shape (both shapes named).
        """
        weights = list(weights)
        parameters = self.weights
        if len(weights) != len(parameters):
            raise ValueError(
                f"Layer '{self.name}' expects {len(parameters)} weight arrays, received {len(weights)}. "
                f"Expected shapes: {[tuple(p.shape) for p in parameters]}."
            )
        for (name, parameter, _), value in zip(self._weight_entries(), weights):
            array = np.asarray(value)
            if tuple(array.shape) != tuple(parameter.shape):
                raise ValueError(
                    f"Weight '{name}' of layer '{self.name}' has shape {tuple(parameter.shape)}, "
                    f"received an array of shape {tuple(array.shape)}."
                )
        with torch.no_grad():
            for parameter, value in zip(parameters, weights):
                parameter.copy_(torch.as_tensor(np.asarray(value), dtype=parameter.dtype))

    def count_params(self) -> int:
        """Number of scalars in this layer's weights."""
        return sum(p.numel() for p in self.weights)

    # ------------------------------------------------------------------ shapes and config
    @property
    def input_shape(self):
        if self._build_input_shape is None:
            raise AttributeError(f"Layer '{self.name}' has not been built yet, so it has no input_shape.")
        return self._build_input_shape

    @property
    def output_shape(self):
        return self.compute_output_shape(self.input_shape)

    def get_config(self) -> dict[str, Any]:
        """Keras config of this layer (name, trainable, dtype and the layer's own arguments)."""
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype_name}
        if self.input_shape_arg is not None:
            config["batch_input_shape"] = (None,) + tuple(self.input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Layer":
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _dtype_name(dtype: Any) -> str:
    if dtype is None:
        return "float32"
    if isinstance(dtype, dict):  # Keras 3 DTypePolicy config
        return dtype.get("config", {}).get("name", "float32")
    return str(dtype).replace("torch.", "")


def _input_shape_from_kwargs(kwargs: dict) -> Optional[tuple]:
    if kwargs.get("input_shape") is not None:
        return tuple(kwargs["input_shape"])
    if kwargs.get("batch_input_shape") is not None:
        return tuple(kwargs["batch_input_shape"])[1:]
    if kwargs.get("input_dim") is not None:
        return (int(kwargs["input_dim"]),)
    return None
