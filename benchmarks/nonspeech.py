"""Non-speech benchmark: how often the device cues when nobody is speaking, and how much speech it keeps.

    python -m tonecue.benchmarks.nonspeech --out benchmarks/results/nonspeech

Everything runs through the real live loop (`tonecue.edge.service.Service`, the shipped default
model or `--model`), replayed as fast as it goes, with the stream time the device would have had:

- **non-speech streams** (sound the project never trained or tuned on): ESC-10 fold 5 from
  ../shared/data/noise (dog, rain, sea, baby cry, clock, sneeze, helicopter, chainsaw, rooster,
  fire), and synthetic noises and tones (pure tones, chords, mains hum, white/pink/brown noise,
  clicks, noise bursts, square and sawtooth waves, sweeps, tones mixed with noise); every clip at a
  random level from -40 to -20 dBFS RMS. Counted: vibrations per hour and labels shown per hour
  (an emotion appearing on the LED);
- **speech-window recall** on speakers no tonecue model trains on (`benchmarks/heldout.json`),
  each speaker's clips joined with 0.6-1.6 s pauses into one stream at -35 to -20 dBFS, clean and
  with ESC-10 fold 5 background at 10 dB SNR. A window counts as speech when, in the clean
  recording, it lies inside one clip and its level is within 15 dB of that clip's loudest window;
  recall is the share of those the loop lets through to the model;
- the whole loop's real-time factor (CPU seconds per second of audio, one thread).

Each figure is given with the speech detector (what the device runs) and with the level gate
alone (how tonecue heard before the detector), side by side.
"""

from __future__ import annotations

import os
import sys

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from tonecue.edge.audio import load_audio  # noqa: E402
from tonecue.edge.capture import EndOfStream  # noqa: E402
from tonecue.edge.config import Config  # noqa: E402
from tonecue.edge.indicators import NullIndicator  # noqa: E402
from tonecue.edge.machine import describe_machine  # noqa: E402
from tonecue.edge.model import DEFAULT_MODEL, EmotionModel  # noqa: E402
from tonecue.edge.service import Service  # noqa: E402
from tonecue.benchmarks.report import write_report  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("TONECUE_DATA", HERE.parents[1] / "shared" / "data"))
HELD_OUT = HERE / "heldout.json"
TARGETS = {"vibrations_per_hour": 0.5, "labels_per_hour": 2.0, "recall_clean": 0.95, "recall_noisy": 0.85,
           "real_time_factor": 0.01}
BLOCK_SECONDS = 0.1


# --- audio ----------------------------------------------------------------------------------------


def at_dbfs(x: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))
    return (np.asarray(x, dtype=np.float64) * (10 ** (dbfs / 20) / max(rms, 1e-12))).astype(np.float32)


def coloured_noise(rng, n: int, rate: int, exponent: float) -> np.ndarray:
    """Noise with power falling as f**-exponent (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n, 1.0 / rate), 10.0)
    return np.fft.irfft(spectrum / freqs ** (exponent / 2), n)


def synthetic_clips(rate: int, seconds: float, seed: int) -> list[tuple[str, np.ndarray]]:
    """Every kind of synthetic non-speech, `seconds` long each (parameters drawn from `seed`)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f = float(rng.uniform(150, 2000))
    clips = [
        ("tone", np.sin(2 * np.pi * f * t)),
        ("chord", sum(np.sin(2 * np.pi * f0 * t) for f0 in f * np.array([1, 1.26, 1.5]))),
        ("hum", sum(np.sin(2 * np.pi * rng.choice([50, 60]) * k * t) / k for k in range(1, 9))),
        ("white noise", rng.standard_normal(n)),
        ("pink noise", coloured_noise(rng, n, rate, 1.0)),
        ("brown noise", coloured_noise(rng, n, rate, 2.0)),
        ("square wave", np.sign(np.sin(2 * np.pi * f / 4 * t))),
        ("sawtooth", 2 * ((f / 4 * t) % 1.0) - 1),
        ("sweep", np.sin(2 * np.pi * np.cumsum(np.geomspace(100, 6000, n)) / rate)),
        ("tone in noise", np.sin(2 * np.pi * f * t) + 0.3 * rng.standard_normal(n)),
        ("chord in pink noise", sum(np.sin(2 * np.pi * f0 * t) for f0 in (220, 277, 330)) + coloured_noise(rng, n, rate, 1.0)
         / 20),
    ]
    clicks = np.zeros(n)
    clicks[rng.choice(n, size=int(seconds * 4), replace=False)] = 1.0
    clicks = np.convolve(clicks, np.exp(-np.arange(200) / 20.0), mode="same")
    bursts = rng.standard_normal(n) * (np.sin(2 * np.pi * 0.7 * t) > 0.6)
    beeps = np.sin(2 * np.pi * 1000 * t) * ((t % 1.0) < 0.2)
    clips += [("clicks", clicks), ("noise bursts", bursts), ("beeps", beeps)]
    return clips


def esc_fold(fold: int, rate: int) -> list[tuple[str, np.ndarray]]:
    folder = DATA / "noise" / "esc10"
    files = sorted(folder.glob(f"*/{fold}-*.ogg"))
    if not files:
        raise SystemExit(f"nonspeech: no ESC-10 fold {fold} clips under {folder} (set TONECUE_DATA)")
    return [(f.parent.name, load_audio(f, rate)) for f in files]


def join(clips: list[np.ndarray], rng, rate: int, pause: tuple[float, float]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Clips back to back with random pauses; the stream and each clip's (start, end)."""
    pieces, spans, position = [], [], 0
    for clip in clips:
        gap = np.zeros(int(rng.uniform(*pause) * rate), dtype=np.float32)
        pieces += [gap, clip]
        position += len(gap)
        spans.append((position, position + len(clip)))
        position += len(clip)
    return np.concatenate(pieces), spans


# --- the live loop ----------------------------------------------------------------------------------


class ArraySource:
    """A replayed stream for the service: blocks of an array, then EndOfStream."""

    def __init__(self, signal: np.ndarray, rate: int):
        self.signal, self.block, self.position = signal, int(BLOCK_SECONDS * rate), 0

    def read(self, timeout: float | None = None) -> np.ndarray:
        if self.position >= len(self.signal):
            raise EndOfStream()
        block = self.signal[self.position : self.position + self.block]
        self.position += self.block
        return block

    def close(self) -> None:
        pass


def live_loop(model: EmotionModel, signal: np.ndarray, use_detector: bool) -> dict:
    """Replay `signal` through the real service loop; what it heard and cued, and its CPU time."""
    service = Service(Config(), model, NullIndicator(), lambda: ArraySource(signal, model.contract.spec.sample_rate),
                      use_detector=use_detector)
    steps = []
    service.pipeline.observers.append(steps.append)
    cpu = time.process_time()
    service.run()
    cpu = time.process_time() - cpu
    cues = [s.cue for s in steps if s.cue is not None]
    shown = [c for c in cues if c.kind == "emotion"]
    labels_shown, previous = 0, None
    for c in cues:
        label = c.label if c.kind == "emotion" else None
        labels_shown += label is not None and label != previous
        previous = label
    return {
        "starts": np.array([s.heard.start for s in steps]),
        "voiced": np.array([s.heard.voiced for s in steps]),
        "vibrations": sum(c.vibrate for c in shown),
        "labels_shown": labels_shown,
        "shown_labels": sorted({c.label for c in shown}),
        "cpu_seconds": cpu,
    }


# --- the measurements -------------------------------------------------------------------------------


def nonspeech_streams(rate: int, seed: int, esc_repeats: int, synthetic_repeats: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    esc = esc_fold(5, rate)
    streams = {}
    for name, clips in (
        ("ESC-10 fold 5", [clip for _ in range(esc_repeats) for _, clip in esc]),
        ("synthetic noises and tones",
         [clip for r in range(synthetic_repeats) for _, clip in synthetic_clips(rate, 20.0, seed + 100 + r)]),
    ):
        levelled = [at_dbfs(c, rng.uniform(-40, -20)) for c in clips]
        streams[name], _ = join(levelled, rng, rate, (0.0, 1.0))
    return streams


def held_out_speakers() -> list[dict]:
    return json.loads(HELD_OUT.read_text())["speakers"]


def speaker_streams(rate: int, seed: int, noise: np.ndarray, max_clips: int) -> list[dict]:
    """One stream per held-out speaker: clean, the same at 10 dB SNR, and its speech windows."""
    rng = np.random.default_rng(seed)
    out = []
    for speaker in held_out_speakers():
        files = sorted((DATA / speaker["folder"]).glob(speaker["glob"]))
        if not files:
            raise SystemExit(f"nonspeech: no clips for held-out speaker {speaker['name']} under {DATA / speaker['folder']}")
        files = [files[i] for i in sorted(rng.choice(len(files), size=min(max_clips, len(files)), replace=False))]
        level = rng.uniform(-35, -20)
        clips = [at_dbfs(load_audio(f, rate), level) for f in files]
        clean, spans = join(clips, rng, rate, (0.6, 1.6))
        start = int(rng.integers(0, len(noise) - len(clean))) if len(noise) > len(clean) else 0
        background = np.resize(noise[start:], len(clean))
        gain = np.sqrt(np.mean(clean.astype(np.float64) ** 2) / np.mean(background.astype(np.float64) ** 2)) / 10 ** (10 / 20)
        out.append({"name": speaker["name"], "clean": clean, "noisy": (clean + gain * background).astype(np.float32),
                    "spans": spans})
    return out


def speech_windows(stream: dict, starts: np.ndarray, window: int, hop: int) -> np.ndarray:
    """Which windows (by start) are speech in the clean recording (see the module docstring)."""
    from tonecue.edge.vad import window_level_db

    clean = stream["clean"]
    labels = np.zeros(len(starts), dtype=bool)
    for a, b in stream["spans"]:
        inside = [i for i, s in enumerate(starts) if s >= a - window // 10 and s + window <= b + window // 10]
        if not inside:
            continue
        levels = np.array([window_level_db(clean[starts[i] : starts[i] + window]) for i in inside])
        labels[np.array(inside)[levels >= levels.max() - 15.0]] = True
    return labels


def run(model_path: Path, seed: int, esc_repeats: int, synthetic_repeats: int, max_clips: int) -> dict:
    model = EmotionModel(model_path, threads=1)
    rate = model.contract.spec.sample_rate
    window = model.contract.spec.window_samples
    t0 = time.perf_counter()
    streams = nonspeech_streams(rate, seed, esc_repeats, synthetic_repeats)
    noise = np.concatenate([clip for _, clip in esc_fold(5, rate)])
    speakers = speaker_streams(rate, seed + 1, noise, max_clips)
    results: dict = {"model": str(model_path), "detector": model.contract.detector.to_dict(), "variants": {}}
    for variant, use_detector in (("speech detector", True), ("level gate only", False)):
        if use_detector and not model.contract.detector.enabled:
            continue
        rows, cpu, seconds = {}, 0.0, 0.0
        for name, signal in streams.items():
            heard = live_loop(model, signal, use_detector)
            hours = len(signal) / rate / 3600
            rows[name] = {"hours": hours, "vibrations_per_hour": heard["vibrations"] / hours,
                          "labels_per_hour": heard["labels_shown"] / hours, "vibrations": heard["vibrations"],
                          "labels_shown": heard["labels_shown"], "voiced_share": float(heard["voiced"].mean()),
                          "shown": heard["shown_labels"]}
            cpu += heard["cpu_seconds"]
            seconds += len(signal) / rate
        total_hours = sum(r["hours"] for r in rows.values())
        recall = {}
        for condition in ("clean", "noisy"):
            hit = total = 0
            per_speaker = {}
            for s in speakers:
                heard = live_loop(model, s[condition], use_detector)
                hop = int(np.diff(heard["starts"][:2])[0]) if len(heard["starts"]) > 1 else window
                truth = speech_windows(s, heard["starts"], window, hop)
                per_speaker[s["name"]] = float(heard["voiced"][truth].mean()) if truth.any() else None
                hit += int(heard["voiced"][truth].sum())
                total += int(truth.sum())
                cpu += heard["cpu_seconds"]
                seconds += len(s[condition]) / rate
            recall[condition] = {"recall": hit / total, "speech_windows": total, "per_speaker": per_speaker}
        results["variants"][variant] = {
            "nonspeech": rows,
            "nonspeech_total": {
                "hours": total_hours,
                "vibrations_per_hour": sum(r["vibrations"] for r in rows.values()) / total_hours,
                "labels_per_hour": sum(r["labels_shown"] for r in rows.values()) / total_hours,
            },
            "recall": recall,
            "real_time_factor": cpu / seconds,
        }
    results.update({
        "benchmark": "nonspeech",
        "machine": describe_machine(),
        "seed": seed,
        "held_out": [s["name"] for s in held_out_speakers()],
        "targets": TARGETS,
        "wall_seconds": time.perf_counter() - t0,
    })
    return results


def verdict(value: float, target: float, higher_is_better: bool = False) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "missed"


def to_markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# Non-speech benchmark: cues when nobody speaks, speech kept when someone does",
        "",
        f"Model `{Path(r['model']).name}`, detector `{r['detector']['kind']}` ({r['detector'].get('source') or '-'}; "
        f"rule {r['detector']['rule']} >= {r['detector']['threshold']}). Machine: {m['cpu']}, one "
        f"thread. Seed {r['seed']}. Held-out speakers: {', '.join(r['held_out'])}. "
        f"Wall time {r['wall_seconds']:.0f} s. Command: `python -m tonecue.benchmarks.nonspeech`.",
        "",
        "| variant | stream | hours | vibrations / hour | labels shown / hour | windows to the model |",
        "|---|---|---:|---:|---:|---:|",
    ]
    t = r["targets"]
    for variant, v in r["variants"].items():
        for name, row in v["nonspeech"].items():
            lines.append(f"| {variant} | {name} | {row['hours']:.2f} | {row['vibrations_per_hour']:.1f} | "
                         f"{row['labels_per_hour']:.1f} | {100 * row['voiced_share']:.1f} % |")
        tot = v["nonspeech_total"]
        lines.append(f"| **{variant}** | **all non-speech** | {tot['hours']:.2f} | **{tot['vibrations_per_hour']:.1f}** | "
                     f"**{tot['labels_per_hour']:.1f}** | |")
    lines += ["", "| variant | speech-window recall, clean | with ESC-10 fold 5 at 10 dB SNR | real-time factor |",
              "|---|---:|---:|---:|"]
    for variant, v in r["variants"].items():
        lines.append(f"| {variant} | {v['recall']['clean']['recall']:.3f} ({v['recall']['clean']['speech_windows']} windows) | "
                     f"{v['recall']['noisy']['recall']:.3f} | {v['real_time_factor']:.4f} |")
    lines += ["", "Against the targets:", ""]
    for variant, v in r["variants"].items():
        tot = v["nonspeech_total"]
        lines.append(
            f"- {variant}: vibrations {tot['vibrations_per_hour']:.2f}/h (target ≤ {t['vibrations_per_hour']}: "
            f"{verdict(tot['vibrations_per_hour'], t['vibrations_per_hour'])}), labels {tot['labels_per_hour']:.2f}/h "
            f"(≤ {t['labels_per_hour']}: {verdict(tot['labels_per_hour'], t['labels_per_hour'])}), recall clean "
            f"{v['recall']['clean']['recall']:.3f} (≥ {t['recall_clean']}: "
            f"{verdict(v['recall']['clean']['recall'], t['recall_clean'], True)}), at 10 dB SNR "
            f"{v['recall']['noisy']['recall']:.3f} (≥ {t['recall_noisy']}: "
            f"{verdict(v['recall']['noisy']['recall'], t['recall_noisy'], True)}), real-time factor "
            f"{v['real_time_factor']:.4f} (≤ {t['real_time_factor']}: {verdict(v['real_time_factor'], t['real_time_factor'])})."
        )
    lines += ["", "Per held-out speaker, recall with the detector (clean / 10 dB SNR):", ""]
    v = r["variants"].get("speech detector") or next(iter(r["variants"].values()))
    for name, clean in v["recall"]["clean"]["per_speaker"].items():
        noisy = v["recall"]["noisy"]["per_speaker"][name]
        lines.append(f"- {name}: {clean:.3f} / {noisy:.3f}")
    lines += ["", __doc__.split("\n\n", 2)[2].strip(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tonecue.benchmarks.nonspeech", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="an exported tonecue model (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--esc-repeats", type=int, default=6, help="times ESC-10 fold 5 is replayed at new levels (default 6)")
    parser.add_argument("--synthetic-repeats", type=int, default=24, help="rounds of every synthetic kind, 20 s each (default 24)")
    parser.add_argument("--clips", type=int, default=24, help="clips per held-out speaker (default 24)")
    parser.add_argument("--out", type=Path, help="also write PATH.md and PATH.json")
    args = parser.parse_args(argv)
    from tonecue.edge.errors import TonecueError, exit_status

    try:
        report = run(args.model, args.seed, args.esc_repeats, args.synthetic_repeats, args.clips)
    except TonecueError as exc:
        print(f"nonspeech: {exc}", file=sys.stderr)
        return exit_status(exc)
    text = to_markdown(report)
    print(text)
    write_report(args.out, text, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
