"""The numpy frontend against librosa, on the same real speech, in one run.

    python -m tonecue.benchmarks.frontend [--json PATH] [--markdown PATH] [--threads N]

Three measures, each for tonecue and for the librosa calls the seed makes (MFCC, melspectrogram,
LPC, RMS and ZCR; for the image, MFCC and a 20-band log-mel spectrogram):
- per window: one 50-frame window featurized on its own (median over many real windows);
- per 3 s clip, steady state: every window of a 3 s clip, 22 frames (0.51 s) apart, as the device
  windows its stream; tonecue reuses the frames successive windows share, librosa has no such path
  and is called per window;
- cold start: a fresh Python process, from start to the first window's features (median of runs,
  after one warm-up run so that disk caches, bytecode and numba's cache are warm for both).
One BLAS thread by default, like one core of a Pi. Needs librosa (the dev extra) for the reference.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # thread caps must be set before numpy loads its BLAS
    _threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, _threads)

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from tonecue.edge.machine import describe_machine  # noqa: E402
from tonecue.edge.audio import load_audio  # noqa: E402
from tonecue.edge.frontend import Frontend, featurize_clip  # noqa: E402
from tonecue.edge.spec import DEFAULT_HOP_FRAMES, FrontendSpec  # noqa: E402

RESULTS = Path(__file__).with_name("results")
DEMO_CLIP = Path(__file__).resolve().parents[1] / "edge" / "assets" / "demo.wav"
HOP_FRAMES = DEFAULT_HOP_FRAMES


def librosa_stats(librosa, y: np.ndarray, spec: FrontendSpec) -> np.ndarray:
    """The seed's statistics vector, computed the seed's way."""
    sr = spec.sample_rate
    return np.concatenate(
        [
            librosa.feature.mfcc(y=y, sr=sr, n_mfcc=spec.n_mfcc).mean(axis=1),
            librosa.feature.melspectrogram(y=y, sr=sr)[: spec.n_stats_mels].mean(axis=1),
            librosa.lpc(y, order=spec.lpc_order)[1:],
            [librosa.feature.rms(y=y).mean(), librosa.feature.zero_crossing_rate(y=y).mean()],
        ]
    )


def librosa_image(librosa, y: np.ndarray, spec: FrontendSpec) -> np.ndarray:
    sr = spec.sample_rate
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=spec.image_n_mfcc)
    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_mels=spec.image_n_mels))
    return np.stack([mfcc, log_mel])


def _median_seconds(function, inputs, repeats: int) -> float:
    """Median over `repeats` passes of the mean time per input."""
    per_pass = []
    for _ in range(repeats):
        started = time.perf_counter()
        for item in inputs:
            function(item)
        per_pass.append((time.perf_counter() - started) / len(inputs))
    return statistics.median(per_pass)


_COLD_TONECUE = """
import time, sys
t0 = time.perf_counter()
import numpy as np
from tonecue.edge.frontend import frontend_for
from tonecue.edge.spec import FrontendSpec
window = np.load(sys.argv[1])
frontend_for(FrontendSpec()).features(window, "stats")
print(time.perf_counter() - t0)
"""

_COLD_LIBROSA = """
import time, sys
t0 = time.perf_counter()
import numpy as np
import librosa
from tonecue.benchmarks.frontend import librosa_stats
from tonecue.edge.spec import FrontendSpec
window = np.load(sys.argv[1])
librosa_stats(librosa, window, FrontendSpec())
print(time.perf_counter() - t0)
"""


def _process_seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True)
    return time.perf_counter() - started


def cold_start(script: str, window_file: str, runs: int) -> dict:
    """Wall time of fresh processes, interpreter start to first features (median of `runs`)."""
    # Bytecode is cached as on an installed device (pip compiles it): the warm-up run writes it
    # even where the environment says not to.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    totals, in_process = [], []
    for i in range(runs + 1):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", script, window_file], capture_output=True, text=True, check=True, env=env
        )
        total = time.perf_counter() - started
        if i:  # the first run only warms caches
            totals.append(total)
            in_process.append(float(out.stdout.split()[-1]))
    return {"process_s": statistics.median(totals), "import_and_first_window_s": statistics.median(in_process)}


def machine() -> dict:
    import librosa

    return {**describe_machine(), "librosa": librosa.__version__}


def run(repeats: int = 7, cold_runs: int = 5) -> dict:
    import librosa

    spec = FrontendSpec()
    frontend = Frontend(spec)
    speech = load_audio(DEMO_CLIP, spec.sample_rate)
    w = spec.window_samples
    windows = [speech[s : s + w] for s in range(0, len(speech) - w, spec.hop_length * 7)]
    clip = speech[: 3 * spec.sample_rate]

    def clip_librosa(kind_function):
        def featurize(y):
            starts = range(0, len(y) - w + 1, HOP_FRAMES * spec.hop_length)
            return [kind_function(librosa, y[s : s + w], spec) for s in starts]

        return featurize

    # Warm both (numba compiles librosa's LPC and zero-crossing kernels on first use).
    librosa_stats(librosa, windows[0], spec)
    librosa_image(librosa, windows[0], spec)
    frontend.stats(windows[0])

    rows = []
    cases = [
        ("window: stats vector", windows, lambda x: frontend.stats(x), lambda x: librosa_stats(librosa, x, spec)),
        ("window: (2,20,50) image", windows, lambda x: frontend.image(x), lambda x: librosa_image(librosa, x, spec)),
        ("3 s clip: stats, every 0.51 s", [clip], lambda y: featurize_clip(y, spec, "stats", HOP_FRAMES), clip_librosa(librosa_stats)),
        ("3 s clip: image, every 0.51 s", [clip], lambda y: featurize_clip(y, spec, "image", HOP_FRAMES), clip_librosa(librosa_image)),
    ]
    for name, inputs, ours, theirs in cases:
        # Repeat short inputs so that each pass lasts long enough to time.
        batch = inputs * max(1, 40 // len(inputs))
        t_ours = _median_seconds(ours, batch, repeats)
        t_ref = _median_seconds(theirs, batch, repeats)
        rows.append({"case": name, "tonecue_ms": 1e3 * t_ours, "librosa_ms": 1e3 * t_ref, "speedup": t_ref / t_ours})

    interpreter = statistics.median(_process_seconds([sys.executable, "-c", "pass"]) for _ in range(cold_runs))
    with tempfile.TemporaryDirectory() as tmp:
        window_file = str(Path(tmp) / "window.npy")
        np.save(window_file, windows[len(windows) // 2])
        cold_ours = cold_start(_COLD_TONECUE, window_file, cold_runs)
        cold_ref = cold_start(_COLD_LIBROSA, window_file, cold_runs)
    rows.append(
        {
            "case": "cold start: process to first window",
            "tonecue_ms": 1e3 * cold_ours["process_s"],
            "librosa_ms": 1e3 * cold_ref["process_s"],
            "speedup": cold_ref["process_s"] / cold_ours["process_s"],
        }
    )
    rows.append(
        {
            "case": "cold start: imports + first window",
            "tonecue_ms": 1e3 * cold_ours["import_and_first_window_s"],
            "librosa_ms": 1e3 * cold_ref["import_and_first_window_s"],
            "speedup": cold_ref["import_and_first_window_s"] / cold_ours["import_and_first_window_s"],
        }
    )
    return {
        "benchmark": "frontend",
        "input": f"{DEMO_CLIP.name}: real speech, {len(windows)} windows of {w} samples at {spec.sample_rate} Hz",
        "targets": {"steady_state_speedup": 5.0, "cold_start_speedup": 20.0},
        "machine": machine(),
        "interpreter_start_ms": 1e3 * interpreter,
        "results": rows,
    }


def to_markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Frontend benchmark: tonecue's numpy frontend against librosa",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['machine']}), Python {m['python']}, "
        f"numpy {m['numpy']}, librosa {m['librosa']}, BLAS threads {m['blas_threads']}.",
        f"Input: {report['input']}.",
        f"Targets: {report['targets']['steady_state_speedup']:g}x in steady state, "
        f"{report['targets']['cold_start_speedup']:g}x at cold start.",
        "",
        "| case | tonecue (ms) | librosa (ms) | speed-up |",
        "|---|---:|---:|---:|",
    ]
    for row in report["results"]:
        lines.append(f"| {row['case']} | {row['tonecue_ms']:.3f} | {row['librosa_ms']:.3f} | {row['speedup']:.1f}x |")
    rows = {row["case"]: row for row in report["results"]}
    steady = min(row["speedup"] for case, row in rows.items() if not case.startswith("cold"))
    in_process = rows["cold start: imports + first window"]
    process = rows["cold start: process to first window"]
    targets = report["targets"]

    def verdict(value: float, target: float) -> str:
        return f"target {target:g}x {'met' if value >= target else f'missed by {target / value:.2f}x'}"

    lines += [
        "",
        f"- Steady state: the smallest speed-up is {steady:.1f}x ({verdict(steady, targets['steady_state_speedup'])}).",
        f"- Cold start, first import to first window: {in_process['speedup']:.1f}x "
        f"({verdict(in_process['speedup'], targets['cold_start_speedup'])}). Most of tonecue's "
        f"{in_process['tonecue_ms']:.0f} ms is importing numpy itself.",
        f"- Cold start, whole process: {process['speedup']:.1f}x "
        f"({verdict(process['speedup'], targets['cold_start_speedup'])}): both pay the Python "
        f"interpreter's own start, {report['interpreter_start_ms']:.0f} ms here, which no library can shorten.",
    ]
    lines += [
        "",
        "Regenerate with `.venv/bin/python -m tonecue.benchmarks.frontend --markdown "
        "benchmarks/results/frontend.md --json benchmarks/results/frontend.json`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the report as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the report as a markdown table here")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1, like one Pi core)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    report = run(repeats=args.repeats)
    text = to_markdown(report)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
