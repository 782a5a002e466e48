"""Damage libhdf5 does not survive, found in a file's raw bytes before h5py reads any value.

libhdf5 trusts the sizes a file states. Two of them, when damaged, turn a bad file into a hang or a
memory blow-up instead of an error:

- Variable-length strings (tf.keras 2 and Keras 3 store layer names, weight names and configs that
  way) live in "global heap collections". libhdf5 walks a collection entry by entry, each entry saying
  how far to jump to the next; an entry that says "0 bytes" makes it loop forever.
- Each such string is stored as (length, heap address, entry index). libhdf5 allocates `length` bytes
  (up to 4 GiB) before it compares it with the heap entry.

`check_file` and `check_bytes` repeat the heap walk and compare every attribute's string lengths
with the heap entries, raising ValueError (the callers add the file name) instead. Only the HDF5
structures Keras files use are read: version 1 and 2 object headers with compact attributes.
"""
from __future__ import annotations

import io
import math
import mmap
import struct
from pathlib import Path
from typing import Any, Iterator

from epochal.saving.files import HDF5_OFFSETS, HDF5_SIGNATURE
from epochal.saving.h5_values import h5py_module

# 'GCOL' and version 1: the only global heap collection libhdf5 reads. A collection header is the
# signature, version, 3 reserved bytes and the 8-byte collection size; each entry starts with a
# 16-byte header (index: 2 bytes, references: 2, reserved: 4, size: 8), data padded to 8 bytes.
_GLOBAL_HEAP_SIGNATURE = b"GCOL\x01"
_HEAP_HEADER = 16
_ATTRIBUTE_MESSAGE = 0x0C
_CONTINUATION_MESSAGE = 0x10
_VARIABLE_LENGTH_CLASS = 9
_REFERENCE = struct.Struct("<IQI")  # a stored variable-length value: length, collection address, entry index
# Bounds on one object header's parts, far above what Keras files hold; they keep a damaged header cheap to read.
_MAX_BLOCKS = 64
_MAX_BLOCK_SIZE = 1 << 20


def check_file(path: Path) -> None:
    """`check_bytes` on a file, read through a memory map (no copy of a large file)."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        _check(data, lambda: h5py_module().File(path, "r"))


def check_bytes(data: bytes) -> None:
    """Refuse HDF5 bytes whose global heap or variable-length strings would hang libhdf5 or exhaust memory.

    Raises:
        ValueError: naming the byte offset of what is damaged.

    Example:
        >>> import io, h5py
        >>> buffer = io.BytesIO()
        >>> with h5py.File(buffer, "w") as h5:
        ...     h5.attrs["layer_names"] = ["dense", "dense_1"]  # variable-length strings
        >>> check_bytes(buffer.getvalue())  # an intact file: nothing to report
    """
    _check(data, lambda: h5py_module().File(io.BytesIO(bytes(data)), "r"))


def _check(data: Any, open_file: Any) -> None:
    base = _base_address(data)
    heap = {(start - base, index): size for (start, index), size in global_heap_entries(data).items()}
    with open_file() as h5file:
        addresses = _object_header_addresses(h5file)
    for address in addresses:
        for name, references in _variable_length_attributes(data, base + address):
            _check_references(name, references, heap)


def _base_address(data: Any) -> int:
    """Where the HDF5 superblock starts (after a user block, if any): addresses in the file count from there."""
    for offset in HDF5_OFFSETS:
        if data[offset:offset + len(HDF5_SIGNATURE)] == HDF5_SIGNATURE:
            return offset
    return 0


# ----------------------------------------------------------------------------------------- global heap
def global_heap_entries(data: Any) -> dict[tuple[int, int], int]:
    """{(collection offset in `data`, entry index): size} of every global heap collection in `data`.

    Raises:
        ValueError: a collection whose entries would make libhdf5 loop forever or run past its end.
    """
    entries: dict[tuple[int, int], int] = {}
    start = data.find(_GLOBAL_HEAP_SIGNATURE)
    while start != -1:
        entries.update(_collection_entries(data, start))
        start = data.find(_GLOBAL_HEAP_SIGNATURE, start + 1)
    return entries


def _collection_entries(data: Any, start: int) -> dict[tuple[int, int], int]:
    if start + _HEAP_HEADER > len(data):
        return {}  # too short to be a collection; libhdf5 reports that itself
    end = start + int.from_bytes(data[start + 8:start + 16], "little")
    if end > len(data):
        return {}  # runs past the end of the file: libhdf5 reports that itself, or it is not a collection
    entries = {}
    position = start + _HEAP_HEADER
    for _ in range((end - start) // _HEAP_HEADER):  # every entry takes 16 bytes or more: the walk cannot loop
        if position + _HEAP_HEADER > end:
            break  # a shorter tail is free space
        index = int.from_bytes(data[position:position + 2], "little")
        size = int.from_bytes(data[position + 8:position + 16], "little")
        step = size if index == 0 else _HEAP_HEADER + (size + 7) // 8 * 8  # index 0: free space, header included
        if step == 0 or position + step > end:
            raise ValueError(f"the HDF5 global heap (where variable-length strings such as layer names are kept) "
                             f"at byte {start} is damaged: its entry at byte {position} claims {size} bytes")
        if index:
            entries[(start, index)] = size
        position += step
    return entries


def _check_references(name: str, references: list[tuple[int, int, int]], heap: dict[tuple[int, int], int]) -> None:
    for length, collection, index in references:
        held = heap.get((collection, index))
        if length and (held is None or length > held):
            where = "no such heap entry" if held is None else f"its heap entry holds {held}"
            raise ValueError(f"the variable-length value of attribute '{name}' claims {length} bytes but {where}; "
                             "the file is damaged")


# --------------------------------------------------------------------------------------- object headers
def _object_header_addresses(h5file: Any) -> list[int]:
    h5py = h5py_module()
    addresses = [h5py.h5o.get_info(h5file.id).addr]

    def add(name: str, item: Any) -> None:
        addresses.append(h5py.h5o.get_info(item.id).addr)

    h5file.visititems(add)
    return addresses


def _variable_length_attributes(data: Any, address: int) -> Iterator[tuple[str, list[tuple[int, int, int]]]]:
    """(name, [(length, collection, index), ...]) of each variable-length attribute in one object header."""
    for kind, start, size in _messages(data, address):
        if kind == _ATTRIBUTE_MESSAGE and start + size <= len(data):
            parsed = _attribute(data, start)
            if parsed is not None:
                yield parsed


def _messages(data: Any, address: int) -> Iterator[tuple[int, int, int]]:
    """(type, data offset, data size) of each message of the object header at `address`."""
    if address + 16 > len(data):
        return
    if data[address:address + 4] == b"OHDR":
        yield from _version2_messages(data, address)
    elif data[address] == 1:
        yield from _version1_messages(data, address)


def _version1_messages(data: Any, address: int) -> Iterator[tuple[int, int, int]]:
    # Prefix: version, reserved, message count (2), reference count (4), header size (4), 4 bytes padding.
    blocks = [(address + 16, int.from_bytes(data[address + 8:address + 12], "little"))]
    for start, length in _bounded(blocks):
        position, end = start, min(start + length, len(data))
        while position + 8 <= end:  # each message: type (2), size (2), flags (1), reserved (3), data
            kind, size = struct.unpack_from("<HH", data, position)
            yield from _followed(kind, position + 8, size, data, blocks, signature=b"")
            position += 8 + size


def _version2_messages(data: Any, address: int) -> Iterator[tuple[int, int, int]]:
    flags = data[address + 5]
    position = address + 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
    width = 1 << (flags & 0x03)
    if position + width > len(data):
        return
    blocks = [(position + width, int.from_bytes(data[position:position + width], "little"))]
    header = 6 if flags & 0x04 else 4  # type (1), size (2), flags (1), creation order (2) when tracked
    for start, length in _bounded(blocks):
        position, end = start, min(start + length, len(data))
        while position + header <= end:
            kind, size = data[position], int.from_bytes(data[position + 1:position + 3], "little")
            yield from _followed(kind, position + header, size, data, blocks, signature=b"OCHK")
            position += header + size


def _followed(kind: int, start: int, size: int, data: Any, blocks: list, signature: bytes) -> Iterator:
    """Yield one message; a continuation message adds its block (after the block's signature) to `blocks`."""
    if kind == _CONTINUATION_MESSAGE and start + 16 <= len(data):
        offset, length = struct.unpack_from("<QQ", data, start)
        if data[offset:offset + len(signature)] == signature:
            # A version 2 block ends with a 4-byte checksum.
            blocks.append((offset + len(signature), length - len(signature) - (4 if signature else 0)))
        return
    yield kind, start, size


def _bounded(blocks: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    index = 0
    while index < len(blocks) and index < _MAX_BLOCKS:
        start, length = blocks[index]
        yield start, min(length, _MAX_BLOCK_SIZE)
        index += 1


# ------------------------------------------------------------------------------------------ attributes
def _attribute(data: Any, start: int) -> tuple[str, list[tuple[int, int, int]]] | None:
    """The name and stored references of a variable-length attribute message, or None for other types."""
    version = data[start]
    name_size, type_size, space_size = struct.unpack_from("<HHH", data, start + 2)
    if version == 1:
        padded = lambda size: (size + 7) // 8 * 8  # noqa: E731 - version 1 pads each part to 8 bytes
        name_at = start + 8
    elif version in (2, 3):
        padded = lambda size: size  # noqa: E731
        name_at = start + 8 + (1 if version == 3 else 0)  # version 3 adds a character-set byte
    else:
        return None
    type_at = name_at + padded(name_size)
    space_at = type_at + padded(type_size)
    values_at = space_at + padded(space_size)
    if values_at > len(data) or data[type_at] & 0x0F != _VARIABLE_LENGTH_CLASS:
        return None
    name = bytes(data[name_at:name_at + name_size]).split(b"\0", 1)[0].decode("utf-8", "replace")
    count = _element_count(data, space_at)
    if values_at + count * _REFERENCE.size > len(data):
        return None  # more values than the file holds: the reader's own size check refuses it
    return name, [_REFERENCE.unpack_from(data, values_at + i * _REFERENCE.size) for i in range(count)]


def _element_count(data: Any, start: int) -> int:
    version, rank = data[start], data[start + 1]
    if version == 2 and data[start + 3] == 2:
        return 0  # a null dataspace holds nothing
    dims_at = start + (8 if version == 1 else 4)
    if dims_at + 8 * rank > len(data):
        return 0
    return math.prod(struct.unpack_from(f"<{rank}Q", data, dims_at))
