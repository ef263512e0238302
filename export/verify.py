"""Does the exported file compute what the fitted model computed? One report per export.

Three checks, each against fixed targets (`TARGETS`):

1. **source vs fp32 ONNX**, window by window on the evaluation windows (the training path's
   features, `tonecue.train.windows`): the same label on at least 99.9 % of windows, and
   probabilities within 1e-4. A disagreement where the source's two best classes tie (a forest's
   votes split evenly) is counted apart: float32 summation breaks such ties either way. For the
   trees, a probability off by more than 1e-4 means a window took another branch: a float32
   threshold effect (the ONNX tree compares float32 thresholds), counted as `routed_differently`.
2. **fp32 vs int8** for the quantized nets: accuracy and UAR on the evaluation windows and clips
   (the change in points), agreement, the largest probability change, file size ratio and latency
   per window (onnxruntime, one thread, batch 1). Targets: int8 at most a third of fp32's size,
   at most 1 point of accuracy lost.
3. **the device's runner**: every file loads in `tonecue.edge.model.EmotionModel`, which builds
   its own frontend from the contract; each clip's windows are cut from the decoded audio at the
   positions training used, featurized by that frontend and classified; the clip's label (argmax
   of the mean window probabilities) must equal the source model's on the training features.
   End-to-end latency per window is the device's own `Listener.hear` (gate, streaming
   featurizer, model) over real clips, one thread.

`write_report` writes verification.json (everything) and verification.md (the tables).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from tonecue.edge.machine import describe_machine
from tonecue.train.models import get as get_kind

from .convert import INPUT_NAME, OUTPUT_NAME, source_input, source_proba

__all__ = [
    "TARGETS",
    "ExportedFile",
    "compare_precisions",
    "device_check",
    "end_to_end_latency",
    "format_markdown",
    "onnx_latency",
    "parity",
    "write_report",
]

TARGETS = {
    "same_label": 0.999,  # share of windows where source and fp32 ONNX agree
    "max_abs_diff": 1e-4,  # largest probability difference, source vs fp32
    "int8_size_ratio": 1 / 3,  # int8 bytes / fp32 bytes, at most
    "int8_accuracy_drop_points": 1.0,  # accuracy points int8 may lose against fp32
}
_TIE = 1e-5  # top-2 margin below which a label is a tie


@dataclass
class ExportedFile:
    name: str  # the model's name in the run
    kind: str  # its kind's name in tonecue.train.models (rf, svm, dt, cnn1d, cnn2d, crnn, ...)
    precision: str  # fp32 or int8
    path: Path
    selected: tuple[int, ...] | None = None  # statistics columns the graph reads
    input_kind: str = "stats"

    @property
    def label(self) -> str:
        return f"{self.name} {self.precision}"


# ------------------------------------------------------------------------------------ sessions


def session(path: str | Path, threads: int = 1):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_proba(path_or_session, inputs: np.ndarray, batch_size: int = 512) -> np.ndarray:
    sess = path_or_session if hasattr(path_or_session, "run") else session(path_or_session)
    out = [
        sess.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(inputs[i : i + batch_size], dtype=np.float32)})[0]
        for i in range(0, len(inputs), batch_size)
    ]
    if not out:
        return np.zeros((0, 0), dtype=np.float64)
    return np.concatenate(out).astype(np.float64)


def _margin(proba: np.ndarray) -> np.ndarray:
    top = np.sort(proba, axis=1)
    return top[:, -1] - top[:, -2] if proba.shape[1] > 1 else np.ones(len(proba))


# --------------------------------------------------------------------------------------- checks


def parity(
    source: Any,
    exported: ExportedFile,
    features: np.ndarray,
    clip_ids: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> dict[str, Any]:
    """Source model vs its fp32 file on frontend outputs `features` (window by window); with
    `labels` (and `clip_ids`), the fp32 file's accuracy and UAR on them too."""
    p_src = source_proba(source, features, exported.selected)
    p_onnx = onnx_proba(exported.path, source_input(features, exported.selected))
    diff = np.abs(p_src - p_onnx)
    row = diff.max(axis=1) if len(diff) else np.zeros(0)
    a, b = p_src.argmax(axis=1), p_onnx.argmax(axis=1)
    disagree = a != b
    ties = disagree & (_margin(p_src) < _TIE)
    same = float(np.mean(~disagree)) if len(a) else float("nan")
    result = {
        "windows": int(len(a)),
        "same_label": same,
        "disagreements": int(disagree.sum()),
        "disagreements_at_ties": int(ties.sum()),
        "max_abs_diff": float(row.max()) if len(row) else 0.0,
        "windows_over_tolerance": int((row > TARGETS["max_abs_diff"]).sum()),
    }
    if get_kind(exported.kind).float32_thresholds:
        result["routed_differently"] = result["windows_over_tolerance"]
    if clip_ids is not None:
        from tonecue.train.evaluate import clip_probabilities

        _, c_src = clip_probabilities(p_src, clip_ids)
        _, c_onnx = clip_probabilities(p_onnx, clip_ids)
        result["clips"] = int(len(c_src))
        result["clip_same_label"] = float(np.mean(c_src.argmax(1) == c_onnx.argmax(1)))
        if labels is not None:
            result["fp32"] = _metrics(p_onnx, np.asarray(labels), np.asarray(clip_ids), p_onnx.shape[1])
    result["met"] = bool(same >= TARGETS["same_label"] and result["max_abs_diff"] <= TARGETS["max_abs_diff"])
    return result


def _metrics(proba: np.ndarray, labels: np.ndarray, clip_ids: np.ndarray, n_classes: int) -> dict[str, Any]:
    from tonecue.train.evaluate import classification_metrics, clip_probabilities

    window = classification_metrics(labels, proba.argmax(axis=1), n_classes)
    ids, clip_proba = clip_probabilities(proba, clip_ids)
    clip_labels = np.zeros(int(clip_ids.max()) + 1, dtype=np.int64)
    clip_labels[clip_ids] = labels
    clip = classification_metrics(clip_labels[ids], clip_proba.argmax(axis=1), n_classes)
    return {
        "window_accuracy": window["accuracy"],
        "window_uar": window["uar"],
        "clip_accuracy": clip["accuracy"],
        "clip_uar": clip["uar"],
    }


def onnx_latency(path: str | Path, example: np.ndarray, repeats: int = 300, warmup: int = 30) -> dict[str, float]:
    """Milliseconds per call with one example (batch 1), one onnxruntime thread: median, p90."""
    sess = session(path, threads=1)
    feed = {INPUT_NAME: np.ascontiguousarray(example[None], dtype=np.float32)}
    for _ in range(warmup):
        sess.run([OUTPUT_NAME], feed)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sess.run([OUTPUT_NAME], feed)
        times.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": statistics.median(times), "p90_ms": float(np.percentile(times, 90))}


def compare_precisions(
    fp32: ExportedFile,
    int8: ExportedFile,
    features: np.ndarray,
    labels: np.ndarray,
    clip_ids: np.ndarray,
    n_classes: int,
    latency_repeats: int = 300,
) -> dict[str, Any]:
    """fp32 vs int8 on the evaluation windows: metrics, agreement, size and latency."""
    inputs = source_input(features, fp32.selected)
    p32 = onnx_proba(fp32.path, inputs)
    p8 = onnx_proba(int8.path, inputs)
    m32 = _metrics(p32, labels, clip_ids, n_classes)
    m8 = _metrics(p8, labels, clip_ids, n_classes)
    from .quantize import weight_bytes

    size32, size8 = os.path.getsize(fp32.path), os.path.getsize(int8.path)
    w32, w8 = weight_bytes(fp32.path), weight_bytes(int8.path)
    example = inputs[0] if len(inputs) else np.zeros(0, np.float32)
    lat32 = onnx_latency(fp32.path, example, latency_repeats)
    lat8 = onnx_latency(int8.path, example, latency_repeats)
    drop = 100 * (m32["window_accuracy"] - m8["window_accuracy"])
    ratio = size8 / size32
    return {
        "fp32": {**m32, "bytes": size32, "weight_bytes": w32, "latency": lat32},
        "int8": {**m8, "bytes": size8, "weight_bytes": w8, "latency": lat8},
        "accuracy_change_points": -drop,
        "uar_change_points": 100 * (m8["window_uar"] - m32["window_uar"]),
        "clip_accuracy_change_points": 100 * (m8["clip_accuracy"] - m32["clip_accuracy"]),
        "same_label": float(np.mean(p32.argmax(1) == p8.argmax(1))),
        "max_abs_diff": float(np.abs(p32 - p8).max()) if len(p32) else 0.0,
        "size_ratio": ratio,
        "weight_ratio": w8 / w32 if w32 else float("nan"),
        "speedup": lat32["median_ms"] / lat8["median_ms"] if lat8["median_ms"] > 0 else float("nan"),
        "size_target_met": bool(ratio <= TARGETS["int8_size_ratio"]),
        "accuracy_target_met": bool(drop <= TARGETS["int8_accuracy_drop_points"]),
    }


def _clip_windows(ws, clip_index: int):
    """The audio windows of one clip of `ws`, cut where training cut them."""
    from tonecue.edge.audio import load_audio
    from tonecue.edge.frontend import clip_windows

    clip = ws.clips[clip_index]
    signal = load_audio(clip.path, ws.spec.sample_rate, dtype=np.dtype(ws.spec.dtype))
    starts, windows = clip_windows(signal, ws.spec, ws.hop_frames)
    by_start = dict(zip(starts, windows))
    rows = np.flatnonzero(ws.clip_ids == clip_index)
    return rows, np.stack([by_start[int(s)] for s in ws.starts[rows]])


def device_check(
    files: Sequence[ExportedFile],
    sources: dict[str, Any],
    ws,
    clips: Iterable[int] | None = None,
    root: str | Path | None = None,
    keep_labels: bool = False,
) -> dict[str, dict[str, Any]]:
    """Load every file in EmotionModel and classify the clips of `ws` from their audio.

    Two references per file: its source model on the training features (`ws.features`), and the
    file itself run on those same features. The device path must reproduce the latter exactly
    (that checks the contract, the frontend it builds and the column selection), and, for fp32
    files, the source's clip labels too; for int8 files the agreement with the source is reported
    (quantization may move a close call). Returns {file label: result}; with `keep_labels`, each
    result also lists every clip's label on the device as {clip path: label}. Clip paths are
    relative to `root` (the corpus folder) when given.
    """
    from tonecue.edge.model import EmotionModel, ModelError, scale_temperature
    from tonecue.train.evaluate import clip_probabilities

    results: dict[str, dict[str, Any]] = {}
    models = {}
    for f in files:
        try:
            models[f.label] = EmotionModel(f.path, threads=1)
            results[f.label] = {"loads": True}
        except ModelError as exc:
            results[f.label] = {"loads": False, "error": str(exc), "met": False}
    clip_list = list(range(len(ws.clips))) if clips is None else list(clips)
    if not clip_list:
        return results

    def clip_labels(proba: np.ndarray) -> np.ndarray:
        ids, mean = clip_probabilities(proba, ws.clip_ids)
        lookup = np.full(len(ws.clips), -1)
        lookup[ids] = mean.argmax(axis=1)
        return lookup

    # The device averages calibrated window probabilities (the contract's temperature), so the
    # training path's clip labels here are taken from calibrated probabilities too.
    source_clip: dict[str, np.ndarray] = {}
    own_clip: dict[str, np.ndarray] = {}
    for f in files:
        temperature = models[f.label].contract.temperature if f.label in models else 1.0
        if f.name not in source_clip:
            source = source_proba(sources[f.name], ws.features[f.input_kind], f.selected)
            source_clip[f.name] = clip_labels(scale_temperature(source, temperature))
        if f.label in models:
            own = onnx_proba(f.path, source_input(ws.features[f.input_kind], f.selected))
            own_clip[f.label] = clip_labels(scale_temperature(own, temperature))
    device_clip = {label: np.full(len(ws.clips), -1) for label in models}
    device_margin = {label: np.zeros(len(ws.clips)) for label in models}
    for i in clip_list:
        _, windows = _clip_windows(ws, i)
        feats: dict[tuple[int, str], np.ndarray] = {}
        for label, model in models.items():
            key = (id(model.frontend), model.contract.input_kind)
            if key not in feats:  # files with one frontend and input kind share the featurizing
                feats[key] = np.stack([model.frontend.features(w, model.contract.input_kind) for w in windows])
            mean = model.predict_proba(feats[key]).astype(np.float64).mean(axis=0)
            device_clip[label][i] = int(mean.argmax())
            top = np.sort(mean)
            device_margin[label][i] = float(top[-1] - top[-2]) if len(mean) > 1 else 1.0
    for f in files:
        if f.label not in models:
            continue
        model = models[f.label]
        src, own, dev = (a[clip_list] for a in (source_clip[f.name], own_clip[f.label], device_clip[f.label]))
        differ = np.flatnonzero((src != dev) | (own != dev))
        as_source = float(np.mean(src == dev))
        as_file = float(np.mean(own == dev))
        results[f.label].update(
            {
                "precision": model.contract.precision,
                "input_kind": model.contract.input_kind,
                "clips": len(clip_list),
                "same_clip_label": as_source,
                "same_clip_label_as_file_on_training_features": as_file,
                "clips_differing": [
                    {
                        "clip": _relative(ws.clips[clip_list[j]].path, root),
                        "source": ws.classes[int(src[j])],
                        "file_on_training_features": ws.classes[int(own[j])],
                        "device": ws.classes[int(dev[j])],
                        "device_margin": round(float(device_margin[f.label][clip_list[j]]), 6),
                    }
                    for j in differ[:20]
                ],
                "met": bool(as_file == 1.0 and (f.precision != "fp32" or as_source == 1.0)),
            }
        )
        if keep_labels:
            results[f.label]["clip_labels"] = {
                _relative(ws.clips[i].path, root): ws.classes[int(device_clip[f.label][i])] for i in clip_list
            }
    return results


def _relative(path: str | Path, root: str | Path | None) -> str:
    if root is not None:
        try:
            return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return Path(path).as_posix()


def end_to_end_latency(path: str | Path, signals: Sequence[np.ndarray], max_windows: int = 400) -> dict[str, Any]:
    """Per voiced window, the device's pipeline step (gate, speech detector, streaming featurizer,
    model, smoother, cue) on one thread, over the given signals in stream order; also the model's
    share of it."""
    from contextlib import nullcontext

    from tonecue.edge.model import EmotionModel
    from tonecue.edge.pipeline import Pipeline

    try:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(1)
    except ImportError:  # pragma: no cover - scikit-learn brings it
        limit = nullcontext()
    with limit:
        model = EmotionModel(path, threads=1)
        pipeline = Pipeline(model)
        spec = model.contract.spec
        # warm up
        warm = np.random.default_rng(0).standard_normal(spec.window_samples).astype(np.float32) * 0.1
        for _ in range(5):
            model.predict_proba(model.frontend.features(warm, model.contract.input_kind)[None])
        total, infer = [], []
        for signal in signals:
            pipeline.reset()
            for start, window in pipeline.stream.push(signal) + pipeline.stream.flush():
                t0 = time.perf_counter()
                step = pipeline.step(start, window, pipeline.time_of(start, window))
                elapsed = (time.perf_counter() - t0) * 1e3
                if step.heard.voiced:
                    total.append(elapsed)
                if len(total) >= max_windows:
                    break
            if len(total) >= max_windows:
                break
        feats = model.frontend.features(warm, model.contract.input_kind)[None]
        for _ in range(200):
            t0 = time.perf_counter()
            model.predict_proba(feats)
            infer.append((time.perf_counter() - t0) * 1e3)
    if not total:
        return {"windows": 0}
    return {
        "windows": len(total),
        "median_ms": statistics.median(total),
        "p90_ms": float(np.percentile(total, 90)),
        "model_median_ms": statistics.median(infer),
    }


# ---------------------------------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    import onnxruntime

    return {**describe_machine(), "onnxruntime": onnxruntime.__version__}


def write_report(report: dict[str, Any], out_dir: str | Path, stem: str = "verification") -> tuple[Path, Path]:
    """verification.json and verification.md in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{stem}.json"
    json_path.write_text(json.dumps(_clean(report), indent=2, sort_keys=False) + "\n")
    md_path = out / f"{stem}.md"
    md_path.write_text(format_markdown(report))
    return md_path, json_path


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _pct(x: Any, digits: int = 2) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f} %"


def _num(x: Any, fmt: str = ".3f") -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def _yes(flag: Any) -> str:
    return "—" if flag is None else ("met" if flag else "**NOT met**")


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def format_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Export verification: {report.get('run', '?')}", ""]
    if report.get("command"):
        created = f" (trained {report['run_created']})" if report.get("run_created") else ""
        lines += [f"Made by `{report['command']}` from the run `{report.get('run_dir', '')}`{created}.", ""]
    m = report.get("machine", {})
    lines.append(
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores ({m.get('machine', '?')}), Python "
        f"{m.get('python', '?')}, onnxruntime {m.get('onnxruntime', '?')}, numpy {m.get('numpy', '?')}; "
        "latencies on one thread."
    )
    data = report.get("data") or {}
    if data:
        lines.append(f"Evaluation windows: {data.get('description', '')}")
    lines.append(
        f"Targets: source vs fp32 same label on ≥ {_pct(TARGETS['same_label'], 1)} of windows and probabilities "
        f"within {TARGETS['max_abs_diff']:g}; int8 at most {TARGETS['int8_size_ratio']:.3g} of fp32's size and at "
        f"most {TARGETS['int8_accuracy_drop_points']:g} point of accuracy lost; every file loads in EmotionModel and, "
        "from the audio, gives the clip labels it gives on the training features (and an fp32 file its source's)."
    )
    lines.append("")
    files = report.get("files", [])
    if files:
        lines += ["## Files", "", "| model | precision | file | size | operators |", "|---|---|---|---:|---|"]
        for f in files:
            lines.append(
                f"| {f['name']} | {f['precision']} | `{Path(f['path']).name}` | {_size(f.get('bytes'))} | "
                f"{', '.join(f.get('op_types', []))} |"
            )
        lines.append("")
    par = report.get("parity", {})
    if par:
        lines += [
            "## 1. Source model vs fp32 ONNX (window by window)",
            "",
            "| model | windows | same label | disagreements (at ties) | max abs diff | over 1e-4 | clip same label | "
            "fp32 accuracy, windows / clips (seen in training) | target |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for name, r in par.items():
            if "error" in r:
                lines.append(f"| {name} | — | — | — | — | — | — | — | error: {r['error']} |")
                continue
            lines.append(
                f"| {name} | {r['windows']} | {_pct(r['same_label'], 3)} | {r['disagreements']} "
                f"({r['disagreements_at_ties']}) | {r['max_abs_diff']:.2e} | {r['windows_over_tolerance']} | "
                f"{_pct(r.get('clip_same_label'), 2)} | {_pct((r.get('fp32') or {}).get('window_accuracy'), 1)} / "
                f"{_pct((r.get('fp32') or {}).get('clip_accuracy'), 1)} | {_yes(r['met'])} |"
            )
        notes = [n for n in report.get("parity_notes", []) if n]
        lines += [""] + [f"- {n}" for n in notes] + ([""] if notes else [])
    q = report.get("quantization", {})
    if q:
        lines += [
            "## 2. fp32 vs int8",
            "",
            "Sizes are of the whole file (the target) and, in brackets, of its weights alone: the contract in the "
            "metadata (2-3 kB) and the graph weigh the same in both files.",
            "",
            "| model | method | size fp32 → int8 (ratio; weights) | window acc fp32 → int8 (Δ points) | clip acc Δ | "
            "same label | max abs diff | latency fp32 → int8 (ms/window) | size | accuracy |",
            "|---|---|---|---|---:|---:|---:|---|---|---|",
        ]
        for name, r in q.items():
            if "skipped" in r:
                lines.append(f"| {name} | not quantized: {r['skipped']} | | | | | | | | |")
                continue
            if "error" in r:
                lines.append(f"| {name} | failed: {r['error']} | | | | | | | | |")
                continue
            lines.append(
                f"| {name} | {r.get('method', '')} | {_size(r['fp32']['bytes'])} → {_size(r['int8']['bytes'])} "
                f"({r['size_ratio']:.2f}; {r.get('weight_ratio', float('nan')):.2f}) | {_pct(r['fp32']['window_accuracy'])} → {_pct(r['int8']['window_accuracy'])} "
                f"({r['accuracy_change_points']:+.2f}) | {r['clip_accuracy_change_points']:+.2f} | "
                f"{_pct(r['same_label'])} | {r['max_abs_diff']:.3f} | {r['fp32']['latency']['median_ms']:.3f} → "
                f"{r['int8']['latency']['median_ms']:.3f} | {_yes(r['size_target_met'])} | {_yes(r['accuracy_target_met'])} |"
            )
        lines.append("")
    dev = report.get("device", {})
    if dev:
        lines += [
            "## 3. In the device's runner (EmotionModel), clip by clip",
            "",
            "Each clip's windows are cut from its decoded audio where training cut them, featurized by the "
            "frontend the file's contract builds, and classified (mean of the window probabilities). "
            "*Same as the file* compares with the same file run on the training path's features (this is "
            "what the device path must reproduce exactly); *same as the source* with the source model "
            "(required for fp32; for int8 it shows what quantization moved).",
            "",
            "| file | loads | clips | same clip label as the file | same as the source | end-to-end ms/window (median, p90) | model ms | target |",
            "|---|---|---:|---:|---:|---|---:|---|",
        ]
        for label, r in dev.items():
            lat = r.get("latency") or {}
            e2e = f"{_num(lat.get('median_ms'))}, {_num(lat.get('p90_ms'))}" if lat.get("windows") else "—"
            lines.append(
                f"| {label} | {'yes' if r.get('loads') else 'NO: ' + r.get('error', '')} | {r.get('clips', '—')} | "
                f"{_pct(r.get('same_clip_label_as_file_on_training_features'))} | {_pct(r.get('same_clip_label'))} | {e2e} | {_num(lat.get('model_median_ms'))} | {_yes(r.get('met'))} |"
            )
        lines.append("")
        for label, r in dev.items():
            for d in r.get("clips_differing", [])[:5]:
                lines.append(
                    f"- {label}: `{Path(d['clip']).name}`: source {d['source']}, the file on training features "
                    f"{d['file_on_training_features']}, device {d['device']} (device top-2 margin {d['device_margin']})"
                )
        lines.append("")
    ranking = report.get("ranking")
    if ranking:
        lines += [
            "## Candidates for the device",
            "",
            "Speaker-grouped UAR (clip level, from the run's results: measured on the source models; an int8 "
            "file's shift is in section 2) against end-to-end latency per window.",
            "",
            "| file | speaker-grouped UAR | random-split UAR | end-to-end ms/window | size | verified |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for r in ranking:
            lines.append(
                f"| {r['file']} | {_pct(r.get('speaker_uar'), 1)} | {_pct(r.get('random_uar'), 1)} | "
                f"{_num(r.get('latency_ms'))} | {_size(r.get('bytes'))} | {'yes' if r.get('verified') else 'no'} |"
            )
        lines.append("")
        rec = report.get("recommendation")
        if rec:
            lines += [
                f"Recommended for the device: **{rec['file']}** ({_pct(rec['speaker_uar'], 1)} speaker-grouped UAR, "
                f"{_num(rec.get('latency_ms'))} ms per window end to end, {_size(rec['bytes'])}). Rule: {rec['rule']}.",
                "",
            ]
    for note in report.get("notes", []):
        lines.append(f"- {note}")
    if report.get("notes"):
        lines.append("")
    verdict = report.get("verdict")
    if verdict:
        lines += ["## Verdict", "", verdict, ""]
    return "\n".join(lines)

