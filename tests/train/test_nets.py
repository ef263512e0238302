"""The nets on tiny separable data: shapes, learning, reproducibility, early stopping, devices."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from tonecue.edge.spec import FrontendSpec
from tonecue.train import models
from tonecue.train.nets import (
    AttentionCnn,
    Cnn1d,
    Cnn2d,
    CnnBiLstm,
    fit_net,
    load_net,
    make_net,
    pick_device,
    predict_proba,
    save_net,
    unweighted_average_recall,
    with_softmax,
)

SPEC = FrontendSpec()
N_CLASSES = 4
K = 12  # selected statistics for the 1D CNN

# Tiny versions, so that each fit takes a fraction of a second on a busy CPU.
TINY = {
    "cnn1d": (K, {"channels": 4}),
    "cnn2d": (SPEC.image_shape, {"channels": (8, 16, 16), "hidden": 32}),
    "crnn": (SPEC.sequence_shape, {"conv_channels": 8, "hidden": 8}),
    "attn-cnn": (SPEC.sequence_shape, {"channels": (8, 8, 8), "attention": 4}),
}
FIT = {"epochs": 10, "lr": 5e-3, "batch_size": 32, "num_threads": 1}


def tiny(kind: str) -> torch.nn.Module:
    shape, kwargs = TINY[kind]
    return make_net(kind, shape, N_CLASSES, **kwargs)


def separable(kind: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise plus a class-dependent offset on a quarter of the inputs, and a large common offset."""
    shape = (K,) if kind == "cnn1d" else TINY[kind][0]
    rng = np.random.default_rng(seed)
    y = np.arange(n) % N_CLASSES
    X = rng.normal(size=(n, *shape)) + 5.0  # the offset checks the normalisation buffers
    # The others may tell classes by where in the window a cue is; a net that pools over time must
    # not (by design), so its classes differ in which features, every frame.
    pooled = kind == "attn-cnn"
    flat = X.transpose(0, 2, 1).reshape(n, -1) if pooled else X.reshape(n, -1)
    size = flat.shape[1]
    for c in range(N_CLASSES):
        cols = np.arange(c * size // N_CLASSES, (c + 1) * size // N_CLASSES)
        flat[np.ix_(y == c, cols)] += 1.5
    X = flat.reshape(n, shape[1], shape[0]).transpose(0, 2, 1) if pooled else flat.reshape(X.shape)
    return np.ascontiguousarray(X, dtype=np.float32), y.astype(np.int64)


@pytest.fixture(scope="module", params=list(TINY))
def fitted(request):
    kind = request.param
    X, y = separable(kind, 160, 0)
    X_val, y_val = separable(kind, 80, 1)
    net, history = fit_net(tiny(kind), X, y, X_val, y_val, seed=7, patience=None, **FIT)
    return {"kind": kind, "net": net, "history": history, "X": X, "y": y, "X_val": X_val, "y_val": y_val}


def test_learns_and_predicts(fitted):
    net, X_val, y_val = fitted["net"], fitted["X_val"], fitted["y_val"]
    proba = predict_proba(net, X_val, batch_size=32)
    assert proba.shape == (len(X_val), N_CLASSES) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean(proba.argmax(axis=1) == y_val) > 0.8
    assert not net.training and next(net.parameters()).device.type == "cpu"
    # Normalisation buffers come from the training set and travel in the state dict.
    assert abs(float(net.mean.mean()) - 5.0) < 0.5
    assert {"mean", "std"} <= set(net.state_dict())
    history = fitted["history"]
    assert len(history.epochs) == FIT["epochs"] and history.device == "cpu" and not history.stopped_early
    assert history.train_loss[-1] < history.train_loss[0]
    assert all(e.seconds >= 0 and 0 <= e.val_uar <= 1 for e in history.epochs)
    assert history.as_dict()["kind"] == fitted["kind"]


def test_same_seed_same_predictions(fitted):
    kind = fitted["kind"]
    again, history = fit_net(tiny(kind), fitted["X"], fitted["y"], fitted["X_val"], fitted["y_val"], seed=7, patience=None, **FIT)
    np.testing.assert_array_equal(predict_proba(again, fitted["X_val"]), predict_proba(fitted["net"], fitted["X_val"]))
    assert history.train_loss == fitted["history"].train_loss
    # The seed decides, not the state of the global generator or the net handed in.
    torch.manual_seed(12345)
    other, _ = fit_net(tiny(kind), fitted["X"], fitted["y"], seed=8, **{**FIT, "epochs": 1})
    assert not np.array_equal(predict_proba(other, fitted["X_val"]), predict_proba(fitted["net"], fitted["X_val"]))


def test_save_load_and_softmax_wrapper(fitted, tmp_path):
    net, X_val = fitted["net"], fitted["X_val"]
    loaded = load_net(save_net(net, tmp_path / "net.pt"))
    assert type(loaded) is type(net) and loaded.config == net.config and loaded.kind == net.kind
    np.testing.assert_array_equal(predict_proba(loaded, X_val), predict_proba(net, X_val))
    with torch.no_grad():
        wrapped = with_softmax(net).eval()(torch.from_numpy(X_val[:1]))  # a batch of one
    np.testing.assert_allclose(wrapped.numpy(), predict_proba(net, X_val[:1]), atol=1e-6)


def test_early_stopping_restores_the_best_epoch():
    # Validation labels that disagree with the training rule: UAR peaks early, then falls.
    X, y = separable("cnn1d", 160, 0)
    X_val, y_val = separable("cnn1d", 80, 1)
    y_val = np.where(np.arange(len(y_val)) % 2 == 0, y_val, (y_val + 1) % N_CLASSES)
    net, history = fit_net(tiny("cnn1d"), X, y, X_val, y_val, seed=0, patience=2, epochs=60, lr=1e-2, batch_size=32)
    assert history.stopped_early
    assert len(history.epochs) == history.best_epoch + 2 and history.returned_epoch == history.best_epoch
    keys = [(e.val_uar, -e.val_loss) for e in history.epochs]
    assert history.best_epoch == 1 + keys.index(max(keys))
    best = history.epochs[history.best_epoch - 1]
    proba = predict_proba(net, X_val)
    assert unweighted_average_recall(y_val, proba.argmax(axis=1)) == pytest.approx(best.val_uar)
    loss = -np.mean(np.log(proba[np.arange(len(y_val)), y_val]))
    assert loss == pytest.approx(best.val_loss, rel=1e-4)


def test_monitor_loss_and_no_validation():
    X, y = separable("cnn1d", 64, 0)
    net, history = fit_net(tiny("cnn1d"), X, y, X, y, seed=0, patience=1, epochs=3, monitor="loss", schedule="onecycle", lr=1e-2)
    assert history.monitor == "loss" and history.best_epoch is not None
    net, history = fit_net(tiny("cnn1d"), X, y, seed=0, epochs=2, class_weight="balanced")
    assert history.best_epoch == history.returned_epoch == 2 and history.epochs[-1].val_uar is None
    X_val = X + np.float32(0.5)
    _, history = fit_net(tiny("cnn1d"), X, y, X_val, y, seed=0, epochs=3, patience=None, restore_best=False)
    assert history.returned_epoch == 3 and history.best_epoch in (1, 2, 3)


def test_device_selection(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device() == torch.device("cpu")
    X, y = separable("cnn1d", 32, 0)
    _, history = fit_net(tiny("cnn1d"), X, y, epochs=1)
    assert history.device == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == torch.device("cuda")
    assert pick_device("cpu") == torch.device("cpu")


def test_global_torch_settings_are_restored():
    before = (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads(), torch.backends.cudnn.benchmark)
    X, y = separable("cnn1d", 32, 0)
    fit_net(tiny("cnn1d"), X, y, epochs=1, num_threads=1)
    assert (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads(), torch.backends.cudnn.benchmark) == before


def test_shapes_recipes_and_errors():
    assert isinstance(make_net("cnn1d", (K,), 4), Cnn1d)
    assert isinstance(make_net("cnn2d", SPEC.image_shape, 4), Cnn2d)
    assert isinstance(make_net("crnn", SPEC.sequence_shape, 4), CnnBiLstm)
    attention = make_net("attn-cnn", (87, 40), 4)
    assert isinstance(attention, AttentionCnn) and sum(p.numel() for p in attention.parameters()) <= 500_000
    assert make_net("attn-cnn", (20, 40), 4).eval()(torch.zeros(3, 20, 40)).shape == (3, 4)  # any window length
    with pytest.raises(ValueError, match="at least 2 frames"):
        make_net("attn-cnn", (1, 40), 4)
    assert make_net("cnn1d", 3, 4)(torch.zeros(2, 3)).shape == (2, 4)  # fewer features than the kernel
    for kind in TINY:
        assert tiny(kind).eval()(torch.zeros(5, *tiny(kind).input_shape)).shape == (5, N_CLASSES)
    cnn2d, crnn = models.get("cnn2d").recipe, models.get("crnn").recipe
    assert (cnn2d.epochs, cnn2d.schedule, cnn2d.loss) == (20, "onecycle", "nll")
    assert crnn.epochs == 100 and crnn.patience
    assert tiny("crnn").kind == "crnn" and load_net  # the kind make_net names picks the recipe
    with pytest.raises(ValueError, match="unknown model kind 'mlp'"):
        make_net("mlp", 4, 4)
    with pytest.raises(ValueError, match="'rf' is a classic model, not a net"):
        make_net("rf", 4, 4)
    with pytest.raises(TypeError, match="build the Cnn1d with make_net"):
        fit_net(Cnn1d((K,), 4), *separable("cnn1d", 8, 0), epochs=1)
    with pytest.raises(ValueError, match="too small"):
        make_net("cnn2d", (2, 3, 8), 4)
    X, y = separable("cnn1d", 16, 0)
    with pytest.raises(ValueError, match="shape"):
        fit_net(tiny("cnn1d"), X[:, :5], y, epochs=1)
    with pytest.raises(ValueError, match="labels must lie"):
        fit_net(tiny("cnn1d"), X, y + 4, epochs=1)
    with pytest.raises(ValueError, match="both"):
        fit_net(tiny("cnn1d"), X, y, X_val=X, epochs=1)


@pytest.mark.parametrize("kind", list(TINY))
def test_onnx_export_with_dynamic_batch(kind, tmp_path):
    """The later export step's route: torch.onnx dynamo export, batch dimension dynamic."""
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    net = tiny(kind).eval()
    X, _ = separable(kind, 5, 0)
    net.set_normalization(X)
    model = with_softmax(net).eval()
    path = tmp_path / f"{kind}.onnx"
    with warnings.catch_warnings():  # the exporter's own deprecation chatter
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (torch.from_numpy(X[:2]),), str(path), dynamo=True, input_names=["x"], output_names=["p"],
            dynamic_shapes={"x": {0: torch.export.Dim("batch")}}, verbose=False,
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in (1, 5):
        np.testing.assert_allclose(session.run(None, {"x": X[:n]})[0], predict_proba(net, X[:n]), atol=1e-5)
