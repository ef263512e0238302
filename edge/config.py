"""The device's one configuration file (TOML, `/etc/tonecue/tonecue.toml` by default).

Sections, each a frozen settings class (the module that uses a setting owns its class; this module
only reads the file and names what is wrong in it):

    [model]       ModelSettings       which ONNX model to run
    [audio]       AudioSettings       microphone (or a file to replay), rate, block size
    [stream]      StreamSettings      how often the device decides
    [gate]        GateSettings        the voice-activity gate (tonecue.edge.vad)
    [decision]    DecisionSettings    smoothing, threshold, patience, hold, idle (tonecue.edge.decision)
    [cues]        CueSettings         colours, rhythms, brightness, cooldown (tonecue.edge.cues)
    [indicators]  IndicatorSettings   which indicators, and their pins (tonecue.edge.indicators)
    [service]     ServiceSettings     systemd watchdog, log level

Every key is optional; a missing key has its default. `systemd/tonecue.toml` is the documented
example with every key at its default. A mistake (an unknown section or key, a wrong type, a value
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
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (the edge extra installs tomli there)
    import tomli as tomllib

from .cues import CueSettings
from .decision import DecisionSettings
from .indicators import IndicatorSettings
from .vad import GateSettings
from .errors import TonecueError

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


def _number(name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real)
    if ok:
        value = float(value)
        ok = (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ConfigError(f"{name} must be a number in {bracket}{low:g}, {high:g}], got {value!r}")
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, got {value!r}")
    return value


@dataclass(frozen=True)
class ModelSettings:
    """path: "" — the ONNX model to run; "" means the model shipped with tonecue
    (tonecue/edge/assets/model.onnx)."""

    path: str = ""

    def __post_init__(self) -> None:
        _text("path", self.path)

    @property
    def model_path(self) -> Path:
        return Path(self.path).expanduser() if self.path else SHIPPED_MODEL


@dataclass(frozen=True)
class AudioSettings:
    """device: "default" — a sounddevice input: "default", a device index, or (part of) a name.
    sample_rate: 0 — capture rate in Hz; 0 = the model's rate (resampled otherwise).
    block_seconds: 0.1 — audio per capture callback.
    input_file: "" — replay this audio file instead of the microphone ("" = microphone)."""

    device: Any = "default"
    sample_rate: int = 0
    block_seconds: float = 0.1
    input_file: str = ""

    def __post_init__(self) -> None:
        d = self.device
        if isinstance(d, bool) or not (
            (isinstance(d, numbers.Integral) and d >= 0) or (isinstance(d, str) and d.strip())
        ):
            raise ConfigError(f'device must be "default", a device index >= 0 or a device name, got {d!r}')
        r = self.sample_rate
        if isinstance(r, bool) or not isinstance(r, numbers.Integral) or not (r == 0 or 4000 <= r <= 384000):
            raise ConfigError(f"sample_rate must be 0 (the model's) or a whole number of Hz in [4000, 384000], got {r!r}")
        object.__setattr__(self, "block_seconds", _number("block_seconds", self.block_seconds, 0, 1, low_open=True))
        _text("input_file", self.input_file)

    @property
    def sounddevice_device(self) -> int | str | None:
        """The value sounddevice takes (None: the system default)."""
        return None if self.device == "default" else self.device


@dataclass(frozen=True)
class StreamSettings:
    """hop_seconds: 0.5 — time between decisions (one model window each); the loop rounds it
    to whole frames of the model's frontend."""

    hop_seconds: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "hop_seconds", _number("hop_seconds", self.hop_seconds, 0, 10, low_open=True))


@dataclass(frozen=True)
class ServiceSettings:
    """watchdog: true — ping systemd's watchdog while the loop runs (when the unit sets
    WatchdogSec). log_level: "INFO" — one of DEBUG, INFO, WARNING, ERROR, CRITICAL."""

    watchdog: bool = True
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if not isinstance(self.watchdog, bool):
            raise ConfigError(f"watchdog must be true or false, got {self.watchdog!r}")
        level = _text("log_level", self.log_level).upper()
        if level not in LOG_LEVELS:
            raise ConfigError(f"log_level must be one of {list(LOG_LEVELS)}, got {self.log_level!r}")
        object.__setattr__(self, "log_level", level)


#: Section name -> settings class, in file order.
SECTIONS: dict[str, type] = {
    "model": ModelSettings,
    "audio": AudioSettings,
    "stream": StreamSettings,
    "gate": GateSettings,
    "decision": DecisionSettings,
    "cues": CueSettings,
    "indicators": IndicatorSettings,
    "service": ServiceSettings,
}
# Keys a section accepts beyond its class's fields.
_EXTRA_KEYS = {"gate": {"format_version"}}


def _unknown(kind: str, given: str, known: list[str]) -> str:
    close = difflib.get_close_matches(given, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {kind} {given!r}{hint}; expected one of {known}"


@dataclass(frozen=True)
class Config:
    """The whole configuration. `source` is the file it came from (None: built-in defaults)."""

    model: ModelSettings = dataclasses.field(default_factory=ModelSettings)
    audio: AudioSettings = dataclasses.field(default_factory=AudioSettings)
    stream: StreamSettings = dataclasses.field(default_factory=StreamSettings)
    gate: GateSettings = dataclasses.field(default_factory=GateSettings)
    decision: DecisionSettings = dataclasses.field(default_factory=DecisionSettings)
    cues: CueSettings = dataclasses.field(default_factory=CueSettings)
    indicators: IndicatorSettings = dataclasses.field(default_factory=IndicatorSettings)
    service: ServiceSettings = dataclasses.field(default_factory=ServiceSettings)
    source: Path | None = dataclasses.field(default=None, compare=False)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name in SECTIONS:
            settings = getattr(self, name)
            data = settings.to_dict() if hasattr(settings, "to_dict") else dataclasses.asdict(settings)
            data.pop("format_version", None)
            out[name] = data
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | os.PathLike | None = None) -> Config:
        """Settings from parsed TOML; `source` (the file) names it in errors and anchors
        relative paths."""
        where = f"{source}: " if source is not None else ""
        base = Path(source).parent if source is not None else None
        sections = {}
        for name, table in data.items():
            if name not in SECTIONS:
                raise ConfigError(where + _unknown("section", f"[{name}]", [f"[{s}]" for s in SECTIONS]))
            if not isinstance(table, Mapping):
                raise ConfigError(f"{where}[{name}] must be a table of settings, got {table!r}")
            settings_class = SECTIONS[name]
            known = [f.name for f in dataclasses.fields(settings_class)]
            for key in table:
                if key not in known and key not in _EXTRA_KEYS.get(name, ()):
                    raise ConfigError(f"{where}[{name}] " + _unknown("key", key, known))
            table = dict(table)
            for key in ("path", "input_file"):
                value = table.get(key)
                if base is not None and isinstance(value, str) and value and name in ("model", "audio"):
                    path = Path(value).expanduser()
                    table[key] = str(path if path.is_absolute() else base / path)
            try:
                if hasattr(settings_class, "from_dict"):
                    sections[name] = settings_class.from_dict(table)
                else:
                    sections[name] = settings_class(**table)
            except ValueError as exc:  # every settings class raises a ValueError subclass
                raise ConfigError(f"{where}[{name}] {exc}") from None
            except TypeError as exc:  # e.g. a nested table where a value belongs
                raise ConfigError(f"{where}[{name}] {exc}") from None
        return cls(**sections, source=Path(source) if source is not None else None)


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
