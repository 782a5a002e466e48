"""The per-batch math of fit/evaluate/predict: one forward, the loss, one optimizer update.

Everything that can be decided once (whether the loss can use the output layer's logits, whether
there are regularization penalties) is decided in `__init__`, so a step is a handful of kernels.
"""
from __future__ import annotations

from typing import Optional

import torch

from epochal import activations
from epochal.training.trackers import TrackedValues

_FUSABLE = {"softmax": activations.softmax, "sigmoid": activations.sigmoid}


class StepFunctions:
    """train_step / test_step / predict_step for one compiled model."""

    def __init__(self, model, loss, optimizer, train_values: TrackedValues, test_values: TrackedValues,
                 class_weight: Optional[torch.Tensor] = None):
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.train_values = train_values
        self.test_values = test_values
        self.class_weight = class_weight
        self.output_activation = _fused_activation(model, loss)
        self.has_penalties = model.has_regularizers()
        self.has_constraints = model.has_constraints()
        self.wants_predictions = bool(train_values.metrics)
        self.has_trainable_weights = any(w.requires_grad for w in model.parameters())

    @classmethod
    def for_prediction(cls, model) -> "StepFunctions":
        """Step functions for predict(), which needs neither a loss nor an optimizer."""
        steps = cls.__new__(cls)
        steps.model = model
        return steps

    # ------------------------------------------------------------------ forward + loss
    def _loss_and_predictions(self, x, y, sample_weight, training: bool):
        if self.output_activation is not None:
            logits = self.model.call_logits(x, training=training)
            loss = self._loss_from_logits(y, logits, sample_weight)
            predictions = _FUSABLE[self.output_activation](logits.detach()) if self.wants_predictions else None
        else:
            predictions = self.model(x, training=training)
            loss = self.loss(y, predictions, sample_weight)
            predictions = predictions.detach()
        if self.has_penalties:
            # Keras adds the weight penalties to the reported loss in evaluation too (val_loss included).
            loss = loss + sum(self.model.regularization_losses())
        return loss, predictions

    def _loss_from_logits(self, y, logits, sample_weight):
        if sample_weight is None:
            fast = getattr(self.loss, "fast_mean_on_logits", None)
            value = fast(y, logits) if fast is not None else None
            if value is not None:
                return value
        return self.loss.reduce(self.loss.call_on_logits(y, logits), sample_weight)

    def _weights_for(self, y, sample_weight):
        if self.class_weight is None:
            return sample_weight
        labels = y.long().reshape(y.shape[0], -1)
        labels = labels.argmax(-1) if labels.shape[-1] > 1 else labels[:, 0]
        weights = self.class_weight[labels]
        return weights if sample_weight is None else weights * sample_weight

    # ------------------------------------------------------------------ steps
    def train_step(self, x, y, sample_weight) -> None:
        sample_weight = self._weights_for(y, sample_weight)
        if not self.has_trainable_weights:
            with torch.no_grad():
                loss, predictions = self._loss_and_predictions(x, y, sample_weight, training=True)
            self._track(self.train_values, loss, y, predictions, sample_weight, x.shape[0])
            return
        self.optimizer.zero_grad()
        loss, predictions = self._loss_and_predictions(x, y, sample_weight, training=True)
        loss.backward()
        self.optimizer.step()
        if self.has_constraints:
            self.model.apply_constraints()  # Keras projects constrained weights after every update
        self._track(self.train_values, loss, y, predictions, sample_weight, x.shape[0])

    @torch.no_grad()
    def test_step(self, x, y, sample_weight) -> None:
        loss, predictions = self._loss_and_predictions(x, y, sample_weight, training=False)
        if predictions is None and self.test_values.metrics:
            predictions = self.model(x, training=False)
        self._track(self.test_values, loss, y, predictions, sample_weight, x.shape[0])

    @torch.no_grad()
    def predict_step(self, x) -> torch.Tensor:
        return self.model(x, training=False)

    @staticmethod
    def _track(values: TrackedValues, loss, y, predictions, sample_weight, num_samples: int) -> None:
        values.loss_tracker.update(loss, num_samples)
        for metric in values.unweighted_metrics:
            metric.update_state(y, predictions)
        for metric in values.weighted_metrics:
            metric.update_state(y, predictions, sample_weight)


def _fused_activation(model, loss) -> Optional[str]:
    """'softmax'/'sigmoid' when the loss can take the output layer's logits instead of probabilities."""
    wanted = getattr(loss, "fused_activation", None)
    if wanted is None or getattr(loss, "from_logits", True):
        return None
    final = model.output_activation_name()
    return final if final == wanted else None
