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


OPTIMIZERS = {
    "adam": lambda: keras3.optimizers.Adam(),
    "sgd_nesterov": lambda: keras3.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "rmsprop_centered": lambda: keras3.optimizers.RMSprop(momentum=0.5, centered=True),
    "adagrad": lambda: keras3.optimizers.Adagrad(0.05),
    "nadam": lambda: keras3.optimizers.Nadam(),
    "adamw_amsgrad": lambda: keras3.optimizers.AdamW(amsgrad=True),
}


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_training_continues_the_same_in_keras_and_in_epochal(optimizer, suffix, data, tmp_path):
    """Keras trains and saves; Keras and epochal each load the file and train on: they stay together."""
    x, y = data
    model = _keras_model(OPTIMIZERS[optimizer]())
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    # Keras continues from .keras: its .h5 reader builds the optimizer for no variables, so Keras 3.15 cannot fit()
    # after loading any .h5 that holds optimizer weights, its own included. (Save .keras first: after
    # writing .h5, Keras 3.15 leaves the optimizer out of later .keras files' compile_config.)
    model.save(tmp_path / "checkpoint.keras")
    model.save(tmp_path / f"checkpoint{suffix}")
    in_keras = _keras_load(tmp_path / "checkpoint.keras")
    in_epochal = epochal.models.load_model(tmp_path / f"checkpoint{suffix}")
    assert type(in_epochal.optimizer).__name__ == type(in_keras.optimizer).__name__
    in_keras.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False)
    in_epochal.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False)
    assert in_epochal.optimizer.iterations == int(in_keras.optimizer.iterations.numpy()) == 9
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


def test_branching_functional_model_keeps_keras_layer_order(tmp_path):
    """Keras orders a graph's layers by depth; weights files address layers by that order."""
    import torch

    inputs = epochal.Input(shape=(4,))
    short_branch = epochal.layers.Dense(4, name="short")(inputs)
    long_branch = epochal.layers.Dense(3, name="last")(epochal.layers.Dense(2, name="deep")(
        epochal.layers.Dense(4, name="first")(inputs)))
    model = epochal.Model(inputs, [long_branch, short_branch])
    model.save(tmp_path / "branches.keras")
    in_keras = _keras_load(tmp_path / "branches.keras")
    x = np.random.default_rng(4).random((5, 4)).astype("float32")
    ours = [tensor.detach().numpy() for tensor in model(torch.from_numpy(x))]
    for mine, theirs in zip(ours, in_keras.predict(x, verbose=0)):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)
    in_keras.save_weights(tmp_path / "branches.weights.h5")
    for weight in model.weights:
        weight.data.zero_()
    model.load_weights(tmp_path / "branches.weights.h5")
    for mine, theirs in zip([t.detach().numpy() for t in model(torch.from_numpy(x))], ours):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)


@pytest.mark.parametrize("fixture", ["k3_seed_dropout_adam.keras", "tk2_seed_rmsprop.h5"])
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_keras_file_resaved_by_epochal_still_loads_in_keras(fixture, suffix, tmp_path):
    """Keras -> epochal -> Keras: nothing Keras needs is lost on the way; the predictions stay Keras's own."""
    from conftest import FIXTURES

    epochal.models.load_model(FIXTURES / fixture).save(tmp_path / f"again{suffix}")
    in_keras = _keras_load(tmp_path / f"again{suffix}")
    expected = np.load(FIXTURES / f"{fixture.split('.')[0]}_pred.npy")
    np.testing.assert_allclose(in_keras.predict(np.load(FIXTURES / "probe.npy"), verbose=0), expected, atol=1e-5)
    assert [layer.name for layer in in_keras.layers] == [layer.name for layer in _keras_load(FIXTURES / fixture).layers]
    assert type(in_keras.optimizer).__name__ == ("Adam" if "adam" in fixture else "RMSprop")
