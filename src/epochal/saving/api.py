"""`save_model`, `load_model`, `save_weights`, `load_weights`: choose the format, check paths, write atomically.

Saving picks the format from the file name (or `save_format`); loading looks at the file's bytes,
so a file with an unexpected name still loads, and a file of the wrong kind gets a message naming it.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any, Optional

from epochal.saving import h5_guard, h5_legacy, keras_zip, optimizer_state, safetensors_io, weights_h5
from epochal.saving.atomic import atomic_write, prepare_target, refuse_folder
from epochal.saving.compile_config import compile_arguments, compile_config, keep_compile_config
from epochal.saving.config import KERAS3, LEGACY, model_config, model_from_config
from epochal.saving.files import (MODEL_FORMATS, WEIGHTS_FORMATS, FileFormatError, as_path, describe_start,
                                  readable_file, reading, sniff, suffix_of)
from epochal.saving.h5_values import h5py_module

_MODEL_SUFFIXES = {".keras": "keras", ".h5": "h5", ".hdf5": "h5", ".weights.h5": "h5"}
_WEIGHTS_SUFFIXES = {".weights.h5": "keras3", ".h5": "legacy", ".hdf5": "legacy", ".safetensors": "safetensors",
                     ".pt": "torch", ".pth": "torch"}
# Errors a config that is valid JSON but not a sensible model raises while layers are built (RuntimeError: torch
# refusing a tensor shape, e.g. a damaged digit that made a dimension negative).
_CONFIG_ERRORS = (TypeError, KeyError, AttributeError, IndexError, ZeroDivisionError, OverflowError, RecursionError,
                  RuntimeError)


# ============================================================================================ models
def save_model(model: Any, filepath: Any, overwrite: bool = True, include_optimizer: bool = True,
               save_format: Optional[str] = None, zipped: Optional[bool] = None) -> None:
    """Save architecture, weights, compile arguments and optimizer state to one file.

    Args:
        model: an epochal model.
        filepath: '.keras' for the Keras 3 format, '.h5' / '.hdf5' for the legacy HDF5 format.
        overwrite: replace an existing file. Defaults to True; False raises FileExistsError.
        include_optimizer: also store the optimizer's state (and, in '.h5', the training config, as
            tf.keras 2 did). Defaults to True.
        save_format: 'keras' or 'h5' to choose the format whatever the file name. Defaults to None.
        zipped: accepted for Keras 3 compatibility; only True (the zip archive) is supported.

    Raises:
        ValueError: an unknown suffix or save_format (the message lists the formats).

    Example:
        >>> import tempfile, pathlib, epochal as keras
        >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.keras"
        >>> save_model(model, path)
        >>> load_model(path).count_params()
        8
    """
    _check_model(model, "save_model")
    if zipped is False:
        raise ValueError("save_model(zipped=False) (an unzipped folder) is not supported; epochal writes the "
                         "'.keras' zip archive. Remove zipped=False.")
    path = refuse_folder(as_path(filepath))
    kind = _model_format(path, save_format)
    path = prepare_target(path, overwrite)
    if kind == "keras":
        atomic_write(path, lambda temporary: keras_zip.write(str(temporary), model, include_optimizer))
        return
    config = model_config(model, LEGACY)
    training = compile_config(model, LEGACY) if include_optimizer else None

    def write(temporary: Path) -> None:
        with h5py_module().File(temporary, "w") as h5file:
            h5_legacy.write_model(h5file, model, config, training, include_optimizer)

    atomic_write(path, write)


def _model_format(path: Path, save_format: Optional[str]) -> str:
    if save_format is not None:
        chosen = str(save_format).lower().lstrip(".")
        if chosen in ("keras", "h5"):
            return chosen
        if chosen in ("tf", "savedmodel"):
            raise ValueError("save_format='tf' (TensorFlow SavedModel) is not supported: epochal runs on PyTorch. "
                             f"Save as {MODEL_FORMATS}.")
        raise ValueError(f"Unknown save_format {save_format!r}. Use 'keras' or 'h5': {MODEL_FORMATS}.")
    suffix = suffix_of(path)
    if suffix in _MODEL_SUFFIXES:
        return _MODEL_SUFFIXES[suffix]
    raise ValueError(f"Cannot tell the format from the file name '{path}' (suffix '{suffix or 'none'}'). model.save() "
                     f"writes {MODEL_FORMATS}. For weights only, use model.save_weights() with {WEIGHTS_FORMATS}.")


def load_model(filepath: Any, custom_objects: Optional[dict] = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """Load a model saved by epochal, Keras 3 ('.keras' or '.h5') or tf.keras 2 ('.h5').

    Args:
        filepath: the file; its format is read from its content, not its name.
        custom_objects: {'ClassName': class_or_function} for layers, losses, metrics or optimizers of
            your own named in the file. Defaults to None.
        compile: restore the loss, metrics, optimizer and optimizer state, so `fit` continues where
            training stopped. Defaults to True.
        safe_mode: refuse layers that hold Python code (Lambda). epochal never runs code from a file;
            this flag only changes the message. Defaults to True.

    Raises:
        FileNotFoundError / IsADirectoryError: nothing, or a folder, at the path.
        TypeError: `filepath` is not a path, or `custom_objects` is not a dict.
        ValueError: a damaged file or one of another kind, an unknown class, or a Lambda layer
            (each message names the file and what was wrong).

    Example:
        >>> import tempfile, pathlib, epochal as keras
        >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
        >>> model.compile(optimizer="adam", loss="mse")
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.h5"
        >>> model.save(path)
        >>> type(load_model(path).optimizer).__name__
        'Adam'
    """
    path = readable_file(filepath)
    _check_custom_objects(custom_objects)
    kind = sniff(path)
    if kind == "zip" and _is_torch_zip(path):
        raise FileFormatError(f"'{path}' is a PyTorch state_dict (torch.save), which holds weights only. Build the "
                              f"model in code and call model.load_weights('{path}').")
    if kind == "zip":
        with reading(path, "a .keras model file"):
            archive = keras_zip.read(str(path), path.stat().st_size)
        return model_from_archive(archive, path, custom_objects, compile, safe_mode)
    if kind == "hdf5":
        return _load_h5_model(path, custom_objects, compile, safe_mode)
    raise FileFormatError(f"'{path}' is not a Keras model file: it starts with {describe_start(path)}. "
                          f"load_model reads {MODEL_FORMATS}.")


def model_from_archive(archive: keras_zip.KerasArchive, path: Path, custom_objects: Optional[dict],
                       compile: bool, safe_mode: bool) -> Any:
    """Build, fill and (optionally) compile the model a read `.keras` archive describes."""
    source = str(path)
    model = _model_from_config(archive.config, source, custom_objects, safe_mode)  # refuses code first
    with reading(path, "a .keras model file"):
        weights = keras_zip.read_weights(archive)
    weights_h5.load_into(model, weights, source, load_optimizer=False)
    training = archive.config.get("compile_config")
    if compile and isinstance(training, dict) and training:
        fallback = optimizer_state.OPTIMIZER_BY_DEFAULT_NAME.get(weights.optimizer_name or "")
        _compile(model, training, source, custom_objects, fallback)
        keep_compile_config(model, training, KERAS3)
        if weights.optimizer is not None:
            optimizer_state.restore_positional(model, weights.optimizer, source)
    return model


def _load_h5_model(path: Path, custom_objects: Optional[dict], compile: bool, safe_mode: bool) -> Any:
    source, size = str(path), path.stat().st_size
    with reading(path, "a legacy HDF5 model file"):
        h5_guard.check_file(path)
        with h5py_module().File(path, "r") as h5file:
            if "model_config" not in h5file.attrs:
                raise FileFormatError(f"'{path}' holds weights only (no model config). Build the model in code and "
                                      f"call model.load_weights('{path}').")
            model_config, training_config = h5_legacy.read_configs(h5file, size)
    model = _model_from_config(model_config, source, custom_objects, safe_mode)  # refuses code first
    with reading(path, "a legacy HDF5 model file"):
        with h5py_module().File(path, "r") as h5file:
            weights, optimizer = h5_legacy.read_model_weights(h5file, size)
    h5_legacy.load_into(model, weights, source)
    if compile and isinstance(training_config, dict):
        _compile(model, training_config, source, custom_objects, None)
        keep_compile_config(model, training_config, LEGACY)
        if optimizer:
            h5_legacy.restore_optimizer(model, optimizer, source)
    return model


def _model_from_config(config: Any, source: str, custom_objects: Optional[dict], safe_mode: bool) -> Any:
    try:
        return model_from_config(config, custom_objects, safe_mode)
    except ValueError as error:
        raise ValueError(f"Cannot load the model in '{source}': {error}") from error
    except _CONFIG_ERRORS as error:
        raise FileFormatError(f"The model config in '{source}' is invalid "
                              f"({type(error).__name__}: {error}).") from error


def _compile(model: Any, training: dict, source: str, custom_objects: Optional[dict], fallback: Optional[str]) -> None:
    try:
        model.compile(**compile_arguments(training, custom_objects, fallback))
    except ValueError as error:
        raise ValueError(f"Cannot restore the training configuration of '{source}': {error}") from error
    except _CONFIG_ERRORS as error:
        raise FileFormatError(f"The training configuration in '{source}' is invalid "
                              f"({type(error).__name__}: {error}).") from error


# =========================================================================================== weights
def save_weights(model: Any, filepath: Any, overwrite: bool = True, save_format: Optional[str] = None) -> None:
    """Save the weights: '.weights.h5' in Keras 3's layout, any other '.h5' in tf.keras 2's.

    '.weights.h5' files also hold the optimizer's state when the model is compiled (as Keras 3's do);
    '.safetensors' and '.pt' / '.pth' hold `model.state_dict()`.

    Args:
        model: an epochal model.
        filepath: the file name; its suffix picks the layout.
        overwrite: replace an existing file. Defaults to True.
        save_format: 'h5' writes the legacy layout whatever the name. Defaults to None.

    Example:
        >>> import tempfile, pathlib, epochal as keras
        >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> save_weights(model, folder / "model-weight.h5")   # tf.keras 2 layout, as the seed writes
        >>> save_weights(model, folder / "model.weights.h5")  # Keras 3 layout
        >>> load_weights(model, folder / "model-weight.h5")
    """
    _check_model(model, "save_weights")
    path = refuse_folder(as_path(filepath))
    kind = _weights_format(path, save_format)
    path = prepare_target(path, overwrite)
    if kind == "safetensors":
        safetensors_io.save_safetensors(model, path, overwrite)
    elif kind == "torch":
        safetensors_io.save_torch_state(model, path)
    else:
        writer = weights_h5.write if kind == "keras3" else h5_legacy.write_weights

        def write(temporary: Path) -> None:
            with h5py_module().File(temporary, "w") as h5file:
                writer(h5file, model)

        atomic_write(path, write)


def _weights_format(path: Path, save_format: Optional[str]) -> str:
    if save_format is not None:
        chosen = str(save_format).lower().lstrip(".")
        if chosen == "h5":
            return "keras3" if suffix_of(path) == ".weights.h5" else "legacy"
        raise ValueError(f"save_weights(save_format={save_format!r}) is not supported ('tf' checkpoints are "
                         f"TensorFlow-only). Use 'h5', or a file name ending in {WEIGHTS_FORMATS}.")
    suffix = suffix_of(path)
    if suffix in _WEIGHTS_SUFFIXES:
        return _WEIGHTS_SUFFIXES[suffix]
    raise ValueError(f"Cannot tell the weights format from the file name '{path}' (suffix '{suffix or 'none'}'). "
                     f"save_weights writes {WEIGHTS_FORMATS}. To save the whole model, use model.save() with "
                     f"{MODEL_FORMATS}.")


def load_weights(model: Any, filepath: Any, skip_mismatch: bool = False, by_name: bool = False) -> None:
    """Load weights saved by epochal, Keras 3 or tf.keras 2, in any of their layouts.

    Args:
        model: a built epochal model.
        filepath: '.weights.h5', legacy '.h5' (weights or whole model), '.keras', '.safetensors' or
            '.pt' / '.pth'; the layout is read from the file.
        skip_mismatch: skip (with a warning) layers whose weights do not fit instead of raising.
            Defaults to False.
        by_name: match layers by name instead of by position. Defaults to False.

    Raises:
        ValueError: weights that do not fit (naming the layer and both shapes), or a damaged file.

    Example:
        >>> import tempfile, pathlib, epochal as keras
        >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.weights.h5"
        >>> model.save_weights(path)
        >>> load_weights(model, path, by_name=True)
    """
    _check_model(model, "load_weights")
    path = readable_file(filepath, WEIGHTS_FORMATS)
    if not model.built:
        raise ValueError(f"Model '{model.name}' has no weights yet, so '{path}' cannot be loaded into it. Build it "
                         "first: give the first layer an input shape (keras.Input(shape=...)), call "
                         "model.build((None, ...)), or call it on a batch of data.")
    kind, suffix, source = sniff(path), suffix_of(path), str(path)
    if kind == "zip" and (suffix in (".pt", ".pth") or _is_torch_zip(path)):
        safetensors_io.load_torch_state(model, path, strict=not skip_mismatch, skip_mismatch=skip_mismatch)
    elif kind == "zip":
        with reading(path, "a .keras model file"):
            weights = keras_zip.read_weights(keras_zip.read(source, path.stat().st_size))
        weights_h5.load_into(model, weights, source, by_name, skip_mismatch)
    elif kind == "hdf5":
        _load_h5_weights(model, path, by_name, skip_mismatch)
    elif kind == "safetensors" or suffix == ".safetensors":
        safetensors_io.load_safetensors(model, path, strict=not skip_mismatch, skip_mismatch=skip_mismatch)
    elif suffix in (".pt", ".pth"):
        safetensors_io.load_torch_state(model, path, strict=not skip_mismatch, skip_mismatch=skip_mismatch)
    else:
        raise FileFormatError(f"'{path}' is not a weights file epochal can read: it starts with "
                              f"{describe_start(path)}. load_weights reads {WEIGHTS_FORMATS}, and '.keras' files.")


def _load_h5_weights(model: Any, path: Path, by_name: bool, skip_mismatch: bool) -> None:
    source, size = str(path), path.stat().st_size
    with reading(path, "an HDF5 weights file"):
        h5_guard.check_file(path)
        with h5py_module().File(path, "r") as h5file:
            if weights_h5.is_keras3_layout(h5file):
                keras3 = weights_h5.read(h5file, size)
                legacy = None
            elif h5_legacy.is_legacy_weights(h5file):
                whole_model = "layer_names" not in h5file.attrs and "model_weights" in h5file
                legacy = h5_legacy.read_weights(h5file["model_weights"] if whole_model else h5file, size)
            else:
                raise FileFormatError(f"'{path}' is an HDF5 file without Keras weights (no 'layers' group and no "
                                      f"'layer_names' attribute). load_weights reads {WEIGHTS_FORMATS}.")
    if legacy is None:
        weights_h5.load_into(model, keras3, source, by_name, skip_mismatch)
    else:
        h5_legacy.load_into(model, legacy, source, by_name, skip_mismatch)


def _is_torch_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
    return keras_zip.CONFIG_NAME not in names and any(name.endswith("data.pkl") for name in names)


def _check_custom_objects(custom_objects: Any) -> None:
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError("`custom_objects` must be a dict {'ClassName': class_or_function} or None. "
                        f"Received: custom_objects={custom_objects!r} of type {type(custom_objects).__name__}.")


def _check_model(model: Any, where: str) -> None:
    from epochal.models.model import Model

    if not isinstance(model, Model):
        raise TypeError(f"{where}() takes an epochal model (keras.Sequential, keras.Model). "
                        f"Received: {type(model).__name__}.")


# ============================================================================================ bytes
def model_to_bytes(model: Any) -> bytes:
    """The bytes of a '.keras' file holding `model` (used to pickle models)."""
    buffer = io.BytesIO()
    keras_zip.write(buffer, model)
    return buffer.getvalue()


def model_from_bytes(data: bytes, custom_objects: Optional[dict] = None) -> Any:
    """The model in the bytes of a '.keras' file."""
    label = Path("<pickled model>")
    with reading(label, "a .keras model"):
        archive = keras_zip.read(io.BytesIO(data), len(data))
    return model_from_archive(archive, label, custom_objects, compile=True, safe_mode=True)
