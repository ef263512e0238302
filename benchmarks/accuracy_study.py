"""Which paralinguistic recipe to ship (issue 11, item 2): clip-level UAR of three feature sets.

    python -m tonecue.benchmarks.accuracy_study [--data DIR] [--cache DIR] [--skip-context]

Data: ser-en-dev (RAVDESS, TESS, SAVEE) and crema-d, each indexed by
`tonecue.train.corpus.build_index`, four classes, one decision per clip. Features, one vector per clip:

- **stats**: today's `stats` input of `tonecue.edge.frontend` (22,050 Hz, the default spec),
  averaged over the clip's windows (22 frames apart, as training cuts them);
- **paraling**: `tonecue.edge.paraling` functionals over the whole clip (16 kHz);
- **egemaps**: openSMILE's eGeMAPSv02 functionals (16 kHz), the anchor.

Each with logistic regression and an RBF SVM (scikit-learn, standardised inputs, balanced class
weights, default C), each on raw features ("cold") and z-normalised per speaker over all of that
speaker's clips. Protocols:

- speaker-grouped 5-fold CV on the pooled data (`tonecue.train.evaluate.speaker_folds`);
- leave-one-corpus-out: train on three corpora, test on the fourth, mean UAR over the four;
- the gain guard (cold recipes): the same CV models scored on test clips played at a random gain
  of +-10 to 20 dB (seeded per clip), clipped at full scale;
- online normalisation: per test speaker, each clip normalised by the mean and standard deviation
  of N other clips of the speaker drawn at random (the clips "heard before it"), shrunk towards a
  prior from the training folds (the mean of the training speakers' means, the mean of their
  standard deviations) with the weight of PRIOR_CLIPS clips; UAR after N = 0, 5, 10, 20 clips,
  averaged over ONLINE_DRAWS draws. Scored for the speaker-z models and for an "online-matched"
  model, trained on every training clip normalised as the device would after 0 and 10 clips of
  its speaker and after all of them (three copies stacked), so that one model serves a voice from
  its first clip on;
- an ablation of the paralinguistic functionals by descriptor group (cold logistic regression);
- context length (paraling only): functionals over 1.16 s, 2 s and 3 s windows 0.5 s apart (each
  window a training example; a clip's decision is its windows' mean log-probability) against the
  whole clip.

Features are cached under ~/.cache/tonecue/accuracy-study (keyed by the clips and the source of
the code that computes them), so a re-run only refits (about 5 minutes here; about 17 from
scratch, 11 of them openSMILE and the stats frontend). One thread. Writes
benchmarks/results/accuracy-study.md and .json.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # thread caps must be set before numpy loads its BLAS
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from tonecue.edge import paraling  # noqa: E402
from tonecue.edge.audio import load_audio  # noqa: E402
from tonecue.edge.frontend import featurize_clip  # noqa: E402
from tonecue.edge.machine import describe_machine  # noqa: E402
from tonecue.edge.spec import FrontendSpec  # noqa: E402
from tonecue.train.corpus import build_index  # noqa: E402
from tonecue.train.evaluate import speaker_folds, unweighted_average_recall  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DEFAULT_DATA = Path(os.environ.get("TONECUE_DATA", HERE.parents[1] / "shared" / "data"))
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tonecue" / "accuracy-study"
CORPUS_FOLDERS = ("ser-en-dev", "crema-d")
STATS_HOP_FRAMES = 22  # tonecue-train's window hop (train/windows.py)
PARALING_RATE = 16000
GAIN_DB = (10.0, 20.0)
ONLINE_CLIPS = (0, 5, 10, 20)
ONLINE_DRAWS = 3
PRIOR_CLIPS = 3
MATCHED_CLIPS = (0, 10, None)
CONTEXTS = (("1.16 s", 1.16), ("2 s", 2.0), ("3 s", 3.0), ("whole clip", None))
CONTEXT_HOP_SECONDS = 0.5
FEATURE_SETS = ("stats", "paraling", "egemaps")
MODELS = ("logreg", "svm-rbf")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- clips and features ------------------------------------------------------------------------


def load_clips(data: Path):
    clips = []
    for folder in CORPUS_FOLDERS:
        index = build_index(data / folder)
        log(f"{folder}: {len(index.clips)} clips\n{index.format_table()}")
        clips.extend(index.clips)
    classes = index.label_map.classes
    return clips, classes


def clip_gain_db(clip) -> float:
    """The guard's gain for a clip: +-10..20 dB, seeded by the clip's name (same in every run)."""
    seed = int.from_bytes(hashlib.sha256(clip.path.name.encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    return float(rng.choice([-1.0, 1.0]) * rng.uniform(*GAIN_DB))


def with_gain(y: np.ndarray, gain_db: float) -> np.ndarray:
    return np.clip(y * np.float32(10 ** (gain_db / 20)), -1.0, 1.0).astype(np.float32)


class Extractors:
    """The three feature sets, built once."""

    def __init__(self):
        import opensmile

        self.spec = FrontendSpec()
        self.para = paraling.ParalinguisticFrontend(paraling.ParalingSettings(sample_rate=PARALING_RATE))
        self.smile = opensmile.Smile(
            feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals
        )
        self.egemaps_names = list(self.smile.feature_names)
        self.seconds = {name: 0.0 for name in FEATURE_SETS}

    def rates(self, name: str) -> int:
        return self.spec.sample_rate if name == "stats" else PARALING_RATE

    def __call__(self, name: str, y: np.ndarray):
        start = time.process_time()
        if name == "stats":
            result = featurize_clip(y, self.spec, "stats", STATS_HOP_FRAMES).mean(axis=0)
        elif name == "paraling":
            result = self.para.llds(y)
        else:
            result = self.smile.process_signal(y, PARALING_RATE).to_numpy()[0]
        self.seconds[name] += time.process_time() - start
        return result


def source_key(*objects) -> str:
    digest = hashlib.sha256()
    for obj in objects:
        digest.update(inspect.getsource(obj).encode())
    return digest.hexdigest()[:16]


def extract(clips, data: Path, cache: Path, names: list[str], extractors: Extractors) -> dict:
    """{(set, variant): features} for variants "clean" and "gain"; paraling's are LLD lists."""
    from tonecue.edge import dsp, frontend, resample

    clip_key = hashlib.sha256("\n".join(str(c.path.relative_to(data)) for c in clips).encode()).hexdigest()[:12]
    code = {
        "stats": source_key(frontend, dsp, resample) + FrontendSpec().to_json(),
        "paraling": source_key(paraling, dsp, resample) + extractors.para.settings.to_json(),
        "egemaps": "opensmile-eGeMAPSv02-" + source_key(resample),
    }
    cache.mkdir(parents=True, exist_ok=True)
    files = {
        name: cache / f"{name}-{clip_key}-{hashlib.sha256((code[name] + json.dumps(GAIN_DB)).encode()).hexdigest()[:12]}.npz"
        for name in names
    }
    results, todo = {"cost_ms_per_s": {}}, []
    for name in names:
        if files[name].exists():
            stored = np.load(files[name], allow_pickle=False)
            results["cost_ms_per_s"][name] = float(stored["ms_per_s"])
            for variant in ("clean", "gain"):
                if name == "paraling":
                    bounds = stored[f"{variant}_bounds"]
                    rows = stored[variant]
                    results[name, variant] = [rows[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
                else:
                    results[name, variant] = stored[variant]
            log(f"{name}: cached ({files[name].name})")
        else:
            todo.append(name)
    if not todo:
        return results
    log(f"extracting {', '.join(todo)} for {len(clips)} clips, clean and at the guard's gain")
    out = {(name, v): [] for name in todo for v in ("clean", "gain")}
    started = time.monotonic()
    audio_seconds = 0.0
    for i, clip in enumerate(clips):
        gain = clip_gain_db(clip)
        for rate in sorted({extractors.rates(name) for name in todo}):
            y = load_audio(clip.path, rate)
            if rate == PARALING_RATE:
                audio_seconds += len(y) / rate
            for variant, signal in (("clean", y), ("gain", with_gain(y, gain))):
                for name in todo:
                    if extractors.rates(name) == rate:
                        out[name, variant].append(extractors(name, signal))
        if (i + 1) % 250 == 0 or i + 1 == len(clips):
            elapsed = time.monotonic() - started
            log(f"  {i + 1}/{len(clips)} clips, {elapsed:.0f} s, about {elapsed / (i + 1) * (len(clips) - i - 1):.0f} s to go")
    for name in todo:
        arrays = {}
        for variant in ("clean", "gain"):
            values = out[name, variant]
            results[name, variant] = values if name == "paraling" else np.asarray(values, dtype=np.float32)
            if name == "paraling":
                arrays[variant] = np.concatenate(values)
                arrays[f"{variant}_bounds"] = np.cumsum([0] + [len(v) for v in values])
            else:
                arrays[variant] = results[name, variant]
        cost = extractors.seconds[name] / (2 * audio_seconds) * 1000
        results["cost_ms_per_s"][name] = cost
        np.savez(files[name], ms_per_s=cost, **arrays)
        log(f"{name}: {cost:.2f} ms CPU per second of audio")
    return results


# --- models and protocols ----------------------------------------------------------------------


def make_model(name: str):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if name == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, class_weight="balanced"))
    if name == "svm-rbf":
        return make_pipeline(StandardScaler(), SVC(kernel="rbf", gamma="scale", class_weight="balanced"))
    raise ValueError(name)


def speaker_z(X: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Each speaker's rows standardised with that speaker's own mean and standard deviation."""
    Z = np.empty_like(X, dtype=np.float64)
    for s in np.unique(speakers):
        rows = speakers == s
        mean = X[rows].mean(axis=0)
        std = X[rows].std(axis=0)
        Z[rows] = (X[rows] - mean) / np.where(std > 1e-12, std, 1.0)
    return Z


def speaker_moments(X: np.ndarray, speakers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The prior of online normalisation: mean of the speakers' means and of their std's."""
    means, stds = [], []
    for s in np.unique(speakers):
        means.append(X[speakers == s].mean(axis=0))
        stds.append(X[speakers == s].std(axis=0))
    return np.mean(means, axis=0), np.mean(stds, axis=0)


def online_normalized(X, speakers, n_heard, prior_mean, prior_std, rng) -> np.ndarray:
    """Each row normalised by running statistics over n_heard other clips of its speaker (drawn
    at random), shrunk towards the prior with the weight of PRIOR_CLIPS clips."""
    Z = np.empty_like(X, dtype=np.float64)
    k = PRIOR_CLIPS
    for s in np.unique(speakers):
        rows = np.flatnonzero(speakers == s)
        for r in rows:
            others = rows[rows != r]
            heard = X[rng.choice(others, size=min(n_heard, len(others)), replace=False)] if n_heard else X[:0]
            n = len(heard)
            mean = (k * prior_mean + heard.sum(axis=0)) / (k + n)
            var = (k * prior_std**2 + ((heard - mean) ** 2).sum(axis=0)) / (k + n)
            Z[r] = (X[r] - mean) / np.sqrt(np.maximum(var, 1e-24))
    return Z


def uar(y_true, y_pred) -> float:
    return unweighted_average_recall(y_true, y_pred)


def per_corpus(y, pred, corpora) -> dict[str, float]:
    return {c: round(uar(y[corpora == c], pred[corpora == c]), 4) for c in sorted(set(corpora))}


def matched_training(X, speakers, prior_mean, prior_std, rng) -> np.ndarray:
    """The online-matched model's training rows: every clip normalised as the device would after
    each of MATCHED_CLIPS clips of its speaker (None: all of them), stacked."""
    return np.concatenate([
        speaker_z(X, speakers) if n is None else online_normalized(X, speakers, n, prior_mean, prior_std, rng)
        for n in MATCHED_CLIPS
    ])


def evaluate_set(name, X, X_gain, y, speakers, corpora, folds, rng_seed=0) -> dict:
    """Every protocol for one feature set (rows of X are clips)."""
    X = np.nan_to_num(np.asarray(X, dtype=np.float64))
    X_gain = np.nan_to_num(np.asarray(X_gain, dtype=np.float64))
    Z = speaker_z(X, speakers)
    result = {}

    def fit(model_name, norm, train, rng):
        if norm == "raw":
            return make_model(model_name).fit(X[train], y[train]), None
        prior = speaker_moments(X[train], speakers[train])
        if norm == "speaker-z":
            return make_model(model_name).fit(Z[train], y[train]), prior
        rows = matched_training(X[train], speakers[train], *prior, rng)
        return make_model(model_name).fit(rows, np.tile(y[train], len(MATCHED_CLIPS))), prior

    def online_uar(model, test, prior, rng, source=X) -> dict[str, list]:
        """Predictions after N clips heard, for each N (ONLINE_DRAWS draws where N > 0)."""
        return {
            n: [model.predict(online_normalized(source[test], speakers[test], n, *prior, rng)) for _ in range(ONLINE_DRAWS if n else 1)]
            for n in ONLINE_CLIPS
        }

    for model_name in MODELS:
        row = {}
        for norm in ("raw", "speaker-z", "online-matched"):
            rng = np.random.default_rng(rng_seed)
            pred = np.empty(len(y), dtype=np.int64)
            pred_gain = np.empty(len(y), dtype=np.int64)
            online = {n: [] for n in ONLINE_CLIPS}
            order = []
            for train, test in folds:
                model, prior = fit(model_name, norm, train, rng)
                pred[test] = model.predict(X[test] if norm == "raw" else Z[test])
                if norm == "raw":
                    pred_gain[test] = model.predict(X_gain[test])
                    continue
                for n, draws in online_uar(model, test, prior, rng).items():
                    online[n].append(np.stack(draws))
                order.append(test)
                if norm == "online-matched":
                    pred_gain[test] = model.predict(online_normalized(X_gain[test], speakers[test], 0, *prior, rng))
            entry = {"cv": round(uar(y, pred), 4), "cv_per_corpus": per_corpus(y, pred, corpora)}
            if norm != "speaker-z":
                entry["cv_gain"] = round(uar(y, pred_gain), 4)
            if norm != "raw":
                truth = y[np.concatenate(order)]
                entry["online"] = {
                    str(n): round(float(np.mean([uar(truth, d) for d in np.concatenate(online[n], axis=1)])), 4)
                    for n in ONLINE_CLIPS
                }
            loco, loco_cold = {}, {}
            for held in sorted(set(corpora)):
                train, test = np.flatnonzero(corpora != held), np.flatnonzero(corpora == held)
                model, prior = fit(model_name, norm, train, rng)
                loco[held] = round(uar(y[test], model.predict(X[test] if norm == "raw" else Z[test])), 4)
                if norm == "online-matched":
                    cold = model.predict(online_normalized(X[test], speakers[test], 0, *prior, rng))
                    loco_cold[held] = round(uar(y[test], cold), 4)
            entry["loco"] = loco
            entry["loco_mean"] = round(float(np.mean(list(loco.values()))), 4)
            if loco_cold:
                entry["loco_cold"] = loco_cold
                entry["loco_cold_mean"] = round(float(np.mean(list(loco_cold.values()))), 4)
            row[norm] = entry
            summary = f"  {name} {model_name} {norm}: CV {entry['cv']:.3f}"
            if "cv_gain" in entry:
                summary += f", gain {entry['cv_gain']:.3f}"
            if "online" in entry:
                summary += ", online " + " / ".join(f"{v:.3f}" for v in entry["online"].values())
            summary += f", LOCO {entry['loco_mean']:.3f}" + (f" (cold {entry['loco_cold_mean']:.3f})" if loco_cold else "")
            log(summary)
        result[model_name] = row
    return result


def ablation(X, y, corpora, folds, names) -> dict:
    """Cold logistic regression without each group of paralinguistic functionals."""
    groups = {
        "F0": ("f0_",), "loudness": ("loudness",), "voice quality": ("jitter", "shimmer", "hnr", "periodicity"),
        "formants": ("f1_", "f2_", "f3_"), "spectral shape": ("slope", "alpha", "hammarberg", "spectral_flux"),
        "MFCC 1-4": ("mfcc",), "voiced segments": ("voiced_", "unvoiced_"),
    }
    X = np.nan_to_num(np.asarray(X, dtype=np.float64))

    def score(columns) -> dict:
        F = X[:, columns]
        pred = np.empty(len(y), dtype=np.int64)
        for train, test in folds:
            pred[test] = make_model("logreg").fit(F[train], y[train]).predict(F[test])
        loco = []
        for held in sorted(set(corpora)):
            train, test = np.flatnonzero(corpora != held), np.flatnonzero(corpora == held)
            loco.append(uar(y[test], make_model("logreg").fit(F[train], y[train]).predict(F[test])))
        return {"n": len(columns), "cv": round(uar(y, pred), 4), "loco_mean": round(float(np.mean(loco)), 4)}

    every = list(range(len(names)))
    result = {"all": score(every)}
    for group, prefixes in groups.items():
        result[f"without {group}"] = score([i for i in every if not names[i].startswith(prefixes)])
    log("  ablation: " + ", ".join(f"{k} {v['cv']:.3f}/{v['loco_mean']:.3f}" for k, v in result.items()))
    return result


def context_study(llds_list, y, speakers, corpora, folds, frontend) -> dict:
    """Paraling functionals over windows of each context length against the whole clip."""
    s = frontend.settings
    hop = int(round(CONTEXT_HOP_SECONDS * s.frame_rate))
    voiced_col = frontend.feature_names().index("voiced_share")
    result = {}
    for label, seconds in CONTEXTS:
        rows, owner = [], []
        for c, llds in enumerate(llds_list):
            if seconds is None:
                spans = [(0, len(llds))]
            else:
                width = int(round(seconds * s.frame_rate))
                spans = [(a, a + width) for a in range(0, max(len(llds) - width, 0) + 1, hop)]
            feats = [frontend.functionals_of(llds[a:b]) for a, b in spans]
            # The device's gate drops windows without voice; a clip keeps at least its most voiced.
            keep = [f for f in feats if f[voiced_col] >= 0.1] or [max(feats, key=lambda f: f[voiced_col])]
            rows.extend(keep)
            owner.extend([c] * len(keep))
        W = np.nan_to_num(np.asarray(rows, dtype=np.float64))
        owner = np.asarray(owner)
        entry = {"windows": len(W)}
        for norm in ("raw", "speaker-z"):
            F = W if norm == "raw" else speaker_z(W, speakers[owner])
            pred = np.empty(len(y), dtype=np.int64)
            for train, test in folds:
                train_rows = np.isin(owner, train)
                model = make_model("logreg").fit(F[train_rows], y[owner[train_rows]])
                test_rows = np.flatnonzero(np.isin(owner, test))
                logp = model.predict_log_proba(F[test_rows])
                sums = np.zeros((len(y), logp.shape[1]))
                np.add.at(sums, owner[test_rows], logp)
                pred[test] = np.argmax(sums[test], axis=1)
            entry[norm] = {"cv": round(uar(y, pred), 4), "cv_per_corpus": per_corpus(y, pred, corpora)}
        log(f"  context {label}: {len(W)} windows, logreg CV raw {entry['raw']['cv']:.3f}, speaker-z {entry['speaker-z']['cv']:.3f}")
        result[label] = entry
    return result


def measure_cost(frontend, clips, seconds: float = 30.0, repeats: int = 5) -> dict:
    """CPU ms per second of audio of the paralinguistic frontend on real speech: descriptors of a
    whole signal, and a stream pushed 0.5 s at a time with functionals after each push (as a
    device would hop). The best of `repeats` runs: other processes only ever add time."""
    rate = frontend.settings.sample_rate
    parts, total = [], 0.0
    for clip in clips[:: max(1, len(clips) // 40)]:
        parts.append(load_audio(clip.path, rate))
        total += len(parts[-1]) / rate
        if total >= seconds:
            break
    y = np.concatenate(parts)
    duration = len(y) / rate
    hop = int(CONTEXT_HOP_SECONDS * rate)

    def best(run) -> float:
        times = []
        for _ in range(repeats):
            start = time.process_time()
            run()
            times.append(time.process_time() - start)
        return min(times) * 1000 / duration

    def stream() -> None:
        s = paraling.ParalinguisticStream(frontend)
        for a in range(0, len(y), hop):
            s.push(y[a : a + hop])
            s.functionals()

    return {
        "audio_seconds": round(duration, 1),
        "llds_ms_per_s": round(best(lambda: frontend.llds(y)), 3),
        "stream_with_functionals_every_0.5s_ms_per_s": round(best(stream), 3),
    }


# --- report ----------------------------------------------------------------------------------


def recommendation(report: dict) -> list[str]:
    """The picks that the numbers support, by fixed rules (stated in the text)."""
    results = report["results"]
    cold = []
    for name, models in results.items():
        for model, norms in models.items():
            cold.append((norms["raw"]["cv"], norms["raw"]["cv_gain"], name, model, "raw"))
            matched = norms["online-matched"]
            cold.append((matched["online"]["0"], matched["cv_gain"], name, model, "online-matched at N = 0"))
    robust = [c for c in cold if c[0] - c[1] <= 0.03]
    best_cold = max(robust) if robust else None
    adapted = max(
        (norms["online-matched"]["online"]["20"], name, model) for name, models in results.items() for model, norms in models.items()
    )
    lines = ["", "## What the numbers support", ""]
    if best_cold:
        cv, gain, name, model, how = best_cold
        lines.append(
            f"- **Cold** (no adaptation; the best CV whose gain guard stays within 3 points): {name} {model} {how}, "
            f"CV {cv:.3f}, {gain:.3f} with random gain."
        )
    else:
        lines.append("- **Cold**: no recipe keeps its CV within 3 points under random gain.")
    uar20, name, model = adapted
    e = results[name][model]["online-matched"]
    o = e["online"]
    lines.append(
        f"- **Adapted** (the best online-matched model after 20 clips of a voice): {name} {model}: "
        f"{o['0']:.3f} cold, {o['5']:.3f} / {o['10']:.3f} / {o['20']:.3f} after 5 / 10 / 20 clips, "
        f"{e['cv']:.3f} over all of a speaker's clips; LOCO {e['loco_mean']:.3f} adapted, {e['loco_cold_mean']:.3f} cold."
    )
    if "context" in report:
        best = max(e["raw"]["cv"] for e in report["context"].values())
        shortest = next(label for label, e in report["context"].items() if e["raw"]["cv"] >= best - 0.01)
        lines.append(f"- **Context**: the shortest within a point of the best cold CV is {shortest} "
                     f"({report['context'][shortest]['raw']['cv']:.3f} against {best:.3f}).")
    return lines


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Accuracy study: which paralinguistic recipe to ship",
        "",
        "Written by `python -m tonecue.benchmarks.accuracy_study` (issue 11, item 2); methods in its docstring.",
        f"Clip-level UAR over four classes (chance 0.25), {report['n_clips']} clips of {report['n_speakers']} speakers:",
        "ser-en-dev (RAVDESS, TESS, SAVEE) and crema-d. Machine: "
        f"{m['cpu']}, one thread, Python {m['python']}, numpy {m['numpy']}; load average during the run",
        f"{report['load_average']:.1f} on {m['cores']} cores (other work shared the machine: costs are upper bounds).",
        *recommendation(report),
        "",
        "## Tables",
        "",
        "**CV**: speaker-grouped 5-fold. **gain**: the same models on test clips at a random +-10-20 dB gain,",
        "clipped at full scale (cold recipes). **LOCO**: leave-one-corpus-out, mean and per corpus",
        "(crema / ravdess / savee / tess). **online N**: each test clip normalised by the statistics of N",
        f"other clips of its speaker, shrunk to a training prior worth {PRIOR_CLIPS} clips (mean of {ONLINE_DRAWS} draws).",
        "**speaker-z** normalises over all of a speaker's clips, which these balanced corpora make optimistic.",
        "",
        "| features | model | normalisation | CV | gain | LOCO mean | LOCO c / r / s / t | online 0 | 5 | 10 | 20 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in FEATURE_SETS:
        for model in MODELS:
            for norm in ("raw", "speaker-z"):
                e = report["results"][name][model][norm]
                loco = " / ".join(f"{e['loco'][c]:.2f}" for c in sorted(e["loco"]))
                online = e.get("online", {})
                cells = [f"{online[str(n)]:.3f}" if online else "–" for n in ONLINE_CLIPS]
                gain = f"{e['cv_gain']:.3f}" if "cv_gain" in e else "–"
                lines.append(
                    f"| {name} ({report['dims'][name]}) | {model} | {norm} | {e['cv']:.3f} | {gain} | "
                    f"{e['loco_mean']:.3f} | {loco} | " + " | ".join(cells) + " |"
                )
    lines += [
        "",
        "**One model, cold and adapted** (online-matched): trained on every training clip normalised as the",
        f"device would after {', '.join('all' if n is None else str(n) for n in MATCHED_CLIPS)} clips of its speaker, stacked; scored as above after N",
        "clips heard, and over all the speaker's clips. LOCO cold: N = 0; LOCO all: all the speaker's clips.",
        "",
        "| features | model | cold (N = 0) | gain (N = 0) | 5 | 10 | 20 | all clips | LOCO cold | LOCO all |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in FEATURE_SETS:
        for model in MODELS:
            e = report["results"][name][model]["online-matched"]
            o = e["online"]
            lines.append(
                f"| {name} | {model} | {o['0']:.3f} | {e['cv_gain']:.3f} | {o['5']:.3f} | {o['10']:.3f} | {o['20']:.3f} | "
                f"{e['cv']:.3f} | {e['loco_cold_mean']:.3f} | {e['loco_mean']:.3f} |"
            )
    lines += ["", "Per corpus, speaker-grouped CV, RBF SVM (raw / speaker-z):", "",
              "| features | crema | ravdess | savee | tess |", "|---|---|---|---|---|"]
    for name in FEATURE_SETS:
        e = report["results"][name]["svm-rbf"]
        cells = [f"{e['raw']['cv_per_corpus'][c]:.2f} / {e['speaker-z']['cv_per_corpus'][c]:.2f}" for c in sorted(e["raw"]["cv_per_corpus"])]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if "ablation" in report:
        lines += ["", "Which paralinguistic descriptors the cold recipe leans on (logistic regression, raw):", "",
                  "| functionals | count | CV | LOCO mean |", "|---|---|---|---|"]
        lines += [f"| {k} | {v['n']} | {v['cv']:.3f} | {v['loco_mean']:.3f} |" for k, v in report["ablation"].items()]
    if "context" in report:
        lines += ["", f"Context length (paraling functionals, logistic regression, speaker-grouped CV; windows {CONTEXT_HOP_SECONDS} s",
                  "apart, windows with under 10 % voiced frames dropped as the device's gate would, a clip decides",
                  "by its windows' summed log-probabilities):", "",
                  "| context | windows | raw | speaker-z |", "|---|---|---|---|"]
        for label, e in report["context"].items():
            lines.append(f"| {label} | {e['windows']} | {e['raw']['cv']:.3f} | {e['speaker-z']['cv']:.3f} |")
    if "paraling_cost" in report:
        c = report["paraling_cost"]
        lines += ["", f"Cost of the paralinguistic frontend, best of 5 on {c['audio_seconds']} s of real speech at 16 kHz, one thread",
                  f"(CPU ms per second of audio): descriptors {c['llds_ms_per_s']:.2f}; a stream pushed 0.5 s at a time with",
                  f"functionals over its context after every push {c['stream_with_functionals_every_0.5s_ms_per_s']:.2f}."]
    if report.get("cost_ms_per_s"):
        lines += ["", "Extraction in this study (CPU ms per second of audio, including audio already resampled):", ""]
        lines += [f"- {k}: {v:.2f} ms/s" for k, v in report["cost_ms_per_s"].items()]
    lines += ["", f"Run time: {report['wall_seconds'] / 60:.1f} min (features from the cache where present).", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--only", choices=FEATURE_SETS, action="append", help="extract (and score) only these sets")
    parser.add_argument("--skip-context", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "accuracy-study")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    started = time.monotonic()
    clips, classes = load_clips(args.data)
    names = args.only or list(FEATURE_SETS)
    extractors = Extractors()
    feats = extract(clips, args.data, args.cache, names, extractors)
    y = np.array([classes.index(c.label) for c in clips])
    speakers = np.array([c.speaker for c in clips])
    corpora = np.array([c.corpus for c in clips])
    folds = speaker_folds(speakers, 5, 0, corpora)
    report = {
        "classes": list(classes), "n_clips": len(clips), "n_speakers": len(set(speakers)),
        "machine": describe_machine(),
        "settings": {"paraling": extractors.para.settings.to_dict(), "gain_db": GAIN_DB,
                     "online_clips": ONLINE_CLIPS, "online_draws": ONLINE_DRAWS, "prior_clips": PRIOR_CLIPS},
        "results": {}, "dims": {},
    }
    if "cost_ms_per_s" in feats:
        report["cost_ms_per_s"] = feats.pop("cost_ms_per_s")
    for name in names:
        clean, gain = feats[name, "clean"], feats[name, "gain"]
        if name == "paraling":
            clean = np.stack([extractors.para.functionals_of(l) for l in clean])
            gain = np.stack([extractors.para.functionals_of(l) for l in gain])
        report["dims"][name] = clean.shape[1]
        log(f"scoring {name} ({clean.shape[1]} features)")
        report["results"][name] = evaluate_set(name, clean, gain, y, speakers, corpora, folds)
    if "paraling" in names:
        log("ablation of paraling's descriptor groups (cold logistic regression)")
        functionals = np.stack([extractors.para.functionals_of(l) for l in feats["paraling", "clean"]])
        report["ablation"] = ablation(functionals, y, corpora, folds, extractors.para.feature_names())
        report["paraling_cost"] = measure_cost(extractors.para, clips)
        log(f"paraling cost: {report['paraling_cost']}")
    if "paraling" in names and not args.skip_context:
        log("context length")
        report["context"] = context_study(feats["paraling", "clean"], y, speakers, corpora, folds, extractors.para)
    report["wall_seconds"] = time.monotonic() - started
    report["load_average"] = os.getloadavg()[1]
    if set(names) == set(FEATURE_SETS):
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(markdown(report))
        log(f"wrote {args.out.with_suffix('.md')} and .json")
    else:
        print(json.dumps(report["results"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
