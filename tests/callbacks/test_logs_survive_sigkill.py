"""CSVLogger and TensorBoard append to their files as training goes (as Keras's do, so that `tail -f`
and a running `tensorboard` see each epoch), rather than replacing them: each epoch is one flushed
write. A process killed with SIGKILL at random moments leaves files whose every row and event is whole."""
from __future__ import annotations

import csv
import math
import random
import time

from tensorboard.backend.event_processing import event_accumulator  # the `tensorboard` test extra

from training_workers import forkserver, log_every_epoch

KILLS = 3
COLUMNS = ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]


def test_csv_rows_and_tensorboard_events_are_whole_after_sigkill(tmp_path):
    context = forkserver()
    rng = random.Random(6)
    for attempt in range(KILLS):
        csv_path, log_dir = tmp_path / f"log{attempt}.csv", tmp_path / f"board{attempt}"
        queue = context.Queue()
        process = context.Process(target=log_every_epoch, args=(str(csv_path), str(log_dir), queue))
        process.start()
        epochs_before_kill = rng.randint(2, 8)
        while queue.get(timeout=120)[1] < epochs_before_kill:
            pass
        time.sleep(rng.uniform(0, 0.004))  # lands anywhere in the following epoch or its writes
        process.kill()
        process.join(timeout=60)
        assert process.exitcode == -9

        with open(csv_path, newline="") as file:
            rows = list(csv.reader(file))
        assert rows[0] == COLUMNS
        epochs = [int(row[0]) for row in rows[1:]]
        assert epochs == list(range(len(epochs))) and len(epochs) > epochs_before_kill
        for row in rows[1:]:  # a cut row would have too few cells, or a number cut short
            assert len(row) == len(COLUMNS) and all(math.isfinite(float(cell)) for cell in row)

        board = event_accumulator.EventAccumulator(str(log_dir / "train"), size_guidance={"scalars": 0})
        board.Reload()
        steps = [event.step for event in board.Scalars("epoch_loss")]
        assert steps == list(range(len(steps))) and len(steps) >= epochs_before_kill
