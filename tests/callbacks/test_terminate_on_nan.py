"""TerminateOnNaN: stop (or raise) at the first batch whose loss is NaN or infinite."""
from __future__ import annotations

import math

import numpy as np
import pytest

import epochal as keras
from epochal.callbacks import TerminateOnNaN
from scripted_fit import one_thread  # noqa: F401 (a fixture)
from scripted_fit import small_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("loss, stops", [(0.5, False), (math.nan, True), (math.inf, True), (-math.inf, True),
                                         (None, False)])
def test_stops_only_for_a_nan_or_infinite_loss(loss, stops, capsys):
    model = small_model()
    model.stop_training = False
    callback = TerminateOnNaN()
    callback.set_model(model)
    callback.on_train_batch_end(3, {} if loss is None else {"loss": loss})
    assert model.stop_training is stops
    assert ("Batch 3: Invalid loss, terminating training" in capsys.readouterr().out) is stops


def test_raise_error_raises_at_once():
    callback = TerminateOnNaN(raise_error=True)
    callback.set_model(small_model())
    with pytest.raises(RuntimeError, match="batch 7"):
        callback.on_train_batch_end(7, {"loss": math.nan})


def test_a_diverging_fit_stops_in_its_first_epoch():
    x = np.full((64, 4), 1e3, dtype="float32")
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(1e6))
    seen = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    history = model.fit(x, np.ones(64), batch_size=4, epochs=5, verbose=0, callbacks=[TerminateOnNaN(), counter])
    assert len(history.history["loss"]) == 1
    assert not math.isfinite(history.history["loss"][0])
    assert len(seen) < 16  # stopped within the first epoch's 16 batches
