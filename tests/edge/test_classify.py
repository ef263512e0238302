"""`tonecue classify`: one JSON line per file, through the live loop's windows, gate and model."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest

from tonecue.edge.cli import DEMO_CLIP, EXIT_INPUT, EXIT_MODEL, main
from tonecue.edge.model import ModelContract
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.vad import GateSettings

from helpers.onnx_models import write_model


@pytest.fixture
def tiny_model(tmp_path):
    c = ModelContract(FrontendSpec(), GateSettings(), ("angry", "happy", "sad", "neutral"), "image")
    return write_model(tmp_path / "tiny.onnx", (2, 20, 50), 4, c.to_metadata())


def _write_wav(path, samples, rate=22050):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def test_classifies_files_and_reports_the_unreadable(tmp_path, tiny_model, capsys):
    silence = _write_wav(tmp_path / "silence.wav", np.zeros(30000))
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00")
    code = main(["classify", str(DEMO_CLIP), str(silence), str(broken), "--model", str(tiny_model)])
    assert code == EXIT_INPUT
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["file"] for line in lines] == [str(DEMO_CLIP), str(silence), str(broken)]
    demo, quiet, bad = lines
    assert demo["label"] in ("angry", "happy", "sad", "neutral")
    assert sum(demo["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert 0 < demo["voiced_windows"] < demo["windows"] == 32  # the pauses are gated out
    assert quiet["label"] is None and quiet["voiced_windows"] == 0 and quiet["windows"] == 1
    assert "broken.wav" in bad["error"]


def test_a_missing_model_has_its_own_exit_code(tmp_path, capsys):
    assert main(["classify", str(DEMO_CLIP), "--model", str(tmp_path / "none.onnx")]) == EXIT_MODEL
    assert "model file not found" in capsys.readouterr().err


def test_a_corrupt_model_has_its_own_exit_code(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00" * 64)
    assert main(["classify", str(DEMO_CLIP), "--model", str(bad)]) == EXIT_MODEL
    assert "not a readable ONNX model" in capsys.readouterr().err


def _lines(capsys) -> dict[str, dict]:
    return {line["file"]: line for line in map(json.loads, capsys.readouterr().out.splitlines())}


def test_files_given_together_are_one_microphones_and_judged_whatever_their_order(tmp_path, capsys):
    # The shipped model (speaker-normalized, with a channel estimate). Two halves of the demo clip.
    from tonecue.edge.audio import load_audio

    samples = load_audio(DEMO_CLIP, 16000)
    a = _write_wav(tmp_path / "a.wav", samples[: len(samples) // 2], 16000)
    b = _write_wav(tmp_path / "b.wav", samples[len(samples) // 2 :], 16000)
    assert main(["classify", str(a), str(b)]) == 0
    together = _lines(capsys)
    assert main(["classify", str(b), str(a)]) == 0
    assert _lines(capsys) == together  # the channel is learnt from all of them before any is judged
    assert main(["classify", str(a), str(b), "--alone"]) == 0
    alone = _lines(capsys)
    assert main(["classify", str(a), "--alone"]) == 0
    assert _lines(capsys)[str(a)] == alone[str(a)]  # alone, a file is judged the same with or without others
    for name in (str(a), str(b)):
        assert together[name]["voiced_windows"] == alone[name]["voiced_windows"] > 0
        assert together[name]["probabilities"] != alone[name]["probabilities"]


def test_an_unreadable_file_does_not_stop_the_others_from_teaching_the_channel(tmp_path, capsys):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00")
    assert main(["classify", str(broken), str(DEMO_CLIP)]) == EXIT_INPUT
    lines = _lines(capsys)
    assert "broken.wav" in lines[str(broken)]["error"]
    assert main(["classify", str(DEMO_CLIP)]) == 0
    assert _lines(capsys)[str(DEMO_CLIP)] == lines[str(DEMO_CLIP)]
