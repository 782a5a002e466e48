"""Legacy HDF5 files, as tf.keras 2 wrote them and Keras 3 still reads and writes them.

- A model file ('model-whole.h5') has the attributes `model_config` and `training_config` (JSON),
  `keras_version` and `backend`, the group `model_weights` and, when compiled, `optimizer_weights`.
- A weights file ('model-weight.h5') is the `model_weights` group at the root: `layer_names`, then
  one group per layer listing its `weight_names` ('dense/kernel:0', 'dense/bias:0').

Weights are loaded by position among the layers that have weights (as Keras does), or `by_name`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from epochal.saving import optimizer_state
from epochal.saving.h5_values import (read_array, read_json_attribute, read_strings, write_json_attribute,
                                      write_strings, write_text_attribute)
from epochal.saving.weights_layout import (Saved, Target, assign, input_layer_free, legacy_targets,
                                           warn_if_nothing_matched)

# The Keras release whose file layout epochal writes; readers use it to choose conversions.
KERAS_FORMAT_VERSION = "3.15.1"
BACKEND = "torch"


@dataclass
class LegacyWeights:
    """One `model_weights`-style group read into arrays, layers in the saved order."""

    layers: list[Saved] = field(default_factory=list)


def is_legacy_weights(h5file: Any) -> bool:
    return "layer_names" in h5file.attrs or "layer_names0" in h5file.attrs or "model_weights" in h5file


# ---------------------------------------------------------------------------------------------- write
def write_model(h5file: Any, model: Any, model_config: dict, training_config: Optional[dict],
                include_optimizer: bool = True) -> None:
    """Fill an open, empty HDF5 file with a legacy model file."""
    from epochal import __version__

    write_text_attribute(h5file, "backend", BACKEND)
    write_text_attribute(h5file, "keras_version", KERAS_FORMAT_VERSION)
    write_text_attribute(h5file, "epochal_version", __version__)
    write_json_attribute(h5file, "model_config", model_config)
    if training_config is not None:
        write_json_attribute(h5file, "training_config", training_config)
    write_weights(h5file.create_group("model_weights"), model)
    variables = optimizer_state.keras3_variables(model) if include_optimizer else []
    if variables:
        group = h5file.create_group("optimizer_weights")
        write_strings(group, "weight_names", [name for name, _ in variables])
        for name, value in variables:
            group.create_dataset(name, data=value)


def write_weights(group: Any, model: Any) -> None:
    """Write the legacy weights layout into `group` (the file root for a weights file)."""
    targets = legacy_targets(model)
    write_strings(group, "layer_names", [target.key for target in targets])
    write_text_attribute(group, "backend", BACKEND)
    write_text_attribute(group, "keras_version", KERAS_FORMAT_VERSION)
    for target in sorted(targets, key=lambda target: target.key):
        layer_group = group.create_group(target.key)
        write_strings(layer_group, "weight_names", [name for name, _ in target.variables])
        for name, parameter in target.variables:
            layer_group.create_dataset(name, data=parameter.detach().cpu().numpy())
    write_strings(group.create_group("top_level_model_weights"), "weight_names", [])


# ----------------------------------------------------------------------------------------------- read
def read_configs(h5file: Any, file_size: int) -> tuple[Any, Any]:
    """(model_config, training_config) of a legacy model file; training_config may be None."""
    model_config = read_json_attribute(h5file, "model_config", file_size)
    if model_config is None:
        raise ValueError("it has no 'model_config' attribute")
    return model_config, read_json_attribute(h5file, "training_config", file_size)


def read_model_weights(h5file: Any, file_size: int) -> tuple[LegacyWeights, Optional[list[tuple[str, np.ndarray]]]]:
    """The `model_weights` and (if present) `optimizer_weights` of a legacy model file."""
    if "model_weights" not in h5file:
        raise ValueError("it has a model config but no 'model_weights' group")
    optimizer = None
    if "optimizer_weights" in h5file:
        group = h5file["optimizer_weights"]
        optimizer = [(name, read_array(group[name], file_size))
                     for name in read_strings(group, "weight_names", file_size)]
    return read_weights(h5file["model_weights"], file_size), optimizer


def read_weights(group: Any, file_size: int) -> LegacyWeights:
    """The layers of a legacy weights group, each with its arrays in saved order."""
    weights = LegacyWeights()
    for name in read_strings(group, "layer_names", file_size):
        layer_group = group[name]
        arrays = [read_array(layer_group[weight_name], file_size)
                  for weight_name in read_strings(layer_group, "weight_names", file_size)]
        weights.layers.append(Saved(name, name, arrays))
    return weights


# ---------------------------------------------------------------------------------------------- apply
def load_into(model: Any, weights: LegacyWeights, source: str, by_name: bool = False,
              skip_mismatch: bool = False) -> None:
    """Copy legacy weights into `model`: by position among layers with weights, or by layer name."""
    targets = input_layer_free(legacy_targets(model))
    if by_name:
        saved = {layer.key: layer for layer in weights.layers}
        pairs = [(target, saved[target.key]) for target in targets if target.key in saved]
        warn_if_nothing_matched(pairs, targets, weights.layers, source)
    else:
        pairs = _positional_pairs(targets, [layer for layer in weights.layers if layer.arrays], source)
    assign(pairs, source, skip_mismatch)


def _positional_pairs(targets: list[Target], saved: list[Saved], source: str) -> list[tuple[Target, Saved]]:
    if len(targets) != len(saved):
        raise ValueError(f"'{source}' holds weights for {len(saved)} layers {[layer.key for layer in saved]} but the "
                         f"model has {len(targets)} layers with weights {[target.key for target in targets]}. "
                         "Weights are matched by position; pass by_name=True to match layers by name instead.")
    return list(zip(targets, saved))


def restore_optimizer(model: Any, named: list[tuple[str, np.ndarray]], source: str) -> bool:
    """Optimizer weights of a legacy file: tf.keras 2 names them per slot, Keras 3 lists them in order."""
    if named and all(name.endswith(":0") for name, _ in named):
        return optimizer_state.restore_named(model, named, source)
    return optimizer_state.restore_positional(model, [value for _, value in named], source)
