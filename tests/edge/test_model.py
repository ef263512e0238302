"""The model runner: the contract inside the ONNX file, and refusing what it cannot honour.

Tiny ONNX graphs are built here with the `onnx` package (the host environment has it; the device
environment skips these and tests the shipped model instead).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tonecue.edge.model import ModelContract, ModelError, EmotionModel
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.vad import GateSettings

from helpers.onnx_models import write_model

LABELS = ("angry", "happy", "sad", "neutral")


def contract(**changes) -> ModelContract:
    values = dict(spec=FrontendSpec(), gate=GateSettings(), labels=LABELS, input_kind="stats", selected_features=(0, 3, 50, 113))
    values.update(changes)
    return ModelContract(**values)


def test_contract_round_trips_through_metadata():
    c = contract(training={"speaker_grouped_uar": 0.61})
    assert ModelContract.from_metadata(c.to_metadata()) == c
    assert c.input_shape == (4,)
    assert contract(input_kind="image", selected_features=None).input_shape == (2, 20, 50)


def test_runner_builds_the_frontend_the_contract_asks_for(tmp_path):
    c = contract()
    model = EmotionModel(write_model(tmp_path / "m.onnx", 4, 4, c.to_metadata()))
    assert model.labels == LABELS and model.contract == c
    stream = np.random.default_rng(1).standard_normal(3 * c.spec.window_samples).astype(np.float32) * 0.1
    starts = [0, 7 * 512, 14 * 512]
    windows = np.stack([stream[s : s + c.spec.window_samples] for s in starts])
    probabilities = model.probabilities(windows)
    assert probabilities.shape == (3, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # The streaming featurizer, fed windows of one stream, gives the model the same numbers.
    featurizer = model.featurizer()
    streamed = np.stack([featurizer(w, s) for s, w in zip(starts, windows)])
    np.testing.assert_allclose(model.predict_proba(streamed), probabilities, rtol=1e-5)


def test_image_model(tmp_path):
    c = contract(input_kind="image", selected_features=None)
    model = EmotionModel(write_model(tmp_path / "m.onnx", (2, 20, 50), 4, c.to_metadata()))
    window = np.zeros((1, c.spec.window_samples), dtype=np.float32)
    assert model.probabilities(window).shape == (1, 4)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        EmotionModel(tmp_path / "nope.onnx")


@pytest.mark.parametrize("content", [b"", b"not an onnx file at all", b"\x08\x07\x12\x04junk" * 10])
def test_corrupt_file(tmp_path, content):
    pytest.importorskip("onnxruntime")
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        EmotionModel(path)


def test_truncated_model(tmp_path):
    path = write_model(tmp_path / "m.onnx", 4, 4, contract().to_metadata())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        EmotionModel(path)


def test_onnx_without_a_contract(tmp_path):
    with pytest.raises(ModelError, match="not a tonecue model"):
        EmotionModel(write_model(tmp_path / "m.onnx", 4, 4, None))


def _metadata_with(**overrides):
    metadata = contract().to_metadata()
    for key, value in overrides.items():
        metadata["tonecue." + key] = json.dumps(value)
    return metadata


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"contract_version": 99}, "contract version 99"),
        ({"input_kind": "spectrogram"}, "input kind 'spectrogram' is unknown"),
        ({"labels": []}, "labels must be a non-empty list"),
        ({"labels": ["a", "a", "b", "c"]}, "labels repeat"),
        ({"selected_features": [0, 500]}, "indices into the 114-value stats vector"),
        ({"frontend": {**FrontendSpec().to_dict(), "n_mfcc": 500}}, "cannot be honoured"),
        ({"frontend": {**FrontendSpec().to_dict(), "format_version": 2}}, "cannot be honoured"),
        ({"input_shape": [5]}, "does not match what its frontend makes"),
    ],
)
def test_contracts_it_cannot_honour(tmp_path, overrides, message):
    with pytest.raises(ModelError, match=message):
        EmotionModel(write_model(tmp_path / "m.onnx", 4, 4, _metadata_with(**overrides)))


def test_graph_and_contract_disagree_on_the_input(tmp_path):
    with pytest.raises(ModelError, match="the graph takes"):
        EmotionModel(write_model(tmp_path / "m.onnx", 7, 4, contract().to_metadata()))


def test_graph_gives_the_wrong_number_of_scores(tmp_path):
    model = EmotionModel(write_model(tmp_path / "m.onnx", 4, 3, contract().to_metadata()))
    with pytest.raises(ModelError, match="3 scores for 4 labels"):
        model.probabilities(np.zeros((1, FrontendSpec().window_samples), dtype=np.float32))
