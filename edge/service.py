"""The device's live loop: audio in, cues out, for as long as the wearer has it on.

    source (microphone or replayed file) -> Pipeline (window stream, level gate, speech detector,
        features, model, smoother, cue planner; see tonecue.edge.pipeline) -> indicators

All work happens on this thread; the microphone's callback only queues blocks. The loop speaks
systemd's notify protocol (READY once running, WATCHDOG only after an iteration it completed,
STATUS with the current emotion, STOPPING), survives a microphone that is missing or vanishes
(an error cue, a log line, retries with backoff, recovery when it returns) and stops within a
second of SIGTERM or SIGINT with every indicator off. Audio stays in memory; what the device has
learnt of its channel (a mean of features, `tonecue.edge.channel_store`) is kept in
`[service] channel_file`, read at start, written every few minutes and at the end.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Callable, Protocol

import numpy as np

from .capture import Backoff, EndOfStream, MicrophoneError
from .channel_store import channel_file, load_channel, save_channel
from .config import Config
from .indicators import Indicator
from .listener import channel_for
from .model import EmotionModel
from .notify import Notifier, WatchdogPacer
from .pipeline import Pipeline, Step

log = logging.getLogger("tonecue")

READ_TIMEOUT_S = 0.2  # how long a read may block: bounds how late a stop request is noticed
CHANNEL_SAVE_S = 300.0  # how often the channel estimate is written while listening (a power cut loses less)


class Source(Protocol):
    def read(self, timeout: float | None = None) -> np.ndarray | None: ...
    def close(self) -> None: ...


def hop_frames_for(config: Config, model: EmotionModel) -> int:
    """The configured hop in whole frames (so successive windows share reusable frames)."""
    spec = model.contract.spec
    return max(1, round(config.stream.hop_seconds * spec.sample_rate / spec.hop_length))


class Service:
    def __init__(
        self,
        config: Config,
        model: EmotionModel,
        indicator: Indicator,
        open_source: Callable[[], Source],
        notifier: Notifier | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
        watchdog: WatchdogPacer | None = None,
        use_detector: bool = True,
    ):
        """use_detector=False: the level gate alone, for side-by-side benchmarks (see Listener)."""
        self.model = model
        self.indicator = indicator
        self.open_source = open_source
        self.notifier = notifier or Notifier()
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.watchdog = watchdog or (
            WatchdogPacer.from_environment(clock=clock) if config.service.watchdog else WatchdogPacer(None)
        )
        # The model's gate, with any key of the config's [gate] table put over it.
        gate = config.gate_for(model.contract.gate)
        hop_frames = hop_frames_for(config, model)
        # What the device learnt of its microphone before a restart (None: the model keeps none).
        self.channel = channel_for(model, hop_frames)
        self._channel_path = channel_file(config.service.channel_file) if self.channel is not None else None
        if self._channel_path is not None:
            load_channel(self._channel_path, self.channel, model.contract.normalization)
        self.pipeline = Pipeline(
            model, hop_frames=hop_frames, gate=gate, decision=config.decision, cues=config.cues,
            use_detector=use_detector, channel=self.channel,
        )
        self.planner = self.pipeline.planner
        self.pipeline.observers.append(self._after_step)
        self._stop = threading.Event()
        # Decisions, holds and cooldowns run on stream time: seconds of audio heard since start,
        # so a file replayed fast is judged exactly as in real time (live, the two agree).
        self._origin = clock()
        self._stream_epoch = 0.0  # stream time at which the current stream began
        self._last_time = 0.0
        self._band_reported = False
        self._fault_message: str | None = None
        self._status: str | None = ""  # the emotion last reported in STATUS ("" before any)
        self._channel_saved = clock()
        self.windows_heard = 0

    # --- control --------------------------------------------------------------------------------

    def stop(self, *_signal_args) -> None:
        """Ask the loop to end (safe from a signal handler or another thread)."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.stop)

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> int:
        self.notifier.ready(status="starting")
        try:
            while not self._stop.is_set():
                try:
                    source = self.open_source()
                except MicrophoneError as exc:
                    self._fault(exc)
                    continue
                try:
                    self._listen(source)
                except EndOfStream:
                    self._finish_stream()
                    break
                except MicrophoneError as exc:
                    self._fault(exc)
                finally:
                    source.close()
        finally:
            self.notifier.stopping(status="stopping")
            self.indicator.off()
            self.indicator.close()
            self._save_channel()
        return 0

    def _save_channel(self) -> None:
        if self._channel_path is not None:
            save_channel(self._channel_path, self.channel, self.model.contract.normalization)
            self._channel_saved = self.clock()

    def _listen(self, source: Source) -> None:
        self._restart_stream()
        while not self._stop.is_set():
            block = source.read(timeout=READ_TIMEOUT_S)
            self.watchdog.tick(self.notifier, self.clock())
            if block is None:
                continue
            if self._fault_message is not None:
                log.info("audio is back")
                self._fault_message = None
                self.backoff.reset()
            self.pipeline.push(block, self._stream_epoch)
            if self.clock() - self._channel_saved >= CHANNEL_SAVE_S:
                self._save_channel()

    def _now(self) -> float:
        """Seconds since the service started, never earlier than what was already heard."""
        return max(self.clock() - self._origin, self._last_time)

    def _after_step(self, step: Step) -> None:
        decision = step.decision
        self._last_time = decision.time
        self.windows_heard += 1
        if step.cue is not None:
            self.indicator.show(step.cue)
        if step.heard.band_limited and not self._band_reported:
            self._band_reported = True
            self.notifier.status("input lacks the bandwidth this model needs: no cues")
        # STATUS on a change of emotion only: systemctl status shows it, and a chatty socket
        # would fill systemd's queue.
        if decision.label != self._status:
            self._status = decision.label
            shown = f"{decision.label} ({decision.confidence:.2f})" if decision.label else "nothing"
            self.notifier.status(f"listening: {shown}")

    def _finish_stream(self) -> None:
        self.pipeline.flush(self._stream_epoch)

    def _restart_stream(self) -> None:
        """A new stream after (re)opening the source: nothing carries over across a gap."""
        self._stream_epoch = self._now()
        self._band_reported = False
        self.pipeline.reset()

    def _fault(self, exc: Exception) -> None:
        """Show the error cue, log once per fault, and wait before the next try (interruptibly)."""
        message = str(exc)
        delay = self.backoff.next_delay()
        if message != self._fault_message:
            log.error("audio input failed: %s (retrying, next in %.1f s)", message, delay)
            self._fault_message = message
        self.indicator.show(self.planner.error(message, self._now()))
        self.notifier.status(f"no audio: {message}")
        self._status = ""
        waited = 0.0
        while waited < delay and not self._stop.is_set():
            # Sleep in slices so the watchdog keeps seeing a live (if idle) loop.
            step = min(READ_TIMEOUT_S, delay - waited)
            self._stop.wait(step)
            waited += step
            self.watchdog.tick(self.notifier, self.clock())
