"""Tests for epochal.optimizers: Keras's update rules, learning-rate handling, state and lookup.

Numerics are checked two ways: against plain NumPy (float64) versions of Keras's update rules written
here, and against real Keras (torch backend) applying the same gradients.
"""
from __future__ import annotations

import copy
import io
import math
import os
import re

# Keras picks its backend at import time; this must run before anything imports keras.
os.environ["KERAS_BACKEND"] = "torch"

import numpy as np
import pytest
import torch

from epochal import optimizers
from epochal.optimizers import SGD, Adagrad, Adam, AdamW, Nadam, Optimizer, RMSprop

SHAPES = [(4, 3), (3,), (2, 2, 2)]
STEPS = 5


# ------------------------------------------------------------------------------------------ data
def make_problem(seed: int = 0, steps: int = STEPS, scale: float = 1.0):
    """Initial weights and one list of gradients per step, as float32 NumPy arrays."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=shape).astype(np.float32) for shape in SHAPES]
    grads = [[(scale * rng.normal(size=shape)).astype(np.float32) for shape in SHAPES] for _ in range(steps)]
    return weights, grads


def as_params(weights):
    return [torch.nn.Parameter(torch.tensor(w)) for w in weights]


def run_epochal(optimizer: Optimizer, weights, grads):
    params = as_params(weights)
    optimizer.build(params)
    for step_grads in grads:
        for param, grad in zip(params, step_grads):
            param.grad = torch.tensor(grad)
        optimizer.step()
    return [p.detach().numpy() for p in params]


# ------------------------------------------------------------------ NumPy references (float64)
def clip(grads, config):
    if config.get("clipvalue") is not None:
        return [np.clip(g, -config["clipvalue"], config["clipvalue"]) for g in grads]
    if config.get("clipnorm") is not None:
        c = config["clipnorm"]
        return [g * c / max(np.sqrt(np.sum(g * g)), c) for g in grads]
    if config.get("global_clipnorm") is not None:
        c = config["global_clipnorm"]
        norm = np.sqrt(sum(np.sum(g * g) for g in grads))
        return [g * c * min(1.0 / norm, 1.0 / c) for g in grads]
    return grads


def sgd_rule(config):
    momentum, nesterov = config.get("momentum", 0.0), config.get("nesterov", False)

    def update(w, g, state, lr, t):
        if momentum == 0:
            return w - lr * g
        m = state.get("m", np.zeros_like(w))
        m = momentum * m - lr * g
        state["m"] = m
        return w + (momentum * m - lr * g if nesterov else m)

    return update


def rmsprop_rule(config):
    rho, momentum = config.get("rho", 0.9), config.get("momentum", 0.0)
    eps, centered = config.get("epsilon", 1e-7), config.get("centered", False)

    def update(w, g, state, lr, t):
        v = rho * state.get("v", np.zeros_like(w)) + (1 - rho) * g * g
        state["v"] = v
        if centered:
            a = rho * state.get("a", np.zeros_like(w)) + (1 - rho) * g
            state["a"] = a
            increment = lr * g / np.sqrt(v - a * a + eps)
        else:
            increment = lr * g / np.sqrt(v + eps)
        if momentum > 0:
            state["mom"] = momentum * state.get("mom", np.zeros_like(w)) + increment
            return w - state["mom"]
        return w - increment

    return update


def adam_rule(config):
    b1, b2 = config.get("beta_1", 0.9), config.get("beta_2", 0.999)
    eps, amsgrad = config.get("epsilon", 1e-7), config.get("amsgrad", False)

    def update(w, g, state, lr, t):
        m = state.get("m", np.zeros_like(w)) + (g - state.get("m", np.zeros_like(w))) * (1 - b1)
        v = state.get("v", np.zeros_like(w)) + (g * g - state.get("v", np.zeros_like(w))) * (1 - b2)
        state["m"], state["v"] = m, v
        if amsgrad:
            v = state["vhat"] = np.maximum(state.get("vhat", np.zeros_like(w)), v)
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return w - m * alpha / (np.sqrt(v) + eps)

    return update


def adagrad_rule(config):
    initial, eps = config.get("initial_accumulator_value", 0.1), config.get("epsilon", 1e-7)

    def update(w, g, state, lr, t):
        acc = state.get("acc", np.full_like(w, initial)) + g * g
        state["acc"] = acc
        return w - lr * g / np.sqrt(acc + eps)

    return update


def nadam_rule(config):
    b1, b2, eps = config.get("beta_1", 0.9), config.get("beta_2", 0.999), config.get("epsilon", 1e-7)

    def update(w, g, state, lr, t):
        # u_product is shared by all weights, advanced once per step (keyed by t).
        u_t, u_next = b1 * (1 - 0.5 * 0.96 ** t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
        shared = state["shared"]
        if shared.get("t") != t:
            shared["t"], shared["u_product"] = t, shared.get("u_product", 1.0) * u_t
        product = shared["u_product"]
        m = state.get("m", np.zeros_like(w)) * b1 + (1 - b1) * g
        v = state.get("v", np.zeros_like(w)) * b2 + (1 - b2) * g * g
        state["m"], state["v"] = m, v
        m_hat = u_next * m / (1 - product * u_next) + (1 - u_t) * g / (1 - product)
        v_hat = v / (1 - b2 ** t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps)

    return update


RULES = {SGD: sgd_rule, RMSprop: rmsprop_rule, Adam: adam_rule, AdamW: adam_rule, Adagrad: adagrad_rule,
         Nadam: nadam_rule}
DEFAULT_LR = {SGD: 0.01, RMSprop: 0.001, Adam: 0.001, AdamW: 0.001, Adagrad: 0.001, Nadam: 0.001}


def run_reference(optimizer_class, config, weights, grads):
    update = RULES[optimizer_class](config)
    base_lr = config.get("lr", config.get("learning_rate", DEFAULT_LR[optimizer_class]))
    decay = config.get("decay", 0.0)
    weight_decay = config.get("weight_decay", 0.004 if optimizer_class is AdamW else None)
    scale = config.get("loss_scale_factor") or 1.0
    weights = [w.astype(np.float64) for w in weights]
    shared: dict = {}
    states = [{"shared": shared} for _ in weights]
    for step, step_grads in enumerate(grads):
        lr = base_lr / (1 + decay * step)
        clipped = clip([g.astype(np.float64) / scale for g in step_grads], config)
        if weight_decay:
            weights = [w - w * weight_decay * lr for w in weights]
        weights = [update(w, g, s, lr, step + 1) for w, g, s in zip(weights, clipped, states)]
    return weights


CASES = [
    (SGD, {}),
    (SGD, {"learning_rate": 0.1, "momentum": 0.9}),
    (SGD, {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    (SGD, {"learning_rate": 0.1, "weight_decay": 0.05, "clipvalue": 0.5}),
    (SGD, {"lr": 0.1, "momentum": 0.5, "decay": 0.1}),
    (RMSprop, {"learning_rate": 0.01}),
    (RMSprop, {"learning_rate": 0.01, "epsilon": 0.1}),  # large enough to see it sits inside the root
    (RMSprop, {"learning_rate": 0.01, "momentum": 0.9}),
    (RMSprop, {"learning_rate": 0.01, "centered": True}),
    (RMSprop, {"learning_rate": 0.01, "centered": True, "momentum": 0.5, "clipnorm": 0.5}),
    (Adam, {"learning_rate": 0.01}),
    (Adam, {"learning_rate": 0.01, "amsgrad": True}),
    (Adam, {"learning_rate": 0.01, "weight_decay": 0.1, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3}),
    (Adam, {"learning_rate": 0.01, "global_clipnorm": 1.0, "decay": 0.2}),
    (Adam, {"learning_rate": 0.01, "loss_scale_factor": 128.0}),
    (AdamW, {"learning_rate": 0.01}),
    (AdamW, {"learning_rate": 0.01, "weight_decay": 0.1, "amsgrad": True, "clipnorm": 0.5}),
    (Adagrad, {"learning_rate": 0.1}),
    (Adagrad, {"learning_rate": 0.1, "epsilon": 0.5}),
    (Adagrad, {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "clipnorm": 0.5}),
    (Nadam, {"learning_rate": 0.01}),
    (Nadam, {"learning_rate": 0.01, "weight_decay": 0.1, "beta_1": 0.8}),
]


def case_id(case):
    optimizer_class, config = case
    return optimizer_class.__name__ + "-" + "-".join(f"{k}={v}" for k, v in config.items())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_update_matches_numpy_reference(case):
    optimizer_class, config = case
    weights, grads = make_problem(seed=1, scale=128.0 if "loss_scale_factor" in config else 1.0)
    ours = run_epochal(optimizer_class(**config), weights, grads)
    expected = run_reference(optimizer_class, config, weights, grads)
    for got, want, start in zip(ours, expected, weights):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
        # The change itself must match too, not just weights of order one.
        np.testing.assert_allclose(got - start, want - start, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("config", [{"learning_rate": 0.01}, {"learning_rate": 0.01, "amsgrad": True}])
def test_adam_foreach_fallback_matches_fused(monkeypatch, config):
    weights, grads = make_problem(seed=2)
    fused = run_epochal(Adam(**config), weights, grads)
    monkeypatch.setattr(optimizers, "_fused_adam_supported", lambda device, dtype: False)
    fallback = run_epochal(Adam(**config), weights, grads)
    for a, b in zip(fused, fallback):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("optimizer_class", [Adam, Nadam, RMSprop])
def test_mixed_dtypes_update_like_separate_runs(optimizer_class):
    """Parameters of two dtypes form two groups; each must update as if it were alone."""
    weights, grads = make_problem(seed=3)
    params = [torch.nn.Parameter(torch.tensor(weights[0], dtype=torch.float64)),
              torch.nn.Parameter(torch.tensor(weights[1]))]
    optimizer = optimizer_class(learning_rate=0.01)
    optimizer.build(params)
    for step_grads in grads:
        params[0].grad = torch.tensor(step_grads[0], dtype=torch.float64)
        params[1].grad = torch.tensor(step_grads[1])
        optimizer.step()
    for index in range(2):
        alone = run_epochal(optimizer_class(learning_rate=0.01), [weights[index]], [[g[index]] for g in grads])
        np.testing.assert_allclose(params[index].detach().numpy(), alone[0], rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------------- real Keras
@pytest.fixture(scope="module")
def keras():
    import keras

    assert keras.backend.backend() == "torch", "tests need KERAS_BACKEND=torch before keras is imported"
    return keras


KERAS_CASES = [
    (SGD, {"learning_rate": 0.1, "momentum": 0.9}),
    (SGD, {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True, "clipvalue": 0.5}),
    (RMSprop, {"learning_rate": 0.01}),
    (RMSprop, {"learning_rate": 0.01, "centered": True, "momentum": 0.5, "epsilon": 0.1}),
    (Adam, {"learning_rate": 0.01}),
    (Adam, {"learning_rate": 0.01, "epsilon": 0.01}),
    (Adam, {"learning_rate": 0.01, "amsgrad": True, "clipnorm": 0.5}),
    (Adam, {"learning_rate": 0.01, "weight_decay": 0.1, "global_clipnorm": 1.0}),
    (AdamW, {"learning_rate": 0.01}),
    (AdamW, {"learning_rate": 0.01, "weight_decay": 0.05, "amsgrad": True}),
    (Adagrad, {"learning_rate": 0.1}),
    (Adagrad, {"learning_rate": 0.1, "initial_accumulator_value": 0.5}),
    (Nadam, {"learning_rate": 0.01}),
    (Nadam, {"learning_rate": 0.01, "epsilon": 0.01}),
]


def run_keras(keras, optimizer_class, config, weights, grads):
    variables = [keras.Variable(w, name=f"v{i}") for i, w in enumerate(weights)]
    optimizer = getattr(keras.optimizers, optimizer_class.__name__)(**config)
    for step_grads in grads:
        optimizer.apply_gradients(
            [(keras.ops.convert_to_tensor(g), v) for g, v in zip(step_grads, variables)]
        )
    return [keras.ops.convert_to_numpy(v.value) for v in variables], optimizer


@pytest.mark.parametrize("case", KERAS_CASES, ids=case_id)
def test_update_matches_real_keras(keras, case):
    optimizer_class, config = case
    weights, grads = make_problem(seed=4)
    theirs, _ = run_keras(keras, optimizer_class, config, weights, grads)
    ours = run_epochal(optimizer_class(**config), weights, grads)
    for got, want, start in zip(ours, theirs, weights):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got - start, want - start, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("case", KERAS_CASES, ids=case_id)
def test_config_and_variable_layout_match_real_keras(keras, case):
    optimizer_class, config = case
    weights, grads = make_problem(seed=5, steps=1)
    _, theirs = run_keras(keras, optimizer_class, config, weights, grads)
    ours = optimizer_class(**config)
    ours.build(as_params(weights))
    their_config, our_config = theirs.get_config(), ours.get_config()
    assert set(our_config) == set(their_config)
    for key, value in their_config.items():
        if key == "name":
            assert our_config[key] == re.sub(r"_\d+$", "", value)  # Keras numbers repeated names
        elif isinstance(value, float):
            assert our_config[key] == pytest.approx(value, rel=1e-6)
        else:
            assert our_config[key] == value, key
    their_names = [v.name for v in theirs.variables]
    layout = ours.keras_variable_layout()
    assert len(layout) == len(their_names)
    for (slot, index), name in zip(layout, their_names):
        if index is None:
            # Keras leaves Nadam's u_product unnamed: "variable", "variable_1", ...
            assert name == slot or (slot == "u_product" and re.fullmatch(r"variable(_\d+)?", name))
        else:
            assert name == f"v{index}_{slot}"


def test_real_keras_serialized_config_deserializes(keras):
    original = keras.optimizers.Adam(learning_rate=0.01, beta_1=0.8, amsgrad=True, clipnorm=2.0)
    optimizer = optimizers.deserialize(keras.optimizers.serialize(original))
    assert isinstance(optimizer, Adam)
    assert optimizer.learning_rate == pytest.approx(0.01)
    assert (optimizer.beta_1, optimizer.amsgrad, optimizer.clipnorm) == (0.8, True, 2.0)


# ----------------------------------------------------------------------------- learning rate
def single_param_sgd(**kwargs):
    param = torch.nn.Parameter(torch.zeros(2))
    optimizer = SGD(**kwargs)
    optimizer.build([param])
    return param, optimizer


def sgd_step(param, optimizer, grad=1.0):
    """Run one step with a constant gradient and return the change of the parameter."""
    before = param.detach().clone()
    param.grad = torch.full_like(param, grad)
    optimizer.step()
    return (param.detach() - before)[0].item()


def test_learning_rate_is_a_float_and_setting_it_takes_effect_on_next_step():
    param, optimizer = single_param_sgd(learning_rate=0.5)
    assert isinstance(optimizer.learning_rate, float) and optimizer.learning_rate == 0.5
    assert sgd_step(param, optimizer) == pytest.approx(-0.5)
    optimizer.learning_rate = 0.25
    assert optimizer.learning_rate == 0.25
    assert sgd_step(param, optimizer) == pytest.approx(-0.25)
    optimizer.lr = 0.125  # tf.keras 2 spelling
    assert optimizer.lr == 0.125
    assert sgd_step(param, optimizer) == pytest.approx(-0.125)
    optimizer.learning_rate.assign(0.0625)  # tf.keras code treats it as a variable
    assert sgd_step(param, optimizer) == pytest.approx(-0.0625)
    assert optimizer.learning_rate.numpy().dtype == np.float32


def test_lr_keyword_alias():
    assert SGD(lr=0.3).learning_rate == 0.3
    assert Adam(lr=0.02).get_config()["learning_rate"] == 0.02


def test_schedule_callable_receives_iterations():
    param, optimizer = single_param_sgd(learning_rate=lambda step: 1.0 / (step + 1))
    assert optimizer.learning_rate == 1.0
    changes = [sgd_step(param, optimizer) for _ in range(3)]
    assert changes == pytest.approx([-1.0, -0.5, -1.0 / 3])
    assert optimizer.learning_rate == pytest.approx(0.25)


def test_zero_argument_callable_learning_rate():
    value = {"lr": 0.5}
    param, optimizer = single_param_sgd(learning_rate=lambda: value["lr"])
    assert sgd_step(param, optimizer) == pytest.approx(-0.5)
    value["lr"] = 0.1
    assert sgd_step(param, optimizer) == pytest.approx(-0.1)


def test_legacy_decay_shrinks_the_step_but_not_the_reported_rate():
    param, optimizer = single_param_sgd(lr=1.0, decay=1.0)
    changes = [sgd_step(param, optimizer) for _ in range(3)]
    assert changes == pytest.approx([-1.0, -0.5, -1.0 / 3])
    assert optimizer.learning_rate == 1.0
    assert optimizer.get_config()["decay"] == 1.0


# ------------------------------------------------------------------------------------ frozen
@pytest.mark.parametrize("optimizer_class", [SGD, RMSprop, Adam, AdamW, Adagrad, Nadam])
def test_frozen_and_gradless_params_are_untouched(optimizer_class):
    weights, grads = make_problem(seed=6)
    params = as_params(weights)
    optimizer = optimizer_class(learning_rate=0.1, weight_decay=0.1)
    optimizer.build(params)
    slots_before = {name: [t.clone() for t in tensors] for name, tensors in optimizer.slots().items()}
    params[1].requires_grad_(False)
    for step_grads in grads:
        params[0].grad = torch.tensor(step_grads[0])
        params[1].grad = torch.tensor(step_grads[1])  # present but frozen: must be ignored
        params[2].grad = None
        optimizer.step()
    assert optimizer.iterations == STEPS
    assert not np.array_equal(params[0].detach().numpy(), weights[0])
    np.testing.assert_array_equal(params[1].detach().numpy(), weights[1])
    np.testing.assert_array_equal(params[2].detach().numpy(), weights[2])
    for name, tensors in optimizer.slots().items():
        for index in (1, 2):
            assert torch.equal(tensors[index], slots_before[name][index])


def test_unfreezing_later_updates_the_param_again():
    weights, grads = make_problem(seed=7)
    params = as_params(weights)
    optimizer = Adam(learning_rate=0.1)
    optimizer.build(params)
    params[0].requires_grad_(False)
    for param, grad in zip(params, grads[0]):
        param.grad = torch.tensor(grad)
    optimizer.step()
    np.testing.assert_array_equal(params[0].detach().numpy(), weights[0])
    params[0].requires_grad_(True)
    optimizer.step()
    assert not np.array_equal(params[0].detach().numpy(), weights[0])


def test_step_without_any_gradient_does_nothing():
    params = as_params(make_problem()[0])
    optimizer = Nadam()
    optimizer.build(params)
    optimizer.step()
    assert optimizer.iterations == 0 and optimizer.u_product == 1.0


# ----------------------------------------------------------------------- build, apply, zero_grad
def test_step_builds_lazily_from_given_params_and_requires_them():
    weights, grads = make_problem(seed=8, steps=1)
    params = as_params(weights)
    for param, grad in zip(params, grads[0]):
        param.grad = torch.tensor(grad)
    optimizer = Adam()
    with pytest.raises(ValueError, match="build"):
        optimizer.step()
    optimizer.step(params)
    assert optimizer.built and optimizer.iterations == 1
    assert [t.shape for t in optimizer.slots()["momentum"]] == [p.shape for p in params]


def test_apply_gradients_matches_step():
    weights, grads = make_problem(seed=9)
    by_step = run_epochal(RMSprop(learning_rate=0.01, momentum=0.5), weights, grads)
    params = as_params(weights)
    optimizer = RMSprop(learning_rate=0.01, momentum=0.5)
    for step_grads in grads:
        iterations = optimizer.apply_gradients(zip([torch.tensor(g) for g in step_grads], params))
    assert iterations == STEPS
    for a, b in zip(by_step, params):
        np.testing.assert_array_equal(a, b.detach().numpy())
    with pytest.raises(ValueError, match="not\\s+among the parameters"):
        optimizer.apply([torch.zeros(1)], [torch.nn.Parameter(torch.zeros(1))])


def test_zero_grad_sets_grads_to_none():
    params = as_params(make_problem()[0])
    optimizer = SGD()
    optimizer.build(params)
    for param in params:
        param.grad = torch.ones_like(param)
    optimizer.zero_grad()
    assert all(param.grad is None for param in params)


def test_build_rejects_non_float_tensors():
    with pytest.raises(TypeError, match="floating-point"):
        SGD().build([torch.zeros(2, dtype=torch.int64)])


# ------------------------------------------------------------------------------------- state
STATE_CASES = [
    (SGD, {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    (RMSprop, {"centered": True, "momentum": 0.5}),
    (Adam, {"amsgrad": True}),
    (AdamW, {"learning_rate": 0.01}),
    (Adagrad, {}),
    (Nadam, {"decay": 0.1}),
    (Adam, {"learning_rate": lambda step: 0.01 / (1 + step)}),
]


@pytest.mark.parametrize("case", STATE_CASES, ids=lambda c: c[0].__name__)
def test_state_dict_round_trip_resumes_bit_identically(case):
    optimizer_class, config = case
    weights, grads = make_problem(seed=10)
    uninterrupted = run_epochal(optimizer_class(**config), weights, grads)

    params = as_params(weights)
    first = optimizer_class(**config)
    first.build(params)
    for step_grads in grads[:2]:
        for param, grad in zip(params, step_grads):
            param.grad = torch.tensor(grad)
        first.step()
    buffer = io.BytesIO()
    torch.save({"optimizer": first.state_dict(), "weights": [p.detach() for p in params]}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer)

    resumed_params = [torch.nn.Parameter(w.clone()) for w in saved["weights"]]
    resumed = optimizer_class(**config)
    resumed.load_state_dict(saved["optimizer"])  # before build: applied when build runs
    resumed.build(resumed_params)
    assert resumed.iterations == 2
    for step_grads in grads[2:]:
        for param, grad in zip(resumed_params, step_grads):
            param.grad = torch.tensor(grad)
        resumed.step()
    for want, got in zip(uninterrupted, resumed_params):
        np.testing.assert_array_equal(got.detach().numpy(), want)


def test_state_dict_is_a_copy_and_restores_learning_rate():
    params = as_params(make_problem()[0])
    optimizer = Adam(learning_rate=0.01)
    optimizer.build(params)
    state = optimizer.state_dict()
    state["slots"]["momentum"][0].fill_(5.0)
    assert optimizer.slots()["momentum"][0].abs().sum() == 0
    optimizer.learning_rate = 0.5
    optimizer.load_state_dict(state)
    assert optimizer.learning_rate == 0.01
    assert optimizer.slots()["momentum"][0].eq(5.0).all()


def test_load_state_dict_with_other_slots_is_rejected():
    params = as_params(make_problem()[0])
    plain = Adam()
    plain.build(params)
    amsgrad = Adam(amsgrad=True)
    amsgrad.build(params)
    with pytest.raises(ValueError, match="velocity_hat"):
        plain.load_state_dict(amsgrad.state_dict())


@pytest.mark.parametrize(
    "optimizer, names",
    [
        (SGD(), ()),
        (SGD(momentum=0.9), ("momentum",)),
        (RMSprop(), ("velocity",)),
        (RMSprop(momentum=0.5, centered=True), ("velocity", "momentum", "average_gradient")),
        (Adam(), ("momentum", "velocity")),
        (AdamW(amsgrad=True), ("momentum", "velocity", "velocity_hat")),
        (Adagrad(), ("accumulator",)),
        (Nadam(), ("momentum", "velocity")),
    ],
    ids=repr,
)
def test_slot_names(optimizer, names):
    assert optimizer.slot_names == names


def test_set_slots_from_numpy_and_shape_errors():
    weights = make_problem()[0]
    optimizer = Adagrad(initial_accumulator_value=0.3)
    optimizer.build(as_params(weights))
    assert optimizer.slots()["accumulator"][0].eq(0.3).all()
    values = [np.full(w.shape, 2.0, np.float32) for w in weights]
    optimizer.set_slots({"accumulator": values})
    for tensor, value in zip(optimizer.slots()["accumulator"], values):
        np.testing.assert_array_equal(tensor.numpy(), value)
    with pytest.raises(ValueError, match="shape"):
        optimizer.set_slots({"accumulator": [np.zeros(7)] + values[1:]})
    with pytest.raises(ValueError, match="no slot 'momentum'"):
        optimizer.set_slots({"momentum": values})
    with pytest.raises(ValueError, match="one per parameter"):
        optimizer.set_slots({"accumulator": values[:1]})


def test_iterations_is_settable_and_validated():
    optimizer = Adam()
    optimizer.iterations = 10
    assert optimizer.iterations == 10
    with pytest.raises(ValueError, match="iterations"):
        optimizer.iterations = -1


# ------------------------------------------------------------------------------------ config
CONFIG_CASES = [
    SGD(learning_rate=0.1, momentum=0.9, nesterov=True, clipnorm=1.0, name="my_sgd"),
    RMSprop(rho=0.8, momentum=0.1, epsilon=1e-5, centered=True, global_clipnorm=2.0),
    Adam(beta_1=0.8, beta_2=0.99, epsilon=1e-4, amsgrad=True, weight_decay=0.01, clipvalue=3.0),
    AdamW(weight_decay=0.1),
    Adagrad(initial_accumulator_value=0.2, epsilon=1e-6),
    Nadam(learning_rate=0.002, beta_1=0.85, decay=0.01),
]


@pytest.mark.parametrize("optimizer", CONFIG_CASES, ids=lambda o: type(o).__name__)
def test_get_config_from_config_round_trip(optimizer):
    config = optimizer.get_config()
    rebuilt = type(optimizer).from_config(copy.deepcopy(config))
    assert type(rebuilt) is type(optimizer)
    assert rebuilt.get_config() == config
    assert optimizers.deserialize(optimizers.serialize(optimizer)).get_config() == config


def test_config_has_keras_base_keys():
    config = Adam().get_config()
    for key in ("name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue",
                "use_ema", "beta_1", "beta_2", "epsilon", "amsgrad"):
        assert key in config
    assert config["name"] == "adam" and config["use_ema"] is False and config["epsilon"] == 1e-7
    assert RMSprop().name == "rm_sprop" and AdamW().name == "adam_w"
    assert "decay" not in config


def test_schedule_config_needs_custom_objects():
    class Halving:
        def __init__(self, start):
            self.start = start

        def __call__(self, step):
            return self.start / 2 ** step

        def get_config(self):
            return {"start": self.start}

    config = SGD(learning_rate=Halving(0.4)).get_config()
    assert config["learning_rate"]["class_name"] == "Halving"
    with pytest.raises(ValueError, match="custom_objects"):
        SGD.from_config(config)
    rebuilt = SGD.from_config(config, custom_objects={"Halving": Halving})
    assert rebuilt.learning_rate == pytest.approx(0.4)


def test_tf_keras_2_config_loads():
    legacy = {
        "class_name": "Custom>Adam",
        "config": {"name": "Adam", "learning_rate": 0.002, "decay": 0.0, "beta_1": 0.9, "beta_2": 0.999,
                   "epsilon": 1e-07, "amsgrad": False, "jit_compile": True, "is_legacy_optimizer": False},
    }
    optimizer = optimizers.get(legacy)
    assert isinstance(optimizer, Adam) and optimizer.learning_rate == 0.002 and optimizer.name == "Adam"


# ------------------------------------------------------------------------------- get / errors
@pytest.mark.parametrize(
    "name, expected",
    [("adam", Adam), ("Adam", Adam), ("ADAM", Adam), ("sgd", SGD), ("SGD", SGD), ("rmsprop", RMSprop),
     ("RMSprop", RMSprop), ("adamw", AdamW), ("AdamW", AdamW), ("adagrad", Adagrad), ("nadam", Nadam)],
)
def test_get_by_name(name, expected):
    optimizer = optimizers.get(name)
    assert type(optimizer) is expected
    assert optimizer.learning_rate == DEFAULT_LR[expected]


def test_get_class_instance_and_config():
    assert type(optimizers.get(Nadam)) is Nadam
    instance = SGD(momentum=0.5)
    assert optimizers.get(instance) is instance
    from_dict = optimizers.get({"class_name": "RMSprop", "config": {"learning_rate": 0.05, "centered": True}})
    assert isinstance(from_dict, RMSprop) and from_dict.learning_rate == 0.05 and from_dict.centered


def test_get_unknown_name_suggests_closest():
    with pytest.raises(ValueError) as error:
        optimizers.get("adamm")
    assert str(error.value) == (
        "Unknown optimizer 'adamm'. Did you mean 'adam'? "
        "Known optimizers: adagrad, adam, adamw, nadam, rmsprop, sgd."
    )


@pytest.mark.parametrize("identifier", [3, None, 0.1, ["adam"]])
def test_get_wrong_type(identifier):
    with pytest.raises(TypeError, match="Could not interpret the optimizer"):
        optimizers.get(identifier)


def test_get_rejects_torch_optimizer():
    torch_optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    with pytest.raises(TypeError, match="epochal optimizer"):
        optimizers.get(torch_optimizer)


def test_unknown_keyword_names_the_intended_one():
    with pytest.raises(TypeError, match="'learnig_rate'. Did you mean 'learning_rate'"):
        Adam(learnig_rate=0.1)
    with pytest.raises(TypeError, match="Did you mean 'beta_1'"):
        Nadam(beta1=0.9)
    with pytest.raises(TypeError, match="Did you mean 'momentum'"):
        SGD(momentun=0.9)


@pytest.mark.parametrize(
    "factory, argument",
    [
        (lambda: SGD(learning_rate=-0.1), "learning_rate"),
        (lambda: SGD(momentum=1.5), "momentum"),
        (lambda: SGD(momentum=-0.1), "momentum"),
        (lambda: RMSprop(rho=2.0), "rho"),
        (lambda: Adam(beta_1=1.0), "beta_1"),
        (lambda: Adam(epsilon=-1.0), "epsilon"),
        (lambda: Adam(clipnorm=0.0), "clipnorm"),
        (lambda: Adam(clipvalue=-1.0), "clipvalue"),
        (lambda: Adam(global_clipnorm=0), "global_clipnorm"),
        (lambda: Adam(clipnorm=1.0, clipvalue=1.0), "clipnorm"),
        (lambda: Adagrad(initial_accumulator_value=-1.0), "initial_accumulator_value"),
        (lambda: AdamW(weight_decay=None), "weight_decay"),
        (lambda: Adam(weight_decay=-0.1), "weight_decay"),
        (lambda: Adam(decay=-0.1), "decay"),
        (lambda: Adam(use_ema=True), "use_ema"),
        (lambda: Adam(gradient_accumulation_steps=4), "gradient_accumulation_steps"),
        (lambda: Adam(learning_rate=float("nan")), "learning_rate"),
    ],
)
def test_invalid_values_raise_value_error(factory, argument):
    with pytest.raises(ValueError, match=argument):
        factory()


def test_invalid_types_raise_type_error():
    with pytest.raises(TypeError, match="learning_rate"):
        Adam(learning_rate="0.1")
    with pytest.raises(TypeError, match="nesterov"):
        SGD(nesterov="yes")
    with pytest.raises(ValueError, match="learning_rate"):
        Adam().learning_rate = -1.0


def test_loss_scale_factor_scales_loss():
    optimizer = Adam(loss_scale_factor=8.0)
    assert optimizer.scale_loss(torch.tensor(2.0)).item() == 16.0
    assert math.isclose(Adam().scale_loss(torch.tensor(2.0)).item(), 2.0)
