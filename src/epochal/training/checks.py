"""Validation of fit/evaluate/predict arguments, done once before the first step.

Each check raises ValueError/TypeError naming the argument, what was expected and what was received.
"""
from __future__ import annotations

from typing import Any, Optional

import torch


class NotCompiledError(ValueError, RuntimeError):
    """fit/evaluate before compile(); a ValueError for our contract, a RuntimeError as in Keras."""


def check_batch_size(batch_size: Any, argument: str = "batch_size") -> None:
    if batch_size is None:
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(f"`{argument}` must be a positive integer. Received: {argument}={batch_size!r}")
    if batch_size <= 0:
        raise ValueError(f"`{argument}` must be a positive integer. Received: {argument}={batch_size}")


def check_epochs(epochs: Any, initial_epoch: Any) -> None:
    for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"`{name}` must be an integer. Received: {name}={value!r}")
        if value < 0:
            raise ValueError(f"`{name}` must be >= 0. Received: {name}={value}")


def check_validation_split(validation_split: Any) -> None:
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) \
            or not 0 <= validation_split < 1:
        raise ValueError("`validation_split` must be a float in [0, 1), the fraction of the data held out "
                         f"for validation. Received: validation_split={validation_split!r}")


def check_positive_or_none(value: Any, argument: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{argument}` must be a positive integer or None. Received: {argument}={value!r}")


def check_same_length(x: torch.Tensor, y: Optional[torch.Tensor], sample_weight: Optional[torch.Tensor],
                      where: str = "") -> None:
    """x, y and sample_weight must have the same number of samples, and at least one."""
    prefix = f"In {where}: " if where else ""
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{prefix}`x` is empty (shape {tuple(x.shape)}): there is no sample to train on. "
                         "Pass at least one sample.")
    for name, other in (("y", y), ("sample_weight", sample_weight)):
        if other is not None and (other.ndim == 0 or other.shape[0] != x.shape[0]):
            received = tuple(other.shape)
            raise ValueError(f"{prefix}`x` and `{name}` must have the same number of samples. Received: "
                             f"x has {x.shape[0]} samples (shape {tuple(x.shape)}), {name} has shape {received}.")


def check_finite(tensor: torch.Tensor, argument: str) -> None:
    """No NaN or inf in floating data (one pass, before the first step).

    A finite sum proves every value finite (NaN and inf propagate through it) at a fraction of the cost
    of an element-wise mask; only when the sum is not finite (bad values, or a rare overflow) do we look
    element by element.
    """
    if not tensor.is_floating_point() or bool(torch.isfinite(tensor.sum())):
        return
    if not bool(torch.isfinite(tensor).all()):
        bad = int((~torch.isfinite(tensor)).sum())
        raise ValueError(f"`{argument}` contains {bad} NaN or infinite value(s). Clean or impute them "
                         f"before training (e.g. np.nan_to_num).")


def check_input_shape(expected: Optional[tuple], x: torch.Tensor, model_name: str, argument: str = "x") -> None:
    """The sample shape of `x` must match the model's input shape (None matches any size)."""
    if expected is None:
        return
    received = (None,) + tuple(x.shape[1:])
    compatible = len(expected) == len(received) and all(
        e is None or e == r for e, r in zip(expected[1:], received[1:]))
    if not compatible:
        raise ValueError(
            f"Input shape mismatch for model '{model_name}': the model expects inputs of shape {tuple(expected)}, "
            f"but `{argument}` has shape {received} (full shape {tuple(x.shape)}). Reshape the data "
            f"(e.g. x.reshape(-1, {', '.join(str(d) for d in expected[1:])})) or rebuild the model with "
            f"input_shape={tuple(expected[1:])!r} changed to {tuple(x.shape[1:])!r}."
        )


def check_sparse_labels(y: torch.Tensor, num_classes: Optional[int], argument: str = "y") -> None:
    """Integer class labels within [0, num_classes)."""
    if y.is_floating_point() and not bool((y == y.round()).all()):
        raise ValueError(f"`{argument}` must hold integer class labels for sparse_categorical_crossentropy, "
                         "but it holds fractional values. Use categorical_crossentropy for one-hot/soft labels.")
    if y.numel() == 0 or num_classes is None:
        return
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise ValueError(
            f"`{argument}` holds the label {bad}, outside the valid range [0, {num_classes - 1}] for a model "
            f"with {num_classes} output units. Labels must be 0..{num_classes - 1}; check the labels, or give the "
            f"last Dense layer more units."
        )


def check_not_one_hot(y: torch.Tensor, output_shape: Optional[tuple], argument: str = "y") -> None:
    """sparse_categorical_crossentropy wants class indices; one-hot rows are a common mix-up."""
    if not output_shape or output_shape[-1] is None or output_shape[-1] < 2:
        return
    units = output_shape[-1]
    if y.ndim == len(output_shape) and y.shape[-1] == units:
        raise ValueError(
            f"sparse_categorical_crossentropy expects integer class labels of shape (n,), but `{argument}` has "
            f"shape {tuple(y.shape)}, which looks one-hot encoded. Use loss='categorical_crossentropy' for one-hot "
            f"labels, or turn them into class indices with np.argmax({argument}, axis=-1).")
    if y.ndim >= len(output_shape) and y.shape[-1] != 1:
        raise ValueError(
            f"sparse_categorical_crossentropy expects integer class labels of shape (n,) or (n, 1); `{argument}` "
            f"has shape {tuple(y.shape)} for model outputs of shape {tuple(output_shape)}.")


def check_one_hot_labels(y: torch.Tensor, output_shape: Optional[tuple], loss_name: str,
                         argument: str = "y") -> None:
    """Labels for categorical/binary losses must match the output's shape."""
    if output_shape is None or output_shape[-1] is None:
        return
    units = output_shape[-1]
    if loss_name == "categorical_crossentropy" and (y.ndim < 2 or y.shape[-1] != units):
        raise ValueError(
            f"categorical_crossentropy expects one-hot `{argument}` of shape (n, {units}), received shape "
            f"{tuple(y.shape)}. For integer labels use loss='sparse_categorical_crossentropy', or one-hot encode "
            f"them with keras.utils.to_categorical."
        )


def check_validation_data(validation_data: Any) -> None:
    """validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight), or an iterable of batches."""
    if isinstance(validation_data, (tuple, list)):
        if len(validation_data) not in (2, 3):
            raise ValueError(
                "`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, val_sample_weight). "
                f"Received a {type(validation_data).__name__} of {len(validation_data)} items."
            )
        if validation_data[1] is None:
            raise ValueError("`validation_data` must include the labels: (x_val, y_val). Received y_val=None.")
