"""skl2onnx's converter for `tonecue.train.kernel.NystroemLogisticRegression`.

skl2onnx has no converter for Nyström features, so this one writes the fitted model's own
formula with plain ai.onnx operators:

    scores = exp(2*gamma * X @ C.T - gamma * |x|^2 - gamma * |c|^2) @ W + b
    probabilities = softmax(scores);  label = classes[argmax(scores)]

`register()` adds it to skl2onnx's table; `classic_to_onnx` calls it before converting.
The weights stay float32: the kernel's distance is a difference of large terms, which int8
products would swamp.
"""

from __future__ import annotations

import numpy as np

__all__ = ["register"]


def _convert(scope, operator, container) -> None:
    from onnx import TensorProto

    model = operator.raw_operator
    x = operator.inputs[0].full_name
    label, probabilities = (o.full_name for o in operator.outputs)
    gamma = float(model.gamma_)
    c = np.asarray(model.components_, dtype=np.float64)
    n_features = c.shape[1]

    def constant(stem: str, value: np.ndarray, dtype=TensorProto.FLOAT) -> str:
        name = scope.get_unique_variable_name(stem)
        value = np.asarray(value)
        container.add_initializer(name, dtype, list(value.shape), value.ravel().tolist())
        return name

    def node(op: str, inputs: list[str], stem: str, **attrs) -> str:
        out = scope.get_unique_variable_name(stem)
        container.add_node(op, inputs, [out], name=scope.get_unique_operator_name(op), **attrs)
        return out

    cross = node("MatMul", [x, constant("landmarks_scaled", (2 * gamma * c.T).astype(np.float32))], "cross")
    squares = node("Mul", [x, x], "squares")
    norms = node("MatMul", [squares, constant("minus_gamma", np.full((n_features, 1), -gamma, np.float32))], "norms")
    landmark_norms = constant("landmark_norms", (-gamma * (c * c).sum(1))[None, :].astype(np.float32))
    exponent = node("Add", [node("Add", [cross, norms], "partial"), landmark_norms], "exponent")
    kernel = node("Exp", [exponent], "kernel")
    weights = constant("weights", np.asarray(model.weights_, dtype=np.float32))
    intercept = constant("intercept", np.asarray(model.intercept_, dtype=np.float32)[None, :])
    scores = node("Add", [node("MatMul", [kernel, weights], "weighted"), intercept], "scores")
    container.add_node("Softmax", [scores], [probabilities], name=scope.get_unique_operator_name("Softmax"), axis=1)
    best = node("ArgMax", [scores], "best", axis=1, keepdims=0)
    classes = np.asarray(model.classes_)
    if not np.issubdtype(classes.dtype, np.integer):
        raise TypeError(f"the kernel model's classes must be integer codes, got {classes.dtype}")
    container.add_node("Gather", [constant("classes", classes.astype(np.int64), TensorProto.INT64), best], [label],
                       name=scope.get_unique_operator_name("Gather"), axis=0)


def register() -> None:
    """Teach skl2onnx the kernel model (again is harmless: a registration replaces the last)."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    from tonecue.train.kernel import NystroemLogisticRegression

    update_registered_converter(
        NystroemLogisticRegression, "TonecueNystroemLogisticRegression",
        calculate_linear_classifier_output_shapes, _convert,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )
