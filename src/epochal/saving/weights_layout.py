"""Where each weight of a model goes in Keras's files, in both layouts.

- Keras 3 (`.weights.h5`, and `model.weights.h5` inside `.keras`) addresses a layer by its place in
  the model: 'layers/dense_1' is the second Dense of a Sequential, whatever the layer is named. A
  layer's own variables are stored as '0', '1', ... (trainable ones first, in creation order).
- The legacy layout (tf.keras 2 `.h5`) has one group per layer *name*, its weights listed in the
  'weight_names' attribute (trainable ones first), loaded by position or `by_name`.

This module only computes targets and assigns arrays; reading and writing files is elsewhere.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch

from epochal.layers.core import InputLayer
from epochal.layers.layer import Layer
from epochal.models.graph import keras_layer_order


@dataclass
class Target:
    """One layer of a model as a Keras file addresses it."""

    key: str  # Keras 3 path ('' for the model itself, 'layers/dense_1') or legacy group name
    layer: Layer
    variables: list[tuple[str, torch.nn.Parameter]]  # (weight name, parameter) in file order


@dataclass
class Saved:
    """The weights of one layer as read from a file."""

    key: str
    name: Optional[str]  # the layer's name when it was saved
    arrays: list[np.ndarray] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- names
def keras_snake_case(class_name: str) -> str:
    """Keras's file key for a class: 'Dense' -> 'dense', 'InputLayer' -> 'input_layer', 'RMSprop' -> 'rm_sprop'."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def is_graph_model(layer: Any) -> bool:
    """Sequential and functional models: Keras stores their layers as the 'layers' list."""
    from epochal.models.functional import Functional
    from epochal.models.sequential import Sequential

    return isinstance(layer, (Sequential, Functional))


def listed_layers(model: Any) -> list[Layer]:
    """`model.layers` as Keras lists them: a functional model's InputLayers included, in Keras's order."""
    from epochal.models.functional import Functional

    if isinstance(model, Functional):
        return keras_layer_order(model.inputs, model.outputs)
    return list(model.layers)


def own_variables(layer: Layer) -> list[tuple[str, torch.nn.Parameter]]:
    """The layer's own weights (not its sub-layers'), trainable-by-design first, as Keras stores them."""
    own = {id(parameter) for parameter in layer.parameters(recurse=False)}
    entries = [entry for entry in layer._weight_entries() if id(entry[1]) in own]
    ordered = [entry for entry in entries if entry[2]] + [entry for entry in entries if not entry[2]]
    return [(name, parameter) for name, parameter, _ in ordered]


def _name_key(attribute: str) -> str:
    # Keras visits private attributes last.
    return f"~{attribute}" if attribute.startswith("_") else attribute


def _unique(base: str, used: dict[str, int]) -> str:
    if base in used:
        used[base] += 1
        return f"{base}_{used[base]}"
    used[base] = 0
    return base


# --------------------------------------------------------------------------------------- Keras 3 paths
def keras3_targets(model: Layer) -> list[Target]:
    """Every layer of `model` (the model itself first, key '') with its Keras 3 path and variables."""
    targets = [Target("", model, own_variables(model))]
    visited = {id(model)}
    _collect(model, "", targets, visited)
    return targets


def _collect(layer: Layer, path: str, targets: list[Target], visited: set[int]) -> None:
    for child_path, child in _children(layer, path):
        if id(child) in visited:
            continue
        visited.add(id(child))
        targets.append(Target(child_path, child, own_variables(child)))
        _collect(child, child_path, targets, visited)


def _children(layer: Layer, path: str) -> list[tuple[str, Layer]]:
    prefix = f"{path}/" if path else ""
    if is_graph_model(layer):
        return _layer_list(listed_layers(layer), f"{prefix}layers")
    from epochal.models.model import Model

    attributes = sorted((name for name, module in layer._modules.items() if isinstance(module, Layer)), key=_name_key)
    children: list[tuple[str, Layer]] = []
    listed = not isinstance(layer, Model)  # a subclassed Model also has Keras's `layers` list
    for attribute in attributes:
        if not listed and _name_key("layers") < _name_key(attribute):
            children += _layer_list(list(layer.layers), f"{prefix}layers")
            listed = True
        children.append((f"{prefix}{attribute}", layer._modules[attribute]))
    if not listed:
        children += _layer_list(list(layer.layers), f"{prefix}layers")
    return children


def _layer_list(layers: list[Layer], path: str) -> list[tuple[str, Layer]]:
    used: dict[str, int] = {}
    return [(f"{path}/{_unique(keras_snake_case(type(layer).__name__), used)}", layer) for layer in layers]


def keras3_variable_paths(model: Layer) -> dict[int, str]:
    """Each parameter's Keras 3 variable path ('sequential/dense/kernel'), by id."""
    paths: dict[int, str] = {}
    _variable_paths(model, model.name, paths)
    return paths


def _variable_paths(layer: Layer, path: str, paths: dict[int, str]) -> None:
    for name, parameter in own_variables(layer):
        paths.setdefault(id(parameter), f"{path}/{name}")
    children = listed_layers(layer) if is_graph_model(layer) else [
        module for module in layer._modules.values() if isinstance(module, Layer)]
    for child in children:
        _variable_paths(child, f"{path}/{child.name}", paths)


# ---------------------------------------------------------------------------------------- legacy layout
def legacy_targets(model: Layer) -> list[Target]:
    """One target per listed layer, keyed by layer name, its weights trainable first (tf.keras 2 order)."""
    names = legacy_weight_names(model)
    targets = []
    for layer in listed_layers(model):
        weights = layer.trainable_weights + layer.non_trainable_weights
        targets.append(Target(layer.name, layer, [(names.get(id(p), f"{layer.name}/weight"), p) for p in weights]))
    return targets


def legacy_weight_names(model: Layer) -> dict[int, str]:
    """Each parameter's tf.keras 2 name ('dense/kernel:0'), by id: owning layer name and weight name."""
    names: dict[int, str] = {}
    for module in model.modules():
        if isinstance(module, Layer):
            for name, parameter in own_variables(module):
                names.setdefault(id(parameter), f"{module.name}/{name}:0")
    return names


# ------------------------------------------------------------------------------------------ assignment
def assign(pairs: list[tuple[Target, Saved]], source: str, skip_mismatch: bool) -> None:
    """Check every (target, saved) pair, then copy the arrays in; nothing is changed if one fails.

    Raises:
        ValueError: a weight count or shape differs (naming the layer and both shapes), unless
            `skip_mismatch`, which skips that layer with a warning instead.
    """
    accepted = []
    for target, saved in pairs:
        problem = _mismatch(target, saved)
        if problem is None:
            accepted.append((target, saved))
        elif skip_mismatch:
            warnings.warn(f"Skipping layer '{target.layer.name}' while loading '{source}': {problem}", stacklevel=4)
        else:
            raise ValueError(f"Cannot load the weights in '{source}' into layer '{target.layer.name}': {problem} "
                             "Was the file saved from a different architecture? Pass skip_mismatch=True to skip "
                             "layers that do not fit.")
    with torch.no_grad():
        for target, saved in accepted:
            for (_, parameter), array in zip(target.variables, saved.arrays):
                parameter.copy_(torch.as_tensor(np.asarray(array), dtype=parameter.dtype))


def _mismatch(target: Target, saved: Saved) -> Optional[str]:
    expected = [tuple(parameter.shape) for _, parameter in target.variables]
    received = [tuple(array.shape) for array in saved.arrays]
    saved_as = f" (saved as '{saved.name}')" if saved.name and saved.name != target.layer.name else ""
    if len(expected) != len(received):
        return (f"the layer has {len(expected)} weights {expected} but the file holds {len(received)} "
                f"{received} for it{saved_as}.")
    for (name, _), want, got in zip(target.variables, expected, received):
        if want != got:
            short_name = name.rsplit("/", 1)[-1].removesuffix(":0")  # 'dense/kernel:0' -> 'kernel'
            return f"weight '{short_name}' has shape {want} in the model but {got} in the file{saved_as}."
    return None


def warn_if_nothing_matched(pairs: list[tuple[Target, Saved]], targets: list[Target], saved: list[Saved],
                            source: str) -> None:
    """by_name=True that pairs no layer leaves the model untouched; Keras says nothing, epochal warns.

    Layer names made automatically differ between sessions ('dense' in the one that saved, 'dense_3' in
    the one that loads), which is the usual reason.
    """
    wanted = [target.layer.name for target in targets if target.variables]
    held = [layer.name or layer.key for layer in saved if layer.arrays]
    if pairs or not wanted or not held:
        return
    warnings.warn(f"load_weights(by_name=True) loaded nothing from '{source}': none of the model's layers {wanted} "
                  f"has a name the file holds weights for {held}. Give the layers those names (name=...), or "
                  "load by position (by_name=False).", stacklevel=4)


def input_layer_free(targets: list[Target]) -> list[Target]:
    """Targets that hold weights (InputLayers and weightless layers dropped), for positional matching."""
    return [target for target in targets if target.variables and not isinstance(target.layer, InputLayer)]
