"""Tiny ONNX graphs for tests of the model runner and everything built on it.

Built with the `onnx` package (the host environment has it; where it is missing the test skips).
"""

from __future__ import annotations

import numpy as np
import pytest


def write_model(path, n_inputs: int | tuple, n_outputs: int, metadata: dict[str, str] | None):
    """A linear layer and a softmax: input (batch, *shape) -> probabilities (batch, n_outputs),
    with `metadata` (e.g. a contract's `to_metadata()`) in the file. Returns `path`."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    shape = (n_inputs,) if isinstance(n_inputs, int) else tuple(n_inputs)
    flat = int(np.prod(shape))
    weights = np.random.default_rng(0).standard_normal((flat, n_outputs)).astype(np.float32) * 0.01
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "weights"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *shape])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", n_outputs])],
        [numpy_helper.from_array(weights, "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path
