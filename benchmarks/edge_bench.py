"""edge-bench: what the device's loop costs, measured on the device itself.

    edge-bench [MODEL.onnx ...] [--audio FILE_OR_FOLDER] [--threads N] [--json] [--out PATH]

For the shipped default model (or the ONNX files given), on real speech (the bundled demo clip,
or your own files), it measures:

- per window, over many voiced windows replayed in stream order: the frontend, the inference and
  the end-to-end time from a hop of audio to a decision (window stream, voice gate, frontend,
  ONNX Runtime, smoothing, cue planning), as p50 / p95 / p99;
- the real-time factor of the whole loop: CPU seconds per second of audio while the real service
  loop replays a long stream as fast as it can;
- the model file's size, the peak resident memory of a process running the loop, and the cold
  start: from process start to the first decision (audio replayed without waiting);
- the speech detector's cost per second of audio, and the same chunk by chunk through the graph
  the contract pins, for reference (what its run-of-chunks twin saves on this machine);
- where librosa is installed, the same windows' features computed the seed's way with librosa.

One thread by default, like one core of a Pi; `--threads N` to change it. Needs only the edge
extra.
"""

from __future__ import annotations

import os
import sys

# BLAS threads must be capped before numpy loads: the console script imports this module first.
_threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_variable, _threads)

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from tonecue.edge.machine import describe_machine  # noqa: E402
from tonecue.edge.audio import load_audio  # noqa: E402
from tonecue.edge.model import DEFAULT_MODEL, EmotionModel  # noqa: E402
from tonecue.edge.pipeline import Pipeline  # noqa: E402
from tonecue.benchmarks.report import write_report  # noqa: E402

DEMO_CLIP = Path(__file__).resolve().parents[1] / "edge" / "assets" / "demo.wav"
RESULTS = Path(__file__).with_name("results")
AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg")
# The device's budgets (issues 10 and 11): the whole loop, speech detector included, on one thread.
TARGETS = {"end_to_end_p95_ms": 10.0, "real_time_factor": 0.01, "peak_rss_mb": 100.0, "cold_start_s": 1.5}


def speech(source: Path | None, sample_rate: int) -> tuple[np.ndarray, list[str]]:
    """The audio to replay: one file, every audio file of a folder (joined), or the demo clip."""
    source = source or DEMO_CLIP
    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES) if source.is_dir() else [source]
    if not files:
        raise SystemExit(f"edge-bench: no audio files in {source}")
    return np.concatenate([load_audio(f, sample_rate) for f in files]), [str(f) for f in files]


def percentiles(values: list[float]) -> dict[str, float]:
    ms = 1e3 * np.asarray(values)
    return {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)), "p99": float(np.percentile(ms, 99))}


def per_window(model: EmotionModel, audio: np.ndarray, min_windows: int) -> dict:
    """Frontend, inference and end-to-end times of voiced windows, in stream order."""
    pipeline = Pipeline(model)
    hop = pipeline.hop_frames * model.contract.spec.hop_length
    frontend, inference, end_to_end = [], [], []
    passes = 0
    while len(end_to_end) < min_windows and passes < 1000:
        pipeline.reset()
        featurizer = model.featurizer()
        for start in range(0, len(audio), hop):
            t0 = time.perf_counter()
            steps = pipeline.push(audio[start : start + hop])
            t1 = time.perf_counter()
            for step in steps:
                if not step.heard.voiced:
                    continue
                end_to_end.append(t1 - t0)
                # The same window again, split into its two costs.
                position = step.heard.start
                window = audio[position : position + model.contract.spec.window_samples]
                t2 = time.perf_counter()
                features = featurizer(window, position)
                t3 = time.perf_counter()
                model.predict_proba(features[None])
                t4 = time.perf_counter()
                frontend.append(t3 - t2)
                inference.append(t4 - t3)
        passes += 1
    return {
        "voiced_windows": len(end_to_end),
        "frontend_ms": percentiles(frontend),
        "inference_ms": percentiles(inference),
        "end_to_end_ms": percentiles(end_to_end),
    }


def detector_cost(model: EmotionModel, audio: np.ndarray, repeats: int = 3) -> dict | None:
    """CPU ms per second of audio of the model's speech detector over `audio`, as the loop runs it
    and, for reference in the same process, chunk by chunk through the graph the contract pins
    (best of `repeats`, interleaved). None for a model without a detector."""
    from tonecue.edge.speech import SileroVAD, SpeechDetector

    detector = model.speech_detector()
    if detector is None:
        return None
    network = detector.network
    ways = {"as run": network, "chunk by chunk": SileroVAD(network.session)}
    window = model.contract.spec.window_samples
    hop = model.contract.hop_frames * model.contract.spec.hop_length
    best = {name: float("inf") for name in ways}
    for _ in range(repeats):
        for name, net in ways.items():
            stream = SpeechDetector(detector.settings, net.fresh(), detector.stream_rate)
            t0 = time.process_time()
            for start in range(0, max(len(audio) - window, 0) + 1, hop):
                stream.score(start, audio[start : start + window])
            best[name] = min(best[name], time.process_time() - t0)
    seconds = len(audio) / model.contract.spec.sample_rate
    ms = {name: 1e3 * t / seconds for name, t in best.items()}
    graph = "run of chunks" if network.sequence_session is not None else "chunk by chunk"
    return {"graph": graph, "ms_per_second": ms}


def librosa_per_window(model: EmotionModel, audio: np.ndarray, count: int = 100) -> dict | None:
    try:
        import librosa
    except ImportError:
        return None
    from tonecue.benchmarks.frontend import librosa_image, librosa_stats

    spec = model.contract.spec
    kind = model.contract.input_kind
    function = librosa_stats if kind == "stats" else librosa_image
    w = spec.window_samples
    starts = range(0, len(audio) - w, max(1, (len(audio) - w) // count))
    windows = [audio[s : s + w] for s in starts][:count]
    function(librosa, windows[0], spec)  # numba compiles on first use
    times = []
    for window in windows:
        t0 = time.perf_counter()
        function(librosa, window, spec)
        times.append(time.perf_counter() - t0)
    return {"frontend_ms": percentiles(times), "librosa": librosa.__version__}


_CHILD = """
import os, sys, time, json
t0 = float(sys.argv[3])
from tonecue.edge.capture import FileSource
from tonecue.edge.config import Config
from tonecue.edge.indicators import NullIndicator
from tonecue.edge.model import EmotionModel
from tonecue.edge.service import Service

model = EmotionModel(sys.argv[1], threads=int(sys.argv[4]))
source = FileSource(sys.argv[2], model.contract.spec.sample_rate, realtime=False)

first = None
def note_first(step):
    global first
    if first is None:
        first = time.time()

service = Service(Config(), model, NullIndicator(), lambda: source)
service.pipeline.observers.append(note_first)
cpu0, wall0 = time.process_time(), time.perf_counter()
service.run()
cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
peak_kb = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
print(json.dumps({"first_decision_s": first - t0 if first else None, "loop_cpu_s": cpu, "loop_wall_s": wall,
                  "peak_rss_mb": peak_kb / 1024, "windows": service.windows_heard}))
"""


def whole_loop(model_path: Path, audio_file: Path, threads: int) -> dict:
    """A fresh process runs the real service loop over `audio_file` replayed without waiting."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(model_path), str(audio_file), repr(time.time()), str(threads)],
        capture_output=True, text=True, env=env, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_model(path: Path, audio: np.ndarray, long_stream: Path, threads: int, min_windows: int) -> dict:
    model = EmotionModel(path, threads=threads)
    windows = per_window(model, audio, min_windows)
    seconds = len(load_audio(long_stream, model.contract.spec.sample_rate)) / model.contract.spec.sample_rate
    loop = whole_loop(path, long_stream, threads)
    # Cold start and memory from runs on the short demo clip: the long stream's replay holds five
    # minutes of audio in memory, which a microphone never does.
    short = [whole_loop(path, DEMO_CLIP, threads) for _ in range(3)]
    return {
        "model": str(path),
        "name": model.contract.model_name,
        "precision": model.contract.precision,
        "input": model.contract.input_kind,
        "size_mb": path.stat().st_size / 2**20,
        **windows,
        "real_time_factor": loop["loop_cpu_s"] / seconds,
        "stream_seconds": seconds,
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in short),
        "cold_start_s": statistics.median(r["first_decision_s"] for r in short),
        "librosa": librosa_per_window(model, audio),
        "detector": detector_cost(model, audio),
    }


def run(models: list[Path], audio_source: Path | None, threads: int, min_windows: int = 1000) -> dict:
    import tempfile
    import wave

    first = EmotionModel(models[0])
    rate = first.contract.spec.sample_rate
    audio, files = speech(audio_source, rate)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        # Five minutes of the speech, back to back, for the real-time factor.
        long_stream = Path(tmp) / "stream.wav"
        repeats = max(1, int(np.ceil(300 * rate / len(audio))))
        pcm = (np.tile(audio, repeats) * 32767).clip(-32768, 32767).astype("<i2")
        with wave.open(str(long_stream), "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(2)
            f.setframerate(rate)
            f.writeframes(pcm.tobytes())
        for path in models:
            results.append(bench_model(path, audio, long_stream, threads, min_windows))
    return {
        "benchmark": "edge-bench",
        "machine": describe_machine(),
        "threads": threads,
        "audio": files if len(files) <= 5 else f"{len(files)} files from {audio_source}",
        "audio_seconds": len(audio) / rate,
        "targets": TARGETS,
        "results": results,
    }


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else f"missed by {value / target:.1f}x"


def to_markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# edge-bench: the device loop's cost",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['machine']}), Python {m['python']}, numpy {m['numpy']}; "
        f"{report['threads']} thread(s). Audio: {report['audio']} ({report['audio_seconds']:.1f} s).",
        "",
        "| model | precision | size MB | frontend p50/p95/p99 ms | inference p50/p95/p99 ms | end-to-end p50/p95/p99 ms "
        "| real-time factor | peak RSS MB | cold start s |",
        "|---|---|---:|---|---|---|---:|---:|---:|",
    ]
    fmt = lambda p: f"{p['p50']:.3f} / {p['p95']:.3f} / {p['p99']:.3f}"  # noqa: E731
    for r in report["results"]:
        lines.append(
            f"| {r['name']} ({Path(r['model']).name}) | {r['precision']} | {r['size_mb']:.2f} | {fmt(r['frontend_ms'])} "
            f"| {fmt(r['inference_ms'])} | {fmt(r['end_to_end_ms'])} | {r['real_time_factor']:.4f} "
            f"| {r['peak_rss_mb']:.0f} | {r['cold_start_s']:.2f} |"
        )
    lines += ["", "Against the targets (one thread):", ""]
    t = report["targets"]
    for r in report["results"]:
        lines.append(
            f"- {r['name']} {r['precision']}: end-to-end p95 {r['end_to_end_ms']['p95']:.3f} ms "
            f"({verdict(r['end_to_end_ms']['p95'], t['end_to_end_p95_ms'])}), real-time factor "
            f"{r['real_time_factor']:.4f} ({verdict(r['real_time_factor'], t['real_time_factor'])}), peak RSS "
            f"{r['peak_rss_mb']:.0f} MB ({verdict(r['peak_rss_mb'], t['peak_rss_mb'])}), cold start "
            f"{r['cold_start_s']:.2f} s ({verdict(r['cold_start_s'], t['cold_start_s'])})."
        )
        if r.get("detector"):
            d = r["detector"]["ms_per_second"]
            lines.append(
                f"  Its speech detector, {r['detector']['graph']}: {d['as run']:.2f} ms per second of audio "
                f"({d['chunk by chunk'] / d['as run']:.1f}x less than the pinned graph chunk by chunk, "
                f"{d['chunk by chunk']:.2f} ms, in the same process)."
            )
        if r.get("librosa"):
            ours, theirs = r["frontend_ms"]["p50"], r["librosa"]["frontend_ms"]["p50"]
            lines.append(
                f"  The same windows' features with librosa {r['librosa']['librosa']}: p50 {theirs:.3f} ms "
                f"({theirs / ours:.1f}x the numpy frontend's {ours:.3f} ms)."
            )
    lines += [
        "",
        "End-to-end: from pushing one hop of audio to the planned cue, over voiced windows (unvoiced "
        "ones stop at the gate and cost less). Real-time factor: CPU seconds per second of audio of "
        "the real service loop replaying five minutes of speech without waiting. Cold start: from "
        "process start to the first decision, with the audio replayed without waiting (live, the "
        "first window also needs 1.14 s of sound). Peak RSS: VmHWM of that process, which runs the "
        "loop over the 17 s demo clip (the replay holds its file in memory; a microphone does not).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edge-bench", description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help=f"ONNX models (default: the shipped {DEFAULT_MODEL.name})")
    parser.add_argument("--audio", type=Path, help="an audio file or a folder of them (default: the bundled demo clip)")
    parser.add_argument("--threads", type=int, default=1, help="threads for BLAS and ONNX Runtime (default 1)")
    parser.add_argument("--windows", type=int, default=1000, help="voiced windows to time per model (default 1000)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--out", type=Path, help="also write PATH.md and PATH.json")
    args = parser.parse_args(argv)
    report = run(args.models or [DEFAULT_MODEL], args.audio, args.threads, args.windows)
    text = to_markdown(report)
    print(json.dumps(report, indent=2) if args.json else text)
    write_report(args.out, text, report, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
