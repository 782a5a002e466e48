"""Real Keras (on its torch backend) as the oracle: the same scripted logs go to Keras's callbacks and
to ours, and every decision must agree: stopped_epoch, best_epoch, learning rates, checkpoint files."""
from __future__ import annotations

import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as real_keras  # noqa: E402  (needs KERAS_BACKEND set first)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import epochal as keras  # noqa: E402
from scripted_fit import recording_model, run_script, small_model  # noqa: E402
from test_early_stopping import CASES as EARLY_STOPPING_CASES  # noqa: E402

assert real_keras.backend.backend() == "torch"


class KerasModelStub:
    """What Keras's callbacks touch, backed by a real compiled Keras model; saving is only recorded."""

    def __init__(self, real):
        self._real = real
        self.stop_training = False
        self.saved = []

    @property
    def metrics(self):
        return self._real.metrics

    @property
    def optimizer(self):
        return self._real.optimizer

    def get_weights(self):
        return self._real.get_weights()

    def set_weights(self, weights):
        self._real.set_weights(weights)

    def save(self, filepath, overwrite=True):
        self.saved.append(filepath)

    def save_weights(self, filepath, overwrite=True):
        self.saved.append(filepath)


@pytest.fixture(scope="module")
def keras_model():
    real = real_keras.Sequential([real_keras.Input((2,)), real_keras.layers.Dense(2, activation="softmax")])
    real.compile(optimizer=real_keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                 metrics=["accuracy"])
    real.evaluate(np.zeros((2, 2)), np.zeros(2), verbose=0)  # builds the metrics that mode='auto' reads
    return real


def fresh_stub(real):
    real.optimizer.learning_rate = 0.1
    return KerasModelStub(real)


def random_sequences(count: int, seed: int):
    """Random walks (falling, flat or rising) rounded to 2 decimals, so ties and changes close to
    min_delta are common."""
    rng = np.random.default_rng(seed)
    return [np.round(1.0 + np.cumsum(rng.normal(rng.choice([-0.03, 0.0, 0.03]), 0.05, size=12)), 2).tolist()
            for _ in range(count)]


def random_early_stopping_cases():
    rng = np.random.default_rng(7)
    cases = []
    for values in random_sequences(40, seed=1):
        arguments = {
            "monitor": str(rng.choice(["val_loss", "val_accuracy"])),
            "patience": int(rng.integers(0, 6)),
            "min_delta": float(rng.choice([0.0, 0.01, 0.03, -0.02])),
            "mode": str(rng.choice(["auto", "min", "max"])),
            "baseline": None if rng.random() < 0.6 else float(np.median(values)),
            "start_from_epoch": int(rng.integers(0, 3)),
            "restore_best_weights": bool(rng.random() < 0.5),
        }
        cases.append((arguments, values))
    return cases


ALL_EARLY_STOPPING = [(arguments, values) for arguments, values, *_ in EARLY_STOPPING_CASES] + \
    random_early_stopping_cases()


def _epoch_logs(monitor, values):
    return [{monitor: value, "loss": 1.0} for value in values]


@pytest.mark.parametrize("arguments, values", ALL_EARLY_STOPPING)
def test_early_stopping_decides_as_keras(keras_model, arguments, values):
    monitor = arguments.get("monitor", "val_loss")
    theirs = real_keras.callbacks.EarlyStopping(**arguments)
    ours = keras.callbacks.EarlyStopping(**arguments)
    their_epochs = run_script([theirs], fresh_stub(keras_model), _epoch_logs(monitor, values))
    our_epochs = run_script([ours], small_model(), _epoch_logs(monitor, values))
    assert len(our_epochs) == len(their_epochs)
    assert (ours.stopped_epoch, ours.best_epoch, ours.wait, ours.best) == \
        (theirs.stopped_epoch, theirs.best_epoch, theirs.wait, theirs.best)


def random_plateau_cases():
    rng = np.random.default_rng(11)
    cases = []
    for values in random_sequences(30, seed=2):
        arguments = {
            "monitor": str(rng.choice(["val_loss", "val_accuracy"])),
            "factor": float(rng.choice([0.1, 0.5])),
            "patience": int(rng.integers(0, 4)),
            "cooldown": int(rng.integers(0, 3)),
            "min_lr": float(rng.choice([0.0, 0.005])),
            "min_delta": float(rng.choice([0.0, 1e-4, 0.02])),
            "mode": str(rng.choice(["auto", "min", "max"])),
        }
        cases.append((arguments, values))
    # Differences below float32 resolution: Keras sees no improvement, and neither may we.
    cases.append(({"monitor": "val_loss", "factor": 0.5, "patience": 0, "min_delta": 0.0},
                  [1.0, 0.99999999, 0.99999998]))
    return cases


@pytest.mark.parametrize("arguments, values", random_plateau_cases())
def test_reduce_lr_on_plateau_gives_keras_learning_rates(keras_model, arguments, values):
    monitor = arguments["monitor"]
    theirs = real_keras.callbacks.ReduceLROnPlateau(**arguments)
    ours = keras.callbacks.ReduceLROnPlateau(**arguments)
    stub = fresh_stub(keras_model)
    their_logs = run_script([theirs], stub, _epoch_logs(monitor, values))
    model = small_model(0.1)
    our_logs = run_script([ours], model, _epoch_logs(monitor, values))
    # Keras holds the rate in float32, epochal in float64: equal to float32 precision.
    assert [logs["learning_rate"] for logs in our_logs] == \
        pytest.approx([logs["learning_rate"] for logs in their_logs], rel=1e-6)
    assert float(model.optimizer.learning_rate) == pytest.approx(float(stub.optimizer.learning_rate), rel=1e-6)
    assert (ours.wait, ours.cooldown_counter, ours.best) == (theirs.wait, theirs.cooldown_counter, theirs.best)


@pytest.mark.parametrize("schedule", [
    lambda epoch, lr: lr * 0.9,
    lambda epoch, lr: lr if epoch < 3 else lr * float(np.exp(-0.1)),
    lambda epoch: 0.1 * 0.5 ** (epoch // 2),
], ids=["decay", "keras-docs", "epoch-only"])
def test_learning_rate_scheduler_gives_keras_learning_rates(keras_model, schedule):
    logs = [{"loss": 1.0}] * 8
    their_logs = run_script([real_keras.callbacks.LearningRateScheduler(schedule)], fresh_stub(keras_model), logs)
    our_logs = run_script([keras.callbacks.LearningRateScheduler(schedule)], small_model(0.1), logs)
    assert [entry["learning_rate"] for entry in our_logs] == \
        pytest.approx([entry["learning_rate"] for entry in their_logs], rel=1e-6)


CHECKPOINT_CASES = [
    ({"filepath": "best-model.h5"}, 0),
    ({"filepath": "best-model.h5", "save_best_only": True}, 0),
    ({"filepath": "m-{epoch:02d}-{val_loss:.2f}.keras", "save_best_only": True}, 0),
    ({"filepath": "m-{epoch:02d}-{val_accuracy:.3f}.keras", "save_best_only": True, "monitor": "val_accuracy"}, 0),
    ({"filepath": "m-{epoch}.keras", "save_best_only": True, "mode": "max"}, 0),
    ({"filepath": "m-{epoch}.keras", "save_best_only": True, "initial_value_threshold": 1.0}, 0),
    ({"filepath": "w-{epoch:03d}.weights.h5", "save_weights_only": True}, 0),
    ({"filepath": "e{epoch}-b{batch}.keras", "save_freq": 3}, 4),
    ({"filepath": "e{epoch}-b{batch}-{loss:.3f}.weights.h5", "save_freq": 5, "save_weights_only": True}, 3),
    ({"filepath": "m-{epoch}.keras", "save_best_only": True, "monitor": "val_accuracy", "mode": "max",
      "initial_value_threshold": 0.1}, 0),
    ({"filepath": "e{epoch}-b{batch}.keras", "save_best_only": True, "monitor": "loss", "save_freq": 3}, 4),
]


@pytest.mark.parametrize("arguments, batches_per_epoch", CHECKPOINT_CASES)
@pytest.mark.parametrize("values", random_sequences(3, seed=3))
def test_model_checkpoint_writes_the_files_keras_writes(keras_model, arguments, batches_per_epoch, values):
    logs = [{"val_loss": value, "val_accuracy": 1.0 - value, "loss": 2 * value} for value in values]
    stub = fresh_stub(keras_model)
    run_script([real_keras.callbacks.ModelCheckpoint(**arguments)], stub, logs, batches_per_epoch)
    model = recording_model()
    run_script([keras.callbacks.ModelCheckpoint(**arguments)], model, logs, batches_per_epoch)
    assert [path for path, _ in model.saved] == stub.saved


def test_csv_logger_writes_the_same_bytes_as_keras(keras_model, tmp_path):
    logs = [{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.25, "accuracy": 0.5, "val_loss": 0.75},
            {"loss": 0.125, "val_loss": 0.5, "val_accuracy": 0.3333333333333333},
            {"loss": np.float32(0.1), "accuracy": np.array([0.5, 0.25]), "val_loss": "n/a"}]
    for append, run_logs in ((False, logs), (True, logs[1:])):  # a second run appends its rows, no header
        run_script([real_keras.callbacks.CSVLogger(str(tmp_path / "keras.csv"), separator=";", append=append)],
                   fresh_stub(keras_model), run_logs)
        run_script([keras.callbacks.CSVLogger(tmp_path / "ours.csv", separator=";", append=append)], small_model(),
                   run_logs)
        assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "keras.csv").read_bytes()


@pytest.mark.parametrize("loss", [0.5, float("nan"), float("inf"), -float("inf")])
def test_terminate_on_nan_decides_as_keras(keras_model, loss):
    stub, model = fresh_stub(keras_model), small_model()
    theirs, ours = real_keras.callbacks.TerminateOnNaN(), keras.callbacks.TerminateOnNaN()
    theirs.set_model(stub)
    ours.set_model(model)
    model.stop_training = False
    theirs.on_batch_end(0, {"loss": loss})
    ours.on_train_batch_end(0, {"loss": loss})
    assert model.stop_training == stub.stop_training


@pytest.mark.parametrize("name, arguments", [
    ("EarlyStopping", {"patience": 2, "verbose": 1, "restore_best_weights": True}),
    ("ModelCheckpoint", {"filepath": "m-{epoch}.keras", "save_best_only": True, "verbose": 1}),
    ("ModelCheckpoint", {"filepath": "m.keras", "verbose": 1}),
])
def test_verbose_messages_are_keras_messages(keras_model, capsys, name, arguments):
    logs = _epoch_logs("val_loss", [1.0, 0.8, 0.9, 0.95, 0.97])
    run_script([getattr(real_keras.callbacks, name)(**arguments)], fresh_stub(keras_model), logs)
    theirs = capsys.readouterr().out
    run_script([getattr(keras.callbacks, name)(**arguments)], recording_model(), logs)
    assert capsys.readouterr().out == theirs != ""


class SavingKerasStub(KerasModelStub):
    """A stub whose checkpoints are really written, by the real Keras model."""

    def save(self, filepath, overwrite=True):
        self._real.save(filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        self._real.save_weights(filepath, overwrite=overwrite)


def files_under(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


ON_DISK_CASES = [
    ({"filepath": "best-model.h5"}, 0),  # the seed's line
    ({"filepath": "best-model.h5", "save_best_only": True}, 0),
    ({"filepath": "runs/a/m-{epoch:02d}-{val_loss:.2f}.keras", "save_best_only": True}, 0),
    ({"filepath": "w/{epoch:03d}.weights.h5", "save_weights_only": True}, 0),
    ({"filepath": "b/e{epoch}-b{batch}.keras", "save_freq": 2}, 3),
]


@pytest.mark.parametrize("arguments, batches_per_epoch", ON_DISK_CASES)
def test_model_checkpoint_leaves_the_files_keras_leaves_on_disk(keras_model, tmp_path, monkeypatch, arguments,
                                                                batches_per_epoch):
    """Real saving on both sides (relative paths, missing folders): the same set of files, and no
    temporary file left behind by epochal's atomic writes."""
    logs = [{"val_loss": value, "loss": 1.0} for value in (0.5, 0.7, 0.4)]
    for side, checkpoint, model in (("keras", real_keras.callbacks.ModelCheckpoint, SavingKerasStub(keras_model)),
                                    ("ours", keras.callbacks.ModelCheckpoint, small_model())):
        (tmp_path / side).mkdir()
        monkeypatch.chdir(tmp_path / side)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras warns that '.h5' is a legacy format
            run_script([checkpoint(**arguments)], model, logs, batches_per_epoch)
    assert files_under(tmp_path / "ours") == files_under(tmp_path / "keras") != []


def test_early_stopping_epoch_zero_guard_as_keras(keras_model):
    from test_early_stopping import drive_with_a_best_already_set

    stub = fresh_stub(keras_model)
    theirs = real_keras.callbacks.EarlyStopping(patience=0)
    ours = keras.callbacks.EarlyStopping(patience=0)
    their_stops = drive_with_a_best_already_set(theirs, stub, [0.9, 0.9])
    assert drive_with_a_best_already_set(ours, small_model(), [0.9, 0.9]) == their_stops == [False, True]
    assert (ours.wait, ours.stopped_epoch) == (theirs.wait, theirs.stopped_epoch)


@pytest.mark.parametrize("values", random_sequences(4, seed=4))
def test_auto_mode_on_a_renamed_metric_decides_as_keras(values):
    real = real_keras.Sequential([real_keras.Input((2,)), real_keras.layers.Dense(2, activation="softmax")])
    real.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                 metrics=[real_keras.metrics.SparseCategoricalAccuracy(name="sca")])
    real.evaluate(np.zeros((2, 2)), np.zeros(2), verbose=0)  # builds the metrics that mode='auto' reads
    ours_model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(2, activation="softmax")])
    ours_model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                       metrics=[keras.metrics.SparseCategoricalAccuracy(name="sca")])
    theirs = real_keras.callbacks.EarlyStopping(monitor="val_sca", patience=1)
    ours = keras.callbacks.EarlyStopping(monitor="val_sca", patience=1)
    run_script([theirs], KerasModelStub(real), _epoch_logs("val_sca", values))
    run_script([ours], ours_model, _epoch_logs("val_sca", values))
    assert (ours.stopped_epoch, ours.best_epoch, ours.best) == (theirs.stopped_epoch, theirs.best_epoch, theirs.best)
