"""Every mistake a learner makes gets a ValueError/TypeError before the first step, saying what and why."""
from __future__ import annotations

import numpy as np
import pytest

import epochal as keras
from conftest import seed_model


@pytest.fixture
def model():
    return seed_model()


@pytest.fixture
def data(tiny_images):
    return tiny_images


def test_the_seeds_own_typo_names_validation_data(model, data):
    x, y = data
    with pytest.raises(TypeError, match="validataion_data.*Did you mean 'validation_data'"):
        model.fit(x, y, epochs=1, verbose=0, validataion_data=(x, y))


@pytest.mark.parametrize("method, kwargs, message", [
    ("compile", {"optimiser": "adam"}, "Did you mean 'optimizer'"),
    ("evaluate", {"batchsize": 4}, "Did you mean 'batch_size'"),
    ("predict", {"verbos": 0}, "Did you mean 'verbose'"),
])
def test_misspelt_keywords_name_the_intended_argument(model, data, method, kwargs, message):
    x, y = data
    args = {"compile": (), "evaluate": (x, y), "predict": (x,)}[method]
    with pytest.raises(TypeError, match=message):
        getattr(model, method)(*args, **kwargs)


def test_fit_before_compile(data):
    model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match=r"compile\(\) before fit"):
        model.fit(*data, verbose=0)
    with pytest.raises(RuntimeError):  # Keras raises RuntimeError here; ours is both
        model.evaluate(*data, verbose=0)


def test_length_mismatch_names_both_sizes(model, data):
    x, y = data
    with pytest.raises(ValueError, match=r"same number of samples.*256.*\(255,\)"):
        model.fit(x, y[:-1], verbose=0)


def test_input_shape_mismatch_names_both_shapes(model, data):
    x, y = data
    with pytest.raises(ValueError, match=r"expects inputs of shape \(None, 28, 28\).*\(None, 784\)"):
        model.fit(x.reshape(256, 784), y, verbose=0)


@pytest.mark.parametrize("bad_label, shown", [(10, "10"), (-1, "-1")])
def test_sparse_labels_out_of_range(model, data, bad_label, shown):
    x, y = data
    y = y.astype("int64")
    y[5] = bad_label
    with pytest.raises(ValueError, match=rf"label {shown}, outside the valid range \[0, 9\].*10 output units"):
        model.fit(x, y, verbose=0)


def test_fractional_sparse_labels(model, data):
    x, _ = data
    with pytest.raises(ValueError, match="integer class labels"):
        model.fit(x, np.full(256, 0.5), verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_inputs(model, data, bad):
    x, y = data
    x = x.copy()
    x[3, 4, 5] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.fit(x, y, verbose=0)


def test_empty_data(model):
    with pytest.raises(ValueError, match="empty"):
        model.fit(np.zeros((0, 28, 28)), np.zeros(0), verbose=0)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": -3}, ValueError, "batch_size"),
    ({"batch_size": 2.5}, TypeError, "batch_size"),
    ({"epochs": -1}, ValueError, "epochs"),
    ({"validation_split": 1.0}, ValueError, r"validation_split.*\[0, 1\)"),
    ({"validation_split": -0.1}, ValueError, "validation_split"),
    ({"verbose": 3}, ValueError, "verbose"),
])
def test_bad_fit_arguments(model, data, kwargs, error, message):
    with pytest.raises(error, match=message):
        model.fit(*data, **{"verbose": 0, **kwargs})


@pytest.mark.parametrize("validation_data, message", [
    ((np.zeros((4, 28, 28)),), r"\(x_val, y_val\)"),
    ((np.zeros((4, 28, 28)), np.zeros(4), np.ones(4), 1), "4 items"),
    ((np.zeros((4, 28, 28)), None), "labels"),
    ((np.zeros((4, 28, 28)), np.zeros(3)), "same number of samples"),
    ((np.zeros((4, 784)), np.zeros(4)), "Invalid `validation_data`.*expects inputs of shape"),
])
def test_malformed_validation_data(model, data, validation_data, message):
    with pytest.raises(ValueError, match=message):
        model.fit(*data, verbose=0, validation_data=validation_data)


@pytest.mark.parametrize("argument, value, message", [
    ("optimizer", "adamm", "Unknown optimizer 'adamm'. Did you mean 'adam'"),
    ("loss", "sparse_categorical_crossentropi", "Did you mean 'sparse_categorical_crossentropy'"),
    ("metrics", ["acuracy"], "Did you mean 'accuracy'"),
])
def test_unknown_names_suggest_the_closest(data, argument, value, message):
    model = seed_model()
    with pytest.raises(ValueError, match=message):
        model.compile(**{"optimizer": "adam", "loss": "sparse_categorical_crossentropy", argument: value})
        model.fit(*data, verbose=0)


def test_unknown_activation_lists_known_names():
    with pytest.raises(ValueError, match="Known activations: .*relu"):
        keras.layers.Dense(3, activation="softmaxx")


def test_errors_come_before_any_weight_changes(model, data):
    x, y = data
    before = model.get_weights()
    y = y.astype("int64")
    y[-1] = 12
    with pytest.raises(ValueError):
        model.fit(x, y, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_one_hot_labels_with_sparse_loss_are_explained(data):
    x, _ = data
    model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="one-hot.*sparse_categorical_crossentropy"):
        model.fit(x, np.zeros(256), verbose=0)


def test_unknown_metric_is_refused_by_compile_and_keeps_the_previous_config():
    model = seed_model()
    before = model.compiled
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'. Did you mean 'accuracy'"):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acuracy"])
    assert model.compiled is before


def test_text_labels_are_explained(model, data):
    x, _ = data
    with pytest.raises(TypeError, match=r"`y` must hold numbers.*<U3.*LabelEncoder"):
        model.fit(x, np.array(["cat"] * len(x)), verbose=0)
