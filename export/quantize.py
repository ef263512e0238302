"""int8 versions of the exported nets, where int8 helps; the contract carried over.

What each model kind gets (onnxruntime 1.32, CPU execution provider):

| kind  | int8                                                                               |
|-------|------------------------------------------------------------------------------------|
| cnn1d | static QDQ of the dense layer (Gemm: 99 % of the weights), int8 weights per output   |
|       | channel, int8 activations; its one small Conv stays float (see below)               |
| cnn2d | static QDQ: Conv and Gemm, int8 weights per output channel, int8 activations         |
| crnn  | static QDQ for its Conv layers and classifier, then dynamic int8 for the LSTM        |
|       | (DynamicQuantizeLSTM: int8 weights, activations quantized per call)                  |
| rf, tree, svm | none: stay fp32 (see NOT_QUANTIZED)                                          |

Static quantization needs calibration inputs: windows drawn from the training set, featurized
like every other window (`calibration_inputs` picks a class-balanced, seeded sample). The
activation ranges are min/max over them. Only Conv, Gemm and MatMul are quantized: leaving the
Softmax alone keeps the probabilities in float (a QDQ pair after it would round them to steps
of 1/255), and the normalisation (Sub, Div) stays float too. The Gemm/MatMul outputs (the
logits) are left float as well (`OpTypesToExcludeOutputQuantization`): one int8 grid over the
logits' whole range moved probabilities by up to 0.5 and flipped close calls on the dev corpus.

The 1D CNN's Conv reads the normalised statistics directly; their heavy tails make one int8 scale
for that input coarse, and quantizing it cost the full-size model 4.6 % of its window labels on
the dev corpus (accuracy -0.8 points), against 0.7 % (-0.1 points) with the Conv left float. The
Conv holds 384 of its ~9,000 weights, so leaving it float costs about 1 kB.

Dynamic quantization of a Conv gives ConvInteger, which onnxruntime runs *slower* than a float
Conv (no fused int8 kernel; the activations are quantized on every call): it is never used for
convolutions here. For the LSTM it is the only int8 route onnxruntime has (static QDQ leaves an
LSTM in float), and DynamicQuantizeLSTM is fast.

The quantizers keep metadata_props in the versions tested, but nothing promises it, so the
contract is written again with precision "int8" (and how it was quantized under training).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tonecue.edge.model import ModelContract

from .convert import INPUT_NAME, read_contract, set_contract, strip
from tonecue.edge.errors import TonecueError

__all__ = [
    "NOT_QUANTIZED",
    "QUANTIZATION",
    "QuantizationError",
    "calibration_inputs",
    "quantize",
]

#: How each net is quantized (see the module docstring).
QUANTIZATION = {
    "cnn1d": "static QDQ (Gemm; per-channel int8 weights, int8 activations; the small Conv stays float)",
    "cnn2d": "static QDQ (Conv, Gemm; per-channel int8 weights, int8 activations)",
    "crnn": "static QDQ (Conv, Gemm) + dynamic int8 LSTM (DynamicQuantizeLSTM)",
}

#: Why the classic models stay fp32.
NOT_QUANTIZED = {
    "rf": (
        "tree ensemble: skl2onnx writes an ai.onnx.ml TreeEnsembleClassifier, whose thresholds and "
        "leaf values are attributes, not tensors; onnxruntime's quantizers have no int8 form of it "
        "(and a tree compares, it does no multiply-adds for int8 to speed up)"
    ),
    "tree": (
        "decision tree: the same TreeEnsembleClassifier as the forest, not quantizable, and already "
        "tiny and fast"
    ),
    "svm": (
        "SVMClassifier (ai.onnx.ml): support vectors and coefficients are attributes of one "
        "operator with no int8 kernel in onnxruntime; the quantizers leave it untouched"
    ),
}

_STATIC_OPS = {"cnn1d": ["Gemm", "MatMul"], "cnn2d": ["Conv", "Gemm", "MatMul"], "crnn": ["Conv", "Gemm", "MatMul"]}
_DYNAMIC_OPS = {"crnn": ["LSTM"]}


class QuantizationError(TonecueError, RuntimeError):
    """A model that cannot be quantized as asked (unknown kind, no calibration data)."""


@dataclass
class _Reader:
    """onnxruntime's CalibrationDataReader protocol over an array of model inputs."""

    inputs: np.ndarray
    batch_size: int = 32
    _next: int = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._next >= len(self.inputs):
            return None
        batch = self.inputs[self._next : self._next + self.batch_size]
        self._next += self.batch_size
        return {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)}

    def rewind(self) -> None:
        self._next = 0


def calibration_inputs(features: np.ndarray, labels: np.ndarray, n: int = 512, seed: int = 0) -> np.ndarray:
    """A seeded, class-balanced sample of up to `n` rows of `features` (training windows)."""
    features = np.asarray(features)
    labels = np.asarray(labels)
    if len(features) == 0:
        raise QuantizationError("no calibration windows")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = max(1, n // len(classes))
    picked = []
    for c in classes:
        rows = np.flatnonzero(labels == c)
        picked.append(rng.choice(rows, size=min(per_class, len(rows)), replace=False))
    rows = np.sort(np.concatenate(picked))
    return np.ascontiguousarray(features[rows], dtype=np.float32)


def quantize(
    fp32_path: str | Path,
    out_path: str | Path,
    kind: str,
    calibration: np.ndarray | None,
    *,
    per_channel: bool = True,
    extra_training: dict[str, Any] | None = None,
) -> Path:
    """Write the int8 version of the fp32 file `fp32_path` (a net of `kind`) to `out_path`.

    calibration: model inputs (n, *input_shape) float32 from the training set, as the graph takes
    them (the selected statistics for cnn1d). The file's contract is carried over with precision
    "int8" and the method under training["quantization"].
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if kind not in QUANTIZATION:
        reason = NOT_QUANTIZED.get(kind, "unknown model kind")
        raise QuantizationError(f"{kind} is not quantized: {reason}")
    if calibration is None or len(calibration) == 0:
        raise QuantizationError(f"{kind}: static quantization needs calibration windows from the training set")
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    contract = read_contract(fp32_path)
    calibration = np.ascontiguousarray(calibration, dtype=np.float32)
    if calibration.shape[1:] != contract.input_shape:
        raise QuantizationError(
            f"{kind}: calibration inputs have shape {calibration.shape[1:]}, the model takes {contract.input_shape}"
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tonecue-quant-") as tmp:
        tmp = Path(tmp)
        pre = tmp / "pre.onnx"
        # Shape inference and onnxruntime's graph optimisations (constant folding of the LSTM
        # weights the exporter builds with Slice/Concat), as onnxruntime recommends first.
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=False)
        source = pre
        if kind in _DYNAMIC_OPS:
            # The LSTM first: quantize_dynamic takes a model with QuantizeLinear nodes for one
            # that is already quantized, while quantize_static runs DynamicQuantizeLSTM happily.
            source = tmp / "dynamic.onnx"
            quantize_dynamic(
                str(pre),
                str(source),
                op_types_to_quantize=list(_DYNAMIC_OPS[kind]),
                weight_type=QuantType.QInt8,
                per_channel=False,
            )
        result = tmp / "static.onnx"
        quantize_static(
            str(source),
            str(result),
            _Reader(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(_STATIC_OPS[kind]),
            # The classifier's logits stay float: a per-tensor int8 grid over their whole range
            # moves the probabilities by several hundredths and flips close calls.
            extra_options={"OpTypesToExcludeOutputQuantization": ["Gemm", "MatMul"]},
        )
        _finish(result, out_path, contract, kind, len(calibration), extra_training)
    return out_path


def _finish(source: Path, out_path: Path, contract: ModelContract, kind: str, n_calibration: int, extra) -> None:
    import dataclasses

    import onnx

    model = onnx.load(str(source))
    training = dict(contract.training)
    training["quantization"] = {
        "method": QUANTIZATION[kind],
        "calibration_windows": int(n_calibration),
        "calibration": "min/max over a class-balanced, seeded sample of training windows",
        **(extra or {}),
    }
    int8 = dataclasses.replace(contract, precision="int8", training=training)
    strip(model)
    set_contract(model, int8)
    model.producer_name = "tonecue.export"
    model.doc_string = f"tonecue {int8.model_name} (int8); contract in metadata_props"
    onnx.save(model, str(out_path))


def op_types(path: str | Path) -> list[str]:
    """The operator types of a file, sorted (what quantization turned into what)."""
    import onnx

    return sorted({n.op_type for n in onnx.load(str(path)).graph.node})


def weight_bytes(path: str | Path) -> int:
    """Bytes of the file's initializers (weights, biases, scales, zero points, constants)."""
    import onnx
    from onnx import helper

    total = 0
    for tensor in onnx.load(str(path)).graph.initializer:
        n = int(np.prod(tensor.dims)) if tensor.dims else 1
        total += n * helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    return total
