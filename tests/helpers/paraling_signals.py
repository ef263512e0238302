"""Synthetic voices with known F0, jitter, shimmer, noise and formants, in numpy alone.

A source-filter vowel: impulses at chosen instants, each exciting the same all-pole vocal tract
(a cascade of one two-pole resonance per formant), summed. The tract's impulse response is taken
in continuous time, from the partial fractions of its poles, so that pulses fall between samples
exactly. Every pulse time and amplitude is chosen here: the true periods, jitter and shimmer are
known exactly, and the formants are the poles.
"""

from __future__ import annotations

import numpy as np

#: Formant frequencies and bandwidths (Hz) of three vowels: F1-F3 are Peterson & Barney's averages
#: for men; F4 and F5 (3500 and 4500 Hz) complete a five-formant tract below 5.5 kHz, the model that
#: a formant analysis with Praat's defaults (5 formants, 5500 Hz) fits.
VOWELS = {
    "a": ((730, 1090, 2440, 3500, 4500), (90, 110, 160, 250, 300)),
    "i": ((270, 2290, 3010, 3500, 4500), (60, 100, 150, 250, 300)),
    "u": ((300, 870, 2240, 3500, 4500), (60, 90, 140, 250, 300)),
}


def pulse_times(f0, seconds: float, jitter: float = 0.0, seed: int = 0) -> np.ndarray:
    """Pulse instants (s) of a voice whose F0 follows `f0` (Hz, a number or a function of time),
    each period scaled by 1 + jitter * e with e uniform in [-sqrt(3), sqrt(3)] (std `jitter`)."""
    rng = np.random.default_rng(seed)
    times = [0.01]
    while times[-1] < seconds - 0.03:
        t = times[-1]
        period = 1.0 / (f0(t) if callable(f0) else f0)
        times.append(t + period * (1.0 + jitter * rng.uniform(-np.sqrt(3), np.sqrt(3))))
    return np.asarray(times)


def vowel(
    times: np.ndarray,
    sr: int,
    seconds: float,
    vowel_name: str = "a",
    amplitudes: np.ndarray | None = None,
    snr_db: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The vowel excited at `times` (s) with pulse `amplitudes` (default all 1), scaled to a peak
    of 0.5, plus white noise `snr_db` below the voiced signal's power when given."""
    freqs, bands = VOWELS[vowel_name]
    n = int(round(seconds * sr))
    amplitudes = np.ones(len(times)) if amplitudes is None else np.asarray(amplitudes, dtype=np.float64)
    ring = int(0.03 * sr)
    start = np.ceil(times * sr).astype(np.int64)
    index = start[:, None] + np.arange(ring)[None, :]
    t = index / sr - times[:, None]  # time since each pulse, exactly
    response = tract_response(t, freqs, bands)
    inside = index < n
    y = np.bincount(index[inside], weights=(amplitudes[:, None] * response)[inside], minlength=n)[:n]
    y *= 0.5 / np.max(np.abs(y))
    if snr_db is not None:
        voiced_power = np.mean(y[int(times[0] * sr) : int(times[-1] * sr)] ** 2)
        y = y + np.random.default_rng(seed + 1).standard_normal(n) * np.sqrt(voiced_power / 10 ** (snr_db / 10))
    return y


def tract_response(t: np.ndarray, freqs, bands) -> np.ndarray:
    """Impulse response at times t (s) of the cascade of two-pole resonances at `freqs` with
    `bands` (Hz): the sum over poles p of residue(p) * exp(p t)."""
    poles = np.array([-np.pi * b + 2j * np.pi * f for f, b in zip(freqs, bands)])
    every = np.concatenate([poles, poles.conj()])
    response = np.zeros(t.shape)
    for p in poles:
        others = every[every != p]
        residue = 1.0 / np.prod(p - others)
        response += 2.0 * np.real(residue * np.exp(p * t))
    return response


def true_jitter(times: np.ndarray) -> float:
    """Jitter (local) of the pulse instants: mean |T[i+1] - T[i]| / mean T."""
    periods = np.diff(times)
    return float(np.mean(np.abs(np.diff(periods))) / np.mean(periods))


def true_shimmer_db(amplitudes: np.ndarray) -> float:
    """Shimmer (local, dB) of the pulse amplitudes: mean |20 log10(A[i+1] / A[i])|."""
    return float(np.mean(np.abs(20 * np.log10(amplitudes[1:] / amplitudes[:-1]))))
