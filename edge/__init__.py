"""tonecue.edge: everything a device runs, and the library face of tonecue.

    import tonecue.edge as tc
    result = tc.EmotionModel().classify("talk.wav")      # the shipped default model
    result.label, result.probabilities, result.voiced_windows
    features = tc.featurize_clip(tc.load_audio("talk.wav"), kind="stats")

Names are imported on first use (PEP 562), so `import tonecue.edge` costs next to nothing and a
device that only runs the frontend never loads onnxruntime.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "EmotionModel": "model",
    "ModelContract": "model",
    "ModelError": "model",
    "DEFAULT_MODEL": "model",
    "ClipResult": "classify",
    "Pipeline": "pipeline",
    "Step": "pipeline",
    "FrontendSpec": "spec",
    "DEFAULT_HOP_FRAMES": "spec",
    "Frontend": "frontend",
    "StreamingFeaturizer": "frontend",
    "featurize_clip": "frontend",
    "load_audio": "audio",
    "AudioError": "audio",
    "TonecueError": "errors",
    "GateSettings": "vad",
    "DetectorSettings": "speech",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tonecue.edge' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
