"""The package surface: `import epochal as keras` gives Keras's names and stays light."""
from __future__ import annotations

import subprocess
import sys

import epochal as keras


def test_keras_namespaces_exist():
    for name in ("Sequential", "Model", "Input", "layers", "callbacks", "optimizers", "losses", "metrics",
                 "activations", "models", "datasets", "utils"):
        assert hasattr(keras, name), name
    assert keras.layers.Dense and keras.callbacks.Callback and keras.models.load_model


def test_import_does_not_load_matplotlib_or_h5py():
    code = "import sys, epochal; print(sorted(m for m in ('matplotlib', 'h5py', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_to_categorical_and_seed_helpers():
    assert keras.utils.to_categorical([1, 0], 3).tolist() == [[0, 1, 0], [1, 0, 0]]
