"""epochal: Keras-compatible neural-network training on PyTorch.

Write `import epochal as keras` and Keras code (Sequential, compile, fit, callbacks, save/load) runs on
PyTorch.

Example:
    >>> import epochal as keras
    >>> model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)),
    ...                           keras.layers.Dense(100, activation="relu"),
    ...                           keras.layers.Dropout(0.3),
    ...                           keras.layers.Dense(10, activation="softmax")])
    >>> model.count_params()
    79510
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

from epochal import (activations, backend, callbacks, constraints, initializers, layers, losses, models, regularizers,
                     utils)
from epochal.layers import Input, InputLayer, KerasTensor, Layer
from epochal.models import Model, Sequential

# Loaded on first use: optimizers and metrics are light, but datasets, saving and plotting pull in
# more (h5py, matplotlib), and `import epochal` must stay quick.
_LAZY_SUBMODULES = ("optimizers", "metrics", "datasets", "saving", "plotting", "diagnosis")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f"epochal.{name}")
        globals()[name] = module
        return module
    if name == "plot_history":
        from epochal.plotting import plot_history

        return plot_history
    raise AttributeError(f"module 'epochal' has no attribute '{name}'")


def __dir__():
    return sorted(list(globals()) + list(_LAZY_SUBMODULES) + ["plot_history"])


__all__ = ["Input", "InputLayer", "KerasTensor", "Layer", "Model", "Sequential", "activations", "backend",
           "callbacks", "constraints", "datasets", "initializers", "layers", "losses", "metrics", "models",
           "optimizers", "plot_history", "regularizers", "saving", "utils"]
