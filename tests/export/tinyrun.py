"""A tiny corpus and a tiny run folder, made in seconds, for the export tests (see conftest.py).

The corpus is synthetic speech-like audio (harmonic tones with a syllable envelope) under real
RAVDESS names, two actors x four emotions x two statements, so that the real corpus index, window
extraction and frontend run on it. The run folder holds what `tonecue-train` writes: the six
fitted models (tiny versions: few trees, few channels, few epochs), spec.json, gate.json,
labels.json, selected_features.json and results.json.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np

from tonecue.edge.spec import FrontendSpec
from tonecue.edge.vad import GateSettings

SPEC = FrontendSpec()
LABELS = ("angry", "happy", "sad", "neutral")
# RAVDESS emotion codes, and a pitch / level / rate per class so that the classes differ.
EMOTIONS = {"angry": ("05", 220.0, -12.0, 7.0), "happy": ("03", 300.0, -16.0, 5.0),
            "sad": ("04", 140.0, -28.0, 2.5), "neutral": ("01", 120.0, -20.0, 4.0)}
N_SELECTED = 12
TINY_NETS = {
    "cnn1d": {"channels": 4},
    "cnn2d": {"channels": (4, 8, 8), "hidden": 16},
    "crnn": {"conv_channels": 8, "hidden": 8},
}


def _speech(f0: float, level_db: float, rate: float, seconds: float, rng) -> np.ndarray:
    sr = SPEC.sample_rate
    t = np.arange(int(seconds * sr)) / sr
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 1.3 * t + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    voice = sum(np.sin(h * phase) / h for h in range(1, 10))
    envelope = np.clip(np.sin(2 * np.pi * rate / 2 * t + rng.uniform(0, 6)), 0, None) ** 0.5
    x = voice * envelope / 2 + 0.02 * rng.standard_normal(len(t))
    return (10 ** (level_db / 20) * x / np.sqrt(np.mean(x**2) + 1e-12)).astype(np.float32)


def write_wav(path: Path, signal: np.ndarray, sr: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


def make_corpus(root: Path, actors=(1, 2), statements=(1, 2), seconds: float = 2.0, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for actor in actors:
        for label, (code, f0, level, rate) in EMOTIONS.items():
            for statement in statements:
                f = f0 * (1.0 + 0.1 * (actor % 2))
                name = f"03-01-{code}-01-{statement:02d}-01-{actor:02d}.wav"
                path = root / "Ravdess" / "audio_speech_actors_01-24" / f"Actor_{actor:02d}" / name
                write_wav(path, _speech(f, level + rng.uniform(-2, 2), rate, seconds, rng), SPEC.sample_rate)
    return root


def fit_tiny_models(ws, selected: list[str]) -> dict:
    """The six models, tiny, fitted on a WindowSet (seconds on one core)."""
    from tonecue.train.classic import fit_classic
    from tonecue.train.nets import fit_net, make_net

    names = SPEC.stats_feature_names()
    X, y = ws.features["stats"], ws.labels
    models = {
        "rf": fit_classic("rf", X, y, names, selected, n_estimators=10, n_classes=4),
        "svm": fit_classic("svm", X, y, names, selected, n_classes=4),
        "dt": fit_classic("tree", X, y, names, selected, max_depth=6, n_classes=4),
    }
    idx = [names.index(s) for s in selected]
    inputs = {"cnn1d": X[:, idx], "cnn2d": ws.features["image"], "crnn": ws.features["sequence"]}
    for kind, kwargs in TINY_NETS.items():
        shape = len(idx) if kind == "cnn1d" else inputs[kind].shape[1:]
        net = make_net(kind, shape, 4, **kwargs)
        models[kind], _ = fit_net(net, inputs[kind], y, seed=0, epochs=8, lr=5e-3, batch_size=16, num_threads=1)
    return models


def write_run(run_dir: Path, models: dict, selected: list[str], data_root: Path | None = None) -> Path:
    """A run folder laid out as `tonecue-train` writes it (models/, the JSON files, results.json)."""
    from tonecue.train.classic import ClassicModel, save_classic
    from tonecue.train.nets import save_net

    names = SPEC.stats_feature_names()
    (run_dir / "models").mkdir(parents=True, exist_ok=True)
    for name, model in models.items():
        if isinstance(model, ClassicModel):
            save_classic(model, run_dir / "models" / f"{name}.joblib")
        else:
            save_net(model, run_dir / "models" / f"{name}.pt", input_kind=name)
    (run_dir / "spec.json").write_text(SPEC.to_json())
    (run_dir / "gate.json").write_text(GateSettings().to_json())
    (run_dir / "labels.json").write_text(json.dumps(list(LABELS)))
    (run_dir / "selected_features.json").write_text(
        json.dumps({"feature_names": names, "selected": selected, "indices": [names.index(s) for s in selected]})
    )

    def entry(uar: float) -> dict:
        overall = {"uar": uar, "accuracy": uar, "macro_f1": uar}
        return {"clip": {"overall": overall, "per_corpus": {"ravdess": overall}},
                "window": {"overall": overall, "per_corpus": {"ravdess": overall}},
                "per_fold_uar": {"clip": {"mean": uar, "std": 0.05}}}

    results = {
        "quick": False,
        "data": {"root": str(data_root or "corpus"), "clips": 16, "speakers": 2, "windows": 32,
                 "corpora": {"ravdess": {"clips": 16, "speakers": 2, "windows": 32}},
                 "label_map": {"classes": list(LABELS), "mapping": {c: c for c in LABELS}}},
        "classes": list(LABELS),
        "settings": {"folds": 2, "hop_frames": 22, "window_seconds": SPEC.window_seconds},
        "protocols": {
            "speaker": {"models": {name: entry(0.5 + 0.01 * i) for i, name in enumerate(models)}},
            "random": {"models": {name: entry(0.8) for name in models}},
        },
        "final": {"models": {name: {"file": f"models/{name}"} for name in models}},
    }
    (run_dir / "results.json").write_text(json.dumps(results))
    return run_dir
