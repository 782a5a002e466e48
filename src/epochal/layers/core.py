"""Core layers: InputLayer/Input, Dense, Flatten, Dropout, Activation, Reshape."""
from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F

from epochal import activations, constraints, initializers, regularizers
from epochal.layers.layer import BASE_KWARGS, Layer, Shape, as_shape
from epochal.layers.symbolic import KerasTensor
from epochal.utils.lookup import accepted_parameters, check_kwargs


class InputLayer(Layer):
    """Declares the shape of one input sample; the first layer of a model.

    Args:
        shape: shape of one sample, without the batch axis (tf.keras 2 spelling: input_shape).
        batch_size: optional fixed batch size.

    Example:
        >>> InputLayer(shape=(28, 28)).batch_shape
        (None, 28, 28)
    """

    def __init__(self, shape: Optional[Sequence[int]] = None, batch_size: Optional[int] = None,
                 dtype: Any = None, sparse: Optional[bool] = None, batch_shape: Optional[Sequence] = None,
                 input_tensor: Any = None, name: Optional[str] = None, **kwargs: Any):
        shape = shape if shape is not None else kwargs.pop("input_shape", None)
        if batch_shape is None and kwargs.get("batch_input_shape") is not None:
            batch_shape = kwargs.pop("batch_input_shape")
        if batch_shape is not None:
            batch_shape = as_shape(batch_shape, "batch_shape", allow_int=False)
            shape, batch_size = batch_shape[1:], batch_shape[0]
        super().__init__(name=name, dtype=dtype, **kwargs)  # first, so a misspelt `shape=` is named
        if shape is None:
            raise ValueError("InputLayer needs the shape of one sample, e.g. InputLayer(shape=(28, 28)). "
                             "Received: shape=None")
        self.sample_shape = as_shape(shape, "shape")
        self.batch_size = batch_size
        self.input_shape_arg = self.sample_shape
        self.built = True
        self._build_input_shape = self.batch_shape

    @property
    def batch_shape(self) -> Shape:
        return (self.batch_size,) + self.sample_shape

    def get_config(self):
        return {"batch_shape": self.batch_shape, "dtype": self.dtype_name, "sparse": False, "name": self.name}


def Input(shape: Optional[Sequence[int]] = None, batch_size: Optional[int] = None, dtype: Any = None,
          sparse: Optional[bool] = None, batch_shape: Optional[Sequence] = None, name: Optional[str] = None,
          tensor: Any = None, **kwargs: Any) -> KerasTensor:
    """A symbolic input of the given sample shape, for `Sequential([...])` or the functional `Model`.

    Example:
        >>> import epochal as keras
        >>> model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2)])
        >>> model.output_shape
        (None, 2)
    """
    check_kwargs("Input()", kwargs, sorted(set(accepted_parameters(Input)) | set(BASE_KWARGS)))
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name, **kwargs)
    return KerasTensor(layer.batch_shape, name=layer.name, source_layer=layer, inputs=None)


class Dense(Layer):
    """Densely connected layer: `activation(inputs @ kernel + bias)`, kernel of shape (in, units).

    Args:
        units: output size.
        activation: name or callable. Defaults to None (linear).
        use_bias: Defaults to True.
        kernel_initializer: Defaults to 'glorot_uniform'.
        bias_initializer: Defaults to 'zeros'.
        kernel_regularizer / bias_regularizer: e.g. keras.regularizers.l2(0.01). Defaults to None.
        activity_regularizer: penalty on the layer's output (after the activation), divided by the
            batch size and added to the loss. Defaults to None.
        kernel_constraint / bias_constraint: e.g. keras.constraints.MaxNorm(3), applied after each
            optimizer update. Defaults to None.
        lora_rank: not supported yet; any value other than None raises ValueError.

    Raises:
        ValueError: units is not a positive integer, or lora_rank is given.

    Example:
        >>> import torch, epochal as keras
        >>> layer = keras.layers.Dense(2, activation="relu")
        >>> tuple(layer(torch.ones(3, 4)).shape)
        (3, 2)
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, lora_rank: Optional[int] = None,
                 **kwargs: Any):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units <= 0:
            raise ValueError(f"Dense units must be a positive integer, the size of the output. Received: "
                             f"units={units!r}")
        if lora_rank is not None:
            raise ValueError("LoRA is not supported yet in epochal: Dense(lora_rank=...) would train the full "
                             f"kernel instead of a low-rank update. Received: lora_rank={lora_rank!r}. "
                             "Leave lora_rank=None.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape: Shape) -> None:
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Dense layer '{self.name}' needs a known last input dimension. "
                             f"Received input shape {tuple(input_shape)}.")
        self.kernel = self.add_weight("kernel", (input_dim, self.units), self.kernel_initializer,
                                      self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer,
                                        constraint=self.bias_constraint)
        else:
            self.bias = None
        self.built = True

    def pre_activation(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs @ kernel + bias, before the activation (the logits of a softmax output)."""
        if self.bias is not None and inputs.ndim == 2:
            return torch.addmm(self.bias, inputs, self.kernel)
        outputs = inputs @ self.kernel
        return outputs + self.bias if self.bias is not None else outputs

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.activation(self.pre_activation(inputs))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)[:-1] + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


class Flatten(Layer):
    """Flattens each sample to one axis: (batch, 28, 28) -> (batch, 784).

    Example:
        >>> Flatten(input_shape=(28, 28)).compute_output_shape((None, 28, 28))
        (None, 784)
    """

    def __init__(self, data_format: Optional[str] = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = data_format

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = tuple(input_shape)[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format or "channels_last"}


class Dropout(Layer):
    """Sets a random `rate` fraction of inputs to 0 during training, scaling the rest by 1/(1-rate).

    Args:
        rate: fraction to drop, in [0, 1).
        noise_shape: optional shape of the binary mask (broadcast over the input).
        seed: kept in the config; dropout draws from PyTorch's global generator.

    Example:
        >>> import torch
        >>> Dropout(0.3)(torch.ones(2, 3), training=False).tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    def __init__(self, rate: float, noise_shape: Optional[Sequence] = None, seed: Optional[int] = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout rate must be a number in [0, 1). Received: rate={rate!r}")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is None:
            return F.dropout(inputs, self.rate, training=True)
        shape = [inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape)]
        keep = torch.empty(shape, device=inputs.device).bernoulli_(1 - self.rate)
        return inputs * keep / (1 - self.rate)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}


class Activation(Layer):
    """Applies an activation function, e.g. `Activation('softmax')`.

    Example:
        >>> import torch
        >>> Activation("relu")(torch.tensor([[-1.0, 1.0]])).tolist()
        [[0.0, 1.0]]
    """

    def __init__(self, activation: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (one entry may be -1).

    Example:
        >>> Reshape((4, 7)).compute_output_shape((None, 28))
        (None, 4, 7)
    """

    def __init__(self, target_shape: Sequence[int], **kwargs: Any):
        super().__init__(**kwargs)
        self.target_shape = as_shape(target_shape, "target_shape", allow_minus_one=True)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.reshape((inputs.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        target = list(self.target_shape)
        if -1 in target:
            rest = tuple(input_shape)[1:]
            if any(d is None for d in rest):
                target[target.index(-1)] = None
            else:
                known = math.prod(d for d in target if d != -1)
                total = math.prod(rest)
                if total % known:
                    raise ValueError(f"Cannot reshape {tuple(input_shape)} to {self.target_shape}: "
                                     f"{total} values do not divide into blocks of {known}.")
                target[target.index(-1)] = total // known
        elif None not in tuple(input_shape)[1:] and math.prod(tuple(input_shape)[1:]) != math.prod(target):
            raise ValueError(f"Cannot reshape inputs of shape {tuple(input_shape)} to {self.target_shape}: "
                             f"the number of values differs.")
        return (input_shape[0],) + tuple(target)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}
