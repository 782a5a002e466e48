"""Losses against PyTorch/NumPy references, stability, and the Keras name registry."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import epochal as keras
from epochal import losses


def _probs(logits):
    return torch.softmax(logits, -1)


@pytest.fixture
def logits():
    torch.manual_seed(0)
    return torch.randn(8, 5)


def test_sparse_categorical_crossentropy_matches_torch(logits):
    labels = torch.randint(0, 5, (8,))
    expected = F.cross_entropy(logits, labels)
    assert float(losses.SparseCategoricalCrossentropy()(labels, _probs(logits))) == pytest.approx(float(expected), rel=1e-5)
    assert float(losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)) == pytest.approx(float(expected), rel=1e-6)
    assert float(losses.SparseCategoricalCrossentropy()(labels.reshape(8, 1).float(), _probs(logits))) == pytest.approx(float(expected), rel=1e-5)


def test_categorical_and_binary_crossentropy_match_torch(logits):
    labels = torch.randint(0, 5, (8,))
    one_hot = F.one_hot(labels, 5).float()
    expected = F.cross_entropy(logits, labels)
    assert float(losses.CategoricalCrossentropy()(one_hot, _probs(logits))) == pytest.approx(float(expected), rel=1e-5)
    targets = torch.randint(0, 2, (8, 5)).float()
    expected_binary = F.binary_cross_entropy_with_logits(logits, targets)
    assert float(losses.BinaryCrossentropy(from_logits=True)(targets, logits)) == pytest.approx(float(expected_binary), rel=1e-6)
    assert float(losses.BinaryCrossentropy()(targets, torch.sigmoid(logits))) == pytest.approx(float(expected_binary), rel=1e-4)


def test_regression_losses_match_numpy():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=(6, 3)).astype("float32")
    ty, tp = torch.from_numpy(y), torch.from_numpy(p)
    assert float(losses.get("mse")(ty, tp)) == pytest.approx(np.mean((y - p) ** 2), rel=1e-5)
    assert float(losses.get("mae")(ty, tp)) == pytest.approx(np.mean(np.abs(y - p)), rel=1e-5)
    error = np.abs(y - p)
    huber = np.where(error <= 1, 0.5 * error ** 2, error - 0.5).mean()
    assert float(losses.get("huber")(ty, tp)) == pytest.approx(huber, rel=1e-5)


def test_sample_weight_uses_keras_sum_over_batch_size(logits):
    labels = torch.randint(0, 5, (8,))
    per_sample = F.cross_entropy(logits, labels, reduction="none")
    weights = torch.arange(8, dtype=torch.float32)
    value = losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits, sample_weight=weights)
    assert float(value) == pytest.approx(float((per_sample * weights).sum() / 8), rel=1e-6)


def test_saturated_probabilities_stay_finite():
    probs = torch.tensor([[1.0, 0.0, 0.0]])
    assert torch.isfinite(losses.SparseCategoricalCrossentropy()(torch.tensor([1]), probs))
    huge = torch.tensor([[1e4, -1e4, 0.0]])
    assert torch.isfinite(losses.SparseCategoricalCrossentropy().call_on_logits(torch.tensor([1]), huge)).all()


@pytest.mark.parametrize("name", ["sparse_categorical_crossentropy", "categorical_crossentropy",
                                  "binary_crossentropy", "mean_squared_error", "mse", "mean_absolute_error",
                                  "mae", "huber", "SparseCategoricalCrossentropy"])
def test_names_resolve(name):
    assert isinstance(keras.losses.get(name), losses.Loss)


def test_unknown_loss_and_wrong_type():
    with pytest.raises(ValueError, match="Known losses"):
        losses.get("crossentropyy")
    with pytest.raises(TypeError):
        losses.get(3)


def test_custom_function_loss_trains():
    def squared(y_true, y_pred):
        return (y_true.unsqueeze(-1) - y_pred).square().mean(-1)

    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=squared)
    history = model.fit(np.ones((16, 2)), np.ones(16), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_loss_objects_accept_numpy_arrays_and_lists():
    loss = keras.losses.SparseCategoricalCrossentropy()
    value = loss(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    assert isinstance(value, torch.Tensor)
    assert float(value) == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2, rel=1e-6)
    assert float(keras.losses.MeanSquaredError()([1.0, 2.0], [1.5, 2.0])) == pytest.approx(0.125)
    weighted = keras.losses.MeanAbsoluteError()(np.ones((2, 1)), np.zeros((2, 1)), sample_weight=np.array([1, 0]))
    assert float(weighted) == pytest.approx(0.5)


@pytest.mark.parametrize("cls, typo, meant", [
    ("SparseCategoricalCrossentropy", "from_logit", "from_logits"),
    ("CategoricalCrossentropy", "label_smothing", "label_smoothing"),
    ("Huber", "delt", "delta"),
])
def test_misspelt_loss_arguments_name_the_intended_one(cls, typo, meant):
    with pytest.raises(TypeError, match=f"'{typo}'. Did you mean '{meant}'"):
        getattr(keras.losses, cls)(**{typo: 1})


def test_user_loss_subclasses_keep_their_own_keywords():
    class Scaled(keras.losses.Loss):
        def __init__(self, scale=2.0, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

        def call(self, y_true, y_pred):
            return self.scale * (y_true - y_pred).abs().mean(-1)

    assert float(Scaled(scale=3.0, name="scaled")(np.ones((1, 1)), np.zeros((1, 1)))) == pytest.approx(3.0)
