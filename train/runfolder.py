"""The run folder between `tonecue-train` and `tonecue-export`: one versioned schema, one owner.

Training writes it (`write_run`), export reads it (`load_run`), both through this module:

    RUN/run.json        the manifest (below)
    RUN/models/<name>   every fitted final model: <name>.joblib (classic), <name>.pt (net)
    RUN/results.json    the evaluation (tonecue.train.run), with the same "config" as run.json
    RUN/results.md, corpus.json, windows.json, confusion/*.png   reports for people

run.json, format 2:

    format_version      1
    created             ISO time of the run
    config              the full training configuration (CONFIG_KEYS): the corpus, the models,
                        seed, folds, test share, validation share, --quick, the label map, the
                        frontend spec, the hop between windows, the level gate and the speech
                        detector that chose the voiced windows, the speakers left out, the
                        speaker normalization (with its prior), the audio bandwidth of the
                        training data, the augmented copies (their recipe and noise files), the
                        test conditions, the budget, featurewiz's correlation limit and every
                        model's hyperparameters
    selected_features   names of the statistics featurewiz kept on all clips (null: no model
                        read a selection)
    models              {name: file under the folder}, one per model in config["models"]

Reading is strict: a missing file, a missing or unknown key, another format version, a model kind
this tonecue has not registered, or a results.json whose configuration differs is a
`RunFolderError` that says which.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from tonecue.edge.errors import TonecueError
from tonecue.edge.normalize import NormalizationSettings
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.speech import DetectorSettings
from tonecue.edge.vad import GateSettings

__all__ = [
    "CONFIG_KEYS",
    "FORMAT_VERSION",
    "MANIFEST",
    "RESULTS",
    "RunFolder",
    "RunFolderError",
    "load_run",
    "write_json",
    "write_run",
]

FORMAT_VERSION = 3  # 2: exclude_speakers, normalization, bandwidth_hz; 3: augmentation, conditions
MANIFEST = "run.json"
RESULTS = "results.json"
MODELS = "models"
MANIFEST_KEYS = ("format_version", "created", "config", "selected_features", "models")
#: The training configuration, in run.json and results.json alike.
CONFIG_KEYS = (
    "data", "models", "seed", "folds", "test_size", "val_fraction", "quick",
    "label_map", "frontend", "hop_frames", "gate", "detector", "exclude_speakers", "normalization",
    "bandwidth_hz", "augmentation", "conditions", "budget", "featurewiz_corr_limit", "hyperparameters",
)
_SUFFIX = {"classic": ".joblib", "net": ".pt"}


class RunFolderError(TonecueError, ValueError):
    """A run folder that lacks a piece the export needs, or holds one it cannot read."""


# ------------------------------------------------------------------------------------ writing


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def write_json(path: Path, data: Any) -> None:
    """The run folder's JSON style (indent 1, numpy scalars and paths as plain values)."""
    Path(path).write_text(json.dumps(data, indent=1, default=_json_default) + "\n")


def write_run(
    out: str | Path,
    *,
    created: str,
    config: Mapping[str, Any],
    selected: Sequence[str] | None,
    models: Mapping[str, Any],
) -> dict[str, Path]:
    """Save every fitted model under out/models/ and write out/run.json; returns {name: file}.

    models: {kind name: fitted ClassicModel or net}, exactly the names of config["models"].
    """
    from tonecue.train.classic import save_classic
    from tonecue.train.models import get
    from tonecue.train.nets import save_net

    out = Path(out)
    missing = sorted(set(CONFIG_KEYS) - set(config))
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if missing or unknown:
        raise RunFolderError(f"a run's config needs exactly {list(CONFIG_KEYS)}; missing {missing}, unknown {unknown}")
    if list(models) != list(config["models"]):
        raise RunFolderError(f"fitted models {list(models)} are not the config's {list(config['models'])}")
    save = {"classic": save_classic, "net": save_net}
    files = {}
    for name, model in models.items():
        family = get(name).family
        files[name] = save[family](model, out / MODELS / f"{name}{_SUFFIX[family]}")
    write_json(out / MANIFEST, {
        "format_version": FORMAT_VERSION,
        "created": created,
        "config": dict(config),
        "selected_features": None if selected is None else list(selected),
        "models": {name: path.relative_to(out).as_posix() for name, path in files.items()},
    })
    return files


# ------------------------------------------------------------------------------------ reading


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunFolderError(
            f"{path.parent}: {path.name} is missing; not a complete run folder of format {FORMAT_VERSION} "
            "(tonecue-train --data DIR --out RUN_DIR writes one)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFolderError(f"{path}: cannot read it ({exc})") from None


def _exact_keys(data: Any, keys: Sequence[str], where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RunFolderError(f"{where} must be a JSON object, got {type(data).__name__}")
    missing = [k for k in keys if k not in data]
    unknown = sorted(set(data) - set(keys))
    if missing or unknown:
        parts = ([f"lacks {', '.join(missing)}"] if missing else []) + ([f"has unknown {', '.join(unknown)}"] if unknown else [])
        raise RunFolderError(f"{where} {' and '.join(parts)}")
    return data


@dataclass
class RunFolder:
    """A run folder as `load_run` read it.

    config: the training configuration (CONFIG_KEYS), as run.json and results.json hold it.
    label_map, spec, gate, detector, hop_frames: the classes and the windows' settings, from config.
    normalization: the speaker normalization its vector-input models were trained with (and its prior).
    bandwidth_hz: the audio bandwidth of the training data (None: the frontend's Nyquist).
    selected: names of the statistics featurewiz kept (None: no model read a selection).
    models: {name: file} of every fitted final model. results: results.json as written.
    """

    path: Path
    created: str
    config: dict[str, Any]
    label_map: Any  # tonecue.train.corpus.LabelMap
    spec: FrontendSpec
    gate: GateSettings
    detector: DetectorSettings
    hop_frames: int
    selected: tuple[str, ...] | None
    models: dict[str, Path]
    results: dict[str, Any]
    normalization: NormalizationSettings = NormalizationSettings()
    bandwidth_hz: float | None = None
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def labels(self) -> tuple[str, ...]:
        """The classes, in the order of every model's outputs."""
        return tuple(self.label_map.classes)

    @property
    def selected_indices(self) -> tuple[int, ...] | None:
        if self.selected is None:
            return None
        position = {n: i for i, n in enumerate(self.spec.stats_feature_names())}
        return tuple(position[s] for s in self.selected)

    @property
    def normalized_kind(self) -> str | None:
        """The vector input (stats or paraling) the run's normalization prior standardizes, or
        None without normalization (a run normalizes one: `tonecue.train.run` checks)."""
        if not self.normalization.enabled:
            return None
        from tonecue.edge.frontend import VECTOR_KINDS

        read = [self.kind(m).input_kind for m in self.models]
        return next((k for k in VECTOR_KINDS if k in read), None)

    def kind(self, name: str):
        """The registry record of the model `name`."""
        from tonecue.train.models import get

        self._check_name(name)
        return get(name)

    def _check_name(self, name: str) -> None:
        if name not in self.models:
            raise RunFolderError(f"{self.path}: no model {name!r}; it has {sorted(self.models)}")

    def load(self, name: str) -> Any:
        """The fitted model `name` (loaded once), checked against the run's classes and inputs."""
        kind = self.kind(name)
        if name not in self._loaded:
            path = self.models[name]
            try:
                if kind.family == "classic":
                    from tonecue.train.classic import load_classic

                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # "saved with scikit-learn x": parity checks it
                        model = load_classic(path)
                else:
                    from tonecue.train.nets import load_net

                    model = load_net(path)
            except Exception as exc:  # a damaged file: whatever joblib or torch raise
                raise RunFolderError(f"{path}: cannot load it ({type(exc).__name__}: {exc})") from None
            self._check(kind, model)
            self._loaded[name] = model
        return self._loaded[name]

    def _check(self, kind, model: Any) -> None:
        where = f"{self.path}: {kind.name}"
        own = model.name if kind.family == "classic" else model.kind
        if own != kind.name:
            raise RunFolderError(f"{where}: its file holds a {own!r} model")
        if model.n_classes != len(self.labels):
            raise RunFolderError(f"{where} has {model.n_classes} classes, the label map {len(self.labels)}")
        if kind.family == "classic":
            from tonecue.edge.frontend import frontend_for

            if list(model.feature_names) != frontend_for(self.spec).feature_names(kind.input_kind):
                raise RunFolderError(f"{where} was fitted on a {kind.input_kind} vector other than the run's frontend's")
            if kind.reads_selection and tuple(model.selected) != self.selected:
                raise RunFolderError(f"{where} reads other statistics than run.json's selected_features")
            return
        expected = self.input_shape(kind.name)
        if model.input_shape != expected:
            raise RunFolderError(f"{where} reads {model.input_shape} values, the run gives it {expected}")

    def input_shape(self, name: str) -> tuple[int, ...]:
        """What the model `name` reads: (k,) for the k selected statistics, else a frontend output."""
        kind = self.kind(name)
        if kind.reads_selection:
            if self.selected is None:
                raise RunFolderError(f"{self.path}: {name} reads the feature selection, run.json has none")
            return (len(self.selected),)
        from tonecue.edge.frontend import frontend_for

        return frontend_for(self.spec).output_shape(kind.input_kind)

    def selected_for(self, name: str) -> tuple[int, ...] | None:
        """Indices into the statistics vector that the model reads (None: it reads a whole output)."""
        kind = self.kind(name)
        if not kind.reads_selection:
            return None
        if kind.family == "classic":
            return tuple(int(i) for i in self.load(name).indices)
        return self.selected_indices


def load_run(path: str | Path) -> RunFolder:
    """Read a run folder `write_run` wrote; RunFolderError says what is missing or unreadable."""
    from tonecue.edge.normalize import NormalizationError
    from tonecue.edge.spec import SpecError
    from tonecue.edge.speech import DetectorError
    from tonecue.edge.vad import GateError
    from tonecue.train.corpus import CorpusError, LabelMap
    from tonecue.train.models import ModelKindError, get

    run_dir = Path(path)
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir}: not a folder (give the run folder tonecue-train wrote)")
    manifest = _read_json(run_dir / MANIFEST)
    where = f"{run_dir / MANIFEST}"
    if isinstance(manifest, dict) and manifest.get("format_version") != FORMAT_VERSION:
        raise RunFolderError(
            f"{where}: run folder format {manifest.get('format_version')!r}, but this tonecue reads format "
            f"{FORMAT_VERSION}; export it with the tonecue that trained it, or train again"
        )
    manifest = _exact_keys(manifest, MANIFEST_KEYS, where)
    config = _exact_keys(manifest["config"], CONFIG_KEYS, f"{where}: config")
    try:
        label_map = LabelMap.from_dict(config["label_map"])
        spec = FrontendSpec.from_dict(config["frontend"])
        gate = GateSettings.from_dict(config["gate"])
        detector = DetectorSettings.from_dict(config["detector"])
        normalization = NormalizationSettings.from_dict(config["normalization"])
    except (CorpusError, SpecError, GateError, DetectorError, NormalizationError, TypeError, AttributeError) as exc:
        raise RunFolderError(f"{where}: config cannot be read: {exc}") from None
    bandwidth = config["bandwidth_hz"]
    if bandwidth is not None and (isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float)) or bandwidth <= 0):
        raise RunFolderError(f"{where}: config bandwidth_hz must be null or a positive number of Hz, got {bandwidth!r}")
    excluded = config["exclude_speakers"]
    if not (isinstance(excluded, list) and all(isinstance(s, str) for s in excluded)):
        raise RunFolderError(f"{where}: config exclude_speakers must be a list of speaker ids")
    hop = config["hop_frames"]
    if isinstance(hop, bool) or not isinstance(hop, int) or hop < 1:
        raise RunFolderError(f"{where}: config hop_frames must be a positive integer, got {hop!r}")

    selected = manifest["selected_features"]
    if selected is not None:
        names = set(spec.stats_feature_names())
        if not (isinstance(selected, list) and selected and all(isinstance(s, str) for s in selected)):
            raise RunFolderError(f"{where}: selected_features must be null or a list of statistics' names")
        unknown = [s for s in selected if s not in names]
        if unknown or len(set(selected)) != len(selected):
            raise RunFolderError(f"{where}: selected_features repeats names or names no statistic of the frontend: {unknown}")
        selected = tuple(selected)

    entries = manifest["models"]
    if not isinstance(entries, dict) or not entries or not all(isinstance(f, str) for f in entries.values()):
        raise RunFolderError(f"{where}: models must map each model's name to its file")
    if list(entries) != list(config["models"]):
        raise RunFolderError(f"{where}: models {list(entries)} are not the config's {config['models']}")
    models = {}
    for name, file in entries.items():
        try:
            get(name)
        except ModelKindError:
            raise RunFolderError(
                f"{where}: model kind {name!r} is not registered in this tonecue (tonecue.train.models.register)"
            ) from None
        models[name] = run_dir / file
        if not models[name].is_file():
            raise RunFolderError(f"{where}: the file of {name}, {file}, is missing")

    results = _read_json(run_dir / RESULTS)
    if not isinstance(results, dict) or results.get("config") != config:
        raise RunFolderError(f"{run_dir / RESULTS}: its config is not run.json's (a results.json of another run?)")
    return RunFolder(
        path=run_dir,
        created=manifest["created"],
        config=config,
        label_map=label_map,
        spec=spec,
        gate=gate,
        detector=detector,
        hop_frames=hop,
        selected=selected,
        models=models,
        results=results,
        normalization=normalization,
        bandwidth_hz=None if bandwidth is None else float(bandwidth),
    )
