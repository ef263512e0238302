"""tonecue.edge.audio: the WAV reader against soundfile, every bad input, the raw samples."""

from __future__ import annotations

import logging
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tonecue.edge.audio import AudioError, check_signal, load_audio, read_audio, to_mono

# --- a small RIFF/WAVE writer -------------------------------------------------------------------

_GUID_SUFFIX = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
# sample kind -> (format code, bits per sample, numpy dtype of the stored value)
KINDS = {
    "u8": (1, 8, np.uint8),
    "i16": (1, 16, np.dtype("<i2")),
    "i24": (1, 24, None),
    "i32": (1, 32, np.dtype("<i4")),
    "f32": (3, 32, np.dtype("<f4")),
    "f64": (3, 64, np.dtype("<f8")),
}


def chunk(chunk_id: bytes, body: bytes, declared: int | None = None) -> bytes:
    """One RIFF chunk, with the pad byte after an odd-sized body."""
    size = len(body) if declared is None else declared
    return struct.pack("<4sI", chunk_id, size) + body + (b"\x00" if len(body) % 2 else b"")


def fmt_body(
    kind: str, channels: int, rate: int, *, extensible=False, code=None, bits=None
) -> bytes:
    fmt_code, fmt_bits, _ = KINDS[kind]
    code = fmt_code if code is None else code
    bits = fmt_bits if bits is None else bits
    block_align = channels * ((bits + 7) // 8)
    if not extensible:
        return struct.pack("<HHIIHH", code, channels, rate, rate * block_align, block_align, bits)
    head = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block_align, block_align, bits)
    return (
        head
        + struct.pack("<HHI", 22, bits, (1 << channels) - 1)
        + struct.pack("<H", code)
        + _GUID_SUFFIX
    )


def encode(kind: str, values: np.ndarray) -> bytes:
    """Stored integers (or floats) of shape (frames, channels) as little-endian bytes."""
    if kind == "i24":
        v = np.asarray(values, dtype="<i4").reshape(-1)
        return (
            np.stack([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF], axis=1)
            .astype(np.uint8)
            .tobytes()
        )
    return np.asarray(values, dtype=KINDS[kind][2]).tobytes()


def random_values(kind: str, frames: int, channels: int, seed=0) -> np.ndarray:
    """Values covering the whole range of the kind, extremes included."""
    rng = np.random.default_rng(seed)
    if kind == "u8":
        v = rng.integers(0, 256, size=(frames, channels))
        v[:2] = [[0], [255]]
    elif kind.startswith("i"):
        bits = KINDS[kind][1]
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        v = rng.integers(lo, hi, size=(frames, channels), endpoint=True, dtype=np.int64)
        v[:2] = [[lo], [hi]]
    else:
        v = rng.uniform(-1.2, 1.2, size=(frames, channels))
        v[:2] = [[-1.0], [1.0]]
    return v


def expected_float(kind: str, values: np.ndarray) -> np.ndarray:
    if kind == "u8":
        return (values.astype(np.float32) - 128) / np.float32(128)
    if kind.startswith("i"):
        return values.astype(np.float32) * np.float32(2.0 ** -(KINDS[kind][1] - 1))
    return np.asarray(values, dtype=KINDS[kind][2]).astype(np.float32)


def make_wav(
    path: Path,
    kind="i16",
    channels=1,
    rate=16000,
    frames=1000,
    *,
    extensible=False,
    values=None,
    before_data=(),
    after_data=(),
    fmt=None,
    data=None,
    data_declared=None,
) -> Path:
    """Write a WAV; returns path. `fmt`/`data` replace the generated chunk bodies."""
    if values is None:
        values = random_values(kind, frames, channels)
    fmt = fmt_body(kind, channels, rate, extensible=extensible) if fmt is None else fmt
    data = encode(kind, values) if data is None else data
    body = b"WAVE" + chunk(b"fmt ", fmt)
    for cid, cbody in before_data:
        body += chunk(cid, cbody)
    body += chunk(b"data", data, data_declared)
    for cid, cbody in after_data:
        body += chunk(cid, cbody)
    path.write_bytes(struct.pack("<4sI", b"RIFF", len(body)) + body)
    return path


def raw_wav(path: Path, chunks: bytes) -> Path:
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return path


# --- reading every format -----------------------------------------------------------------------


@pytest.mark.parametrize("extensible", [False, True], ids=["plain", "extensible"])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("kind", list(KINDS))
def test_reads_every_format(tmp_path, kind, channels, extensible):
    values = random_values(kind, 1001, channels, seed=channels)
    path = make_wav(
        tmp_path / f"{kind}.wav", kind, channels, 44100, values=values, extensible=extensible
    )
    samples, rate = read_audio(path)
    assert rate == 44100
    assert samples.dtype == np.float32 and samples.shape == (1001, channels)
    np.testing.assert_array_equal(samples, expected_float(kind, values))


@pytest.mark.parametrize("extensible", [False, True], ids=["plain", "extensible"])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("kind", list(KINDS))
def test_bit_exact_with_soundfile(tmp_path, kind, channels, extensible):
    soundfile = pytest.importorskip("soundfile")
    path = make_wav(
        tmp_path / f"{kind}.wav",
        kind,
        channels,
        22050,
        frames=777,
        extensible=extensible,
        values=random_values(kind, 777, channels, seed=7),
    )
    ours, rate = read_audio(path)
    theirs, their_rate = soundfile.read(path, dtype="float32", always_2d=True)
    assert rate == their_rate
    np.testing.assert_array_equal(ours, theirs)


def test_skips_unknown_and_odd_sized_chunks(tmp_path):
    values = random_values("u8", 5, 1)  # 5 bytes of data: an odd chunk with a pad byte
    path = make_wav(
        tmp_path / "chunks.wav",
        "u8",
        1,
        8000,
        values=values,
        before_data=[(b"junk", b"abc"), (b"LIST", b"INFOxxxxx")],
        after_data=[(b"odd ", b"z")],
    )
    samples, rate = read_audio(path)
    assert rate == 8000
    np.testing.assert_array_equal(samples, expected_float("u8", values))


def test_data_chunk_before_fmt_chunk(tmp_path):
    values = random_values("i16", 10, 1)
    path = raw_wav(
        tmp_path / "order.wav",
        chunk(b"data", encode("i16", values)) + chunk(b"fmt ", fmt_body("i16", 1, 8000)),
    )
    samples, _ = read_audio(path)
    np.testing.assert_array_equal(samples, expected_float("i16", values))


def test_format_decided_by_magic_not_name(tmp_path):
    values = random_values("i16", 100, 1)
    path = make_wav(tmp_path / "really_a_wav.flac", "i16", 1, 8000, values=values)
    samples, rate = read_audio(path)
    np.testing.assert_array_equal(samples, expected_float("i16", values))


def test_flac_named_wav_goes_through_soundfile(tmp_path):
    soundfile = pytest.importorskip("soundfile")
    x = (random_values("i16", 500, 2) / 32768.0).astype(np.float32)
    path = tmp_path / "flac_inside.wav"
    soundfile.write(path, x, 16000, format="FLAC", subtype="PCM_16")
    samples, rate = read_audio(path)
    assert rate == 16000
    np.testing.assert_array_equal(samples, x)


def test_other_wave_codecs_go_to_soundfile(tmp_path):
    soundfile = pytest.importorskip("soundfile")
    x = np.sin(np.linspace(0, 20, 800)).astype(np.float32)[:, None] * 0.5
    path = tmp_path / "ulaw.wav"
    soundfile.write(path, x, 8000, format="WAV", subtype="ULAW")
    samples, rate = read_audio(path)
    assert rate == 8000
    np.testing.assert_array_equal(samples, soundfile.read(path, dtype="float32", always_2d=True)[0])


def test_truncated_data_chunk_keeps_whole_frames(tmp_path):
    """A recording cut off before its header was finished: read what is there, like soundfile."""
    values = random_values("i16", 100, 2)
    data = encode("i16", values)[: 4 * 60 + 3]  # 60 whole stereo frames and a partial one
    path = raw_wav(
        tmp_path / "cut.wav",
        chunk(b"fmt ", fmt_body("i16", 2, 8000)) + struct.pack("<4sI", b"data", 400) + data,
    )
    samples, _ = read_audio(path)
    np.testing.assert_array_equal(samples, expected_float("i16", values[:60]))


def test_a_wav_missing_half_its_data_is_read_with_one_warning(tmp_path, caplog):
    values = random_values("i16", 16000, 1)  # 2 s at 8 kHz declared, 1 s present
    path = raw_wav(
        tmp_path / "half.wav",
        chunk(b"fmt ", fmt_body("i16", 1, 8000)) + struct.pack("<4sI", b"data", 32000) + encode("i16", values[:8000]),
    )
    with caplog.at_level(logging.WARNING, logger="tonecue.edge.audio"):
        samples, rate = read_audio(path)
    np.testing.assert_array_equal(samples, expected_float("i16", values[:8000]))
    (record,) = caplog.records
    assert record.getMessage() == (
        f"{path}: truncated: its header declares 2.00 s of audio (32000 bytes) but the file holds 1.00 s "
        "(16000 bytes): 1.00 s (50%) is missing; reading the 1.00 s that are there"
    )
    # A whole file, or a streaming writer's unknown size, says nothing.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tonecue.edge.audio"):
        read_audio(make_wav(tmp_path / "whole.wav", "i16", 1, 8000, values=values))
        read_audio(
            raw_wav(
                tmp_path / "stream.wav",
                chunk(b"fmt ", fmt_body("i16", 1, 8000)) + struct.pack("<4sI", b"data", 0xFFFFFFFF) + encode("i16", values),
            )
        )
    assert caplog.records == []


def test_streaming_size_placeholder_reads_to_end(tmp_path):
    values = random_values("f32", 50, 1)
    path = raw_wav(
        tmp_path / "stream.wav",
        chunk(b"fmt ", fmt_body("f32", 1, 8000))
        + struct.pack("<4sI", b"data", 0xFFFFFFFF)
        + encode("f32", values),
    )
    samples, _ = read_audio(path)
    np.testing.assert_array_equal(samples, expected_float("f32", values))


# --- bad inputs: each raises AudioError naming the file and the reason ---------------------------


def assert_audio_error(path, *fragments):
    with pytest.raises(AudioError) as info:
        read_audio(path)
    message = str(info.value)
    assert str(path) in message
    assert info.value.source == str(path)
    for fragment in fragments:
        assert fragment in info.value.reason, message
    return info.value


def test_audio_error_is_a_value_error():
    err = AudioError("x.wav", "empty file (0 bytes)")
    assert isinstance(err, ValueError)
    assert str(err) == "x.wav: empty file (0 bytes)"
    assert (err.source, err.reason) == ("x.wav", "empty file (0 bytes)")


def test_missing_file(tmp_path):
    assert_audio_error(tmp_path / "nope.wav", "no such file")


def test_directory(tmp_path):
    assert_audio_error(tmp_path, "not a regular file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert_audio_error(path, "empty file (0 bytes)")


def test_truncated_riff_header(tmp_path):
    path = tmp_path / "short.wav"
    path.write_bytes(b"RIFF\x10\x00")
    assert_audio_error(path, "truncated header")


def test_no_fmt_chunk(tmp_path):
    assert_audio_error(raw_wav(tmp_path / "bare.wav", b""), "truncated header", "no 'fmt ' chunk")


def test_truncated_fmt_chunk(tmp_path):
    path = tmp_path / "cutfmt.wav"
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00")
    assert_audio_error(path, "truncated header", "'fmt '")


def test_no_data_chunk(tmp_path):
    path = raw_wav(tmp_path / "nodata.wav", chunk(b"fmt ", fmt_body("i16", 1, 8000)))
    assert_audio_error(path, "no 'data' chunk")


def test_data_chunk_without_a_whole_frame(tmp_path):
    path = raw_wav(
        tmp_path / "cut.wav",
        chunk(b"fmt ", fmt_body("i24", 2, 8000))
        + struct.pack("<4sI", b"data", 6000)
        + b"\x01\x02\x03",
    )
    assert_audio_error(path, "data chunk truncated", "6000 bytes declared")


@pytest.mark.parametrize("soundfile_present", [True, False], ids=["soundfile", "no-soundfile"])
def test_unsupported_format_code(tmp_path, monkeypatch, soundfile_present):
    if soundfile_present:
        pytest.importorskip("soundfile")
    else:
        monkeypatch.setitem(sys.modules, "soundfile", None)
    path = make_wav(tmp_path / "codec.wav", "i16", fmt=fmt_body("i16", 1, 8000, code=0x1234))
    assert_audio_error(path, "unsupported WAVE format code 0x1234")


def test_unsupported_extensible_subformat(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "soundfile", None)
    path = make_wav(
        tmp_path / "ext.wav", "i16", fmt=fmt_body("i16", 1, 8000, extensible=True, code=0x0055)
    )
    assert_audio_error(path, "unsupported WAVE format code 0x0055", "EXTENSIBLE")


@pytest.mark.parametrize(
    "kind,bits,what", [("i16", 40, "40-bit integer"), ("f32", 16, "16-bit float")]
)
def test_unsupported_bit_depth(tmp_path, kind, bits, what):
    path = make_wav(
        tmp_path / "bits.wav", kind, data=b"\x00" * 80, fmt=fmt_body(kind, 1, 8000, bits=bits)
    )
    assert_audio_error(path, "unsupported bit depth", what)


def test_block_align_mismatch(tmp_path):
    fmt = struct.pack("<HHIIHH", 1, 2, 8000, 32000, 3, 16)
    assert_audio_error(make_wav(tmp_path / "align.wav", "i16", 2, fmt=fmt), "block align 3")


@pytest.mark.parametrize("soundfile_present", [True, False], ids=["soundfile", "no-soundfile"])
@pytest.mark.parametrize(
    "content", [b"hello, this is a text file\n" * 20, "random"], ids=["text", "random"]
)
def test_not_audio(tmp_path, monkeypatch, content, soundfile_present):
    if soundfile_present:
        pytest.importorskip("soundfile")
    else:
        monkeypatch.setitem(sys.modules, "soundfile", None)
    if content == "random":
        content = np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    path = tmp_path / "notes.wav"
    path.write_bytes(content)
    assert_audio_error(path, "not a recognised audio file")


def test_riff_but_not_wave(tmp_path):
    path = tmp_path / "movie.wav"
    path.write_bytes(b"RIFF\x04\x01\x00\x00AVI LIST" + b"\x00" * 256)
    assert_audio_error(path, "not WAVE audio")


def test_zero_channels(tmp_path):
    fmt = struct.pack("<HHIIHH", 1, 0, 8000, 0, 0, 16)
    assert_audio_error(make_wav(tmp_path / "nochan.wav", "i16", fmt=fmt), "zero channels")


def test_zero_sample_rate(tmp_path):
    assert_audio_error(make_wav(tmp_path / "norate.wav", "i16", rate=0), "zero sample rate")


def test_zero_length_signal(tmp_path):
    assert_audio_error(make_wav(tmp_path / "silent.wav", "i16", data=b""), "zero-length signal")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("kind", ["f32", "f64"])
def test_non_finite_float_wav(tmp_path, kind, bad):
    values = random_values(kind, 100, 2)
    values[42, 1] = bad
    err = assert_audio_error(
        make_wav(tmp_path / "bad.wav", kind, 2, values=values), "NaN or infinite"
    )
    assert "frame 42" in err.reason


def test_flac_without_soundfile(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "soundfile", None)
    path = tmp_path / "clip.flac"
    path.write_bytes(b"fLaC" + b"\x00" * 100)
    assert_audio_error(path, "FLAC", "soundfile", "not installed")


def test_aiff_without_soundfile(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "soundfile", None)
    path = tmp_path / "clip.wav"
    path.write_bytes(b"FORM\x00\x00\x01\x00AIFC" + b"\x00" * 100)
    assert_audio_error(path, "AIFF-C", "soundfile")


def test_corrupt_flac_with_soundfile(tmp_path):
    pytest.importorskip("soundfile")
    path = tmp_path / "clip.flac"
    path.write_bytes(b"fLaC" + b"\x00" * 100)
    assert_audio_error(path, "cannot decode this FLAC file")


# --- in-memory signals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signal,reason",
    [
        (np.zeros(0, np.float32), "zero-length"),
        (np.zeros((0, 2), np.float32), "zero-length"),
        (np.zeros((5, 0), np.float32), "zero channels"),
        (np.zeros((2, 2, 2), np.float32), "shape (2, 2, 2)"),
        (np.float32(1.0), "shape ()"),
        (np.array([0.0, np.nan]), "NaN or infinite"),
        (np.array([0.0, np.inf], np.float32), "NaN or infinite"),
        (np.array([1 + 1j]), "real numbers"),
        (np.array(["a"]), "real numbers"),
    ],
)
def test_check_signal_rejects(signal, reason):
    with pytest.raises(AudioError) as info:
        check_signal(signal, source="<microphone>")
    assert str(info.value).startswith("<microphone>: ")
    assert reason in info.value.reason


def test_check_signal_passes_good_signals():
    x = np.zeros((10, 2), np.float32)
    assert check_signal(x) is x
    assert check_signal([0, 1, 2]).shape == (3,)
    with pytest.raises(AudioError, match="^<array>: "):
        check_signal([])


def test_to_mono():
    x = np.array([[1.0, 3.0], [0.5, -0.5]], dtype=np.float32)
    mono = to_mono(x)
    assert mono.dtype == np.float32
    np.testing.assert_array_equal(mono, [2.0, 0.0])
    one_d = np.arange(4, dtype=np.float32)
    assert to_mono(one_d) is one_d


def test_to_mono_matches_librosa(librosa):
    x = np.random.default_rng(0).standard_normal((1000, 2)).astype(np.float32)
    np.testing.assert_array_equal(to_mono(x), librosa.to_mono(x.T))


# --- load_audio ---------------------------------------------------------------------------------


def test_load_audio_mono_resampled(tmp_path):
    path = make_wav(tmp_path / "s.wav", "i16", 2, 44100, frames=44100)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1 and y.shape == (22050,)
    native = load_audio(path, sample_rate=None)
    samples, _ = read_audio(path)
    np.testing.assert_array_equal(native, samples.mean(axis=1))
    assert load_audio(path, 16000, dtype=np.float64).dtype == np.float64


def test_load_audio_names_the_file(tmp_path):
    values = random_values("f32", 100, 1)
    values[3] = np.nan
    path = make_wav(tmp_path / "bad.wav", "f32", values=values)
    with pytest.raises(AudioError, match="bad.wav: .*NaN"):
        load_audio(path)


def test_edge_imports_stay_light():
    """The device side must not pull in the training stack (nor soundfile until it is needed)."""
    code = (
        "import sys, tonecue.edge.audio, tonecue.edge.resample\n"
        "heavy = {'torch', 'librosa', 'scipy', 'sklearn', 'numba', 'featurewiz', 'soundfile'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the real raw samples -----------------------------------------------------------------------

RAW_FILES = {
    "ravdess/Actor_01/03-01-05-01-01-01-01.wav": (48000, 1),
    "ravdess/Actor_01/03-01-02-01-01-02-01.wav": (48000, 2),
    "tess/YAF_angry/YAF_germ_angry.wav": (24414, 1),  # AIFF with a .wav name
    "tess/OAF_Fear/OAF_food_fear.wav": (96000, 1),
    "tess/OAF_neutral/OA_bite_neutral.wav": (24414, 1),
    "savee/DC_a01.wav": (44100, 1),
}


@pytest.mark.data
def test_raw_samples_are_all_listed(raw_samples):
    found = {p.relative_to(raw_samples).as_posix() for p in raw_samples.rglob("*") if p.is_file()}
    assert found == set(RAW_FILES)


@pytest.mark.data
@pytest.mark.parametrize("name", list(RAW_FILES))
def test_raw_sample_reads_like_soundfile(raw_samples, name):
    path = raw_samples / name
    if name.startswith("tess/YAF_angry"):
        pytest.importorskip("soundfile")  # AIFF needs it
        # README calls it AIFF-C; its header says FORM/AIFF (with an AIFF-C style FVER chunk).
        assert path.read_bytes()[:4] == b"FORM"
    samples, rate = read_audio(path)
    assert (rate, samples.shape[1]) == RAW_FILES[name]
    soundfile = pytest.importorskip("soundfile")
    theirs, their_rate = soundfile.read(path, dtype="float32", always_2d=True)
    assert rate == their_rate
    np.testing.assert_array_equal(samples, theirs)


@pytest.mark.data
@pytest.mark.parametrize("name", list(RAW_FILES))
def test_raw_sample_loads_at_22050_mono(raw_samples, name, librosa):
    path = raw_samples / name
    y = load_audio(path)
    ref, _ = librosa.load(path, sr=22050)  # soundfile + to_mono + soxr_hq
    assert y.dtype == np.float32 and y.ndim == 1 and y.shape == ref.shape
    assert np.isfinite(y).all()
    # The resamplers differ only around the band edge (see test_resample.py): measured <= 1.3e-4.
    rel = np.sqrt(np.mean((y - ref) ** 2) / np.mean(ref**2))
    assert rel < 5e-4, rel


@pytest.mark.data
def test_dev_corpus_flac_loads(dev_corpus):
    soundfile = pytest.importorskip("soundfile")
    path = next(iter(sorted((dev_corpus / "Savee").glob("*.flac"))))
    samples, rate = read_audio(path)
    assert rate == 22050 and samples.shape[1] == 1
    np.testing.assert_array_equal(samples, soundfile.read(path, dtype="float32", always_2d=True)[0])
    y = load_audio(path)
    np.testing.assert_array_equal(y, samples[:, 0])
