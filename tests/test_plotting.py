"""Tests for epochal.plotting: figures are inspected through their artists, files through bytes."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
import types

import matplotlib

matplotlib.use("Agg")  # tests never open windows, whatever the machine has

import matplotlib.pyplot as pyplot  # noqa: E402
import pytest  # noqa: E402

from epochal.plotting import BEST_EPOCH_GID, epoch_ticks, plot_history, save_figure  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HISTORY = {
    "loss": [1.0, 0.7, 0.5, 0.4, 0.35],
    "val_loss": [1.1, 0.8, 0.6, 0.65, 0.7],
    "accuracy": [0.5, 0.6, 0.7, 0.75, 0.8],
    "val_accuracy": [0.45, 0.55, 0.66, 0.64, 0.63],
}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    pyplot.close("all")


def png_size(path) -> tuple[int, int]:
    """Width and height from the PNG header (IHDR is the first chunk)."""
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_MAGIC
    return struct.unpack(">II", header[16:24])


def curves(figure):
    return [line for line in figure.axes[0].get_lines() if line.get_gid() != BEST_EPOCH_GID]


def best_markers(figure):
    return [line for line in figure.axes[0].get_lines() if line.get_gid() == BEST_EPOCH_GID]


def legend_texts(figure):
    return [text.get_text() for text in figure.axes[0].get_legend().get_texts()]


def test_train_and_validation_curves_share_labelled_axes_from_epoch_one():
    figure = plot_history(HISTORY)
    ax = figure.axes[0]
    train, val = curves(figure)
    assert list(train.get_xdata()) == [1, 2, 3, 4, 5]
    assert list(train.get_ydata()) == HISTORY["loss"]
    assert list(val.get_ydata()) == HISTORY["val_loss"]
    assert (train.get_linestyle(), val.get_linestyle()) == ("-", "--")
    assert train.get_color() == val.get_color()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "loss")
    assert legend_texts(figure)[:2] == ["loss", "val_loss"]


def test_epoch_ticks_are_integers():
    figure = plot_history(HISTORY)
    figure.canvas.draw()
    ticks = figure.axes[0].get_xticks()
    assert len(ticks) > 1
    assert all(float(tick).is_integer() for tick in ticks)


@pytest.mark.parametrize("first, last, expected", [
    (1, 1, [1]),
    (1, 5, [1, 2, 3, 4, 5]),
    (1, 11, list(range(1, 12))),
    (1, 12, [1, 5, 10]),
    (1, 20, [1, 5, 10, 15, 20]),
    (1, 50, [1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50]),
    (1, 100, [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]),
    (1, 1000, [1, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]),
    (11, 30, [11, 15, 20, 25, 30]),  # fit(initial_epoch=10)
    (14, 40, [14, 20, 25, 30, 35, 40]),  # 15 would crowd 14, so it is dropped
    (1, 19, [1, 5, 10, 15, 19]),  # EarlyStopping ended the run: its last epoch is labelled
    (1, 17, [1, 5, 10, 15]),  # 17 would crowd 15
    (5, 4, []),
])
def test_epoch_ticks_start_at_the_first_epoch_then_round_numbers(first, last, expected):
    assert epoch_ticks(first, last) == expected


def test_twenty_epochs_are_labelled_from_one():
    history = {"loss": [1.0 / epoch for epoch in range(1, 21)], "val_loss": [1.0] * 20}
    figure = plot_history(history)
    assert list(figure.axes[0].get_xticks()) == [1, 5, 10, 15, 20]


def test_overlaid_runs_put_the_legend_beside_the_axes_not_over_the_curves():
    other = {key: [value * 0.9 for value in values] for key, values in HISTORY.items()}
    single = plot_history(HISTORY)
    overlay = plot_history([HISTORY, other], labels=["rmsprop", "adam"])
    for figure in (single, overlay):
        figure.canvas.draw()
    renderer = overlay.canvas.get_renderer()
    axes_box = overlay.axes[0].get_window_extent(renderer)
    legend_box = overlay.axes[0].get_legend().get_window_extent(renderer)
    assert legend_box.x0 >= axes_box.x1  # beside, so no curve is hidden
    assert overlay.get_size_inches()[0] > single.get_size_inches()[0]  # the plot keeps its width
    single_axes = single.axes[0].get_window_extent(single.canvas.get_renderer())
    assert single.axes[0].get_legend().get_window_extent().x1 <= single_axes.x1  # short legend stays inside


def test_figure_given_by_the_caller_is_not_resized():
    figure, ax = pyplot.subplots(figsize=(5, 3))
    plot_history([HISTORY, HISTORY], labels=["a", "b"], ax=ax)
    assert tuple(figure.get_size_inches()) == (5, 3)


def test_best_epoch_is_marked_at_lowest_validation_loss():
    figure = plot_history(HISTORY)
    (marker,) = best_markers(figure)
    assert (list(marker.get_xdata()), list(marker.get_ydata())) == ([3], [0.6])
    assert marker.get_label() == "best epoch 3 (val_loss 0.6)"
    assert marker.get_label() in legend_texts(figure)


def test_best_epoch_of_accuracy_is_the_highest_validation_value():
    figure = plot_history(HISTORY, metrics=("accuracy", "val_accuracy"))
    (marker,) = best_markers(figure)
    assert (list(marker.get_xdata()), list(marker.get_ydata())) == ([3], [0.66])
    assert figure.axes[0].get_ylabel() == "accuracy"


def test_best_epoch_falls_back_to_training_metric_without_validation():
    figure = plot_history({"loss": [0.9, 0.5, 0.6]}, metrics="loss")
    (marker,) = best_markers(figure)
    assert (list(marker.get_xdata()), list(marker.get_ydata())) == ([2], [0.5])
    # Not called "best epoch": without validation data that would mislead (see the seed's lesson).
    assert marker.get_label() == "lowest loss: epoch 2 (0.5)"


def test_training_accuracy_marker_says_highest():
    figure = plot_history({"loss": [0.9, 0.5], "accuracy": [0.6, 0.8]}, metrics=("loss", "accuracy"))
    assert [marker.get_label() for marker in best_markers(figure)] == [
        "lowest loss: epoch 2 (0.5)", "highest accuracy: epoch 2 (0.8)"]


def test_mark_best_false_draws_no_marker():
    assert best_markers(plot_history(HISTORY, mark_best=False)) == []


def test_single_metric_name_adds_its_validation_twin():
    figure = plot_history(HISTORY, metrics="accuracy")
    assert [line.get_label() for line in curves(figure)] == ["accuracy", "val_accuracy"]


def test_overlay_of_two_histories_has_four_labelled_lines_with_a_colour_each():
    other = {key: [value * 0.9 for value in values] for key, values in HISTORY.items()}
    figure = plot_history([HISTORY, other], labels=["rmsprop", "adam"], mark_best=False)
    lines = figure.axes[0].get_lines()
    assert len(lines) == 4
    expected = ["rmsprop loss", "rmsprop val_loss", "adam loss", "adam val_loss"]
    assert [line.get_label() for line in lines] == expected
    assert legend_texts(figure) == expected
    rmsprop_train, rmsprop_val, adam_train, adam_val = lines
    assert rmsprop_train.get_color() == rmsprop_val.get_color()
    assert adam_train.get_color() == adam_val.get_color() != rmsprop_train.get_color()
    assert [line.get_linestyle() for line in lines] == ["-", "--", "-", "--"]


def test_overlay_marks_best_epoch_per_history():
    other = dict(HISTORY, val_loss=[1.0, 0.9, 0.8, 0.7, 0.75])
    figure = plot_history([HISTORY, other], labels=["rmsprop", "adam"])
    markers = best_markers(figure)
    assert [marker.get_label() for marker in markers] == [
        "rmsprop best epoch 3 (val_loss 0.6)",
        "adam best epoch 4 (val_loss 0.7)",
    ]


def test_overlay_without_labels_numbers_the_runs():
    figure = plot_history([HISTORY, HISTORY], mark_best=False)
    assert [line.get_label() for line in curves(figure)][::2] == ["run 1 loss", "run 2 loss"]


def test_history_object_uses_its_epoch_numbers():
    history = types.SimpleNamespace(history=HISTORY, epoch=[10, 11, 12, 13, 14])
    figure = plot_history(history)
    assert list(curves(figure)[0].get_xdata()) == [11, 12, 13, 14, 15]


def test_plain_dict_and_history_object_draw_the_same_curves():
    from_dict = [list(line.get_ydata()) for line in curves(plot_history(HISTORY))]
    history = types.SimpleNamespace(history=HISTORY, epoch=list(range(5)))
    from_object = [list(line.get_ydata()) for line in curves(plot_history(history))]
    assert from_dict == from_object


def test_draws_into_given_axes_with_title():
    figure, ax = pyplot.subplots()
    returned = plot_history(HISTORY, ax=ax, title="Fashion-MNIST")
    assert returned is figure
    assert ax.get_title() == "Fashion-MNIST"
    assert len(ax.get_lines()) == 3


def test_saves_png_and_dpi_sets_pixel_size(tmp_path):
    low = tmp_path / "low.png"
    high = tmp_path / "high.png"
    figure = plot_history(HISTORY, path=low, dpi=50)
    plot_history(HISTORY, path=high, dpi=100)
    width_inches, height_inches = figure.get_size_inches()
    assert png_size(low) == (round(width_inches * 50), round(height_inches * 50))
    assert png_size(high) == (2 * png_size(low)[0], 2 * png_size(low)[1])


def test_save_creates_missing_folders_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "runs" / "fashion" / "curves.png"
    plot_history(HISTORY, path=str(path), dpi=30)
    plot_history(HISTORY, path=path, dpi=30)  # replacing an existing file
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert os.listdir(path.parent) == ["curves.png"]


def test_default_resolution_is_300_dpi(tmp_path):
    path = tmp_path / "default.png"
    figure = plot_history(HISTORY, path=path)
    width_inches, height_inches = figure.get_size_inches()
    assert png_size(path) == (round(width_inches * 300), round(height_inches * 300))


def test_path_without_suffix_is_saved_as_png(tmp_path):
    path = tmp_path / "curves"
    plot_history(HISTORY, path=path, dpi=30)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_suffix_chooses_the_format(tmp_path):
    path = tmp_path / "curves.svg"
    plot_history(HISTORY, path=path)
    assert b"<svg" in path.read_bytes()[:1000]


def test_failed_save_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "curves.png"
    path.write_bytes(b"previous")
    figure = plot_history(HISTORY)

    def broken_savefig(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        save_figure(figure, path)
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["curves.png"]


def test_unwritable_destination_is_named_not_the_temporary_file(tmp_path, monkeypatch):
    import epochal.utils.atomic_files as atomic_files

    def refuse(name, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(name))

    monkeypatch.setattr(atomic_files, "open", refuse, raising=False)
    path = tmp_path / "curves.png"
    with pytest.raises(PermissionError) as raised:
        plot_history(HISTORY, path=path)
    assert str(raised.value) == f"Cannot write '{path}': Permission denied"
    assert os.listdir(tmp_path) == []


def test_unknown_suffix_lists_the_supported_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown image format 'docx'.*\.png"):
        plot_history(HISTORY, path=tmp_path / "curves.docx")
    assert os.listdir(tmp_path) == []


def test_missing_metric_lists_the_keys_present():
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6]}
    with pytest.raises(ValueError) as raised:
        plot_history(history, metrics=("accuracy", "val_accuracy"))
    message = str(raised.value)
    assert "'accuracy', 'val_accuracy'" in message
    assert "Keys present: 'loss', 'val_loss'" in message


def test_missing_validation_metric_suggests_validation_data():
    with pytest.raises(ValueError, match="validation_data"):
        plot_history({"loss": [1.0, 0.5]})


def test_missing_metric_in_second_history_names_that_history():
    with pytest.raises(ValueError, match="history 'adam'"):
        plot_history([HISTORY, {"loss": [1.0]}], labels=["rmsprop", "adam"], metrics=("loss", "accuracy"))


@pytest.mark.parametrize("empty", [{}, {"loss": [], "val_loss": []}, []])
def test_empty_history_is_rejected(empty):
    with pytest.raises(ValueError, match="empty"):
        plot_history(empty)


def test_labels_must_match_histories():
    with pytest.raises(ValueError, match="one label per history"):
        plot_history([HISTORY, HISTORY], labels=["adam"])


@pytest.mark.parametrize("dpi", [0, -10, "high", True])
def test_bad_dpi_is_rejected(dpi):
    with pytest.raises(ValueError, match="dpi"):
        plot_history(HISTORY, dpi=dpi)


def test_bad_metrics_argument_is_rejected():
    with pytest.raises(ValueError, match="metrics"):
        plot_history(HISTORY, metrics=[])


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(ImportError, match=r'pip install "epochal\[plot\]"'):
        plot_history(HISTORY)


def run_python(code: str, **env: str) -> str:
    hidden = ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")  # behave like a headless server
    environment = {key: value for key, value in os.environ.items() if key not in hidden}
    environment.update(env)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    return result.stdout.strip()


def test_matplotlib_is_imported_only_to_plot_and_gets_agg_on_a_headless_machine():
    # One interpreter for both checks: each fresh one costs seconds.
    code = """
        import sys
        import epochal.plotting, epochal.diagnosis
        print(sorted(name for name in sys.modules if name.split('.')[0] == 'matplotlib'))
        import matplotlib
        epochal.plotting.plot_history({'loss': [1.0, 0.5]}, metrics='loss')
        print(matplotlib.get_backend().lower())
    """
    assert run_python(code).splitlines() == ["[]", "agg"]


def test_backend_chosen_by_the_user_is_kept():
    code = """
        import matplotlib
        matplotlib.use('pdf')
        from epochal.plotting import plot_history
        plot_history({'loss': [1.0, 0.5]}, metrics='loss')
        print(matplotlib.get_backend().lower())
    """
    assert run_python(code) == "pdf"


# ---------------------------------------------------------------------------------- History glue
@pytest.fixture(scope="module")
def fitted_history():
    """The History of a real two-epoch fit on tiny seeded data."""
    import numpy as np

    import epochal as keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4)).astype("float32"), rng.integers(0, 3, 64)
    model = keras.Sequential([keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)


def test_history_plot_draws_and_saves_at_300_dpi(fitted_history, tmp_path):
    path = tmp_path / "curves.png"
    figure = fitted_history.plot(path=path)
    train, val = curves(figure)
    assert list(train.get_xdata()) == [1, 2, 3]
    assert list(val.get_ydata()) == pytest.approx(fitted_history.history["val_loss"])
    assert len(best_markers(figure)) == 1
    width_inches, height_inches = figure.get_size_inches()
    assert png_size(path) == (round(width_inches * 300), round(height_inches * 300))


def test_history_plot_passes_options_through(fitted_history):
    figure = fitted_history.plot(metrics="accuracy", title="accuracy", mark_best=False)
    assert [line.get_label() for line in figure.axes[0].get_lines()] == ["accuracy", "val_accuracy"]
    assert figure.axes[0].get_title() == "accuracy"


def test_history_diagnose_returns_the_diagnosis_of_its_curves(fitted_history):
    from epochal.diagnosis import Diagnosis, diagnose

    report = fitted_history.diagnose(patience=1)
    assert isinstance(report, Diagnosis)
    assert report == diagnose(fitted_history.history, patience=1)
    assert report.epochs_run == 3 and report.patience == 1


def test_package_exports_plot_history():
    import epochal

    assert epochal.plot_history is plot_history
    assert "plot_history" in dir(epochal)
