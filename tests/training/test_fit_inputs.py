"""What fit/evaluate accept as Keras does: integer inputs, (n, 1) labels, penalties, frozen models."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import epochal as keras
from conftest import seed_model


def _small_model(regularizer=None):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input(shape=(4,)),
                              keras.layers.Dense(8, activation="relu", kernel_regularizer=regularizer),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def blobs():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, size=(96, 4))
    y = rng.integers(0, 3, size=96)
    return x, y


@pytest.mark.parametrize("dtype", ["int16", "int32", "int64", "uint8"])
def test_integer_inputs_train_like_the_same_values_as_floats(blobs, dtype):
    x, y = blobs
    as_int = _small_model().fit(x.astype(dtype), y, epochs=2, shuffle=False, verbose=0).history["loss"]
    as_float = _small_model().fit(x.astype("float32"), y, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(as_int, as_float, rtol=1e-6)
    assert _small_model().predict(x.astype(dtype), verbose=0).dtype == np.float32


def test_sparse_labels_shaped_n_by_1_equal_flat_labels(blobs):
    x, y = blobs
    x = x / 255.0
    column = _small_model().fit(x, y.reshape(-1, 1), epochs=2, shuffle=False, verbose=0,
                                validation_data=(x[:10], y[:10].reshape(-1, 1))).history
    flat = _small_model().fit(x, y, epochs=2, shuffle=False, verbose=0, validation_data=(x[:10], y[:10])).history
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(column[key], flat[key], rtol=1e-6)
    model = _small_model()
    assert model.evaluate(x, y.reshape(-1, 1), verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))


def test_one_hot_labels_with_the_sparse_loss_say_which_loss_to_use(blobs):
    x, y = blobs
    with pytest.raises(ValueError, match=r"looks one-hot.*categorical_crossentropy.*np.argmax"):
        _small_model().fit(x, keras.utils.to_categorical(y, 3), verbose=0)


def test_sparse_labels_of_a_wrong_width_are_refused(blobs):
    x, y = blobs
    with pytest.raises(ValueError, match=r"class labels of shape \(n,\) or \(n, 1\)"):
        _small_model().fit(x, np.stack([y, y], axis=1), verbose=0)


def test_weight_penalties_count_in_training_evaluation_and_validation(blobs):
    x, y = blobs
    x = x / 255.0
    model = _small_model(keras.regularizers.l2(0.5))
    penalty = 0.5 * float((model.layers[0].kernel.detach() ** 2).sum())
    probabilities = torch.as_tensor(model.predict(x, verbose=0))
    plain = float(torch.nn.functional.nll_loss(probabilities.log(), torch.as_tensor(y)))
    assert model.evaluate(x, y, verbose=0)[0] == pytest.approx(plain + penalty, rel=1e-5)

    model.optimizer.learning_rate = 0.0
    history = model.fit(x, y, epochs=1, batch_size=96, verbose=0, validation_data=(x, y)).history
    assert history["loss"][0] == pytest.approx(plain + penalty, rel=1e-5)
    assert history["val_loss"][0] == pytest.approx(plain + penalty, rel=1e-5)


def test_a_frozen_model_warns_and_keeps_its_weights(blobs):
    x, y = blobs
    model = _small_model()
    model.trainable = False
    before = model.get_weights()
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        history = model.fit(x / 255.0, y, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_a_trainable_model_does_not_warn(blobs):
    x, y = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _small_model().fit(x / 255.0, y, epochs=1, verbose=0)


@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_arrays_without_labels_are_refused(blobs, method):
    x, _ = blobs
    with pytest.raises(ValueError, match=rf"labels are missing.*model.{method}\(x, y\)"):
        getattr(_small_model(), method)(x, verbose=0)


def test_a_generator_of_x_only_batches_is_refused(blobs):
    x, _ = blobs
    batches = (x[i:i + 16] for i in range(0, len(x), 16))
    with pytest.raises(ValueError, match="must yield \\(x, y\\)"):
        _small_model().fit(batches, epochs=1, steps_per_epoch=2, verbose=0)


def test_labels_from_a_data_loader_are_checked(blobs):
    x, y = blobs
    bad = torch.utils.data.TensorDataset(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y + 3))
    with pytest.raises(ValueError, match=r"label [3-5], outside the valid range \[0, 2\]"):
        _small_model().fit(torch.utils.data.DataLoader(bad, batch_size=16), verbose=0)


def test_a_data_loader_with_the_wrong_input_shape_names_both_shapes(blobs):
    x, y = blobs
    wrong = torch.utils.data.TensorDataset(torch.zeros(32, 5), torch.as_tensor(y[:32]))
    with pytest.raises(ValueError, match=r"expects inputs of shape \(None, 4\).*\(None, 5\)"):
        _small_model().evaluate(torch.utils.data.DataLoader(wrong, batch_size=16), verbose=0)


def test_data_loader_labels_shaped_n_by_1_train(blobs):
    x, y = blobs
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(x / 255.0, dtype=torch.float32),
                                             torch.as_tensor(y.reshape(-1, 1)))
    history = _small_model().fit(torch.utils.data.DataLoader(dataset, batch_size=16), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_the_seed_model_takes_uint8_pixels_without_scaling(tiny_images):
    x, y = tiny_images
    pixels = (x * 255).astype("uint8")
    history = seed_model().fit(pixels, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
