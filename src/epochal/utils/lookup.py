"""Name lookup shared by every registry (optimizers, losses, metrics, activations).

One place decides how a misspelt name is reported, so every "Unknown X" error reads the same.
"""
from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any, Callable, Iterable, Mapping


def canonical(name: str) -> str:
    """Fold case and separators so 'Adam', 'adam' and 'sparse-categorical' compare equal."""
    return name.replace("-", "_").replace(" ", "").lower()


def suggest(name: str, known: Iterable[str]) -> str:
    """Return a " Did you mean 'x'?" phrase, or an empty string when nothing is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def plural(noun: str) -> str:
    """'optimizer' -> 'optimizers', 'loss' -> 'losses'."""
    return noun + ("es" if noun.endswith("s") else "s")


def unknown_name_error(kind: str, name: str, known: Iterable[str]) -> ValueError:
    """Build the ValueError raised for an unknown registry name."""
    known_sorted = sorted(set(known))
    return ValueError(
        f"Unknown {kind} '{name}'.{suggest(name, known_sorted)} "
        f"Known {plural(kind)}: {', '.join(known_sorted)}."
    )


def lookup(kind: str, name: str, registry: Mapping[str, Any]) -> Any:
    """Find `name` in `registry` (keys compared with `canonical`) or raise a helpful ValueError."""
    folded = {canonical(key): value for key, value in registry.items()}
    try:
        return folded[canonical(name)]
    except KeyError:
        raise unknown_name_error(kind, name, registry.keys()) from None


def check_kwargs(where: str, given: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Raise TypeError for keyword arguments `where` does not accept, naming the likely intended one.

    Example:
        >>> check_kwargs("fit()", {"validataion_data": 1}, ["validation_data", "epochs"])
        Traceback (most recent call last):
        ...
        TypeError: fit() got an unexpected keyword argument 'validataion_data'. Did you mean 'validation_data'? ...
    """
    allowed = list(allowed)
    for key in given:
        if key not in allowed:
            raise TypeError(
                f"{where} got an unexpected keyword argument '{key}'.{suggest(key, allowed)} "
                f"Accepted keyword arguments: {', '.join(sorted(allowed))}."
            )


def accepted_parameters(function: Callable) -> list[str]:
    """Names of the keyword parameters `function` takes (used to list alternatives in errors)."""
    return [
        parameter.name
        for parameter in inspect.signature(function).parameters.values()
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        and parameter.name != "self"
    ]


def keyword_checked(init: Callable) -> Callable:
    """Wrap a class's `__init__` so a misspelt keyword names the argument that was meant.

    Python's own message ("__init__() got an unexpected keyword argument 'num_threshold'") names
    neither the class nor the right spelling. An `__init__` that takes `**kwargs` is left alone:
    those keywords may be meant for someone else.

    Example:
        >>> class Box:
        ...     @keyword_checked
        ...     def __init__(self, width=1):
        ...         self.width = width
        >>> Box(widht=2)
        Traceback (most recent call last):
        ...
        TypeError: Box() got an unexpected keyword argument 'widht'. Did you mean 'width'? ...
    """
    parameters = inspect.signature(init).parameters.values()
    if any(parameter.kind == parameter.VAR_KEYWORD for parameter in parameters):
        return init
    allowed = accepted_parameters(init)

    @functools.wraps(init)
    def checked_init(self, *args: Any, **kwargs: Any) -> None:
        check_kwargs(f"{type(self).__name__}()", kwargs, allowed)
        init(self, *args, **kwargs)

    return checked_init
