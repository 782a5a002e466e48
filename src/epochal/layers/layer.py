"""The base `Layer`: a `torch.nn.Module` that builds its weights from the first input shape, as Keras.

Weights are `torch.nn.Parameter`s stored in Keras's layout (a Dense kernel is (in, out)), so
`get_weights()` / `set_weights()` exchange NumPy arrays with Keras files unchanged.

Regularization and constraints follow Keras: weight penalties and activity penalties are listed by
`regularization_losses()` for the training step to add to the loss, and `apply_constraints()`
projects constrained weights after each optimizer update.
"""
from __future__ import annotations

import collections.abc
import contextlib
import functools
import inspect
import numbers
import threading
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import torch

from epochal import constraints, initializers, regularizers
from epochal.layers import naming
from epochal.layers.symbolic import KerasTensor, is_symbolic
from epochal.utils.lookup import accepted_parameters, check_kwargs, suggest

Shape = tuple

BASE_KWARGS = ("name", "trainable", "dtype", "input_shape", "input_dim", "batch_input_shape", "batch_size",
                "autocast", "weights", "activity_regularizer")


class _ForwardPasses(threading.local):
    """Numbers the outermost forward passes of this thread (calls made inside one join it)."""

    depth = 0
    number = 0


_PASSES = _ForwardPasses()


class _ForwardPassContext:
    def __enter__(self) -> None:
        if _PASSES.depth == 0:
            _PASSES.number += 1
        _PASSES.depth += 1

    def __exit__(self, *exc_info: Any) -> None:
        _PASSES.depth -= 1


_IN_PASS = _ForwardPassContext()
_NO_PASS = contextlib.nullcontext()
# Set once any layer gets an activity regularizer; until then forward() does no bookkeeping at all.
_activity_regularizers_in_use = False


def forward_pass():
    """Context of one forward pass: activity penalties recorded inside it replace older ones.

    `Layer.forward` opens one itself; code that runs several layers' `forward` in a row without going
    through a parent layer's `forward` (Sequential.call_logits) wraps them in one.
    """
    return _IN_PASS if _activity_regularizers_in_use else _NO_PASS


class Layer(torch.nn.Module):
    """Base class of every layer.

    Args:
        name: unique name; defaults to the snake-case class name with a counter ('dense_1').
        trainable: whether the weights are updated by training. Defaults to True.
        dtype: only float32 is used for computation; kept in the config.
        input_shape: shape of one sample (without the batch axis), as in
            `Flatten(input_shape=(28, 28))`; lets a Sequential model build at once.
        activity_regularizer: a regularizer of the layer's output, e.g. keras.regularizers.l1(1e-4).
            Its value divided by the batch size is added to the loss, as in Keras 3. Defaults to None.

    Example:
        >>> import epochal as keras
        >>> layer = keras.layers.Dense(3)
        >>> layer.build((None, 4))
        >>> [w.shape for w in layer.get_weights()]
        [(4, 3), (3,)]
    """

    def __new__(cls, *args: Any, **kwargs: Any):
        if kwargs:
            _check_misspelt_required_argument(cls, args, kwargs)
        return super().__new__(cls)

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
        self._constrained: list[tuple[Any, torch.nn.Parameter]] = []
        self._activity_penalties: list[torch.Tensor] = []
        self._activity_pass = -1  # number of the forward pass the penalties above come from
        self.activity_regularizer = kwargs.get("activity_regularizer")
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
                   regularizer: Any = None, trainable: bool = True, dtype: Any = None,
                   constraint: Any = None) -> torch.nn.Parameter:
        """Create, register and return a weight (a Parameter), Keras-style.

        `regularizer` adds its penalty of the weight to the training loss; `constraint` is applied
        to the weight after each optimizer update (see `apply_constraints`).
        """
        values = initializers.get(initializer)(tuple(int(d) for d in shape), torch.float32)
        parameter = torch.nn.Parameter(values, requires_grad=trainable and self._trainable)
        self.register_parameter(name, parameter)
        self._weight_names.append(name)
        self._weight_trainable.append(trainable)
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self._regularized.append((regularizer, parameter))
        constraint = constraints.get(constraint)
        if constraint is not None:
            self._constrained.append((constraint, parameter))
        return parameter

    # ------------------------------------------------------------------ calling
    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        """The layer's computation; subclasses override this."""
        return inputs

    def forward(self, inputs, training: Optional[bool] = None, **kwargs):
        if not self.built:
            self._maybe_build(tuple(inputs.shape))
        if _activity_regularizers_in_use:
            return self._forward_recording_activity(inputs, training, kwargs)
        if self._call_takes_training:
            return self.call(inputs, training=bool(training), **kwargs)
        return self.call(inputs, **kwargs)

    def _forward_recording_activity(self, inputs, training: Optional[bool], kwargs: dict):
        with _IN_PASS:
            if self._call_takes_training:
                outputs = self.call(inputs, training=bool(training), **kwargs)
            else:
                outputs = self.call(inputs, **kwargs)
        if self._activity_regularizer is not None:
            self._record_activity_penalty(outputs)
        return outputs

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("_"):  # Python's and torch's own probes (__deepcopy__, _hooks, ...)
                raise
            # The seed itself writes model.savee(...): name the method that was meant.
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'."
                                 f"{suggest(name, self._public_names())}") from None

    def _public_names(self) -> list[str]:
        attributes = [name for name in self.__dict__ if not name.startswith("_")]
        return list(_public_names(type(self))) + attributes

    def __call__(self, inputs, *args, **kwargs):
        if is_symbolic(inputs):
            return self._call_symbolic(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def _call_symbolic(self, inputs):
        shape = inputs.shape if isinstance(inputs, KerasTensor) else [t.shape for t in inputs]
        self._maybe_build(shape)
        return KerasTensor(self.compute_output_shape(shape), source_layer=self, inputs=inputs)

    # ------------------------------------------------------------------ regularization and constraints
    @property
    def activity_regularizer(self):
        """Regularizer of this layer's output (None when there is none)."""
        return self._activity_regularizer

    @activity_regularizer.setter
    def activity_regularizer(self, value: Any) -> None:
        global _activity_regularizers_in_use
        self._activity_regularizer = regularizers.get(value)
        if self._activity_regularizer is not None:
            _activity_regularizers_in_use = True

    def _record_activity_penalty(self, outputs) -> None:
        # Keras 3 divides each output's penalty by its batch size, so the strength does not depend on it.
        tensors = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        penalty = sum(self._activity_regularizer(tensor) / max(tensor.shape[0], 1) if tensor.ndim
                      else self._activity_regularizer(tensor)
                      for tensor in tensors if isinstance(tensor, torch.Tensor))
        if self._activity_pass != _PASSES.number:
            self._activity_pass, self._activity_penalties = _PASSES.number, []
        self._activity_penalties.append(penalty)  # a layer called twice in one pass is penalised twice

    def regularization_losses(self) -> list[torch.Tensor]:
        """Penalties to add to the loss, of this layer and its sublayers.

        These are the weight regularizers' penalties of the current weights and the activity
        regularizers' penalties of the outputs of the latest forward pass.
        """
        penalties = [regularizer(parameter) for regularizer, parameter in self._regularized]
        if self._activity_penalties and self._activity_pass == _PASSES.number:
            penalties += self._activity_penalties
        for child in self._child_layers():
            penalties += child.regularization_losses()
        return penalties

    def has_regularizers(self) -> bool:
        """Whether this layer or a sublayer has a weight or activity regularizer.

        Decided from the layers, not from a forward pass, so a training step can ask once, before
        the first batch, whether `regularization_losses()` will have anything to add.
        """
        if self._regularized or self._activity_regularizer is not None:
            return True
        return any(child.has_regularizers() for child in self._child_layers())

    def _constrained_weights(self) -> list[tuple[Any, torch.nn.Parameter]]:
        pairs = list(self._constrained)
        for child in self._child_layers():
            pairs += child._constrained_weights()
        return pairs

    def has_constraints(self) -> bool:
        """Whether this layer or a sublayer has a weight constraint (see `apply_constraints`)."""
        return bool(self._constrained) or any(child.has_constraints() for child in self._child_layers())

    def apply_constraints(self) -> None:
        """Replace each constrained trainable weight by `constraint(weight)`, in place.

        Keras applies constraints right after every optimizer update; the training step calls this
        after `optimizer.step()`. Frozen weights are left alone, as Keras only updates trainable ones.

        Example:
            >>> import torch, epochal as keras
            >>> layer = keras.layers.Dense(1, kernel_constraint=keras.constraints.NonNeg())
            >>> layer.build((None, 2))
            >>> with torch.no_grad():
            ...     _ = layer.kernel.copy_(torch.tensor([[-1.0], [2.0]]))
            >>> layer.apply_constraints()
            >>> layer.kernel.flatten().tolist()
            [0.0, 2.0]
        """
        with torch.no_grad():
            for constraint, parameter in self._constrained_weights():
                if parameter.requires_grad:
                    parameter.copy_(constraint(parameter))

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
        if self._activity_regularizer is not None:  # Keras writes the field only when it is set
            config["activity_regularizer"] = regularizers.serialize(self._activity_regularizer)
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
        return as_shape(kwargs["input_shape"], "input_shape", allow_int=False)
    if kwargs.get("batch_input_shape") is not None:
        return as_shape(kwargs["batch_input_shape"], "batch_input_shape", allow_int=False)[1:]
    if kwargs.get("input_dim") is not None:
        return as_shape(kwargs["input_dim"], "input_dim")
    return None


def as_shape(shape: Any, argument: str, allow_minus_one: bool = False, allow_int: bool = True) -> Shape:
    """`shape` as a tuple of positive ints (None for an axis of any size), or an error naming `argument`.

    Raises:
        TypeError: not a sequence of integers (or a bare int where `allow_int` is False).
        ValueError: a dimension below 1 (-1 is allowed once with `allow_minus_one`, as Reshape's).

    Example:
        >>> as_shape([28, 28], "input_shape")
        (28, 28)
        >>> as_shape(28, "input_shape", allow_int=False)
        Traceback (most recent call last):
        ...
        TypeError: input_shape must be a tuple with one entry per axis of a sample, e.g. input_shape=(28,) ...
    """
    received = f"{argument}={shape!r}"
    if _is_integer(shape) and not allow_int:
        raise TypeError(f"{argument} must be a tuple with one entry per axis of a sample, e.g. {argument}=({shape},) "
                        f"rather than {argument}={shape}. Received: {received}")
    dims_given = (shape,) if _is_integer(shape) else shape
    if isinstance(dims_given, (str, bytes)) or not isinstance(dims_given, collections.abc.Iterable) \
            or not all(d is None or _is_integer(d) for d in dims_given):
        raise TypeError(f"{argument} must be a tuple of integers, e.g. {argument}=(28, 28). Received: {received}")
    dims = tuple(None if d is None else int(d) for d in dims_given)
    if any(d is not None and d < 1 and not (allow_minus_one and d == -1) for d in dims) \
            or dims.count(-1) > 1:
        allowed = "positive integers (one entry may be -1)" if allow_minus_one else "positive integers"
        raise ValueError(f"{argument} must hold {allowed}; every axis needs at least one value. "
                         f"Received: {received}")
    return dims


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@functools.lru_cache(maxsize=None)
def _public_names(cls: type) -> tuple[str, ...]:
    return tuple(name for name in dir(cls) if not name.startswith("_"))


@functools.lru_cache(maxsize=None)
def _init_signature(cls: type) -> inspect.Signature:
    return inspect.signature(cls.__init__)


def _check_misspelt_required_argument(cls: type, args: tuple, kwargs: dict) -> None:
    """Name the typo when a misspelt keyword leaves a required argument missing.

    `Dropout(rat=0.3)` would otherwise stop at Python's "missing 1 required positional argument:
    'rate'", which hides the cause; this runs before `__init__` binds its arguments.
    """
    signature = _init_signature(cls)
    try:
        signature.bind(None, *args, **kwargs)
    except TypeError:
        takes_any = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
        allowed = set(accepted_parameters(cls.__init__)) | (set(BASE_KWARGS) if takes_any else set())
        if any(key not in allowed for key in kwargs):
            check_kwargs(f"{cls.__name__}()", kwargs, sorted(allowed))
