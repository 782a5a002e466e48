"""The seed's callback section, end to end on a Fashion-MNIST slice, with real saving."""
from __future__ import annotations

import numpy as np
import pytest

import epochal as keras
from scripted_fit import one_thread  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


def model_create(a_layer=None):
    """The seed's model_create()."""
    model = keras.Sequential()
    model.add(keras.layers.Flatten(input_shape=(28, 28)))
    model.add(keras.layers.Dense(100, activation="relu"))
    if a_layer:
        model.add(a_layer)
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model


@pytest.fixture(scope="module")
def fashion_3000():
    (x, y), _ = keras.datasets.fashion_mnist.load_data()
    x, y = x[:3600] / 255.0, y[:3600]
    return x[:3000], y[:3000], x[3000:], y[3000:]


def test_checkpoint_and_early_stopping_as_the_seed_uses_them(tmp_path, monkeypatch, fashion_3000):
    monkeypatch.chdir(tmp_path)
    train_scaled, train_target, val_scaled, val_target = fashion_3000
    model = model_create(keras.layers.Dropout(0.3))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics="accuracy")
    checkpoint_cb = keras.callbacks.ModelCheckpoint("best-model.h5", save_best_only=True)
    every_epoch_cb = keras.callbacks.ModelCheckpoint("last-model.h5")  # the seed's line, as written
    early_stopping_cb = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(train_scaled, train_target, epochs=20, verbose=0, validation_data=(val_scaled, val_target),
                        callbacks=[checkpoint_cb, every_epoch_cb, early_stopping_cb])

    val_loss = history.history["val_loss"]
    best_epoch = int(np.argmin(val_loss))
    # Training stops `patience` epochs after the best one.
    assert early_stopping_cb.stopped_epoch == best_epoch + 2 == len(val_loss) - 1
    assert early_stopping_cb.best_epoch == best_epoch

    def validation_loss(a_model):
        return a_model.evaluate(val_scaled, val_target, verbose=0, return_dict=True)["loss"]

    # restore_best_weights: the model in memory is the best epoch's ...
    assert validation_loss(model) == pytest.approx(val_loss[best_epoch], rel=1e-5)
    # ... and so is the checkpoint on disk, while the plain checkpoint holds the last epoch.
    assert validation_loss(keras.models.load_model("best-model.h5")) == pytest.approx(val_loss[best_epoch], rel=1e-5)
    assert validation_loss(keras.models.load_model("last-model.h5")) == pytest.approx(val_loss[-1], rel=1e-5)


def test_checkpoint_file_names_and_formats_from_a_real_fit(tmp_path, tiny_images):
    x, y = tiny_images
    model = model_create()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [keras.callbacks.ModelCheckpoint(tmp_path / "ckpt" / "m-{epoch:02d}-{val_loss:.2f}.keras"),
                 keras.callbacks.ModelCheckpoint(tmp_path / "w" / "weights.weights.h5", save_weights_only=True),
                 keras.callbacks.ModelCheckpoint(tmp_path / "w" / "legacy.h5", save_weights_only=True,
                                                 save_freq=3)]
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0, callbacks=callbacks)
    expected = sorted(f"m-{epoch + 1:02d}-{loss:.2f}.keras" for epoch, loss in enumerate(history.history["val_loss"]))
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == expected
    probe = x[:5]
    last = keras.models.load_model(tmp_path / "ckpt" / expected[-1])
    np.testing.assert_allclose(last.predict(probe, verbose=0), model.predict(probe, verbose=0), rtol=1e-6)
    # 6 batches an epoch: the every-3-batches file was last written after the final batch too.
    for name in ("weights.weights.h5", "legacy.h5"):
        fresh = model_create()
        fresh.load_weights(tmp_path / "w" / name)
        for loaded, trained in zip(fresh.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(loaded, trained)
