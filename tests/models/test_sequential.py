"""Sequential/functional models: structure, summary, weights, device and the seed's model shape."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import epochal as keras
from conftest import seed_model


def test_seed_model_summary_counts_79510_parameters(capsys):
    model = seed_model(dropout=0.3)
    model.summary()
    out = capsys.readouterr().out
    assert "Total params: 79,510" in out
    for row in ("flatten (Flatten)", "dense (Dense)", "dropout (Dropout)", "dense_1 (Dense)", "(None, 784)",
                "78,500", "1,010", "(None, 10)"):
        assert row in out


def test_layers_list_and_add_variants():
    as_list = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])
    assert [type(layer).__name__ for layer in as_list.layers] == ["Flatten", "Dense"]
    assert as_list.output_shape == (None, 10)
    added = keras.Sequential()
    added.add(keras.layers.InputLayer(input_shape=(4,)))
    added.add(keras.layers.Dense(3))
    assert added.count_params() == 15


def test_get_set_weights_round_trip_in_keras_layout():
    model = seed_model()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(784, 100), (100,), (100, 10), (10,)]
    other = seed_model()
    other.set_weights(weights)
    for a, b in zip(other.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_model_is_a_torch_module_with_named_state_dict():
    model = seed_model()
    assert isinstance(model, torch.nn.Module)
    assert list(model.state_dict()) == ["dense.kernel", "dense.bias", "dense_1.kernel", "dense_1.bias"]


def test_trainable_weights_and_freezing_a_layer():
    model = seed_model()
    assert len(model.trainable_weights) == 4
    model.layers[1].trainable = False
    assert len(model.trainable_weights) == 2


def test_freezing_keeps_weights_unchanged_during_fit(tiny_images):
    model = seed_model()
    model.layers[1].trainable = False
    before = model.layers[1].get_weights()
    model.fit(*tiny_images, epochs=1, verbose=0)
    for a, b in zip(model.layers[1].get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_unbuilt_model_builds_from_data_and_summary_explains(tiny_images):
    model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(ValueError, match="not been built"):
        model.summary()
    model.compile(loss="sparse_categorical_crossentropy")
    model.fit(*tiny_images, epochs=1, verbose=0)
    assert model.input_shape == (None, 28, 28)


def test_functional_model_matches_sequential_outputs():
    inputs = keras.Input(shape=(28, 28))
    hidden = keras.layers.Dense(100, activation="relu")(keras.layers.Flatten()(inputs))
    outputs = keras.layers.Dense(10, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    assert model.output_shape == (None, 10)
    assert model.count_params() == 79510
    x = torch.rand(3, 28, 28)
    assert tuple(model(x).shape) == (3, 10)


def test_subclassed_model_trains(tiny_images):
    class TwoLayer(keras.Model):
        def __init__(self):
            super().__init__()
            self.flatten = keras.layers.Flatten()
            self.hidden = keras.layers.Dense(16, activation="relu")
            self.out = keras.layers.Dense(10, activation="softmax")

        def call(self, inputs, training=False):
            return self.out(self.hidden(self.flatten(inputs)))

    model = TwoLayer()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(*tiny_images, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_duplicate_layer_names_are_refused():
    model = keras.Sequential([keras.layers.Dense(2, name="same")])
    with pytest.raises(ValueError, match="unique names"):
        model.add(keras.layers.Dense(2, name="same"))


def test_pop_removes_the_last_layer():
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    model.pop()
    assert model.output_shape == (None, 3)


def test_functional_model_with_two_outputs_predicts_one_array_per_output():
    inputs = keras.Input(shape=(4,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    first, second = keras.layers.Dense(2)(hidden), keras.layers.Dense(3)(hidden)
    model = keras.Model(inputs, [first, second])
    predictions = model.predict(np.ones((5, 4), dtype="float32"), verbose=0, batch_size=2)
    assert [p.shape for p in predictions] == [(5, 2), (5, 3)]


def test_clone_model_copies_architecture_not_weights():
    model = seed_model(dropout=0.3)
    clone = keras.models.clone_model(model)
    assert [type(layer).__name__ for layer in clone.layers] == [type(layer).__name__ for layer in model.layers]
    assert clone.count_params() == model.count_params()
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])


@pytest.mark.parametrize("misspelt, meant", [("savee", "save"), ("save_weight", "save_weights"),
                                             ("summery", "summary"), ("stop_trainig", "stop_training")])
def test_a_misspelt_method_or_attribute_names_the_one_meant(misspelt, meant):
    # The seed itself writes model.savee('model-whole.h5').
    model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    with pytest.raises(AttributeError, match=rf"^'Sequential' object has no attribute '{misspelt}'\. "
                                             rf"Did you mean '{meant}'\?$"):
        getattr(model, misspelt)


def test_private_probes_still_get_a_plain_attribute_error():
    model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    assert not hasattr(model, "_not_there") and not hasattr(model, "qqq")
