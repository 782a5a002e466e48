"""ProgbarLogger: a live bar per epoch on a terminal, one line per epoch otherwise, bars for evaluate/predict."""
from __future__ import annotations

import io

import numpy as np
import pytest

import epochal as keras
from scripted_fit import one_thread  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def small_fitted_model():
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd", metrics=["mae"])
    return model


X, Y = np.ones((12, 3), dtype="float32"), np.zeros(12, dtype="float32")


def test_a_terminal_gets_one_bar_per_epoch_ending_with_the_logs():
    stream = FakeTerminal()
    small_fitted_model().fit(X, Y, batch_size=4, epochs=2, verbose=1,
                             callbacks=[keras.callbacks.ProgbarLogger(stream=stream)])
    text = stream.getvalue()
    assert text.startswith("Epoch 1/2\n") and "\nEpoch 2/2\n" in text
    lines = text.split("\n")
    finished_bars = [(index, line.rsplit("\r", 1)[-1]) for index, line in enumerate(lines) if "\r" in line]
    assert len(finished_bars) == 2
    assert all(bar.startswith("3/3 ") for _, bar in finished_bars)
    # The full logs follow each bar on a line of their own, so a narrow terminal cannot cut them.
    assert all(lines[index + 1].startswith("loss: ") and "mae: " in lines[index + 1] for index, _ in finished_bars)


def test_a_file_gets_one_line_per_epoch_and_no_carriage_returns():
    stream = io.StringIO()
    small_fitted_model().fit(X, Y, batch_size=4, epochs=2, verbose=1, validation_split=0.25,
                             callbacks=[keras.callbacks.ProgbarLogger(stream=stream)])
    lines = stream.getvalue().split("\n")[:-1]
    assert "\r" not in stream.getvalue() and len(lines) == 2
    assert lines[1].startswith("Epoch 2/2 - ") and "val_loss: " in lines[1]


def test_evaluate_and_predict_draw_a_bar_on_a_terminal_and_evaluate_prints_its_logs_otherwise():
    model = small_fitted_model()
    for method in (lambda callbacks: model.evaluate(X, Y, batch_size=4, verbose=1, callbacks=callbacks),
                   lambda callbacks: model.predict(X, batch_size=4, verbose=1, callbacks=callbacks)):
        stream = FakeTerminal()
        method([keras.callbacks.ProgbarLogger(stream=stream)])
        assert stream.getvalue().rsplit("\r", 1)[-1].startswith("3/3 ")
    stream = io.StringIO()
    loss, mae = model.evaluate(X, Y, batch_size=4, verbose=1, callbacks=[keras.callbacks.ProgbarLogger(stream=stream)])
    assert stream.getvalue() == f"loss: {loss:.4f} - mae: {mae:.4f}\n"
