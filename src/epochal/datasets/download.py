"""Downloading dataset files: checked against a published SHA-256 and written atomically.

The file is streamed into a temporary file in the destination folder, hashed on the way, and
only moved to its final name (``os.replace``) once complete and verified. An interrupted,
truncated or tampered download therefore never leaves a file under a name a later call trusts.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import secrets
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Mapping

from epochal.datasets.errors import CorruptDatasetError, DatasetDownloadError

# Where Keras fetches MNIST and Fashion-MNIST from; using the same copies keeps hashes identical.
DEFAULT_BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# Override for mirrors and tests: set this attribute, or the environment variable (which wins).
BASE_URL = DEFAULT_BASE_URL
BASE_URL_ENV = "EPOCHAL_DATASET_URL"

_CHUNK_BYTES = 1 << 16
_TIMEOUT_SECONDS = 60.0


def base_url() -> str:
    """Return the URL dataset files are downloaded from, always ending in ``/``.

    ``$EPOCHAL_DATASET_URL`` wins over the module attribute ``BASE_URL``.

    Example:
        >>> import os
        >>> base_url() == (os.environ.get("EPOCHAL_DATASET_URL") or BASE_URL).rstrip("/") + "/"
        True
    """
    url = os.environ.get(BASE_URL_ENV) or BASE_URL
    return url if url.endswith("/") else url + "/"


def download_file(url: str, target: str | os.PathLike, sha256: str, progress: bool = True) -> Path:
    """Download `url` to `target`, keeping it only if its SHA-256 equals `sha256`.

    Args:
        url: The file to fetch (http, https or file URL).
        target: The final path. Its folder is created if needed.
        sha256: The expected hex SHA-256 of the complete file.
        progress: Whether to show a tqdm progress bar on stderr. Defaults to True.

    Returns:
        `target` as a Path.

    Raises:
        DatasetDownloadError: If the transfer fails or is cut short. Nothing is left behind.
        CorruptDatasetError: If the file's SHA-256 differs from `sha256`. Nothing is left behind.

    Example:
        >>> import hashlib, pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> (folder / "source.bin").write_bytes(b"epochal")
        7
        >>> digest = hashlib.sha256(b"epochal").hexdigest()
        >>> url = (folder / "source.bin").as_uri()
        >>> download_file(url, folder / "copy.bin", digest, progress=False).read_bytes()
        b'epochal'
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _create_temporary(target)
    try:
        with open(temporary, "wb") as out:
            actual = _stream(url, out, label=target.name, progress=progress)
            out.flush()
            os.fsync(out.fileno())
        if actual != sha256.lower():
            raise CorruptDatasetError(
                f"The file downloaded from {url} has SHA-256 {actual}, expected {sha256}. "
                "It was discarded. The transfer was damaged or the server sent a different file; "
                "try again, or use another mirror (set EPOCHAL_DATASET_URL)."
            )
        os.replace(temporary, target)
    except BaseException:
        # Also on KeyboardInterrupt: a half-written file must never outlive the call.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return target


def download_missing(folder: Path, hashes: Mapping[str, str], progress: bool = True) -> Path:
    """Download each file named in `hashes` that `folder` lacks, from `base_url()`.

    Files already present are kept: every file this module wrote was verified before it got
    its name, so only a partly finished set of downloads needs completing.

    Returns:
        `folder`.
    """
    for name, sha256 in hashes.items():
        if not (folder / name).is_file():
            download_file(base_url() + name, folder / name, sha256, progress=progress)
    return folder


def _create_temporary(target: Path) -> Path:
    """Create an empty, uniquely named file beside `target` that no loader would mistake for it.

    Unlike tempfile.mkstemp (mode 0600) this honours the umask, so a shared data folder stays
    readable by the other users it is shared with.
    """
    while True:
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return candidate
        except FileExistsError:
            continue


def _stream(url: str, out: BinaryIO, label: str, progress: bool) -> str:
    """Copy `url` into `out`; return the hex SHA-256 of what was received."""
    from tqdm.auto import tqdm  # Deferred: only downloads need it, and it is slow-ish to import.

    digest = hashlib.sha256()
    received = 0
    request = urllib.request.Request(url, headers={"User-Agent": "epochal-datasets"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
            expected = _content_length(response)
            with tqdm(
                total=expected, unit="B", unit_scale=True, unit_divisor=1024,
                desc=f"Downloading {label}", disable=not progress,
            ) as bar:
                while chunk := response.read(_CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        if isinstance(error, urllib.error.HTTPError):
            reason = f"HTTP {error.code} {error.reason}"
        else:
            reason = getattr(error, "reason", None) or error
        raise DatasetDownloadError(f"Could not download {url}: {reason}") from error
    # http.client returns a short body silently when the server closes early; check ourselves.
    if expected is not None and received != expected:
        raise DatasetDownloadError(
            f"Could not download {url}: the connection closed after {received} of "
            f"{expected} bytes. Nothing was saved; try again."
        )
    return digest.hexdigest()


def _content_length(response) -> int | None:
    """The announced size in bytes, or None when the server did not say (or said nonsense)."""
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
