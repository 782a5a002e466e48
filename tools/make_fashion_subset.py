"""Regenerate epochal's built-in Fashion-MNIST subset from the full published files.

Usage:
    python tools/make_fashion_subset.py [--source /usr/share/datasets/fashion-mnist]
    python tools/make_fashion_subset.py --verify-only

The subset takes, for each class, the first 600 training and the first 100 test images in the
files' own order, and keeps them in that order (classes stay interleaved, as in the full data,
so ``validation_split`` still sees every class). It also stores the chosen row numbers so anyone
can check the subset against the full files. The npz is written with fixed zip time stamps, so
the same inputs give the same bytes.

Before building, the source files are checked against the MD5s Zalando publishes. Debian's
``dataset-fashion-mnist`` recompressed nothing but rewrote each gzip header (dropping the
original file name and time stamp), so its files' own MD5s differ; this script restores the
original header and checks that instead, which also confirms the SHA-256s that
``epochal.datasets.fashion_mnist.FILE_SHA256`` uses to check downloads.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from epochal.datasets import fashion_mnist, idx

# Zalando's README: MD5 of each published file.
PUBLISHED_MD5 = {
    idx.TRAIN_IMAGES: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    idx.TRAIN_LABELS: "25c81989df183df01b3e8a0aad5dffbe",
    idx.TEST_IMAGES: "bef4ecab320f06d8554ea6380940ec79",
    idx.TEST_LABELS: "bb300cfdad3c16e7a12a480ee83cd310",
}
# Modification times recorded in the published files' gzip headers (2017-08-31 UTC).
PUBLISHED_GZIP_MTIME = {
    idx.TRAIN_IMAGES: 1504176606,
    idx.TRAIN_LABELS: 1504176606,
    idx.TEST_IMAGES: 1504176627,
    idx.TEST_LABELS: 1504176627,
}
DEFAULT_SOURCE = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_OUTPUT = Path(fashion_mnist.SUBSET_PATH)


def deflate_body(raw: bytes) -> bytes:
    """Return a gzip file's compressed data and trailer, without its (variable) header."""
    if raw[:3] != b"\x1f\x8b\x08":
        raise ValueError("not a gzip file")
    flags, position = raw[3], 10
    if flags & 0x04:  # FEXTRA: two-byte length, then that many bytes
        position += 2 + struct.unpack("<H", raw[position:position + 2])[0]
    for flag in (0x08, 0x10):  # FNAME, FCOMMENT: zero-terminated strings
        if flags & flag:
            position = raw.index(b"\0", position) + 1
    if flags & 0x02:  # FHCRC
        position += 2
    return raw[position:]


def published_form(name: str, raw: bytes) -> bytes:
    """Rebuild the file as Zalando published it: name and time stamp in the header, OS=Unix."""
    header = b"\x1f\x8b\x08\x08" + struct.pack("<I", PUBLISHED_GZIP_MTIME[name]) + b"\x00\x03"
    return header + name[: -len(".gz")].encode() + b"\0" + deflate_body(raw)


def verify(folder: Path) -> None:
    """Raise SystemExit unless every file in `folder` holds the published data."""
    for name, md5 in PUBLISHED_MD5.items():
        raw = (folder / name).read_bytes()
        if hashlib.md5(raw).hexdigest() != md5:
            raw = published_form(name, raw)
        if hashlib.md5(raw).hexdigest() != md5:
            raise SystemExit(f"{folder / name} does not match the published MD5 {md5}.")
        sha256 = hashlib.sha256(raw).hexdigest()
        if sha256 != fashion_mnist.FILE_SHA256[name]:
            raise SystemExit(f"{name}: published file has SHA-256 {sha256}, module says otherwise.")
        print(f"ok  {name}  md5 {md5}  sha256 {sha256}")


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Row numbers of the first `per_class` examples of each class, in ascending order."""
    chosen = [np.flatnonzero(labels == label)[:per_class] for label in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a reproducible compressed npz atomically (temp file in the same folder, then rename)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for key, value in arrays.items():
            array_bytes = io.BytesIO()
            np.lib.format.write_array(array_bytes, np.ascontiguousarray(value), allow_pickle=False)
            entry = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, array_bytes.getvalue(), compresslevel=9)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "wb") as out:
        out.write(buffer.getvalue())
    os.chmod(temporary, 0o644)  # mkstemp makes it private; the installed file must be readable.
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--train-per-class", type=int, default=600)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--verify-only", action="store_true")
    args = parser.parse_args(argv)
    verify(args.source)
    if args.verify_only:
        return 0
    (x_train, y_train), (x_test, y_test) = idx.read_mnist_style_folder(args.source)
    train_rows = first_per_class(y_train, args.train_per_class)
    test_rows = first_per_class(y_test, args.test_per_class)
    write_npz(args.output, {
        "x_train": x_train[train_rows], "y_train": y_train[train_rows],
        "x_test": x_test[test_rows], "y_test": y_test[test_rows],
        "train_indices": train_rows.astype(np.uint16), "test_indices": test_rows.astype(np.uint16),
    })
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes): "
          f"{len(train_rows)} train, {len(test_rows)} test images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
