"""`ModelCheckpoint`: save the model (or its weights) during training."""
from __future__ import annotations

import os
from typing import Any, Mapping, Optional

from epochal.callbacks.monitor_callback import MonitorCallback, check_save_freq

MODEL_SUFFIXES = (".keras", ".h5")
WEIGHTS_SUFFIX = ".h5"


class ModelCheckpoint(MonitorCallback):
    """Save the model at the end of every epoch, or every `save_freq` batches.

    `filepath` may hold placeholders: `{epoch:02d}` is the 1-based epoch, `{batch}` the 1-based batch
    (with an integer `save_freq`), and any log key, e.g. `'model-{epoch:02d}-{val_loss:.2f}.keras'`.
    Missing folders are created. The file is whatever `model.save` (or `model.save_weights`) writes
    for its suffix, and those write atomically, so a crash never leaves a half-written checkpoint.

    Args:
        filepath: Where to save: '.keras' or '.h5' for the whole model; with `save_weights_only`,
            '.weights.h5' (Keras 3 layout) or another '.h5' (tf.keras 2 layout).
        monitor: Log key compared when `save_best_only`. Defaults to 'val_loss'.
        verbose: 1 prints a line for each decision. Defaults to 0.
        save_best_only: Save only when `monitor` improves on the best seen so far (kept across fit
            calls, as the file on disk is). Defaults to False.
        save_weights_only: Save only the weights. Defaults to False.
        mode: 'auto', 'min' or 'max'. Defaults to 'auto'.
        save_freq: 'epoch', or a number of batches. Defaults to 'epoch'.
        initial_value_threshold: The value to beat for the first save with `save_best_only`.
            Defaults to None.

    Raises:
        ValueError: a suffix `model.save` cannot write, or a bad `save_freq`.

    Example:
        >>> checkpoint = ModelCheckpoint("checkpoints/model-{epoch:02d}.keras")
        >>> checkpoint.filepath_for(epoch=2, logs={"val_loss": 0.25})
        'checkpoints/model-03.keras'
    """

    def __init__(self, filepath: Any, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto", save_freq: Any = "epoch",
                 initial_value_threshold: Optional[float] = None):
        super().__init__(monitor, mode)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = check_save_freq("ModelCheckpoint", save_freq)
        self.best = initial_value_threshold
        self._check_suffix()
        self._current_epoch = 0
        self._batches_since_save = 0
        self._last_batch_seen: Optional[int] = None

    _resumable_attributes = ("best", "_batches_since_save", "_last_batch_seen")

    def _check_suffix(self) -> None:
        if self.save_weights_only and not self.filepath.endswith(WEIGHTS_SUFFIX):
            raise ValueError("ModelCheckpoint: with save_weights_only=True the filepath must end in '.weights.h5' "
                             f"(or '.h5' for the tf.keras 2 layout). Received: filepath={self.filepath!r}.")
        if not self.save_weights_only and not self.filepath.endswith(MODEL_SUFFIXES):
            raise ValueError("ModelCheckpoint: the filepath must end in '.keras' (Keras 3 format) or '.h5' "
                             f"(legacy HDF5). Received: filepath={self.filepath!r}. Add one of these suffixes.")

    def on_train_begin(self, logs=None):
        # `best` and the batch count carry over to the next fit, as in Keras (the file on disk does too).
        if self.save_best_only:
            super().on_train_begin(logs)
        self._warned_missing = False

    def _overrides(self, hook: str) -> bool:
        # Saving once an epoch needs no call per batch.
        if hook == "on_train_batch_end" and self.save_freq == "epoch":
            return False
        return super()._overrides(hook)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._batch_save_due(batch):
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _batch_save_due(self, batch: int) -> bool:
        """Counts batches across epochs (the batch index restarts at 0 each epoch)."""
        if self.save_freq == "epoch":
            return False
        new_epoch = self._last_batch_seen is None or batch <= self._last_batch_seen
        self._batches_since_save += batch + 1 if new_epoch else batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            return True
        return False

    def filepath_for(self, epoch: int, logs: Optional[Mapping] = None, batch: Optional[int] = None) -> str:
        """`filepath` with its placeholders filled (epoch and batch given 0-based, written 1-based).

        Raises:
            KeyError: a placeholder names a value that is not in the logs.
        """
        logs = dict(logs or {})
        values = {"epoch": epoch + 1, **logs}
        if batch is not None and "batch" not in logs:
            values["batch"] = batch + 1
        try:
            return self.filepath.format(**values)
        except KeyError as error:
            raise KeyError(f"ModelCheckpoint cannot fill the placeholder {error} of filepath '{self.filepath}': "
                           f"the logs hold {sorted(logs)} (plus 'epoch'"
                           f"{' and batch' if batch is not None else ''}).") from None

    def _save(self, epoch: int, batch: Optional[int], logs: Optional[Mapping]) -> None:
        filepath = self.filepath_for(epoch, logs, batch)
        if not self._should_save(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(f"ModelCheckpoint: filepath '{filepath}' is an existing folder. Give a file "
                                    "name inside it, e.g. os.path.join(folder, 'model.keras').")
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        self._say(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _should_save(self, epoch: int, logs: Optional[Mapping], filepath: str) -> bool:
        if not self.save_best_only:
            self._say(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = self._monitored_value(logs, "can save the best model only")
        if current is None:
            return True  # as Keras: without the value, fall back to saving every time
        best_text = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            self._say(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_text} to {current:.5f}, "
                      f"saving model to {filepath}")
            self.best = current
            return True
        self._say(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_text}")
        return False

    def _say(self, message: str) -> None:
        if self.verbose > 0:
            print(message)
