"""Weight initializers with Keras's names and formulas.

Each initializer is called as `init(shape, dtype)` and draws from PyTorch's global CPU generator, so
`epochal.utils.set_random_seed` fixes the weights whatever the device.

Example:
    >>> tuple(get("glorot_uniform")((784, 100)).shape)
    (784, 100)
"""
from __future__ import annotations

import math
from typing import Any, Callable, Union

import torch

from epochal.utils.lookup import lookup


def _fans(shape: tuple[int, ...]) -> tuple[float, float]:
    """Keras's fan-in / fan-out: a kernel is (..., in, out) with receptive field in front."""
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive_field = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return float(shape[-2] * receptive_field), float(shape[-1] * receptive_field)


class Initializer:
    """Base class: subclasses implement `__call__(shape, dtype)` and `get_config()`."""

    def __call__(self, shape, dtype=torch.float32) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Initializer":
        return cls(**config)


class Zeros(Initializer):
    def __call__(self, shape, dtype=torch.float32):
        return torch.zeros(tuple(shape), dtype=dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype=torch.float32):
        return torch.ones(tuple(shape), dtype=dtype)


class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        self.value = value

    def __call__(self, shape, dtype=torch.float32):
        return torch.full(tuple(shape), float(self.value), dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=torch.float32):
        return torch.empty(tuple(shape), dtype=dtype).uniform_(self.minval, self.maxval, generator=_generator(self.seed))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=torch.float32):
        return torch.empty(tuple(shape), dtype=dtype).normal_(self.mean, self.stddev, generator=_generator(self.seed))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """Normal values re-drawn beyond two standard deviations, as Keras."""

    def __call__(self, shape, dtype=torch.float32):
        tensor = torch.empty(tuple(shape), dtype=dtype)
        return torch.nn.init.trunc_normal_(
            tensor, self.mean, self.stddev, self.mean - 2 * self.stddev, self.mean + 2 * self.stddev,
            generator=_generator(self.seed),
        )


class VarianceScaling(Initializer):
    """Keras's VarianceScaling: the family behind glorot_*, he_* and lecun_*."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None = None):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg'. Received: mode={mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform", "normal"):
            raise ValueError(
                "distribution must be 'truncated_normal', 'untruncated_normal' or 'uniform'. "
                f"Received: distribution={distribution!r}"
            )
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def _variance(self, shape) -> float:
        fan_in, fan_out = _fans(tuple(shape))
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return self.scale / max(1.0, fan)

    def __call__(self, shape, dtype=torch.float32):
        variance = self._variance(shape)
        tensor = torch.empty(tuple(shape), dtype=dtype)
        generator = _generator(self.seed)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return tensor.uniform_(-limit, limit, generator=generator)
        if self.distribution in ("untruncated_normal", "normal"):
            return tensor.normal_(0.0, math.sqrt(variance), generator=generator)
        # 0.879... is the stddev of a unit normal truncated to [-2, 2]; Keras divides by it.
        stddev = math.sqrt(variance) / 0.87962566103423978
        return torch.nn.init.trunc_normal_(tensor, 0.0, stddev, -2 * stddev, 2 * stddev, generator=generator)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


def _variance_scaling_kind(scale: float, mode: str, distribution: str):
    class _Kind(VarianceScaling):
        def __init__(self, seed: int | None = None):
            super().__init__(scale, mode, distribution, seed)

        def get_config(self):
            return {"seed": self.seed}

    return _Kind


GlorotUniform = type("GlorotUniform", (_variance_scaling_kind(1.0, "fan_avg", "uniform"),), {})
GlorotNormal = type("GlorotNormal", (_variance_scaling_kind(1.0, "fan_avg", "truncated_normal"),), {})
HeUniform = type("HeUniform", (_variance_scaling_kind(2.0, "fan_in", "uniform"),), {})
HeNormal = type("HeNormal", (_variance_scaling_kind(2.0, "fan_in", "truncated_normal"),), {})
LecunUniform = type("LecunUniform", (_variance_scaling_kind(1.0, "fan_in", "uniform"),), {})
LecunNormal = type("LecunNormal", (_variance_scaling_kind(1.0, "fan_in", "truncated_normal"),), {})


def _generator(seed: int | None):
    if seed is None:
        return None
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return generator


_REGISTRY: dict[str, type] = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_uniform": RandomUniform, "random_normal": RandomNormal, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
}
_CLASS_NAMES = {cls.__name__: cls for cls in _REGISTRY.values()}


def get(identifier: Union[str, Initializer, Callable, dict, None]) -> Callable:
    """Resolve an initializer from a Keras name, class, instance, callable or config dict."""
    if identifier is None:
        return Zeros()
    if isinstance(identifier, str):
        if identifier in _CLASS_NAMES:
            return _CLASS_NAMES[identifier]()
        return lookup("initializer", identifier, _REGISTRY)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret initializer: expected a name, an Initializer or a callable. "
                    f"Received: {identifier!r}")


def serialize(initializer) -> dict[str, Any]:
    """Keras-style config dict: {'class_name': ..., 'config': {...}}."""
    config = initializer.get_config() if hasattr(initializer, "get_config") else {}
    return {"module": "keras.initializers", "class_name": type(initializer).__name__, "config": config,
            "registered_name": None}


def deserialize(config: dict[str, Any]) -> Initializer:
    """Inverse of `serialize`; unknown classes raise ValueError."""
    class_name = config.get("class_name")
    if class_name not in _CLASS_NAMES:
        return lookup("initializer", str(class_name), _REGISTRY)(**config.get("config", {}))
    return _CLASS_NAMES[class_name](**(config.get("config") or {}))
