"""LambdaCallback: functions as hooks, including batch hooks and hooks given by keyword."""
from __future__ import annotations

import numpy as np
import pytest

import epochal as keras
from epochal.callbacks import LambdaCallback
from scripted_fit import one_thread  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_every_given_function_runs_at_its_hook():
    calls = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: calls.append(f"epoch_begin {epoch}"),
        on_train_batch_begin=lambda batch, logs: calls.append(f"batch_begin {batch}"),
        on_train_batch_end=lambda batch, logs: calls.append(f"batch_end {batch} {sorted(logs)}"),
        on_epoch_end=lambda epoch, logs: calls.append(f"epoch_end {epoch} {sorted(logs)}"),
        on_test_end=lambda logs: calls.append("test_end"),
        on_train_end=lambda logs: calls.append("train_end"),
    )
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((8, 2)), np.ones(8), batch_size=4, epochs=1, validation_data=(np.ones((2, 2)), np.ones(2)),
              verbose=0, callbacks=[callback])
    assert calls == ["train_begin", "epoch_begin 0", "batch_begin 0", "batch_end 0 ['loss']", "batch_begin 1",
                     "batch_end 1 ['loss']", "test_end", "epoch_end 0 ['loss', 'val_loss']", "train_end"]


def test_tf_keras_batch_hook_names_work():
    batches = []
    callback = LambdaCallback(on_batch_end=lambda batch, logs: batches.append(batch))
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((6, 2)), np.ones(6), batch_size=2, epochs=1, verbose=0, callbacks=[callback])
    assert batches == [0, 1, 2]


def test_a_misspelt_hook_is_refused_with_a_suggestion():
    with pytest.raises(TypeError, match="Did you mean 'on_epoch_end'"):
        LambdaCallback(on_epoch_ends=print)


def test_a_hook_must_be_callable():
    with pytest.raises(TypeError, match="on_epoch_end"):
        LambdaCallback(on_epoch_end="print")
