"""The configuration file: defaults, the documented example, and mistakes named clearly."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import pytest

from tonecue.edge import config as config_module
from tonecue.edge.config import (
    SECTIONS,
    SHIPPED_MODEL,
    AudioSettings,
    Config,
    ConfigError,
    ServiceSettings,
    StreamSettings,
    load_config,
)
from tonecue.edge.cues import DEFAULT_PATTERNS
from tonecue.edge.decision import DecisionSettings
from tonecue.edge.model import EmotionModel
from tonecue.edge.vad import GateError, GateSettings

EXAMPLE = Path(__file__).resolve().parents[2] / "systemd" / "tonecue.toml"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "tonecue.toml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------ the example


def test_the_example_file_is_the_defaults():
    config = load_config(EXAMPLE)
    assert config == Config()
    assert config.source == EXAMPLE


def test_the_example_file_documents_every_setting():
    text = EXAMPLE.read_text()
    tables = {}
    for name, cls in SECTIONS.items():
        section = re.search(rf"^\[{name}\]\n(.*?)(?=^\[(?!{name}\.)|\Z)", text, re.M | re.S)
        assert section, f"[{name}] missing from {EXAMPLE.name}"
        tables[name] = section.group(1)
        for field in dataclasses.fields(cls):
            if name == "cues" and field.name == "patterns":
                for label in DEFAULT_PATTERNS:
                    assert f"[cues.patterns.{label}]" in text
                continue
            # [gate] keys are shown commented out: set, each would replace the model's own.
            setting = rf"^# {field.name} = " if name == "gate" else rf"^{field.name} = "
            assert re.search(setting, section.group(1), re.M), f"[{name}] {field.name} is not in the example"
    # Every setting line sits under a comment (settings may be grouped under one comment).
    lines = text.splitlines()
    setting = r"^(# )?\w+ = "
    for i, line in enumerate(lines):
        if re.match(setting, line):
            j = i - 1
            while j >= 0 and re.match(setting, lines[j]):
                j -= 1
            assert j >= 0 and lines[j].startswith("#"), f"line {i + 1} ({line!r}) has no comment above it"
    # The commented-out [gate] values are the shipped model's: uncommenting one changes nothing.
    shown = config_module.tomllib.loads("\n".join(line[2:] for line in tables["gate"].splitlines() if re.match(setting, line)))
    assert GateSettings.from_dict(shown) == EmotionModel(SHIPPED_MODEL).contract.gate


def test_the_example_states_the_defaults_in_its_values():
    # The values in the file are the defaults (checked above through loading); spot-check that a
    # changed default would be caught: the loader really reads the file's values.
    text = EXAMPLE.read_text().replace("threshold = 0.7", "threshold = 0.55")
    changed = Config.from_dict(config_module.tomllib.loads(text))
    assert changed.decision.threshold == 0.55 and changed != Config()


# ------------------------------------------------------------------------------------ loading


def test_no_file_at_the_default_path_gives_defaults(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(config_module, "DEFAULT_CONFIG_PATH", tmp_path / "absent.toml")
    with caplog.at_level(logging.INFO, logger="tonecue.edge.config"):
        config = load_config()
    assert config == Config() and config.source is None
    assert "absent.toml" in caplog.text and "defaults" in caplog.text


def test_the_default_path_is_read_when_present(tmp_path, monkeypatch):
    path = write(tmp_path, "[decision]\nthreshold = 0.8\n")
    monkeypatch.setattr(config_module, "DEFAULT_CONFIG_PATH", path)
    assert load_config().decision.threshold == 0.8
    assert config_module.DEFAULT_CONFIG_PATH.name == "tonecue.toml"


def test_an_explicit_path_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")
    assert issubclass(ConfigError, ValueError)


def test_a_partial_file_overrides_only_what_it_names(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """
[audio]
device = 2
sample_rate = 48000
[gate]
margin_db = 12
[decision]
patience = 3
hold_seconds = 1
[cues.patterns.calm]
color = "#00ff80"
rhythm = [[0.3, 0.3], [0.3, 0.0]]
[indicators]
kinds = ["gpio", "terminal"]
gpio_motor = 12
[service]
log_level = "debug"
""",
        )
    )
    assert config.audio == AudioSettings(device=2, sample_rate=48000)
    assert config.audio.sounddevice_device == 2 and Config().audio.sounddevice_device is None
    assert config.gate_overrides == (("margin_db", 12.0),)
    assert config.decision == DecisionSettings(patience=3, hold_seconds=1.0)
    assert set(config.cues.pattern_map) == set(DEFAULT_PATTERNS) | {"calm"}
    assert config.indicators.kinds == ("gpio", "terminal") and config.indicators.gpio_motor == 12
    assert config.service.log_level == "DEBUG"
    assert config.stream == StreamSettings() and config.model == Config().model


# A model trained with a gate unlike the built-in defaults, so that "the model's" and "the
# defaults" differ in every key.
MODEL_GATE = GateSettings(margin_db=14.0, min_level_db=-55.0, floor_rise_db_per_s=2.0, initial_floor_db=-60.0)


def test_without_a_gate_table_the_device_runs_the_models_gate(tmp_path):
    for text in ("", "[gate]\n"):
        config = load_config(write(tmp_path, text))
        assert config.gate_overrides == ()
        assert config.gate_for(MODEL_GATE) == MODEL_GATE


def test_gate_keys_replace_the_models_one_by_one(tmp_path):
    config = load_config(write(tmp_path, "[gate]\nmargin_db = 12\n"))
    # The other three stay the model's, not the built-in defaults.
    assert config.gate_for(MODEL_GATE) == GateSettings(
        margin_db=12.0, min_level_db=-55.0, floor_rise_db_per_s=2.0, initial_floor_db=-60.0
    )
    # A key set to its built-in default is still a choice: it replaces the model's value.
    config = load_config(write(tmp_path, "[gate]\nmargin_db = 10.0\nmin_level_db = -65.0\n"))
    assert config.gate_for(MODEL_GATE) == dataclasses.replace(MODEL_GATE, margin_db=10.0, min_level_db=-65.0)


def test_gate_overrides_are_checked_kept_and_round_trip(tmp_path):
    assert Config(gate_overrides={"margin_db": 12}).gate_overrides == (("margin_db", 12.0),)
    config = load_config(write(tmp_path, "[gate]\nmin_level_db = -50\nmargin_db = 12\n"))
    assert config.gate_overrides == (("margin_db", 12.0), ("min_level_db", -50.0))
    assert config.to_dict()["gate"] == {"margin_db": 12.0, "min_level_db": -50.0}
    assert Config.from_dict(config.to_dict()) == config
    with pytest.raises(GateError, match="margin_db must be non-negative"):
        Config(gate_overrides={"margin_db": -1})


def test_relative_paths_are_relative_to_the_file(tmp_path):
    config = load_config(write(tmp_path, '[model]\npath = "models/m.onnx"\n[audio]\ninput_file = "/abs/clip.wav"\n'))
    assert config.model.model_path == tmp_path / "models" / "m.onnx"
    assert config.audio.input_file == "/abs/clip.wav"
    assert Config().model.model_path == SHIPPED_MODEL
    assert SHIPPED_MODEL.parts[-2:] == ("assets", "model.onnx") and SHIPPED_MODEL.parent.parent.name == "edge"


def test_config_is_frozen_and_round_trips():
    config = Config(decision=DecisionSettings(threshold=0.6))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.decision = DecisionSettings()
    data = config.to_dict()
    assert list(data) == list(SECTIONS)
    assert Config.from_dict(data) == config


# ------------------------------------------------------------------------------------ mistakes


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[decison]\nthreshold = 0.5\n", r"unknown section '\[decison\]' \(did you mean '\[decision\]'\?\)"),
        ("[decision]\nthresold = 0.5\n", r"\[decision\] unknown key 'thresold' \(did you mean 'threshold'\?\); this tonecue"),
        ("threshold = 0.5\n", r"unknown top-level key 'threshold': every setting goes in a section, and it belongs under \[decision\]$"),
        ("path = 'm.onnx'\n[decision]\n", r"unknown top-level key 'path': .* it belongs under \[model\]$"),
        ("volume = 3\n", r"unknown top-level key 'volume': every setting goes in a section, and the sections are \['\[model\]'"),
        ("[gate]\nmargin = 3\n", r"\[gate\] unknown key 'margin' \(did you mean 'margin_db'\?\)"),
        ("[decision]\nthreshold = 'high'\n", r"\[decision\] threshold must be a finite number, got 'high'"),
        ("[decision]\nthreshold = 1.5\n", r"\[decision\] threshold must be a probability in \[0, 1\], got 1.5"),
        ("[decision]\npatience = 0\n", r"\[decision\] patience must be at least 1"),
        ("[gate]\nmargin_db = -3\n", r"\[gate\] margin_db must be non-negative"),
        ("[gate]\nmin_level_db = true\n", r"\[gate\] min_level_db must be a finite number"),
        ("[audio]\nsample_rate = 44100.0\n", r"\[audio\] sample_rate must be 0 .* got 44100.0"),
        ("[audio]\nblock_seconds = 0\n", r"\[audio\] block_seconds must be a number in \(0, 1\]"),
        ("[audio]\ndevice = -1\n", r"\[audio\] device must be"),
        ("[stream]\nhop_seconds = '0.5'\n", r"\[stream\] hop_seconds must be a number"),
        ("[cues]\ncooldown_seconds = -1\n", r"\[cues\] cooldown_seconds must be >= 0"),
        ("[cues.patterns.angry]\ncolor = 'red'\nrhythm = []\n", r"\[cues\] patterns.angry: color must be"),
        ("[cues.patterns.calm]\ncolor = '#00ff80'\n", r"\[cues\] patterns.calm: cue pattern needs \['rhythm'\] \('calm' has no"),
        ("[cues.patterns.angry]\ncolour = '#ff0000'\n", r"\[cues\] patterns.angry: cue pattern: unknown key 'colour' \(did you mean 'color'\?\)"),
        ("[indicators]\nkinds = ['lcd']\n", r"\[indicators\] kinds must be some of"),
        ("[indicators]\ngpio_red = 'seventeen '\ngpio_motor = 'seventeen'\n", r"\[indicators\] gpio pins must differ"),
        ("[service]\nwatchdog = 'yes'\n", r"\[service\] watchdog must be true or false"),
        ("[service]\nlog_level = 'loud'\n", r"\[service\] log_level must be one of"),
        ("[model]\npath = 3\n", r"\[model\] path must be a string"),
        ("decision = 3\n", r"\[decision\] must be a table"),
        ("[decision\nthreshold = 0.5\n", r"not valid TOML"),
    ],
)
def test_mistakes_name_the_file_section_key_and_expectation(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert re.search(expected, message), message


def test_sections_need_no_keys(tmp_path):
    text = "".join(f"[{name}]\n" for name in SECTIONS)
    assert load_config(write(tmp_path, text)) == Config()


def test_service_and_stream_settings():
    assert ServiceSettings(log_level="warning").log_level == "WARNING"
    assert StreamSettings(hop_seconds=1).hop_seconds == 1.0


def test_the_channel_file_is_found_beside_the_config_unless_auto_or_nowhere(tmp_path):
    from tonecue.edge.config import load_config

    for given, expected in (("state/channel.json", str(tmp_path / "state" / "channel.json")), ("auto", "auto"), ("", "")):
        path = tmp_path / "tonecue.toml"
        path.write_text(f'[service]\nchannel_file = "{given}"\n')
        assert load_config(path).service.channel_file == expected
    assert Config().service.channel_file == "auto"
