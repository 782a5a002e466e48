"""`LambdaCallback`: a callback built from plain functions."""
from __future__ import annotations

from typing import Callable, Optional

from epochal.callbacks.callback import Callback
from epochal.utils.lookup import check_kwargs

HOOKS = tuple(name for name in vars(Callback) if name.startswith("on_"))


class LambdaCallback(Callback):
    """Run the given functions at the matching hooks.

    `on_epoch_begin`/`on_epoch_end` receive `(epoch, logs)`, `on_train_begin`/`on_train_end`
    receive `(logs)`, batch hooks receive `(batch, logs)`. Any other hook of `Callback` can be given
    by name as a keyword argument, e.g. `on_test_end=fn`.

    Raises:
        TypeError: a keyword argument that is not a callback hook, or a value that is not callable.

    Example:
        >>> epochs_seen = []
        >>> callback = LambdaCallback(on_epoch_end=lambda epoch, logs: epochs_seen.append(epoch))
        >>> callback.on_epoch_end(0, {})
        >>> epochs_seen
        [0]
    """

    def __init__(self, on_epoch_begin: Optional[Callable] = None, on_epoch_end: Optional[Callable] = None,
                 on_train_begin: Optional[Callable] = None, on_train_end: Optional[Callable] = None,
                 on_train_batch_begin: Optional[Callable] = None, on_train_batch_end: Optional[Callable] = None,
                 **kwargs: Callable):
        super().__init__()
        check_kwargs("LambdaCallback()", kwargs, HOOKS)
        functions = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                         on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                         on_train_batch_end=on_train_batch_end, **kwargs)
        self._functions = {hook: function for hook, function in functions.items() if function is not None}
        for hook, function in self._functions.items():
            if not callable(function):
                raise TypeError(f"LambdaCallback: `{hook}` must be a function. Received: {hook}={function!r}.")
            setattr(self, hook, function)

    def _overrides(self, hook: str) -> bool:
        # The functions live on the instance, not the class, so the batch-hook dispatch must look here.
        return hook in self._functions
