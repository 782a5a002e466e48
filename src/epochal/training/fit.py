"""fit / evaluate / predict: validate the arguments, prepare the data, hand over to the loops."""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from epochal.training import checks, loop, prepare
from epochal.training.data import ArrayData
from epochal.training.step import StepFunctions

# Validation runs without gradients, so it can take bigger batches than training at no risk to memory;
# the mean over samples is the same whatever the batch size.
MIN_VALIDATION_BATCH = 1024


def _sample_shapes(data) -> tuple[tuple, tuple]:
    """Shapes of y and of the model's output, for resolving 'accuracy' into the right metric."""
    if isinstance(data, ArrayData):
        return tuple(data.y.shape) if data.y is not None else (None,), None
    return (None,), None


def _units(model) -> Optional[int]:
    shape = model.output_shape
    return shape[-1] if isinstance(shape, tuple) and shape and shape[-1] and shape[-1] > 1 else 2


def _step_functions(model, train_data, class_weight=None) -> StepFunctions:
    compiled = model.require_compiled()
    if compiled.loss is None:
        raise ValueError("No loss to optimise: call compile() with a `loss`, e.g. "
                         "model.compile(loss='sparse_categorical_crossentropy').")
    y_shape, _ = _sample_shapes(train_data)
    prediction_shape = model.output_shape
    train_values = compiled.tracked_values(y_shape, prediction_shape)
    test_values = compiled.tracked_values(y_shape, prediction_shape)
    model.build_optimizer()
    return StepFunctions(model, compiled.loss, compiled.optimizer, train_values, test_values,
                         prepare.class_weight_tensor(class_weight, model.device, _units(model)))


def fit(model, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
        steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
    compiled = model.require_compiled("fit")
    batch_size = 32 if batch_size is None else batch_size
    checks.check_batch_size(batch_size)
    checks.check_batch_size(validation_batch_size, "validation_batch_size")
    checks.check_epochs(epochs, initial_epoch)
    checks.check_validation_split(validation_split)
    checks.check_positive_or_none(steps_per_epoch, "steps_per_epoch")
    checks.check_positive_or_none(validation_steps, "validation_steps")
    verbose = loop.resolve_verbose(verbose)
    model.to_device()

    train_data = prepare.make_dataset(model, x, y, sample_weight, batch_size, "fit", compiled.loss)
    validation_batch = validation_batch_size or max(batch_size, MIN_VALIDATION_BATCH)
    validation = None
    if validation_data is not None:
        validation = prepare.make_validation_dataset(model, validation_data, validation_batch, compiled.loss)
    elif validation_split:
        if not isinstance(train_data, ArrayData):
            raise ValueError("`validation_split` needs in-memory arrays; with a dataset or generator pass "
                             "`validation_data` instead.")
        train_data, validation = prepare.split_for_validation(train_data, validation_split)
        validation.batch_size = validation_batch

    steps = _step_functions(model, train_data, class_weight)
    if not steps.has_trainable_weights:
        warnings.warn(f"The model '{model.name}' does not have any trainable weights (its layers have "
                      "trainable=False): fit() reports the loss and metrics but changes no weight.", stacklevel=3)
    callback_list = loop.make_callback_list(
        callbacks, model, verbose, add_history=True, epochs=epochs,
        steps=steps_per_epoch or train_data.steps, mode="train")
    model.train_steps = steps
    return loop.run_fit(model, steps, train_data, validation, epochs=epochs, initial_epoch=initial_epoch,
                        shuffle=bool(shuffle), callbacks=callback_list,
                        steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                        validation_freq=validation_freq)


def evaluate(model, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
             callbacks=None, return_dict=False):
    compiled = model.require_compiled("evaluate")
    batch_size = 32 if batch_size is None else batch_size
    checks.check_batch_size(batch_size)
    checks.check_positive_or_none(steps, "steps")
    verbose = loop.resolve_verbose(verbose)
    model.to_device()
    data = prepare.make_dataset(model, x, y, sample_weight, batch_size, "evaluate", compiled.loss)
    step_functions = _step_functions(model, data)
    callback_list = loop.make_callback_list(callbacks, model, verbose, add_history=False,
                                            steps=steps or data.steps, mode="test")
    logs = loop.run_test(step_functions, data, callback_list, steps)
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=None, verbose="auto", steps=None, callbacks=None) -> np.ndarray:
    batch_size = 32 if batch_size is None else batch_size
    checks.check_batch_size(batch_size)
    checks.check_positive_or_none(steps, "steps")
    verbose = loop.resolve_verbose(verbose)
    model.to_device()
    data = prepare.make_dataset(model, x, None, None, batch_size, "predict")
    step_functions = StepFunctions.for_prediction(model)
    callback_list = loop.make_callback_list(callbacks, model, verbose, add_history=False,
                                            steps=steps or data.steps, mode="predict")
    return loop.run_predict(step_functions, data, callback_list, steps)


def run_on_batch(model, x, y, sample_weight=None, class_weight=None, return_dict=False, training: bool = True):
    """train_on_batch / test_on_batch: one step on one batch; returns that batch's loss (and metrics)."""
    compiled = model.require_compiled("train_on_batch" if training else "test_on_batch")
    model.to_device()
    data = prepare.make_dataset(model, x, y, sample_weight, max(len(x), 1),
                                "train_on_batch" if training else "test_on_batch", compiled.loss)
    steps = _step_functions(model, data, class_weight)
    values = steps.train_values if training else steps.test_values
    for batch in data.batches(shuffle=False):
        (steps.train_step if training else steps.test_step)(*batch)
    logs = values.results()
    if return_dict:
        return logs
    results = list(logs.values())
    return results[0] if len(results) == 1 else results
