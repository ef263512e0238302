"""Serialisation shared by every frozen settings dataclass that travels in a model or a config.

A subclass sets `FORMAT_VERSION`, `DESCRIPTION` (how error messages name it) and `ERROR` (the
ValueError subclass it raises). Its dict carries the format version, so a file written by another
tonecue is refused with a clear message instead of being misread.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar, TypeVar

T = TypeVar("T", bound="VersionedSettings")


def unknown_fields(cls: type, data: Any) -> tuple[list[str], list[str]]:
    """The keys of `data` that are not fields of the dataclass `cls`, and its field names
    (both sorted): every settings class checks a dict from a file or a model this way."""
    known = sorted(f.name for f in dataclasses.fields(cls))
    return sorted(set(data) - set(known)), known


class VersionedSettings:
    FORMAT_VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "settings"
    ERROR: ClassVar[type[ValueError]] = ValueError

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": self.FORMAT_VERSION, **dataclasses.asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        data = dict(data)
        version = data.pop("format_version", cls.FORMAT_VERSION)
        if version != cls.FORMAT_VERSION:
            raise cls.ERROR(
                f"{cls.DESCRIPTION} format {version!r} is not supported by this tonecue "
                f"(it reads format {cls.FORMAT_VERSION}); upgrade tonecue or re-export the model"
            )
        unknown, _ = unknown_fields(cls, data)
        if unknown:
            raise cls.ERROR(f"{cls.DESCRIPTION} has settings this tonecue does not know: {unknown}")
        return cls(**data)

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise cls.ERROR(f"{cls.DESCRIPTION} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise cls.ERROR(f"{cls.DESCRIPTION} JSON must be an object")
        return cls.from_dict(data)
