"""`LearningRateScheduler`: set the learning rate at the start of each epoch from a function."""
from __future__ import annotations

import inspect
import numbers
from typing import Callable

import numpy as np
import torch

from epochal.callbacks.callback import Callback


def _takes_learning_rate(schedule: Callable) -> bool:
    """Whether `schedule` accepts (epoch, lr); tf.keras 1 schedules take only (epoch)."""
    try:
        parameters = inspect.signature(schedule).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature: assume the current API
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters)


def _as_rate(value, epoch: int) -> float:
    """The schedule's answer as a float; a scalar tensor or array is accepted too."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 or isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"LearningRateScheduler: the schedule must return a number; for epoch {epoch} it "
                         f"returned {value!r} (of type {type(value).__name__}).")
    return float(value)


class LearningRateScheduler(Callback):
    """At the start of every epoch, set the learning rate to `schedule(epoch, lr)`.

    Each epoch's learning rate is written into the logs as `learning_rate`, so it appears in the
    history.

    Args:
        schedule: A function of the 0-based epoch and the current learning rate (a float) that
            returns the new rate. A function of the epoch alone is accepted too.
        verbose: 1 prints the rate set at each epoch. Defaults to 0.

    Raises:
        ValueError: (during fit) the schedule returned something that is not a number.

    Example:
        >>> import math
        >>> def schedule(epoch, lr):
        ...     return lr if epoch < 10 else lr * math.exp(-0.1)
        >>> scheduler = LearningRateScheduler(schedule)
    """

    def __init__(self, schedule: Callable, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise TypeError("LearningRateScheduler: `schedule` must be a function (epoch, lr) -> new lr. "
                            f"Received: schedule={schedule!r}.")
        self.schedule = schedule
        self.verbose = verbose
        self._passes_rate = _takes_learning_rate(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if self._passes_rate:
            answer = self.schedule(epoch, float(optimizer.learning_rate))
        else:
            answer = self.schedule(epoch)
        rate = _as_rate(answer, epoch)
        optimizer.learning_rate = rate
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
