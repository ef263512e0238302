"""The speech detector's file and non-speech test signals, for the detector and pipeline tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tonecue.edge.model import DEFAULT_MODEL, ModelContract
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.speech import DetectorError, DetectorSettings, file_sha256
from tonecue.edge.vad import GateSettings

from .onnx_models import write_model

RATE = 22050
LABELS = ("angry", "happy", "sad", "neutral")


def silero_file() -> Path:
    """The detector file: shipped beside the default model, else the host's silero-vad wheel."""
    shipped = DEFAULT_MODEL.with_name("silero_vad.onnx")
    if shipped.is_file():
        return shipped
    try:
        from tonecue.edge.speech import installed_silero_file

        return installed_silero_file()[0]
    except DetectorError:
        pytest.skip("no Silero VAD file: neither shipped beside the default model nor installed")


def at_dbfs(x: np.ndarray, dbfs: float) -> np.ndarray:
    return (x / np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)) * 10 ** (dbfs / 20)).astype(np.float32)


def non_speech(seed: int = 3, seconds: float = 8.0) -> dict[str, np.ndarray]:
    """Noises and tones at conversation loudness that no speech detector may call speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    white = rng.standard_normal(len(t))
    pink = np.fft.irfft(np.fft.rfft(white) / np.sqrt(np.maximum(np.fft.rfftfreq(len(t), 1 / RATE), 20)), len(t))
    return {
        "white noise": at_dbfs(white, -25),
        "pink noise": at_dbfs(pink, -30),
        "440 Hz tone": at_dbfs(np.sin(2 * np.pi * 440 * t), -25),
        "square wave": at_dbfs(np.sign(np.sin(2 * np.pi * 220 * t)), -20),
        "chord": at_dbfs(sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)), -25),
        "hum": at_dbfs(sum(np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 8)), -30),
    }


def detector_model_file(folder: Path, detector: bool = True, bandwidth_hz: float | None = None) -> Path:
    """A tiny image model whose contract names the Silero detector (copied beside it), or none."""
    extra = {"detector": DetectorSettings(sha256=file_sha256(silero_file()))} if detector else {}
    contract = ModelContract(FrontendSpec(), GateSettings(), LABELS, "image", bandwidth_hz=bandwidth_hz, **extra)
    path = write_model(Path(folder) / "tiny.onnx", (2, 20, 50), 4, contract.to_metadata())
    if detector:
        shutil.copyfile(silero_file(), Path(folder) / "silero_vad.onnx")
    return path
