"""epochal.report: the self-contained HTML report and the history files."""
from __future__ import annotations

import base64
import json
import math
from html.parser import HTMLParser
from pathlib import Path

import pytest

from epochal import report
from epochal.plotting import plot_history, save_figure

OVERFITTING = {"loss": [0.9, 0.7, 0.5, 0.4, 0.3, 0.2], "val_loss": [1.0, 0.8, 0.7, 0.75, 0.8, 0.9],
               "accuracy": [0.6, 0.7, 0.8, 0.85, 0.9, 0.95], "val_accuracy": [0.55, 0.65, 0.7, 0.69, 0.68, 0.66]}
IMPROVING = {"loss": [0.9, 0.7, 0.5], "val_loss": [1.0, 0.8, 0.7]}


class PageParser(HTMLParser):
    """Collects what the tests look at: images, links, tables (rows of cells) and text."""

    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.external: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None

    @property
    def rows(self) -> list[list[str]]:
        """Rows of the first table: the comparison of the runs."""
        return self.tables[0]

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "img":
            self.images.append(attributes.get("src", ""))
        for name in ("href", "src"):
            if name in attributes and not attributes[name].startswith("data:"):
                self.external.append(attributes[name])
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self.tables[-1].append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture
def png(tmp_path) -> Path:
    return save_figure(plot_history(OVERFITTING), tmp_path / "curves.png", dpi=30)


def test_report_embeds_figures_and_references_nothing_outside(png):
    section = report.Section("Loss curve", ["Training loss falls."], "epoch 1 ...", [(png, "The curves")])
    page = parse(report.render_report("Demo", [section], [report.RunSummary("rmsprop", OVERFITTING)]))
    assert len(page.images) == 1 and page.external == []
    prefix = "data:image/png;base64,"
    assert page.images[0].startswith(prefix)
    assert base64.b64decode(page.images[0][len(prefix):]) == png.read_bytes()


def test_comparison_table_has_a_row_per_run_with_its_diagnosis():
    runs = [report.RunSummary("rmsprop", OVERFITTING, "no dropout"), report.RunSummary("adam", IMPROVING)]
    page = parse(report.render_report("Demo", runs=runs))
    header, *rows = page.rows
    assert header[0] == "Run" and "Best epoch (val_loss)" in header and "Overfitting from" in header
    assert [row[0] for row in rows] == ["rmsprop", "adam"]
    column = dict(zip(header, rows[0]))
    assert column["Best epoch (val_loss)"] == "3 (0.7000)"
    assert column["Overfitting from"] == "epoch 4"
    assert column["EarlyStopping (patience=2) stops at"] == "5"
    assert column["Final val_accuracy"] == "0.6600" and column["Best val_accuracy"] == "0.7000"
    text = "".join(page.text)
    assert "Overfitting from epoch 4" in text  # rmsprop's verdict
    assert "validation loss was still improving" in text  # adam's verdict


def test_each_diagnosis_shows_its_verdict_once_and_its_figures_as_a_table():
    page_text = report.render_report("Demo", runs=[report.RunSummary("rmsprop", OVERFITTING)])
    page = parse(page_text)
    verdict = report.RunSummary("rmsprop", OVERFITTING).diagnosis().verdict
    assert page_text.count(verdict.split(".")[0]) == 1
    facts = dict(page.tables[1])
    assert facts["best epoch"] == "3 (val_loss 0.7)" and facts["overfitting"] == "from epoch 4"


def test_wide_table_scrolls_and_long_lines_wrap():
    page_text = report.render_report("Demo", [report.Section("Log", output="x" * 500)],
                                     runs=[report.RunSummary("rmsprop", OVERFITTING)])
    assert '<div class="table-scroll"><table>' in page_text
    assert "white-space: pre-wrap" in page_text


def test_run_without_validation_is_reported_not_diagnosed():
    page = parse(report.render_report("Demo", runs=[report.RunSummary("short", {"loss": [0.5, 0.4]})]))
    assert page.rows[1][:3] == ["short", "", "2"]
    assert "cannot be diagnosed" in "".join(page.text)


def test_text_is_escaped_not_interpreted():
    section = report.Section("<script>alert(1)</script>", ["a < b & c"], "<b>output</b>")
    page_text = report.render_report("x <y>", [section])
    assert "<script>" not in page_text and "&lt;script&gt;" in page_text
    assert "a &lt; b &amp; c" in page_text


def test_png_data_uri_refuses_other_files(tmp_path):
    fake = tmp_path / "figure.png"
    fake.write_text("not an image")
    with pytest.raises(ValueError, match="not a PNG"):
        report.png_data_uri(fake)


def test_write_report_is_atomic_and_leaves_no_temporary_file(tmp_path, png):
    path = report.write_report(tmp_path / "out" / "report.html", "Demo", [report.Section("A", figures=[(png, "c")])])
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.html"]


def test_write_report_failure_keeps_previous_file(tmp_path):
    target = report.write_text_atomic(tmp_path / "report.html", "old")
    with pytest.raises(FileNotFoundError):
        report.write_report(target, "Demo", [report.Section("A", figures=[(tmp_path / "missing.png", "c")])])
    assert target.read_text() == "old"


# ---------------------------------------------------------------------------------- history files
def test_unwritable_report_names_the_report_not_the_temporary_file(tmp_path, monkeypatch):
    def refuse(name, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(name))

    import epochal.utils.atomic_files as atomic_files

    monkeypatch.setattr(atomic_files, "open", refuse, raising=False)
    path = tmp_path / "report.html"
    with pytest.raises(PermissionError, match=r"^Cannot write '.*report\.html': Permission denied$"):
        report.write_report(path, "Demo")
    assert list(tmp_path.iterdir()) == []


def test_binary_file_is_not_a_history(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(ValueError, match="not a history file: it is binary"):
        report.read_history(path)


def test_history_json_round_trip_keeps_metrics_epochs_and_label(tmp_path):
    path = report.write_text_atomic(tmp_path / "run.json",
                                    report.history_to_json(OVERFITTING, "rmsprop", {"epochs": 6}))
    document = json.loads(path.read_text())
    assert document["format"] == report.HISTORY_FORMAT and document["config"] == {"epochs": 6}
    history, label = report.read_history(path)
    assert label == "rmsprop"
    assert history.history == OVERFITTING and history.epoch == list(range(6))


def test_history_json_writes_nan_as_null_and_reads_it_back(tmp_path):
    path = report.write_text_atomic(tmp_path / "run.json", report.history_to_json({"loss": [0.5, math.nan]}))
    assert json.loads(path.read_text())["history"]["loss"] == [0.5, None]
    history, label = report.read_history(path)
    assert history.history["loss"][0] == 0.5 and math.isnan(history.history["loss"][1])
    assert label == "run"


def test_history_keeps_a_history_objects_epoch_numbers(tmp_path):
    from epochal.callbacks import History

    history = History()
    history.on_train_begin()
    for epoch, loss in [(3, 0.5), (4, 0.4)]:  # fit(initial_epoch=3)
        history.on_epoch_end(epoch, {"loss": loss})
    assert json.loads(report.history_to_json(history))["epoch"] == [4, 5]
    assert report.history_to_csv(history).splitlines()[1:] == ["3,0.5", "4,0.4"]


def test_history_csv_round_trip(tmp_path):
    path = report.write_text_atomic(tmp_path / "log.csv", report.history_to_csv(IMPROVING))
    assert path.read_text().splitlines()[0] == "epoch,loss,val_loss"
    history, label = report.read_history(path)
    assert history.history == IMPROVING and label == "log"


def test_plain_json_dump_of_history_is_accepted(tmp_path):
    path = tmp_path / "keras_history.json"
    path.write_text(json.dumps(IMPROVING))
    history, label = report.read_history(path)
    assert history.history == IMPROVING and label == "keras_history"


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not a training history"),
    ('{"history": 3}', "not a training history"),
    ('{"loss": "abc"}', "list of numbers"),
    ("{}", "empty history"),
])
def test_unreadable_history_json_raises_value_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        report.read_history(path)


def test_unreadable_history_csv_raises_value_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("epoch,loss\n0,abc\n")
    with pytest.raises(ValueError, match="must hold numbers"):
        report.read_history(path)
