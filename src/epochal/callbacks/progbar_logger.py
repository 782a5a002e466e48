"""`ProgbarLogger`: the progress display of fit/evaluate/predict, drawn with tqdm."""
from __future__ import annotations

import sys
import time
from typing import Mapping, Optional

from epochal.callbacks.callback import Callback

_REFRESH_SECONDS = 0.1


def format_logs(logs: Optional[Mapping]) -> str:
    """'loss: 0.5312 - accuracy: 0.8123' (Keras's style)."""
    return " - ".join(f"{key}: {_format_value(value)}" for key, value in (logs or {}).items())


def _format_value(value) -> str:
    value = float(value)
    return f"{value:.4f}" if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.4e}"


class ProgbarLogger(Callback):
    """Prints training progress: a live bar per epoch on a terminal (`verbose=1`), one line per epoch
    otherwise (`verbose=2`, or output redirected to a file), nothing with `verbose=0`.

    `fit()` adds one automatically when `verbose` is not 0.

    Example:
        >>> logger = ProgbarLogger()
    """

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self._bar = None
        self._epoch_start = 0.0
        self._last_refresh = 0.0

    @property
    def _out(self):
        return self.stream or sys.stdout

    def _interactive(self) -> bool:
        verbose = self.params.get("verbose", 1)
        is_terminal = getattr(self._out, "isatty", lambda: False)()
        return verbose == 1 and is_terminal

    # ---------------------------------------------------------------- training
    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs")
        self._epoch_start = time.perf_counter()
        if self._interactive():
            print(f"Epoch {epoch + 1}/{epochs}", file=self._out, flush=True)
            self._bar = self._new_bar(self.params.get("steps"))

    def on_train_batch_end(self, batch, logs=None):
        self._advance(logs)

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._epoch_start
        if self._bar is not None:
            self._close_bar_then_print(logs)
            return
        steps = self.params.get("steps")
        per_step = f" - {1000 * seconds / steps:.0f}ms/step" if steps else ""
        print(f"Epoch {epoch + 1}/{self.params.get('epochs')} - {seconds:.1f}s{per_step} - {format_logs(logs)}",
              file=self._out, flush=True)

    # ---------------------------------------------------------------- evaluate / predict
    def on_test_begin(self, logs=None):
        if self._bar is None and self.params.get("mode") == "test" and self._interactive():
            self._bar = self._new_bar(self.params.get("steps"))

    def on_test_batch_end(self, batch, logs=None):
        if self.params.get("mode") == "test":
            self._advance(logs)

    def on_test_end(self, logs=None):
        if self.params.get("mode") != "test":
            return
        if self._bar is not None:
            self._close_bar_then_print(logs)
        else:
            print(format_logs(logs), file=self._out, flush=True)

    def on_predict_begin(self, logs=None):
        if self._interactive():
            self._bar = self._new_bar(self.params.get("steps"))

    def on_predict_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(1)

    def on_predict_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # ---------------------------------------------------------------- helpers
    def _new_bar(self, total):
        from tqdm.auto import tqdm

        return tqdm(total=total, file=self._out, unit="step", leave=True, dynamic_ncols=True,
                    mininterval=_REFRESH_SECONDS,
                    bar_format="{n_fmt}/{total_fmt} {bar:20} {elapsed}<{remaining} {rate_fmt}{postfix}")

    def _close_bar_then_print(self, logs):
        # A terminal-wide bar cuts long postfixes (val_ metrics) short, so the final values get a line of
        # their own under the finished bar.
        self._bar.set_postfix_str("", refresh=False)
        self._bar.close()
        self._bar = None
        print(format_logs(logs), file=self._out, flush=True)

    def _advance(self, logs):
        if self._bar is None:
            return
        self._bar.update(1)
        now = time.perf_counter()
        # Reading the running metrics copies them from the device, so do it only when the bar redraws.
        if now - self._last_refresh >= _REFRESH_SECONDS:
            self._last_refresh = now
            self._bar.set_postfix_str(format_logs(logs), refresh=False)
