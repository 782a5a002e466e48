"""PyTorch's own weight files: `safetensors` and `torch.save(model.state_dict())` ('.pt' / '.pth').

Both hold `model.state_dict()` (keys such as 'dense.kernel', Keras layout). Loading never unpickles:
safetensors is a plain header plus raw bytes, and `.pt` files go through
`torch.load(..., weights_only=True)`, which refuses anything but tensors and containers.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Mapping

import torch

from epochal.saving.atomic import atomic_write, prepare_target
from epochal.saving.files import WEIGHTS_FORMATS, readable_file, reading


def _safetensors_torch():
    try:
        import safetensors.torch
    except ImportError as error:
        raise ImportError("Reading and writing '.safetensors' files needs the safetensors package: "
                          "pip install safetensors (or pip install epochal[safetensors]).") from error
    return safetensors.torch


def _plain_state(model: Any) -> dict[str, torch.Tensor]:
    # safetensors refuses views and shared storage: give it one contiguous CPU copy per tensor.
    return {key: value.detach().cpu().contiguous().clone() for key, value in model.state_dict().items()}


def save_safetensors(model: Any, filepath: Any, overwrite: bool = True) -> None:
    """Write `model.state_dict()` to a `.safetensors` file, atomically.

    Example:
        >>> import tempfile, pathlib, epochal as keras
        >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.safetensors"
        >>> save_safetensors(model, path)
        >>> load_safetensors(model, path)
    """
    path = prepare_target(filepath, overwrite)
    state = _plain_state(model)
    module = _safetensors_torch()
    atomic_write(path, lambda temporary: module.save_file(state, str(temporary), metadata={"format": "pt"}))


def load_safetensors(model: Any, filepath: Any, strict: bool = True, skip_mismatch: bool = False) -> None:
    """Load a `.safetensors` state dict into `model` (see `load_state` for `strict` and `skip_mismatch`)."""
    path = readable_file(filepath, WEIGHTS_FORMATS)
    module = _safetensors_torch()
    with reading(path, "a safetensors file"):
        state = module.load_file(str(path), device="cpu")
    load_state(model, state, str(path), strict, skip_mismatch)


def save_torch_state(model: Any, path: Path) -> None:
    """`torch.save(model.state_dict())` to a '.pt' / '.pth' path, atomically (prepare the path first)."""
    state = _plain_state(model)

    def write(temporary: Path) -> None:
        # Through a handle, torch names the archive's inner folder 'archive', not after the temporary file.
        with open(temporary, "wb") as handle:
            torch.save(state, handle)

    atomic_write(path, write)


def load_torch_state(model: Any, filepath: Any, strict: bool = True, skip_mismatch: bool = False) -> None:
    """Load a '.pt' / '.pth' state dict with `torch.load(weights_only=True)` (no code from the file runs)."""
    path = readable_file(filepath, WEIGHTS_FORMATS)
    with reading(path, "a PyTorch state_dict file"):
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError(f"it holds a {type(state).__name__}, not a state_dict of tensors")
    load_state(model, state, str(path), strict, skip_mismatch)


def load_state(model: Any, state: Mapping[str, torch.Tensor], source: str, strict: bool = True,
               skip_mismatch: bool = False) -> None:
    """Copy a state dict into `model`, checking every key and shape first; nothing changes if a check fails.

    Keys are layer names ('dense.kernel'), so a model whose layers got other automatic names (a second
    model built in the same session gets 'dense_1') does not match.

    Args:
        strict: refuse missing or unexpected keys. Defaults to True.
        skip_mismatch: skip, with a warning, tensors whose shape differs instead of raising (as
            `load_weights(skip_mismatch=True)` does). Defaults to False.

    Raises:
        ValueError: missing or unexpected keys (when `strict`), or a tensor whose shape differs (the key and
            both shapes named; unless `skip_mismatch`).
    """
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if strict and (missing or unexpected):
        raise ValueError(f"'{source}' does not match this model: missing keys {missing}, unexpected keys "
                         f"{unexpected}. Keys follow layer names, so give layers the same names (name=...) or build "
                         "the model in a fresh session (keras.backend.clear_session()); or load only the keys both "
                         "have with model.load_weights(..., skip_mismatch=True) / load_safetensors(..., strict=False).")
    accepted, skipped = {}, []
    for key in expected:  # the model's order, so the first mismatch reported is the first layer's
        if key not in state:
            continue
        value = state[key]
        if tuple(value.shape) == tuple(expected[key].shape):
            accepted[key] = value
            continue
        mismatch = f"'{key}' has shape {tuple(expected[key].shape)} in the model but {tuple(value.shape)} in the file"
        if not skip_mismatch:
            layer = key.rsplit(".", 1)[0]  # 'dense_1.kernel' -> layer 'dense_1'
            raise ValueError(f"Cannot load '{source}' into layer '{layer}': {mismatch}. Was it saved from a different "
                             "architecture? Pass skip_mismatch=True to skip tensors that do not fit.")
        skipped.append(mismatch)
    if skipped:
        warnings.warn(f"Skipping {len(skipped)} tensors while loading '{source}': {'; '.join(skipped)}.", stacklevel=3)
    model.load_state_dict(accepted, strict=False)
