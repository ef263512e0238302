"""The shipped default model: the verified file, its contract as the model card says, and (with
the real corpus) the clip labels its verification recorded."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tonecue.edge.audio import load_audio
from tonecue.edge.frontend import clip_windows
from tonecue.edge.model import DEFAULT_MODEL, EmotionModel
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.speech import file_sha256, sequence_graph_of
from tonecue.edge.vad import GateSettings

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / "export" / "results" / "default-model.json"
CARD = DEFAULT_MODEL.with_name("MODEL_CARD.md")
DEMO = DEFAULT_MODEL.with_name("demo.wav")


@pytest.fixture(scope="module")
def report():
    return json.loads(REPORT.read_text())


@pytest.fixture(scope="module")
def model():
    return EmotionModel(DEFAULT_MODEL)


def test_the_shipped_file_is_the_verified_one(report):
    assert report["ok"], report["verdict"]
    (entry,) = report["files"]
    data = DEFAULT_MODEL.read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert len(data) == entry["bytes"] < 8_000_000  # 2,000 landmark windows of 507 values: 4.1 MB
    assert entry["sha256"] in CARD.read_text()
    assert report["recommendation"]["file"] == entry["path"]


def test_its_contract(model, report):
    c = model.contract
    assert c.labels == ("angry", "happy", "sad", "neutral")
    assert c.spec == FrontendSpec.at_rate(16000, window_seconds=2.0, level_dbfs=-25.0)
    assert c.gate == GateSettings() and c.hop_frames == 22 and c.input_kind == "paraling-mfcc-upper"
    # The speech detector it was trained with ships beside it, pinned by its SHA-256, with its licence.
    assert c.detector.kind == "silero-vad" and c.detector.sha256 == file_sha256(DEFAULT_MODEL.with_name(c.detector.file))
    assert "MIT" in DEFAULT_MODEL.with_name("silero_vad.LICENSE").read_text()
    assert sequence_graph_of(DEFAULT_MODEL.with_name(c.detector.file), c.detector.sha256) is not None  # setup placed it
    assert c.bandwidth_hz == 8000 and c.normalization.kind == "speaker"
    assert 1.0 < c.temperature < 3.0 and f"{c.temperature:.2f}" in CARD.read_text()
    (entry,) = report["files"]
    assert (c.model_name, c.precision) == (entry["name"], entry["precision"])
    if c.input_kind == "stats":
        assert c.selected_features and len(c.selected_features) == c.input_shape[0]
    uar = c.training["metrics"]["speaker_grouped"]["clip_uar"]
    assert uar == pytest.approx(report["recommendation"]["speaker_uar"])
    assert f"{100 * uar:.1f} %" in CARD.read_text()
    assert c.training["data"]["clips"] == 4314


def test_it_classifies_the_demo_clip(model):
    signal = load_audio(DEMO, model.contract.spec.sample_rate)
    _, windows = clip_windows(signal, model.contract.spec, model.contract.hop_frames)
    p = model.probabilities(np.stack(windows[:6]))
    assert p.shape == (6, 4) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.data
def test_it_still_gives_the_recorded_clip_labels(model, report, dev_corpus):
    """Every 8th clip of the dev corpus, cut and selected as training did, in the device's runner."""
    from tonecue.train.corpus import build_index
    from tonecue.train.windows import extract_windows

    recorded = report["device"][f"{model.contract.model_name} {model.contract.precision}"]["clip_labels"]
    index = build_index(dev_corpus)
    index = dataclasses.replace(index, clips=index.clips[::8])
    c = model.contract
    ws = extract_windows(index, c.spec, kinds=(c.input_kind,), hop_frames=c.hop_frames, gate=c.gate,
                         detector=c.detector, cache_dir=False, workers=1, progress=False)
    assert len(ws.clips) == len(index.clips)
    for i, clip in enumerate(ws.clips):
        signal = load_audio(clip.path, c.spec.sample_rate)
        starts, windows = clip_windows(signal, c.spec, c.hop_frames)
        by_start = dict(zip(starts, windows))
        rows = np.flatnonzero(ws.clip_ids == i)
        mean = model.probabilities(np.stack([by_start[int(s)] for s in ws.starts[rows]])).mean(axis=0)
        key = Path(clip.path).relative_to(index.root.parent).as_posix()  # the export read ser-en-dev and crema-d
        if key in recorded:  # held-out speakers were never exported
            assert model.labels[int(np.argmax(mean))] == recorded[key], key


def test_the_commercial_model_is_trained_on_crema_d_alone_and_runs_with_the_same_detector():
    crema = EmotionModel(DEFAULT_MODEL.with_name("model-crema-d.onnx"))
    c = crema.contract
    assert sorted(c.training["data"]["corpora"]) == ["crema"]
    assert c.spec == EmotionModel(DEFAULT_MODEL).contract.spec and c.detector.kind == "silero-vad"
    digest = hashlib.sha256(DEFAULT_MODEL.with_name("model-crema-d.onnx").read_bytes()).hexdigest()
    assert digest in CARD.read_text() and "commercial" in CARD.read_text()
    result = crema.classify(str(DEMO))
    assert result.voiced_windows > 0 and result.label in c.labels
