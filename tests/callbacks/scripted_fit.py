"""Drive callbacks through the hooks of a fit whose logs are scripted: nothing is trained.

The same driver feeds epochal's callbacks and real Keras's, so their decisions can be compared.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence

import pytest
import torch

import epochal as keras


@pytest.fixture
def one_thread():
    """Train on one thread: these models are tiny, and on a shared 2-core machine two torch threads
    competing with other processes make a step ten times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small_model(learning_rate: float = 0.1):
    """A compiled one-layer model: enough for callbacks that read weights or the optimizer."""
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    return model


def recording_model():
    """A small model whose save/save_weights only record (path, kind) in `model.saved`."""
    model = small_model()
    model.saved = []
    model.save = lambda path, overwrite=True: model.saved.append((path, "model"))
    model.save_weights = lambda path, overwrite=True: model.saved.append((path, "weights"))
    return model


def mark_weights(model, marker: float) -> None:
    """Fill every weight with `marker`, so restored weights tell which epoch they came from."""
    with torch.no_grad():
        for value in model.state_dict().values():
            value.fill_(marker)


def weight_marker(model) -> float:
    return float(next(iter(model.state_dict().values())).flatten()[0])


def run_script(callbacks: Iterable, model, epoch_logs: Sequence[dict], batches_per_epoch: int = 0,
               before_epoch_end: Optional[Callable[[int], None]] = None) -> list[dict]:
    """Call on_train_begin, then per epoch on_epoch_begin, the batch hooks and on_epoch_end with the
    scripted logs, stopping when `model.stop_training` is set, then on_train_end.

    Returns the logs each epoch ended with (callbacks may add keys such as 'learning_rate').
    """
    callbacks = list(callbacks)
    for callback in callbacks:
        callback.set_model(model)
        callback.set_params({"epochs": len(epoch_logs), "steps": batches_per_epoch, "verbose": 0})
    model.stop_training = False
    for callback in callbacks:
        callback.on_train_begin()
    finished = []
    for epoch, scripted in enumerate(epoch_logs):
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        for batch in range(batches_per_epoch):
            for callback in callbacks:
                callback.on_train_batch_begin(batch)
                callback.on_train_batch_end(batch, {"loss": 1.0 / (batch + 1)})
        if before_epoch_end is not None:
            before_epoch_end(epoch)
        logs = dict(scripted)
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        finished.append(logs)
        if model.stop_training:
            break
    for callback in callbacks:
        callback.on_train_end()
    return finished
