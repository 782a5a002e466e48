"""An epochal optimizer's state as Keras stores it, and back, so training continues across libraries.

- Keras 3 keeps `optimizer.variables` in one order: 'iteration', 'learning_rate' (unless it is a
  schedule), then the slots (Adam interleaves momentum/velocity per weight, RMSprop stores all
  velocities first, ...). `.keras` files store them by position ('optimizer/vars/0', ...), legacy
  `.h5` files written by Keras 3 under names like 'adam/sequential_dense_kernel_momentum'.
  `Optimizer.keras_variable_layout()` gives that order; weights frozen when the optimizer was built
  have no slots in Keras and are left out here.
- tf.keras 2 `.h5` files name each slot: 'iteration:0', 'Adam/m/dense/kernel:0', 'RMSprop/velocity/
  dense_2/kernel:0'. Those are matched by slot and by layer/weight name.
"""
from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np
import torch

from epochal.saving.weights_layout import keras3_variable_paths, legacy_weight_names

# tf.keras 2 (and older Keras) slot names -> epochal's slot names (which follow Keras 3).
_LEGACY_SLOTS = {
    "m": "momentum", "v": "velocity", "vhat": "velocity_hat", "momentum": "momentum", "velocity": "velocity",
    "velocity_hat": "velocity_hat", "rms": "velocity", "mom": "momentum", "mg": "average_gradient",
    "average_gradient": "average_gradient", "accumulator": "accumulator", "momentums": "momentum",
    "velocities": "velocity",
}
_ITERATION_NAMES = ("iter", "iteration", "iterations")
# Keras 3 default optimizer names (its snake case of the class name), for files that do not say
# which optimizer wrote the state (Keras 3 on TensorFlow can leave it out of compile_config).
OPTIMIZER_BY_DEFAULT_NAME = {"adam": "Adam", "adamw": "AdamW", "rm_sprop": "RMSprop", "rmsprop": "RMSprop",
                             "sgd": "SGD", "adagrad": "Adagrad", "nadam": "Nadam"}


def ready_optimizer(model: Any) -> Optional[Any]:
    """The model's optimizer built for its weights (as training would build it), or None."""
    if model.compiled is None or not model.built or not hasattr(model.optimizer, "keras_variable_layout"):
        return None
    model.to_device()
    model.build_optimizer()
    return model.optimizer


def _layout(model: Any, optimizer: Any) -> list[tuple[str, Optional[int]]]:
    weights = model.weights
    return [(slot, index) for slot, index in optimizer.keras_variable_layout()
            if index is None or weights[index].requires_grad]


def keras3_variables(model: Any) -> list[tuple[str, np.ndarray]]:
    """(Keras 3 variable name, value) for the model's optimizer, in Keras 3's order ([] if none)."""
    optimizer = ready_optimizer(model)
    if optimizer is None:
        return []
    state = optimizer.state_dict()
    paths = keras3_variable_paths(model)
    weights = model.weights
    variables = []
    for slot, index in _layout(model, optimizer):
        if index is None:
            name, value = slot, _scalar_value(slot, state)
        else:
            name = f"{paths[id(weights[index])].replace('/', '_')}_{slot}"
            value = state["slots"][slot][index].detach().cpu().numpy()
        variables.append((f"{optimizer.name}/{name}", value))
    return variables


def _scalar_value(slot: str, state: dict) -> np.ndarray:
    if slot == "iteration":
        return np.array(state["iterations"], dtype=np.int64)
    if slot == "learning_rate":
        return np.array(state["learning_rate"], dtype=np.float32)
    return np.array(state["extra"].get(slot, 0.0), dtype=np.float32)


def restore_positional(model: Any, values: list[np.ndarray], source: str) -> bool:
    """Load Keras 3's ordered optimizer variables; warn and keep a fresh state if they do not fit."""
    optimizer = ready_optimizer(model)
    if optimizer is None:
        return False
    layout = _layout(model, optimizer)
    if len(layout) != len(values) and layout[1:2] == [("learning_rate", None)] and len(values) == len(layout) - 1:
        layout = layout[:1] + layout[2:]  # saved with a learning-rate schedule: no learning_rate variable
    if len(layout) != len(values):
        return _fresh(source, f"{type(optimizer).__name__} has {len(layout)} state variables for this model but the "
                              f"file holds {len(values)}")
    state = optimizer.state_dict()
    for (slot, index), value in zip(layout, values):
        problem = _put(state, slot, index, value)
        if problem:
            return _fresh(source, problem)
    return _apply(optimizer, state, source)


def restore_named(model: Any, named: list[tuple[str, np.ndarray]], source: str) -> bool:
    """Load tf.keras 2 optimizer weights ('Adam/m/dense/kernel:0', ...) by slot and weight name."""
    optimizer = ready_optimizer(model)
    if optimizer is None:
        return False
    names = legacy_weight_names(model)  # 'dense/kernel:0'
    index_by_name = {names[id(p)][:-2]: i for i, p in enumerate(model.weights) if id(p) in names}
    state = optimizer.state_dict()
    filled = set()
    for name, value in named:
        parsed = _parse_legacy_name(name, index_by_name)
        if parsed is None:
            return _fresh(source, f"cannot tell which weight the optimizer variable '{name}' belongs to")
        slot, index = parsed
        if slot != "iteration" and slot not in state["slots"]:
            return _fresh(source, f"the file holds '{name}', a slot {type(optimizer).__name__} does not have")
        problem = _put(state, slot, index, value)
        if problem:
            return _fresh(source, problem)
        filled.add((slot, index))
    expected = {(slot, index) for slot, index in _layout(model, optimizer) if index is not None}
    if not expected <= filled:
        return _fresh(source, f"{len(expected - filled)} slot values are missing from the file")
    return _apply(optimizer, state, source)


def _parse_legacy_name(name: str, index_by_name: dict[str, int]) -> Optional[tuple[str, Optional[int]]]:
    parts = name[:-2].split("/") if name.endswith(":0") else name.split("/")
    if parts[-1] in _ITERATION_NAMES:
        return "iteration", None
    for position, part in enumerate(parts):
        if part in _LEGACY_SLOTS:
            weight = "/".join(parts[position + 1:])
            if weight in index_by_name:
                return _LEGACY_SLOTS[part], index_by_name[weight]
    # tf.keras < 2.11 put the slot last: 'Adam/dense/kernel/m'
    if parts[-1] in _LEGACY_SLOTS:
        for start in range(len(parts) - 1):
            weight = "/".join(parts[start:-1])
            if weight in index_by_name:
                return _LEGACY_SLOTS[parts[-1]], index_by_name[weight]
    return None


def _put(state: dict, slot: str, index: Optional[int], value: np.ndarray) -> Optional[str]:
    """Write one saved value into a state_dict; a description of the problem if it does not fit."""
    value = np.asarray(value)
    if index is None:
        if value.size != 1:
            return f"the optimizer's '{slot}' should be a single number but the file holds shape {value.shape}"
        if slot == "iteration":
            count = value.reshape(()).item()
            if not (count >= 0 and float(count).is_integer()):  # also refuses NaN
                return f"the optimizer's step count is {count}, not a whole number >= 0"
            state["iterations"] = int(count)
        elif slot == "learning_rate":
            # Keras stores the rate as float32; keep the config's exact float when it is the same number.
            current = state["learning_rate"]
            if current is not None and np.float32(current) != value.astype(np.float32).reshape(()):
                state["learning_rate"] = float(value.reshape(()))
        else:
            state["extra"] = {**state.get("extra", {}), slot: float(value.reshape(()))}
        return None
    target = state["slots"][slot][index]
    if tuple(value.shape) != tuple(target.shape):
        return (f"the optimizer's '{slot}' for weight {index} has shape {tuple(target.shape)} but the file holds "
                f"{tuple(value.shape)}")
    state["slots"][slot][index] = torch.as_tensor(value, dtype=target.dtype)
    return None


def _apply(optimizer: Any, state: dict, source: str) -> bool:
    """Load `state`; if the optimizer refuses a value, put its previous state back (never half-loaded)."""
    previous = optimizer.state_dict()
    try:
        optimizer.load_state_dict(state)
    except (ValueError, TypeError) as error:
        optimizer.load_state_dict(previous)
        return _fresh(source, str(error))
    return True


def _fresh(source: str, problem: str) -> bool:
    warnings.warn(f"The optimizer state in '{source}' does not fit this model's optimizer ({problem}); the "
                  "optimizer starts fresh. Weights, loss and metrics were restored.", stacklevel=4)
    return False
