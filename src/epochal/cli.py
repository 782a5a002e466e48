"""The ``epochal`` command: the seed tutorial, training from flags, plotting and inspecting files.

Commands:

* ``epochal tutorial [--out DIR] [--epochs N] [--quick]``: the whole lesson with figures and report.html.
* ``epochal train [--dataset ...] [--hidden 100] [--dropout 0.3] ...``: one run of the lesson's model,
  writing the model, its history (JSON and CSV), curves and report.html.
* ``epochal plot HISTORY [HISTORY ...] [--out FILE] [--metrics loss val_loss]``: compare saved histories.
* ``epochal inspect FILE``: the summary of any .h5/.keras model file, Keras-made ones included; for a
  weights-only .h5 file, the list of its weight arrays.

Exit codes: 0 success, 1 failure (one line on stderr saying why), 2 bad usage.

Example:
    >>> main(["--version"])  # doctest: +ELLIPSIS
    epochal ...
    0
"""
from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["build_parser", "main"]

PROG = "epochal"
# Errors a user can cause (bad file, missing data, missing optional package): one line, no traceback.
USER_ERRORS = (ValueError, OSError, ImportError)
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
DATASETS = ("fashion_mnist", "mnist")
QUICK_TRAIN_EPOCHS = 3


# ---------------------------------------------------------------------------------- argument types
def _positive_int(text: str) -> int:
    value = _parse(int, text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = _parse(int, text, "a non-negative integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, received {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _parse(float, text, "a positive number")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, received {text!r}")
    return value


def _rate(text: str) -> float:
    value = _parse(float, text, "a rate in [0, 1)")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a rate in [0, 1) such as 0.3, received {text!r}")
    return value


def _parse(kind: type, text: str, expected: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}") from None


def _optimizer_name(text: str) -> str:
    from epochal import optimizers

    try:
        optimizers.get(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


# ---------------------------------------------------------------------------------- the parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``epochal`` command, one sub-command per job.

    Example:
        >>> build_parser().parse_args(["tutorial", "--quick"]).quick
        True
    """
    from epochal import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Keras-compatible training on PyTorch. Watch loss curves, spot overfitting.",
        epilog="Start with: epochal tutorial --quick",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_tutorial(commands)
    _add_train(commands)
    _add_plot(commands)
    _add_inspect(commands)
    for command in commands.choices.values():
        command.set_defaults(subparser=command)
        # SUPPRESS: the sub-command must not reset a --debug given before it.
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show the full traceback on errors")
    return parser


def _add_tutorial(commands: Any) -> None:
    from epochal.tutorial import QUICK_EPOCHS, QUICK_SAMPLES

    command = commands.add_parser(
        "tutorial", help="run the lesson: loss curves, overfitting, dropout, saving, callbacks",
        description="Train on Fashion-MNIST step by step, printing what each step shows, and write every "
                    "figure (PNG, 300 dpi), the model files and a self-contained report.html into --out. "
                    "Uses the full data set if it is on this machine, else the subset built into epochal.")
    command.add_argument("--out", default="epochal-tutorial", metavar="DIR",
                         help="output folder (default: %(default)s)")
    command.add_argument("--epochs", type=_positive_int, metavar="N",
                         help=f"epochs of the long runs (default: 20, the lesson's; {QUICK_EPOCHS} with --quick)")
    command.add_argument("--quick", action="store_true",
                         help=f"the same lesson on the first {QUICK_SAMPLES} images only, so it runs in under a "
                              "minute")
    command.add_argument("--subset", action="store_true",
                         help="use the built-in Fashion-MNIST subset even if the full data set is found")
    _add_threads(command)
    command.set_defaults(handler=_run_tutorial)


def _add_train(commands: Any) -> None:
    from epochal.tutorial import QUICK_SAMPLES

    command = commands.add_parser(
        "train", help="train the lesson's model from flags and write model, history, curves and report",
        description="Train Flatten -> Dense(HIDDEN, relu) -> [Dropout] -> Dense(10, softmax) with 20% of the "
                    "training images held out for validation. Writes model.keras, model.h5, history.json, "
                    "history.csv, loss.png, accuracy.png and report.html into --out.")
    command.add_argument("--dataset", choices=DATASETS, default="fashion_mnist",
                         help="data set (default: %(default)s)")
    command.add_argument("--hidden", type=_positive_int, default=100, metavar="UNITS",
                         help="units of the hidden layer (default: %(default)s)")
    command.add_argument("--dropout", type=_rate, default=0.0, metavar="RATE",
                         help="dropout rate after the hidden layer, 0 for none (default: %(default)s)")
    command.add_argument("--optimizer", type=_optimizer_name, default="rmsprop",
                         help="optimizer name, e.g. rmsprop, adam, sgd (default: %(default)s)")
    command.add_argument("--learning-rate", type=_positive_float, metavar="RATE",
                         help="learning rate (default: the optimizer's own)")
    command.add_argument("--epochs", type=_positive_int, metavar="N",
                         help=f"epochs (default: 20, {QUICK_TRAIN_EPOCHS} with --quick)")
    command.add_argument("--batch-size", type=_positive_int, default=32, metavar="N",
                         help="mini-batch size (default: %(default)s)")
    command.add_argument("--patience", type=_non_negative_int, metavar="N",
                         help="stop early after N epochs without a better val_loss, restoring the best "
                              "weights (default: train every epoch)")
    command.add_argument("--out", default="epochal-run", metavar="DIR", help="output folder (default: %(default)s)")
    command.add_argument("--quick", action="store_true",
                         help=f"{QUICK_SAMPLES} images and {QUICK_TRAIN_EPOCHS} epochs, for a smoke test")
    command.add_argument("--subset", action="store_true",
                         help="fashion_mnist only: use the built-in subset even if the full data set is found")
    command.add_argument("--seed", type=_non_negative_int, default=42, help="random seed (default: %(default)s)")
    _add_threads(command)
    command.set_defaults(handler=_run_train, usage_problem=_train_usage_problem)


def _add_threads(command: argparse.ArgumentParser) -> None:
    command.add_argument("--threads", type=_positive_int, default=1, metavar="N",
                         help="CPU threads for PyTorch (default: %(default)s, fastest for the lesson's small "
                              "model)")


def _use_threads(args: argparse.Namespace) -> None:
    """Apply --threads (default 1).

    The lesson's model is small: its matrix products gain little from several threads, and when other
    programs share the cores, threads waiting for each other make an epoch many times slower. Measured
    on two busy cores, one epoch of `epochal train` on the full data took 3.3 s with one thread and
    67 s with PyTorch's default of two.
    """
    import torch

    torch.set_num_threads(args.threads)


def _add_plot(commands: Any) -> None:
    command = commands.add_parser(
        "plot", help="plot and compare saved histories (JSON or CSV)",
        description="Draw the curves of one or more history files (epochal's history.json, a JSON dump of "
                    "history.history, or a CSVLogger file) on shared axes and print each run's diagnosis.")
    command.add_argument("histories", nargs="+", metavar="HISTORY", help="history files (.json or .csv)")
    command.add_argument("--out", default="curves.png", metavar="FILE",
                         help="image to write; the suffix picks the format (default: %(default)s)")
    command.add_argument("--metrics", nargs="+", metavar="KEY",
                         help="history keys to draw (default: loss, and val_loss when every file has it)")
    command.add_argument("--labels", nargs="+", metavar="LABEL", help="legend label per history file")
    command.add_argument("--title", help="title of the plot")
    command.add_argument("--dpi", type=_positive_int, default=300, help="resolution (default: %(default)s)")
    command.set_defaults(handler=_run_plot, usage_problem=_plot_usage_problem)


def _add_inspect(commands: Any) -> None:
    command = commands.add_parser(
        "inspect", help="print the summary of a .h5 or .keras model file",
        description="Load a model file written by epochal, Keras 3 or tf.keras 2 (without compiling it) "
                    "and print its layers, output shapes and parameter counts. For a weights-only .h5 file "
                    "(save_weights), list its weight arrays and their sizes instead.")
    command.add_argument("file", metavar="FILE", help="a .keras or .h5 model file")
    command.set_defaults(handler=_run_inspect)


# ---------------------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``epochal`` command line and return its exit code.

    Args:
        argv: Arguments without the program name. Defaults to None (``sys.argv[1:]``).

    Returns:
        0 on success, 1 on failure (the reason is printed on stderr in one line), 2 on bad usage.

    Example:
        >>> main(["train", "--epochs", "0"])  # argparse prints the usage and the reason on stderr
        2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _check_usage(parser, args)
    except SystemExit as exit_request:  # argparse: --help, --version (0) or a usage error (2).
        return _exit_code(exit_request)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as error:
        if args.debug:
            traceback.print_exc()
        print(f"{PROG} {args.command}: error: {_one_line(error, args.debug)}", file=sys.stderr)
        return EXIT_FAILURE


def _check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit with code 2 for what argparse cannot check alone: no command, or conflicting flags."""
    if args.command is None:
        parser.print_help(sys.stderr)
        raise SystemExit(EXIT_USAGE)
    problem = getattr(args, "usage_problem", lambda _args: None)(args)
    if problem:
        args.subparser.error(problem)


def _exit_code(exit_request: SystemExit) -> int:
    code = exit_request.code
    if code is None:
        return EXIT_OK
    return code if isinstance(code, int) else EXIT_FAILURE


def _one_line(error: BaseException, debug: bool) -> str:
    """The error's first line; longer messages end with a pointer to --debug for the rest."""
    lines = [line for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
    if len(lines) > 1 and not debug:
        return f"{lines[0]} (run with --debug for details)"
    return lines[0]


def _output_folder(text: str) -> Path:
    """Create the --out folder before any training, or say in one line why it cannot be used.

    Checked first so a bad --out fails in a second, not after minutes of training, and with a
    message naming the flag instead of a bare ``[Errno 17] File exists``.
    """
    folder = Path(text)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--out '{folder}' is a file, not a folder. "
                                 "Choose another --out, or move that file away.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"Cannot create the output folder --out '{folder}': {error.strerror or error}. "
                      "Choose a folder you can write to.") from error
    return folder


def _fit_verbosity() -> int:
    # Live tqdm bars on a terminal; one line per epoch in logs and pipes, where bars would be noise.
    return 1 if sys.stdout.isatty() else 2


# ---------------------------------------------------------------------------------- tutorial
def _run_tutorial(args: argparse.Namespace) -> int:
    from epochal import tutorial

    _use_threads(args)
    _output_folder(args.out)
    settings = tutorial.TutorialSettings.create(args.out, epochs=args.epochs, quick=args.quick,
                                                force_subset=args.subset, verbose=_fit_verbosity())
    result = tutorial.run_tutorial(settings, print_fn=lambda line: print(line, flush=True))
    print(f"\nDone: {len(result.files)} files in {result.out_dir}. Open {result.out_dir / tutorial.REPORT_NAME}")
    return EXIT_OK


# ---------------------------------------------------------------------------------- train
def _load_training_data(args: argparse.Namespace) -> tuple[Any, Any, str]:
    from epochal import tutorial

    if args.dataset == "fashion_mnist":
        (images, labels), note = tutorial.load_fashion_mnist(force_subset=args.subset)
    else:
        from epochal.datasets import mnist

        (images, labels), _test = mnist.load_data()
        note = f"MNIST: {len(images)} training images."
    if args.quick and len(images) > tutorial.QUICK_SAMPLES:
        images, labels = images[:tutorial.QUICK_SAMPLES], labels[:tutorial.QUICK_SAMPLES]
        note += f" --quick: the first {tutorial.QUICK_SAMPLES} images."
    return images, labels, note


def _training_config(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "dataset": args.dataset, "hidden": args.hidden, "dropout": args.dropout, "optimizer": args.optimizer,
        "learning_rate": args.learning_rate, "epochs": args.epochs, "batch_size": args.batch_size,
        "patience": args.patience, "seed": args.seed, "validation_size": 0.2,
    }


def _build_model(args: argparse.Namespace):
    import epochal as keras
    from epochal import optimizers, tutorial

    keras.utils.set_random_seed(args.seed)
    extra = keras.layers.Dropout(args.dropout) if args.dropout > 0 else None
    model = tutorial.model_create(extra, hidden_units=args.hidden)
    optimizer = optimizers.get(args.optimizer)
    if args.learning_rate is not None:
        optimizer.learning_rate = args.learning_rate
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _train_usage_problem(args: argparse.Namespace) -> str | None:
    if args.subset and args.dataset != "fashion_mnist":
        return (f"--subset exists only for fashion_mnist (epochal ships no {args.dataset} subset); "
                "drop --subset or use --dataset fashion_mnist")
    return None


def _run_train(args: argparse.Namespace) -> int:
    import epochal as keras
    from epochal import tutorial

    if args.epochs is None:
        args.epochs = QUICK_TRAIN_EPOCHS if args.quick else 20
    _use_threads(args)
    out = _output_folder(args.out)
    images, labels, note = _load_training_data(args)
    print(note)
    x_train, x_val, y_train, y_val = tutorial.train_validation_split(
        (images / 255.0).astype("float32"), labels, validation_size=0.2, seed=42)
    model = _build_model(args)
    callbacks = []
    if args.patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(patience=args.patience, restore_best_weights=True))
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                        validation_data=(x_val, y_val), callbacks=callbacks, verbose=_fit_verbosity())
    files = _write_training_outputs(args, out, model, history, note, callbacks)
    diagnosis = history.diagnose(patience=args.patience if args.patience is not None else 2)
    print(diagnosis)
    for path in files:
        print(f"  wrote {path}")
    return EXIT_OK


def _write_training_outputs(args: argparse.Namespace, out: Path, model: Any, history: Any, note: str,
                            callbacks: list) -> list[Path]:
    import matplotlib.pyplot as pyplot

    from epochal import report
    from epochal.plotting import plot_history

    config = _training_config(args)
    label = out.name or "run"
    files = []
    for name in ("model.keras", "model.h5"):
        model.save(str(out / name))
        files.append(out / name)
    files.append(report.write_text_atomic(out / "history.json", report.history_to_json(history, label, config)))
    files.append(report.write_text_atomic(out / "history.csv", report.history_to_csv(history)))
    figures = []
    for metric, name in (("loss", "loss.png"), ("accuracy", "accuracy.png")):
        figure = plot_history(history, metrics=metric, path=out / name, title=f"{metric} ({label})")
        pyplot.close(figure)
        files.append(out / name)
        figures.append((out / name, f"Training and validation {metric}"))
    notes = {}
    if callbacks:
        notes["EarlyStopping stopped_epoch"] = str(callbacks[0].stopped_epoch)
    setup = "\n".join(f"{key}: {value}" for key, value in config.items())
    sections = [report.Section("Setup", [note], setup, figures)]
    run = report.RunSummary(label, history, _describe(args), notes)
    files.append(report.write_report(out / "report.html", f"epochal train: {label}", sections, [run],
                                     patience=args.patience if args.patience is not None else 2))
    return files


def _describe(args: argparse.Namespace) -> str:
    parts = [args.optimizer, f"Dense({args.hidden})"]
    if args.dropout:
        parts.append(f"Dropout({args.dropout})")
    if args.patience is not None:
        parts.append(f"EarlyStopping(patience={args.patience})")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------- plot
def _run_plot(args: argparse.Namespace) -> int:
    import matplotlib.pyplot as pyplot

    from epochal.plotting import plot_history
    from epochal.report import read_history

    loaded = [read_history(_existing_file(path, "history file")) for path in args.histories]
    histories = [history for history, _label in loaded]
    labels = args.labels or _distinct_labels([label for _history, label in loaded], args.histories)
    metrics: Any = args.metrics if args.metrics else "loss"
    figure = plot_history(histories, metrics=metrics, path=args.out, dpi=args.dpi,
                          labels=labels if len(histories) > 1 else labels[0], title=args.title)
    pyplot.close(figure)
    print(f"wrote {args.out}")
    for history, label in zip(histories, labels):
        if "val_loss" in history.history and "loss" in history.history:
            from epochal.diagnosis import diagnose

            print(f"{label}: {diagnose(history).verdict}")
    return EXIT_OK


def _plot_usage_problem(args: argparse.Namespace) -> str | None:
    if args.labels is not None and len(args.labels) != len(args.histories):
        return (f"--labels needs one label per history file: {len(args.histories)} files but "
                f"{len(args.labels)} labels")
    return None


def _existing_file(path: str, kind: str) -> Path:
    """`path` as a Path, or a FileNotFoundError that says which file is missing and what it should be."""
    file = Path(path)
    if not file.is_file():
        what = "is a folder" if file.is_dir() else "does not exist"
        raise FileNotFoundError(f"No such {kind}: '{file}' {what}.")
    return file


def _distinct_labels(labels: list[str], paths: list[str]) -> list[str]:
    """The files' own labels, or their paths when two files share a label."""
    if len(set(labels)) == len(labels):
        return labels
    return [str(Path(path).with_suffix("")) for path in paths]


# ---------------------------------------------------------------------------------- inspect
def _run_inspect(args: argparse.Namespace) -> int:
    from epochal.models import load_model

    path = _existing_file(args.file, "model file")
    weights = _weights_only_arrays(path)
    if weights is not None:
        _print_weights(path, weights)
        return EXIT_OK
    model = load_model(str(path), compile=False)
    print(f"{path} ({_file_kind(path)})")
    model.summary()
    return EXIT_OK


def _weights_only_arrays(path: Path) -> list[tuple[str, tuple[int, ...]]] | None:
    """The arrays of an HDF5 file that holds weights but no model config, or None for anything else.

    Such files (``save_weights``; Keras 3 ``.weights.h5``, tf.keras 2 ``_weights.h5``) cannot be loaded
    as a model, but listing their arrays still tells the user what they hold.
    """
    import h5py

    if path.suffix.lower() not in (".h5", ".hdf5") or not h5py.is_hdf5(path):
        return None
    arrays: list[tuple[str, tuple[int, ...]]] = []
    with h5py.File(path, "r") as file:
        if "model_config" in file.attrs:
            return None
        file.visititems(lambda name, item: arrays.append((name, item.shape))
                        if isinstance(item, h5py.Dataset) else None)
    return arrays or None


def _print_weights(path: Path, arrays: list[tuple[str, tuple[int, ...]]]) -> None:
    import math

    # Keras 3 keeps the optimizer's slots under "optimizer/"; they are not model parameters.
    model = [(name, shape) for name, shape in arrays if not name.startswith("optimizer/")]
    optimizer = len(arrays) - len(model)
    print(f"{path} (weights only: no model config; build the model in code, then call "
          f"model.load_weights('{path}'))")
    width = max(len(name) for name, _shape in model) if model else 0
    print(f"{'Array':<{width}}  {'Shape':<14}  {'Param #':>9}")
    for name, shape in model:
        print(f"{name:<{width}}  {str(shape):<14}  {math.prod(shape):>9,}")
    total = sum(math.prod(shape) for _name, shape in model)
    extra = f" (+ {optimizer} optimizer arrays)" if optimizer else ""
    print(f"Total: {total:,} parameters in {len(model)} arrays{extra}")


def _file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".keras":
        return "Keras 3 zip archive"
    if suffix in (".h5", ".hdf5"):
        return "HDF5 model file"
    return "model file"
