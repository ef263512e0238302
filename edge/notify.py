"""systemd's notify protocol, spoken directly: readiness, watchdog pings, status and shutdown.

systemd (Type=notify) passes the service an AF_UNIX datagram socket in `NOTIFY_SOCKET`, either a
path (`/run/systemd/notify`) or a name in the abstract namespace (`@name`). Each message is one
datagram of newline-separated `KEY=value` fields: `READY=1` once the microphone and the model are
up, `WATCHDOG=1` from the live loop, `STATUS=...` for `systemctl status`, `STOPPING=1` on the way
out. This is all of sd_notify(3) the service needs, so python-systemd is not a dependency.

Run by hand, `NOTIFY_SOCKET` is unset and every call returns at once. Sending never raises: a
socket that has gone away (systemd re-executing, a test harness closing) is logged once at WARNING
and then quietly; the service keeps listening, which is what matters to the person wearing it.

The watchdog is the only message whose *timing* matters. `WatchdogPacer` says when to ping, from
`WATCHDOG_USEC` (systemd's `WatchdogSec=`) and `WATCHDOG_PID`; the live loop calls
`pacer.tick(notifier)` after each iteration it actually completed, so a loop that hangs (a stuck
audio read, a wedged model) stops pinging and systemd restarts it. A loop that waits on purpose
(for a microphone that went away, blinking the fault cue) must keep ticking while it waits, and
should say READY=1 even when it starts in that state, or systemd gives up on it::

    notifier = Notifier()
    pacer = WatchdogPacer.from_environment()
    ...  # open the microphone, load the model
    notifier.ready("listening")
    while running:
        ...  # one window: read, featurize, classify, cue
        notifier.status(f"listening: {label} ({confidence:.2f})")
        pacer.tick(notifier)
    notifier.stopping()

Only the standard library is used, and the only socket ever opened is the notify socket.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

__all__ = [
    "Notifier",
    "WatchdogPacer",
    "notify_address",
    "watchdog_interval",
    "default_notifier",
    "ready",
    "status",
    "watchdog",
    "stopping",
    "reloading",
]

log = logging.getLogger(__name__)


def notify_address(value: str | None) -> str | None:
    """The socket address `NOTIFY_SOCKET` names, as `socket.sendto` takes it; None when unusable.

    An absolute path is used as it is; `@name` is the abstract namespace (a leading NUL byte). Other
    forms (a relative path, systemd 253's `vsock:` addresses) are not for this service: None.
    """
    if not value:
        return None
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    return None


class Notifier:
    """Sends notify messages to systemd; a cheap no-op when the service was not started by it.

    `environ` defaults to `os.environ` (a mapping can be given for tests). The socket is made once,
    here, so that a signal handler calling `stopping()` never races a lazy creation.
    """

    def __init__(self, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET")
        self.address = notify_address(raw)
        self._socket: socket.socket | None = None
        self._failing = False
        if raw and self.address is None:
            log.warning("NOTIFY_SOCKET=%r is not a path or an abstract name; not notifying systemd", raw)
        if self.address is None:
            return
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never let a full receive queue stall the live loop: a message that cannot go now is
            # dropped (the next watchdog ping comes half an interval later).
            sock.setblocking(False)
        except OSError as exc:
            log.warning("cannot create the notify socket (%s); not notifying systemd", exc)
            self.address = None
            return
        self._socket = sock

    @property
    def enabled(self) -> bool:
        """True when there is a notify socket to send to."""
        return self._socket is not None

    def notify(self, *fields: str) -> bool:
        """Send `KEY=value` fields as one datagram; True when it was sent.

        Never raises: an error is logged at WARNING the first time, at DEBUG while it lasts.
        """
        sock = self._socket
        if sock is None:
            return False
        message = "\n".join(fields).encode("utf-8", "replace")
        try:
            sock.sendto(message, self.address)
        except OSError as exc:
            if not self._failing:
                self._failing = True
                log.warning("cannot reach systemd's notify socket %s (%s); carrying on without it",
                            _printable(self.address), exc)
            else:
                log.debug("notify socket still unreachable (%s)", exc)
            return False
        if self._failing:
            self._failing = False
            log.info("systemd's notify socket is reachable again")
        return True

    def ready(self, status: str | None = None) -> bool:
        """`READY=1` (with a status line when given): the microphone and the model are up."""
        return self.notify("READY=1", *_status_field(status))

    def status(self, text: str) -> bool:
        """`STATUS=text`, shown by `systemctl status tonecue` (one line; newlines become spaces)."""
        return self.notify(*_status_field(text))

    def watchdog(self) -> bool:
        """`WATCHDOG=1`. Call it from the live loop (see `WatchdogPacer`), never from a timer thread."""
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        """`STOPPING=1`: shutdown has begun (say it on SIGTERM, before releasing the devices)."""
        return self.notify("STOPPING=1", *_status_field(status))

    def reloading(self, status: str | None = None) -> bool:
        """`RELOADING=1` with `MONOTONIC_USEC` (systemd 253's Type=notify-reload needs it); send
        `ready()` when the new configuration is in place."""
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={now_usec}", *_status_field(status))

    def close(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        where = _printable(self.address) if self.enabled else "disabled"
        return f"Notifier({where})"


def watchdog_interval(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """systemd's watchdog interval in seconds, as sd_watchdog_enabled(3) decides; None when off.

    Off when `WATCHDOG_USEC` is unset, not a positive integer, or when `WATCHDOG_PID` is set and
    names another process (the variables were inherited, the watchdog is not ours).
    """
    env = os.environ if environ is None else environ
    raw_usec = env.get("WATCHDOG_USEC")
    if not raw_usec:
        return None
    try:
        usec = int(raw_usec.strip(), 10)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not a number; watchdog pings disabled", raw_usec)
        return None
    if usec <= 0:
        return None
    raw_pid = env.get("WATCHDOG_PID")
    if raw_pid:
        try:
            watched = int(raw_pid.strip(), 10)
        except ValueError:
            log.warning("WATCHDOG_PID=%r is not a number; watchdog pings disabled", raw_pid)
            return None
        if watched != (os.getpid() if pid is None else pid):
            return None
    return usec / 1e6


class WatchdogPacer:
    """When the live loop should send `WATCHDOG=1`: at most once every `fraction` of the interval.

    systemd kills the service when no ping arrives within the interval; pinging every half
    interval (the default, as systemd.service(5) recommends) leaves room for one slow iteration.
    The pacer has no thread and no timer: it only pings from `tick()`, which the loop calls after
    an iteration it completed, so a hung loop is noticed. Disabled (interval None) it does nothing.
    """

    def __init__(
        self,
        interval_s: float | None,
        fraction: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        self.interval_s = interval_s if interval_s and interval_s > 0 else None
        self.period_s = None if self.interval_s is None else self.interval_s * fraction
        self._clock = clock
        self._last: float | None = None

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str] | None = None,
        pid: int | None = None,
        fraction: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> WatchdogPacer:
        return cls(watchdog_interval(environ, pid), fraction, clock)

    @property
    def enabled(self) -> bool:
        return self.period_s is not None

    def due(self, now: float | None = None) -> bool:
        """True when a ping should go now (always for the first, never when disabled)."""
        if self.period_s is None:
            return False
        if self._last is None:
            return True
        return (self._clock() if now is None else now) - self._last >= self.period_s

    def tick(self, notifier: Notifier, now: float | None = None) -> bool:
        """Ping through `notifier` if one is due; True when a ping was sent."""
        now = self._clock() if now is None else now
        if not self.due(now):
            return False
        # Paced on the attempt, not on success: a socket that is gone is not retried every window.
        self._last = now
        return notifier.watchdog()

    def __repr__(self) -> str:
        if self.period_s is None:
            return "WatchdogPacer(disabled)"
        return f"WatchdogPacer(interval {self.interval_s:g} s, ping every {self.period_s:g} s)"


def _status_field(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    return ("STATUS=" + " ".join(str(text).splitlines()),)


def _printable(address: str | None) -> str:
    if address is None:
        return "(none)"
    return "@" + address[1:] if address.startswith("\0") else address


_default: Notifier | None = None


def default_notifier() -> Notifier:
    """The process's notifier, made from `os.environ` on first use."""
    global _default
    if _default is None:
        _default = Notifier()
    return _default


def ready(status: str | None = None) -> bool:
    return default_notifier().ready(status)


def status(text: str) -> bool:
    return default_notifier().status(text)


def watchdog() -> bool:
    return default_notifier().watchdog()


def stopping(status: str | None = None) -> bool:
    return default_notifier().stopping(status)


def reloading(status: str | None = None) -> bool:
    return default_notifier().reloading(status)
