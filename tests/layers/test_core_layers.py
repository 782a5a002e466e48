"""Core layers against PyTorch as the numerical oracle, and their Keras behaviour."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import epochal as keras


def test_dense_matches_torch_linear_on_the_same_weights():
    dense = keras.layers.Dense(7, activation="relu")
    x = torch.randn(5, 4)
    dense.build((None, 4))
    linear = torch.nn.Linear(4, 7)
    with torch.no_grad():
        linear.weight.copy_(dense.kernel.T)
        linear.bias.copy_(torch.randn(7))
        dense.bias.copy_(linear.bias)
    torch.testing.assert_close(dense(x), torch.relu(linear(x)), rtol=0, atol=1e-6)


def test_dense_on_3d_input_matches_linear():
    dense = keras.layers.Dense(3)
    x = torch.randn(2, 5, 4)
    out = dense(x)
    expected = x @ dense.kernel + dense.bias
    torch.testing.assert_close(out, expected)


def test_dense_weights_use_keras_layout_and_initialisers():
    dense = keras.layers.Dense(100)
    dense.build((None, 784))
    kernel, bias = dense.get_weights()
    assert kernel.shape == (784, 100) and bias.shape == (100,)
    limit = np.sqrt(6 / (784 + 100))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    assert not bias.any()


def test_dense_without_bias_and_with_regularizer():
    dense = keras.layers.Dense(2, use_bias=False, kernel_regularizer=keras.regularizers.l2(0.5),
                               kernel_initializer="ones")
    dense.build((None, 3))
    assert len(dense.get_weights()) == 1
    assert float(dense.regularization_losses()[0].detach()) == pytest.approx(0.5 * 6)


def test_flatten_dropout_activation_reshape():
    x = torch.ones(4, 28, 28)
    assert tuple(keras.layers.Flatten()(x).shape) == (4, 784)
    dropout = keras.layers.Dropout(0.5)
    assert torch.equal(dropout(x, training=False), x)
    dropped = dropout(x, training=True)
    assert set(torch.unique(dropped).tolist()) <= {0.0, 2.0}
    assert keras.layers.Activation("softmax")(torch.zeros(1, 4)).sum().item() == pytest.approx(1.0)
    assert tuple(keras.layers.Reshape((-1, 7))(torch.ones(2, 28)).shape) == (2, 4, 7)


def test_flatten_takes_input_shape_as_in_the_seed():
    layer = keras.layers.Flatten(input_shape=(28, 28))
    assert layer.input_shape_arg == (28, 28)


def test_layer_names_count_up_like_keras():
    names = [keras.layers.Dense(1).name for _ in range(3)]
    assert names == ["dense", "dense_1", "dense_2"]


@pytest.mark.parametrize("make, message", [
    (lambda: keras.layers.Dense(0), "units"),
    (lambda: keras.layers.Dense(3, activation="rellu"), "Did you mean 'relu'"),
    (lambda: keras.layers.Dropout(1.5), "rate"),
    (lambda: keras.layers.Reshape("x"), "target_shape"),
])
def test_bad_layer_arguments_raise_value_error(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_misspelt_layer_keyword_names_the_right_one():
    with pytest.raises(TypeError, match="Did you mean 'activation'"):
        keras.layers.Dense(3, activaton="relu")


def test_trainable_false_freezes_weights():
    dense = keras.layers.Dense(2)
    dense.build((None, 3))
    dense.trainable = False
    assert all(not p.requires_grad for p in dense.weights)
    assert dense.trainable_weights == [] and len(dense.non_trainable_weights) == 2


def test_set_weights_checks_shapes():
    dense = keras.layers.Dense(2)
    dense.build((None, 3))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 2\)"):
        dense.set_weights([np.zeros((2, 2)), np.zeros(2)])
    with pytest.raises(ValueError, match="expects 2 weight arrays"):
        dense.set_weights([np.zeros((3, 2))])


@pytest.mark.parametrize("name", ["relu", "sigmoid", "softmax", "tanh", "linear", "elu", "selu", "softplus",
                                  "softsign", "swish", "gelu", "exponential", "leaky_relu", "hard_sigmoid"])
def test_activation_names_resolve(name):
    out = keras.activations.get(name)(torch.linspace(-2, 2, 6).reshape(1, 6))
    assert out.shape == (1, 6) and torch.isfinite(out).all()
