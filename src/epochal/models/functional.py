"""The functional API: `Model(inputs, outputs)` over a graph of layers called on `keras.Input`s."""
from __future__ import annotations

from typing import Any, Optional

import torch

from epochal.layers.core import InputLayer
from epochal.layers.layer import Layer
from epochal.layers.symbolic import KerasTensor
from epochal.models.graph import parents, topological_tensors
from epochal.models.model import Model


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


class Functional(Model):
    """A model defined by connecting layers to `keras.Input` tensors; made by `keras.Model(inputs, outputs)`."""

    def __init__(self, inputs: Any, outputs: Any, name: Optional[str] = None, **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self._inputs = _as_list(inputs)
        self._outputs = _as_list(outputs)
        for tensor in self._inputs + self._outputs:
            if not isinstance(tensor, KerasTensor):
                raise TypeError("Model(inputs, outputs) takes tensors made by keras.Input(...) and by calling layers "
                                f"on them. Received: {tensor!r}")
        self._nodes, _ = topological_tensors(self._outputs)
        for node in self._nodes:
            layer = node.source_layer
            if node.inputs is None and node not in self._inputs:
                raise ValueError(f"Output depends on input '{node.name}', which is not in `inputs`.")
            if layer is not None and not isinstance(layer, InputLayer) and layer.name not in self._modules:
                self.add_module(layer.name, layer)
        self._build_input_shape = self._inputs[0].shape if len(self._inputs) == 1 else [t.shape for t in self._inputs]
        self._output_shape = self._outputs[0].shape if len(self._outputs) == 1 else [t.shape for t in self._outputs]
        self.built = True
        self.to_device()

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._outputs)

    def call(self, inputs: Any, training: bool = False):
        values: dict[int, torch.Tensor] = {id(t): v for t, v in zip(self._inputs, _as_list(inputs))}
        for node in self._nodes:
            if id(node) in values:
                continue
            arguments = [values[id(parent)] for parent in parents(node)]
            layer: Layer = node.source_layer
            values[id(node)] = layer.forward(arguments[0] if not isinstance(node.inputs, (list, tuple)) else arguments,
                                             training)
        results = [values[id(t)] for t in self._outputs]
        return results[0] if len(results) == 1 else results

    def layer_output_shape(self, layer: Layer):
        for node in self._nodes:
            if node.source_layer is layer:
                return node.shape
        return None
