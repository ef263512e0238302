"""The one base of every frozen settings dataclass: checked types, unknown keys, dicts.

Every group of settings (the frontend spec, the gate, the decision, the cues, the indicators, each
section of the config file) is a frozen dataclass deriving from `Settings`. A subclass sets
`DESCRIPTION` (how messages name it, e.g. "decision settings") and `ERROR` (its error class, a
`TonecueError` and a `ValueError`). The base gives it:

- **types**, checked by `__post_init__` from the annotations: a `float` field takes a finite real
  number (stored as a float, so 10 and 10.0 compare and hash alike), an `int` field a whole number,
  a `bool` field true or false, a `str` field a string; `X | None` also takes None. Other fields
  (tuples, `Any`) are the subclass's to check. `EXPECT` names what a field takes where the type
  alone says too little ("a number in (0, 1]"). A subclass's `__post_init__` calls the base's
  first, then checks ranges and relations between fields;
- **unknown keys**, refused with one message that names the closest known key (`unknown_keys`,
  which the config file uses too);
- **dicts**: `to_dict` (tuples as lists) and `from_dict` (a missing key keeps its default; a field
  without a default is required);
- **overrides**: `override(changes)`, a copy with some keys replaced and checked as a whole (a
  config file's partial table over a model's or the built-in settings).

`VersionedSettings` adds a format version to the dict and a JSON form: settings that travel inside
a model file are refused clearly when another tonecue wrote them in a format this one cannot read.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import numbers
import types
import typing
from typing import Any, ClassVar, Iterable, Mapping, TypeVar

__all__ = ["Settings", "VersionedSettings", "unknown_keys"]

T = TypeVar("T", bound="Settings")

# What a field of each checked type takes, in words.
_TYPE_WORDS = {float: "a finite number", int: "a whole number", bool: "true or false", str: "a string"}


def unknown_keys(given: Iterable[Any], known: Iterable[str]) -> str | None:
    """What is wrong with the `given` keys that are not `known`, or None when all are known.

    One phrase for every settings class and the config file, e.g. "unknown key 'thresold' (did
    you mean 'threshold'?); this tonecue does not know it, only [...]".
    """
    known = sorted(known)
    unknown = sorted((key for key in set(given) if key not in known), key=str)
    if not unknown:
        return None
    named = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), known, n=1)
        named.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
    if len(unknown) == 1:
        return f"unknown key {named[0]}; this tonecue does not know it, only {known}"
    return f"unknown keys {', '.join(named)}; this tonecue does not know them, only {known}"


def _plain(value: Any) -> Any:
    """`value` as TOML and JSON hold it: settings as dicts, tuples as lists."""
    if isinstance(value, Settings):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _checked_type(annotation: Any) -> tuple[type | None, bool]:
    """(the scalar type a field is checked against, or None; whether None is allowed too)."""
    if annotation in _TYPE_WORDS:
        return annotation, False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) == 1 and len(typing.get_args(annotation)) == 2 and options[0] in _TYPE_WORDS:
            return options[0], True
    return None, False


def _conform(kind: type, value: Any) -> tuple[bool, Any]:
    """(whether `value` is of `kind`, the value stored)."""
    if kind is bool:
        return isinstance(value, bool), value
    if kind is str:
        return isinstance(value, str), value
    if isinstance(value, bool):  # a bool is an int to Python, never a number in a setting
        return False, value
    if kind is int:
        return (True, int(value)) if isinstance(value, numbers.Integral) else (False, value)
    if isinstance(value, numbers.Real) and math.isfinite(value):
        return True, float(value)
    return False, value


class Settings:
    """The base (see the module docstring). Subclasses are frozen dataclasses."""

    DESCRIPTION: ClassVar[str] = "settings"
    ERROR: ClassVar[type[ValueError]] = ValueError
    #: Field name -> what it takes, in words, for messages ("a number in (0, 1]").
    EXPECT: ClassVar[Mapping[str, str]] = {}

    def __post_init__(self) -> None:
        problems = []
        for name, (kind, optional) in self._checked_fields().items():
            value = getattr(self, name)
            if optional and value is None:
                continue
            ok, stored = _conform(kind, value)
            if ok:
                object.__setattr__(self, name, stored)
            else:
                problems.append(self.must(name, value))
        self.refuse(problems)

    @classmethod
    def _checked_fields(cls) -> dict[str, tuple[type, bool]]:
        """Field name -> (scalar type, None allowed) for the fields whose type the base checks."""
        cached = cls.__dict__.get("_checked_fields_cache")
        if cached is None:
            hints = typing.get_type_hints(cls)
            cached = {}
            for field in dataclasses.fields(cls):
                kind, optional = _checked_type(hints.get(field.name))
                if kind is not None:
                    cached[field.name] = (kind, optional)
            cls._checked_fields_cache = cached
        return cached

    def must(self, name: str, value: Any) -> str:
        """The message for a field given a value it cannot take: "<name> must be <EXPECT>, got <value>"."""
        expected = self.EXPECT.get(name)
        if expected is None:
            kind, optional = self._checked_fields().get(name, (None, False))
            expected = _TYPE_WORDS.get(kind, "valid") + (" or None" if optional else "")
        return f"{name} must be {expected}, got {value!r}"

    def refuse(self, problems: list[str]) -> None:
        """Raise the class's error listing `problems`, if there are any."""
        if problems:
            raise self.ERROR("; ".join(problems))

    # --- keys and dicts -------------------------------------------------------------------------

    @classmethod
    def field_names(cls) -> list[str]:
        return [field.name for field in dataclasses.fields(cls)]

    @classmethod
    def check_keys(cls, data: Any) -> None:
        """Refuse `data` unless it is a mapping whose keys are all fields of `cls`."""
        if not isinstance(data, Mapping):
            raise cls.ERROR(f"{cls.DESCRIPTION} must be a table of key = value settings, got {data!r}")
        problem = unknown_keys(data, cls.field_names())
        if problem:
            raise cls.ERROR(f"{cls.DESCRIPTION}: {problem}")

    def to_dict(self) -> dict[str, Any]:
        return {field.name: _plain(getattr(self, field.name)) for field in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        """Settings from a dict (a file's table, a model's metadata): missing keys keep their
        defaults, unknown keys are refused."""
        cls.check_keys(data)
        required = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        missing = [name for name in required if name not in data]
        if missing:
            raise cls.ERROR(f"{cls.DESCRIPTION} needs {missing}")
        return cls(**data)

    def override(self: T, changes: Mapping[str, Any]) -> T:
        """A copy with the keys of `changes` replaced, checked as a whole."""
        self.check_keys(changes)
        return dataclasses.replace(self, **changes)


class VersionedSettings(Settings):
    """Settings that travel in a model file: their dict carries `FORMAT_VERSION`."""

    FORMAT_VERSION: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": self.FORMAT_VERSION, **super().to_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        if not isinstance(data, Mapping):
            return super().from_dict(data)  # refuses it
        data = dict(data)
        version = data.pop("format_version", cls.FORMAT_VERSION)
        if version != cls.FORMAT_VERSION:
            raise cls.ERROR(
                f"{cls.DESCRIPTION} format {version!r} is not supported by this tonecue "
                f"(it reads format {cls.FORMAT_VERSION}); upgrade tonecue or re-export the model"
            )
        return super().from_dict(data)

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise cls.ERROR(f"{cls.DESCRIPTION} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise cls.ERROR(f"{cls.DESCRIPTION} JSON must be an object")
        return cls.from_dict(data)
