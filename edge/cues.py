"""Cues as data: what the wearer sees (a colour, its brightness) and feels (a vibration rhythm).

A rhythm is a tuple of (on_seconds, off_seconds) pulses played once when the shown emotion changes.
The defaults differ in what skin tells apart best without looking — the number of pulses, their
length and their tempo — rather than in motor strength, which is hard to judge on the body:

- **angry**: three rapid short buzzes (0.12 s on, 0.08 s off) — urgent, like a knock.
- **happy**: two bouncy pulses (0.2 s, a 0.15 s gap, 0.2 s) — a da-dum.
- **sad**: one long slow pulse (1 s) — nothing else lasts as long.
- **neutral**: one short tick (0.1 s) — the least intrusive cue for the most common state.

Pulses are at least 0.08 s because a coin or ERM motor needs about 50 ms to spin up; gaps are at
least 0.08 s so that pulses are felt apart. Colours follow common associations (red, yellow, blue,
white) and the error cue — a slow amber blink without vibration — never vibrates, so a fault can
not be mistaken for an emotion by someone who only feels the device.

Researchers who retrain with other classes give patterns for their labels in the config file;
a label without one gets a generated colour and rhythm, distinct from the others, and a warning.
"""

from __future__ import annotations

import colorsys
import dataclasses
import logging
import math
import numbers
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

from .decision import Decision
from .settings import Settings
from .errors import TonecueError

__all__ = [
    "Cue",
    "CueError",
    "CuePattern",
    "CuePlanner",
    "CueSettings",
    "DEFAULT_PATTERNS",
    "error_cue",
    "generated_pattern",
]

log = logging.getLogger(__name__)

Rhythm = tuple[tuple[float, float], ...]
RGB = tuple[int, int, int]

#: The longest rhythm accepted; a cue that buzzes for longer is a nag, not a cue.
MAX_RHYTHM_SECONDS = 5.0


class CueError(TonecueError, ValueError):
    """A cue setting that is malformed or out of range."""


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


def parse_color(value: Any, name: str = "color") -> RGB:
    """A colour from "#rrggbb" or [r, g, b] with 0..255 integers."""
    if isinstance(value, str):
        match = re.fullmatch(r"#?([0-9a-fA-F]{6})", value.strip())
        if not match:
            raise CueError(f'{name} must be "#rrggbb" or [r, g, b] with 0..255 each, got {value!r}')
        h = match.group(1)
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    if isinstance(value, (list, tuple)) and len(value) == 3:
        if all(isinstance(c, numbers.Integral) and not isinstance(c, bool) and 0 <= c <= 255 for c in value):
            return (int(value[0]), int(value[1]), int(value[2]))
    raise CueError(f'{name} must be "#rrggbb" or [r, g, b] with 0..255 each, got {value!r}')


def color_hex(color: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def parse_rhythm(value: Any, name: str = "rhythm") -> Rhythm:
    """A rhythm from a sequence of [on_seconds, off_seconds] pairs (empty = no vibration)."""
    expected = f"{name} must be a list of [on_seconds, off_seconds] pairs"
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise CueError(f"{expected}, got {value!r}")
    pulses = []
    for i, pulse in enumerate(value):
        if isinstance(pulse, (str, bytes)) or not isinstance(pulse, Sequence) or len(pulse) != 2:
            raise CueError(f"{expected}; pulse {i} is {pulse!r}")
        on, off = pulse
        if not (_is_number(on) and _is_number(off)) or on <= 0 or off < 0:
            raise CueError(f"{expected} with on > 0 and off >= 0 seconds; pulse {i} is {pulse!r}")
        pulses.append((float(on), float(off)))
    total = sum(on + off for on, off in pulses)
    if total > MAX_RHYTHM_SECONDS:
        raise CueError(f"{name} lasts {total:g} s; at most {MAX_RHYTHM_SECONDS:g} s is allowed")
    return tuple(pulses)


def rhythm_seconds(rhythm: Rhythm) -> float:
    return sum(on + off for on, off in rhythm)


@dataclass(frozen=True)
class CuePattern(Settings):
    """One label's cue: an RGB colour (0..255 each, at full brightness) and a vibration rhythm."""

    color: RGB
    rhythm: Rhythm

    DESCRIPTION: ClassVar[str] = "cue pattern"
    ERROR: ClassVar[type[ValueError]] = CueError

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "color", parse_color(self.color))
        object.__setattr__(self, "rhythm", parse_rhythm(self.rhythm))

    def to_dict(self) -> dict[str, Any]:
        return {"color": color_hex(self.color), "rhythm": [list(p) for p in self.rhythm]}


DEFAULT_PATTERNS: dict[str, CuePattern] = {
    "angry": CuePattern((255, 0, 0), ((0.12, 0.08), (0.12, 0.08), (0.12, 0.0))),
    "happy": CuePattern((255, 200, 0), ((0.2, 0.15), (0.2, 0.0))),
    "sad": CuePattern((0, 64, 255), ((1.0, 0.0),)),
    "neutral": CuePattern((255, 255, 255), ((0.1, 0.0),)),
}

# Rhythms handed to labels without a pattern, in order; any equal to one in use are skipped.
_GENERATED_RHYTHMS: tuple[Rhythm, ...] = tuple(
    tuple((on, 0.15) for _ in range(count - 1)) + ((on, 0.0),)
    for on in (0.4, 0.1, 0.25, 0.6)
    for count in (1, 2, 3, 4)
)


def generated_pattern(index: int, used: Sequence[CuePattern] = ()) -> CuePattern:
    """The `index`-th generated pattern: a hue stepped by the golden angle (neighbours far apart
    on the colour wheel) and a rhythm from a fixed list, skipping rhythms already `used`."""
    hue = (0.11 + index * 0.381966) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 1.0, 1.0)
    taken = {p.rhythm for p in used}
    free = [r_ for r_ in _GENERATED_RHYTHMS if r_ not in taken] or list(_GENERATED_RHYTHMS)
    return CuePattern((round(r * 255), round(g * 255), round(b * 255)), free[index % len(free)])


def _pattern(label: Any, value: Any) -> tuple[str, CuePattern]:
    """(label, pattern) from a configured pattern: a table may leave out what the label's
    built-in pattern has (e.g. change only the colour of "sad")."""
    if not isinstance(label, str) or not label:
        raise CueError(f"pattern labels must be non-empty strings, got {label!r}")
    if isinstance(value, CuePattern):
        return label, value
    built_in = DEFAULT_PATTERNS.get(label)
    try:
        return label, CuePattern.from_dict(value) if built_in is None else built_in.override(value)
    except CueError as exc:
        if built_in is None and isinstance(value, Mapping) and set(value) < {"color", "rhythm"}:
            raise CueError(f"patterns.{label}: {exc} ({label!r} has no built-in pattern to fill in the rest)") from None
        raise CueError(f"patterns.{label}: {exc}") from None


@dataclass(frozen=True)
class CueSettings(Settings):
    """Every cue setting, frozen and serialisable.

    patterns: the four seed labels' DEFAULT_PATTERNS
        Colour and rhythm per label, as a mapping (stored sorted as (label, CuePattern) pairs).
        `from_dict` (the config file) adds its patterns to the defaults, overriding same names.
        A pattern given as a table for one of the four built-in labels may leave keys out: they
        keep the built-in pattern's (so `[cues.patterns.sad] color = "#8000ff"` keeps sad's rhythm).
    min_brightness: 0.15, max_brightness: 1.0
        LED brightness (0..1) at confidence 0 and 1; linear in between. The minimum keeps a shown
        cue visible even when the model is unsure.
    brightness_step: 0.1
        The LED is re-set when brightness would move by at least this much (not every window).
    cooldown_seconds: 3.0
        The motor never starts a rhythm sooner than this after the last one started; a change
        during the cooldown buzzes when it ends, if its emotion is still shown.
    repeat_seconds: 10.0
        An emotion shown again within this long of its own last vibration (the same voice after
        a pause, or after a moment of "not sure") lights the LED without vibrating again: a
        vibration tells of a change of emotion, not of every sentence. 0 vibrates every time.
    vibrate_confidence: 0.9
        The motor starts a new emotion's rhythm only once its smoothed confidence reaches this; until
        then the LED shows it (dimmer) and the buzz waits. A wrong buzz costs the wearer more than
        a wrong colour they can glance at, so the motor asks for more than the LED's threshold
        (chosen on the conversation benchmark, `benchmarks/results/decision-sweep.md`: wrong
        vibrations 1.7 -> 0.3 a minute clean on its test half, right ones 5.0 -> 2.5, with the
        model before today's, klr-paraling-mfcc; today's sweep, at its own settings, would take
        0.85). 0: every shown cue.
    error_color: "#ff8000" (amber), error_blink: (0.5, 1.5)
        The fault cue (no microphone, no model): a slow blink of this colour, on and off seconds.
        It never vibrates.
    unsure_color: "#ffffff", unsure_brightness: 0.05, unsure_hold_seconds: 1.5
        "A voice, but no emotion is sure enough": a dim glow of this colour, never a vibration, so
        that a wearer can tell "someone is talking" from "nobody is" and from a real answer. It
        stays this long after the last voiced window, over the pauses between words.
    """

    patterns: Any = dataclasses.field(default_factory=lambda: dict(DEFAULT_PATTERNS))
    min_brightness: float = 0.15
    max_brightness: float = 1.0
    brightness_step: float = 0.1
    cooldown_seconds: float = 3.0
    repeat_seconds: float = 10.0
    vibrate_confidence: float = 0.9
    error_color: RGB = (255, 128, 0)
    error_blink: tuple[float, float] = (0.5, 1.5)
    unsure_color: RGB = (255, 255, 255)
    unsure_brightness: float = 0.05
    unsure_hold_seconds: float = 1.5

    DESCRIPTION: ClassVar[str] = "cue settings"
    ERROR: ClassVar[type[ValueError]] = CueError

    def __post_init__(self) -> None:
        super().__post_init__()  # types
        patterns = self.patterns
        if isinstance(patterns, Mapping):
            patterns = patterns.items()
        pairs = [_pattern(label, pattern) for label, pattern in patterns]
        if len({label for label, _ in pairs}) != len(pairs):
            raise CueError("patterns name a label twice")
        object.__setattr__(self, "patterns", tuple(sorted(pairs)))

        problems = []
        if not 0 <= self.min_brightness <= self.max_brightness <= 1:
            problems.append(
                f"need 0 <= min_brightness <= max_brightness <= 1, got "
                f"min_brightness {self.min_brightness}, max_brightness {self.max_brightness}"
            )
        if not 0 < self.brightness_step <= 1:
            problems.append(f"brightness_step must be in (0, 1], got {self.brightness_step}")
        if self.cooldown_seconds < 0:
            problems.append(f"cooldown_seconds must be >= 0, got {self.cooldown_seconds}")
        if self.repeat_seconds < 0:
            problems.append(f"repeat_seconds must be >= 0, got {self.repeat_seconds}")
        if not 0 <= self.vibrate_confidence <= 1:
            problems.append(f"vibrate_confidence must be in [0, 1], got {self.vibrate_confidence}")
        for name in ("error_color", "unsure_color"):
            try:
                object.__setattr__(self, name, parse_color(getattr(self, name), name))
            except CueError as exc:
                problems.append(str(exc))
        if not 0 <= self.unsure_brightness <= 1:
            problems.append(f"unsure_brightness must be in [0, 1], got {self.unsure_brightness}")
        if self.unsure_hold_seconds < 0:
            problems.append(f"unsure_hold_seconds must be >= 0, got {self.unsure_hold_seconds}")
        blink = self.error_blink
        if (
            isinstance(blink, (str, bytes))
            or not isinstance(blink, Sequence)
            or len(blink) != 2
            or not all(_is_number(x) and x > 0 for x in blink)
        ):
            problems.append(f"error_blink must be [on_seconds, off_seconds], both > 0, got {blink!r}")
        else:
            object.__setattr__(self, "error_blink", (float(blink[0]), float(blink[1])))
        self.refuse(problems)

    @property
    def pattern_map(self) -> dict[str, CuePattern]:
        return dict(self.patterns)

    def brightness(self, confidence: float) -> float:
        """LED brightness for a confidence in [0, 1] (clipped)."""
        c = min(max(float(confidence), 0.0), 1.0)
        return self.min_brightness + (self.max_brightness - self.min_brightness) * c

    def patterns_for(self, labels: Sequence[str]) -> dict[str, CuePattern]:
        """A pattern for every label: the configured one, or a generated one (with a warning)."""
        known = self.pattern_map
        result = {label: known[label] for label in labels if label in known}
        missing = [label for label in labels if label not in known]
        for i, label in enumerate(missing):
            result[label] = generated_pattern(i, list(result.values()))
            log.warning(
                "no cue pattern for label %r; using colour %s and rhythm %s "
                "(set [cues.patterns.%s] in the config file to choose one)",
                label, color_hex(result[label].color), [list(p) for p in result[label].rhythm], label,
            )
        rhythms: dict[Rhythm, str] = {}
        for label in labels:
            other = rhythms.setdefault(result[label].rhythm, label)
            if other != label:
                log.warning("labels %r and %r vibrate alike: a wearer cannot tell them apart by feel", other, label)
        return {label: result[label] for label in labels}

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "patterns": {label: p.to_dict() for label, p in self.patterns},
            "error_color": color_hex(self.error_color),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CueSettings:
        cls.check_keys(data)
        data = dict(data)
        if "patterns" in data:
            given = data["patterns"]
            if not isinstance(given, Mapping):
                raise CueError(f"patterns must be a table of label = {{color, rhythm}}, got {given!r}")
            data["patterns"] = {**DEFAULT_PATTERNS, **given}
        return super().from_dict(data)


@dataclass(frozen=True)
class Cue:
    """One instruction to the indicators.

    kind: "emotion" (show `color` at `brightness`, solid), "unsure" (a voice but no confident
        emotion: `color` dimly at `brightness`, motor stopped), "off" (LED off, motor stopped) or
        "error" (blink `color` at `blink` = (on, off) seconds, motor stopped).
    label: the emotion, or None.
    color: RGB 0..255 at full brightness; `rgb` is what the LED shows (0..1 per channel).
    pattern: the label's rhythm; `vibrate` says whether to play it now (a cue that only updates
        the brightness, or one inside the motor's cooldown, does not vibrate). `rhythm` is what to
        play: `pattern` or ().
    """

    kind: str
    label: str | None = None
    color: RGB = (0, 0, 0)
    brightness: float = 0.0
    confidence: float = 0.0
    pattern: Rhythm = ()
    vibrate: bool = False
    blink: tuple[float, float] | None = None
    message: str | None = None
    time: float | None = None

    @property
    def rhythm(self) -> Rhythm:
        return self.pattern if self.vibrate else ()

    @property
    def rgb(self) -> tuple[float, float, float]:
        """Per-channel LED level in 0..1: the colour scaled by the brightness."""
        if self.kind == "off":
            return (0.0, 0.0, 0.0)
        scale = self.brightness if self.kind in ("emotion", "unsure") else 1.0
        return tuple(min(1.0, c / 255.0 * scale) for c in self.color)  # type: ignore[return-value]


OFF = Cue(kind="off")


def error_cue(message: str, settings: CueSettings | None = None, now: float | None = None) -> Cue:
    """The fault cue: a slow blink of the error colour, no vibration."""
    s = CueSettings() if settings is None else settings
    return Cue(kind="error", color=s.error_color, brightness=1.0, blink=s.error_blink, message=message, time=now)


class CuePlanner:
    """Turns decisions into cues: a cue when the shown emotion changes, when its brightness has
    moved by `brightness_step`, or when a vibration deferred by the cooldown becomes due; None
    otherwise. Deterministic: the clock is passed in."""

    def __init__(self, settings: CueSettings | None = None, labels: Sequence[str] | None = None):
        self.settings = CueSettings() if settings is None else settings
        if not isinstance(self.settings, CueSettings):
            raise CueError(f"expected CueSettings, got {type(self.settings).__name__}")
        self._patterns: dict[str, CuePattern] | None = None
        if labels is not None:
            self._patterns = self.settings.patterns_for(tuple(labels))
        self._buzzed: dict[str, float] = {}  # label -> when it last vibrated (kept over reset())
        self.reset()

    def reset(self) -> None:
        """Forget what is shown (when indicators were re-opened): the next `plan` sends the
        current state as new, vibration included (cooldown permitting; the cooldown is kept)."""
        self._shown: Cue | None = None
        self._pending_buzz = False
        self._last_voice = -float("inf")

    def pattern(self, label: str) -> CuePattern:
        if self._patterns is None or label not in self._patterns:
            labels = list(self._patterns or {}) + [label]
            self._patterns = self.settings.patterns_for(labels)
        return self._patterns[label]

    def error(self, message: str, now: float) -> Cue:
        """The fault cue; the next `plan` after it re-sends the current state."""
        self.reset()
        self._shown = error_cue(message, self.settings, now)
        return self._shown

    def plan(self, decision: Decision, now: float) -> Cue | None:
        if self._patterns is None and decision.labels:
            self._patterns = self.settings.patterns_for(decision.labels)
        shown = self._shown
        if decision.voiced:
            self._last_voice = now
        if decision.label is None:
            self._pending_buzz = False
            kind = "unsure" if now - self._last_voice <= self.settings.unsure_hold_seconds else "off"
            if shown is not None and shown.kind == kind:
                return None
            if kind == "off":
                self._shown = Cue(kind="off", time=now)
            else:
                s = self.settings
                self._shown = Cue(kind="unsure", color=s.unsure_color, brightness=s.unsure_brightness, time=now)
            return self._shown

        s = self.settings
        pattern = self.pattern(decision.label)
        brightness = s.brightness(decision.confidence)
        new_label = shown is None or shown.kind != "emotion" or shown.label != decision.label
        if new_label:
            # A change of emotion wants a buzz, unless the display was only restored after a fault
            # or the same emotion buzzed a moment ago (it comes back after a pause).
            recent = now - self._buzzed.get(decision.label, -math.inf) < s.repeat_seconds
            self._pending_buzz = (shown is None or shown.kind != "error" or decision.changed) and not recent
        cooling = now - max(self._buzzed.values(), default=-math.inf) < s.cooldown_seconds
        sure = decision.confidence >= s.vibrate_confidence
        vibrate = self._pending_buzz and bool(pattern.rhythm) and not cooling and sure
        if not (new_label or vibrate or abs(brightness - shown.brightness) >= s.brightness_step - 1e-9):
            return None
        if vibrate:
            self._buzzed[decision.label] = now
            self._pending_buzz = False
        self._shown = Cue(
            kind="emotion",
            label=decision.label,
            color=pattern.color,
            brightness=brightness,
            confidence=decision.confidence,
            pattern=pattern.rhythm,
            vibrate=vibrate,
            time=now,
        )
        return self._shown
