"""systemd's notify protocol (edge/notify.py) against real AF_UNIX datagram sockets."""

from __future__ import annotations

import logging
import os
import socket
import uuid

import pytest

from tonecue.edge import notify
from tonecue.edge.notify import Notifier, WatchdogPacer, notify_address, watchdog_interval

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs AF_UNIX sockets")


class Listener:
    """A bound datagram socket standing in for systemd's notify socket."""

    def __init__(self, address: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(2.0)

    def receive(self) -> bytes:
        return self.sock.recv(4096)

    def pending(self) -> list[bytes]:
        self.sock.setblocking(False)
        messages = []
        try:
            while True:
                messages.append(self.sock.recv(4096))
        except BlockingIOError:
            pass
        finally:
            self.sock.settimeout(2.0)
        return messages

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def path_socket(tmp_path):
    # AF_UNIX paths are limited to 107 bytes; pytest's tmp_path can be longer than that.
    path = tmp_path / "notify"
    if len(str(path)) > 100:
        pytest.skip(f"tmp_path too long for an AF_UNIX address: {path}")
    listener = Listener(str(path))
    yield str(path), listener
    listener.close()


@pytest.fixture
def abstract_socket():
    if not os.uname().sysname == "Linux":
        pytest.skip("the abstract socket namespace is Linux's")
    name = f"tonecue-test-{uuid.uuid4().hex}"
    listener = Listener("\0" + name)
    yield "@" + name, listener
    listener.close()


def test_messages_arrive_exactly_over_a_path_socket(path_socket):
    address, listener = path_socket
    with Notifier({"NOTIFY_SOCKET": address}) as notifier:
        assert notifier.enabled
        assert notifier.ready()
        assert listener.receive() == b"READY=1"
        assert notifier.watchdog()
        assert listener.receive() == b"WATCHDOG=1"
        assert notifier.status("listening: happy (0.82)")
        assert listener.receive() == b"STATUS=listening: happy (0.82)"
        assert notifier.stopping()
        assert listener.receive() == b"STOPPING=1"
    assert not notifier.enabled


def test_messages_arrive_exactly_over_an_abstract_socket(abstract_socket):
    address, listener = abstract_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert notifier.address == "\0" + address[1:]
    assert notifier.ready("listening")
    assert listener.receive() == b"READY=1\nSTATUS=listening"
    assert notifier.watchdog()
    assert listener.receive() == b"WATCHDOG=1"
    assert notifier.stopping("stopping: SIGTERM")
    assert listener.receive() == b"STOPPING=1\nSTATUS=stopping: SIGTERM"
    notifier.close()


def test_status_is_one_line_and_unicode_survives(path_socket):
    address, listener = path_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    # A newline would start a new KEY=value field: systemd would read "READY=1" into it.
    assert notifier.status("line one\nREADY=1 — ça va")
    assert listener.receive() == "STATUS=line one READY=1 — ça va".encode()
    notifier.close()


def test_reloading_carries_the_monotonic_clock(path_socket):
    address, listener = path_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    import time

    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert notifier.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    reloading, monotonic = listener.receive().decode().split("\n")
    assert reloading == "RELOADING=1"
    key, value = monotonic.split("=")
    assert key == "MONOTONIC_USEC" and before <= int(value) <= after
    notifier.close()


def test_module_functions_use_the_environment(path_socket, monkeypatch):
    address, listener = path_socket
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    monkeypatch.setattr(notify, "_default", None)
    assert notify.ready()
    assert notify.status("ok")
    assert notify.watchdog()
    assert notify.stopping()
    assert listener.pending() == [b"READY=1", b"STATUS=ok", b"WATCHDOG=1", b"STOPPING=1"]
    notify.default_notifier().close()


@pytest.mark.parametrize("environ", [{}, {"NOTIFY_SOCKET": ""}])
def test_unset_socket_is_a_no_op(environ, monkeypatch):
    def no_socket(*args, **kwargs):  # pragma: no cover - the point is that it is never called
        raise AssertionError("a socket was created without NOTIFY_SOCKET")

    monkeypatch.setattr(notify.socket, "socket", no_socket)
    notifier = Notifier(environ)
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    assert notifier.status("x") is False
    assert notifier.stopping() is False
    assert notifier.reloading() is False
    pacer = WatchdogPacer.from_environment({})
    assert pacer.tick(notifier) is False
    notifier.close()


def test_running_by_hand_uses_no_socket(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setattr(notify, "_default", None)
    assert notify.ready() is False
    assert not notify.default_notifier().enabled


@pytest.mark.parametrize("value", ["relative/path", "@", "vsock:2:1234", "notify"])
def test_unusable_addresses_disable_notification(value, caplog):
    with caplog.at_level(logging.WARNING, logger="tonecue.edge.notify"):
        notifier = Notifier({"NOTIFY_SOCKET": value})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert "NOTIFY_SOCKET" in caplog.text


def test_notify_address_forms():
    assert notify_address(None) is None
    assert notify_address("") is None
    assert notify_address("/run/systemd/notify") == "/run/systemd/notify"
    assert notify_address("@/org/freedesktop/systemd1/notify/123") == "\0/org/freedesktop/systemd1/notify/123"


def test_a_vanished_path_socket_never_raises_and_logs_once(path_socket, caplog):
    address, listener = path_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert notifier.ready()
    assert listener.receive() == b"READY=1"
    listener.close()
    os.unlink(address)
    with caplog.at_level(logging.DEBUG, logger="tonecue.edge.notify"):
        for _ in range(5):
            assert notifier.watchdog() is False
            assert notifier.status("still here") is False
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "notify socket" in warnings[0].getMessage()
    # systemd comes back (e.g. after daemon-reexec): messages flow again, and that is said once.
    again = Listener(address)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tonecue.edge.notify"):
        assert notifier.watchdog()
    assert again.receive() == b"WATCHDOG=1"
    assert "reachable again" in caplog.text
    again.close()
    notifier.close()


def test_a_closed_abstract_socket_never_raises(abstract_socket, caplog):
    address, listener = abstract_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    listener.close()
    with caplog.at_level(logging.WARNING, logger="tonecue.edge.notify"):
        assert notifier.ready() is False
        assert notifier.stopping() is False
    assert len(caplog.records) == 1
    notifier.close()


def test_a_full_receive_queue_drops_instead_of_blocking(path_socket):
    address, listener = path_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    # The listener never reads: the queue fills, and then a send fails at once instead of
    # hanging the loop (the socket is non-blocking).
    sent = 0
    while notifier.status("x" * 1000):
        sent += 1
        assert sent < 100_000, "the receive queue never filled"
    assert sent > 0
    assert notifier.watchdog() is False
    assert len(listener.pending()) == sent
    assert notifier.watchdog()  # room again
    notifier.close()


# --- the watchdog -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "10000000"}, 10.0),
        ({"WATCHDOG_USEC": "2500000", "WATCHDOG_PID": "4242"}, 2.5),
        ({"WATCHDOG_USEC": " 500000 "}, 0.5),
        ({}, None),
        ({"WATCHDOG_USEC": ""}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "10s"}, None),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "not-a-pid"}, None),
    ],
)
def test_watchdog_usec_parsing(environ, expected):
    assert watchdog_interval(environ, pid=4242) == expected


def test_watchdog_pid_mismatch_disables_the_watchdog(path_socket):
    address, listener = path_socket
    environ = {"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert watchdog_interval(environ) is None
    pacer = WatchdogPacer.from_environment(environ)
    assert not pacer.enabled
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert pacer.tick(notifier, now=0.0) is False
    assert pacer.tick(notifier, now=100.0) is False
    assert listener.pending() == []
    # Our own pid (the default when WATCHDOG_PID is unset, too) keeps it on.
    assert watchdog_interval({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}) == 10.0
    assert WatchdogPacer.from_environment({"WATCHDOG_USEC": "10000000"}).enabled
    notifier.close()


def test_pacer_pings_every_half_interval(path_socket):
    address, listener = path_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    pacer = WatchdogPacer.from_environment({"WATCHDOG_USEC": "10000000"}, pid=os.getpid())
    assert pacer.interval_s == 10.0 and pacer.period_s == 5.0
    # The loop ticks after every window (about 0.5 s); pings go at 0, 5, 10, 15 s.
    times = [i * 0.5 for i in range(32)]
    pinged = [t for t in times if pacer.tick(notifier, now=t)]
    assert pinged == [0.0, 5.0, 10.0, 15.0]
    assert listener.pending() == [b"WATCHDOG=1"] * 4
    notifier.close()


def test_a_hung_loop_stops_pinging(path_socket):
    address, listener = path_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    clock = [100.0]
    pacer = WatchdogPacer(4.0, clock=lambda: clock[0])
    assert pacer.tick(notifier)
    # No tick while the loop is stuck: nothing is sent however long it takes (no timer thread).
    clock[0] = 160.0
    assert listener.pending() == [b"WATCHDOG=1"]
    assert pacer.due()
    assert pacer.tick(notifier)
    assert not pacer.tick(notifier)
    clock[0] = 161.99
    assert not pacer.tick(notifier)
    clock[0] = 162.0
    assert pacer.tick(notifier)
    assert listener.pending() == [b"WATCHDOG=1"] * 2
    notifier.close()


def test_pacer_fraction_and_disabled_forms():
    assert WatchdogPacer(10.0, fraction=0.25).period_s == 2.5
    assert not WatchdogPacer(None).enabled
    assert not WatchdogPacer(0.0).enabled
    assert not WatchdogPacer(None).due(now=1e9)
    with pytest.raises(ValueError):
        WatchdogPacer(10.0, fraction=0.0)
    with pytest.raises(ValueError):
        WatchdogPacer(10.0, fraction=1.5)
    assert "disabled" in repr(WatchdogPacer(None))
    assert "5 s" in repr(WatchdogPacer(10.0))


def test_a_vanished_socket_does_not_stop_the_pacer(path_socket):
    address, listener = path_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    pacer = WatchdogPacer(2.0)
    listener.close()
    os.unlink(address)
    assert pacer.tick(notifier, now=0.0) is False
    assert not pacer.due(now=0.5)  # a failed ping is not retried every window
    assert pacer.due(now=1.0)
    assert pacer.tick(notifier, now=1.0) is False
    notifier.close()
