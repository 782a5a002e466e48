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
        self._resume_at_size: Optional[int] = None
        self._size_after_last_row = 0

    def on_train_begin(self, logs=None):
        self._close()
        self.keys = None
        # The file is opened at the first row, so that a BackupAndRestore resuming this run can
        # hand back the file's state first (see load_state_dict) before anything is overwritten.
        self._resume_at_size: Optional[int] = None
        self._size_after_last_row = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = self._columns(logs)
        if self.writer is None:
            self._open()
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()
        self._size_after_last_row = self.csv_file.tell()

    def on_train_end(self, logs=None):
        if self.csv_file is None and self._resume_at_size is None:
            self._open_file()  # a fit without epochs still leaves the (empty) file, as Keras's does
        self._close()

    def state_dict(self) -> dict:
        """The file's length after the last complete row, and its columns."""
        return {"size": self._size_after_last_row, "keys": self.keys}

    def load_state_dict(self, state) -> None:
        """Resume the file: rows written after the backup are dropped, the next row follows it."""
        self._resume_at_size = int(state["size"])
        self._size_after_last_row = self._resume_at_size
        self.keys = state["keys"]

    def _open(self) -> None:
        self._open_file()
        self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, delimiter=self.sep)
        if self._write_header:
            self.writer.writeheader()

    def _open_file(self) -> None:
        folder = os.path.dirname(self.filename)
        if folder:
            os.makedirs(folder, exist_ok=True)
        resuming = self._resume_at_size is not None and os.path.exists(self.filename)
        if resuming:
            with open(self.filename, "r+b") as existing:
                existing.truncate(min(self._resume_at_size, os.path.getsize(self.filename)))
        keep_rows = resuming or self.append
        self._write_header = not (keep_rows and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0)
        # newline='' lets the csv module end rows with '\r\n', exactly as Keras's files do.
        self.csv_file = open(self.filename, "a" if keep_rows else "w", newline="", encoding="utf-8")

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
        self.csv_file = None
        self.writer = None
