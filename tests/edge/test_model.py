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


def paraling_contract(**changes) -> ModelContract:
    from tonecue.edge.normalize import NormalizationSettings

    values = dict(spec=FrontendSpec.at_rate(16000, window_seconds=2.0), input_kind="paraling", selected_features=None,
                  normalization=NormalizationSettings(kind="speaker", mean=(0.5,) * 67, std=(2.0,) * 67))
    values.update(changes)
    return contract(**values)


def test_paraling_model_states_the_settings_behind_its_input(tmp_path):
    c = paraling_contract()
    assert c.input_shape == (67,)
    metadata = c.to_metadata()
    stated = json.loads(metadata["tonecue.paraling"])
    assert stated["sample_rate"] == 16000 and stated["hop_ms"] == 11.625 and stated["context_seconds"] == c.spec.window_seconds
    assert ModelContract.from_metadata(metadata) == c
    model = EmotionModel(write_model(tmp_path / "m.onnx", 67, 4, metadata))
    rng = np.random.default_rng(2)
    stream = (0.1 * rng.standard_normal(3 * c.spec.window_samples)).astype(np.float32)
    hop = c.hop_frames * c.spec.hop_length
    windows = np.stack([stream[s : s + c.spec.window_samples] for s in (0, hop, 2 * hop)])
    featurizer = model.featurizer()
    streamed = np.stack([featurizer(w, s) for s, w in zip((0, hop, 2 * hop), windows)])
    np.testing.assert_allclose(model.predict_proba(streamed), model.probabilities(windows), rtol=1e-5)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("paraling", None, "trained on paralinguistic settings None"),
        ("paraling", {"format_version": 1, "sample_rate": 16000, "hop_ms": 10.0}, "but this tonecue computes"),
        ("normalization", {"format_version": 1, "kind": "speaker", "mean": [0.0] * 114, "std": [1.0] * 114},
         "114 values for a 67-value paraling vector"),
    ],
)
def test_paraling_contracts_it_cannot_honour(tmp_path, key, value, message):
    metadata = paraling_contract().to_metadata()
    metadata["tonecue." + key] = json.dumps(value)
    with pytest.raises(ModelError, match=message):
        EmotionModel(write_model(tmp_path / "m.onnx", 67, 4, metadata))


def test_the_device_applies_the_contracts_temperature(tmp_path):
    rng = np.random.default_rng(5)
    windows = (0.1 * rng.standard_normal((6, FrontendSpec().window_samples))).astype(np.float32)
    plain = EmotionModel(write_model(tmp_path / "a.onnx", 4, 4, contract().to_metadata()))
    c = contract(temperature=2.0)
    assert json.loads(c.to_metadata()["tonecue.calibration"]) == {"temperature": 2.0}
    assert ModelContract.from_metadata(c.to_metadata()).temperature == 2.0
    hot = EmotionModel(write_model(tmp_path / "b.onnx", 4, 4, c.to_metadata()))
    p, q = plain.probabilities(windows), hot.probabilities(windows)
    expected = np.sqrt(p) / np.sqrt(p).sum(axis=1, keepdims=True)  # log p / 2, renormalized
    np.testing.assert_allclose(q, expected, rtol=1e-5)
    assert np.array_equal(p.argmax(axis=1), q.argmax(axis=1))
    # Models exported before calibration say nothing: temperature 1.
    metadata = contract().to_metadata()
    del metadata["tonecue.calibration"]
    assert ModelContract.from_metadata(metadata).temperature == 1.0


@pytest.mark.parametrize("value", [{"temperature": 0}, {"temperature": "2"}, {"temperature": True}, [2.0]])
def test_a_temperature_it_cannot_use(tmp_path, value):
    with pytest.raises(ModelError, match="calibration must give a temperature from 0.01 to 100"):
        EmotionModel(write_model(tmp_path / "m.onnx", 4, 4, _metadata_with(calibration=value)))


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
