"""IDX parsing: round trips, and clear errors naming the file for every kind of damage."""
import gzip
import struct

import numpy as np
import pytest

from epochal.datasets import idx
from epochal.datasets.errors import CorruptDatasetError


def _images(count=20, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(count, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_round_trip_plain_and_gzip(tmp_path, name):
    values = _images()
    idx.write_idx(tmp_path / name, values)
    loaded = idx.read_idx(tmp_path / name)
    np.testing.assert_array_equal(loaded, values)
    assert loaded.dtype == np.uint8
    assert loaded.flags.writeable


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "float32", "float64"])
def test_multi_byte_types_come_back_native_endian(tmp_path, dtype):
    values = np.arange(-3, 9).reshape(3, 4).astype(dtype)
    idx.write_idx(tmp_path / "values.idx", values)
    loaded = idx.read_idx(tmp_path / "values.idx")
    np.testing.assert_array_equal(loaded, values)
    assert loaded.dtype == np.dtype(dtype)
    assert loaded.dtype.isnative


def test_header_is_the_published_layout(tmp_path):
    idx.write_idx(tmp_path / "labels", np.arange(5, dtype=np.uint8))
    raw = (tmp_path / "labels").read_bytes()
    # 2049 is the magic number MNIST's documentation gives for label files.
    assert struct.unpack(">II", raw[:8]) == (2049, 5)


def test_bad_magic_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x12\x34\x08\x03" + bytes(100)))
    with pytest.raises(CorruptDatasetError, match="not an IDX file") as caught:
        idx.read_idx(path)
    assert str(path) in str(caught.value)


def test_size_disagreeing_with_header_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    idx.write_idx(path, _images())
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-28]))  # one image row missing
    with pytest.raises(CorruptDatasetError, match="header announces shape") as caught:
        idx.read_idx(path)
    assert str(path) in str(caught.value)


def test_header_cut_short(tmp_path):
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(CorruptDatasetError, match="ends inside its header"):
        idx.read_idx(path)


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    idx.write_idx(path, _images())
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CorruptDatasetError, match="not a valid gzip file") as caught:
        idx.read_idx(path)
    assert str(path) in str(caught.value)


def test_not_gzip_at_all(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(CorruptDatasetError, match=str(path).replace("\\", "\\\\")):
        idx.read_idx(path)


def test_corrupt_error_is_a_value_error():
    assert issubclass(CorruptDatasetError, ValueError)


def test_pair_with_different_counts_is_rejected(tmp_path):
    idx.write_idx(tmp_path / "images.gz", _images(20))
    idx.write_idx(tmp_path / "labels.gz", np.zeros(19, dtype=np.uint8))
    with pytest.raises(CorruptDatasetError, match="20 images but .* 19 labels"):
        idx.read_images_and_labels(tmp_path / "images.gz", tmp_path / "labels.gz")


def test_images_and_labels_swapped_are_rejected(tmp_path):
    idx.write_idx(tmp_path / "images.gz", _images(20))
    idx.write_idx(tmp_path / "labels.gz", np.zeros(20, dtype=np.uint8))
    with pytest.raises(CorruptDatasetError, match="should hold uint8 images"):
        idx.read_images_and_labels(tmp_path / "labels.gz", tmp_path / "images.gz")


def test_write_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="cannot store dtype uint32"):
        idx.write_idx(tmp_path / "x", np.zeros(3, dtype=np.uint32))


def test_read_folder_of_four_files(tmp_path):
    for name in idx.MNIST_STYLE_FILES:
        count = 20 if name.startswith("train") else 7
        values = _images(count) if "images" in name else np.arange(count, dtype=np.uint8) % 10
        idx.write_idx(tmp_path / name, values)
    (x_train, y_train), (x_test, y_test) = idx.read_mnist_style_folder(tmp_path)
    assert x_train.shape == (20, 28, 28) and y_train.shape == (20,)
    assert x_test.shape == (7, 28, 28) and y_test.shape == (7,)
