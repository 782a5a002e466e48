"""Records of training runs: history files (JSON and CSV) and a self-contained HTML report.

The report is one HTML file with no outside references: figures are embedded as base64 PNG
``data:`` URIs, so it can be mailed, archived or opened offline. It shows the sections given
(text, program output, figures), the `epochal.diagnosis` verdict of every run, and a table
comparing the runs.

History files are what ``epochal train`` and ``epochal tutorial`` write and ``epochal plot`` reads:
JSON (``{"format": "epochal.history", "history": {...}, "epoch": [...], ...}``, or a plain dict of
per-epoch lists as ``json.dump(history.history, file)`` writes) and CSV (as `CSVLogger` writes:
an ``epoch`` column counted from 0, then one column per metric).

Example:
    >>> import tempfile
    >>> run = RunSummary("rmsprop", {"loss": [0.6, 0.4, 0.3], "val_loss": [0.5, 0.45, 0.5]})
    >>> html = render_report("Demo", runs=[run])
    >>> "<table" in html and "Best epoch" in html
    True
"""
from __future__ import annotations

import base64
import csv
import dataclasses
import datetime
import html
import io
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from epochal.diagnosis import Diagnosis, as_history_dict, diagnose, epoch_numbers
from epochal.utils.atomic_files import atomic_write

__all__ = [
    "HISTORY_FORMAT",
    "RunSummary",
    "Section",
    "history_to_csv",
    "history_to_json",
    "png_data_uri",
    "read_history",
    "render_report",
    "write_report",
    "write_text_atomic",
]

HISTORY_FORMAT = "epochal.history"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_STYLE = """
body { font-family: system-ui, "Noto Sans", "Noto Sans CJK KR", "Malgun Gothic", "Apple SD Gothic Neo",
       sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.5; }
h1 { border-bottom: 2px solid #ccc; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
pre { background: #f6f6f6; padding: 0.75rem; font-size: 0.85rem; white-space: pre-wrap;
      overflow-wrap: anywhere; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9rem; color: #555; }
.table-scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.8rem; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.4rem; text-align: right; vertical-align: top; }
th { background: #f6f6f6; }
th.text, td.text { text-align: left; }
td.text { overflow-wrap: break-word; }
td.run { min-width: 6rem; }
td.setup { min-width: 8rem; }
table.facts th { text-align: left; font-weight: normal; color: #555; }
table.facts td { text-align: left; }
.verdict { font-weight: 600; }
.meta { color: #666; font-size: 0.85rem; }
"""


@dataclasses.dataclass
class Section:
    """One part of a report: a heading, paragraphs, program output and figures.

    Attributes:
        title: The section heading.
        paragraphs: Plain-text paragraphs (escaped, never interpreted as HTML).
        output: Preformatted text, e.g. what the step printed. Defaults to "" (none).
        figures: PNG files to embed, each with a caption: ``(path, caption)`` pairs.

    Example:
        >>> Section("Loss curve", ["Training loss falls."]).title
        'Loss curve'
    """

    title: str
    paragraphs: Sequence[str] = ()
    output: str = ""
    figures: Sequence[tuple[str | os.PathLike, str]] = ()


@dataclasses.dataclass
class RunSummary:
    """One training run to diagnose and compare: its name, history and a short description.

    Attributes:
        name: Short name shown in the table, e.g. ``"adam"``.
        history: The `History` from `fit()` or a dict of per-epoch lists.
        description: What was different in this run, e.g. ``"Dropout(0.3), adam"``.
        notes: Extra ``label: value`` facts shown under the run's diagnosis.

    Example:
        >>> RunSummary("rmsprop", {"loss": [0.5, 0.4]}).final("loss")
        0.4
    """

    name: str
    history: Any
    description: str = ""
    notes: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, list[float]]:
        return as_history_dict(self.history, f"report run '{self.name}'")

    def final(self, key: str) -> float | None:
        """Last recorded value of `key`, or None when the run did not record it."""
        values = self.metrics.get(key)
        return values[-1] if values else None

    def diagnosis(self, patience: int = 2) -> Diagnosis | None:
        """The run's `Diagnosis`, or None when it has no validation loss to diagnose."""
        metrics = self.metrics
        if "val_loss" not in metrics or "loss" not in metrics:
            return None
        return diagnose(self.history, patience=patience)


# ---------------------------------------------------------------------------------- HTML report
def render_report(
    title: str,
    sections: Sequence[Section] = (),
    runs: Sequence[RunSummary] = (),
    *,
    intro: str = "",
    patience: int = 2,
) -> str:
    """Build the self-contained HTML report as a string.

    Args:
        title: Page title and main heading.
        sections: Parts to show first, in order.
        runs: Training runs, each diagnosed in its own section and compared in one table.
        intro: Paragraph under the title. Defaults to "".
        patience: Patience assumed by each diagnosis's early-stopping estimate. Defaults to 2.

    Returns:
        The HTML document.

    Raises:
        FileNotFoundError: If a figure file does not exist.
        ValueError: If a figure is not a PNG file.

    Example:
        >>> page = render_report("Runs", runs=[RunSummary("a", {"loss": [1.0, 0.5]})])
        >>> page.startswith("<!DOCTYPE html>")
        True
    """
    parts = [f"<h1>{_text(title)}</h1>"]
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    parts.append(f'<p class="meta">Written by epochal on {_text(stamp)}.</p>')
    if intro:
        parts.append(f"<p>{_text(intro)}</p>")
    parts.extend(_render_section(section) for section in sections)
    if runs:
        diagnoses = [run.diagnosis(patience) for run in runs]
        parts.append(_render_comparison(runs, diagnoses, patience))
        parts.extend(_render_run(run, diagnosis) for run, diagnosis in zip(runs, diagnoses))
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_text(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def write_report(path: str | os.PathLike, title: str, sections: Sequence[Section] = (),
                 runs: Sequence[RunSummary] = (), **kwargs: Any) -> Path:
    """Render the report (see `render_report`) and write it atomically to `path`.

    Returns:
        The written path.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> write_report(Path(folder) / "report.html", "Empty").name
        'report.html'
    """
    return write_text_atomic(path, render_report(title, sections, runs, **kwargs))


def png_data_uri(path: str | os.PathLike) -> str:
    """Return the PNG file at `path` as a ``data:image/png;base64,...`` URI.

    Raises:
        ValueError: If the file is not a PNG image.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "dot.png"
        >>> from epochal.plotting import plot_history, save_figure
        >>> _ = save_figure(plot_history({"loss": [1.0, 0.5]}, metrics="loss"), path, dpi=20)
        >>> png_data_uri(path).startswith("data:image/png;base64,iVBOR")
        True
    """
    data = Path(path).read_bytes()
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError(f"Cannot embed '{path}' in the report: it is not a PNG image. Save figures as .png.")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _render_section(section: Section) -> str:
    parts = [f"<section>\n<h2>{_text(section.title)}</h2>"]
    parts.extend(f"<p>{_text(paragraph)}</p>" for paragraph in section.paragraphs)
    if section.output:
        parts.append(f"<pre>{_text(section.output.rstrip())}</pre>")
    for path, caption in section.figures:
        parts.append(
            f'<figure><img src="{png_data_uri(path)}" alt="{_text(caption)}">'
            f"<figcaption>{_text(caption)} ({_text(Path(path).name)})</figcaption></figure>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _comparison_row(run: RunSummary, diagnosis: Diagnosis | None) -> list[str]:
    metrics = run.metrics
    epochs = max((len(values) for values in metrics.values()), default=0)
    best_accuracy = max(metrics.get("val_accuracy") or [math.nan])
    if diagnosis is None:
        diagnosed = ["–"] * 4
    else:
        stop = "no stop" if diagnosis.early_stopping_epoch is None else str(diagnosis.early_stopping_epoch)
        overfitting = "none" if diagnosis.overfitting_epoch is None else f"epoch {diagnosis.overfitting_epoch}"
        diagnosed = [f"{diagnosis.best_epoch} ({diagnosis.best_val_loss:.4f})", overfitting,
                     _number(diagnosis.final_gap), stop]
    return [run.name, run.description, str(epochs), _number(run.final("loss")), _number(run.final("val_loss")),
            _number(run.final("val_accuracy")),
            _number(best_accuracy), *diagnosed]


def _render_comparison(runs: Sequence[RunSummary], diagnoses: Sequence[Diagnosis | None], patience: int) -> str:
    headings = ["Run", "Setup", "Epochs", "Final loss", "Final val_loss",
                "Final val_accuracy", "Best val_accuracy", "Best epoch (val_loss)", "Overfitting from",
                "Final gap (val_loss − loss)", f"EarlyStopping (patience={patience}) stops at"]
    rows = [_comparison_row(run, diagnosis) for run, diagnosis in zip(runs, diagnoses)]
    # The first two columns are words (left-aligned), the others numbers (right-aligned).
    head = "".join(
        f'<th class="text">{_breakable(heading)}</th>' if index < 2 else f"<th>{_breakable(heading)}</th>"
        for index, heading in enumerate(headings)
    )
    body = "\n".join(
        "<tr>" + "".join(
            f'<td class="text {("run", "setup")[index]}">{_breakable(cell)}</td>' if index < 2
            else f"<td>{_text(cell)}</td>"
            for index, cell in enumerate(row)
        ) + "</tr>"
        for row in rows
    )
    return (
        "<section>\n<h2>Comparison of the runs</h2>\n"
        # A narrow window scrolls the table, not the whole page.
        f'<div class="table-scroll"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n'
        "</tbody>\n</table></div>\n"
        "<p>Epochs count from 1. \"Overfitting from\" is the first epoch after the best one when validation "
        "loss stayed above its best for two epochs while training loss kept falling (epochal.diagnosis).</p>\n"
        "</section>"
    )


def _breakable(text: str) -> str:
    # Let "val_accuracy" and "EarlyStopping(patience=2)" break after "_" and "(", so that the
    # comparison's twelve columns fit the page width.
    return re.sub(r"(?<=\w)\(", "(<wbr>", _text(text).replace("_", "_<wbr>"))


def _render_run(run: RunSummary, diagnosis: Diagnosis | None) -> str:
    title = f"Diagnosis: {run.name}" + (f" ({run.description})" if run.description else "")
    parts = [f"<section>\n<h2>{_text(title)}</h2>"]
    if diagnosis is None:
        parts.append("<p>No validation loss was recorded, so overfitting cannot be diagnosed: "
                     "train with validation_data=... to see it.</p>")
    else:
        parts.append(f'<p class="verdict">{_text(diagnosis.verdict)}</p>')
        rows = "".join(f"<tr><th>{_text(name)}</th><td>{_text(value)}</td></tr>"
                       for name, value in diagnosis.summary_rows())
        parts.append(f'<table class="facts">{rows}</table>')
    if run.notes:
        items = "".join(f"<li>{_text(label)}: {_text(value)}</li>" for label, value in run.notes.items())
        parts.append(f"<ul>{items}</ul>")
    parts.append("</section>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------- history files
def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` through a temporary file in the same folder and `os.replace`.

    A crash never leaves a half-written file under `path`. Missing parent folders are created.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "notes" / "a.txt"
        >>> write_text_atomic(target, "hello").read_text()
        'hello'
    """
    path = Path(os.fspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8", newline=""))
    return path


def history_to_json(history: Any, label: str = "", config: Mapping[str, Any] | None = None) -> str:
    """Serialise a history as epochal's history JSON (what ``epochal plot`` reads).

    Args:
        history: The `History` from `fit()` or a dict of per-epoch lists.
        label: Name used as the legend label when plotted. Defaults to "".
        config: Settings of the run (optimizer, epochs, ...), kept for reference. Defaults to None.

    Example:
        >>> json.loads(history_to_json({"loss": [0.5, 0.25]}, "run"))["epoch"]
        [1, 2]
    """
    metrics = as_history_dict(history, "history_to_json()")
    length = max(len(values) for values in metrics.values())
    document = {
        "format": HISTORY_FORMAT,
        "version": 1,
        "label": label,
        "epoch": epoch_numbers(history, length),
        "history": {key: [_json_number(value) for value in values] for key, values in metrics.items()},
        "config": dict(config or {}),
    }
    return json.dumps(document, indent=2) + "\n"


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None  # Strict JSON has no NaN or Infinity.


def history_to_csv(history: Any) -> str:
    """Serialise a history as CSV, as `CSVLogger` writes it: ``epoch`` (from 0), then each metric.

    Example:
        >>> print(history_to_csv({"loss": [0.5, 0.25]}).strip())
        epoch,loss
        0,0.5
        1,0.25
    """
    metrics = as_history_dict(history, "history_to_csv()")
    length = max(len(values) for values in metrics.values())
    numbers = [epoch - 1 for epoch in epoch_numbers(history, length)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", *metrics])
    for row, epoch in enumerate(numbers):
        writer.writerow([epoch, *(_csv_value(values, row) for values in metrics.values())])
    return buffer.getvalue()


def _csv_value(values: list[float], row: int) -> str:
    return repr(values[row]) if row < len(values) else ""


def read_history(path: str | os.PathLike) -> tuple[SimpleNamespace, str]:
    """Read a history file (epochal JSON, a plain JSON dict of lists, or a CSVLogger CSV).

    Returns:
        ``(history, label)``: `history` has ``.history`` (dict of lists) and ``.epoch`` (0-based,
        as `History.epoch`), so `plot_history` and `diagnose` accept it; `label` is the file's
        label, or its name without the suffix.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not a history file; the message says what was expected.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "run.json"
        >>> _ = write_text_atomic(path, history_to_json({"loss": [0.5, 0.25]}, "run"))
        >>> history, label = read_history(path)
        >>> history.history, history.epoch, label
        ({'loss': [0.5, 0.25]}, [0, 1], 'run')
    """
    path = Path(os.fspath(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            f"'{path}' is not a history file: it is binary, not JSON or CSV text. Pass the history.json "
            "or history.csv that `epochal train` or CSVLogger wrote (model files go to `epochal inspect`)."
        ) from None
    if path.suffix.lower() == ".csv":
        metrics, epochs, label = _parse_csv(text, path), None, ""
    else:
        metrics, epochs, label = _parse_json(text, path)
    try:
        metrics = as_history_dict(metrics, f"history file '{path}'")
    except TypeError as error:
        raise ValueError(str(error)) from None
    length = max(len(values) for values in metrics.values())
    if epochs is None or len(epochs) != length:
        epochs = list(range(length))
    return SimpleNamespace(history=metrics, epoch=epochs), label or path.stem


def _parse_json(text: str, path: Path) -> tuple[Any, list[int] | None, str]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"'{path}' is not valid JSON ({error}). Expected a history file.") from None
    if not isinstance(document, dict):
        raise ValueError(_not_a_history(path, type(document).__name__))
    if "history" not in document:
        return document, None, ""
    if not isinstance(document["history"], dict):
        raise ValueError(_not_a_history(path, "a 'history' entry that is not a dict"))
    epochs = document.get("epoch")
    if isinstance(epochs, list) and all(isinstance(epoch, int) for epoch in epochs):
        epochs = [epoch - 1 for epoch in epochs]  # The file counts from 1; History.epoch from 0.
    else:
        epochs = None
    metrics = {key: [math.nan if value is None else value for value in values]
               for key, values in document["history"].items() if isinstance(values, list)}
    return metrics, epochs, str(document.get("label") or "")


def _not_a_history(path: Path, received: str) -> str:
    return (
        f"'{path}' is not a training history: expected a JSON object of per-epoch lists such as "
        f'{{"loss": [...], "val_loss": [...]}} (or epochal\'s history file). Received: {received}.'
    )


def _parse_csv(text: str, path: Path) -> dict[str, list[float]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise ValueError(f"'{path}' has no rows: expected a CSV with a header and one row per epoch.")
    columns = [name for name in rows[0] if name != "epoch"]
    try:
        return {name: [float(row[name]) if row[name] not in ("", None) else math.nan for row in rows]
                for name in columns}
    except ValueError as error:
        raise ValueError(f"'{path}' is not a history CSV: {error}. Every column must hold numbers.") from None
