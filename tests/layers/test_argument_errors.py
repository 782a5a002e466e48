"""User errors in layer, input, loss and metric arguments name the argument, what was received and the fix."""
from __future__ import annotations

import numpy as np
import pytest

import epochal as keras


@pytest.mark.parametrize("make, typo, meant", [
    (lambda: keras.layers.Dropout(rat=0.3), "rat", "rate"),
    (lambda: keras.layers.Reshape(target_shap=(4, 7)), "target_shap", "target_shape"),
    (lambda: keras.layers.Dense(unit=10), "unit", "units"),
    (lambda: keras.Input(shap=(28, 28)), "shap", "shape"),
    (lambda: keras.layers.InputLayer(shap=(28, 28)), "shap", "shape"),
    (lambda: keras.layers.Dense(10, activaton="relu"), "activaton", "activation"),
    (lambda: keras.losses.SparseCategoricalCrossentropy(from_logit=True), "from_logit", "from_logits"),
    (lambda: keras.metrics.AUC(num_threshold=10), "num_threshold", "num_thresholds"),
    (lambda: keras.metrics.Precision(thresold=0.3), "thresold", "thresholds"),
    (lambda: keras.metrics.SparseCategoricalAccuracy(nam="acc"), "nam", "name"),
    (lambda: keras.constraints.MaxNorm(max_valu=3), "max_valu", "max_value"),
])
def test_a_misspelt_keyword_is_named_with_the_one_meant(make, typo, meant):
    # Python alone would say "missing 1 required positional argument: 'rate'" or name only __init__.
    with pytest.raises(TypeError, match=f"unexpected keyword argument '{typo}'. Did you mean '{meant}'\\?"):
        make()


def test_the_message_names_the_class_not_init():
    with pytest.raises(TypeError, match=r"^AUC\(\) got"):
        keras.metrics.AUC(num_threshold=10)
    with pytest.raises(TypeError, match=r"^Dropout\(\) got"):
        keras.layers.Dropout(rat=0.3)


def test_a_missing_argument_without_a_typo_keeps_pythons_message():
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'units'"):
        keras.layers.Dense()


def test_correct_keywords_still_work_everywhere():
    assert keras.layers.Dropout(rate=0.3).rate == 0.3
    assert keras.layers.Dense(units=np.int64(10)).units == 10  # NumPy integers are integers
    assert keras.metrics.AUC(num_thresholds=10).get_config()["num_thresholds"] == 10
    assert keras.Input(shape=(28, 28)).shape == (None, 28, 28)


@pytest.mark.parametrize("units", [0, -3, 10.5, "10", True])
def test_dense_units_must_be_a_positive_integer(units):
    with pytest.raises(ValueError, match=f"units must be a positive integer.*Received: units={units!r}"):
        keras.layers.Dense(units)


def test_an_int_input_shape_is_refused_with_the_tuple_to_write():
    with pytest.raises(TypeError, match=r"input_shape must be a tuple .* e\.g\. input_shape=\(28,\)"):
        keras.layers.Flatten(input_shape=28)


@pytest.mark.parametrize("make, received", [
    (lambda: keras.Sequential([keras.layers.Flatten(input_shape=(0, 28))]), r"input_shape=\(0, 28\)"),
    (lambda: keras.layers.Dense(3, input_shape=(28, -2)), r"input_shape=\(28, -2\)"),
    (lambda: keras.layers.Dense(3, batch_input_shape=(None, 0)), r"batch_input_shape=\(None, 0\)"),
    (lambda: keras.layers.Dense(3, input_dim=0), "input_dim=0"),
    (lambda: keras.Input(shape=(0,)), r"shape=\(0,\)"),
    (lambda: keras.Input(shape=(28, -1)), r"shape=\(28, -1\)"),
    (lambda: keras.Input(batch_shape=(None, 0)), r"batch_shape=\(None, 0\)"),
    (lambda: keras.layers.Reshape((-1, -1)), r"target_shape=\(-1, -1\)"),
])
def test_shapes_with_empty_or_negative_axes_are_refused_naming_the_shape(make, received):
    with pytest.raises(ValueError, match=f"must hold positive integers.*Received: {received}"):
        make()


@pytest.mark.parametrize("make", [
    lambda: keras.Input(shape=(28.5,)),
    lambda: keras.layers.Flatten(input_shape="28"),
    lambda: keras.layers.Flatten(input_shape=(28, "a")),
])
def test_shapes_of_non_integers_are_type_errors(make):
    with pytest.raises(TypeError, match="must be a tuple of integers"):
        make()


def test_valid_shapes_keep_working():
    assert keras.layers.Flatten(input_shape=[28, 28]).input_shape_arg == (28, 28)
    assert keras.layers.Dense(3, input_dim=np.int64(4)).input_shape_arg == (4,)
    assert keras.Input(shape=(None, 3)).shape == (None, None, 3)
    assert keras.layers.Reshape((-1, 7)).target_shape == (-1, 7)
