"""What `compile()` records, and the metric objects resolved from it once the data's shapes are known."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from epochal.training.trackers import MeanTracker, TrackedValues

_AUTO_NAMES = ("accuracy", "acc", "crossentropy", "ce")


def normalize_metrics(metrics: Any, argument: str = "metrics") -> list:
    """Accept a bare string (as the seed writes: metrics='accuracy'), a list, or a dict per output."""
    if metrics is None:
        return []
    if isinstance(metrics, str) or callable(metrics) and not isinstance(metrics, (list, tuple, dict)):
        return [metrics]
    if isinstance(metrics, dict):
        flat: list = []
        for value in metrics.values():
            flat += normalize_metrics(value, argument)
        return flat
    if isinstance(metrics, (list, tuple)):
        flat = []
        for value in metrics:
            flat += normalize_metrics(value, argument) if isinstance(value, (list, tuple, dict)) else [value]
        return flat
    raise TypeError(f"`{argument}` must be a string, a metric, or a list/dict of them. Received: {metrics!r}")


def check_metric_names(metrics: list) -> None:
    """Reject unknown metric names in compile(), not at the first fit() (where Keras 3 would).

    Only strings are looked up: an unknown one raises ValueError with the closest known names.
    """
    from epochal import metrics as metrics_module

    for identifier in metrics:
        if isinstance(identifier, str) and identifier.lower() not in _AUTO_NAMES:
            metrics_module.get(identifier)


@dataclass
class CompiledConfig:
    optimizer: Any
    loss: Any
    metrics: list = field(default_factory=list)
    weighted_metrics: list = field(default_factory=list)
    loss_weights: Any = None
    loss_identifier: Any = None
    metrics_identifier: Any = None

    def resolve_metric(self, identifier: Any, y_shape: tuple, prediction_shape: tuple):
        from epochal import metrics as metrics_module

        if isinstance(identifier, str) and identifier.lower() in _AUTO_NAMES:
            return metrics_module.resolve_accuracy(identifier, y_shape, prediction_shape,
                                                   getattr(self.loss, "name", None))
        metric = metrics_module.get(identifier)
        if isinstance(identifier, str):
            metric.name = identifier
        return metric

    def tracked_values(self, y_shape: tuple, prediction_shape: tuple) -> TrackedValues:
        """Fresh loss tracker and metric objects (one set for training, one for validation)."""
        metrics = [self.resolve_metric(m, y_shape, prediction_shape) for m in self.metrics]
        weighted = [self.resolve_metric(m, y_shape, prediction_shape) for m in self.weighted_metrics]
        return TrackedValues(MeanTracker("loss"), metrics, weighted)

    def metric_names(self) -> list[str]:
        names = []
        for identifier in self.metrics + self.weighted_metrics:
            names.append(identifier if isinstance(identifier, str)
                         else getattr(identifier, "name", getattr(identifier, "__name__", str(identifier))))
        return names
