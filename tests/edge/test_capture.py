"""Capture: the microphone through the real PortAudio path, a replayed file, the retry backoff.

How the microphone is tested without a sound card (the recipe; found with arecord, then PortAudio)
-------------------------------------------------------------------------------------------------
ALSA's `file` PCM plugin, given an `infile`, hands out the bytes of that file as the samples it
captures; its slave is the `null` PCM. The device is tests/edge/alsa/file_capture.conf.in, written
per test into tmp_path and loaded after the system configuration with
ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:<tmp>/asound.conf. PortAudio lists every PCM that the
configuration defines, so MicrophoneSource opens it by name ("tonecue_test_mic"). PortAudio reads
the ALSA configuration once, when sounddevice is imported, so each test runs
tests/edge/alsa/capture_probe.py in a subprocess with that environment. What was found:

* `arecord -D tonecue_test_mic -f S16_LE -c 1 -r 22050` returns the infile bit for bit. The bytes
  are taken in whatever format, rate and channel count the client opened the device with: S16_LE
  here because MicrophoneSource asks PortAudio for int16 (asking for float32, PortAudio opens the
  PCM as FLOAT_LE and the same bytes come out as floats).
* The null slave never waits: reading a regular file, PortAudio calls back ~90,000 times a second.
  At the end of the infile the plugin ignores the end of file and hands out whatever was left in
  its buffer, again and again, without an error: a regular infile never "ends". So the infile is
  a FIFO, which the probe opens read-write (opening never blocks, and ALSA's reader never sees an
  end of file; PortAudio opens the device several times while it enumerates and checks it).
  Written all at once into an enlarged pipe before PortAudio starts, the samples arrive
  bit-exactly; after the last one, ALSA's read() blocks in PortAudio's thread: the device goes
  quiet, and MicrophoneSource raises MicrophoneError after its stall timeout.
* No `plug` (nor `linear`, `route`) in front of it: ALSA's converting plugins read ahead from a
  slave that never waits and drop whole periods; fed in real time, their short reads come out
  as stale samples. The file plugin must be the PCM that PortAudio opens.
* "Unplugging": the plugin writes what it captured to `file`. When that is a FIFO whose reader
  goes away, ALSA's next write fails (EPIPE, returned as EIO); PortAudio's audio thread stops on
  the error ("Expression 'PaAlsaStream_EndProcessing(...)' failed" on stderr), calls the finished
  callback, and the stream is no longer active. That is what an unplugged USB microphone looks
  like through PortAudio (with ENODEV instead of EIO); MicrophoneSource raises MicrophoneError at
  the next read() that finds the queue empty.
* A device that refuses the model's rate cannot be built from these plugins (they take any rate),
  so that test makes sounddevice.check_input_settings refuse 22,050 Hz in the subprocess; the
  stream then really opens at the device's default rate (PortAudio reports 44,100 Hz for ALSA
  plugins) and is resampled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path
from string import Template

import numpy as np
import pytest

from tonecue.edge import capture
from tonecue.edge.audio import AudioError, load_audio
from tonecue.edge.capture import (
    Backoff,
    EndOfStream,
    FileSource,
    MicrophoneError,
    NO_MICROPHONE_HINT,
    MicrophoneSource,
    StreamResampler,
)
from tonecue.edge.resample import resample, resampled_length

ALSA_DIR = Path(__file__).resolve().parent / "alsa"
PROBE = ALSA_DIR / "capture_probe.py"
SYSTEM_ALSA_CONF = Path("/usr/share/alsa/alsa.conf")
DEVICE = "tonecue_test_mic"
SPEECH = "Savee/DC_a01.flac"  # 22,050 Hz, 16-bit mono
OTHER_SPEECH = "Savee/JK_n01.flac"


# --- the real capture path: PortAudio -> ALSA's file plugin ---------------------------------


def _portaudio_missing_reason() -> str | None:
    if not SYSTEM_ALSA_CONF.exists():
        return f"no ALSA configuration at {SYSTEM_ALSA_CONF}"
    out = subprocess.run(
        [sys.executable, "-c", "import sounddevice"], capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0:
        return "sounddevice/PortAudio not usable here: " + out.stderr.strip().splitlines()[-1]
    return None


@pytest.fixture(scope="module")
def portaudio():
    reason = _portaudio_missing_reason()
    if reason is not None:
        pytest.skip(reason)


def run_probe(tmp_path: Path, scenario: str, source: dict, raw=None, **spec):
    """Run capture_probe.py with a fresh test device fed `raw` (int16, (frames[, channels])).

    Returns (the probe's JSON result, the samples MicrophoneSource returned).
    """
    infile = tmp_path / "mic.fifo"
    os.mkfifo(infile)
    outfile = "/dev/null"
    if scenario == "unplug":
        outfile = str(tmp_path / "captured.fifo")
        os.mkfifo(outfile)
    conf = tmp_path / "asound.conf"
    template = Template((ALSA_DIR / "file_capture.conf.in").read_text())
    conf.write_text(template.substitute(infile=infile, outfile=outfile))
    full = {"scenario": scenario, "infile": str(infile), "outfile": outfile, "source": source}
    if raw is not None:
        raw = np.asarray(raw, dtype="<i2")
        (tmp_path / "mic.raw").write_bytes(raw.tobytes())
        channels = raw.shape[1] if raw.ndim == 2 else 1
        full.update(raw=str(tmp_path / "mic.raw"), frame_bytes=2 * channels)
    full["out"] = str(tmp_path / "read.npy")
    full.update(spec)
    (tmp_path / "spec.json").write_text(json.dumps(full))
    env = dict(os.environ, ALSA_CONFIG_PATH=f"{SYSTEM_ALSA_CONF}:{conf}")
    proc = subprocess.run(
        [sys.executable, str(PROBE), str(tmp_path / "spec.json")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    out = tmp_path / "read.npy"
    return result, (np.load(out) if out.exists() else np.zeros(0, np.float32))


def speech_int16(dev_corpus: Path, name: str = SPEECH) -> np.ndarray:
    import soundfile

    samples, rate = soundfile.read(dev_corpus / name, dtype="int16")
    assert rate == 22050 and samples.ndim == 1
    return samples


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(x, np.float64) * 32768), -32768, 32767).astype(np.int16)


def scaled(ints: np.ndarray) -> np.ndarray:
    """int16 -> float32 as soundfile scales them."""
    return ints.astype(np.float32) * np.float32(2.0**-15)


def tone_int16(rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return to_int16(0.3 * np.sin(2 * np.pi * 440 * t))


@pytest.mark.data
def test_microphone_at_the_model_rate_is_bit_exact(tmp_path, portaudio, dev_corpus):
    ints = speech_int16(dev_corpus)
    result, got = run_probe(
        tmp_path, "record", {"sample_rate": 22050, "device": DEVICE, "stall_timeout": 0.5}, ints
    )
    assert result["opened"] and result["device_rate"] == 22050 and result["channels"] == 1
    assert result["block_lengths"] == [2205]  # 0.1 s blocks
    assert got.dtype == np.float32 and got.size >= ints.size
    np.testing.assert_array_equal(got[: ints.size], scaled(ints))
    assert result["overflows"] == 0 and result["dropped_blocks"] == 0
    # After the last sample the device goes quiet, and that is an error, not a hang.
    assert "no audio for" in result["error"]


@pytest.mark.data
def test_microphone_at_48k_is_resampled_without_seams(tmp_path, portaudio, dev_corpus):
    ints48 = to_int16(resample(scaled(speech_int16(dev_corpus)), 22050, 48000))
    # Zeros after the speech, so that the resampler's held-back tail comes out too (resample of
    # the whole signal also takes the signal to be zero after its end).
    fed = np.concatenate([ints48, np.zeros(3 * 4800, np.int16)])
    result, got = run_probe(
        tmp_path,
        "record",
        {"sample_rate": 22050, "device": DEVICE, "device_rate": 48000, "stall_timeout": 0.5},
        fed,
    )
    assert result["device_rate"] == 48000 and result["blocksize"] == 4800
    expected = resample(scaled(ints48), 48000, 22050)
    assert got.size >= expected.size
    np.testing.assert_allclose(got[: expected.size], expected, rtol=0, atol=2e-6)
    # What the streaming resampler avoids: resampling each 0.1 s block on its own leaves a
    # click at every block edge.
    naive = np.concatenate(
        [resample(scaled(ints48[k : k + 4800]), 48000, 22050) for k in range(0, ints48.size, 4800)]
    )
    assert np.abs(naive[: expected.size] - expected).max() > 1e-3


@pytest.mark.data
def test_refused_rate_falls_back_to_the_device_default_and_stereo_is_downmixed(
    tmp_path, portaudio, dev_corpus
):
    left = speech_int16(dev_corpus, SPEECH)
    right = speech_int16(dev_corpus, OTHER_SPEECH)
    n = min(left.size, right.size, 2 * 22050)
    stereo22 = np.stack([left[:n], right[:n]], axis=1)
    device_rate = 44100  # what PortAudio reports as the default rate of an ALSA plugin
    stereo = to_int16(resample(scaled(stereo22), 22050, device_rate, axis=0))
    fed = np.concatenate([stereo, np.zeros((3 * 4410, 2), np.int16)])
    result, got = run_probe(
        tmp_path,
        "record",
        {"sample_rate": 22050, "device": DEVICE, "channels": 2, "stall_timeout": 0.5},
        fed,
        refuse_rates=[22050],
    )
    assert result["device_rate"] == device_rate and result["channels"] == 2
    mono = scaled(stereo).mean(axis=1, dtype=np.float32)
    expected = resample(mono, device_rate, 22050)
    assert got.size >= expected.size
    np.testing.assert_allclose(got[: expected.size], expected, rtol=0, atol=2e-6)


def test_a_device_that_goes_quiet_raises_within_the_stall_timeout(tmp_path, portaudio):
    ints = tone_int16(22050, 1.0)
    result, got = run_probe(
        tmp_path, "record", {"sample_rate": 22050, "device": DEVICE, "stall_timeout": 0.5}, ints
    )
    np.testing.assert_array_equal(got[: ints.size], scaled(ints))
    assert "no audio for" in result["error"] and DEVICE in result["error"]
    assert 0.5 <= result["error_after_last_block"] < 2.0
    assert result["error_again"] == result["error"]  # it stays an error
    assert result["close_seconds"] < 2.0


def test_an_unplugged_device_raises_promptly(tmp_path, portaudio):
    ints = tone_int16(22050, 3.0)
    result, _ = run_probe(
        tmp_path,
        "unplug",
        {"sample_rate": 22050, "device": DEVICE, "stall_timeout": 5.0},
        ints,
        unplug_after=3,
    )
    assert result["n_blocks"] >= 3
    # Not the stall timeout: PortAudio's thread stopped and read() saw it.
    assert "stream stopped" in result["error"], result["error"]
    assert result["error_after_unplug"] < 1.5
    assert result["error_again"] == result["error"]
    assert result["close_seconds"] < 2.0


def test_a_device_that_does_not_exist_fails_fast_and_says_why(tmp_path, portaudio):
    t0 = time.monotonic()
    result, _ = run_probe(tmp_path, "open", {"sample_rate": 22050, "device": "tonecue_no_such_mic"})
    assert time.monotonic() - t0 < 10
    assert result["opened"] is False
    message = result["error"]
    assert "tonecue_no_such_mic" in message
    assert "Input devices:" in message and DEVICE in message  # what there is instead
    assert message.endswith(NO_MICROPHONE_HINT)  # and what to do without one


def test_the_test_device_opens_at_the_model_rate(tmp_path, portaudio):
    result, _ = run_probe(tmp_path, "open", {"sample_rate": 16000, "device": DEVICE})
    assert result["opened"] and result["device_rate"] == 16000 and result["channels"] == 1
    assert result["close_seconds"] < 1.0


# --- without PortAudio: a fake sounddevice -------------------------------------------------


class FakeFlags:
    def __init__(self, input_overflow=False):
        self.input_overflow = input_overflow

    def __bool__(self):
        return self.input_overflow


class FakePortAudioError(Exception):
    pass


class FakeStream:
    """Records what is done to it; `callback` is what PortAudio's thread would call."""

    def __init__(self, sd, **kwargs):
        self.sd = sd
        self.kwargs = kwargs
        self.callback = kwargs["callback"]
        self.finished_callback = kwargs["finished_callback"]
        self.calls: list[str] = []
        self.active = False
        sd.streams.append(self)

    def start(self):
        self.calls.append("start")
        self.active = True

    def abort(self, ignore_errors=True):
        self.calls.append("abort")
        self.sd.abort_blocks.wait()
        self.active = False

    def close(self, ignore_errors=True):
        self.calls.append("close")

    def __getattr__(self, name):  # anything else a callback might touch is an error
        raise AssertionError(f"unexpected use of stream.{name}")


class FakeSoundDevice:
    PortAudioError = FakePortAudioError

    def __init__(self, default_rate=48000, max_channels=2, refuse=()):
        self.default_rate = default_rate
        self.max_channels = max_channels
        self.refuse = set(refuse)  # (channels or None, rate or None) pairs
        self.streams: list[FakeStream] = []
        self.abort_blocks = threading.Event()
        self.abort_blocks.set()
        self.has_input = True  # False: no input device at all (no sound card)

    def query_devices(self, device=None, kind=None):
        info = {
            "name": "fake mic",
            "index": 3,
            "max_input_channels": self.max_channels,
            "default_samplerate": float(self.default_rate),
        }
        if kind is None:
            return [info] if self.has_input else []
        if device is None and not self.has_input:
            raise FakePortAudioError("Error querying device -1")  # what PortAudio says without a sound card
        if device not in (None, 3, "fake mic", "fake"):
            raise ValueError(f"No input device matching {device!r}")
        return info

    def check_input_settings(self, device=None, channels=None, dtype=None, samplerate=None):
        if (channels, None) in self.refuse or (None, samplerate) in self.refuse:
            raise FakePortAudioError(f"refused {channels} ch at {samplerate} Hz")

    def InputStream(self, **kwargs):
        return FakeStream(self, **kwargs)


@pytest.fixture
def fake_sd(monkeypatch):
    sd = FakeSoundDevice()
    monkeypatch.setattr(capture, "_load_sounddevice", lambda: sd)
    return sd


def callback_from_another_thread(stream, block, flags=None):
    args = (block, len(block), None, flags or FakeFlags())
    t = threading.Thread(target=stream.callback, args=args)
    t.start()
    t.join()


def test_the_callback_only_queues_a_copy(fake_sd, monkeypatch):
    from tonecue.edge import resample as resampling  # StreamResampler's module: where it resamples

    threads = []
    real_resample = resampling.resample

    def recording_resample(*args, **kwargs):
        threads.append(threading.get_ident())
        return real_resample(*args, **kwargs)

    monkeypatch.setattr(resampling, "resample", recording_resample)
    mic = MicrophoneSource(22050, device_rate=48000, stall_timeout=5)
    stream = fake_sd.streams[0]
    assert stream.kwargs["dtype"] == "int16" and stream.kwargs["samplerate"] == 48000
    assert stream.kwargs["blocksize"] == 4800 and stream.calls == ["start"]
    threads.clear()  # (measuring the filter's reach resamples once, in the constructor)
    rng = np.random.default_rng(1)
    block = rng.integers(-30000, 30000, size=(4800, 1), dtype=np.int16)
    original = block.copy()
    callback_from_another_thread(stream, block, FakeFlags(input_overflow=True))
    block[:] = 0  # PortAudio reuses its buffer: the queued block must be a copy
    # The callback did nothing else: no stream calls, no resampling, no bookkeeping of flags.
    assert stream.calls == ["start"] and threads == [] and mic.overflows == 0
    assert mic._queue.qsize() == 1
    queued = mic._queue.queue[0]
    np.testing.assert_array_equal(queued, original)
    # All the work happens in read(), on this thread.
    first = mic.read(timeout=1)
    assert threads and set(threads) == {threading.get_ident()}
    assert mic.overflows == 1
    resampler = StreamResampler(48000, 22050)
    np.testing.assert_allclose(first, resampler.process(scaled(original[:, 0])), atol=1e-6)
    mic.close()
    assert stream.calls == ["start", "abort", "close"]


def test_a_full_queue_drops_and_counts(fake_sd):
    mic = MicrophoneSource(22050, block_seconds=0.1, max_queue_seconds=0.2, stall_timeout=5)
    stream = fake_sd.streams[0]
    assert mic.device_rate == 22050  # the fake takes the model's rate
    block = np.ones((2205, 1), np.int16)
    for _ in range(5):
        stream.callback(block, 2205, None, FakeFlags())
    assert mic.read(timeout=1) is not None and mic.dropped_blocks == 3
    mic.close()


def test_refused_rate_and_channels_fall_back(fake_sd):
    fake_sd.refuse = {(None, 22050), (1, None)}  # a stereo-only device that does not do 22,050
    with MicrophoneSource(22050, block_seconds=0.05, stall_timeout=5) as mic:
        assert (mic.device_rate, mic.channels) == (48000, 2)
        stream = fake_sd.streams[0]
        assert stream.kwargs["channels"] == 2 and stream.kwargs["blocksize"] == 2400
        left = np.full((2400, 1), 1000, np.int16)
        stream.callback(np.hstack([left, -left // 2]), 2400, None, FakeFlags())
        stream.callback(np.hstack([left, -left // 2]), 2400, None, FakeFlags())
        out = np.concatenate([mic.read(timeout=1), mic.read(timeout=1)])
    # The average of the two channels (1000 and -500), resampled: a constant 250 / 32768.
    middle = out[200:-200]
    np.testing.assert_allclose(middle, 250 / 32768, atol=1e-6)


def test_a_device_that_takes_no_rate_is_an_error(fake_sd):
    fake_sd.refuse = {(None, 22050), (None, 48000)}
    with pytest.raises(MicrophoneError, match=r"none of the rates \[22050, 48000\]"):
        MicrophoneSource(22050)


def test_unknown_device_is_an_error_with_the_list(fake_sd):
    with pytest.raises(MicrophoneError, match=r"no input device 'usb'.*Input devices: 3: fake mic"):
        MicrophoneSource(22050, device="usb")


def test_no_microphone_at_all_says_what_to_do_instead(fake_sd):
    fake_sd.has_input = False
    with pytest.raises(MicrophoneError) as info:
        MicrophoneSource(22050)
    assert str(info.value) == (
        "no default input device (Error querying device -1). Input devices: none. "
        "Without a microphone: replay a recording with 'tonecue run --input FILE', or try 'tonecue demo'."
    )


def test_portaudio_failing_to_open_is_an_error(fake_sd, monkeypatch):
    def broken(**kwargs):
        raise FakePortAudioError("Device unavailable [PaErrorCode -9985]")

    monkeypatch.setattr(fake_sd, "InputStream", broken)
    with pytest.raises(MicrophoneError, match=r"cannot open input device 'fake mic'.*-9985"):
        MicrophoneSource(22050)


def test_a_stopped_stream_is_reported_at_once(fake_sd):
    mic = MicrophoneSource(22050, stall_timeout=30)
    stream = fake_sd.streams[0]
    stream.callback(np.ones((2205, 1), np.int16), 2205, None, FakeFlags())
    stream.active = False  # what PortAudio's thread leaves behind when ALSA fails
    stream.finished_callback()
    assert mic.read(timeout=1) is not None  # what was queued before still comes out
    t0 = time.monotonic()
    with pytest.raises(MicrophoneError, match="stream stopped"):
        mic.read(timeout=5)
    assert time.monotonic() - t0 < 0.5
    with pytest.raises(MicrophoneError, match="stream stopped"):
        mic.read(timeout=0)
    mic.close()


def test_silence_from_the_device_is_a_timeout_then_a_stall(fake_sd):
    mic = MicrophoneSource(22050, stall_timeout=0.3)
    t0 = time.monotonic()
    assert mic.read(timeout=0.1) is None  # a timeout, the device is not gone yet
    assert 0.08 < time.monotonic() - t0 < 0.3
    with pytest.raises(MicrophoneError, match=r"no audio for 0\.\d s"):
        mic.read()  # timeout=None still ends: the stall timeout bounds it
    assert time.monotonic() - t0 < 1.0
    mic.close()


def test_close_does_not_hang_on_a_stuck_stream(fake_sd):
    fake_sd.abort_blocks.clear()  # PortAudio's thread stuck in a system call: abort() blocks
    mic = MicrophoneSource(22050, close_timeout=0.2)
    t0 = time.monotonic()
    mic.close()
    assert time.monotonic() - t0 < 1.0
    mic.close()  # idempotent
    with pytest.raises(MicrophoneError, match="closed"):
        mic.read(timeout=0)
    fake_sd.abort_blocks.set()


def test_missing_sounddevice_names_the_packages(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import raises ImportError
    with pytest.raises(MicrophoneError, match="libportaudio2.*tonecue run --input FILE"):
        MicrophoneSource(22050)


def test_missing_portaudio_library_names_libportaudio2(monkeypatch):
    class NoPortAudio:  # sounddevice raises OSError when it cannot load libportaudio
        def find_spec(self, name, path=None, target=None):
            if name == "sounddevice":
                raise OSError("PortAudio library not found")
            return None

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPortAudio(), *sys.meta_path])
    with pytest.raises(MicrophoneError, match=r"PortAudio library not found.*libportaudio2.*tonecue demo"):
        MicrophoneSource(22050)


# --- the streaming resampler ------------------------------------------------------------------


@pytest.mark.parametrize("orig", [48000, 44100, 16000, 8000, 96000, 24414, 22050])
def test_stream_resampler_matches_resampling_the_whole_signal(orig):
    rng = np.random.default_rng(orig)
    x = (0.3 * rng.standard_normal(orig)).astype(np.float32)  # one second
    expected = resample(x, orig, 22050)
    r = StreamResampler(orig, 22050)
    sizes = rng.integers(1, orig // 5, size=40)
    parts, pos = [], 0
    for size in sizes:
        parts.append(r.process(x[pos : pos + size]))
        pos += size
        if pos >= x.size:
            break
    parts.append(r.process(x[pos:]))
    parts.append(r.flush())
    got = np.concatenate(parts)
    assert got.dtype == np.float32 and got.size == resampled_length(x.size, orig, 22050)
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)


def test_stream_resampler_holds_back_only_the_filter_reach():
    r = StreamResampler(48000, 22050)
    out = r.process(np.zeros(48000, np.float32))
    held = resampled_length(48000, 48000, 22050) - out.size
    assert 0 < held <= (r.latency_samples + 2) * 22050 / 48000 + 1
    assert r.latency_samples < 48000 * 0.01  # under 10 ms


def test_stream_resampler_at_equal_rates_passes_through():
    r = StreamResampler(22050, 22050)
    x = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(r.process(x), x)
    assert r.flush().size == 0


# --- backoff ------------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_maximum_and_resets():
    b = Backoff()
    assert [b.next_delay() for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert b.attempts == 9
    b.reset()
    assert b.attempts == 0 and b.next_delay() == 0.5
    c = Backoff(initial=1, factor=3, maximum=10)
    assert [c.next_delay() for _ in range(4)] == [1, 3, 9, 10]


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": 0}, {"initial": -1}, {"factor": 0.5}, {"maximum": 0.1}, {"initial": float("nan")}],
)
def test_backoff_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        Backoff(**kwargs)


# --- replaying a file ---------------------------------------------------------------------------


def write_wav(path: Path, rate: int, seconds: float) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    ints = to_int16(0.4 * np.sin(2 * np.pi * 330 * t) * np.hanning(t.size))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(ints.tobytes())
    return path


class FakeClock:
    """time.monotonic and time.sleep; every sleep overshoots by `oversleep`, as real ones do."""

    def __init__(self, start=100.0, oversleep=0.013):
        self.now = start
        self.oversleep = oversleep
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds + self.oversleep


def test_file_source_fast_mode(tmp_path):
    path = write_wav(tmp_path / "a.wav", 44100, 1.03)
    clock = FakeClock()
    src = FileSource(path, 22050, realtime=False, clock=clock, sleep=clock.sleep)
    blocks = list(src)
    assert clock.sleeps == []
    assert [b.size for b in blocks[:-1]] == [2205] * 10 and blocks[-1].size == 22712 - 22050
    np.testing.assert_array_equal(np.concatenate(blocks), load_audio(path, 22050))
    with pytest.raises(EndOfStream):
        src.read()
    assert not issubclass(EndOfStream, StopIteration)


def test_file_source_real_time_keeps_to_the_wall_clock(tmp_path):
    path = write_wav(tmp_path / "a.wav", 22050, 1.0)
    clock = FakeClock(oversleep=0.013)
    src = FileSource(path, 22050, realtime=True, block_seconds=0.1, clock=clock, sleep=clock.sleep)
    start = clock.now
    returned = []
    while True:
        try:
            block = src.read()
        except EndOfStream:
            break
        returned.append((clock.now, block.size))
    assert len(returned) == 10
    for k, (at, size) in enumerate(returned):
        due = start + (k + 1) * 0.1  # when its last sample would have been recorded
        assert size == 2205
        assert due <= at <= due + 0.013 + 1e-9  # one oversleep late at most: no drift
    # Each sleep makes up for the previous oversleep.
    assert clock.sleeps[0] == pytest.approx(0.1)
    assert all(s == pytest.approx(0.1 - 0.013) for s in clock.sleeps[1:])


def test_file_source_real_time_catches_up_and_times_out(tmp_path):
    path = write_wav(tmp_path / "a.wav", 22050, 1.0)
    clock = FakeClock(oversleep=0.0)
    src = FileSource(path, 22050, block_seconds=0.1, clock=clock, sleep=clock.sleep)
    src.read()  # starts the clock; block 0 is due at +0.1
    assert clock.now == pytest.approx(100.1)
    clock.now += 0.25  # the caller was busy: blocks 1 and 2 (due at +0.2, +0.3) are overdue
    src.read()
    src.read()
    assert clock.sleeps == [pytest.approx(0.1)]
    assert src.read(timeout=0) is None  # block 3 is due at +0.4, 0.05 s from now: no sleep
    assert clock.sleeps == [pytest.approx(0.1)]
    assert src.read(timeout=0.02) is None
    assert clock.sleeps[-1] == pytest.approx(0.02)
    assert src.read(timeout=1).size == 2205
    assert clock.now == pytest.approx(100.4)


def test_file_source_errors(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        FileSource(tmp_path / "missing.wav", 22050)
    path = write_wav(tmp_path / "a.wav", 22050, 0.2)
    with FileSource(path, 22050, realtime=False) as src:
        assert src.read().size == 2205
    with pytest.raises(ValueError, match="closed"):
        src.read()
    with pytest.raises(ValueError):
        FileSource(path, 22050, block_seconds=0)


def test_sources_share_the_interface():
    for name in ("read", "close", "__enter__", "__exit__", "__iter__"):
        assert callable(getattr(MicrophoneSource, name)) and callable(getattr(FileSource, name))
    assert issubclass(MicrophoneError, RuntimeError)
