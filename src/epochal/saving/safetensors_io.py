"""PyTorch's own weight files: `safetensors` and `torch.save(model.state_dict())` ('.pt' / '.pth').

Both hold `model.state_dict()` (keys such as 'dense.kernel', Keras layout). Loading never unpickles:
safetensors is a plain header plus raw bytes, and `.pt` files go through
`torch.load(..., weights_only=True)`, which refuses anything but tensors and containers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from epochal.saving.atomic import atomic_write, prepare_target
from epochal.saving.files import readable_file, reading


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


def load_safetensors(model: Any, filepath: Any, strict: bool = True) -> None:
    """Load a `.safetensors` state dict into `model` (see `load_state`)."""
    path = readable_file(filepath)
    module = _safetensors_torch()
    with reading(path, "a safetensors file"):
        state = module.load_file(str(path), device="cpu")
    load_state(model, state, str(path), strict)


def save_torch_state(model: Any, path: Path) -> None:
    """`torch.save(model.state_dict())` to a '.pt' / '.pth' path, atomically (prepare the path first)."""
    state = _plain_state(model)
    atomic_write(path, lambda temporary: torch.save(state, temporary))


def load_torch_state(model: Any, filepath: Any, strict: bool = True) -> None:
    """Load a '.pt' / '.pth' state dict with `torch.load(weights_only=True)` (no code from the file runs)."""
    path = readable_file(filepath)
    with reading(path, "a PyTorch state_dict file"):
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError(f"it holds a {type(state).__name__}, not a state_dict of tensors")
    load_state(model, state, str(path), strict)


def load_state(model: Any, state: Mapping[str, torch.Tensor], source: str, strict: bool = True) -> None:
    """Copy a state dict into `model`, checking every key and shape first.

    Raises:
        ValueError: missing or unexpected keys (when `strict`), or a tensor whose shape differs (the key and
            both shapes named).
    """
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if strict and (missing or unexpected):
        raise ValueError(f"'{source}' does not match this model: missing keys {missing}, unexpected keys "
                         f"{unexpected}. Pass strict=False to load only the keys both have.")
    for key, value in state.items():
        if key in expected and tuple(value.shape) != tuple(expected[key].shape):
            raise ValueError(f"Cannot load '{source}': '{key}' has shape {tuple(expected[key].shape)} in the model "
                             f"but {tuple(value.shape)} in the file.")
    model.load_state_dict({key: value for key, value in state.items() if key in expected}, strict=False)
