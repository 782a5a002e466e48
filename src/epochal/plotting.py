"""Plot training curves from one or several `History` objects, optionally saving them to a file.

matplotlib is optional (``pip install "epochal[plot]"``): it is imported only when a plot is drawn,
so ``import epochal`` stays light.

Example:
    >>> history = {"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.7, 0.8]}
    >>> figure = plot_history(history)
    >>> figure.axes[0].get_xlabel(), figure.axes[0].get_ylabel()
    ('epoch', 'loss')
"""
from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from epochal.diagnosis import as_history_dict, epoch_numbers, require_equal_lengths, require_keys
from epochal.utils.atomic_files import atomic_write

if TYPE_CHECKING:  # Only for annotations: importing matplotlib here would make it a hard dependency.
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["epoch_ticks", "plot_history", "save_figure"]

_CALLER = "plot_history()"
# Metric names (without `val_`) containing one of these are better when higher; all others,
# losses and errors included, are better when lower.
_HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1", "iou", "r2", "score", "true_")
BEST_EPOCH_GID = "best-epoch"
# More legend entries than this (several runs, or loss and accuracy together) would hide curves
# inside the axes, so the legend moves to the right of the plot.
_LEGEND_INSIDE_MAX_ENTRIES = 4
_FIGURE_SIZE = (7.0, 4.5)
_LEGEND_OUTSIDE_EXTRA_WIDTH = 3.5  # inches added when the legend sits beside the axes
_MAX_EPOCH_TICKS = 11


@dataclasses.dataclass
class _Run:
    """One history to draw: its legend prefix, the object it came from and its metric lists."""

    label: str | None
    source: Any
    metrics: dict[str, list[float]]


def plot_history(
    history: Any,
    metrics: str | Sequence[str] = ("loss", "val_loss"),
    path: str | os.PathLike | None = None,
    dpi: float = 300,
    *,
    labels: str | Sequence[str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    mark_best: bool = True,
) -> Figure:
    """Draw training and validation curves per epoch, marking the best epoch.

    Training curves are solid and validation (`val_`) curves dashed; each history gets its own
    colour, so several runs can be compared on the same axes. Epochs are numbered as Keras prints
    them, from 1 (see `epoch_ticks`). A legend of more than four entries is placed beside the axes
    so it never hides a curve; the figure is widened for it when `plot_history` created the figure.

    Args:
        history: The `History` returned by `model.fit()` (anything with a `.history` dict), a dict
            of per-epoch lists, or a list of these to overlay.
        metrics: History keys to draw on the shared axes. A single name such as ``"accuracy"``
            means that metric and its ``val_`` twin when every history has it.
            Defaults to ``("loss", "val_loss")``.
        path: File to save the figure to; the format follows the suffix (PNG when there is none).
            Missing folders are created and the file is replaced atomically. Defaults to None
            (not saved).
        dpi: Resolution of the saved file in dots per inch. Defaults to 300.
        labels: Legend prefix per history, e.g. ``["rmsprop", "adam"]``. Defaults to None
            ("run 1", "run 2", ... when several histories are given, no prefix for one).
        title: Axes title. Defaults to None.
        ax: Existing matplotlib Axes to draw into. Defaults to None (a new figure).
        mark_best: Mark each history's best epoch: lowest (loss-like) or highest (accuracy-like)
            validation value, or training value when no validation curve is drawn.
            Defaults to True.

    Returns:
        The matplotlib Figure holding the plot.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError: If a metric is missing (the message lists the keys present), a history is
            empty, `labels` does not match the histories, or `dpi`/`path` are unusable.

    Example:
        >>> runs = [{"loss": [0.9, 0.6], "val_loss": [1.0, 0.8]},
        ...         {"loss": [0.8, 0.4], "val_loss": [0.9, 0.7]}]
        >>> figure = plot_history(runs, labels=["rmsprop", "adam"], mark_best=False)
        >>> [line.get_label() for line in figure.axes[0].get_lines()]
        ['rmsprop loss', 'rmsprop val_loss', 'adam loss', 'adam val_loss']
    """
    runs = _as_runs(history, labels)
    keys = _resolve_metric_keys(metrics, runs)
    for run in runs:
        _check_run(run, keys)
    _check_dpi(dpi)
    matplotlib = _import_matplotlib()
    created = ax is None
    if created:
        ax = _new_axes()
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    families = _families(keys)
    for run_index, run in enumerate(runs):
        for family_index, family in enumerate(families):
            colour = colours[(run_index * len(families) + family_index) % len(colours)]
            _draw_family(ax, run, [key for key in keys if _family(key) == family], colour, mark_best)
    _decorate(ax, families, title, resize_figure=created)
    if path is not None:
        save_figure(ax.figure, path, dpi)
    return ax.figure


def _as_runs(history: Any, labels: str | Sequence[str] | None) -> list[_Run]:
    """Normalise one history or a list of them, pairing each with its legend prefix."""
    histories = list(history) if isinstance(history, (list, tuple)) else [history]
    if not histories:
        raise ValueError(f"{_CALLER} received an empty list of histories. Pass at least one History.")
    if isinstance(labels, str):
        labels = [labels]
    if labels is None:
        numbered = [f"run {number}" for number in range(1, len(histories) + 1)]
        labels = numbered if len(histories) > 1 else [None]
    labels = list(labels)
    if len(labels) != len(histories):
        raise ValueError(
            f"{_CALLER} expected one label per history: {len(histories)} histories but "
            f"{len(labels)} labels. Received: labels={labels!r}."
        )
    return [_Run(label, source, as_history_dict(source, _CALLER)) for label, source in zip(labels, histories)]


def _resolve_metric_keys(metrics: str | Sequence[str], runs: list[_Run]) -> list[str]:
    """Expand a single metric name to it and its `val_` twin; validate a sequence of names."""
    if isinstance(metrics, str):
        twin = f"val_{metrics}"
        has_twin = not metrics.startswith("val_") and all(twin in run.metrics for run in runs)
        return [metrics, twin] if has_twin else [metrics]
    keys = list(metrics)
    if not keys or not all(isinstance(key, str) for key in keys):
        raise ValueError(
            f"{_CALLER} expected `metrics` to be a metric name or a non-empty list of names such "
            f"as ('loss', 'val_loss'). Received: metrics={metrics!r}."
        )
    return keys


def _check_run(run: _Run, keys: list[str]) -> None:
    where = _CALLER if run.label is None else f"{_CALLER} (history '{run.label}')"
    hint = ""
    if any(key.startswith("val_") for key in keys) and not any(key.startswith("val_") for key in run.metrics):
        hint = " Validation curves need fit(validation_data=...) or fit(validation_split=...)."
    require_keys(run.metrics, keys, where, hint)
    if require_equal_lengths(run.metrics, keys, where) == 0:
        raise ValueError(f"{where} received an empty history: {', '.join(keys)} have no values.")


def _check_dpi(dpi: Any) -> None:
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not math.isfinite(dpi) or dpi <= 0:
        raise ValueError(
            f"{_CALLER} expected `dpi` to be a positive number such as 300. Received: dpi={dpi!r}."
        )


def _import_matplotlib() -> Any:
    """Import matplotlib, choosing the file-only 'Agg' backend when nothing can be displayed."""
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(
            f"{_CALLER} needs matplotlib, which is not installed. "
            'Install it with: pip install "epochal[plot]"'
        ) from error
    # Once pyplot is imported, or the user picked a backend (MPLBACKEND, matplotlibrc, use()),
    # switching would break their setup; otherwise a headless machine must not try a GUI.
    if "matplotlib.pyplot" not in sys.modules and not _backend_chosen(matplotlib) and not _has_display():
        matplotlib.use("Agg")
    return matplotlib


def _backend_chosen(matplotlib: Any) -> bool:
    get_backend_or_none = getattr(matplotlib.rcParams, "_get_backend_or_none", None)
    if get_backend_or_none is not None:
        return get_backend_or_none() is not None
    # Older matplotlib: reading rcParams["backend"] normally would resolve (and import) a backend.
    return dict.__getitem__(matplotlib.rcParams, "backend") is not matplotlib.rcsetup._auto_backend_sentinel


def _has_display() -> bool:
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True  # macOS and Windows always have a window system.


def _new_axes() -> Axes:
    # pyplot (not a bare Figure) so that plt.show() and notebooks display the result as users expect.
    import matplotlib.pyplot as pyplot

    figure, ax = pyplot.subplots(figsize=_FIGURE_SIZE, layout="constrained")
    return ax


def _family(key: str) -> str:
    return key.removeprefix("val_")


def _families(keys: list[str]) -> list[str]:
    return list(dict.fromkeys(_family(key) for key in keys))


def _higher_is_better(family: str) -> bool:
    return any(fragment in family.lower() for fragment in _HIGHER_IS_BETTER)


def _draw_family(ax: Axes, run: _Run, keys: list[str], colour: str, mark_best: bool) -> None:
    """Draw one metric family of one run: train solid, validation dashed, plus the best marker."""
    prefix = "" if run.label is None else f"{run.label} "
    epochs = epoch_numbers(run.source, len(run.metrics[keys[0]]))
    # A lone point has no line segment to show, so draw it as a dot.
    marker = "o" if len(epochs) == 1 else None
    for key in keys:
        style = "--" if key.startswith("val_") else "-"
        ax.plot(epochs, run.metrics[key], style, color=colour, marker=marker, label=f"{prefix}{key}")
    if mark_best:
        reference = next((key for key in keys if key.startswith("val_")), keys[0])
        _mark_best(ax, epochs, run.metrics[reference], reference, prefix, colour)


def _mark_best(ax: Axes, epochs: list[int], values: list[float], key: str, prefix: str, colour: str) -> None:
    usable = [index for index, value in enumerate(values) if not math.isnan(value)]
    if not usable:
        return
    higher_is_better = _higher_is_better(_family(key))
    pick = max if higher_is_better else min
    best = pick(usable, key=lambda index: values[index])
    if key.startswith("val_"):
        label = f"{prefix}best epoch {epochs[best]} ({key} {values[best]:.3g})"
    else:
        # Without validation data there is no "best epoch" in the seed's sense (the lowest training loss
        # is nearly always the last epoch), so the legend says plainly what the dot marks.
        extreme = "highest" if higher_is_better else "lowest"
        label = f"{prefix}{extreme} {key}: epoch {epochs[best]} ({values[best]:.3g})"
    ax.plot(
        [epochs[best]],
        [values[best]],
        marker="o",
        markersize=8,
        linestyle="none",
        color=colour,
        markeredgecolor="black",
        zorder=3,
        gid=BEST_EPOCH_GID,
        label=label,
    )


def _decorate(ax: Axes, families: list[str], title: str | None, resize_figure: bool) -> None:
    from matplotlib.ticker import FixedLocator

    ax.set_xlabel("epoch")
    ax.set_ylabel(" / ".join(families))
    # Every line drawn so far, the caller's own included, decides the range of epochs to number.
    low, high = ax.dataLim.intervalx
    ax.xaxis.set_major_locator(FixedLocator(epoch_ticks(math.ceil(low), math.floor(high))))
    ax.grid(True, alpha=0.3)
    _place_legend(ax, resize_figure)
    if title is not None:
        ax.set_title(title)


def _place_legend(ax: Axes, resize_figure: bool) -> None:
    """A short legend goes where it hides least; a long one beside the axes, never over a curve."""
    _handles, labels = ax.get_legend_handles_labels()
    if len(labels) <= _LEGEND_INSIDE_MAX_ENTRIES:
        ax.legend(loc="best")
        return
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small")
    if resize_figure:
        # Widen the figure by the legend's room so the plot keeps its size.
        width, height = _FIGURE_SIZE
        ax.figure.set_size_inches(width + _LEGEND_OUTSIDE_EXTRA_WIDTH, height)


def epoch_ticks(first: int, last: int, max_ticks: int = _MAX_EPOCH_TICKS) -> list[int]:
    """Epoch numbers to label on the x axis: always the first epoch, then round multiples.

    Every epoch is labelled when they fit in `max_ticks`; otherwise the first epoch and multiples
    of a round step (5, 10, 20, 25, 50, 100, ...), so 20 epochs read ``1, 5, 10, 15, 20``. A multiple
    closer to the first epoch than half a step is dropped so labels never crowd. The last epoch is
    labelled too when it is at least half a step past the last multiple, so a run that
    EarlyStopping ended at epoch 19 reads ``1, 5, 10, 15, 19``: the reader sees where it stopped.

    Args:
        first: First epoch shown (1 unless the history starts later).
        last: Last epoch shown.
        max_ticks: Most labels wanted. Defaults to 11.

    Returns:
        The epoch numbers, increasing; empty when `last < first`.

    Example:
        >>> epoch_ticks(1, 20)
        [1, 5, 10, 15, 20]
        >>> epoch_ticks(1, 5)
        [1, 2, 3, 4, 5]
        >>> epoch_ticks(1, 19)
        [1, 5, 10, 15, 19]
    """
    if last < first:
        return []
    if last - first + 1 <= max_ticks:
        return list(range(first, last + 1))
    for step in _round_steps():
        start = (first // step + 1) * step  # first multiple of step after `first`
        multiples = [epoch for epoch in range(start, last + 1, step) if 2 * (epoch - first) >= step]
        if len(multiples) + 1 <= max_ticks:
            ticks = [first, *multiples]
            if 2 * (last - ticks[-1]) >= step and len(ticks) < max_ticks:
                ticks.append(last)
            return ticks
    raise AssertionError("unreachable: steps grow without bound")


def _round_steps():
    """5, 10, 20, 25, 50, 100, 200, 250, 500, ... (no 2: ticks 1, 2, 4, ... would crowd the first)."""
    scale = 1
    while True:
        yield from (5 * scale, 10 * scale, 20 * scale, 25 * scale)
        scale *= 10


def save_figure(figure: Figure, path: str | os.PathLike, dpi: float = 300) -> Path:
    """Save `figure` atomically: write a temporary file in the same folder, then `os.replace` it.

    A crash or full disk never leaves a half-written image under `path`. Missing parent folders
    are created. The format follows the suffix; PNG when there is none.

    Args:
        figure: The matplotlib Figure to save.
        path: Destination file.
        dpi: Resolution in dots per inch. Defaults to 300.

    Returns:
        The destination as a `Path`.

    Raises:
        ValueError: If the suffix names a format matplotlib cannot write.

    Example:
        >>> import tempfile
        >>> figure = plot_history({"loss": [0.5, 0.3]}, metrics="loss")
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     save_figure(figure, Path(folder) / "curves" / "loss.png", dpi=50).name
        'loss.png'
    """
    path = Path(os.fspath(path))
    file_format = path.suffix.removeprefix(".").lower() or "png"
    supported = figure.canvas.get_supported_filetypes()
    if file_format not in supported:
        raise ValueError(
            f"Cannot save a figure as '{path.name}': unknown image format '{file_format}'. "
            f"Use one of the suffixes: {', '.join('.' + name for name in sorted(supported))}."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda temporary: figure.savefig(temporary, format=file_format, dpi=dpi))
    return path
