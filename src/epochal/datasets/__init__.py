"""Datasets with Keras's loaders: ``epochal.datasets.mnist.load_data()`` and friends.

Files are found locally when possible ($EPOCHAL_DATA or the platform cache, Keras's cache,
/usr/share/datasets) and downloaded with a checked SHA-256 otherwise. Fashion-MNIST also ships
a small stratified subset for offline use (``fashion_mnist.load_subset()``).

Example:
    >>> from epochal.datasets import fashion_mnist
    >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_subset()
    >>> x_train.shape
    (6000, 28, 28)
"""
from epochal.datasets import fashion_mnist, mnist
from epochal.datasets.errors import CorruptDatasetError, DatasetDownloadError, DatasetNotFoundError

__all__ = [
    "fashion_mnist",
    "mnist",
    "CorruptDatasetError",
    "DatasetDownloadError",
    "DatasetNotFoundError",
]
