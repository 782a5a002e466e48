"""The layer graph of a functional model, ordered the way Keras orders it in files.

Keras lists a functional model's layers (InputLayers included) by decreasing depth from the outputs,
ties broken by the order a depth-first walk from the outputs first meets them. Files address layers
by position in that list ('layers/dense_1'), so epochal must produce the same order to exchange
weights with Keras.
"""
from __future__ import annotations

from typing import Any

from epochal.layers.symbolic import KerasTensor


def parents(tensor: KerasTensor) -> list[KerasTensor]:
    """The tensors a symbolic tensor was computed from (none for an Input)."""
    if tensor.inputs is None:
        return []
    return list(tensor.inputs) if isinstance(tensor.inputs, (list, tuple)) else [tensor.inputs]


def topological_tensors(outputs: list[KerasTensor]) -> tuple[list[KerasTensor], dict[int, int]]:
    """Tensors from inputs to outputs, and each layer's first-visit index in a walk from the outputs."""
    ordered: list[KerasTensor] = []
    first_visit: dict[int, int] = {}
    finished: set[int] = set()
    for output in outputs:
        stack: list[tuple[KerasTensor, bool]] = [(output, False)]
        while stack:
            tensor, expanded = stack.pop()
            if id(tensor) in finished:
                continue
            if expanded:
                finished.add(id(tensor))
                ordered.append(tensor)
                continue
            first_visit.setdefault(id(tensor.source_layer), len(first_visit))
            stack.append((tensor, True))
            stack.extend((parent, False) for parent in reversed(parents(tensor)))
    return ordered, first_visit


def keras_layer_order(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[Any]:
    """The model's layers (InputLayers included) in Keras's file order."""
    ordered, first_visit = topological_tensors(outputs)
    tensor_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    layers: dict[int, Any] = {}
    for tensor in reversed(ordered):
        layer = tensor.source_layer
        depth = max(tensor_depth.setdefault(id(tensor), 0), layer_depth.get(id(layer), 0))
        layer_depth[id(layer)] = tensor_depth[id(tensor)] = depth
        layers[id(layer)] = layer
        for parent in parents(tensor):
            tensor_depth[id(parent)] = max(depth + 1, tensor_depth.get(id(parent), 0))
    for tensor in inputs:  # an input no output depends on still belongs to the model
        if id(tensor.source_layer) not in layers:
            layers[id(tensor.source_layer)] = tensor.source_layer
            layer_depth[id(tensor.source_layer)], first_visit[id(tensor.source_layer)] = 0, -1
    return sorted(layers.values(), key=lambda layer: (-layer_depth[id(layer)], first_visit[id(layer)]))
