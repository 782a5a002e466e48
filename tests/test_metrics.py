"""Tests for epochal.metrics: NumPy references, real Keras as the oracle, and the no-host-sync rule."""
import os

os.environ["KERAS_BACKEND"] = "torch"  # must precede any keras import in this process

import doctest

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import epochal.metrics as metrics

NUM_CLASSES = 6


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


def _rng(seed=0):
    return np.random.default_rng(seed)


def _tensor(array):
    return None if array is None else torch.as_tensor(array)


def _run(metric, batches):
    """Feed (y_true, y_pred, sample_weight) NumPy batches into `metric`; return its result as NumPy."""
    for y_true, y_pred, weight in batches:
        metric.update_state(_tensor(y_true), _tensor(y_pred), sample_weight=_tensor(weight))
    return metric.result().numpy()


def _weights(rng, count, weighted):
    return rng.random(count).astype("float32") if weighted else None


def _weighted_mean(values_per_batch, weights_per_batch):
    values = np.concatenate(values_per_batch).astype("float64")
    if weights_per_batch[0] is None:
        return values.mean()
    weights = np.concatenate(weights_per_batch).astype("float64")
    return (values * weights).sum() / weights.sum()


# ------------------------------------------------------------------------------------------------
# Accuracy and regression metrics against NumPy
# ------------------------------------------------------------------------------------------------


def _sparse_batch(rng, size, label_shape, label_dtype):
    scores = rng.random((size, NUM_CLASSES)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, size)
    return labels.reshape(label_shape(size)).astype(label_dtype), scores, labels


def _numpy_in_top_k(labels, scores, k):
    label_scores = scores[np.arange(len(labels)), labels]
    return (scores > label_scores[:, None]).sum(-1) < k


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_dtype", ["int64", "int32", "float32"])
@pytest.mark.parametrize("label_shape", [lambda n: (n,), lambda n: (n, 1)], ids=["(n,)", "(n,1)"])
def test_sparse_accuracies_match_numpy(weighted, label_dtype, label_shape):
    rng = _rng(1)
    accuracy = metrics.SparseCategoricalAccuracy()
    top_3 = metrics.SparseTopKCategoricalAccuracy(k=3)
    hits, top_hits, weights = [], [], []
    for size in (32, 32, 7):
        y_true, y_pred, labels = _sparse_batch(rng, size, label_shape, label_dtype)
        weight = _weights(rng, size, weighted)
        for metric in (accuracy, top_3):
            metric.update_state(_tensor(y_true), _tensor(y_pred), sample_weight=_tensor(weight))
        hits.append(y_pred.argmax(-1) == labels)
        top_hits.append(_numpy_in_top_k(labels, y_pred, 3))
        weights.append(weight)
    assert float(accuracy.result()) == pytest.approx(_weighted_mean(hits, weights), rel=1e-6)
    assert float(top_3.result()) == pytest.approx(_weighted_mean(top_hits, weights), rel=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_categorical_accuracies_match_numpy(weighted):
    rng = _rng(2)
    accuracy, top_2 = metrics.CategoricalAccuracy(), metrics.TopKCategoricalAccuracy(k=2)
    hits, top_hits, weights = [], [], []
    for size in (16, 16, 5):
        labels = rng.integers(0, NUM_CLASSES, size)
        y_true = np.eye(NUM_CLASSES, dtype="float32")[labels]
        y_pred = rng.random((size, NUM_CLASSES)).astype("float32")
        weight = _weights(rng, size, weighted)
        for metric in (accuracy, top_2):
            metric.update_state(_tensor(y_true), _tensor(y_pred), sample_weight=_tensor(weight))
        hits.append(y_pred.argmax(-1) == labels)
        top_hits.append(_numpy_in_top_k(labels, y_pred, 2))
        weights.append(weight)
    assert float(accuracy.result()) == pytest.approx(_weighted_mean(hits, weights), rel=1e-6)
    assert float(top_2.result()) == pytest.approx(_weighted_mean(top_hits, weights), rel=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("columns", [1, 3])
def test_binary_accuracy_matches_numpy(weighted, columns):
    rng = _rng(3)
    metric = metrics.BinaryAccuracy(threshold=0.6)
    per_sample, weights = [], []
    for size in (20, 20, 3):
        y_true = (rng.random((size, columns)) < 0.5).astype("float32")
        y_pred = rng.random((size, columns)).astype("float32")
        weight = _weights(rng, size, weighted)
        metric.update_state(_tensor(y_true), _tensor(y_pred), sample_weight=_tensor(weight))
        per_sample.append(((y_pred > 0.6) == y_true).mean(-1))
        weights.append(weight)
    assert float(metric.result()) == pytest.approx(_weighted_mean(per_sample, weights), rel=1e-6)


def test_accuracy_is_exact_equality():
    metric = metrics.Accuracy()
    metric.update_state(torch.tensor([[1], [2], [3]]), torch.tensor([[1.0], [2.5], [3.0]]))
    metric.update_state(torch.tensor([0]), torch.tensor([0.0]))
    assert float(metric.result()) == pytest.approx(0.75)


_REGRESSION_REFERENCES = {
    "MeanSquaredError": lambda t, p: ((t - p) ** 2).mean(-1),
    "MeanAbsoluteError": lambda t, p: np.abs(t - p).mean(-1),
    "MeanAbsolutePercentageError": lambda t, p: 100 * np.abs((t - p) / np.maximum(np.abs(t), 1e-7)).mean(-1),
}


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("class_name", sorted(_REGRESSION_REFERENCES))
def test_regression_metrics_match_numpy(class_name, weighted):
    rng = _rng(4)
    metric = getattr(metrics, class_name)()
    per_sample, weights = [], []
    for size in (10, 10, 4):
        y_true = rng.normal(size=(size, 3)).astype("float32")
        y_pred = rng.normal(size=(size, 3)).astype("float32")
        weight = _weights(rng, size, weighted)
        metric.update_state(_tensor(y_true), _tensor(y_pred), sample_weight=_tensor(weight))
        per_sample.append(_REGRESSION_REFERENCES[class_name](y_true.astype("float64"), y_pred.astype("float64")))
        weights.append(weight)
    assert float(metric.result()) == pytest.approx(_weighted_mean(per_sample, weights), rel=1e-5)


@pytest.mark.parametrize("weighted", [False, True])
def test_root_mean_squared_error_matches_numpy(weighted):
    rng = _rng(5)
    metric = metrics.RootMeanSquaredError()
    squared, weights = [], []
    for size in (8, 8, 3):
        y_true = rng.normal(size=(size, 2)).astype("float32")
        y_pred = rng.normal(size=(size, 2)).astype("float32")
        weight = _weights(rng, size, weighted)
        metric.update_state(_tensor(y_true), _tensor(y_pred), sample_weight=_tensor(weight))
        squared.append(((y_true - y_pred) ** 2).mean(-1))
        weights.append(weight)
    assert float(metric.result()) == pytest.approx(np.sqrt(_weighted_mean(squared, weights)), rel=1e-6)


def test_mean_tracks_a_loss_weighted_by_batch_size():
    # The engine's loss tracking: a 0-d loss per batch, weighted by the batch's size.
    mean = metrics.Mean(name="loss")
    for loss, batch_size in [(2.0, 32), (1.0, 32), (4.0, 8)]:
        mean.update_state(torch.tensor(loss), sample_weight=batch_size)
    assert float(mean.result()) == pytest.approx((2.0 * 32 + 1.0 * 32 + 4.0 * 8) / 72)
    mean.update_state(torch.tensor(0.0), sample_weight=torch.tensor(72.0))
    assert float(mean.result()) == pytest.approx((2.0 * 32 + 1.0 * 32 + 4.0 * 8) / 144)


def test_mean_averages_each_sample_over_its_trailing_axes():
    mean = metrics.Mean()
    values = torch.tensor([[1.0, 3.0], [5.0, 7.0]])
    mean.update_state(values, sample_weight=torch.tensor([1.0, 3.0]))
    assert float(mean.result()) == pytest.approx((2.0 * 1 + 6.0 * 3) / 4)
    mean.reset_state()
    mean.update_state(values)
    mean.update_state(torch.tensor(10.0))
    assert float(mean.result()) == pytest.approx((2.0 + 6.0 + 10.0) / 3)


def test_sum_adds_weighted_values():
    total = metrics.Sum()
    total.update_state(torch.tensor([1.0, 2.0, 3.0]))
    total.update_state(torch.tensor([1.0, 1.0]), sample_weight=torch.tensor([0.5, 2.0]))
    total.update_state(torch.tensor(4.0), sample_weight=0.25)
    assert float(total.result()) == pytest.approx(6.0 + 2.5 + 1.0)


def test_mean_metric_wrapper_passes_keyword_arguments_and_weights():
    def scaled_error(y_true, y_pred, scale=1.0):
        return scale * (y_true - y_pred).abs()

    metric = metrics.MeanMetricWrapper(scaled_error, scale=2.0)
    assert metric.name == "scaled_error"
    metric.update_state(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0]), sample_weight=torch.tensor([3.0, 1.0]))
    assert float(metric.result()) == pytest.approx(2.0 * 3 / 4)


def test_results_on_empty_state_are_zero():
    for metric in (metrics.Mean(), metrics.SparseCategoricalAccuracy(), metrics.AUC(), metrics.Precision()):
        assert float(metric.result()) == 0.0


def test_reset_state_zeroes_in_place_and_accepts_a_device():
    metric = metrics.SparseCategoricalAccuracy()
    metric.update_state(torch.tensor([0, 1]), torch.tensor([[0.9, 0.1], [0.8, 0.2]]))
    state_before = metric._state["total"]
    metric.reset_state()
    assert metric._state["total"] is state_before  # zeroed in place, not reallocated
    assert float(metric.result()) == 0.0
    metric.update_state(torch.tensor([1]), torch.tensor([[0.1, 0.9]]))
    assert float(metric.result()) == 1.0
    metric.reset_state(device="cpu")
    assert metric.result().device.type == "cpu" and float(metric.result()) == 0.0

    auc = metrics.AUC(num_thresholds=5)
    auc.update_state(torch.tensor([0, 1]), torch.tensor([0.2, 0.8]))
    auc.reset_state()
    auc.update_state(torch.tensor([0, 1, 1]), torch.tensor([0.9, 0.1, 0.5]))
    fresh = metrics.AUC(num_thresholds=5)
    fresh.update_state(torch.tensor([0, 1, 1]), torch.tensor([0.9, 0.1, 0.5]))
    assert float(auc.result()) == float(fresh.result())


def test_state_created_under_inference_mode_survives_training():
    metric = metrics.Mean()
    with torch.inference_mode():
        metric.update_state(torch.tensor([1.0, 3.0]))
    metric.reset_state()
    metric.update_state(torch.tensor([5.0], requires_grad=True))
    assert float(metric.result()) == 5.0
    assert not metric.result().requires_grad


def test_state_is_float32_by_default_and_honours_dtype():
    assert metrics.Mean().result().dtype == torch.float32
    metric = metrics.Mean(dtype="float64")
    metric.update_state(torch.tensor([1.0, 2.0], dtype=torch.float16))
    assert metric.result().dtype == torch.float64 and metric.dtype == "float64"
    with pytest.raises(ValueError, match="floating dtype"):
        metrics.Mean(dtype="int32")


def test_call_updates_and_returns_the_running_result():
    metric = metrics.BinaryAccuracy()
    assert float(metric(torch.tensor([1.0, 0.0]), torch.tensor([0.9, 0.9]))) == 0.5
    assert float(metric(torch.tensor([1.0, 0.0]), torch.tensor([0.9, 0.1]))) == 0.75


def test_mismatched_sample_weight_raises_value_error():
    with pytest.raises(ValueError, match="sample_weight"):
        metrics.Mean().update_state(torch.ones(4, 2), sample_weight=torch.ones(3))
    with pytest.raises(ValueError, match="sample_weight"):
        metrics.Precision().update_state(torch.ones(4), torch.ones(4), sample_weight=torch.ones(4, 2, 2))


# ------------------------------------------------------------------------------------------------
# Threshold metrics against real Keras
# ------------------------------------------------------------------------------------------------


def _threshold_batches(seed, shape, weighted, logits=False, batches=4):
    rng = _rng(seed)
    out = []
    for _ in range(batches):
        y_true = (rng.random(shape) < 0.4).astype("float32")
        if logits:
            y_pred = (rng.normal(size=shape) * 3).astype("float32")
        else:
            y_pred = np.clip(0.3 * y_true + 0.7 * rng.random(shape), 0, 1).astype("float32")
        y_pred[0] = 0.0 if not logits else y_pred[0]  # exact 0 and 1 exercise the outer thresholds
        y_pred[1] = 1.0 if not logits else y_pred[1]
        out.append((y_true, y_pred, _weights(rng, shape[0], weighted)))
    return out


_KERAS_CASES = [
    ("AUC", {}, {}),
    ("AUC", {"curve": "PR"}, {}),
    ("AUC", {"curve": "PR", "summation_method": "minoring"}, {}),
    ("AUC", {"summation_method": "majoring"}, {}),
    ("AUC", {"curve": "PRGAIN"}, {}),
    ("AUC", {"num_thresholds": 7}, {}),
    ("AUC", {"thresholds": [0.1, 0.35, 0.5, 0.9]}, {}),
    ("AUC", {"thresholds": [0.25, 0.5, 0.75]}, {}),
    ("AUC", {"multi_label": True}, {"shape": (32, 3)}),
    ("AUC", {"multi_label": True, "num_labels": 3, "label_weights": [1.0, 2.0, 0.5]}, {"shape": (32, 3)}),
    ("AUC", {"label_weights": [1.0, 2.0, 0.5]}, {"shape": (32, 3)}),
    ("AUC", {"from_logits": True}, {"logits": True}),
    ("Precision", {}, {}),
    ("Recall", {}, {}),
    ("Precision", {"thresholds": [0.7, 0.2, 0.5]}, {}),
    ("Recall", {"thresholds": [0.0, 0.5, 1.0]}, {}),
    ("Precision", {"top_k": 2}, {"shape": (32, 5)}),
    ("Recall", {"class_id": 1}, {"shape": (32, 5)}),
    ("Precision", {"top_k": 2, "class_id": 3}, {"shape": (32, 5)}),
    ("TruePositives", {}, {}),
    ("FalsePositives", {"thresholds": [0.2, 0.8]}, {}),
    ("TrueNegatives", {}, {}),
    ("FalseNegatives", {"thresholds": [0.0, 0.5, 1.0]}, {}),
]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    "class_name, kwargs, data", _KERAS_CASES, ids=[f"{c}-{k}" for c, k, _ in _KERAS_CASES]
)
def test_threshold_metrics_match_keras(keras, class_name, kwargs, data, weighted):
    batches = _threshold_batches(7, data.get("shape", (64,)), weighted, data.get("logits", False))
    reference = getattr(keras.metrics, class_name)(**kwargs)
    for y_true, y_pred, weight in batches:
        reference.update_state(y_true, y_pred, sample_weight=weight)
    expected = keras.ops.convert_to_numpy(reference.result())
    ours = getattr(metrics, class_name)(**kwargs)
    actual = _run(ours, batches)
    assert actual.shape == np.shape(expected)
    # Counts are float32 sums taken in a different order than Keras: equal to float32 precision.
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6)
    for variable in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
        if hasattr(reference, variable):
            keras_counts = keras.ops.convert_to_numpy(getattr(reference, variable))
            np.testing.assert_allclose(getattr(ours, variable).numpy(), keras_counts, rtol=1e-6, atol=1e-5)


def test_auc_roughly_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = _rng(11)
    y_true = (rng.random(4000) < 0.3).astype("float32")
    y_pred = (1 / (1 + np.exp(-(rng.normal(size=4000) + 1.5 * y_true)))).astype("float32")
    auc = metrics.AUC()
    for start in range(0, 4000, 500):
        auc.update_state(torch.as_tensor(y_true[start : start + 500]), torch.as_tensor(y_pred[start : start + 500]))
    assert float(auc.result()) == pytest.approx(roc_auc_score(y_true, y_pred), abs=1e-3)


def test_precision_and_recall_by_hand():
    y_true = torch.tensor([1, 1, 0, 0, 1])
    y_pred = torch.tensor([0.9, 0.4, 0.6, 0.1, 0.7])
    precision, recall = metrics.Precision(), metrics.Recall(thresholds=[0.5, 0.3])
    precision.update_state(y_true, y_pred)
    recall.update_state(y_true, y_pred)
    assert float(precision.result()) == pytest.approx(2 / 3)
    assert recall.result().tolist() == pytest.approx([2 / 3, 1.0])
    assert precision.result().ndim == 0


def test_auc_multi_label_checks_shapes():
    auc = metrics.AUC(multi_label=True, num_labels=3)
    with pytest.raises(ValueError, match="3 labels"):
        auc.update_state(torch.zeros(4, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="num_labels"):
        metrics.AUC(num_labels=3)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: metrics.AUC(num_thresholds=1), "num_thresholds"),
        (lambda: metrics.AUC(curve="roc_curve"), "curve"),
        (lambda: metrics.AUC(summation_method="trapezoid"), "summation_method"),
        (lambda: metrics.Precision(thresholds=1.5), "thresholds"),
        (lambda: metrics.Recall(top_k=0), "top_k"),
        (lambda: metrics.TopKCategoricalAccuracy(k=0), "k"),
        (lambda: metrics.Mean(name=3), "name"),
    ],
)
def test_bad_arguments_are_named_in_errors(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()


# ------------------------------------------------------------------------------------------------
# Accuracy and reduction metrics against real Keras (names, configs, numbers)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weight_kind", [None, "vector", "number"])
def test_accuracy_family_matches_keras(keras, weight_kind):
    rng = _rng(12)
    cases = [
        ("SparseCategoricalAccuracy", {}, lambda n: (rng.integers(0, 4, (n, 1)), rng.random((n, 4)))),
        ("SparseCategoricalAccuracy", {}, lambda n: (rng.integers(0, 4, (n, 3)), rng.random((n, 3, 4)))),
        ("SparseTopKCategoricalAccuracy", {"k": 2}, lambda n: (rng.integers(0, 4, n), rng.random((n, 4)))),
        ("CategoricalAccuracy", {}, lambda n: (np.eye(4)[rng.integers(0, 4, n)], rng.random((n, 4)))),
        ("TopKCategoricalAccuracy", {"k": 2}, lambda n: (np.eye(4)[rng.integers(0, 4, n)], rng.random((n, 4)))),
        ("BinaryAccuracy", {}, lambda n: (rng.random(n) < 0.5, rng.random((n, 1)))),
        ("Accuracy", {}, lambda n: (rng.integers(0, 3, (n, 1)), rng.integers(0, 3, (n, 1)))),
        ("MeanSquaredError", {}, lambda n: (rng.normal(size=(n, 3)), rng.normal(size=(n, 3)))),
        ("RootMeanSquaredError", {}, lambda n: (rng.normal(size=n), rng.normal(size=(n, 1)))),
        ("MeanAbsolutePercentageError", {}, lambda n: (rng.normal(size=(n, 2)), rng.normal(size=(n, 2)))),
    ]
    for class_name, kwargs, generate in cases:
        reference, ours = getattr(keras.metrics, class_name)(**kwargs), getattr(metrics, class_name)(**kwargs)
        for size in (9, 9, 4):
            y_true, y_pred = (np.asarray(array).astype("float32") for array in generate(size))
            weight = {None: None, "vector": rng.random(size).astype("float32"), "number": 2.5}[weight_kind]
            reference.update_state(y_true, y_pred, sample_weight=weight)
            ours_weight = _tensor(weight) if weight_kind == "vector" else weight
            ours.update_state(_tensor(y_true), _tensor(y_pred), sample_weight=ours_weight)
        expected = float(keras.ops.convert_to_numpy(reference.result()))
        assert float(ours.result()) == pytest.approx(expected, rel=1e-6), class_name
        assert ours.name == reference.name
        assert ours.get_config() == reference.get_config()


@pytest.mark.parametrize(
    "values_shape, weight",
    [((), None), ((), 32), ((5,), None), ((5,), "per_sample"), ((5, 4), None), ((5, 4), "per_sample"),
     ((5, 4), "per_element"), ((5, 4), "column"), ((5,), 3.0), ((5, 4), "scalar_tensor"), ((5, 1), "per_sample")],
)
def test_mean_and_sum_match_keras(keras, values_shape, weight):
    rng = _rng(13)
    for class_name in ("Mean", "Sum"):
        reference, ours = getattr(keras.metrics, class_name)(), getattr(metrics, class_name)()
        for _ in range(3):
            values = rng.normal(size=values_shape).astype("float32")
            sample_weight = {
                "per_sample": lambda: rng.random(5).astype("float32"),
                "per_element": lambda: rng.random((5, 4)).astype("float32"),
                "column": lambda: rng.random((5, 1)).astype("float32"),
                "scalar_tensor": lambda: np.float32(2.0),
            }.get(weight, lambda: weight)()
            reference.update_state(values, sample_weight=sample_weight)
            ours_weight = sample_weight
            if isinstance(sample_weight, (np.ndarray, np.floating)):
                ours_weight = torch.as_tensor(sample_weight)
            ours.update_state(torch.as_tensor(values), sample_weight=ours_weight)
        expected = float(keras.ops.convert_to_numpy(reference.result()))
        assert float(ours.result()) == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_default_names_and_configs_follow_keras(keras):
    for class_name in ("AUC", "Precision", "Recall", "TruePositives", "FalseNegatives"):
        reference = getattr(keras.metrics, class_name)().get_config()
        ours = getattr(metrics, class_name)().get_config()
        assert set(ours) == set(reference), class_name
        assert ours["name"].startswith(metrics._snake_case(class_name))
    for class_name in ("Mean", "Sum", "BinaryAccuracy", "TopKCategoricalAccuracy", "MeanAbsoluteError",
                       "BinaryCrossentropy", "CategoricalCrossentropy"):
        assert getattr(metrics, class_name)().get_config() == getattr(keras.metrics, class_name)().get_config()


def test_unnamed_metrics_are_numbered_like_keras():
    first, second = metrics.Precision(), metrics.Precision()
    assert first.name.startswith("precision") and second.name.startswith("precision")
    assert first.name != second.name
    assert metrics.Precision(name="precision").name == "precision"


# ------------------------------------------------------------------------------------------------
# get() and resolve_accuracy()
# ------------------------------------------------------------------------------------------------

_STRING_CASES = {
    "accuracy": "Accuracy",
    "acc": "Accuracy",
    "binary_accuracy": "BinaryAccuracy",
    "categorical_accuracy": "CategoricalAccuracy",
    "sparse_categorical_accuracy": "SparseCategoricalAccuracy",
    "top_k_categorical_accuracy": "TopKCategoricalAccuracy",
    "sparse_top_k_categorical_accuracy": "SparseTopKCategoricalAccuracy",
    "mse": "MeanSquaredError",
    "MSE": "MeanSquaredError",
    "mean_squared_error": "MeanSquaredError",
    "mae": "MeanAbsoluteError",
    "mean_absolute_error": "MeanAbsoluteError",
    "mape": "MeanAbsolutePercentageError",
    "root_mean_squared_error": "RootMeanSquaredError",
    "auc": "AUC",
    "AUC": "AUC",
    "precision": "Precision",
    "recall": "Recall",
    "true_positives": "TruePositives",
    "false_negatives": "FalseNegatives",
    "mean": "Mean",
    "sum": "Sum",
    "RootMeanSquaredError": "RootMeanSquaredError",
    "SparseCategoricalAccuracy": "SparseCategoricalAccuracy",
    "binary_crossentropy": "BinaryCrossentropy",
    "bce": "BinaryCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "huber": "MeanMetricWrapper",
}


@pytest.mark.parametrize("identifier, class_name", sorted(_STRING_CASES.items()))
def test_get_by_name_keeps_the_written_name(identifier, class_name):
    metric = metrics.get(identifier)
    assert type(metric).__name__ == class_name
    assert metric.name == identifier


def test_get_classes_instances_callables_and_configs():
    assert isinstance(metrics.get(metrics.AUC), metrics.AUC)
    instance = metrics.Precision(thresholds=[0.3, 0.6], name="p")
    assert metrics.get(instance) is instance
    assert metrics.get(None) is None

    def false_alarms(y_true, y_pred):
        return ((y_pred > 0.5) & (y_true == 0)).float()

    wrapped = metrics.get(false_alarms)
    assert isinstance(wrapped, metrics.MeanMetricWrapper) and wrapped.name == "false_alarms"
    assert float(wrapped(torch.tensor([0, 1]), torch.tensor([0.9, 0.9]))) == 0.5

    rebuilt = metrics.get({"class_name": "Precision", "config": instance.get_config()})
    assert isinstance(rebuilt, metrics.Precision) and rebuilt.get_config() == instance.get_config()
    by_snake_name = metrics.get({"class_name": "auc", "config": {"num_thresholds": 7}})
    assert by_snake_name.num_thresholds == 7


def test_get_rejects_unknown_things_helpfully():
    with pytest.raises(ValueError, match="Did you mean 'accuracy'") as error:
        metrics.get("accuarcy")
    assert "Known metrics:" in str(error.value) and "sparse_categorical_accuracy" in str(error.value)
    with pytest.raises(ValueError, match="class_name"):
        metrics.get({"class_name": "NoSuchMetric", "config": {}})
    with pytest.raises(TypeError, match="Could not interpret"):
        metrics.get(42)
    with pytest.raises(TypeError, match="subclass"):
        metrics.get(dict)


@pytest.mark.parametrize(
    "metric",
    [
        metrics.Mean(name="m"),
        metrics.Sum(),
        metrics.Accuracy(),
        metrics.BinaryAccuracy(threshold=0.3),
        metrics.CategoricalAccuracy(),
        metrics.SparseCategoricalAccuracy(name="acc"),
        metrics.TopKCategoricalAccuracy(k=3),
        metrics.SparseTopKCategoricalAccuracy(k=2),
        metrics.MeanSquaredError(),
        metrics.MeanAbsoluteError(),
        metrics.MeanAbsolutePercentageError(),
        metrics.RootMeanSquaredError(),
        metrics.AUC(curve="PR", thresholds=[0.2, 0.4], dtype="float64"),
        metrics.AUC(multi_label=True, num_labels=2, label_weights=[1.0, 3.0]),
        metrics.Precision(top_k=2, class_id=1),
        metrics.Recall(thresholds=[0.2, 0.9]),
        metrics.TruePositives(thresholds=0.3),
        metrics.FalsePositives(),
        metrics.TrueNegatives(),
        metrics.FalseNegatives(),
        metrics.BinaryCrossentropy(from_logits=True),
        metrics.MeanMetricWrapper(metrics.sparse_top_k_categorical_accuracy, name="top2", k=2),
    ],
    ids=lambda metric: type(metric).__name__,
)
def test_config_round_trip(metric):
    rebuilt = type(metric).from_config(metric.get_config())
    assert rebuilt.get_config() == metric.get_config()
    again = metrics.get({"class_name": type(metric).__name__, "config": metric.get_config()})
    assert again.get_config() == metric.get_config()


@pytest.mark.parametrize(
    "name, y_true_shape, y_pred_shape, loss_name, expected",
    [
        ("accuracy", (None, 1), (None, 1), None, "BinaryAccuracy"),
        ("accuracy", (None,), (None, 1), None, "BinaryAccuracy"),
        ("acc", (None,), (None,), None, "BinaryAccuracy"),
        ("accuracy", (None, 3), (None, 3), "binary_crossentropy", "BinaryAccuracy"),
        ("accuracy", (None,), (None, 10), None, "SparseCategoricalAccuracy"),
        ("acc", (None, 1), (None, 10), None, "SparseCategoricalAccuracy"),
        ("accuracy", (32, 5), (32, 5, 7), None, "SparseCategoricalAccuracy"),
        ("accuracy", (None, 10), (None, 10), "sparse_categorical_crossentropy", "SparseCategoricalAccuracy"),
        ("accuracy", (None, 10), (None, 10), None, "CategoricalAccuracy"),
        ("Accuracy", (None, 10), (None, 10), "categorical_crossentropy", "CategoricalAccuracy"),
        ("crossentropy", (None, 1), (None, 1), None, "BinaryCrossentropy"),
        ("ce", (None,), (None, 10), None, "SparseCategoricalCrossentropy"),
        ("crossentropy", (None, 10), (None, 10), None, "CategoricalCrossentropy"),
        ("mse", (None, 1), (None, 1), "mse", "MeanSquaredError"),
    ],
)
def test_resolve_accuracy(name, y_true_shape, y_pred_shape, loss_name, expected):
    metric = metrics.resolve_accuracy(name, y_true_shape, y_pred_shape, loss_name)
    assert type(metric).__name__ == expected
    assert metric.name == name


def test_resolve_accuracy_agrees_with_keras_compile_rule(keras):
    from keras.src.trainers.compile_utils import get_metric

    shape_cases = [((8, 1), (8, 1)), ((8,), (8, 5)), ((8, 1), (8, 5)), ((8, 5), (8, 5)), ((8, 3), (8, 3, 4))]
    for y_true_shape, y_pred_shape in shape_cases:
        for name in ("accuracy", "acc"):
            reference = get_metric(name, np.zeros(y_true_shape), np.zeros(y_pred_shape))
            ours = metrics.resolve_accuracy(name, y_true_shape, y_pred_shape)
            assert (type(ours).__name__, ours.name) == (type(reference).__name__, reference.name)


def test_loss_named_metrics_average_epochal_losses():
    # Needs epochal.losses (written in parallel); this test fails, not skips, until it exists.
    from epochal import losses

    rng = _rng(14)
    y_pred = torch.as_tensor(rng.random((8, 4)).astype("float32")) * 0.9 + 0.05
    y_pred = y_pred / y_pred.sum(-1, keepdim=True)
    labels = torch.as_tensor(rng.integers(0, 4, 8))
    one_hot = torch.nn.functional.one_hot(labels, 4).float()
    binary_true = (torch.as_tensor(rng.random((8, 4))) < 0.5).float()
    cases = [
        ("sparse_categorical_crossentropy", labels, losses.sparse_categorical_crossentropy),
        ("categorical_crossentropy", one_hot, losses.categorical_crossentropy),
        ("binary_crossentropy", binary_true, losses.binary_crossentropy),
        ("huber", one_hot, losses.huber),
    ]
    for name, y_true, loss_function in cases:
        metric = metrics.get(name)
        metric.update_state(y_true, y_pred)
        expected = loss_function(y_true, y_pred).mean()
        assert float(metric.result()) == pytest.approx(float(expected), rel=1e-6), name
    logits = torch.as_tensor(rng.normal(size=(8, 4)).astype("float32"))
    from_logits = metrics.SparseCategoricalCrossentropy(from_logits=True)
    from_logits.update_state(labels, logits)
    expected = losses.sparse_categorical_crossentropy(labels, logits, from_logits=True).mean()
    assert float(from_logits.result()) == pytest.approx(float(expected), rel=1e-6)
    ce = metrics.resolve_accuracy("ce", (8,), (8, 4))
    ce.update_state(labels, y_pred)
    expected = losses.sparse_categorical_crossentropy(labels, y_pred).mean()
    assert float(ce.result()) == pytest.approx(float(expected), rel=1e-6)


# ------------------------------------------------------------------------------------------------
# Speed rules: no host synchronisation, few kernels
# ------------------------------------------------------------------------------------------------


def _host_sync(*args, **kwargs):
    raise AssertionError("update_state/result must not read tensor values back to the host")


_SYNCING_METHODS = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__")


def _all_metric_updates():
    """(metric, y_true, y_pred, sample_weight) covering every metric class and weight kind."""
    rng = _rng(15)
    scores = torch.as_tensor(rng.random((16, 5)).astype("float32"))
    labels = torch.as_tensor(rng.integers(0, 5, 16))
    one_hot = torch.nn.functional.one_hot(labels, 5).float()
    binary = (scores > 0.5).float()
    per_sample = torch.as_tensor(rng.random(16).astype("float32"))
    cases = [
        (metrics.SparseCategoricalAccuracy(), labels, scores),
        (metrics.SparseCategoricalAccuracy(), labels[:, None].float(), scores),
        (metrics.SparseTopKCategoricalAccuracy(k=2), labels, scores),
        (metrics.CategoricalAccuracy(), one_hot, scores),
        (metrics.TopKCategoricalAccuracy(k=2), one_hot, scores),
        (metrics.BinaryAccuracy(), binary, scores),
        (metrics.Accuracy(), labels, labels),
        (metrics.MeanSquaredError(), one_hot, scores),
        (metrics.MeanAbsoluteError(), one_hot, scores),
        (metrics.MeanAbsolutePercentageError(), one_hot, scores),
        (metrics.RootMeanSquaredError(), one_hot, scores),
        (metrics.AUC(), binary, scores),
        (metrics.AUC(curve="PR", thresholds=[0.1, 0.7]), binary, scores),
        (metrics.AUC(multi_label=True, label_weights=[1, 2, 3, 4, 5], from_logits=True), binary, scores),
        (metrics.Precision(top_k=2, class_id=1), binary, scores),
        (metrics.Recall(thresholds=[0.6, 0.2]), binary, scores),
        (metrics.TruePositives(), binary, scores),
        (metrics.FalsePositives(), binary, scores),
        (metrics.TrueNegatives(), binary, scores),
        (metrics.FalseNegatives(), binary, scores),
        (metrics.MeanMetricWrapper(lambda t, p: (t - p).abs().sum(-1)), one_hot, scores),
    ]
    for metric, y_true, y_pred in cases:
        for weight in (None, per_sample, 2.0, torch.tensor(3.0)):
            yield metric, y_true, y_pred, weight


def test_update_state_and_result_never_sync_with_the_host(monkeypatch):
    updates = list(_all_metric_updates())
    mean, sum_metric = metrics.Mean(), metrics.Sum()
    for name in _SYNCING_METHODS:
        monkeypatch.setattr(torch.Tensor, name, _host_sync)
    for metric, y_true, y_pred, weight in updates:
        metric.update_state(y_true, y_pred, sample_weight=weight)
        metric.result()
    for weight in (None, 32, torch.tensor(32.0)):
        mean.update_state(torch.tensor(0.5), sample_weight=weight)
        sum_metric.update_state(torch.ones(4, 2), sample_weight=weight)
    mean.result()
    sum_metric.result()
    monkeypatch.undo()
    assert float(mean.result()) == pytest.approx(0.5)


class _CountKernels(TorchDispatchMode):
    """Count the aten operations that would launch a kernel (views and detaches are free)."""

    FREE = {"detach", "view", "_unsafe_view", "squeeze", "unsqueeze", "expand", "alias", "t", "select", "slice"}

    def __init__(self):
        super().__init__()
        self.kernels = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name not in self.FREE:
            self.kernels.append(name)
        return func(*args, **(kwargs or {}))


_LABELS = torch.tensor([1, 0, 2, 1])


@pytest.mark.parametrize(
    "metric, arguments, budget",
    [
        (metrics.SparseCategoricalAccuracy(), (_LABELS, torch.rand(4, 3)), 4),  # argmax, eq, sum, add_
        (metrics.BinaryAccuracy(), (_LABELS.float(), torch.rand(4)), 4),  # gt, eq, sum, add_
        (metrics.Mean(), (torch.tensor(0.25), 32), 1),  # the engine's loss tracking: one add_
        (metrics.Mean(), (torch.rand(4),), 2),
    ],
    ids=["sparse_categorical_accuracy", "binary_accuracy", "mean_of_loss", "mean_of_batch"],
)
def test_updates_launch_few_kernels(metric, arguments, budget):
    metric.update_state(*arguments)  # the first batch also creates the state
    with _CountKernels() as counter:
        metric.update_state(*arguments)
    assert len(counter.kernels) <= budget, counter.kernels


def test_docstring_examples_run():
    results = doctest.testmod(metrics, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 20 and results.failed == 0


def test_crossentropy_metrics_match_keras(keras):
    # Also needs epochal.losses, which computes the per-sample values.
    rng = _rng(16)
    logits = rng.normal(size=(3, 8, 4)).astype("float32")
    labels = rng.integers(0, 4, (3, 8))
    cases = [
        ("SparseCategoricalCrossentropy", {"from_logits": True}, labels, logits),
        ("CategoricalCrossentropy", {"label_smoothing": 0.1}, np.eye(4, dtype="float32")[labels],
         1 / (1 + np.exp(-logits))),
        ("BinaryCrossentropy", {"from_logits": True}, (rng.random((3, 8, 4)) < 0.5).astype("float32"), logits),
    ]
    for class_name, kwargs, y_true, y_pred in cases:
        reference, ours = getattr(keras.metrics, class_name)(**kwargs), getattr(metrics, class_name)(**kwargs)
        for batch in range(3):
            weight = rng.random(8).astype("float32")
            reference.update_state(y_true[batch], y_pred[batch], sample_weight=weight)
            ours.update_state(_tensor(y_true[batch]), _tensor(y_pred[batch]), sample_weight=_tensor(weight))
        expected = float(keras.ops.convert_to_numpy(reference.result()))
        assert float(ours.result()) == pytest.approx(expected, rel=1e-5), class_name


@pytest.mark.parametrize("name", ["Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
                                  "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "MeanSquaredError",
                                  "MeanAbsoluteError", "MeanAbsolutePercentageError", "RootMeanSquaredError",
                                  "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
                                  "TruePositives", "FalsePositives", "Precision", "Recall", "AUC", "Mean", "Sum"])
def test_direction_matches_keras(keras, name):
    # Callbacks with mode='auto' read it to know whether a renamed metric should go up or down.
    assert getattr(metrics, name)()._direction == getattr(getattr(keras.metrics, name)(), "_direction", None)
