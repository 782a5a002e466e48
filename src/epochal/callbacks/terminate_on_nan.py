"""`TerminateOnNaN`: stop training as soon as the loss becomes NaN or infinite."""
from __future__ import annotations

import math

from epochal.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose running loss is NaN or infinite.

    Args:
        raise_error: Raise a RuntimeError at once instead of stopping gracefully. The graceful stop
            lets every callback's `on_train_end` run (EarlyStopping restores weights, BackupAndRestore
            deletes its backup); raising skips them, keeping the backup for a later resume.
            Defaults to False.

    Example:
        >>> terminate = TerminateOnNaN()
        >>> terminate.on_train_batch_end(0, {"loss": 0.5})  # a finite loss: nothing happens
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                               "Terminating training immediately.")
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True
