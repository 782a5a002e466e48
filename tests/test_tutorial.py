"""epochal.tutorial: the seed lesson's helpers, and `epochal tutorial --quick` end to end."""
from __future__ import annotations

import base64
import json
import re
import struct
import subprocess
import sysconfig
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

import epochal as keras
from epochal import tutorial

FIGURES = [
    "01-loss.png", "02-loss-accuracy.png", "03-train-val-loss-rmsprop.png", "04-train-val-loss-adam.png",
    "05-rmsprop-vs-adam.png", "06-train-val-loss-dropout.png", "07-dropout-vs-none.png", "08-checkpoint.png",
    "09-early-stopping.png", "10-all-runs-val-loss.png",
]
MODEL_FILES = ["model-weight.h5", "model-whole.h5", "best-model.h5"]
RUNS = [f"rmsprop-{tutorial.QUICK_SHORT_RUN_EPOCHS}-epochs", f"rmsprop-{tutorial.QUICK_EPOCHS}-epochs", "rmsprop",
        "adam", "adam-dropout", "checkpoint", "early-stopping"]
KOREAN_HEADINGS = ["신경망 모델 훈련", "손실 곡선", "과적합 감소를 위한 드롭아웃", "모델 저장과 복원", "콜백", "조기종료 콜백"]


# ---------------------------------------------------------------------------------- the lesson's code
@pytest.mark.parametrize("count", [10, 11, 101, 1000])
@pytest.mark.parametrize("validation_size, seed", [(0.2, 42), (0.25, 0), (0.33, 7)])
def test_split_matches_scikit_learn_train_test_split(count, validation_size, seed):
    x = np.arange(count * 2).reshape(count, 2)
    y = np.arange(count)
    ours = tutorial.train_validation_split(x, y, validation_size=validation_size, seed=seed)
    theirs = train_test_split(x, y, test_size=validation_size, random_state=seed)
    for mine, reference in zip(ours, theirs):
        np.testing.assert_array_equal(mine, reference)


@pytest.mark.parametrize("x, y, size, message", [
    (np.zeros(5), np.zeros(4), 0.2, "as many targets as samples"),
    (np.zeros(5), np.zeros(5), 1.0, "between 0 and 1"),
    (np.zeros(5), np.zeros(5), 0.0, "between 0 and 1"),
    (np.zeros(1), np.zeros(1), 0.5, "one side would be empty"),
])
def test_split_rejects_bad_arguments(x, y, size, message):
    with pytest.raises(ValueError, match=message):
        tutorial.train_validation_split(x, y, validation_size=size)


def test_model_create_builds_the_notes_model():
    plain = tutorial.model_create()
    with_dropout = tutorial.model_create(keras.layers.Dropout(0.3))
    assert [type(layer).__name__ for layer in plain.layers] == ["Flatten", "Dense", "Dense"]
    assert [type(layer).__name__ for layer in with_dropout.layers] == ["Flatten", "Dense", "Dropout", "Dense"]
    assert plain.count_params() == with_dropout.count_params() == 784 * 100 + 100 + 100 * 10 + 10
    assert plain.predict(np.zeros((2, 28, 28), "float32"), verbose=0).shape == (2, 10)


def test_settings_for_quick_and_full_runs(tmp_path):
    quick = tutorial.TutorialSettings.create(tmp_path, quick=True, verbose=0)
    assert (quick.epochs, quick.short_epochs, quick.sample_limit) == (
        tutorial.QUICK_EPOCHS, tutorial.QUICK_SHORT_RUN_EPOCHS, tutorial.QUICK_SAMPLES)
    full = tutorial.TutorialSettings.create(tmp_path, verbose=0)
    assert (full.epochs, full.short_epochs, full.sample_limit, full.dpi) == (20, 5, None, 300)
    assert tutorial.TutorialSettings.create(tmp_path, epochs=2, verbose=0).short_epochs == 2
    with pytest.raises(ValueError, match="positive integer"):
        tutorial.TutorialSettings.create(tmp_path, epochs=0)


def test_forced_subset_says_so_in_one_line():
    (images, labels), note = tutorial.load_fashion_mnist(force_subset=True)
    assert images.shape == (6000, 28, 28) and labels.shape == (6000,)
    assert "subset" in note and "\n" not in note


# ---------------------------------------------------------------------------------- the quick tutorial
# How long --quick takes is measured by benchmarks/tutorial_quick.py, not asserted here.
@pytest.fixture(scope="module")
def quick_tutorial(tmp_path_factory):
    """`epochal tutorial --quick --subset` through the console script, run once for every test below."""
    out = tmp_path_factory.mktemp("tutorial") / "out"
    script = Path(sysconfig.get_path("scripts")) / "epochal"
    assert script.is_file(), "epochal is not installed: run `pip install -e .`"
    completed = subprocess.run([str(script), "tutorial", "--quick", "--subset", "--out", str(out)],
                               capture_output=True, text=True, encoding="utf-8", timeout=600)
    return completed, out


def test_quick_tutorial_succeeds_and_prints_every_step(quick_tutorial):
    completed, _out = quick_tutorial
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    stdout = completed.stdout
    positions = [stdout.index(f"== Step {number}/9:") for number in range(1, 10)]
    assert positions == sorted(positions)
    for heading in KOREAN_HEADINGS:
        assert f"「{heading}」" in stdout
    assert "built-in subset" in stdout
    assert "Epoch 1/" in stdout  # fit's per-epoch progress lines
    assert "Same accuracy: yes." in stdout
    assert "early_stopping_cb.stopped_epoch = " in stdout


def test_quick_tutorial_exits_cleanly(quick_tutorial):
    completed, _out = quick_tutorial
    assert completed.returncode == 0, completed.stderr


def test_quick_tutorial_prints_the_text_of_every_step(quick_tutorial):
    completed, _out = quick_tutorial
    printed = " ".join(completed.stdout.split())  # step texts are wrapped to the terminal
    for key, step in tutorial.STEPS.items():
        assert " ".join(step.text.split()) in printed, key


def test_quick_tutorial_checkpoint_holds_the_best_epoch(quick_tutorial):
    completed, out = quick_tutorial
    lowest = re.search(r"Lowest val_loss in the history: ([0-9.]+) at epoch (\d+)\.", completed.stdout)
    reloaded = re.search(r"load_model\('best-model.h5'\)\.evaluate\(\): val_loss ([0-9.]+),", completed.stdout)
    assert lowest and reloaded, completed.stdout
    assert float(reloaded.group(1)) == pytest.approx(float(lowest.group(1)), abs=2e-4)
    history = json.loads((out / "histories/checkpoint.json").read_text())["history"]
    assert min(history["val_loss"]) == pytest.approx(float(lowest.group(1)), abs=1e-4)
    assert int(lowest.group(2)) == 1 + history["val_loss"].index(min(history["val_loss"]))


def test_quick_tutorial_reports_early_stoppings_stopped_epoch(quick_tutorial):
    completed, out = quick_tutorial
    stopped_epoch = int(re.search(r"early_stopping_cb.stopped_epoch = (\d+)", completed.stdout).group(1))
    epochs_run = len(json.loads((out / "histories/early-stopping.json").read_text())["history"]["loss"])
    # Keras counts stopped_epoch from 0 and leaves it at 0 when training ran to the end.
    assert epochs_run == (stopped_epoch + 1 if stopped_epoch else tutorial.QUICK_EPOCHS)


def test_quick_tutorial_writes_every_promised_file(quick_tutorial):
    _completed, out = quick_tutorial
    expected = FIGURES + MODEL_FILES + ["report.html"] + [f"histories/{run}.json" for run in RUNS]
    missing = [name for name in expected if not (out / name).is_file()]
    assert missing == []
    assert not list(out.rglob("*.tmp"))


def _png_dpi(path: Path) -> float:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset = 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"pHYs":
            per_metre, _y, unit = struct.unpack(">IIB", data[offset + 8:offset + 17])
            assert unit == 1
            return per_metre * 0.0254
        offset += 12 + length
    raise AssertionError(f"{path} has no resolution (pHYs) chunk")


def test_quick_tutorial_figures_are_300_dpi_png(quick_tutorial):
    _completed, out = quick_tutorial
    for name in FIGURES:
        assert _png_dpi(out / name) == pytest.approx(300, abs=0.5)


def test_quick_tutorial_histories_follow_the_settings(quick_tutorial):
    _completed, out = quick_tutorial
    histories = {run: json.loads((out / f"histories/{run}.json").read_text()) for run in RUNS}
    assert len(histories[RUNS[0]]["history"]["loss"]) == tutorial.QUICK_SHORT_RUN_EPOCHS
    for run in RUNS[1:-1]:
        assert len(histories[run]["history"]["loss"]) == tutorial.QUICK_EPOCHS
    assert 1 <= len(histories["early-stopping"]["history"]["loss"]) <= tutorial.QUICK_EPOCHS
    assert "val_loss" not in histories[RUNS[1]]["history"] and "val_loss" in histories["rmsprop"]["history"]


class _Images(HTMLParser):
    """Image sources, and the row count of each table (the first compares the runs)."""

    def __init__(self):
        super().__init__()
        self.sources: list[str] = []
        self.table_rows: list[int] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])
        if tag == "table":
            self.table_rows.append(0)
        if tag == "tr":
            self.table_rows[-1] += 1


def test_quick_tutorial_report_is_self_contained(quick_tutorial):
    _completed, out = quick_tutorial
    page = (out / "report.html").read_text(encoding="utf-8")
    parser = _Images()
    parser.feed(page)
    parser.close()
    assert len(parser.sources) == len(FIGURES)
    prefix = "data:image/png;base64,"
    assert all(source.startswith(prefix) for source in parser.sources)
    embedded = {base64.b64decode(source[len(prefix):]) for source in parser.sources}
    assert embedded == {(out / name).read_bytes() for name in FIGURES}
    assert parser.table_rows[0] == 1 + len(RUNS)  # header + one row per run
    for run in RUNS:
        assert f"Diagnosis: {run}" in page
    assert "모델 저장과 복원" in page
    # --quick trains on part of the data: the report must not let the full data set's size stand alone.
    assert "Used: 2400 training and 600 validation images (--quick)." in page
    assert "not drawn twice" in page  # the overview draws the three distinct models only


def test_quick_tutorial_saved_models_load_back(quick_tutorial):
    _completed, out = quick_tutorial
    whole = keras.models.load_model(str(out / "model-whole.h5"))
    restored = tutorial.model_create(keras.layers.Dropout(0.3))
    restored.load_weights(str(out / "model-weight.h5"))
    probe = np.random.default_rng(0).random((8, 28, 28)).astype("float32")
    np.testing.assert_allclose(whole.predict(probe, verbose=0), restored.predict(probe, verbose=0), atol=1e-6)
    best = keras.models.load_model(str(out / "best-model.h5"))
    assert [type(layer).__name__ for layer in best.layers] == ["Flatten", "Dense", "Dropout", "Dense"]
