"""Run MicrophoneSource against the ALSA test device, in a process of its own.

PortAudio reads the ALSA configuration once, when sounddevice is imported, so every capture test
starts this script with ALSA_CONFIG_PATH naming the test's configuration (file_capture.conf.in,
filled in). Usage: python capture_probe.py SPEC.json; the spec is a JSON object:

    scenario     "record"  the raw samples are all put into the infile FIFO first, then read
                           until the device goes quiet (it must raise MicrophoneError);
                 "unplug"  the samples are fed in at real speed; after `unplug_after` blocks
                           the reader of the `file` FIFO goes away, so ALSA's next write fails
                           with EPIPE -> EIO, as an unplugged USB device fails with ENODEV;
                 "open"    only open the source (for devices that do not exist).
    infile       the FIFO the test device reads its samples from
    outfile      where the device writes what it captured: /dev/null, or a FIFO ("unplug")
    raw          file of S16_LE samples to feed in (interleaved if several channels)
    frame_bytes  bytes per frame of `raw`
    source       keyword arguments of MicrophoneSource
    refuse_rates rates that sounddevice.check_input_settings is made to refuse (the ALSA
                 plugins take every rate, a hw: device does not)
    out          where to save the samples read (.npy)

Prints one JSON line: what happened and when.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
import time

import numpy as np


def open_fifo(path: str, size: int = 0) -> int:
    """Open a FIFO read-write: never blocks, and ALSA's reader never sees an end of file."""
    fd = os.open(path, os.O_RDWR)
    if size:
        limit = int(open("/proc/sys/fs/pipe-max-size").read())
        if size > limit:
            raise SystemExit(f"{size} bytes do not fit in a pipe here (pipe-max-size {limit})")
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, max(size, 4096))
    return fd


def main(spec_path: str) -> None:
    spec = json.loads(open(spec_path).read())
    scenario = spec["scenario"]
    result: dict = {"scenario": scenario}
    raw = open(spec["raw"], "rb").read() if spec.get("raw") else b""
    if scenario == "record":
        # All of it before PortAudio starts: the null slave never waits, so the device reads as
        # fast as data comes, and a read shorter than asked for would leave stale bytes.
        feed = open_fifo(spec["infile"], len(raw))
        os.write(feed, raw)
    else:  # even just to open the device: opening a FIFO with no writer blocks ALSA
        feed = open_fifo(spec["infile"])
    drain = None
    if scenario == "unplug":
        drain = os.open(spec["outfile"], os.O_RDONLY | os.O_NONBLOCK)

    # Only now: importing sounddevice starts PortAudio, which opens every ALSA device it lists.
    import sounddevice

    refused = set(spec.get("refuse_rates", []))
    if refused:
        real_check = sounddevice.check_input_settings

        def check_input_settings(*args, samplerate=None, **kwargs):
            if samplerate in refused:
                raise sounddevice.PortAudioError(f"Invalid sample rate {samplerate} (refused)")
            return real_check(*args, samplerate=samplerate, **kwargs)

        sounddevice.check_input_settings = check_input_settings

    from tonecue.edge.capture import MicrophoneError, MicrophoneSource

    t0 = time.monotonic()
    try:
        source = MicrophoneSource(**spec["source"])
    except MicrophoneError as err:
        result.update(opened=False, error=str(err), error_after=time.monotonic() - t0)
        print(json.dumps(result))
        return
    result.update(
        opened=True,
        device_name=source.device_name,
        device_rate=source.device_rate,
        channels=source.channels,
        blocksize=source.blocksize,
    )
    if scenario == "open":
        os.close(feed)  # first, or PortAudio's thread stays blocked in ALSA's read() (see below)
        t_close = time.monotonic()
        source.close()
        result["close_seconds"] = time.monotonic() - t_close
        print(json.dumps(result))
        return

    stop = threading.Event()
    unplugged = threading.Event()
    if scenario == "unplug":
        block_bytes = source.blocksize * spec["frame_bytes"]

        def feeder():  # at real speed, a block at a time, like a microphone
            start = time.monotonic()
            for k, pos in enumerate(range(0, len(raw), block_bytes)):
                if stop.is_set():
                    return
                os.write(feed, raw[pos : pos + block_bytes])
                time.sleep(max(0.0, start + (k + 1) * source.block_seconds - time.monotonic()))

        def drainer():  # ALSA writes what it captured here; keep the FIFO empty until unplugged
            while not unplugged.is_set():
                try:
                    os.read(drain, 1 << 16)
                except BlockingIOError:
                    time.sleep(0.005)
            os.close(drain)

        threading.Thread(target=feeder, daemon=True).start()
        threading.Thread(target=drainer, daemon=True).start()

    blocks, times = [], []
    unplugged_at = None
    try:
        while True:
            block = source.read(timeout=10.0)
            if block is None:
                result["timeout"] = True
                break
            blocks.append(block)
            times.append(time.monotonic())
            if scenario == "unplug" and len(blocks) == spec["unplug_after"]:
                unplugged.set()
                unplugged_at = time.monotonic()
    except MicrophoneError as err:
        now = time.monotonic()
        result.update(error=str(err), error_after_last_block=now - (times[-1] if times else t0))
        if unplugged_at is not None:
            result["error_after_unplug"] = now - unplugged_at
        try:
            source.read(timeout=0.1)
        except MicrophoneError as again:
            result["error_again"] = str(again)
    finally:
        stop.set()
        # Let ALSA's blocked read() return (it sees end of file), so PortAudio's thread can stop.
        # Otherwise close() gives up after close_timeout and leaves the stream to PortAudio's
        # exit handler, which then waits for that thread for ever.
        os.close(feed)
        t_close = time.monotonic()
        source.close()
        result["close_seconds"] = time.monotonic() - t_close
    result.update(
        n_blocks=len(blocks),
        block_lengths=sorted({len(b) for b in blocks}),
        overflows=source.overflows,
        dropped_blocks=source.dropped_blocks,
    )
    if spec.get("out"):
        np.save(spec["out"], np.concatenate(blocks) if blocks else np.zeros(0, np.float32))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
