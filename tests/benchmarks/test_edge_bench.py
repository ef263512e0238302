"""edge-bench runs the real loop on a model and reports every measure against the targets."""

import json

from helpers.onnx_models import write_model

from tonecue.benchmarks import edge_bench
from tonecue.edge.audio import load_audio
from tonecue.edge.model import DEFAULT_MODEL, EmotionModel, ModelContract
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.vad import GateSettings


def test_reports_every_measure(tmp_path):

    contract = ModelContract(FrontendSpec(), GateSettings(), ("angry", "happy", "sad", "neutral"), "image")
    model = write_model(tmp_path / "tiny.onnx", (2, 20, 50), 4, contract.to_metadata())
    assert edge_bench.main([str(model), "--windows", "40", "--out", str(tmp_path / "bench")]) == 0
    report = json.loads((tmp_path / "bench.json").read_text())
    (result,) = report["results"]
    assert result["voiced_windows"] >= 40
    for key in ("frontend_ms", "inference_ms", "end_to_end_ms"):
        p = result[key]
        assert 0 < p["p50"] <= p["p95"] <= p["p99"]
    assert 0 < result["real_time_factor"] < 1 and result["stream_seconds"] >= 300
    assert 20 < result["peak_rss_mb"] < 2000 and 0 < result["cold_start_s"] < 30
    text = (tmp_path / "bench.md").read_text()
    assert "end-to-end p95" in text and "real-time factor" in text
    assert result["detector"] is None  # a model without a speech detector


def test_the_speech_detectors_cost_beside_its_pinned_graph_chunk_by_chunk():
    model = EmotionModel(DEFAULT_MODEL)
    audio = load_audio(DEFAULT_MODEL.with_name("demo.wav"), 16000)[: 6 * 16000]
    cost = edge_bench.detector_cost(model, audio, repeats=1)
    assert cost["graph"] == "run of chunks"  # scripts/setup.sh puts the twin beside the detector
    assert set(cost["ms_per_second"]) == {"as run", "chunk by chunk"} and min(cost["ms_per_second"].values()) > 0

