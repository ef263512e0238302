"""Audio input for the device side: read a file, check a signal, make it mono at the model's rate.

`read_audio` reads RIFF/WAVE itself, with the standard library and numpy (Python's `wave` module
reads neither float WAV nor WAVE_FORMAT_EXTENSIBLE): integer PCM of 8 (unsigned), 16, 24 and 32
bits, IEEE float of 32 and 64 bits, and WAVE_FORMAT_EXTENSIBLE holding any of these. Integers are
scaled to [-1, 1) by 2**(bits - 1), as soundfile and librosa do, so the samples are bit-identical
to `soundfile.read(path, dtype="float32")`. Every other format (FLAC, OGG, AIFF, AIFF-C, RF64, ...
and WAVE codecs such as mu-law or ADPCM) goes to the optional `soundfile` package, imported only
then. The format is decided by the file's first bytes, never by its name: TESS ships an AIFF-C
file called `.wav`.

A data chunk shorter than its header declares (a recording cut off before its header was
finished, or a copy that stopped short, common in the wild) is read as far as whole frames go,
with one warning in the log naming the file and how much of the audio is missing; only a file
with no complete frame at all is an error. A declared size of 0xFFFFFFFF is the convention of a
writer that streams and never learns the length: read to the end, without a warning. Everything wrong with an input raises `AudioError`, which names the
file and the reason.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import numpy as np

from tonecue.edge.resample import resample
from .errors import TonecueError

__all__ = ["AudioError", "read_audio", "to_mono", "load_audio", "conform", "check_signal"]

log = logging.getLogger(__name__)

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_SIZE_UNKNOWN = 0xFFFFFFFF  # the data size a streaming writer leaves in the header
_KSDATAFORMAT_SUFFIX = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_FORMAT_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0055: "MPEG layer 3",
}


class AudioError(TonecueError, ValueError):
    """Bad or unreadable audio. `source` is the path (or e.g. "<array>"), `reason` says why."""

    def __init__(self, source, reason: str):
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


# --- checks -------------------------------------------------------------------------------------


def check_signal(samples, source="<array>") -> np.ndarray:
    """Return `samples` as an array if it is a usable signal, else raise AudioError.

    A usable signal is 1-D (n_samples,) or 2-D (n_samples, n_channels), real and numeric,
    with at least one sample and no NaN or infinite value.
    """
    x = np.asarray(samples)
    if x.dtype.kind not in "iuf":
        raise AudioError(source, f"samples must be real numbers, not dtype {x.dtype}")
    if x.ndim not in (1, 2):
        raise AudioError(
            source, f"expected 1-D (samples,) or 2-D (samples, channels) audio, got shape {x.shape}"
        )
    if x.ndim == 2 and x.shape[1] == 0:
        raise AudioError(source, "zero channels")
    if x.size == 0:
        raise AudioError(source, "zero-length signal (no samples)")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = np.flatnonzero(~np.isfinite(x.reshape(x.shape[0], -1)).all(axis=1))
        raise AudioError(
            source,
            f"signal contains NaN or infinite samples ({bad.size} of {x.shape[0]} frames, "
            f"first at frame {bad[0]})",
        )
    return x


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of (n_samples, n_channels) audio, as librosa.to_mono; 1-D passes."""
    x = np.asarray(samples)
    if x.ndim == 1:
        return x
    if x.ndim != 2:
        raise ValueError(f"expected (samples,) or (samples, channels), got shape {x.shape}")
    return np.mean(x, axis=1, dtype=x.dtype if x.dtype.kind == "f" else np.float32)


# --- reading ------------------------------------------------------------------------------------


def read_audio(path) -> tuple[np.ndarray, int]:
    """Read an audio file: (float32 samples shaped (n_samples, n_channels), sample rate in Hz)."""
    source = os.fspath(path)
    file = Path(source)
    if not file.exists():
        raise AudioError(source, "no such file")
    if not file.is_file():
        raise AudioError(source, "not a regular file")
    try:
        with open(file, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise AudioError(source, "empty file (0 bytes)")
            head = f.read(12)
            if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
                result = _read_wave(f, size, source)
            elif head[:4] == b"RIFF" and len(head) < 12:
                raise AudioError(source, f"truncated header: RIFF file of only {size} bytes")
            elif head[:4] == b"RIFF":
                raise AudioError(source, f"RIFF file of type {head[8:12]!r}, not WAVE audio")
            else:
                result = None
    except OSError as err:
        raise AudioError(source, f"cannot read: {err.strerror or err}") from err
    if result is None:
        result = _read_with_soundfile(source, _describe_magic(head), head)
    samples, rate = result
    check_signal(samples, source)
    return samples, rate


def _describe_magic(head: bytes) -> str | None:
    """The name of a format soundfile reads, from the file's first bytes, or None."""
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"OggS":
        return "Ogg"
    if head[:4] == b"FORM" and head[8:12] == b"AIFF":
        return "AIFF"
    if head[:4] == b"FORM" and head[8:12] == b"AIFC":
        return "AIFF-C"
    if head[:4] in (b"RF64", b"BW64"):
        return "RF64 WAVE"
    if head[:4] == b"RIFX":
        return "big-endian RIFX WAVE"
    if head[:4] == b"caff":
        return "Core Audio (CAF)"
    if head[:4] == b".snd":
        return "Sun/NeXT AU"
    if head[:4] == b"riff":
        return "Sony Wave64"
    return None


def _import_soundfile():
    try:
        import soundfile
    except (ImportError, OSError):  # OSError: the package is there but libsndfile is not
        return None
    return soundfile


def _read_with_soundfile(source: str, kind: str | None, head: bytes, why: str | None = None):
    soundfile = _import_soundfile()
    if soundfile is None:
        if why is not None:
            raise AudioError(source, why)
        if kind is not None:
            raise AudioError(
                source,
                f"reading {kind} audio needs the optional 'soundfile' package, which is not "
                "installed (pip install soundfile); tonecue reads only RIFF/WAVE by itself",
            )
        raise AudioError(source, f"not a recognised audio file (it starts with {head[:8]!r})")
    try:
        samples, rate = soundfile.read(source, dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        if why is not None:
            raise AudioError(source, why) from err
        if kind is None:
            raise AudioError(
                source, f"not a recognised audio file (it starts with {head[:8]!r})"
            ) from err
        raise AudioError(source, f"cannot decode this {kind} file: {err}") from err
    if rate <= 0:
        raise AudioError(source, f"invalid sample rate {rate}")
    return np.ascontiguousarray(samples, dtype=np.float32), int(rate)


def _read_wave(f, size: int, source: str) -> tuple[np.ndarray, int]:
    """Parse a RIFF/WAVE file whose first 12 bytes have been read."""
    fmt = None
    data = None  # (offset, declared size)
    pos = 12
    while pos + 8 <= size:
        f.seek(pos)
        chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
        body = pos + 8
        if chunk_id == b"fmt ":
            if body + min(chunk_size, 16) > size or chunk_size < 16:
                raise AudioError(
                    source,
                    f"truncated header: 'fmt ' chunk of {min(chunk_size, size - body)} bytes",
                )
            fmt = f.read(min(chunk_size, 40))
        elif chunk_id == b"data":
            data = (body, chunk_size)
            if fmt is not None and body + chunk_size >= size:
                break  # nothing can follow a data chunk that runs to (or past) the end
        pos = body + chunk_size + (chunk_size & 1)
    if fmt is None:
        raise AudioError(source, "truncated header: no 'fmt ' chunk found")
    if data is None:
        raise AudioError(source, "no 'data' chunk found (truncated header or not audio)")

    code, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    code_name = f"0x{code:04X}"
    if code == WAVE_FORMAT_EXTENSIBLE:
        if len(fmt) < 40:
            raise AudioError(
                source, "truncated header: WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk under 40 bytes"
            )
        _cb_size, _valid_bits, _mask = struct.unpack("<HHI", fmt[16:24])
        guid = fmt[24:40]
        code = struct.unpack("<H", guid[:2])[0]
        code_name = f"0x{code:04X} (in WAVE_FORMAT_EXTENSIBLE)"
        if guid[2:] != _KSDATAFORMAT_SUFFIX:
            code = -1
            code_name = f"sub-format GUID {guid.hex()} (in WAVE_FORMAT_EXTENSIBLE)"
    if channels == 0:
        raise AudioError(source, "zero channels in the 'fmt ' chunk")
    if rate == 0:
        raise AudioError(source, "zero sample rate in the 'fmt ' chunk")

    if code == WAVE_FORMAT_PCM:
        width = (bits + 7) // 8
        if not 1 <= width <= 4 or bits == 0:
            raise AudioError(source, f"unsupported bit depth: {bits}-bit integer PCM")
    elif code == WAVE_FORMAT_IEEE_FLOAT:
        width = bits // 8
        if bits not in (32, 64):
            raise AudioError(source, f"unsupported bit depth: {bits}-bit float")
    else:
        name = _FORMAT_NAMES.get(code, "unknown")
        why = f"unsupported WAVE format code {code_name}, {name}: only PCM and IEEE float are read"
        # libsndfile decodes several WAVE codecs (mu-law, A-law, ADPCM, GSM); let it try.
        return _read_with_soundfile(source, f"WAVE {name}", b"", why=why)
    if block_align != channels * width:
        raise AudioError(
            source,
            f"block align {block_align} does not match {channels} channel(s) of {bits}-bit samples",
        )

    offset, declared = data
    present = max(0, min(declared, size - offset))
    frames = present // block_align
    if frames == 0:
        if declared == 0:
            raise AudioError(source, "zero-length signal (the data chunk is empty)")
        raise AudioError(
            source,
            f"data chunk truncated: {declared} bytes declared, {present} present, "
            "no complete frame",
        )
    if present < declared and declared != _SIZE_UNKNOWN:
        byte_rate = rate * block_align
        log.warning(
            "%s: truncated: its header declares %.2f s of audio (%d bytes) but the file holds %.2f s "
            "(%d bytes): %.2f s (%.0f%%) is missing; reading the %.2f s that are there",
            source, declared / byte_rate, declared, present / byte_rate, present,
            (declared - present) / byte_rate, 100 * (declared - present) / declared, frames * block_align / byte_rate,
        )
    f.seek(offset)
    raw = f.read(frames * block_align)
    if len(raw) < frames * block_align:  # the file shrank while we read it
        raise AudioError(source, "data chunk truncated while reading")
    samples = _decode(raw, code, width, frames * channels).reshape(frames, channels)
    return samples, int(rate)


def _decode(raw: bytes, code: int, width: int, count: int) -> np.ndarray:
    """Little-endian samples to float32, scaled like libsndfile."""
    if code == WAVE_FORMAT_IEEE_FLOAT:
        return np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8", count=count).astype(
            np.float32
        )
    if width == 1:
        ints = np.frombuffer(raw, dtype=np.uint8, count=count).astype(np.int16) - 128
    elif width == 2:
        ints = np.frombuffer(raw, dtype="<i2", count=count)
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8, count=3 * count).reshape(count, 3)
        wide = np.zeros((count, 4), dtype=np.uint8)
        wide[:, 1:] = b  # the 24 bits in the top of a little-endian int32 ...
        ints = wide.view("<i4").reshape(count) >> 8  # ... shifted back down with its sign
    else:
        ints = np.frombuffer(raw, dtype="<i4", count=count)
    scale = np.float32(2.0 ** -(8 * width - 1))
    return ints.astype(np.float32) * scale


# --- loading for the models ---------------------------------------------------------------------


def load_audio(path, sample_rate: int | None = 22050, *, dtype=np.float32) -> np.ndarray:
    """Read `path`, average its channels, resample to `sample_rate` (None keeps the file's rate).

    Returns a 1-D array of `dtype`; librosa.load(path, sr=sample_rate) is the reference.
    """
    samples, rate = read_audio(path)
    return conform(samples, rate, sample_rate, os.fspath(path), dtype=dtype)


def conform(samples, rate: int, sample_rate: int | None, source: str = "<array>", *, dtype=np.float32) -> np.ndarray:
    """Samples at `rate` as `load_audio` returns a file's: channels averaged, resampled to
    `sample_rate` (None keeps `rate`), checked (AudioError naming `source`), 1-D `dtype`."""
    work = np.float64 if np.dtype(dtype) == np.float64 else np.float32
    mono = to_mono(samples).astype(work, copy=False)
    if sample_rate is not None and int(sample_rate) != rate:
        mono = resample(mono, rate, sample_rate)
    check_signal(mono, source)
    return mono.astype(dtype, copy=False)
