"""Keras layers: `keras.layers.Dense`, `Flatten`, `Dropout`, ..."""
from epochal.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Reshape
from epochal.layers.layer import Layer
from epochal.layers.serialization import deserialize, register_layer, serialize
from epochal.layers.symbolic import KerasTensor

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "KerasTensor", "Layer", "Reshape",
           "deserialize", "register_layer", "serialize"]
