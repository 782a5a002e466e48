"""EarlyStopping driven by scripted metric sequences (no training), and once through a real fit."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import epochal as keras
from epochal.callbacks import EarlyStopping
from scripted_fit import one_thread  # noqa: F401 (a fixture)
from scripted_fit import mark_weights, run_script, small_model, weight_marker

pytestmark = pytest.mark.usefixtures("one_thread")

NAN = math.nan

# (arguments, monitored values, expected stopped_epoch, expected best_epoch, epochs that ran)
CASES = [
    ({"patience": 0}, [1.0, 0.9, 0.95, 0.8], 2, 1, 3),
    ({"patience": 0}, [1.0, 0.9, 0.8, 0.7], 0, 3, 4),
    ({"patience": 0}, [1.0, 1.0, 0.5], 1, 0, 2),  # a tie is not an improvement
    ({"patience": 1}, [1.0, 0.9, 0.95, 0.85, 0.86, 0.87], 2, 1, 3),
    ({"patience": 2}, [1.0, 0.9, 0.95, 0.85, 0.86, 0.87], 5, 3, 6),
    ({"patience": 3}, [1.0, 0.9, 0.95, 0.85, 0.86, 0.87], 0, 3, 6),
    ({"patience": 3}, [1.0, 1.1, 1.2, 1.3, 0.1], 3, 0, 4),
    ({"patience": 1}, [1.0, NAN, 0.5], 1, 0, 2),  # NaN never improves
    ({"patience": 0}, [1.0, 0.99999999], 1, 0, 2),  # values are compared in float32, as Keras does
    ({"patience": 0, "min_delta": 0.09999999}, [1.0, 0.9], 1, 0, 2),
    # min_delta: only changes larger than |min_delta| count; its sign does not matter
    ({"patience": 2, "min_delta": 0.1}, [1.0, 0.95, 0.91, 0.85], 2, 0, 3),
    ({"patience": 2, "min_delta": -0.1}, [1.0, 0.95, 0.91, 0.85], 2, 0, 3),
    ({"patience": 1, "min_delta": 0.1}, [1.0, 0.8, 0.75, 0.6], 2, 1, 3),
    # baseline: the counter restarts only for values that also beat the baseline
    ({"patience": 2, "baseline": 0.5}, [1.0, 1.1, 1.2], 1, 0, 2),
    ({"patience": 2, "baseline": 0.5}, [1.0, 0.9, 0.8, 0.7], 0, 3, 4),
    ({"patience": 1, "baseline": 0.5}, [1.0, 0.4, 0.45, 0.5], 2, 1, 3),
    # start_from_epoch: the first epochs are not monitored at all
    ({"patience": 0, "start_from_epoch": 2}, [1.0, 2.0, 3.0, 2.5, 2.6], 4, 3, 5),
    ({"patience": 0, "start_from_epoch": 5}, [1.0, 2.0, 3.0], 0, 0, 3),
    # mode
    ({"patience": 1, "monitor": "val_accuracy"}, [0.5, 0.6, 0.55, 0.54], 2, 1, 3),
    ({"patience": 0, "monitor": "val_loss", "mode": "max"}, [1.0, 0.9], 1, 0, 2),
    ({"patience": 0, "monitor": "val_accuracy", "mode": "min"}, [0.5, 0.6], 1, 0, 2),
    ({"patience": 0, "monitor": "loss", "mode": "min"}, [0.5, 0.4, 0.45], 2, 1, 3),
]


def _logs(arguments, values):
    monitor = arguments.get("monitor", "val_loss")
    return [{monitor: value, "other": 0.0} for value in values]


@pytest.mark.parametrize("arguments, values, stopped_epoch, best_epoch, epochs_run", CASES)
def test_decisions_follow_keras_rules(arguments, values, stopped_epoch, best_epoch, epochs_run):
    callback = EarlyStopping(**arguments)
    model = small_model()
    finished = run_script([callback], model, _logs(arguments, values))
    assert (callback.stopped_epoch, callback.best_epoch, len(finished)) == (stopped_epoch, best_epoch, epochs_run)
    assert model.stop_training == (stopped_epoch > 0)


@pytest.mark.parametrize("values, patience, best_epoch", [
    ([1.0, 0.5, 0.7, 0.8, 0.9], 2, 1),  # stops at epoch 3
    ([1.0, 0.5, 0.7], 5, 1),            # the epochs run out before patience does
    ([0.3, 0.5, 0.2, 0.4], 9, 2),
])
def test_restore_best_weights_at_the_end_whatever_ended_training(values, patience, best_epoch):
    callback = EarlyStopping(patience=patience, restore_best_weights=True)
    model = small_model()
    run_script([callback], model, _logs({}, values), before_epoch_end=lambda epoch: mark_weights(model, epoch))
    assert callback.best_epoch == best_epoch
    assert weight_marker(model) == best_epoch


def test_restores_when_another_callback_stops_training():
    model = small_model()

    class StopAtEpochTwo(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                self.model.stop_training = True

    early_stopping = EarlyStopping(patience=10, restore_best_weights=True)
    run_script([early_stopping, StopAtEpochTwo()], model, _logs({}, [1.0, 0.5, 0.7, 0.1]),
               before_epoch_end=lambda epoch: mark_weights(model, epoch))
    assert early_stopping.stopped_epoch == 0
    assert weight_marker(model) == 1


def test_restores_the_best_epoch_even_when_no_epoch_beats_the_baseline():
    model = small_model()
    callback = EarlyStopping(patience=2, baseline=0.1, restore_best_weights=True)
    run_script([callback], model, _logs({}, [1.0, 0.8, 0.9, 0.95]),
               before_epoch_end=lambda epoch: mark_weights(model, epoch))
    assert callback.stopped_epoch == 2
    assert weight_marker(model) == 1


def test_without_restore_the_last_weights_stay():
    model = small_model()
    callback = EarlyStopping(patience=1)
    run_script([callback], model, _logs({}, [1.0, 0.5, 0.7]), before_epoch_end=lambda epoch: mark_weights(model, epoch))
    assert callback.best_weights is None
    assert weight_marker(model) == 2


def drive_with_a_best_already_set(callback, model, values):
    """on_train_begin, then a `best` set by hand, then one on_epoch_end per value; returns stop epochs."""
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    callback.best = 0.5
    stops = []
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {"val_loss": value})
        stops.append(model.stop_training)
    return stops


def test_never_stops_at_epoch_zero_even_when_patience_has_run_out():
    # On a fresh run epoch 0 always improves on best=None; with a best already set (a subclass that
    # seeds it), Keras's `epoch > 0` guard is what keeps epoch 0 from stopping.
    callback = EarlyStopping(patience=0)
    stops = drive_with_a_best_already_set(callback, small_model(), [0.9, 0.9])
    assert stops == [False, True] and callback.wait == 2 and callback.stopped_epoch == 1


def test_one_instance_reused_across_two_fits_starts_afresh():
    callback = EarlyStopping(patience=0)
    model = small_model()
    run_script([callback], model, _logs({}, [1.0, 0.5, 0.6]))
    assert (callback.stopped_epoch, callback.best) == (2, 0.5)
    # Every value of the second run is worse than the first run's best: only a reset best lets it run.
    finished = run_script([callback], model, _logs({}, [2.0, 1.5, 1.0]))
    assert (callback.stopped_epoch, callback.best, callback.best_epoch, len(finished)) == (0, 1.0, 2, 3)


def test_missing_monitor_warns_once_per_run_and_never_stops():
    callback = EarlyStopping(monitor="val_loss", patience=0)
    model = small_model()
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            finished = run_script([callback], model, [{"loss": 1.0}, {"loss": 2.0}, {"loss": 3.0}])
        messages = [str(w.message) for w in caught]
        assert len(messages) == 1 and "val_loss" in messages[0] and "loss" in messages[0]
        assert len(finished) == 3 and callback.stopped_epoch == 0


@pytest.mark.parametrize("arguments, error", [
    ({"mode": "minimum"}, "mode"),
    ({"patience": -1}, "patience"),
    ({"patience": 1.5}, "patience"),
    ({"start_from_epoch": -2}, "start_from_epoch"),
])
def test_bad_arguments_name_the_argument(arguments, error):
    with pytest.raises(ValueError, match=error):
        EarlyStopping(**arguments)


def test_in_a_real_fit_training_stops_patience_epochs_after_the_best(tiny_images):
    x, y = tiny_images
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    # Random labels: the validation loss soon stops improving.
    callback = EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(x[:192], y[:192], validation_data=(x[192:], y[192:]), epochs=30, verbose=0,
                        callbacks=[callback])
    val_loss = history.history["val_loss"]
    assert callback.stopped_epoch == len(val_loss) - 1 == callback.best_epoch + 2
    assert int(np.argmin(val_loss)) == callback.best_epoch
    restored = model.evaluate(x[192:], y[192:], verbose=0)
    assert restored == pytest.approx(val_loss[callback.best_epoch], rel=1e-6)
