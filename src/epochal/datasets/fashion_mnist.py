"""Fashion-MNIST: 70,000 28x28 grayscale images of clothing in 10 classes (Zalando, MIT licence).

``load_data()`` returns exactly what ``keras.datasets.fashion_mnist.load_data()`` returns. It reads
the four published IDX files from the first of these folders that holds all of them:

1. ``$EPOCHAL_DATA/fashion-mnist/``, else the platform cache (``~/.cache/epochal/fashion-mnist/``
   on Linux);
2. Keras's cache ``~/.keras/datasets/fashion-mnist/`` (``$KERAS_HOME`` respected);
3. ``/usr/share/datasets/fashion-mnist/`` (``apt-get install dataset-fashion-mnist``);

and otherwise downloads them from Keras's location into the first folder, checking each file's
SHA-256. A small stratified subset ships inside the package for offline use: ``load_subset()``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from epochal.datasets import download, idx, sources
from epochal.datasets.errors import DatasetNotFoundError

SUBFOLDER = "fashion-mnist"

# SHA-256 of the files as Zalando published them. Zalando publishes MD5s (README):
# 8d4fb7e6c68d591d4c3dfef9ec88bf0d, 25c81989df183df01b3e8a0aad5dffbe,
# bef4ecab320f06d8554ea6380940ec79, bb300cfdad3c16e7a12a480ee83cd310 (same order as below).
# Debian's copies carry a rewritten gzip header (no file name, new time stamp) around the
# same compressed data; restoring the original header gives files with exactly those MD5s,
# and these are their SHA-256s (tools/make_fashion_subset.py --verify-only checks it again).
FILE_SHA256 = {
    idx.TRAIN_IMAGES: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    idx.TRAIN_LABELS: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    idx.TEST_IMAGES: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    idx.TEST_LABELS: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}

class_names = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
"""Label ``i`` names class ``class_names[i]``."""

SUBSET_PATH = Path(__file__).parent / "data" / "fashion_mnist_subset.npz"


def load_data() -> idx.TrainTest:
    """Load Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)``, as Keras does.

    Looks in ``$EPOCHAL_DATA`` (else the platform cache), then Keras's cache, then
    ``/usr/share/datasets/fashion-mnist``; downloads into the first when none has the files.
    Never falls back to the built-in subset silently; see `load_data_or_subset` for that.

    Returns:
        ``x_train``: uint8 array (60000, 28, 28); ``y_train``: uint8 array (60000,) of labels
        0-9; ``x_test``: uint8 array (10000, 28, 28); ``y_test``: uint8 array (10000,).

    Raises:
        DatasetNotFoundError: (a FileNotFoundError) If no folder holds the files and the
            download fails; the message lists every place searched and how to get the files.
        CorruptDatasetError: (a ValueError) If a file is damaged or a download's SHA-256 is wrong.

    Example (the doctest run reads the Debian package's copy, which CI installs):
        >>> (x_train, y_train), (x_test, y_test) = load_data()
        >>> x_train.shape, x_train.dtype, y_test.shape
        ((60000, 28, 28), dtype('uint8'), (10000,))
    """
    found = sources.first_complete(_candidates())
    folder = found.files[0].parent if found else _download()
    return idx.read_mnist_style_folder(folder)


def load_subset() -> idx.TrainTest:
    """Load the stratified Fashion-MNIST subset that ships with epochal; works offline.

    The subset is real Fashion-MNIST: the first 600 training and first 100 test images of each
    class, in their original order (so classes stay interleaved as in the full data).

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` with shapes (6000, 28, 28), (6000,),
        (1000, 28, 28), (1000,), all uint8.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_subset()
        >>> x_train.shape, x_test.shape, x_train.dtype
        ((6000, 28, 28), (1000, 28, 28), dtype('uint8'))
        >>> class_names[y_train[0]]
        'Ankle boot'
    """
    with np.load(SUBSET_PATH, allow_pickle=False) as arrays:
        train = (arrays["x_train"], arrays["y_train"])
        test = (arrays["x_test"], arrays["y_test"])
    return train, test


def load_data_or_subset() -> tuple[idx.TrainTest, str]:
    """Load the full data if it is on this machine, else the built-in subset; never downloads.

    Returns:
        ``(data, note)``: ``data`` is ``((x_train, y_train), (x_test, y_test))``; ``note`` is one
        line saying which data was loaded and, for the subset, how to get the full set.

    Raises:
        CorruptDatasetError: If a local copy exists but is damaged (it is not hidden).

    Example:
        >>> (train, test), note = load_data_or_subset()
        >>> train[0].shape[1:], isinstance(note, str)
        ((28, 28), True)
    """
    found = sources.first_complete(_candidates())
    if found:
        data = idx.read_mnist_style_folder(found.files[0].parent)
        note = (
            f"Fashion-MNIST: full data ({len(data[0][0])} train / {len(data[1][0])} test images) "
            f"from {found.describe()}."
        )
        return data, note
    data = load_subset()
    note = (
        f"Fashion-MNIST: full data not found on this machine, using the built-in subset "
        f"({len(data[0][0])} train / {len(data[1][0])} test images); for the full set run "
        "`apt-get install dataset-fashion-mnist` or call fashion_mnist.load_data() once online."
    )
    return data, note


def _candidates() -> list[sources.Candidate]:
    """Each root's fashion-mnist folder, as a copy made of the four IDX files."""
    return [
        sources.Candidate(tuple(place.folder / SUBFOLDER / name for name in FILE_SHA256), place.label)
        for place in sources.search_places()
    ]


def _download() -> Path:
    """Fetch the missing files into epochal's folder, or explain everything that was tried."""
    folder = sources.epochal_data_dir() / SUBFOLDER
    try:
        return download.download_missing(folder, FILE_SHA256)
    except OSError as error:  # Network failures and an unwritable cache folder alike.
        raise DatasetNotFoundError(_not_found_message(error)) from error


def _not_found_message(error: Exception) -> str:
    keras_folder = sources.keras_datasets_dir() / SUBFOLDER
    # The first line must stand alone: the command line shows only it (the rest with --debug).
    return (
        f"Fashion-MNIST was not found on this machine and could not be downloaded ({error}).\n"
        "Searched in this order; each folder must hold all four files "
        f"{', '.join(FILE_SHA256)}:\n"
        f"{sources.format_searched(_candidates())}\n"
        "To get the files, do one of:\n"
        "  - sudo apt-get install dataset-fashion-mnist   (Debian/Ubuntu; fills "
        f"{sources.SYSTEM_DATASETS_DIR / SUBFOLDER})\n"
        f"  - copy the four files into {keras_folder} (where Keras keeps its downloads)\n"
        f"  - put them in <folder>/{SUBFOLDER}/ and set EPOCHAL_DATA=<folder>\n"
        "  - call load_data() again with internet access (or set EPOCHAL_DATASET_URL to a mirror)\n"
        "For a small offline sample, use epochal.datasets.fashion_mnist.load_subset()."
    )
