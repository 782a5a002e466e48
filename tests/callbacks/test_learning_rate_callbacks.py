"""ReduceLROnPlateau and LearningRateScheduler on scripted sequences, and `learning_rate` in the history."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import epochal as keras
from epochal.callbacks import LearningRateScheduler, ReduceLROnPlateau
from scripted_fit import one_thread  # noqa: F401 (a fixture)
from scripted_fit import run_script, small_model

pytestmark = pytest.mark.usefixtures("one_thread")


def run_with_rates(callback, values, monitor="val_loss", learning_rate=0.1):
    """(learning_rate logged per epoch, final learning rate)."""
    model = small_model(learning_rate)
    finished = run_script([callback], model, [{monitor: value} for value in values])
    return [logs["learning_rate"] for logs in finished], float(model.optimizer.learning_rate)


@pytest.mark.parametrize("arguments, values, logged, final", [
    ({"factor": 0.5, "patience": 1, "min_delta": 0}, [1.0] * 4, [0.1, 0.1, 0.05, 0.025], 0.0125),
    ({"factor": 0.5, "patience": 1, "cooldown": 2}, [1.0] * 6, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025], 0.0125),
    ({"factor": 0.5, "patience": 0, "min_lr": 0.03}, [1.0] * 4, [0.1, 0.1, 0.05, 0.03], 0.03),
    ({"patience": 1}, [1.0, 0.99995, 0.9], [0.1, 0.1, 0.01], 0.01),  # 5e-5 is below the default min_delta
    ({"patience": 1}, [1.0, 0.9, 0.8], [0.1, 0.1, 0.1], 0.1),
    ({"factor": 0.5, "patience": 2, "monitor": "val_accuracy"}, [0.5, 0.6, 0.6, 0.6], [0.1] * 4, 0.05),
    ({"factor": 0.5, "patience": 1, "monitor": "val_accuracy", "mode": "min"}, [0.5, 0.6], [0.1, 0.1], 0.05),
])
def test_reduce_lr_on_plateau_sequences(arguments, values, logged, final):
    monitor = arguments.get("monitor", "val_loss")
    rates, last = run_with_rates(ReduceLROnPlateau(**arguments), values, monitor)
    assert rates == pytest.approx(logged, rel=1e-12)
    assert last == pytest.approx(final, rel=1e-12)


def test_reduce_lr_on_plateau_reused_across_fits_resets_its_counters():
    callback = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=3)
    run_with_rates(callback, [1.0, 1.0, 1.0])
    assert (callback.wait, callback.cooldown_counter, callback.best) == (0, 3, 1.0)
    rates, last = run_with_rates(callback, [5.0, 5.0])  # a fresh best, no cooldown left over
    assert (rates, last, callback.wait, callback.best) == ([0.1, 0.1], 0.1, 1, 5.0)


def test_reduce_lr_on_plateau_without_the_monitor_warns_once_and_still_logs_the_rate():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rates, last = run_with_rates(ReduceLROnPlateau(patience=0), [1.0, 1.0, 1.0], monitor="loss")
    assert len(caught) == 1 and "val_loss" in str(caught[0].message)
    assert rates == [0.1, 0.1, 0.1] and last == 0.1


def test_tf_keras_epsilon_is_min_delta():
    assert ReduceLROnPlateau(epsilon=0.5).min_delta == 0.5


@pytest.mark.parametrize("arguments, error", [
    ({"factor": 1.0}, ValueError), ({"factor": 2}, ValueError), ({"patience": -1}, ValueError),
    ({"cooldown": 0.5}, ValueError), ({"min_deltaa": 0.1}, TypeError),
])
def test_reduce_lr_on_plateau_bad_arguments(arguments, error):
    with pytest.raises(error, match=next(iter(arguments)).rstrip("a")):
        ReduceLROnPlateau(**arguments)


@pytest.mark.parametrize("schedule, expected", [
    (lambda epoch, lr: lr if epoch < 2 else lr * 0.5, [0.1, 0.1, 0.05, 0.025]),
    (lambda epoch: 0.1 / (epoch + 1), [0.1, 0.05, 0.1 / 3, 0.025]),
    (lambda epoch, lr: np.float32(0.5) * 0.1 ** epoch, [0.5, 0.05, 0.005, 0.0005]),
    (lambda epoch, lr: torch.tensor(0.25), [0.25] * 4),
    (lambda epoch, lr: 1, [1.0] * 4),
])
def test_learning_rate_scheduler_sets_and_logs_each_epoch(schedule, expected):
    rates, last = run_with_rates(LearningRateScheduler(schedule), [1.0] * 4)
    assert rates == pytest.approx(expected, rel=1e-6)
    assert last == pytest.approx(expected[-1], rel=1e-6)


def test_scheduler_that_returns_no_number_names_the_epoch():
    with pytest.raises(ValueError, match="epoch 0 it returned 'fast'"):
        run_with_rates(LearningRateScheduler(lambda epoch, lr: "fast"), [1.0])


def test_scheduler_errors_are_not_swallowed():
    def broken(epoch, lr):
        raise TypeError("bug inside the schedule")

    with pytest.raises(TypeError, match="bug inside"):
        run_with_rates(LearningRateScheduler(broken), [1.0])


def test_scheduler_needs_a_function():
    with pytest.raises(TypeError, match="schedule"):
        LearningRateScheduler(0.1)


def test_both_write_learning_rate_into_the_history_of_a_real_fit(tiny_images):
    x, y = tiny_images
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.01))
    callbacks = [LearningRateScheduler(lambda epoch, lr: 0.01 * 0.5 ** epoch),
                 ReduceLROnPlateau(monitor="loss", patience=0, min_delta=10.0, factor=0.5)]
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=callbacks)
    # The scheduler sets each epoch's rate; the plateau callback halves it after the epoch.
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.005, 0.0025])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.00125)
