"""TensorBoard: event files that TensorBoard reads, written without TensorFlow."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import epochal as keras
from epochal.callbacks import TensorBoard
from tensorboard.backend.event_processing import event_accumulator  # the `tensorboard` test extra
from scripted_fit import one_thread  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


def read_events(folder):
    accumulator = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    accumulator.Reload()
    return accumulator


def scalars(accumulator, tag):
    return [(event.step, event.value) for event in accumulator.Scalars(tag)]


def fit_with(callback, tiny_images, epochs=2):
    x, y = tiny_images
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(name="flatten"),
                              keras.layers.Dense(10, name="dense")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], optimizer=keras.optimizers.SGD(0.05))
    history = model.fit(x[:128], y[:128], batch_size=32, epochs=epochs, validation_data=(x[128:], y[128:]),
                        verbose=0, callbacks=[callback])
    return model, history


def test_epoch_scalars_in_train_and_validation_runs_as_keras_names_them(tmp_path, tiny_images):
    _, history = fit_with(TensorBoard(tmp_path, write_graph=False), tiny_images)
    train, validation = read_events(tmp_path / "train"), read_events(tmp_path / "validation")
    for key in ("loss", "accuracy"):
        assert scalars(train, f"epoch_{key}") == [(epoch, pytest.approx(value, rel=1e-6))
                                                  for epoch, value in enumerate(history.history[key])]
        assert scalars(validation, f"epoch_{key}") == [(epoch, pytest.approx(value, rel=1e-6))
                                                       for epoch, value in enumerate(history.history["val_" + key])]
    assert scalars(train, "epoch_learning_rate") == [(0, pytest.approx(0.05)), (1, pytest.approx(0.05))]
    # Validation during fit is also logged against the optimizer's step count, as Keras does.
    assert [step for step, _ in scalars(validation, "evaluation_loss_vs_iterations")] == [4, 8]


def test_histograms_images_and_batch_scalars(tmp_path, tiny_images):
    fit_with(TensorBoard(tmp_path, histogram_freq=1, write_images=True, update_freq=2, write_graph=False,
                         write_steps_per_second=True), tiny_images)
    train = read_events(tmp_path / "train")
    tags = train.Tags()
    assert {"dense/kernel/histogram", "dense/bias/histogram"} <= set(tags["histograms"])
    assert [event.step for event in train.Histograms("dense/kernel/histogram")] == [0, 1]
    assert {"dense/kernel/image", "dense/bias/image"} <= set(tags["images"])
    assert [step for step, _ in scalars(train, "batch_loss")] == [2, 4, 6, 8]
    assert all(value > 0 for _, value in scalars(train, "epoch_steps_per_second"))


def test_graph_is_written_without_changing_the_training_run(tmp_path, tiny_images):
    keras.utils.set_random_seed(0)
    model_with_graph, _ = fit_with(TensorBoard(tmp_path, write_graph=True), tiny_images)
    keras.utils.set_random_seed(0)
    model_without, _ = fit_with(TensorBoard(tmp_path / "other", write_graph=False), tiny_images)
    assert read_events(tmp_path / "train").Graph() is not None
    for with_graph, without in zip(model_with_graph.get_weights(), model_without.get_weights()):
        np.testing.assert_array_equal(with_graph, without)


def test_missing_tensorboard_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        TensorBoard("logs")


@pytest.mark.parametrize("arguments, name", [
    ({"profile_batch": 5}, "profile_batch"), ({"profile_batch": (10, 20)}, "profile_batch"),
    ({"embeddings_freq": 1}, "embeddings_freq"), ({"histogram_freq": -1}, "histogram_freq"),
    ({"update_freq": 0}, "update_freq"), ({"update_freq": "step"}, "update_freq"),
])
def test_unsupported_or_bad_arguments(tmp_path, arguments, name):
    with pytest.raises(ValueError, match=name):
        TensorBoard(tmp_path, **arguments)
