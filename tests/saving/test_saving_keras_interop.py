"""Files move both ways between epochal and real Keras 3 (on its torch backend), training state included."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

os.environ["KERAS_BACKEND"] = "torch"  # before Keras is imported anywhere
import keras as keras3  # noqa: E402

import epochal  # noqa: E402


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    return rng.random((96, 6, 5)).astype("float32"), rng.integers(0, 4, 96)


def _epochal_model(optimizer="adam") -> epochal.Sequential:
    model = epochal.Sequential([epochal.layers.Flatten(input_shape=(6, 5)), epochal.layers.Dense(12, activation="relu"),
                                epochal.layers.Dense(4, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _keras_model(optimizer="adam"):
    model = keras3.Sequential([keras3.Input((6, 5)), keras3.layers.Flatten(),
                               keras3.layers.Dense(12, activation="relu"),
                               keras3.layers.Dense(4, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _keras_load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras's own notices (legacy HDF5, unbuilt metrics)
        return keras3.models.load_model(path)


def _assert_same(first, second, x) -> None:
    np.testing.assert_allclose(np.asarray(first.predict(x, verbose=0)), np.asarray(second.predict(x, verbose=0)),
                               atol=1e-5)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_epochal_model_files_load_in_keras(suffix, data, tmp_path):
    x, y = data
    model = _epochal_model()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    model.save(tmp_path / f"model{suffix}")
    loaded = _keras_load(tmp_path / f"model{suffix}")
    _assert_same(model, loaded, x)
    assert type(loaded.optimizer).__name__ == "Adam" and int(loaded.optimizer.iterations.numpy()) == 3
    if suffix == ".keras":  # Keras restores the slots of .keras files (its .h5 reader keeps only the step count)
        momentum = loaded.optimizer.variables[2].numpy()
        np.testing.assert_allclose(momentum, model.optimizer.slots()["momentum"][0].numpy(), atol=1e-7)


@pytest.mark.parametrize("name", ["model.weights.h5", "model-weight.h5"])
def test_epochal_weight_files_load_in_keras(name, data, tmp_path):
    x, y = data
    model = _epochal_model()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    model.save_weights(tmp_path / name)
    target = _keras_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras skips optimizer variables until its optimizer is built
        target.load_weights(tmp_path / name)
    _assert_same(model, target, x)


@pytest.mark.parametrize("suffix", [".keras", ".h5", ".weights.h5"])
def test_keras_files_load_in_epochal(suffix, data, tmp_path):
    x, y = data
    model = _keras_model("rmsprop")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    if suffix == ".weights.h5":
        model.save_weights(tmp_path / "k.weights.h5")
        loaded = _epochal_model("rmsprop")
        loaded.load_weights(tmp_path / "k.weights.h5")
    else:
        model.save(tmp_path / f"k{suffix}")
        loaded = epochal.models.load_model(tmp_path / f"k{suffix}")
    _assert_same(model, loaded, x)
    assert type(loaded.optimizer).__name__ == "RMSprop" and loaded.optimizer.iterations == 3


def test_training_continues_the_same_in_keras_and_in_epochal(data, tmp_path):
    """Keras trains and saves; Keras and epochal each load the file and train on: they stay together."""
    x, y = data
    model = _keras_model("adam")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    model.save(tmp_path / "checkpoint.keras")
    in_keras = _keras_load(tmp_path / "checkpoint.keras")
    in_epochal = epochal.models.load_model(tmp_path / "checkpoint.keras")
    in_keras.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False)
    in_epochal.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False)
    assert in_epochal.optimizer.iterations == int(in_keras.optimizer.iterations.numpy()) == 9
    _assert_same(in_keras, in_epochal, x)
    for ours, theirs in zip(in_epochal.get_weights(), in_keras.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_keras_continues_training_an_epochal_file(data, tmp_path):
    x, y = data
    model = _epochal_model("adam")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    model.save(tmp_path / "epochal.keras")
    in_keras = _keras_load(tmp_path / "epochal.keras")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    in_keras.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    for ours, theirs in zip(model.get_weights(), in_keras.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_functional_model_files_move_both_ways(data, tmp_path):
    x, _ = data
    flat = x.reshape(len(x), -1)
    inputs = epochal.Input(shape=(30,), name="pixels")
    hidden = epochal.layers.Dense(8, activation="tanh", name="hidden")(inputs)
    model = epochal.Model(inputs, epochal.layers.Dense(3, name="out")(hidden))
    model.save(tmp_path / "f.keras")
    in_keras = _keras_load(tmp_path / "f.keras")
    _assert_same(model, in_keras, flat)
    in_keras.save(tmp_path / "back.keras")
    _assert_same(in_keras, epochal.models.load_model(tmp_path / "back.keras"), flat)
