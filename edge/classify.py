"""Classify whole files the way the device would have heard them.

A file is pushed through the live loop's own window stream, voice gate, featurizer and model; the
file's label is the class with the highest mean probability over its voiced windows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .audio import load_audio
from .listener import Listener
from .model import EmotionModel
from .stream import WindowStream


def classify_file(model: EmotionModel, path: str | Path) -> dict:
    """One result per file: label (None when no window was voiced), probabilities, window counts.

    Raises `AudioError` for a file that cannot be read.
    """
    spec = model.contract.spec
    signal = load_audio(path, spec.sample_rate)
    listener = Listener(model)
    stream = WindowStream(spec, listener.hop_frames)
    heard = [listener.hear(start, window) for start, window in stream.push(signal) + stream.flush()]
    voiced = [h.probabilities for h in heard if h.voiced]
    result = {
        "file": str(path),
        "label": None,
        "probabilities": None,
        "voiced_windows": len(voiced),
        "windows": len(heard),
        "seconds": round(len(signal) / spec.sample_rate, 3),
    }
    if voiced:
        mean = np.mean(voiced, axis=0)
        result["label"] = model.labels[int(np.argmax(mean))]
        result["probabilities"] = {label: round(float(p), 4) for label, p in zip(model.labels, mean)}
    return result
