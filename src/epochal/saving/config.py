"""Model architecture <-> Keras config dicts: Keras 3 (`.keras`), legacy HDF5 and tf.keras 2 flavours.

Reading never imports or runs anything a file names: each class is looked up in epochal's layer
registry or in `custom_objects`, and layers that carry Python code (Lambda) are refused.

Fields of a Keras config that epochal's layers do not take (Keras 3.15's `quantization_config`,
`ragged`, a DTypePolicy dict where epochal writes 'float32', ...) are kept on the loaded layer and
written back on save, so a file goes through load and save without losing anything. A field the user
has since changed (`trainable`, say) is written with its new value.
"""
from __future__ import annotations

import copy
import warnings
from typing import Any, Optional

from epochal.layers.core import InputLayer
from epochal.layers.layer import Layer
from epochal.layers.symbolic import KerasTensor
from epochal.models.graph import parents, topological_tensors
from epochal.saving.weights_layout import listed_layers
from epochal.utils.lookup import accepted_parameters, suggest

KERAS3 = "keras3"  # `.keras` config.json
LEGACY = "legacy"  # `.h5` model_config, readable by Keras 3 and tf.keras 2

KEPT_CONFIG = "_keras_config"  # attribute holding the config a layer or model was loaded from
_SHAPE_KEYS = ("batch_shape", "batch_input_shape", "input_shape", "shape", "input_dim", "batch_size")
_CODE_CLASSES = ("Lambda", "TFOpLambda", "SlicingOpLambda", "__lambda__")
_POLICY_CLASSES = ("DTypePolicy", "FloatDTypePolicy", "Policy")
_FUNCTIONAL_MODULE = "keras.src.models.functional"
_MAX_NESTING = 200


# ============================================================================================ writing
def model_config(model: Any, flavor: str) -> dict[str, Any]:
    """The {'class_name', 'config', ...} entry describing `model` in the given flavour."""
    from epochal.models.functional import Functional
    from epochal.models.sequential import Sequential

    if isinstance(model, Sequential):
        class_name, module, registered, config = "Sequential", "keras", None, _sequential_config(model, flavor)
    elif isinstance(model, Functional):
        class_name, module, registered = "Functional", _FUNCTIONAL_MODULE, "Functional"
        config = _functional_config(model, flavor)
    else:
        class_name, module, registered = type(model).__name__, type(model).__module__, type(model).__name__
        config = merge_kept(model.get_config(), getattr(model, KEPT_CONFIG, None))
    if flavor == LEGACY:
        return {"class_name": class_name, "config": config}
    entry = {"module": module, "class_name": class_name, "config": config, "registered_name": registered}
    if model.built:
        entry["build_config"] = {"input_shape": _shape_list(model.input_shape)}
    return entry


def _sequential_config(model: Any, flavor: str) -> dict[str, Any]:
    layers = [layer_entry(model.input_layer, flavor)] if model.input_layer is not None else []
    layers += [layer_entry(layer, flavor) for layer in model.layers]
    config = {"name": model.name, "trainable": model.trainable, "dtype": model.dtype_name, "layers": layers}
    if model.built:
        config["build_input_shape"] = _shape_list(model.input_shape)
    return merge_kept(config, _without_layers(getattr(model, KEPT_CONFIG, None)))


def _functional_config(model: Any, flavor: str) -> dict[str, Any]:
    ordered, _ = topological_tensors(model.outputs)
    calls: dict[int, list[KerasTensor]] = {}
    history: dict[int, list] = {}
    for tensor in ordered:
        made = calls.setdefault(id(tensor.source_layer), [])
        history[id(tensor)] = [tensor.source_layer.name, len(made), 0]
        made.append(tensor)
    for tensor in model.inputs:
        history.setdefault(id(tensor), [tensor.source_layer.name, 0, 0])
    entries = []
    for layer in listed_layers(model):
        entry = layer_entry(layer, flavor)
        entry["name"] = layer.name
        nodes = [] if isinstance(layer, InputLayer) else calls.get(id(layer), [])
        entry["inbound_nodes"] = [_node_config(tensor, history, flavor) for tensor in nodes]
        entries.append(entry)
    config = {"name": model.name, "trainable": model.trainable, "layers": entries,
              "input_layers": _endpoints(model.inputs, history, flavor),
              "output_layers": _endpoints(model.outputs, history, flavor)}
    return merge_kept(config, _without_layers(getattr(model, KEPT_CONFIG, None)))


def _node_config(tensor: KerasTensor, history: dict[int, list], flavor: str) -> Any:
    sources = parents(tensor)
    if flavor == LEGACY:
        return [[*history[id(source)], {}] for source in sources]
    references = [{"class_name": "__keras_tensor__",
                   "config": {"shape": _shape_list(source.shape), "dtype": source.dtype,
                              "keras_history": history[id(source)]}} for source in sources]
    argument = references if isinstance(tensor.inputs, (list, tuple)) else references[0]
    return {"args": [argument], "kwargs": {}}


def _endpoints(tensors: list[KerasTensor], history: dict[int, list], flavor: str) -> list:
    references = [history[id(tensor)] for tensor in tensors]
    return references[0] if flavor == KERAS3 and len(references) == 1 else references


def layer_entry(layer: Layer, flavor: str) -> dict[str, Any]:
    """The config entry of one layer (a nested model gives its whole model entry)."""
    from epochal.layers.serialization import LAYER_CLASSES
    from epochal.models.model import Model

    if isinstance(layer, Model):
        return model_config(layer, flavor)
    class_name = type(layer).__name__
    entry = {"class_name": class_name, "config": _layer_config(layer, flavor)}
    if flavor == LEGACY:
        return entry
    builtin = LAYER_CLASSES.get(class_name) is type(layer)
    entry = {"module": "keras.layers" if builtin else type(layer).__module__, **entry,
             "registered_name": None if builtin else class_name}
    if layer.built and not isinstance(layer, InputLayer) and layer._build_input_shape is not None:
        entry["build_config"] = {"input_shape": _shape_list(layer._build_input_shape)}
    return entry


def _layer_config(layer: Layer, flavor: str) -> dict[str, Any]:
    config = dict(layer.get_config())
    if isinstance(layer, InputLayer):
        config = {key: value for key, value in config.items() if key not in _SHAPE_KEYS}
        shape_key = "batch_shape" if flavor == KERAS3 else "batch_input_shape"
        config = {shape_key: _shape_list(layer.batch_shape), **config}
    elif flavor == KERAS3:
        config.pop("batch_input_shape", None)  # Keras 3 layers take their shape from the InputLayer
    return merge_kept(config, getattr(layer, KEPT_CONFIG, None))


def _shape_list(shape: Any) -> Any:
    if isinstance(shape, (list, tuple)):
        return [_shape_list(d) if isinstance(d, (list, tuple)) else d for d in shape]
    return shape


def _without_layers(config: Optional[dict]) -> Optional[dict]:
    return None if config is None else {key: value for key, value in config.items() if key != "layers"}


# ------------------------------------------------------------------------------------ kept fields
def merge_kept(current: dict[str, Any], kept: Optional[dict[str, Any]]) -> dict[str, Any]:
    """`current` config with the loaded config's extra fields and original spellings put back.

    Example:
        >>> kept = {"dtype": {"class_name": "DTypePolicy", "config": {"name": "float32"}}, "ragged": False}
        >>> merge_kept({"dtype": "float32", "name": "x"}, kept)
        {'dtype': {'class_name': 'DTypePolicy', 'config': {'name': 'float32'}}, 'name': 'x', 'ragged': False}
    """
    if not kept:
        return current
    merged = dict(current)
    for key, old in kept.items():
        if key in _SHAPE_KEYS:
            continue  # the shape is always written from the model as it is now
        merged[key] = _prefer_original(current[key], old) if key in current else old
    return merged


def _prefer_original(new: Any, old: Any) -> Any:
    if isinstance(new, dict) and isinstance(old, dict):
        if new.get("class_name") != old.get("class_name"):
            return new
        merged = dict(new)
        for key, value in old.items():
            merged[key] = _prefer_original(new[key], value) if key in new else value
        return merged
    return old if _normal(new) == _normal(old) else new


def _normal(value: Any) -> Any:
    """A comparable form: tuples as lists, a dtype policy as its dtype name."""
    if isinstance(value, dict):
        if value.get("class_name") in _POLICY_CLASSES:
            return (value.get("config") or {}).get("name")
        return {key: _normal(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normal(item) for item in value]
    return value


# ============================================================================================ reading
def model_from_config(entry: Any, custom_objects: Optional[dict] = None, safe_mode: bool = True) -> Any:
    """Build the model a Keras config entry describes (Keras 3 or tf.keras 2 format).

    Raises:
        ValueError: an unknown class (named, with the known ones), a layer holding Python code
            (always refused; under safe_mode=True the message says so), or a malformed config.
    """
    from epochal.models.model import Model

    custom = dict(custom_objects or {})
    refuse_code(entry, safe_mode, custom)
    model = _build(entry, custom)
    if not isinstance(model, Model):
        raise ValueError(f"The config describes a single {type(model).__name__} layer, not a model.")
    return model


def refuse_code(entry: Any, safe_mode: bool, custom: dict) -> None:
    """Raise if the config holds a Lambda layer or serialized Python function not given in custom_objects."""
    stack = [(entry, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > _MAX_NESTING:
            raise ValueError("The model config is nested deeper than any real model; the file is damaged.")
        if isinstance(value, dict):
            class_name = value.get("class_name")
            if class_name in _CODE_CLASSES and class_name not in custom:
                raise ValueError(_code_message(class_name, value, safe_mode))
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def _code_message(class_name: str, entry: dict, safe_mode: bool) -> str:
    config = entry.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    what = f"a {class_name} layer '{name}'" if class_name != "__lambda__" else "a serialized Python lambda"
    fix = (f"Recreate that layer in Python and pass it as custom_objects={{'{class_name}': YourLayer}}, or build "
           "the model in code and load only the weights with model.load_weights(...).")
    if safe_mode:
        return (f"The model config contains {what}, which holds Python bytecode. Loading it would run code "
                f"stored in the file, so it is refused under safe_mode=True. {fix}")
    return (f"The model config contains {what}, which holds Python bytecode. epochal never runs code stored "
            f"in a file, even with safe_mode=False. {fix}")


def _build(entry: Any, custom: dict) -> Layer:
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ValueError(f"Expected a layer entry {{'class_name': ..., 'config': {{...}}}}. Received: {_short(entry)}")
    from epochal.models.model import Model

    cls = _custom_class(entry, custom)
    class_name = entry["class_name"]
    if cls is None and class_name == "Sequential":
        return _sequential(entry, custom)
    if cls is None and class_name in ("Functional", "Model"):
        return _functional(entry, custom)
    if isinstance(cls, type) and issubclass(cls, Model):
        return _subclassed(cls, entry)
    return _layer(entry, cls, custom)


def _custom_class(entry: dict, custom: dict) -> Optional[type]:
    for key in (entry.get("registered_name"), entry.get("class_name")):
        if isinstance(key, str) and isinstance(custom.get(key), type):
            return custom[key]
    return None


def _config_of(entry: dict) -> dict:
    config = entry.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ValueError(f"The config of a '{entry['class_name']}' entry must be a dict. Received: {_short(config)}")
    return config


# ------------------------------------------------------------------------------------------- layers
def _layer(entry: dict, cls: Optional[type], custom: dict) -> Layer:
    from epochal.layers.serialization import LAYER_CLASSES

    class_name = entry["class_name"]
    config = _config_of(entry)
    cls = cls or LAYER_CLASSES.get(class_name)
    if cls is None:
        known = sorted(set(LAYER_CLASSES) | {"Sequential", "Functional"})
        raise ValueError(f"Unknown layer class '{class_name}' (layer '{config.get('name')}')."
                         f"{suggest(class_name, known)} epochal knows: {', '.join(known)}. For a layer of your "
                         f"own, pass custom_objects={{'{class_name}': YourLayerClass}}; nothing a file names is "
                         "ever imported.")
    arguments, unused = _split_arguments(cls, config)
    arguments = _resolve_callables(arguments, custom)
    _warn_unused(class_name, config.get("name"), unused)
    layer = cls.from_config(arguments)
    setattr(layer, KEPT_CONFIG, copy.deepcopy(config))
    return layer


def _split_arguments(cls: type, config: dict) -> tuple[dict, dict]:
    """(arguments the class takes, fields it does not); custom from_config methods get everything."""
    if getattr(cls.from_config, "__func__", None) is not Layer.from_config.__func__:
        return dict(config), {}
    from epochal.layers.layer import BASE_KWARGS

    accepted = set(BASE_KWARGS) | set(accepted_parameters(cls.__init__))
    arguments = {key: value for key, value in config.items() if key in accepted}
    unused = {key: value for key, value in config.items() if key not in accepted}
    for key, value in arguments.items():
        if key.endswith("_initializer") and isinstance(value, dict):
            arguments[key] = _initializer_arguments(value)
    return arguments, unused


def _initializer_arguments(entry: dict) -> dict:
    """Drop initializer fields epochal's class does not take (Keras 3.15 added input_axes/output_axes)."""
    from epochal import initializers

    try:
        cls = type(initializers.get(str(entry.get("class_name"))))
    except (ValueError, TypeError):
        return entry  # unknown initializer: let the layer report it
    config = entry.get("config") or {}
    accepted = set(accepted_parameters(cls.__init__))
    return {**entry, "config": {key: value for key, value in config.items() if key in accepted}}


def _resolve_callables(arguments: dict, custom: dict) -> dict:
    """A custom activation, named in the config and given in custom_objects, becomes the function."""
    activation = arguments.get("activation")
    if isinstance(activation, dict) and activation.get("class_name") == "function":
        activation = activation.get("config")
    if isinstance(activation, str) and callable(custom.get(activation)):
        return {**arguments, "activation": custom[activation]}
    if activation is not arguments.get("activation"):
        return {**arguments, "activation": activation}
    return arguments


def _warn_unused(class_name: str, name: Any, unused: dict) -> None:
    meaningful = {key: value for key, value in unused.items() if value not in (None, False, [], {}, ())}
    if meaningful:
        warnings.warn(f"Layer '{name}' ({class_name}): epochal does not use the config fields {meaningful}. They are "
                      "kept and written back when the model is saved, but have no effect here.", stacklevel=6)


# ------------------------------------------------------------------------------------------- models
def _sequential(entry: dict, custom: dict) -> Layer:
    from epochal.models.sequential import Sequential

    raw = entry.get("config")
    config = {"layers": raw} if isinstance(raw, list) else _config_of(entry)  # Keras 1 stored a bare list
    layer_entries = config.get("layers")
    if not isinstance(layer_entries, list):
        raise ValueError(f"A Sequential config needs a 'layers' list. Received: {_short(layer_entries)}")
    model = Sequential(name=config.get("name"))
    for layer_entry in layer_entries:
        model.add(_build(layer_entry, custom))
    shape = config.get("build_input_shape") or (entry.get("build_config") or {}).get("input_shape")
    if not model.built and model.layers and isinstance(shape, (list, tuple)):
        model.build(tuple(shape))
    if config.get("trainable") is False:
        model.trainable = False
    setattr(model, KEPT_CONFIG, copy.deepcopy(_without_layers(config)))
    return model


def _functional(entry: dict, custom: dict) -> Layer:
    from epochal.models.functional import Functional

    config = _config_of(entry)
    layer_entries = config.get("layers")
    if not isinstance(layer_entries, list):
        raise ValueError(f"A functional model config needs a 'layers' list. Received: {_short(layer_entries)}")
    tensors: dict[tuple[str, int], KerasTensor] = {}
    pending = []
    for layer_entry in layer_entries:
        layer = _build(layer_entry, custom)
        name = layer_entry.get("name") or layer.name
        if isinstance(layer, InputLayer):
            tensors[(name, 0)] = KerasTensor(layer.batch_shape, name=layer.name, source_layer=layer, inputs=None)
            continue
        nodes = layer_entry.get("inbound_nodes") or []
        pending += [(layer, name, index, node) for index, node in enumerate(nodes)]
    _connect(pending, tensors)
    inputs = [_tensor(tensors, reference) for reference in _references(config.get("input_layers"))]
    outputs = [_tensor(tensors, reference) for reference in _references(config.get("output_layers"))]
    model = Functional(inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0],
                       name=config.get("name"))
    if config.get("trainable") is False:
        model.trainable = False
    setattr(model, KEPT_CONFIG, copy.deepcopy(_without_layers(config)))
    return model


def _connect(pending: list, tensors: dict) -> None:
    """Call each layer on its inputs, in whatever order the inputs become available."""
    while pending:
        waiting = []
        for layer, name, index, node in pending:
            references, as_list = _node_inputs(node, name)
            if all((source, source_index) in tensors for source, source_index in references):
                inputs = [tensors[reference] for reference in references]
                tensors[(name, index)] = layer(inputs if as_list else inputs[0])
            else:
                waiting.append((layer, name, index, node))
        if len(waiting) == len(pending):
            layer, name, _, node = waiting[0]
            missing = [source for source, index in _node_inputs(node, name)[0] if (source, index) not in tensors]
            raise ValueError(f"Layer '{name}' in the functional config takes the output of {missing}, which no "
                             "layer of the config produces.")
        pending = waiting


def _node_inputs(node: Any, layer_name: str) -> tuple[list[tuple[str, int]], bool]:
    """((layer name, node index) of each input, whether the layer takes a list) of one call."""
    if isinstance(node, dict):  # Keras 3: {"args": [tensor or [tensors]], "kwargs": {}}
        arguments = node.get("args") or []
        if len(arguments) != 1:
            raise ValueError(f"Layer '{layer_name}' is called with {len(arguments)} positional arguments in the "
                             "config; epochal supports layers called on one tensor or one list of tensors.")
        first = arguments[0]
        as_list = isinstance(first, list)
        return [_history(item, layer_name) for item in (first if as_list else [first])], as_list
    if isinstance(node, list) and node:  # tf.keras 2: [[name, node_index, tensor_index, kwargs], ...]
        return [_history(item, layer_name) for item in node], len(node) > 1
    raise ValueError(f"Cannot read the inbound node of layer '{layer_name}': {_short(node)}")


def _history(item: Any, layer_name: str) -> tuple[str, int]:
    if isinstance(item, dict):
        item = (item.get("config") or {}).get("keras_history")
    if not isinstance(item, list) or len(item) < 3 or not isinstance(item[0], str):
        raise ValueError(f"Cannot read an input reference of layer '{layer_name}': {_short(item)}")
    if item[2] != 0:
        raise ValueError(f"Layer '{layer_name}' uses output {item[2]} of '{item[0]}'; epochal layers have one output.")
    return item[0], int(item[1])


def _references(spec: Any) -> list[tuple[str, int]]:
    if isinstance(spec, list) and spec and isinstance(spec[0], str):
        spec = [spec]  # Keras 3 writes a single endpoint unnested
    if not isinstance(spec, list) or not spec:
        raise ValueError(f"A functional config needs its input and output layers. Received: {_short(spec)}")
    return [_history(item, "model") for item in spec]


def _tensor(tensors: dict, reference: tuple[str, int]) -> KerasTensor:
    if reference not in tensors:
        raise ValueError(f"The functional config names '{reference[0]}' as an input or output, but no layer "
                         "of the config produces it.")
    return tensors[reference]


def _subclassed(cls: type, entry: dict) -> Layer:
    model = cls.from_config(_config_of(entry))
    shape = (entry.get("build_config") or {}).get("input_shape")
    if not model.built and isinstance(shape, (list, tuple)):
        model.build(tuple(shape))
    return model


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."
