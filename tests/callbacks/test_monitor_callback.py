"""MonitorCallback: which way mode='auto' reads a monitored name, and when it says it cannot tell."""
from __future__ import annotations

import pytest

import epochal as keras
from epochal.callbacks.monitor_callback import direction_of
from scripted_fit import recording_model, run_script


@pytest.mark.parametrize("monitor, direction", [
    ("loss", "min"), ("val_loss", "min"), ("val_output_loss", "min"), ("val_mean_squared_error", "min"),
    ("mae", "min"), ("val_sparse_categorical_crossentropy", "min"), ("kl_divergence", "min"),
    ("accuracy", "max"), ("val_acc", "max"), ("val_sparse_top_k_categorical_accuracy", "max"), ("auc_1", "max"),
    ("val_precision", "max"), ("recall", "max"), ("f1_score", "max"), ("r2_score", "max"), ("mean_iou", "max"),
    ("my_score", None), ("val_count", None),
])
def test_auto_direction_of_keras_metric_names(monitor, direction):
    assert direction_of(monitor) == direction


@pytest.mark.parametrize("make_callback", [
    lambda: keras.callbacks.EarlyStopping(monitor="my_score"),
    lambda: keras.callbacks.ReduceLROnPlateau(monitor="my_score"),
    lambda: keras.callbacks.ModelCheckpoint("m.keras", monitor="my_score", save_best_only=True),
], ids=["EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint"])
def test_auto_mode_refuses_a_name_without_a_direction_before_the_first_epoch(make_callback):
    epochs_begun = []
    counter = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: epochs_begun.append(epoch))
    with pytest.raises(ValueError, match="mode='max'"):
        run_script([make_callback(), counter], recording_model(), [{"my_score": 1.0}])
    assert epochs_begun == []


@pytest.mark.parametrize("mode", ["min", "max"])
def test_an_explicit_mode_needs_no_direction_from_the_name(mode):
    callback = keras.callbacks.EarlyStopping(monitor="my_score", mode=mode, patience=0)
    run_script([callback], recording_model(), [{"my_score": 1.0}, {"my_score": 2.0}])
    assert callback.stopped_epoch == (1 if mode == "min" else 0)


def test_a_checkpoint_that_saves_every_epoch_never_asks_for_a_direction():
    model = recording_model()
    run_script([keras.callbacks.ModelCheckpoint("m.keras", monitor="my_score")], model, [{"my_score": 1.0}])
    assert model.saved == [("m.keras", "model")]


class CountOfMistakes(keras.metrics.Mean):
    """A custom metric that declares, as Keras metrics do, that lower is better."""

    _direction = "down"


def compiled_with(metric):
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd", metrics=[metric])
    return model


@pytest.mark.parametrize("metric, direction", [
    (lambda: keras.metrics.SparseCategoricalAccuracy(name="sca"), "max"),
    (lambda: keras.metrics.MeanSquaredError(name="spread"), "min"),
    (lambda: CountOfMistakes(name="mistakes"), "min"),
], ids=["accuracy-class", "error-class", "declared-direction"])
def test_auto_mode_asks_a_renamed_compiled_metric_for_its_direction(metric, direction):
    compiled_metric = metric()
    monitor = f"val_{compiled_metric.name}"
    callback = keras.callbacks.EarlyStopping(monitor=monitor, patience=0)
    run_script([callback], compiled_with(compiled_metric), [{monitor: 1.0}, {monitor: 2.0}])
    assert callback.direction == direction
    assert callback.stopped_epoch == (1 if direction == "min" else 0)  # the value rose
