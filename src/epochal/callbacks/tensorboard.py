"""`TensorBoard`: write event files that `tensorboard --logdir` shows, without TensorFlow.

Uses torch's `SummaryWriter`, which needs the `tensorboard` package (`pip install tensorboard`, or
`pip install epochal[tensorboard]`). Tags and folders follow Keras: `<log_dir>/train` and
`<log_dir>/validation`, scalars `epoch_loss`, `epoch_accuracy`, `epoch_learning_rate`, ...
"""
from __future__ import annotations

import os
import time
import warnings
from typing import Any

import torch

from epochal.callbacks.callback import Callback

VALIDATION_PREFIX = "val_"


def summary_writer_class():
    """torch's SummaryWriter, or an ImportError that says how to install what it needs."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ImportError("The TensorBoard callback needs the `tensorboard` package. Install it with "
                          "`pip install tensorboard` (or `pip install epochal[tensorboard]`).") from error
    return SummaryWriter


class TensorBoard(Callback):
    """Log metrics (and optionally weight histograms and images, and the graph) for TensorBoard.

    Args:
        log_dir: Folder of the event files. Defaults to 'logs'.
        histogram_freq: Write a histogram of every weight every this many epochs; 0 for never.
            Defaults to 0.
        write_graph: Write the model's graph (traced on a zero batch, before training starts).
            Defaults to True.
        write_images: With `histogram_freq`, also write 1-D and 2-D weights as images.
            Defaults to False.
        write_steps_per_second: Log training steps per second each epoch. Defaults to False.
        update_freq: 'epoch', 'batch', or a number N: with 'batch' or N, also write `batch_<metric>`
            every N training batches (global batch count as the step). Defaults to 'epoch'.
        profile_batch: Must be 0; use `torch.profiler` to profile (as Keras on torch). Defaults to 0.
        embeddings_freq: Must be 0 (embedding projector not supported). Defaults to 0.
        embeddings_metadata: Must be None. Defaults to None.

    Raises:
        ImportError: the `tensorboard` package is not installed.
        ValueError: a bad `histogram_freq` / `update_freq`, or profiling or embeddings requested.

    Example:
        >>> board = TensorBoard(log_dir="logs", histogram_freq=1)
    """

    def __init__(self, log_dir: Any = "logs", histogram_freq: int = 0, write_graph: bool = True,
                 write_images: bool = False, write_steps_per_second: bool = False, update_freq: Any = "epoch",
                 profile_batch: Any = 0, embeddings_freq: int = 0, embeddings_metadata: Any = None):
        super().__init__()
        self._writer_class = summary_writer_class()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = _check_frequency("histogram_freq", histogram_freq, allow_zero=True)
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = "epoch" if update_freq == "epoch" else _check_frequency(
            "update_freq", 1 if update_freq == "batch" else update_freq, allow_zero=False)
        if profile_batch:
            raise ValueError("TensorBoard: profiling is not available on PyTorch through this callback; use "
                             f"torch.profiler (with its tensorboard_trace_handler). Received: profile_batch="
                             f"{profile_batch!r} (must be 0).")
        if embeddings_freq or embeddings_metadata is not None:
            raise ValueError("TensorBoard: the embedding projector is not supported. Pass embeddings_freq=0 "
                             f"and embeddings_metadata=None. Received: embeddings_freq={embeddings_freq!r}.")
        self._writers: dict[str, Any] = {}
        self._global_train_batch = 0
        self._training = False
        self._epoch_start_time = 0.0
        self._epoch_start_iterations = 0

    # ------------------------------------------------------------------ writers
    def _writer(self, run: str):
        """The writer of 'train' or 'validation', created on first use."""
        if run not in self._writers:
            self._writers[run] = self._writer_class(log_dir=os.path.join(self.log_dir, run))
        return self._writers[run]

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._training = True
        self._global_train_batch = 0
        if self.write_graph:
            self._write_graph()

    def on_train_end(self, logs=None):
        self._training = False
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start_time = time.perf_counter()
        self._epoch_start_iterations = self._optimizer_iterations()

    def _overrides(self, hook: str) -> bool:
        # With update_freq='epoch' nothing is written per batch, so skip the per-batch call.
        if hook == "on_train_batch_end" and self.update_freq == "epoch":
            return False
        return super()._overrides(hook)

    def on_train_batch_end(self, batch, logs=None):
        self._global_train_batch += 1
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        writer = self._writer("train")
        for name, value in (logs or {}).items():
            writer.add_scalar(f"batch_{name}", float(value), self._global_train_batch)

    def on_test_end(self, logs=None):
        writer = self._writer("validation")
        step = self._optimizer_iterations()
        for name, value in (logs or {}).items():
            writer.add_scalar(f"evaluation_{name}_vs_iterations", float(value), step)
        if not self._training:  # evaluate() on its own: nothing else will close the file
            self._close_writers()

    def on_epoch_end(self, epoch, logs=None):
        self._write_epoch_scalars(epoch, dict(logs or {}))
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_weights(epoch)
        for writer in self._writers.values():
            writer.flush()  # so a running `tensorboard` shows the epoch now

    # ------------------------------------------------------------------ what is written
    def _write_epoch_scalars(self, epoch: int, logs: dict) -> None:
        train = {key: value for key, value in logs.items() if not key.startswith(VALIDATION_PREFIX)}
        validation = {key[len(VALIDATION_PREFIX):]: value for key, value in logs.items()
                      if key.startswith(VALIDATION_PREFIX)}
        optimizer = self.model.optimizer
        if optimizer is not None and "learning_rate" not in train:
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            seconds = time.perf_counter() - self._epoch_start_time
            train["steps_per_second"] = (self._optimizer_iterations() - self._epoch_start_iterations) / seconds
        for run, values in (("train", train), ("validation", validation)):
            if values:
                writer = self._writer(run)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", float(value), epoch)

    def _write_weights(self, epoch: int) -> None:
        writer = self._writer("train")
        for layer in self.model.layers:
            for weight_name, weight, _ in layer._weight_entries():
                tag = f"{layer.name}/{weight_name}"
                values = weight.detach().float().cpu()
                writer.add_histogram(f"{tag}/histogram", values, epoch)
                if self.write_images and values.dim() in (1, 2):
                    writer.add_image(f"{tag}/image", _as_image(values), epoch, dataformats="HW")

    def _write_graph(self) -> None:
        input_shape = getattr(self.model, "input_shape", None)
        if not input_shape:
            warnings.warn("TensorBoard: the model's input shape is unknown before training, so no graph is "
                          "written. Give the model an Input or input_shape, or pass write_graph=False.",
                          stacklevel=2)
            return
        example = torch.zeros((1,) + tuple(1 if d is None else d for d in tuple(input_shape)[1:]),
                              device=self.model.device)
        # Tracing runs the model once; dropout would draw random numbers and change the training run.
        with torch.random.fork_rng(devices=[example.device] if example.device.type == "cuda" else []), \
                warnings.catch_warnings():
            # add_graph traces with torch.jit, which torch now marks deprecated; it is still the only way
            # SummaryWriter writes a graph, and the user can do nothing about the warning.
            warnings.simplefilter("ignore", DeprecationWarning)
            self._writer("train").add_graph(self.model, example)

    def _optimizer_iterations(self) -> int:
        optimizer = self.model.optimizer if self.model is not None else None
        return int(getattr(optimizer, "iterations", 0) or 0)


def _as_image(values: torch.Tensor) -> torch.Tensor:
    """A weight as a grayscale image in [0, 1], the longer side horizontal (as Keras draws it)."""
    image = values.reshape(1, -1) if values.dim() == 1 else values
    if image.shape[0] > image.shape[1]:
        image = image.T
    low, high = image.min(), image.max()
    return (image - low) / (high - low) if high > low else torch.zeros_like(image)


def _check_frequency(argument: str, value: Any, allow_zero: bool) -> int:
    lowest = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise ValueError(f"TensorBoard: `{argument}` must be an integer >= {lowest}"
                         f"{' or ' + repr('epoch') + '/' + repr('batch') if argument == 'update_freq' else ''}. "
                         f"Received: {argument}={value!r}.")
    return value
