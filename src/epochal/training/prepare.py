"""From user arguments to device data: conversion, splitting and the checks made before step one."""
from __future__ import annotations

import collections.abc
import math
from typing import Any, Optional

import torch

from epochal.training import checks
from epochal.training.data import ArrayData, IterableData, is_array_like, to_tensor, unpack_batch


def label_dtype(loss) -> torch.dtype:
    """Class indices for sparse cross-entropy, float32 for every other loss."""
    return torch.long if type(loss).__name__ == "SparseCategoricalCrossentropy" else torch.float32


def is_batch_source(x: Any) -> bool:
    """A torch Dataset/DataLoader or a Python iterator/generator yielding batches."""
    return isinstance(x, (torch.utils.data.Dataset, torch.utils.data.DataLoader, collections.abc.Iterator)) or (
        hasattr(x, "__iter__") and not is_array_like(x) and not isinstance(x, (str, dict)))


def arrays_to_device(model, x, y, sample_weight, where: str, loss=None, check_labels: bool = True):
    """Convert (x, y, sample_weight) to device tensors and run every data check once."""
    device = model.device
    # Keras feeds every numeric input to the model as float32 (integer pixels included).
    x_tensor = to_tensor(x, "x", device, torch.float32)
    y_tensor = None if y is None else to_tensor(y, "y", device)
    weight_tensor = None if sample_weight is None else to_tensor(sample_weight, "sample_weight", device, torch.float32)
    checks.check_same_length(x_tensor, y_tensor, weight_tensor, where)
    checks.check_finite(x_tensor, "x" if where == "fit" else f"x ({where})")
    model.ensure_built(tuple(x_tensor.shape))
    checks.check_input_shape(model.input_shape, x_tensor, model.name)
    if y_tensor is None and loss is not None:
        raise ValueError(f"In {where}: labels are missing. Pass `y` with the targets (e.g. model.{where}(x, y)), "
                         "or pass a dataset/generator that yields (x, y) batches.")
    if y_tensor is not None and loss is not None:
        y_tensor = squeeze_sparse_labels(model, y_tensor, loss)
        if check_labels:
            check_labels_for_loss(model, y_tensor, loss)
        y_tensor = y_tensor.to(label_dtype(loss))
    return x_tensor, y_tensor, weight_tensor


def squeeze_sparse_labels(model, y: torch.Tensor, loss) -> torch.Tensor:
    """Class indices shaped (n, 1) become (n,), as Keras accepts both for sparse cross-entropy."""
    output_shape = model.output_shape
    if type(loss).__name__ == "SparseCategoricalCrossentropy" and isinstance(output_shape, tuple) \
            and y.ndim == len(output_shape) and y.ndim >= 2 and y.shape[-1] == 1:
        return y.squeeze(-1)
    return y


def check_labels_for_loss(model, y: torch.Tensor, loss) -> None:
    output_shape = model.output_shape
    name = type(loss).__name__
    if name == "SparseCategoricalCrossentropy":
        checks.check_finite(y, "y")
        units = output_shape[-1] if output_shape else None
        checks.check_not_one_hot(y, output_shape)
        checks.check_sparse_labels(y, units)
    else:
        checks.check_finite(y, "y")
        if name == "CategoricalCrossentropy":
            checks.check_one_hot_labels(y, output_shape, "categorical_crossentropy")


def make_dataset(model, x, y, sample_weight, batch_size: int, where: str, loss=None, check_labels: bool = True):
    """ArrayData for arrays, IterableData for datasets, loaders and generators."""
    if is_batch_source(x):
        if y is not None:
            raise ValueError(f"In {where}: when `x` is a dataset, data loader or generator it must yield the labels "
                             f"too, so `y` must be None. Received y of type {type(y).__name__}.")
        return IterableData(x, model.device, batch_size, BatchPreparer(model, loss))
    if x is None:
        raise ValueError(f"In {where}: `x` is required. Received x=None.")
    tensors = arrays_to_device(model, x, y, sample_weight, where, loss, check_labels)
    return ArrayData(*tensors, batch_size=batch_size)


class BatchPreparer:
    """Moves each batch of a stream (dataset, loader, generator) to the device as the model wants it.

    The first few batches get the same label and shape checks as in-memory arrays: mistakes show at
    once, and a long run pays nothing for them.
    """

    CHECKED_BATCHES = 3

    def __init__(self, model, loss):
        self.model, self.loss = model, loss
        self.batches_seen = 0

    def __call__(self, raw):
        x, y, sample_weight = unpack_batch(raw)
        model, loss, device = self.model, self.loss, self.model.device
        x = to_tensor(x, "x", device, torch.float32)
        model.ensure_built(tuple(x.shape))
        check = self.batches_seen < self.CHECKED_BATCHES
        self.batches_seen += 1
        if check:
            checks.check_input_shape(model.input_shape, x, model.name)
        if y is None and loss is not None:
            raise ValueError("A data batch holds no labels: a dataset, data loader or generator given to fit/evaluate "
                             "must yield (x, y) or (x, y, sample_weight). Received a batch with x only.")
        y = None if y is None else to_tensor(y, "y", device)
        if y is not None and loss is not None:
            y = squeeze_sparse_labels(model, y, loss)
            if check:
                check_labels_for_loss(model, y, loss)
            y = y.to(label_dtype(loss))
        if sample_weight is not None:
            sample_weight = to_tensor(sample_weight, "sample_weight", device, torch.float32)
        return x, y, sample_weight


def split_for_validation(data: ArrayData, validation_split: float) -> tuple[ArrayData, ArrayData]:
    """Keras's rule: the last `validation_split` fraction, taken before any shuffling."""
    split_at = int(math.floor(data.num_samples * (1.0 - validation_split)))
    if split_at == 0 or split_at == data.num_samples:
        raise ValueError(f"validation_split={validation_split} leaves no training or no validation samples out of "
                         f"{data.num_samples}. Use a split between 1/{data.num_samples} and "
                         f"{(data.num_samples - 1) / data.num_samples:.3f}.")

    def part(tensor, index):
        return None if tensor is None else tensor[index]

    head, tail = slice(0, split_at), slice(split_at, None)
    train = ArrayData(part(data.x, head), part(data.y, head), part(data.sample_weight, head), data.batch_size)
    validation = ArrayData(part(data.x, tail), part(data.y, tail), part(data.sample_weight, tail), data.batch_size)
    return train, validation


def make_validation_dataset(model, validation_data, batch_size: int, loss):
    checks.check_validation_data(validation_data)
    if isinstance(validation_data, (tuple, list)):
        x_val, y_val = validation_data[0], validation_data[1]
        weights = validation_data[2] if len(validation_data) == 3 else None
        try:
            tensors = arrays_to_device(model, x_val, y_val, weights, "validation_data", loss)
        except ValueError as error:
            raise ValueError(f"Invalid `validation_data`: {error}") from None
        return ArrayData(*tensors, batch_size=batch_size)
    if is_batch_source(validation_data):
        return IterableData(validation_data, model.device, batch_size, BatchPreparer(model, loss))
    raise TypeError("`validation_data` must be a tuple (x_val, y_val[, sample_weight]), a torch Dataset/DataLoader "
                    f"or an iterable of batches. Received: {type(validation_data).__name__}")


def class_weight_tensor(class_weight: Optional[dict], device: torch.device,
                        num_classes: Optional[int] = None) -> Optional[torch.Tensor]:
    """{class_index: weight} -> a lookup tensor (classes not named weigh 1)."""
    if not class_weight:
        return None
    if not isinstance(class_weight, dict) or not all(isinstance(k, int) and k >= 0 for k in class_weight):
        raise ValueError("`class_weight` must be a dict {class_index: weight} with non-negative integer keys. "
                         f"Received: {class_weight!r}")
    table = torch.ones(max(max(class_weight) + 1, num_classes or 0), dtype=torch.float32)
    for label, weight in class_weight.items():
        table[label] = float(weight)
    return table.to(device)
