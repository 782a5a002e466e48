"""What a path holds before anything parses it: checks, format sniffing and readable errors.

Every loader first calls `readable_file` (a missing file, a folder or an empty file is reported with
its path) and then parses inside `reading(...)`, which turns any low-level failure of h5py, zipfile,
json or torch into a `FileFormatError` naming the file. Parsing only reads plain values (arrays,
dicts); models are changed afterwards, so a damaged file never leaves a model half-loaded.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
# HDF5 allows a user block before the superblock: the signature may sit at 0, 512, 1024, 2048, ...
HDF5_OFFSETS = (0, 512, 1024, 2048, 4096)

MODEL_FORMATS = ("'.keras' (Keras 3 zip archive: config.json, metadata.json, model.weights.h5) or "
                 "'.h5' / '.hdf5' (legacy HDF5 model file, as tf.keras 2 wrote)")
WEIGHTS_FORMATS = ("'.weights.h5' (Keras 3 layout), any other '.h5' / '.hdf5' name (tf.keras 2 legacy layout, "
                   "e.g. 'model-weight.h5'), '.safetensors', or '.pt' / '.pth' (a PyTorch state_dict)")


class FileFormatError(ValueError):
    """A file exists but is not a valid model or weights file (truncated, damaged, or of another kind).

    The message names the file and what was wrong with it.
    """


def as_path(filepath: Any, argument: str = "filepath") -> Path:
    """`filepath` as a Path; str and os.PathLike are accepted."""
    if isinstance(filepath, (str, os.PathLike)):
        return Path(filepath)
    raise TypeError(f"`{argument}` must be a path (str or pathlib.Path). "
                    f"Received: {argument}={filepath!r} of type {type(filepath).__name__}.")


def readable_file(filepath: Any, formats: str = MODEL_FORMATS) -> Path:
    """Check that `filepath` is an existing, non-empty file and return it as a Path.

    Args:
        filepath: the path the user gave.
        formats: the formats the caller reads, listed when a folder is given. Defaults to the model formats.

    Raises:
        FileNotFoundError: nothing exists at the path.
        IsADirectoryError: the path is a folder.
        FileFormatError: the file is empty.
    """
    path = as_path(filepath)
    if not path.exists():
        raise FileNotFoundError(f"No file found at '{path}'. Check the path and the current working directory "
                                f"({os.getcwd()}).")
    if path.is_dir():
        raise IsADirectoryError(f"'{path}' is a folder, not a model or weights file. epochal reads single files: "
                                f"{formats}. A TensorFlow SavedModel folder or checkpoint directory cannot be "
                                "loaded; re-save it with Keras as '.keras' or '.h5'.")
    if path.stat().st_size == 0:
        raise FileFormatError(f"'{path}' is empty (0 bytes), so it holds no model or weights. It was probably "
                              "cut off while being written; save it again.")
    return path


def sniff(path: Path) -> str:
    """'zip', 'hdf5', 'safetensors' or 'unknown', from the first bytes of the file."""
    with open(path, "rb") as handle:
        head = handle.read(8)
        if head.startswith(ZIP_SIGNATURE):
            return "zip"
        for offset in HDF5_OFFSETS:
            handle.seek(offset)
            if handle.read(8) == HDF5_SIGNATURE:
                return "hdf5"
        handle.seek(8)
        if len(head) == 8 and handle.read(1) == b"{":
            return "safetensors"
    return "unknown"


def describe_start(path: Path) -> str:
    """The first bytes of a file, for messages about files of an unexpected kind."""
    with open(path, "rb") as handle:
        return repr(handle.read(16))


@contextlib.contextmanager
def reading(path: Path, what: str) -> Iterator[None]:
    """Turn every failure while parsing `path` into a FileFormatError naming the file.

    Our own FileFormatErrors and PermissionErrors (a real I/O answer, not damage) pass through.
    """
    try:
        yield
    except (FileFormatError, PermissionError):
        raise
    except Exception as error:  # noqa: BLE001 - anything a parser throws here means a bad file
        detail = str(error) or type(error).__name__
        raise FileFormatError(f"Could not read '{path}' as {what}: the file is truncated, damaged or of another "
                              f"kind ({type(error).__name__}: {detail}).") from error


def suffix_of(path: Path) -> str:
    """'.weights.h5' for Keras 3 weight files, otherwise the lower-cased last suffix ('.h5', '.keras', ...)."""
    name = path.name.lower()
    if name.endswith(".weights.h5"):
        return ".weights.h5"
    return path.suffix.lower()
