"""The epoch loops of fit / evaluate / predict: they orchestrate, the math is in `step.py`."""
from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np
import torch

from epochal.callbacks.backup_and_restore import BackupAndRestore
from epochal.callbacks.callback import CallbackList
from epochal.callbacks.history import History
from epochal.callbacks.progbar_logger import ProgbarLogger
from epochal.training.trackers import LazyLogs

VALIDATION_PREFIX = "val_"


def resolve_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"`verbose` must be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}")
    return int(verbose)


def make_callback_list(callbacks, model, verbose: int, add_history: bool, **params) -> CallbackList:
    """The user's callbacks plus Keras's defaults: a ProgbarLogger first when verbose, History last."""
    if callbacks is not None and not isinstance(callbacks, (list, tuple, CallbackList)):
        callbacks = [callbacks]
    callback_list = list(callbacks or [])
    if verbose and not any(isinstance(c, ProgbarLogger) for c in callback_list):
        callback_list.insert(0, ProgbarLogger())
    if add_history:
        callback_list.append(History())
    _run_backups_last(callback_list)
    return CallbackList(callback_list, model=model, verbose=verbose, **params)


def _run_backups_last(callback_list: list) -> None:
    """Move BackupAndRestore after the other callbacks, and tell it which they are.

    Last, it restores their state after their own on_train_begin has reset it, and it backs up at
    the end of an epoch only once they have all seen that epoch.
    """
    backups = [c for c in callback_list if isinstance(c, BackupAndRestore)]
    others = [c for c in callback_list if not isinstance(c, BackupAndRestore)]
    callback_list[:] = others + backups
    for backup in backups:
        backup.companions = others


def run_epoch(steps, data, callbacks: CallbackList, shuffle: bool, steps_per_epoch: Optional[int], model) -> int:
    """One pass of training steps; returns how many steps ran."""
    values = steps.train_values
    batch_logs = LazyLogs(values) if callbacks.wants("on_train_batch_end") else None
    wants_begin = callbacks.wants("on_train_batch_begin")
    step_count = 0
    for step_count, (x, y, sample_weight) in enumerate(data.batches(shuffle, steps_per_epoch), start=1):
        if wants_begin:
            callbacks.on_train_batch_begin(step_count - 1)
        steps.train_step(x, y, sample_weight)
        if batch_logs is not None:
            callbacks.on_train_batch_end(step_count - 1, batch_logs)
        if model.stop_training:
            break
    return step_count


def run_test(steps, data, callbacks: Optional[CallbackList], steps_limit: Optional[int] = None) -> dict[str, float]:
    """Evaluate over `data`; returns the flat logs."""
    values = steps.test_values
    values.reset()
    if callbacks is not None:
        callbacks.on_test_begin()
    batch_logs = LazyLogs(values) if callbacks is not None and callbacks.wants("on_test_batch_end") else None
    for index, (x, y, sample_weight) in enumerate(data.batches(False, steps_limit)):
        if callbacks is not None and callbacks.wants("on_test_batch_begin"):
            callbacks.on_test_batch_begin(index)
        steps.test_step(x, y, sample_weight)
        if batch_logs is not None:
            callbacks.on_test_batch_end(index, batch_logs)
    logs = values.results() if values.loss_tracker.count else {}
    if callbacks is not None:
        callbacks.on_test_end(logs)
    return logs


def validation_due(epoch: int, validation_freq) -> bool:
    """Keras's rule: every `validation_freq` epochs, or the listed (1-based) epochs."""
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return (epoch + 1) in validation_freq


def run_fit(model, steps, train_data, validation_data, *, epochs: int, initial_epoch: int, shuffle: bool,
            callbacks: CallbackList, steps_per_epoch: Optional[int], validation_steps: Optional[int],
            validation_freq) -> History:
    history = next(c for c in callbacks if isinstance(c, History))
    model.stop_training = False
    callbacks.on_train_begin()
    # BackupAndRestore sets this in on_train_begin to resume after the last completed epoch.
    initial_epoch = model.__dict__.pop("_resume_from_epoch", initial_epoch)
    logs: dict[str, float] = {}
    for epoch in range(initial_epoch, epochs):
        steps.train_values.reset()
        callbacks.on_epoch_begin(epoch)
        ran = run_epoch(steps, train_data, callbacks, shuffle, steps_per_epoch, model)
        if ran == 0:
            warnings.warn("The training data ran out: no batch was produced for epoch "
                          f"{epoch + 1}. Pass steps_per_epoch, or data that can be iterated again.", stacklevel=3)
            break
        logs = steps.train_values.results()
        if validation_data is not None and validation_due(epoch, validation_freq):
            validation_logs = run_test(steps, validation_data, callbacks, validation_steps)
            logs.update({VALIDATION_PREFIX + key: value for key, value in validation_logs.items()})
        callbacks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callbacks.on_train_end(logs)
    return history


def run_predict(steps, data, callbacks: CallbackList, steps_limit: Optional[int] = None) -> np.ndarray:
    callbacks.on_predict_begin()
    outputs = []
    for index, (x, _, _) in enumerate(data.batches(False, steps_limit)):
        callbacks.on_predict_batch_begin(index)
        batch_output = steps.predict_step(x)
        outputs.append(batch_output)
        callbacks.on_predict_batch_end(index, {"outputs": batch_output})
    callbacks.on_predict_end()
    if not outputs:
        raise ValueError("predict() received no data: `x` produced no batch.")
    if isinstance(outputs[0], (list, tuple)):  # a model with several outputs: one array per output
        return [torch.cat(per_output).cpu().numpy() for per_output in zip(*outputs)]
    return torch.cat(outputs).cpu().numpy()
