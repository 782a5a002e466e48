"""`EarlyStopping`: stop training when the monitored value stops improving."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from epochal.callbacks.monitor_callback import MonitorCallback, check_count


class EarlyStopping(MonitorCallback):
    """Stop training once `monitor` has not improved for `patience` epochs.

    Decisions follow Keras 3 exactly: at each epoch end the wait counter goes up first, then an
    improvement (a change larger than `|min_delta|`) resets it; training stops when `wait >= patience`.
    With a `baseline`, an improvement resets the counter only if it also beats the baseline.

    Args:
        monitor: Log key to watch. Defaults to 'val_loss'.
        min_delta: Smallest change that counts as an improvement. Defaults to 0.
        patience: Epochs without improvement before stopping. Defaults to 0.
        verbose: 1 prints a line when it stops and when it restores weights. Defaults to 0.
        mode: 'auto', 'min' or 'max'; 'auto' is min for losses, max for accuracy-like metrics.
            Defaults to 'auto'.
        baseline: Value the monitored quantity must beat; training stops after `patience` epochs
            that do not. Defaults to None.
        restore_best_weights: Put back the weights of the best epoch when training ends, whatever
            ended it (this callback, another one, or the last epoch). Defaults to False.
        start_from_epoch: Epochs of warm-up before monitoring starts. Defaults to 0.

    Attributes:
        stopped_epoch: 0-based epoch at which training was stopped; 0 when it was not.
        best_epoch: 0-based epoch of the best value. best: that value.

    Example:
        >>> import numpy as np, epochal as keras
        >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
        >>> model.compile(loss="mse", optimizer="sgd")
        >>> early_stopping = EarlyStopping(monitor="loss", patience=2)
        >>> history = model.fit(np.ones((4, 3)), np.zeros(4), epochs=3, callbacks=[early_stopping], verbose=0)
        >>> early_stopping.stopped_epoch  # the loss kept falling, so training ran to the end
        0
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: Optional[float] = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0):
        super().__init__(monitor, mode, min_delta)
        self.patience = check_count("EarlyStopping", "patience", patience)
        self.start_from_epoch = check_count("EarlyStopping", "start_from_epoch", start_from_epoch)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self._reset()

    _resumable_attributes = ("wait", "stopped_epoch", "best", "best_epoch")

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.best_weights is not None:
            state["best_weights"] = [torch.from_numpy(np.array(weight)) for weight in self.best_weights]
        return state

    def load_state_dict(self, state) -> None:
        super().load_state_dict(state)
        if "best_weights" in state:
            self.best_weights = [tensor.numpy() for tensor in state["best_weights"]]

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights: Optional[list] = None
        self._warned_missing = False

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        # Allow instances to be re-used across fit() calls.
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitored_value(logs, "conditions early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Something to restore even if no epoch ever beats the baseline.
            self._remember_weights(epoch)
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self._remember_weights(epoch)
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def _remember_weights(self, epoch: int) -> None:
        self.best_epoch = epoch
        if self.restore_best_weights:
            # NumPy arrays, as Keras keeps them, so model.set_weights(callback.best_weights) works too.
            self.best_weights = self.model.get_weights()
