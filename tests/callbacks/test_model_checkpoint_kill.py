"""A process killed with SIGKILL while ModelCheckpoint saves after every batch leaves a checkpoint
that loads: every file is written to a temporary file and moved into place in one step."""
from __future__ import annotations

import random
import time

import numpy as np
import pytest

import epochal as keras
from training_workers import checkpoint_every_batch, data, dropout_model, forkserver

KILLS_PER_FORMAT = 3


@pytest.mark.parametrize("name", ["model.keras", "model.h5", "model.weights.h5"])
def test_checkpoint_loads_after_sigkill_at_random_moments(tmp_path, name):
    context = forkserver()
    rng = random.Random(name)
    path = tmp_path / name
    probe = data(4)[0]
    for _ in range(KILLS_PER_FORMAT):
        queue = context.Queue()
        process = context.Process(target=checkpoint_every_batch, args=(str(path), queue))
        process.start()
        saves_before_kill = rng.randint(1, 5)
        while queue.get(timeout=120)[0] != "saved" or (saves_before_kill := saves_before_kill - 1):
            pass
        time.sleep(rng.uniform(0, 0.004))  # lands anywhere in the following batch or save
        process.kill()
        process.join(timeout=60)
        assert process.exitcode == -9
        if name.endswith(".weights.h5"):
            model = dropout_model()
            model.load_weights(path)
        else:
            model = keras.models.load_model(path)
        assert np.isfinite(model.predict(probe, verbose=0)).all()
