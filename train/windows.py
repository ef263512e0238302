"""Every clip of a corpus cut into voiced windows and featurized by the device's own frontend.

`extract_windows(index)` is the bridge from the corpus index to the models:

1. each clip is read with `tonecue.edge.audio.load_audio` at the spec's sample rate;
2. it is cut into windows by `tonecue.edge.frontend.clip_windows`, `hop_frames` frames apart
   (default 22 frames = 11,264 samples, about 0.51 s, so consecutive 50-frame windows overlap by
   more than half; a clip shorter than one window gives one zero-padded window);
3. the windows go, in order, through a fresh `tonecue.edge.speech.VoiceSelector`, the device's
   own rule: the level gate's absolute minimum and the speech detector (Silero VAD, from the
   installed `silero-vad` wheel), or the level gate alone when `detector` is the level-only
   setting; the windows that hold no voice are dropped;
4. the kept windows are featurized by `tonecue.edge.frontend.StreamingFeaturizer`, the device's
   featurizer (DESIGN.md's invariant: features come only from the edge frontend), for each
   requested input kind (`tonecue.edge.frontend.KINDS`).

**A clip with no voiced window keeps its loudest window** (marked `voiced=False`, and listed in
`report["clips_without_voice"]`). Dropping it instead would silently remove the quietest clips,
which are mostly sad and neutral ones, and would leave clip-level evaluation (which aggregates a
clip's windows) with nothing to predict for it. `ws.subset(ws.voiced)` drops those windows for a
caller who wants only gate-approved audio.

**Unreadable clips are skipped, never fatal**: an empty, corrupt, truncated or vanished file is
listed in `report["clips_skipped"]` with the reason `load_audio` gave (its `AudioError`), and the
remaining clips go on. Any other exception is a bug and propagates, naming the clip.

**Parallel and cached.** Clips are processed in a `ProcessPoolExecutor` (spawned workers, safe
where torch is already loaded; `workers=1` runs in this process). Each clip's result is cached on
disk as one `.npz` file whose name is a SHA-256 of: the clip's bytes (not its path or mtime: a
renamed copy hits, an edited file misses), the frontend spec's JSON, `hop_frames`, the gate
settings, the detector settings (with the detector file's SHA-256), the kinds, and a fingerprint of the source of the modules that compute the features
(audio reading, resampling, DSP, frontend, gate, and this module). A changed setting or a changed
line of feature code therefore never reuses stale features. Labels are not cached: they come from
the index, so a new label map reuses every cached clip. The default cache is
`$XDG_CACHE_HOME/tonecue/features` (`~/.cache/tonecue/features`); `cache_dir=False` disables it.
A cache that cannot be written costs speed, not the run (a warning is given once).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib
import itertools
import json
import multiprocessing
import os
import sys
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

import numpy as np
from tqdm import tqdm

from tonecue.edge.audio import AudioError, load_audio
from tonecue.edge.errors import TonecueError
from tonecue.edge.frontend import KINDS, StreamingFeaturizer, clip_windows, frontend_for
from tonecue.edge.spec import DEFAULT_HOP_FRAMES, FrontendSpec
from tonecue.edge.speech import (
    LEVEL_ONLY,
    DetectorSettings,
    SileroVAD,
    SpeechDetector,
    VoiceSelector,
    file_sha256,
    installed_silero_file,
)
from tonecue.edge.vad import GateSettings

__all__ = ["CACHE_FORMAT", "DEFAULT_HOP_FRAMES", "WindowSet", "default_cache_dir", "extract_windows"]

#: Bump when what a cache file holds changes (the code fingerprint catches the rest).
CACHE_FORMAT = 1

#: The modules whose source decides a clip's features; their bytes are part of every cache key.
_FEATURE_MODULES = (
    "tonecue.edge.audio",
    "tonecue.edge.resample",
    "tonecue.edge.dsp",
    "tonecue.edge.spec",
    "tonecue.edge.frontend",
    "tonecue.edge.paraling",
    "tonecue.edge.vad",
    "tonecue.edge.speech",
    __name__,
)


# --------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------


@dataclass
class WindowSet:
    """The kept windows of a corpus, one row per window, in clip order then stream order.

    features: {kind: float32 array (n_windows, *input_shape)} for each requested kind.
    labels: int64 class index of each window (its clip's class in `classes`).
    clip_ids: int64 index into `clips` of each window's clip.
    clips: the clips that gave at least one window (unreadable clips are not here).
    speakers, corpora: each window's clip's speaker / corpus (numpy str arrays, for grouped splits).
    starts: int64 first sample of each window in its clip (at spec.sample_rate).
    levels_db: float32 level of each window in dBFS (`tonecue.edge.vad.window_level_db`).
    voiced: bool, True where the gate passed the window; False only for the loudest window a
        clip without any voiced window keeps.
    classes: the class names, in label order.
    spec, hop_frames, gate: the settings the windows were cut, gated and featurized with.
    report: what the extraction did (see `extract_windows`); a subset keeps its parent's report.
    """

    features: dict[str, np.ndarray]
    labels: np.ndarray
    clip_ids: np.ndarray
    clips: list
    speakers: np.ndarray
    corpora: np.ndarray
    starts: np.ndarray
    levels_db: np.ndarray
    voiced: np.ndarray
    classes: tuple[str, ...]
    spec: FrontendSpec
    hop_frames: int
    gate: GateSettings
    report: dict[str, Any] = field(default_factory=dict)
    detector: DetectorSettings = LEVEL_ONLY

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.features)

    @property
    def clip_labels(self) -> np.ndarray:
        """int64 class index of each clip in `clips` (for clip-level evaluation)."""
        labels = np.zeros(len(self.clips), dtype=np.int64)
        labels[self.clip_ids] = self.labels
        return labels

    def subset(self, selection: np.ndarray | Sequence[int] | Sequence[bool]) -> WindowSet:
        """The windows picked by a boolean mask over windows (length len(self)), or all windows of
        the clips picked by integer indices into `clips` (e.g. a grouped split of clips).

        Clips left without windows are dropped and `clip_ids` renumbered; order is kept.
        """
        sel = np.asarray(selection)
        if sel.dtype == bool:
            if sel.shape != (len(self),):
                raise ValueError(f"a window mask must have shape ({len(self)},), got {sel.shape}")
            mask = sel
        elif sel.size == 0 or sel.dtype.kind in "iu":
            ids = sel.astype(np.int64).ravel()
            if ids.size and (ids.min() < 0 or ids.max() >= len(self.clips)):
                raise IndexError(f"clip ids must lie in [0, {len(self.clips)}), got {ids.min()}..{ids.max()}")
            mask = np.isin(self.clip_ids, ids)
        else:
            raise TypeError(f"select with a bool mask over windows or int clip ids, not dtype {sel.dtype}")
        old_ids = self.clip_ids[mask]
        keep = np.unique(old_ids)
        renumber = np.full(len(self.clips), -1, dtype=np.int64)
        renumber[keep] = np.arange(len(keep))
        return WindowSet(
            features={kind: array[mask] for kind, array in self.features.items()},
            labels=self.labels[mask],
            clip_ids=renumber[old_ids],
            clips=[self.clips[i] for i in keep],
            speakers=self.speakers[mask],
            corpora=self.corpora[mask],
            starts=self.starts[mask],
            levels_db=self.levels_db[mask],
            voiced=self.voiced[mask],
            classes=self.classes,
            spec=self.spec,
            hop_frames=self.hop_frames,
            gate=self.gate,
            report=copy.deepcopy(self.report),
            detector=self.detector,
        )


def with_copies(ws: WindowSet, copies: Sequence[WindowSet]) -> tuple[WindowSet, np.ndarray]:
    """`ws` followed by the windows of transformed copies of its clips (`extract_windows(...,
    transform=..., variant=v)`), and a mask of the copies' rows.

    A copy's windows take the clip id of their clip in `ws` (a clip missing from `ws` drops its
    copy) and a speaker of their own, "<speaker>#<v>": speaker normalization standardizes a copy
    (another room, noise, channel) by its own statistics, as the device adapts to a condition.
    """
    parts, masks = [ws], [np.zeros(len(ws), dtype=bool)]
    where = {os.fspath(clip.path): i for i, clip in enumerate(ws.clips)}
    for v, copy_ws in enumerate(copies, start=1):
        if tuple(copy_ws.classes) != tuple(ws.classes) or set(copy_ws.features) != set(ws.features):
            raise ValueError("a copy must have the clean windows' classes and input kinds")
        ids = np.array([where.get(os.fspath(clip.path), -1) for clip in copy_ws.clips], dtype=np.int64)
        keep = ids[copy_ws.clip_ids] >= 0
        part = copy_ws.subset(keep)
        part.clip_ids = np.array([where[os.fspath(clip.path)] for clip in part.clips], dtype=np.int64)[part.clip_ids]
        part.speakers = np.char.add(part.speakers.astype(str), f"#{v}")
        parts.append(part)
        masks.append(np.ones(len(part), dtype=bool))
    joined = dataclasses.replace(
        ws,
        features={k: np.concatenate([p.features[k] for p in parts]) for k in ws.features},
        **{name: np.concatenate([getattr(p, name) for p in parts])
           for name in ("labels", "clip_ids", "speakers", "corpora", "starts", "levels_db", "voiced")},
    )
    return joined, np.concatenate(masks)


# --------------------------------------------------------------------------------------------
# One clip (runs in a worker)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    spec: FrontendSpec
    kinds: tuple[str, ...]
    hop_frames: int
    gate: GateSettings
    cache_dir: str | None
    code: str
    detector: DetectorSettings = LEVEL_ONLY
    detector_file: str | None = None
    transform: Any = None  # a clip transform (tonecue.train.noise / augment), or None
    variant: int = 0  # which of several transformed copies of a clip


def _transform_seed(content_sha256: str, variant: int) -> int:
    """A clip's own seed for a transform: from its content and the copy's number, so a copy is the
    same in every run and in every worker, and a renamed file gets the same copy."""
    return int(hashlib.sha256(f"{content_sha256}:{variant}".encode()).hexdigest()[:15], 16)


def _cache_key(job: _Job, content_sha256: str) -> str:
    material = {
        "format": CACHE_FORMAT,
        "content_sha256": content_sha256,
        "spec": job.spec.to_dict(),
        "hop_frames": job.hop_frames,
        "gate": job.gate.to_dict(),
        "detector": job.detector.to_dict(),
        "kinds": sorted(job.kinds),
        "code": job.code,
    }
    if job.transform is not None:
        material["transform"] = {"settings": job.transform.describe(), "variant": job.variant}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _hash_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _featurize(signal: np.ndarray, job: _Job) -> dict[str, np.ndarray]:
    """Cut, gate and featurize one clip's signal: every array a cache file holds."""
    spec = job.spec
    starts, windows = clip_windows(signal, spec, job.hop_frames)
    detector = None
    if job.detector.enabled:
        detector = SpeechDetector(job.detector, _network(job.detector_file), spec.sample_rate)
    selector = VoiceSelector(job.gate, detector, spec.hop_seconds(job.hop_frames))
    judged = [selector.judge(start, window) for start, window in zip(starts, windows)]
    levels = np.array([level for level, _, _ in judged], dtype=np.float64)
    voiced = np.array([v for _, _, v in judged], dtype=bool)
    kept = np.flatnonzero(voiced)
    if kept.size == 0:  # no voiced window: keep the loudest (see the module docstring)
        kept = np.array([int(np.argmax(levels))])
    frontend = frontend_for(spec)
    result = {
        "n_samples": np.array(len(signal), dtype=np.int64),
        "starts": np.asarray(starts, dtype=np.int64),
        "levels": levels,
        "voiced": voiced,
        "kept": kept.astype(np.int64),
    }
    for kind in job.kinds:
        featurizer = StreamingFeaturizer(frontend, kind)  # windows in stream order reuse frames
        rows = [featurizer(windows[i], starts[i]) for i in kept]
        result[f"features_{kind}"] = np.stack(rows).astype(np.float32, copy=False)
    return result


@lru_cache(maxsize=2)
def _network(path: str) -> SileroVAD:
    """One detector session per worker process (the stream state is reset per clip)."""
    return SileroVAD.open(path)


def training_detector(settings: DetectorSettings = DetectorSettings()) -> tuple[DetectorSettings, str | None]:
    """The detector settings as training uses them, with the installed file's SHA-256 and source
    filled in, and that file's path (None for the level gate alone)."""
    if not settings.enabled:
        return settings, None
    path, source = installed_silero_file()
    return dataclasses.replace(settings, sha256=file_sha256(path), source=source), str(path)


def _expected_keys(kinds: Iterable[str]) -> set[str]:
    return {"n_samples", "starts", "levels", "voiced", "kept", *(f"features_{k}" for k in kinds)}


def _read_cache(path: Path, kinds: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            result = {key: data[key] for key in data.files}
    except Exception:  # absent, torn or foreign: a miss (and a torn file is overwritten)
        return None
    return result if set(result) == _expected_keys(kinds) else None


def _write_cache(path: Path, result: dict[str, np.ndarray]) -> str | None:
    """Write atomically (a reader never sees half a file); the error text, or None."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, **result)
        os.replace(tmp, path)
    except OSError as err:
        try:
            tmp.unlink()
        except OSError:
            pass
        return f"cannot write the feature cache at {path.parent}: {err.strerror or err}"
    return None


def _process_clip(path: str, job: _Job) -> dict[str, Any]:
    """One clip: {"ok": True, "data": arrays, "hit": bool, "cache_error": str|None} or
    {"ok": False, "reason": str}."""
    try:
        content = _hash_file(path)
    except OSError as err:
        reason = "no such file" if isinstance(err, FileNotFoundError) else f"cannot read: {err.strerror or err}"
        return {"ok": False, "reason": reason}
    cache_file = None
    if job.cache_dir is not None:
        key = _cache_key(job, content)
        cache_file = Path(job.cache_dir) / key[:2] / f"{key}.npz"
        cached = _read_cache(cache_file, job.kinds)
        if cached is not None:
            return {"ok": True, "data": cached, "hit": True, "cache_error": None}
    try:
        signal = load_audio(path, job.spec.sample_rate, dtype=np.dtype(job.spec.dtype))
    except AudioError as err:
        return {"ok": False, "reason": err.reason}
    try:
        if job.transform is not None:
            try:
                signal = job.transform(signal, job.spec.sample_rate, _transform_seed(content, job.variant))
            except TonecueError as err:  # e.g. a silent clip that noise cannot be mixed against
                return {"ok": False, "reason": f"cannot transform it: {err}"}
            signal = np.asarray(signal, dtype=np.dtype(job.spec.dtype))
        data = _featurize(signal, job)
    except Exception as err:  # a bug, not a bad file: say which clip
        raise RuntimeError(f"featurizing {path} failed: {type(err).__name__}: {err}") from err
    cache_error = _write_cache(cache_file, data) if cache_file is not None else None
    return {"ok": True, "data": data, "hit": False, "cache_error": cache_error}


# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/tonecue/features`, else `~/.cache/tonecue/features`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tonecue" / "features"


@lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    digest = hashlib.sha256(np.__version__.encode())
    for name in _FEATURE_MODULES:
        module = importlib.import_module(name)
        digest.update(name.encode())
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (containers, taskset)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _check_kinds(kinds: str | Iterable[str], spec: FrontendSpec) -> tuple[str, ...]:
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not kinds:
        raise ValueError(f"ask for at least one input kind of {KINDS}")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown input kind(s) {unknown}; expected some of {KINDS}")
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"input kinds repeat: {list(kinds)}")
    frontend = frontend_for(spec)
    for kind in kinds:
        frontend.output_shape(kind)  # a spec that cannot make this kind raises SpecError here
    return kinds


def _relative(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return Path(path).relative_to(root).as_posix()
        except ValueError:
            pass
    return Path(path).as_posix()


def extract_windows(
    index,
    spec: FrontendSpec = FrontendSpec(),
    kinds: str | Sequence[str] = KINDS,
    hop_frames: int = DEFAULT_HOP_FRAMES,
    gate: GateSettings = GateSettings(),
    detector: DetectorSettings = LEVEL_ONLY,
    cache_dir: str | os.PathLike | None | Literal[False] = None,
    workers: int | None = None,
    progress: bool = True,
    transform: Any = None,
    variant: int = 0,
) -> WindowSet:
    """Cut every clip of `index` (a `tonecue.train.corpus.CorpusIndex`) into voiced windows and
    compute the model inputs of `kinds` (see the module docstring for every step and rule).

    transform: a clip transform applied to every clip's samples before they are cut, e.g.
    `tonecue.train.augment.Augmenter` (training copies) or `tonecue.train.noise.NoiseMix` (a test
    condition): called as transform(signal, sample_rate, seed) with a seed from the clip's content
    and `variant` (the copy's number), and its `describe()` goes into the cache key.

    spec: the frontend settings (the seed's by default). hop_frames: frames between window starts
    (22, about 0.51 s). gate: the voice gate's settings. detector: the speech detector's
    (`DetectorSettings()` for Silero VAD; the level-only default keeps the level gate alone).
    cache_dir: the feature cache (None: the
    default folder; False: no cache). workers: processes (None: the cores available; 1: this
    process). progress: a tqdm bar on stderr.

    `report` holds: clips_total, clips_read (= the clips kept), clips_skipped [{path, reason}],
    clips_without_voice [path], windows_total (cut), windows_voiced (passed the gate),
    windows_kept (voiced + one per clip without voice), windows_dropped (total - kept),
    windows_per_class, seconds_audio (of the clips read), wall_seconds, workers, and
    cache {dir, hits, misses}. Paths are relative to the index root.
    """
    if not isinstance(spec, FrontendSpec):
        raise TypeError(f"spec must be a FrontendSpec, got {type(spec).__name__}")
    if not isinstance(gate, GateSettings):
        raise TypeError(f"gate must be GateSettings, got {type(gate).__name__}")
    if isinstance(hop_frames, bool) or not isinstance(hop_frames, (int, np.integer)) or hop_frames < 1:
        raise ValueError(f"hop_frames must be a positive integer, got {hop_frames!r}")
    hop_frames = int(hop_frames)
    kinds = _check_kinds(kinds, spec)
    if workers is None:
        workers = _default_workers()
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if cache_dir is None:
        cache_dir = default_cache_dir()
    cache_path = None if cache_dir is False else Path(os.path.expanduser(os.fspath(cache_dir))).resolve()

    t0 = time.perf_counter()
    clips = list(index.clips)
    root = getattr(index, "root", None)
    if not isinstance(detector, DetectorSettings):
        raise TypeError(f"detector must be DetectorSettings, got {type(detector).__name__}")
    detector, detector_file = training_detector(detector)
    if transform is not None and not (callable(transform) and callable(getattr(transform, "describe", None))):
        raise TypeError(f"transform must be callable with a describe() method, got {type(transform).__name__}")
    if isinstance(variant, bool) or not isinstance(variant, (int, np.integer)) or variant < 0:
        raise ValueError(f"variant must be a non-negative integer, got {variant!r}")
    job = _Job(spec, kinds, hop_frames, gate, None if cache_path is None else str(cache_path), _code_fingerprint(),
               detector, detector_file, transform, int(variant))
    paths = [os.fspath(clip.path) for clip in clips]
    results: list[dict[str, Any] | None] = [None] * len(clips)
    workers = int(min(workers, max(len(clips), 1)))

    with tqdm(total=len(clips), desc="windows", unit="clip", file=sys.stderr, disable=not progress,
              dynamic_ncols=True) as bar:
        if workers == 1:
            for i, path in enumerate(paths):
                results[i] = _process_clip(path, job)
                bar.update(1)
        else:
            _run_pool(paths, job, workers, results, bar)

    cache_errors = sorted({r["cache_error"] for r in results if r["ok"] and r["cache_error"]})
    if cache_errors:
        warnings.warn(f"feature cache not written ({len(cache_errors)} error(s)): {cache_errors[0]}", stacklevel=2)
    return _assemble(index, clips, results, root, job, cache_path, workers, time.perf_counter() - t0)


def _run_pool(paths: list[str], job: _Job, workers: int, results: list, bar) -> None:
    # spawn: a forked copy of a parent that runs torch threads can deadlock; workers import only
    # numpy, tqdm and tonecue. At most a few jobs per worker are in flight, so an interrupt
    # stops quickly and memory stays flat.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: dict = {}
        todo = iter(enumerate(paths))
        try:
            while True:
                while len(pending) < 4 * workers:
                    item = next(todo, None)
                    if item is None:
                        break
                    pending[pool.submit(_process_clip, item[1], job)] = item[0]
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    results[pending.pop(future)] = future.result()
                    bar.update(1)
        except BrokenProcessPool as err:
            raise RuntimeError(
                "a feature worker process died. With spawned workers, a script that calls "
                "extract_windows must do so under `if __name__ == \"__main__\":` (each worker "
                "imports the main module); or pass workers=1. Otherwise a worker ran out of memory."
            ) from err
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _assemble(index, clips, results, root, job: _Job, cache_path, workers: int, wall: float) -> WindowSet:
    spec, kinds = job.spec, job.kinds
    frontend = frontend_for(spec)
    label_map = index.label_map
    classes = tuple(label_map.classes)
    kept_clips, skipped, without_voice = [], [], []
    parts: dict[str, list] = {k: [] for k in ("labels", "clip_ids", "speakers", "corpora", "starts", "levels", "voiced")}
    features: dict[str, list] = {kind: [] for kind in kinds}
    n_total = n_voiced = hits = misses = 0
    seconds = 0.0
    for clip, result in zip(clips, results):
        if not result["ok"]:
            skipped.append({"path": _relative(clip.path, root), "reason": result["reason"]})
            continue
        data = result["data"]
        hits += result["hit"]
        misses += not result["hit"]
        kept = data["kept"]
        voiced = data["voiced"]
        n_total += len(voiced)
        n_voiced += int(voiced.sum())
        seconds += int(data["n_samples"]) / spec.sample_rate
        if not voiced.any():
            without_voice.append(_relative(clip.path, root))
        clip_id = len(kept_clips)
        kept_clips.append(clip)
        n = len(kept)
        parts["labels"].append(np.full(n, label_map.index_of(clip.label), dtype=np.int64))
        parts["clip_ids"].append(np.full(n, clip_id, dtype=np.int64))
        parts["speakers"].append([str(clip.speaker)] * n)
        parts["corpora"].append([str(clip.corpus)] * n)
        parts["starts"].append(data["starts"][kept])
        parts["levels"].append(data["levels"][kept])
        parts["voiced"].append(voiced[kept])
        for kind in kinds:
            features[kind].append(data[f"features_{kind}"])

    def cat(name: str, dtype) -> np.ndarray:
        return np.concatenate(parts[name]).astype(dtype, copy=False) if parts[name] else np.zeros(0, dtype)

    labels = cat("labels", np.int64)
    per_class = np.bincount(labels, minlength=len(classes)) if len(labels) else np.zeros(len(classes), int)
    n_kept = int(len(labels))
    report = {
        "clips_total": len(clips),
        "clips_read": len(kept_clips),
        "clips_skipped": skipped,
        "clips_without_voice": without_voice,
        "windows_total": n_total,
        "windows_voiced": n_voiced,
        "windows_kept": n_kept,
        "windows_dropped": n_total - n_kept,
        "windows_per_class": {c: int(n) for c, n in zip(classes, per_class)},
        "seconds_audio": round(seconds, 3),
        "wall_seconds": round(wall, 3),
        "workers": workers,
        "cache": {"dir": None if cache_path is None else str(cache_path), "hits": hits, "misses": misses},
    }
    return WindowSet(
        features={
            kind: (
                np.concatenate(features[kind])
                if features[kind]
                else np.zeros((0, *frontend.output_shape(kind)), dtype=np.float32)
            )
            for kind in kinds
        },
        labels=labels,
        clip_ids=cat("clip_ids", np.int64),
        clips=kept_clips,
        speakers=np.array(list(itertools.chain.from_iterable(parts["speakers"])), dtype=str),
        corpora=np.array(list(itertools.chain.from_iterable(parts["corpora"])), dtype=str),
        starts=cat("starts", np.int64),
        levels_db=cat("levels", np.float32),
        voiced=cat("voiced", bool),
        classes=classes,
        spec=spec,
        hop_frames=job.hop_frames,
        gate=job.gate,
        report=report,
        detector=job.detector,
    )
