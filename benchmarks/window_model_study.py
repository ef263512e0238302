"""Which classifier, and which functionals beyond the 67 paralinguistic ones, on the shipped model's
own windows (issue 11): clip-level UAR, speaker-grouped, as the device normalizes.

    python -m tonecue.benchmarks.window_model_study --features paraling+seq --models svm,hgb

Windows: the shipped recipe's (ser-en-dev + crema-d without the speakers of benchmarks/heldout.json,
16 kHz, 2 s windows, Silero-gated; `tonecue.train.windows.extract_windows`, from the feature cache
a training run fills) and its first augmented copy (`tonecue.train.augment.Augmenter`, ESC-10 folds
1-3). Feature sets, one row per window:

- **paraling**: the 67 functionals of `tonecue.edge.paraling` (what ships);
- **paraling+seq**: those and 320 functionals over the frames of the window's `sequence` input
  (20 MFCCs and 20 log-mel bands per frame): mean, standard deviation, percentiles 20/50/80, their
  range, the linear slope and the mean absolute frame-to-frame change of each;
- **paraling+seqms**: those and only the mean and standard deviation of each (80);
- **paraling+seq+upper**: paraling+seq and the six upper-half functionals of each log-mel band
  (`tonecue.edge.frontend.upper_functionals`): the shipped `paraling-mfcc-upper` input (507);
- **egemaps**, **compare**: openSMILE's eGeMAPSv02 (88) and ComParE_2016 (6,373) functionals over
  each window's own audio (re-cut from its clip, the copy's augmentation redone with its seed, and
  scaled to the spec's level as the frontend scales it): the anchors, train side only, never a
  device input. About 18 ms of CPU per second of audio for ComParE; cached under
  ~/.cache/tonecue/window-model-study, computed with both cores.

Training side, close to what `tonecue-train --normalize speaker --augment 1` builds: each training
speaker standardized by its own statistics, the same windows standardized by the prior alone (the
"cold" copy), and the augmented copy as a speaker of its own. Two differences from the run's
`_normalize_split`: here the prior comes from the clean training windows only and the augmented
copy gets no cold copy. Test side: "online" (the device's running estimate,
`tonecue.train.run.online_normalized`), "cold" (the prior alone) and "full" (the speaker's own
statistics: optimistic). Speaker-grouped 5-fold CV on the project's folds; a clip's
decision is its windows' mean probability. Models (scikit-learn, fixed settings, nothing tuned on
the test folds): RBF SVM (C 1, the shipped kind), the same after a PCA to 67 dimensions fitted on
the training side ("svm-pca67": support vectors as small as today's), histogram gradient
boosting, logistic regression, an MLP. For the SVM the weight of its support vectors (support
vectors x inputs x 4 bytes; an ONNX file is about twice that) is reported: it is what keeps a
wider input off the device.

Results accumulate in benchmarks/results/window-model-study.json (a run replaces the rows it
computes) and .md. One thread; about 3 minutes per fold for the SVM on 387 inputs here.
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from tonecue.edge.frontend import frame_functionals, upper_functionals  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("TONECUE_DATA", HERE.parents[1] / "shared" / "data"))
RESULTS = HERE / "results" / "window-model-study"
FEATURES = ("paraling", "paraling+seq", "paraling+seqms", "paraling+seq+upper", "egemaps", "compare")
OPENSMILE_SETS = {"egemaps": "eGeMAPSv02", "compare": "ComParE_2016"}
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tonecue" / "window-model-study"
MODELS = ("svm", "svm-pca67", "hgb", "lr", "mlp")
VARIANTS = ("online", "cold", "full")


def windows(data: Path):
    """(clean windows, augmented copy 1) of the shipped recipe, with the paraling and sequence inputs."""
    from tonecue.edge.spec import FrontendSpec
    from tonecue.edge.speech import DetectorSettings
    from tonecue.train.augment import Augmenter
    from tonecue.train.cli import read_speaker_list
    from tonecue.train.corpus import LabelMap, build_index_of, without_speakers
    from tonecue.train.noise import TRAIN_FOLDS, NoiseBank
    from tonecue.train.windows import extract_windows

    index = build_index_of([data / "ser-en-dev", data / "crema-d"], LabelMap(calm_as_neutral=False))
    index, _ = without_speakers(index, read_speaker_list(HERE / "heldout.json"))
    kw = dict(spec=FrontendSpec.at_rate(16000, window_seconds=2, level_dbfs=-25), kinds=("paraling", "sequence"),
              detector=DetectorSettings(), workers=1, progress=False)
    augmenter = Augmenter(NoiseBank(data / "noise" / "esc10", TRAIN_FOLDS))
    clean, copy = extract_windows(index, **kw), extract_windows(index, transform=augmenter, variant=1, **kw)
    clean.transform, copy.transform = None, augmenter  # what opensmile_features redoes to cut their audio
    copy.variant = 1
    return clean, copy


_WORKER: dict = {}


def _opensmile_worker(spec, transform, variant: int, feature_set: str) -> None:
    """A worker's share of `opensmile_features`: what every clip needs, passed once."""
    import opensmile

    _WORKER.update(spec=spec, transform=transform, variant=variant, smile=opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, feature_set), feature_level=opensmile.FeatureLevel.Functionals))


def window_audio(path: str, starts: list[int], spec, transform=None, variant: int = 0,
                 scaled: bool = True) -> list[np.ndarray]:
    """The audio of a clip's windows at `starts`, as `extract_windows` cut them (a copy's
    augmentation redone with the seed it gave that copy); scaled: each brought to the spec's level,
    as the frontend scales every window it featurizes."""
    from tonecue.edge.audio import load_audio
    from tonecue.edge.frontend import _gain_to, clip_windows
    from tonecue.train.windows import _hash_file, _transform_seed

    signal = load_audio(path, spec.sample_rate, dtype=np.dtype(spec.dtype))
    if transform is not None:
        seed = _transform_seed(_hash_file(path), variant)
        signal = np.asarray(transform(signal, spec.sample_rate, seed), dtype=np.dtype(spec.dtype))
    by_start = dict(zip(*clip_windows(signal, spec, 1)))
    windows = [by_start[start].astype(np.float32) for start in starts]
    if scaled and spec.level_dbfs is not None:
        windows = [w * np.float32(_gain_to(w, spec.level_dbfs)) for w in windows]
    return windows


def _opensmile_clip(job: tuple[str, list[int]]) -> np.ndarray:
    """openSMILE functionals of one clip's kept windows."""
    path, starts = job
    spec = _WORKER["spec"]
    windows = window_audio(path, starts, spec, _WORKER["transform"], _WORKER["variant"])
    return np.asarray([_WORKER["smile"].process_signal(w, spec.sample_rate).to_numpy()[0] for w in windows],
                      dtype=np.float32)


def opensmile_features(ws, name: str) -> np.ndarray:
    """openSMILE's `name` functionals ("egemaps" or "compare") of every window of `ws`, cached."""
    import hashlib
    from multiprocessing import get_context

    import opensmile

    transform, variant = getattr(ws, "transform", None), getattr(ws, "variant", 0)
    material = json.dumps([opensmile.__version__, OPENSMILE_SETS[name], ws.spec.to_json(), variant,
                           transform.describe() if transform is not None else None,
                           [str(c.path) for c in ws.clips], ws.starts.tolist(), ws.clip_ids.tolist()], default=str)
    path = CACHE / f"{name}-{hashlib.sha256(material.encode()).hexdigest()[:16]}.npy"
    if path.is_file():
        return np.load(path)
    jobs = [(str(clip.path), ws.starts[ws.clip_ids == i].tolist()) for i, clip in enumerate(ws.clips)]
    t0 = time.perf_counter()
    with get_context("spawn").Pool(os.cpu_count() or 1, _opensmile_worker,
                                   (ws.spec, transform, variant, OPENSMILE_SETS[name])) as pool:
        rows = np.concatenate(pool.map(_opensmile_clip, jobs, chunksize=16))
    print(f"{name}: {len(rows)} windows in {time.perf_counter() - t0:.0f} s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, rows)
    return rows


def features(ws, name: str) -> np.ndarray:
    if name in OPENSMILE_SETS:
        return np.nan_to_num(opensmile_features(ws, name).astype(np.float64))
    parts = [ws.features["paraling"].astype(np.float64)]
    frames = ws.features["sequence"].astype(np.float64)
    if name in ("paraling+seq", "paraling+seq+upper"):
        # The device's own "paraling-mfcc" functionals (tonecue.edge.frontend), window by window.
        parts.append(np.stack([frame_functionals(f) for f in frames]))
    if name == "paraling+seq+upper":  # and what "paraling-mfcc-upper" adds: the log-mel bands' upper half
        parts.append(np.stack([upper_functionals(f[:, ws.spec.image_n_mfcc:]) for f in frames]))
    if name == "paraling+seqms":
        parts.append(np.concatenate([frames.mean(1), frames.std(1)], axis=1))
    return np.concatenate(parts, axis=1)


def classifier(name: str):
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return {
        "svm": lambda: make_pipeline(StandardScaler(), SVC(kernel="rbf", C=1.0, probability=True, random_state=0)),
        # The wider input projected back to as many dimensions as the shipped SVM reads (PCA fitted
        # on the training side), so that its support vectors weigh what today's do.
        "svm-pca67": lambda: make_pipeline(StandardScaler(), PCA(67, random_state=0), StandardScaler(),
                                           SVC(kernel="rbf", C=1.0, probability=True, random_state=0)),
        "hgb": lambda: HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=0),
        "lr": lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000)),
        "mlp": lambda: make_pipeline(StandardScaler(), MLPClassifier((256, 128), alpha=1e-2, early_stopping=True,
                                                                     max_iter=300, random_state=0)),
    }[name]()


def study(ws, aug, feature_set: str, models: list[str]) -> dict:
    from tonecue.edge.normalize import NormalizationSettings, cold_normalize, normalize_per_speaker, speaker_statistics
    from tonecue.train import evaluate as ev
    from tonecue.train.run import online_normalized

    X, A = features(ws, feature_set), features(aug, feature_set)
    table = ev.clip_table(ws)
    clean_id = {str(c.path): i for i, c in enumerate(ws.clips)}
    aug_clip = np.array([clean_id.get(str(aug.clips[c].path), -1) for c in aug.clip_ids])
    proba = {m: {v: np.zeros((len(ws), len(ws.classes))) for v in VARIANTS} for m in models}
    sizes = {m: [] for m in models}
    seconds = {m: 0.0 for m in models}
    for f, (train, test) in enumerate(ev.speaker_folds(table.speakers, 5, 0, table.corpora)):
        tr, te = np.flatnonzero(np.isin(ws.clip_ids, train)), np.flatnonzero(np.isin(ws.clip_ids, test))
        mean, std = speaker_statistics(X[tr], ws.speakers[tr])
        prior = NormalizationSettings(kind="speaker", mean=tuple(mean), std=tuple(std))
        copy = np.flatnonzero(np.isin(aug_clip, train))
        X_fit = np.vstack([normalize_per_speaker(X[tr], ws.speakers[tr]), cold_normalize(X[tr], prior),
                           normalize_per_speaker(A[copy], np.char.add(aug.speakers[copy].astype(str), "#copy"))])
        y_fit = np.concatenate([ws.labels[tr], ws.labels[tr], aug.labels[copy]])
        tests = {"online": online_normalized(ws, X, te, prior, f), "cold": cold_normalize(X[te], prior),
                 "full": normalize_per_speaker(X[te], ws.speakers[te])}
        for m in models:
            t0 = time.perf_counter()
            model = classifier(m).fit(X_fit, y_fit)
            for v, X_test in tests.items():
                proba[m][v][te] = model.predict_proba(X_test)
            seconds[m] += time.perf_counter() - t0
            if m.startswith("svm"):
                sizes[m].append(int(model[-1].support_vectors_.shape[0]))
            print(f"{feature_set} {m} fold {f + 1}/5: {time.perf_counter() - t0:.0f} s", flush=True)

    first = {c: i for i, c in reversed(list(enumerate(ws.clip_ids)))}

    def uar(p: np.ndarray) -> float:
        clips, mean_p = ev.clip_probabilities(p, ws.clip_ids)
        return round(ev.unweighted_average_recall(np.array([ws.labels[first[c]] for c in clips]), mean_p.argmax(1)), 4)

    rows = {}
    for m in models:
        row = {"inputs": int(X.shape[1]), **{v: uar(proba[m][v]) for v in VARIANTS}, "fit_seconds": round(seconds[m], 1)}
        if sizes[m]:
            row["support_vectors"] = int(np.mean(sizes[m]))
            inputs = 67 if m == "svm-pca67" else X.shape[1]
            row["svm_weights_mb"] = round(np.mean(sizes[m]) * inputs * 4 / 1e6, 1)
        rows[f"{feature_set} / {m}"] = row
    return rows


def markdown(results: dict) -> str:
    lines = ["# Classifiers and functionals on the shipped model's windows", "",
             "Speaker-grouped 5-fold clip UAR (`python -m tonecue.benchmarks.window_model_study`; the module "
             "docstring says how). *online*: the device's running normalization; *cold*: the prior alone; "
             "*full*: each speaker's own statistics (optimistic). *paraling+seq+upper* is the shipped input; "
             "*egemaps* and *compare* are openSMILE's functionals over the same windows, the anchors (train side "
             "only, never a device input). A row compares with the rows of the same model: the shipped model is "
             "a kernel logistic regression, whose own figures on this protocol are in the model card.", "",
             "| features / model | inputs | online | cold | full | SVM support vectors | their weights (support vectors x inputs x 4 bytes; an ONNX file is about twice) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in results["rows"].items():
        lines.append(f"| {name} | {r['inputs']} | {r['online']:.3f} | {r['cold']:.3f} | {r['full']:.3f} | "
                     f"{r.get('support_vectors', '')} | {str(r['svm_weights_mb']) + ' MB' if 'svm_weights_mb' in r else ''} |")
    return "\n".join(lines + [""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tonecue.benchmarks.window_model_study", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--features", default=",".join(FEATURES), help=f"comma-separated, of {', '.join(FEATURES)}")
    parser.add_argument("--models", default="svm,hgb", help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    feature_sets, models = args.features.split(","), args.models.split(",")
    unknown = [x for x in feature_sets if x not in FEATURES] + [x for x in models if x not in MODELS]
    if unknown:
        parser.error(f"unknown feature set or model: {', '.join(unknown)}")
    ws, aug = windows(args.data)
    path = args.out.with_suffix(".json")
    results = json.loads(path.read_text()) if path.is_file() else {"rows": {}}
    for feature_set in feature_sets:
        results["rows"].update(study(ws, aug, feature_set, models))
        path.write_text(json.dumps(results, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
