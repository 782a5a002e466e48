"""`model.summary()`: Keras's table of layers, output shapes and parameter counts."""
from __future__ import annotations

from typing import Callable, Optional


def _format_bytes(count: int) -> str:
    size = count * 4.0  # float32
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def summary_lines(model, line_length: Optional[int] = None, show_trainable: bool = False) -> list[str]:
    """The lines of the summary table (see `Model.summary`)."""
    rows = [(f"{layer.name} ({type(layer).__name__})", _shape_text(model.layer_output_shape(layer)),
             f"{layer.count_params():,}") + ((("Y" if layer.trainable else "N"),) if show_trainable else ())
            for layer in model.layers]
    headers = ("Layer (type)", "Output Shape", "Param #") + (("Trainable",) if show_trainable else ())
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) + 2 for i in range(len(headers))] if rows \
        else [len(h) + 2 for h in headers]
    if line_length:
        widths[0] = max(widths[0], line_length - sum(widths[1:]) - len(widths) - 1)

    def line(cells, align_right_last=True):
        parts = [f" {cells[0]:<{widths[0] - 1}}", f" {cells[1]:<{widths[1] - 1}}",
                 f"{cells[2]:>{widths[2] - 1}} "] + [f" {c:^{w - 1}}" for c, w in zip(cells[3:], widths[3:])]
        return "│" + "│".join(parts) + "│"

    def rule(left, middle, right, fill="─"):
        return left + middle.join(fill * w for w in widths) + right

    trainable = sum(p.numel() for p in model.trainable_weights)
    total = model.count_params()
    lines = [f'Model: "{model.name}"', rule("┌", "┬", "┐"), line(headers), rule("├", "┼", "┤")]
    lines += [line(row) for row in rows]
    lines += [rule("└", "┴", "┘"),
              f" Total params: {total:,} ({_format_bytes(total)})",
              f" Trainable params: {trainable:,} ({_format_bytes(trainable)})",
              f" Non-trainable params: {total - trainable:,} ({_format_bytes(total - trainable)})"]
    optimizer_params = model.optimizer_parameter_count()
    if optimizer_params:
        lines.append(f" Optimizer params: {optimizer_params:,} ({_format_bytes(optimizer_params)})")
    return lines


def print_summary(model, line_length: Optional[int] = None, print_fn: Optional[Callable] = None,
                  show_trainable: bool = False) -> None:
    for text in summary_lines(model, line_length, show_trainable):
        (print_fn or print)(text)
