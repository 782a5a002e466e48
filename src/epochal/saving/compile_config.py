"""What `compile()` was given, as Keras files record it, and back.

Keras 3 `.keras` files keep it as `compile_config` (optimizer, loss, metrics, ...); `.h5` files as the
`training_config` attribute (`optimizer_config` instead of `optimizer`). tf.keras 2 wrapped metrics
as `MeanMetricWrapper` configs nested per output; those become the names the user wrote
('accuracy'), so history keys stay the same.
"""
from __future__ import annotations

from typing import Any, Optional

from epochal.saving.config import KERAS3


class CompileRestoreError(ValueError):
    """The file's training configuration names a loss, metric or optimizer epochal cannot rebuild."""


# ============================================================================================ writing
def compile_config(model: Any, flavor: str) -> Optional[dict[str, Any]]:
    """The compile arguments of `model` in Keras's form, or None if it was never compiled."""
    from epochal import optimizers

    compiled = model.compiled
    if compiled is None:
        return None
    config: dict[str, Any] = {
        "loss": _loss_entry(compiled.loss_identifier),
        "loss_weights": compiled.loss_weights,
        "metrics": _metric_entries(compiled.metrics),
        "weighted_metrics": _metric_entries(compiled.weighted_metrics) or None,
    }
    optimizer = optimizers.serialize(compiled.optimizer)
    if flavor == KERAS3:
        return {"optimizer": optimizer, **config, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}
    return {**config, "optimizer_config": {"class_name": optimizer["class_name"], "config": optimizer["config"]}}


def _loss_entry(identifier: Any) -> Any:
    from epochal import losses

    if identifier is None or isinstance(identifier, (str, int, float)):
        return identifier
    if isinstance(identifier, losses.Loss):
        return losses.serialize(identifier)
    if isinstance(identifier, dict):
        return {key: _loss_entry(value) for key, value in identifier.items()}
    if isinstance(identifier, (list, tuple)):
        return [_loss_entry(value) for value in identifier]
    if isinstance(identifier, type):
        return identifier.__name__
    return getattr(identifier, "__name__", type(identifier).__name__)  # a loss function: saved by name


def _metric_entries(identifiers: list) -> list:
    from epochal import metrics

    entries = []
    for identifier in identifiers:
        if isinstance(identifier, str):
            entries.append(identifier)
        elif isinstance(identifier, metrics.Metric):
            entries.append({"module": "keras.metrics", "class_name": type(identifier).__name__,
                            "config": identifier.get_config(), "registered_name": None})
        else:
            entries.append(getattr(identifier, "__name__", type(identifier).__name__))
    return entries


# ============================================================================================ reading
def compile_arguments(config: dict[str, Any], custom_objects: Optional[dict] = None,
                      optimizer_fallback: Optional[str] = None) -> dict[str, Any]:
    """Keyword arguments for `model.compile` from a Keras `compile_config` or `training_config`.

    Args:
        config: the dict read from the file.
        custom_objects: classes and functions named in the config that are not built in.
        optimizer_fallback: optimizer class to use when the config does not name one.

    Raises:
        CompileRestoreError: naming the loss, metric or optimizer that could not be rebuilt.
    """
    custom = dict(custom_objects or {})
    if not isinstance(config, dict):
        raise CompileRestoreError(f"The training configuration must be a dict. Received: {type(config).__name__}")
    return {
        "optimizer": _optimizer(config, custom, optimizer_fallback),
        "loss": _loss(config.get("loss"), custom),
        "metrics": _metrics(config.get("metrics"), custom),
        "weighted_metrics": _metrics(config.get("weighted_metrics"), custom) or None,
        "loss_weights": config.get("loss_weights"),
    }


def _optimizer(config: dict, custom: dict, fallback: Optional[str]) -> Any:
    from epochal import optimizers

    entry = config.get("optimizer", config.get("optimizer_config"))
    if entry is None:
        entry = fallback or "rmsprop"  # Keras's compile() default
    try:
        if isinstance(entry, str):
            return custom[entry]() if isinstance(custom.get(entry), type) else optimizers.get(entry)
        return optimizers.deserialize(entry, custom_objects=custom)
    except (ValueError, TypeError) as error:
        raise _failure("optimizer", entry, error) from error


def _loss(entry: Any, custom: dict) -> Any:
    from epochal import losses

    if entry is None:
        return None
    if isinstance(entry, list):
        return [_loss(item, custom) for item in entry]
    if isinstance(entry, dict) and "class_name" not in entry:
        return {key: _loss(value, custom) for key, value in entry.items()}  # one loss per output
    name = _function_name(entry)
    if name is not None:
        return custom.get(name, name)
    try:
        cls = custom.get(entry.get("registered_name")) or custom.get(entry["class_name"])
        if cls is not None:
            return cls.from_config(entry.get("config") or {}) if hasattr(cls, "from_config") else cls
        return _filtered_call(type(losses.get(entry["class_name"])), entry.get("config") or {})
    except (ValueError, TypeError, KeyError) as error:
        raise _failure("loss", entry, error) from error


def _metrics(entry: Any, custom: dict) -> list:
    if entry is None:
        return []
    if isinstance(entry, dict) and "class_name" not in entry:  # per output: {'output': [...]}
        entry = list(entry.values())
    if not isinstance(entry, list):
        entry = [entry]
    identifiers = []
    for item in entry:
        identifiers += _metrics(item, custom) if isinstance(item, list) else [_metric(item, custom)]
    return identifiers


def _metric(entry: Any, custom: dict) -> Any:
    from epochal import metrics

    name = _function_name(entry)
    if name is not None:
        return custom.get(name, name)
    if not isinstance(entry, dict):
        raise _failure("metric", entry, TypeError(f"unexpected {type(entry).__name__}"))
    config = entry.get("config") or {}
    cls = custom.get(entry.get("registered_name")) or custom.get(entry.get("class_name"))
    try:
        if cls is not None:
            return cls.from_config(config) if hasattr(cls, "from_config") else cls
        if entry.get("class_name") == "MeanMetricWrapper":
            return _wrapped_metric(config, custom)
        return metrics.get(entry)
    except (ValueError, TypeError, KeyError) as error:
        raise _failure("metric", entry, error) from error


def _wrapped_metric(config: dict, custom: dict) -> Any:
    """tf.keras 2 saved metrics=['accuracy'] as MeanMetricWrapper(name='accuracy', fn=...): keep the name."""
    from epochal import metrics

    name, function = config.get("name"), config.get("fn")
    if isinstance(name, str) and name in custom:
        return custom[name]
    if isinstance(name, str):
        try:
            if name.lower() in ("accuracy", "acc", "crossentropy", "ce") or metrics.get(name) is not None:
                return name
        except (ValueError, TypeError):
            pass
    if isinstance(function, str):
        metric = metrics.get(custom.get(function, function))
        if isinstance(name, str):
            metric.name = name
        return metric
    raise ValueError(f"MeanMetricWrapper config without a usable name or fn: {config}")


def _function_name(entry: Any) -> Optional[str]:
    """A name for a loss/metric saved as a string or as Keras 3's {'class_name': 'function', ...}."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and entry.get("class_name") == "function":
        config = entry.get("config")
        return config if isinstance(config, str) else entry.get("registered_name")
    return None


def _filtered_call(cls: type, config: dict) -> Any:
    """Build `cls` from a Keras config, leaving out fields epochal's class does not take."""
    from epochal.utils.lookup import accepted_parameters

    accepted = set(accepted_parameters(cls.__init__))
    return cls(**{key: value for key, value in config.items() if key in accepted})


def _failure(kind: str, entry: Any, error: Exception) -> CompileRestoreError:
    return CompileRestoreError(
        f"Could not rebuild the {kind} {entry!r} from the file's training configuration ({error}). Pass "
        f"custom_objects={{...}} for {kind}s of your own, or load with compile=False and call compile() yourself.")
