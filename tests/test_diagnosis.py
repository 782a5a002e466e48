"""Tests for epochal.diagnosis: scripted loss curves with known answers, no training."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epochal.diagnosis import OVERFITTING_WINDOW, Diagnosis, diagnose

# Training loss that falls every epoch; the validation curve decides each case.
FALLING = [1.0, 0.8, 0.65, 0.55, 0.47, 0.41, 0.36, 0.32, 0.29, 0.27]
U_SHAPED_VAL = [1.1, 0.9, 0.75, 0.62, 0.55, 0.5, 0.53, 0.58, 0.64, 0.7]


def history_object(metrics: dict, epoch: list[int] | None = None) -> types.SimpleNamespace:
    """Stand-in for epochal's History: a `.history` dict and a 0-based `.epoch` list."""
    length = len(next(iter(metrics.values())))
    return types.SimpleNamespace(history=metrics, epoch=epoch if epoch is not None else list(range(length)))


def test_monotone_good_fit_is_not_overfitting():
    val = [value + 0.05 for value in FALLING]
    report = diagnose({"loss": FALLING, "val_loss": val})
    assert report.best_epoch == 10
    assert report.best_val_loss == pytest.approx(0.32)
    assert report.overfitting_epoch is None
    assert report.early_stopping_epoch is None
    assert report.epochs_saved == 0
    assert report.epochs_run == 10
    assert report.final_gap == pytest.approx(0.05)
    assert report.final_gap_ratio == pytest.approx(0.32 / 0.27)
    assert report.verdict.startswith("No overfitting: validation loss was still improving at the last epoch")
    assert "would not have stopped" in report.verdict


def test_u_shaped_validation_loss_gives_exact_overfitting_epoch():
    report = diagnose({"loss": FALLING, "val_loss": U_SHAPED_VAL}, patience=2)
    assert report.best_epoch == 6
    assert report.best_val_loss == 0.5
    assert report.overfitting_epoch == 7
    assert report.early_stopping_epoch == 8
    assert report.epochs_saved == 2
    assert report.final_gap == pytest.approx(0.7 - 0.27)
    assert report.verdict == (
        "Overfitting from epoch 7: validation loss rose while training loss kept falling. "
        "Best epoch 6 (val_loss 0.5). EarlyStopping(patience=2) would have stopped at epoch 8, "
        "saving 2 epochs."
    )


def test_history_object_and_plain_dict_give_the_same_diagnosis():
    metrics = {"loss": FALLING, "val_loss": U_SHAPED_VAL, "accuracy": [0.5] * 10}
    assert diagnose(history_object(metrics)) == diagnose(metrics)


def test_one_epoch_noise_spike_that_recovers_is_not_flagged():
    val = [1.0, 0.8, 0.6, 0.9, 0.5, 0.45, 0.4, 0.38, 0.37, 0.36]
    report = diagnose({"loss": FALLING, "val_loss": val}, patience=2)
    assert report.overfitting_epoch is None
    assert report.best_epoch == 10
    assert report.early_stopping_epoch is None


def test_two_epoch_bump_that_recovers_to_a_new_best_is_not_flagged():
    # The rule measures against the best of the whole run, so a temporary rise is forgiven.
    val = [1.0, 0.8, 0.6, 0.7, 0.75, 0.5, 0.45, 0.4, 0.38, 0.36]
    assert diagnose({"loss": FALLING, "val_loss": val}).overfitting_epoch is None


@pytest.mark.parametrize("dip_epoch", [8, 9, 10])
def test_one_epoch_dip_after_the_rise_does_not_hide_overfitting(dip_epoch):
    # U_SHAPED_VAL overfits from epoch 7; one lucky epoch below its best (0.5) is noise, wherever it
    # falls after the best epoch, even inside the two-epoch window or as the last epoch.
    val = list(U_SHAPED_VAL)
    val[dip_epoch - 1] = 0.49
    report = diagnose({"loss": FALLING, "val_loss": val})
    assert report.overfitting_epoch == 7
    assert report.best_epoch == dip_epoch  # still the lowest val_loss: what ModelCheckpoint keeps
    assert f"Best epoch {dip_epoch} (val_loss 0.49) was a single low epoch amid the rise." in report.verdict


@pytest.mark.parametrize("spike_epoch", [1, 2, 3, 4, 5, 7, 8, 9, 10])
def test_one_epoch_spike_anywhere_leaves_the_onset_alone(spike_epoch):
    val = list(U_SHAPED_VAL)
    val[spike_epoch - 1] += 0.3
    report = diagnose({"loss": FALLING, "val_loss": val})
    assert (report.best_epoch, report.overfitting_epoch) == (6, 7)


def test_dip_followed_by_another_low_is_a_recovery_not_noise():
    val = [1.1, 0.9, 0.75, 0.62, 0.55, 0.5, 0.53, 0.58, 0.45, 0.44]
    report = diagnose({"loss": FALLING, "val_loss": val})
    assert report.overfitting_epoch is None
    assert report.best_epoch == 10


def test_sharp_v_is_not_a_dip():
    # The two lowest epochs are neighbours: the bottom of one V, so the plain rule applies.
    val = [1.1, 0.9, 0.75, 0.62, 0.6, 0.5, 0.65, 0.7, 0.75, 0.8]
    report = diagnose({"loss": FALLING, "val_loss": val})
    assert (report.best_epoch, report.overfitting_epoch) == (6, 7)
    assert "single low epoch" not in report.verdict


def test_dip_does_not_turn_a_plateau_into_overfitting():
    train = [1.0, 0.8, 0.6, 0.5, 0.5, 0.55, 0.6, 0.65]
    val = [1.1, 0.9, 0.7, 0.6, 0.62, 0.66, 0.55, 0.75]
    assert diagnose({"loss": train, "val_loss": val}).overfitting_epoch is None


def test_rise_in_the_last_epoch_only_is_too_soon_to_call():
    val = [1.0, 0.8, 0.6, 0.5, 0.45, 0.42, 0.4, 0.38, 0.36, 0.4]
    report = diagnose({"loss": FALLING, "val_loss": val})
    assert report.overfitting_epoch is None
    assert report.best_epoch == 9
    assert "too soon" in report.verdict


def test_rise_for_exactly_the_window_is_flagged():
    val = [1.0, 0.8, 0.6, 0.5, 0.45, 0.42, 0.4, 0.38, 0.39, 0.4]
    assert OVERFITTING_WINDOW == 2
    assert diagnose({"loss": FALLING, "val_loss": val}).overfitting_epoch == 9


def test_validation_rise_while_training_loss_also_rises_is_a_plateau_not_overfitting():
    train = [1.0, 0.8, 0.6, 0.5, 0.5, 0.55, 0.6, 0.65]
    val = [1.1, 0.9, 0.7, 0.6, 0.62, 0.66, 0.7, 0.75]
    report = diagnose({"loss": train, "val_loss": val})
    assert report.overfitting_epoch is None
    assert report.best_epoch == 4
    assert "plateau" in report.verdict


def test_min_delta_ignores_rises_smaller_than_it():
    val = [1.0, 0.8, 0.6, 0.5, 0.45, 0.42, 0.4, 0.38, 0.385, 0.39]
    assert diagnose({"loss": FALLING, "val_loss": val}).overfitting_epoch == 9
    assert diagnose({"loss": FALLING, "val_loss": val}, min_delta=0.02).overfitting_epoch is None


def test_equal_validation_loss_after_best_is_not_a_rise():
    val = [1.0, 0.8, 0.6, 0.6, 0.6]
    report = diagnose({"loss": FALLING[:5], "val_loss": val})
    assert report.best_epoch == 3  # the first of equal values, as EarlyStopping counts it
    assert report.overfitting_epoch is None


SCRIPTED = [10, 9, 8, 9, 8.9, 8.8, 7, 7.5, 7.6, 7.7]
FLAT = [5, 5, 5]
STRICTLY_FALLING = [4, 3, 2, 1]


@pytest.mark.parametrize(
    "val_loss, patience, stop_epoch",
    [
        (SCRIPTED, 0, 4),
        (SCRIPTED, 1, 4),
        (SCRIPTED, 2, 5),
        (SCRIPTED, 3, 6),
        (SCRIPTED, 4, None),  # epoch 7 improves, then only 3 epochs remain
        (FLAT, 0, 2),
        (FLAT, 1, 2),
        (FLAT, 2, 3),
        (FLAT, 3, None),
        (STRICTLY_FALLING, 0, None),
        (STRICTLY_FALLING, 1, None),
        (STRICTLY_FALLING, 2, None),
        (STRICTLY_FALLING, 3, None),
        ([1.0], 0, None),
    ],
)
def test_early_stopping_epoch_follows_keras3_semantics(val_loss, patience, stop_epoch):
    train = [1.0] * len(val_loss)
    report = diagnose({"loss": train, "val_loss": val_loss}, patience=patience)
    assert report.early_stopping_epoch == stop_epoch
    expected_saved = 0 if stop_epoch is None else len(val_loss) - stop_epoch
    assert report.epochs_saved == expected_saved


@pytest.mark.parametrize(
    "min_delta, patience, stop_epoch",
    [(0.25, 1, 2), (0.25, 2, 3), (0.25, 3, None), (-0.25, 2, 3), (0.0, 1, None)],
)
def test_early_stopping_min_delta_is_absolute_and_strict(min_delta, patience, stop_epoch):
    # 0.875 and 0.75 are not more than 0.25 below 1.0; 0.5 is.
    val = [1.0, 0.875, 0.75, 0.5]
    report = diagnose({"loss": [1.0] * 4, "val_loss": val}, patience=patience, min_delta=min_delta)
    assert report.early_stopping_epoch == stop_epoch


def test_epoch_numbers_follow_history_epoch_after_initial_epoch():
    metrics = {"loss": FALLING, "val_loss": U_SHAPED_VAL}
    report = diagnose(history_object(metrics, epoch=list(range(5, 15))), patience=2)
    assert report.best_epoch == 11
    assert report.overfitting_epoch == 12
    assert report.early_stopping_epoch == 13
    assert report.epochs_saved == 2


def test_missing_validation_loss_explains_validation_data_and_lists_keys():
    with pytest.raises(ValueError) as raised:
        diagnose({"loss": [1.0, 0.5], "accuracy": [0.5, 0.6]})
    message = str(raised.value)
    assert "'val_loss'" in message
    assert "validation_data" in message and "validation_split" in message
    assert "Keys present: 'loss', 'accuracy'" in message


@pytest.mark.parametrize("empty", [{}, {"loss": [], "val_loss": []}, history_object({"loss": []})])
def test_empty_history_is_rejected(empty):
    with pytest.raises(ValueError, match="empty history"):
        diagnose(empty)


def test_non_history_input_is_a_type_error():
    with pytest.raises(TypeError, match="Received: list"):
        diagnose([0.5, 0.4])


def test_non_numeric_values_name_the_key():
    with pytest.raises(TypeError, match=r"history\['val_loss'\]"):
        diagnose({"loss": [1.0], "val_loss": ["high"]})


def test_lists_of_different_lengths_are_rejected_with_the_likely_cause():
    with pytest.raises(ValueError, match="validation_freq"):
        diagnose({"loss": [1.0, 0.9, 0.8, 0.7], "val_loss": [1.0, 0.9]})


@pytest.mark.parametrize("patience", [-1, 1.5, True, "2"])
def test_bad_patience_is_rejected(patience):
    with pytest.raises(ValueError, match="patience"):
        diagnose({"loss": [1.0], "val_loss": [1.0]}, patience=patience)


def test_bad_min_delta_is_rejected():
    with pytest.raises(ValueError, match="min_delta"):
        diagnose({"loss": [1.0], "val_loss": [1.0]}, min_delta="0.1")


def test_nan_validation_epochs_are_skipped_for_the_best_epoch():
    report = diagnose({"loss": [1.0, 0.8, 0.6], "val_loss": [1.0, math.nan, 0.9]})
    assert report.best_epoch == 3


def test_all_nan_validation_loss_is_reported_as_divergence():
    with pytest.raises(ValueError, match="NaN"):
        diagnose({"loss": [1.0, 2.0], "val_loss": [math.nan, math.nan]})


def test_final_gap_ratio_is_none_when_training_loss_is_not_positive():
    assert diagnose({"loss": [0.5, 0.0], "val_loss": [0.6, 0.1]}).final_gap_ratio is None


def test_diagnosis_is_frozen():
    report = diagnose({"loss": [1.0], "val_loss": [1.0]})
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.best_epoch = 3


def test_to_dict_is_strict_json():
    report = diagnose({"loss": FALLING, "val_loss": U_SHAPED_VAL})
    decoded = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert decoded["best_epoch"] == 6
    assert decoded["overfitting_epoch"] == 7
    assert decoded["verdict"] == report.verdict
    assert set(decoded) == {field.name for field in dataclasses.fields(Diagnosis)}


def test_to_dict_turns_non_finite_numbers_into_none():
    report = diagnose({"loss": [1.0, 0.5], "val_loss": [1.0, math.inf]})
    assert report.to_dict()["final_gap"] is None
    json.dumps(report.to_dict(), allow_nan=False)


def test_str_is_an_aligned_block():
    text = str(diagnose({"loss": FALLING, "val_loss": U_SHAPED_VAL}))
    lines = text.splitlines()
    assert lines[0] == "Diagnosis"
    names = ["epochs run", "best epoch", "overfitting", "final gap", "early stopping"]
    width = max(len(name) for name in names)
    for row, name in zip(lines[1:6], names):
        # Every value starts in the same column, after the padded name and two spaces.
        assert row.startswith("  " + name.ljust(width) + "  ")
        assert row[4 + width] != " "
    assert "from epoch 7" in text
    assert "epoch 8 (patience=2), saving 2 epochs" in text
    # The verdict follows the rows, wrapped to terminal width and indented like them.
    verdict_lines = lines[6:]
    assert verdict_lines[0].strip().startswith("Overfitting from epoch 7")
    assert all(line.startswith("  ") and len(line) <= 90 for line in verdict_lines)
    assert " ".join(line.strip() for line in verdict_lines) == diagnose(
        {"loss": FALLING, "val_loss": U_SHAPED_VAL}).verdict


def test_summary_rows_are_the_rows_of_str():
    report = diagnose({"loss": FALLING, "val_loss": U_SHAPED_VAL})
    rows = report.summary_rows()
    assert [name for name, _value in rows] == ["epochs run", "best epoch", "overfitting", "final gap",
                                               "early stopping"]
    text = str(report)
    assert all(value in text for _name, value in rows)


def test_early_stop_before_the_best_epoch_is_called_out():
    # Noisy validation loss: two bad epochs after epoch 2 stop patience=2 at epoch 4, but the
    # best epoch comes later (6), so the "saved" epochs would have lost the best model.
    report = diagnose({"loss": [1.0, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.25],
                       "val_loss": [1.0, 0.7, 0.75, 0.72, 0.65, 0.6, 0.62, 0.64, 0.66]}, patience=2)
    assert (report.best_epoch, report.early_stopping_epoch) == (6, 4)
    assert "but before the best epoch (6)" in report.verdict
    assert "improved again later, so a larger patience would reach the best epoch" in report.verdict
    assert dict(report.summary_rows())["early stopping"].endswith("before the best epoch")


def test_run_that_early_stopping_ended_is_not_said_to_save_epochs():
    # What History holds after EarlyStopping(patience=2) stopped at epoch 5.
    report = diagnose({"loss": [1.0, 0.8, 0.6, 0.5, 0.4], "val_loss": [1.0, 0.8, 0.7, 0.75, 0.72]})
    assert (report.early_stopping_epoch, report.epochs_saved) == (5, 0)
    assert report.verdict.endswith("EarlyStopping(patience=2) stops at epoch 5, the last epoch of this run.")
    assert "saving" not in str(report)


def test_early_stop_after_the_best_epoch_is_not_called_out():
    report = diagnose({"loss": FALLING, "val_loss": U_SHAPED_VAL})
    assert report.early_stopping_epoch > report.best_epoch
    assert "before the best epoch" not in report.verdict


@pytest.fixture(scope="module")
def keras_early_stopping():
    """Real Keras EarlyStopping class, the behavioural oracle (torch backend)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    return keras.callbacks.EarlyStopping


def keras_stop_epoch(early_stopping_class, val_loss, patience, min_delta):
    """Drive Keras's EarlyStopping with scripted values; return the 1-based stop epoch or None."""
    callback = early_stopping_class(monitor="val_loss", patience=patience, min_delta=min_delta)
    model = types.SimpleNamespace(stop_training=False)
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(val_loss):
        callback.on_epoch_end(epoch, {"val_loss": value})
        if model.stop_training:
            return epoch + 1
    return None


# Multiples of 1/8 are exact in float32, which Keras's comparison ops use.
dyadic = st.integers(min_value=0, max_value=16).map(lambda n: n / 8)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    val_loss=st.lists(dyadic, min_size=1, max_size=12),
    patience=st.integers(min_value=0, max_value=4),
    min_delta=st.sampled_from([0.0, 0.125, 0.25, -0.125]),
)
def test_early_stopping_epoch_matches_real_keras(keras_early_stopping, val_loss, patience, min_delta):
    expected = keras_stop_epoch(keras_early_stopping, val_loss, patience, min_delta)
    history = {"loss": [1.0] * len(val_loss), "val_loss": val_loss}
    assert diagnose(history, patience=patience, min_delta=min_delta).early_stopping_epoch == expected
