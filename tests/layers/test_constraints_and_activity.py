"""Weight constraints and activity regularizers: the formulas (real Keras as the oracle), their
registration on layers, their configs through save/load, and their effect on training."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import epochal as keras
from epochal import constraints

# ------------------------------------------------------------------------------------ the formulas
@pytest.mark.parametrize("make", [
    lambda c: c.MaxNorm(),
    lambda c: c.MaxNorm(max_value=0.7, axis=1),
    lambda c: c.MaxNorm(1.0, axis=[0, 1]),
    lambda c: c.NonNeg(),
    lambda c: c.UnitNorm(),
    lambda c: c.UnitNorm(axis=1),
    lambda c: c.MinMaxNorm(),
    lambda c: c.MinMaxNorm(min_value=0.5, max_value=1.5, rate=0.3, axis=0),
    lambda c: c.MinMaxNorm(min_value=2.0, max_value=3.0, rate=1.0, axis=1),
])
def test_constraints_match_real_keras(make):
    real_keras = pytest.importorskip("keras")
    weight = np.random.default_rng(0).normal(size=(5, 4, 3)).astype("float32") * 2
    weight[:, 0, 0] = 0.0  # an all-zero slice must stay finite
    expected = real_keras.ops.convert_to_numpy(make(real_keras.constraints)(real_keras.ops.convert_to_tensor(weight)))
    ours = make(constraints)(torch.from_numpy(weight)).numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-7)
    assert make(constraints).get_config() == make(real_keras.constraints).get_config()


def test_max_norm_bounds_each_unit_and_leaves_small_ones_alone():
    kernel = torch.tensor([[3.0, 0.1], [4.0, 0.2]])  # column norms 5 and ~0.22
    bounded = constraints.MaxNorm(1.0)(kernel)
    torch.testing.assert_close(bounded.norm(dim=0), torch.tensor([1.0, kernel[:, 1].norm()]))
    torch.testing.assert_close(bounded[:, 1], kernel[:, 1])


@pytest.mark.parametrize("name, cls", [
    ("max_norm", constraints.MaxNorm), ("MaxNorm", constraints.MaxNorm), ("non_neg", constraints.NonNeg),
    ("NonNeg", constraints.NonNeg), ("unit_norm", constraints.UnitNorm), ("UnitNorm", constraints.UnitNorm),
    ("min_max_norm", constraints.MinMaxNorm), ("MinMaxNorm", constraints.MinMaxNorm),
])
def test_get_resolves_keras_names(name, cls):
    assert type(constraints.get(name)) is cls


def test_get_and_serialize_round_trip_and_pass_through():
    original = constraints.MinMaxNorm(0.5, 2.0, rate=0.5, axis=[0, 1])
    entry = constraints.serialize(original)
    assert entry == {"module": "keras.constraints", "class_name": "MinMaxNorm", "registered_name": None,
                     "config": {"min_value": 0.5, "max_value": 2.0, "rate": 0.5, "axis": [0, 1]}}
    assert constraints.get(entry).get_config() == original.get_config()
    tf_keras_2_entry = {"class_name": "MaxNorm", "config": {"max_value": 2, "axis": 0}}
    assert constraints.get(tf_keras_2_entry).max_value == 2
    assert constraints.get(None) is None and constraints.get(original) is original
    clip = lambda w: w.clamp(-1, 1)  # noqa: E731 - any function weight -> weight is a constraint
    assert constraints.get(clip) is clip


@pytest.mark.parametrize("make, error, message", [
    (lambda: constraints.get("max_nrom"), ValueError, "Did you mean 'max_norm'"),
    (lambda: constraints.get(3), TypeError, "Could not interpret constraint"),
    (lambda: constraints.MaxNorm(max_valu=3), TypeError, "Did you mean 'max_value'"),
    (lambda: constraints.get({"class_name": "MaxNorm", "config": {"max_vlaue": 3}}), TypeError, "'max_value'"),
    (lambda: constraints.MaxNorm(-1), ValueError, "max_value must be a number >= 0"),
    (lambda: constraints.MinMaxNorm(2.0, 1.0), ValueError, "min_value must not exceed max_value"),
    (lambda: constraints.MinMaxNorm(rate=1.5), ValueError, r"rate must be a number in \[0, 1\]"),
    (lambda: constraints.UnitNorm(axis="0"), TypeError, "axis must be an integer"),
])
def test_bad_constraint_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_constraints_are_exported_like_keras():
    assert keras.constraints.max_norm is keras.constraints.MaxNorm
    assert issubclass(keras.constraints.NonNeg, keras.constraints.Constraint)


# ------------------------------------------------------------------------------------ on a Dense layer
def test_dense_registers_its_constraints_and_apply_constraints_projects_them():
    dense = keras.layers.Dense(2, kernel_constraint="max_norm", bias_constraint=keras.constraints.NonNeg())
    dense.build((None, 3))
    with torch.no_grad():
        dense.kernel.copy_(torch.full((3, 2), 10.0))
        dense.bias.copy_(torch.tensor([-1.0, 1.0]))
    assert dense.has_constraints()
    dense.apply_constraints()
    torch.testing.assert_close(dense.kernel.norm(dim=0), torch.full((2,), 2.0))
    assert dense.bias.tolist() == [0.0, 1.0]


def test_apply_constraints_reaches_nested_layers_and_skips_frozen_ones():
    inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_constraint="non_neg")])
    frozen = keras.layers.Dense(2, kernel_constraint="non_neg", trainable=False)
    model = keras.Sequential([keras.Input((3,)), inner, keras.layers.Dense(3), frozen])
    with torch.no_grad():
        for layer in (inner.layers[0], frozen):
            layer.kernel.fill_(-1.0)
    assert model.has_constraints()
    model.apply_constraints()
    assert (inner.layers[0].kernel == 0).all()
    assert (frozen.kernel == -1).all()  # Keras constrains only the variables the optimizer updates


def test_layers_without_constraints_report_none():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_regularizer="l2")])
    assert not model.has_constraints()
    assert model.has_regularizers()
    assert not keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).has_regularizers()


def test_dense_refuses_lora_instead_of_ignoring_it():
    with pytest.raises(ValueError, match="LoRA is not supported yet in epochal.*lora_rank=4"):
        keras.layers.Dense(8, lora_rank=4)
    assert "lora_rank" not in keras.layers.Dense(8).get_config()  # Keras writes it only when set


def test_dense_config_has_the_serialized_constraints_and_activity_regularizer():
    dense = keras.layers.Dense(4, kernel_constraint=keras.constraints.MaxNorm(3), bias_constraint="non_neg",
                               activity_regularizer=keras.regularizers.L2(0.1))
    config = dense.get_config()
    assert config["kernel_constraint"] == {"module": "keras.constraints", "class_name": "MaxNorm",
                                           "config": {"max_value": 3, "axis": 0}, "registered_name": None}
    assert config["bias_constraint"]["class_name"] == "NonNeg"
    assert config["activity_regularizer"]["config"] == {"l2": 0.1}
    copy = keras.layers.Dense.from_config(config)
    assert copy.kernel_constraint.get_config() == {"max_value": 3, "axis": 0}
    assert isinstance(copy.bias_constraint, keras.constraints.NonNeg)
    assert copy.activity_regularizer.get_config() == {"l2": 0.1}
    plain = keras.layers.Dense(4).get_config()
    assert plain["kernel_constraint"] is None and "activity_regularizer" not in plain  # as Keras 3


def test_dense_config_matches_real_keras():
    real_keras = pytest.importorskip("keras")
    arguments = dict(units=4, kernel_constraint="max_norm", bias_constraint="non_neg")
    ours = keras.layers.Dense(**arguments, activity_regularizer=keras.regularizers.L2(0.1)).get_config()
    theirs = real_keras.layers.Dense(**arguments, activity_regularizer=real_keras.regularizers.L2(0.1)).get_config()
    for key in ("kernel_constraint", "bias_constraint"):
        assert ours[key] == theirs[key]
    assert ours["activity_regularizer"]["class_name"] == theirs["activity_regularizer"]["class_name"]


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_save_and_load_keep_constraints_and_activity_regularizer(tmp_path, suffix):
    model = keras.Sequential([keras.Input((3,)),
                              keras.layers.Dense(4, kernel_constraint=keras.constraints.MaxNorm(1.5),
                                                 bias_constraint="non_neg",
                                                 activity_regularizer=keras.regularizers.L1(0.01)),
                              keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / f"model{suffix}")
    dense = keras.models.load_model(tmp_path / f"model{suffix}").layers[0]
    assert dense.kernel_constraint.get_config() == {"max_value": 1.5, "axis": 0}
    assert isinstance(dense.bias_constraint, keras.constraints.NonNeg)
    assert dense.activity_regularizer.get_config() == {"l1": 0.01}
    with torch.no_grad():
        dense.kernel.fill_(5.0)
    dense.apply_constraints()  # registered on the loaded layer, not merely kept in its config
    torch.testing.assert_close(dense.kernel.norm(dim=0), torch.full((4,), 1.5))


def test_real_keras_reads_and_writes_the_constraint_fields(tmp_path):
    real_keras = pytest.importorskip("keras")
    ours = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_constraint=keras.constraints.UnitNorm(1))])
    ours.save(tmp_path / "ours.keras")
    theirs = real_keras.models.load_model(tmp_path / "ours.keras")
    assert theirs.layers[0].kernel_constraint.get_config() == {"axis": 1}
    theirs = real_keras.Sequential([real_keras.Input((3,)),
                                    real_keras.layers.Dense(2, kernel_constraint=real_keras.constraints.MaxNorm(0.5))])
    theirs.save(tmp_path / "theirs.keras")
    assert keras.models.load_model(tmp_path / "theirs.keras").layers[0].kernel_constraint.max_value == 0.5


# ------------------------------------------------------------------------------------ activity penalties
def _activity_model(factor: float = 0.1, **dense_arguments):
    return keras.Sequential([keras.Input((3,)),
                             keras.layers.Dense(2, kernel_initializer="ones",
                                                activity_regularizer=keras.regularizers.L2(factor), **dense_arguments)])


def test_activity_penalty_is_keras_3s_regularizer_of_the_output_over_the_batch_size():
    model = _activity_model(0.1, activation="relu")
    x = torch.arange(12, dtype=torch.float32).reshape(4, 3) / 10
    outputs = model(x, training=True)
    penalties = model.regularization_losses()
    assert len(penalties) == 1
    torch.testing.assert_close(penalties[0], 0.1 * outputs.square().sum() / 4)
    assert penalties[0].requires_grad  # it trains the layer, through its output


def test_activity_penalty_belongs_to_the_latest_forward_pass():
    model = _activity_model()
    model(torch.ones(4, 3))
    model(torch.zeros(4, 3))
    assert [float(p) for p in model.regularization_losses()] == [0.0]  # replaced, not accumulated


def test_a_layer_called_twice_in_one_pass_is_penalised_twice():
    shared = keras.layers.Dense(3, kernel_initializer="ones", activity_regularizer=keras.regularizers.L1(1.0))
    inputs = keras.Input((3,))
    model = keras.Model(inputs, shared(shared(inputs)))
    model(torch.ones(2, 3))
    # First call: every output is 3, so sum |.| = 18 over a batch of 2; second call: outputs of 9.
    assert [float(p) for p in model.regularization_losses()] == [9.0, 27.0]


def test_sequential_logits_path_records_the_penalties_of_hidden_layers():
    model = keras.Sequential([keras.Input((3,)),
                              keras.layers.Dense(4, activation="relu", activity_regularizer="l2"),
                              keras.layers.Dense(2, activation="softmax")])
    x = torch.randn(5, 3)
    hidden = model.layers[0](x)
    model.call_logits(x, training=True)
    penalties = model.regularization_losses()
    assert len(penalties) == 1
    torch.testing.assert_close(penalties[0], 0.01 * hidden.square().sum() / 5)


def test_an_activity_regularized_output_layer_is_not_fused_into_the_loss():
    # Keras penalises the softmax output itself; the logits shortcut would skip it.
    model = keras.Sequential([keras.Input((3,)),
                              keras.layers.Dense(2, activation="softmax", activity_regularizer="l2")])
    assert model.output_activation_name() is None


def test_activity_regularizer_works_on_any_layer_and_is_in_its_config():
    layer = keras.layers.Activation("relu", activity_regularizer="l1")
    layer(torch.tensor([[-1.0, 2.0]]))
    assert [float(p) for p in layer.regularization_losses()] == [pytest.approx(0.02)]
    assert layer.get_config()["activity_regularizer"]["class_name"] == "L1"


# ------------------------------------------------------------------------------------ in training
def test_constraint_functions_bound_weights_after_a_hand_written_torch_step():
    model = keras.Sequential([keras.Input((8,)),
                              keras.layers.Dense(16, kernel_constraint=keras.constraints.MaxNorm(0.5))])
    optimizer = torch.optim.SGD(model.parameters(), lr=10.0)
    model(torch.randn(32, 8) * 10).square().mean().backward()
    optimizer.step()
    assert model.layers[0].kernel.norm(dim=0).max() > 0.5
    model.apply_constraints()
    assert model.layers[0].kernel.norm(dim=0).max() <= 0.5 + 1e-5


def _separable_data():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(256, 8)) * 10).astype("float32"), rng.integers(0, 3, 256)


def _max_kernel_norm_after_fit(constraint):
    model = keras.Sequential([keras.Input((8,)),
                              keras.layers.Dense(16, activation="relu", kernel_constraint=constraint),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="sparse_categorical_crossentropy")
    model.fit(*_separable_data(), epochs=2, batch_size=32, verbose=0)
    return float(np.linalg.norm(model.layers[0].get_weights()[0], axis=0).max())


def test_max_norm_bounds_the_kernel_columns_after_fit_with_a_big_learning_rate():
    assert _max_kernel_norm_after_fit(None) > 1.0  # without it the big steps do leave the ball
    assert _max_kernel_norm_after_fit(keras.constraints.MaxNorm(0.5)) <= 0.5 + 1e-5


def test_activity_penalty_adds_exactly_its_value_to_the_one_step_loss():
    x = np.arange(12, dtype="float32").reshape(4, 3) / 10
    y = np.zeros((4, 2), dtype="float32")
    outputs = x @ np.ones((3, 2), dtype="float32")
    expected_penalty = 0.1 * float(np.square(outputs).sum()) / 4  # 0.747; real Keras 3.15 reports 4.482 in all
    losses = {}
    for factor in (0.0, 0.1):
        model = _activity_model(factor)
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
        losses[factor] = (model.train_on_batch(x, y), model.evaluate(x, y, batch_size=4, verbose=0))
    assert losses[0.0][0] == pytest.approx(float(np.square(outputs).mean()))
    assert losses[0.1][0] - losses[0.0][0] == pytest.approx(expected_penalty, rel=1e-5)
    assert losses[0.1][1] - losses[0.0][1] == pytest.approx(expected_penalty, rel=1e-5)  # Keras counts it in evaluate
