"""Running loss and metric values kept on the device, read back once per epoch (or per redraw)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Iterator, Optional

import torch


class MeanTracker:
    """Sample-weighted mean of per-batch values, accumulated on the device without host syncs."""

    def __init__(self, name: str = "loss"):
        self.name = name
        self.total: Optional[torch.Tensor] = None
        self.count = 0

    def update(self, value: torch.Tensor, num_samples: int) -> None:
        value = value.detach()
        if self.total is None:
            self.total = torch.zeros((), dtype=torch.float64 if value.device.type == "cpu" else torch.float32,
                                     device=value.device)
        self.total.add_(value, alpha=num_samples)
        self.count += num_samples

    def result(self) -> torch.Tensor:
        if self.total is None or self.count == 0:
            return torch.zeros(())
        return self.total / self.count

    def reset_state(self) -> None:
        if self.total is not None:
            self.total.zero_()
        self.count = 0


class TrackedValues:
    """The loss tracker and the compiled metrics of one run (train or validation)."""

    def __init__(self, loss_tracker: MeanTracker, metrics: list, weighted_metrics: Optional[list] = None):
        self.loss_tracker = loss_tracker
        self.unweighted_metrics = metrics
        self.weighted_metrics = list(weighted_metrics or [])
        self.metrics = metrics + self.weighted_metrics

    def reset(self) -> None:
        self.loss_tracker.reset_state()
        for metric in self.metrics:
            metric.reset_state()

    def results(self) -> dict[str, float]:
        """Flat logs {'loss': ..., 'accuracy': ...} as Python floats (one host copy)."""
        names = [self.loss_tracker.name] + [metric.name for metric in self.metrics]
        tensors = [self.loss_tracker.result()] + [metric.result() for metric in self.metrics]
        values = torch.stack([t.detach().reshape(()).to(torch.float64).cpu() for t in tensors]).tolist()
        return dict(zip(names, values))


class LazyLogs(Mapping):
    """Batch logs whose values are read from the device only when a callback looks at them."""

    def __init__(self, tracked: TrackedValues):
        self._tracked = tracked

    def _names(self) -> list[str]:
        return [self._tracked.loss_tracker.name] + [m.name for m in self._tracked.metrics]

    def __getitem__(self, key: str) -> float:
        if key == self._tracked.loss_tracker.name:
            return float(self._tracked.loss_tracker.result())
        for metric in self._tracked.metrics:
            if metric.name == key:
                return float(metric.result())
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())
