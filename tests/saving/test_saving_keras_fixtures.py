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


@pytest.mark.parametrize("name", MODEL_FILES)
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
    original, again = _configs(FIXTURES / name), _configs(resaved)
    _assert_fields_kept(original["model"]["config"], again["model"]["config"], ignore=("layers",))
    layers_before, layers_after = original["model"]["config"]["layers"], again["model"]["config"]["layers"]
    assert [entry["class_name"] for entry in layers_after] == [entry["class_name"] for entry in layers_before]
    for before, after in zip(layers_before, layers_after):
        # Keras 3's legacy writer spells the InputLayer's shape 'batch_shape'; tf.keras 2 reads 'batch_input_shape'.
        _assert_fields_kept(before["config"], after["config"], ignore=("batch_shape", "batch_input_shape"))
    _assert_fields_kept(original["training"], again["training"], ignore=("optimizer",) if suffix == ".keras" else ())
    reloaded = keras.models.load_model(resaved)
    np.testing.assert_allclose(reloaded.predict(probe, verbose=0), _expected(_stem(name)), atol=1e-5)
    assert reloaded.optimizer.iterations == 32


def _assert_fields_kept(before: dict, after: dict, ignore: tuple = ()) -> None:
    """Every field of `before` is in `after` with the same value; dicts are compared field by field."""
    for key, value in before.items():
        if key in ignore:
            continue
        assert key in after, f"field '{key}' was lost"
        if isinstance(value, dict) and isinstance(after[key], dict):
            _assert_fields_kept(value, after[key])
        else:
            assert after[key] == value, (key, value, after[key])


def _configs(path: Path) -> dict:
    """{'model': the model config, 'training': the compile / training config} of a Keras file."""
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as archive:
            model = json.loads(archive.read("config.json"))
        return {"model": model, "training": model.get("compile_config")}
    with h5py.File(path, "r") as h5:
        model, training = h5.attrs["model_config"], h5.attrs["training_config"]
    return {"model": json.loads(model), "training": json.loads(training)}


def test_recompiling_a_loaded_model_drops_the_files_training_fields(tmp_path):
    model = keras.models.load_model(FIXTURES / "tk2_seed_rmsprop.h5")
    model.save(tmp_path / "same.h5")
    assert _configs(tmp_path / "same.h5")["training"]["optimizer_config"]["config"]["is_legacy_optimizer"] is False
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "recompiled.h5")
    training = _configs(tmp_path / "recompiled.h5")["training"]
    assert training["optimizer_config"]["class_name"] == "SGD" and training["metrics"] == []
    assert "is_legacy_optimizer" not in training["optimizer_config"]["config"]


# ------------------------------------------------------------------------------------ file layouts
def _hdf5_tree(h5: h5py.Group) -> dict[str, tuple]:
    """Every group and dataset of a file: its kind, shape and attribute names (the layout, not the values)."""
    tree = {"/": ("Group", None, tuple(sorted(h5.attrs)))}

    def visit(name: str, item) -> None:
        tree[name] = (type(item).__name__, getattr(item, "shape", None), tuple(sorted(item.attrs)))

    h5.visititems(visit)
    return tree


def _names(h5: h5py.Group, attribute: str) -> list[str]:
    return [name.decode() if isinstance(name, bytes) else name for name in h5.attrs[attribute]]


@pytest.fixture
def seed_model_trained_like_the_fixtures(tiny_images):
    """The fixtures' seed_dropout_adam model: same layers, same automatic names, one epoch of Adam."""
    from conftest import seed_model

    model = seed_model(dropout=0.3)
    model.fit(*tiny_images, batch_size=64, epochs=1, verbose=0)
    return model


def test_save_weights_legacy_name_writes_exactly_the_tf_keras_2_layout(seed_model_trained_like_the_fixtures, tmp_path):
    seed_model_trained_like_the_fixtures.save_weights(tmp_path / "model-weight.h5")
    with h5py.File(tmp_path / "model-weight.h5", "r") as ours, \
            h5py.File(FIXTURES / "tk2_seed_dropout_adam_weights.h5", "r") as theirs:
        assert _hdf5_tree(ours) == _hdf5_tree(theirs)
        assert _names(ours, "layer_names") == _names(theirs, "layer_names") == ["flatten", "dense", "dropout",
                                                                              "dense_1"]
        for layer in ("dense", "dense_1"):
            assert _names(ours[layer], "weight_names") == _names(theirs[layer], "weight_names") == [
                f"{layer}/kernel:0", f"{layer}/bias:0"]
        assert "layers" not in ours  # not the Keras 3 layout


def test_save_weights_keras3_name_writes_exactly_the_keras3_layout(seed_model_trained_like_the_fixtures, tmp_path):
    seed_model_trained_like_the_fixtures.save_weights(tmp_path / "model.weights.h5")
    with h5py.File(tmp_path / "model.weights.h5", "r") as ours, \
            h5py.File(FIXTURES / "k3_seed_dropout_adam.weights.h5", "r") as theirs:
        assert _hdf5_tree(ours) == _hdf5_tree(theirs)  # layers/dense/vars/0 ..., optimizer/vars/0 ...
        assert ours["layers/dense/vars/0"].shape == (784, 100) and "layer_names" not in ours.attrs


def test_model_files_have_the_keras_layout(seed_model_trained_like_the_fixtures, tmp_path):
    model = seed_model_trained_like_the_fixtures
    model.save(tmp_path / "model.keras")
    model.save(tmp_path / "model-whole.h5")
    with zipfile.ZipFile(tmp_path / "model.keras") as ours, \
            zipfile.ZipFile(FIXTURES / "k3_seed_dropout_adam.keras") as theirs:
        assert sorted(ours.namelist()) == sorted(theirs.namelist()) == ["config.json", "metadata.json",
                                                                        "model.weights.h5"]
        with h5py.File(ours.open("model.weights.h5"), "r") as mine, \
                h5py.File(theirs.open("model.weights.h5"), "r") as kept:
            assert _hdf5_tree(mine) == _hdf5_tree(kept)
    with h5py.File(tmp_path / "model-whole.h5", "r") as ours, \
            h5py.File(FIXTURES / "k3_seed_dropout_adam.h5", "r") as theirs:
        assert set(theirs.attrs) <= set(ours.attrs)  # model_config, training_config, keras_version, backend
        assert set(ours) == set(theirs) == {"model_weights", "optimizer_weights"}
        assert _names(ours["model_weights"], "layer_names") == _names(theirs["model_weights"], "layer_names")
