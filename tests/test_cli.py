"""The `epochal` command line through its real entry points: exit codes 0 / 1 / 2 for every command.

Every command runs at least once through the installed `epochal` console script (`run_script`), and
`python -m epochal` once; the error matrix calls `main()` in-process, which is what both entry points
run, to keep the suite fast. (`epochal tutorial --quick` runs end to end in tests/test_tutorial.py.)
"""
from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from html.parser import HTMLParser
from pathlib import Path

import pytest

from epochal import cli, report

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "keras"
SEED_MODEL_PARAMS = "Total params: 79,510"
OVERFITTING = {"loss": [0.9, 0.7, 0.5, 0.4, 0.3, 0.2], "val_loss": [1.0, 0.8, 0.7, 0.75, 0.8, 0.9]}
IMPROVING = {"loss": [0.9, 0.7, 0.5], "val_loss": [1.0, 0.8, 0.7]}


def run_module(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "epochal", *args], capture_output=True, text=True,
                          encoding="utf-8", cwd=cwd, timeout=300)


def console_script() -> Path:
    """The `epochal` script that `pip install` generated from [project.scripts]."""
    script = Path(sysconfig.get_path("scripts")) / "epochal"
    assert script.is_file(), "epochal is not installed: run `pip install -e .`"
    return script


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(console_script()), *args], capture_output=True, text=True, encoding="utf-8",
                          timeout=300)


def assert_one_line_error(stderr: str, command: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"epochal {command}: error: ")
    assert "Traceback" not in stderr


# ---------------------------------------------------------------------------------- entry points
def test_installed_console_script_runs_main():
    completed = run_script("--help")
    assert completed.returncode == 0
    for command in ("tutorial", "train", "plot", "inspect"):
        assert command in completed.stdout


def test_console_script_bad_usage_is_2_and_failure_is_1_without_traceback(tmp_path):
    usage = run_script("plot")
    assert usage.returncode == 2 and "usage: epochal plot" in usage.stderr
    failure = run_script("plot", str(tmp_path / "gone.json"))
    assert failure.returncode == 1
    assert_one_line_error(failure.stderr, "plot")


def test_module_entry_point_reports_failure_in_one_line(tmp_path):
    completed = run_module("inspect", str(tmp_path / "missing.keras"))
    assert completed.returncode == 1
    assert_one_line_error(completed.stderr, "inspect")
    assert "missing.keras" in completed.stderr


def test_module_entry_point_reports_bad_usage_with_code_2():
    completed = run_module("train", "--epochs", "zero")
    assert completed.returncode == 2
    assert "usage: epochal train" in completed.stderr and "--epochs" in completed.stderr


@pytest.mark.parametrize("command", [[], ["tutorial"], ["train"], ["plot"], ["inspect"]])
def test_every_command_has_help(command, capsys):
    assert cli.main([*command, "--help"]) == 0
    assert "usage: epochal" in capsys.readouterr().out


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("epochal ")


# ---------------------------------------------------------------------------------- bad usage: 2
@pytest.mark.parametrize("argv, message", [
    ([], "usage: epochal"),
    (["nope"], "invalid choice"),
    (["tutorial", "--epochs", "0"], "positive integer"),
    (["train", "--dropout", "1.5"], "rate in [0, 1)"),
    (["train", "--learning-rate", "-1"], "positive number"),
    (["train", "--optimizer", "adamm"], "Did you mean 'adam'"),
    (["train", "--dataset", "cifar"], "invalid choice"),
    (["train", "--dataset", "mnist", "--subset"], "--subset exists only for fashion_mnist"),
    (["plot"], "required: HISTORY"),
    (["plot", "a.json", "--dpi", "0"], "positive integer"),
    (["plot", "a.json", "--labels", "a", "b"], "one label per history file: 1 files but 2 labels"),
    (["train", "--threads", "0"], "positive integer"),
    (["inspect"], "required: FILE"),
])
def test_bad_usage_exits_2(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------------------------- failures: 1
def write_history(path: Path, history: dict, label: str = "") -> Path:
    return report.write_text_atomic(path, report.history_to_json(history, label))


@pytest.mark.parametrize("content", ["{broken", '{"loss": "abc"}'])
def test_plot_of_unreadable_history_fails_in_one_line(tmp_path, content, capsys):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert cli.main(["plot", str(path), "--out", str(tmp_path / "c.png")]) == 1
    assert_one_line_error(capsys.readouterr().err, "plot")
    assert not (tmp_path / "c.png").exists()


def test_plot_of_missing_metric_fails_naming_the_keys(tmp_path, capsys):
    path = write_history(tmp_path / "h.json", IMPROVING)
    assert cli.main(["plot", str(path), "--metrics", "accuracy", "--out", str(tmp_path / "c.png")]) == 1
    err = capsys.readouterr().err
    assert_one_line_error(err, "plot")
    assert "'accuracy'" in err


def test_plot_of_a_missing_file_names_it(tmp_path, capsys):
    assert cli.main(["plot", str(tmp_path / "gone.json"), "--out", str(tmp_path / "c.png")]) == 1
    err = capsys.readouterr().err
    assert_one_line_error(err, "plot")
    assert "No such history file" in err and "gone.json" in err


def test_plot_of_a_binary_file_says_it_is_not_a_history(tmp_path, capsys):
    path = tmp_path / "model.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)))
    assert cli.main(["plot", str(path), "--out", str(tmp_path / "c.png")]) == 1
    err = capsys.readouterr().err
    assert_one_line_error(err, "plot")
    assert "not a history file" in err and "codec" not in err


def test_inspect_of_a_file_that_is_not_a_model_fails(tmp_path, capsys):
    path = tmp_path / "notes.h5"
    path.write_text("not an HDF5 file")
    assert cli.main(["inspect", str(path)]) == 1
    assert_one_line_error(capsys.readouterr().err, "inspect")


@pytest.mark.parametrize("name, optimizer_note", [
    ("k3_seed_dropout_adam.weights.h5", "optimizer arrays"),  # Keras 3 layout, with optimizer slots
    ("tk2_seed_rmsprop_weights.h5", None),  # tf.keras 2 legacy layout
])
def test_inspect_of_a_weights_only_file_lists_its_arrays(name, optimizer_note, capsys):
    assert cli.main(["inspect", str(FIXTURES / name)]) == 0
    out = capsys.readouterr().out
    assert "weights only" in out and "load_weights" in out
    assert "(784, 100)" in out and "78,400" in out
    assert "Total: 79,510 parameters in 4 arrays" in out
    assert (optimizer_note in out) if optimizer_note else ("optimizer" not in out.split("\n", 1)[1])


def test_inspect_of_a_folder_fails_in_one_line(tmp_path, capsys):
    assert cli.main(["inspect", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert_one_line_error(err, "inspect")
    assert "is a folder" in err


@pytest.mark.parametrize("command", ["train", "tutorial"])
def test_out_that_is_a_file_fails_before_training(command, tmp_path, monkeypatch, capsys):
    from epochal import tutorial

    def must_not_train(*args, **kwargs):
        raise AssertionError("--out is checked before any data is loaded")

    monkeypatch.setattr(tutorial, "load_fashion_mnist", must_not_train)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    assert cli.main([command, "--quick", "--out", str(not_a_folder)]) == 1
    err = capsys.readouterr().err
    assert_one_line_error(err, command)
    assert f"--out '{not_a_folder}' is a file, not a folder" in err


def test_help_texts_state_the_real_defaults(capsys):
    assert cli.main(["tutorial", "--help"]) == 0
    tutorial_help = " ".join(capsys.readouterr().out.split())
    assert "or 20 with --quick" not in tutorial_help and "few epochs" not in tutorial_help
    assert "first 3000 images" in tutorial_help
    assert cli.main(["train", "--help"]) == 0
    assert "%%" not in capsys.readouterr().out


def test_training_uses_one_thread_unless_told(monkeypatch):
    import torch

    chosen = []
    monkeypatch.setattr(torch, "set_num_threads", chosen.append)
    parser = cli.build_parser()
    for argv in (["train"], ["tutorial"], ["train", "--threads", "3"]):
        cli._use_threads(parser.parse_args(argv))
    assert chosen == [1, 1, 3]


def test_multi_line_errors_become_one_line_and_debug_shows_all(tmp_path, monkeypatch, capsys):
    from epochal.datasets import DatasetNotFoundError, mnist

    def not_found(*args, **kwargs):
        raise DatasetNotFoundError("MNIST was not found. Searched:\n  /a\n  /b")

    monkeypatch.setattr(mnist, "load_data", not_found)
    assert cli.main(["train", "--dataset", "mnist", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert_one_line_error(err, "train")
    assert "MNIST was not found. Searched: (run with --debug for details)" in err
    assert cli.main(["train", "--dataset", "mnist", "--out", str(tmp_path / "run"), "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "/b" in err


# ---------------------------------------------------------------------------------- plot: 0
def test_plot_compares_json_and_csv_histories(tmp_path):
    first = write_history(tmp_path / "rmsprop.json", OVERFITTING, "rmsprop")
    second = report.write_text_atomic(tmp_path / "adam.csv", report.history_to_csv(IMPROVING))
    out = tmp_path / "figures" / "compare.png"
    completed = run_script("plot", str(first), str(second), "--out", str(out), "--metrics", "loss", "val_loss",
                           "--title", "rmsprop vs adam", "--dpi", "50")
    assert completed.returncode == 0, completed.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out}" in completed.stdout
    assert "rmsprop: Overfitting from epoch 4" in completed.stdout
    assert "adam: No overfitting" in completed.stdout


def test_plot_labels_files_that_share_a_name_by_path(tmp_path, capsys):
    paths = [write_history(tmp_path / run / "history.json", IMPROVING) for run in ("a", "b")]
    assert cli.main(["plot", *map(str, paths), "--out", str(tmp_path / "c.png"), "--dpi", "30"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "a" / "history") + ":" in out and str(tmp_path / "b" / "history") + ":" in out


# ---------------------------------------------------------------------------------- inspect: 0
KERAS_MODEL_FILES = sorted(path.name for pattern in ("*.keras", "*.h5") for path in FIXTURES.glob(pattern)
                           if "weights" not in path.name)


def test_fixtures_hold_keras_3_and_tf_keras_2_models():
    assert {"k3_seed_rmsprop.keras", "k3_seed_dropout_adam.h5", "tk2_seed_rmsprop.h5"} <= set(KERAS_MODEL_FILES)


@pytest.mark.parametrize("name", KERAS_MODEL_FILES)
def test_inspect_prints_the_summary_of_keras_made_files(name, capsys):
    assert cli.main(["inspect", str(FIXTURES / name)]) == 0
    out = capsys.readouterr().out
    assert SEED_MODEL_PARAMS in out and "Dense" in out and name in out
    assert ("Dropout" in out) == ("dropout" in name)


def test_inspect_through_the_console_script():
    completed = run_script("inspect", str(FIXTURES / "k3_seed_dropout_adam.keras"))
    assert completed.returncode == 0, completed.stderr
    assert SEED_MODEL_PARAMS in completed.stdout and "Dropout" in completed.stdout


# ---------------------------------------------------------------------------------- train: 0
@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """`epochal train --quick --subset ...` (the console script), run once for the tests below."""
    out = tmp_path_factory.mktemp("train") / "adam-dropout"
    completed = run_script("train", "--quick", "--subset", "--epochs", "3", "--dropout", "0.3", "--optimizer",
                           "adam", "--learning-rate", "0.002", "--patience", "1", "--hidden", "64",
                           "--batch-size", "64", "--out", str(out))
    return completed, out


def test_train_writes_model_history_curves_and_report(trained_run):
    completed, out = trained_run
    assert completed.returncode == 0, completed.stderr
    for name in ("model.keras", "model.h5", "history.json", "history.csv", "loss.png", "accuracy.png",
                 "report.html"):
        assert (out / name).is_file(), name
    assert "built-in subset" in completed.stdout and "Diagnosis" in completed.stdout
    document = json.loads((out / "history.json").read_text())
    assert document["label"] == "adam-dropout"
    assert document["config"]["optimizer"] == "adam" and document["config"]["learning_rate"] == 0.002
    assert document["config"]["dropout"] == 0.3 and document["config"]["hidden"] == 64
    epochs = len(document["history"]["loss"])
    assert 1 <= epochs <= 3
    assert set(document["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    csv_lines = (out / "history.csv").read_text().splitlines()
    assert csv_lines[0].split(",") == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert len(csv_lines) == 1 + epochs


def test_train_report_embeds_both_figures(trained_run):
    _completed, out = trained_run
    sources = []

    class Images(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "img":
                sources.append(dict(attrs)["src"])

    Images().feed((out / "report.html").read_text(encoding="utf-8"))
    assert len(sources) == 2 and all(source.startswith("data:image/png;base64,") for source in sources)


def test_inspect_and_plot_read_what_train_wrote(trained_run):
    _completed, out = trained_run
    completed = run_script("inspect", str(out / "model.keras"))
    assert completed.returncode == 0, completed.stderr
    assert "Dropout" in completed.stdout and "Total params: 50,890" in completed.stdout  # 784*64+64 + 64*10+10
    assert cli.main(["inspect", str(out / "model.h5")]) == 0
    assert cli.main(["plot", str(out / "history.json"), str(out / "history.csv"), "--labels", "json", "csv",
                     "--out", str(out / "both.png"), "--dpi", "30"]) == 0


def test_train_without_full_data_uses_the_subset_and_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    from epochal.datasets import download, sources

    monkeypatch.setenv("EPOCHAL_DATA", str(tmp_path / "empty-epochal"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras"))
    monkeypatch.setattr(sources, "SYSTEM_DATASETS_DIR", tmp_path / "empty-system")

    def no_download(*args, **kwargs):
        raise AssertionError("the command line never downloads Fashion-MNIST")

    monkeypatch.setattr(download, "download_file", no_download)
    assert cli.main(["train", "--quick", "--epochs", "1", "--out", str(tmp_path / "run")]) == 0
    lines = capsys.readouterr().out.splitlines()
    mentions = [line for line in lines if "subset" in line]
    assert len(mentions) == 1, mentions
    assert mentions[0].startswith("Fashion-MNIST: full data not found on this machine, using the built-in subset")
    assert "apt-get install dataset-fashion-mnist" in mentions[0]
    assert json.loads((tmp_path / "run" / "history.json").read_text())["config"]["epochs"] == 1
