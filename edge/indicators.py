"""Indicators: where a cue becomes light and vibration.

Every indicator has the same four calls: `show(cue)`, `error(message)`, `off()`, `close()`.
`show` never blocks the caller: rhythms and blinks play in background threads, and a new cue,
`off()` or `close()` stops them at once (the threads wait on an Event, not in sleep), so that
SIGTERM turns everything off within milliseconds.

- `GpioIndicator`: a gpiozero RGBLED (PWM colour and brightness) and a vibration motor on a
  PWMOutputDevice (its duty cycle is the motor's strength). Pins are BCM numbers.
- `SysfsLedIndicator`: Linux LED-class devices, `/sys/class/leds/<name>/brightness`; up to three
  for red, green and blue, or one plain LED that shows the brightness alone.
- `TerminalIndicator`: a live line in a terminal (a coloured block, the label, a confidence bar,
  the rhythm), plain lines when the output is not a terminal. What the demo shows.
- `NullIndicator`, and `MultiIndicator` to drive several at once.

`make_indicator(settings)` builds what the config asks for; where GPIO or sysfs cannot be opened
(gpiozero missing, no pin factory on this machine, no such LED) it logs a warning and falls back
to the terminal view, so the device always shows *something*.
"""

from __future__ import annotations

import logging
import numbers
import os
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterable, Mapping, TextIO

from .cues import OFF, Cue, CueSettings, Rhythm, error_cue
from .settings import Settings
from .errors import TonecueError

__all__ = [
    "GpioIndicator",
    "Indicator",
    "IndicatorError",
    "IndicatorSettings",
    "KINDS",
    "MultiIndicator",
    "NullIndicator",
    "SysfsLedIndicator",
    "TerminalIndicator",
    "make_indicator",
    "render_rhythm",
]

log = logging.getLogger(__name__)

KINDS = ("gpio", "sysfs", "terminal", "none")
SYSFS_LEDS = Path("/sys/class/leds")
NOT_FITTED = -1


class IndicatorError(TonecueError, ValueError):
    """Indicator settings that are malformed, or an indicator that cannot be opened."""


# --- settings -----------------------------------------------------------------------------------


def _check_pin(name: str, value: Any) -> Any:
    if isinstance(value, bool):
        raise IndicatorError(f"{name} must be a BCM pin number (or -1: not fitted), got {value!r}")
    if isinstance(value, numbers.Integral):
        if value == NOT_FITTED or 0 <= value <= 53:
            return int(value)
    elif isinstance(value, str) and value.strip():
        return value.strip()  # a gpiozero pin name such as "GPIO17" or "BOARD11"
    raise IndicatorError(f"{name} must be a BCM pin number 0..53, a gpiozero pin name, or -1 (not fitted); got {value!r}")


@dataclass(frozen=True)
class IndicatorSettings(Settings):
    """Which indicators to drive and where they are wired.

    kinds: ("terminal",)
        Any of "gpio", "sysfs", "terminal" (several at once), or "none".
    gpio_red, gpio_green, gpio_blue: 17, 27, 22
        BCM pins of the RGB LED's three legs (-1 for all three: no LED).
    gpio_motor: 18
        BCM pin driving the vibration motor's transistor (-1: no motor). Pin 18 has hardware PWM.
    gpio_active_high: True
        False for a common-anode RGB LED (a leg lights when its pin is low).
    motor_strength: 1.0
        PWM duty cycle of the motor while a pulse is on (0..1]; lower for a strong motor.
    sysfs_red, sysfs_green, sysfs_blue: "", "", ""
        Names under /sys/class/leds of a multi-colour LED's channels ("" = none).
    sysfs_mono: ""
        Name of a single-colour LED (e.g. a Pi's "ACT"), lit at the cue's brightness.
    """

    kinds: tuple[str, ...] = ("terminal",)
    gpio_red: Any = 17
    gpio_green: Any = 27
    gpio_blue: Any = 22
    gpio_motor: Any = 18
    gpio_active_high: bool = True
    motor_strength: float = 1.0
    sysfs_red: str = ""
    sysfs_green: str = ""
    sysfs_blue: str = ""
    sysfs_mono: str = ""

    DESCRIPTION: ClassVar[str] = "indicator settings"
    ERROR: ClassVar[type[ValueError]] = IndicatorError
    EXPECT: ClassVar[Mapping[str, str]] = {
        "motor_strength": "a number in (0, 1]",
        **{f"sysfs_{name}": 'an LED name under /sys/class/leds (or "")' for name in ("red", "green", "blue", "mono")},
    }

    def __post_init__(self) -> None:
        super().__post_init__()  # types
        kinds = self.kinds
        if isinstance(kinds, str) or not isinstance(kinds, (list, tuple)):
            raise IndicatorError(f"kinds must be a list of {list(KINDS)}, got {kinds!r}")
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise IndicatorError(f"kinds must be some of {list(KINDS)}, got {bad!r}")
        kinds = tuple(dict.fromkeys(k for k in kinds if k != "none"))  # keep order, drop repeats
        object.__setattr__(self, "kinds", kinds)
        for name in ("gpio_red", "gpio_green", "gpio_blue", "gpio_motor"):
            object.__setattr__(self, name, _check_pin(name, getattr(self, name)))
        led = [self.gpio_red, self.gpio_green, self.gpio_blue]
        if NOT_FITTED in led and led != [NOT_FITTED] * 3:
            raise IndicatorError("gpio_red, gpio_green and gpio_blue must all be pins, or all -1 (no LED)")
        pins = [p for p in led + [self.gpio_motor] if p != NOT_FITTED]
        if len(set(pins)) != len(pins):
            raise IndicatorError(f"gpio pins must differ, got red/green/blue/motor = {led + [self.gpio_motor]}")
        if not 0 < self.motor_strength <= 1:
            raise IndicatorError(self.must("motor_strength", self.motor_strength))
        for name in ("sysfs_red", "sysfs_green", "sysfs_blue", "sysfs_mono"):
            value = getattr(self, name)
            if "/" in value or value in (".", ".."):
                raise IndicatorError(self.must(name, value))

    @property
    def sysfs_names(self) -> dict[str, str]:
        return {"red": self.sysfs_red, "green": self.sysfs_green, "blue": self.sysfs_blue, "mono": self.sysfs_mono}


# --- the interface ------------------------------------------------------------------------------


class Indicator:
    """The base: subclasses implement `show`; `error`, `off` and `close` are built on it."""

    def __init__(self, cue_settings: CueSettings | None = None):
        self.cue_settings = cue_settings

    def show(self, cue: Cue) -> None:
        raise NotImplementedError

    def error(self, message: str) -> None:
        """Show the fault cue (a slow blink, no vibration) with this message."""
        self.show(error_cue(message, self.cue_settings))

    def off(self) -> None:
        """LED off and motor stopped, now."""
        self.show(OFF)

    def close(self) -> None:
        """Off, and release the hardware. Safe to call twice."""
        self.off()

    def __enter__(self) -> Indicator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Player:
    """Plays one sequence of (level, seconds) steps in a daemon thread; `stop()` cuts it short.
    Levels go to `write`; the last step's level stays unless `stop` or a new `play` changes it."""

    def __init__(self, write, name: str):
        self._write = write
        self._name = name
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def play(self, steps: list[tuple[Any, float]], repeat: bool = False) -> None:
        self.stop()
        self._stop = stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(steps, repeat, stop), name=self._name, daemon=True)
        self._thread.start()

    def _run(self, steps, repeat: bool, stop: threading.Event) -> None:
        try:
            while True:
                for level, seconds in steps:
                    self._write(level)
                    if stop.wait(seconds):
                        return
                if not repeat:
                    return
        except Exception:  # a write that fails in the thread must not die silently
            log.exception("%s failed", self._name)

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)


def _pulse_steps(rhythm: Rhythm, level: float) -> list[tuple[float, float]]:
    steps = []
    for on, off in rhythm:
        steps += [(level, on), (0.0, off)]
    return steps


# --- GPIO ---------------------------------------------------------------------------------------


class GpioIndicator(Indicator):
    """An RGB LED and a vibration motor through gpiozero (any pin factory, the mock one included).

    The LED's colour and brightness are PWM duty cycles per channel (`cue.rgb`); the error blink
    is gpiozero's own `RGBLED.blink`. The motor plays rhythms in a thread of its own at
    `motor_strength` duty.
    """

    def __init__(
        self,
        red: Any = 17,
        green: Any = 27,
        blue: Any = 22,
        motor: Any = 18,
        *,
        active_high: bool = True,
        motor_strength: float = 1.0,
        pin_factory: Any = None,
        cue_settings: CueSettings | None = None,
    ):
        super().__init__(cue_settings)
        from gpiozero import PWMOutputDevice, RGBLED  # only a device with GPIO needs gpiozero

        self.motor_strength = float(motor_strength)
        self.closed = False
        self.led = None
        self.motor = None
        try:
            if red != NOT_FITTED:
                self.led = RGBLED(red, green, blue, active_high=active_high, pwm=True, pin_factory=pin_factory)
            if motor != NOT_FITTED:
                self.motor = PWMOutputDevice(motor, frequency=200, pin_factory=pin_factory)
        except BaseException:
            self._release()
            raise
        self._player = _Player(self._motor_value, "tonecue-motor")

    @classmethod
    def from_settings(cls, settings: IndicatorSettings, **kwargs: Any) -> GpioIndicator:
        return cls(
            settings.gpio_red,
            settings.gpio_green,
            settings.gpio_blue,
            settings.gpio_motor,
            active_high=settings.gpio_active_high,
            motor_strength=settings.motor_strength,
            **kwargs,
        )

    def _motor_value(self, value: float) -> None:
        if self.motor is not None:
            self.motor.value = value

    def show(self, cue: Cue) -> None:
        if self.closed:
            raise IndicatorError("this GPIO indicator is closed")
        if cue.kind != "emotion" or cue.rhythm:
            self._player.stop()  # a new rhythm replaces the old; off and error silence the motor
            self._motor_value(0.0)
        if self.led is not None:
            if cue.kind == "error" and cue.blink:
                on, off = cue.blink
                self.led.blink(on_time=on, off_time=off, on_color=cue.rgb, off_color=(0, 0, 0), background=True)
            else:
                self.led.value = cue.rgb  # stops a running blink too
        if cue.rhythm and self.motor is not None:
            self._player.play(_pulse_steps(cue.rhythm, self.motor_strength))

    def close(self) -> None:
        if self.closed:
            return
        try:
            self.off()
        finally:
            self.closed = True
            self._release()

    def _release(self) -> None:
        for device in (self.led, self.motor):
            if device is not None:
                try:
                    device.close()
                except Exception:  # closing must go on to the next device
                    log.exception("closing %r failed", device)


# --- sysfs --------------------------------------------------------------------------------------


class _SysfsLed:
    """One LED-class device: takes it from its kernel trigger on open, gives it back on close."""

    def __init__(self, root: Path, name: str):
        self.name = name
        self.dir = root / name
        self.brightness = self.dir / "brightness"
        if not self.brightness.exists():
            raise IndicatorError(f"no LED {name!r}: {self.brightness} does not exist")
        try:
            self.max = int((self.dir / "max_brightness").read_text().strip())
        except (OSError, ValueError):
            self.max = 255
        self.max = max(self.max, 1)
        self._trigger_file = self.dir / "trigger"
        self._trigger: str | None = None
        if self._trigger_file.exists():
            # "none [mmc0] timer": the bracketed trigger drives the LED; take it over, restore later.
            text = self._trigger_file.read_text()
            chosen = [t[1:-1] for t in text.split() if t.startswith("[") and t.endswith("]")]
            self._trigger = chosen[0] if chosen else None
            if self._trigger not in (None, "none"):
                self._trigger_file.write_text("none")
        self.set(0.0)

    def set(self, level: float) -> None:
        self.brightness.write_text(f"{round(min(max(level, 0.0), 1.0) * self.max)}\n")

    def close(self) -> None:
        self.set(0.0)
        if self._trigger not in (None, "none"):
            self._trigger_file.write_text(self._trigger)


class SysfsLedIndicator(Indicator):
    """LEDs under /sys/class/leds: red/green/blue channels of one LED, and/or one plain LED.
    (Writing there needs root or a udev rule; the service runs with the needed rights.)"""

    def __init__(
        self,
        red: str = "",
        green: str = "",
        blue: str = "",
        mono: str = "",
        *,
        root: str | os.PathLike = SYSFS_LEDS,
        cue_settings: CueSettings | None = None,
    ):
        super().__init__(cue_settings)
        root = Path(root)
        self.channels: dict[str, _SysfsLed] = {}
        try:
            for channel, name in (("red", red), ("green", green), ("blue", blue), ("mono", mono)):
                if name:
                    self.channels[channel] = _SysfsLed(root, name)
        except BaseException:
            for led in self.channels.values():
                led.close()
            raise
        if not self.channels:
            raise IndicatorError("no sysfs LED named (set sysfs_red/green/blue or sysfs_mono)")
        self._player = _Player(self._write, "tonecue-sysfs-blink")

    @classmethod
    def from_settings(cls, settings: IndicatorSettings, **kwargs: Any) -> SysfsLedIndicator:
        return cls(**settings.sysfs_names, **kwargs)

    def _write(self, rgb: tuple[float, float, float]) -> None:
        levels = {"red": rgb[0], "green": rgb[1], "blue": rgb[2], "mono": max(rgb)}
        for channel, led in self.channels.items():
            led.set(levels[channel])

    def show(self, cue: Cue) -> None:
        self._player.stop()
        if cue.kind == "error" and cue.blink:
            on, off = cue.blink
            self._player.play([(cue.rgb, on), ((0.0, 0.0, 0.0), off)], repeat=True)
        else:
            self._write(cue.rgb)

    def close(self) -> None:
        self._player.stop()
        channels, self.channels = self.channels, {}
        for led in channels.values():
            try:
                led.close()
            except OSError:
                log.exception("turning off sysfs LED %s failed", led.name)


# --- terminal -----------------------------------------------------------------------------------


def render_rhythm(rhythm: Rhythm, on: str = "━", gap: str = " ", step: float = 0.1) -> str:
    """A rhythm as text, one character per `step` seconds (at least one per pulse and gap)."""
    parts = []
    for i, (on_s, off_s) in enumerate(rhythm):
        parts.append(on * max(1, round(on_s / step)))
        if i < len(rhythm) - 1:
            parts.append(gap * max(1, round(off_s / step)))
    return "".join(parts)


class TerminalIndicator(Indicator):
    """A live line in a terminal: coloured block, label, confidence bar and rhythm. On a
    terminal the line is redrawn in place (colour unless NO_COLOR is set); elsewhere (a pipe, a
    log) each cue is one plain line. When the reader of a pipe goes away, the BrokenPipeError is
    raised once, for the caller to stop on, and later calls write nothing."""

    BAR = 10

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        live: bool | None = None,
        color: bool | None = None,
        cue_settings: CueSettings | None = None,
    ):
        super().__init__(cue_settings)
        self.stream = sys.stdout if stream is None else stream
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.live = tty if live is None else live
        self.color = (self.live and "NO_COLOR" not in os.environ) if color is None else color
        encoding = (getattr(self.stream, "encoding", None) or "ascii").lower()
        self.unicode = self.live and "utf" in encoding
        self._dirty = False
        self._reader_gone = False

    def format(self, cue: Cue) -> str:
        u = self.unicode
        if cue.kind == "error":
            block = self._block(cue.rgb, blink=True)
            return f"{block} ERROR  {cue.message or ''}".rstrip()
        if cue.kind == "off":
            return f"{self._block((0.0, 0.0, 0.0))} {'·' if u else '-'}  (no voice)"
        if cue.kind == "unsure":
            return f"{self._block(cue.rgb)} {'·' if u else '-'}  (voice, not sure)"
        filled = round(cue.confidence * self.BAR)
        bar = ("█" * filled + "░" * (self.BAR - filled)) if u else ("#" * filled + "-" * (self.BAR - filled))
        rhythm = render_rhythm(cue.pattern, "━" if u else "=") if cue.pattern else ""
        buzz = (" ◀ buzz" if u else " <- buzz") if cue.vibrate else ""
        return f"{self._block(cue.rgb)} {cue.label:<8} {bar} {cue.confidence:4.0%}  {rhythm}{buzz}"

    def _block(self, rgb: tuple[float, float, float], blink: bool = False) -> str:
        if not self.color:
            return "[####]" if any(c > 0 for c in rgb) else "[    ]"
        r, g, b = (round(255 * c) for c in rgb)
        return f"\x1b[{'5;' if blink else ''}48;2;{r};{g};{b}m    \x1b[0m"

    def _write(self, text: str) -> None:
        if self._reader_gone:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            self._reader_gone = True  # `tonecue run | head`: nobody reads any more
            raise

    def show(self, cue: Cue) -> None:
        line = self.format(cue)
        if self.live:
            self._write("\r\x1b[2K" + line)
            self._dirty = True
        else:
            self._write(line + "\n" if cue.time is None else f"{cue.time:8.2f}s  {line}\n")

    def close(self) -> None:
        if self._dirty:
            self._dirty = False
            self._write("\n")  # leave the last view on screen, the prompt below it


class NullIndicator(Indicator):
    """Shows nothing (a headless test run, or `kinds = ["none"]`)."""

    def show(self, cue: Cue) -> None:
        pass


class MultiIndicator(Indicator):
    """Several indicators at once. One that fails is logged and the others carry on: a broken
    LED must not silence the motor. A terminal view whose reader went away (BrokenPipeError) is
    not a fault of the device: it is raised, after the others have had the call."""

    def __init__(self, indicators: Iterable[Indicator], cue_settings: CueSettings | None = None):
        super().__init__(cue_settings)
        self.indicators = list(indicators)

    def _each(self, call: str, *args: Any) -> None:
        reader_gone = None
        for indicator in self.indicators:
            try:
                getattr(indicator, call)(*args)
            except BrokenPipeError as exc:
                reader_gone = exc
            except Exception:
                log.exception("%s.%s failed", type(indicator).__name__, call)
        if reader_gone is not None:
            raise reader_gone

    def show(self, cue: Cue) -> None:
        self._each("show", cue)

    def error(self, message: str) -> None:
        self._each("error", message)

    def off(self) -> None:
        self._each("off")

    def close(self) -> None:
        self._each("close")


# --- the factory --------------------------------------------------------------------------------


def make_indicator(
    settings: IndicatorSettings | None = None,
    cue_settings: CueSettings | None = None,
    *,
    stream: TextIO | None = None,
    sysfs_root: str | os.PathLike = SYSFS_LEDS,
    pin_factory: Any = None,
) -> Indicator:
    """The indicators `settings.kinds` asks for, in that order. GPIO or sysfs that cannot be
    opened is replaced by the terminal view (once), with a warning saying why."""
    settings = IndicatorSettings() if settings is None else settings
    built: list[Indicator] = []
    want_terminal = "terminal" in settings.kinds
    for kind in settings.kinds:
        try:
            if kind == "gpio":
                built.append(_open_gpio(settings, cue_settings, pin_factory))
            elif kind == "sysfs":
                built.append(SysfsLedIndicator.from_settings(settings, root=sysfs_root, cue_settings=cue_settings))
            elif kind == "terminal":
                built.append(TerminalIndicator(stream, cue_settings=cue_settings))
        except Exception as exc:  # the hardware's many ways of being absent
            fallback = "" if want_terminal else "; showing cues in the terminal instead"
            log.warning("%s indicator unavailable (%s: %s)%s", kind, type(exc).__name__, exc, fallback)
            if not want_terminal:
                want_terminal = True
                built.append(TerminalIndicator(stream, cue_settings=cue_settings))
    if not built:
        return NullIndicator(cue_settings)
    if len(built) == 1:
        return built[0]
    return MultiIndicator(built, cue_settings)


def _open_gpio(settings: IndicatorSettings, cue_settings: CueSettings | None, pin_factory: Any) -> GpioIndicator:
    with warnings.catch_warnings():
        # gpiozero warns once per pin library it tries; the outcome is what matters here.
        warnings.filterwarnings("ignore", message="Falling back")
        return GpioIndicator.from_settings(settings, pin_factory=pin_factory, cue_settings=cue_settings)
