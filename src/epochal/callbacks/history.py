"""`History`: the object `fit()` returns, a dict of lists of per-epoch metrics."""
from __future__ import annotations

from typing import Any

from epochal.callbacks.callback import Callback


class History(Callback):
    """Records the logs of every epoch: `history.history['val_loss'][i]` is epoch i+1's validation loss.

    Example:
        >>> history = History()
        >>> history.on_train_begin()
        >>> history.on_epoch_end(0, {"loss": 0.5})
        >>> history.history, history.epoch
        ({'loss': [0.5]}, [0])
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self

    def plot(self, metrics=("loss", "val_loss"), path=None, dpi: int = 300, **kwargs: Any):
        """Plot the curves with matplotlib; see `epochal.plotting.plot_history`."""
        from epochal.plotting import plot_history

        return plot_history(self, metrics=metrics, path=path, dpi=dpi, **kwargs)

    def diagnose(self, patience: int = 2, **kwargs: Any):
        """Best epoch, onset of overfitting and a verdict; see `epochal.diagnosis.diagnose`."""
        from epochal.diagnosis import diagnose

        return diagnose(self, patience=patience, **kwargs)
