"""The device's one configuration file (TOML, `/etc/tonecue/tonecue.toml` by default).

Sections, each a frozen settings class (the module that uses a setting owns its class; this module
only reads the file and names what is wrong in it):

    [model]       ModelSettings       which ONNX model to run
    [audio]       AudioSettings       microphone (or a file to replay), rate, block size
    [stream]      StreamSettings      how often the device decides
    [gate]        GateSettings        the voice-activity gate (tonecue.edge.vad): changes to the model's
    [decision]    DecisionSettings    smoothing, threshold, patience, hold, idle (tonecue.edge.decision)
    [cues]        CueSettings         colours, rhythms, brightness, cooldown (tonecue.edge.cues)
    [indicators]  IndicatorSettings   which indicators, and their pins (tonecue.edge.indicators)
    [service]     ServiceSettings     systemd watchdog, log level

Every key is optional; a missing key has its default. [gate] is the exception: a model carries
the gate it was trained with, so without a [gate] table the device runs the model's gate, and each
key a [gate] table sets replaces that key of the model's gate, the others staying the model's
(`Config.gate_for`). `systemd/tonecue.toml` is the documented example with every key at its
default. A mistake (an unknown section or key, a wrong type, a value
out of range) raises `ConfigError` naming the file, the section and key, and what was expected.
Relative paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import numbers
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (the edge extra installs tomli there)
    import tomli as tomllib

from .cues import CueSettings
from .decision import DecisionSettings
from .errors import TonecueError
from .indicators import IndicatorSettings
from .settings import Settings, unknown_keys
from .vad import GateSettings

__all__ = [
    "AudioSettings",
    "Config",
    "ConfigError",
    "DEFAULT_CONFIG_PATH",
    "ModelSettings",
    "SECTIONS",
    "SHIPPED_MODEL",
    "ServiceSettings",
    "StreamSettings",
    "load_config",
]

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("/etc/tonecue/tonecue.toml")
#: The model shipped inside the package, used when [model] path is "".
SHIPPED_MODEL = Path(__file__).resolve().with_name("assets") / "model.onnx"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(TonecueError, ValueError):
    """A configuration file that cannot be read or holds a mistake; the message says where."""


@dataclass(frozen=True)
class ModelSettings(Settings):
    """path: "" — the ONNX model to run; "" means the model shipped with tonecue
    (tonecue/edge/assets/model.onnx)."""

    path: str = ""

    DESCRIPTION: ClassVar[str] = "model settings"
    ERROR: ClassVar[type[ValueError]] = ConfigError

    @property
    def model_path(self) -> Path:
        return Path(self.path).expanduser() if self.path else SHIPPED_MODEL


@dataclass(frozen=True)
class AudioSettings(Settings):
    """device: "default" — a sounddevice input: "default", a device index, or (part of) a name.
    sample_rate: 0 — capture rate in Hz; 0 = the model's rate (resampled otherwise).
    block_seconds: 0.1 — audio per capture callback.
    input_file: "" — replay this audio file instead of the microphone ("" = microphone)."""

    device: Any = "default"
    sample_rate: int = 0
    block_seconds: float = 0.1
    input_file: str = ""

    DESCRIPTION: ClassVar[str] = "audio settings"
    ERROR: ClassVar[type[ValueError]] = ConfigError
    EXPECT: ClassVar[Mapping[str, str]] = {
        "device": '"default", a device index >= 0 or a device name',
        "sample_rate": "0 (the model's) or a whole number of Hz in [4000, 384000]",
        "block_seconds": "a number in (0, 1]",
    }

    def __post_init__(self) -> None:
        super().__post_init__()  # types
        d = self.device
        if isinstance(d, bool) or not (
            (isinstance(d, numbers.Integral) and d >= 0) or (isinstance(d, str) and d.strip())
        ):
            raise ConfigError(self.must("device", d))
        if not (self.sample_rate == 0 or 4000 <= self.sample_rate <= 384000):
            raise ConfigError(self.must("sample_rate", self.sample_rate))
        if not 0 < self.block_seconds <= 1:
            raise ConfigError(self.must("block_seconds", self.block_seconds))

    @property
    def sounddevice_device(self) -> int | str | None:
        """The value sounddevice takes (None: the system default)."""
        return None if self.device == "default" else self.device


@dataclass(frozen=True)
class StreamSettings(Settings):
    """hop_seconds: 0.5 — time between decisions (one model window each); the loop rounds it
    to whole frames of the model's frontend."""

    hop_seconds: float = 0.5

    DESCRIPTION: ClassVar[str] = "stream settings"
    ERROR: ClassVar[type[ValueError]] = ConfigError
    EXPECT: ClassVar[Mapping[str, str]] = {"hop_seconds": "a number in (0, 10]"}

    def __post_init__(self) -> None:
        super().__post_init__()  # types
        if not 0 < self.hop_seconds <= 10:
            raise ConfigError(self.must("hop_seconds", self.hop_seconds))


@dataclass(frozen=True)
class ServiceSettings(Settings):
    """watchdog: true — ping systemd's watchdog while the loop runs (when the unit sets
    WatchdogSec). log_level: "INFO" — one of DEBUG, INFO, WARNING, ERROR, CRITICAL.
    channel_file: "auto" — where what the device learnt of its microphone is kept across restarts
    (`tonecue.edge.channel_store`): "auto" the unit's StateDirectory under systemd, "" nowhere."""

    watchdog: bool = True
    log_level: str = "INFO"
    channel_file: str = "auto"

    DESCRIPTION: ClassVar[str] = "service settings"
    ERROR: ClassVar[type[ValueError]] = ConfigError
    EXPECT: ClassVar[Mapping[str, str]] = {"log_level": f"one of {list(LOG_LEVELS)}"}

    def __post_init__(self) -> None:
        super().__post_init__()  # types
        if self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(self.must("log_level", self.log_level))
        object.__setattr__(self, "log_level", self.log_level.upper())


#: Section name -> settings class, in file order. [gate] holds overrides of the model's gate
#: (see `Config.gate_for`); its keys are GateSettings' fields.
SECTIONS: dict[str, type[Settings]] = {
    "model": ModelSettings,
    "audio": AudioSettings,
    "stream": StreamSettings,
    "gate": GateSettings,
    "decision": DecisionSettings,
    "cues": CueSettings,
    "indicators": IndicatorSettings,
    "service": ServiceSettings,
}
# Keys that name files, resolved against the config file's folder ("auto" is not a path).
_PATH_KEYS: dict[str, tuple[str, ...]] = {"model": ("path",), "audio": ("input_file",), "service": ("channel_file",)}
# Keys a section accepts beyond its class's fields.
_EXTRA_KEYS = {"gate": ["format_version"]}

GateOverrides = tuple[tuple[str, float], ...]


def _gate_overrides(table: Mapping[str, Any]) -> GateOverrides:
    """The keys of a [gate] table, each checked as GateSettings checks it, as sorted pairs."""
    checked = GateSettings.from_dict(table)
    return tuple(sorted((key, getattr(checked, key)) for key in table if key != "format_version"))


@dataclass(frozen=True)
class Config:
    """The whole configuration. `source` is the file it came from (None: built-in defaults).

    `gate_overrides` holds the keys the [gate] table sets, and only those: the gate the device
    runs is the model's own (it was trained with it) with these keys replaced (`gate_for`).
    """

    model: ModelSettings = dataclasses.field(default_factory=ModelSettings)
    audio: AudioSettings = dataclasses.field(default_factory=AudioSettings)
    stream: StreamSettings = dataclasses.field(default_factory=StreamSettings)
    gate_overrides: GateOverrides = ()
    decision: DecisionSettings = dataclasses.field(default_factory=DecisionSettings)
    cues: CueSettings = dataclasses.field(default_factory=CueSettings)
    indicators: IndicatorSettings = dataclasses.field(default_factory=IndicatorSettings)
    service: ServiceSettings = dataclasses.field(default_factory=ServiceSettings)
    source: Path | None = dataclasses.field(default=None, compare=False)

    def __post_init__(self) -> None:
        # Built in code, the overrides may come as a mapping, e.g. {"margin_db": 12}.
        object.__setattr__(self, "gate_overrides", _gate_overrides(dict(self.gate_overrides)))

    def gate_for(self, model_gate: GateSettings) -> GateSettings:
        """The gate to run with a model whose contract holds `model_gate`: the model's gate
        when the file has no [gate] table, else the model's with each key the table sets
        replaced (the others stay the model's, not the built-in defaults)."""
        return model_gate.override(dict(self.gate_overrides))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name in SECTIONS:
            out[name] = dict(self.gate_overrides) if name == "gate" else getattr(self, name).to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | os.PathLike | None = None) -> Config:
        """Settings from parsed TOML; `source` (the file) names it in errors and anchors
        relative paths."""
        where = f"{source}: " if source is not None else ""
        base = Path(source).parent if source is not None else None
        sections: dict[str, Any] = {}
        for name, table in data.items():
            if name not in SECTIONS:
                raise ConfigError(where + _unknown_top_level(name, table))
            if not isinstance(table, Mapping):
                raise ConfigError(f"{where}[{name}] must be a table of settings, got {table!r}")
            problem = unknown_keys(table, SECTIONS[name].field_names() + _EXTRA_KEYS.get(name, []))
            if problem:
                raise ConfigError(f"{where}[{name}] {problem}")
            table = dict(table)
            for key in _PATH_KEYS.get(name, ()):
                value = table.get(key)
                if base is not None and isinstance(value, str) and value and value != "auto":
                    path = Path(value).expanduser()
                    table[key] = str(path if path.is_absolute() else base / path)
            try:
                if name == "gate":
                    sections["gate_overrides"] = _gate_overrides(table)
                else:
                    sections[name] = SECTIONS[name].from_dict(table)
            except ValueError as exc:  # every settings class raises a ValueError subclass
                raise ConfigError(f"{where}[{name}] {exc}") from None
            except TypeError as exc:  # e.g. a nested table where a value belongs
                raise ConfigError(f"{where}[{name}] {exc}") from None
        return cls(**sections, source=Path(source) if source is not None else None)


def _unknown_top_level(name: str, value: Any) -> str:
    """What to say about a top-level entry that is not a section."""
    if isinstance(value, Mapping):
        close = difflib.get_close_matches(f"[{name}]", [f"[{s}]" for s in SECTIONS], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown section '[{name}]'{hint}; expected one of {[f'[{s}]' for s in SECTIONS]}"
    homes = [f"[{section}]" for section, cls in SECTIONS.items() if name in cls.field_names()]
    where = f"it belongs under {' or '.join(homes)}" if homes else f"the sections are {[f'[{s}]' for s in SECTIONS]}"
    return f"unknown top-level key {name!r}: every setting goes in a section, and {where}"


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Read the configuration. With no path, the default file (/etc/tonecue/tonecue.toml) if it
    exists, else the built-in defaults; a path given explicitly must exist."""
    explicit = path is not None
    file = Path(path) if explicit else DEFAULT_CONFIG_PATH
    if not file.exists():
        if explicit:
            raise ConfigError(f"{file}: no such config file")
        log.info("no config file at %s; using the built-in defaults", file)
        return Config()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    return Config.from_dict(data, source=file)
