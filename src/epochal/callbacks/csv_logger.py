"""`CSVLogger`: each epoch's logs as a row of a CSV file, written atomically."""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Optional

from epochal.callbacks.callback import Callback
from epochal.utils.atomic_files import atomic_write


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

    After each epoch the whole log is written to a temporary file and moved onto `filename`
    (`os.replace`), so a crash at any instant leaves the file as it was after the previous epoch, never
    a half-written row; with `append=False` the old file stays until the first new row replaces it.
    When the first epoch has no validation values, `val_` columns are reserved anyway and hold 'NA'.

    Args:
        filename: The CSV file, e.g. 'run/log.csv' (missing folders are created).
        separator: Field separator. Defaults to ','.
        append: Add rows to an existing file (its header is kept) instead of overwriting it.
            Useful when resuming training by hand; `BackupAndRestore` resumes the file by itself.
            Defaults to False.

    Example:
        >>> logger = CSVLogger("training.log")
    """

    def __init__(self, filename: Any, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: Optional[list[str]] = None
        self._text: Optional[str] = None  # the file's content so far; None until the first row
        self._resume_at_size: Optional[int] = None

    def on_train_begin(self, logs=None):
        self.keys = None
        self._text = None
        self._resume_at_size = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = self._columns(logs)
        if self._text is None:
            self._text = self._text_to_continue()
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        # newline='' semantics: the csv module ends rows with '\r\n', exactly as Keras's files do.
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=["epoch"] + self.keys, delimiter=self.sep)
        if not self._text:
            writer.writeheader()
        writer.writerow(row)
        self._text += buffer.getvalue()
        self._write()

    def on_train_end(self, logs=None):
        if self._text is None and self._resume_at_size is None and not (self.append and os.path.exists(self.filename)):
            self._text = ""
            self._write()  # a fit without epochs still leaves the (empty) file, as Keras's does

    def state_dict(self) -> dict:
        """How long the file was after the last complete row, and its columns."""
        return {"size": len((self._text or "").encode("utf-8")), "keys": self.keys}

    def load_state_dict(self, state) -> None:
        """Resume the file: rows written after the backup are dropped, the next row follows it."""
        self._resume_at_size = int(state["size"])
        self.keys = state["keys"]

    def _text_to_continue(self) -> str:
        keeps_rows = self._resume_at_size is not None or self.append
        if not keeps_rows or not os.path.exists(self.filename):
            return ""
        with open(self.filename, "rb") as existing:
            content = existing.read() if self._resume_at_size is None else existing.read(self._resume_at_size)
        return content.decode("utf-8")

    def _write(self) -> None:
        path = Path(self.filename)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = self._text
        atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8", newline=""))

    @staticmethod
    def _columns(logs) -> list[str]:
        keys = sorted(logs)
        if keys and not any(key.startswith("val_") for key in keys):
            # Validation may only start later (validation_freq); keep a column for it.
            keys += [f"val_{key}" for key in keys]
        return keys
