"""Loading is safe and clear: bad paths and damaged files give ValueError/OSError naming the file; saving is atomic."""
from __future__ import annotations

import copy
import io
import json
import struct
import warnings
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import epochal as keras
from conftest import FIXTURES
from epochal.saving import FileFormatError, atomic, h5_guard, h5_legacy, keras_zip, weights_h5
from epochal.saving.h5_guard import check_bytes, global_heap_entries


def _small_model() -> keras.Sequential:
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(np.ones((8, 3)), np.zeros(8), verbose=0)
    return model


@pytest.fixture(scope="module")
def saved_files(tmp_path_factory) -> dict[str, bytes]:
    """The bytes of one small model saved in every format."""
    folder = tmp_path_factory.mktemp("valid")
    model = _small_model()
    names = ["m.keras", "m.h5", "w.weights.h5", "w.h5", "w.safetensors", "w.pt"]
    for name in names:
        (model.save if name.startswith("m.") else model.save_weights)(folder / name)
    files = {name: (folder / name).read_bytes() for name in names}
    files["w_vlen.h5"] = _with_variable_length_names(folder / "w.h5")
    for name, fixture in KERAS_WRITTEN.items():
        files[name] = (FIXTURES / fixture).read_bytes()
    return files


# Files real Keras wrote (its own HDF5 and zip layout, variable-length strings), damaged as epochal's are.
KERAS_WRITTEN = {"keras3.keras": "k3_seed_rmsprop.keras", "tf_keras2.h5": "tk2_seed_rmsprop.h5",
                 "tf_keras2_weights.h5": "tk2_seed_rmsprop_weights.h5"}


def _with_variable_length_names(path: Path) -> bytes:
    """A legacy weights file whose names are variable-length strings in the global heap, as tf.keras 2 writes them."""
    with h5py.File(path, "r+") as h5:
        for group in [h5, *(h5[name] for name in h5)]:
            for key, value in list(group.attrs.items()):
                if isinstance(value, np.ndarray) and value.dtype.kind == "S":
                    group.attrs[key] = [item.decode() for item in value]  # h5py stores str lists as vlen strings
    return path.read_bytes()


def _load(path: Path):
    if path.name.startswith("m.") or path.name in ("keras3.keras", "tf_keras2.h5"):
        return keras.models.load_model(path)
    if path.name == "tf_keras2_weights.h5":
        target = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                                   keras.layers.Dense(100, activation="relu"), keras.layers.Dense(10)])
        target.load_weights(path)
        return target
    target = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"),
                               keras.layers.Dense(2, activation="softmax")])
    target.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    target.load_weights(path)
    return target


# ------------------------------------------------------------------------------------------ bad paths
def test_missing_file_and_folder_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="No file found at '.*nothing.keras'"):
        keras.models.load_model(tmp_path / "nothing.keras")
    with pytest.raises(IsADirectoryError, match=f"'{tmp_path}' is a folder"):
        keras.models.load_model(tmp_path)
    model = _small_model()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        model.save(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        model.load_weights(tmp_path / "missing.h5")
    with pytest.raises(IsADirectoryError, match=f"'{tmp_path}' is a folder.*'.weights.h5'"):
        model.load_weights(tmp_path)
    with pytest.raises(IsADirectoryError, match=f"Cannot save to '{tmp_path}': it is a folder"):
        model.save_weights(tmp_path)


ALL_FILES = ["m.keras", "m.h5", "w.weights.h5", "w.h5", "w_vlen.h5", "w.safetensors", "w.pt", *KERAS_WRITTEN]


@pytest.mark.parametrize("name", ALL_FILES)
def test_empty_and_truncated_files_raise_value_errors_naming_the_file(name, saved_files, tmp_path):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=f"'{path}' is empty"):
        _load(path)
    path.write_bytes(saved_files[name][: len(saved_files[name]) // 2])
    with pytest.raises(ValueError, match=f"'{path}'") as error:
        _load(path)
    assert isinstance(error.value, FileFormatError)


def test_wrong_kind_of_file_is_named(tmp_path):
    picture = tmp_path / "model.keras"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match=r"'.*model.keras' is not a Keras model file: it starts with b'\\x89PNG"):
        keras.models.load_model(picture)
    other_zip = tmp_path / "data.keras"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="zip archive without config.json"):
        keras.models.load_model(other_zip)
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5["x"] = np.ones(3)
    with pytest.raises(ValueError, match="HDF5 file without Keras weights"):
        _small_model().load_weights(tmp_path / "other.h5")


@pytest.mark.parametrize("name", ALL_FILES)
def test_a_text_file_under_any_format_name_is_refused_naming_it(name, tmp_path):
    path = tmp_path / name
    path.write_text("epoch,loss\n1,0.5\n" * 20)  # e.g. a CSV log saved under the wrong name
    with pytest.raises(FileFormatError, match=f"'{path}'"):
        _load(path)


def test_weights_file_given_to_load_model_says_to_use_load_weights(saved_files, tmp_path):
    (tmp_path / "w.h5").write_bytes(saved_files["w.h5"])
    with pytest.raises(ValueError, match=r"holds weights only.*model.load_weights"):
        keras.models.load_model(tmp_path / "w.h5")


@pytest.mark.parametrize("name, call", [("model.txt", "save"), ("model", "save"), ("model.ckpt", "save_weights"),
                                        ("model.json", "save_weights")])
def test_unknown_suffix_lists_the_formats(name, call, tmp_path):
    model = _small_model()
    with pytest.raises(ValueError, match=r"Cannot tell the .*format from the file name") as error:
        getattr(model, call)(tmp_path / name)
    listed = ["'.keras'", "'.h5'", "'.hdf5'", "'.weights.h5'"]
    listed += ["'.safetensors'", "'.pt'", "'.pth'"] if call == "save_weights" else []
    assert all(suffix in str(error.value) for suffix in listed), str(error.value)
    assert not (tmp_path / name).exists()


def test_save_format_h5_writes_legacy_files_under_any_name(tmp_path):
    model = _small_model()
    model.save(tmp_path / "checkpoint", save_format="h5")
    assert keras.models.load_model(tmp_path / "checkpoint").count_params() == model.count_params()
    with pytest.raises(ValueError, match="SavedModel"):
        model.save(tmp_path / "x", save_format="tf")


def _with_stuck_global_heap(data: bytes) -> bytes:
    """`data` with its first global heap entry turned into free space of 0 bytes: libhdf5 loops forever on it."""
    entry = data.index(b"GCOL\x01") + 16
    damaged = bytearray(data)
    damaged[entry:entry + 2] = bytes(2)  # index 0: free space ...
    damaged[entry + 8:entry + 16] = bytes(8)  # ... of 0 bytes
    return bytes(damaged)


def _with_huge_string_length(data: bytes) -> bytes:
    """`data` with the stored length of the string in heap entry 1 set to ~4 GiB: libhdf5 would allocate it all."""
    (collection, index), size = next(iter(global_heap_entries(data).items()))
    reference = struct.pack("<IQI", size, collection, index)  # how an attribute stores a variable-length value
    assert data.count(reference) == 1
    return data.replace(reference, struct.pack("<IQI", 0xFFFFFFF0, collection, index))


def _real_tf_keras_file() -> bytes:
    return (FIXTURES / "tk2_seed_rmsprop_weights.h5").read_bytes()


@pytest.mark.parametrize("damage, message", [
    (_with_stuck_global_heap, r"global heap .* at byte \d+ is damaged: its entry at byte \d+ claims 0 bytes"),
    (_with_huge_string_length, r"attribute '\w+' claims 4294967280 bytes but its heap entry holds \d+"),
])
def test_hdf5_damage_that_would_hang_libhdf5_or_exhaust_memory_is_refused(damage, message, saved_files):
    for valid in (saved_files["w_vlen.h5"], _real_tf_keras_file()):
        check_bytes(valid)
        with pytest.raises(ValueError, match=message):
            check_bytes(damage(valid))


@pytest.mark.parametrize("name", ["m.h5", "w.h5", "m.keras"])
def test_every_hdf5_reader_runs_the_guard_first(name, saved_files, tmp_path, monkeypatch):
    """Wiring: the guard runs before h5py reads a value (the damaged files themselves would hang a broken build)."""
    def refuse(data) -> None:
        raise ValueError("guard ran")

    monkeypatch.setattr(h5_guard, "check_file", refuse)
    monkeypatch.setattr(h5_guard, "check_bytes", refuse)
    path = tmp_path / name
    path.write_bytes(saved_files[name])
    with pytest.raises(FileFormatError, match=f"'{path}'.*guard ran"):
        _load(path)
    with pytest.raises(FileFormatError, match="guard ran"):
        _small_model().load_weights(path)


def test_an_attribute_of_an_unexpected_type_is_refused_before_it_is_read(tmp_path):
    """A damaged string type decodes as a variable-length sequence, which libhdf5 can crash converting."""
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as h5:
        sequences = np.empty(1, dtype=object)
        sequences[0] = np.array([1, 2], dtype="uint8")
        h5.attrs.create("layer_names", sequences, dtype=h5py.vlen_dtype("uint8"))
    with pytest.raises(FileFormatError, match=f"'{path}'.*attribute 'layer_names' holds object values"):
        _small_model().load_weights(path)


def test_user_mistakes_in_paths_and_arguments_are_explained(saved_files, tmp_path):
    (tmp_path / "m.keras").write_bytes(saved_files["m.keras"])
    with pytest.raises(TypeError, match="`custom_objects` must be a dict.*Received: custom_objects=3"):
        keras.models.load_model(tmp_path / "m.keras", custom_objects=3)
    with pytest.raises(NotADirectoryError, match="'.*m.keras' is a file, not a folder"):
        _small_model().save(tmp_path / "m.keras" / "inside.keras")
    (tmp_path / "w.pt").write_bytes(saved_files["w.pt"])
    with pytest.raises(ValueError, match=r"'.*w.pt' is a PyTorch state_dict.*model.load_weights"):
        keras.models.load_model(tmp_path / "w.pt")


# -------------------------------------------------------------------------------------- code in files
def _write_keras_config(path: Path, config: dict) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", "{}")
        archive.writestr("model.weights.h5", b"")


def _sequential_with(layer_entry: dict) -> dict:
    return {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 3], "name": "in"}}, layer_entry]}}


LAMBDA = {"class_name": "Lambda", "config": {"name": "evil", "function": ["4wEAAAAAAAAA", None, None],
                                             "function_type": "lambda"}}


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_lambda_layers_are_refused_and_named(suffix, tmp_path):
    path = tmp_path / f"lambda{suffix}"
    config = _sequential_with(LAMBDA)
    if suffix == ".keras":
        _write_keras_config(path, config)
    else:
        with h5py.File(path, "w") as h5:
            h5.attrs["model_config"] = json.dumps(config)
            h5.create_group("model_weights")
    with pytest.raises(ValueError, match="Lambda layer 'evil'.*refused under safe_mode=True"):
        keras.models.load_model(path)
    with pytest.raises(ValueError, match="Lambda layer 'evil'.*never runs code stored in a file"):
        keras.models.load_model(path, safe_mode=False)


def test_serialized_lambda_function_is_refused(tmp_path):
    dense = {"class_name": "Dense", "config": {"name": "d", "units": 2,
                                               "activation": {"class_name": "__lambda__", "config": {"code": "..."}}}}
    _write_keras_config(tmp_path / "fn.keras", _sequential_with(dense))
    with pytest.raises(ValueError, match="serialized Python lambda"):
        keras.models.load_model(tmp_path / "fn.keras")


def test_a_config_torch_cannot_build_is_reported_as_a_damaged_file(tmp_path):
    """A flipped byte can turn '28' into '-8': torch's RuntimeError becomes an error naming the file."""
    config = {"class_name": "Sequential", "config": {"name": "s", "build_input_shape": [None, -8], "layers": [
        {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}
    _write_keras_config(tmp_path / "negative.keras", config)
    with pytest.raises(FileFormatError, match=r"model config in '.*negative.keras' is invalid \(RuntimeError"):
        keras.models.load_model(tmp_path / "negative.keras")


def test_unknown_class_is_named_with_the_known_ones(tmp_path):
    _write_keras_config(tmp_path / "conv.keras", _sequential_with({"class_name": "Conv2DX", "config": {"name": "c"}}))
    with pytest.raises(ValueError, match=r"conv.keras.*Unknown layer class 'Conv2DX'.*Dense.*custom_objects"):
        keras.models.load_model(tmp_path / "conv.keras")


def _leave_marker(path: str) -> None:
    Path(path).write_text("code stored in the file ran")


class Payload:
    """An object whose unpickling calls a function: what a malicious '.pt' file would hold."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return _leave_marker, (str(self.marker),)


def test_torch_files_are_loaded_with_weights_only(tmp_path):
    import torch

    marker = tmp_path / "ran.txt"
    torch.save({"dense.kernel": torch.zeros(3, 4), "payload": Payload(marker)}, tmp_path / "evil.pt")
    torch.load(tmp_path / "evil.pt", weights_only=False)  # the control: a plain unpickle does run it
    assert marker.exists()
    marker.unlink()
    with pytest.raises(FileFormatError, match="evil.pt"):
        _small_model().load_weights(tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="evil.pt"):
        keras.models.load_model(tmp_path / "evil.pt")
    assert not marker.exists()


# ------------------------------------------------------------------------------------------- atomicity
def _fail_in_h5(h5file, *args, **kwargs) -> None:
    h5file.create_dataset("half_written", data=np.zeros(1000))
    raise OSError("No space left on device")


def _fail_in_file(target, *args, **kwargs) -> None:
    with open(target, "wb") as handle:
        handle.write(b"PK\x03\x04 half of an archive")
    raise OSError("No space left on device")


def _fail_in_handle(state, handle, *args, **kwargs) -> None:
    handle.write(b"PK\x03\x04 half of an archive")
    raise OSError("No space left on device")


WRITERS = {  # each format's writer, replaced by one that writes part of the file and then fails
    "m.keras": (keras_zip, "write", _fail_in_file),
    "m.h5": (h5_legacy, "write_model", _fail_in_h5),
    "w.weights.h5": (weights_h5, "write", _fail_in_h5),
    "w.h5": (h5_legacy, "write_weights", _fail_in_h5),
    "w.safetensors": ("safetensors.torch", "save_file", lambda state, target, **kwargs: _fail_in_file(target)),
    "w.pt": ("torch", "save", _fail_in_handle),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_format_keeps_the_previous_file_when_a_save_fails_half_way(name, saved_files, tmp_path, monkeypatch):
    target = tmp_path / name
    target.write_bytes(saved_files[name])
    module, attribute, failing = WRITERS[name]
    monkeypatch.setattr(f"{module}.{attribute}" if isinstance(module, str) else module,
                        *([failing] if isinstance(module, str) else [attribute, failing]))
    model = _small_model()
    with pytest.raises(OSError, match="No space left"):
        (model.save if name.startswith("m.") else model.save_weights)(target)
    monkeypatch.undo()
    assert target.read_bytes() == saved_files[name]
    assert [path.name for path in tmp_path.iterdir()] == [name]  # the temporary file is gone
    _load(target)


_CRASH_MID_SAVE = """
import os, sys
import epochal as keras
from epochal.saving import h5_legacy

def die(h5file, *args, **kwargs):
    h5file.create_dataset("half_written", data=[0.0] * 10000)
    h5file.flush()
    os._exit(3)  # the process dies here: no exception handler, no cleanup runs

h5_legacy.write_model = die
keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4)]).save(sys.argv[1])
"""


def test_a_process_killed_mid_save_leaves_the_previous_file_intact(saved_files, tmp_path):
    import subprocess
    import sys

    target = tmp_path / "model-whole.h5"
    target.write_bytes(saved_files["m.h5"])
    finished = subprocess.run([sys.executable, "-c", _CRASH_MID_SAVE, str(target)], capture_output=True, timeout=120)
    assert finished.returncode == 3, finished.stderr.decode()
    assert target.read_bytes() == saved_files["m.h5"]
    assert keras.models.load_model(target).count_params() == 26
    leftovers = [path.name for path in tmp_path.iterdir() if path != target]
    assert len(leftovers) == 1 and leftovers[0].startswith(".model-whole.h5.")  # a hidden, half-written temporary


def test_atomic_write_replaces_in_one_step(tmp_path):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")
    atomic.atomic_write(target, lambda temporary: temporary.write_bytes(b"new"))
    assert target.read_bytes() == b"new" and len(list(tmp_path.iterdir())) == 1


def test_overwrite_false_refuses_to_replace(tmp_path):
    model = _small_model()
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(tmp_path / "m.keras", overwrite=False)
    model.save(tmp_path / "sub" / "dir" / "m.keras")  # missing folders are created
    assert (tmp_path / "sub" / "dir" / "m.keras").is_file()


# ------------------------------------------------------------------------------------------------ fuzz
FUZZ_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.function_scoped_fixture])
FLIPS = st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=6)


def _flipped(data: bytes, flips: list[tuple[float, int]], cut: float) -> bytes:
    damaged = bytearray(data)
    for position, value in flips:
        damaged[int(position * (len(damaged) - 1))] = value
    if not flips or cut < 0.2:
        damaged = damaged[: int(cut * len(damaged))]
    return bytes(damaged)


def _loads_or_names_the_file(path: Path, data: bytes) -> None:
    """Load the damaged file: it loads, or fails with ValueError/OSError naming it; anything else fails the test."""
    path.write_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # damaged optimizer state or config fields only warn
            _load(path)
    except (ValueError, OSError) as error:
        assert str(path) in str(error), str(error)


@FUZZ_SETTINGS
@given(name=st.sampled_from(ALL_FILES), cut=st.floats(0.0, 1.0), flips=FLIPS)
def test_fuzzed_files_load_or_raise_clear_errors(saved_files, tmp_path_factory, name, cut, flips):
    path = tmp_path_factory.mktemp("fuzz") / name
    _loads_or_names_the_file(path, _flipped(saved_files[name], flips, cut))


def _rezipped(data: bytes, entry: str, damage) -> bytes:
    """The archive with one entry damaged and stored again with a valid checksum, so the parsers meet the damage."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries[entry] = damage(entries[entry])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@FUZZ_SETTINGS
@given(name=st.sampled_from(["m.keras", "keras3.keras"]),
       entry=st.sampled_from(["config.json", "metadata.json", "model.weights.h5"]), cut=st.floats(0.0, 1.0),
       flips=FLIPS)
def test_fuzzed_entries_inside_keras_archives_load_or_raise_clear_errors(saved_files, tmp_path_factory, name, entry,
                                                                         cut, flips):
    data = _rezipped(saved_files[name], entry, lambda content: _flipped(content, flips, cut))
    _loads_or_names_the_file(tmp_path_factory.mktemp("fuzz") / name, data)


ODD_VALUES = [None, -1, 0, 2**63, 1e308, float("nan"), "", "relu", [], {}, [None], [[1]], True,
              {"class_name": "Dense"}, {"class_name": "__tuple__", "items": []}]


def _value_paths(value: Any, path: tuple = ()) -> list[tuple]:
    paths = [path]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        paths += _value_paths(item, (*path, key))
    return paths


def _with_replaced_values(text: bytes | str, changes: list[tuple[float, int]]) -> str:
    """The JSON config with some values (chosen by position in a walk of the tree) replaced by odd ones."""
    config = json.loads(text)
    for position, odd in changes:
        paths = _value_paths(config)[1:]
        *parents, last = paths[int(position * (len(paths) - 1))]
        holder = config
        for key in parents:
            holder = holder[key]
        holder[last] = copy.deepcopy(ODD_VALUES[odd])  # a fresh copy: a shared one could make the tree a loop
    return json.dumps(config)


@FUZZ_SETTINGS
@given(name=st.sampled_from(["m.keras", "keras3.keras", "m.h5", "tf_keras2.h5"]),
       which=st.sampled_from(["model_config", "training_config"]),
       changes=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, len(ODD_VALUES) - 1)), min_size=1, max_size=3))
def test_configs_with_odd_values_load_or_raise_clear_errors(saved_files, tmp_path_factory, name, which, changes):
    """Well-formed files whose JSON configs hold values of the wrong type or range (the damage checksums miss)."""
    path = tmp_path_factory.mktemp("fuzz") / name
    if name.endswith(".keras"):
        data = _rezipped(saved_files[name], "config.json", lambda text: _with_replaced_values(text, changes))
        _loads_or_names_the_file(path, data)
        return
    path.write_bytes(saved_files[name])
    with h5py.File(path, "r+") as h5:
        if which not in h5.attrs:
            return
        h5.attrs[which] = np.bytes_(_with_replaced_values(h5.attrs[which], changes).encode())
    _loads_or_names_the_file(path, path.read_bytes())
