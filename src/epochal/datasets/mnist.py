"""MNIST: 70,000 28x28 grayscale images of handwritten digits (Yann LeCun and Corinna Cortes).

``load_data(path="mnist.npz")`` returns exactly what ``keras.datasets.mnist.load_data()`` returns.
For each root, in order, it accepts Keras's ``<root>/<path>`` npz file or a ``<root>/mnist/``
folder with the four published IDX files. The roots are ``$EPOCHAL_DATA`` (else the platform
cache, ``~/.cache/epochal`` on Linux), Keras's cache ``~/.keras/datasets`` (``$KERAS_HOME``
respected) and ``/usr/share/datasets``. Otherwise it downloads Keras's ``mnist.npz`` into the
first root, checking the SHA-256 Keras publishes.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from epochal.datasets import download, idx, sources
from epochal.datasets.errors import CorruptDatasetError, DatasetNotFoundError

SUBFOLDER = "mnist"
REMOTE_NAME = "mnist.npz"
# The SHA-256 Keras publishes for mnist.npz (keras.datasets.mnist).
NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path: str = "mnist.npz") -> idx.TrainTest:
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)``, as Keras does.

    Args:
        path: File name of the npz copy, relative to each searched folder (or absolute),
            as in Keras. Defaults to ``"mnist.npz"``.

    Returns:
        ``x_train``: uint8 array (60000, 28, 28); ``y_train``: uint8 array (60000,) of digits
        0-9; ``x_test``: uint8 array (10000, 28, 28); ``y_test``: uint8 array (10000,).

    Raises:
        DatasetNotFoundError: (a FileNotFoundError) If no copy is found and the download fails;
            the message lists every place searched and how to get the data.
        CorruptDatasetError: (a ValueError) If a file is damaged or a download's SHA-256 is wrong.

    Example (not run as a doctest: it may need the network)::

        (x_train, y_train), (x_test, y_test) = load_data()
        x_train.shape, y_train.dtype  # ((60000, 28, 28), dtype('uint8'))
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"load_data() expects `path` to be a file name such as 'mnist.npz'; "
            f"received {type(path).__name__}: {path!r}."
        )
    found = sources.first_complete(_candidates(path))
    if found is None:
        return read_npz(_download(path))
    if len(found.files) == 1:
        return read_npz(found.files[0])
    return idx.read_mnist_style_folder(found.files[0].parent)


def read_npz(path: str | os.PathLike) -> idx.TrainTest:
    """Read a Keras-layout MNIST npz (``x_train``, ``y_train``, ``x_test``, ``y_test``).

    Raises:
        CorruptDatasetError: If the file is not a readable npz, lacks a key or holds arrays of
            the wrong dtype or rank. The message names the file.

    Example:
        >>> import tempfile, numpy as np
        >>> path = tempfile.mkdtemp() + "/mnist.npz"
        >>> images, labels = np.zeros((3, 28, 28), np.uint8), np.arange(3, dtype=np.uint8)
        >>> np.savez(path, x_train=images, y_train=labels, x_test=images, y_test=labels)
        >>> (x_train, y_train), _ = read_npz(path)
        >>> x_train.shape, y_train.tolist()
        ((3, 28, 28), [0, 1, 2])
    """
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise CorruptDatasetError(
            f"{path} is not a readable npz file ({error}); delete it so a good copy can be fetched."
        ) from error
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise CorruptDatasetError(f"{path} holds a single array, not an MNIST npz archive.")
    with loaded:
        missing = [key for key in _NPZ_KEYS if key not in loaded.files]
        if missing:
            raise CorruptDatasetError(
                f"{path} is not an MNIST npz: it lacks {missing}; it holds {loaded.files}."
            )
        try:
            x_train, y_train, x_test, y_test = (loaded[key] for key in _NPZ_KEYS)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise CorruptDatasetError(f"{path} is damaged ({error}); delete it.") from error
    idx.check_images_and_labels(x_train, y_train, f"{path}['x_train']", f"{path}['y_train']")
    idx.check_images_and_labels(x_test, y_test, f"{path}['x_test']", f"{path}['y_test']")
    return (x_train, y_train), (x_test, y_test)


def _candidates(path: str | os.PathLike) -> list[sources.Candidate]:
    """For each root: Keras's npz file, then a folder of the four IDX files."""
    candidates = []
    for place in sources.search_places():
        candidates.append(sources.Candidate((place.folder / path,), place.label))
        idx_files = tuple(place.folder / SUBFOLDER / name for name in idx.MNIST_STYLE_FILES)
        candidates.append(sources.Candidate(idx_files, place.label))
    return sources.unique(candidates)


def _download(path: str | os.PathLike) -> Path:
    """Fetch mnist.npz to ``<epochal data folder>/<path>``, or explain everything that was tried."""
    target = sources.epochal_data_dir() / path
    url = download.base_url() + REMOTE_NAME
    try:
        return download.download_file(url, target, NPZ_SHA256)
    except OSError as error:  # Network failures and an unwritable cache folder alike.
        raise DatasetNotFoundError(_not_found_message(path, error)) from error


def _not_found_message(path: str | os.PathLike, error: Exception) -> str:
    keras_file = sources.keras_datasets_dir() / path
    # The first line must stand alone: the command line shows only it (the rest with --debug).
    return (
        f"MNIST was not found on this machine and could not be downloaded ({error}).\n"
        f"Searched for {path} or a {SUBFOLDER}/ folder holding "
        f"{', '.join(idx.MNIST_STYLE_FILES)}, in this order:\n"
        f"{sources.format_searched(_candidates(path))}\n"
        "To get the data, do one of:\n"
        f"  - copy Keras's mnist.npz to {keras_file} (where Keras keeps its downloads)\n"
        f"  - put mnist.npz (or a {SUBFOLDER}/ folder with the four IDX files) in a folder "
        "and set EPOCHAL_DATA=<folder>\n"
        f"  - put the four IDX files in {sources.SYSTEM_DATASETS_DIR / SUBFOLDER}\n"
        "  - call load_data() again with internet access (or set EPOCHAL_DATASET_URL to a mirror)"
    )
