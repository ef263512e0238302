"""int8 versions of the exported nets, where int8 helps; the contract carried over.

What each model kind gets is its registry record's `quantization` (`tonecue.train.models`); for
the seed's six (onnxruntime 1.32, CPU execution provider):

| kind  | int8                                                                               |
|-------|------------------------------------------------------------------------------------|
| cnn1d | static QDQ of the dense layer (Gemm: 99 % of the weights), int8 weights per output   |
|       | channel, int8 activations; its one small Conv stays float (see below)               |
| cnn2d | static QDQ: Conv and Gemm, int8 weights per output channel, int8 activations         |
| crnn  | static QDQ for its Conv layers and classifier, then dynamic int8 for the LSTM        |
|       | (DynamicQuantizeLSTM: int8 weights, activations quantized per call)                  |
| rf, dt, svm | none: stay fp32 (the records say why)                                         |

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

from tonecue.edge.errors import TonecueError
from tonecue.edge.model import ModelContract
from tonecue.train.models import ModelKindError, get

from .convert import INPUT_NAME, place_detector, read_contract, set_contract, strip

__all__ = [
    "QuantizationError",
    "calibration_inputs",
    "quantize",
]


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
    """Write the int8 version of the fp32 file `fp32_path` (a model of `kind`) to `out_path`, as
    the kind's record says (static QDQ of its static ops, dynamic int8 of its dynamic ops).

    calibration: model inputs (n, *input_shape) float32 from the training set, as the graph takes
    them (the selected statistics for cnn1d). The file's contract is carried over with precision
    "int8" and the method under training["quantization"].
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        plan = get(kind).quantization
    except ModelKindError as exc:
        raise QuantizationError(f"{kind} is not quantized: {exc}") from None
    if plan.method == "none":
        raise QuantizationError(f"{kind} is not quantized: {plan.description}")
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    contract = read_contract(fp32_path)
    if plan.static_ops:
        if calibration is None or len(calibration) == 0:
            raise QuantizationError(f"{kind}: static quantization needs calibration windows from the training set")
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
        if plan.dynamic_ops:
            # The LSTM first: quantize_dynamic takes a model with QuantizeLinear nodes for one
            # that is already quantized, while quantize_static runs DynamicQuantizeLSTM happily.
            source = tmp / "dynamic.onnx"
            quantize_dynamic(
                str(pre),
                str(source),
                op_types_to_quantize=list(plan.dynamic_ops),
                weight_type=QuantType.QInt8,
                per_channel=False,
            )
        result = source
        if plan.static_ops:
            result = tmp / "static.onnx"
            quantize_static(
                str(source),
                str(result),
                _Reader(calibration),
                quant_format=QuantFormat.QDQ,
                per_channel=per_channel,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=list(plan.static_ops),
                # The classifier's logits stay float: a per-tensor int8 grid over their whole range
                # moves the probabilities by several hundredths and flips close calls.
                extra_options={"OpTypesToExcludeOutputQuantization": ["Gemm", "MatMul"]},
            )
        method = {"method": plan.description}
        if plan.static_ops:
            method |= {"calibration_windows": int(len(calibration)),
                       "calibration": "min/max over a class-balanced, seeded sample of training windows"}
        _finish(result, out_path, contract, {**method, **(extra_training or {})})
    return out_path


def _finish(source: Path, out_path: Path, contract: ModelContract, quantization: dict[str, Any]) -> None:
    import dataclasses

    import onnx

    model = onnx.load(str(source))
    training = dict(contract.training)
    training["quantization"] = quantization
    int8 = dataclasses.replace(contract, precision="int8", training=training)
    strip(model)
    set_contract(model, int8)
    model.producer_name = "tonecue.export"
    model.doc_string = f"tonecue {int8.model_name} (int8); contract in metadata_props"
    onnx.save(model, str(out_path))
    place_detector(int8, Path(out_path).parent)


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
