"""Atomic file writes: write a temporary file beside the target, then `os.replace` it into place.

A crash, a full disk or an exception half-way through a save leaves the previous file untouched and
no temporary file behind, because the target only changes in the final rename.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Callable

from epochal.saving.files import as_path


def prepare_target(filepath, overwrite: bool) -> Path:
    """Check where a save will go and create missing parent folders.

    Raises:
        IsADirectoryError: the target is an existing folder.
        NotADirectoryError: a folder on the way to the target is a file.
        FileExistsError: the target exists and `overwrite` is False.
    """
    path = refuse_folder(as_path(filepath))
    if path.exists() and not overwrite:
        raise FileExistsError(f"'{path}' already exists and overwrite=False. Pass overwrite=True to replace it, "
                              "or choose another name.")
    for folder in reversed(path.parents):
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(f"Cannot save to '{path}': '{folder}' is a file, not a folder. Choose another "
                                     "path.")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def refuse_folder(path: Path) -> Path:
    """`path`, unless it is an existing folder (IsADirectoryError naming it)."""
    if path.is_dir():
        raise IsADirectoryError(f"Cannot save to '{path}': it is a folder. Give a file name, "
                                f"e.g. '{path / 'model.keras'}'.")
    return path


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(temporary_path)`, then move the finished file onto `path` in one step.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
        >>> atomic_write(target, lambda temporary: temporary.write_text("done"))
        >>> target.read_text()
        'done'
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    # Opening with "x" (not mkstemp) gives the file the user's usual permissions (umask), not 0600.
    open(temporary, "xb").close()
    try:
        write(temporary)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
