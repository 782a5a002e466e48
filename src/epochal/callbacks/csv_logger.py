"""`CSVLogger`: stream each epoch's logs to a CSV file."""
from __future__ import annotations

import csv
import os
from typing import Any, Optional

from epochal.callbacks.callback import Callback


def _cell(value: Any) -> Any:
    """Numbers and strings as they are; a list or array as '"[a, b, c]"'.

    The quotes are part of the text, as in the files Keras writes (the csv module then doubles them),
    so that scripts that parse Keras's logs read ours the same way.
    """
    if isinstance(value, str) or not hasattr(value, "__iter__") or getattr(value, "ndim", None) == 0:
        return value
    return f'"[{", ".join(map(str, value))}]"'


class CSVLogger(Callback):
    """Write one row per epoch: `epoch` (0-based) then every log key in sorted order, as Keras does.

    Each row is written whole and flushed, so a crash loses at most the epoch in progress. When the
    first epoch has no validation values, `val_` columns are reserved anyway and hold 'NA'.

    Args:
        filename: The CSV file, e.g. 'run/log.csv' (missing folders are created).
        separator: Field separator. Defaults to ','.
        append: Add rows to an existing file (its header is kept) instead of overwriting it.
            Useful when resuming training. Defaults to False.

    Example:
        >>> logger = CSVLogger("training.log")
    """

    def __init__(self, filename: Any, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: Optional[list[str]] = None
        self.writer = None
        self.csv_file = None
        self._write_header = True

    def on_train_begin(self, logs=None):
        self._close()
        folder = os.path.dirname(self.filename)
        if folder:
            os.makedirs(folder, exist_ok=True)
        self._write_header = not (self.append and os.path.exists(self.filename)
                                  and os.path.getsize(self.filename) > 0)
        # newline='' lets the csv module end rows with '\r\n', exactly as Keras's files do.
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")
        self.keys = None
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = self._columns(logs)
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, delimiter=self.sep)
            if self._write_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        self._close()

    @staticmethod
    def _columns(logs) -> list[str]:
        keys = sorted(logs)
        if keys and not any(key.startswith("val_") for key in keys):
            # Validation may only start later (validation_freq); keep a column for it.
            keys += [f"val_{key}" for key in keys]
        return keys

    def _close(self) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None
