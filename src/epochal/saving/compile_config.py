"""What `compile()` was given, as Keras files record it, and back.

Keras 3 `.keras` files keep it as `compile_config` (optimizer, loss, metrics, ...); `.h5` files as the
`training_config` attribute (`optimizer_config` instead of `optimizer`). tf.keras 2 wrapped metrics
as `MeanMetricWrapper` configs nested per output; those become the names the user wrote
('accuracy'), so history keys stay the same. The file's own config is kept on the loaded model and its
fields are written back on save (`keep_compile_config`), so a file round-trips without losing any.
"""
from __future__ import annotations

import copy
from typing import Any, Optional

from epochal.saving.config import KERAS3

# Attribute holding (the CompiledConfig a load created, flavour, the file's compile/training config).
KEPT_COMPILE = "_keras_compile_config"
_OPTIMIZER_KEY = {KERAS3: "optimizer"}  # the legacy training_config calls it 'optimizer_config'


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
        config = {"optimizer": optimizer, **config, "run_eagerly": False, "steps_per_execution": 1,
                  "jit_compile": False}
    else:
        config = {**config, "optimizer_config": {"class_name": optimizer["class_name"], "config": optimizer["config"]}}
    return _with_kept_fields(model, config, flavor)


def keep_compile_config(model: Any, config: dict[str, Any], flavor: str) -> None:
    """Remember the compile config a file restored, so saving writes back the fields epochal does not use.

    Example:
        >>> import epochal as keras
        >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
        >>> model.compile(optimizer="adam", loss="mse")
        >>> keep_compile_config(model, {"loss": "mse", "steps_per_execution": 4}, "legacy")
        >>> compile_config(model, "legacy")["steps_per_execution"]
        4
    """
    setattr(model, KEPT_COMPILE, (model.compiled, flavor, copy.deepcopy(config)))


def _with_kept_fields(model: Any, config: dict[str, Any], flavor: str) -> dict[str, Any]:
    """`config` plus the loaded file's fields it lacks (tf.keras 2's `is_legacy_optimizer`, Keras 3's `jit_compile`).

    Only while the model is still compiled as the file said (its metrics are then written as the file
    spelled them, e.g. tf.keras 2's MeanMetricWrapper), and only into the format the file had: Keras 3
    passes a `.keras` compile_config to compile() as keyword arguments, so a field of the other format
    would break loading there. Values epochal writes itself are its current ones.
    """
    kept = getattr(model, KEPT_COMPILE, None)
    if kept is None or kept[0] is not model.compiled or kept[1] != flavor or not isinstance(kept[2], dict):
        return config
    original = kept[2]
    merged = {**config, **{key: value for key, value in original.items() if key not in config}}
    for key in ("metrics", "weighted_metrics"):
        if original.get(key) is not None:
            merged[key] = original[key]
    key = _OPTIMIZER_KEY.get(flavor, "optimizer_config")
    merged[key] = _with_kept_optimizer_fields(merged[key], original.get(key))
    return merged


def _with_kept_optimizer_fields(ours: dict[str, Any], theirs: Any) -> dict[str, Any]:
    if not isinstance(theirs, dict) or _bare(theirs.get("class_name")) != ours["class_name"]:
        return ours  # another optimizer than the file's: its fields do not apply
    if not isinstance(theirs.get("config"), dict):
        return ours
    extra = {name: value for name, value in theirs["config"].items() if name not in ours["config"]}
    # tf.keras 2.11+ wrote 'Custom>Adam'; keep that spelling along with its extra fields.
    return {**ours, "class_name": theirs["class_name"], "config": {**ours["config"], **extra}}


def _bare(class_name: Any) -> Any:
    return class_name.split(">", 1)[-1] if isinstance(class_name, str) else class_name


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
