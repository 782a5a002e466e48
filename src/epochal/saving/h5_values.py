"""Reading and writing the small pieces of Keras HDF5 files: arrays, string lists and JSON attributes.

Reads are bounded: a dataset or attribute whose declared size cannot fit in the file (the mark of a
damaged header) is refused before anything is allocated, so a corrupt file cannot exhaust memory.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

# HDF5 keeps attributes in an object header of about 64 KiB; Keras splits longer string lists into
# numbered attributes ('weight_names0', 'weight_names1', ...). Both sides here follow that rule.
HEADER_LIMIT = 64512
# DEFLATE cannot shrink data by more than about 1032:1, so a compressed dataset larger than this ratio
# times its stored bytes is a damaged header.
_MAX_COMPRESSION_RATIO = 1100
_MAX_GROUP_DEPTH = 32
# Element sizes of the dtypes weights can have (long doubles and the like cannot become tensors).
_NUMBER_SIZES = {"f": (2, 4, 8), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "b": (1,)}


def h5py_module():
    """h5py, imported on first use with a message saying how to install it."""
    try:
        import h5py
    except ImportError as error:  # pragma: no cover - h5py is a dependency of epochal
        raise ImportError("Reading and writing Keras files needs h5py: pip install h5py") from error
    return h5py


def read_array(dataset: Any, file_size: int) -> np.ndarray:
    """A numeric dataset as a NumPy array, after checking that its declared size is possible."""
    h5py = h5py_module()
    if not isinstance(dataset, h5py.Dataset):
        raise ValueError(f"expected a dataset at '{dataset.name}', found a {type(dataset).__name__}")
    if dataset.dtype.kind not in "fiub" or dataset.dtype.itemsize not in _NUMBER_SIZES[dataset.dtype.kind]:
        raise ValueError(f"dataset '{dataset.name}' holds {dataset.dtype}, not float, integer or bool values")
    declared = int(np.prod(dataset.shape, dtype=np.float64)) * dataset.dtype.itemsize
    stored = dataset.id.get_storage_size()
    if stored > file_size:
        raise ValueError(f"dataset '{dataset.name}' claims {stored} stored bytes in a {file_size}-byte file")
    filters = dataset.id.get_create_plist().get_nfilters()
    limit = file_size if filters == 0 else _MAX_COMPRESSION_RATIO * stored + 4096
    if declared > limit:
        raise ValueError(f"dataset '{dataset.name}' declares shape {dataset.shape}, more data than the file holds")
    array = np.asarray(dataset[()])
    return array.astype(array.dtype.newbyteorder("="), copy=False)  # torch takes native byte order only


def read_strings(group: Any, name: str, file_size: int) -> list[str]:
    """A list-of-strings attribute, joined from Keras's numbered chunks when it was split."""
    if name in group.attrs:
        return _decoded(_read_attribute(group, name, file_size))
    values: list[str] = []
    chunk = 0
    while f"{name}{chunk}" in group.attrs:
        values += _decoded(_read_attribute(group, f"{name}{chunk}", file_size))
        chunk += 1
    return values


def read_json_attribute(group: Any, name: str, file_size: int) -> Any:
    """A JSON attribute such as 'model_config' parsed to Python values, or None when absent."""
    if name not in group.attrs:
        return None
    value = _read_attribute(group, name, file_size)
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        raise ValueError(f"attribute '{name}' is not a JSON string")
    return parse_json(value)


def parse_json(text: str | bytes) -> Any:
    """Parse a Keras JSON config; tf.keras 2's {'class_name': '__tuple__', 'items': [...]} become lists."""
    return json.loads(text, object_hook=_plain_tuple)


def _plain_tuple(value: dict) -> Any:
    if value.get("class_name") == "__tuple__" and isinstance(value.get("items"), list):
        return value["items"]
    return value


def read_text_attribute(group: Any, name: str, file_size: int) -> str | None:
    """A scalar string attribute ('keras_version', 'backend', a vars group's 'name'), or None."""
    if name not in group.attrs:
        return None
    value = _read_attribute(group, name, file_size)
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value if isinstance(value, str) else None


def _read_attribute(group: Any, name: str, file_size: int) -> Any:
    attribute = group.attrs.get_id(name)
    h5py = h5py_module()
    # Keras attributes hold strings or numbers. Anything else (a variable-length sequence is what a damaged
    # string type decodes to) is refused before reading: libhdf5 can crash converting such values.
    if h5py.check_string_dtype(attribute.dtype) is None and attribute.dtype.kind not in "fiub":
        raise ValueError(f"attribute '{name}' holds {attribute.dtype} values, not text or numbers")
    count = int(np.prod(attribute.shape, dtype=np.float64)) if attribute.shape else 1
    if count * max(attribute.dtype.itemsize, 1) > file_size:
        raise ValueError(f"attribute '{name}' declares more data than the file holds")
    return group.attrs[name]


def _decoded(values: Any) -> list[str]:
    array = np.asarray(values)
    if array.size == 0:
        return []
    if array.dtype.kind not in "OSU":
        raise ValueError(f"expected a list of names, found {array.dtype} values")
    return [value.decode("utf-8") if isinstance(value, bytes) else str(value) for value in array.reshape(-1)]


def write_strings(group: Any, name: str, values: list[str]) -> None:
    """Store a list of strings as Keras does: one attribute, or numbered chunks when it is too long."""
    if not values:
        group.attrs[name] = np.array([], dtype=np.float64)  # what Keras writes for an empty list
        return
    encoded = np.array([value.encode("utf-8") for value in values])
    chunks = 1
    while max(piece.nbytes for piece in np.array_split(encoded, chunks)) > HEADER_LIMIT:
        chunks += 1
    if chunks == 1:
        group.attrs[name] = encoded
        return
    for index, piece in enumerate(np.array_split(encoded, chunks)):
        group.attrs[f"{name}{index}"] = piece


def write_text_attribute(group: Any, name: str, text: str) -> None:
    """Store a string as fixed-length UTF-8 bytes, as Keras's legacy writer does.

    Fixed-length strings are read with a size known from the header; variable-length ones make
    libhdf5 allocate whatever length a (possibly damaged) heap entry claims.
    """
    group.attrs[name] = np.bytes_(text.encode("utf-8"))


def write_json_attribute(group: Any, name: str, value: Any) -> None:
    """Store `value` as a UTF-8 JSON attribute (tuples become lists, NumPy scalars plain numbers)."""
    text = json.dumps(value, default=json_default)
    if len(text.encode("utf-8")) < HEADER_LIMIT:
        write_text_attribute(group, name, text)
    else:  # too long for the object header: a variable-length string lives in the global heap
        group.attrs[name] = text.encode("utf-8")


def json_default(value: Any) -> Any:
    """JSON encoder fallback for the values configs hold."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Cannot write a {type(value).__name__} into a Keras config: {value!r}")


def groups_with_vars(root: Any, depth: int = 0, prefix: str = "") -> dict[str, Any]:
    """Every '<path>/vars' group below `root` (Keras 3 weights layout), keyed by '<path>'."""
    h5py = h5py_module()
    found: dict[str, Any] = {}
    if depth > _MAX_GROUP_DEPTH:
        raise ValueError("groups are nested deeper than any Keras model (a damaged or looping file)")
    for key in root.keys():
        child = root.get(key)
        if not isinstance(child, h5py.Group):
            continue
        path = f"{prefix}{key}"
        if key == "vars":
            found[prefix.rstrip("/")] = child
        else:
            found.update(groups_with_vars(child, depth + 1, path + "/"))
    return found
