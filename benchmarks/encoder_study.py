"""Does a pretrained speech encoder from a PyPI wheel add accuracy on unseen voices to the
paralinguistic functionals? (issue 11, deliverable 6, second half)

    .venv/bin/python -m tonecue.benchmarks.encoder_study --wheels DIR [--cache DIR] [--data DIR ...]

Needs two wheels in DIR, read in place (nothing is installed, nothing is downloaded at run time):

- ``openwakeword-0.5.1-py3-none-any.whl``: Google's speech_embedding as
  ``openwakeword/resources/models/embedding_model.onnx`` with its ``melspectrogram.onnx``;
- ``Resemblyzer-0.1.4-py3-none-any.whl``: the GE2E speaker encoder, ``resemblyzer/pretrained.pt``
  (a 3-layer torch LSTM); resemblyzer itself is not imported (its audio module needs webrtcvad),
  the few lines it needs are re-done here after ``resemblyzer/voice_encoder.py`` and ``audio.py``.

Get them once with the ordinary client::

    pip download --no-deps -d DIR openwakeword==0.5.1 Resemblyzer==0.1.4

Data: the shipped model's training windows (``tonecue.train.windows.extract_windows`` on
ser-en-dev + crema-d, 16 kHz, 2 s windows, Silero-gated, the held-out speakers of
benchmarks/heldout.json left out), read from the feature cache. One vector per clip:

- **paraling**: the mean of the clip's windows' ``paraling`` rows (67), the baseline;
- **speech_embedding**: the mean and std over the clip of the 96-d embeddings (every 80 ms, each
  over 76 mel frames, as ``openwakeword/utils.py`` chains them: int16-scaled audio, mel model,
  ``x / 10 + 2``, embedding model), 192 values;
- **resemblyzer**: its utterance embedding (L2-normed mean of the 1.6 s partials at 1.3 per
  second, as ``VoiceEncoder.embed_utterance``), 256 values.

Both encoders see the clip's voiced span (the first kept window's start to the last one's end),
scaled to -25 dBFS RMS like the frontend's windows, so neither can read the recording level.
Embeddings are cached per clip in ``--cache`` as .npz.

Protocols, clip-level UAR: speaker-grouped 5-fold CV (``tonecue.train.evaluate.speaker_folds``)
and leave-one-corpus-out (crema / ravdess / savee / tess), each "cold" (standardized with the
training side's statistics) and "speaker-normalized" (each speaker's clips z-scored with that
speaker's own mean and std over all its clips: an optimistic upper bound of the device's online
normalization). Classifiers: logistic regression (C=1, and C from 0.01/0.1/1 picked by speaker-grouped
3-fold CV inside each training side) and RBF SVM (C=1), balanced class weights; early fusion
(concatenation) and late fusion (mean of the C=1 logistic regressions' probabilities). The
speaker-grouped gains over paraling alone come with a 95 % interval over resampled speakers.
Costs: ms per second of audio on one thread, per 2 s window and per 0.5 s hop; resemblyzer's
LSTM also exported to ONNX and timed in onnxruntime.

Writes benchmarks/results/encoder-study.md and .json (about 5 minutes with the embeddings cached,
2 more without); ``--report`` rebuilds the markdown from the json. One thread. Not imported by the tests.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # thread caps must be set before numpy loads its BLAS
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = [REPO.parent / "shared" / "data" / "ser-en-dev", REPO.parent / "shared" / "data" / "crema-d"]
RESULTS = REPO / "benchmarks" / "results"
RATE = 16000
LEVEL_DBFS = -25.0
OWW_WHEEL = "openwakeword-0.5.1-py3-none-any.whl"
RSZ_WHEEL = "Resemblyzer-0.1.4-py3-none-any.whl"
OWW_MODELS = "openwakeword/resources/models/"
CORPORA = ("crema", "ravdess", "savee", "tess")
EMBEDDING_VERSION = 1  # bump when the encoders' code changes: it keys the embedding cache


# --------------------------------------------------------------------------------------------
# The clips
# --------------------------------------------------------------------------------------------


def clip_table(data: list[Path]) -> dict:
    """Per clip of the shipped recipe's windows: paraling mean, label, speaker, corpus, path and
    voiced span (samples at 16 kHz)."""
    from tonecue.edge.spec import FrontendSpec
    from tonecue.edge.speech import DetectorSettings
    from tonecue.train.corpus import LabelMap, build_index_of, without_speakers
    from tonecue.train.windows import extract_windows

    spec = FrontendSpec.at_rate(RATE, window_seconds=2, level_dbfs=LEVEL_DBFS)
    index = build_index_of(data, LabelMap(calm_as_neutral=False))
    held = [s["id"] for s in json.loads((REPO / "benchmarks" / "heldout.json").read_text())["speakers"]]
    index, _ = without_speakers(index, held)
    ws = extract_windows(
        index, spec=spec, kinds=("paraling",), detector=DetectorSettings(), workers=1, progress=False
    )
    n = len(ws.clips)
    feats = ws.features["paraling"].reshape(len(ws), -1).astype(np.float64)
    counts = np.bincount(ws.clip_ids, minlength=n)
    paraling = np.zeros((n, feats.shape[1]))
    np.add.at(paraling, ws.clip_ids, feats)
    paraling /= counts[:, None]
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.zeros(n, dtype=np.int64)
    np.minimum.at(first, ws.clip_ids, ws.starts)
    np.maximum.at(last, ws.clip_ids, ws.starts)
    labels = np.zeros(n, dtype=np.int64)
    labels[ws.clip_ids] = ws.labels
    return {
        "paraling": paraling,
        "labels": labels,
        "speakers": np.array([f"{c.corpus}:{c.speaker}" for c in ws.clips]),
        "corpora": np.array([c.corpus for c in ws.clips]),
        "paths": [str(c.path) for c in ws.clips],
        "span": np.stack([first, last + spec.window_samples], axis=1),
        "classes": tuple(ws.classes),
        "windows": int(len(ws)),
    }


def voiced_span(path: str, span) -> np.ndarray:
    """The clip at 16 kHz from its first kept window's start to its last one's end, at -25 dBFS."""
    from tonecue.edge.audio import load_audio

    signal = load_audio(path, RATE)[int(span[0]) : int(span[1])].astype(np.float64)
    rms = np.sqrt(np.mean(signal**2))
    return (signal * (10 ** (LEVEL_DBFS / 20) / max(rms, 1e-9))).astype(np.float32)


# --------------------------------------------------------------------------------------------
# The encoders
# --------------------------------------------------------------------------------------------


def _member(wheel: Path, name: str) -> bytes:
    if not wheel.is_file():
        raise SystemExit(f"{wheel} is missing; get it with: pip download --no-deps -d {wheel.parent} "
                         + ("openwakeword==0.5.1" if wheel.name == OWW_WHEEL else "Resemblyzer==0.1.4"))
    with zipfile.ZipFile(wheel) as z:
        return z.read(name)


def _session(model: bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


class SpeechEmbedding:
    """openWakeWord's chain (openwakeword/utils.py, AudioFeatures._get_embeddings)."""

    WINDOW, STEP = 76, 8  # mel frames per embedding (~0.78 s), frames between embeddings (80 ms)

    def __init__(self, wheels: Path):
        wheel = wheels / OWW_WHEEL
        self.mel_bytes = _member(wheel, OWW_MODELS + "melspectrogram.onnx")
        self.emb_bytes = _member(wheel, OWW_MODELS + "embedding_model.onnx")
        self.mel = _session(self.mel_bytes)
        self.emb = _session(self.emb_bytes)

    def frames(self, signal: np.ndarray) -> np.ndarray:
        """(n, 96) embeddings of a float signal in [-1, 1] at 16 kHz."""
        pcm = np.clip(np.round(signal * 32767), -32768, 32767).astype(np.float32)[None]
        spec = np.squeeze(self.mel.run(None, {"input": pcm})[0]) / 10 + 2  # openWakeWord's scaling
        starts = range(0, spec.shape[0] - self.WINDOW + 1, self.STEP)
        batch = np.stack([spec[i : i + self.WINDOW] for i in starts])[..., None].astype(np.float32)
        return self.emb.run(None, {"input_1": batch})[0].reshape(len(batch), -1)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        e = self.frames(signal)
        return np.concatenate([e.mean(axis=0), e.std(axis=0)])


class Resemblyzer:
    """GE2E encoder of resemblyzer/voice_encoder.py (hparams.py: 40 mels, 25/10 ms, 160-frame
    partials, LSTM 3 x 256, linear 256, ReLU, L2 norm)."""

    PARTIAL, RATE_PER_S, MIN_COVERAGE = 160, 1.3, 0.75

    def __init__(self, wheels: Path):
        import torch

        state = torch.load(io.BytesIO(_member(wheels / RSZ_WHEEL, "resemblyzer/pretrained.pt")), map_location="cpu")
        self.net = _ge2e_class()()
        self.net.load_state_dict(state["model_state"], strict=False)
        self.net.eval()
        import librosa

        self.fbank = librosa.filters.mel(sr=RATE, n_fft=400, n_mels=40)

    def mel(self, signal: np.ndarray) -> np.ndarray:
        """resemblyzer/audio.py wav_to_mel_spectrogram: librosa power mel (not log), (frames, 40)."""
        import librosa

        power = np.abs(librosa.stft(signal, n_fft=400, hop_length=160)) ** 2
        return (self.fbank @ power).astype(np.float32).T

    def partials(self, signal: np.ndarray) -> np.ndarray:
        """(n, 160, 40) mel slices as VoiceEncoder.compute_partial_slices cuts them."""
        hop = 160
        n_frames = int(np.ceil((len(signal) + 1) / hop))
        step = int(np.round((RATE / self.RATE_PER_S) / hop))
        starts = list(range(0, max(1, n_frames - self.PARTIAL + step + 1), step))
        coverage = (len(signal) - starts[-1] * hop) / (self.PARTIAL * hop)
        if coverage < self.MIN_COVERAGE and len(starts) > 1:
            starts = starts[:-1]
        need = (starts[-1] + self.PARTIAL) * hop
        signal = np.pad(signal, (0, max(0, need - len(signal))))
        mel = self.mel(signal)
        return np.stack([mel[s : s + self.PARTIAL] for s in starts])

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            partial = self.net(torch.from_numpy(self.partials(signal))).numpy()
        raw = partial.mean(axis=0)
        return raw / np.linalg.norm(raw)


def _ge2e_class():
    from torch import nn

    class GE2E(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(40, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, 256)
            self.relu = nn.ReLU()

        def forward(self, mels):
            _, (hidden, _) = self.lstm(mels)
            raw = self.relu(self.linear(hidden[-1]))
            return raw / raw.norm(dim=1, keepdim=True)

    return GE2E


def embeddings(table: dict, wheels: Path, cache: Path) -> dict[str, np.ndarray]:
    """{"speech_embedding": (n, 192), "resemblyzer": (n, 256)}, cached per clip list."""
    key = hashlib.sha256(json.dumps([table["paths"], table["span"].tolist(), EMBEDDING_VERSION]).encode()).hexdigest()[:16]
    path = cache / f"embeddings-{key}.npz"
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    cache.mkdir(parents=True, exist_ok=True)
    se, rz = SpeechEmbedding(wheels), Resemblyzer(wheels)
    out = {"speech_embedding": [], "resemblyzer": []}
    t0 = time.perf_counter()
    for i, (p, span) in enumerate(zip(table["paths"], table["span"])):
        signal = voiced_span(p, span)
        out["speech_embedding"].append(se(signal))
        out["resemblyzer"].append(rz(signal))
        if (i + 1) % 500 == 0:
            print(f"  embedded {i + 1}/{len(table['paths'])} clips, {time.perf_counter() - t0:.0f} s", flush=True)
    result = {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}
    np.savez(path, **result)
    return result


# --------------------------------------------------------------------------------------------
# Protocols
# --------------------------------------------------------------------------------------------

SETS = {  # early fusion: concatenated columns
    "paraling": ("paraling",),
    "speech_embedding": ("speech_embedding",),
    "resemblyzer": ("resemblyzer",),
    "paraling+speech_embedding": ("paraling", "speech_embedding"),
    "paraling+resemblyzer": ("paraling", "resemblyzer"),
    "paraling+speech_embedding+resemblyzer": ("paraling", "speech_embedding", "resemblyzer"),
}
LATE = {  # late fusion: the single sets' logistic-regression probabilities averaged
    "late(paraling, speech_embedding)": ("paraling", "speech_embedding"),
    "late(paraling, resemblyzer)": ("paraling", "resemblyzer"),
    "late(paraling, speech_embedding, resemblyzer)": ("paraling", "speech_embedding", "resemblyzer"),
}
MODELS = ("logreg", "logreg-cv", "svm-rbf")
INNER_C = (0.01, 0.1, 1.0)  # logreg-cv's grid
NORMS = ("cold", "speaker-z")


def make_model(name: str, C: float = 1.0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if name.startswith("logreg"):
        return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=3000, class_weight="balanced"))
    return make_pipeline(StandardScaler(), SVC(C=C, kernel="rbf", gamma="scale", class_weight="balanced"))


def fit(name: str, X: np.ndarray, y: np.ndarray, speakers: np.ndarray, corpora: np.ndarray):
    """The model fitted on (X, y); "logreg-cv" first picks C by speaker-grouped 3-fold CV on
    these training rows only (never on a test fold)."""
    from tonecue.train.evaluate import speaker_folds
    from tonecue.train.evaluate import unweighted_average_recall as uar

    C = 1.0
    if name == "logreg-cv":
        inner = speaker_folds(speakers, 3, 1, corpora)
        score = {c: np.mean([uar(y[te], make_model(name, c).fit(X[tr], y[tr]).predict(X[te])) for tr, te in inner]) for c in INNER_C}
        C = max(score, key=score.get)
    return make_model(name, C).fit(X, y), C


def speaker_z(X: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Each speaker's rows standardized with that speaker's own mean and std (all its clips)."""
    Z = np.empty_like(X, dtype=np.float64)
    for s in np.unique(speakers):
        rows = speakers == s
        std = X[rows].std(axis=0)
        Z[rows] = (X[rows] - X[rows].mean(axis=0)) / np.where(std > 1e-12, std, 1.0)
    return Z


def splits(table: dict) -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    from tonecue.train.evaluate import speaker_folds

    corpora = table["corpora"]
    return {
        "speaker": [(f"fold-{i + 1}", tr, te) for i, (tr, te) in enumerate(speaker_folds(table["speakers"], 5, 0, corpora))],
        "loco": [(c, np.flatnonzero(corpora != c), np.flatnonzero(corpora == c)) for c in CORPORA],
    }


def evaluate(features: dict[str, np.ndarray], table: dict, log=print) -> dict:
    """UAR of every set x model x normalization under both protocols; late fusion rows too."""
    from tonecue.train.evaluate import unweighted_average_recall as uar

    y, speakers = table["labels"], table["speakers"]
    protocols = splits(table)
    views = {
        "cold": {k: np.nan_to_num(v.astype(np.float64)) for k, v in features.items()},
    }
    views["speaker-z"] = {k: speaker_z(v, speakers) for k, v in views["cold"].items()}
    rows: dict[str, dict] = {}
    proba: dict[tuple, np.ndarray] = {}  # (norm, protocol, single set) -> out-of-fold LR probabilities
    preds: dict[tuple, np.ndarray] = {}  # (row, protocol, norm) -> out-of-fold predictions

    def score(pred: np.ndarray, protocol: str) -> dict:
        if protocol == "speaker":  # one pooled UAR over every clip's out-of-fold prediction
            return {"uar": round(uar(y, pred), 4)}
        each = {c: round(uar(y[te], pred[te]), 4) for c, _, te in protocols["loco"]}
        return {"uar": round(float(np.mean(list(each.values()))), 4), "per_corpus": each}

    for name, parts in SETS.items():
        for model_name in MODELS:
            key = f"{name} / {model_name}"
            rows[key] = {}
            for norm in NORMS:
                X = np.concatenate([views[norm][p] for p in parts], axis=1)
                for protocol, folds in protocols.items():
                    t0 = time.perf_counter()
                    pred = np.empty(len(y), dtype=np.int64)
                    prob = np.zeros((len(y), len(table["classes"])))
                    chosen = []
                    for _, tr, te in folds:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")  # lbfgs convergence notes on a few folds
                            model, C = fit(model_name, X[tr], y[tr], speakers[tr], table["corpora"][tr])
                        chosen.append(C)
                        pred[te] = model.predict(X[te])
                        if model_name == "logreg":
                            prob[te] = model.predict_proba(X[te])
                    if model_name == "logreg" and len(parts) == 1:
                        proba[(norm, protocol, name)] = prob
                    rows[key][f"{protocol}/{norm}"] = score(pred, protocol)
                    preds[(key, protocol, norm)] = pred
                    if model_name == "logreg-cv":
                        rows[key][f"{protocol}/{norm}"]["C"] = chosen
                    log(f"  {key:52s} {protocol:7s} {norm:9s} UAR {rows[key][f'{protocol}/{norm}']['uar']:.3f}"
                        f"  ({time.perf_counter() - t0:.0f} s)")
    for name, parts in LATE.items():
        key = f"{name} / logreg"
        rows[key] = {}
        for norm in NORMS:
            for protocol in protocols:
                mean = np.mean([proba[(norm, protocol, p)] for p in parts], axis=0)
                preds[(key, protocol, norm)] = mean.argmax(axis=1)
                rows[key][f"{protocol}/{norm}"] = score(preds[(key, protocol, norm)], protocol)
                log(f"  {key:52s} {protocol:7s} {norm:9s} UAR {rows[key][f'{protocol}/{norm}']['uar']:.3f}")
    for key, row in rows.items():  # how sure the speaker-grouped gain over paraling alone is
        base = f"paraling / {key.rsplit(' / ', 1)[1]}"
        for norm in NORMS:
            row[f"speaker/{norm}"]["delta_ci95"] = speaker_bootstrap(
                y, preds[(key, "speaker", norm)], preds[(base, "speaker", norm)], speakers
            )
    return rows


ONLINE_SETS = ("paraling", "paraling+resemblyzer", "paraling+speech_embedding+resemblyzer")


def online(features: dict[str, np.ndarray], table: dict, log=print) -> dict:
    """Speaker-grouped UAR (svm-rbf) with the device's kind of normalization: each test clip
    normalized by N other clips of its speaker, shrunk towards the training speakers' prior
    (`tonecue.benchmarks.accuracy_study.online_normalized`, the study that chose the shipped
    recipe), for the speaker-z model and the online-matched one (trained on copies normalized
    after 0 and 10 clips and after all of them)."""
    from tonecue.benchmarks.accuracy_study import (
        MATCHED_CLIPS, ONLINE_CLIPS, ONLINE_DRAWS, matched_training, online_normalized, speaker_moments,
    )
    from tonecue.train.evaluate import unweighted_average_recall as uar

    y, speakers = table["labels"], table["speakers"]
    folds = splits(table)["speaker"]
    out = {}
    for name in ONLINE_SETS:
        X = np.concatenate([np.nan_to_num(features[p].astype(np.float64)) for p in SETS[name]], axis=1)
        Z = speaker_z(X, speakers)
        for variant in ("speaker-z", "online-matched"):
            t0 = time.perf_counter()
            rng = np.random.default_rng(0)
            heard = {n: [] for n in ONLINE_CLIPS}
            order, every = [], np.empty(len(y), dtype=np.int64)
            for _, tr, te in folds:
                prior = speaker_moments(X[tr], speakers[tr])
                if variant == "speaker-z":
                    model = make_model("svm-rbf").fit(Z[tr], y[tr])
                else:
                    rows = matched_training(X[tr], speakers[tr], *prior, rng)
                    model = make_model("svm-rbf").fit(rows, np.tile(y[tr], len(MATCHED_CLIPS)))
                for n in ONLINE_CLIPS:
                    heard[n].append(np.stack([
                        model.predict(online_normalized(X[te], speakers[te], n, *prior, rng)) for _ in range(ONLINE_DRAWS if n else 1)
                    ]))
                every[te] = model.predict(Z[te])
                order.append(te)
            truth = y[np.concatenate(order)]
            res = {str(n): round(float(np.mean([uar(truth, d) for d in np.concatenate(heard[n], axis=1)])), 4) for n in ONLINE_CLIPS}
            res["all"] = round(uar(y, every), 4)
            out[f"{name} / svm-rbf / {variant}"] = res
            log(f"  {name:40s} {variant:15s} " + " ".join(f"{k}: {v:.3f}" for k, v in res.items())
                + f"  ({time.perf_counter() - t0:.0f} s)")
    return out


def speaker_bootstrap(y, pred, base, speakers, draws: int = 2000, seed: int = 0) -> list[float]:
    """95 % interval of UAR(pred) - UAR(base) over speakers resampled with replacement."""
    names, who = np.unique(speakers, return_inverse=True)
    classes = np.unique(y)
    # per speaker and class: clips, and hits of each prediction
    total = np.zeros((len(names), len(classes)))
    hits = np.zeros((2, len(names), len(classes)))
    for j, c in enumerate(classes):
        rows = y == c
        np.add.at(total[:, j], who[rows], 1)
        np.add.at(hits[0, :, j], who[rows], pred[rows] == c)
        np.add.at(hits[1, :, j], who[rows], base[rows] == c)
    weights = np.random.default_rng(seed).multinomial(len(names), np.full(len(names), 1 / len(names)), size=draws)
    n = weights @ total
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = (weights @ hits) / n  # (2, draws, classes)
    diff = np.nanmean(recall[0], axis=1) - np.nanmean(recall[1], axis=1)
    return [round(float(np.percentile(diff, 2.5)) * 100, 1), round(float(np.percentile(diff, 97.5)) * 100, 1)]


# --------------------------------------------------------------------------------------------
# Costs
# --------------------------------------------------------------------------------------------

HOP_SECONDS = 0.5
WINDOW_SECONDS = 2.0


def _best_ms(fn, repeats: int = 30) -> float:
    """Median wall ms of fn() after a warm-up call (one thread: wall ~ CPU)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def export_ge2e(rz: Resemblyzer, path: Path) -> Path:
    """resemblyzer's LSTM + linear + ReLU + L2 norm as ONNX (batch and frames dynamic)."""
    import torch

    warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size")  # parity is checked
    torch.onnx.export(
        rz.net, (torch.zeros(1, rz.PARTIAL, 40),), str(path), dynamo=False, opset_version=17,
        input_names=["mels"], output_names=["embedding"], dynamic_axes={"mels": {0: "batch", 1: "frames"}},
    )
    return path


def costs(table: dict, wheels: Path, cache: Path, n_clips: int = 60) -> dict:
    """ms per second of audio (clips' voiced spans), per 2 s window from scratch and per 0.5 s hop
    streamed, one thread; file sizes; resemblyzer's LSTM in torch and exported to ONNX."""
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(table["paths"]), size=n_clips, replace=False)
    signals = [voiced_span(table["paths"][i], table["span"][i]) for i in picks]
    seconds = sum(len(s) for s in signals) / RATE
    window = signals[0][: int(WINDOW_SECONDS * RATE)]
    se, rz = SpeechEmbedding(wheels), Resemblyzer(wheels)
    onnx_path = export_ge2e(rz, cache / "ge2e.onnx")
    ge2e = _session(onnx_path.read_bytes())

    def rz_onnx(signal):
        partial = ge2e.run(None, {"mels": rz.partials(signal)})[0]
        raw = partial.mean(axis=0)
        return raw / np.linalg.norm(raw)

    mels = rz.partials(window)
    with torch.no_grad():
        parity = float(np.abs(ge2e.run(None, {"mels": mels})[0] - rz.net(torch.from_numpy(mels)).numpy()).max())

    # streamed hop, speech_embedding: the mel model on the new 0.5 s (+3 frames' context, as
    # openWakeWord's streaming does), then the 0.5 s / 80 ms ~ 6 new embeddings
    hop_audio = np.round(signals[0][: int(HOP_SECONDS * RATE) + 480] * 32767).astype(np.float32)[None]
    spec = np.squeeze(se.mel.run(None, {"input": np.round(window * 32767).astype(np.float32)[None]})[0]) / 10 + 2
    hop_batch = np.stack([spec[i : i + se.WINDOW] for i in range(0, 6 * se.STEP, se.STEP)])[..., None].astype(np.float32)
    one_partial = mels[:1]
    with torch.no_grad():
        out = {
            "clips_timed": n_clips,
            "audio_seconds_timed": round(seconds, 1),
            "speech_embedding": {
                "ms_per_audio_second": round(_best_ms(lambda: [se(s) for s in signals], 3) / seconds, 2),
                "ms_per_2s_window": round(_best_ms(lambda: se(window)), 2),
                "ms_per_hop_streamed": round(
                    _best_ms(lambda: se.mel.run(None, {"input": hop_audio})) + _best_ms(lambda: se.emb.run(None, {"input_1": hop_batch})), 2
                ),
                "mel_onnx_bytes": len(se.mel_bytes),
                "embedding_onnx_bytes": len(se.emb_bytes),
            },
            "resemblyzer": {
                "ms_per_audio_second_torch": round(_best_ms(lambda: [rz(s) for s in signals], 3) / seconds, 2),
                "ms_per_audio_second_onnx": round(_best_ms(lambda: [rz_onnx(s) for s in signals], 3) / seconds, 2),
                "ms_per_2s_window_onnx": round(_best_ms(lambda: rz_onnx(window)), 2),
                "ms_per_hop_onnx (one new 1.6 s partial + its mel)": round(_best_ms(lambda: ge2e.run(None, {"mels": one_partial}))
                                                                          + _best_ms(lambda: rz.mel(window[: 160 * rz.PARTIAL])), 2),
                "checkpoint_bytes": len(_member(wheels / RSZ_WHEEL, "resemblyzer/pretrained.pt")),
                "onnx_bytes": onnx_path.stat().st_size,
                "onnx_vs_torch_max_abs_diff": parity,
                "mel_note": "power mel by librosa.stft here (numpy FFT on a device)",
            },
        }
    out["int8"] = int8(se, rz, ge2e, signals, hop_batch, one_partial, cache)
    out["rss"] = rss(wheels, onnx_path)
    return out


def int8(se: SpeechEmbedding, rz: Resemblyzer, ge2e, signals, hop_batch, one_partial, cache: Path) -> dict:
    """onnxruntime's dynamic int8 quantization of both encoders: ms per hop and how close the
    embeddings stay (cosine of the utterance embeddings; relative error of speech_embedding's)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    (cache / "embedding_model.onnx").write_bytes(se.emb_bytes)
    quantize_dynamic(cache / "embedding_model.onnx", cache / "embedding_model.int8.onnx", weight_type=QuantType.QInt8)
    quantize_dynamic(cache / "ge2e.onnx", cache / "ge2e.int8.onnx", weight_type=QuantType.QInt8)
    emb8 = _session((cache / "embedding_model.int8.onnx").read_bytes())
    ge2e8 = _session((cache / "ge2e.int8.onnx").read_bytes())
    cosines, errors = [], []
    for signal in signals:
        mels = rz.partials(signal)
        a, b = ge2e.run(None, {"mels": mels})[0].mean(axis=0), ge2e8.run(None, {"mels": mels})[0].mean(axis=0)
        cosines.append(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    e32, e8 = se.emb.run(None, {"input_1": hop_batch})[0], emb8.run(None, {"input_1": hop_batch})[0]
    errors.append(float(np.abs(e32 - e8).mean() / np.abs(e32).mean()))
    return {
        "resemblyzer_ms_per_partial_fp32": round(_best_ms(lambda: ge2e.run(None, {"mels": one_partial})), 2),
        "resemblyzer_ms_per_partial_int8": round(_best_ms(lambda: ge2e8.run(None, {"mels": one_partial})), 2),
        "resemblyzer_int8_cosine_to_fp32_mean": round(float(np.mean(cosines)), 3),
        "speech_embedding_ms_per_6_fp32": round(_best_ms(lambda: se.emb.run(None, {"input_1": hop_batch})), 2),
        "speech_embedding_ms_per_6_int8": round(_best_ms(lambda: emb8.run(None, {"input_1": hop_batch})), 2),
        "speech_embedding_int8_relative_error": round(errors[0], 3),
    }


_RSS_CHILD = r"""
import re, sys, zipfile
import numpy as np, onnxruntime as ort
def peak():  # VmHWM: this process's own peak (ru_maxrss would carry the parent's over exec)
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1)) / 1024
base = peak()
o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
wheel, ge2e = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(wheel)
mel = ort.InferenceSession(z.read("openwakeword/resources/models/melspectrogram.onnx"), o)
emb = ort.InferenceSession(z.read("openwakeword/resources/models/embedding_model.onnx"), o)
del z
mel.run(None, {"input": np.zeros((1, 8480), np.float32)})  # a streamed hop: 0.5 s + 3 frames
emb.run(None, {"input_1": np.zeros((6, 76, 32, 1), np.float32)})
streamed = peak()
mel.run(None, {"input": np.zeros((1, 32000), np.float32)})  # a 2 s window from scratch
emb.run(None, {"input_1": np.zeros((16, 76, 32, 1), np.float32)})
window = peak()
g = ort.InferenceSession(ge2e, o)
g.run(None, {"mels": np.zeros((2, 160, 40), np.float32)})
print(round(base, 1), round(streamed, 1), round(window, 1), round(peak(), 1))
"""


def rss(wheels: Path, onnx_path: Path) -> dict:
    """Peak RSS (MB) of a fresh numpy + onnxruntime process, then with speech_embedding's two
    sessions run on a streamed hop, then on a 2 s window, then with the GE2E ONNX added."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(wheels / OWW_WHEEL), str(onnx_path)],
        capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    ).stdout.split()
    base, streamed, window, both = map(float, out)
    return {"numpy+onnxruntime_mb": base, "with_speech_embedding_streamed_mb": streamed,
            "with_speech_embedding_mb": window, "with_both_mb": both}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

LICENCES = {
    "speech_embedding": (
        "openwakeword-0.5.1.dist-info/LICENSE: Apache-2.0 (the code). The wheel's README "
        "(openwakeword-0.5.1.dist-info/METADATA, section 'License'): \"All of the included pre-trained models are "
        "licensed under the Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International license due to "
        "the inclusion of datasets with unknown or restrictive licensing as part of the training data\"; its section "
        "'Model Architecture' says the embedding model \"is provided by Google (tfhub.dev/google/speech_embedding/1) "
        "as a TFHub module under an Apache-2.0 license\" and \"was manually re-implemented\" for openWakeWord. "
        "So Google's original is Apache-2.0, but the files in this wheel (embedding_model.onnx, melspectrogram.onnx) "
        "fall under the README's blanket CC BY-NC-SA 4.0 statement: not usable in a commercial product without the "
        "author's word; an Apache-2.0 route is converting Google's TF Hub module oneself (not done here: no hub downloads)."
    ),
    "resemblyzer": (
        "Resemblyzer-0.1.4.dist-info/LICENSE: Apache License 2.0, \"Copyright 2019 Resemble.AI\"; "
        "METADATA classifier 'License :: OSI Approved :: Apache Software License'. pretrained.pt ships in the same "
        "wheel under it; the METADATA does not name the training data (GE2E, after Real-Time-Voice-Cloning)."
    ),
}


def conclusion(result: dict) -> str:
    """Which rows beat paraling alone (same classifier), by how much, under each protocol."""
    rows, c = result["rows"], result["costs"]
    out = []
    for key, label in (("speaker/cold", "speaker-grouped cold"), ("speaker/speaker-z", "speaker-grouped spk-norm"),
                       ("loco/cold", "LOCO cold"), ("loco/speaker-z", "LOCO spk-norm")):
        best_base = max((rows[f"paraling / {m}"][key]["uar"], m) for m in MODELS)
        fused = [(r[key]["uar"], k) for k, r in rows.items() if k.split(" / ")[0].startswith(("paraling+", "late("))]
        top, name = max(fused)
        out.append(f"- {label}: best paraling alone {best_base[0]:.3f} ({best_base[1]}); best fusion {top:.3f} "
                   f"({name}), {100 * (top - best_base[0]):+.1f} points.")
    keys = ("speaker/cold", "speaker/speaker-z", "loco/cold", "loco/speaker-z")
    base = rows["paraling / svm-rbf"]
    for name, note in (("paraling+resemblyzer / svm-rbf", "Apache-2.0 encoder"),
                       ("paraling+speech_embedding+resemblyzer / svm-rbf", "speech_embedding's files CC BY-NC-SA per the wheel's README")):
        row = rows[name]
        gains = ", ".join(f"{k.replace('speaker-z', 'spk-norm')} {row[k]['uar']:.3f} ({100 * (row[k]['uar'] - base[k]['uar']):+.1f})" for k in keys)
        ci = row["speaker/speaker-z"]["delta_ci95"]
        out.append(f"- {name} ({note}) against paraling / svm-rbf: {gains}; spk-norm speaker-grouped gain 95 % "
                   f"interval over speakers [{ci[0]:+.1f}, {ci[1]:+.1f}] points.")
    if "online" in result:
        matched = {k.split(" / ")[0]: v for k, v in result["online"].items() if k.endswith("online-matched")}
        ref = matched["paraling"]
        for name in ONLINE_SETS[1:]:
            got = matched[name]
            out.append(f"- Online-matched SVM, {name} against paraling: " + ", ".join(
                f"N = {k} {got[k]:.3f} ({100 * (got[k] - ref[k]):+.1f})" for k in got))
    se, rz, mem = c["speech_embedding"], c["resemblyzer"], c["rss"]
    base_mb = mem["numpy+onnxruntime_mb"]
    out += [
        f"- Device cost per 0.5 s hop, on top of today's loop (edge-bench: 6.9 ms p95, 99 MB peak RSS, against 10 ms "
        f"and 100 MB): speech_embedding {se['ms_per_hop_streamed']} ms streamed ({se['ms_per_2s_window']} ms for a 2 s "
        f"window from scratch) and +{mem['with_speech_embedding_streamed_mb'] - base_mb:.0f} MB streamed "
        f"(+{mem['with_speech_embedding_mb'] - base_mb:.0f} MB with 2 s batches); resemblyzer as ONNX "
        f"{rz['ms_per_hop_onnx (one new 1.6 s partial + its mel)']} ms per hop ({rz['ms_per_2s_window_onnx']} ms per "
        f"2 s window) and +{mem['with_both_mb'] - mem['with_speech_embedding_mb']:.0f} MB. Either encoder alone "
        f"breaks both budgets unless the rest of the loop gets cheaper: 6.9 + {min(se['ms_per_hop_streamed'], rz['ms_per_hop_onnx (one new 1.6 s partial + its mel)']):.1f} "
        f"ms > 10 ms per window, 99 + {mem['with_both_mb'] - mem['with_speech_embedding_mb']:.0f} MB or more > 100 MB.",
        "- Shape of a shipped version: melspectrogram.onnx takes raw 16 kHz audio, so speech_embedding's whole chain can "
        "ride inside the exported ONNX; resemblyzer needs a 40-band power mel at 25/10 ms (a second mel beside the "
        "frontend's, numpy) or its mel added to the graph. The gains above are per clip (2 s of voiced audio or more, "
        "mean span 2.4 s, close to the device's 2 s window), clean; online normalization is simulated over whole "
        "clips of the speaker as accuracy_study does, not over the device's running window statistics; not measured "
        "in noise, at window level, or with LOCO under online normalization.",
    ]
    return "\n".join(out)


def _fmt(row: dict, key: str) -> str:
    return f"{row[key]['uar']:.3f}" if key in row else "–"


def markdown(result: dict) -> str:
    rows, c = result["rows"], result["costs"]
    base = {m: rows[f"paraling / {m}"] for m in MODELS}
    lines = [
        "# Pretrained encoders from wheels beside the paralinguistic functionals (issue 11, item 6)",
        "",
        f"Written by `benchmarks/encoder_study.py` ({result['elapsed_s']:.0f} s). {result['clips']} clips "
        f"({result['windows']} windows) of ser-en-dev + crema-d without the held-out speakers, "
        f"{result['speakers']} speakers; clip-level UAR (chance 0.25). Speaker-grouped: pooled out-of-fold UAR of the "
        "project's 5 speaker folds. LOCO: mean of the four leave-one-corpus-out UARs. **cold**: features as they "
        "are, standardized with the training side's statistics. **spk-norm**: each speaker's clips z-scored with that "
        "speaker's own mean and std over all its clips, an optimistic upper bound of the device's online "
        "normalization (it sees every clip of the speaker, with balanced emotions). Logistic regression and RBF SVM, "
        "C = 1 (logreg, svm-rbf), balanced class weights, never tuned on a test fold. Late fusion averages the single sets' "
        f"logistic-regression probabilities. logreg-cv picks C from {INNER_C} by speaker-grouped 3-fold CV inside each "
        "training side. Δ: points against paraling alone with the same classifier; for the speaker-grouped protocol "
        "with a 95 % interval over speakers resampled with replacement (2,000 draws, same predictions).",
        "",
        "| features | model | spk-grouped cold | spk-grouped spk-norm | LOCO cold | LOCO spk-norm | Δ spk cold | Δ spk norm | Δ LOCO cold | Δ LOCO norm |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = ("speaker/cold", "speaker/speaker-z", "loco/cold", "loco/speaker-z")
    for key, row in rows.items():
        name, model = key.rsplit(" / ", 1)
        delta = [f"{100 * (row[k]['uar'] - base[model][k]['uar']):+.1f}"
                 + (f" [{row[k]['delta_ci95'][0]:+.1f}, {row[k]['delta_ci95'][1]:+.1f}]" if "delta_ci95" in row[k] and not name == "paraling" else "")
                 for k in keys]
        lines.append(f"| {name} | {model} | " + " | ".join(_fmt(row, k) for k in keys) + " | " + " | ".join(delta) + " |")
    lines += ["", "LOCO per held-out corpus (cold / spk-norm):", "",
              "| features | model | " + " | ".join(CORPORA) + " |", "|---|---|" + "---|" * len(CORPORA)]
    for key, row in rows.items():
        name, model = key.rsplit(" / ", 1)
        cells = [f"{row['loco/cold']['per_corpus'][k]:.2f} / {row['loco/speaker-z']['per_corpus'][k]:.2f}" for k in CORPORA]
        lines.append(f"| {name} | {model} | " + " | ".join(cells) + " |")
    se, rz, mem, q = c["speech_embedding"], c["resemblyzer"], c["rss"], c["int8"]
    heard = [k for k in next(iter(result["online"].values()))]
    lines += [
        "",
        "## With the device's kind of normalization (speaker-grouped, RBF SVM)",
        "",
        "Each test clip normalized by the mean and std of N other clips of its speaker drawn at random, shrunk "
        "towards the training speakers' prior (3 clips' weight; `accuracy_study.online_normalized`, 3 draws); "
        "\"all\": the speaker's own statistics. speaker-z: the model trained on speaker-z features; online-matched: "
        "trained on copies normalized after 0 and 10 clips and after all (the shipped recipe's scheme).",
        "",
        "| features | model | " + " | ".join(f"N = {k}" for k in heard) + " |",
        "|---|---|" + "---|" * len(heard),
    ]
    for key, res in result["online"].items():
        name, _, variant = key.split(" / ")
        lines.append(f"| {name} | {variant} | " + " | ".join(f"{res[k]:.3f}" for k in heard) + " |")
    lines += [
        "",
        f"## Cost (one thread, this machine; {c['clips_timed']} clips, {c['audio_seconds_timed']} s of audio)",
        "",
        "| encoder | ms per s of audio | ms per 2 s window (from scratch) | ms per 0.5 s hop (streamed) | files |",
        "|---|---|---|---|---|",
        f"| speech_embedding (onnxruntime) | {se['ms_per_audio_second']} | {se['ms_per_2s_window']} | {se['ms_per_hop_streamed']} | "
        f"melspectrogram.onnx {se['mel_onnx_bytes'] / 1e6:.2f} MB + embedding_model.onnx {se['embedding_onnx_bytes'] / 1e6:.2f} MB |",
        f"| resemblyzer (torch) | {rz['ms_per_audio_second_torch']} | – | – | pretrained.pt {rz['checkpoint_bytes'] / 1e6:.1f} MB |",
        f"| resemblyzer (exported ONNX, onnxruntime) | {rz['ms_per_audio_second_onnx']} | {rz['ms_per_2s_window_onnx']} | "
        f"{rz['ms_per_hop_onnx (one new 1.6 s partial + its mel)']} | ge2e.onnx {rz['onnx_bytes'] / 1e6:.1f} MB (max abs diff to torch {rz['onnx_vs_torch_max_abs_diff']:.1e}) |",
        "",
        f"Peak RSS of a fresh numpy + onnxruntime process: {mem['numpy+onnxruntime_mb']} MB; with speech_embedding's two "
        f"sessions run on a streamed hop: {mem['with_speech_embedding_streamed_mb']} MB, on a 2 s window: "
        f"{mem['with_speech_embedding_mb']} MB; with the GE2E ONNX as well: {mem['with_both_mb']} MB "
        "(the shipped model's whole device loop measures 99 MB in edge-bench against a 100 MB budget, 6.9 ms p95 against 10 ms). "
        "Streamed hop: speech_embedding's mel model on the new 0.5 s plus 6 new embeddings; resemblyzer's partials start "
        "from a zero LSTM state, so each hop runs one whole 1.6 s partial.",
        "",
        f"Dynamic int8 (onnxruntime.quantization.quantize_dynamic, accuracy not re-measured): GE2E "
        f"{q['resemblyzer_ms_per_partial_fp32']} -> {q['resemblyzer_ms_per_partial_int8']} ms per partial, but its utterance "
        f"embeddings keep a mean cosine of only {q['resemblyzer_int8_cosine_to_fp32_mean']} to float (its input is a power "
        f"mel, not a log one); speech_embedding {q['speech_embedding_ms_per_6_fp32']} -> {q['speech_embedding_ms_per_6_int8']} ms "
        f"per 6 embeddings (slower), relative error {q['speech_embedding_int8_relative_error']}. Neither is a free saving.",
        "",
        "The two encoders here were checked once (scratch script, 4 clips) against the wheels' own code, "
        "openwakeword.utils.AudioFeatures._get_embeddings and resemblyzer.VoiceEncoder.embed_utterance: identical outputs.",
        "",
        "## Licences (as the files say)",
        "",
        f"- **speech_embedding**: {LICENCES['speech_embedding']}",
        f"- **resemblyzer**: {LICENCES['resemblyzer']}",
        "",
        "## Conclusion",
        "",
        result.get("conclusion", "(see the table)"),
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheels", type=Path, help=f"folder holding {OWW_WHEEL} and {RSZ_WHEEL}")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "tonecue" / "encoder-study")
    parser.add_argument("--data", type=Path, nargs="+", default=DATA)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--report", action="store_true", help="only rebuild the markdown (and conclusion) from the json")
    args = parser.parse_args(argv)
    if args.report:
        result = json.loads((args.out / "encoder-study.json").read_text())
        result["conclusion"] = conclusion(result)
        (args.out / "encoder-study.json").write_text(json.dumps(result, indent=1) + "\n")
        (args.out / "encoder-study.md").write_text(markdown(result))
        return 0
    if args.wheels is None:
        parser.error("--wheels DIR is required (see the module docstring for how to get the two wheels)")
    for wheel in (OWW_WHEEL, RSZ_WHEEL):  # fail before the minute of loading windows
        if not (args.wheels / wheel).is_file():
            _member(args.wheels / wheel, "")
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    print("windows from the feature cache ...", flush=True)
    table = clip_table(args.data)
    print(f"{len(table['paths'])} clips; embeddings ...", flush=True)
    features = {"paraling": table["paraling"], **embeddings(table, args.wheels, args.cache)}
    print("protocols ...", flush=True)
    rows = evaluate(features, table)
    print("online normalization ...", flush=True)
    adapted = online(features, table)
    print("costs ...", flush=True)
    cost = costs(table, args.wheels, args.cache)
    result = {
        "clips": len(table["paths"]), "windows": table["windows"], "speakers": len(set(table["speakers"])),
        "classes": list(table["classes"]), "rows": rows, "online": adapted, "costs": cost, "licences": LICENCES,
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    result["conclusion"] = conclusion(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "encoder-study.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "encoder-study.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
