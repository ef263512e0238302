"""The speech detector: which windows of a stream hold a human voice, not noise, music or tones.

A level gate (`tonecue.edge.vad`) only knows loud from quiet; a wearer needs "someone is speaking".
The detector is Silero VAD v6 (MIT licence), a small recurrent network trained on thousands of
hours of speech and non-speech, chosen by measurement (benchmarks/results/vad-survey.md). Its ONNX
file comes from the `silero-vad` wheel on the host; `tonecue-export` copies it beside the exported
model (its SHA-256 goes into the model's contract), so the device needs nothing but onnxruntime.

How a window is judged, identically in training (`tonecue.train.windows`) and on the device:

1. The stream (at the model's rate) is resampled to 16 kHz as it arrives (`StreamResampler`, the
   numpy polyphase filter the capture path uses) and cut into 32 ms chunks of 512 samples from the
   stream's first sample. Each chunk gets a speech probability from the network, whose recurrent
   state carries over from chunk to chunk; a chunk of digital silence (peak below -80 dBFS) costs
   nothing: it scores 0 and restarts the network's state.
2. A window's speech score is the mean probability of its chunks (those wholly inside it, minus
   the resampler's few milliseconds of look-ahead); the window is speech when the score reaches
   `threshold`. (The "share" rule, the share of chunks at or above 0.5, is the alternative the
   survey measured.)

Chunks are computed once, as the audio first arrives, whatever the windows' overlap; the result
does not depend on how the stream was split into blocks (up to float rounding in the resampler).
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from .errors import TonecueError
from .resample import StreamResampler
from .runtime import open_session
from .settings import VersionedSettings
from .vad import GateSettings, VoiceGate, window_level_db

__all__ = [
    "DETECTOR_FORMAT_VERSION",
    "DetectorError",
    "DetectorSettings",
    "SileroVAD",
    "SpeechDetector",
    "VoiceSelector",
    "file_sha256",
    "installed_silero_file",
    "sequence_graph_of",
]

DETECTOR_FORMAT_VERSION = 1
#: "level": no detector, the level gate alone (models exported before the detector existed).
DETECTOR_KINDS = ("silero-vad", "level")
RULES = ("mean", "share")
CHUNK_THRESHOLD = 0.5  # a chunk is speech for the "share" rule at this probability (Silero's own)
SILENCE_PEAK = 1e-4  # -80 dBFS: a chunk whose every sample is below this is digital silence


class DetectorError(TonecueError, ValueError):
    """Detector settings that are inconsistent, or a detector file that is missing or altered."""


@dataclass(frozen=True)
class DetectorSettings(VersionedSettings):
    """Which speech detector a model was trained with, and how its output is read.

    kind: "silero-vad"
        The network (see the module docstring), or "level" for none (the level gate alone).
    file: "silero_vad.onnx"
        Its ONNX file, looked for beside the model file.
    sha256: ""
        The file's SHA-256, set at export: a device refuses a file that differs (another version
        of the network would judge windows differently from the one training used).
    source: "silero-vad 6.2.3"
        Where the file came from (package and version), for the model card and error messages.
    rule: "mean"
        How a window's chunks make its score: "mean", their mean speech probability; "share", the
        share of them at or above 0.5.
    threshold: 0.45
        A window is speech when its score reaches this. Chosen on tuning data only (ESC-10 folds
        1-3, synthetic noise, tuning speakers; benchmarks/results/vad-survey.md): the recall-first
        setting, 0.96 of held-out speech windows kept clean and 0.92 at 10 dB SNR, 3 false windows
        per hour of held-out ESC-10 and none on synthetic noise and tones.
    """

    kind: str = "silero-vad"
    file: str = "silero_vad.onnx"
    sha256: str = ""
    source: str = "silero-vad 6.2.3"
    rule: str = "mean"
    threshold: float = 0.45

    FORMAT_VERSION: ClassVar[int] = DETECTOR_FORMAT_VERSION
    DESCRIPTION: ClassVar[str] = "speech detector settings"
    ERROR: ClassVar[type[ValueError]] = DetectorError

    EXPECT: ClassVar[dict[str, str]] = {"threshold": "a number above 0 and at most 1"}

    def __post_init__(self) -> None:
        super().__post_init__()  # types
        problems = []
        if self.kind not in DETECTOR_KINDS:
            problems.append(f"kind must be one of {DETECTOR_KINDS}, got {self.kind!r}")
        if self.rule not in RULES:
            problems.append(f"rule must be one of {RULES}, got {self.rule!r}")
        if not 0.0 < self.threshold <= 1.0:
            problems.append(self.must("threshold", self.threshold))
        self.refuse(problems)

    @property
    def enabled(self) -> bool:
        return self.kind != "level"


#: The contract of models exported before the detector: the level gate alone.
LEVEL_ONLY = DetectorSettings(kind="level", file="", sha256="", source="")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def installed_silero_file() -> tuple[Path, str]:
    """The Silero VAD v6 ONNX file of the installed `silero-vad` wheel, and "silero-vad <version>".

    Host side (export). Found without importing the package, whose __init__ imports torch.
    """
    from importlib import metadata

    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorError("the silero-vad package is not installed (it comes with tonecue[train])")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise DetectorError(f"the silero-vad package has no {path.name} at {path.parent}")
    return path, f"silero-vad {metadata.version('silero-vad')}"


#: Silero wheels that also ship the same network as a graph taking a whole run of chunks in one
#: call: the per-chunk graph's SHA-256 -> (that graph's file, its SHA-256). Its probabilities equal
#: the per-chunk graph's to the bit (tests/edge/test_speech.py), at 2 to 6 times less time per chunk
#: (measured on two hosts; edge-bench reports it): a call costs more than a chunk's arithmetic.
#: Without it beside the detector, per chunk.
SEQUENCE_GRAPHS = {
    "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3": (  # silero-vad 6.2.3
        "silero_vad_16k_sequence.onnx", "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85"),
}


def sequence_graph_of(path: str | Path, sha256: str | None = None) -> Path | None:
    """The run-of-chunks twin of the detector file at `path` (its SHA-256, if known), when it sits
    beside it unaltered; else None."""
    twin = SEQUENCE_GRAPHS.get(sha256 or file_sha256(path))
    if twin is None:
        return None
    candidate = Path(path).with_name(twin[0])
    return candidate if candidate.is_file() and file_sha256(candidate) == twin[1] else None


class SileroVAD:
    """One Silero VAD v6 network at 16 kHz: runs of 512-sample chunks in, speech probabilities out.

    Each chunk goes in with the 64 samples before it (zeros after a reset) and the recurrent state
    (2, 1, 128) carries over. Two graphs of the wheel compute it: the per-chunk one the model's
    contract pins (one call per chunk), and, when it sits beside it, its run-of-chunks twin
    (`SEQUENCE_GRAPHS`: one call per run, the same probabilities).
    """

    SAMPLE_RATE = 16000
    CHUNK = 512
    CONTEXT = 64

    def __init__(self, session, sequence_session=None):
        names = {i.name for i in session.get_inputs()}
        if names != {"input", "state", "sr"}:
            raise DetectorError(f"not a Silero VAD v5/v6 graph (inputs {sorted(names)})")
        if sequence_session is not None and {i.name for i in sequence_session.get_inputs()} != {"input", "h", "c"}:
            raise DetectorError("not a Silero VAD sequence graph (inputs input, h, c)")
        self.session = session
        self.sequence_session = sequence_session
        self._sr = np.array(self.SAMPLE_RATE, dtype=np.int64)
        self.reset()

    @classmethod
    def open(cls, path: str | Path, threads: int = 1, sha256: str | None = None) -> SileroVAD:
        """The network in the ONNX file at `path` (DetectorError if it is not one), with its
        run-of-chunks twin when that sits beside it. sha256: the file's, when already checked."""
        session = open_session(path, threads, DetectorError, "speech detector")
        twin = sequence_graph_of(path, sha256)
        sequence = None if twin is None else open_session(twin, threads, DetectorError, "speech detector")
        try:
            return cls(session, sequence)
        except DetectorError as exc:
            raise DetectorError(f"{path}: {exc}") from None

    def fresh(self) -> SileroVAD:
        """Another stream's network: the same sessions (loaded once), a state of its own."""
        return type(self)(self.session, self.sequence_session)

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(self.CONTEXT, dtype=np.float32)

    def probabilities(self, chunks: np.ndarray) -> np.ndarray:
        """Speech probabilities (float32) of consecutive chunks (n, 512), after those already heard."""
        n = len(chunks)
        x = np.empty((n, self.CONTEXT + self.CHUNK), dtype=np.float32)
        x[:, self.CONTEXT :] = chunks
        x[0, : self.CONTEXT] = self._context
        x[1:, : self.CONTEXT] = chunks[:-1, -self.CONTEXT :]
        self._context = x[-1, -self.CONTEXT :].copy()
        if self.sequence_session is not None:
            state = self._state
            p, h, c = self.sequence_session.run(None, {"input": x, "h": state[:1], "c": state[1:]})
            self._state = np.concatenate([h, c])
            return np.asarray(p, dtype=np.float32).reshape(n)
        out = np.empty(n, dtype=np.float32)
        for i in range(n):
            p, self._state = self.session.run(None, {"input": x[i : i + 1], "state": self._state, "sr": self._sr})
            out[i] = p[0, 0]
        return out


class SpeechDetector:
    """The speech score of each window of one stream (see the module docstring).

    `score(start, window)` must be called for windows in stream order (as the live loop and
    training produce them); it feeds the detector the window's samples it has not seen yet.
    """

    def __init__(self, settings: DetectorSettings, network: SileroVAD, stream_rate: int):
        self.settings = settings
        self.network = network
        self.stream_rate = int(stream_rate)
        g = math.gcd(self.stream_rate, SileroVAD.SAMPLE_RATE)
        self._L, self._M = SileroVAD.SAMPLE_RATE // g, self.stream_rate // g
        reach = StreamResampler(self.stream_rate, SileroVAD.SAMPLE_RATE).latency_samples
        # 16 kHz samples at a window's end whose filter still needs audio after the window.
        self._lookahead = -(-reach * self._L // self._M) + 1
        self.reset()

    def reset(self, origin: int = 0) -> None:
        """A new stream (or a jump in it) whose chunks start at stream position `origin`."""
        self.network.reset()
        self._resampler = StreamResampler(self.stream_rate, SileroVAD.SAMPLE_RATE)  # the capture path's filter
        self._origin = origin
        self._fed = origin  # stream position up to which audio has been fed
        self._pending = np.zeros(0, dtype=np.float32)  # 16 kHz samples not yet in a chunk
        self._first_chunk = 0  # index of self._probabilities[0]
        self._probabilities: list[float] = []

    def score(self, start: int, window: np.ndarray) -> float:
        """The window's speech score (0 to 1) by the settings' rule."""
        end = start + len(window)
        if start > self._fed:  # a gap: what lies between was never heard
            self.reset(start)
        if end > self._fed:
            self._feed(window[self._fed - start :])
            self._fed = end
        # The window's chunks, in 16 kHz samples from the origin.
        a = (start - self._origin) * self._L / self._M
        b = (end - self._origin) * self._L // self._M - self._lookahead
        first, last = math.ceil(a / SileroVAD.CHUNK), b // SileroVAD.CHUNK  # chunks first .. last-1
        # Chunks before this window are never needed again (windows come in stream order).
        drop = min(first - self._first_chunk, len(self._probabilities))
        if drop > 0:
            del self._probabilities[:drop]
            self._first_chunk += drop
        probs = self._probabilities[max(first - self._first_chunk, 0) : last - self._first_chunk]
        if not probs:
            return 0.0
        if self.settings.rule == "mean":
            return sum(probs) / len(probs)
        return sum(p >= CHUNK_THRESHOLD for p in probs) / len(probs)

    def is_speech(self, score: float) -> bool:
        return score >= self.settings.threshold

    def _feed(self, samples: np.ndarray) -> None:
        out = self._resampler.process(samples)
        pending = np.concatenate([self._pending, out]) if len(self._pending) else out
        n = SileroVAD.CHUNK
        whole = len(pending) // n * n
        chunks = pending[:whole].reshape(-1, n)
        silent = np.max(np.abs(chunks), axis=1) < SILENCE_PEAK
        # Runs of sound go to the network in one call each; digital silence restarts it.
        edges = np.flatnonzero(np.diff(silent)) + 1
        for a, b in zip(np.r_[0, edges], np.r_[edges, len(chunks)]):
            if a == b:
                continue
            if silent[a]:
                self.network.reset()
                self._probabilities.extend([0.0] * (b - a))
            else:
                self._probabilities.extend(self.network.probabilities(chunks[a:b]).tolist())
        self._pending = pending[whole:].copy()


def check_detector_file(settings: DetectorSettings, model_path: Path) -> Path:
    """The detector file a model names, beside the model, checked against its SHA-256."""
    path = Path(model_path).parent / settings.file
    if not path.is_file():
        raise DetectorError(
            f"{model_path}: this model was trained with the {settings.source} speech detector, whose file "
            f"{settings.file} must sit beside it ({path} is missing); re-export the model with tonecue-export, "
            "which copies it there (for the shipped models, scripts/setup.sh places it)"
        )
    if settings.sha256 and file_sha256(path) != settings.sha256:
        raise DetectorError(
            f"{path}: this is not the speech detector the model was trained with ({settings.source}, "
            f"sha256 {settings.sha256[:12]}…); re-export the model, or put the right file back"
        )
    return path


class VoiceSelector:
    """Which windows of one stream hold a voice: the one rule training and the device share.

    - Without a detector (models exported before it): the level gate decides (`tonecue.edge.vad`).
    - With a detector: the gate's absolute minimum stays in front (digital silence and hiss are
      never speech), and the detector decides. The gate's adaptive noise floor is not used: it
      would shut out a long stretch of uninterrupted speech, and the detector already tells a
      steady noise from a voice.

    Feed windows in stream order; `reset()` for a new stream.
    """

    def __init__(self, gate: GateSettings, detector: SpeechDetector | None, hop_seconds: float):
        self.gate = gate
        self.detector = detector
        self.hop_seconds = hop_seconds
        self.reset()

    def reset(self) -> None:
        self._gate = VoiceGate.from_settings(self.gate, hop_seconds=self.hop_seconds)
        if self.detector is not None:
            self.detector.reset()

    def judge(self, start: int, window: np.ndarray) -> tuple[float, float, bool]:
        """(level in dBFS, speech score 0..1, voiced) of the next window of the stream."""
        level = window_level_db(window)
        if self.detector is None:
            voiced = self._gate.update(level)
            return level, float(voiced), voiced
        speech = self.detector.score(start, window)
        return level, speech, level >= self.gate.min_level_db and self.detector.is_speech(speech)
