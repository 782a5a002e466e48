"""Where the loaders look, in which order, and what they read there.

Every test builds its own folders under tmp_path with small synthetic IDX/npz files, so
nothing depends on what is installed on the machine running the tests.
"""
from pathlib import Path

import numpy as np
import pytest

from epochal.datasets import download, fashion_mnist, idx, mnist, sources


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """Point every searched root at an empty tmp folder and forbid downloads."""
    folders = {
        "home": tmp_path / "home",
        "own": tmp_path / "epochal-data",
        "keras": tmp_path / "keras-home" / "datasets",
        "system": tmp_path / "usr-share-datasets",
    }
    folders["home"].mkdir()
    monkeypatch.setenv("HOME", str(folders["home"]))
    monkeypatch.setenv("EPOCHAL_DATA", str(folders["own"]))
    monkeypatch.setenv("KERAS_HOME", str(folders["keras"].parent))
    monkeypatch.setattr(sources, "SYSTEM_DATASETS_DIR", folders["system"])

    def no_download(*args, **kwargs):
        raise AssertionError("a test of local search must not download")

    monkeypatch.setattr(download, "download_file", no_download)
    return folders


def write_idx_set(folder: Path, marker: int, train_count: int = 20, test_count: int = 10) -> None:
    """Write the four IDX files; every pixel equals `marker` so tests can tell copies apart."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = {"train": train_count, "t10k": test_count}
    for name in idx.MNIST_STYLE_FILES:
        count = counts[name.split("-")[0]]
        if "images" in name:
            values = np.full((count, 28, 28), marker, dtype=np.uint8)
        else:
            values = (np.arange(count) % 10).astype(np.uint8)
        idx.write_idx(folder / name, values)


def write_mnist_npz(path: Path, marker: int, count: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    images = np.full((count, 28, 28), marker, dtype=np.uint8)
    labels = (np.arange(count) % 10).astype(np.uint8)
    np.savez(path, x_train=images, y_train=labels, x_test=images[:4], y_test=labels[:4])


def marker_of(data) -> int:
    (x_train, _), _ = data
    return int(x_train[0, 0, 0])


# --- folder conventions ---------------------------------------------------------------------

@pytest.mark.parametrize(
    "platform, environ, expected",
    [
        ("linux", {}, "{home}/.cache/epochal"),
        ("linux", {"XDG_CACHE_HOME": "/xdg/cache"}, "/xdg/cache/epochal"),
        ("linux", {"XDG_CACHE_HOME": "relative/ignored"}, "{home}/.cache/epochal"),
        ("darwin", {}, "{home}/Library/Caches/epochal"),
        ("win32", {"LOCALAPPDATA": "/Users/me/AppData/Local"}, "/Users/me/AppData/Local/epochal"),
        ("win32", {}, "{home}/AppData/Local/epochal"),
    ],
)
def test_platform_cache_dir(roots, platform, environ, expected):
    expected = Path(expected.format(home=roots["home"]))
    assert sources.platform_cache_dir(platform, environ) == expected


def test_epochal_data_overrides_platform_cache(roots, monkeypatch):
    assert sources.epochal_data_dir() == roots["own"]
    monkeypatch.delenv("EPOCHAL_DATA")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert sources.epochal_data_dir() == roots["home"] / ".cache" / "epochal"


def test_keras_home_and_default(roots, monkeypatch):
    assert sources.keras_datasets_dir() == roots["keras"]
    monkeypatch.delenv("KERAS_HOME")
    assert sources.keras_datasets_dir() == roots["home"] / ".keras" / "datasets"


# --- Fashion-MNIST search order -------------------------------------------------------------

def test_epochal_data_beats_keras_cache_beats_system(roots):
    write_idx_set(roots["system"] / "fashion-mnist", marker=3)
    assert marker_of(fashion_mnist.load_data()) == 3
    write_idx_set(roots["keras"] / "fashion-mnist", marker=2)
    assert marker_of(fashion_mnist.load_data()) == 2
    write_idx_set(roots["own"] / "fashion-mnist", marker=1)
    assert marker_of(fashion_mnist.load_data()) == 1


def test_keras_cache_layout_is_reused(roots):
    # Exactly where keras.datasets.fashion_mnist.load_data() leaves its downloads.
    write_idx_set(roots["keras"] / "fashion-mnist", marker=7, train_count=20, test_count=5)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (20, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (20,) and y_train.dtype == np.uint8
    assert x_test.shape == (5, 28, 28) and y_test.shape == (5,)
    np.testing.assert_array_equal(y_train, np.arange(20) % 10)


def test_incomplete_folder_is_skipped(roots):
    write_idx_set(roots["own"] / "fashion-mnist", marker=1)
    (roots["own"] / "fashion-mnist" / idx.TEST_LABELS).unlink()
    write_idx_set(roots["system"] / "fashion-mnist", marker=3)
    assert marker_of(fashion_mnist.load_data()) == 3


def test_corrupt_file_in_first_place_is_reported_not_skipped(roots):
    write_idx_set(roots["own"] / "fashion-mnist", marker=1)
    damaged = roots["own"] / "fashion-mnist" / idx.TRAIN_IMAGES
    damaged.write_bytes(damaged.read_bytes()[:-12])  # cut into the stream and its trailer
    write_idx_set(roots["system"] / "fashion-mnist", marker=3)
    with pytest.raises(ValueError, match=str(damaged)):
        fashion_mnist.load_data()


# --- load_data_or_subset ----------------------------------------------------------------------

def test_load_data_or_subset_prefers_local_full_data(roots):
    write_idx_set(roots["keras"] / "fashion-mnist", marker=5)
    data, note = fashion_mnist.load_data_or_subset()
    assert marker_of(data) == 5
    assert "full data" in note and str(roots["keras"] / "fashion-mnist") in note
    assert "\n" not in note


def test_load_data_or_subset_falls_back_without_downloading(roots):
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_subset()
    data, note = fashion_mnist.load_data_or_subset()
    np.testing.assert_array_equal(data[0][0], x_train)
    np.testing.assert_array_equal(data[1][1], y_test)
    assert "subset" in note and "apt-get install dataset-fashion-mnist" in note
    assert "\n" not in note


# --- MNIST -----------------------------------------------------------------------------------

def test_mnist_reads_keras_npz(roots):
    write_mnist_npz(roots["keras"] / "mnist.npz", marker=9, count=12)
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (12, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (12,) and y_train.dtype == np.uint8
    assert x_test.shape == (4, 28, 28) and y_test.shape == (4,)
    assert marker_of(((x_train, y_train), (x_test, y_test))) == 9


def test_mnist_search_order_and_idx_folders(roots):
    write_idx_set(roots["system"] / "mnist", marker=3)
    assert marker_of(mnist.load_data()) == 3
    write_mnist_npz(roots["keras"] / "mnist.npz", marker=2)
    assert marker_of(mnist.load_data()) == 2
    write_idx_set(roots["own"] / "mnist", marker=1)
    assert marker_of(mnist.load_data()) == 1


def test_mnist_path_argument_like_keras(roots, tmp_path):
    write_mnist_npz(roots["own"] / "digits.npz", marker=4)
    assert marker_of(mnist.load_data(path="digits.npz")) == 4
    elsewhere = tmp_path / "anywhere" / "my-mnist.npz"
    write_mnist_npz(elsewhere, marker=6)
    assert marker_of(mnist.load_data(path=str(elsewhere))) == 6


def test_mnist_path_of_wrong_type(roots):
    with pytest.raises(TypeError, match="`path`.*received int"):
        mnist.load_data(path=3)


def test_mnist_npz_missing_key_names_file(roots):
    path = roots["own"] / "mnist.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="lacks") as caught:
        mnist.load_data()
    assert str(path) in str(caught.value)


def test_mnist_damaged_npz_names_file(roots):
    path = roots["own"] / "mnist.npz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="not a readable npz") as caught:
        mnist.load_data()
    assert str(path) in str(caught.value)
