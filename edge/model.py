"""Load an exported tonecue model and run it: the contract inside the ONNX file, then inference.

Every exported model carries its contract in the ONNX metadata (keys below): the frontend spec,
the voice gate, the labels, which input it takes (the statistics vector, possibly a selection
of it, the (2, 20, 50) image, the frame sequence, or the paralinguistic functionals, with the
settings behind them) and how it was trained. The device builds its
frontend from that contract, so training and device can never disagree about features; a file
whose contract this tonecue cannot honour is refused with a `ModelError` that says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import TonecueError
from .frontend import KINDS, PARALING_KINDS, VECTOR_KINDS, Frontend, StreamingFeaturizer, frontend_for, paraling_settings
from .spec import DEFAULT_HOP_FRAMES, FrontendSpec, SpecError
from .runtime import open_session
from .normalize import NormalizationError, NormalizationSettings, cold_normalize
from .speech import LEVEL_ONLY, DetectorError, DetectorSettings, SileroVAD, SpeechDetector, check_detector_file
from .vad import GateSettings

CONTRACT_VERSION = 1
PREFIX = "tonecue."
DEFAULT_MODEL = Path(__file__).with_name("assets") / "model.onnx"


class ModelError(TonecueError, ValueError):
    """A model file that is missing, unreadable, or whose contract cannot be honoured."""


def scale_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities (n, k) with their logarithms divided by `temperature` and renormalized:
    T > 1 flattens them, T = 1 changes nothing, and no row's top label ever moves (training fits
    T on voices the model never heard: `tonecue.train.calibrate`)."""
    if temperature == 1.0:
        return proba
    logs = np.log(np.clip(proba, 1e-12, None)) / temperature
    logs -= logs.max(axis=1, keepdims=True)
    scaled = np.exp(logs)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(proba.dtype, copy=False)


@dataclass(frozen=True)
class ModelContract:
    """What a model expects and promises, as stored in its metadata."""

    spec: FrontendSpec
    gate: GateSettings
    labels: tuple[str, ...]
    input_kind: str
    selected_features: tuple[int, ...] | None = None
    hop_frames: int = DEFAULT_HOP_FRAMES
    detector: DetectorSettings = LEVEL_ONLY
    bandwidth_hz: float | None = None  # the audio bandwidth of the training data (None: Nyquist)
    normalization: NormalizationSettings = NormalizationSettings()
    temperature: float = 1.0  # calibration: the device divides log-probabilities by it
    model_name: str = "unknown"
    precision: str = "fp32"
    training: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example (no batch axis)."""
        if self.input_kind == "stats" and self.selected_features is not None:
            return (len(self.selected_features),)
        return frontend_for(self.spec).output_shape(self.input_kind)

    @property
    def required_bandwidth_hz(self) -> float:
        """The highest frequency the model saw in training: input without it cannot serve it."""
        nyquist = self.spec.sample_rate / 2
        return nyquist if self.bandwidth_hz is None else min(float(self.bandwidth_hz), nyquist)

    def to_metadata(self) -> dict[str, str]:
        """String key/values for the ONNX file's metadata_props."""
        values = {
            "contract_version": CONTRACT_VERSION,
            "frontend": self.spec.to_dict(),
            "gate": self.gate.to_dict(),
            "labels": list(self.labels),
            "input_kind": self.input_kind,
            "input_shape": list(self.input_shape),
            "selected_features": None if self.selected_features is None else list(self.selected_features),
            "hop_frames": self.hop_frames,
            "detector": self.detector.to_dict(),
            "bandwidth_hz": self.bandwidth_hz,
            "normalization": self.normalization.to_dict(),
            # What the spec's "paraling" input derives from it, so that a device whose defaults
            # differ refuses the model instead of computing other numbers under the same names.
            "paraling": paraling_settings(self.spec).to_dict() if self.input_kind in PARALING_KINDS else None,
            "calibration": {"temperature": self.temperature},
            "model": self.model_name,
            "precision": self.precision,
            "training": self.training,
        }
        return {PREFIX + key: json.dumps(value, sort_keys=True) for key, value in values.items()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], source: str = "model") -> ModelContract:
        values = {}
        for key, text in metadata.items():
            if key.startswith(PREFIX):
                try:
                    values[key[len(PREFIX) :]] = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ModelError(f"{source}: metadata {key} is not valid JSON ({exc})") from None
        if not values:
            raise ModelError(f"{source}: not a tonecue model (its ONNX metadata has no tonecue contract)")
        version = values.get("contract_version")
        if version != CONTRACT_VERSION:
            raise ModelError(
                f"{source}: contract version {version!r}, but this tonecue reads version {CONTRACT_VERSION}; "
                "re-export the model with a matching tonecue"
            )
        missing = [k for k in ("frontend", "gate", "labels", "input_kind", "hop_frames") if k not in values]
        if missing:
            raise ModelError(f"{source}: contract lacks {', '.join(missing)}")
        try:
            spec = FrontendSpec.from_dict(values["frontend"])
            gate = GateSettings.from_dict(values["gate"])
            # Models exported before the speech detector name none: the level gate alone.
            detector = DetectorSettings.from_dict(values["detector"]) if "detector" in values else LEVEL_ONLY
            normalization = NormalizationSettings.from_dict(values.get("normalization") or {})
        except (SpecError, DetectorError, NormalizationError, ValueError, TypeError) as exc:
            raise ModelError(
                f"{source}: its frontend, gate, detector or normalization settings cannot be honoured: {exc}"
            ) from None
        bandwidth = values.get("bandwidth_hz")
        if bandwidth is not None and (isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float)) or bandwidth <= 0):
            raise ModelError(f"{source}: bandwidth_hz must be a positive number of Hz, got {bandwidth!r}")
        calibration = values.get("calibration") or {}
        temperature = calibration.get("temperature", 1.0) if isinstance(calibration, dict) else None
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0.01 <= temperature <= 100:
            raise ModelError(f"{source}: calibration must give a temperature from 0.01 to 100, got {calibration!r}")
        labels = values["labels"]
        if not (isinstance(labels, list) and labels and all(isinstance(x, str) and x for x in labels)):
            raise ModelError(f"{source}: labels must be a non-empty list of names, got {labels!r}")
        if len(set(labels)) != len(labels):
            raise ModelError(f"{source}: labels repeat: {labels}")
        kind = values["input_kind"]
        if kind not in KINDS:
            raise ModelError(f"{source}: input kind {kind!r} is unknown to this tonecue (it knows {KINDS})")
        selected = values.get("selected_features")
        if selected is not None:
            if kind != "stats":
                raise ModelError(f"{source}: selected features only apply to the stats input, not {kind!r}")
            size = spec.stats_size
            if not (
                isinstance(selected, list)
                and selected
                and all(isinstance(i, int) and 0 <= i < size for i in selected)
            ):
                raise ModelError(f"{source}: selected features must be indices into the {size}-value stats vector")
            selected = tuple(selected)
        contract = cls(
            spec=spec,
            gate=gate,
            labels=tuple(labels),
            input_kind=kind,
            selected_features=selected,
            hop_frames=int(values["hop_frames"]),
            detector=detector,
            bandwidth_hz=None if bandwidth is None else float(bandwidth),
            normalization=normalization,
            temperature=float(temperature),
            model_name=str(values.get("model", "unknown")),
            precision=str(values.get("precision", "fp32")),
            training=values.get("training") or {},
        )
        if kind in PARALING_KINDS:
            stated = values.get("paraling")
            try:
                derived = paraling_settings(spec).to_dict()
            except ValueError as exc:
                raise ModelError(f"{source}: its frontend cannot make the paraling input: {exc}") from None
            if stated != derived:
                raise ModelError(
                    f"{source}: it was trained on paralinguistic settings {stated!r}, but this tonecue "
                    f"computes {derived!r}; use the tonecue it was exported with, or export it again"
                )
        if normalization.enabled:
            if kind not in VECTOR_KINDS:
                raise ModelError(f"{source}: speaker normalization applies to the vector inputs {VECTOR_KINDS}, not {kind!r}")
            size = frontend_for(spec).output_shape(kind)[0]
            if len(normalization.mean) != size:
                raise ModelError(
                    f"{source}: its normalization prior has {len(normalization.mean)} values for a "
                    f"{size}-value {kind} vector"
                )
        stated = values.get("input_shape")
        if stated is not None and tuple(stated) != contract.input_shape:
            raise ModelError(
                f"{source}: its input shape {tuple(stated)} does not match what its frontend makes "
                f"({contract.input_shape})"
            )
        return contract


class EmotionModel:
    """An ONNX Runtime session with the frontend and speech detector its contract asks for.

    >>> model = EmotionModel()                      # the shipped default
    >>> result = model.classify("talk.wav")         # doctest: +SKIP
    >>> result.label, result.probabilities, result.voiced_windows  # doctest: +SKIP

    `predict_proba(features)` runs the network on frontend outputs, `probabilities(windows)` on
    whole windows of audio; `featurizer()` and `speech_detector()` give the streaming parts a live
    loop needs (see `tonecue.edge.pipeline`).
    """

    def __init__(self, path: str | Path = DEFAULT_MODEL, threads: int = 1):
        self.path = Path(path)
        self.threads = threads
        source = str(self.path)
        if not self.path.is_file():
            raise ModelError(f"{source}: model file not found")
        self.session = open_session(self.path, threads, ModelError, "ONNX model")
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.contract = ModelContract.from_metadata(metadata, source)
        self.labels = self.contract.labels
        self.frontend: Frontend = frontend_for(self.contract.spec)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1:
            raise ModelError(f"{source}: expected one input, the graph has {len(inputs)}")
        self._input = inputs[0].name
        graph_shape = tuple(inputs[0].shape[1:])
        if any(isinstance(d, int) for d in graph_shape) and graph_shape != self.contract.input_shape:
            raise ModelError(
                f"{source}: the graph takes {graph_shape} but its contract promises {self.contract.input_shape}"
            )
        names = [o.name for o in outputs]
        self._output = "probabilities" if "probabilities" in names else names[-1]
        self._selected = None if self.contract.selected_features is None else np.asarray(self.contract.selected_features)
        # The detector the model was trained with, checked now: a device that lacks it refuses the
        # model at load, not at the first word.
        # A file whose SHA-256 the contract pins is the very network training used; its session
        # opens with the first stream (a tool that only runs the model never pays for it).
        self._detector_file: Path | None = None
        self._network: SileroVAD | None = None
        if self.contract.detector.enabled:
            try:
                self._detector_file = check_detector_file(self.contract.detector, self.path)
                if not self.contract.detector.sha256:  # unpinned: prove now that it is a detector
                    self._network = SileroVAD.open(self._detector_file, threads)
            except DetectorError as exc:
                raise ModelError(str(exc)) from None

    def select(self, features: np.ndarray) -> np.ndarray:
        """Frontend output (batch, ...) to model input: the selected stats columns, float32."""
        if self._selected is not None:
            features = features[:, self._selected]
        return np.ascontiguousarray(features, dtype=np.float32)

    def predict_proba(self, features: np.ndarray, normalized: bool = False) -> np.ndarray:
        """Class probabilities (batch, n_labels) for frontend outputs (batch, ...), calibrated by
        the contract's temperature.

        A speaker-normalized model standardizes raw features by its contract's prior (each window
        judged on its own, as from a voice just met); `normalized=True` says the caller already
        normalized them (the live loop's running estimate does)."""
        if self.contract.normalization.enabled and not normalized:
            features = cold_normalize(features, self.contract.normalization)
        out = self.session.run([self._output], {self._input: self.select(features)})[0]
        out = np.asarray(out, dtype=np.float32).reshape(len(features), -1)
        if out.shape[1] != len(self.labels):
            raise ModelError(f"{self.path}: the model gives {out.shape[1]} scores for {len(self.labels)} labels")
        return scale_temperature(out, self.contract.temperature)

    def probabilities(self, windows: np.ndarray) -> np.ndarray:
        """Class probabilities for whole windows of audio (batch, window_samples)."""
        features = np.stack([self.frontend.features(w, self.contract.input_kind) for w in windows])
        return self.predict_proba(features)

    def featurizer(self) -> StreamingFeaturizer:
        return StreamingFeaturizer(self.frontend, self.contract.input_kind)

    def speech_detector(self) -> SpeechDetector | None:
        """A fresh stream detector of the kind the model was trained with (None: level gate only)."""
        if self._detector_file is None:
            return None
        if self._network is None:
            try:
                # check_detector_file proved the pinned SHA-256 at load: no need to hash the file again.
                self._network = SileroVAD.open(self._detector_file, self.threads, self.contract.detector.sha256 or None)
            except DetectorError as exc:
                raise ModelError(str(exc)) from None
        return SpeechDetector(self.contract.detector, self._network.fresh(), self.contract.spec.sample_rate)

    def classify(self, source, sample_rate: int | None = None, channel=None):
        """A whole recording, heard as the device hears it: a `ClipResult` (label, probabilities,
        voiced windows). `source` is a path, or an array of samples at `sample_rate`; `channel`
        a channel estimate shared with recordings heard before (`tonecue.edge.classify`)."""
        from .classify import classify_clip

        return classify_clip(self, source, sample_rate, channel)
