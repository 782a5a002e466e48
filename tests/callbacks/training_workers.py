"""Training runs executed in child processes that the tests kill with SIGKILL.

The children are forked from a `forkserver` that has imported epochal once, so each starts in
milliseconds; every child gets one thread so that all runs compute in the same order.
"""
from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np
import torch

import epochal as keras

EPOCHS = 6


def forkserver():
    """A multiprocessing context whose children start with epochal already imported."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["epochal", "training_workers"])
    return context


def data(samples: int = 512, features: int = 32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, features)).astype("float32")
    y = (x[:, :4].argmax(axis=1)).astype("int64")
    return x, y


def dropout_model(features: int = 32):
    model = keras.Sequential([keras.Input(shape=(features,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(4, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


class ReportProgress(keras.callbacks.Callback):
    """Tell the parent each epoch end (and, if asked, each batch end); stall before the last epoch
    when the parent means to kill this run, so it cannot finish first."""

    def __init__(self, queue, report_batches: bool):
        super().__init__()
        self.queue, self.report_batches, self.epoch = queue, report_batches, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self.report_batches and epoch == EPOCHS - 1:
            time.sleep(600)

    def on_train_batch_end(self, batch, logs=None):
        if self.report_batches:
            self.queue.put(("batch", self.epoch, batch))

    def on_epoch_end(self, epoch, logs=None):
        self.queue.put(("epoch", epoch))


def train_with_backup(backup_dir, result_path, seed: int, to_be_killed: bool, queue) -> None:
    """Train EPOCHS epochs (resuming from `backup_dir` if it holds a backup), saving the final weights."""
    torch.set_num_threads(1)
    keras.utils.set_random_seed(seed)
    model = dropout_model()
    x, y = data()
    callbacks = [] if backup_dir is None else [keras.callbacks.BackupAndRestore(backup_dir)]
    callbacks.append(ReportProgress(queue, to_be_killed))
    history = model.fit(x, y, batch_size=16, epochs=EPOCHS, validation_split=0.125, verbose=0, callbacks=callbacks)
    np.savez(result_path, *model.get_weights())
    queue.put(("done", list(history.epoch)))


def checkpoint_every_batch(filepath, queue) -> None:
    """Save through ModelCheckpoint after every batch, for ever, reporting each save."""
    torch.set_num_threads(1)
    keras.utils.set_random_seed(1)
    model = dropout_model()
    x, y = data()
    weights_only = filepath.endswith(".weights.h5")
    callbacks = [keras.callbacks.ModelCheckpoint(filepath, save_freq=1, save_weights_only=weights_only),
                 keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: queue.put(("saved", batch)))]
    queue.put(("pid", os.getpid()))
    model.fit(x, y, batch_size=64, epochs=1000, verbose=0, callbacks=callbacks)


def backup_every_batch(backup_dir, queue) -> None:
    """Back up through BackupAndRestore after every batch, for ever, reporting each backup."""
    torch.set_num_threads(1)
    keras.utils.set_random_seed(2)
    model = dropout_model()
    x, y = data()
    callbacks = [keras.callbacks.BackupAndRestore(backup_dir, save_freq=1),
                 keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: queue.put(("saved", batch)))]
    model.fit(x, y, batch_size=64, epochs=1000, verbose=0, callbacks=callbacks)


def log_every_epoch(csv_path, log_dir, queue) -> None:
    """Log one-batch epochs through CSVLogger and TensorBoard, for ever, reporting each epoch."""
    torch.set_num_threads(1)
    keras.utils.set_random_seed(4)
    model = dropout_model()
    x, y = data(64)
    callbacks = [keras.callbacks.CSVLogger(csv_path), keras.callbacks.TensorBoard(log_dir, write_graph=False),
                 keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: queue.put(("epoch", epoch)))]
    model.fit(x, y, batch_size=64, epochs=100_000, validation_split=0.25, verbose=0, callbacks=callbacks)
