"""epochal saves and loads its own models in every format: weights, compile arguments, optimizer state."""
from __future__ import annotations

import copy
import io
import pickle

import numpy as np
import pytest
import torch

import epochal as keras
from conftest import seed_model
from epochal.saving import load_safetensors, save_safetensors


@pytest.fixture
def trained(tiny_images):
    x, y = tiny_images
    model = seed_model(dropout=0.3)
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    return model


def _same_predictions(first, second, x) -> None:
    np.testing.assert_allclose(first.predict(x, verbose=0), second.predict(x, verbose=0), atol=1e-6)


def _same_optimizer_state(first, second) -> None:
    assert type(first.optimizer) is type(second.optimizer)
    assert first.optimizer.get_config() == second.optimizer.get_config()
    assert first.optimizer.iterations == second.optimizer.iterations
    for slot, tensors in first.optimizer.slots().items():
        for a, b in zip(tensors, second.optimizer.slots()[slot]):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("suffix", [".keras", ".h5", ".hdf5"])
def test_model_file_round_trip_restores_everything(suffix, trained, tiny_images, tmp_path):
    x, y = tiny_images
    trained.save(tmp_path / f"model-whole{suffix}")
    loaded = keras.models.load_model(tmp_path / f"model-whole{suffix}")
    _same_predictions(trained, loaded, x)
    _same_optimizer_state(trained, loaded)
    assert loaded.compiled.metrics == ["accuracy"] and type(loaded.loss).__name__ == "SparseCategoricalCrossentropy"
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in trained.layers]


@pytest.mark.parametrize("name", ["model.keras", "model-whole.h5"])
def test_training_continues_identically_after_a_round_trip(name, trained, tiny_images, tmp_path):
    x, y = tiny_images
    trained.save(tmp_path / name)
    loaded = keras.models.load_model(tmp_path / name)
    for model in (trained, loaded):
        keras.utils.set_random_seed(7)
        model.fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=False)
    _same_predictions(trained, loaded, x)
    _same_optimizer_state(trained, loaded)


@pytest.mark.parametrize("name", ["model-weight.h5", "model.weights.h5", "model.safetensors", "model.pt"])
def test_weights_round_trip(name, trained, tiny_images, tmp_path):
    x, _ = tiny_images
    trained.save_weights(tmp_path / name)
    keras.backend.clear_session()  # a new process: state_dict keys follow the same layer names
    fresh = seed_model(dropout=0.3)
    fresh.load_weights(tmp_path / name)
    _same_predictions(trained, fresh, x)


def test_weights_h5_also_carries_the_optimizer_state_like_keras3(trained, tmp_path):
    trained.save_weights(tmp_path / "model.weights.h5")
    fresh = seed_model(dropout=0.3)
    fresh.load_weights(tmp_path / "model.weights.h5")
    _same_optimizer_state(trained, fresh)


def test_legacy_weights_file_has_the_tf_keras_2_layout(trained, tmp_path):
    import h5py

    trained.save_weights(tmp_path / "model-weight.h5")
    with h5py.File(tmp_path / "model-weight.h5", "r") as h5:
        assert [n.decode() for n in h5.attrs["layer_names"]] == ["flatten", "dense", "dropout", "dense_1"]
        assert [n.decode() for n in h5["dense"].attrs["weight_names"]] == ["dense/kernel:0", "dense/bias:0"]
        assert h5["dense/dense/kernel:0"].shape == (784, 100)


def test_load_weights_by_name_and_skip_mismatch(tmp_path):
    source = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, name="shared"),
                               keras.layers.Dense(2, name="head")])
    source.save_weights(tmp_path / "w.h5")
    source.save_weights(tmp_path / "w.weights.h5")
    target = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, name="shared"),
                               keras.layers.Dense(5, name="head")])
    for name in ("w.h5", "w.weights.h5"):
        with pytest.raises(ValueError, match=r"layer 'head'.*\(3, 2\).*\(3, 5\)|layer 'head'.*\(3, 5\).*\(3, 2\)"):
            target.load_weights(tmp_path / name, by_name=True)
        with pytest.warns(UserWarning, match="Skipping layer 'head'"):
            target.load_weights(tmp_path / name, by_name=True, skip_mismatch=True)
        np.testing.assert_array_equal(target.get_layer("shared").get_weights()[0],
                                      source.get_layer("shared").get_weights()[0])


@pytest.mark.parametrize("name", ["model-weight.h5", "model.weights.h5", "model.keras", "model.safetensors",
                                  "model.pt"])
def test_mismatched_architecture_names_the_layer_and_both_shapes(name, trained, tmp_path):
    (trained.save if name.endswith(".keras") else trained.save_weights)(tmp_path / name)
    keras.backend.clear_session()  # same layer names as the saved model, so state_dict keys line up too
    other = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(10)])
    before = other.get_weights()
    with pytest.raises(ValueError, match=rf"'{tmp_path / name}' into layer 'dense'.*kernel'? has shape \(784, 64\) "
                                         r"in the model but \(784, 100\) in the file"):
        other.load_weights(tmp_path / name)
    for kept, now in zip(before, other.get_weights()):  # nothing was half-loaded
        np.testing.assert_array_equal(kept, now)


def test_positional_load_into_fewer_layers_names_both_layer_lists(trained, tmp_path):
    trained.save_weights(tmp_path / "model-weight.h5")
    smaller = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="2 layers.*1 layers with weights"):
        smaller.load_weights(tmp_path / "model-weight.h5")


def test_functional_model_round_trip_in_both_formats(tmp_path):
    inputs = keras.Input(shape=(6,), name="features")
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="scores")(keras.layers.Dropout(0.1)(hidden))
    model = keras.Model(inputs, outputs, name="classifier")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    x, y = np.random.default_rng(1).random((32, 6)).astype("float32"), np.arange(32) % 3
    model.fit(x, y, epochs=1, verbose=0)
    for suffix in (".keras", ".h5"):
        model.save(tmp_path / f"f{suffix}")
        loaded = keras.models.load_model(tmp_path / f"f{suffix}")
        assert type(loaded).__name__ == "Functional" and loaded.name == "classifier"
        _same_predictions(model, loaded, x)
        _same_optimizer_state(model, loaded)


def test_nested_sequential_round_trip(tmp_path):
    inner = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="relu")], name="block")
    model = keras.Sequential([keras.Input(shape=(4,)), inner, keras.layers.Dense(2)])
    x = np.ones((2, 4), dtype="float32")
    for name in ("n.keras", "n.h5"):
        model.save(tmp_path / name)
        _same_predictions(model, keras.models.load_model(tmp_path / name), x)
    model.save_weights(tmp_path / "n.weights.h5")
    other = keras.models.load_model(tmp_path / "n.keras")
    for weight in other.weights:
        weight.data.zero_()
    other.load_weights(tmp_path / "n.weights.h5")
    _same_predictions(model, other, x)


class Scaled(keras.layers.Dense):
    """A user-defined layer: Dense with its output doubled."""

    def call(self, inputs):
        return 2.0 * super().call(inputs)


def test_custom_layer_needs_custom_objects(tmp_path):
    model = keras.Sequential([keras.Input(shape=(3,)), Scaled(2)])
    model.save(tmp_path / "custom.keras")
    with pytest.raises(ValueError, match="Unknown layer class 'Scaled'.*custom_objects"):
        keras.models.load_model(tmp_path / "custom.keras")
    loaded = keras.models.load_model(tmp_path / "custom.keras", custom_objects={"Scaled": Scaled})
    _same_predictions(model, loaded, np.ones((2, 3), dtype="float32"))


class _RecordingUnpickler(pickle.Unpickler):
    """An unpickler that notes every class or function the pickle asks it to import."""

    def __init__(self, data: bytes):
        super().__init__(io.BytesIO(data))
        self.imported: list[str] = []

    def find_class(self, module, name):
        self.imported.append(f"{module}.{name}")
        return super().find_class(module, name)


def test_pickle_and_deepcopy_round_trip_through_keras_bytes(trained, tiny_images):
    x, _ = tiny_images
    data = pickle.dumps(trained)
    assert b"config.json" in data and b"model.weights.h5" in data  # the .keras archive, not pickled tensors
    unpickler = _RecordingUnpickler(data)
    _same_predictions(trained, unpickler.load(), x)
    assert unpickler.imported == ["epochal.saving.pickling.restore_model"]  # no torch tensors, no layer classes
    for copied in (pickle.loads(data), copy.deepcopy(trained)):
        _same_predictions(trained, copied, x)
        _same_optimizer_state(trained, copied)
    custom = keras.Sequential([keras.Input(shape=(3,)), Scaled(2)])
    _same_predictions(custom, pickle.loads(pickle.dumps(custom)), np.ones((2, 3), dtype="float32"))


def test_state_dict_and_safetensors(trained, tiny_images, tmp_path):
    x, _ = tiny_images
    keras.backend.clear_session()  # a new process: state_dict keys follow the same layer names
    fresh = seed_model(dropout=0.3)
    fresh.load_state_dict(trained.state_dict())
    _same_predictions(trained, fresh, x)
    save_safetensors(trained, tmp_path / "w.safetensors")
    keras.backend.clear_session()
    other = seed_model(dropout=0.3)
    load_safetensors(other, tmp_path / "w.safetensors")
    _same_predictions(trained, other, x)
    wrong = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="missing keys|unexpected keys"):
        load_safetensors(wrong, tmp_path / "w.safetensors")


@pytest.mark.parametrize("name", ["w.safetensors", "w.pt"])
def test_state_dict_files_skip_mismatched_tensors_only_when_asked(name, tmp_path):
    source = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, name="shared"),
                               keras.layers.Dense(2, name="head")])
    source.save_weights(tmp_path / name)
    target = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, name="shared"),
                               keras.layers.Dense(5, name="head")])
    with pytest.raises(ValueError, match=r"'head\.kernel' has shape \(3, 5\) in the model but \(3, 2\) in the file.*skip_mismatch"):
        target.load_weights(tmp_path / name)
    with pytest.warns(UserWarning, match=r"Skipping 2 tensors.*'head\.kernel' has shape \(3, 5\) in the model but \(3, 2\)"):
        target.load_weights(tmp_path / name, skip_mismatch=True)
    np.testing.assert_array_equal(target.get_layer("shared").get_weights()[0],
                                  source.get_layer("shared").get_weights()[0])
    renamed = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="missing keys.*Keys follow layer names.*skip_mismatch=True"):
        renamed.load_weights(tmp_path / name)


@pytest.mark.parametrize("name", ["w.h5", "w.weights.h5", "w.keras"])
def test_by_name_that_matches_no_layer_warns_instead_of_silently_loading_nothing(name, tmp_path):
    source = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, name="saved_dense")])
    (source.save if name.endswith(".keras") else source.save_weights)(tmp_path / name)
    target = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, name="other_dense")])
    with pytest.warns(UserWarning, match=r"loaded nothing.*\['other_dense'\].*\['saved_dense'\]"):
        target.load_weights(tmp_path / name, by_name=True)


def test_load_weights_into_an_unbuilt_model_explains_what_to_do(trained, tmp_path):
    trained.save_weights(tmp_path / "w.weights.h5")
    unbuilt = keras.Sequential([keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="has no weights yet.*Build it first"):
        unbuilt.load_weights(tmp_path / "w.weights.h5")


def test_unbuilt_and_uncompiled_models_save_and_load(tmp_path):
    unbuilt = keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(2)])
    unbuilt.save(tmp_path / "unbuilt.keras")
    loaded = keras.models.load_model(tmp_path / "unbuilt.keras")
    assert not loaded.built and loaded.compiled is None and len(loaded.layers) == 2


class TwoLayerNet(keras.Model):
    """A subclassed model with a constructor argument in its config."""

    def __init__(self, hidden: int = 5, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.body = keras.layers.Dense(hidden, activation="relu")
        self.head = keras.layers.Dense(2)

    def call(self, inputs, training=False):
        return self.head(self.body(inputs))

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden}


def squared_error(y_true, y_pred):
    return ((y_true - y_pred) ** 2).mean(dim=-1)


def test_subclassed_model_with_custom_loss_round_trips_with_custom_objects(tmp_path):
    model = TwoLayerNet(hidden=7)
    model.build((None, 3))
    model.compile(optimizer="sgd", loss=squared_error)
    x, y = np.random.default_rng(2).random((8, 3)).astype("float32"), np.zeros((8, 2), dtype="float32")
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "net.keras")
    with pytest.raises(ValueError, match="Unknown layer class 'TwoLayerNet'"):
        keras.models.load_model(tmp_path / "net.keras")
    with pytest.raises(ValueError, match="Unknown loss 'squared_error'"):
        keras.models.load_model(tmp_path / "net.keras", custom_objects={"TwoLayerNet": TwoLayerNet})
    objects = {"TwoLayerNet": TwoLayerNet, "squared_error": squared_error}
    from_file = keras.models.load_model(tmp_path / "net.keras", custom_objects=objects)
    for loaded in (from_file, pickle.loads(pickle.dumps(model))):
        assert isinstance(loaded, TwoLayerNet) and loaded.hidden == 7 and loaded.optimizer.iterations == 1
        _same_predictions(model, loaded, x)


def test_load_weights_reads_the_weights_inside_a_keras_file(trained, tiny_images, tmp_path):
    x, _ = tiny_images
    trained.save(tmp_path / "model.keras")
    fresh = seed_model(dropout=0.3)
    fresh.load_weights(tmp_path / "model.keras")
    _same_predictions(trained, fresh, x)


def test_the_seeds_save_and_restore_code_gives_the_same_accuracy(tiny_images, tmp_path, monkeypatch):
    """The seed's own calls, with its relative paths: both restored models score exactly as the trained one."""
    x, y = tiny_images
    monkeypatch.chdir(tmp_path)
    model = seed_model(dropout=0.3)
    model.fit(x, y, epochs=1, verbose=0)
    model.save_weights("model-weight.h5")
    model.save("model-whole.h5")
    expected_loss, expected_accuracy = model.evaluate(x, y, verbose=0)

    model = seed_model(dropout=0.3)  # model_create(keras.layers.Dropout(0.3)): new layer names, same shapes
    model.load_weights("./model-weight.h5")
    predicted_labels = np.argmax(model.predict(x, verbose=0), axis=-1)
    assert np.mean(predicted_labels == y) == pytest.approx(expected_accuracy, abs=1e-7)

    model = keras.models.load_model("./model-whole.h5")
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert (loss, accuracy) == (pytest.approx(expected_loss, abs=1e-6), pytest.approx(expected_accuracy, abs=1e-7))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model-weight.h5", "model-whole.h5"]
