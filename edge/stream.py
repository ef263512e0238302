"""Cut a stream of audio blocks into the model's windows, one every hop, as the device hears them.

The live loop pushes microphone blocks; `tonecue classify` pushes a whole file and flushes. Both
get windows at the same stream positions (multiples of the hop, which is a whole number of frames
so that the streaming featurizer can reuse shared frames), so a file is classified exactly as the
device would have heard it.
"""

from __future__ import annotations

import numpy as np

from .spec import FrontendSpec


class WindowStream:
    """Buffers blocks and yields (stream position, window) pairs every `hop_frames` frames."""

    def __init__(self, spec: FrontendSpec, hop_frames: int):
        if hop_frames < 1:
            raise ValueError(f"hop_frames must be at least 1, got {hop_frames}")
        self.window_samples = spec.window_samples
        self.hop_samples = hop_frames * spec.hop_length
        self.reset()

    def reset(self) -> None:
        """Start a new stream (after a gap, e.g. a microphone that came back)."""
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0  # stream position of self._buffer[0]
        self._next_start = 0
        self._emitted = False

    @property
    def position(self) -> int:
        """Stream position just after the last sample pushed."""
        return self._buffer_start + len(self._buffer)

    def push(self, block: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Add samples; return every window that is now complete, oldest first."""
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        self._buffer = np.concatenate([self._buffer, block]) if len(self._buffer) else block.copy()
        # Samples before the next window's start are never needed again (with a hop longer than
        # the window, some of them arrive only now).
        drop = min(self._next_start - self._buffer_start, len(self._buffer))
        if drop > 0:
            self._buffer = self._buffer[drop:]
            self._buffer_start += drop
        windows = []
        while self._next_start + self.window_samples <= self.position:
            offset = self._next_start - self._buffer_start
            windows.append((self._next_start, self._buffer[offset : offset + self.window_samples]))
            self._next_start += self.hop_samples
        self._emitted = self._emitted or bool(windows)
        return windows

    def flush(self) -> list[tuple[int, np.ndarray]]:
        """End of a finite stream: a stream shorter than one window becomes one zero-padded window
        (as `frontend.clip_windows` pads a short clip); otherwise the tail after the last whole
        window is left out, as the live loop never sees it either."""
        if self._emitted or not len(self._buffer):
            return []
        padded = np.zeros(self.window_samples, dtype=np.float32)
        padded[: len(self._buffer)] = self._buffer
        self._emitted = True
        return [(self._buffer_start, padded)]
