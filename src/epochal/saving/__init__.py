"""Saving and loading models in Keras's files, both ways, and in PyTorch's.

- `save_model` / `load_model`: '.keras' (Keras 3) and '.h5' / '.hdf5' (legacy HDF5, tf.keras 2),
  with compile arguments and optimizer state, so training continues in Keras or in epochal.
- `save_weights` / `load_weights`: '.weights.h5' (Keras 3 layout), other '.h5' names (tf.keras 2
  layout, e.g. the seed's 'model-weight.h5'), '.safetensors', '.pt' / '.pth'.
- `save_safetensors` / `load_safetensors`: `model.state_dict()` as safetensors.

Loading never runs code from a file (no pickle; `torch.load` only with `weights_only=True`; Lambda
layers refused), reports damaged files as ValueError naming the file, and saving is atomic.

Example:
    >>> import tempfile, pathlib, numpy as np, epochal as keras
    >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.keras"
    >>> model.save(path)
    >>> restored = keras.models.load_model(path)
    >>> bool(np.allclose(restored.predict(np.ones((1, 3)), verbose=0), model.predict(np.ones((1, 3)), verbose=0)))
    True
"""
from epochal.saving.api import load_model, load_weights, save_model, save_weights
from epochal.saving.files import FileFormatError
from epochal.saving.safetensors_io import load_safetensors, save_safetensors

__all__ = ["FileFormatError", "load_model", "load_safetensors", "load_weights", "save_model", "save_safetensors",
           "save_weights"]
