"""`keras.models`: Model, Sequential, load_model, clone_model."""
from epochal.models.functional import Functional
from epochal.models.model import Model
from epochal.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Load a model saved by epochal, Keras 3 or tf.keras 2 ('.keras' or '.h5'); see epochal.saving."""
    from epochal.saving import load_model as _load_model

    return _load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def clone_model(model):
    """A new model with the same architecture and freshly initialised weights."""
    return type(model).from_config(model.get_config())


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model"]
