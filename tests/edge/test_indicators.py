"""Indicators: gpiozero's mock pins (states and their timing), a fake sysfs tree, the terminal."""

from __future__ import annotations

import io
import logging
import os
import sys
import time

import pytest

from tonecue.edge.cues import DEFAULT_PATTERNS, OFF, Cue, CueSettings, error_cue
from tonecue.edge.indicators import (
    GpioIndicator,
    Indicator,
    IndicatorError,
    IndicatorSettings,
    MultiIndicator,
    NullIndicator,
    SysfsLedIndicator,
    TerminalIndicator,
    make_indicator,
    render_rhythm,
)

RED, GREEN, BLUE, MOTOR = 17, 27, 22, 18


def emotion(label="angry", brightness=0.8, vibrate=True, confidence=0.76) -> Cue:
    p = DEFAULT_PATTERNS[label]
    return Cue("emotion", label, p.color, brightness, confidence, p.rhythm, vibrate, time=1.0)


def wait_for(condition, timeout=2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


# ------------------------------------------------------------------------------------ settings


def test_indicator_settings():
    s = IndicatorSettings()
    assert s.kinds == ("terminal",)
    assert (s.gpio_red, s.gpio_green, s.gpio_blue, s.gpio_motor) == (RED, GREEN, BLUE, MOTOR)
    assert IndicatorSettings.from_dict(s.to_dict()) == s
    assert IndicatorSettings(kinds=["gpio", "terminal", "gpio", "none"]).kinds == ("gpio", "terminal")
    assert IndicatorSettings(gpio_red=-1, gpio_green=-1, gpio_blue=-1).gpio_red == -1
    assert IndicatorSettings(gpio_motor="GPIO12").gpio_motor == "GPIO12"
    for bad, message in [
        ({"kinds": "gpio"}, "kinds must be a list"),
        ({"kinds": ["lcd"]}, "kinds must be some of"),
        ({"gpio_red": 99}, "gpio_red must be a BCM pin"),
        ({"gpio_motor": True}, "gpio_motor must be a BCM pin"),
        ({"gpio_red": -1}, "all -1"),
        ({"gpio_motor": 17}, "pins must differ"),
        ({"motor_strength": 0}, r"motor_strength must be a number in \(0, 1\], got 0"),
        ({"motor_strength": "full"}, r"motor_strength must be a number in \(0, 1\], got 'full'"),
        ({"gpio_active_high": 1}, "gpio_active_high"),
        ({"sysfs_red": "../x"}, "sysfs_red"),
    ]:
        with pytest.raises(IndicatorError, match=message):
            IndicatorSettings(**bad)
    with pytest.raises(IndicatorError, match=r"indicator settings: unknown key 'buzzer'; this tonecue does not know it"):
        IndicatorSettings.from_dict({"buzzer": 12})
    with pytest.raises(IndicatorError, match=r"unknown key 'gpio_moter' \(did you mean 'gpio_motor'\?\)"):
        IndicatorSettings.from_dict({"gpio_moter": 12})


def test_render_rhythm():
    assert render_rhythm(DEFAULT_PATTERNS["angry"].rhythm, "=") == "= = ="
    assert render_rhythm(DEFAULT_PATTERNS["happy"].rhythm, "=") == "== =="
    assert render_rhythm(DEFAULT_PATTERNS["sad"].rhythm, "=") == "=" * 10
    assert render_rhythm(DEFAULT_PATTERNS["neutral"].rhythm, "=") == "="


# ------------------------------------------------------------------------------------ gpio

@pytest.fixture
def factory():
    pytest.importorskip("gpiozero")
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    previous = Device.pin_factory
    Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


@pytest.fixture
def gpio(factory):
    indicator = GpioIndicator(RED, GREEN, BLUE, MOTOR)
    yield indicator
    indicator.close()


def levels(factory, *pins):
    return tuple(factory.pin(p).state for p in pins)


def test_led_duty_cycles_are_the_colour_scaled_by_confidence(factory, gpio):
    settings = CueSettings()
    for label, confidence in (("happy", 1.0), ("happy", 0.3), ("sad", 0.6), ("neutral", 0.0)):
        pattern = DEFAULT_PATTERNS[label]
        cue = Cue("emotion", label, pattern.color, settings.brightness(confidence), confidence, pattern.rhythm)
        gpio.show(cue)
        expected = tuple(c / 255 * (0.15 + 0.85 * confidence) for c in pattern.color)
        assert levels(factory, RED, GREEN, BLUE) == pytest.approx(expected)
    assert levels(factory, MOTOR) == (0.0,)  # vibrate=False: the motor stays still


def test_angry_rhythm_on_the_motor_pin_has_its_durations(factory, gpio):
    motor = factory.pin(MOTOR)
    motor.clear_states()
    started = time.monotonic()
    gpio.show(emotion("angry"))
    assert time.monotonic() - started < 0.05  # show() does not wait for the rhythm
    assert levels(factory, RED, GREEN, BLUE) == pytest.approx((0.8, 0.0, 0.0))
    wait_for(lambda: len(motor.states) >= 7)
    motor.assert_states_and_times(
        [(0.0, 0.0), (0.0, 1.0), (0.12, 0.0), (0.08, 1.0), (0.12, 0.0), (0.08, 1.0), (0.12, 0.0)]
    )
    time.sleep(0.1)
    assert len(motor.states) == 7 and motor.state == 0.0  # played once, then still


def test_sad_is_one_long_pulse_at_the_motor_strength(factory):
    indicator = GpioIndicator(RED, GREEN, BLUE, MOTOR, motor_strength=0.6)
    motor = factory.pin(MOTOR)
    motor.clear_states()
    indicator.show(emotion("sad"))
    wait_for(lambda: len(motor.states) >= 3)
    motor.assert_states_and_times([(0.0, 0.0), (0.0, 0.6), (1.0, 0.0)])
    indicator.close()


def test_a_new_rhythm_replaces_the_old_and_off_is_immediate(factory, gpio):
    motor = factory.pin(MOTOR)
    gpio.show(emotion("sad"))  # a 1 s pulse
    wait_for(lambda: motor.state == 1.0)
    time.sleep(0.1)
    motor.clear_states()
    gpio.show(emotion("neutral"))
    wait_for(lambda: len(motor.states) >= 4)
    motor.assert_states_and_times([(0.0, 1.0), (0.0, 0.0), (0.0, 1.0), (0.1, 0.0)])
    gpio.show(emotion("sad"))
    wait_for(lambda: motor.state == 1.0)
    started = time.monotonic()
    gpio.off()
    assert time.monotonic() - started < 0.1
    assert levels(factory, RED, GREEN, BLUE, MOTOR) == (0.0, 0.0, 0.0, 0.0)
    time.sleep(0.05)
    assert motor.state == 0.0


def test_a_cue_without_vibration_leaves_a_playing_rhythm_alone(factory, gpio):
    motor = factory.pin(MOTOR)
    gpio.show(emotion("sad"))
    wait_for(lambda: motor.state == 1.0)
    gpio.show(emotion("sad", brightness=0.3, vibrate=False))  # a brightness update
    assert motor.state == 1.0
    assert levels(factory, BLUE) == pytest.approx((0.3,))


def test_error_blinks_the_led_and_silences_the_motor(factory):
    settings = CueSettings(error_blink=(0.1, 0.15))
    indicator = GpioIndicator(RED, GREEN, BLUE, MOTOR, cue_settings=settings)
    motor, red, green = factory.pin(MOTOR), factory.pin(RED), factory.pin(GREEN)
    indicator.show(emotion("sad"))
    wait_for(lambda: motor.state == 1.0)
    red.clear_states()
    indicator.error("no microphone")
    assert motor.state == 0.0
    wait_for(lambda: len(red.states) >= 5)
    red.assert_states_and_times([(0.0, 0.0), (0.0, 1.0), (0.1, 0.0), (0.15, 1.0), (0.1, 0.0)])
    assert green.state in (0.0, pytest.approx(128 / 255))
    indicator.close()
    assert levels(factory, RED, GREEN, BLUE, MOTOR) == (0.0, 0.0, 0.0, 0.0)


def test_close_turns_everything_off_promptly_mid_rhythm(factory):
    indicator = GpioIndicator(RED, GREEN, BLUE, MOTOR)
    indicator.show(emotion("sad"))
    wait_for(lambda: factory.pin(MOTOR).state == 1.0)
    started = time.monotonic()
    indicator.close()
    assert time.monotonic() - started < 0.2  # SIGTERM -> off well within a second
    assert levels(factory, RED, GREEN, BLUE, MOTOR) == (0.0, 0.0, 0.0, 0.0)
    time.sleep(0.05)
    assert factory.pin(MOTOR).state == 0.0
    indicator.close()  # twice is harmless


def test_common_anode_led_is_driven_inverted(factory):
    indicator = GpioIndicator(RED, GREEN, BLUE, MOTOR, active_high=False)
    indicator.show(emotion("angry", vibrate=False))
    assert levels(factory, RED, GREEN, BLUE) == pytest.approx((0.2, 1.0, 1.0))
    indicator.close()


def test_led_only_and_motor_only(factory):
    led_only = GpioIndicator(RED, GREEN, BLUE, -1)
    led_only.show(emotion("angry"))
    assert led_only.motor is None and levels(factory, RED) == pytest.approx((0.8,))
    led_only.close()
    motor_only = GpioIndicator(-1, -1, -1, MOTOR)
    motor_only.show(emotion("neutral"))
    wait_for(lambda: len(factory.pin(MOTOR).states) >= 3)
    motor_only.close()


# ------------------------------------------------------------------------------------ sysfs


@pytest.fixture
def leds(tmp_path):
    """A fake /sys/class/leds: an RGB LED's three channels and a Pi-like ACT LED."""
    for name, maximum, trigger in (
        ("rgb:red", 255, "[none] timer"),
        ("rgb:green", 255, "[none] timer"),
        ("rgb:blue", 100, "[none] timer"),
        ("ACT", 1, "none timer [mmc0] heartbeat"),
    ):
        d = tmp_path / name
        d.mkdir()
        (d / "brightness").write_text("0\n")
        (d / "max_brightness").write_text(f"{maximum}\n")
        (d / "trigger").write_text(trigger + "\n")
    return tmp_path


def brightness(root, name) -> int:
    for _ in range(100):  # a plain file, unlike sysfs, can be read between truncate and write
        text = (root / name / "brightness").read_text()
        if text:
            return int(text)
        time.sleep(0.001)
    raise AssertionError(f"{name}/brightness stays empty")


def test_sysfs_channels_scaled_to_max_brightness(leds):
    indicator = SysfsLedIndicator("rgb:red", "rgb:green", "rgb:blue", root=leds)
    indicator.show(emotion("happy", brightness=0.5))
    assert [brightness(leds, n) for n in ("rgb:red", "rgb:green", "rgb:blue")] == [128, round(200 / 255 * 0.5 * 255), 0]
    indicator.show(emotion("sad", brightness=1.0))
    assert brightness(leds, "rgb:blue") == 100 and brightness(leds, "rgb:green") == round(64 / 255 * 255)
    indicator.close()
    assert [brightness(leds, n) for n in ("rgb:red", "rgb:green", "rgb:blue")] == [0, 0, 0]


def test_sysfs_mono_led_takes_over_the_trigger_and_gives_it_back(leds):
    indicator = SysfsLedIndicator(mono="ACT", root=leds)
    assert (leds / "ACT" / "trigger").read_text() == "none"
    indicator.show(emotion("neutral", brightness=0.7))
    assert brightness(leds, "ACT") == 1
    indicator.off()
    assert brightness(leds, "ACT") == 0
    indicator.close()
    assert (leds / "ACT" / "trigger").read_text() == "mmc0"


def test_sysfs_error_blinks_until_the_next_cue(leds):
    indicator = SysfsLedIndicator("rgb:red", "rgb:green", "rgb:blue", root=leds)
    indicator.show(error_cue("no microphone", CueSettings(error_blink=(0.05, 0.05))))
    seen = set()
    deadline = time.monotonic() + 1.0
    while len(seen) < 2 and time.monotonic() < deadline:
        seen.add(brightness(leds, "rgb:red"))
        time.sleep(0.005)
    assert seen == {0, 255}
    indicator.show(OFF)
    time.sleep(0.12)
    assert brightness(leds, "rgb:red") == 0
    indicator.close()


def test_sysfs_missing_led_is_an_error(leds):
    with pytest.raises(IndicatorError, match="no LED 'rgb:white'"):
        SysfsLedIndicator("rgb:red", "rgb:white", root=leds)
    with pytest.raises(IndicatorError, match="no sysfs LED named"):
        SysfsLedIndicator(root=leds)


# ------------------------------------------------------------------------------------ terminal


class FakeTTY(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def test_terminal_plain_lines_when_not_a_tty():
    out = io.StringIO()
    view = TerminalIndicator(out)
    view.show(emotion("angry", confidence=0.76))
    view.show(OFF)
    view.error("microphone disappeared")
    view.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and "\x1b" not in out.getvalue()
    assert "angry" in lines[0] and "76%" in lines[0] and "= = =" in lines[0] and "buzz" in lines[0]
    assert "########--" in lines[0] and lines[0].lstrip().startswith("1.00s")
    assert "no voice" in lines[1]
    assert "ERROR" in lines[2] and "microphone disappeared" in lines[2]


def test_terminal_live_view_redraws_one_line_in_colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = FakeTTY()
    view = TerminalIndicator(out)
    view.show(emotion("sad", brightness=1.0, confidence=0.5, vibrate=False))
    text = out.getvalue()
    assert text.startswith("\r\x1b[2K") and "\n" not in text
    assert "\x1b[48;2;0;64;255m" in text and "sad" in text and "━" * 10 in text and "buzz" not in text
    assert "█████░░░░░" in text
    view.error("no microphone")
    assert "\x1b[5;48;2;255;128;0m" in out.getvalue()  # blinking amber
    view.close()
    assert out.getvalue().endswith("\n")


def test_terminal_respects_no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    out = FakeTTY()
    TerminalIndicator(out).show(emotion("happy"))
    assert "\x1b[48" not in out.getvalue() and "[####]" in out.getvalue()


# ------------------------------------------------------------------------------------ several


class Broken(Indicator):
    def show(self, cue):
        raise OSError("LED unplugged")


class Recorder(Indicator):
    def __init__(self):
        super().__init__()
        self.seen = []
        self.closed = False

    def show(self, cue):
        self.seen.append(cue.kind)

    def close(self):
        self.closed = True


def test_multi_indicator_carries_on_past_a_broken_one(caplog):
    recorder = Recorder()
    multi = MultiIndicator([Broken(), recorder])
    with caplog.at_level(logging.ERROR, logger="tonecue.edge.indicators"):
        multi.show(emotion())
        multi.error("x")
        multi.off()
        multi.close()
    assert recorder.seen == ["emotion", "error", "off"] and recorder.closed
    assert "LED unplugged" in caplog.text


@pytest.fixture
def closed_pipe():
    """A text stream into a pipe whose reader has gone, as `| head` leaves it."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    stream = os.fdopen(write_end, "w")
    yield stream
    try:
        stream.close()
    except BrokenPipeError:  # the buffer it could not flush
        pass


def test_terminal_whose_reader_went_away_says_so_once(closed_pipe):
    terminal = TerminalIndicator(closed_pipe)
    with pytest.raises(BrokenPipeError):
        terminal.show(emotion())
    terminal.show(emotion())  # then nothing: the caller is already stopping
    terminal.off()
    terminal.close()


def test_multi_indicator_passes_a_closed_terminal_on_after_the_others(closed_pipe):
    recorder = Recorder()
    multi = MultiIndicator([TerminalIndicator(closed_pipe), recorder])
    with pytest.raises(BrokenPipeError):
        multi.show(emotion())
    multi.off()
    multi.close()
    assert recorder.seen == ["emotion", "off"] and recorder.closed


def test_null_indicator_and_context_manager():
    with NullIndicator() as null:
        null.show(emotion())
        null.error("x")


# ------------------------------------------------------------------------------------ factory


def test_make_indicator_default_is_the_terminal():
    assert isinstance(make_indicator(stream=io.StringIO()), TerminalIndicator)
    assert isinstance(make_indicator(IndicatorSettings(kinds=["none"])), NullIndicator)
    assert isinstance(make_indicator(IndicatorSettings(kinds=[])), NullIndicator)


def test_make_indicator_several_at_once(factory, leds):
    settings = IndicatorSettings(kinds=["gpio", "sysfs", "terminal"], sysfs_mono="ACT")
    out = io.StringIO()
    indicator = make_indicator(settings, stream=out, sysfs_root=leds)
    assert isinstance(indicator, MultiIndicator)
    assert [type(i) for i in indicator.indicators] == [GpioIndicator, SysfsLedIndicator, TerminalIndicator]
    indicator.show(emotion("angry", vibrate=False))
    assert factory.pin(RED).state == pytest.approx(0.8) and brightness(leds, "ACT") == 1 and "angry" in out.getvalue()
    indicator.close()
    assert factory.pin(RED).state == 0.0 and brightness(leds, "ACT") == 0


def test_gpio_without_gpiozero_falls_back_to_the_terminal(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "gpiozero", None)  # import gpiozero -> ImportError
    with caplog.at_level(logging.WARNING, logger="tonecue.edge.indicators"):
        indicator = make_indicator(IndicatorSettings(kinds=["gpio"]), stream=io.StringIO())
    assert isinstance(indicator, TerminalIndicator)
    assert "gpio indicator unavailable" in caplog.text and "terminal instead" in caplog.text


def test_gpio_without_a_pin_factory_falls_back_to_the_terminal(caplog):
    pytest.importorskip("gpiozero")
    from gpiozero.exc import BadPinFactory
    from gpiozero.pins.mock import MockFactory

    class NoPins(MockFactory):
        def pin(self, name, pin_class=None, **kwargs):
            raise BadPinFactory("Unable to load any default pin factory!")

    with caplog.at_level(logging.WARNING, logger="tonecue.edge.indicators"):
        indicator = make_indicator(IndicatorSettings(kinds=["gpio", "terminal"]), stream=io.StringIO(), pin_factory=NoPins())
    assert isinstance(indicator, TerminalIndicator)  # already wanted: not added twice
    assert "BadPinFactory" in caplog.text


def test_missing_sysfs_led_falls_back_to_the_terminal(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="tonecue.edge.indicators"):
        indicator = make_indicator(IndicatorSettings(kinds=["sysfs"], sysfs_mono="ACT"), stream=io.StringIO(), sysfs_root=tmp_path)
    assert isinstance(indicator, TerminalIndicator) and "sysfs indicator unavailable" in caplog.text
