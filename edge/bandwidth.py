"""Does the input carry the frequencies the model needs?

A model trained on wide-band speech reads the upper mel bands too. Audio from a phone line or a
cheap headset (8 or 11 kHz) upsampled to the model's rate has nothing there, and the model then
answers the same confident label whatever is said. The device cannot fix that, but it must say so
and stay quiet rather than cue nonsense.

The check looks at the band just below the model's required bandwidth (80 to 95 % of it) in the
first loud windows of a stream. Any real wide-band channel has something there (speech, or at
least the microphone's own hiss); an upsampled narrow-band one has only the resampler's residue,
more than 100 dB down. A window that shows the band settles it at once (so wide-band input loses
nothing); `windows_needed` windows without it settle the other way. Until then nothing is judged,
and the verdict holds for the stream.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BandwidthCheck"]

SEGMENT = 4096  # samples of a window looked at (its centre): enough resolution, little cost
MIN_SHARE = 1e-7  # -70 dB of the segment's power in the band: less is no signal at all


class BandwidthCheck:
    def __init__(self, sample_rate: int, required_hz: float, windows_needed: int = 3):
        self.sample_rate = int(sample_rate)
        self.required_hz = float(required_hz)
        self.windows_needed = windows_needed
        freqs = np.fft.rfftfreq(SEGMENT, 1.0 / self.sample_rate)
        self._band = (freqs >= 0.8 * self.required_hz) & (freqs <= 0.95 * self.required_hz)
        self._taper = np.hanning(SEGMENT).astype(np.float64)
        self.reset()

    def reset(self) -> None:
        self._seen = 0
        self._band_power = 0.0
        self._total_power = 0.0
        self.verdict: bool | None = None  # None: not decided yet; True: the band is there

    @property
    def band_limited(self) -> bool:
        return self.verdict is False

    def update(self, window: np.ndarray) -> bool | None:
        """Look at one loud window (until the verdict is in); returns the verdict so far."""
        if self.verdict is not None or not self._band.any():
            return self.verdict
        middle = (len(window) - SEGMENT) // 2
        segment = np.asarray(window[max(middle, 0) : max(middle, 0) + SEGMENT], dtype=np.float64)
        if len(segment) < SEGMENT:
            return self.verdict
        power = np.abs(np.fft.rfft(segment * self._taper)) ** 2
        self._band_power += float(power[self._band].sum())
        self._total_power += float(power.sum())
        self._seen += 1
        if self._total_power > 0 and self._band_power / self._total_power >= MIN_SHARE:
            self.verdict = True
        elif self._seen >= self.windows_needed:
            self.verdict = False
        return self.verdict

    def message(self) -> str:
        return (
            f"the input carries nothing near {self.required_hz / 1000:.1f} kHz (a phone line or a "
            f"narrow-band microphone?), but this model needs audio up to {self.required_hz / 1000:.1f} kHz: "
            "it cannot judge this voice, so no emotion is shown; use a wide-band microphone "
            "(a sample rate of at least twice that) or a model trained on narrow-band audio"
        )
