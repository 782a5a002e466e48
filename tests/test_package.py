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


def test_wheel_ships_the_embedded_subset_its_licence_and_the_console_script(tmp_path):
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(root)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("epochal-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "epochal/datasets/data/fashion_mnist_subset.npz" in names
    assert "epochal/datasets/data/LICENSE-fashion-mnist.txt" in names
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "epochal = epochal.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
