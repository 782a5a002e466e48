"""A seeded epochal fit equals a hand-written PyTorch loop with the same weights, batches and Keras's Adam."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import epochal as keras
from conftest import seed_model

EPOCHS, BATCH = 3, 32


def keras_adam_step(params, grads, state, step, lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras 3's Adam rule, written out."""
    alpha = lr * np.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
    for index, (param, grad) in enumerate(zip(params, grads)):
        m, v = state.setdefault(index, (torch.zeros_like(param), torch.zeros_like(param)))
        m.add_((grad - m) * (1 - beta_1))
        v.add_((grad * grad - v) * (1 - beta_2))
        param.sub_(alpha * m / (v.sqrt() + epsilon))


def hand_written_loop(weights, x, y, seed):
    kernel1, bias1, kernel2, bias2 = [torch.tensor(w, requires_grad=True) for w in weights]
    params = [kernel1, bias1, kernel2, bias2]
    x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    torch.manual_seed(seed)
    state, step, losses = {}, 0, []
    for _ in range(EPOCHS):
        order = torch.randperm(len(x))
        total = 0.0
        for start in range(0, len(x), BATCH):
            index = order[start:start + BATCH]
            hidden = F.dropout(torch.relu(x[index].reshape(len(index), -1) @ kernel1 + bias1), 0.3, training=True)
            loss = F.cross_entropy(hidden @ kernel2 + bias2, y[index])
            grads = torch.autograd.grad(loss, params)
            step += 1
            with torch.no_grad():
                keras_adam_step(params, grads, state, step)
            total += float(loss.detach()) * len(index)
        losses.append(total / len(x))
    return losses, [p.detach().numpy() for p in params]


def test_fit_matches_hand_written_torch_loop(tiny_images):
    x, y = tiny_images
    model = seed_model(dropout=0.3, optimizer="adam")
    initial = model.get_weights()
    torch.manual_seed(99)
    history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    reference_losses, reference_weights = hand_written_loop(initial, x, y, seed=99)
    np.testing.assert_allclose(history.history["loss"], reference_losses, rtol=0, atol=1e-5)
    for got, expected in zip(model.get_weights(), reference_weights):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_set_random_seed_makes_runs_identical(tiny_images):
    def run():
        keras.utils.set_random_seed(7)
        keras.backend.clear_session()
        model = seed_model(dropout=0.3)
        history = model.fit(*tiny_images, epochs=2, verbose=0, validation_split=0.25)
        return history.history, model.get_weights()

    first_history, first_weights = run()
    second_history, second_weights = run()
    assert first_history == second_history
    for a, b in zip(first_weights, second_weights):
        np.testing.assert_array_equal(a, b)
