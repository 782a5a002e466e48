"""Optimizer state saved under tf.keras 2 names is matched to epochal's slots by slot and weight name."""
from __future__ import annotations

import numpy as np
import pytest

import epochal as keras
from epochal.saving import optimizer_state


def _compiled(optimizer: str) -> keras.Sequential:
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2, name="dense")])
    model.compile(optimizer=optimizer, loss="mse")
    return model


NAMING = {  # how each Keras generation named Adam's state for the kernel of layer 'dense'
    "tf.keras 2.11+": ("iteration:0", "Adam/m/dense/kernel:0", "Adam/v/dense/kernel:0", "Adam/m/dense/bias:0",
                       "Adam/v/dense/bias:0"),
    "tf.keras 2.0-2.10": ("Adam/iter:0", "Adam/dense/kernel/m:0", "Adam/dense/kernel/v:0", "Adam/dense/bias/m:0",
                          "Adam/dense/bias/v:0"),
}


@pytest.mark.parametrize("generation", sorted(NAMING))
def test_named_adam_state_is_restored(generation):
    model = _compiled("adam")
    iteration, kernel_m, kernel_v, bias_m, bias_v = NAMING[generation]
    values = {iteration: np.array(5), kernel_m: np.full((3, 2), 0.1), kernel_v: np.full((3, 2), 0.2),
              bias_m: np.full(2, 0.3), bias_v: np.full(2, 0.4)}
    assert optimizer_state.restore_named(model, list(values.items()), "file.h5")
    slots = model.optimizer.slots()
    assert model.optimizer.iterations == 5
    np.testing.assert_allclose(slots["momentum"][0].numpy(), 0.1)
    np.testing.assert_allclose(slots["velocity"][1].numpy(), 0.4)


def test_state_of_another_optimizer_warns_and_starts_fresh():
    model = _compiled("sgd")
    with pytest.warns(UserWarning, match="does not fit.*starts fresh"):
        assert not optimizer_state.restore_named(model, [("RMSprop/velocity/dense/kernel:0", np.ones((3, 2)))], "f.h5")
    assert model.optimizer.iterations == 0


@pytest.mark.parametrize("optimizer, third", [("adam", "dense_kernel_momentum"),
                                              ("rmsprop", "dense_kernel_velocity"),
                                              ("nadam", "dense_kernel_momentum"),
                                              ("adagrad", "dense_kernel_accumulator")])
def test_keras3_variable_list_has_keras_order_and_names(optimizer, third):
    model = _compiled(optimizer)
    names = [name for name, _ in optimizer_state.keras3_variables(model)]
    expected_count = len(model.optimizer.keras_variable_layout())
    assert len(names) == expected_count
    assert names[:3] == [f"{model.optimizer.name}/iteration", f"{model.optimizer.name}/learning_rate",
                         f"{model.optimizer.name}/sequential_{third}"]


@pytest.mark.parametrize("iteration", [-7, 2.5, float("nan")])
def test_an_impossible_step_count_warns_and_leaves_the_optimizer_as_it_was(iteration):
    model = _compiled("adam")
    values = [np.array(iteration), np.array(0.001, dtype="float32")]
    values += [np.full(tuple(weight.shape), 0.5) for weight in model.weights for _ in range(2)]
    with pytest.warns(UserWarning, match="step count is .*not a whole number >= 0.*starts fresh"):
        assert not optimizer_state.restore_positional(model, values, "file.keras")
    assert model.optimizer.iterations == 0
    assert all(float(slot.abs().sum()) == 0 for slots in model.optimizer.slots().values() for slot in slots)


def test_a_value_the_optimizer_refuses_puts_its_previous_state_back(monkeypatch):
    model = _compiled("adam")
    optimizer = optimizer_state.ready_optimizer(model)
    values = [np.array(3), np.array(0.001, dtype="float32")]
    values += [np.full(tuple(weight.shape), 0.5) for weight in model.weights for _ in range(2)]
    real_load = type(optimizer).load_state_dict

    def refuse_after_slots(self, state):
        real_load(self, state)
        if state["iterations"] == 3:
            raise ValueError("refused")

    monkeypatch.setattr(type(optimizer), "load_state_dict", refuse_after_slots)
    with pytest.warns(UserWarning, match=r"does not fit.*\(refused\)"):
        assert not optimizer_state.restore_positional(model, values, "file.keras")
    assert optimizer.iterations == 0
    assert all(float(slot.abs().sum()) == 0 for slots in optimizer.slots().values() for slot in slots)
