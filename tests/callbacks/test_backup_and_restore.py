"""BackupAndRestore: an interrupted fit, resumed, ends bit-identical to an uninterrupted one."""
from __future__ import annotations

import os
import random
import time

import numpy as np
import pytest
import torch

import epochal as keras
from epochal.callbacks import BackupAndRestore
from epochal.callbacks.backup_and_restore import capture_random_states, restore_random_states
from training_workers import EPOCHS, backup_every_batch, data, dropout_model, forkserver, train_with_backup
from scripted_fit import one_thread  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


class Interrupt(keras.callbacks.Callback):
    """Raise (a crash) at the start of `epoch`, or after `batch` of that epoch."""

    def __init__(self, epoch: int, batch: int | None = None):
        super().__init__()
        self.epoch, self.batch, self._current_epoch = epoch, batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        if epoch == self.epoch and self.batch is None:
            raise RuntimeError("interrupted")

    def on_train_batch_end(self, batch, logs=None):
        if self._current_epoch == self.epoch and batch == self.batch:
            raise RuntimeError("interrupted")


def fit(model, callbacks, epochs=EPOCHS):
    x, y = data(192)
    return model.fit(x, y, batch_size=16, epochs=epochs, validation_split=0.25, verbose=0, callbacks=callbacks)


def uninterrupted_weights():
    keras.utils.set_random_seed(3)
    model = dropout_model()
    fit(model, [])
    return model.get_weights()


def interrupted_then_resumed(backup_dir, interrupt, **arguments):
    keras.utils.set_random_seed(3)
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(dropout_model(), [BackupAndRestore(backup_dir, **arguments), interrupt])
    # A new process would build a fresh model with other random numbers: simulate that.
    keras.utils.set_random_seed(99)
    random.random(), np.random.random()
    model = dropout_model()
    history = fit(model, [BackupAndRestore(backup_dir, **arguments)])
    return model.get_weights(), history


@pytest.mark.parametrize("interrupt", [Interrupt(epoch=3), Interrupt(epoch=2, batch=4)],
                         ids=["between-epochs", "mid-epoch"])
def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path, interrupt):
    expected = uninterrupted_weights()
    weights, history = interrupted_then_resumed(tmp_path / "backup", interrupt)
    assert history.epoch == list(range(interrupt.epoch, EPOCHS))
    for resumed, reference in zip(weights, expected):
        np.testing.assert_array_equal(resumed, reference)
    assert not (tmp_path / "backup").exists()  # deleted once training finished


def test_random_states_round_trip():
    states = capture_random_states()
    first = (torch.rand(3), np.random.random(3), [random.random() for _ in range(3)], random.gauss(0, 1))
    restore_random_states(states)
    again = (torch.rand(3), np.random.random(3), [random.random() for _ in range(3)], random.gauss(0, 1))
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2:] == again[2:]


def test_backup_loads_without_pickle_and_holds_the_training_state(tmp_path):
    keras.utils.set_random_seed(3)
    model = dropout_model()
    fit(model, [BackupAndRestore(tmp_path, delete_checkpoint=False)], epochs=2)
    state = torch.load(tmp_path / "latest.pt", weights_only=True)
    assert (state["epoch"], state["batch"]) == (2, 0)
    assert state["optimizer"]["iterations"] == model.optimizer.iterations == 18
    for saved, current in zip(state["weights"], model.state_dict().values()):
        assert torch.equal(saved, current)


def test_integer_save_freq_backs_up_mid_epoch_and_redoes_that_epoch(tmp_path):
    keras.utils.set_random_seed(3)
    with pytest.raises(RuntimeError):
        fit(dropout_model(), [BackupAndRestore(tmp_path, save_freq=4), Interrupt(epoch=1, batch=5)])
    state = torch.load(tmp_path / "latest.pt", weights_only=True)
    # 9 batches an epoch: saves after the 4th and 8th batch of epoch 0, then after the 3rd of epoch 1.
    assert (state["epoch"], state["batch"], state["optimizer"]["iterations"]) == (1, 3, 12)
    history = fit(dropout_model(), [BackupAndRestore(tmp_path, save_freq=4)])
    assert history.epoch == list(range(1, EPOCHS))


def test_a_backup_of_another_model_is_refused(tmp_path):
    with pytest.raises(RuntimeError):
        fit(dropout_model(), [BackupAndRestore(tmp_path), Interrupt(epoch=1)])
    other = keras.Sequential([keras.Input(shape=(32,)), keras.layers.Dense(4, activation="softmax")])
    other.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    with pytest.raises(ValueError, match="another model"):
        fit(other, [BackupAndRestore(tmp_path)])


def test_a_damaged_backup_falls_back_to_the_previous_one(tmp_path):
    with pytest.raises(RuntimeError):
        fit(dropout_model(), [BackupAndRestore(tmp_path, double_checkpoint=True), Interrupt(epoch=3)])
    (tmp_path / "latest.pt").write_bytes(b"damaged")
    history = fit(dropout_model(), [BackupAndRestore(tmp_path, double_checkpoint=True)])
    assert history.epoch == list(range(2, EPOCHS))


def test_a_damaged_backup_without_a_previous_one_says_what_to_do(tmp_path):
    with pytest.raises(RuntimeError):
        fit(dropout_model(), [BackupAndRestore(tmp_path), Interrupt(epoch=1)])
    (tmp_path / "latest.pt").write_bytes(b"")
    with pytest.raises(OSError, match="Delete"):
        fit(dropout_model(), [BackupAndRestore(tmp_path)])


class _RunsCodeWhenUnpickled:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")  # unpickling would create the marker file


def test_a_backup_holding_pickled_code_is_refused_without_running_it(tmp_path):
    marker = str(tmp_path / "code-ran")
    torch.save({"format": "epochal.BackupAndRestore", "payload": _RunsCodeWhenUnpickled(marker)},
               tmp_path / "latest.pt")
    with pytest.raises(OSError, match="could not read the backup"):
        fit(dropout_model(), [BackupAndRestore(tmp_path)])
    assert not os.path.exists(marker)


def test_a_foreign_file_is_refused(tmp_path):
    torch.save({"weights": []}, tmp_path / "latest.pt")
    with pytest.raises(ValueError, match="not a backup"):
        fit(dropout_model(), [BackupAndRestore(tmp_path)])


def test_cleanup_removes_only_the_backup(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    fit(dropout_model(), [BackupAndRestore(tmp_path)], epochs=1)
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]
    fit(dropout_model(), [BackupAndRestore(tmp_path / "kept", delete_checkpoint=False)], epochs=1)
    assert os.listdir(tmp_path / "kept") == ["latest.pt"]


@pytest.mark.parametrize("arguments", [{"backup_dir": ""}, {"backup_dir": "b", "save_freq": 0},
                                       {"backup_dir": "b", "save_freq": "batch"}])
def test_bad_arguments(arguments):
    with pytest.raises(ValueError):
        BackupAndRestore(**arguments)


def _run_child(context, target, *arguments):
    queue = context.Queue()
    process = context.Process(target=target, args=(*arguments, queue))
    process.start()
    return process, queue


def test_sigkilled_process_resumes_bit_identical(tmp_path):
    """Kill a training process with SIGKILL at random moments after its first epoch; each restart
    with BackupAndRestore ends with exactly the weights of a run that was never interrupted."""
    context = forkserver()
    reference_path = str(tmp_path / "reference.npz")
    process, queue = _run_child(context, train_with_backup, None, reference_path, 3, False)
    _wait_for(queue, "done")
    process.join(timeout=60)
    reference = np.load(reference_path)
    rng = random.Random(5)
    for attempt in range(3):
        kill_at = ("batch", rng.randint(1, EPOCHS - 2), rng.randrange(28))
        backup_dir = str(tmp_path / f"backup{attempt}")
        process, queue = _run_child(context, train_with_backup, backup_dir, None, 3, True)
        while queue.get(timeout=120) != kill_at:
            pass
        time.sleep(rng.uniform(0, 0.005))
        process.kill()
        process.join(timeout=60)
        assert process.exitcode == -9 and os.path.exists(os.path.join(backup_dir, "latest.pt"))

        result = str(tmp_path / f"resumed{attempt}.npz")
        process, queue = _run_child(context, train_with_backup, backup_dir, result, 11, False)  # another seed
        resumed_epochs = _wait_for(queue, "done")
        process.join(timeout=60)
        assert kill_at[1] <= resumed_epochs[0] <= EPOCHS - 1 and resumed_epochs[-1] == EPOCHS - 1
        resumed = np.load(result)
        for name in reference.files:
            np.testing.assert_array_equal(resumed[name], reference[name])


def test_backup_reads_after_sigkill_during_frequent_backups(tmp_path):
    """A process backing up after every batch is killed with SIGKILL at random moments, three of five
    while a backup is being written: the backup it leaves always loads and training resumes from it
    (the backup is written to a temporary file and moved into place in one step)."""
    context = forkserver()
    rng = random.Random(8)
    backup_dir = tmp_path / "backup"
    x, y = data()
    kills_inside_a_write = 0
    for during_a_write in (False, True, False, True, True):
        process, queue = _run_child(context, backup_every_batch, str(backup_dir))
        saves_before_kill = rng.randint(2, 12)
        while queue.get(timeout=120)[0] != "saved" or (saves_before_kill := saves_before_kill - 1):
            pass
        if during_a_write:
            _until_a_temporary_file_appears(backup_dir)  # a small backup takes about a millisecond: kill now
        else:
            time.sleep(rng.uniform(0, 0.004))  # lands anywhere in the following batch or backup
        process.kill()
        process.join(timeout=60)
        assert process.exitcode == -9
        temporary = [name for name in os.listdir(backup_dir) if name != "latest.pt"]
        kills_inside_a_write += bool(temporary)
        state = torch.load(backup_dir / "latest.pt", weights_only=True)
        model = dropout_model()
        history = model.fit(x, y, batch_size=64, epochs=state["epoch"] + 1, verbose=0,
                            callbacks=[BackupAndRestore(backup_dir, save_freq=1, delete_checkpoint=False)])
        assert history.epoch == [state["epoch"]]
        for name in temporary:  # so that the next kill is counted afresh
            (backup_dir / name).unlink(missing_ok=True)
    assert kills_inside_a_write >= 1  # some kills did cut a backup short


def _until_a_temporary_file_appears(folder, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(name != "latest.pt" for name in os.listdir(folder)):
            return
    pytest.fail(f"no backup began within {seconds}s")


def _wait_for(queue, kind):
    while True:
        message = queue.get(timeout=120)
        if message[0] == kind:
            return message[1]


# ------------------------------------------------------------------ the other callbacks resume too
def _noisy_label_model():
    model = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(4, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(0.01), metrics=["accuracy"])
    return model


def _overfitting_run(folder, extra_callbacks=()):
    """A run on noisy labels whose val_loss bottoms out at epoch 4: EarlyStopping(patience=3) stops it
    at epoch 7, ReduceLROnPlateau halves the rate along the way, ModelCheckpoint keeps the best."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 16)).astype("float32")
    y = (x[:, :4].argmax(1) + (rng.random(160) < 0.5) * rng.integers(0, 4, 160)) % 4
    model = _noisy_label_model()
    early_stopping = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
    callbacks = [*extra_callbacks, keras.callbacks.ReduceLROnPlateau(patience=1, factor=0.5, min_delta=0),
                 early_stopping,
                 keras.callbacks.ModelCheckpoint(str(folder / "best.weights.h5"), save_best_only=True,
                                                 save_weights_only=True),
                 keras.callbacks.CSVLogger(str(folder / "log.csv"))]
    history = model.fit(x, y, batch_size=16, epochs=30, validation_split=0.25, verbose=0, callbacks=callbacks)
    return model, history, early_stopping


def test_other_callbacks_resume_their_state_so_the_run_decides_as_an_uninterrupted_one(tmp_path):
    reference_folder, resumed_folder, backup_dir = tmp_path / "reference", tmp_path / "resumed", tmp_path / "backup"
    keras.utils.set_random_seed(3)
    reference, reference_history, reference_stopping = _overfitting_run(reference_folder)
    assert (reference_stopping.best_epoch, reference_stopping.stopped_epoch) == (4, 7)

    # Crash before epoch 6: EarlyStopping is waiting (1 of 3) and ReduceLROnPlateau has halved the rate.
    # BackupAndRestore comes first in the list, yet runs after the others, so their resets in
    # on_train_begin cannot undo what it restores.
    keras.utils.set_random_seed(3)
    with pytest.raises(RuntimeError, match="interrupted"):
        _overfitting_run(resumed_folder, [BackupAndRestore(backup_dir), Interrupt(epoch=6)])
    keras.utils.set_random_seed(99)
    resumed, resumed_history, resumed_stopping = _overfitting_run(resumed_folder, [BackupAndRestore(backup_dir)])

    assert resumed_history.epoch == [6, 7]
    assert (resumed_stopping.best_epoch, resumed_stopping.stopped_epoch) == (4, 7)
    assert resumed_history.history["learning_rate"] == reference_history.history["learning_rate"][6:]
    for got, expected in zip(resumed.get_weights(), reference.get_weights()):  # epoch 4's, restored
        np.testing.assert_array_equal(got, expected)
    assert (resumed_folder / "log.csv").read_bytes() == (reference_folder / "log.csv").read_bytes()
    best = [_noisy_label_model() for _ in range(2)]
    best[0].load_weights(reference_folder / "best.weights.h5")
    best[1].load_weights(resumed_folder / "best.weights.h5")
    for got, expected in zip(best[1].get_weights(), best[0].get_weights()):
        np.testing.assert_array_equal(got, expected)


def test_backup_holds_the_other_callbacks_state_in_plain_types(tmp_path):
    stopping = keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    fit(dropout_model(), [BackupAndRestore(tmp_path / "backup", delete_checkpoint=False), stopping], epochs=2)
    state = torch.load(tmp_path / "backup" / "latest.pt", weights_only=True)
    saved = state["callbacks"]["EarlyStopping#0"]
    assert saved["wait"] == stopping.wait and saved["best"] == stopping.best
    assert [tuple(t.shape) for t in saved["best_weights"]] == [w.shape for w in stopping.best_weights]
    assert "History#0" not in state["callbacks"]  # nothing to keep: Keras's History starts afresh
