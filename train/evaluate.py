"""Evaluation that tells the truth: clip splits, speaker-grouped folds, metrics, confusion plots.

DESIGN.md asks for two protocols, always side by side:

* **random** — the seed's: a random 80/20 split of *clips*, stratified by class and seeded.
  Windows follow their clip, so no clip is on both sides, but a speaker (and in TESS the same
  voice saying the same words) is. It flatters every model; it is reported because the seed did.
* **speaker** — k speaker-grouped folds (GroupKFold-like, k=5 by default): every speaker's clips
  sit in exactly one test fold, so no speaker is on both sides of any fold (asserted). Speakers
  are assigned largest first to the fold with the fewest clips so far (ties: fewest clips of the
  speaker's corpus, then a seeded draw), which balances clip counts. Out-of-fold predictions are
  pooled: every clip is predicted exactly once, by models that never heard its speaker.
  Speaker-grouped UAR is the number that decides which model ships.

Validation for early stopping comes from the training side only, never the test side:
`speaker_validation` takes whole training speakers (about 15 % of the training clips),
`clip_validation` (used for the random protocol, which mixes speakers anyway) a stratified
random 15 % of the training clips.

Metrics (`classification_metrics`): accuracy, UAR (unweighted average recall = scikit-learn's
balanced accuracy: the mean recall over the classes present in y_true), macro-F1 (scikit-learn's,
over the classes present in y_true or y_pred, 0 where undefined) and the confusion matrix (rows:
true class, columns: predicted class, every class listed). `evaluate_predictions` gives them
overall and per corpus, at window level and at clip level, where a clip's probabilities are the
mean of its windows' (`clip_probabilities`) — what the device's smoothing approximates over time.

Everything here works on plain arrays: clip ids index the clips of a `WindowSet`
(`ws.clip_ids`), and `clip_table(ws)` gives each clip's label, speaker and corpus.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = [
    "ClipTable",
    "Split",
    "check_split",
    "classification_metrics",
    "clip_probabilities",
    "clip_table",
    "clip_validation",
    "evaluate_predictions",
    "fold_summary",
    "plot_confusion",
    "random_clip_split",
    "random_protocol",
    "speaker_folds",
    "speaker_protocol",
    "speaker_validation",
    "unweighted_average_recall",
]

#: Share of the training side held out for early stopping.
VALIDATION_FRACTION = 0.15


# --------------------------------------------------------------------------------------------
# The clips a split works on
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipTable:
    """One row per clip of a WindowSet: class index, speaker and corpus (numpy arrays)."""

    labels: np.ndarray
    speakers: np.ndarray
    corpora: np.ndarray

    def __len__(self) -> int:
        return int(len(self.labels))


def clip_table(ws) -> ClipTable:
    """The clip-level table of a `tonecue.train.windows.WindowSet` (ids = positions in ws.clips)."""
    return ClipTable(
        labels=np.asarray(ws.clip_labels, dtype=np.int64),
        speakers=np.array([str(c.speaker) for c in ws.clips], dtype=str),
        corpora=np.array([str(c.corpus) for c in ws.clips], dtype=str),
    )


@dataclass(frozen=True)
class Split:
    """One train/test partition of clip ids, with the training side cut into fit and validation.

    name: "random" or "speaker-1" ... "speaker-k".
    train: every training clip (fit + val): classic models and featurewiz use all of them.
    fit, val: the training clips the nets fit on, and the ones that stop them early.
    test: the held-out clips.
    val_by: how val was drawn: "speaker" (whole training speakers) or "clip" (random clips).
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    fit: np.ndarray
    val: np.ndarray
    val_by: str

    def describe(self, table: ClipTable) -> dict[str, Any]:
        """Counts and speakers of each side (JSON-serialisable)."""
        def side(ids: np.ndarray) -> dict[str, Any]:
            speakers = sorted(set(table.speakers[ids].tolist()))
            return {"clips": int(len(ids)), "speakers": len(speakers)}

        return {
            "name": self.name,
            "train": side(self.train),
            "test": {**side(self.test), "speaker_ids": sorted(set(table.speakers[self.test].tolist()))},
            "fit": side(self.fit),
            "val": {**side(self.val), "by": self.val_by,
                    **({"speaker_ids": sorted(set(table.speakers[self.val].tolist()))} if self.val_by == "speaker" else {})},
        }


def _ids(x: Any) -> np.ndarray:
    return np.sort(np.asarray(x, dtype=np.int64).ravel())


def check_split(split: Split, table: ClipTable, *, grouped: bool) -> None:
    """Assert a split is a partition: fit + val = train, train and test disjoint, and, when
    `grouped` (the speaker protocol, and any speaker validation), no speaker on both sides."""
    train, test, fit, val = (set(a.tolist()) for a in (split.train, split.test, split.fit, split.val))
    assert not train & test, f"{split.name}: {len(train & test)} clips on both sides"
    assert not fit & val, f"{split.name}: {len(fit & val)} clips in both fit and val"
    assert fit | val == train, f"{split.name}: fit + val is not the training side"
    assert test, f"{split.name}: empty test side"
    assert fit, f"{split.name}: empty fit side"
    if grouped:
        both = set(table.speakers[split.train]) & set(table.speakers[split.test])
        assert not both, f"{split.name}: speakers {sorted(both)} on both sides"
    if split.val_by == "speaker":
        both = set(table.speakers[split.fit]) & set(table.speakers[split.val])
        assert not both, f"{split.name}: speakers {sorted(both)} in both fit and val"
        both = set(table.speakers[split.val]) & set(table.speakers[split.test])
        assert not both, f"{split.name}: validation speakers {sorted(both)} also tested"


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------


def _stratifiable(labels: np.ndarray) -> bool:
    counts = np.bincount(labels) if len(labels) else np.zeros(0, int)
    return bool(len(counts)) and int(counts[counts > 0].min()) >= 2


def random_clip_split(
    clip_labels: Sequence[int], test_size: float = 0.2, seed: int = 0, ids: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The seed's protocol: (train, test) clip ids, a random `test_size` share of clips,
    stratified by class (when every class has two clips or more) and seeded.

    ids: the clip ids to split (default: all, 0..len(clip_labels)-1); clip_labels are indexed by id.
    """
    from sklearn.model_selection import train_test_split

    labels = np.asarray(clip_labels, dtype=np.int64)
    ids = np.arange(len(labels)) if ids is None else np.asarray(ids, dtype=np.int64)
    if len(ids) < 2:
        raise ValueError(f"a random split needs at least two clips, got {len(ids)}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must lie in (0, 1), got {test_size}")
    y = labels[ids]
    n_test = max(1, int(math.ceil(test_size * len(ids))))
    n_classes = len(np.unique(y))
    stratify = y if _stratifiable(y) and n_classes <= n_test <= len(ids) - n_classes else None
    train, test = train_test_split(ids, test_size=n_test, random_state=seed, shuffle=True, stratify=stratify)
    return _ids(train), _ids(test)


def clip_validation(
    train_ids: Sequence[int], clip_labels: Sequence[int], fraction: float = VALIDATION_FRACTION, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, val): a stratified random `fraction` of the training clips (speakers may overlap)."""
    fit, val = random_clip_split(clip_labels, fraction, seed + 1, ids=train_ids)
    return fit, val


def speaker_validation(
    train_ids: Sequence[int],
    table: ClipTable,
    fraction: float = VALIDATION_FRACTION,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, val): whole training speakers held out for early stopping.

    Speakers are drawn in a seeded order and taken while the validation side holds fewer than
    `fraction` of the training clips. A speaker that would push it past 1.5 x that share is
    passed over (one TESS voice is a quarter of the corpus), and at most half of a corpus's
    training speakers are taken (so no corpus vanishes from the fit side). If every speaker is
    passed over, the smallest allowed one is taken. Needs at least two training speakers.
    """
    train_ids = _ids(train_ids)
    speakers = table.speakers[train_ids]
    names, counts = np.unique(speakers, return_counts=True)
    if len(names) < 2:
        raise ValueError(
            f"speaker-disjoint validation needs at least two training speakers, found {len(names)}"
        )
    corpus_of = {s: table.corpora[train_ids][speakers == s][0] for s in names}
    most = {c: n // 2 for c, n in Counter(corpus_of.values()).items()}  # per corpus, in validation
    taken: Counter = Counter()
    size = dict(zip(names.tolist(), counts.tolist()))
    total = len(train_ids)
    target = fraction * total
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    chosen: list[str] = []
    n_val = 0
    for speaker in order:
        if n_val >= target:
            break
        if taken[corpus_of[speaker]] >= most[corpus_of[speaker]]:
            continue
        if n_val + size[speaker] > 1.5 * target:
            continue
        chosen.append(speaker)
        taken[corpus_of[speaker]] += 1
        n_val += size[speaker]
    if not chosen:
        allowed = [s for s in order if most[corpus_of[s]] >= 1] or order
        chosen = [min(allowed, key=lambda s: size[s])]
    if len(chosen) == len(names):  # cannot happen with the corpus rule, but never fit on nothing
        chosen = chosen[:-1]
    is_val = np.isin(speakers, chosen)
    return train_ids[~is_val], train_ids[is_val]


def speaker_folds(
    clip_speakers: Sequence[str], k: int = 5, seed: int = 0, clip_corpora: Sequence[str] | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """k (train, test) pairs of clip ids, grouped by speaker: each speaker is tested in exactly
    one fold and is never on both sides of a fold.

    Speakers go largest first (ties in a seeded order) to the fold with the fewest clips so far;
    ties between folds go to the fold with the fewest clips of the speaker's corpus, then to a
    seeded draw. Raises ValueError when there are fewer speakers than folds.
    """
    speakers = np.asarray(clip_speakers).astype(str)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k must be an integer of at least 2, got {k!r}")
    names, counts = np.unique(speakers, return_counts=True)
    if len(names) < k:
        raise ValueError(
            f"{k} speaker-grouped folds need at least {k} speakers, found {len(names)}"
            + (f" ({', '.join(names)})" if len(names) <= 10 else "")
            + "; use fewer folds (--folds)"
        )
    corpora = np.asarray(clip_corpora).astype(str) if clip_corpora is not None else np.full(len(speakers), "")
    corpus_of = {s: corpora[speakers == s][0] for s in names}
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(names))
    order = sorted(shuffled, key=lambda i: -counts[i])  # stable: ties keep the seeded order
    load = np.zeros(k, dtype=np.int64)
    corpus_load: dict[str, np.ndarray] = {}
    fold_of: dict[str, int] = {}
    for i in order:
        name = names[i]
        per_corpus = corpus_load.setdefault(corpus_of[name], np.zeros(k, dtype=np.int64))
        draw = rng.random(k)
        fold = int(np.lexsort((draw, per_corpus, load))[0])
        fold_of[name] = fold
        load[fold] += counts[i]
        per_corpus[fold] += counts[i]
    assignment = np.array([fold_of[s] for s in speakers], dtype=np.int64)
    folds = []
    for f in range(k):
        test = np.flatnonzero(assignment == f)
        train = np.flatnonzero(assignment != f)
        overlap = set(speakers[test]) & set(speakers[train])
        assert not overlap, f"speaker fold {f + 1}: speakers {sorted(overlap)} on both sides"
        folds.append((train, test))
    return folds


def random_protocol(
    table: ClipTable, test_size: float = 0.2, seed: int = 0, val_fraction: float = VALIDATION_FRACTION
) -> list[Split]:
    """[the random split], validation a stratified random share of the training clips."""
    train, test = random_clip_split(table.labels, test_size, seed)
    fit, val = clip_validation(train, table.labels, val_fraction, seed)
    split = Split("random", train, test, fit, val, "clip")
    check_split(split, table, grouped=False)
    return [split]


def speaker_protocol(
    table: ClipTable, k: int = 5, seed: int = 0, val_fraction: float = VALIDATION_FRACTION
) -> list[Split]:
    """The k speaker-grouped folds, each with speaker-disjoint validation from its training side."""
    splits = []
    for f, (train, test) in enumerate(speaker_folds(table.speakers, k, seed, table.corpora)):
        fit, val = speaker_validation(train, table, val_fraction, seed + f)
        split = Split(f"speaker-{f + 1}", _ids(train), _ids(test), fit, val, "speaker")
        check_split(split, table, grouped=True)
        splits.append(split)
    tested = np.concatenate([s.test for s in splits])
    assert len(tested) == len(table) and len(np.unique(tested)) == len(table), "folds do not cover every clip once"
    return splits


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def unweighted_average_recall(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """Mean recall over the classes present in y_true (= balanced accuracy); NaN when empty."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    classes = np.unique(y_true)
    if len(classes) == 0:
        return float("nan")
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> dict[str, Any]:
    """accuracy, uar, macro_f1, recall (per class, None where the class is absent), support and
    confusion (n_classes x n_classes, rows true, columns predicted) of integer predictions."""
    from sklearn.metrics import f1_score

    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of one length, got {y_true.shape} and {y_pred.shape}")
    n = len(y_true)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    support = confusion.sum(axis=1)
    recall = [float(confusion[c, c] / support[c]) if support[c] else None for c in range(n_classes)]
    present = [r for r in recall if r is not None]
    return {
        "n": int(n),
        "accuracy": float(np.mean(y_true == y_pred)) if n else float("nan"),
        "uar": float(np.mean(present)) if present else float("nan"),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)) if n else float("nan"),
        "recall": recall,
        "support": support.tolist(),
        "confusion": confusion.tolist(),
    }


def clip_probabilities(proba: np.ndarray, clip_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(clip ids, sorted; their mean window probabilities): a clip's prediction from its windows."""
    proba = np.asarray(proba, dtype=np.float64)
    clip_ids = np.asarray(clip_ids, dtype=np.int64)
    if proba.ndim != 2 or len(proba) != len(clip_ids):
        raise ValueError(f"need (n, classes) probabilities and n clip ids, got {proba.shape} and {clip_ids.shape}")
    ids, inverse = np.unique(clip_ids, return_inverse=True)
    sums = np.zeros((len(ids), proba.shape[1]))
    np.add.at(sums, inverse, proba)
    return ids, sums / np.bincount(inverse, minlength=len(ids))[:, None]


def evaluate_predictions(
    proba: np.ndarray,
    labels: Sequence[int],
    clip_ids: Sequence[int],
    corpora: Sequence[str],
    classes: Sequence[str],
) -> dict[str, Any]:
    """Metrics of window probabilities, {"window": ..., "clip": ...}, each {"overall": metrics,
    "per_corpus": {corpus: metrics}}. labels, clip_ids and corpora are per window; a clip's label
    and corpus are its windows'."""
    proba = np.asarray(proba)
    labels = np.asarray(labels, dtype=np.int64)
    clip_ids = np.asarray(clip_ids, dtype=np.int64)
    corpora = np.asarray(corpora).astype(str)
    k = len(classes)
    if proba.shape != (len(labels), k):
        raise ValueError(f"probabilities must have shape ({len(labels)}, {k}), got {proba.shape}")
    ids, clip_proba = clip_probabilities(proba, clip_ids)
    order = np.argsort(clip_ids, kind="stable")
    by_clip = order[np.searchsorted(clip_ids[order], ids)]  # one window of each clip
    clip_labels, clip_corpora = labels[by_clip], corpora[by_clip]
    # every window of a clip must carry the clip's label
    _, inverse = np.unique(clip_ids, return_inverse=True)
    if not np.array_equal(clip_labels[inverse], labels):
        raise ValueError("windows of one clip carry different labels")

    def level(p: np.ndarray, y: np.ndarray, c: np.ndarray) -> dict[str, Any]:
        pred = np.argmax(p, axis=1)
        return {
            "overall": classification_metrics(y, pred, k),
            "per_corpus": {name: classification_metrics(y[c == name], pred[c == name], k) for name in sorted(set(c.tolist()))},
        }

    return {"window": level(proba, labels, corpora), "clip": level(clip_proba, clip_labels, clip_corpora)}


def fold_summary(values: Sequence[float]) -> dict[str, Any]:
    """{"values", "mean", "std"} (population std, NaN-free values only)."""
    values = [float(v) for v in values]
    finite = [v for v in values if not math.isnan(v)]
    return {
        "values": values,
        "mean": float(np.mean(finite)) if finite else float("nan"),
        "std": float(np.std(finite)) if finite else float("nan"),
    }


# --------------------------------------------------------------------------------------------
# Confusion matrix plots
# --------------------------------------------------------------------------------------------


def plot_confusion(
    confusion: Sequence[Sequence[int]],
    classes: Sequence[str],
    path: str | Path,
    title: str = "",
    dpi: int = 100,
) -> Path:
    """Write a small PNG of a confusion matrix (counts, and row-normalised recall as colour).

    matplotlib is imported lazily and drawn on an Agg canvas (no display, pyplot untouched).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cm = np.asarray(confusion, dtype=np.int64)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    n = len(classes)
    size = 1.0 + 0.65 * n
    fig = Figure(figsize=(size + 0.3, size), dpi=dpi)
    FigureCanvasAgg(fig)  # the Agg canvas, whatever backend pyplot may be using
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{cm[i, j]}\n{share[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(n), labels=list(classes), fontsize=7)
    ax.set_yticks(range(n), labels=list(classes), fontsize=7)
    ax.set_xlabel("predicted", fontsize=7)
    ax.set_ylabel("true", fontsize=7)
    if title:
        ax.set_title(title, fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def corpus_protocol(table: ClipTable, seed: int = 0, val_fraction: float = VALIDATION_FRACTION) -> list[Split]:
    """Leave one corpus out: a split per corpus, tested on it and trained on every other corpus
    (validation: whole speakers of the training corpora). Empty when there is only one corpus."""
    corpora = sorted(set(table.corpora.tolist()))
    if len(corpora) < 2:
        return []
    splits = []
    for f, corpus in enumerate(corpora):
        test = np.flatnonzero(table.corpora == corpus)
        train = np.flatnonzero(table.corpora != corpus)
        fit, val = speaker_validation(train, table, val_fraction, seed + f)
        split = Split(f"corpus:{corpus}", _ids(train), _ids(test), fit, val, "speaker")
        check_split(split, table, grouped=True)
        splits.append(split)
    return splits
