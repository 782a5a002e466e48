"""The `Callback` base class with every Keras hook, and `CallbackList`, which dispatches them."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

import numpy as np

_BATCH_HOOKS = tuple(f"on_{mode}_batch_{when}" for mode in ("train", "test", "predict") for when in ("begin", "end"))


class Callback:
    """Base class for callbacks: override the hooks you need.

    `self.model` is the model being trained (set `self.model.stop_training = True` to stop), and
    `self.params` holds `epochs`, `steps` and `verbose`. Epoch and batch numbers are 0-based.

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(epoch, round(logs["loss"], 2))
    """

    def __init__(self):
        self.model = None
        self.params: dict[str, Any] = {}
        self.validation_data = None

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...

    # tf.keras 2 names, kept so ported callbacks still run.
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    def _overrides(self, hook: str) -> bool:
        return getattr(type(self), hook) is not getattr(Callback, hook)

    # Attributes a resumed run needs to decide as the interrupted one would have; see state_dict().
    _resumable_attributes: tuple[str, ...] = ()

    def state_dict(self) -> dict[str, Any]:
        """The state this callback has built up during `fit`, for `BackupAndRestore` to keep.

        Holds only numbers, strings, None, tensors, lists and dicts, so a backup of it loads with
        `torch.load(weights_only=True)`. The base class returns the attributes named in
        `_resumable_attributes` (e.g. EarlyStopping's `wait` and `best`); callbacks without such
        state return {}.

        Example:
            >>> import epochal as keras
            >>> keras.callbacks.EarlyStopping(patience=2).state_dict()["wait"]
            0
        """
        return {name: _plain(getattr(self, name)) for name in self._resumable_attributes}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take back what `state_dict()` returned (called by `BackupAndRestore` when it resumes)."""
        for name in self._resumable_attributes:
            if name in state:
                setattr(self, name, state[name])


def _plain(value: Any) -> Any:
    """NumPy scalars as Python numbers: torch.load(weights_only=True) refuses NumPy objects."""
    return value.item() if isinstance(value, np.generic) else value


class CallbackList:
    """Calls each hook on every callback in order.

    Batch hooks run 1500 times an epoch, so only the callbacks that override a batch hook are called
    for it; the others cost nothing per step.
    """

    def __init__(self, callbacks: Optional[Iterable[Callback]] = None, model=None, **params: Any):
        self.callbacks: list[Callback] = list(callbacks or [])
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError("Each entry of `callbacks` must be a keras.callbacks.Callback instance. "
                                f"Received: {callback!r}")
        self.params = params
        if model is not None:
            self.set_model(model)
        self.set_params(params)

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def set_model(self, model) -> None:
        self.model = model
        for callback in self.callbacks:
            callback.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)
        self._batch_listeners = {hook: [c for c in self.callbacks if c._overrides(hook)] for hook in _BATCH_HOOKS}
        # tf.keras 2's on_batch_begin/end are the training-batch hooks.
        for legacy, hook in (("on_batch_begin", "on_train_batch_begin"), ("on_batch_end", "on_train_batch_end")):
            self._batch_listeners[hook] += [_LegacyBatchHook(c, legacy) for c in self.callbacks if c._overrides(legacy)]

    def wants(self, hook: str) -> bool:
        """Whether any callback listens to batch hook `hook` (lets the loop skip building batch logs)."""
        return bool(self._batch_listeners[hook])

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def _call_batch(self, hook: str, batch: int, logs: Optional[Mapping]) -> None:
        for callback in self._batch_listeners[hook]:
            getattr(callback, hook)(batch, logs)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs)
    def on_test_begin(self, logs=None): self._call("on_test_begin", logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs)
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs)
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs)
    def on_train_batch_begin(self, batch, logs=None): self._call_batch("on_train_batch_begin", batch, logs)
    def on_train_batch_end(self, batch, logs=None): self._call_batch("on_train_batch_end", batch, logs)
    def on_test_batch_begin(self, batch, logs=None): self._call_batch("on_test_batch_begin", batch, logs)
    def on_test_batch_end(self, batch, logs=None): self._call_batch("on_test_batch_end", batch, logs)
    def on_predict_batch_begin(self, batch, logs=None): self._call_batch("on_predict_batch_begin", batch, logs)
    def on_predict_batch_end(self, batch, logs=None): self._call_batch("on_predict_batch_end", batch, logs)

    def __iter__(self):
        return iter(self.callbacks)


class _LegacyBatchHook:
    """Routes on_train_batch_* to a tf.keras 2 callback's on_batch_* method."""

    def __init__(self, callback: Callback, legacy_hook: str):
        self.callback, self.legacy_hook = callback, legacy_hook

    def on_train_batch_begin(self, batch, logs=None):
        getattr(self.callback, self.legacy_hook)(batch, logs)

    on_train_batch_end = on_train_batch_begin
