"""The classic models: featurewiz selection, then a scikit-learn classifier (the seed's random
forest, SVM and decision tree, or any classic kind of `tonecue.train.models`).

The seed averaged librosa statistics over each clip (50 MFCC means, 50 mel-band means, LPC order
12, mean RMS, mean zero-crossing rate), let featurewiz pick a "minimum optimal" subset, and fitted
three scikit-learn classifiers on it. Here the same happens per window, on the statistics vector
`FrontendSpec().stats_feature_names()` describes:

    selected = select_features(X_train, y_train, names)           # featurewiz: SULOV + XGBoost
    model = fit_classic("rf", X_train, y_train, names, selected)  # or "svm", "dt"
    proba = model.predict_proba(X_full)                           # it picks its own columns
    save_classic(model, "rf.joblib"); model = load_classic("rf.joblib")

Every model is a scikit-learn `Pipeline` so that skl2onnx can export it whole; its classifier and
hyperparameters come from the kind's registry record. Features are cast to float32 before fitting:
the ONNX tree ensembles compare float32 inputs, so the thresholds should be learnt on the same
values. Only the SVM gets a `StandardScaler` (its RBF kernel needs features of similar scale);
trees are invariant to it, and a scaler in front of a tree only adds rounding that a float32 export
may reproduce one ulp differently next to a split threshold.

featurewiz 0.6.1 is a difficult guest, so `select_features` keeps it at arm's length:

* it is imported lazily (it pulls in TensorFlow, dask and lightgbm: seconds, not milliseconds);
* on import it sets every warnings filter to "ignore", replaces `warnings.warn` with a no-op and
  reseeds numpy's and Python's global generators; during a call it sets XGBoost's global
  verbosity. All of that is saved before and restored after, import and call alike;
* it prints its progress on stdout; that is captured and sent to this module's logger (DEBUG);
* where a stage fails it prints a message and silently carries on with every feature; those
  messages are turned into a `FeatureSelectionError` instead;
* the target must be integer-coded: a string target makes it label-encode and skip XGBoost.
"""

from __future__ import annotations

import contextlib
import io
import logging
import random
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tonecue.edge.errors import TonecueError
from tonecue.train.models import ModelKindError, get as get_kind

__all__ = [
    "ClassicModel",
    "FeatureSelectionError",
    "fit_classic",
    "load_classic",
    "classic_kind",
    "make_classic_pipeline",
    "save_classic",
    "select_features",
]

log = logging.getLogger(__name__)

_SAVE_FORMAT = 1
_TARGET = "tonecue_target"

# What featurewiz 0.6.1 prints when a stage fails and it falls back to keeping everything (SULOV,
# mutual information) or to an arbitrary slice of columns (recursive XGBoost).
_FALLBACK_MESSAGES = re.compile(r"is erroring|is crashing|Method crashing|Returning with|could not be")


class FeatureSelectionError(TonecueError, RuntimeError):
    """featurewiz failed, fell back silently, or selected nothing."""


# ------------------------------------------------------------------------------------ checks


def _as_features(X: Any, name: str = "X") -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (windows, features), got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers, got dtype {X.dtype}")
    X = X.astype(np.float32, copy=False)
    if not np.isfinite(X).all():
        raise ValueError(f"{name} holds NaN or infinite values (or values beyond float32's range)")
    return X


def _as_labels(y: Any, n_rows: int, n_classes: int | None = None) -> tuple[np.ndarray, int]:
    """Integer labels 0..k-1 with every class present; returns (labels, k)."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n_rows:
        raise ValueError(f"y must be 1-D with one label per row ({n_rows}), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"y must hold integer class indices 0..n_classes-1, got dtype {y.dtype} "
            "(encode string labels with a LabelMap first)"
        )
    y = y.astype(np.int64, copy=False)
    if len(y) == 0:
        raise ValueError("no training rows")
    if y.min() < 0:
        raise ValueError(f"labels must be non-negative, got {y.min()}")
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.max() >= k:
        raise ValueError(f"label {y.max()} out of range for {k} classes")
    missing = sorted(set(range(k)) - set(np.unique(y).tolist()))
    if missing:
        raise ValueError(f"classes {missing} have no training rows; every class 0..{k - 1} must appear")
    if k < 2:
        raise ValueError("need at least two classes")
    return y, k


def _check_names(feature_names: Sequence[str], n_columns: int) -> list[str]:
    names = [str(n) for n in feature_names]
    if len(names) != n_columns:
        raise ValueError(f"{len(names)} feature names for {n_columns} columns")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"feature names must be unique, repeated: {dupes}")
    return names


# ---------------------------------------------------------------------------------- featurewiz


@contextlib.contextmanager
def _contain_featurewiz(seed: int):
    """Undo what importing and calling featurewiz does to the process, and seed its sampling.

    featurewiz 0.6.1 (and the TensorFlow/dask it imports) silences all warnings process-wide,
    replaces `warnings.warn`, reseeds numpy's and Python's global generators and sets XGBoost's
    global verbosity. `warnings.catch_warnings` restores the filters (and showwarning); the rest,
    and the levels of the loggers that existed before, are saved and put back by hand.
    """
    warn = warnings.warn
    loggers = logging.root.manager.loggerDict
    levels = {name: lg.level for name, lg in list(loggers.items()) if isinstance(lg, logging.Logger)}
    root_level = logging.root.level
    disabled = logging.root.manager.disable
    np_state = np.random.get_state()
    py_state = random.getstate()
    xgb_config = None
    with warnings.catch_warnings():
        # Inside, featurewiz's own noise stays quiet on every call, not only the first (its
        # import silences everything; the restore below makes later calls noisy otherwise).
        warnings.simplefilter("ignore")
        try:
            try:
                import xgboost

                xgb_config = xgboost.get_config()
            except ImportError:  # featurewiz will fail to import and say so
                pass
            # featurewiz's only unseeded randomness (a row sample above 10,000 rows, used to
            # classify column types) draws from numpy's global generator.
            np.random.seed(seed)
            random.seed(seed)
            yield
        finally:
            warnings.warn = warn
            for name, level in levels.items():
                lg = loggers.get(name)
                if isinstance(lg, logging.Logger) and lg.level != level:
                    lg.setLevel(level)
            logging.root.setLevel(root_level)
            logging.disable(disabled)
            np.random.set_state(np_state)
            random.setstate(py_state)
            if xgb_config is not None:
                import xgboost

                xgboost.set_config(**xgb_config)


def select_features(
    X: Any,
    y: Any,
    feature_names: Sequence[str],
    corr_limit: float = 0.7,
    seed: int = 0,
) -> list[str]:
    """Names featurewiz keeps (SULOV correlation knock-out, then recursive XGBoost), in input order.

    X: (n, features) statistics, finite; cast to float32 as the models see them.
    y: integer class indices 0..k-1 (never strings: featurewiz would skip its XGBoost stage).
    feature_names: one unique name per column, e.g. `FrontendSpec().stats_feature_names()`.
    corr_limit: absolute Pearson correlation above which SULOV keeps only one of a pair
        (featurewiz's default is 0.8; the seed's docs and this function use 0.7).
    seed: seeds featurewiz's one unseeded step (a 10,000-row sample that classifies column types
        on larger inputs); its mutual information and XGBoost stages use fixed seeds of their own,
        so the result is deterministic for a given seed and input.

    Raises FeatureSelectionError when featurewiz fails, falls back silently, or keeps nothing.
    featurewiz's own output is logged at DEBUG on this module's logger.
    """
    X = _as_features(X)
    y, _ = _as_labels(y, len(X))
    names = _check_names(feature_names, X.shape[1])
    if not 0 < corr_limit <= 1:
        raise ValueError(f"corr_limit must be in (0, 1], got {corr_limit}")
    target = _TARGET
    while target in names:
        target = "_" + target

    import pandas as pd

    frame = pd.DataFrame(X, columns=names)
    frame[target] = y
    out = io.StringIO()
    # The import and the call both run inside the guard: see _contain_featurewiz.
    with _contain_featurewiz(seed), contextlib.redirect_stdout(out):
        try:
            from featurewiz import featurewiz
        except ImportError as exc:
            raise FeatureSelectionError(
                f"featurewiz is not importable ({exc}); install the train extra"
            ) from exc
        try:
            result = featurewiz(frame, target, corr_limit=corr_limit, verbose=0)
        except Exception as exc:
            raise FeatureSelectionError(
                f"featurewiz failed: {type(exc).__name__}: {exc}\n{_tail(out.getvalue())}"
            ) from exc
    text = out.getvalue()
    log.debug("featurewiz output:\n%s", text)
    if _FALLBACK_MESSAGES.search(text):
        raise FeatureSelectionError(f"featurewiz fell back instead of selecting:\n{_tail(text)}")
    chosen = result[0] if isinstance(result, tuple) else result
    if not isinstance(chosen, list):
        raise FeatureSelectionError(f"featurewiz returned {type(result).__name__}, not a feature list:\n{_tail(text)}")
    unknown = [c for c in chosen if c not in names]
    if unknown:
        raise FeatureSelectionError(f"featurewiz returned names that are not features: {unknown}")
    keep = set(chosen)
    selected = [n for n in names if n in keep]
    if not selected:
        raise FeatureSelectionError(f"featurewiz selected no features:\n{_tail(text)}")
    return selected


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# ------------------------------------------------------------------------------------ models


def classic_kind(name: str):
    """The registry record of a classic model kind (`tonecue.train.models`)."""
    kind = get_kind(name)
    if kind.family != "classic":
        raise ModelKindError(f"{name!r} is a {kind.family}, not a classic model")
    return kind


def make_classic_pipeline(
    name: str,
    seed: int = 0,
    *,
    scale: bool | None = None,
    class_weight: str | dict | None = None,
    n_jobs: int | None = None,
    **params: Any,
):
    """An unfitted Pipeline for a classic kind ("rf", "svm", "dt", ...); `params` override the
    classifier's hyperparameters (the record's `params`), all seeded with `random_state=seed`.

    scale: put a StandardScaler first (default: the record's `scale`, only the SVM's).
    n_jobs: for kinds whose classifier takes it (the forest).
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    kind = classic_kind(name)
    overrides = dict(params)
    if class_weight is not None:
        overrides["class_weight"] = class_weight
    if n_jobs is not None:
        if not kind.n_jobs:
            raise ValueError(f"{name} takes no n_jobs")
        overrides["n_jobs"] = n_jobs
    clf = kind.builder(**{"random_state": seed, **kind.params, **overrides})
    steps = [("scale", StandardScaler())] if (kind.scale if scale is None else scale) else []
    return Pipeline(steps + [("clf", clf)])


@dataclass
class ClassicModel:
    """A fitted pipeline with the columns of the full statistics vector it reads.

    name: its model kind ("rf", "svm", "dt", ...).
    pipeline: the scikit-learn Pipeline, fitted on float32 selected columns.
    selected: names of the columns it reads, in the order it reads them.
    indices: their positions in the full vector (int64).
    feature_names: every name of the full vector (its length is the input width).
    n_classes: probability columns, one per class index 0..n_classes-1.
    """

    name: str
    pipeline: Any
    selected: list[str]
    indices: np.ndarray
    feature_names: list[str]
    n_classes: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features_in(self) -> int:
        return len(self.feature_names)

    def select(self, X_full: Any) -> np.ndarray:
        """The float32 columns this model reads, from (n, n_features_in) statistics."""
        X = _as_features(X_full, "X_full")
        if X.shape[1] != self.n_features_in:
            raise ValueError(f"expected {self.n_features_in} features (the full vector), got {X.shape[1]}")
        return np.ascontiguousarray(X[:, self.indices])

    def predict_proba(self, X_full: Any) -> np.ndarray:
        """(n, n_classes) class probabilities from the full statistics vector."""
        return self.pipeline.predict_proba(self.select(X_full))

    def predict(self, X_full: Any) -> np.ndarray:
        """Class indices (argmax of the probabilities; for the SVM this can differ from SVC.predict)."""
        return np.argmax(self.predict_proba(X_full), axis=1).astype(np.int64)

    def save(self, path: str | Path) -> Path:
        return save_classic(self, path)

    @staticmethod
    def load(path: str | Path) -> ClassicModel:
        return load_classic(path)


def fit_classic(
    name: str,
    X: Any,
    y: Any,
    feature_names: Sequence[str],
    selected: Sequence[str] | None,
    *,
    seed: int = 0,
    n_classes: int | None = None,
    **kwargs: Any,
) -> ClassicModel:
    """Fit a classic kind ("rf", "svm", "dt", ...) on the `selected` columns of the full
    statistics vector X (None: every column, for a kind that does not read the selection).

    X: (n, len(feature_names)) statistics; y: class indices 0..n_classes-1, every class present.
    kwargs go to `make_classic_pipeline` (scale, class_weight, n_jobs, classifier parameters).
    """
    X = _as_features(X)
    y, k = _as_labels(y, len(X), n_classes)
    names = _check_names(feature_names, X.shape[1])
    selected = list(names) if selected is None else [str(s) for s in selected]
    if not selected:
        raise ValueError("no selected features")
    position = {n: i for i, n in enumerate(names)}
    unknown = [s for s in selected if s not in position]
    if unknown:
        raise ValueError(f"selected features not among feature_names: {unknown}")
    if len(set(selected)) != len(selected):
        raise ValueError("selected features repeat a name")
    indices = np.array([position[s] for s in selected], dtype=np.int64)
    pipeline = make_classic_pipeline(name, seed, **kwargs)
    pipeline.fit(np.ascontiguousarray(X[:, indices]), y)
    import sklearn

    return ClassicModel(
        name=name,
        pipeline=pipeline,
        selected=selected,
        indices=indices,
        feature_names=names,
        n_classes=k,
        info={"seed": seed, "n_train": int(len(y)), "sklearn": sklearn.__version__},
    )


# ----------------------------------------------------------------------------------- storage


def save_classic(model: ClassicModel, path: str | Path) -> Path:
    """Write a ClassicModel with joblib (a pickle: load only files you trust)."""
    import joblib
    import sklearn

    if not isinstance(model, ClassicModel):
        raise TypeError(f"expected a ClassicModel, got {type(model).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump({"format": _SAVE_FORMAT, "sklearn": sklearn.__version__, "model": model}, path)
    return path


def load_classic(path: str | Path) -> ClassicModel:
    """Read what `save_classic` wrote. Unpickling runs code: only load files you trust."""
    import joblib
    import sklearn

    data = joblib.load(Path(path))
    if not isinstance(data, dict) or data.get("format") != _SAVE_FORMAT or not isinstance(data.get("model"), ClassicModel):
        raise ValueError(f"{path} is not a tonecue classic model (format {_SAVE_FORMAT})")
    if data.get("sklearn") != sklearn.__version__:
        warnings.warn(
            f"{path} was saved with scikit-learn {data.get('sklearn')}, this is {sklearn.__version__}",
            stacklevel=2,
        )
    return data["model"]
