"""Keras-compatible optimizers that update PyTorch parameters in place.

Each optimizer takes Keras's hyper-parameters with Keras's defaults (which differ from torch's: Adam's
epsilon is 1e-7, RMSprop's epsilon sits inside the square root, SGD's momentum buffer holds
``momentum * m - lr * g``) and reproduces Keras 3's update rule, so a model trained here follows the
same trajectory as the same model trained with ``keras.optimizers``.

A step updates the parameters given to ``build`` from their ``.grad``; a parameter whose ``grad`` is
None or whose ``requires_grad`` is False is skipped, which is how ``layer.trainable = False`` freezes
weights. Every update is written with ``torch._foreach_*`` list ops (Adam and AdamW use torch's fused
kernel), so a step costs a handful of kernel calls whatever the number of tensors, and never reads a
value back to the host.

Example:
    >>> import torch
    >>> weight = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    >>> optimizer = get("sgd")
    >>> optimizer.build([weight])
    >>> weight.grad = torch.tensor([1.0, 1.0])
    >>> optimizer.step()
    >>> weight.detach().tolist(), optimizer.iterations
    ([0.9900000095367432, 1.9900000095367432], 1)
"""
from __future__ import annotations

import inspect
import math
import numbers
import re
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

import numpy as np
import torch

from epochal.utils.lookup import accepted_parameters, check_kwargs, lookup

__all__ = [
    "Optimizer",
    "SGD",
    "RMSprop",
    "Adam",
    "AdamW",
    "Adagrad",
    "Nadam",
    "get",
    "serialize",
    "deserialize",
]

LearningRate = Union[float, Callable[..., float]]

# Keys that tf.keras 2.11+ wrote into optimizer configs and that change nothing here.
_IGNORED_LEGACY_CONFIG_KEYS = ("jit_compile", "is_legacy_optimizer")
# Keep the per-mask plan cache small: masks only change when layers are frozen or unfrozen.
_MAX_CACHED_PLANS = 16


class LearningRateValue(float):
    """The learning rate as a Python float that also answers Keras's variable methods.

    tf.keras code writes ``model.optimizer.lr.assign(1e-4)`` or reads ``.numpy()``; this float
    forwards ``assign`` to the optimizer it came from, so such code keeps working.
    """

    __slots__ = ("_optimizer",)

    def __new__(cls, value: float, optimizer: "Optimizer | None" = None) -> "LearningRateValue":
        instance = super().__new__(cls, value)
        instance._optimizer = optimizer
        return instance

    def assign(self, value: LearningRate) -> None:
        """Set the owning optimizer's learning rate (as ``tf.Variable.assign`` would)."""
        if self._optimizer is None:
            raise TypeError("This learning-rate value is not attached to an optimizer.")
        self._optimizer.learning_rate = value

    def numpy(self) -> np.float32:
        """The value as a NumPy float32, like a Keras variable's ``numpy()``."""
        return np.float32(self)


class _Group:
    """Parameters of one device and dtype that take part in a step, with their slot tensors."""

    __slots__ = ("params", "slots", "positions", "extras")

    def __init__(self, params: list, slots: dict, positions: list[int]):
        self.params = params
        self.slots = slots
        self.positions = positions  # where this group's gradients sit in the step's active list
        self.extras: dict[str, Any] = {}


class _Plan:
    """What one step touches for a given pattern of missing gradients, computed once and cached."""

    __slots__ = ("indices", "params", "groups", "complete")

    def __init__(self, indices: list[int], params: list, groups: list[_Group], complete: bool):
        self.indices = indices
        self.params = params
        self.groups = groups
        self.complete = complete


def _snake_case(name: str) -> str:
    """'RMSprop' -> 'rm_sprop', 'AdamW' -> 'adam_w' (Keras's default optimizer names)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _real(where: str, argument: str, value: Any) -> float:
    """Return `value` as a float, raising TypeError for anything that is not a real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{where}: `{argument}` must be a number. Received: {argument}={value!r} "
            f"(of type {type(value).__name__})."
        )
    return float(value)


def _in_range(where: str, argument: str, value: Any, low: float, high: float,
              high_inclusive: bool = True) -> float:
    """Return `value` as a float after checking low <= value <= high (or < high)."""
    value = _real(where, argument, value)
    above_high = value > high if high_inclusive else value >= high
    if not value >= low or above_high:  # `not >=` also catches NaN
        closing = "]" if high_inclusive else ")"
        raise ValueError(
            f"{where}: `{argument}` must be in [{low:g}, {high:g}{closing}. "
            f"Received: {argument}={value!r}."
        )
    return value


def _non_negative(where: str, argument: str, value: Any) -> float:
    return _in_range(where, argument, value, 0.0, math.inf)


def _positive_or_none(where: str, argument: str, value: Any) -> float | None:
    """Validate an optional strictly positive number (the clipping arguments)."""
    if value is None:
        return None
    value = _real(where, argument, value)
    if not value > 0:
        raise ValueError(
            f"{where}: `{argument}` must be a positive number or None. "
            f"Received: {argument}={value!r}. Pass None to disable it."
        )
    return value


def _boolean(where: str, argument: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: `{argument}` must be True or False. Received: {argument}={value!r}.")
    return bool(value)


def _schedule_takes_step(schedule: Callable) -> bool:
    """Keras calls LearningRateSchedule objects with the step but plain callables with nothing."""
    try:
        signature = inspect.signature(schedule)
    except (TypeError, ValueError):  # builtins without a signature: assume the schedule form
        return True
    required = [
        parameter for parameter in signature.parameters.values()
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        and parameter.default is parameter.empty
    ]
    takes_any = any(p.kind == p.VAR_POSITIONAL for p in signature.parameters.values())
    return bool(required) or takes_any


def _fused_adam_supported(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether torch's fused Adam kernel can run on tensors of this device and dtype."""
    return (
        hasattr(torch, "_fused_adam_")
        and device.type in ("cpu", "cuda")
        and dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64)
    )


class Optimizer:
    """Base class of epochal's optimizers: learning rate, clipping, weight decay, state and config.

    Subclasses implement ``_update`` (the update rule on lists of tensors), ``slot_names`` and
    ``_hyper_config``. The training engine calls ``build(params)`` once, then ``step()`` after each
    backward pass and ``zero_grad()`` before the next.

    Args:
        learning_rate: A float, or a callable schedule ``f(iterations) -> float`` (a Keras
            ``LearningRateSchedule``; a callable taking no argument is also accepted).
        weight_decay: If set, each updated weight is first shrunk as ``w -= w * weight_decay * lr``
            (decoupled weight decay, as Keras). Defaults to None.
        clipnorm: If set, each gradient is rescaled so that its L2 norm is at most this value.
            Defaults to None.
        clipvalue: If set, each gradient is clipped element-wise to ``[-clipvalue, clipvalue]``.
            Defaults to None.
        global_clipnorm: If set, all gradients are rescaled together so that their joint L2 norm
            is at most this value. Defaults to None.
        name: The optimizer's name. Defaults to the class name in snake case (``"adam"``).
        lr: tf.keras 2 spelling of ``learning_rate``; when given it wins.
        decay: tf.keras 2 time-based decay: step ``t`` (counted from 0) uses
            ``lr / (1 + decay * t)``. Defaults to 0.
        loss_scale_factor: If set, gradients are divided by it before anything else (pair it with
            ``scale_loss``). Defaults to None.
        use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps: accepted so that
            Keras 3 configs load; only their "off" values are supported.

    Raises:
        TypeError: for an unknown keyword argument (naming the likely intended one) or a value of the
            wrong type.
        ValueError: for an out-of-range value or more than one clipping argument.

    Saving in Keras's formats: ``slot_names`` lists the per-parameter state tensors, ``slots()``
    returns them in parameter order and ``set_slots()`` loads them. ``keras_variable_layout()`` gives
    the order of Keras 3's ``optimizer.variables`` (a .keras file stores them by that position):
    ``iteration``, then ``learning_rate`` (only when it is a float, not a schedule), then the
    slots, named in Keras ``<variable path with '/' as '_'>_<slot name>``.
    """

    def __init__(
        self,
        learning_rate: LearningRate,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        *,
        lr: LearningRate | None = None,
        decay: float = 0.0,
        loss_scale_factor: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        gradient_accumulation_steps: int | None = None,
        **unknown: Any,
    ):
        where = f"{type(self).__name__}()"
        allowed = set(accepted_parameters(type(self).__init__)) | set(
            accepted_parameters(Optimizer.__init__)
        )
        check_kwargs(where, unknown, allowed)
        self._check_unsupported(where, use_ema, gradient_accumulation_steps)
        self.use_ema = False
        self.ema_momentum = _in_range(where, "ema_momentum", ema_momentum, 0.0, 1.0)
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.gradient_accumulation_steps = None
        self.name = self._validated_name(where, name)
        self.weight_decay = (
            None if weight_decay is None else _non_negative(where, "weight_decay", weight_decay)
        )
        self.clipnorm = _positive_or_none(where, "clipnorm", clipnorm)
        self.clipvalue = _positive_or_none(where, "clipvalue", clipvalue)
        self.global_clipnorm = _positive_or_none(where, "global_clipnorm", global_clipnorm)
        self._check_one_clipping(where)
        self.loss_scale_factor = _positive_or_none(where, "loss_scale_factor", loss_scale_factor)
        self.decay = _non_negative(where, "decay", decay)
        self.learning_rate = learning_rate if lr is None else lr
        self._iterations = 0
        self._params: list[torch.Tensor] = []
        self._param_index: dict[int, int] = {}
        self._slots: dict[str, list[torch.Tensor]] = {}
        self._plans: dict[tuple, _Plan] = {}
        self._pending_state: dict | None = None
        self.built = False

    # ----------------------------------------------------------------------------- validation
    @staticmethod
    def _check_unsupported(where: str, use_ema: Any, gradient_accumulation_steps: Any) -> None:
        if use_ema:
            raise ValueError(
                f"{where}: `use_ema=True` is not supported by epochal. Received: use_ema={use_ema!r}. "
                "Remove the argument (or pass use_ema=False)."
            )
        if gradient_accumulation_steps is not None:
            raise ValueError(
                f"{where}: `gradient_accumulation_steps` is not supported by epochal. Received: "
                f"gradient_accumulation_steps={gradient_accumulation_steps!r}. Remove the argument, "
                "or use a batch size that many times larger."
            )

    def _validated_name(self, where: str, name: Any) -> str:
        if name is None:
            return _snake_case(type(self).__name__)
        if not isinstance(name, str):
            raise TypeError(f"{where}: `name` must be a string. Received: name={name!r}.")
        return name

    def _check_one_clipping(self, where: str) -> None:
        arguments = ("clipnorm", "clipvalue", "global_clipnorm")
        given = [arg for arg in arguments if getattr(self, arg) is not None]
        if len(given) > 1:
            raise ValueError(
                f"{where}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: {', '.join(f'{arg}={getattr(self, arg)!r}' for arg in given)}."
            )

    # -------------------------------------------------------------------------- learning rate
    @property
    def learning_rate(self) -> LearningRateValue:
        """The learning rate the next step uses before legacy ``decay`` (a schedule's current value).

        Settable at any time, e.g. by a callback: ``model.optimizer.learning_rate = 0.01``.
        """
        if self._schedule is None:
            return LearningRateValue(self._learning_rate, self)
        return LearningRateValue(self._scheduled_value(), self)

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        if callable(value):
            self._schedule = value
            self._schedule_with_step = _schedule_takes_step(value)
            self._learning_rate = math.nan
            return
        if isinstance(value, (torch.Tensor, np.ndarray)):
            if np.size(value) != 1:
                raise TypeError(
                    f"`learning_rate` must be a scalar. Received an array of shape {tuple(value.shape)}."
                )
            value = float(value)
        self._learning_rate = _non_negative(f"{type(self).__name__}", "learning_rate", value)
        self._schedule = None

    @property
    def lr(self) -> LearningRateValue:
        """tf.keras 2 alias of ``learning_rate``."""
        return self.learning_rate

    @lr.setter
    def lr(self, value: LearningRate) -> None:
        self.learning_rate = value

    def _scheduled_value(self) -> float:
        value = self._schedule(self._iterations) if self._schedule_with_step else self._schedule()
        return float(value)

    def _step_learning_rate(self) -> float:
        """The learning rate this step applies: schedule or float, then tf.keras 2's decay."""
        rate = self._learning_rate if self._schedule is None else self._scheduled_value()
        if self.decay:
            rate = rate / (1.0 + self.decay * self._iterations)
        return rate

    # ----------------------------------------------------------------------------- iterations
    @property
    def iterations(self) -> int:
        """Number of steps applied so far (settable, e.g. when loading a checkpoint)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        if isinstance(value, (torch.Tensor, np.ndarray, np.integer)):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"`iterations` must be an integer >= 0. Received: iterations={value!r}.")
        self._iterations = value

    # -------------------------------------------------------------------------------- building
    @property
    def slot_names(self) -> tuple[str, ...]:
        """Names of the per-parameter state tensors, in Keras 3's naming."""
        return ()

    def _init_slot(self, name: str, param: torch.Tensor) -> torch.Tensor:
        """A fresh slot tensor for `param`, on its device (zeros unless the rule says otherwise)."""
        return torch.zeros_like(param, memory_format=torch.preserve_format)

    def build(self, params: Iterable[torch.Tensor]) -> None:
        """Create the per-parameter state for `params`, each on its parameter's device.

        Called once by the training engine; a second call does nothing (as in Keras). Build after
        moving the model to its device.

        Args:
            params: The trainable parameters, in a fixed order (that order is the slot order).

        Raises:
            TypeError: if an element is not a floating-point tensor.
        """
        if self.built:
            return
        params = list(params)
        for position, param in enumerate(params):
            if not isinstance(param, torch.Tensor) or not param.is_floating_point():
                raise TypeError(
                    f"{type(self).__name__}.build() expects floating-point torch tensors (parameters). "
                    f"Received at position {position}: {type(param).__name__}"
                    f"{'' if not isinstance(param, torch.Tensor) else ' of dtype ' + str(param.dtype)}."
                )
        self._params = params
        self._param_index = {id(param): i for i, param in enumerate(params)}
        with torch.no_grad():
            self._slots = {name: [self._init_slot(name, p) for p in params] for name in self.slot_names}
        self._plans = {}
        self.built = True
        if self._pending_state is not None:
            pending, self._pending_state = self._pending_state, None
            self.load_state_dict(pending)

    def _require_params(self, params: Iterable[torch.Tensor] | None) -> None:
        if params is None:
            raise ValueError(
                f"{type(self).__name__}.step() was called before build(). Call "
                "`optimizer.build(model.parameters())` first, or pass the parameters: "
                "`optimizer.step(model.parameters())`."
            )
        self.build(params)

    # ----------------------------------------------------------------------------------- steps
    @torch.no_grad()
    def step(self, params: Iterable[torch.Tensor] | None = None) -> None:
        """Apply one update from the ``.grad`` of the built parameters.

        Parameters whose ``grad`` is None or whose ``requires_grad`` is False are left untouched.
        If no parameter has a gradient, nothing happens and ``iterations`` does not advance.

        Args:
            params: Only used when the optimizer is not built yet: it is then built from them.
        """
        if not self.built:
            self._require_params(params)
        self._apply([p.grad if p.requires_grad else None for p in self._params])

    def apply_gradients(self, grads_and_vars: Iterable[tuple[torch.Tensor | None, torch.Tensor]]) -> int:
        """Keras's custom-training-loop API: apply ``(gradient, parameter)`` pairs.

        Returns:
            The new iteration count.
        """
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])
        return self._iterations

    @torch.no_grad()
    def apply(self, grads: Sequence[torch.Tensor | None],
              trainable_variables: Sequence[torch.Tensor] | None = None) -> None:
        """Keras's ``optimizer.apply(grads, variables)``: update `variables` with explicit `grads`.

        Without `trainable_variables`, `grads` must follow the order given to ``build``.
        """
        if trainable_variables is None:
            if not self.built or len(grads) != len(self._params):
                raise ValueError(
                    f"{type(self).__name__}.apply(grads) without variables needs a built optimizer and "
                    f"one gradient per built parameter ({len(self._params)}). Received {len(grads)} "
                    "gradients. Pass the variables too: `optimizer.apply(grads, variables)`."
                )
            self._apply(list(grads))
            return
        if not self.built:
            self.build(trainable_variables)
        self._apply(self._align_gradients(grads, trainable_variables))

    def _align_gradients(self, grads: Sequence, variables: Sequence) -> list:
        """Place each gradient at its parameter's build position (None where none is given)."""
        aligned: list = [None] * len(self._params)
        for grad, variable in zip(grads, variables):
            index = self._param_index.get(id(variable))
            if index is None:
                raise ValueError(
                    f"{type(self).__name__}.apply(): a variable of shape {tuple(variable.shape)} was not "
                    "among the parameters this optimizer was built with. Create a new optimizer for "
                    "a new set of parameters."
                )
            aligned[index] = grad
        return aligned

    def _apply(self, grads: list) -> None:
        """Run one step; `grads` follows the build order with None for skipped parameters."""
        mask = tuple(grad is None for grad in grads)
        plan = self._plans.get(mask)
        if plan is None:
            plan = self._make_plan(mask)
        if not plan.indices:
            return
        active = grads if plan.complete else [grads[i] for i in plan.indices]
        learning_rate = self._step_learning_rate()
        active = self._transform_gradients(active)
        if self.weight_decay:
            torch._foreach_mul_(plan.params, 1.0 - self.weight_decay * learning_rate)
        self._update_groups(plan, active, learning_rate)
        self._iterations += 1

    def _make_plan(self, mask: tuple) -> _Plan:
        indices = [i for i, missing in enumerate(mask) if not missing]
        by_kind: dict[tuple, list[int]] = {}
        for position, index in enumerate(indices):
            param = self._params[index]
            by_kind.setdefault((param.device, param.dtype), []).append(position)
        groups = []
        for positions in by_kind.values():
            members = [indices[p] for p in positions]
            slots = {name: [tensors[i] for i in members] for name, tensors in self._slots.items()}
            groups.append(_Group([self._params[i] for i in members], slots, positions))
        if len(self._plans) >= _MAX_CACHED_PLANS:
            self._plans.clear()
        plan = _Plan(indices, [self._params[i] for i in indices], groups, len(indices) == len(mask))
        self._plans[mask] = plan
        return plan

    def _transform_gradients(self, grads: list) -> list:
        """Unscale, then clip (value, per-tensor norm or global norm), without touching ``p.grad``."""
        if self.loss_scale_factor is not None:
            grads = torch._foreach_div(grads, self.loss_scale_factor)
        if self.clipvalue is not None:
            grads = torch._foreach_clamp_max(torch._foreach_clamp_min(grads, -self.clipvalue), self.clipvalue)
        elif self.clipnorm is not None:
            # Keras: g * c / max(||g||, c), which leaves zero gradients unchanged.
            limits = torch._foreach_clamp_min(torch._foreach_norm(grads), self.clipnorm)
            grads = torch._foreach_div(torch._foreach_mul(grads, self.clipnorm), limits)
        elif self.global_clipnorm is not None:
            grads = torch._foreach_mul(grads, self._global_clip_scale(grads))
        return grads

    def _global_clip_scale(self, grads: list) -> torch.Tensor:
        norms = torch._foreach_norm(grads)
        device = norms[0].device
        total = torch.linalg.vector_norm(torch.stack([norm.to(device) for norm in norms]))
        limit = self.global_clipnorm
        # Keras's form: a finite norm gives min(1, c / norm); an inf or NaN norm gives NaN.
        return limit * torch.clamp_max(total.reciprocal(), 1.0 / limit) + (total - total)

    def _update_groups(self, plan: _Plan, grads: list, learning_rate: float) -> None:
        if len(plan.groups) == 1:
            self._update(plan.groups[0], grads, learning_rate)
            return
        for group in plan.groups:
            self._update(group, [grads[p] for p in group.positions], learning_rate)

    def _update(self, group: _Group, grads: list, learning_rate: float) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update().")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the built parameters' gradients (set to None by default, as torch does)."""
        for param in self._params:
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.detach_()
                param.grad.zero_()

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """Multiply `loss` by ``loss_scale_factor`` (if set) before backward, as Keras does."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    # ----------------------------------------------------------------------------------- state
    def slots(self) -> dict[str, list[torch.Tensor]]:
        """The live per-parameter state tensors, ``{slot name: [tensor per parameter]}``."""
        return {name: list(tensors) for name, tensors in self._slots.items()}

    def set_slots(self, values: Mapping[str, Sequence[Any]]) -> None:
        """Copy saved state into the slots (arrays or tensors, in parameter order).

        Raises:
            ValueError: for an unknown slot name, a wrong count or a wrong shape.
        """
        if not self.built:
            raise ValueError(
                f"{type(self).__name__}.set_slots() needs a built optimizer. Call "
                "`optimizer.build(model.parameters())` first."
            )
        for name, arrays in values.items():
            if name not in self._slots:
                raise ValueError(
                    f"{type(self).__name__} has no slot '{name}'. Its slots are: {list(self.slot_names)}."
                )
            self._copy_into(name, self._slots[name], arrays)

    def _copy_into(self, name: str, targets: list[torch.Tensor], arrays: Sequence[Any]) -> None:
        if len(arrays) != len(targets):
            raise ValueError(
                f"Slot '{name}' holds {len(targets)} tensors (one per parameter); received {len(arrays)}."
            )
        with torch.no_grad():
            for index, (target, array) in enumerate(zip(targets, arrays)):
                value = torch.as_tensor(array)
                if tuple(value.shape) != tuple(target.shape):
                    raise ValueError(
                        f"Slot '{name}' for parameter {index} has shape {tuple(target.shape)}; received "
                        f"a value of shape {tuple(value.shape)}."
                    )
                target.copy_(value)

    def keras_variable_layout(self) -> list[tuple[str, int | None]]:
        """Keras 3's ``optimizer.variables`` order as ``(slot name, parameter index or None)``.

        Example:
            >>> opt = Adam(amsgrad=True)
            >>> opt.build([torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))])
            >>> opt.keras_variable_layout()[:5]
            [('iteration', None), ('learning_rate', None), ('momentum', 0), ('velocity', 0), ('momentum', 1)]
        """
        layout: list[tuple[str, int | None]] = [("iteration", None)]
        if self._schedule is None:
            layout.append(("learning_rate", None))
        return layout + self._keras_slot_layout()

    def _keras_slot_layout(self) -> list[tuple[str, int | None]]:
        # Keras creates each slot for all variables before the next slot, unless it interleaves.
        return [(name, index) for name in self.slot_names for index in range(len(self._params))]

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume bit-identically: iterations, learning rate, slots.

        The learning rate is None when it comes from a schedule (the schedule reads ``iterations``).
        """
        return {
            "iterations": self._iterations,
            "learning_rate": None if self._schedule is not None else self._learning_rate,
            "slots": {name: [t.detach().clone() for t in tensors] for name, tensors in self._slots.items()},
            "extra": self._extra_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a ``state_dict()``. On an unbuilt optimizer it is applied when ``build`` runs."""
        missing = [key for key in ("iterations", "learning_rate", "slots") if key not in state]
        if missing:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict(): the state lacks {missing}; pass what "
                "`optimizer.state_dict()` returned."
            )
        if not self.built:
            self._pending_state = dict(state)
            return
        expected, received = set(self.slot_names), set(state["slots"])
        if expected != received:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict(): the state holds slots {sorted(received)} but "
                f"this optimizer has {sorted(expected)}. Were the hyper-parameters (momentum, amsgrad, "
                "centered) different when it was saved?"
            )
        self.set_slots(state["slots"])
        self.iterations = state["iterations"]
        if state["learning_rate"] is not None:
            self.learning_rate = state["learning_rate"]
        self._load_extra_state(state.get("extra") or {})

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        pass

    # ---------------------------------------------------------------------------------- config
    def _hyper_config(self) -> dict[str, Any]:
        return {}

    def get_config(self) -> dict[str, Any]:
        """Keras 3's config keys and values (``decay`` only when the tf.keras 2 decay is in use)."""
        config = {
            "name": self.name,
            "learning_rate": self._learning_rate_config(),
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }
        config.update(self._hyper_config())
        if self.decay:
            config["decay"] = self.decay
        return config

    def _learning_rate_config(self) -> Any:
        if self._schedule is None:
            return self._learning_rate
        if hasattr(self._schedule, "get_config"):
            return {
                "module": "keras.optimizers.schedules",
                "class_name": type(self._schedule).__name__,
                "config": self._schedule.get_config(),
                "registered_name": None,
            }
        return self._schedule  # a plain callable: kept as is, it has no serial form

    @classmethod
    def from_config(cls, config: Mapping[str, Any],
                    custom_objects: Mapping[str, Any] | None = None) -> "Optimizer":
        """Create an optimizer from ``get_config()`` output (also Keras 3 and tf.keras 2 configs)."""
        config = {key: value for key, value in config.items() if key not in _IGNORED_LEGACY_CONFIG_KEYS}
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedule_from_config(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} learning_rate={float(self.learning_rate):g}>"


def _schedule_from_config(config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None) -> Any:
    """Rebuild a serialized learning-rate schedule from `custom_objects`."""
    class_name = config.get("class_name")
    schedule_class = (custom_objects or {}).get(class_name)
    if schedule_class is None:
        raise ValueError(
            f"The optimizer config's learning_rate is a serialized schedule '{class_name}', which "
            "epochal cannot rebuild on its own. Pass it in custom_objects={'"
            f"{class_name}': YourScheduleClass}}, or set a float learning_rate."
        )
    inner = config.get("config", {})
    if hasattr(schedule_class, "from_config"):
        return schedule_class.from_config(inner)
    return schedule_class(**inner)


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, Keras's formulation.

    With momentum: ``m = momentum * m - lr * g``, then ``w += m`` (or, with Nesterov,
    ``w += momentum * m - lr * g``). Without: ``w -= lr * g``.

    Args:
        learning_rate: Float or schedule. Defaults to 0.01.
        momentum: In [0, 1]. Defaults to 0.0.
        nesterov: Whether to apply Nesterov momentum. Defaults to False.
        **kwargs: The common arguments of ``Optimizer`` (weight_decay, clipnorm, clipvalue,
            global_clipnorm, name, lr, decay, ...).

    Slot (Keras name): ``momentum``, only when momentum > 0.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = SGD(learning_rate=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     w.grad = torch.tensor([1.0])
        ...     opt.step([w])
        >>> round(w.item(), 4)
        0.71
    """

    def __init__(self, learning_rate: LearningRate = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        self.momentum = _in_range("SGD()", "momentum", momentum, 0.0, 1.0)
        self.nesterov = _boolean("SGD()", "nesterov", nesterov)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("momentum",) if self.momentum > 0 else ()

    def _update(self, group: _Group, grads: list, learning_rate: float) -> None:
        params = group.params
        if "momentum" not in group.slots:
            torch._foreach_add_(params, grads, alpha=-learning_rate)
            return
        buffers = group.slots["momentum"]
        torch._foreach_mul_(buffers, self.momentum)
        torch._foreach_add_(buffers, grads, alpha=-learning_rate)
        if self.nesterov:
            torch._foreach_add_(params, buffers, alpha=self.momentum)
            torch._foreach_add_(params, grads, alpha=-learning_rate)
        else:
            torch._foreach_add_(params, buffers)

    def _hyper_config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """RMSprop as Keras computes it, with epsilon inside the square root.

    ``v = rho * v + (1 - rho) * g**2``; centered also tracks ``a = rho * a + (1 - rho) * g`` and uses
    ``v - a**2``; the increment is ``lr * g / sqrt(v + epsilon)``. With momentum,
    ``mom = momentum * mom + increment`` and ``w -= mom``; otherwise ``w -= increment``.

    Args:
        learning_rate: Float or schedule. Defaults to 0.001.
        rho: Discount of the squared-gradient average, in [0, 1]. Defaults to 0.9.
        momentum: In [0, 1]. Defaults to 0.0.
        epsilon: Added under the square root. Defaults to 1e-7.
        centered: Normalize by the estimated variance instead of the second moment. Defaults to False.
        **kwargs: The common arguments of ``Optimizer``.

    Slots (Keras names, each stored for all parameters before the next): ``velocity``, then
    ``momentum`` if momentum > 0, then ``average_gradient`` if centered.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([10.0]))
        >>> w.grad = torch.tensor([10.0])
        >>> RMSprop(learning_rate=0.1).step([w])
        >>> round(w.item(), 4)
        9.6838
    """

    def __init__(self, learning_rate: LearningRate = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        self.rho = _in_range("RMSprop()", "rho", rho, 0.0, 1.0)
        self.momentum = _in_range("RMSprop()", "momentum", momentum, 0.0, 1.0)
        self.epsilon = _non_negative("RMSprop()", "epsilon", epsilon)
        self.centered = _boolean("RMSprop()", "centered", centered)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("velocity",) + (("momentum",) if self.momentum > 0 else ()) + (
            ("average_gradient",) if self.centered else ()
        )

    def _update(self, group: _Group, grads: list, learning_rate: float) -> None:
        velocities = group.slots["velocity"]
        torch._foreach_mul_(velocities, self.rho)
        torch._foreach_addcmul_(velocities, grads, grads, value=1.0 - self.rho)
        denominators = torch._foreach_add(velocities, self.epsilon)
        if self.centered:
            averages = group.slots["average_gradient"]
            torch._foreach_lerp_(averages, grads, 1.0 - self.rho)
            torch._foreach_addcmul_(denominators, averages, averages, value=-1.0)
        torch._foreach_sqrt_(denominators)
        if "momentum" in group.slots:
            buffers = group.slots["momentum"]
            torch._foreach_mul_(buffers, self.momentum)
            torch._foreach_addcdiv_(buffers, grads, denominators, value=learning_rate)
            torch._foreach_sub_(group.params, buffers)
        else:
            torch._foreach_addcdiv_(group.params, grads, denominators, value=-learning_rate)

    def _hyper_config(self) -> dict[str, Any]:
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adam(Optimizer):
    """Adam as Keras computes it: ``w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon)``.

    Runs torch's fused Adam kernel with its epsilon set each step to ``epsilon / sqrt(1 - b2^t)``,
    which makes torch's rule equal Keras's; the step count ``t`` is the optimizer's ``iterations + 1``
    for every parameter, as in Keras. Where the fused kernel is unavailable, a ``_foreach`` version of
    the same rule runs instead.

    Args:
        learning_rate: Float or schedule. Defaults to 0.001.
        beta_1: Decay of the first moment, in [0, 1). Defaults to 0.9.
        beta_2: Decay of the second moment, in [0, 1). Defaults to 0.999.
        epsilon: Added to ``sqrt(v)``. Defaults to 1e-7.
        amsgrad: Use the running maximum of ``v``. Defaults to False.
        **kwargs: The common arguments of ``Optimizer``.

    Slots (Keras names): ``momentum`` and ``velocity`` (Keras interleaves them parameter by
    parameter), then ``velocity_hat`` for all parameters when amsgrad.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> w.grad = torch.tensor([0.5])
        >>> Adam(learning_rate=0.1).step([w])
        >>> round(w.item(), 4)
        0.9
    """

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        where = f"{type(self).__name__}()"
        self.beta_1 = _in_range(where, "beta_1", beta_1, 0.0, 1.0, high_inclusive=False)
        self.beta_2 = _in_range(where, "beta_2", beta_2, 0.0, 1.0, high_inclusive=False)
        self.epsilon = _non_negative(where, "epsilon", epsilon)
        self.amsgrad = _boolean(where, "amsgrad", amsgrad)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("momentum", "velocity") + (("velocity_hat",) if self.amsgrad else ())

    def _keras_slot_layout(self) -> list[tuple[str, int | None]]:
        count = len(self._params)
        layout = [(name, i) for i in range(count) for name in ("momentum", "velocity")]
        if self.amsgrad:
            layout += [("velocity_hat", i) for i in range(count)]
        return layout

    def _update(self, group: _Group, grads: list, learning_rate: float) -> None:
        step = self._iterations + 1
        first_correction = 1.0 - self.beta_1 ** step
        second_correction_root = math.sqrt(1.0 - self.beta_2 ** step)
        if "step" not in group.extras:
            param = group.params[0]
            group.extras["fused"] = _fused_adam_supported(param.device, param.dtype)
            group.extras["step"] = torch.zeros((), dtype=torch.float32, device=param.device)
        if group.extras["fused"]:
            self._fused_update(group, grads, learning_rate, step, second_correction_root)
        else:
            alpha = learning_rate * second_correction_root / first_correction
            self._foreach_update(group, grads, alpha)

    def _fused_update(self, group: _Group, grads: list, learning_rate: float, step: int,
                      second_correction_root: float) -> None:
        step_tensor = group.extras["step"]
        step_tensor.fill_(step)
        slots = group.slots
        torch._fused_adam_(
            group.params, grads, slots["momentum"], slots["velocity"],
            slots["velocity_hat"] if self.amsgrad else [],
            [step_tensor] * len(group.params),  # every parameter shares Keras's global step
            lr=learning_rate, beta1=self.beta_1, beta2=self.beta_2, weight_decay=0.0,
            eps=self.epsilon / second_correction_root, amsgrad=self.amsgrad, maximize=False,
        )

    def _foreach_update(self, group: _Group, grads: list, alpha: float) -> None:
        momentums, velocities = group.slots["momentum"], group.slots["velocity"]
        torch._foreach_lerp_(momentums, grads, 1.0 - self.beta_1)
        torch._foreach_mul_(velocities, self.beta_2)
        torch._foreach_addcmul_(velocities, grads, grads, value=1.0 - self.beta_2)
        if self.amsgrad:
            torch._foreach_maximum_(group.slots["velocity_hat"], velocities)
            velocities = group.slots["velocity_hat"]
        denominators = torch._foreach_sqrt(velocities)
        torch._foreach_add_(denominators, self.epsilon)
        torch._foreach_addcdiv_(group.params, momentums, denominators, value=-alpha)

    def _hyper_config(self) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (``w -= w * weight_decay * lr`` before each Adam update).

    Args:
        learning_rate: Float or schedule. Defaults to 0.001.
        weight_decay: Must be a number. Defaults to 0.004.
        beta_1, beta_2, epsilon, amsgrad: As for ``Adam``.
        **kwargs: The common arguments of ``Optimizer``.

    Slots: as ``Adam``.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> w.grad = torch.tensor([0.0])
        >>> AdamW(learning_rate=0.1, weight_decay=0.5).step([w])
        >>> round(w.item(), 4)
        0.95
    """

    def __init__(self, learning_rate: LearningRate = 0.001, weight_decay: float = 0.004,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False,
                 **kwargs: Any):
        if weight_decay is None:
            raise ValueError(
                "AdamW(): `weight_decay` must be a number. Received: weight_decay=None. "
                "Use Adam for no weight decay."
            )
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         weight_decay=weight_decay, **kwargs)


class Adagrad(Optimizer):
    """Adagrad as Keras computes it: ``acc += g**2``; ``w -= lr * g / sqrt(acc + epsilon)``.

    Args:
        learning_rate: Float or schedule. Defaults to 0.001.
        initial_accumulator_value: Starting value of the accumulators, >= 0. Defaults to 0.1.
        epsilon: Added under the square root. Defaults to 1e-7.
        **kwargs: The common arguments of ``Optimizer``.

    Slot (Keras name): ``accumulator``.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> w.grad = torch.tensor([1.0])
        >>> Adagrad(learning_rate=0.1, initial_accumulator_value=0.0).step([w])
        >>> round(w.item(), 4)
        0.9
    """

    def __init__(self, learning_rate: LearningRate = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = _non_negative(
            "Adagrad()", "initial_accumulator_value", initial_accumulator_value
        )
        self.epsilon = _non_negative("Adagrad()", "epsilon", epsilon)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("accumulator",)

    def _init_slot(self, name: str, param: torch.Tensor) -> torch.Tensor:
        return torch.full_like(param, self.initial_accumulator_value, memory_format=torch.preserve_format)

    def _update(self, group: _Group, grads: list, learning_rate: float) -> None:
        accumulators = group.slots["accumulator"]
        torch._foreach_addcmul_(accumulators, grads, grads)
        denominators = torch._foreach_add(accumulators, self.epsilon)
        torch._foreach_sqrt_(denominators)
        torch._foreach_addcdiv_(group.params, grads, denominators, value=-learning_rate)

    def _hyper_config(self) -> dict[str, Any]:
        return {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Adam with Nesterov momentum and Keras's momentum schedule ``u_t = b1 * (1 - 0.5 * 0.96^t)``.

    With ``U_t`` the running product of ``u_1 ... u_t``:
    ``m_hat = u_{t+1} m / (1 - U_t u_{t+1}) + (1 - u_t) g / (1 - U_t)``,
    ``v_hat = v / (1 - b2^t)`` and ``w -= lr * m_hat / (sqrt(v_hat) + epsilon)``.

    Args:
        learning_rate: Float or schedule. Defaults to 0.001.
        beta_1: In [0, 1). Defaults to 0.9.
        beta_2: In [0, 1). Defaults to 0.999.
        epsilon: Defaults to 1e-7.
        **kwargs: The common arguments of ``Optimizer``.

    Slots (Keras names): ``momentum`` and ``velocity``, interleaved per parameter as in Keras; then
    the scalar ``u_product`` (``U_t``, attribute ``u_product``), which is Keras's last variable.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> w.grad = torch.tensor([0.5])
        >>> Nadam(learning_rate=0.1).step([w])
        >>> round(w.item(), 4)
        0.8937
    """

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _in_range("Nadam()", "beta_1", beta_1, 0.0, 1.0, high_inclusive=False)
        self.beta_2 = _in_range("Nadam()", "beta_2", beta_2, 0.0, 1.0, high_inclusive=False)
        self.epsilon = _non_negative("Nadam()", "epsilon", epsilon)
        self.u_product = 1.0

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("momentum", "velocity")

    def _keras_slot_layout(self) -> list[tuple[str, int | None]]:
        layout = [(name, i) for i in range(len(self._params)) for name in ("momentum", "velocity")]
        return layout + [("u_product", None)]

    def _momentum_factor(self, step: int) -> float:
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** step)

    def _update_groups(self, plan: _Plan, grads: list, learning_rate: float) -> None:
        # The momentum schedule advances once per step, not once per device group.
        step = self._iterations + 1
        u_now, u_next = self._momentum_factor(step), self._momentum_factor(step + 1)
        product = self.u_product * u_now
        self.u_product = product
        self._coefficients = (
            u_next / (1.0 - product * u_next),  # weight of the momentum in m_hat
            (1.0 - u_now) / (1.0 - product),  # weight of the gradient in m_hat
            math.sqrt(1.0 - self.beta_2 ** step),
        )
        super()._update_groups(plan, grads, learning_rate)

    def _update(self, group: _Group, grads: list, learning_rate: float) -> None:
        momentum_weight, gradient_weight, second_correction_root = self._coefficients
        momentums, velocities = group.slots["momentum"], group.slots["velocity"]
        torch._foreach_lerp_(momentums, grads, 1.0 - self.beta_1)
        torch._foreach_mul_(velocities, self.beta_2)
        torch._foreach_addcmul_(velocities, grads, grads, value=1.0 - self.beta_2)
        m_hat = torch._foreach_mul(momentums, momentum_weight)
        torch._foreach_add_(m_hat, grads, alpha=gradient_weight)
        # sqrt(v / c) + eps == (sqrt(v) + eps * sqrt(c)) / sqrt(c): one op fewer per step.
        denominators = torch._foreach_sqrt(velocities)
        torch._foreach_add_(denominators, self.epsilon * second_correction_root)
        step_size = learning_rate * second_correction_root
        torch._foreach_addcdiv_(group.params, m_hat, denominators, value=-step_size)

    def _extra_state(self) -> dict[str, Any]:
        return {"u_product": self.u_product}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        if "u_product" in extra:
            self.u_product = float(extra["u_product"])

    def _hyper_config(self) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


_REGISTRY: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
    "adagrad": Adagrad,
    "nadam": Nadam,
}


def get(identifier: Any) -> Optimizer:
    """Turn a name, class, instance or Keras config dict into an optimizer instance.

    Args:
        identifier: ``"adam"`` (any case), an ``Optimizer`` subclass, an ``Optimizer`` instance
            (returned as is) or ``{"class_name": "Adam", "config": {...}}``.

    Raises:
        ValueError: for an unknown name (with the closest known one).
        TypeError: for anything else, including a ``torch.optim`` optimizer.

    Example:
        >>> get("Adam").learning_rate
        0.001
        >>> get("adamm")
        Traceback (most recent call last):
        ...
        ValueError: Unknown optimizer 'adamm'. Did you mean 'adam'? Known optimizers: adagrad, adam, adamw, nadam, rmsprop, sgd.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        return lookup("optimizer", identifier, _REGISTRY)()
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    raise _wrong_type_error(identifier)


def _wrong_type_error(identifier: Any) -> TypeError:
    is_class = isinstance(identifier, type)
    shown = identifier.__name__ if is_class else type(identifier).__name__
    from_torch = is_class and issubclass(identifier, torch.optim.Optimizer)
    if from_torch or isinstance(identifier, torch.optim.Optimizer):
        return TypeError(
            "A torch.optim optimizer cannot be used here: epochal builds the optimizer's state itself "
            "and follows Keras's update rules. Pass an epochal optimizer such as "
            "`epochal.optimizers.Adam(learning_rate=1e-3)` or a name such as 'adam'. "
            f"Received: {shown}."
        )
    return TypeError(
        "Could not interpret the optimizer identifier: expected a name ('adam'), an epochal Optimizer "
        "class or instance, or a config dict {'class_name': ..., 'config': {...}}. "
        f"Received: {identifier!r} (of type {type(identifier).__name__})."
    )


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """Keras 3's serialized form of `optimizer`: module, class_name, config, registered_name.

    Example:
        >>> serialize(SGD())["class_name"]
        'SGD'
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"serialize() expects an epochal Optimizer. Received: {optimizer!r} "
            f"(of type {type(optimizer).__name__})."
        )
    return {
        "module": "keras.optimizers",
        "class_name": type(optimizer).__name__,
        "config": optimizer.get_config(),
        "registered_name": None,
    }


def deserialize(config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None) -> Optimizer:
    """Rebuild an optimizer from ``{"class_name": ..., "config": {...}}`` (Keras 3 or tf.keras 2).

    Example:
        >>> deserialize({"class_name": "SGD", "config": {"learning_rate": 0.1}}).learning_rate
        0.1
    """
    if not isinstance(config, Mapping):
        raise TypeError(
            f"deserialize() expects a dict. Received: {config!r} (of type {type(config).__name__})."
        )
    if "class_name" not in config:
        raise ValueError(
            "deserialize() expects a dict with 'class_name' and 'config' keys, like "
            f"{{'class_name': 'Adam', 'config': {{...}}}}. Received keys: {sorted(config)}."
        )
    class_name = str(config["class_name"])
    # tf.keras 2.11+ saved its new optimizers as "Custom>Adam".
    class_name = class_name.split(">", 1)[1] if class_name.startswith("Custom>") else class_name
    custom = dict(custom_objects or {})
    optimizer_class = custom.get(class_name) or lookup("optimizer", class_name, _REGISTRY)
    return optimizer_class.from_config(dict(config.get("config") or {}), custom_objects=custom)
