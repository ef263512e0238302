"""One training run: index, windows, both evaluation protocols, the final fit, the run folder.

`run_training(RunConfig(data=...))` does what `tonecue-train` does (the CLI only parses
arguments and reports errors):

1. index the corpus folder (`build_index`) and cut it into windows (`extract_windows`, cached);
2. the **random** protocol (the seed's 80/20 clip split) and the **speaker** protocol (k
   speaker-grouped folds), see `tonecue.train.evaluate`. In every split, featurewiz selects the
   statistics on the split's TRAINING windows only (a stratified subsample of
   `featurewiz_rows`), then the classic models (RF, SVM, DT: `fit_classic`) fit on all training
   windows, and the nets (1D CNN on the selected statistics, 2D CNN on images, CNN-BiLSTM on
   sequences) fit on the fit side with early stopping on the validation side; the test windows
   are predicted and collected. Speaker-fold predictions are pooled out of fold;
3. the **final** fit on all clips (features selected on all of them; the nets stop early on
   speaker-disjoint validation speakers), saved for export;
4. the run folder (`tonecue.train.runfolder`): run.json (the training configuration, the
   selected features, the model files), models/, results.json (with the same configuration),
   results.md (`tonecue.train.report`), corpus.json (the index report), windows.json (the
   extraction report, skipped clips included) and confusion/*.png.

What each model is, reads and costs comes from its record in `tonecue.train.models`. The budget
(`Budget`, from the records' budgets) keeps a full run on the 1,593-clip dev corpus well under 20
minutes on two CPU cores: featurewiz sees a stratified sample of at most 3,000 training windows per
split, and the nets' epochs are capped, always keeping the best validation epoch. Every stage is
timed and reported.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from tonecue.edge.errors import TonecueError
from tonecue.edge.frontend import KINDS, VECTOR_KINDS, frontend_for
from tonecue.edge.normalize import (
    NormalizationSettings,
    SpeakerNormalizer,
    cold_normalize,
    normalize_per_speaker,
    speaker_statistics,
)
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.speech import DetectorSettings
from tonecue.train import evaluate as ev
from tonecue.train import models as registry
from tonecue.train import runfolder
from tonecue.train.report import render_markdown
from tonecue.train.runfolder import write_json

__all__ = [
    "Budget",
    "RunConfig",
    "RunError",
    "parse_models",
    "run_training",
]


class RunError(TonecueError, ValueError):
    """A run that cannot go ahead with this data or these settings (a clear message, no traceback)."""


def _net_budgets(attribute: str) -> dict[str, Any]:
    return {k.name: getattr(k, attribute) for k in registry.kinds("net")}


@dataclass(frozen=True)
class Budget:
    """What keeps a run affordable: featurewiz's sample and, per net, its epochs and patience
    (None: no early stopping). Defaults: the records' budgets (`tonecue.train.models`)."""

    featurewiz_rows: int = 3000
    epochs: dict = field(default_factory=lambda: {n: b.epochs for n, b in _net_budgets("budget").items()})
    patience: dict = field(default_factory=lambda: {n: b.patience for n, b in _net_budgets("budget").items()})

    @classmethod
    def quick(cls) -> Budget:
        """--quick: a smoke run (tiny epochs, small featurewiz sample). Its numbers mean nothing."""
        budgets = _net_budgets("quick_budget")
        return cls(featurewiz_rows=400, epochs={n: b.epochs for n, b in budgets.items()},
                   patience={n: b.patience for n, b in budgets.items()})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunConfig:
    """The settings of a run (the CLI's flags)."""

    data: Path | Sequence[Path]  # one corpus folder, or several (e.g. ser-en-dev and crema-d)
    out: Path | None = None  # None: runs/<timestamp>/ under the current folder
    models: tuple[str, ...] = field(default_factory=registry.all_names)
    folds: int = 5
    seed: int = 0
    cache: Any = None  # None: the default feature cache; False: none; else a folder
    workers: int | None = None
    calm_as_neutral: bool = False
    quick: bool = False
    test_size: float = 0.2
    val_fraction: float = ev.VALIDATION_FRACTION
    featurewiz_corr_limit: float = 0.7  # SULOV keeps one of each pair correlated above this
    spec: FrontendSpec = field(default_factory=FrontendSpec)  # the frontend every window goes through
    detector: DetectorSettings = field(default_factory=DetectorSettings)  # Silero VAD picks the voiced windows
    normalization: str = "none"  # "speaker": the vector input standardized per speaker (tonecue.edge.normalize)
    exclude_speakers: tuple[str, ...] = ()  # speaker ids never trained on (e.g. benchmarks/heldout.json)
    noise: Path | None = None  # the ESC-10 folder (../shared/data/noise/esc10): augmentation and test noise
    augment: int = 0  # augmented copies of every training clip (tonecue.train.augment, ESC-10 folds 1-3)
    snr: tuple[float, ...] = ()  # test conditions: ESC-10 fold 5 at these SNRs (tonecue.train.conditions)
    gain_guard: bool = False  # test condition: a random gain of 10-20 dB up or down
    budget: Budget | None = None  # None: Budget(), or Budget.quick() with quick
    command: str | None = None  # recorded in the results

    @property
    def effective_budget(self) -> Budget:
        if self.budget is not None:
            return self.budget
        return Budget.quick() if self.quick else Budget()


def parse_models(text: str | Sequence[str]) -> tuple[str, ...]:
    """"rf,svm,dt,cnn1d,cnn2d,crnn" (any subset, any order, aliases such as "tree"; "all": the
    seed's six, `models.all_names()`) -> names in registry order."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = []
    for item in items:
        name = item.strip().lower()
        if not name:
            continue
        if name == "all":
            names.extend(registry.all_names())
            continue
        try:
            names.append(registry.resolve(name))
        except registry.ModelKindError as exc:
            raise RunError(str(exc)) from None
    if not names:
        raise RunError(f"no model chosen; choose from {', '.join(registry.names())}")
    return tuple(n for n in registry.names() if n in set(names))


# --------------------------------------------------------------------------------------------
# Timing and progress
# --------------------------------------------------------------------------------------------


class _Clock:
    """Wall time per stage (summed over repeats) and progress lines with the elapsed time."""

    def __init__(self, log: Callable[[str], None] | None) -> None:
        self.start = time.perf_counter()
        self.stages: dict[str, float] = {}
        self._log = log

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def log(self, text: str) -> None:
        if self._log is not None:
            self._log(f"[{self.elapsed():7.1f} s] {text}")

    @contextmanager
    def stage(self, name: str) -> Iterator[dict]:
        info: dict[str, float] = {}
        t0 = time.perf_counter()
        try:
            yield info
        finally:
            info["seconds"] = time.perf_counter() - t0
            self.stages[name] = self.stages.get(name, 0.0) + info["seconds"]


# --------------------------------------------------------------------------------------------
# One split
# --------------------------------------------------------------------------------------------


def _subsample(rows: np.ndarray, labels: np.ndarray, strata: np.ndarray, n: int, seed: int) -> np.ndarray:
    """At most n of `rows`, stratified by `strata` (falling back to labels), sorted."""
    if len(rows) <= n:
        return rows
    from sklearn.model_selection import train_test_split

    for key in (strata, labels):
        _, counts = np.unique(key, return_counts=True)
        if counts.min() >= 2 and len(counts) <= n:
            picked, _ = train_test_split(rows, train_size=n, random_state=seed, stratify=key)
            return np.sort(picked)
    return np.sort(np.random.default_rng(seed).choice(rows, n, replace=False))


@dataclass
class _Fitted:
    """What one split (or the final fit) produced."""

    name: str
    selected: list[str] | None = None
    test_windows: np.ndarray | None = None
    proba: dict[str, np.ndarray] = field(default_factory=dict)
    # With speaker normalization, `proba` is the device's online estimate; these are the others
    # ("cold": the prior alone; "full": each test speaker's own statistics, the optimistic bound).
    variants: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    prior: NormalizationSettings | None = None


def _fit_split(
    ws,
    name: str,
    train_clips: np.ndarray,
    fit_clips: np.ndarray,
    val_clips: np.ndarray,
    test_clips: np.ndarray | None,
    models: Sequence[str],
    budget: Budget,
    corr_limit: float,
    seed: int,
    threads: int,
    clock: _Clock,
    label: str,
    normalized: str | None = None,
    copies: np.ndarray | None = None,
) -> _Fitted:
    """Select features on the training windows, fit every model, predict the test windows.

    normalized: the vector input standardized per speaker (derived once in `run_training`), or None.
    copies: which rows of `ws` are augmented copies (`_with_copies`): they train and fit, never
    validate or test."""
    from tonecue.train.classic import fit_classic, select_features
    from tonecue.train.nets import fit_net, make_net

    kinds = {m: registry.get(m) for m in models}

    out = _Fitted(name)
    k = len(ws.classes)
    clean = np.ones(len(ws), dtype=bool) if copies is None else ~copies
    train_w = np.flatnonzero(np.isin(ws.clip_ids, train_clips))
    fit_w = np.flatnonzero(np.isin(ws.clip_ids, fit_clips))
    val_w = np.flatnonzero(np.isin(ws.clip_ids, val_clips) & clean)
    test_w = None if test_clips is None else np.flatnonzero(np.isin(ws.clip_ids, test_clips) & clean)
    out.test_windows = test_w
    out.info = {"train_windows": int(len(train_w)), "fit_windows": int(len(fit_w)), "val_windows": int(len(val_w)),
                "test_windows": None if test_w is None else int(len(test_w)),
                "augmented_train_windows": int(np.count_nonzero(~clean[train_w])), "models": {}}
    labels = ws.labels
    frontend = frontend_for(ws.spec)
    # The vector inputs (stats, paraling) the models read, raw or speaker-normalized.
    vectors = {kind.input_kind: ws.features[kind.input_kind] for kind in kinds.values() if kind.input_kind in VECTOR_KINDS}
    test_variants: dict[str, np.ndarray] = {}
    cold_train = None
    if normalized is not None:
        vectors[normalized], test_variants, cold_train, out.prior = _normalize_split(
            ws, vectors[normalized], train_w, test_w, seed)

    if any(kind.reads_selection for kind in kinds.values()):
        stats, names = vectors["stats"], frontend.feature_names("stats")
        rows = _subsample(train_w, labels[train_w],
                          np.char.add(ws.corpora[train_w], labels[train_w].astype(str)), budget.featurewiz_rows, seed)
        with clock.stage("featurewiz") as t:
            out.selected = select_features(stats[rows], labels[rows], names, corr_limit=corr_limit, seed=seed)
        out.info["featurewiz"] = {"rows": int(len(rows)), "of": int(len(train_w)),
                                  "selected": len(out.selected), "seconds": round(t["seconds"], 2),
                                  "features": list(out.selected)}
        clock.log(f"{label} featurewiz: {len(out.selected)} of {len(names)} statistics, from "
                  f"{len(rows)} of {len(train_w)} training windows ({t['seconds']:.1f} s)")

    for model, kind in kinds.items():
        selected = out.selected if kind.reads_selection else None
        variants = test_variants if kind.input_kind == normalized else {}
        with clock.stage(model) as t:
            if kind.family == "classic":
                X = vectors[kind.input_kind]
                X_fit, y_fit = X[train_w], labels[train_w]
                if kind.input_kind == normalized:  # online-matched: each window also as from a voice just met
                    X_fit, y_fit = np.vstack([X_fit, cold_train]), np.concatenate([y_fit, y_fit])
                fitted = fit_classic(model, X_fit, y_fit, frontend.feature_names(kind.input_kind), selected,
                                     seed=seed, n_classes=k, **({"n_jobs": threads} if kind.n_jobs else {}))
                detail = f"{len(X_fit)} windows"
                info: dict[str, Any] = {"fit_rows": int(len(X_fit))}
            else:
                X = selection_of(vectors.get(kind.input_kind, ws.features[kind.input_kind]), selected, ws.spec)
                net = make_net(model, X.shape[1:], k)
                fitted, history = fit_net(
                    net, X[fit_w], labels[fit_w], X[val_w], labels[val_w],
                    epochs=budget.epochs[model], patience=budget.patience[model], seed=seed,
                    num_threads=threads,
                )
                best = history.epochs[history.best_epoch - 1]
                info = {"epochs": len(history.epochs), "best_epoch": history.best_epoch,
                        "val_uar": round(best.val_uar, 4), "stopped_early": history.stopped_early,
                        "device": history.device}
                detail = (f"{len(history.epochs)} epochs (best {history.best_epoch}, val UAR "
                          f"{best.val_uar:.3f}) on {history.device}")
            if test_w is not None:
                whole = vectors.get(kind.input_kind, ws.features[kind.input_kind])
                out.proba[model] = predict(kind, fitted, whole[test_w], selected, ws.spec)
                out.variants[model] = {v: predict(kind, fitted, x, selected, ws.spec) for v, x in variants.items()}
            out.models[model] = fitted
        info["seconds"] = round(t["seconds"], 2)
        out.info["models"][model] = info
        clock.log(f"{label} {model}: {detail} ({t['seconds']:.1f} s)")
    return out


def _normalize_split(ws, stats: np.ndarray, train_w: np.ndarray, test_w: np.ndarray | None, seed: int):
    """Speaker normalization of one split's vector input (see tonecue.edge.normalize).

    Training windows: each speaker standardized by its own statistics, and (for the classic models)
    the same windows once more standardized by the prior alone, as the device hears a voice it has
    just met, so that the model also works before it has adapted ("online-matched"; without it a
    per-speaker model is far worse than an unnormalized one for the first clips of a voice). Test windows, as the device
    meets a voice: the online estimate (`SpeakerNormalizer`, from the training side's prior, over
    each test speaker's clips in a seeded random order: a conversation does not come sorted by
    emotion); also "cold" (the prior alone) and "full" (the speaker's own statistics, optimistic).
    Returns (the split's statistics, {variant: test statistics}, the training windows normalized by
    the prior, the prior as settings).
    """
    mean, std = speaker_statistics(stats[train_w], ws.speakers[train_w])
    prior = NormalizationSettings(kind="speaker", mean=tuple(mean), std=tuple(std))
    out = np.array(stats, dtype=np.float32, copy=True)
    out[train_w] = normalize_per_speaker(stats[train_w], ws.speakers[train_w])
    variants: dict[str, np.ndarray] = {}
    cold_train = cold_normalize(stats[train_w], prior)
    if test_w is not None and len(test_w):
        out[test_w] = online_normalized(ws, stats, test_w, prior, seed)
        variants = {
            "cold": cold_normalize(stats[test_w], prior),
            "full": normalize_per_speaker(stats[test_w], ws.speakers[test_w]),
        }
    return out, variants, cold_train, prior


def online_normalized(ws, X: np.ndarray, rows: np.ndarray, prior: NormalizationSettings, seed: int) -> np.ndarray:
    """The rows of X as the device normalizes them (`SpeakerNormalizer`, starting from `prior`):
    each speaker's clips heard one after another in a seeded random order (a conversation does not
    come sorted by emotion), its windows in stream order."""
    spec = ws.spec
    hop_seconds = spec.hop_seconds(ws.hop_frames)
    rng = np.random.default_rng(seed)
    online = np.empty((len(rows), X.shape[1]), dtype=np.float32)
    position = {w: i for i, w in enumerate(rows)}
    for speaker in np.unique(ws.speakers[rows]):
        mine = rows[ws.speakers[rows] == speaker]
        normalizer, heard = SpeakerNormalizer(prior, hop_seconds), 0
        for clip in rng.permutation(np.unique(ws.clip_ids[mine])):
            for w in mine[ws.clip_ids[mine] == clip]:
                online[position[w]] = normalizer(X[w], heard * hop_seconds)
                heard += 1
    return online


def selection_of(X: np.ndarray, selected: Sequence[str] | None, spec: FrontendSpec) -> np.ndarray:
    """The columns of the statistics X that featurewiz selected (all of X when nothing was)."""
    if selected is None:
        return X
    names = spec.stats_feature_names()
    return X[:, np.array([names.index(s) for s in selected], dtype=np.int64)]


def predict(kind, fitted: Any, X: np.ndarray, selected: Sequence[str] | None, spec: FrontendSpec) -> np.ndarray:
    """A fitted model's probabilities for rows of its whole input (a classic model picks its own
    columns; a net that reads the selection gets the selected columns)."""
    if kind.family == "classic":
        return fitted.predict_proba(X)
    from tonecue.train.nets import predict_proba

    return predict_proba(fitted, selection_of(X, selected if kind.reads_selection else None, spec), device=None)


def _bandwidth_hz(index) -> float | None:
    """Half the lowest native sample rate among the clips: the band every training clip filled."""
    import soundfile

    rates = []
    for clip in index.clips:
        try:
            rates.append(soundfile.info(str(clip.path)).samplerate)
        except Exception:  # unreadable clips are skipped (and reported) by the window extraction
            continue
    return min(rates) / 2 if rates else None


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def _hardware() -> dict[str, Any]:
    import torch

    from tonecue.edge.machine import describe_machine
    from tonecue.train.nets import pick_device

    device = pick_device()
    machine = describe_machine()
    return {
        "cpu": machine["cpu"],
        "cores": machine["cores"],
        "usable_cores": machine["usable_cores"],
        "torch_device": str(device),
        "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("tonecue", "numpy", "torch", "scikit-learn", "featurewiz", "xgboost", "matplotlib"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def _default_out() -> Path:
    return Path("runs") / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def _check_out(out: Path | None) -> Path:
    """The run folder to write (checked before the work starts, created when the results are ready)."""
    out = _default_out() if out is None else Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunError(f"the run folder {out} already exists and is not empty; choose another --out")
    return out


def _metrics(ws, windows: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    return ev.evaluate_predictions(proba, ws.labels[windows], ws.clip_ids[windows], ws.corpora[windows], ws.classes)


def _training_config(config: RunConfig, models: Sequence[str], budget: Budget, index, ws,
                     excluded: Sequence[str], prior: NormalizationSettings | None, bandwidth: float | None,
                     augmentation: dict[str, Any] | None, conditions: dict[str, Any]) -> dict[str, Any]:
    """The full training configuration (`tonecue.train.runfolder.CONFIG_KEYS`), recorded in
    run.json and results.json alike: what the run was told, and every hyperparameter it used."""
    return {
        "data": str(index.root),
        "models": list(models),
        "seed": config.seed,
        "folds": config.folds,
        "test_size": config.test_size,
        "val_fraction": config.val_fraction,
        "quick": config.quick,
        "label_map": index.label_map.to_dict(),
        "frontend": ws.spec.to_dict(),
        "hop_frames": ws.hop_frames,
        "gate": ws.gate.to_dict(),
        "detector": ws.detector.to_dict(),
        "exclude_speakers": list(excluded),
        "normalization": (prior or NormalizationSettings()).to_dict(),
        "bandwidth_hz": bandwidth,
        "augmentation": augmentation,
        "conditions": conditions,
        "budget": budget.as_dict(),
        "featurewiz_corr_limit": config.featurewiz_corr_limit,
        "hyperparameters": {m: registry.get(m).hyperparameters(config.seed) for m in models},
    }


def run_training(config: RunConfig, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run everything (see the module docstring); returns the results dict (also results.json).

    Raises CorpusError (from build_index) for an unusable folder or label map, RunError for data
    that cannot give the requested protocols, FeatureSelectionError when featurewiz fails.
    """
    import torch

    from tonecue.train.corpus import LabelMap, build_index_of, without_speakers
    from tonecue.train.windows import extract_windows

    models = parse_models(config.models)
    budget = config.effective_budget
    if isinstance(config.folds, bool) or not isinstance(config.folds, int) or config.folds < 2:
        raise RunError(f"--folds must be an integer of at least 2, got {config.folds!r}")
    if config.workers is not None and config.workers < 1:
        raise RunError(f"--workers must be at least 1, got {config.workers}")
    if config.normalization not in ("none", "speaker"):
        raise RunError(f"normalization must be 'none' or 'speaker', got {config.normalization!r}")
    if isinstance(config.augment, bool) or not isinstance(config.augment, int) or config.augment < 0:
        raise RunError(f"--augment must be a whole number of copies, got {config.augment!r}")
    if (config.augment or config.snr) and config.noise is None:
        raise RunError("--augment and --snr mix in ESC-10 noise: give its folder with --noise")
    input_kinds = tuple(k for k in KINDS if k in {registry.get(m).input_kind for m in models})
    vector_kinds = [k for k in input_kinds if k in VECTOR_KINDS]
    if config.normalization == "speaker" and len(vector_kinds) > 1:
        raise RunError(
            f"speaker normalization keeps one prior per run, but these models read {' and '.join(vector_kinds)}; "
            "train them in separate runs"
        )
    # The one vector input a speaker-normalized run standardizes (None: no normalization).
    normalized = vector_kinds[0] if config.normalization == "speaker" and vector_kinds else None
    unbudgeted = [m for m in models if registry.get(m).family == "net" and m not in budget.epochs]
    if unbudgeted:
        raise RunError(f"the budget gives no epochs for {', '.join(unbudgeted)}")
    # The noise banks first: a wrong --noise folder is said before any work.
    from tonecue.train.conditions import conditions

    transforms = conditions(config.noise, config.snr, config.gain_guard)
    augmenter = None
    if config.augment:
        from tonecue.train.augment import Augmenter
        from tonecue.train.noise import TRAIN_FOLDS, NoiseBank

        augmenter = Augmenter(NoiseBank(config.noise, TRAIN_FOLDS))
    clock = _Clock(log)
    created = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    threads_before = torch.get_num_threads()
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    try:
        # -- data -------------------------------------------------------------------------------
        with clock.stage("index"):
            index = build_index_of(config.data, LabelMap(calm_as_neutral=config.calm_as_neutral))
            index, excluded = without_speakers(index, config.exclude_speakers)
            bandwidth = _bandwidth_hz(index)
        clock.log(f"indexed {len(index)} clips of {', '.join(index.corpora)} under {index.root}"
                  + (f", leaving out {len(excluded)} speakers ({', '.join(excluded)})" if excluded else "")
                  + (f"; the narrowest clips fill {bandwidth:.0f} Hz" if bandwidth else ""))
        if log is not None:
            log(index.format_table())
        out = _check_out(config.out)
        clock.log(f"run folder (written at the end): {out}")
        def windows_of(transform=None, variant: int = 0):
            """The corpus's windows as training cuts them, through a clip transform if given."""
            return extract_windows(index, spec=config.spec, kinds=input_kinds, detector=config.detector,
                                   cache_dir=config.cache, workers=config.workers, progress=log is not None,
                                   transform=transform, variant=variant)

        with clock.stage("windows"):
            ws = windows_of()
        report = ws.report
        clock.log(f"windows: {len(ws)} kept of {report['windows_total']} cut from {report['clips_read']} clips "
                  f"(cache hits {report['cache']['hits']}, misses {report['cache']['misses']}; "
                  f"{len(report['clips_skipped'])} clips skipped)")

        augmentation, train_ws, copies = None, ws, None
        if augmenter is not None:
            from tonecue.train.windows import with_copies

            augmentation = {"copies": config.augment, "transform": augmenter.describe()}
            with clock.stage("augmented windows"):
                made = [windows_of(augmenter, v) for v in range(1, config.augment + 1)]
            train_ws, copies = with_copies(ws, made)
            clock.log(f"augmented: {config.augment} cop{'y' if config.augment == 1 else 'ies'} of every clip "
                      f"({augmenter.summary()}): {int(copies.sum())} more training windows")
        for skipped in report["clips_skipped"]:
            clock.log(f"  skipped {skipped['path']}: {skipped['reason']}")
        per_class = np.bincount(ws.clip_labels, minlength=len(ws.classes))
        empty = [c for c, n in zip(ws.classes, per_class) if n == 0]
        if empty:
            raise RunError(f"no readable clip left for class(es) {', '.join(empty)} (see the skipped clips)")
        table = ev.clip_table(ws)
        n_speakers = len(set(table.speakers.tolist()))
        if n_speakers < config.folds:
            raise RunError(
                f"{config.folds} speaker-grouped folds need at least {config.folds} speakers; "
                f"the readable clips have {n_speakers}. Use --folds {max(2, n_speakers)} or add speakers"
            )
        if n_speakers < 3:
            raise RunError(f"speaker-grouped evaluation needs at least 3 speakers, found {n_speakers}")

        random_splits = ev.random_protocol(table, config.test_size, config.seed, config.val_fraction)
        speaker_splits = ev.speaker_protocol(table, config.folds, config.seed, config.val_fraction)
        corpus_splits = ev.corpus_protocol(table, config.seed, config.val_fraction)

        # -- protocols --------------------------------------------------------------------------
        fitted: dict[str, _Fitted] = {}
        all_splits = ([("random", s) for s in random_splits] + [("speaker", s) for s in speaker_splits]
                      + [("corpus", s) for s in corpus_splits])
        for protocol, split in all_splits:
            if protocol == "random":
                label = "random split"
            elif protocol == "corpus":
                label = f"leave out {split.name.split(':', 1)[1]}"
            else:
                label = f"speaker fold {split.name.split('-')[1]}/{config.folds}"
            clock.log(f"{label}: train {len(split.train)} clips (fit {len(split.fit)}, val {len(split.val)} "
                      f"by {split.val_by}), test {len(split.test)} clips")
            with clock.stage(f"protocol:{protocol}"):
                fitted[split.name] = _fit_split(train_ws, split.name, split.train, split.fit, split.val, split.test,
                                                models, budget, config.featurewiz_corr_limit, config.seed, threads,
                                                clock, label, normalized, copies)

        protocols = _protocol_results(ws, table, models, random_splits, speaker_splits, corpus_splits, fitted)

        # -- test conditions: the same models through noise and gains ---------------------------
        from tonecue.train.conditions import evaluate_condition

        for name, transform in transforms.items():
            with clock.stage(f"condition:{name}"):
                heard = windows_of(transform)
                for protocol, splits in (("speaker", speaker_splits), ("corpus", corpus_splits)):
                    if protocol in protocols:
                        protocols[protocol].setdefault("conditions", {})[name] = evaluate_condition(
                            ws, heard, splits, fitted, models, normalized, config.seed)
            summary = ", ".join(f"{m} {protocols['speaker']['conditions'][name][m]['online']['clip_uar']:.3f}" for m in models)
            clock.log(f"condition {name} ({len(heard)} windows): speaker-grouped clip UAR {summary}")

        # -- final fit --------------------------------------------------------------------------
        all_clips = np.arange(len(ws.clips))
        fit_clips, val_clips = ev.speaker_validation(all_clips, table, config.val_fraction, config.seed)
        final_split = ev.Split("final", all_clips, np.zeros(0, np.int64), fit_clips, val_clips, "speaker")
        clock.log(f"final fit: {len(all_clips)} clips (nets: fit {len(fit_clips)}, val {len(val_clips)} by speaker)")
        with clock.stage("final fit"):
            final = _fit_split(train_ws, "final", all_clips, fit_clips, val_clips, None, models, budget,
                               config.featurewiz_corr_limit, config.seed, threads, clock, "final",
                               normalized, copies)

        # -- the run folder ---------------------------------------------------------------------
        training = _training_config(config, models, budget, index, ws, excluded, final.prior, bandwidth,
                                    augmentation, {name: t.describe() for name, t in transforms.items()})
        with clock.stage("write"):
            out = _check_out(out)  # still new or empty?
            files = runfolder.write_run(out, created=created, config=training, selected=final.selected,
                                        models=final.models)
            write_json(out / "corpus.json", index.to_report())
            write_json(out / "windows.json", report)
            plots = {}
            for protocol in ("speaker", "random"):
                for model in models:
                    cm = protocols[protocol]["models"][model]["clip"]["overall"]["confusion"]
                    uar = protocols[protocol]["models"][model]["clip"]["overall"]["uar"]
                    path = out / "confusion" / f"{model}_{protocol}_clip.png"
                    title = f"{registry.get(model).title}, {'speaker-grouped' if protocol == 'speaker' else 'random'} split, clips (UAR {uar:.3f})"
                    ev.plot_confusion(cm, ws.classes, path, title)
                    plots[f"{model}_{protocol}_clip"] = path.relative_to(out).as_posix()

        stages = {name: round(seconds, 2) for name, seconds in clock.stages.items()}
        results = {
            "created": created,
            "command": config.command,
            "quick": config.quick,
            "data": {**_data_summary(index, ws, table), "augmented_windows": 0 if copies is None else int(copies.sum())},
            "classes": list(ws.classes),
            "config": training,
            "hardware": _hardware(),
            "versions": _versions(),
            "protocols": protocols,
            "final": {
                "split": final_split.describe(table),
                "models": {m: {"file": Path(p).relative_to(out).as_posix(), **final.info["models"][m]}
                           for m, p in files.items()},
                "featurewiz": final.info.get("featurewiz"),
            },
            "confusion_png": plots,
            "timing": {
                "stages": stages,
                "per_model": {m: stages.get(m, 0.0) for m in models},
                "total_seconds": round(clock.elapsed(), 2),
            },
            "run_folder": str(out),
        }
        results["summary"] = _summary(results)
        write_json(out / runfolder.RESULTS, results)
        (out / "results.md").write_text(render_markdown(results))
        clock.log(f"done in {clock.elapsed():.1f} s; results in {out / 'results.md'}")
        return results
    finally:
        torch.set_num_threads(threads_before)


def _data_summary(index, ws, table: ev.ClipTable) -> dict[str, Any]:
    report = ws.report
    corpora = {}
    for corpus in index.corpora:
        in_corpus = ws.corpora == corpus
        clips = table.corpora == corpus
        corpora[corpus] = {
            "clips": int(clips.sum()),
            "speakers": len(set(table.speakers[clips].tolist())),
            "windows": int(in_corpus.sum()),
            "clips_per_class": {c: int(n) for c, n in zip(ws.classes, np.bincount(table.labels[clips], minlength=len(ws.classes)))},
        }
    return {
        "root": str(index.root),
        "corpora": corpora,
        "clips_indexed": len(index),
        "clips": len(ws.clips),
        "speakers": len(set(table.speakers.tolist())),
        "windows": len(ws),
        "windows_cut": report["windows_total"],
        "windows_per_class": report["windows_per_class"],
        "clips_skipped": report["clips_skipped"],
        "clips_without_voice": len(report["clips_without_voice"]),
        "seconds_audio": report["seconds_audio"],
        "feature_cache": {"hits": report["cache"]["hits"], "misses": report["cache"]["misses"]},
    }


def _pooled(ws, splits, fitted, models) -> dict[str, Any]:
    """Metrics of out-of-split predictions pooled over splits that test every window once, with
    the per-split UAR and, under speaker normalization, the cold and full variants. No splits
    (leave-one-corpus-out on a single corpus): no results."""
    if not splits:
        return {}
    results = {}
    for m in models:
        windows, proba = _pooled_proba(ws, splits, fitted, m)
        result = _metrics(ws, windows, proba)
        per_split = [_metrics(ws, fitted[s.name].test_windows, fitted[s.name].proba[m]) for s in splits]
        result["per_fold_uar"] = {
            level: ev.fold_summary([f[level]["overall"]["uar"] for f in per_split]) for level in ("window", "clip")
        }
        variants = fitted[splits[0].name].variants.get(m) or {}
        if variants:
            result["normalization"] = {
                v: _metrics(ws, windows, np.concatenate([fitted[s.name].variants[m][v] for s in splits]))
                for v in variants
            }
        results[m] = result
    return results


def _pooled_proba(ws, splits, fitted, model: str) -> tuple[np.ndarray, np.ndarray]:
    """The windows of splits that test every window once, and the model's probabilities for them."""
    windows = np.concatenate([fitted[s.name].test_windows for s in splits])
    if len(windows) != len(ws) or len(np.unique(windows)) != len(ws):
        raise AssertionError("the splits did not predict every window exactly once")
    return windows, np.concatenate([fitted[s.name].proba[model] for s in splits])


def _calibrations(ws, models, speaker_splits, corpus_splits, fitted) -> dict[str, dict[str, Any]]:
    """Each model's temperature (tonecue.train.calibrate), fitted on the speaker-grouped
    out-of-fold windows, as the device would score them; checked on the leave-one-corpus-out
    windows it was not fitted on."""
    from tonecue.train.calibrate import calibration_report, fit_temperature

    out = {}
    for m in models:
        windows, proba = _pooled_proba(ws, speaker_splits, fitted, m)
        labels = ws.labels[windows]
        temperature = fit_temperature(proba, labels)
        out[m] = {"temperature": round(temperature, 4),
                  "fitted_on": "speaker-grouped out-of-fold windows",
                  "speaker": calibration_report(proba, labels, temperature)}
        if corpus_splits:
            windows, proba = _pooled_proba(ws, corpus_splits, fitted, m)
            out[m]["corpus"] = calibration_report(proba, ws.labels[windows], temperature)
    return out


def _protocol_results(ws, table, models, random_splits, speaker_splits, corpus_splits, fitted) -> dict[str, Any]:
    random_split = random_splits[0]
    rnd = fitted[random_split.name]
    random_result = {
        "description": (
            "the seed's protocol: a random, class-stratified 80/20 split of clips (seeded); windows follow "
            "their clip; the same speakers are on both sides. Nets stop early on a stratified random 15% "
            "of the training clips (same speakers)."
        ),
        "splits": [random_split.describe(table) | {"featurewiz": rnd.info.get("featurewiz"),
                                                   "models": rnd.info["models"]}],
        "models": {m: _metrics(ws, rnd.test_windows, rnd.proba[m]) for m in models},
    }
    speaker_models = _pooled(ws, speaker_splits, fitted, models)
    speaker_result = {
        "description": (
            f"{len(speaker_splits)} speaker-grouped folds (no speaker on both sides of any fold); speakers go "
            "largest first to the fold with the fewest clips; out-of-fold predictions pooled (every clip "
            "predicted once). Nets stop early on whole training speakers (~15% of the training clips), "
            "never on test speakers."
        ),
        "splits": [s.describe(table) | {"featurewiz": fitted[s.name].info.get("featurewiz"),
                                        "models": fitted[s.name].info["models"]} for s in speaker_splits],
        "models": speaker_models,
    }
    protocols = {"speaker": speaker_result, "random": random_result}
    for m, calibration in _calibrations(ws, models, speaker_splits, corpus_splits, fitted).items():
        speaker_models[m]["calibration"] = calibration
    if not corpus_splits:  # one corpus: nothing to leave out
        return protocols
    protocols["corpus"] = {
        "description": (
            "leave one corpus out: each corpus is tested by models trained on the others alone (the nearest "
            "proxy for voices from elsewhere); nets stop early on whole training speakers."
        ),
        "splits": [s.describe(table) | {"featurewiz": fitted[s.name].info.get("featurewiz"),
                                        "models": fitted[s.name].info["models"]} for s in corpus_splits],
        "models": _pooled(ws, corpus_splits, fitted, models),
    }
    return protocols


def _summary(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for m in results["config"]["models"]:
        spk = results["protocols"]["speaker"]["models"][m]
        rnd = results["protocols"]["random"]["models"][m]
        rows.append({
            "model": m,
            "speaker_uar_clip": spk["clip"]["overall"]["uar"],
            "speaker_uar_window": spk["window"]["overall"]["uar"],
            "speaker_fold_uar_clip_mean": spk["per_fold_uar"]["clip"]["mean"],
            "speaker_fold_uar_clip_std": spk["per_fold_uar"]["clip"]["std"],
            "random_uar_clip": rnd["clip"]["overall"]["uar"],
            "random_uar_window": rnd["window"]["overall"]["uar"],
        })
        corpus = results["protocols"].get("corpus", {}).get("models", {}).get(m)
        rows[-1]["corpus_uar_clip_mean"] = corpus["per_fold_uar"]["clip"]["mean"] if corpus else None
        for variant in ("cold", "full"):
            entry = spk.get("normalization", {}).get(variant)
            rows[-1][f"speaker_uar_clip_{variant}"] = entry["clip"]["overall"]["uar"] if entry else None
    return rows
