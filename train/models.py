"""The model kinds tonecue trains and exports: one record per kind, looked up everywhere.

    from tonecue.train import models
    kind = models.get("cnn2d")          # ModelKind: title, family, input, budget, quantization, ...
    models.names()                      # ("rf", "svm", "dt", "svm-paraling", "klr-paraling-mfcc", "cnn1d", ...)
    models.resolve("tree")              # "dt": aliases are accepted where a person types a name

The CLI, the run (`tonecue.train.run`), the classic models and the nets, the run folder, the ONNX
conversion, quantization, verification and every report read what they need from the record, so
a new kind is one `register(ModelKind(...))`, e.g. a logistic regression on the selected statistics:

    models.register(models.ModelKind(
        name="lr", title="logistic regression", family="classic", input_kind="stats",
        reads_selection=True, factory="sklearn.linear_model:LogisticRegression",
        params={"max_iter": 1000}, scale=True,
        quantization=models.Quantization(description="linear model: stays fp32"),
    ))

A record's `factory` is a callable or a "module:attribute" string, imported only when a model is
built (so that reading the registry never imports scikit-learn or torch):

* classic: `factory(random_state=seed, **params)` is a scikit-learn classifier with
  `predict_proba`; it is fitted on the float32 columns it reads (`tonecue.train.classic`);
* net: `factory(input_shape, n_classes, **params)` is a `tonecue.train.nets` module; `recipe`
  says how `fit_net` trains it and `budget` / `quick_budget` cap its epochs in a run.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from tonecue.edge.errors import TonecueError
from tonecue.edge.frontend import KINDS as INPUT_KINDS

__all__ = [
    "EpochBudget",
    "ModelKind",
    "ModelKindError",
    "Quantization",
    "Recipe",
    "get",
    "kinds",
    "all_names",
    "names",
    "register",
    "resolve",
    "unregister",
]

FAMILIES = ("classic", "net")


class ModelKindError(TonecueError, ValueError):
    """An unknown model kind, or a record that cannot be registered."""


@dataclass(frozen=True)
class Recipe:
    """How `fit_net` trains a net unless told otherwise (the seed's recipe for that kind)."""

    epochs: int
    lr: float
    schedule: str  # "onecycle" (lr is the peak) or "constant"
    loss: str  # "cross_entropy" or "nll" (on log-softmax: the same value)
    patience: int | None  # epochs without improvement before stopping; None: never stop early
    batch_size: int = 64


@dataclass(frozen=True)
class EpochBudget:
    """What a run allows a net: at most `epochs`, stopping after `patience` epochs without a
    better validation score (None: never early); the best validation epoch is kept."""

    epochs: int
    patience: int | None


@dataclass(frozen=True)
class Quantization:
    """How the exported fp32 file becomes int8: static QDQ of `static_ops` (calibrated on
    training windows), dynamic int8 of `dynamic_ops`; neither means it stays fp32.
    description: how it is quantized, or why it is not (it goes into the reports)."""

    description: str
    static_ops: tuple[str, ...] = ()
    dynamic_ops: tuple[str, ...] = ()

    @property
    def method(self) -> str:
        """"static", "dynamic", "static+dynamic" or "none"."""
        parts = [name for name, ops in (("static", self.static_ops), ("dynamic", self.dynamic_ops)) if ops]
        return "+".join(parts) or "none"


@dataclass(frozen=True)
class ModelKind:
    """One model kind.

    name: its one name (CLI, run folder, library, exported contract, reports).
    title: how reports call it. aliases: other names a person may type.
    family: "classic" (a scikit-learn classifier, joblib in the run folder) or "net" (torch).
    input_kind: the frontend output it reads (`tonecue.edge.frontend.KINDS`).
    reads_selection: it reads the featurewiz-selected statistics (otherwise its whole input).
    factory, params: what builds it (see the module docstring); params are its hyperparameters.
    scale: classic only: a StandardScaler goes first (an RBF kernel needs features of one scale).
    n_jobs: classic only: the classifier takes `n_jobs`, so a run fits it on every core.
    float32_thresholds: its ONNX graph compares float32 thresholds (trees): a window within one
        float32 step of a split may take another branch, which verification counts apart.
    recipe, budget, quick_budget: nets only (see Recipe and EpochBudget; quick: --quick runs).
    quantization: how export makes its int8 file, or why it does not.
    in_all: `tonecue-train --models all` trains it (the seed's six); a kind that wants other
        windows than theirs is named on its own.
    """

    name: str
    title: str
    family: str
    input_kind: str
    reads_selection: bool
    factory: Callable[..., Any] | str
    quantization: Quantization
    params: Mapping[str, Any] = field(default_factory=dict)
    scale: bool = False
    n_jobs: bool = False
    float32_thresholds: bool = False
    recipe: Recipe | None = None
    budget: EpochBudget | None = None
    quick_budget: EpochBudget | None = None
    aliases: tuple[str, ...] = ()
    in_all: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        if not self.name or self.name != self.name.strip().lower() or "," in self.name:
            raise ModelKindError(f"a model kind's name is lower case, without spaces or commas, got {self.name!r}")
        if self.family not in FAMILIES:
            raise ModelKindError(f"{self.name}: family must be one of {FAMILIES}, got {self.family!r}")
        if self.input_kind not in INPUT_KINDS:
            raise ModelKindError(f"{self.name}: input_kind must be one of {INPUT_KINDS}, got {self.input_kind!r}")
        if self.reads_selection and self.input_kind != "stats":
            raise ModelKindError(f"{self.name}: only a stats model reads the feature selection")
        is_net = self.family == "net"
        if is_net != (self.recipe is not None) or is_net != (self.budget is not None) or is_net != (self.quick_budget is not None):
            raise ModelKindError(f"{self.name}: a net has a recipe, a budget and a quick budget; a classic model none")
        if is_net and (self.scale or self.n_jobs or self.float32_thresholds):
            raise ModelKindError(f"{self.name}: scale, n_jobs and float32_thresholds are for classic models")

    @property
    def builder(self) -> Callable[..., Any]:
        """The factory, imported if it was given as "module:attribute"."""
        if callable(self.factory):
            return self.factory
        module, _, attribute = self.factory.partition(":")
        try:
            return getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as exc:
            raise ModelKindError(f"{self.name}: cannot import its factory {self.factory!r} ({exc})") from None

    def hyperparameters(self, seed: int = 0) -> dict[str, Any]:
        """Every hyperparameter of this kind as a run uses it (what run.json and results.json record).

        classic: the unfitted classifier's `get_params()` (with the run's seed) and `scale`;
        net: the architecture (the factory's keyword defaults, updated by `params`) and `recipe`.
        """
        if self.family == "classic":
            params = self.builder(**{"random_state": seed, **self.params}).get_params()
            return {"scale": self.scale, "classifier": params}
        signature = inspect.signature(self.builder)
        defaults = {
            name: p.default for name, p in signature.parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty
        }
        architecture = {k: list(v) if isinstance(v, tuple) else v for k, v in {**defaults, **self.params}.items()}
        return {"architecture": architecture, "recipe": dataclasses.asdict(self.recipe)}


_REGISTRY: dict[str, ModelKind] = {}


def register(kind: ModelKind) -> ModelKind:
    """Add a kind; its name and aliases must be new."""
    if not isinstance(kind, ModelKind):
        raise ModelKindError(f"register takes a ModelKind, got {type(kind).__name__}")
    taken = _names_and_aliases()
    clash = [n for n in (kind.name, *kind.aliases) if n in taken]
    if clash:
        raise ModelKindError(f"model kind name(s) {clash} are taken (by {sorted({taken[n] for n in clash})})")
    _REGISTRY[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (a test's or a plugin's); an unknown name is an error."""
    get(name)
    del _REGISTRY[name]


def _names_and_aliases() -> dict[str, str]:
    return {n: k.name for k in _REGISTRY.values() for n in (k.name, *k.aliases)}


def get(name: str) -> ModelKind:
    """The record of `name` (its one name; aliases are for `resolve`)."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ModelKindError(f"unknown model kind {name!r}; the kinds are {', '.join(_REGISTRY)}") from None


def resolve(text: str) -> str:
    """The name of the kind a person typed: its name or an alias, any case and spacing."""
    name = str(text).strip().lower()
    found = _names_and_aliases().get(name)
    if found is None:
        raise ModelKindError(f"unknown model {str(text).strip()!r}; choose from {', '.join(_REGISTRY)}")
    return found


def kinds(family: str | None = None) -> tuple[ModelKind, ...]:
    """Every registered kind (of one family), in registration order."""
    return tuple(k for k in _REGISTRY.values() if family is None or k.family == family)


def names(family: str | None = None) -> tuple[str, ...]:
    return tuple(k.name for k in kinds(family))


def all_names() -> tuple[str, ...]:
    """What `--models all` trains: every kind marked `in_all` (the seed's six)."""
    return tuple(k.name for k in kinds() if k.in_all)


# The seed's six models. -----------------------------------------------------------------------

register(ModelKind(
    name="rf", title="random forest", family="classic", input_kind="stats", reads_selection=True,
    factory="sklearn.ensemble:RandomForestClassifier", params={"n_estimators": 200},
    n_jobs=True, float32_thresholds=True,
    quantization=Quantization(
        "tree ensemble: skl2onnx writes an ai.onnx.ml TreeEnsembleClassifier, whose thresholds and "
        "leaf values are attributes, not tensors; onnxruntime's quantizers have no int8 form of it "
        "(and a tree compares, it does no multiply-adds for int8 to speed up)"
    ),
))
register(ModelKind(
    name="svm", title="SVM (RBF)", family="classic", input_kind="stats", reads_selection=True,
    # probability=True: Platt scaling (internally 5-fold) gives the probabilities the device averages.
    factory="sklearn.svm:SVC", params={"kernel": "rbf", "probability": True}, scale=True,
    quantization=Quantization(
        "SVMClassifier (ai.onnx.ml): support vectors and coefficients are attributes of one "
        "operator with no int8 kernel in onnxruntime; the quantizers leave it untouched"
    ),
))
register(ModelKind(
    name="dt", title="decision tree", family="classic", input_kind="stats", reads_selection=True,
    factory="sklearn.tree:DecisionTreeClassifier", float32_thresholds=True, aliases=("tree",),
    quantization=Quantization(
        "decision tree: the same TreeEnsembleClassifier as the forest, not quantizable, and already "
        "tiny and fast"
    ),
))
register(ModelKind(
    name="svm-paraling", title="SVM (RBF), paralinguistic", family="classic", input_kind="paraling",
    reads_selection=False, aliases=("psvm",), in_all=False,
    # The seed's SVM on the 67 level-invariant paralinguistic functionals, all of them (featurewiz
    # selects among the statistics only); windows of about 2 s (tonecue-train --window-seconds 2).
    factory="sklearn.svm:SVC", params={"kernel": "rbf", "probability": True}, scale=True,
    quantization=Quantization(
        "SVMClassifier (ai.onnx.ml), as the SVM on the statistics: no int8 kernel in onnxruntime"
    ),
))
# The kernel models (tonecue.train.kernel): 2,000 landmark windows, C 10, standardized inputs.
_KERNEL_MODEL = dict(
    factory="tonecue.train.kernel:NystroemLogisticRegression", params={"n_components": 2000, "C": 10.0},
    scale=True,
    quantization=Quantization(
        "kernel model (MatMul, Exp, MatMul): the RBF distance is a difference of large terms, which "
        "int8 products would swamp; it stays fp32"
    ),
)
register(ModelKind(
    name="klr-paraling-mfcc", title="kernel logistic regression (Nyström RBF), paralinguistic + MFCC",
    family="classic", input_kind="paraling-mfcc", reads_selection=False, aliases=("klr",), in_all=False,
    # The RBF SVM's accuracy on the 387 paraling-mfcc inputs at a fixed size (tonecue.train.kernel):
    # 2,000 landmark windows x 387 inputs, about 3 MB, where the SVM's support vectors take 17 MB.
    **_KERNEL_MODEL,
))
register(ModelKind(
    name="klr-paraling-mfcc-upper", title="kernel logistic regression (Nyström RBF), paralinguistic + MFCC + upper halves",
    family="classic", input_kind="paraling-mfcc-upper", reads_selection=False, aliases=("klr-upper",), in_all=False,
    # The same kernel model on the 507 paraling-mfcc-upper inputs: the upper half of each log-mel
    # band keeps its level in background noise (benchmarks/results/noise-study.md).
    **_KERNEL_MODEL,
))
# The nets' budgets keep a full dev run well under 20 minutes on two CPU cores: the 1D CNN 40
# epochs (patience 8), the 2D CNN its recipe's 20 (one-cycle, no early stop), the CNN-BiLSTM 20
# (patience 5) instead of the seed's 100. --quick: one or two epochs, numbers that mean nothing.
register(ModelKind(
    name="cnn1d", title="1D CNN", family="net", input_kind="stats", reads_selection=True,
    factory="tonecue.train.nets:Cnn1d", aliases=("cnn",),
    recipe=Recipe(epochs=100, lr=1e-3, schedule="constant", loss="cross_entropy", patience=15),
    budget=EpochBudget(40, 8), quick_budget=EpochBudget(2, None),
    quantization=Quantization(
        "static QDQ (Gemm; per-channel int8 weights, int8 activations; the small Conv stays float)",
        static_ops=("Gemm", "MatMul"),
    ),
))
register(ModelKind(
    name="cnn2d", title="2D CNN", family="net", input_kind="image", reads_selection=False,
    factory="tonecue.train.nets:Cnn2d",
    recipe=Recipe(epochs=20, lr=1e-3, schedule="onecycle", loss="nll", patience=None),
    budget=EpochBudget(20, None), quick_budget=EpochBudget(2, None),
    quantization=Quantization(
        "static QDQ (Conv, Gemm; per-channel int8 weights, int8 activations)",
        static_ops=("Conv", "Gemm", "MatMul"),
    ),
))
register(ModelKind(
    name="crnn", title="CNN-BiLSTM", family="net", input_kind="sequence", reads_selection=False,
    factory="tonecue.train.nets:CnnBiLstm", aliases=("cnn-bilstm", "bilstm"),
    recipe=Recipe(epochs=100, lr=1e-3, schedule="constant", loss="cross_entropy", patience=10),
    budget=EpochBudget(20, 5), quick_budget=EpochBudget(1, None),
    quantization=Quantization(
        "static QDQ (Conv, Gemm) + dynamic int8 LSTM (DynamicQuantizeLSTM)",
        static_ops=("Conv", "Gemm", "MatMul"), dynamic_ops=("LSTM",),
    ),
))

# Beyond the seed. -----------------------------------------------------------------------------

register(ModelKind(
    name="attn-cnn", title="attention CNN", family="net", input_kind="sequence", reads_selection=False,
    factory="tonecue.train.nets:AttentionCnn", aliases=("attention-cnn",), in_all=False,
    # A small net for the pooled corpora (issue 11), on windows of any length (--window-seconds 2);
    # one-cycle with early stopping on validation speakers; it learns from augmented copies.
    recipe=Recipe(epochs=30, lr=2e-3, schedule="onecycle", loss="cross_entropy", patience=6, batch_size=64),
    budget=EpochBudget(30, 6), quick_budget=EpochBudget(1, None),
    quantization=Quantization(
        "static QDQ (Conv, Gemm, MatMul; per-channel int8 weights, int8 activations; batch norm is "
        "folded into the convolutions on export)",
        static_ops=("Conv", "Gemm", "MatMul"),
    ),
))
