"""Fitted models to ONNX files that carry their contract.

    run = load_run("runs/2024-..")                        # tonecue.train.runfolder: what tonecue-train wrote
    source = run.load("cnn2d")                            # a ClassicModel or a net
    contract = contract_for(run, "cnn2d")                 # ModelContract, precision "fp32"
    path = convert(source, contract, "out/cnn2d.fp32.onnx")

Every file has one float32 input named "input" (batch axis dynamic) and one output named
"probabilities" (batch, n_labels), and the contract in its metadata_props
(`ModelContract.to_metadata()`), so `tonecue.edge.model.EmotionModel` can load it alone. What
route a model takes is its kind's family (`tonecue.train.models`):

* classic scikit-learn pipelines (rf, svm, dt, ...) go through skl2onnx (the kernel model through
  this project's converter, `tonecue.export.kernel_onnx`). Their input is the *selected*
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
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from tonecue.edge.model import PREFIX, ModelContract
from tonecue.edge.normalize import NormalizationSettings
from tonecue.train.models import get as kind_of
from tonecue.train.runfolder import RunFolder, RunFolderError

__all__ = [
    "INPUT_NAME",
    "OUTPUT_NAME",
    "ONNX_OPSET",
    "classic_to_onnx",
    "contract_for",
    "convert",
    "metrics_for",
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

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------ sources


def model_kind(model: Any) -> str:
    """The registry name of a ClassicModel's or a net's kind ("rf", "dt", "cnn2d", ...)."""
    from tonecue.train.classic import ClassicModel

    name = model.name if isinstance(model, ClassicModel) else getattr(model, "kind", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"not a tonecue model: {type(model).__name__}")
    return kind_of(name).name


def source_proba(model: Any, features: np.ndarray, selected: Sequence[int] | None = None, batch_size: int = 512) -> np.ndarray:
    """The source model's probabilities (float64) on frontend outputs: the full statistics vector
    for the classic models (each picks its own columns), the selected columns for the 1D CNN, the
    image or sequence for the others."""
    from tonecue.train.classic import ClassicModel

    if isinstance(model, ClassicModel):
        return np.asarray(model.predict_proba(features), dtype=np.float64)
    from tonecue.train.nets import predict_proba

    inputs = source_input(features, selected if kind_of(model_kind(model)).reads_selection else None)
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

    from tonecue.export import kernel_onnx

    kernel_onnx.register()  # the kernel model's converter (skl2onnx has none for Nyström features)
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

    kind = kind_of(model_kind(model))
    if kind.input_kind != contract.input_kind:
        raise ValueError(f"{kind.name} reads {kind.input_kind!r} but the contract says {contract.input_kind!r}")
    onx = classic_to_onnx(model) if kind.family == "classic" else net_to_onnx(model)
    width = onx.graph.input[0].type.tensor_type.shape.dim
    graph_shape = tuple(d.dim_value for d in list(width)[1:])
    if graph_shape != contract.input_shape:
        raise ValueError(f"{kind.name}: the graph takes {graph_shape}, the contract promises {contract.input_shape}")
    onx.doc_string = f"tonecue {contract.model_name} ({contract.precision}); contract in metadata_props {PREFIX}*"
    onx.producer_name = "tonecue.export"
    strip(onx)
    set_contract(onx, contract)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(onx, str(path))
    place_detector(contract, path.parent)
    return path


def place_detector(contract: ModelContract, folder: str | Path) -> Path | None:
    """Put the speech detector a contract names beside the model, from the installed silero-vad
    wheel (with its MIT licence text), after checking that it is the very file training used; and
    its run-of-chunks twin where the wheel has one (`tonecue.edge.speech.SEQUENCE_GRAPHS`)."""
    import shutil

    from tonecue.edge.speech import SEQUENCE_GRAPHS, file_sha256, installed_silero_file

    detector = contract.detector
    if not detector.enabled:
        return None
    source, version = installed_silero_file()
    digest = file_sha256(source)
    if detector.sha256 and digest != detector.sha256:
        raise RunFolderError(
            f"the model was trained with {detector.source} (sha256 {detector.sha256[:12]}…), but the installed "
            f"{version} has another {source.name}; install the version training used, or train again"
        )
    target = Path(folder) / detector.file
    if not target.is_file() or file_sha256(target) != digest:
        shutil.copyfile(source, target)
    twin = SEQUENCE_GRAPHS.get(digest)
    if twin is not None and (source.with_name(twin[0])).is_file():
        twin_target = Path(folder) / twin[0]
        if not twin_target.is_file() or file_sha256(twin_target) != twin[1]:
            shutil.copyfile(source.with_name(twin[0]), twin_target)
    site = source.parents[2]  # site-packages/silero_vad/data/silero_vad.onnx
    licences = sorted(site.glob("silero_vad-*.dist-info/licenses/LICENSE*")) or sorted(
        site.glob("silero_vad-*.dist-info/LICENSE*")
    )
    if licences:
        shutil.copyfile(licences[0], Path(folder) / f"{Path(detector.file).stem}.LICENSE")
    return target


# ---------------------------------------------------------------------------------- contract


def contract_for(run: RunFolder, name: str, precision: str = "fp32", **extra: Any) -> ModelContract:
    """The contract of the model `name` of a run: its frontend, gate, labels, input and selection,
    hop, and under `training` the run, its data, its hyperparameters and its measured metrics."""
    kind = run.kind(name)
    training = {
        "run": run.name,
        "kind": kind.name,
        "data": _data_summary(run),
        "hyperparameters": run.config["hyperparameters"][name],
        "metrics": metrics_for(run, name),
        **extra,
    }
    calibration = run.results.get("protocols", {}).get("speaker", {}).get("models", {}).get(name, {}).get("calibration")
    return ModelContract(
        temperature=calibration["temperature"] if calibration else 1.0,
        spec=run.spec,
        gate=run.gate,
        detector=run.detector,
        bandwidth_hz=run.bandwidth_hz,
        normalization=run.normalization if kind.input_kind == run.normalized_kind else NormalizationSettings(),
        labels=run.labels,
        input_kind=kind.input_kind,
        selected_features=run.selected_for(name),
        hop_frames=run.hop_frames,
        model_name=name,
        precision=precision,
        training=_jsonable(training),
    )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _protocol_metrics(entry: dict[str, Any], folds: bool) -> dict[str, Any]:
    """The headline numbers of one protocol's entry of results.json (clip and window level)."""
    out: dict[str, Any] = {}
    for level in ("clip", "window"):
        overall = entry[level]["overall"]
        for key in ("uar", "accuracy", "macro_f1"):
            out[f"{level}_{key}"] = overall[key]
    per_corpus = entry["clip"]["per_corpus"]
    out["per_corpus_clip_uar"] = {c: m["uar"] for c, m in per_corpus.items()}
    out["per_corpus_clip_accuracy"] = {c: m["accuracy"] for c, m in per_corpus.items()}
    if folds:
        out["fold_clip_uar_mean"] = entry["per_fold_uar"]["clip"]["mean"]
        out["fold_clip_uar_std"] = entry["per_fold_uar"]["clip"]["std"]
    return out


def metrics_for(run: RunFolder, name: str) -> dict[str, Any]:
    """The measured metrics of the model `name` from the run's results.json: speaker-grouped and
    random-split headline numbers and the final fit's record."""
    run.kind(name)
    results = run.results
    try:
        out = {
            "speaker_grouped": {**_protocol_metrics(results["protocols"]["speaker"]["models"][name], folds=True),
                                "folds": results["config"]["folds"]},
            "random_split": _protocol_metrics(results["protocols"]["random"]["models"][name], folds=False),
            "final_fit": {k: v for k, v in results["final"]["models"][name].items() if k != "file"},
        }
        quick = results["quick"]
    except (KeyError, TypeError) as exc:
        raise RunFolderError(
            f"{run.path / 'results.json'}: no metrics of {name} where tonecue-train writes them (missing {exc})"
        ) from None
    if quick:
        out["quick_run"] = True
    return out


def _data_summary(run: RunFolder) -> dict[str, Any]:
    """A compact account of the training data for the contract (no host paths, no file lists)."""
    try:
        data = run.results["data"]
        summary: dict[str, Any] = {k: data[k] for k in ("clips", "speakers", "windows", "seconds_audio", "windows_per_class")}
        summary["label_map"] = run.label_map.to_dict()
        summary["folder"] = Path(data["root"]).name
        summary["corpora"] = {
            c: {k: d[k] for k in ("clips", "speakers", "windows", "clips_per_class")} for c, d in data["corpora"].items()
        }
        summary["clips_skipped"] = len(data["clips_skipped"])
    except (KeyError, TypeError) as exc:
        raise RunFolderError(f"{run.path / 'results.json'}: its data summary lacks {exc}") from None
    summary["window_seconds"] = round(run.spec.window_seconds, 4)
    return summary
