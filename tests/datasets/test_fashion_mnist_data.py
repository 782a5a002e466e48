"""Fashion-MNIST proper: the full files from the Debian package, and the built-in subset.

The full files come from ``apt-get install dataset-fashion-mnist`` (installed on the
development machines and in CI). A fixture points the search at that folder explicitly, with
the user-level folders emptied, so the result does not depend on anyone's caches.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from epochal.datasets import download, fashion_mnist, idx, sources

DEBIAN_ROOT = Path("/usr/share/datasets")
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def debian_only(tmp_path, monkeypatch):
    """Search only the Debian package's folder; fail instead of downloading."""
    monkeypatch.setenv("EPOCHAL_DATA", str(tmp_path / "empty-epochal"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras"))
    monkeypatch.setattr(sources, "SYSTEM_DATASETS_DIR", DEBIAN_ROOT)

    def no_download(*args, **kwargs):
        raise AssertionError(f"expected the files in {DEBIAN_ROOT / 'fashion-mnist'}")

    monkeypatch.setattr(download, "download_file", no_download)
    return DEBIAN_ROOT / "fashion-mnist"


@pytest.fixture(scope="module")
def full_data():
    return idx.read_mnist_style_folder(DEBIAN_ROOT / "fashion-mnist")


@pytest.fixture(scope="module")
def subset_file():
    with np.load(fashion_mnist.SUBSET_PATH, allow_pickle=False) as arrays:
        return {key: arrays[key] for key in arrays.files}


@pytest.fixture(scope="module")
def subset_tool():
    spec = importlib.util.spec_from_file_location(
        "make_fashion_subset", REPO_ROOT / "tools" / "make_fashion_subset.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- full data, as Keras returns it -------------------------------------------------------------

def test_load_data_has_keras_shapes_and_dtypes(debian_only):
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert (x_train.shape, x_train.dtype) == ((60000, 28, 28), np.uint8)
    assert (y_train.shape, y_train.dtype) == ((60000,), np.uint8)
    assert (x_test.shape, x_test.dtype) == ((10000, 28, 28), np.uint8)
    assert (y_test.shape, y_test.dtype) == ((10000,), np.uint8)
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10


def test_load_data_or_subset_finds_the_debian_copy(debian_only):
    (train, test), note = fashion_mnist.load_data_or_subset()
    assert train[0].shape == (60000, 28, 28) and test[0].shape == (10000, 28, 28)
    assert str(debian_only) in note


def test_debian_files_are_the_published_ones(subset_tool):
    # Checks the MD5s Zalando publishes and, from them, the SHA-256s used for downloads.
    subset_tool.verify(DEBIAN_ROOT / "fashion-mnist")


def test_download_hashes_cover_the_published_files():
    assert set(fashion_mnist.FILE_SHA256) == set(idx.MNIST_STYLE_FILES)
    for name, digest in fashion_mnist.FILE_SHA256.items():
        assert len(digest) == 64 and int(digest, 16) >= 0, name


def test_class_names():
    assert len(fashion_mnist.class_names) == 10
    assert fashion_mnist.class_names[0] == "T-shirt/top"
    assert fashion_mnist.class_names[9] == "Ankle boot"
    assert fashion_mnist.class_names[np.uint8(1)] == "Trouser"


# --- the built-in subset ------------------------------------------------------------------------

def test_subset_shapes_and_dtypes():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_subset()
    assert (x_train.shape, x_train.dtype) == ((6000, 28, 28), np.uint8)
    assert (y_train.shape, y_train.dtype) == ((6000,), np.uint8)
    assert (x_test.shape, x_test.dtype) == ((1000, 28, 28), np.uint8)
    assert (y_test.shape, y_test.dtype) == ((1000,), np.uint8)


def test_subset_is_stratified_and_interleaved():
    (_, y_train), (_, y_test) = fashion_mnist.load_subset()
    assert np.bincount(y_train, minlength=10).tolist() == [600] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [100] * 10
    # Original order, not sorted by class: a trailing validation split still sees every class.
    assert len(np.unique(y_train[-600:])) == 10


def test_subset_is_real_fashion_mnist(subset_file, full_data):
    (x_train, y_train), (x_test, y_test) = full_data
    rows = subset_file["train_indices"].astype(np.int64)
    np.testing.assert_array_equal(subset_file["x_train"], x_train[rows])
    np.testing.assert_array_equal(subset_file["y_train"], y_train[rows])
    rows = subset_file["test_indices"].astype(np.int64)
    np.testing.assert_array_equal(subset_file["x_test"], x_test[rows])
    np.testing.assert_array_equal(subset_file["y_test"], y_test[rows])


def test_subset_rows_are_the_first_of_each_class(subset_file, full_data, subset_tool):
    (_, y_train), (_, y_test) = full_data
    np.testing.assert_array_equal(subset_file["train_indices"], subset_tool.first_per_class(y_train, 600))
    np.testing.assert_array_equal(subset_file["test_indices"], subset_tool.first_per_class(y_test, 100))


def test_subset_is_small_and_licensed():
    assert fashion_mnist.SUBSET_PATH.stat().st_size < 3.2e6
    licence = (fashion_mnist.SUBSET_PATH.parent / "LICENSE-fashion-mnist.txt").read_text()
    assert "Copyright (c) 2017 Zalando SE" in licence and "MIT License" in licence


def test_subset_arrays_are_writable():
    (x_train, _), _ = fashion_mnist.load_subset()
    x_train[0, 0, 0] = 1  # tutorials sometimes normalise in place


def test_regenerating_the_subset_gives_the_same_arrays(tmp_path, subset_tool, subset_file):
    output = tmp_path / "subset.npz"
    subset_tool.main(["--source", str(DEBIAN_ROOT / "fashion-mnist"), "--output", str(output)])
    # Arrays, not bytes: another zlib build may compress the same arrays differently.
    with np.load(output, allow_pickle=False) as regenerated:
        assert sorted(regenerated.files) == sorted(subset_file)
        for key, value in subset_file.items():
            np.testing.assert_array_equal(regenerated[key], value, err_msg=key)
