"""tonecue.edge.paraling against the references: librosa's yin and pyin for F0, Praat (through
praat-parselmouth) for jitter, shimmer, harmonics-to-noise ratio and formants.

Only F0 has a reference computing the same thing the same way (YIN): there the tolerances are in
cents on the frames both call voiced. Jitter, shimmer and HNR depend on the algorithm (how cycles
are found, which frames count as voiced), so on real speech the assertions are about agreement
across clips (rank correlation) and the ratio of the two readings; on synthetic voices, whose
truth is known, both are held to it. Every number measured is in PARALING.md; the comments say
what was measured when the tolerance was set. References are skipped, with the reason, where
they are not installed (the device-only environment).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.paraling_signals import VOWELS, pulse_times, true_jitter, vowel

from tonecue.edge.paraling import LLD_NAMES, ParalingSettings, ParalinguisticFrontend

RATES = (16000, 22050)
FRAME_MS, HOP_MS = 40.0, 10.0  # YIN frame and hop of ParalingSettings' defaults


@pytest.fixture(scope="module")
def praat():
    parselmouth = pytest.importorskip("parselmouth", reason="praat-parselmouth (the dev extra) is the reference")
    from parselmouth.praat import call

    class Praat:
        @staticmethod
        def sound(y, sr):
            return parselmouth.Sound(np.asarray(y, dtype=np.float64), sampling_frequency=sr)

        @classmethod
        def voice(cls, y, sr):
            """Praat's jitter (local), shimmer (local, dB) and mean HNR (cc) over the whole signal,
            with Praat's defaults and our F0 range."""
            sound = cls.sound(y, sr)
            pulses = call(sound, "To PointProcess (periodic, cc)", 60.0, 600.0)
            jitter = call(pulses, "Get jitter (local)", 0, 0, 0.0001, 0.02, 1.3)
            shimmer = call([sound, pulses], "Get shimmer (local_dB)", 0, 0, 0.0001, 0.02, 1.3, 1.6)
            hnr = sound.to_harmonicity_cc(0.01, 60.0, 0.1, 1.0).values
            return jitter, shimmer, float(hnr[hnr != -200].mean())

        @classmethod
        def formants(cls, y, sr):
            """Median F1-F3 of Praat's Burg analysis (5 formants below 5500 Hz, 25 ms, from 50 Hz)."""
            formant = cls.sound(y, sr).to_formant_burg(0.01, 5, 5500.0, 0.025, 50.0)
            values = [[formant.get_value_at_time(i, t) for i in (1, 2, 3)] for t in formant.xs()]
            return np.nanmedian(np.array(values), axis=0)

    return Praat


def frontend_at(sr: int) -> ParalinguisticFrontend:
    return ParalinguisticFrontend(ParalingSettings(sample_rate=sr))


def our_f0(frontend, y) -> tuple[np.ndarray, np.ndarray]:
    """(F0 in Hz, voiced) per frame."""
    llds = frontend.llds(y)
    f0 = 27.5 * 2 ** (llds[:, LLD_NAMES.index("f0_semitones")] / 12)
    return f0, llds[:, LLD_NAMES.index("voiced")] > 0.5


def librosa_yin(librosa, y, sr):
    s = ParalingSettings(sample_rate=sr)
    return librosa.yin(
        np.asarray(y, dtype=np.float64), fmin=s.f0_min, fmax=s.f0_max, sr=sr,
        frame_length=s.pitch_frame_length, hop_length=s.hop_length,
    )


def cents(a, b) -> np.ndarray:
    return np.abs(1200 * np.log2(np.asarray(a, dtype=np.float64) / np.asarray(b, dtype=np.float64)))


def harmonic_vibrato(sr: int, seconds: float = 1.5) -> np.ndarray:
    """Five harmonics (amplitudes 1/h) of F0 = 180 Hz +-5 % at 5.5 Hz: a sung vowel's vibrato."""
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * (180.0 * t - 180.0 * 0.05 * np.cos(2 * np.pi * 5.5 * t) / (2 * np.pi * 5.5))
    return 0.3 * sum(np.sin(h * phase) / h for h in range(1, 6))


def rank_correlation(a, b) -> float:
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def real_clips(dev_corpus: Path, per_corpus: int = 5) -> list[tuple[np.ndarray, int]]:
    """(samples, rate) of clips spread evenly over RAVDESS, SAVEE, TESS (22,050 Hz) and
    CREMA-D (16 kHz), each at its own rate."""
    from tonecue.edge.audio import load_audio

    crema = dev_corpus.parent / "crema-d"
    if not crema.is_dir():
        pytest.skip(f"crema-d not found beside {dev_corpus}")
    clips = []
    for folder, pattern, sr in ((dev_corpus / "Ravdess", "**/*.flac", 22050), (dev_corpus / "Savee", "*.flac", 22050),
                                (dev_corpus / "Tess", "**/*.flac", 22050), (crema, "**/*.flac", 16000)):
        found = sorted(folder.glob(pattern))
        clips += [(load_audio(p, None, dtype=np.float64), sr) for p in found[:: len(found) // per_corpus][:per_corpus]]
    return clips


# --- F0 -----------------------------------------------------------------------------------------


@pytest.mark.librosa
@pytest.mark.parametrize("sr", RATES)
def test_f0_matches_librosa_yin_on_a_harmonic_vibrato(librosa, parity, sr):
    frontend = frontend_at(sr)
    y = harmonic_vibrato(sr)
    f0, voiced = our_f0(frontend, y)
    reference = librosa_yin(librosa, y, sr)
    inner = slice(5, -5)  # frames that see no signal edge
    assert voiced[inner].all()
    t = np.arange(len(f0))[inner] * frontend.settings.hop_length / sr
    truth = 180.0 * (1 + 0.05 * np.sin(2 * np.pi * 5.5 * t))
    error = cents(f0[inner], reference[inner])
    ours, theirs = cents(f0[inner], truth), cents(reference[inner], truth)
    parity("F0 on a harmonic vibrato: median", "float64", "librosa.yin", np.median(error), "3 cents")
    parity("F0 on a harmonic vibrato: max", "float64", "librosa.yin", error.max(), "8 cents")
    parity("F0 on a harmonic vibrato: median, ours / librosa.yin", "float64", "the true F0", np.median(ours), "5 cents")
    # librosa 0.11's difference function adds the energy of each lag's last samples; ours is YIN's
    # over the full overlap. Both average the vibrato over a 40 ms frame: against the true F0,
    # median 3.7-3.8 (ours) and 3.4-3.5 cents (librosa), max 7.8 and 12.1. Between the two:
    # measured median 1.8-1.9, max 4.9-5.4 cents.
    assert np.median(error) < 3.0 and error.max() < 8.0
    assert np.median(ours) < 5.0 and ours.max() < 10.0 and np.median(ours) < np.median(theirs) + 1.0


@pytest.mark.librosa
@pytest.mark.data
def test_f0_matches_librosa_yin_on_real_speech(librosa, parity, speech):
    errors = []
    frontend = frontend_at(22050)
    for y in speech.values():
        f0, voiced = our_f0(frontend, y)
        reference = librosa_yin(librosa, y, 22050)
        errors.append(cents(f0[voiced], reference[voiced]))
    error = np.concatenate(errors)
    within = np.mean(error < 50)
    parity("F0 on speech (frames we call voiced): median cents", "float64", "librosa.yin", np.median(error), "1.5 cents")
    parity("F0 on speech: share of frames off by > 50 cents", "float64", "librosa.yin", 1 - within, "10 %")
    # The two difference functions pick another trough on a few frames, mostly SAVEE's: measured
    # median 1.1 cents, 7.8 % beyond 50 cents. On those frames pyin (which shares librosa.yin's
    # difference function) calls half unvoiced and agrees with librosa.yin on 39 %, with ours on
    # 11 %; against the known F0 of synthetic voices the two are equally close (test above).
    assert np.median(error) < 1.5
    assert within > 0.9


@pytest.mark.librosa
@pytest.mark.data
def test_f0_and_voicing_agree_with_librosa_pyin_on_real_speech(librosa, parity, speech):
    frontend = frontend_at(22050)
    s = frontend.settings
    errors, agreement = [], []
    for name in ("Tess/OAF_bean_angry", "Tess/YAF_bath_sad", "Savee/JK_n01"):
        y = speech[name]
        f0, voiced = our_f0(frontend, y)
        reference, reference_voiced, _ = librosa.pyin(
            np.asarray(y), fmin=s.f0_min, fmax=s.f0_max, sr=22050,
            frame_length=s.pitch_frame_length, hop_length=s.hop_length,
        )
        both = voiced & reference_voiced
        errors.append(cents(f0[both], reference[both]))
        agreement.append(np.mean(voiced == reference_voiced))
    error = np.concatenate(errors)
    parity("F0 on speech (frames both call voiced): median cents", "float64", "librosa.pyin", np.median(error), "10 cents")
    parity("F0 on speech: share off by > 50 cents", "float64", "librosa.pyin", np.mean(error > 50), "5 %")
    parity("voicing decision: share of frames that disagree", "float64", "librosa.pyin", 1 - np.mean(agreement), "20 %")
    # pyin quantises F0 to 10-cent bins and smooths it with an HMM: measured median 2.9 cents,
    # 2.3 % beyond 50 cents, 12 % of frames voiced by one and not the other.
    assert np.median(error) < 10.0
    assert np.mean(error > 50) < 0.05
    assert np.mean(agreement) > 0.8


# --- jitter, shimmer, HNR -------------------------------------------------------------------------


@pytest.mark.parametrize("sr", RATES)
def test_jitter_and_shimmer_match_praat_on_synthetic_voices(praat, parity, sr):
    frontend = frontend_at(sr)
    names = frontend.feature_names()
    for f0 in (110.0, 220.0):
        for jitter in (0.0, 0.005, 0.01):
            times = pulse_times(f0, 1.0, jitter, seed=1)
            amplitudes = np.exp(np.random.default_rng(2).normal(0, 0.06, len(times)))
            y = vowel(times, sr, 1.0, "a", amplitudes)
            ours = frontend.functionals(y)
            p_jitter, p_shimmer, _ = praat.voice(y, sr)
            d_jitter = abs(ours[names.index("jitter_local_mean")] - p_jitter)
            d_shimmer = abs(ours[names.index("shimmer_local_db_mean")] - p_shimmer)
            parity("jitter (local), synthetic, jitter <= 1 %", "float64", "Praat", d_jitter, "0.15 % points")
            parity("shimmer (local, dB), synthetic", "float64", "Praat", d_shimmer, "0.1 dB")
            # Both measure cycles by waveform matching: measured <= 0.11 % points, <= 0.09 dB.
            assert d_jitter < 0.0015, (f0, jitter, true_jitter(times))
            assert d_shimmer < 0.1, (f0, jitter)


@pytest.mark.parametrize("snr_db", [5.0, 10.0, 20.0])
def test_hnr_matches_praat_on_a_voice_in_noise(praat, parity, snr_db):
    sr = 16000
    y = vowel(pulse_times(150.0, 1.0), sr, 1.0, "a", snr_db=snr_db)
    frontend = frontend_at(sr)
    ours = frontend.functionals(y)[frontend.feature_names().index("hnr_db_mean")]
    _, _, reference = praat.voice(y, sr)
    parity("HNR, periodic voice in white noise (5-20 dB)", "float64", "Praat (cc)", abs(ours - reference), "1.5 dB")
    # Both read the SNR: measured within 0.7 dB of Praat, 1.1 dB of the SNR.
    assert abs(ours - reference) < 1.5


@pytest.mark.data
def test_jitter_shimmer_and_hnr_follow_praat_across_real_clips(praat, parity, dev_corpus):
    frontends = {sr: frontend_at(sr) for sr in RATES}
    names = frontends[16000].feature_names()
    ours, reference = [], []
    for y, sr in real_clips(dev_corpus):
        values = frontends[sr].functionals(y)
        ours.append([values[names.index(n)] for n in ("jitter_local_mean", "shimmer_local_db_mean", "hnr_db_mean")])
        reference.append(praat.voice(y, sr))
    ours, reference = np.array(ours), np.array(reference)
    checks = (
        # name, rank-correlation floor, bounds of the median ratio (HNR: of the difference, dB)
        ("jitter", 0.5, (0.4, 1.5)),
        ("shimmer", 0.6, (0.7, 1.3)),
        ("HNR", 0.8, (-3.0, 3.0)),
    )
    for i, (name, floor, (lo, hi)) in enumerate(checks):
        rho = rank_correlation(ours[:, i], reference[:, i])
        middle = np.median(ours[:, i] - reference[:, i]) if name == "HNR" else np.median(ours[:, i] / reference[:, i])
        parity(f"{name} across 20 real clips: rank correlation (the value)", "float64", "Praat", rho, f">= {floor}")
        parity(f"{name} across 20 real clips: median {'|difference|, dB' if name == 'HNR' else 'ratio'} (the value)",
               "float64", "Praat", abs(middle), f"{lo} to {hi}")
        assert rho >= floor, name
        assert lo <= middle <= hi, name


# --- formants -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sr", RATES)
@pytest.mark.parametrize("name", sorted(VOWELS))
def test_formants_match_praat_burg_on_synthetic_vowels(praat, parity, sr, name):
    frontend = frontend_at(sr)
    for f0 in (110.0, 220.0):
        y = vowel(pulse_times(f0, 1.0, 0.005), sr, 1.0, name)
        llds = frontend.llds(y)
        voiced = llds[:, LLD_NAMES.index("voiced")] > 0.5
        ours = np.nanmedian(llds[voiced][:, [LLD_NAMES.index(f"f{i}_hz") for i in (1, 2, 3)]], axis=0)
        reference = praat.formants(y, sr)
        error = np.abs(ours / reference - 1)
        parity("formants F1-F3, synthetic vowels: relative", "float64", "Praat (Burg)", error.max(), "3 %")
        # Selective autocorrelation LPC against Burg on the resampled signal: measured <= 1.6 %.
        assert error.max() < 0.03, (f0, ours, reference)
