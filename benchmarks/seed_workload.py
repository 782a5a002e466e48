"""Seconds per epoch of the seed's workload: epochal vs a lean hand-written PyTorch loop (and peers).

The workload is the seed's model with Dropout(0.3), adam, batch 32, on Fashion-MNIST split into 48,000 training
and 12,000 validation images; an epoch is one pass of training plus one validation pass, with loss and accuracy
tracked for both (what `fit(..., validation_data=...)` reports).

Epochs of epochal and of the lean loop alternate in one process, so both see the same machine state; the
script prints both medians and their ratio, then (if importable) Keras on torch, Lightning and Poutyne, and
finally the validation accuracy epochal reaches after 10 epochs.

Usage:
    python benchmarks/seed_workload.py [--trials 5] [--threads N] [--skip-peers] [--skip-accuracy]
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch

import epochal as keras

BATCH_SIZE = 32
VALIDATION_BATCH = 1024


def load_split():
    (x, y), _ = keras.datasets.fashion_mnist.load_data()
    x = (x / 255.0).astype("float32")
    order = np.random.default_rng(42).permutation(len(x))
    train, val = order[:48000], order[48000:]
    return x[train], y[train].astype("int64"), x[val], y[val].astype("int64")


# ----------------------------------------------------------------------------- epochal
def epochal_model():
    model = keras.Sequential([
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", metrics="accuracy", optimizer="adam")
    return model


def time_epochal_epoch(model, data) -> float:
    x, y, xv, yv = data
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0, validation_data=(xv, yv))
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- lean PyTorch loop
class LeanLoop:
    """The fastest plain-PyTorch version: tensors made once, index slicing, fused Adam, device-side sums."""

    def __init__(self, data):
        x, y, xv, yv = data
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.xv, self.yv = torch.from_numpy(xv), torch.from_numpy(yv)
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 100), torch.nn.ReLU(),
                                       torch.nn.Dropout(0.3), torch.nn.Linear(100, 10))
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3, eps=1e-7, fused=True)

    def epoch(self) -> tuple[float, float, float, float]:
        net, optimizer, loss_fn = self.net, self.optimizer, torch.nn.functional.cross_entropy
        loss_sum, correct = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.long)
        order = torch.randperm(len(self.x))
        net.train()
        for start in range(0, len(self.x), BATCH_SIZE):
            index = order[start:start + BATCH_SIZE]
            xb, yb = self.x[index], self.y[index]
            optimizer.zero_grad(set_to_none=True)
            logits = net(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(index)
            correct += (logits.argmax(1) == yb).sum()
        net.eval()
        val_loss, val_correct = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.long)
        with torch.no_grad():
            for start in range(0, len(self.xv), VALIDATION_BATCH):
                xb, yb = self.xv[start:start + VALIDATION_BATCH], self.yv[start:start + VALIDATION_BATCH]
                logits = net(xb)
                val_loss += loss_fn(logits, yb, reduction="sum")
                val_correct += (logits.argmax(1) == yb).sum()
        n, nv = len(self.x), len(self.xv)
        return float(loss_sum) / n, float(correct) / n, float(val_loss) / nv, float(val_correct) / nv


def time_lean_epoch(loop: LeanLoop) -> float:
    start = time.perf_counter()
    loop.epoch()
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- peers (optional)
def time_keras_epoch(data, trials: int) -> list[float]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras as real_keras

    x, y, xv, yv = data
    model = real_keras.Sequential([real_keras.Input(shape=(28, 28)), real_keras.layers.Flatten(),
                                   real_keras.layers.Dense(100, activation="relu"), real_keras.layers.Dropout(0.3),
                                   real_keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], optimizer="adam")
    times = []
    for _ in range(trials):
        start = time.perf_counter()
        model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0, validation_data=(xv, yv))
        times.append(time.perf_counter() - start)
    return times


def _torch_network() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 100), torch.nn.ReLU(),
                               torch.nn.Dropout(0.3), torch.nn.Linear(100, 10))


def time_poutyne_epoch(data, trials: int) -> list[float]:
    import poutyne

    x, y, xv, yv = data
    network = _torch_network()
    model = poutyne.Model(network, torch.optim.Adam(network.parameters(), lr=1e-3, eps=1e-7), "cross_entropy",
                          batch_metrics=["accuracy"])
    times = []
    for _ in range(trials):
        start = time.perf_counter()
        model.fit(x, y, validation_data=(xv, yv), epochs=1, batch_size=BATCH_SIZE, verbose=False)
        times.append(time.perf_counter() - start)
    return times


def time_lightning_epoch(data, trials: int) -> list[float]:
    import logging
    import warnings

    import lightning

    for logger in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    x, y, xv, yv = data

    class Classifier(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.network = _torch_network()

        def _loss_and_accuracy(self, batch):
            inputs, targets = batch
            logits = self.network(inputs)
            return torch.nn.functional.cross_entropy(logits, targets), (logits.argmax(1) == targets).float().mean()

        def training_step(self, batch, batch_index):
            loss, accuracy = self._loss_and_accuracy(batch)
            self.log_dict({"loss": loss, "accuracy": accuracy}, on_step=False, on_epoch=True)
            return loss

        def validation_step(self, batch, batch_index):
            loss, accuracy = self._loss_and_accuracy(batch)
            self.log_dict({"val_loss": loss, "val_accuracy": accuracy}, on_step=False, on_epoch=True)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3, eps=1e-7)

    loader = torch.utils.data.DataLoader
    train = loader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                   batch_size=BATCH_SIZE, shuffle=True)
    val = loader(torch.utils.data.TensorDataset(torch.from_numpy(xv), torch.from_numpy(yv)), batch_size=VALIDATION_BATCH)
    module, times = Classifier(), []
    for _ in range(trials):
        trainer = lightning.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                                    enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
        start = time.perf_counter()
        trainer.fit(module, train, val)
        times.append(time.perf_counter() - start)
    return times


PEER_TIMERS = {"keras": ("Keras {} (torch backend)", time_keras_epoch),
               "poutyne": ("Poutyne {}", time_poutyne_epoch),
               "lightning": ("Lightning {}", time_lightning_epoch)}


def peers_available() -> list[str]:
    return [name for name in ("keras", "lightning", "poutyne") if importlib.util.find_spec(name)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="timed epochs per contender (after one warm-up)")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    keras.utils.set_random_seed(0)
    data = load_split()
    print(f"# {datetime.date.today()} | {platform.processor() or platform.machine()} | {os.cpu_count()} cores | "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads) | Python {platform.python_version()} | "
          f"device {keras.backend.default_device()}")
    model, lean = epochal_model(), LeanLoop(data)
    time_epochal_epoch(model, data), time_lean_epoch(lean)  # warm-up
    epochal_times, lean_times = [], []
    for _ in range(args.trials):
        epochal_times.append(time_epochal_epoch(model, data))
        lean_times.append(time_lean_epoch(lean))
    epochal_median, lean_median = statistics.median(epochal_times), statistics.median(lean_times)
    print(f"{'contender':<28}{'s/epoch (median)':>18}{'vs lean loop':>14}")
    print(f"{'lean PyTorch loop':<28}{lean_median:>18.3f}{1.0:>13.2f}x")
    print(f"{'epochal':<28}{epochal_median:>18.3f}{epochal_median / lean_median:>13.2f}x")
    for peer in ([] if args.skip_peers else peers_available()):
        label, timer = PEER_TIMERS[peer]
        peer_times = timer(data, max(3, args.trials // 2))
        peer_median = statistics.median(peer_times[1:])  # the first epoch includes warm-up
        print(f"{label.format(_version(peer)):<28}{peer_median:>18.3f}{peer_median / lean_median:>13.2f}x")
    if not args.skip_accuracy:
        keras.utils.set_random_seed(0)
        x, y, xv, yv = data
        history = epochal_model().fit(x, y, batch_size=BATCH_SIZE, epochs=10, verbose=0, validation_data=(xv, yv))
        print(f"epochal val_accuracy after 10 epochs: {history.history['val_accuracy'][-1]:.4f} "
              f"(best {max(history.history['val_accuracy']):.4f}; target >= 0.875)")
    return 0


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001 - a peer that fails to import is simply not reported
        return "?"


if __name__ == "__main__":
    sys.exit(main())
