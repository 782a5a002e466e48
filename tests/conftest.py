"""Shared fixtures: seeded randomness, the seed's model, small data, and the real-data slice."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # real Keras, when a test imports it, runs on torch

import epochal as keras  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "keras"


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(1234)
    keras.backend.clear_session()
    yield


def seed_model(dropout: float | None = None, optimizer: str = "adam", metrics="accuracy"):
    """The seed's model_create(): Flatten -> Dense(100, relu) -> [Dropout] -> Dense(10, softmax), compiled."""
    model = keras.Sequential()
    model.add(keras.layers.Flatten(input_shape=(28, 28)))
    model.add(keras.layers.Dense(100, activation="relu"))
    if dropout is not None:
        model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", metrics=metrics, optimizer=optimizer)
    return model


@pytest.fixture
def tiny_images():
    rng = np.random.default_rng(0)
    x = rng.random((256, 28, 28)).astype("float32")
    y = rng.integers(0, 10, 256).astype("uint8")
    return x, y


@pytest.fixture(scope="session")
def fashion_slice():
    """6,000 training and 1,000 validation images of the real Fashion-MNIST, scaled to [0, 1]."""
    (x, y), _ = keras.datasets.fashion_mnist.load_data()
    x = x[:7000] / 255.0
    return x[:6000], y[:6000], x[6000:7000], y[6000:7000]
