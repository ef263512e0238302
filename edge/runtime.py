"""One way to open an ONNX Runtime session on the device: the emotion model and the speech
detector both run through it, on the threads asked for, quietly, and with no telemetry."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["open_session"]


def open_session(path: str | Path, threads: int, error: type[Exception], what: str):
    """An `onnxruntime.InferenceSession` of `path` on the CPU; `error` names an unreadable file
    ("PATH: not a readable WHAT (...)") or a missing onnxruntime."""
    # onnxruntime >= 1.29 writes a device id and telemetry events under $HOME at import unless
    # told not to; a wearable has no business doing either.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - the edge extra installs it
        raise error(f"onnxruntime is not installed ({exc}); install tonecue[edge]") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for corrupt files
        raise error(f"{path}: not a readable {what} ({type(exc).__name__}: {exc})") from None
