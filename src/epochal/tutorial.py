"""The seed lesson as a program: train a network, watch its loss curves, fight overfitting.

``epochal tutorial`` runs it. Each step prints what it does and why, following a Korean study note
on training neural networks (section headings quoted), then runs the code with epochal:

1. load Fashion-MNIST, scale by 1/255, hold out 20% for validation;
2. ``model_create()``; 5 epochs with rmsprop: the loss curve;
3. 20 epochs: loss keeps falling, accuracy keeps rising;
4. 20 epochs with validation data: validation loss stops falling and rises (overfitting);
5. the same with adam;
6. ``Dropout(0.3)`` after the hidden layer;
7. ``save_weights``/``load_weights`` and ``save``/``load_model`` give the same accuracy;
8. ``ModelCheckpoint('best-model.h5')`` keeps the best model;
9. ``EarlyStopping(patience=2, restore_best_weights=True)`` and its ``stopped_epoch``.

Every figure (PNG, 300 dpi), the model files, one history JSON per run and a self-contained
``report.html`` go into the output folder.

Example:
    >>> model = model_create()
    >>> [type(layer).__name__ for layer in model.layers]
    ['Flatten', 'Dense', 'Dense']
"""
from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "QUICK_SAMPLES",
    "TutorialResult",
    "TutorialSettings",
    "load_fashion_mnist",
    "model_create",
    "run_tutorial",
    "train_validation_split",
]

# --quick: enough images and epochs that every step shows its effect, few enough to finish in
# well under a minute on two CPU cores.
QUICK_SAMPLES = 3000
QUICK_EPOCHS = 20
QUICK_SHORT_RUN_EPOCHS = 5
SHORT_RUN_EPOCHS = 5  # The note's first run.
SEED = 42
REPORT_NAME = "report.html"


# ---------------------------------------------------------------------------------- the lesson's code
def train_validation_split(
    x: np.ndarray, y: np.ndarray, validation_size: float = 0.2, seed: int = 42
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out a random `validation_size` share of the samples, as scikit-learn's train_test_split.

    Gives exactly ``train_test_split(x, y, test_size=validation_size, random_state=seed)``: a
    permutation from ``numpy.random.RandomState(seed)``, whose first ``ceil(n * validation_size)``
    indices are the validation set and the rest the training set.

    Args:
        x: Samples, first axis indexing them.
        y: Targets, as many as `x`.
        validation_size: Share of samples held out, strictly between 0 and 1. Defaults to 0.2.
        seed: Seed of the permutation. Defaults to 42.

    Returns:
        ``(x_train, x_val, y_train, y_val)``, in train_test_split's order.

    Raises:
        ValueError: If the sizes do not match or `validation_size` is out of range.

    Example:
        >>> x_train, x_val, y_train, y_val = train_validation_split(np.arange(10), np.arange(10))
        >>> len(x_train), len(x_val), sorted(np.concatenate([x_train, x_val]).tolist()) == list(range(10))
        (8, 2, True)
    """
    if len(x) != len(y):
        raise ValueError(f"train_validation_split() needs as many targets as samples. "
                         f"Received: {len(x)} samples and {len(y)} targets.")
    if not 0.0 < validation_size < 1.0:
        raise ValueError(f"train_validation_split() expected `validation_size` between 0 and 1 (exclusive), "
                         f"such as 0.2. Received: validation_size={validation_size!r}.")
    count = len(x)
    validation_count = math.ceil(validation_size * count)
    if validation_count == 0 or validation_count == count:
        raise ValueError(f"train_validation_split() cannot split {count} samples with "
                         f"validation_size={validation_size}: one side would be empty.")
    order = np.random.RandomState(seed).permutation(count)
    validation, train = order[:validation_count], order[validation_count:]
    return x[train], x[validation], y[train], y[validation]


def model_create(a_layer: Any = None, hidden_units: int = 100):
    """The note's model: Flatten(28, 28) -> Dense(100, relu) -> [a_layer] -> Dense(10, softmax).

    Args:
        a_layer: An extra layer after the hidden one, e.g. ``keras.layers.Dropout(0.3)``.
            Defaults to None (no extra layer).
        hidden_units: Units of the hidden Dense layer. Defaults to 100.

    Returns:
        An uncompiled `Sequential` model.

    Example:
        >>> import epochal as keras
        >>> model = model_create(keras.layers.Dropout(0.3))
        >>> [type(layer).__name__ for layer in model.layers]
        ['Flatten', 'Dense', 'Dropout', 'Dense']
    """
    import epochal as keras

    model = keras.Sequential()
    model.add(keras.layers.Flatten(input_shape=(28, 28)))
    model.add(keras.layers.Dense(hidden_units, activation="relu"))
    if a_layer is not None:
        model.add(a_layer)
    # Ten classes, so softmax turns the outputs into class probabilities.
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model


def load_fashion_mnist(force_subset: bool = False) -> tuple[tuple[np.ndarray, np.ndarray], str]:
    """Fashion-MNIST's training images and labels: the full set when on this machine, else the subset.

    Never downloads. The note says which data was used, in one line.

    Args:
        force_subset: Use the subset shipped with epochal even when the full set is found.
            Defaults to False.

    Returns:
        ``((x_train, y_train), note)`` with uint8 images (n, 28, 28) and labels (n,).

    Example:
        >>> (images, labels), note = load_fashion_mnist(force_subset=True)
        >>> images.shape[1:], note.startswith("Fashion-MNIST")
        ((28, 28), True)
    """
    from epochal.datasets import fashion_mnist

    if force_subset:
        (train, _test) = fashion_mnist.load_subset()
        return train, f"Fashion-MNIST: built-in subset ({len(train[0])} training images), as asked."
    (train, _test), note = fashion_mnist.load_data_or_subset()
    return train, note


# ---------------------------------------------------------------------------------- step texts
@dataclasses.dataclass(frozen=True)
class Step:
    """One step of the lesson: the note's heading (Korean), an English title and explanation.

    The title may hold ``{epochs}`` and ``{short_epochs}``, filled in with the run's settings.
    """

    heading: str
    title: str
    text: str


STEPS: dict[str, Step] = {
    "data": Step(
        "신경망 모델 훈련", "Training a neural network: the data",
        "A neural network optimises its loss function, not its accuracy, so the loss is what we watch. "
        "Unlike scikit-learn, whose models come with a fixed structure, Keras has us build the model "
        "ourselves. First the data: Fashion-MNIST images (28x28 grey pictures of clothing, 10 classes). "
        "Pixels are scaled to 0-1 with train_input / 255.0, and 20% of the training images are held out "
        "as a validation set: train_test_split(train_scaled, train_target, test_size=0.2, random_state=42).",
    ),
    "loss_curve": Step(
        "손실 곡선", "The loss curve: {short_epochs} epochs with rmsprop",
        "model_create(a_layer=None) builds Flatten(input_shape=(28, 28)) -> Dense(100, relu) -> [a_layer] -> "
        "Dense(10, softmax); softmax because this is multi-class classification. "
        "model.compile(loss='sparse_categorical_crossentropy', metrics='accuracy') keeps Keras's default "
        "optimizer, rmsprop. fit(train_scaled, train_target, epochs=5) returns a History object: "
        "history.history holds each metric per epoch ('loss', 'accuracy'), and plotting it gives the loss curve.",
    ),
    "longer": Step(
        "손실 곡선", "More epochs: loss and accuracy over {epochs} epochs",
        "With more epochs the training loss keeps falling and the accuracy keeps rising, so the model seems "
        "to get better. But training repeats over the same data, so the model may overfit (or underfit): "
        "the training curves alone cannot tell.",
    ),
    "validation": Step(
        "손실 곡선", "Validation loss: {epochs} epochs with validation_data",
        "To see overfitting we need the score on a validation set, not only on the training set. "
        "fit(..., validation_data=(val_scaled, val_target)) also records 'val_loss' and 'val_accuracy'. "
        "The training loss keeps falling towards 0, while the validation loss falls, then its decrease "
        "slows down and it starts to rise: from there the model overfits the training set.",
    ),
    "adam": Step(
        "손실 곡선", "Changing the optimizer to adam",
        "Same model, compiled with optimizer='adam': model.compile(loss='sparse_categorical_crossentropy', "
        "metrics='accuracy', optimizer='adam'), then 20 epochs with validation data. Compare its curves "
        "with rmsprop's.",
    ),
    "dropout": Step(
        "과적합 감소를 위한 드롭아웃", "Dropout against overfitting",
        "During training, dropout switches off some neurons of a layer at random (their output becomes 0). "
        "The model can no longer rely too much on particular neurons and must pay attention to all its "
        "inputs. model_create(keras.layers.Dropout(0.3)) adds dropout after the hidden layer: it receives "
        "the 100 outputs and sets 30% of them to 0 (only while training; evaluate and predict use all of "
        "them). The result should be less overfitting: compare the gap between the curves.",
    ),
    "saving": Step(
        "모델 저장과 복원", "Saving and restoring the model",
        "save_weights('model-weight.h5') stores the trained parameters only; save('model-whole.h5') stores "
        "the structure and the parameters. A new model_create(keras.layers.Dropout(0.3)) followed by "
        "load_weights('model-weight.h5') gets the saved parameters; keras.models.load_model('model-whole.h5') "
        "rebuilds the whole model from the file. Both use the parameters of the same trained model, so "
        "their validation accuracies are identical.",
    ),
    "checkpoint": Step(
        "콜백", "Callbacks: ModelCheckpoint keeps the best model",
        "A callback is an object that fit() calls during training. "
        "ModelCheckpoint('best-model.h5', save_best_only=True) saves the model at the end of every epoch "
        "whose validation loss is the best so far, so after fit() the file holds the best model of the run.",
    ),
    "early_stopping": Step(
        "조기종료 콜백", "Early stopping",
        "EarlyStopping(patience=2, restore_best_weights=True) stops training once the validation loss has "
        "not improved for `patience` (2) epochs in a row; restore_best_weights=True puts back the parameters "
        "of the epoch with the lowest validation loss. Both callbacks go to fit(callbacks=[checkpoint_cb, "
        "early_stopping_cb]); early_stopping_cb.stopped_epoch tells when training stopped (counted from 0, "
        "as Keras does).",
    ),
}


# ---------------------------------------------------------------------------------- settings and result
@dataclasses.dataclass(frozen=True)
class TutorialSettings:
    """How much work the tutorial does and where it writes.

    Attributes:
        out_dir: Folder for every file the tutorial writes.
        epochs: Epochs of the long runs (the note uses 20).
        short_epochs: Epochs of the first run (the note uses 5).
        sample_limit: Training images used before the validation split; None for all.
        force_subset: Use the built-in Fashion-MNIST subset even if the full set is found.
        batch_size: Mini-batch size (Keras's default, 32).
        patience: EarlyStopping's patience (the note uses 2).
        verbose: fit()'s verbose: 1 progress bars, 2 one line per epoch, 0 silent.
        dpi: Resolution of the PNG figures.
    """

    out_dir: Path
    epochs: int = 20
    short_epochs: int = SHORT_RUN_EPOCHS
    sample_limit: int | None = None
    force_subset: bool = False
    batch_size: int = 32
    patience: int = 2
    verbose: int = 2
    dpi: int = 300

    @classmethod
    def create(cls, out_dir: str | os.PathLike = "epochal-tutorial", epochs: int | None = None,
               quick: bool = False, force_subset: bool = False, verbose: int | None = None) -> TutorialSettings:
        """Settings for the command line: `quick` shrinks the data and the epochs."""
        if epochs is None:
            epochs = QUICK_EPOCHS if quick else 20
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"The tutorial needs `epochs` to be a positive integer such as 20. "
                             f"Received: epochs={epochs!r}.")
        if verbose is None:
            verbose = 1 if sys.stdout.isatty() else 2
        short_epochs = min(QUICK_SHORT_RUN_EPOCHS if quick else SHORT_RUN_EPOCHS, epochs)
        return cls(Path(out_dir), epochs=epochs, short_epochs=short_epochs,
                   sample_limit=QUICK_SAMPLES if quick else None, force_subset=force_subset, verbose=verbose)


@dataclasses.dataclass
class TutorialResult:
    """What the tutorial produced.

    Attributes:
        out_dir: The output folder.
        files: Every file written, in order.
        histories: Each run's per-epoch metrics, by run name.
        data_note: Which data was used, in one line.
        restored_accuracy: Validation accuracy of the trained model and of its restored copies.
        stopped_epoch: EarlyStopping's `stopped_epoch` (0 when it did not stop).
        checkpoint_val_loss: Validation loss of the model loaded back from best-model.h5.
    """

    out_dir: Path
    files: list[Path] = dataclasses.field(default_factory=list)
    histories: dict[str, dict[str, list[float]]] = dataclasses.field(default_factory=dict)
    data_note: str = ""
    restored_accuracy: dict[str, float] = dataclasses.field(default_factory=dict)
    stopped_epoch: int = 0
    checkpoint_val_loss: float = math.nan


@dataclasses.dataclass
class _Data:
    train_scaled: np.ndarray
    train_target: np.ndarray
    val_scaled: np.ndarray
    val_target: np.ndarray


# ---------------------------------------------------------------------------------- the runner
class _Lesson:
    """Runs the steps in order, keeping the figures, runs and report sections they produce."""

    def __init__(self, settings: TutorialSettings, print_fn: Callable[[str], None]):
        from epochal import report

        self.settings = settings
        self.print = print_fn
        self.result = TutorialResult(out_dir=settings.out_dir)
        self.sections: list[report.Section] = []
        self.runs: list[report.RunSummary] = []
        self.histories: dict[str, Any] = {}
        self.data: _Data | None = None
        self.step_count = 0
        self._output: list[str] = []

    # ------------------------------------------------------------------ bookkeeping
    def title(self, key: str) -> str:
        """The step's title with this run's epoch counts (the note's are 5 and 20)."""
        return STEPS[key].title.format(epochs=self.settings.epochs, short_epochs=self.settings.short_epochs)

    def begin(self, key: str) -> None:
        step = STEPS[key]
        self.step_count += 1
        self._output = []
        self.print("")
        self.print(f"== Step {self.step_count}/{len(STEPS)}: {self.title(key)} (「{step.heading}」) ==")
        for line in textwrap.wrap(step.text, width=100):
            self.print(line)
        self.print("")

    def say(self, line: str) -> None:
        """Print a result line and keep it for the report."""
        self.print(line)
        self._output.append(line)

    def end(self, key: str, figures: list[tuple[Path, str]] = ()) -> None:
        from epochal import report

        step = STEPS[key]
        self.sections.append(report.Section(
            f"{self.step_count}. {self.title(key)} ({step.heading})", [step.text], "\n".join(self._output), figures))

    def wrote(self, path: Path) -> Path:
        self.result.files.append(path)
        self.print(f"  wrote {path}")
        return path

    def path(self, name: str) -> Path:
        return self.settings.out_dir / name

    def figure(self, history: Any, name: str, caption: str, **kwargs: Any) -> tuple[Path, str]:
        import matplotlib.pyplot as pyplot

        from epochal.plotting import plot_history

        figure = plot_history(history, path=self.path(name), dpi=self.settings.dpi, **kwargs)
        pyplot.close(figure)  # Figures are only written to files; keep memory flat.
        return self.wrote(self.path(name)), caption

    def record(self, name: str, history: Any, description: str, **notes: str) -> None:
        from epochal import report

        self.histories[name] = history
        self.result.histories[name] = {key: list(values) for key, values in history.history.items()}
        self.runs.append(report.RunSummary(name, history, description, notes))
        config = {"description": description, "epochs": len(history.epoch), "batch_size": self.settings.batch_size}
        self.wrote(report.write_text_atomic(self.path(f"histories/{name}.json"),
                                            report.history_to_json(history, name, config)))

    # ------------------------------------------------------------------ training helpers
    def compiled_model(self, optimizer: str = "rmsprop", dropout: float | None = None):
        import epochal as keras

        # The same seed before every model: runs differ only by what the step changes.
        keras.utils.set_random_seed(SEED)
        model = model_create(keras.layers.Dropout(dropout) if dropout else None)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, model, epochs: int, validation: bool = True, callbacks: list | None = None):
        data = self.data
        validation_data = (data.val_scaled, data.val_target) if validation else None
        return model.fit(data.train_scaled, data.train_target, epochs=epochs, batch_size=self.settings.batch_size,
                         verbose=self.settings.verbose, validation_data=validation_data, callbacks=callbacks)

    def validation_accuracy(self, model) -> float:
        """Accuracy of argmax predictions on the validation set (works on uncompiled models)."""
        predictions = model.predict(self.data.val_scaled, verbose=0)
        return float(np.mean(np.argmax(predictions, axis=-1) == self.data.val_target))

    def evaluate(self, model) -> tuple[float, float]:
        loss, accuracy = model.evaluate(self.data.val_scaled, self.data.val_target, verbose=0)
        return float(loss), float(accuracy)

    def describe_diagnosis(self, name: str) -> None:
        diagnosis = self.histories[name].diagnose(patience=self.settings.patience)
        # Wrapped like the step texts: a verdict is a few sentences long.
        for line in textwrap.wrap(f"Diagnosis of '{name}': {diagnosis.verdict}", width=100,
                                  subsequent_indent="  "):
            self.say(line)


# ---------------------------------------------------------------------------------- the steps
def _step_data(lesson: _Lesson) -> None:
    lesson.begin("data")
    (train_input, train_target), note = load_fashion_mnist(lesson.settings.force_subset)
    lesson.result.data_note = note
    lesson.say(note)
    limit = lesson.settings.sample_limit
    if limit is not None and limit < len(train_input):
        train_input, train_target = train_input[:limit], train_target[:limit]
        lesson.say(f"--quick: using the first {limit} training images.")
    train_scaled = train_input / 255.0
    train_scaled, val_scaled, train_target, val_target = train_validation_split(
        train_scaled, train_target, validation_size=0.2, seed=SEED)
    lesson.data = _Data(train_scaled.astype("float32"), train_target, val_scaled.astype("float32"), val_target)
    lesson.say(f"train_scaled {train_scaled.shape}, val_scaled {val_scaled.shape}; "
               f"pixel values in [{train_scaled.min():.1f}, {train_scaled.max():.1f}].")
    lesson.end("data")


def _step_loss_curve(lesson: _Lesson) -> None:
    lesson.begin("loss_curve")
    model = lesson.compiled_model("rmsprop")
    epochs = lesson.settings.short_epochs
    history = lesson.fit(model, epochs, validation=False)
    lesson.say(f"history.history.keys(): {list(history.history.keys())}")
    lesson.say(f"loss per epoch: {_rounded(history.history['loss'])}")
    lesson.record(f"rmsprop-{epochs}-epochs", history, f"rmsprop, {epochs} epochs, no validation")
    figure = lesson.figure(history, "01-loss.png", f"Training loss, {epochs} epochs, rmsprop",
                           metrics="loss", title=f"Loss, {epochs} epochs (rmsprop)")
    lesson.end("loss_curve", [figure])


def _step_longer(lesson: _Lesson) -> None:
    lesson.begin("longer")
    model = lesson.compiled_model("rmsprop")
    epochs = lesson.settings.epochs
    history = lesson.fit(model, epochs, validation=False)
    lesson.say(f"loss: {history.history['loss'][0]:.4f} -> {history.history['loss'][-1]:.4f}; "
               f"accuracy: {history.history['accuracy'][0]:.4f} -> {history.history['accuracy'][-1]:.4f}")
    lesson.record(f"rmsprop-{epochs}-epochs", history, f"rmsprop, {epochs} epochs, no validation")
    figure = lesson.figure(history, "02-loss-accuracy.png", f"Training loss and accuracy, {epochs} epochs",
                           metrics=("loss", "accuracy"), title=f"Loss and accuracy, {epochs} epochs (rmsprop)")
    lesson.end("longer", [figure])


def _step_validation(lesson: _Lesson) -> None:
    lesson.begin("validation")
    history = lesson.fit(lesson.compiled_model("rmsprop"), lesson.settings.epochs)
    lesson.record("rmsprop", history, "rmsprop, with validation data")
    lesson.describe_diagnosis("rmsprop")
    figure = lesson.figure(history, "03-train-val-loss-rmsprop.png", "Training vs validation loss, rmsprop",
                           title="Training and validation loss (rmsprop)")
    lesson.end("validation", [figure])


def _step_adam(lesson: _Lesson) -> None:
    lesson.begin("adam")
    history = lesson.fit(lesson.compiled_model("adam"), lesson.settings.epochs)
    lesson.record("adam", history, "adam, with validation data")
    lesson.describe_diagnosis("adam")
    figures = [
        lesson.figure(history, "04-train-val-loss-adam.png", "Training vs validation loss, adam",
                      title="Training and validation loss (adam)"),
        lesson.figure([lesson.histories["rmsprop"], history], "05-rmsprop-vs-adam.png",
                      "rmsprop vs adam", labels=["rmsprop", "adam"], title="rmsprop vs adam"),
    ]
    lesson.end("adam", figures)


def _step_dropout(lesson: _Lesson) -> Any:
    lesson.begin("dropout")
    model = lesson.compiled_model("adam", dropout=0.3)
    history = lesson.fit(model, lesson.settings.epochs)
    lesson.record("adam-dropout", history, "adam, Dropout(0.3)")
    lesson.describe_diagnosis("adam-dropout")
    gaps = {name: lesson.histories[name].diagnose().final_gap for name in ("adam", "adam-dropout")}
    lesson.say(f"Final gap val_loss - loss: without dropout {gaps['adam']:+.4f}, "
               f"with Dropout(0.3) {gaps['adam-dropout']:+.4f}.")
    figures = [
        lesson.figure(history, "06-train-val-loss-dropout.png", "Training vs validation loss, Dropout(0.3)",
                      title="Training and validation loss (adam, Dropout(0.3))"),
        lesson.figure([lesson.histories["adam"], history], "07-dropout-vs-none.png", "adam with and without dropout",
                      labels=["adam", "adam+Dropout(0.3)"], title="Without vs with Dropout(0.3)"),
    ]
    lesson.end("dropout", figures)
    return model


def _step_saving(lesson: _Lesson, trained) -> None:
    import epochal as keras

    lesson.begin("saving")
    weights_path, whole_path = lesson.path("model-weight.h5"), lesson.path("model-whole.h5")
    trained.save_weights(str(weights_path))
    lesson.wrote(weights_path)
    trained.save(str(whole_path))
    lesson.wrote(whole_path)

    restored = model_create(keras.layers.Dropout(0.3))
    restored.load_weights(str(weights_path))
    loaded = keras.models.load_model(str(whole_path))
    accuracy = {
        "trained model": lesson.validation_accuracy(trained),
        "load_weights('model-weight.h5')": lesson.validation_accuracy(restored),
        "load_model('model-whole.h5')": lesson.validation_accuracy(loaded),
        "load_model(...).evaluate()": lesson.evaluate(loaded)[1],
    }
    lesson.result.restored_accuracy = accuracy
    for name, value in accuracy.items():
        lesson.say(f"validation accuracy, {name}: {value:.4f}")
    same = len({round(value, 6) for value in accuracy.values()}) == 1
    lesson.say("Same accuracy: yes." if same else "Accuracies differ: the restored models do not match!")
    lesson.end("saving")


def _step_checkpoint(lesson: _Lesson) -> None:
    import epochal as keras

    lesson.begin("checkpoint")
    checkpoint_path = lesson.path("best-model.h5")
    model = lesson.compiled_model("adam", dropout=0.3)
    checkpoint_cb = keras.callbacks.ModelCheckpoint(str(checkpoint_path), save_best_only=True)
    history = lesson.fit(model, lesson.settings.epochs, callbacks=[checkpoint_cb])
    lesson.wrote(checkpoint_path)
    lesson.record("checkpoint", history, "adam, Dropout(0.3), ModelCheckpoint")
    diagnosis = history.diagnose(patience=lesson.settings.patience)
    best = keras.models.load_model(str(checkpoint_path))
    loss, accuracy = lesson.evaluate(best)
    lesson.result.checkpoint_val_loss = loss
    lesson.say(f"Lowest val_loss in the history: {diagnosis.best_val_loss:.4f} at epoch {diagnosis.best_epoch}.")
    lesson.say(f"load_model('best-model.h5').evaluate(): val_loss {loss:.4f}, val_accuracy {accuracy:.4f}.")
    figure = lesson.figure(history, "08-checkpoint.png", "The run behind best-model.h5; the marker is the saved epoch",
                           title="ModelCheckpoint keeps the best epoch")
    lesson.end("checkpoint", [figure])


def _step_early_stopping(lesson: _Lesson) -> None:
    import epochal as keras

    lesson.begin("early_stopping")
    patience = lesson.settings.patience
    model = lesson.compiled_model("adam", dropout=0.3)
    checkpoint_cb = keras.callbacks.ModelCheckpoint(str(lesson.path("best-model.h5")), save_best_only=True)
    early_stopping_cb = keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
    history = lesson.fit(model, lesson.settings.epochs, callbacks=[checkpoint_cb, early_stopping_cb])
    stopped_epoch = int(early_stopping_cb.stopped_epoch)
    lesson.result.stopped_epoch = stopped_epoch
    lesson.record("early-stopping", history, f"adam, Dropout(0.3), EarlyStopping(patience={patience})",
                  stopped_epoch=str(stopped_epoch))
    lesson.say(f"early_stopping_cb.stopped_epoch = {stopped_epoch}")
    if stopped_epoch:
        lesson.say(f"Training stopped after epoch {stopped_epoch + 1} of {lesson.settings.epochs}; the best epoch "
                   f"was {stopped_epoch + 1 - patience}, whose weights were restored.")
    else:
        lesson.say(f"Validation loss kept improving often enough: no stop within {lesson.settings.epochs} epochs.")
    loss, accuracy = lesson.evaluate(model)
    lesson.say(f"model.evaluate(val_scaled, val_target): val_loss {loss:.4f}, val_accuracy {accuracy:.4f}.")
    figure = lesson.figure(history, "09-early-stopping.png", "Training stopped by EarlyStopping",
                           title=f"EarlyStopping(patience={patience}, restore_best_weights=True)")
    lesson.end("early_stopping", [figure])


def _write_report(lesson: _Lesson) -> None:
    from epochal import report

    # The checkpoint and early-stopping runs repeat adam + Dropout(0.3) from the same seed: drawn
    # again, their curves would only hide that one and crowd the legend.
    compared = {"rmsprop": "rmsprop", "adam": "adam", "adam-dropout": "adam + Dropout(0.3)"}
    overview = lesson.figure([lesson.histories[name] for name in compared], "10-all-runs-val-loss.png",
                             "Validation loss of the three models", metrics=("val_loss",),
                             labels=list(compared.values()),
                             title="Validation loss: rmsprop, adam, adam + Dropout(0.3)")
    lesson.sections.append(report.Section("All runs", [
        "Validation loss of the three models the lesson compares. The ModelCheckpoint and EarlyStopping runs "
        "train adam + Dropout(0.3) again from the same seed, so their curves are that model's and are not "
        "drawn twice."], figures=[overview]))
    data = lesson.data
    used = (f"Used: {len(data.train_scaled)} training and {len(data.val_scaled)} validation images"
            + (" (--quick)" if lesson.settings.sample_limit is not None else "") + ".")
    intro = (f"{lesson.result.data_note} {used} Settings: {lesson.settings.epochs} epochs per long run, "
             f"batch size {lesson.settings.batch_size}, EarlyStopping patience {lesson.settings.patience}.")
    path = report.write_report(lesson.path(REPORT_NAME), "epochal tutorial: training a neural network",
                               lesson.sections, lesson.runs, intro=intro, patience=lesson.settings.patience)
    lesson.print("")
    lesson.wrote(path)


def _rounded(values: list[float]) -> list[float]:
    return [round(float(value), 4) for value in values]


def _require_matplotlib() -> None:
    # Fail before training, not after minutes of it.
    if importlib.util.find_spec("matplotlib") is None:
        raise ImportError('The tutorial draws figures with matplotlib, which is not installed. '
                          'Install it with: pip install "epochal[plot]"')


def run_tutorial(settings: TutorialSettings, print_fn: Callable[[str], None] = print) -> TutorialResult:
    """Run every step of the lesson, writing figures, models, histories and report.html.

    Args:
        settings: What to run and where to write; see `TutorialSettings.create`.
        print_fn: Where the step texts and results go. Defaults to `print`.

    Returns:
        A `TutorialResult` listing every file written.

    Raises:
        ImportError: If matplotlib is missing (``pip install "epochal[plot]"``).
        OSError: If the output folder cannot be written.

    Example:
        >>> settings = TutorialSettings.create("tutorial-out", quick=True, force_subset=True)
        >>> settings.epochs, settings.sample_limit
        (20, 3000)

        Then ``run_tutorial(settings)`` trains every run (seconds in quick mode; tests/test_tutorial.py runs it)
        and returns the files it wrote.
    """
    _require_matplotlib()
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    lesson = _Lesson(settings, print_fn)
    _step_data(lesson)
    _step_loss_curve(lesson)
    _step_longer(lesson)
    _step_validation(lesson)
    _step_adam(lesson)
    trained = _step_dropout(lesson)
    _step_saving(lesson, trained)
    _step_checkpoint(lesson)
    _step_early_stopping(lesson)
    _write_report(lesson)
    return lesson.result
