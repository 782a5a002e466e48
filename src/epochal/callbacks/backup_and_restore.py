"""`BackupAndRestore`: resume an interrupted `fit` exactly where the last backup left it.

The backup holds the weights (and buffers), the optimizer's state, the epoch, every random-number
state training draws from (torch's CPU and CUDA generators, NumPy's and Python's global ones), and
the state of the other callbacks of the fit (EarlyStopping's patience count and best weights,
ReduceLROnPlateau's counters, ModelCheckpoint's best value, how far CSVLogger's file had got). With
the default `save_freq='epoch'`, a run killed at any moment and resumed with the same callbacks ends
with the same weights, bit for bit on the CPU, the same callback decisions and the same CSV log as a
run that was never interrupted. Keras restores only the weights, optimizer and epoch.

The training loop runs BackupAndRestore after every other callback, so that it restores their state
after their `on_train_begin` has reset it, and backs up once they have all seen the epoch.

The file is written with `torch.save` and read with `torch.load(weights_only=True)`: it holds only
tensors, numbers, strings, lists and dicts, so loading it never runs pickled code.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from epochal.callbacks.callback import Callback
from epochal.callbacks.monitor_callback import check_save_freq
from epochal.utils.atomic_files import atomic_write

FORMAT = "epochal.BackupAndRestore"
FORMAT_VERSION = 1
LATEST_FILE = "latest.pt"
PREVIOUS_FILE = "previous.pt"


def _is_temporary_of_a_backup(name: str) -> bool:
    return name.endswith(".tmp") and name.startswith((f".{LATEST_FILE}.", f".{PREVIOUS_FILE}."))


# ------------------------------------------------------------------------------------ random states
def capture_random_states() -> dict[str, Any]:
    """Every global random-number state, as tensors, numbers and lists (no pickled objects)."""
    numpy_state = np.random.get_state()
    python_version, python_internal, python_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"algorithm": numpy_state[0], "keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
                  "position": int(numpy_state[2]), "has_gauss": int(numpy_state[3]),
                  "cached_gaussian": float(numpy_state[4])},
        "python": {"version": python_version, "internal": list(python_internal), "gauss_next": python_gauss},
    }


def restore_random_states(states: dict[str, Any]) -> None:
    """Undo `capture_random_states`: the next random draws repeat the ones that followed the capture."""
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])
    numpy_state = states["numpy"]
    np.random.set_state((numpy_state["algorithm"], numpy_state["keys"].numpy().astype(np.uint32),
                         numpy_state["position"], numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    python_state = states["python"]
    random.setstate((python_state["version"], tuple(python_state["internal"]), python_state["gauss_next"]))


class BackupAndRestore(Callback):
    """Back up the training state regularly, and resume from the backup after an interruption.

    Put it in `callbacks` of a `fit`; if that run dies (crash, SIGKILL, pre-emption), run the same
    `fit` again with a `BackupAndRestore` on the same `backup_dir`: training continues after the last
    completed epoch with the weights, optimizer state and random-number states of that moment.

    Args:
        backup_dir: Folder for the backup; use it for nothing else.
        save_freq: 'epoch' backs up at the end of every epoch (exact resume). An integer backs up
            every `save_freq` batches; as in Keras, the resumed run then redoes the interrupted epoch
            from the mid-epoch weights, which is not bit-identical to an uninterrupted run.
            Defaults to 'epoch'.
        double_checkpoint: Keep the previous backup too and fall back to it if the latest cannot
            be read (a damaged disk; writes themselves are atomic). Defaults to False.
        delete_checkpoint: Delete the backup when training ends normally (including an early
            stop). Defaults to True.

    Raises:
        ValueError: an empty `backup_dir` or a bad `save_freq`; at resume, a backup written for a
            model with other weights.

    Example:
        >>> import os, tempfile, numpy as np, epochal as keras
        >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
        >>> model.compile(loss="mse", optimizer="sgd")
        >>> backup_dir = os.path.join(tempfile.mkdtemp(), "backup")
        >>> backup = BackupAndRestore(backup_dir=backup_dir)
        >>> history = model.fit(np.ones((4, 3)), np.zeros(4), epochs=2, callbacks=[backup], verbose=0)
        >>> os.path.exists(backup_dir)  # deleted once training finished
        False
    """

    def __init__(self, backup_dir: Any, save_freq: Any = "epoch", double_checkpoint: bool = False,
                 delete_checkpoint: bool = True):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"BackupAndRestore: `backup_dir` must name a folder. Received: backup_dir={backup_dir!r}.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = check_save_freq("BackupAndRestore", save_freq)
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._latest_path = os.path.join(self.backup_dir, LATEST_FILE)
        self._previous_path = os.path.join(self.backup_dir, PREVIOUS_FILE)
        self._completed_epochs = 0
        self._batches_since_save = 0
        self._last_batch_seen = 0
        self.companions: list[Callback] = []  # the fit's other callbacks (set by the training loop)

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._batches_since_save = 0
        self._last_batch_seen = 0
        state = self._read_backup()
        if state is None:
            self._completed_epochs = 0
            return
        self._restore(state)
        self._restore_companions(state.get("callbacks", {}))
        self._completed_epochs = state["epoch"]
        # run_fit reads this right after on_train_begin and starts from that epoch.
        self.model._resume_from_epoch = state["epoch"]

    def _overrides(self, hook: str) -> bool:
        # Backing up once an epoch needs no call per batch.
        if hook == "on_train_batch_end" and self.save_freq == "epoch":
            return False
        return super()._overrides(hook)

    def on_epoch_end(self, epoch, logs=None):
        self._completed_epochs = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._write_backup(batch=0)

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        new_epoch = batch <= self._last_batch_seen
        self._batches_since_save += batch + 1 if new_epoch else batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._write_backup(batch=batch + 1)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            self._delete_backup()

    # ------------------------------------------------------------------ writing
    def _state(self, batch: int) -> dict[str, Any]:
        optimizer = self.model.optimizer
        model_state = self.model.state_dict()
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "epoch": self._completed_epochs,
            "batch": batch,
            "weight_names": list(model_state),
            "weights": [tensor.detach() for tensor in model_state.values()],
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "random_states": capture_random_states(),
            "callbacks": self._companion_states(),
        }

    def _companion_keys(self) -> list[tuple[str, Callback]]:
        # Keyed by class and rank among its class, so a resume with another `verbose` (and so with or
        # without a ProgbarLogger) still pairs each callback with its own state.
        seen: dict[str, int] = {}
        keys = []
        for callback in self.companions:
            name = type(callback).__name__
            keys.append((f"{name}#{seen.get(name, 0)}", callback))
            seen[name] = seen.get(name, 0) + 1
        return keys

    def _companion_states(self) -> dict[str, Any]:
        states = {key: callback.state_dict() for key, callback in self._companion_keys()}
        return {key: state for key, state in states.items() if state}

    def _restore_companions(self, states: dict[str, Any]) -> None:
        for key, callback in self._companion_keys():
            if key in states:
                callback.load_state_dict(states[key])

    def _write_backup(self, batch: int) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        state = self._state(batch)
        if self.double_checkpoint and os.path.exists(self._latest_path):
            os.replace(self._latest_path, self._previous_path)
        atomic_write(Path(self._latest_path), lambda temporary: torch.save(state, temporary))

    def _delete_backup(self) -> None:
        if not os.path.isdir(self.backup_dir):
            return
        for name in os.listdir(self.backup_dir):
            if name in (LATEST_FILE, PREVIOUS_FILE) or _is_temporary_of_a_backup(name):
                os.remove(os.path.join(self.backup_dir, name))
        if not os.listdir(self.backup_dir):
            os.rmdir(self.backup_dir)

    # ------------------------------------------------------------------ reading
    def _read_backup(self) -> Optional[dict[str, Any]]:
        """The latest readable backup, or None when there is none."""
        candidates = [self._latest_path] + ([self._previous_path] if self.double_checkpoint else [])
        errors = []
        for path in candidates:
            if not os.path.exists(path):
                continue
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as error:  # a damaged file: try the previous backup, if any
                errors.append(f"{path}: {error}")
                continue
            if not isinstance(state, dict) or state.get("format") != FORMAT:
                raise ValueError(f"BackupAndRestore: {path} is not a backup written by this callback. "
                                 "Use a backup_dir that holds nothing else.")
            return state
        if errors:
            raise OSError("BackupAndRestore could not read the backup: " + "; ".join(errors) + ". Delete "
                          f"'{self.backup_dir}' to start training from scratch.")
        return None

    def _restore(self, state: dict[str, Any]) -> None:
        self._restore_weights(state)
        if state["optimizer"] is not None and self.model.optimizer is not None:
            self.model.optimizer.load_state_dict(state["optimizer"])
        restore_random_states(state["random_states"])

    def _restore_weights(self, state: dict[str, Any]) -> None:
        # Matched by position, not name: layer names depend on how many layers the process made before.
        targets = list(self.model.state_dict().values())
        saved = state["weights"]
        shapes_match = len(targets) == len(saved) and all(t.shape == s.shape for t, s in zip(targets, saved))
        if not shapes_match:
            raise ValueError(
                f"BackupAndRestore: the backup in '{self.backup_dir}' was written for another model: it holds "
                f"{[tuple(s.shape) for s in saved]} ({state['weight_names']}), this model has "
                f"{[tuple(t.shape) for t in targets]}. Delete the folder or pass a different backup_dir.")
        with torch.no_grad():
            for target, value in zip(targets, saved):
                target.copy_(value)
