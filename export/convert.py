"""Fitted models to ONNX files that carry their contract.

    run = load_run("runs/2024-..")                        # the folder `tonecue-train` wrote
    source = run.load("cnn2d")                            # a ClassicModel or a net
    contract = run.contract("cnn2d")                      # ModelContract, precision "fp32"
    path = convert(source, contract, "out/cnn2d.fp32.onnx")

Every file has one float32 input named "input" (batch axis dynamic) and one output named
"probabilities" (batch, n_labels), and the contract in its metadata_props
(`ModelContract.to_metadata()`), so `tonecue.edge.model.EmotionModel` can load it alone:

* scikit-learn pipelines (rf, svm, tree) go through skl2onnx. Their input is the *selected*
  statistics (float32, as they were fitted); the device picks those columns itself from the
  contract's `selected_features`. The probabilities come out as a plain tensor (zipmap off); the
  label output is dropped. Opsets are capped (ai.onnx 17, ai.onnx.ml 3; skl2onnx then writes
  the lowest the graph needs) so that the onnxruntime a device installs (the edge extra allows
  1.17) can run them.
* the nets (cnn1d, cnn2d, crnn) go through torch's dynamo exporter, wrapped in `with_softmax`,
  weights inside the one file. The input normalisation is a buffer of the net, so it is in the
  graph too. cnn1d reads the selected statistics, cnn2d the (2, 20, 50) image, crnn the sequence.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from tonecue.edge.model import PREFIX, ModelContract
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.vad import GateSettings
from tonecue.edge.errors import TonecueError

__all__ = [
    "CLASSIC_KINDS",
    "INPUT_NAME",
    "NET_KINDS",
    "OUTPUT_NAME",
    "ONNX_OPSET",
    "RunFolder",
    "RunFolderError",
    "classic_to_onnx",
    "convert",
    "input_kind_of",
    "load_run",
    "model_kind",
    "net_to_onnx",
    "read_metadata",
    "set_contract",
]

INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
#: ai.onnx opset of the torch export (the dynamo exporter's own; onnxruntime >= 1.17 runs it).
ONNX_OPSET = 18
#: Highest opsets of the scikit-learn conversions (TreeEnsembleClassifier, SVMClassifier of ai.onnx.ml).
SKLEARN_OPSETS = {"": 17, "ai.onnx.ml": 3}

CLASSIC_KINDS = ("rf", "svm", "tree")
NET_KINDS = ("cnn1d", "cnn2d", "crnn")
#: The frontend output each model kind reads.
INPUT_KINDS = {"rf": "stats", "svm": "stats", "tree": "stats", "cnn1d": "stats", "cnn2d": "image", "crnn": "sequence"}

_MODEL_SUFFIXES = {".joblib": "classic", ".pkl": "classic", ".pt": "net", ".pth": "net"}

log = logging.getLogger(__name__)


class RunFolderError(TonecueError, ValueError):
    """A run folder that lacks a piece the export needs, or holds one it cannot read."""


# ------------------------------------------------------------------------------------ sources


def model_kind(model: Any) -> str:
    """"rf", "svm", "tree", "cnn1d", "cnn2d" or "crnn" for a ClassicModel or a net."""
    from tonecue.train.classic import ClassicModel

    if isinstance(model, ClassicModel):
        return model.name
    kind = getattr(model, "kind", None)
    if kind in NET_KINDS:
        return kind
    raise TypeError(f"not a tonecue model: {type(model).__name__}")


def input_kind_of(model: Any) -> str:
    """The frontend output ("stats", "image", "sequence") a model reads."""
    return INPUT_KINDS[model_kind(model)]


def source_proba(model: Any, features: np.ndarray, selected: Sequence[int] | None = None, batch_size: int = 512) -> np.ndarray:
    """The source model's probabilities (float64) on frontend outputs: the full statistics vector
    for the classic models (each picks its own columns), the selected columns for the 1D CNN, the
    image or sequence for the others."""
    from tonecue.train.classic import ClassicModel

    if isinstance(model, ClassicModel):
        return np.asarray(model.predict_proba(features), dtype=np.float64)
    from tonecue.train.nets import predict_proba

    inputs = source_input(features, selected if model_kind(model) == "cnn1d" else None)
    return predict_proba(model, inputs, batch_size=batch_size).astype(np.float64)


def source_input(features: np.ndarray, selected: Sequence[int] | None) -> np.ndarray:
    """What the exported graph takes for frontend outputs: the selected columns for stats models."""
    if selected is not None:
        features = features[:, np.asarray(selected, dtype=np.int64)]
    return np.ascontiguousarray(features, dtype=np.float32)


# ------------------------------------------------------------------------------------ metadata


def strip(model) -> None:
    """Drop what a device does not need: the exporter's per-node metadata (stack traces with host
    paths, module names), doc strings, inferred value_info and other tools' metadata_props."""
    graph = model.graph
    for node in graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    del graph.metadata_props[:]
    del graph.value_info[:]
    graph.doc_string = ""
    keep = [(p.key, p.value) for p in model.metadata_props if p.key.startswith(PREFIX)]
    del model.metadata_props[:]
    for key, value in keep:
        model.metadata_props.add(key=key, value=value)


def set_contract(model, contract: ModelContract) -> None:
    """Write the contract into an onnx.ModelProto's metadata_props, replacing any tonecue keys."""
    keep = [(p.key, p.value) for p in model.metadata_props if not p.key.startswith(PREFIX)]
    del model.metadata_props[:]
    for key, value in keep + sorted(contract.to_metadata().items()):
        model.metadata_props.add(key=key, value=value)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata_props of an ONNX file, as a dict."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def read_contract(path: str | Path) -> ModelContract:
    return ModelContract.from_metadata(read_metadata(path), str(path))


# ---------------------------------------------------------------------------------- conversion


def classic_to_onnx(model: Any):
    """A ClassicModel's pipeline as an onnx.ModelProto: "input" (batch, k selected) float32 ->
    "probabilities" (batch, n_classes) float32."""
    import onnx
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType

    pipeline = model.pipeline
    k = len(model.indices)
    classifier = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skl2onnx's notes about opsets and dtypes
        onx = convert_sklearn(
            pipeline,
            name=f"tonecue_{model.name}",
            initial_types=[(INPUT_NAME, FloatTensorType([None, k]))],
            final_types=[("label", Int64TensorType([None])), (OUTPUT_NAME, FloatTensorType([None, model.n_classes]))],
            options={id(classifier): {"zipmap": False}},
            target_opset=dict(SKLEARN_OPSETS),
        )
    _keep_only_output(onx, OUTPUT_NAME)
    onnx.checker.check_model(onx)
    return onx


def _keep_only_output(model, name: str) -> None:
    """Drop every graph output but `name`, and the nodes nothing needs any more."""
    graph = model.graph
    outputs = [o for o in graph.output if o.name == name]
    if len(outputs) != 1:
        raise RuntimeError(f"conversion gave no output named {name!r}: {[o.name for o in graph.output]}")
    del graph.output[:]
    graph.output.extend(outputs)
    needed = {name}
    kept = []
    for node in reversed(list(graph.node)):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = needed
    initializers = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the dynamo exporter: its torchvision notes (logged) and deprecation warnings."""
    names = (
        "torch.onnx",
        "torch.onnx._internal.exporter._registration",
        "torch.export",
        "torch._dynamo",
        "onnxscript",
        "onnx_ir",
    )
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def net_to_onnx(net: Any, opset: int = ONNX_OPSET):
    """A tonecue net with its softmax as an onnx.ModelProto: "input" (batch, *input_shape)
    float32 -> "probabilities" (batch, n_classes), every weight inside the model."""
    import onnx
    import torch

    from tonecue.train.nets import with_softmax

    net = net.cpu().eval()
    wrapped = with_softmax(net).eval()
    example = torch.zeros(2, *net.input_shape, dtype=torch.float32)
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            wrapped,
            (example,),
            None,
            dynamo=True,
            external_data=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            verbose=False,
        )
    onx = program.model_proto
    names_in = [i.name for i in onx.graph.input]
    names_out = [o.name for o in onx.graph.output]
    if names_in != [INPUT_NAME] or names_out != [OUTPUT_NAME]:
        raise RuntimeError(f"exported graph has inputs {names_in} and outputs {names_out}")
    onnx.checker.check_model(onx)
    return onx


def convert(model: Any, contract: ModelContract, path: str | Path) -> Path:
    """Export a ClassicModel or a net to `path` as one ONNX file with `contract` in its metadata."""
    import onnx

    kind = model_kind(model)
    if INPUT_KINDS[kind] != contract.input_kind:
        raise ValueError(f"{kind} reads {INPUT_KINDS[kind]!r} but the contract says {contract.input_kind!r}")
    onx = classic_to_onnx(model) if kind in CLASSIC_KINDS else net_to_onnx(model)
    width = onx.graph.input[0].type.tensor_type.shape.dim
    graph_shape = tuple(d.dim_value for d in list(width)[1:])
    if graph_shape != contract.input_shape:
        raise ValueError(f"{kind}: the graph takes {graph_shape}, the contract promises {contract.input_shape}")
    onx.doc_string = f"tonecue {contract.model_name} ({contract.precision}); contract in metadata_props {PREFIX}*"
    onx.producer_name = "tonecue.export"
    strip(onx)
    set_contract(onx, contract)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(onx, str(path))
    return path


# ---------------------------------------------------------------------------------- run folder


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunFolderError(f"{path.parent}: {path.name} is missing") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise RunFolderError(f"{path}: cannot read it ({exc})") from None


@dataclass
class RunFolder:
    """What `tonecue-train` wrote, read back for the export.

    spec, gate, hop_frames, labels: the frontend, gate and classes the models were trained with.
    selected: names of the statistics featurewiz kept (the stats models read these, in order).
    results: results.json as written (the measured metrics that go into each contract).
    models: {name: file} of every fitted final model (classic: joblib, nets: torch).
    """

    path: Path
    spec: FrontendSpec
    gate: GateSettings
    hop_frames: int
    labels: tuple[str, ...]
    selected: list[str] | None
    results: dict[str, Any]
    models: dict[str, Path]
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def selected_indices(self) -> tuple[int, ...] | None:
        if self.selected is None:
            return None
        names = self.spec.stats_feature_names()
        position = {n: i for i, n in enumerate(names)}
        unknown = [s for s in self.selected if s not in position]
        if unknown:
            raise RunFolderError(f"{self.path}: selected features not in the statistics vector: {unknown}")
        return tuple(position[s] for s in self.selected)

    def load(self, name: str) -> Any:
        """The fitted model called `name` (loaded once)."""
        if name not in self.models:
            raise RunFolderError(f"{self.path}: no model {name!r}; it has {sorted(self.models)}")
        if name not in self._loaded:
            path = self.models[name]
            try:
                if _MODEL_SUFFIXES[path.suffix] == "classic":
                    from tonecue.train.classic import load_classic

                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # "saved with scikit-learn x" is checked below
                        model = load_classic(path)
                else:
                    from tonecue.train.nets import load_net

                    model = load_net(path)
            except Exception as exc:
                raise RunFolderError(f"{path}: cannot load it ({type(exc).__name__}: {exc})") from None
            self._check(name, model)
            self._loaded[name] = model
        return self._loaded[name]

    def _check(self, name: str, model: Any) -> None:
        kind = model_kind(model)
        n_classes = model.n_classes
        if n_classes != len(self.labels):
            raise RunFolderError(f"{self.path}: {name} has {n_classes} classes, labels.json {len(self.labels)}")
        if kind in CLASSIC_KINDS:
            if list(model.feature_names) != self.spec.stats_feature_names():
                raise RunFolderError(f"{self.path}: {name} was fitted on a statistics vector other than spec.json's")
        elif kind == "cnn1d":
            k = self.selected_indices
            if k is None or model.input_shape != (len(k),):
                raise RunFolderError(
                    f"{self.path}: cnn1d reads {model.input_shape} values but selected_features.json "
                    f"lists {None if k is None else len(k)}"
                )
        else:
            expected = frontend_shape(self.spec, INPUT_KINDS[kind])
            if model.input_shape != expected:
                raise RunFolderError(f"{self.path}: {name} reads {model.input_shape}, the spec makes {expected}")

    def selected_for(self, name: str) -> tuple[int, ...] | None:
        """Indices into the statistics vector that the model reads (None: image or sequence)."""
        model = self._loaded.get(name)
        if model is not None and model_kind(model) in CLASSIC_KINDS:
            return tuple(int(i) for i in model.indices)
        if INPUT_KINDS.get(self.kind_of(name)) != "stats":
            return None
        return self.selected_indices

    def kind_of(self, name: str) -> str:
        return model_kind(self.load(name))

    def metrics(self, name: str) -> dict[str, Any]:
        """The measured metrics of `name` from results.json (whatever shape the trainer gave them)."""
        return _metrics_for(self.results, name)

    def contract(self, name: str, precision: str = "fp32", **extra: Any) -> ModelContract:
        model = self.load(name)
        kind = model_kind(model)
        training = {
            "run": self.name,
            "kind": kind,
            "data": _data_summary(self.results),
            "metrics": self.metrics(name),
            **extra,
        }
        return ModelContract(
            spec=self.spec,
            gate=self.gate,
            labels=self.labels,
            input_kind=INPUT_KINDS[kind],
            selected_features=self.selected_for(name),
            hop_frames=self.hop_frames,
            model_name=name,
            precision=precision,
            training=_jsonable(training),
        )


def frontend_shape(spec: FrontendSpec, kind: str) -> tuple[int, ...]:
    from tonecue.edge.frontend import frontend_for

    return frontend_for(spec).output_shape(kind)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _pick(node: Any, *path: str) -> Any:
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    return node


def _protocol_metrics(entry: Any, folds: bool) -> dict[str, Any]:
    """The headline numbers of one protocol's entry of results.json (clip and window level)."""
    out: dict[str, Any] = {}
    for level in ("clip", "window"):
        overall = _pick(entry, level, "overall")
        if isinstance(overall, dict):
            for key in ("uar", "accuracy", "macro_f1"):
                if isinstance(overall.get(key), (int, float)):
                    out[f"{level}_{key}"] = overall[key]
    per_corpus = _pick(entry, "clip", "per_corpus")
    if isinstance(per_corpus, dict):
        out["per_corpus_clip_uar"] = {c: m.get("uar") for c, m in per_corpus.items() if isinstance(m, dict)}
        out["per_corpus_clip_accuracy"] = {c: m.get("accuracy") for c, m in per_corpus.items() if isinstance(m, dict)}
    if folds:
        fold = _pick(entry, "per_fold_uar", "clip")
        if isinstance(fold, dict):
            out["fold_clip_uar_mean"] = fold.get("mean")
            out["fold_clip_uar_std"] = fold.get("std")
    return out


def _metrics_for(results: dict[str, Any], name: str) -> dict[str, Any]:
    """The measured metrics of `name` from results.json as `tonecue-train` writes it
    (protocols.speaker / protocols.random / final); empty where the run has none."""
    out: dict[str, Any] = {}
    speaker = _pick(results, "protocols", "speaker", "models", name)
    if isinstance(speaker, dict):
        out["speaker_grouped"] = _protocol_metrics(speaker, folds=True)
        n_folds = _pick(results, "settings", "folds")
        if n_folds is not None:
            out["speaker_grouped"]["folds"] = n_folds
    random = _pick(results, "protocols", "random", "models", name)
    if isinstance(random, dict):
        out["random_split"] = _protocol_metrics(random, folds=False)
    final = _pick(results, "final", "models", name)
    if isinstance(final, dict):
        out["final_fit"] = {k: v for k, v in final.items() if k != "file"}
    if results.get("quick"):
        out["quick_run"] = True
    return out


def _data_summary(results: dict[str, Any]) -> dict[str, Any]:
    """A compact account of the training data for the contract (no host paths, no file lists)."""
    data = results.get("data")
    if not isinstance(data, dict):
        return {}
    keep = ("clips", "speakers", "windows", "seconds_audio", "windows_per_class", "label_map")
    summary: dict[str, Any] = {k: data[k] for k in keep if k in data}
    if isinstance(data.get("root"), str):
        summary["folder"] = Path(data["root"]).name
    corpora = data.get("corpora")
    if isinstance(corpora, dict):
        summary["corpora"] = {
            c: {k: v for k, v in d.items() if k in ("clips", "speakers", "windows", "clips_per_class")}
            for c, d in corpora.items()
            if isinstance(d, dict)
        }
    if isinstance(data.get("clips_skipped"), list):
        summary["clips_skipped"] = len(data["clips_skipped"])
    window = _pick(results, "settings", "window_seconds")
    if window is not None:
        summary["window_seconds"] = window
    return summary


def _find_model_files(run_dir: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in (run_dir, run_dir / "models"):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix in _MODEL_SUFFIXES:
                found.setdefault(path.stem, path)
    return found


def _labels(data: Any, path: Path) -> tuple[str, ...]:
    if isinstance(data, dict):
        data = data.get("classes", data.get("labels"))
    if not (isinstance(data, list) and data and all(isinstance(x, str) and x for x in data)):
        raise RunFolderError(f"{path}: labels.json must list the class names (or hold {{'classes': [...]}})")
    return tuple(data)


def _selected(data: Any, path: Path, spec: FrontendSpec) -> list[str] | None:
    if isinstance(data, dict):
        names = data.get("feature_names")
        if names is not None and list(names) != spec.stats_feature_names():
            raise RunFolderError(f"{path}: its feature_names are not the statistics vector of spec.json")
        data = data.get("selected", data.get("names", data.get("features")))
    if data is None:
        return None
    if not (isinstance(data, list) and all(isinstance(x, str) for x in data)):
        raise RunFolderError(f"{path}: selected_features.json must list feature names")
    return list(data)


def _hop_frames(*sources: Any) -> int:
    from tonecue.train.windows import DEFAULT_HOP_FRAMES

    for source in sources:
        if isinstance(source, dict):
            for key in ("hop_frames", "window_hop_frames"):
                if isinstance(source.get(key), int):
                    return source[key]
            for inner in ("windows", "config", "settings"):
                if isinstance(source.get(inner), dict) and isinstance(source[inner].get("hop_frames"), int):
                    return source[inner]["hop_frames"]
    return DEFAULT_HOP_FRAMES


def load_run(path: str | Path) -> RunFolder:
    """Read a `tonecue-train` run folder; RunFolderError says what is missing or unreadable."""
    from tonecue.edge.spec import SpecError

    run_dir = Path(path)
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir}: not a folder (give the run folder tonecue-train wrote)")
    missing = [n for n in ("spec.json", "gate.json", "labels.json") if not (run_dir / n).is_file()]
    models = _find_model_files(run_dir)
    if not models:
        missing.append("fitted models (*.joblib, *.pt)")
    if missing:
        raise RunFolderError(
            f"{run_dir}: not a complete run folder, missing {', '.join(missing)} "
            "(tonecue-train --data DIR --out RUN_DIR writes them)"
        )
    spec_data = _read_json(run_dir / "spec.json")
    gate_data = _read_json(run_dir / "gate.json")
    try:
        spec = FrontendSpec.from_dict(spec_data.get("spec", spec_data) if isinstance(spec_data, dict) else spec_data)
        gate = GateSettings.from_dict(gate_data.get("gate", gate_data) if isinstance(gate_data, dict) else gate_data)
    except (SpecError, ValueError, TypeError, AttributeError) as exc:
        raise RunFolderError(f"{run_dir}: spec.json or gate.json cannot be read: {exc}") from None
    labels = _labels(_read_json(run_dir / "labels.json"), run_dir / "labels.json")
    selected_path = run_dir / "selected_features.json"
    selected = _selected(_read_json(selected_path), selected_path, spec) if selected_path.is_file() else None
    results_path = run_dir / "results.json"
    results = _read_json(results_path) if results_path.is_file() else {}
    if not isinstance(results, dict):
        results = {"results": results}
    if isinstance(gate_data, dict):
        gate_data = {k: v for k, v in gate_data.items() if k != "gate"}
    return RunFolder(
        path=run_dir,
        spec=spec,
        gate=gate,
        hop_frames=_hop_frames(spec_data, gate_data, results),
        labels=labels,
        selected=selected,
        results=results,
        models=models,
    )
