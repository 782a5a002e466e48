"""CSVLogger: Keras's file layout, a flushed row per epoch, append mode."""
from __future__ import annotations

import numpy as np
import pytest

import epochal as keras
from epochal.callbacks import CSVLogger
from scripted_fit import one_thread  # noqa: F401 (a fixture)
from scripted_fit import run_script, small_model

pytestmark = pytest.mark.usefixtures("one_thread")


def write_log(path, epoch_logs, **arguments):
    run_script([CSVLogger(path, **arguments)], small_model(), epoch_logs)
    with open(path, newline="") as file:
        return file.read()


def test_columns_are_epoch_then_sorted_keys_rows_end_like_keras(tmp_path):
    text = write_log(tmp_path / "log.csv", [{"loss": 0.5, "val_loss": 0.75, "accuracy": 0.25, "val_accuracy": 1.0},
                                            {"loss": 0.25, "val_loss": 0.5, "accuracy": 0.5, "val_accuracy": 0.5}])
    assert text == ("epoch,accuracy,loss,val_accuracy,val_loss\r\n"
                    "0,0.25,0.5,1.0,0.75\r\n"
                    "1,0.5,0.25,0.5,0.5\r\n")


def test_validation_columns_are_reserved_and_missing_values_are_na(tmp_path):
    text = write_log(tmp_path / "log.csv", [{"loss": 0.5}, {"loss": 0.25, "val_loss": 0.125}, {}])
    assert text.splitlines() == ["epoch,loss,val_loss", "0,0.5,NA", "1,0.25,0.125", "2,NA,NA"]


@pytest.mark.parametrize("separator", [";", "\t"])
def test_separator(tmp_path, separator):
    text = write_log(tmp_path / "log.csv", [{"loss": 0.5, "val_loss": 1.0}], separator=separator)
    assert text.splitlines() == [separator.join(["epoch", "loss", "val_loss"]), separator.join(["0", "0.5", "1.0"])]


def test_arrays_are_written_as_lists_quoted_as_keras_quotes_them(tmp_path):
    text = write_log(tmp_path / "log.csv", [{"loss": 0.5, "val_loss": 1.0, "scores": np.array([1, 2])}])
    assert text.splitlines()[1] == '0,0.5,"""[1, 2]""",1.0'


def test_append_keeps_the_header_once_and_overwrite_starts_again(tmp_path):
    path = tmp_path / "log.csv"
    write_log(path, [{"loss": 0.5, "val_loss": 1.0}], append=True)  # a new file gets its header
    text = write_log(path, [{"loss": 0.25, "val_loss": 0.5}], append=True)
    assert text.splitlines() == ["epoch,loss,val_loss", "0,0.5,1.0", "0,0.25,0.5"]
    text = write_log(path, [{"loss": 0.125, "val_loss": 0.25}])
    assert text.splitlines() == ["epoch,loss,val_loss", "0,0.125,0.25"]


def test_each_row_is_on_disk_when_its_epoch_ends(tmp_path):
    path = tmp_path / "runs" / "log.csv"  # the folder is created too
    logger = CSVLogger(path)
    logger.set_model(small_model())
    logger.on_train_begin()
    for epoch in range(2):
        logger.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "val_loss": 2.0})
        assert path.read_text().splitlines()[-1] == f"{epoch},{1.0 / (epoch + 1)},2.0"  # before on_train_end
    logger.on_train_end()


def test_rows_match_the_history_of_a_real_fit(tmp_path, tiny_images):
    x, y = tiny_images
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], optimizer="sgd")
    path = tmp_path / "training.log"
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0, callbacks=[CSVLogger(path)])
    header, *rows = [line.split(",") for line in path.read_text().splitlines()]
    assert header == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    for epoch, row in enumerate(rows):
        assert int(row[0]) == epoch
        assert [float(cell) for cell in row[1:]] == [history.history[key][epoch] for key in header[1:]]


def test_a_crash_while_writing_a_row_leaves_the_previous_rows_whole(tmp_path, monkeypatch):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    logger.set_model(small_model())
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 0.5, "val_loss": 1.0})
    before = path.read_bytes()

    def half_then_die(self, text, **kwargs):
        self.write_bytes(text.encode()[: len(text) // 2])
        raise KeyboardInterrupt  # as a kill would, in the middle of the write

    monkeypatch.setattr(type(path), "write_text", half_then_die)
    with pytest.raises(KeyboardInterrupt):
        logger.on_epoch_end(1, {"loss": 0.25, "val_loss": 0.5})
    assert path.read_bytes() == before == b"epoch,loss,val_loss\r\n0,0.5,1.0\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]


def test_overwrite_keeps_the_old_log_until_the_first_new_row(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("old log\n")
    logger = CSVLogger(path)
    logger.set_model(small_model())
    logger.on_train_begin()
    assert path.read_text() == "old log\n"
    logger.on_epoch_end(0, {"loss": 0.5, "val_loss": 1.0})
    assert path.read_bytes() == b"epoch,loss,val_loss\r\n0,0.5,1.0\r\n"
