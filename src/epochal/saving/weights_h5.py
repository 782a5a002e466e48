"""Keras 3 weights files: `.weights.h5`, and `model.weights.h5` inside a `.keras` archive.

Layout: '<path>/vars/<i>' datasets for each layer ('layers/dense/vars/0' is the first Dense's
kernel), each vars group tagged with the layer's name, the model's own (empty) 'vars' group, and
the optimizer's variables under 'optimizer/vars' in Keras 3's order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from epochal.saving import optimizer_state
from epochal.saving.h5_values import groups_with_vars, read_array, read_text_attribute, write_text_attribute
from epochal.saving.weights_layout import Saved, Target, assign, keras3_targets, warn_if_nothing_matched

_OPTIMIZER_PATH = "optimizer"
# Keras 2.13 wrote '_layer_checkpoint_dependencies' where Keras 3 writes 'layers'.
_OLD_LAYERS_KEY = "_layer_checkpoint_dependencies"


@dataclass
class Keras3Weights:
    """Everything read from a Keras 3 weights file, as plain arrays."""

    layers: dict[str, Saved] = field(default_factory=dict)  # by path
    optimizer: Optional[list[np.ndarray]] = None
    optimizer_name: Optional[str] = None


def is_keras3_layout(h5file: Any) -> bool:
    """True for the Keras 3 layout (a 'layers' or 'vars' group), False for the legacy one."""
    return any(key in h5file for key in ("layers", "vars", _OLD_LAYERS_KEY))


# ---------------------------------------------------------------------------------------------- write
def write(h5file: Any, model: Any, include_optimizer: bool = True) -> None:
    """Store the model's weights (and its optimizer's state) in an open, empty HDF5 file."""
    for target in keras3_targets(model):
        group = h5file.create_group(f"{target.key}/vars" if target.key else "vars")
        write_text_attribute(group, "name", target.layer.name)
        for index, (_, parameter) in enumerate(target.variables):
            group.create_dataset(str(index), data=parameter.detach().cpu().numpy())
    variables = optimizer_state.keras3_variables(model) if include_optimizer else []
    if variables:
        group = h5file.create_group(f"{_OPTIMIZER_PATH}/vars")
        write_text_attribute(group, "name", model.optimizer.name)
        for index, (_, value) in enumerate(variables):
            group.create_dataset(str(index), data=value)


# ----------------------------------------------------------------------------------------------- read
def read(h5file: Any, file_size: int) -> Keras3Weights:
    """Every vars group of the file as arrays (the caller wraps this in `files.reading`)."""
    weights = Keras3Weights()
    for path, group in groups_with_vars(h5file).items():
        arrays = _numbered_arrays(group, file_size)
        if path == _OPTIMIZER_PATH:
            weights.optimizer = arrays
            weights.optimizer_name = read_text_attribute(group, "name", file_size)
        else:
            path = path.replace(_OLD_LAYERS_KEY, "layers")
            weights.layers[path] = Saved(path, read_text_attribute(group, "name", file_size), arrays)
    return weights


def _numbered_arrays(group: Any, file_size: int) -> list[np.ndarray]:
    keys = list(group.keys())
    if set(keys) != {str(index) for index in range(len(keys))}:
        raise ValueError(f"group '{group.name}' holds {sorted(keys)[:10]}, not variables numbered from 0")
    return [read_array(group[str(index)], file_size) for index in range(len(keys))]


# ---------------------------------------------------------------------------------------------- apply
def load_into(model: Any, weights: Keras3Weights, source: str, by_name: bool = False, skip_mismatch: bool = False,
              load_optimizer: bool = True) -> None:
    """Copy the read weights into `model` by path (or by layer name), then the optimizer state if compiled."""
    targets = keras3_targets(model)
    if by_name:
        pairs = _pairs_by_name(targets, weights)
        layers = [target for target in targets if target.key]  # the model's own (empty) 'vars' group is not a layer
        warn_if_nothing_matched(pairs, layers, list(weights.layers.values()), source)
    else:
        pairs = _pairs_by_path(targets, weights, source, skip_mismatch)
    assign(pairs, source, skip_mismatch)
    if load_optimizer and weights.optimizer is not None and model.compiled is not None:
        optimizer_state.restore_positional(model, weights.optimizer, source)


def _pairs_by_path(targets: list[Target], weights: Keras3Weights, source: str,
                   skip_mismatch: bool) -> list[tuple[Target, Saved]]:
    pairs, missing = [], []
    for target in targets:
        saved = weights.layers.get(target.key)
        if saved is not None:
            pairs.append((target, saved))
        elif target.variables:
            missing.append(f"'{target.layer.name}' (at '{target.key}')")
    if missing and not skip_mismatch:
        held = sorted(path for path, saved in weights.layers.items() if saved.arrays)
        raise ValueError(f"'{source}' has no weights for layers {', '.join(missing)}; it holds weights at {held}. "
                         "It was saved from a different architecture. Pass by_name=True to match layers by name, "
                         "or skip_mismatch=True to leave those layers as they are.")
    return pairs


def _pairs_by_name(targets: list[Target], weights: Keras3Weights) -> list[tuple[Target, Saved]]:
    by_name = {saved.name: saved for saved in weights.layers.values() if saved.name is not None}
    return [(target, by_name[target.layer.name]) for target in targets
            if target.key and target.variables and target.layer.name in by_name]
