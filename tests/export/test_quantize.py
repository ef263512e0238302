"""int8 versions of the nets: smaller, still loading on the device, contract carried over."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from helpers.runs import LABELS, SPEC
from tonecue.edge.model import EmotionModel, ModelContract
from tonecue.edge.vad import GateSettings
from tonecue.export.convert import convert, read_contract, read_metadata
from tonecue.export.quantize import QuantizationError, calibration_inputs, op_types, quantize
from tonecue.export.verify import onnx_proba
from tonecue.train import models
from tonecue.train.nets import make_net, predict_proba

# Full-size nets (the run's architectures): the size target only makes sense with real weights.
SHAPES = {"cnn1d": (30,), "cnn2d": SPEC.image_shape, "crnn": SPEC.sequence_shape, "attn-cnn": SPEC.sequence_shape}


def _inputs(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *SHAPES[kind])).astype(np.float32)
    labels = np.arange(n) % len(LABELS)
    x.reshape(n, -1)[:, : len(LABELS)] += 2.0 * np.eye(len(LABELS), dtype=np.float32)[labels]
    return x * 3.0 + 1.0, labels


@pytest.fixture(scope="module", params=list(SHAPES))
def pair(request, tmp_path_factory):
    kind = request.param
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = make_net(kind, SHAPES[kind], len(LABELS)).eval()
    X, y = _inputs(kind, 256, 0)
    net.set_normalization(X)
    selected = tuple(range(0, 2 * SHAPES["cnn1d"][0], 2)) if kind == "cnn1d" else None
    contract = ModelContract(SPEC, GateSettings(), LABELS, models.get(kind).input_kind, selected, model_name=kind,
                             training={"metrics": {"speaker_grouped": {"clip_uar": 0.5}}})
    out = tmp_path_factory.mktemp(kind)
    fp32 = convert(net, contract, out / f"{kind}.fp32.onnx")
    int8 = quantize(fp32, out / f"{kind}.int8.onnx", kind, calibration_inputs(X, y, 128))
    return {"kind": kind, "net": net, "fp32": fp32, "int8": int8, "contract": contract}


def test_int8_is_smaller_and_close(pair):
    kind, fp32, int8 = pair["kind"], pair["fp32"], pair["int8"]
    ratio = int8.stat().st_size / fp32.stat().st_size
    # cnn1d's weights are a few tens of kB: the contract and the QDQ nodes weigh on its ratio.
    assert ratio < (0.5 if kind == "cnn1d" else 1 / 3)
    X, _ = _inputs(kind, 64, 1)
    p32, p8 = onnx_proba(fp32, X), onnx_proba(int8, X)
    np.testing.assert_allclose(p32, predict_proba(pair["net"], X), atol=1e-5)
    assert np.abs(p8 - p32).max() < 0.1
    assert np.mean(p8.argmax(1) == p32.argmax(1)) >= 0.9
    np.testing.assert_allclose(p8.sum(axis=1), 1.0, atol=1e-4)  # the softmax stays float


def test_int8_operators(pair):
    ops = op_types(pair["int8"])
    assert "ConvInteger" not in ops and "MatMulInteger" not in ops  # never dynamic int8 convolutions
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    if pair["kind"] == "crnn":
        assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops
    weights = [t for t in onnx.load(str(pair["int8"])).graph.initializer if t.name.endswith("weight_quantized")]
    assert weights and all(t.data_type == onnx.TensorProto.INT8 for t in weights)


def test_metadata_survives_quantization(pair):
    before, after = read_contract(pair["fp32"]), read_contract(pair["int8"])
    assert after.precision == "int8" and before.precision == "fp32"
    assert (after.spec, after.gate, after.labels, after.input_kind, after.selected_features, after.model_name) == (
        before.spec, before.gate, before.labels, before.input_kind, before.selected_features, before.model_name
    )
    assert after.training["metrics"] == before.training["metrics"]
    assert after.training["quantization"]["calibration_windows"] == 128
    assert after.training["quantization"]["method"] == models.get(pair["kind"]).quantization.description
    assert not [k for k in read_metadata(pair["int8"]) if not k.startswith("tonecue.")]


def test_int8_loads_on_the_device(pair):
    model = EmotionModel(pair["int8"])
    assert model.contract.precision == "int8"
    windows = np.random.default_rng(2).standard_normal((3, SPEC.window_samples)).astype(np.float32) * 0.1
    p = model.probabilities(windows)
    assert p.shape == (3, len(LABELS)) and np.all(np.isfinite(p))


def test_what_is_not_quantized(tmp_path, pair):
    assert {k.name: k.quantization.method for k in models.kinds()} == {
        "rf": "none", "svm": "none", "dt": "none", "svm-paraling": "none", "klr-paraling-mfcc": "none",
        "klr-paraling-mfcc-upper": "none", "cnn1d": "static", "cnn2d": "static", "crnn": "static+dynamic", "attn-cnn": "static"}
    with pytest.raises(QuantizationError, match="tree ensemble"):
        quantize(pair["fp32"], tmp_path / "x.onnx", "rf", None)
    with pytest.raises(QuantizationError, match="unknown model kind 'mlp'"):
        quantize(pair["fp32"], tmp_path / "x.onnx", "mlp", None)
    with pytest.raises(QuantizationError, match="calibration windows"):
        quantize(pair["fp32"], tmp_path / "x.onnx", pair["kind"], None)
    wrong = np.zeros((4, 3), np.float32)
    with pytest.raises(QuantizationError, match="calibration inputs have shape"):
        quantize(pair["fp32"], tmp_path / "x.onnx", pair["kind"], wrong)


def test_calibration_sample_is_balanced_and_seeded():
    X = np.arange(1000, dtype=np.float32)[:, None]
    y = np.r_[np.zeros(700, int), np.ones(200, int), np.full(100, 2)]
    a = calibration_inputs(X, y, 90, seed=3)
    assert len(a) == 90 and np.array_equal(a, calibration_inputs(X, y, 90, seed=3))
    labels = y[a[:, 0].astype(int)]
    assert np.bincount(labels).tolist() == [30, 30, 30]
    assert len(calibration_inputs(X, y, 10_000)) == 1000
    with pytest.raises(QuantizationError):
        calibration_inputs(X[:0], y[:0])
