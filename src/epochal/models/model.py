"""`Model`: a Keras model that is also a `torch.nn.Module` (state_dict, .to(), autograd all work)."""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import torch

from epochal.backend import default_device
from epochal.layers.layer import Layer
from epochal.training import fit as fit_module
from epochal.training.checks import NotCompiledError
from epochal.training.compiled import CompiledConfig, check_metric_names, normalize_metrics
from epochal.utils.lookup import accepted_parameters, check_kwargs

# tf.keras 2 arguments that have no meaning here but must not break ported code.
_LEGACY_COMPILE = ("sample_weight_mode", "target_tensors", "distribute", "experimental_run_tf_function",
                   "experimental_steps_per_execution", "pss_evaluation_shards")
_LEGACY_FIT = ("max_queue_size", "workers", "use_multiprocessing")


class Model(Layer):
    """A trainable model. Subclass it and define `call(inputs, training=False)`, or build one with
    `Sequential([...])` or the functional API `Model(inputs, outputs)`.

    Example:
        >>> import epochal as keras
        >>> inputs = keras.Input(shape=(4,))
        >>> outputs = keras.layers.Dense(2, activation="softmax")(inputs)
        >>> model = keras.Model(inputs, outputs)
        >>> model.output_shape
        (None, 2)
    """

    def __new__(cls, *args: Any, **kwargs: Any):
        if cls is Model and (args or "inputs" in kwargs):
            from epochal.models.functional import Functional

            return Functional(*args, **kwargs)
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.compiled: Optional[CompiledConfig] = None
        self.stop_training = False
        self.history = None
        self.train_steps = None
        self._device = default_device()

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> list[Layer]:
        return [module for module in self.children() if isinstance(module, Layer)]

    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> Layer:
        """A layer by name or by index."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named '{name}'. Layers: {[layer.name for layer in self.layers]}.")

    @property
    def device(self) -> torch.device:
        return self._device

    def to_device(self) -> None:
        """Move the weights to the training device (no-op when already there)."""
        self.to(self._device)

    def ensure_built(self, input_shape: tuple) -> None:
        if not self.built:
            self.build((None,) + tuple(input_shape[1:]))

    def build(self, input_shape) -> None:
        """Create the weights by running a dummy batch through `call` (for subclassed models)."""
        dummy = torch.zeros((1,) + tuple(1 if d is None else d for d in tuple(input_shape)[1:]))
        self._build_input_shape = tuple(input_shape)
        self.built = True
        with torch.no_grad():
            outputs = self.call(dummy, training=False) if self._call_takes_training else self.call(dummy)
        self._output_shape = (None,) + tuple(outputs.shape[1:])
        self.to_device()

    @property
    def input_shape(self):
        return self._build_input_shape

    @property
    def output_shape(self):
        return getattr(self, "_output_shape", None)

    def layer_output_shape(self, layer: Layer):
        """Output shape of `layer` inside this model, for the summary table."""
        try:
            return layer.output_shape
        except (AttributeError, TypeError):
            return None

    def output_activation_name(self) -> Optional[str]:
        """'softmax' or 'sigmoid' when the model's output passes through one (lets losses use logits)."""
        return None

    def call_logits(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not expose its logits")

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None, metrics: Any = None,
                weighted_metrics: Any = None, run_eagerly: bool = False, steps_per_execution: int = 1,
                jit_compile: Any = "auto", auto_scale_loss: bool = True, **kwargs: Any) -> None:
        """Configure training: the optimizer, the loss and the metrics to report.

        Args:
            optimizer: name ('rmsprop', 'adam', ...), class or instance. Defaults to 'rmsprop'.
            loss: name ('sparse_categorical_crossentropy', ...), Loss instance or fn(y_true, y_pred).
            metrics: a name, or a list/dict of names or Metric objects. `metrics='accuracy'` (a bare
                string, as tf.keras 2 allowed) is accepted; 'accuracy'/'acc' become binary, categorical or
                sparse categorical accuracy from the shapes, and the history key is the name you wrote.
            weighted_metrics: metrics that take `sample_weight` / `class_weight` into account.

        Example:
            >>> import epochal as keras
            >>> model = keras.Sequential([keras.layers.Dense(10, activation="softmax")])
            >>> model.compile(loss="sparse_categorical_crossentropy", metrics="accuracy", optimizer="adam")
        """
        check_kwargs("compile()", kwargs, accepted_parameters(Model.compile) + list(_LEGACY_COMPILE))
        from epochal import losses, optimizers

        metric_list = normalize_metrics(metrics)
        weighted_metric_list = normalize_metrics(weighted_metrics, "weighted_metrics")
        check_metric_names(metric_list + weighted_metric_list)
        self.compiled = CompiledConfig(
            optimizer=optimizers.get(optimizer),
            loss=None if loss is None else losses.get(loss),
            metrics=metric_list,
            weighted_metrics=weighted_metric_list,
            loss_weights=loss_weights, loss_identifier=loss, metrics_identifier=metrics,
        )
        self._optimizer_built_for: Optional[tuple] = None

    def require_compiled(self, where: str = "fit") -> CompiledConfig:
        if self.compiled is None:
            raise NotCompiledError(f"You must call compile() before {where}(), e.g. "
                                   "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', "
                                   "metrics=['accuracy']).")
        return self.compiled

    @property
    def optimizer(self):
        return None if self.compiled is None else self.compiled.optimizer

    @property
    def loss(self):
        return None if self.compiled is None else self.compiled.loss

    def build_optimizer(self) -> None:
        """Give the optimizer this model's weights (once per compile, or after weights were replaced)."""
        weights = tuple(self.weights)
        if getattr(self, "_optimizer_built_for", None) != tuple(id(w) for w in weights):
            self.compiled.optimizer.build(list(weights))
            self._optimizer_built_for = tuple(id(w) for w in weights)

    def optimizer_parameter_count(self) -> int:
        optimizer = self.optimizer
        if optimizer is None or not hasattr(optimizer, "slots") or getattr(self, "_optimizer_built_for", None) is None:
            return 0
        return sum(int(t.numel()) for tensors in optimizer.slots().values() for t in tensors)

    @property
    def metrics_names(self) -> list[str]:
        return ["loss"] + (self.compiled.metric_names() if self.compiled else [])

    # ------------------------------------------------------------------ train / evaluate / predict
    def fit(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: Any = None, validation_split: float = 0.0, validation_data: Any = None,
            shuffle: bool = True, class_weight: Optional[dict] = None, sample_weight: Any = None,
            initial_epoch: int = 0, steps_per_epoch: Optional[int] = None, validation_steps: Optional[int] = None,
            validation_batch_size: Optional[int] = None, validation_freq: Any = 1, **kwargs: Any):
        """Train for `epochs` epochs and return a `History` (`history.history['val_loss']`, ...).

        Args follow Keras: batch_size defaults to 32; verbose 'auto'/1 shows a progress bar (one line
        per epoch when the output is not a terminal), 2 one line per epoch, 0 nothing;
        validation_split holds out the *last* fraction of x/y before shuffling; validation_data is
        (x_val, y_val[, sample_weight]). x may also be a torch Dataset/DataLoader or a generator of
        (x, y) batches. Validation runs in batches of max(batch_size, 1024) unless
        validation_batch_size is given (it has no gradients to hold).

        Raises:
            ValueError / TypeError before the first step for every malformed argument or data.

        Example:
            >>> import numpy as np, epochal as keras
            >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2, activation="softmax")])
            >>> model.compile(loss="sparse_categorical_crossentropy", metrics="accuracy")
            >>> history = model.fit(np.ones((8, 3)), np.zeros(8), epochs=2, verbose=0)
            >>> sorted(history.history)
            ['accuracy', 'loss']
        """
        check_kwargs("fit()", kwargs, accepted_parameters(Model.fit) + list(_LEGACY_FIT))
        return fit_module.fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
                              validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                              steps_per_epoch, validation_steps, validation_batch_size, validation_freq)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None, verbose: Any = "auto",
                 sample_weight: Any = None, steps: Optional[int] = None, callbacks: Any = None,
                 return_dict: bool = False, **kwargs: Any):
        """Loss (and metrics) on the given data: a scalar, `[loss, *metrics]`, or a dict with return_dict=True.

        Example:
            >>> import numpy as np, epochal as keras
            >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2, activation="softmax")])
            >>> model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            >>> sorted(model.evaluate(np.ones((4, 3)), np.zeros(4), verbose=0, return_dict=True))
            ['accuracy', 'loss']
        """
        check_kwargs("evaluate()", kwargs, accepted_parameters(Model.evaluate) + list(_LEGACY_FIT))
        return fit_module.evaluate(self, x, y, batch_size, verbose, sample_weight, steps, callbacks, return_dict)

    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: Any = "auto", steps: Optional[int] = None,
                callbacks: Any = None, **kwargs: Any) -> np.ndarray:
        """Model outputs for `x` as a NumPy array.

        Example:
            >>> import numpy as np, epochal as keras
            >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2, activation="softmax")])
            >>> model.predict(np.ones((5, 3)), verbose=0).shape
            (5, 2)
        """
        check_kwargs("predict()", kwargs, accepted_parameters(Model.predict) + list(_LEGACY_FIT))
        return fit_module.predict(self, x, batch_size, verbose, steps, callbacks)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """Outputs for one batch, without callbacks or progress display."""
        return self.predict(x, batch_size=max(len(x), 1), verbose=0)

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: Optional[dict] = None,
                       return_dict: bool = False):
        """One optimizer step on one batch; returns its loss (and metrics), as Keras.

        Example:
            >>> import numpy as np, epochal as keras
            >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
            >>> model.compile(optimizer="sgd", loss="mse")
            >>> isinstance(model.train_on_batch(np.ones((4, 3)), np.zeros(4)), float)
            True
        """
        return fit_module.run_on_batch(self, x, y, sample_weight, class_weight, return_dict, training=True)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False):
        """Loss (and metrics) of one batch, without updating the weights."""
        return fit_module.run_on_batch(self, x, y, sample_weight, None, return_dict, training=False)

    def fit_generator(self, generator: Any, *args: Any, **kwargs: Any):
        """tf.keras 2's name for fit() on a generator; kept so ported code runs."""
        return self.fit(generator, *args, **kwargs)

    def evaluate_generator(self, generator: Any, *args: Any, **kwargs: Any):
        """tf.keras 2's name for evaluate() on a generator."""
        return self.evaluate(generator, *args, **kwargs)

    def predict_generator(self, generator: Any, *args: Any, **kwargs: Any):
        """tf.keras 2's name for predict() on a generator."""
        return self.predict(generator, *args, **kwargs)

    # ------------------------------------------------------------------ summary / config
    def summary(self, line_length: Optional[int] = None, positions: Any = None, print_fn: Optional[Callable] = None,
                expand_nested: bool = False, show_trainable: bool = False, layer_range: Any = None) -> None:
        """Print a table of layers, output shapes and parameter counts, with the totals."""
        from epochal.models.summary import print_summary

        if not self.built:
            raise ValueError(f"Model '{self.name}' has not been built yet, so it has no shapes to show. Give the "
                             "first layer an input shape (e.g. Flatten(input_shape=(28, 28)) or keras.Input), call "
                             "model.build(input_shape), or fit it on data first.")
        print_summary(self, line_length, print_fn, show_trainable)

    def get_config(self) -> dict[str, Any]:
        """Keras 3 config of the model (layers, shapes, names), as `.keras` files store it."""
        from epochal.saving.config import KERAS3, model_config

        if isinstance(self, _models_listing_layers()):
            return model_config(self, KERAS3)["config"]
        return Layer.get_config(self)

    def to_json(self, **kwargs: Any) -> str:
        """The model's Keras config entry as JSON (readable by `keras.models.model_from_json`)."""
        import json

        from epochal.saving.config import KERAS3, model_config

        return json.dumps(model_config(self, KERAS3), default=_json_default, **kwargs)

    # ------------------------------------------------------------------ saving (epochal.saving does the work)
    def save(self, filepath, overwrite: bool = True, **kwargs: Any) -> None:
        """Save architecture, weights and optimizer state ('.keras' zip or legacy '.h5')."""
        from epochal.saving import save_model

        save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite: bool = True, **kwargs: Any) -> None:
        """Save the weights ('.weights.h5' in Keras 3 layout, any other '.h5' in tf.keras 2 layout)."""
        from epochal.saving import save_weights

        save_weights(self, filepath, overwrite=overwrite, **kwargs)

    def load_weights(self, filepath, skip_mismatch: bool = False, by_name: bool = False, **kwargs: Any) -> None:
        """Load weights saved by epochal, Keras 3 or tf.keras 2."""
        from epochal.saving import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch, by_name=by_name, **kwargs)

    def __reduce__(self):
        # Pickle (and deepcopy) as the bytes of a '.keras' file, never as tensors and code.
        from epochal.saving.pickling import reduce_model

        return reduce_model(self)


def _models_listing_layers() -> tuple:
    """Model kinds whose config lists their layers (subclassed models use Layer.get_config)."""
    from epochal.models.functional import Functional
    from epochal.models.sequential import Sequential

    return (Sequential, Functional)


def _json_default(value: Any):
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Cannot serialise {type(value).__name__} to JSON")
