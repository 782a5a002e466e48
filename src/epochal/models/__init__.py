"""`keras.models`: Model, Sequential, load_model, clone_model."""
from epochal.models.functional import Functional
from epochal.models.model import Model
from epochal.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Load a model saved by epochal, Keras 3 or tf.keras 2 ('.keras' or '.h5'); see epochal.saving."""
    from epochal.saving import load_model as _load_model

    return _load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def clone_model(model, custom_objects=None):
    """A new model with the same architecture and freshly initialised weights.

    Example:
        >>> import epochal as keras
        >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
        >>> keras.models.clone_model(model).count_params()
        8
    """
    from epochal.saving.config import KERAS3, model_config, model_from_config

    return model_from_config(model_config(model, KERAS3), custom_objects)


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model"]
