"""Reading IDX files, the format MNIST and Fashion-MNIST are published in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the values in C order. Files may be gzip-compressed.
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from epochal.datasets.errors import CorruptDatasetError

# Type codes from the IDX specification; multi-byte values are big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (plain or ``.gz``) into a writable NumPy array.

    Args:
        path: The file to read. Names ending in ``.gz`` are decompressed.

    Returns:
        An array with the file's shape and dtype (native byte order).

    Raises:
        CorruptDatasetError: If the file is not valid gzip, has a wrong magic number or
            its size disagrees with its header. The message names the file.

    Example:
        >>> import tempfile, numpy as np
        >>> from epochal.datasets.idx import read_idx, write_idx
        >>> path = tempfile.mkdtemp() + "/labels-idx1-ubyte.gz"
        >>> write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
        >>> read_idx(path)
        array([3, 1, 4], dtype=uint8)
    """
    path = Path(path)
    raw = _read_bytes(path)
    dtype, shape, offset = _parse_header(raw, path)
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise CorruptDatasetError(
            f"IDX file {path} is corrupt: its header announces shape {shape} "
            f"({expected} bytes in all) but the file holds {len(raw)} bytes. "
            "Delete it so a good copy can be fetched."
        )
    values = np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape)
    # A copy makes the array writable and native-endian, as users expect from Keras's loaders.
    return values.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, values: np.ndarray) -> None:
    """Write `values` as an IDX file, gzip-compressed when `path` ends in ``.gz``.

    Used by tests and tools to make small files in the published format.

    Args:
        path: Destination file.
        values: Array of a dtype IDX supports (uint8, int8, int16, int32, float32, float64).

    Raises:
        TypeError: If `values` has a dtype IDX cannot store.
    """
    values = np.asarray(values)
    codes = {dtype.newbyteorder("="): code for code, dtype in _IDX_DTYPES.items()}
    if values.dtype not in codes:
        raise TypeError(
            f"write_idx() cannot store dtype {values.dtype}; expected one of "
            f"{sorted(str(d) for d in codes)}. Cast `values` first, e.g. values.astype('uint8')."
        )
    code = codes[values.dtype]
    header = bytes([0, 0, code, values.ndim]) + struct.pack(f">{values.ndim}I", *values.shape)
    payload = header + values.astype(_IDX_DTYPES[code], copy=False).tobytes()
    if str(path).endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    Path(path).write_bytes(payload)


def _read_bytes(path: Path) -> bytes:
    """Return the file's (decompressed) bytes, turning gzip damage into a CorruptDatasetError."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as stream:
            return stream.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise CorruptDatasetError(
            f"{path} is not a valid gzip file ({error}). It is probably truncated or damaged; "
            "delete it so a good copy can be fetched."
        ) from error


def _parse_header(raw: bytes, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """Decode the magic number and dimensions; return (dtype, shape, offset of the data)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise CorruptDatasetError(
            f"{path} is not an IDX file: its magic number is {raw[:4].hex() or 'missing'}, "
            "expected 0000 followed by a type code (08 for uint8) and the number of dimensions."
        )
    ndim = raw[3]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise CorruptDatasetError(
            f"IDX file {path} is corrupt: it ends inside its header ({len(raw)} bytes, "
            f"header needs {offset})."
        )
    shape = struct.unpack(f">{ndim}I", raw[4:offset])
    return _IDX_DTYPES[raw[2]], tuple(shape), offset



# The four file names MNIST and Fashion-MNIST are published under.
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
MNIST_STYLE_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# What every Keras-style load_data() returns: ((x_train, y_train), (x_test, y_test)).
Split = tuple[np.ndarray, np.ndarray]
TrainTest = tuple[Split, Split]


def read_mnist_style_folder(folder: str | os.PathLike) -> TrainTest:
    """Read the four MNIST-style files in `folder` as ``((x_train, y_train), (x_test, y_test))``.

    Raises:
        CorruptDatasetError: If a file is damaged or the files do not fit together.

    Example:
        >>> import tempfile, numpy as np
        >>> from epochal.datasets import idx
        >>> folder = tempfile.mkdtemp()
        >>> for name in idx.MNIST_STYLE_FILES:
        ...     shape = (2, 28, 28) if "images" in name else (2,)
        ...     idx.write_idx(f"{folder}/{name}", np.zeros(shape, dtype=np.uint8))
        >>> (x_train, y_train), (x_test, y_test) = idx.read_mnist_style_folder(folder)
        >>> x_train.shape, y_test.shape
        ((2, 28, 28), (2,))
    """
    folder = Path(folder)
    train = read_images_and_labels(folder / TRAIN_IMAGES, folder / TRAIN_LABELS)
    test = read_images_and_labels(folder / TEST_IMAGES, folder / TEST_LABELS)
    return train, test


def read_images_and_labels(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a matching pair of IDX files: uint8 images (n, rows, cols) and uint8 labels (n,).

    Raises:
        CorruptDatasetError: If either file is damaged, or the pair does not fit together.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    check_images_and_labels(images, labels, images_source=images_path, labels_source=labels_path)
    return images, labels


def check_images_and_labels(
    images: np.ndarray, labels: np.ndarray, images_source: object, labels_source: object
) -> None:
    """Raise CorruptDatasetError unless images are uint8 (n, rows, cols) and labels uint8 (n,).

    `images_source` and `labels_source` name where the arrays came from, for the message.
    """
    if images.dtype != np.uint8 or images.ndim != 3:
        raise CorruptDatasetError(
            f"{images_source} should hold uint8 images of shape (n, rows, cols); "
            f"it holds {images.dtype} values of shape {images.shape}."
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise CorruptDatasetError(
            f"{labels_source} should hold uint8 labels of shape (n,); "
            f"it holds {labels.dtype} values of shape {labels.shape}."
        )
    if len(images) != len(labels):
        raise CorruptDatasetError(
            f"{images_source} holds {len(images)} images but {labels_source} holds "
            f"{len(labels)} labels; they come from different copies of the dataset."
        )
