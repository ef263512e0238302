"""`tonecue-export RUN_DIR --out DIR [--models ...] [--data DIR]`: ONNX files with their contract,
int8 versions of the nets, and a verification report.

For each model of the run folder `tonecue-train` wrote:

    DIR/<name>.fp32.onnx        every model
    DIR/<name>.int8.onnx        the kinds whose record quantizes them: cnn1d, cnn2d, crnn
                                (calibrated on training windows from --data)
    DIR/verification.md, .json  source vs fp32, fp32 vs int8, in the device's runner, latency

The run folder is read through `tonecue.train.runfolder` (strictly: another format version or a
missing piece is refused). --data is the corpus folder the run was trained on; without it, the
corpus recorded in the run's configuration where that folder still exists. Its windows (cut, gated
and featurized the training way, from the feature cache when warm) calibrate the int8 nets and are
the evaluation windows of the report. Without a corpus the files are converted and checked against
their sources on synthetic windows only, and the nets get no int8 version: static quantization
needs real calibration windows.

Exit codes: 0 all verified, 1 a target was missed (the files and report are still written), else
the status `tonecue.edge.errors.exit_status` gives the error (2 for bad arguments, an unusable run
folder or corpus).
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tonecue.edge.errors import TonecueError, exit_status
from tonecue.train import models as registry
from tonecue.train.runfolder import RunFolder, RunFolderError, load_run

from .convert import contract_for, convert, metrics_for, source_input

__all__ = ["export_run", "main"]

log = logging.getLogger("tonecue.export")


# ------------------------------------------------------------------------------------ windows


def _data_dir(run: RunFolder, data) -> list[Path] | None:
    """--data (one folder or several), else the corpus the run's configuration names if that
    folder is still there."""
    if data:
        return [Path(d) for d in ([data] if isinstance(data, (str, Path)) else data)]
    recorded = Path(run.config["data"])
    return [recorded] if recorded.is_dir() else None


def evaluation_windows(
    run: RunFolder,
    data: Path | Sequence[Path],
    kinds: Sequence[str],
    workers: int | None = None,
    progress: bool = True,
    cache: Any = None,
):
    """The windows of the corpus at `data` (one folder or several), without the speakers the run
    left out, cut, gated and featurized as the run's training did (cache: the feature cache folder,
    None for the default one, False for none). A speaker-normalized run's vector input comes
    standardized by its prior, as the device's runner treats a window on its own."""
    from tonecue.train.corpus import build_index_of, without_speakers
    from tonecue.train.windows import extract_windows

    index = build_index_of(data, run.label_map)
    index, _ = without_speakers(index, run.config["exclude_speakers"])
    ws = extract_windows(
        index, spec=run.spec, kinds=tuple(kinds), hop_frames=run.hop_frames, gate=run.gate, detector=run.detector,
        workers=workers, progress=progress, cache_dir=cache,
    )
    if tuple(ws.classes) != tuple(run.labels):
        raise RunFolderError(f"the corpus gives classes {ws.classes}, the run has {run.labels}")
    if len(ws) == 0:
        raise RunFolderError(f"{data}: no windows")
    normalized = run.normalized_kind
    if normalized in ws.features:
        from tonecue.edge.normalize import cold_normalize

        ws.features[normalized] = cold_normalize(ws.features[normalized], run.normalization)
    return ws


def synthetic_windows(run: RunFolder, kinds: Sequence[str], n: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """Frontend outputs of synthetic windows (tones in noise at speech-like levels), for a parity
    check when no corpus is at hand."""
    from tonecue.edge.frontend import frontend_for

    spec = run.spec
    frontend = frontend_for(spec)
    rng = np.random.default_rng(seed)
    t = np.arange(spec.window_samples) / spec.sample_rate
    windows = []
    for i in range(n):
        f0 = rng.uniform(90, 300)
        tone = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3)) / h for h in range(1, 8))
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 6) * t)
        w = 10 ** rng.uniform(-2.5, -0.7) * (tone * envelope / 3 + 0.05 * rng.standard_normal(len(t)))
        windows.append(w.astype(np.float32))
    return {kind: np.stack([frontend.features(w, kind) for w in windows]).astype(np.float32) for kind in kinds}


# ------------------------------------------------------------------------------------ metrics


def _uar(run: RunFolder, name: str, protocol: str) -> float | None:
    """Clip-level UAR of `name` under "speaker_grouped" or "random_split" (the run's results)."""
    value = metrics_for(run, name)[protocol]["clip_uar"]
    return None if value is None else float(value)


# ------------------------------------------------------------------------------------ the export


def export_run(
    run_dir: str | Path,
    out_dir: str | Path,
    models: Sequence[str] | None = None,
    data: str | Path | None = None,
    *,
    quantize: bool = True,
    calibration_windows: int = 512,
    latency_clips: int = 40,
    device_clips: int | None = None,
    clip_labels: bool = False,
    workers: int | None = None,
    cache: Any = None,
    progress: bool = True,
    command: str | None = None,
) -> dict[str, Any]:
    """Convert, quantize and verify the models of a run; returns the report (also written)."""
    from tonecue.edge.frontend import KINDS

    from . import quantize as q
    from . import verify as v

    t_start = time.perf_counter()
    run = load_run(run_dir)
    names = list(run.models) if not models else [_model_name(m) for m in models]
    unknown = [n for n in names if n not in run.models]
    if unknown:
        raise RunFolderError(f"{run.path}: no model {unknown}; it has {sorted(run.models)}")
    sources = {name: run.load(name) for name in names}
    kinds = {name: run.kind(name) for name in names}
    input_kinds = sorted({k.input_kind for k in kinds.values()}, key=KINDS.index)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    data_dir = _data_dir(run, data)
    ws = None
    notes: list[str] = []
    if data_dir is not None:
        log.info("windows of %s", data_dir)
        ws = evaluation_windows(run, data_dir, input_kinds, workers=workers, progress=progress, cache=cache)
        features = ws.features
        data_root = Path(os.path.commonpath([str(d.resolve()) for d in data_dir]))
        data_info = {
            "root": str(data_root),
            "clips": len(ws.clips),
            "windows": len(ws),
            "description": (
                f"every kept window of the corpus at `{', '.join(d.name for d in data_dir)}` ({len(ws.clips)} clips, {len(ws)} windows, "
                f"hop {ws.hop_frames} frames, gated as in training). The final models were fitted on this corpus, "
                "so these accuracies compare precisions; they are not estimates for unseen speakers (see the "
                "run's results for those)."
            ),
        }
    else:
        features = synthetic_windows(run, input_kinds)
        data_info = {"description": "no corpus given: 64 synthetic windows (tones in noise) only; no int8 files."}
        notes.append("No --data: parity was checked on synthetic windows only and nothing was quantized.")

    # 1. fp32
    files: list[v.ExportedFile] = []
    for name in names:
        contract = contract_for(run, name)
        path = convert(sources[name], contract, out / f"{name}.fp32.onnx")
        files.append(v.ExportedFile(name, name, "fp32", path, run.selected_for(name), contract.input_kind))
        log.info("wrote %s", path)

    # 2. int8
    quant: dict[str, dict[str, Any]] = {}
    for f in list(files):
        plan = kinds[f.name].quantization
        if plan.method == "none":
            quant[f.name] = {"skipped": f"stays fp32 — {plan.description}"}
            continue
        if not quantize:
            quant[f.name] = {"skipped": "--no-int8"}
            continue
        if ws is None:
            quant[f.name] = {"skipped": "no calibration windows (give --data)"}
            continue
        calibration = q.calibration_inputs(source_input(ws.features[f.input_kind], f.selected), ws.labels, calibration_windows)
        path = out / f"{f.name}.int8.onnx"
        try:
            q.quantize(f.path, path, f.kind, calibration)
        except Exception as exc:  # report it; the fp32 file stands
            quant[f.name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        files.append(v.ExportedFile(f.name, f.kind, "int8", path, f.selected, f.input_kind))
        quant[f.name] = {"method": plan.description, "calibration_windows": int(len(calibration))}
        log.info("wrote %s", path)

    # 3. verification
    report: dict[str, Any] = {
        "run": run.name,
        "run_dir": str(run.path),
        "run_created": run.created,
        "command": command,
        "machine": v.machine(),
        "data": data_info,
        "targets": dict(v.TARGETS),
        "files": [],
        "parity": {},
        "parity_notes": [],
        "quantization": {},
        "device": {},
        "notes": notes,
    }
    for f in files:
        report["files"].append(
            {"name": f.name, "kind": f.kind, "precision": f.precision, "path": f.path.name,
             "bytes": f.path.stat().st_size, "sha256": _sha256(f.path), "op_types": q.op_types(f.path)}
        )
    clip_ids = ws.clip_ids if ws is not None else None
    for f in files:
        if f.precision != "fp32":
            continue
        try:
            report["parity"][f.name] = v.parity(
                sources[f.name], f, features[f.input_kind], clip_ids, None if ws is None else ws.labels
            )
        except Exception as exc:
            report["parity"][f.name] = {"error": f"{type(exc).__name__}: {exc}", "met": False}
            continue
        r = report["parity"][f.name]
        if r.get("disagreements_at_ties"):
            report["parity_notes"].append(
                f"{f.name}: {r['disagreements_at_ties']} of its {r['disagreements']} label disagreements are ties in the "
                "source (two classes with equal probability, e.g. a forest's votes split evenly); float32 sums break them either way."
            )
        if r.get("routed_differently"):
            report["parity_notes"].append(
                f"{f.name}: {r['routed_differently']} windows took another branch in the ONNX tree: float32 "
                "threshold effects (a feature within one float32 step of a split threshold)."
            )
        elif kinds[f.name].float32_thresholds:
            report["parity_notes"].append(
                f"{f.name}: no float32 threshold effects (every window took the same branches; the features were cast "
                "to float32 before fitting, as the ONNX tree compares them)."
            )
    for name, entry in quant.items():
        if "method" in entry and ws is not None:
            fp32 = next(f for f in files if f.name == name and f.precision == "fp32")
            int8 = next(f for f in files if f.name == name and f.precision == "int8")
            entry.update(v.compare_precisions(fp32, int8, ws.features[fp32.input_kind], ws.labels, ws.clip_ids, len(run.labels)))
        report["quantization"][name] = entry
    if ws is not None:
        clips = None if device_clips is None else _spread(len(ws.clips), device_clips)
        report["device"] = v.device_check(files, sources, ws, clips, root=data_root, keep_labels=clip_labels)
        signals = _latency_signals(ws, latency_clips)
        for f in files:
            if report["device"].get(f.label, {}).get("loads"):
                report["device"][f.label]["latency"] = v.end_to_end_latency(f.path, signals)
    else:
        from tonecue.edge.model import EmotionModel, ModelError

        for f in files:
            try:
                EmotionModel(f.path)
                report["device"][f.label] = {"loads": True}
            except ModelError as exc:
                report["device"][f.label] = {"loads": False, "error": str(exc), "met": False}
    report["ranking"] = _ranking(run, files, report)
    report["recommendation"] = recommend(report["ranking"])
    report["verdict"] = _verdict(report)
    report["seconds"] = round(time.perf_counter() - t_start, 1)
    v.write_report(report, out)
    return report


def _model_name(text: str) -> str:
    """A --models entry as its kind's one name (aliases such as "tree" accepted)."""
    try:
        return registry.resolve(text)
    except registry.ModelKindError:
        return text  # not a kind at all: reported with the run's models


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _spread(n: int, k: int) -> list[int]:
    if k >= n:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, k).round().astype(int).tolist()))


def _latency_signals(ws, n_clips: int) -> list[np.ndarray]:
    from tonecue.edge.audio import load_audio

    return [load_audio(ws.clips[i].path, ws.spec.sample_rate) for i in _spread(len(ws.clips), n_clips)]


def _ranking(run: RunFolder, files, report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for f in files:
        device = report["device"].get(f.label, {})
        verified = bool(device.get("met", device.get("loads")))
        if f.precision == "fp32":
            verified = verified and bool(report["parity"].get(f.name, {}).get("met"))
        else:
            qr = report["quantization"].get(f.name, {})
            verified = verified and bool(qr.get("size_target_met")) and bool(qr.get("accuracy_target_met"))
        rows.append(
            {
                "file": f.path.name,
                "model": f.name,
                "precision": f.precision,
                "speaker_uar": _uar(run, f.name, "speaker_grouped"),
                "random_uar": _uar(run, f.name, "random_split"),
                "latency_ms": (device.get("latency") or {}).get("median_ms"),
                "bytes": f.path.stat().st_size,
                "verified": verified,
            }
        )
    rows.sort(key=lambda r: (-(r["speaker_uar"] or 0.0), r["latency_ms"] or 0.0))
    return rows


#: The device's budget for the shipped file, and how close in speaker-grouped UAR two files must be
#: for the faster one to win (differences of a point are within the folds' spread). An SVM carries
#: its support vectors (the augmented paralinguistic one: 6.4 MB); what binds on a Pi is the
#: service's memory, which edge-bench measures (target 100 MB).
MAX_SHIPPED_BYTES = 8_000_000
UAR_TOLERANCE = 0.01


def recommend(ranking: Sequence[dict[str, Any]], max_bytes: int = MAX_SHIPPED_BYTES, tolerance: float = UAR_TOLERANCE) -> dict[str, Any] | None:
    """The file to ship: among verified files of at most `max_bytes` with a speaker-grouped UAR,
    those within `tolerance` of the best UAR; of them the fastest end to end (then the smallest)."""
    candidates = [
        r for r in ranking
        if r.get("verified") and r.get("speaker_uar") is not None and r["bytes"] <= max_bytes
    ]
    if not candidates:
        return None
    best = max(r["speaker_uar"] for r in candidates)
    near = [r for r in candidates if r["speaker_uar"] >= best - tolerance]
    choice = min(near, key=lambda r: (r.get("latency_ms") or float("inf"), r["bytes"]))
    return {
        "file": choice["file"],
        "model": choice["model"],
        "precision": choice["precision"],
        "speaker_uar": choice["speaker_uar"],
        "latency_ms": choice.get("latency_ms"),
        "bytes": choice["bytes"],
        "rule": (
            f"verified files of at most {max_bytes / 1e6:g} MB; those within {100 * tolerance:g} point of the best "
            f"speaker-grouped clip UAR ({100 * best:.1f} %): {', '.join(r['file'] for r in near)}; the fastest end to end"
        ),
    }


def _verdict(report: dict[str, Any]) -> str:
    problems = []
    for name, r in report["parity"].items():
        if not r.get("met"):
            problems.append(f"{name}: fp32 does not match its source")
    for name, r in report["quantization"].items():
        if "error" in r:
            problems.append(f"{name}: quantization failed")
        elif "method" in r and "size_ratio" in r:
            if not r["size_target_met"]:
                problems.append(f"{name}: int8 is {r['size_ratio']:.2f} of fp32's size (target ≤ 0.33)")
            if not r["accuracy_target_met"]:
                problems.append(f"{name}: int8 loses {-r['accuracy_change_points']:.2f} points of accuracy (target ≤ 1)")
    for label, r in report["device"].items():
        if not r.get("loads"):
            problems.append(f"{label}: does not load in EmotionModel")
        elif r.get("met") is False:
            n = round((1 - r.get("same_clip_label_as_file_on_training_features", 1.0)) * r.get("clips", 0))
            m = round((1 - r.get("same_clip_label", 1.0)) * r.get("clips", 0))
            problems.append(
                f"{label}: in EmotionModel, clip labels differ from the file on training features on {n} clips"
                f" and from its source on {m}"
            )
    report["ok"] = not problems
    if not problems:
        return "Every target met."
    return "Targets missed:\n\n" + "\n".join(f"- {p}" for p in problems)


# ------------------------------------------------------------------------------------ the command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tonecue-export",
        description="Export a tonecue-train run to ONNX (fp32 and int8) with the model contract inside, and verify it.",
    )
    parser.add_argument("run_dir", type=Path, help="the run folder tonecue-train wrote")
    parser.add_argument("--out", type=Path, required=True, help="folder for the .onnx files and verification.md/.json")
    parser.add_argument("--models", nargs="+", metavar="NAME", help="export only these models (default: all in the run)")
    parser.add_argument("--data", type=Path, action="append",
                        help="the corpus the run was trained on (repeat for several folders): calibration and "
                             "evaluation windows")
    parser.add_argument("--no-int8", action="store_true", help="skip quantization")
    parser.add_argument("--calibration-windows", type=int, default=512, help="training windows for int8 calibration (512)")
    parser.add_argument("--latency-clips", type=int, default=40, help="clips streamed for end-to-end latency (40)")
    parser.add_argument("--device-clips", type=int, help="check only this many clips in EmotionModel (default: all)")
    parser.add_argument("--clip-labels", action="store_true",
                        help="list every clip's label on the device in verification.json (a reference for later checks)")
    parser.add_argument("--workers", type=int, help="feature extraction processes (default: all cores)")
    parser.add_argument("--cache", type=str, default=None,
                        help="feature cache folder (default: ~/.cache/tonecue/features; 'none' disables it)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    return parser


def _cache(text: str | None) -> Any:
    if text is None:
        return None
    return False if text.strip().lower() in ("none", "off", "false", "") else Path(text)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.WARNING if args.quiet else logging.INFO)
    log.propagate = False  # onnxruntime's quantizer configures the root logger
    try:
        report = export_run(
            args.run_dir,
            args.out,
            args.models,
            args.data,
            quantize=not args.no_int8,
            calibration_windows=args.calibration_windows,
            latency_clips=args.latency_clips,
            device_clips=args.device_clips,
            clip_labels=args.clip_labels,
            workers=args.workers,
            cache=_cache(args.cache),
            progress=not args.quiet,
            command=shlex.join(["tonecue-export", *(sys.argv[1:] if argv is None else list(argv))]),
        )
    except TonecueError as exc:
        print(f"tonecue-export: {exc}", file=sys.stderr)
        return exit_status(exc)
    print(f"{args.out / 'verification.md'}: {report['verdict'].splitlines()[0]}")
    return 0 if report.get("ok") else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

