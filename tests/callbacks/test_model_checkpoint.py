"""ModelCheckpoint's file names and save decisions, with `model.save` recorded instead of run."""
from __future__ import annotations

import os
import warnings

import pytest

from epochal.callbacks import CallbackList, ModelCheckpoint
from scripted_fit import recording_model, run_script


def saved_paths(callback, values, monitor="val_loss", batches_per_epoch=0):
    model = recording_model()
    run_script([callback], model, [{monitor: value, "loss": 1.0} for value in values], batches_per_epoch)
    return [path for path, _ in model.saved]


@pytest.mark.parametrize("arguments, values, expected", [
    ({"filepath": "best-model.h5"}, [0.5, 0.6], ["best-model.h5", "best-model.h5"]),
    ({"filepath": "best-model.h5", "save_best_only": True}, [0.5, 0.6, 0.4, 0.4], ["best-model.h5"] * 2),
    ({"filepath": "m-{epoch:02d}.keras"}, [0.5, 0.6, 0.7], ["m-01.keras", "m-02.keras", "m-03.keras"]),
    ({"filepath": "m-{epoch:02d}-{val_loss:.2f}.keras", "save_best_only": True}, [0.5, 0.6, 0.4],
     ["m-01-0.50.keras", "m-03-0.40.keras"]),
    ({"filepath": "m-{epoch}.keras", "save_best_only": True, "initial_value_threshold": 0.45}, [0.5, 0.4, 0.42],
     ["m-2.keras"]),
    ({"filepath": "m-{epoch}.keras", "save_best_only": True, "mode": "max"}, [0.5, 0.4, 0.7],
     ["m-1.keras", "m-3.keras"]),
    ({"filepath": "w-{epoch}.weights.h5", "save_weights_only": True}, [0.5], ["w-1.weights.h5"]),
])
def test_files_saved_per_epoch(arguments, values, expected):
    assert saved_paths(ModelCheckpoint(**arguments), values) == expected


def test_auto_mode_keeps_the_highest_accuracy():
    callback = ModelCheckpoint("m-{epoch}-{val_accuracy:.1f}.keras", monitor="val_accuracy", save_best_only=True)
    assert saved_paths(callback, [0.5, 0.4, 0.7, 0.6], monitor="val_accuracy") == ["m-1-0.5.keras", "m-3-0.7.keras"]


def test_weights_only_calls_save_weights_and_full_model_calls_save():
    model = recording_model()
    run_script([ModelCheckpoint("a.weights.h5", save_weights_only=True), ModelCheckpoint("b.keras")], model,
               [{"val_loss": 1.0}])
    assert model.saved == [("a.weights.h5", "weights"), ("b.keras", "model")]


def test_integer_save_freq_counts_batches_across_epochs():
    callback = ModelCheckpoint("e{epoch:02d}-b{batch:02d}.keras", save_freq=3)
    # 4 batches per epoch, 3 epochs: every third of the 12 batches.
    assert saved_paths(callback, [0.5, 0.4, 0.3], batches_per_epoch=4) == [
        "e01-b03.keras", "e02-b02.keras", "e03-b01.keras", "e03-b04.keras"]


def test_integer_save_freq_fills_placeholders_from_the_batch_logs():
    callback = ModelCheckpoint("b{batch}-{loss:.2f}.keras", save_freq=2)
    assert saved_paths(callback, [0.5], batches_per_epoch=4) == ["b2-0.50.keras", "b4-0.25.keras"]


def test_missing_folders_are_created(tmp_path):
    callback = ModelCheckpoint(str(tmp_path / "runs" / "a" / "m-{epoch}.keras"))
    assert saved_paths(callback, [0.5]) == [str(tmp_path / "runs" / "a" / "m-1.keras")]
    assert (tmp_path / "runs" / "a").is_dir()


def test_path_objects_are_accepted(tmp_path):
    assert saved_paths(ModelCheckpoint(tmp_path / "m.keras"), [0.5]) == [str(tmp_path / "m.keras")]


def test_best_is_kept_across_fits_like_the_file_on_disk():
    callback = ModelCheckpoint("m-{epoch}.keras", save_best_only=True)
    assert saved_paths(callback, [0.5, 0.3]) == ["m-1.keras", "m-2.keras"]
    assert saved_paths(callback, [0.4, 0.2]) == ["m-2.keras"]


def test_save_best_only_without_the_monitor_warns_once_and_saves():
    callback = ModelCheckpoint("m-{epoch}.keras", save_best_only=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = saved_paths(callback, [0.5, 0.6], monitor="loss")
    assert paths == ["m-1.keras", "m-2.keras"]
    assert len(caught) == 1 and "val_loss" in str(caught[0].message)


def test_unknown_placeholder_names_it():
    callback = ModelCheckpoint("m-{val_acc:.2f}.keras")
    with pytest.raises(KeyError, match="val_acc"):
        saved_paths(callback, [0.5])


def test_an_existing_folder_as_filepath_is_refused(tmp_path):
    (tmp_path / "m.keras").mkdir()
    with pytest.raises(IsADirectoryError, match="folder"):
        saved_paths(ModelCheckpoint(str(tmp_path / "m.keras")), [0.5])


@pytest.mark.parametrize("arguments, message", [
    ({"filepath": "model.pt"}, "'.keras'"),
    ({"filepath": "model"}, "'.keras'"),
    ({"filepath": "model.keras", "save_weights_only": True}, "'.weights.h5'"),
    ({"filepath": "m.keras", "save_freq": 0}, "save_freq"),
    ({"filepath": "m.keras", "save_freq": "batch"}, "save_freq"),
    ({"filepath": "m.keras", "mode": "best"}, "mode"),
])
def test_bad_arguments_are_refused_at_construction(arguments, message):
    with pytest.raises(ValueError, match=message):
        ModelCheckpoint(**arguments)


def test_legacy_h5_weights_file_is_accepted():
    assert saved_paths(ModelCheckpoint("w.h5", save_weights_only=True), [0.5]) == ["w.h5"]


def test_verbose_reports_each_decision(capsys):
    saved_paths(ModelCheckpoint("m.keras", save_best_only=True, verbose=1), [0.5, 0.6])
    out = capsys.readouterr().out
    assert "val_loss improved from None to 0.50000, saving model to m.keras" in out
    assert "Epoch 2: val_loss did not improve from 0.50000" in out
    assert not os.path.exists("m.keras")  # saving was recorded, not done


@pytest.mark.parametrize("save_freq, wanted", [("epoch", False), (2, True)])
def test_batch_hook_is_only_dispatched_when_saving_by_batch(save_freq, wanted):
    callbacks = CallbackList([ModelCheckpoint("m.keras", save_freq=save_freq)])
    assert callbacks.wants("on_train_batch_end") is wanted
