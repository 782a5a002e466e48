"""Downloads against a local HTTP server on 127.0.0.1: checked, cached, atomic.

The server runs in a thread bound to port 0; no other address is ever contacted.
"""
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from epochal.datasets import download, fashion_mnist, idx, mnist, sources
from epochal.datasets.errors import (
    CorruptDatasetError,
    DatasetDownloadError,
    DatasetNotFoundError,
)

_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


class LocalServer:
    """Serves `files` (name -> bytes); names listed in `cut_short` get half a body, then a close."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut_short: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests.append(name)
                if name not in server.files:
                    self.send_error(404)
                    return
                body = server.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name in server.cut_short:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        # A short poll interval: shutdown() waits up to one interval, 0.5 s by default, per test.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def add(self, name: str, body: bytes) -> str:
        """Serve `body` as `name`; return its SHA-256."""
        self.files[name] = body
        return hashlib.sha256(body).hexdigest()


@pytest.fixture
def server(monkeypatch):
    for variable in _PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    local = LocalServer()
    local.thread.start()
    monkeypatch.setenv("EPOCHAL_DATASET_URL", local.url)
    yield local
    local.httpd.shutdown()
    local.httpd.server_close()
    local.thread.join()


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """Empty search roots in tmp_path; returns the epochal data folder downloads go to."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EPOCHAL_DATA", str(tmp_path / "epochal-data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setattr(sources, "SYSTEM_DATASETS_DIR", tmp_path / "usr-share-datasets")
    return tmp_path / "epochal-data"


def idx_gz(values: np.ndarray, tmp_path: Path) -> bytes:
    path = tmp_path / "scratch.gz"
    idx.write_idx(path, values)
    return path.read_bytes()


def serve_fashion(server, tmp_path, monkeypatch) -> dict[str, bytes]:
    """Serve 20-image synthetic Fashion-MNIST files and make the loader expect their hashes."""
    rng = np.random.default_rng(0)
    bodies = {
        idx.TRAIN_IMAGES: idx_gz(rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), tmp_path),
        idx.TRAIN_LABELS: idx_gz((np.arange(20) % 10).astype(np.uint8), tmp_path),
        idx.TEST_IMAGES: idx_gz(rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), tmp_path),
        idx.TEST_LABELS: idx_gz((np.arange(10) % 10).astype(np.uint8), tmp_path),
    }
    hashes = {name: server.add(name, body) for name, body in bodies.items()}
    monkeypatch.setattr(fashion_mnist, "FILE_SHA256", hashes)
    return bodies


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


# --- download_file --------------------------------------------------------------------------

def test_good_file_is_saved(server, tmp_path):
    digest = server.add("file.bin", b"x" * 100_000)
    target = tmp_path / "out" / "file.bin"
    assert download.download_file(server.url + "file.bin", target, digest, progress=False) == target
    assert target.read_bytes() == b"x" * 100_000
    assert leftovers(target.parent) == ["file.bin"]


def test_progress_bar_shows_the_file_and_its_size(server, tmp_path, capsys):
    digest = server.add("file.bin", b"x" * 300_000)
    download.download_file(server.url + "file.bin", tmp_path / "file.bin", digest)  # progress defaults to on
    err = capsys.readouterr().err
    assert "Downloading file.bin" in err and "100%" in err
    assert "293k" in err  # unit_scale with 1024: 300,000 bytes are 293 KiB


def test_no_progress_bar_when_asked(server, tmp_path, capsys):
    digest = server.add("file.bin", b"x" * 1000)
    download.download_file(server.url + "file.bin", tmp_path / "file.bin", digest, progress=False)
    assert "Downloading" not in capsys.readouterr().err


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    server.add("file.bin", b"tampered")
    target = tmp_path / "out" / "file.bin"
    with pytest.raises(CorruptDatasetError, match="SHA-256") as caught:
        download.download_file(server.url + "file.bin", target, "0" * 64, progress=False)
    assert server.url + "file.bin" in str(caught.value)
    assert leftovers(target.parent) == []


def test_connection_dropped_half_way_leaves_nothing_then_retry_works(server, tmp_path):
    body = bytes(range(256)) * 400
    digest = server.add("file.bin", body)
    server.cut_short.add("file.bin")
    target = tmp_path / "out" / "file.bin"
    with pytest.raises(DatasetDownloadError, match=f"after {len(body) // 2} of {len(body)} bytes"):
        download.download_file(server.url + "file.bin", target, digest, progress=False)
    assert leftovers(target.parent) == []

    server.cut_short.clear()
    download.download_file(server.url + "file.bin", target, digest, progress=False)
    assert target.read_bytes() == body
    assert leftovers(target.parent) == ["file.bin"]


def test_http_error_is_a_download_error(server, tmp_path):
    with pytest.raises(DatasetDownloadError, match="404"):
        download.download_file(server.url + "missing.bin", tmp_path / "m.bin", "0" * 64, progress=False)
    assert leftovers(tmp_path) == []


def test_base_url_from_attribute_and_environment(monkeypatch):
    monkeypatch.delenv("EPOCHAL_DATASET_URL", raising=False)
    assert download.base_url() == download.DEFAULT_BASE_URL
    monkeypatch.setattr(download, "BASE_URL", "http://127.0.0.1:1/mirror")
    assert download.base_url() == "http://127.0.0.1:1/mirror/"
    monkeypatch.setenv("EPOCHAL_DATASET_URL", "http://127.0.0.1:2/env/")
    assert download.base_url() == "http://127.0.0.1:2/env/"


# --- through the loaders ----------------------------------------------------------------------

def test_fashion_downloads_once_then_uses_cache(server, roots, tmp_path, monkeypatch):
    bodies = serve_fashion(server, tmp_path, monkeypatch)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (20, 28, 28) and x_test.shape == (10, 28, 28)
    assert x_train.dtype == y_train.dtype == np.uint8
    assert sorted(server.requests) == sorted(bodies)
    assert leftovers(roots / "fashion-mnist") == sorted(bodies)

    fashion_mnist.load_data()
    assert len(server.requests) == 4  # the second call read the cache


def test_fashion_completes_a_partial_download(server, roots, tmp_path, monkeypatch):
    bodies = serve_fashion(server, tmp_path, monkeypatch)
    folder = roots / "fashion-mnist"
    folder.mkdir(parents=True)
    for name in (idx.TRAIN_IMAGES, idx.TRAIN_LABELS, idx.TEST_IMAGES):
        (folder / name).write_bytes(bodies[name])
    fashion_mnist.load_data()
    assert server.requests == [idx.TEST_LABELS]


def test_fashion_dropped_connection_then_good_download(server, roots, tmp_path, monkeypatch):
    serve_fashion(server, tmp_path, monkeypatch)
    server.cut_short.add(idx.TRAIN_IMAGES)
    with pytest.raises(DatasetNotFoundError, match="connection closed"):
        fashion_mnist.load_data()
    assert idx.TRAIN_IMAGES not in leftovers(roots / "fashion-mnist")
    assert not [name for name in leftovers(roots / "fashion-mnist") if name.startswith(".")]

    server.cut_short.clear()
    (x_train, _), _ = fashion_mnist.load_data()
    assert x_train.shape == (20, 28, 28)


def test_fashion_wrong_checksum_is_not_hidden(server, roots, tmp_path, monkeypatch):
    serve_fashion(server, tmp_path, monkeypatch)
    server.files[idx.TEST_IMAGES] = gzip.compress(b"something else")
    with pytest.raises(CorruptDatasetError, match=idx.TEST_IMAGES):
        fashion_mnist.load_data()
    assert idx.TEST_IMAGES not in leftovers(roots / "fashion-mnist")


def test_nothing_found_error_lists_every_place_and_remedy(server, roots):
    # The server holds no files, so the download fails with a 404, like an empty mirror.
    with pytest.raises(DatasetNotFoundError) as caught:
        fashion_mnist.load_data()
    message = str(caught.value)
    for place in sources.search_places():
        assert str(place.folder / "fashion-mnist") in message
    assert message.index(str(roots)) < message.index("keras-home") < message.index("usr-share")
    for remedy in ("apt-get install dataset-fashion-mnist", "EPOCHAL_DATA", "keras-home", "404"):
        assert remedy in message
    assert isinstance(caught.value, FileNotFoundError)
    # The command line shows only the first line, so it must say what happened on its own.
    first_line = message.splitlines()[0]
    assert first_line.startswith("Fashion-MNIST was not found on this machine and could not be downloaded")
    assert "404" in first_line and first_line.endswith(").")


def test_mnist_nothing_found_error_lists_every_place(server, roots):
    with pytest.raises(DatasetNotFoundError) as caught:
        mnist.load_data()
    message = str(caught.value)
    for place in sources.search_places():
        assert str(place.folder / "mnist.npz") in message
        assert str(place.folder / "mnist") + "/" in message
    assert "EPOCHAL_DATA" in message and "404" in message
    first_line = message.splitlines()[0]
    assert first_line.startswith("MNIST was not found on this machine and could not be downloaded")
    assert "404" in first_line


def test_mnist_downloads_npz_with_checked_hash(server, roots, tmp_path, monkeypatch):
    images = np.zeros((6, 28, 28), np.uint8)
    labels = np.arange(6, dtype=np.uint8)
    np.savez(tmp_path / "m.npz", x_train=images, y_train=labels, x_test=images, y_test=labels)
    monkeypatch.setattr(mnist, "NPZ_SHA256", server.add("mnist.npz", (tmp_path / "m.npz").read_bytes()))
    (x_train, y_train), _ = mnist.load_data()
    assert x_train.shape == (6, 28, 28) and y_train.tolist() == list(range(6))
    assert (roots / "mnist.npz").is_file()
    mnist.load_data()
    assert server.requests == ["mnist.npz"]


def test_mnist_download_with_wrong_hash_keeps_nothing(server, roots, monkeypatch):
    server.add("mnist.npz", b"not the published file")
    with pytest.raises(CorruptDatasetError, match="SHA-256"):
        mnist.load_data()
    assert leftovers(roots) == []


def test_published_mnist_hash_is_keras_one():
    assert mnist.NPZ_SHA256 == "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
    assert mnist.REMOTE_NAME == "mnist.npz"
    assert download.DEFAULT_BASE_URL == "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def test_interrupted_download_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(url, out, label, progress):
        out.write(b"first half")
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "_stream", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download.download_file("http://127.0.0.1:1/never-contacted", tmp_path / "f.bin", "0" * 64)
    assert leftovers(tmp_path) == []
