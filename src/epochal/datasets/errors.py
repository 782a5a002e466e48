"""Errors raised while finding, downloading or reading a dataset.

Each failure has its own class so callers can tell "nothing on this machine" (fix: install or
download the files) from "a file is damaged" (fix: delete it) without parsing messages.
"""
from __future__ import annotations


class DatasetNotFoundError(FileNotFoundError):
    """No usable copy of a dataset was found locally and none could be downloaded.

    The message lists every place that was searched and how to provide the files.
    """


class DatasetDownloadError(OSError):
    """A download could not be completed (network failure, refused connection, cut-off transfer)."""


class CorruptDatasetError(ValueError):
    """A dataset file exists but its content is wrong: bad checksum, header or size.

    The message names the file; deleting it (or reinstalling the package that provides it)
    lets the next call fetch a good copy.
    """
