"""Audio capture for the device: a live microphone, or a file replayed as if it were one.

Both sources have the same interface: `read(timeout=None)` returns the next block of mono float32
samples at the model's rate, `None` when `timeout` seconds passed without one; `close()`; they are
context managers, and iterating over one yields its blocks.

`MicrophoneSource` follows python-sounddevice's examples: PortAudio's callback, which runs on
PortAudio's own thread, only copies each block into a `queue.Queue` (and notes the status flags
PortAudio passed it); downmixing, resampling and every check happen in `read()`, on the caller's
thread. It asks PortAudio for the model's rate first; a device that refuses it (as ALSA `hw:`
devices refuse 22,050 Hz) is opened at its default rate instead and every block is resampled with
`StreamResampler` (`tonecue.edge.resample`), which keeps enough history that block-by-block output equals `resample` of
the whole signal. `sounddevice` is imported only when a microphone is opened, so the package and
PortAudio (Debian's `libportaudio2`) are needed only on a device that records.

A microphone has no end: `read()` never raises `EndOfStream`. A microphone that is missing at
start, or that goes away while recording, raises `MicrophoneError`, never hangs and never takes
the process down. Through PortAudio, "goes away" looks like one of two things, and `read()`
notices both when the queue runs dry:

* the stream stops: the ALSA call in PortAudio's thread failed (an unplugged USB device returns
  ENODEV, an I/O error returns EIO), PortAudio ends the thread, runs the finished callback and the
  stream is no longer active. PortAudio does not report why; the callback is simply never called
  again. Noticed at the next `read()`, within one poll interval (50 ms).
* nothing arrives: the stream is still "active" but no block comes for `stall_timeout` seconds
  (a driver stuck in a system call; PortAudio's thread is blocked and cannot tell us anything).

Either is raised from every later `read()` as well; the caller closes the source, waits
`Backoff.next_delay()` seconds (showing an error cue) and opens a new one. `close()` waits at
most `close_timeout` for PortAudio: if its thread is stuck in the driver, the stream is
abandoned (and logged) rather than hanging the caller; PortAudio's own exit handler may then
wait for that thread when the process ends, which systemd's stop timeout bounds.

The queue is bounded (`max_queue_seconds` of audio): a caller that falls that far behind loses
the newest blocks, counted in `dropped_blocks`; overflows PortAudio reports are counted in
`overflows`. Samples are recorded as 16-bit integers by default and scaled by 2**-15, exactly as
soundfile reads a 16-bit file.

`FileSource` replays a file (read with `load_audio`) block by block, paced to the wall clock or
as fast as possible. At the end of the file `read()` raises `EndOfStream` (not an empty array,
which a caller could mistake for a quiet block, and not `None`, which means "no block yet").
"""

from __future__ import annotations

import collections
import logging
import math
import os
import queue
import threading
import time

import numpy as np

from tonecue.edge.audio import check_signal, load_audio
from tonecue.edge.resample import StreamResampler
from .errors import TonecueError

__all__ = [
    "MicrophoneError",
    "NO_MICROPHONE_HINT",
    "EndOfStream",
    "Backoff",
    "StreamResampler",
    "MicrophoneSource",
    "FileSource",
]

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.05  # how often a waiting read() looks at the stream's health


class MicrophoneError(TonecueError, RuntimeError):
    """The microphone cannot be opened or stopped delivering audio; the message says why."""


class EndOfStream(Exception):
    """A finite source (a replayed file) has delivered its last block.

    Deliberately not a StopIteration: raised inside a generator, that would turn into a
    RuntimeError (PEP 479).
    """


# --- retrying -----------------------------------------------------------------------------------


class Backoff:
    """Exponential delays between attempts to reopen a microphone: 0.5, 1, 2, ... capped at 30 s.

    `next_delay()` returns the delay to wait before the next attempt and grows the one after;
    `reset()` (after a success) starts again from `initial`.
    """

    def __init__(self, initial: float = 0.5, factor: float = 2.0, maximum: float = 30.0):
        if not (math.isfinite(initial) and initial > 0):
            raise ValueError(f"initial must be a positive number of seconds, got {initial!r}")
        if not (math.isfinite(factor) and factor >= 1):
            raise ValueError(f"factor must be at least 1, got {factor!r}")
        if not (math.isfinite(maximum) and maximum >= initial):
            raise ValueError(f"maximum must be at least initial ({initial}), got {maximum!r}")
        self.initial = float(initial)
        self.factor = float(factor)
        self.maximum = float(maximum)
        self.attempts = 0
        self._next = self.initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self._next = self.initial
        self.attempts = 0


# --- the microphone -----------------------------------------------------------------------------


#: Ends every "no microphone to be had" error: what a newcomer can do without one.
NO_MICROPHONE_HINT = "Without a microphone: replay a recording with 'tonecue run --input FILE', or try 'tonecue demo'."


def _load_sounddevice():
    """Import python-sounddevice, which loads PortAudio; MicrophoneError if either is missing."""
    try:
        import sounddevice
    except ImportError as err:
        raise MicrophoneError(
            "recording needs the 'sounddevice' package (pip install sounddevice) and the "
            f"PortAudio library (Debian/Raspberry Pi OS: apt install libportaudio2). {NO_MICROPHONE_HINT}"
        ) from err
    except OSError as err:  # sounddevice is there, but it cannot load libportaudio
        raise MicrophoneError(
            f"cannot load the PortAudio library ({err}); install it with "
            f"'apt install libportaudio2' (Debian, Raspberry Pi OS, Ubuntu). {NO_MICROPHONE_HINT}"
        ) from err
    return sounddevice


def _input_device_names(sd) -> str:
    try:
        devices = sd.query_devices()
        names = [f"{d['index']}: {d['name']}" for d in devices if d["max_input_channels"] > 0]
    except Exception:  # listing is only for the message
        return "(cannot list devices)"
    return "; ".join(names) if names else "none"


class MicrophoneSource:
    """Mono float32 blocks at `sample_rate` from a PortAudio input device (see the module doc).

    device: a PortAudio device index, or a substring of its name (for ALSA also a PCM name from
        the ALSA configuration, e.g. "hw:1,0" or "dsnoop"); None for the default input device.
    block_seconds: PortAudio's block length; `read()` returns blocks about this long.
    device_rate: open the device at this rate instead (and resample); by default the model's rate
        if the device takes it, else the device's default rate.
    channels: how many channels to record (they are averaged); by default 1 if the device takes
        it, else the fewest it takes.
    dtype: the sample format asked of PortAudio, "int16" (default) or "float32". 16-bit is what
        capture devices deliver natively almost everywhere and what the models were trained on
        (the corpora are 16-bit); samples are scaled by 2**-15, as soundfile scales a 16-bit
        file, so a recording and a file holding the same samples give identical floats.
    stall_timeout: seconds without a block after which the device counts as gone
        (default: 2 s, or 5 blocks if longer).
    max_queue_seconds: audio kept while the caller is busy; blocks beyond that are dropped and
        counted in `dropped_blocks`.
    close_timeout: how long `close()` waits for PortAudio to stop a stream (a driver stuck in a
        system call can hold PortAudio's thread); after that the stream is abandoned, logged.
    """

    def __init__(
        self,
        sample_rate: int,
        device=None,
        block_seconds: float = 0.1,
        *,
        device_rate: int | None = None,
        channels: int | None = None,
        dtype: str = "int16",
        stall_timeout: float | None = None,
        max_queue_seconds: float = 5.0,
        close_timeout: float = 2.0,
    ):
        if int(sample_rate) != sample_rate or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        if not (math.isfinite(block_seconds) and block_seconds > 0):
            raise ValueError(f"block_seconds must be positive, got {block_seconds!r}")
        if dtype not in ("int16", "float32"):
            raise ValueError(f"dtype must be 'int16' or 'float32', got {dtype!r}")
        self.dtype = dtype
        self.sample_rate = int(sample_rate)
        self.block_seconds = float(block_seconds)
        self.stall_timeout = (
            max(2.0, 5 * self.block_seconds) if stall_timeout is None else float(stall_timeout)
        )
        self.close_timeout = float(close_timeout)
        self.overflows = 0  # blocks PortAudio flagged (input overflow: samples were lost before us)
        self.dropped_blocks = 0  # blocks the callback dropped because the queue was full
        self._stream = None
        self._closed = False
        self._error: MicrophoneError | None = None
        self._finished = threading.Event()
        self._status_log: collections.deque = collections.deque(maxlen=256)
        self._dropped = 0  # written by the callback only

        sd = _load_sounddevice()
        self._sd = sd
        self.device_name, index, info = self._find_device(sd, device)
        self.channels, self.device_rate = self._pick_settings(
            sd, index, info, channels, device_rate
        )
        self.blocksize = max(1, round(self.block_seconds * self.device_rate))
        self._resampler = (
            StreamResampler(self.device_rate, self.sample_rate)
            if self.device_rate != self.sample_rate
            else None
        )
        maxsize = max(2, math.ceil(max_queue_seconds / self.block_seconds))
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        try:
            self._stream = sd.InputStream(
                device=index,
                channels=self.channels,
                samplerate=self.device_rate,
                dtype=self.dtype,
                blocksize=self.blocksize,
                callback=self._callback,
                finished_callback=self._finished.set,
            )
            self._stream.start()
        except Exception as err:  # PortAudioError, ValueError, and whatever a backend raises
            self.close()
            raise MicrophoneError(
                f"cannot open input device {self.device_name!r} at {self.device_rate} Hz, "
                f"{self.channels} channel(s): {err}"
            ) from err
        self._last_block_at = time.monotonic()

    # -- opening --

    def _find_device(self, sd, device):
        try:
            info = sd.query_devices(device, "input")
        except ValueError as err:  # no match, several matches, or not an input device
            raise MicrophoneError(
                f"no input device {device!r}: {err}. Input devices: {_input_device_names(sd)}. "
                f"{NO_MICROPHONE_HINT}"
            ) from err
        except Exception as err:  # sd.PortAudioError: e.g. no default input device at all
            what = "no default input device" if device is None else f"cannot query {device!r}"
            raise MicrophoneError(
                f"{what} ({err}). Input devices: {_input_device_names(sd)}. {NO_MICROPHONE_HINT}"
            ) from err
        return str(info["name"]), int(info["index"]), info

    def _accepts(self, sd, index, channels, rate) -> Exception | None:
        try:
            sd.check_input_settings(
                device=index, channels=channels, dtype=self.dtype, samplerate=rate
            )
        except Exception as err:  # PortAudioError or ValueError
            return err
        return None

    def _pick_settings(self, sd, index, info, channels, device_rate) -> tuple[int, int]:
        """(channels, rate): mono at the model's rate if the device takes it, else the nearest."""
        if channels is not None:
            channel_options = [int(channels)]
        else:
            most = int(info.get("max_input_channels") or 1)
            channel_options = sorted({1, min(2, most), most})
        if device_rate is not None:
            rate_options = [int(device_rate)]
        else:
            rate_options = [self.sample_rate]
            default = info.get("default_samplerate")
            if default and int(default) not in rate_options:
                rate_options.append(int(default))
        errors = []
        for rate in rate_options:
            for n in channel_options:
                err = self._accepts(sd, index, n, rate)
                if err is None:
                    if rate != self.sample_rate:
                        log.info(
                            "input device %r does not take %d Hz; recording at %d Hz, resampling",
                            self.device_name,
                            self.sample_rate,
                            rate,
                        )
                    return n, rate
                errors.append(f"{rate} Hz x {n} ch: {err}")
        raise MicrophoneError(
            f"input device {self.device_name!r} takes none of the rates {rate_options} with "
            f"{channel_options} channel(s) ({'; '.join(errors)})"
        )

    # -- PortAudio's thread --

    def _callback(self, indata, frames, time_info, status):
        # PortAudio's thread: copy the block into the queue and nothing else.
        if status:
            self._status_log.append(status)
        try:
            self._queue.put_nowait(indata.copy())
        except queue.Full:
            self._dropped += 1

    # -- the caller's thread --

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        """The next block: 1-D float32 at `sample_rate`; None if `timeout` seconds pass first.

        With timeout=None, waits until a block comes or the device counts as gone. Raises
        MicrophoneError when the device is gone (and again on every later call).
        """
        if self._error is not None:
            raise self._error
        if self._closed:
            raise MicrophoneError("read() on a closed MicrophoneSource")
        deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
        while True:
            self._take_status()
            wait = _POLL_SECONDS
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            try:
                block = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                self._check_alive()
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                continue
            self._last_block_at = time.monotonic()
            out = self._convert(block)
            if out.size:
                return out

    def _convert(self, block: np.ndarray) -> np.ndarray:
        if block.dtype == np.int16:
            block = block.astype(np.float32) * np.float32(2.0**-15)
        mono = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)
        if self._resampler is not None:
            mono = self._resampler.process(mono)
        return np.ascontiguousarray(mono, dtype=np.float32)

    def _take_status(self) -> None:
        while self._status_log:
            status = self._status_log.popleft()
            if status.input_overflow:
                self.overflows += 1
                log.warning("input overflow on %r: samples were lost", self.device_name)
        if self._dropped != self.dropped_blocks:
            log.warning(
                "audio queue full: %d block(s) dropped so far (the caller is too slow)",
                self._dropped,
            )
            self.dropped_blocks = self._dropped

    def _check_alive(self) -> None:
        stream = self._stream
        if stream is None:
            raise MicrophoneError("read() on a closed MicrophoneSource")
        try:
            active = bool(stream.active)
        except Exception as err:  # PortAudioError: the stream is not valid any more
            active = False
            why = f"PortAudio reports an error ({err})"
        else:
            why = "the stream stopped (PortAudio's audio thread ended: unplugged or I/O error)"
        if self._finished.is_set() or not active:
            self._fail(f"input device {self.device_name!r} is gone: {why}")
        silent = time.monotonic() - self._last_block_at
        if silent > self.stall_timeout:
            self._fail(
                f"input device {self.device_name!r} is gone: no audio for {silent:.1f} s "
                "(unplugged or stalled)"
            )

    def _fail(self, message: str):
        self._error = MicrophoneError(message)
        raise self._error

    def close(self) -> None:
        """Stop and close the stream (idempotent); never waits more than `close_timeout`."""
        self._closed = True
        stream, self._stream = self._stream, None
        if stream is None:
            return

        def stop():
            try:
                stream.abort(ignore_errors=True)
                stream.close(ignore_errors=True)
            except Exception as err:  # closing must not raise
                log.warning("closing input device %r: %s", self.device_name, err)

        closer = threading.Thread(target=stop, name="tonecue-mic-close", daemon=True)
        closer.start()
        closer.join(self.close_timeout)
        if closer.is_alive():
            log.warning(
                "PortAudio did not stop input device %r within %.1f s; abandoning the stream",
                self.device_name,
                self.close_timeout,
            )

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self):
        while True:
            block = self.read()
            if block is not None:
                yield block

    def __repr__(self) -> str:
        return (
            f"MicrophoneSource({self.device_name!r}, {self.device_rate} Hz -> "
            f"{self.sample_rate} Hz, {self.channels} ch)"
        )


# --- replaying a file ---------------------------------------------------------------------------


class FileSource:
    """A file replayed block by block, as a microphone would deliver it.

    realtime=True: block k is handed out once its last sample "would have been recorded", at
    start + (samples up to its end) / sample_rate, the start being the first `read()`. Every
    deadline is computed from that start, never from the previous sleep, so oversleeping does not
    accumulate into drift; a caller that falls behind gets the overdue blocks at once.
    realtime=False: blocks come as fast as they are read.

    The last block may be shorter. After it, `read()` raises EndOfStream. `clock` and `sleep`
    are injectable (tests use a fake clock).
    """

    def __init__(
        self,
        path,
        sample_rate: int,
        realtime: bool = True,
        block_seconds: float = 0.1,
        *,
        clock=time.monotonic,
        sleep=time.sleep,
    ):
        if int(sample_rate) != sample_rate or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        if not (math.isfinite(block_seconds) and block_seconds > 0):
            raise ValueError(f"block_seconds must be positive, got {block_seconds!r}")
        self.path = os.fspath(path)
        self.sample_rate = int(sample_rate)
        self.realtime = bool(realtime)
        self.block_seconds = float(block_seconds)
        self.blocksize = max(1, round(self.block_seconds * self.sample_rate))
        self._samples = check_signal(load_audio(self.path, self.sample_rate), self.path)
        self._clock = clock
        self._sleep = sleep
        self._pos = 0
        self._start: float | None = None
        self._closed = False

    @property
    def duration(self) -> float:
        return self._samples.size / self.sample_rate

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        """The next block (1-D float32); None if `timeout` passes first; EndOfStream at the end."""
        if self._closed:
            raise ValueError(f"read() on a closed FileSource ({self.path})")
        n = self._samples.size
        if self._pos >= n:
            raise EndOfStream(self.path)
        end = min(self._pos + self.blocksize, n)
        if self.realtime:
            now = self._clock()
            if self._start is None:
                self._start = now
            due = self._start + end / self.sample_rate
            wait = due - now
            if wait > 0:
                if timeout is not None and wait > timeout:
                    if timeout > 0:
                        self._sleep(timeout)
                    return None
                self._sleep(wait)
        block = self._samples[self._pos : end].copy()
        self._pos = end
        return block

    def close(self) -> None:
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self):
        while True:
            try:
                block = self.read()
            except EndOfStream:
                return
            if block is not None:
                yield block

    def __repr__(self) -> str:
        mode = "real time" if self.realtime else "fast"
        return f"FileSource({self.path!r}, {self.sample_rate} Hz, {mode})"
