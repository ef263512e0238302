"""Windows of a corpus: counts, the frontend invariant, the gate, the cache, bad files, workers."""

from __future__ import annotations

import json
import shutil
import time
import wave
from pathlib import Path

import numpy as np
import pytest

import tonecue.train.windows as windows_module
from tonecue.edge.audio import load_audio
from tonecue.edge.frontend import KINDS, Frontend, clip_windows, window_starts
from tonecue.edge.spec import FrontendSpec, SpecError
from tonecue.edge.vad import DIGITAL_SILENCE_DB, GateSettings, window_level_db
from tonecue.train.corpus import build_index
from tonecue.train.windows import WindowSet, default_cache_dir, extract_windows

SR = 22050
SPEC = FrontendSpec()


def write_wav(path: Path, signal: np.ndarray, sr: int = SR) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.clip(np.round(np.asarray(signal, np.float64) * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


def tone(seconds: float, freq: float = 220.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * SR))) / SR
    return amplitude * np.sin(2 * np.pi * freq * t)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * SR)))


# The generated corpus: SAVEE names (labels from names), tone bursts between digital silence.
BURST = (2.5, 1.0)  # DC_h01: the tone starts at 2.5 s and lasts 1 s
GENERATED = {
    "Savee/DC_a01.wav": lambda: np.concatenate([silence(1.0), tone(1.5), silence(1.5)]),
    "Savee/DC_h01.wav": lambda: np.concatenate([silence(BURST[0]), tone(BURST[1], 440.0), silence(2.5)]),
    "Savee/DC_sa01.wav": lambda: tone(2.0, 330.0, amplitude=0.02),  # quiet, still voiced
    "Savee/DC_n01.wav": lambda: silence(3.0),  # no voiced window at all
    "Savee/JE_a01.wav": lambda: tone(0.5, 550.0),  # shorter than one window
    "Savee/JE_n01.wav": lambda: 0.1 * np.random.default_rng(0).standard_normal(int(2.2 * SR)),
}


def make_generated_corpus(root: Path, broken: bool = False) -> Path:
    for rel, make in GENERATED.items():
        write_wav(root / rel, make())
    if broken:
        (root / "Savee/JK_a01.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEthis is not audio at all")
        (root / "Savee/JK_h01.wav").write_bytes(b"")
    return root


@pytest.fixture
def generated(tmp_path) -> Path:
    return make_generated_corpus(tmp_path / "corpus")


@pytest.fixture
def generated_broken(tmp_path) -> Path:
    return make_generated_corpus(tmp_path / "corpus", broken=True)


REAL = (
    "Ravdess/audio_speech_actors_01-24/Actor_01/03-01-05-01-01-01-01.flac",
    "Ravdess/audio_speech_actors_01-24/Actor_02/03-01-04-01-02-01-02.flac",
    "Savee/DC_h01.flac",
    "Savee/JK_n01.flac",
    "Tess/OAF_angry/OAF_bean_angry.flac",
    "Tess/YAF_sad/YAF_bath_sad.flac",
)
PADDED = "Ravdess/audio_speech_actors_01-24/Actor_01/03-01-03-01-01-01-01"  # happy; padded copy as WAV


@pytest.fixture
def real(tmp_path, dev_corpus) -> Path:
    root = tmp_path / "real"
    for rel in REAL:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dev_corpus / rel, root / rel)
    speech = load_audio(dev_corpus / f"{PADDED}.flac", SR)
    write_wav(root / f"{PADDED}.wav", np.concatenate([silence(3.0), speech, silence(3.0)]))
    return root


def extract(root: Path, **kwargs) -> WindowSet:
    kwargs.setdefault("cache_dir", False)
    kwargs.setdefault("workers", 1)
    kwargs.setdefault("progress", False)
    return extract_windows(build_index(root), **kwargs)


def clip_index(ws: WindowSet, name: str) -> int:
    return next(i for i, clip in enumerate(ws.clips) if clip.path.name == name)


def assert_same(a: WindowSet, b: WindowSet, exact: bool = True) -> None:
    """The same windows and features; `exact=False` allows a few float32 ulps, as between
    processes whose BLAS may split a matrix product over another number of threads."""
    assert a.kinds == b.kinds
    for kind in a.kinds:
        assert a.features[kind].dtype == np.float32
        if exact:
            assert np.array_equal(a.features[kind], b.features[kind]), kind
        else:
            np.testing.assert_allclose(a.features[kind], b.features[kind], rtol=1e-5, atol=1e-5, err_msg=kind)
    for name in ("labels", "clip_ids", "speakers", "corpora", "starts", "levels_db", "voiced"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert [c.path for c in a.clips] == [c.path for c in b.clips]
    ignore = {"wall_seconds", "workers", "cache"}
    assert {k: v for k, v in a.report.items() if k not in ignore} == {
        k: v for k, v in b.report.items() if k not in ignore
    }


# ---------------------------------------------------------------------- windows and invariant


def check_against_frontend(ws: WindowSet, hop_frames: int) -> None:
    """Every window: counted as window_starts says, featurized as Frontend.features says."""
    frontend = Frontend(ws.spec)
    total = 0
    for clip_id, clip in enumerate(ws.clips):
        signal = load_audio(clip.path, ws.spec.sample_rate)
        starts, windows = clip_windows(signal, ws.spec, hop_frames)
        assert starts == window_starts(max(len(signal), ws.spec.window_samples), ws.spec, hop_frames)
        total += len(starts)
        rows = np.flatnonzero(ws.clip_ids == clip_id)
        assert rows.size >= 1
        assert np.all(np.diff(ws.starts[rows]) > 0)  # stream order
        for row in rows:
            k = starts.index(int(ws.starts[row]))
            assert ws.levels_db[row] == pytest.approx(window_level_db(windows[k]), abs=1e-4)
            for kind in ws.kinds:
                expected = frontend.features(windows[k], kind)
                np.testing.assert_allclose(ws.features[kind][row], expected, rtol=1e-5, atol=1e-4, err_msg=kind)
    assert ws.report["windows_total"] == total
    assert ws.report["windows_kept"] == len(ws)
    assert ws.report["windows_dropped"] == total - len(ws)


@pytest.mark.parametrize("hop_frames", [22, 7])
def test_generated_windows_match_window_starts_and_the_frontend(generated, hop_frames):
    ws = extract(generated, hop_frames=hop_frames)
    assert ws.hop_frames == hop_frames
    assert len(ws.clips) == len(GENERATED)
    check_against_frontend(ws, hop_frames)
    for kind in KINDS:
        assert ws.features[kind].shape == (len(ws), *Frontend(SPEC).output_shape(kind))
    # The clip shorter than one window gives one zero-padded window.
    short = clip_index(ws, "JE_a01.wav")
    assert np.count_nonzero(ws.clip_ids == short) == 1


@pytest.mark.data
def test_real_windows_match_window_starts_and_the_frontend(real):
    ws = extract(real)
    assert len(ws.clips) == len(REAL) + 1
    assert ws.report["clips_skipped"] == [] and ws.report["clips_without_voice"] == []
    check_against_frontend(ws, 22)
    assert set(ws.corpora) == {"ravdess", "savee", "tess"}
    assert ws.report["seconds_audio"] == pytest.approx(
        sum(len(load_audio(c.path, SR)) for c in ws.clips) / SR, abs=1e-3
    )


def test_labels_speakers_and_corpora_follow_the_clips(generated):
    ws = extract(generated)
    index = build_index(generated)
    assert ws.classes == index.label_map.classes == ("angry", "happy", "sad", "neutral")
    for row in range(len(ws)):
        clip = ws.clips[ws.clip_ids[row]]
        assert ws.labels[row] == ws.classes.index(clip.label)
        assert ws.speakers[row] == clip.speaker and ws.corpora[row] == clip.corpus
    assert ws.labels.dtype == np.int64 and ws.clip_ids.dtype == np.int64
    assert ws.speakers.dtype.kind == "U" and ws.corpora.dtype.kind == "U"
    assert np.array_equal(ws.clip_labels, [ws.classes.index(c.label) for c in ws.clips])
    per_class = ws.report["windows_per_class"]
    assert list(per_class) == list(ws.classes) and sum(per_class.values()) == len(ws)
    json.dumps(ws.report)  # serialisable as it is


# -------------------------------------------------------------------------------------- gate


def test_silent_windows_are_dropped_and_a_silent_clip_keeps_its_loudest_window(generated):
    ws = extract(generated)
    clip = clip_index(ws, "DC_h01.wav")
    signal = load_audio(ws.clips[clip].path, SR)
    starts, _ = clip_windows(signal, SPEC, 22)
    kept = set(ws.starts[ws.clip_ids == clip].tolist())
    onset, offset = int(BURST[0] * SR), int(sum(BURST) * SR)
    for start in starts:
        end = start + SPEC.window_samples
        overlap = max(0, min(end, offset) - max(start, onset))
        if overlap == 0:
            assert start not in kept, f"the silent window at {start / SR:.2f} s was kept"
        elif overlap >= 0.1 * SR:
            assert start in kept, f"the window at {start / SR:.2f} s holds {overlap / SR:.2f} s of tone"
    assert ws.report["windows_dropped"] > 0
    assert ws.report["windows_voiced"] == int(ws.voiced.sum())
    # The all-silent clip: its loudest (here the first) window is kept, flagged and reported.
    silent = clip_index(ws, "DC_n01.wav")
    rows = np.flatnonzero(ws.clip_ids == silent)
    assert rows.size == 1
    assert not ws.voiced[rows[0]] and ws.levels_db[rows[0]] == DIGITAL_SILENCE_DB
    assert ws.report["clips_without_voice"] == ["Savee/DC_n01.wav"]
    assert ws.voiced.sum() == len(ws) - 1
    assert ws.report["windows_kept"] == ws.report["windows_voiced"] + 1
    # The quiet tone (-37 dBFS) passes: quiet is not silent.
    assert ws.voiced[ws.clip_ids == clip_index(ws, "DC_sa01.wav")].all()


@pytest.mark.data
def test_real_speech_between_silences_keeps_only_windows_with_speech(real):
    ws = extract(real, kinds=("stats",))
    clip = clip_index(ws, Path(PADDED).name + ".wav")
    signal = load_audio(ws.clips[clip].path, SR)
    starts, _ = clip_windows(signal, SPEC, 22)
    kept = set(ws.starts[ws.clip_ids == clip].tolist())
    pad = 3 * SR
    for start in starts:
        end = start + SPEC.window_samples
        if end <= pad or start >= len(signal) - pad:
            assert start not in kept, f"a window of the padding at {start / SR:.2f} s was kept"
    # The speech's core (RAVDESS speaks from about 1 s to 3 s of the original clip) is kept.
    core = [s for s in starts if s >= pad + int(0.9 * SR) and s + SPEC.window_samples <= pad + int(3.0 * SR)]
    assert core and all(s in kept for s in core)


def test_gate_settings_are_used_and_carried(generated):
    strict = GateSettings(min_level_db=-30.0, initial_floor_db=-40.0)
    ws = extract(generated, gate=strict)
    assert ws.gate == strict
    # The quiet tone (-37 dBFS) no longer passes: its clip falls back to its loudest window.
    assert "Savee/DC_sa01.wav" in ws.report["clips_without_voice"]
    assert len(ws) < len(extract(generated))


# ------------------------------------------------------------------------------------- cache


def test_cache_hit_on_rerun_is_identical_and_reads_no_audio(generated, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = extract(generated, cache_dir=cache)
    assert first.report["cache"] == {"dir": str(cache.resolve()), "hits": 0, "misses": len(GENERATED)}
    assert len(list(cache.rglob("*.npz"))) == len(GENERATED)

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cache hit must not decode audio")

    monkeypatch.setattr(windows_module, "load_audio", no_decoding)
    t0 = time.perf_counter()
    second = extract(generated, cache_dir=cache)
    assert time.perf_counter() - t0 < 5.0
    assert second.report["cache"]["hits"] == len(GENERATED) and second.report["cache"]["misses"] == 0
    assert_same(first, second)


def test_cache_misses_when_spec_hop_gate_kinds_or_content_change(generated, tmp_path):
    cache = tmp_path / "cache"
    extract(generated, cache_dir=cache)
    n = len(GENERATED)
    changes = [
        {"spec": FrontendSpec(n_mfcc=40)},
        {"spec": FrontendSpec(top_db=60.0)},
        {"hop_frames": 11},
        {"gate": GateSettings(margin_db=8.0)},
        {"kinds": ("stats",)},
    ]
    for change in changes:
        ws = extract(generated, cache_dir=cache, **change)
        assert ws.report["cache"] == {"dir": str(cache.resolve()), "hits": 0, "misses": n}, change
        assert extract(generated, cache_dir=cache, **change).report["cache"]["hits"] == n
    # A changed file misses; the others hit.
    write_wav(generated / "Savee/DC_a01.wav", np.concatenate([silence(0.5), tone(2.0, 660.0)]))
    ws = extract(generated, cache_dir=cache)
    assert ws.report["cache"]["misses"] == 1 and ws.report["cache"]["hits"] == n - 1
    assert_same(ws, extract(generated, cache_dir=False))
    # A renamed copy is the same content: it hits.
    shutil.copyfile(generated / "Savee/DC_h01.wav", generated / "Savee/KL_h01.wav")
    ws = extract(generated, cache_dir=cache)
    assert ws.report["cache"] == {"dir": str(cache.resolve()), "hits": n + 1, "misses": 0}


def test_a_damaged_cache_file_is_a_miss_and_is_rewritten(generated, tmp_path):
    cache = tmp_path / "cache"
    first = extract(generated, cache_dir=cache)
    victim = sorted(cache.rglob("*.npz"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    second = extract(generated, cache_dir=cache)
    assert second.report["cache"]["misses"] == 1
    assert_same(first, second)
    assert extract(generated, cache_dir=cache).report["cache"]["misses"] == 0


def test_a_cache_that_cannot_be_written_warns_and_goes_on(generated, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="feature cache not written"):
        ws = extract(generated, cache_dir=blocker)
    assert_same(ws, extract(generated))


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "tonecue" / "features"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "tonecue" / "features"


# ----------------------------------------------------------------------- bad files, workers


def test_corrupt_and_empty_files_are_skipped_and_reported(generated_broken):
    ws = extract(generated_broken)
    skipped = {item["path"]: item["reason"] for item in ws.report["clips_skipped"]}
    assert set(skipped) == {"Savee/JK_a01.wav", "Savee/JK_h01.wav"}
    assert "empty file" in skipped["Savee/JK_h01.wav"]
    assert skipped["Savee/JK_a01.wav"]  # the reader's reason, whatever it is
    assert ws.report["clips_total"] == len(GENERATED) + 2
    assert ws.report["clips_read"] == len(ws.clips) == len(GENERATED)
    assert all(c.path.name not in ("JK_a01.wav", "JK_h01.wav") for c in ws.clips)


def test_workers_1_and_2_give_identical_results(generated_broken, tmp_path):
    one = extract(generated_broken, workers=1)
    two = extract(generated_broken, workers=2, cache_dir=tmp_path / "cache")
    assert two.report["workers"] == 2 and len(two.report["clips_skipped"]) == 2
    assert_same(one, two, exact=False)


def test_nothing_readable_gives_an_empty_set_with_the_right_shapes(tmp_path):
    root = tmp_path / "broken"
    for rel in GENERATED:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    ws = extract(root)
    assert len(ws) == 0 and ws.clips == []
    assert len(ws.report["clips_skipped"]) == len(GENERATED)
    for kind in KINDS:
        assert ws.features[kind].shape == (0, *Frontend(SPEC).output_shape(kind))
        assert ws.features[kind].dtype == np.float32


# ------------------------------------------------------------------------- subset, arguments


def test_subset_by_clip_ids_and_by_window_mask(generated):
    ws = extract(generated)
    picked = ws.subset([3, 0])
    assert [c.path for c in picked.clips] == [ws.clips[0].path, ws.clips[3].path]  # order kept
    rows = np.isin(ws.clip_ids, [0, 3])
    assert len(picked) == rows.sum()
    assert set(picked.clip_ids.tolist()) == {0, 1}
    for kind in ws.kinds:
        assert np.array_equal(picked.features[kind], ws.features[kind][rows])
    assert np.array_equal(picked.labels, ws.labels[rows])
    assert picked.spec == ws.spec and picked.gate == ws.gate and picked.classes == ws.classes
    # A window mask; clips left without windows disappear.
    voiced = ws.subset(ws.voiced)
    assert len(voiced) == ws.voiced.sum() and len(voiced.clips) == len(ws.clips) - 1
    for row in range(len(voiced)):
        assert voiced.clips[voiced.clip_ids[row]].label == voiced.classes[voiced.labels[row]]
    assert len(ws.subset(np.zeros(len(ws), bool))) == 0
    assert len(ws.subset([])) == 0
    with pytest.raises(ValueError, match="shape"):
        ws.subset(np.ones(len(ws) + 1, bool))
    with pytest.raises(IndexError):
        ws.subset([len(ws.clips)])
    with pytest.raises(TypeError):
        ws.subset([0.5])


def test_bad_arguments_are_refused_before_any_work(generated):
    index = build_index(generated)
    for kinds in (("stats", "spectrogram"), (), ("stats", "stats")):
        with pytest.raises(ValueError, match="kind"):
            extract_windows(index, kinds=kinds, cache_dir=False, progress=False)
    for hop in (0, -3, 1.5, True):
        with pytest.raises(ValueError, match="hop_frames"):
            extract_windows(index, hop_frames=hop, cache_dir=False, progress=False)
    with pytest.raises(ValueError, match="workers"):
        extract_windows(index, workers=0, cache_dir=False, progress=False)
    with pytest.raises(SpecError):
        extract_windows(index, spec=FrontendSpec(image_n_mels=16), kinds=("image",), cache_dir=False, progress=False)
    with pytest.raises(TypeError):
        extract_windows(index, spec={"n_fft": 2048}, cache_dir=False, progress=False)
    with pytest.raises(TypeError):
        extract_windows(index, gate={"margin_db": 10}, cache_dir=False, progress=False)
    assert extract_windows(index, kinds="stats", cache_dir=False, progress=False, workers=1).kinds == ("stats",)


def test_progress_bar_on_stderr_only_when_asked(generated, capfd):
    extract(generated, progress=False)
    assert capfd.readouterr().err == ""
    extract(generated, progress=True)
    captured = capfd.readouterr()
    assert "windows" in captured.err and captured.out == ""


# --------------------------------------------------------------------------- transformed copies


class Louder:
    """A clip transform for the tests: a fixed gain, and a seed-dependent one when asked."""

    def __init__(self, gain: float = 2.0, by_seed: bool = False, fail_on: str | None = None):
        self.gain, self.by_seed, self.fail_on = gain, by_seed, fail_on

    def __call__(self, signal, sample_rate, seed):
        if self.fail_on is not None and np.allclose(signal, 0):
            from tonecue.train.noise import NoiseError

            raise NoiseError("silent clip")
        gain = self.gain * (1 + (seed % 7) / 10 if self.by_seed else 1)
        return np.clip(signal * gain, -1, 1)

    def describe(self):
        return {"gain": self.gain, "by_seed": self.by_seed}


def test_a_transform_changes_the_audio_before_it_is_cut_and_keys_the_cache(generated, tmp_path):
    cache = tmp_path / "cache"
    clean = extract(generated, cache_dir=cache)
    louder = extract(generated, cache_dir=cache, transform=Louder(0.5))
    assert louder.report["cache"]["misses"] == len(GENERATED)  # not the clean windows' entries
    # Half the amplitude: the same windows, each 6 dB quieter.
    assert np.array_equal(louder.starts, clean.starts)
    sound = clean.levels_db > -150  # digital silence stays at the floor
    np.testing.assert_allclose(louder.levels_db[sound], clean.levels_db[sound] - 20 * np.log10(2), atol=0.05)
    again = extract(generated, cache_dir=cache, transform=Louder(0.5))
    assert again.report["cache"]["hits"] == len(GENERATED)
    assert extract(generated, cache_dir=cache, transform=Louder(0.5), variant=1).report["cache"]["misses"] == len(GENERATED)
    # The seed comes from the clip's content and the copy's number: the same in every run.
    a = extract(generated, transform=Louder(0.5, by_seed=True), variant=1)
    b = extract(generated, transform=Louder(0.5, by_seed=True), variant=2)
    assert_same(a, extract(generated, transform=Louder(0.5, by_seed=True), variant=1))
    assert not np.allclose(a.levels_db, b.levels_db)


def test_a_clip_the_transform_refuses_is_skipped_with_the_reason(generated):
    ws = extract(generated, transform=Louder(fail_on="silence"))
    assert [s["path"] for s in ws.report["clips_skipped"]] == ["Savee/DC_n01.wav"]
    assert "cannot transform it: silent clip" in ws.report["clips_skipped"][0]["reason"]
    with pytest.raises(TypeError, match="describe"):
        extract(generated, transform=lambda s, r, seed: s)
    with pytest.raises(ValueError, match="variant must be a non-negative integer"):
        extract(generated, transform=Louder(), variant=-1)


def test_copies_join_the_clean_windows_under_their_clip_and_a_speaker_of_their_own(generated):
    from tonecue.train.windows import with_copies

    clean = extract(generated)
    copy = extract(generated, transform=Louder(fail_on="silence"))  # one clip fewer
    joined, is_copy = with_copies(clean, [copy])
    assert len(joined) == len(clean) + len(copy) and is_copy.sum() == len(copy)
    assert joined.clips == clean.clips
    for w in np.flatnonzero(is_copy):
        assert joined.clips[joined.clip_ids[w]].path.name in {c.path.name for c in copy.clips}
    assert set(joined.speakers[is_copy]) == {f"{s}#1" for s in copy.speakers}
    assert np.array_equal(joined.labels[~is_copy], clean.labels)
    for kind in clean.features:
        np.testing.assert_array_equal(joined.features[kind][is_copy], copy.features[kind])
