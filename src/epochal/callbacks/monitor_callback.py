"""`MonitorCallback`: the shared "is this value better than the best so far?" logic of EarlyStopping,
ModelCheckpoint and ReduceLROnPlateau, plus the argument checks those callbacks share."""
from __future__ import annotations

import numbers
import re
import warnings
from typing import Any, Mapping, Optional

import numpy as np

from epochal.callbacks.callback import Callback

MODES = ("auto", "min", "max")
VALIDATION_PREFIX = "val_"

# How mode='auto' reads a monitored name. Keras 3 asks each metric object for its direction; names are
# what the logs carry here, so the same directions are listed by name (Keras's metric classes' values).
_HIGHER_IS_BETTER = ("acc", "accuracy", "auc", "precision", "recall", "f1_score", "fbeta_score", "iou",
                     "r2_score", "cosine_similarity", "correlation", "sensitivity", "specificity")
_LOWER_IS_BETTER = ("loss", "error", "crossentropy", "hinge", "mse", "mae", "mape", "msle", "rmse", "logcosh",
                    "poisson", "divergence", "kld")


def direction_of(monitor: str) -> Optional[str]:
    """'min' or 'max' for a metric name as it appears in the logs, None when the name says nothing.

    Example:
        >>> direction_of("val_loss"), direction_of("val_accuracy"), direction_of("my_score")
        ('min', 'max', None)
    """
    name = monitor.removeprefix(VALIDATION_PREFIX).lower()
    if name == "loss" or name.endswith("_loss"):
        return "min"
    if any(name == word or name.endswith("_" + word) or name.startswith(word) for word in _HIGHER_IS_BETTER):
        return "max"
    if any(word in name for word in _LOWER_IS_BETTER):
        return "min"
    return None


def direction_of_compiled_metric(model, monitor: str) -> Optional[str]:
    """'min' or 'max' from the compiled metric that `monitor` names, None when there is none or it says nothing.

    Keras asks the metric object itself, so a renamed metric (`SparseCategoricalAccuracy(name='sca')`
    logged as 'val_sca') still has a direction: its `_direction` ('up'/'down') if it sets one, else
    what its class or function name says.
    """
    compiled = getattr(model, "compiled", None)
    metric_name = monitor.removeprefix(VALIDATION_PREFIX)
    for identifier in (compiled.metrics + compiled.weighted_metrics) if compiled is not None else []:
        name = identifier if isinstance(identifier, str) else getattr(identifier, "name",
                                                                      getattr(identifier, "__name__", None))
        if name != metric_name:
            continue
        declared = getattr(identifier, "_direction", None)
        if declared in ("up", "down"):
            return "max" if declared == "up" else "min"
        kind = identifier if isinstance(identifier, str) else getattr(identifier, "__name__", type(identifier).__name__)
        return direction_of(_snake_case(kind))
    return None


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def check_count(where: str, argument: str, value: Any) -> int:
    """Return `value` when it is an integer >= 0, else raise (patience, cooldown, start_from_epoch)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{where}: `{argument}` must be an integer >= 0. Received: {argument}={value!r}.")
    return int(value)


def check_save_freq(where: str, save_freq: Any) -> Any:
    """'epoch' or a positive number of batches."""
    if save_freq == "epoch":
        return save_freq
    if isinstance(save_freq, bool) or not isinstance(save_freq, numbers.Integral) or save_freq < 1:
        raise ValueError(f"{where}: `save_freq` must be 'epoch' or a positive integer (a number of batches). "
                         f"Received: save_freq={save_freq!r}.")
    return int(save_freq)


class MonitorCallback(Callback):
    """Base class of callbacks that watch one logged value and act when it stops improving.

    Args:
        monitor: The log key to watch, e.g. 'val_loss'.
        mode: 'min', 'max', or 'auto' (min for losses and errors, max for accuracy-like metrics).
        min_delta: Only a change larger than `|min_delta|` counts as an improvement.

    Raises:
        ValueError: `mode` is not one of 'auto', 'min', 'max'.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", min_delta: float = 0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"{type(self).__name__}: `mode` must be one of {MODES}. Received: mode={mode!r}.")
        if not isinstance(monitor, str):
            raise TypeError(f"{type(self).__name__}: `monitor` must be a log key such as 'val_loss'. "
                            f"Received: monitor={monitor!r}.")
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(min_delta)
        self.best: Optional[float] = None
        self._warned_missing = False

    @property
    def direction(self) -> str:
        """'min' or 'max': `mode`, or what mode='auto' infers from the monitored name (or the compiled
        metric of that name).

        Raises:
            ValueError: mode='auto' and the name does not say whether higher is better.
        """
        if self.mode != "auto":
            return self.mode
        direction = direction_of(self.monitor) or direction_of_compiled_metric(self.model, self.monitor)
        if direction is None:
            raise ValueError(f"{type(self).__name__} cannot tell whether monitor='{self.monitor}' should go up "
                             "or down. Pass mode='max' to keep the highest value or mode='min' to keep the lowest.")
        return direction

    def on_train_begin(self, logs=None):
        # Keras finds out at the first epoch end that it cannot tell the direction; say so before the
        # first step instead (the direction is read from the name, which is known already).
        _ = self.direction  # raises ValueError for mode='auto' on a name without a direction
        self._warned_missing = False

    def _is_improvement(self, current: float, reference: Optional[float]) -> bool:
        """Whether `current` beats `reference` by more than min_delta (always true against None)."""
        if reference is None:
            return True
        # Keras compares in float32; doing the same keeps every decision identical on the same logs.
        if self.direction == "min":
            return bool(np.float32(current + self.min_delta) < np.float32(reference))
        return bool(np.float32(current - self.min_delta) > np.float32(reference))

    def _monitored_value(self, logs: Optional[Mapping], action: str) -> Optional[float]:
        """The monitored value, or None (with a warning, once per training run) when it is not logged."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None and not self._warned_missing:
            self._warned_missing = True
            warnings.warn(f"{type(self).__name__} {action} on '{self.monitor}', which is not in the logs, so it "
                          f"does nothing. Available: {', '.join(logs) or 'none'}. If you monitor a validation "
                          "value, pass validation_data (or validation_split) to fit().", stacklevel=3)
        return value
