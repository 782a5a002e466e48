"""The Keras 3 `.keras` format: a zip archive of `config.json`, `metadata.json` and `model.weights.h5`."""
from __future__ import annotations

import datetime
import io
import json
import zipfile
from dataclasses import dataclass
from typing import IO, Any, Union

from epochal.saving import h5_guard, weights_h5
from epochal.saving.compile_config import compile_config
from epochal.saving.config import KERAS3, model_config
from epochal.saving.h5_legacy import KERAS_FORMAT_VERSION
from epochal.saving.h5_values import h5py_module, json_default, parse_json

CONFIG_NAME = "config.json"
METADATA_NAME = "metadata.json"
WEIGHTS_NAME = "model.weights.h5"
# Keras stores entries uncompressed; a deflated entry cannot legitimately expand beyond this ratio.
_MAX_EXPANSION = 1100


@dataclass
class KerasArchive:
    """What a `.keras` file holds: its config and metadata parsed, its weights file still as bytes.

    The weights are parsed only after the config has been checked (`read_weights`), so a file that
    names code is refused before anything else in it is read.
    """

    config: dict
    metadata: dict
    weights_data: bytes


def write(target: Union[str, IO[bytes]], model: Any, include_optimizer: bool = True) -> None:
    """Write `model` as a `.keras` archive to a path or a binary file object."""
    from epochal import __version__

    config = model_config(model, KERAS3)
    training = compile_config(model, KERAS3)
    if training is not None:
        config["compile_config"] = training
    metadata = {"keras_version": KERAS_FORMAT_VERSION, "saved_by": f"epochal {__version__}",
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(METADATA_NAME, json.dumps(metadata))
        archive.writestr(CONFIG_NAME, json.dumps(config, default=json_default))
        archive.writestr(WEIGHTS_NAME, _weights_bytes(model, include_optimizer))


def _weights_bytes(model: Any, include_optimizer: bool) -> bytes:
    buffer = io.BytesIO()
    with h5py_module().File(buffer, "w") as h5file:
        weights_h5.write(h5file, model, include_optimizer)
    return buffer.getvalue()


def read(source: Union[str, IO[bytes]], size: int) -> KerasArchive:
    """Read a `.keras` archive of `size` bytes (call inside `files.reading`, which names the file)."""
    with zipfile.ZipFile(source) as archive:
        names = archive.namelist()
        if CONFIG_NAME not in names:
            raise ValueError(f"it is a zip archive without {CONFIG_NAME} (entries: {names[:10]}), so not a Keras model")
        config = parse_json(_entry(archive, CONFIG_NAME, size))
        metadata = parse_json(_entry(archive, METADATA_NAME, size)) if METADATA_NAME in names else {}
        if WEIGHTS_NAME not in names:
            raise ValueError(f"it has no {WEIGHTS_NAME} (entries: {names[:10]}); epochal reads the HDF5 weights "
                             "that Keras 3 writes by default")
        weights_data = _entry(archive, WEIGHTS_NAME, size)
    if not isinstance(config, dict):
        raise ValueError(f"{CONFIG_NAME} holds a {type(config).__name__}, not a model config")
    return KerasArchive(config, metadata if isinstance(metadata, dict) else {}, weights_data)


def read_weights(archive: KerasArchive) -> weights_h5.Keras3Weights:
    """Parse the archive's `model.weights.h5` (call inside `files.reading`)."""
    h5_guard.check_bytes(archive.weights_data)
    with h5py_module().File(io.BytesIO(archive.weights_data), "r") as h5file:
        return weights_h5.read(h5file, len(archive.weights_data))


def _entry(archive: zipfile.ZipFile, name: str, archive_size: int) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > _MAX_EXPANSION * max(archive_size, 1):
        raise ValueError(f"entry {name} claims {info.file_size} bytes, far more than the archive can hold")
    return archive.read(name)
