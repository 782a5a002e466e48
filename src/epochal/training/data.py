"""Turning what the user passes to fit/evaluate/predict into batches on the device.

In-memory arrays are converted and moved to the device once; a batch is then an index slice of the
device tensors, so an epoch costs one `randperm` plus one gather per step. Torch datasets, data
loaders and Python generators are iterated as they are, each batch moved to the device.
"""
from __future__ import annotations

import collections.abc
import math
from typing import Any, Iterator, Optional

import numpy as np
import torch

Batch = tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]


def is_array_like(value: Any) -> bool:
    """NumPy arrays, torch tensors and (nested) lists of numbers."""
    return isinstance(value, (np.ndarray, torch.Tensor, list, tuple)) or np.isscalar(value)


def to_tensor(value: Any, argument: str, device: torch.device, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """Convert an array-like to a tensor on `device` (float data to float32, as Keras casts inputs)."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
    else:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as error:
            raise TypeError(f"`{argument}` must be a NumPy array, a torch tensor or a list of numbers. "
                            f"Could not convert it: {error}") from None
        if array.dtype == object:
            raise TypeError(f"`{argument}` must hold numbers of one shape (a ragged or non-numeric list was "
                            f"given). Received an object array of shape {array.shape}.")
        if array.dtype.kind not in "biuf":
            raise TypeError(f"`{argument}` must hold numbers (bool, int or float). Received an array of dtype "
                            f"{array.dtype} and shape {array.shape}. Encode text labels as integers first, e.g. "
                            "with sklearn.preprocessing.LabelEncoder or np.unique(labels, return_inverse=True).")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if dtype is None:
        dtype = torch.float32 if (tensor.is_floating_point() or tensor.dtype in (torch.uint8, torch.int8, torch.bool)) \
            else tensor.dtype
    return tensor.to(device=device, dtype=dtype, non_blocking=True)


class ArrayData:
    """In-memory (x, y, sample_weight) on the device, served as index-sliced batches.

    Example:
        >>> import torch
        >>> data = ArrayData(torch.zeros(5, 2), torch.zeros(5), None, batch_size=2)
        >>> data.steps, [tuple(x.shape) for x, _, _ in data.batches(shuffle=False)]
        (3, [(2, 2), (2, 2), (1, 2)])
    """

    def __init__(self, x: torch.Tensor, y: Optional[torch.Tensor], sample_weight: Optional[torch.Tensor],
                 batch_size: int):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.batch_size = batch_size
        self.num_samples = int(x.shape[0])
        self.steps = math.ceil(self.num_samples / batch_size)

    def batches(self, shuffle: bool = False, steps: Optional[int] = None) -> Iterator[Batch]:
        """One pass over the data (the first `steps` batches when given)."""
        if shuffle:
            # Drawn from torch's global generator so set_random_seed fixes it and resuming restores it.
            order = torch.randperm(self.num_samples).to(self.x.device)
            slices = (order[start:start + self.batch_size] for start in range(0, self.num_samples, self.batch_size))
            select = self._gather
        else:
            slices = (slice(start, start + self.batch_size) for start in range(0, self.num_samples, self.batch_size))
            select = self._slice
        for step, index in enumerate(slices):
            if steps is not None and step >= steps:
                return
            yield select(index)

    def _gather(self, index: torch.Tensor) -> Batch:
        return (self.x.index_select(0, index),
                None if self.y is None else self.y.index_select(0, index),
                None if self.sample_weight is None else self.sample_weight.index_select(0, index))

    def _slice(self, index: slice) -> Batch:
        return (self.x[index],
                None if self.y is None else self.y[index],
                None if self.sample_weight is None else self.sample_weight[index])


class IterableData:
    """A torch Dataset/DataLoader, or a Python iterator/generator of (x, y[, sample_weight]) batches.

    A finite iterable is re-iterated every epoch; a generator continues where the last epoch stopped,
    as in Keras, so `steps_per_epoch` is needed to split an endless one into epochs.
    """

    def __init__(self, source: Any, device: torch.device, batch_size: int, prepare_batch):
        self.device = device
        self.prepare_batch = prepare_batch
        if _is_torch_dataset(source):
            source = torch.utils.data.DataLoader(source, batch_size=batch_size, shuffle=False)
        self.source = source
        self.is_reiterable = not isinstance(source, collections.abc.Iterator)
        self._iterator: Optional[Iterator] = None
        self.exhausted = False
        try:
            self.steps: Optional[int] = len(source)
        except TypeError:
            self.steps = None

    def batches(self, shuffle: bool = False, steps: Optional[int] = None) -> Iterator[Batch]:
        if self.is_reiterable and (steps is None or self._iterator is None):
            self._iterator = iter(self.source)
        elif self._iterator is None:
            self._iterator = self.source
        for step in range(steps) if steps is not None else iter(int, 1):
            try:
                raw = next(self._iterator)
            except StopIteration:
                self.exhausted = steps is not None or not self.is_reiterable
                if self.is_reiterable:
                    self._iterator = None
                return
            yield self.prepare_batch(raw)


def _is_torch_dataset(source: Any) -> bool:
    return isinstance(source, torch.utils.data.Dataset) and not isinstance(source, torch.utils.data.IterableDataset)


def unpack_batch(raw: Any) -> tuple[Any, Any, Any]:
    """(x, y, sample_weight) from a batch given as a tuple/list of 1 to 3 items or a bare x."""
    if isinstance(raw, (tuple, list)):
        if len(raw) == 1:
            return raw[0], None, None
        if len(raw) == 2:
            return raw[0], raw[1], None
        if len(raw) == 3:
            return raw[0], raw[1], raw[2]
        raise ValueError(f"A data batch must be x, (x,), (x, y) or (x, y, sample_weight). "
                         f"Received a {type(raw).__name__} of {len(raw)} items.")
    return raw, None, None
