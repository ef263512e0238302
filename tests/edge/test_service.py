"""The live loop, end to end: replayed speech in, cues and systemd notifications out, faults survived.

Each test runs the real pieces (window stream, gate, frontend, ONNX Runtime, smoother, cue
planner, notify protocol over a real Unix datagram socket); the indicator is a small recording
subclass of the real base class, and a fault is a real MicrophoneError raised by a source.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tonecue.edge.capture import Backoff, FileSource, MicrophoneError
from tonecue.edge.cli import DEMO_CLIP, EXIT_CONFIG, EXIT_MODEL, main
from tonecue.edge.config import Config
from tonecue.edge.indicators import Indicator
from tonecue.edge.model import EmotionModel, ModelContract
from tonecue.edge.notify import Notifier, WatchdogPacer
from tonecue.edge.service import Service
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.vad import GateSettings

from helpers.onnx_models import write_model

FORBIDDEN = ("torch", "librosa", "scipy", "sklearn", "numba", "featurewiz")


class RecordingIndicator(Indicator):
    def __init__(self):
        super().__init__()
        self.cues, self.closed = [], False

    def show(self, cue):
        self.cues.append(cue)

    def close(self):
        super().close()
        self.closed = True


@pytest.fixture
def tiny_model(tmp_path):
    contract = ModelContract(FrontendSpec(), GateSettings(), ("angry", "happy", "sad", "neutral"), "image")
    return write_model(tmp_path / "tiny.onnx", (2, 20, 50), 4, contract.to_metadata())


@pytest.fixture
def notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(0.05)
    yield path, server
    server.close()


def received(server) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(server.recv(4096).decode())
        except (socket.timeout, BlockingIOError):
            return messages


def replay(rate):
    return FileSource(DEMO_CLIP, rate, realtime=False, block_seconds=0.1)


def test_replayed_speech_becomes_cues_and_notifications(tiny_model, notify_socket):
    path, server = notify_socket
    model = EmotionModel(tiny_model)
    indicator = RecordingIndicator()
    notifier = Notifier({"NOTIFY_SOCKET": path})
    source = replay(model.contract.spec.sample_rate)
    service = Service(Config(), model, indicator, lambda: source, notifier, watchdog=WatchdogPacer(10.0))
    assert service.run() == 0
    assert service.windows_heard == 32  # every window of the 17 s clip, as classify sees it
    kinds = [cue.kind for cue in indicator.cues]
    assert "emotion" in kinds and kinds[-1] == "off" and indicator.closed
    messages = received(server)
    assert messages[0] == "READY=1\nSTATUS=starting"
    assert "WATCHDOG=1" in messages
    assert any(m.startswith("STATUS=listening") for m in messages)
    assert messages[-1] == "STOPPING=1\nSTATUS=stopping"


class FlakySource:
    """Delivers a few blocks of real speech, then the device 'vanishes'."""

    def __init__(self, inner, blocks):
        self.inner, self.left = inner, blocks

    def read(self, timeout=None):
        if self.left == 0:
            raise MicrophoneError("input stream stopped: device unplugged")
        self.left -= 1
        return self.inner.read(timeout)

    def close(self):
        pass


def test_a_missing_then_vanishing_microphone_is_survived(tiny_model, caplog):
    model = EmotionModel(tiny_model)
    rate = model.contract.spec.sample_rate
    attempts = []

    def open_source():
        attempts.append(time.monotonic())
        if len(attempts) <= 2:
            raise MicrophoneError("no input device matching 'usb mic'")
        if len(attempts) == 3:
            return FlakySource(replay(rate), blocks=40)
        return replay(rate)

    indicator = RecordingIndicator()
    service = Service(Config(), model, indicator, open_source, backoff=Backoff(0.01, 2, 0.05))
    assert service.run() == 0
    assert len(attempts) == 4
    errors = [cue for cue in indicator.cues if cue.kind == "error"]
    assert len(errors) == 3 and "usb mic" in errors[0].message and "unplugged" in errors[2].message
    assert indicator.cues[-1].kind == "off" and service.windows_heard > 32
    # One log line per distinct fault, not one per retry.
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(logged) == 2 and "usb mic" in logged[0] and "unplugged" in logged[1]


def test_stop_ends_the_loop_even_while_retrying(tiny_model):
    model = EmotionModel(tiny_model)
    indicator = RecordingIndicator()

    def never():
        raise MicrophoneError("no input device")

    service = Service(Config(), model, indicator, never, backoff=Backoff(30, 1, 30))
    started = time.monotonic()
    import threading

    threading.Timer(0.3, service.stop).start()
    assert service.run() == 0
    assert time.monotonic() - started < 1.5
    assert indicator.cues[-1].kind == "off" and indicator.closed


def _run_cli(args, env_extra=None, **kwargs):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "tonecue.edge.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kwargs,
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_service_within_a_second(tiny_model, tmp_path, signum):
    # Real time replay of the 17 s clip, stopped early: indicators off, exit 0, in under a second.
    work = tmp_path / "cwd"
    work.mkdir()
    probe = tmp_path / "modules.json"
    code = (
        "import atexit, json, sys; "
        f"atexit.register(lambda: open({str(probe)!r}, 'w').write(json.dumps(sorted(sys.modules)))); "
        "from tonecue.edge.cli import main; sys.exit(main())"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, "run", "--model", str(tiny_model), "--input", str(DEMO_CLIP)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work,
        env={**os.environ, "TMPDIR": str(work), "HOME": str(work)},
    )
    time.sleep(3.0)
    assert process.poll() is None, process.communicate()
    sent = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=5)
    assert time.monotonic() - sent < 1.0, "took too long to stop"
    assert process.returncode == 0, err
    # Nothing reaches the disk: no audio, and not onnxruntime's telemetry files either.
    written = sorted(str(p.relative_to(work)) for p in work.rglob("*"))
    assert written == [], f"the loop wrote {written}"
    loaded = set(json.loads(probe.read_text()))
    assert not loaded & set(FORBIDDEN), f"the device loop imported {sorted(loaded & set(FORBIDDEN))}"


def test_the_loop_opens_no_socket_but_systemds(tiny_model, notify_socket, monkeypatch):
    path, _server = notify_socket
    opened = []
    real_socket = socket.socket

    class WatchedSocket(real_socket):
        def __init__(self, family=-1, type=-1, *args, **kwargs):
            opened.append((family, type))
            super().__init__(family, type, *args, **kwargs)

    monkeypatch.setattr(socket, "socket", WatchedSocket)
    model = EmotionModel(tiny_model)
    notifier = Notifier({"NOTIFY_SOCKET": path})
    service = Service(Config(), model, RecordingIndicator(), lambda: replay(22050), notifier)
    assert service.run() == 0
    assert opened == [(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)]


def test_run_reports_a_bad_config_and_a_missing_model_with_distinct_codes(tmp_path, capsys):
    config = tmp_path / "tonecue.toml"
    config.write_text("[decision]\nthreshold = 7\n")
    assert main(["run", "--config", str(config), "--input", str(DEMO_CLIP)]) == EXIT_CONFIG
    assert "threshold" in capsys.readouterr().err
    assert main(["run", "--model", str(tmp_path / "none.onnx"), "--input", str(DEMO_CLIP)]) == EXIT_MODEL
    assert "model file not found" in capsys.readouterr().err


def test_the_loop_hears_a_real_alsa_device_and_survives_it_going_quiet(tiny_model, notify_socket, tmp_path):
    """`tonecue run` on the microphone path: PortAudio reads ALSA's file plugin, which plays the
    demo clip's samples; when they run out the device goes quiet, the loop reports the fault and
    retries, and SIGTERM still ends it cleanly."""
    import fcntl
    from string import Template

    from tonecue.edge.audio import load_audio

    path, server = notify_socket
    infile = tmp_path / "mic.fifo"
    os.mkfifo(infile)
    conf = tmp_path / "asound.conf"
    template = Template((Path(__file__).parent / "alsa" / "file_capture.conf.in").read_text())
    conf.write_text(template.substitute(infile=infile, outfile="/dev/null"))
    config = tmp_path / "tonecue.toml"
    config.write_text('[audio]\ndevice = "tonecue_test_mic"\n[indicators]\nkinds = []\n')
    samples = (load_audio(DEMO_CLIP, 22050) * 32768).clip(-32768, 32767).astype("<i2").tobytes()
    # Open the FIFO read-write and fill it before PortAudio starts: the null slave never waits.
    feed = os.open(infile, os.O_RDWR)
    fcntl.fcntl(feed, fcntl.F_SETPIPE_SZ, min(int(open("/proc/sys/fs/pipe-max-size").read()), 1 << 20))
    os.write(feed, samples)
    env = {**os.environ, "ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{conf}", "NOTIFY_SOCKET": path}
    process = subprocess.Popen(
        [sys.executable, "-m", "tonecue.edge.cli", "run", "--model", str(tiny_model), "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    messages, deadline = [], time.monotonic() + 30
    try:
        while time.monotonic() < deadline and not any(m.startswith("STATUS=no audio") for m in messages):
            messages += received(server)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        # The reopened device is blocked reading the empty FIFO inside PortAudio's thread, as no
        # real device blocks; closing our end lets that read return so the stream can stop.
        time.sleep(0.3)
        os.close(feed)
        feed = None
        out, err = process.communicate(timeout=10)
    finally:
        if feed is not None:
            os.close(feed)
        if process.poll() is None:
            process.kill()
    messages += received(server)
    assert process.returncode == 0, err
    assert messages[0].startswith("READY=1")
    heard = [m for m in messages if m.startswith("STATUS=listening: ")]
    assert heard, messages  # windows of real speech went through the model
    fault = next(m for m in messages if m.startswith("STATUS=no audio"))
    assert "no audio for" in fault or "stopped" in fault
    assert "audio input failed" in err and messages[-1].startswith("STOPPING=1")


def test_the_config_gate_overrides_the_models_gate_key_by_key(tmp_path):
    from tonecue.edge.config import load_config

    model_gate = GateSettings(margin_db=6.0, min_level_db=-55.0)
    contract = ModelContract(FrontendSpec(), model_gate, ("angry", "happy", "sad", "neutral"), "image")
    model = EmotionModel(write_model(tmp_path / "m.onnx", (2, 20, 50), 4, contract.to_metadata()))
    none = tmp_path / "none.toml"
    none.write_text("")
    one = tmp_path / "one.toml"
    one.write_text("[gate]\nmargin_db = 12.0\n")
    opened = lambda: replay(model.contract.spec.sample_rate)  # noqa: E731
    assert Service(load_config(none), model, RecordingIndicator(), opened).pipeline.listener.gate == model_gate
    gate = Service(load_config(one), model, RecordingIndicator(), opened).pipeline.listener.gate
    assert gate == GateSettings(margin_db=12.0, min_level_db=-55.0)


def test_what_the_device_learnt_of_its_channel_survives_a_restart(tmp_path, monkeypatch):
    # The shipped model is speaker-normalized; under systemd the file goes to StateDirectory.
    from tonecue.edge.channel_store import CHANNEL_FILE_NAME

    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "lib"))
    model = EmotionModel()
    first = Service(Config(), model, RecordingIndicator(), lambda: replay(model.contract.spec.sample_rate))
    assert first.channel is not None and first.channel.windows == 0
    assert first.run() == 0 and first.channel.windows > 0
    saved = json.loads((tmp_path / "lib" / CHANNEL_FILE_NAME).read_text())
    assert saved["windows"] == first.channel.windows
    second = Service(Config(), model, RecordingIndicator(), lambda: replay(model.contract.spec.sample_rate))
    assert second.channel.windows == first.channel.windows  # a head start, not the prior
    np.testing.assert_allclose(second.channel.mean, first.channel.mean)
    off = Config.from_dict({"service": {"channel_file": ""}})
    third = Service(off, model, RecordingIndicator(), lambda: replay(model.contract.spec.sample_rate))
    assert third.channel.windows == 0  # kept nowhere: every start from the prior
