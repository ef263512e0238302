"""The kernel model's ONNX converter: the file gives the fitted model's probabilities and labels."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tonecue.export import kernel_onnx
from tonecue.train.kernel import NystroemLogisticRegression


def _convert(pipeline, n_features: int, n_classes: int):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType

    kernel_onnx.register()
    kernel_onnx.register()  # a second registration changes nothing
    return convert_sklearn(
        pipeline, initial_types=[("input", FloatTensorType([None, n_features]))],
        final_types=[("label", Int64TensorType([None])), ("probabilities", FloatTensorType([None, n_classes]))],
        options={id(pipeline.steps[-1][1]): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3},
    )


@pytest.mark.parametrize("classes", [(0, 1, 2, 3), (3, 7)])
def test_the_onnx_file_gives_the_models_probabilities(classes):
    rng = np.random.default_rng(1)
    X = (rng.standard_normal((500, 40)) * rng.uniform(0.1, 30, 40)).astype(np.float32)
    y = np.asarray(classes)[(X[:, 0] * X[:, 1] > 0).astype(int) * (len(classes) - 1) // 1 % len(classes)]
    y[::5] = classes[-1]
    pipeline = make_pipeline(StandardScaler(), NystroemLogisticRegression(n_components=300, random_state=0)).fit(X, y)
    onx = _convert(pipeline, 40, len(classes))
    # The scaler is skl2onnx's (ai.onnx.ml); the kernel model is plain ai.onnx operators.
    ops = {(n.domain, n.op_type) for n in onx.graph.node}
    assert {op for domain, op in ops if domain} == {"Scaler"}
    assert {("", op) for op in ("MatMul", "Mul", "Add", "Exp", "Softmax", "ArgMax", "Gather")} <= ops
    label, probabilities = ort.InferenceSession(onx.SerializeToString()).run(None, {"input": X})
    np.testing.assert_allclose(probabilities, pipeline.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(label, pipeline.predict(X))


def test_classes_that_are_not_integer_codes_are_refused():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((80, 5)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "angry", "sad")
    pipeline = make_pipeline(NystroemLogisticRegression(n_components=20, random_state=0)).fit(X, y)
    with pytest.raises(TypeError, match="classes must be integer codes"):
        _convert(pipeline, 5, 2)
