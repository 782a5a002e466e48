"""Files written by real Keras 3.15 and tf.keras 2.21 (shared/fixtures/keras) load in epochal."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

import epochal as keras

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "keras"
MODEL_FILES = ["k3_seed_dropout_adam.h5", "k3_seed_dropout_adam.keras", "k3_seed_rmsprop.h5",
               "k3_seed_rmsprop.keras", "tk2_seed_dropout_adam.h5", "tk2_seed_rmsprop.h5"]
WEIGHT_FILES = [("k3_seed_dropout_adam.weights.h5", "k3_seed_dropout_adam"),
                ("k3_seed_rmsprop.weights.h5", "k3_seed_rmsprop"),
                ("tk2_seed_dropout_adam_weights.h5", "tk2_seed_dropout_adam"),
                ("tk2_seed_rmsprop_weights.h5", "tk2_seed_rmsprop")]


def _stem(name: str) -> str:
    return name.split(".")[0].removesuffix("_weights")


def _expected(stem: str) -> np.ndarray:
    return np.load(FIXTURES / f"{stem}_pred.npy")


@pytest.fixture(scope="module")
def probe() -> np.ndarray:
    return np.load(FIXTURES / "probe.npy")


def _seed_architecture(dropout: bool) -> keras.Sequential:
    model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(100, activation="relu")])
    if dropout:
        model.add(keras.layers.Dropout(0.3))
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model


@pytest.mark.parametrize("name", MODEL_FILES)
def test_keras_model_file_reproduces_keras_predictions(name, probe):
    model = keras.models.load_model(FIXTURES / name)
    np.testing.assert_allclose(model.predict(probe, verbose=0), _expected(_stem(name)), atol=1e-5)
    maker = "k3" if name.startswith("k3") else "tk2"
    info = json.loads((FIXTURES / f"{maker}_info.json").read_text())
    assert [layer.name for layer in model.layers] == info[_stem(name).split("_", 1)[1]]["layers"]


@pytest.mark.parametrize("name", MODEL_FILES)
def test_keras_model_file_restores_compile_and_optimizer_state(name):
    model = keras.models.load_model(FIXTURES / name)
    optimizer_class = "Adam" if "adam" in name else "RMSprop"
    assert type(model.optimizer).__name__ == optimizer_class
    assert type(model.loss).__name__ == "SparseCategoricalCrossentropy"
    assert model.compiled.metrics == ["accuracy"]
    assert model.optimizer.iterations == 32  # one epoch of 32 batches was trained before saving
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    velocity = model.optimizer.slots()["velocity"][2].numpy()  # the output layer's kernel
    assert velocity.shape == (100, 10) and velocity.max() > 0
    np.testing.assert_array_equal(velocity, _saved_velocity_of_output_kernel(name))


def _saved_velocity_of_output_kernel(name: str) -> np.ndarray:
    """The file's own record of the output kernel's velocity, found by its Keras name."""
    if name.endswith(".keras"):
        with zipfile.ZipFile(FIXTURES / name) as archive, h5py.File(archive.open("model.weights.h5"), "r") as h5:
            values = [h5[f"optimizer/vars/{i}"][()] for i in range(len(h5["optimizer/vars"]))]
        return [v for v in values if v.shape == (100, 10)][-1]  # Adam: momentum then velocity
    with h5py.File(FIXTURES / name, "r") as h5:
        group = h5["optimizer_weights"]
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        wanted = [n for n in names if "velocity" in n or "/v/" in n]
        kernel = [n for n in wanted if group[n].shape == (100, 10)][0]
        return group[kernel][()]


@pytest.mark.parametrize("name, stem", WEIGHT_FILES)
def test_keras_weight_files_load_into_the_seed_architecture(name, stem, probe):
    model = _seed_architecture(dropout="dropout" in name)
    model.load_weights(FIXTURES / name)
    np.testing.assert_allclose(model.predict(probe, verbose=0), _expected(stem), atol=1e-5)


def test_keras3_weights_file_also_loads_by_name_into_same_named_layers(probe):
    model = keras.models.load_model(FIXTURES / "k3_seed_rmsprop.keras", compile=False)
    for weight in model.weights:
        weight.data.zero_()
    model.load_weights(FIXTURES / "k3_seed_rmsprop.weights.h5", by_name=True)
    np.testing.assert_allclose(model.predict(probe, verbose=0), _expected("k3_seed_rmsprop"), atol=1e-5)


def test_load_weights_from_a_whole_model_h5_file(probe):
    model = _seed_architecture(dropout=True)
    model.load_weights(FIXTURES / "tk2_seed_dropout_adam.h5")
    np.testing.assert_allclose(model.predict(probe, verbose=0), _expected("tk2_seed_dropout_adam"), atol=1e-5)


def test_compile_false_gives_an_uncompiled_model():
    assert keras.models.load_model(FIXTURES / "tk2_seed_rmsprop.h5", compile=False).compiled is None


@pytest.mark.parametrize("name", ["k3_seed_dropout_adam.keras", "tk2_seed_rmsprop.h5"])
def test_loaded_keras_model_continues_training_in_epochal(name, tiny_images):
    x, y = tiny_images
    model = keras.models.load_model(FIXTURES / name)
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    history = model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    assert model.optimizer.iterations == 32 + 2 * 8
    assert set(history.history) == {"loss", "accuracy"}
    assert history.history["loss"][-1] < before["loss"]


@pytest.mark.parametrize("name, suffix", [("k3_seed_dropout_adam.keras", ".keras"), ("tk2_seed_dropout_adam.h5", ".h5"),
                                          ("k3_seed_rmsprop.h5", ".h5")])
def test_keras_file_round_trips_through_epochal_keeping_config_fields(name, suffix, tmp_path, probe):
    model = keras.models.load_model(FIXTURES / name)
    resaved = tmp_path / f"again{suffix}"
    model.save(resaved)
    original, again = _layer_configs(FIXTURES / name), _layer_configs(resaved)
    assert [entry["class_name"] for entry in again] == [entry["class_name"] for entry in original]
    for before, after in zip(original, again):
        for key, value in before["config"].items():
            if key not in ("batch_shape", "batch_input_shape"):
                assert after["config"][key] == value, (before["class_name"], key)
    reloaded = keras.models.load_model(resaved)
    np.testing.assert_allclose(reloaded.predict(probe, verbose=0), _expected(_stem(name)), atol=1e-5)
    assert reloaded.optimizer.iterations == 32


def _layer_configs(path: Path) -> list[dict]:
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))["config"]["layers"]
    with h5py.File(path, "r") as h5:
        config = h5.attrs["model_config"]
    return json.loads(config.decode() if isinstance(config, bytes) else config)["config"]["layers"]
