"""`ReduceLROnPlateau`: lower the learning rate when the monitored value stops improving."""
from __future__ import annotations

from typing import Any

import numpy as np

from epochal.callbacks.monitor_callback import MonitorCallback, check_count
from epochal.utils.lookup import check_kwargs


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by `factor` after `patience` epochs without improvement.

    Each epoch's learning rate is written into the logs as `learning_rate`, so it appears in the
    history. Decisions follow Keras 3.

    Args:
        monitor: Log key to watch. Defaults to 'val_loss'.
        factor: New rate = rate * factor; must be below 1. Defaults to 0.1.
        patience: Epochs without improvement before reducing. Defaults to 10.
        verbose: 1 prints a line for each reduction. Defaults to 0.
        mode: 'auto', 'min' or 'max'. Defaults to 'auto'.
        min_delta: Smallest change that counts as an improvement. Defaults to 1e-4.
            (tf.keras 2's `epsilon` keyword is accepted as an alias.)
        cooldown: Epochs to wait after a reduction before counting again. Defaults to 0.
        min_lr: The rate never goes below this. Defaults to 0.

    Raises:
        ValueError: `factor` >= 1, or a negative `patience`/`cooldown`.

    Example:
        >>> reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=0.001)
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0, **kwargs: Any):
        check_kwargs("ReduceLROnPlateau()", kwargs, ["epsilon"])
        super().__init__(monitor, mode, kwargs.get("epsilon", min_delta))
        if not factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: `factor` must be below 1 (new rate = rate * factor). "
                             f"Received: factor={factor!r}.")
        self.factor = factor
        self.patience = check_count("ReduceLROnPlateau", "patience", patience)
        self.cooldown = check_count("ReduceLROnPlateau", "cooldown", cooldown)
        self.verbose = verbose
        self.min_lr = min_lr
        self._reset()

    _resumable_attributes = ("best", "wait", "cooldown_counter")

    def _reset(self) -> None:
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0
        self._warned_missing = False

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._reset()

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = self._monitored_value(logs, "conditions learning-rate reduction")
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce(self, epoch: int) -> bool:
        """Lower the rate unless it already sits at min_lr; returns whether it was lowered."""
        optimizer = self.model.optimizer
        old_rate = float(optimizer.learning_rate)
        # Keras holds the rate in float32; comparing there keeps the decisions identical to Keras's.
        if not np.float32(old_rate) > np.float32(self.min_lr):
            return False
        new_rate = max(old_rate * self.factor, self.min_lr)
        optimizer.learning_rate = new_rate
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_rate}.")
        return True
