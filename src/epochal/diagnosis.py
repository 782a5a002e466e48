"""Read a training history and say, in plain words, whether and when the model began to overfit.

`diagnose` looks only at the recorded per-epoch numbers (`loss` and `val_loss`); it never touches the
model. It answers three questions a user asks after `fit()`:

* Which epoch was best? The epoch with the lowest `val_loss` (the first one, on ties).
* Did the model overfit, and from when? **Rule:** let *best* be the best epoch above. Overfitting
  begins at the epoch after *best* when, for the `OVERFITTING_WINDOW` (= 2) epochs that follow *best*,
  `val_loss` stays above `val_loss[best] + |min_delta|` while training loss keeps falling (`loss` at
  the end of that window is lower than `loss` at *best*). Because *best* is the minimum over the
  whole run, a one-epoch bump that recovers to a new minimum is never flagged, and a rise in the
  last epoch alone is too short to call. The opposite noise, one lucky epoch whose `val_loss` dips
  below every other after the rise has begun, must not hide or delay the verdict either: when the
  lowest epoch comes two or more epochs after the second-lowest, the rule is first applied to the
  second-lowest epoch, with the dip left out of its window. A sharp V (the second-lowest epoch just
  before or after the lowest) is no dip, and a dip followed by another new low is a recovery: both
  keep the plain rule. A rise in `val_loss` while `loss` also stalls or rises is
  not overfitting (it is a plateau or an unstable optimiser) and is reported as such.
* When would `EarlyStopping(monitor='val_loss', patience=p, min_delta=d)` have stopped, following
  Keras 3: each epoch `wait` grows by one; an epoch whose value is below `best - |d|` (or the first
  epoch) becomes the new best and resets `wait` to 0; otherwise training stops at that epoch once
  `wait >= patience` (never at epoch 0). When that stop comes before the best epoch, the verdict
  says so: the saved epochs would have cost the best model, and a larger patience is needed.

Epochs are reported 1-based, as Keras prints them ("Epoch 7/20"). A `History` whose `.epoch` list
starts later (``fit(initial_epoch=...)``) keeps its own numbering.

Example:
    >>> report = diagnose({"loss": [0.9, 0.6, 0.4, 0.3, 0.2],
    ...                    "val_loss": [1.0, 0.7, 0.6, 0.65, 0.7]})
    >>> report.best_epoch, report.overfitting_epoch, report.early_stopping_epoch
    (3, 4, 5)
"""
from __future__ import annotations

import dataclasses
import math
import textwrap
from collections.abc import Mapping
from typing import Any

__all__ = ["Diagnosis", "diagnose", "OVERFITTING_WINDOW"]

# Two epochs, not one: a single noisy validation epoch is common with small validation sets and
# must not be reported as overfitting.
OVERFITTING_WINDOW = 2
_TEXT_WIDTH = 88


def as_history_dict(history: Any, caller: str = "diagnose()") -> dict[str, list[float]]:
    """Return the metric lists of a `History` object (anything with a `.history` dict) or a dict.

    Shared with `epochal.plotting`, so both accept the same inputs and report the same errors.

    Raises:
        TypeError: If `history` is neither, or a value cannot be read as a list of numbers.
        ValueError: If no epoch was recorded.
    """
    metrics = getattr(history, "history", history)
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"{caller} expected `history` to be the History object returned by model.fit() or a "
            f"dict of per-epoch lists such as {{'loss': [...], 'val_loss': [...]}}. "
            f"Received: {type(history).__name__}."
        )
    as_floats = {str(key): _as_float_list(key, values, caller) for key, values in metrics.items()}
    if not any(as_floats.values()):
        raise ValueError(
            f"{caller} received an empty history: no epoch was recorded. "
            "Pass the History returned by a fit() that ran at least one epoch."
        )
    return as_floats


def _as_float_list(key: Any, values: Any, caller: str) -> list[float]:
    try:
        return [float(value) for value in values]
    except (TypeError, ValueError):
        raise TypeError(
            f"{caller} expected history['{key}'] to be a list of numbers, one per epoch. "
            f"Received: {values!r:.80}."
        ) from None


def epoch_numbers(history: Any, length: int) -> list[int]:
    """1-based epoch numbers for `length` recorded epochs, from `history.epoch` when it fits.

    `History.epoch` is 0-based and starts at `initial_epoch`; a plain dict has no such list,
    so its epochs count from 1.
    """
    recorded = getattr(history, "epoch", None)
    if isinstance(recorded, (list, tuple)) and len(recorded) == length:
        if all(isinstance(epoch, int) and not isinstance(epoch, bool) for epoch in recorded):
            return [epoch + 1 for epoch in recorded]
    return list(range(1, length + 1))


def require_keys(metrics: Mapping[str, list[float]], keys: list[str], caller: str, hint: str = "") -> None:
    """Raise a ValueError naming the missing keys and listing the ones present."""
    missing = [key for key in keys if key not in metrics]
    if missing:
        raise ValueError(
            f"{caller} needs history key(s) {', '.join(repr(k) for k in missing)}, which the history "
            f"does not contain.{hint} Keys present: {', '.join(repr(k) for k in metrics) or 'none'}."
        )


def require_equal_lengths(metrics: Mapping[str, list[float]], keys: list[str], caller: str) -> int:
    """Return the shared length of `keys`' lists, or raise if they differ (epochs would misalign)."""
    lengths = {key: len(metrics[key]) for key in keys}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"'{key}' has {length}" for key, length in lengths.items())
        raise ValueError(
            f"{caller} needs one value per epoch for each metric, but the lists differ in length: "
            f"{described}. This happens with fit(validation_freq>1), which records validation "
            "metrics only on some epochs; use validation_freq=1."
        )
    return next(iter(lengths.values()))


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """What a training history says about fit quality; returned by `diagnose`.

    Attributes:
        best_epoch: 1-based epoch with the lowest `val_loss`.
        best_val_loss: `val_loss` at `best_epoch`.
        overfitting_epoch: 1-based epoch where overfitting begins, or None (see the module rule).
        final_gap: `val_loss - loss` at the last epoch; large and growing means overfitting.
        final_gap_ratio: `val_loss / loss` at the last epoch, or None when `loss` is not positive.
        epochs_run: How many epochs the history records.
        early_stopping_epoch: 1-based epoch at which `EarlyStopping(patience=patience)` on
            `val_loss` would have stopped, or None if it would have let the run finish.
        epochs_saved: Epochs that early stop would have skipped (0 when it would not stop).
        patience: The patience the early-stopping figures assume.
        verdict: One or two plain-English sentences summarising the above.

    Example:
        >>> report = diagnose({"loss": [1.0, 0.5], "val_loss": [1.1, 0.6]})
        >>> report.to_dict()["best_epoch"]
        2
    """

    best_epoch: int
    best_val_loss: float
    overfitting_epoch: int | None
    final_gap: float
    final_gap_ratio: float | None
    epochs_run: int
    early_stopping_epoch: int | None
    epochs_saved: int
    patience: int
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for `json.dumps`; NaN or infinite numbers become None (strict JSON has neither)."""
        return {key: _json_safe(value) for key, value in dataclasses.asdict(self).items()}

    def summary_rows(self) -> list[tuple[str, str]]:
        """The figures as ``(label, value)`` rows, as `str()` and the HTML report show them.

        Example:
            >>> diagnose({"loss": [1.0, 0.5], "val_loss": [1.1, 0.6]}).summary_rows()[1]
            ('best epoch', '2 (val_loss 0.6)')
        """
        ratio = "" if self.final_gap_ratio is None else f" (val_loss is {self.final_gap_ratio:.2f}x loss)"
        if self.early_stopping_epoch is None:
            stopping = f"would not stop (patience={self.patience})"
        elif self.epochs_saved == 0:
            stopping = f"epoch {self.early_stopping_epoch} (patience={self.patience}), the last epoch run"
        else:
            stopping = (
                f"epoch {self.early_stopping_epoch} (patience={self.patience}), "
                f"saving {_plural(self.epochs_saved, 'epoch')}"
            )
            if self.early_stopping_epoch < self.best_epoch:
                stopping += ", before the best epoch"
        overfitting = "none detected"
        if self.overfitting_epoch is not None:
            overfitting = f"from epoch {self.overfitting_epoch}"
        return [
            ("epochs run", str(self.epochs_run)),
            ("best epoch", f"{self.best_epoch} (val_loss {self.best_val_loss:.4g})"),
            ("overfitting", overfitting),
            ("final gap", f"{self.final_gap:+.4g}{ratio}"),
            ("early stopping", stopping),
        ]

    def __str__(self) -> str:
        rows = self.summary_rows()
        width = max(len(name) for name, _ in rows)
        lines = ["Diagnosis"] + [f"  {name:<{width}}  {value}" for name, value in rows]
        # The verdict is prose: wrap it so it reads in a terminal without a 200-column line.
        verdict = textwrap.wrap(self.verdict, width=_TEXT_WIDTH, initial_indent="  ", subsequent_indent="  ")
        return "\n".join(lines + verdict)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def diagnose(history: Any, patience: int = 2, min_delta: float = 0.0) -> Diagnosis:
    """Find the best epoch, the start of overfitting and where early stopping would have stopped.

    The overfitting rule and the early-stopping semantics are described in the module docstring.

    Args:
        history: The `History` returned by `model.fit()` (anything with a `.history` dict) or a dict
            of per-epoch lists. Needs `loss` and `val_loss`.
        patience: Patience of the simulated `EarlyStopping(monitor='val_loss')`. Defaults to 2.
        min_delta: Smallest drop in `val_loss` that counts as an improvement, both for early
            stopping and for how far validation loss must rise to count as overfitting.
            Defaults to 0.0.

    Returns:
        A frozen `Diagnosis`; print it for a readable summary.

    Raises:
        ValueError: If `val_loss` or `loss` is missing (fit ran without validation data), the
            history is empty, or `patience` is negative.

    Example:
        >>> history = {"loss": [0.9, 0.7, 0.5, 0.4, 0.3, 0.2],
        ...            "val_loss": [1.0, 0.8, 0.7, 0.75, 0.8, 0.9]}
        >>> report = diagnose(history, patience=2)
        >>> report.best_epoch, report.overfitting_epoch, report.early_stopping_epoch, report.epochs_saved
        (3, 4, 5, 1)
        >>> report.verdict.split(":")[0]
        'Overfitting from epoch 4'
    """
    _check_arguments(patience, min_delta)
    metrics = as_history_dict(history)
    require_keys(
        metrics,
        ["loss", "val_loss"],
        "diagnose()",
        hint=" Diagnosis compares training and validation loss, so fit() must be given "
        "validation_data=... or validation_split=...",
    )
    epochs_run = require_equal_lengths(metrics, ["loss", "val_loss"], "diagnose()")
    train, val = metrics["loss"], metrics["val_loss"]
    numbers = epoch_numbers(history, epochs_run)
    best = _best_index(val)
    overfitting = _overfitting_start(train, val, best, min_delta)
    stop = _early_stopping_index(val, [n - 1 for n in numbers], patience, min_delta)
    final_gap = val[-1] - train[-1]
    report = dict(
        best_epoch=numbers[best],
        best_val_loss=val[best],
        overfitting_epoch=None if overfitting is None else numbers[overfitting],
        final_gap=final_gap,
        final_gap_ratio=val[-1] / train[-1] if train[-1] > 0 else None,
        epochs_run=epochs_run,
        early_stopping_epoch=None if stop is None else numbers[stop],
        epochs_saved=0 if stop is None else epochs_run - 1 - stop,
        patience=patience,
    )
    return Diagnosis(**report, verdict=_verdict(report, best, epochs_run))


def _check_arguments(patience: Any, min_delta: Any) -> None:
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
        raise ValueError(
            f"diagnose() expected `patience` to be a non-negative int (epochs without improvement "
            f"before early stopping). Received: patience={patience!r}."
        )
    if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or math.isnan(min_delta):
        raise ValueError(
            f"diagnose() expected `min_delta` to be a number such as 0.0 or 0.001. "
            f"Received: min_delta={min_delta!r}."
        )


def _best_index(val: list[float]) -> int:
    """Index of the first lowest `val_loss`, ignoring NaN epochs."""
    finite = [index for index, value in enumerate(val) if not math.isnan(value)]
    if not finite:
        raise ValueError(
            "diagnose() found no usable 'val_loss': every value is NaN, so training diverged "
            "from the first epoch. Lower the learning rate or check the data for NaN/inf."
        )
    return min(finite, key=lambda index: val[index])


def _overfitting_start(train: list[float], val: list[float], best: int, min_delta: float) -> int | None:
    """Index of the first overfitting epoch under the module's rule, or None.

    `best` is the index of the lowest `val_loss`; if it is a lone dip after the rise had begun, the
    onset is measured from the second-lowest epoch instead (see the module docstring).
    """
    others = [index for index, value in enumerate(val) if index != best and not math.isnan(value)]
    runner_up = min(others, key=lambda index: val[index]) if others else None
    # At least one epoch between them: otherwise the two lowest epochs are the bottom of one V.
    if runner_up is not None and runner_up + 1 < best:
        later = [index for index in range(runner_up + 1, len(val)) if index != best]
        start = _onset_after(train, val, runner_up, later, min_delta)
        if start is not None:
            return start
    return _onset_after(train, val, best, range(best + 1, len(val)), min_delta)


def _onset_after(train: list[float], val: list[float], best: int, later: Any, min_delta: float) -> int | None:
    """`best + 1` if the first `OVERFITTING_WINDOW` of the `later` epochs all stay above `val[best]`
    (plus `|min_delta|`) while training loss falls; else None."""
    window = list(later)[:OVERFITTING_WINDOW]
    if len(window) < OVERFITTING_WINDOW:
        return None
    threshold = val[best] + abs(min_delta)
    stays_above = all(val[index] > threshold for index in window)
    train_kept_falling = train[window[-1]] < train[best]
    return best + 1 if stays_above and train_kept_falling else None


def _early_stopping_index(val: list[float], epochs: list[int], patience: int, min_delta: float) -> int | None:
    """Index at which Keras 3 EarlyStopping on these values would stop, or None.

    `epochs` are the 0-based epoch numbers Keras passes to `on_epoch_end`; they matter only for
    Keras's rule that it never stops at epoch 0.
    """
    best, wait = None, 0
    for index, (epoch, current) in enumerate(zip(epochs, val)):
        wait += 1
        if best is None or current < best - abs(min_delta):
            best, wait = current, 0
            continue
        if wait >= patience and epoch > 0:
            return index
    return None


def _verdict(report: dict[str, Any], best: int, epochs_run: int) -> str:
    """Compose the plain-English summary from the computed figures."""
    best_text = f"Best epoch {report['best_epoch']} (val_loss {report['best_val_loss']:.3g})."
    if report["overfitting_epoch"] is not None:
        if report["best_epoch"] >= report["overfitting_epoch"]:
            # The lowest epoch is a lone dip inside the rise; say so, or "best" after the onset puzzles.
            best_text = (f"Best epoch {report['best_epoch']} (val_loss {report['best_val_loss']:.3g}) "
                         f"was a single low epoch amid the rise.")
        first = (
            f"Overfitting from epoch {report['overfitting_epoch']}: validation loss rose while "
            f"training loss kept falling. {best_text}"
        )
    elif best == epochs_run - 1:
        first = (
            f"No overfitting: validation loss was still improving at the last epoch "
            f"({report['best_epoch']}, val_loss {report['best_val_loss']:.3g}); training longer may help."
        )
    elif best + OVERFITTING_WINDOW >= epochs_run:
        first = (
            f"No clear overfitting yet: validation loss rose only in the last epoch, too soon to tell. "
            f"{best_text}"
        )
    else:
        first = (
            f"No overfitting: validation loss stopped improving after epoch {report['best_epoch']}, "
            f"but training loss did not keep falling either (a plateau; a lower learning rate may "
            f"help). {best_text}"
        )
    return f"{first} {_early_stopping_sentence(report)}"


def _early_stopping_sentence(report: dict[str, Any]) -> str:
    name = f"EarlyStopping(patience={report['patience']})"
    if report["early_stopping_epoch"] is None:
        return f"{name} would not have stopped this run."
    if report["epochs_saved"] == 0:
        # Typically a run that EarlyStopping itself ended: there is nothing left to save.
        return f"{name} stops at epoch {report['early_stopping_epoch']}, the last epoch of this run."
    sentence = (
        f"{name} would have stopped at epoch {report['early_stopping_epoch']}, "
        f"saving {_plural(report['epochs_saved'], 'epoch')}"
    )
    if report["early_stopping_epoch"] < report["best_epoch"]:
        # Saved epochs are no gain when the stop comes before the best epoch: say so.
        return (
            f"{sentence}, but before the best epoch ({report['best_epoch']}): validation loss improved "
            f"again later, so a larger patience would reach the best epoch."
        )
    return f"{sentence}."
