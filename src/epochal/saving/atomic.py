"""Where a save may go, and the atomic write (temporary file + `os.replace`) every save uses.

A crash, a full disk or an exception half-way through a save leaves the previous file untouched,
because the target only changes in the final rename (see `epochal.utils.atomic_files`).
"""
from __future__ import annotations

from pathlib import Path

from epochal.saving.files import as_path
from epochal.utils.atomic_files import atomic_write

__all__ = ["atomic_write", "prepare_target", "refuse_folder"]


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
