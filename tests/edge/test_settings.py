"""The one settings base: types from annotations, unknown keys, dicts and overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import pytest

from tonecue.edge.errors import TonecueError
from tonecue.edge.settings import Settings, VersionedSettings, unknown_keys


class ToyError(TonecueError, ValueError):
    pass


@dataclass(frozen=True)
class Toy(Settings):
    rate: float = 1.0
    count: int = 2
    loud: bool = False
    name: str = "toy"
    limit: float | None = None
    extra: Any = ()

    DESCRIPTION: ClassVar[str] = "toy settings"
    ERROR: ClassVar[type[ValueError]] = ToyError
    EXPECT: ClassVar[Mapping[str, str]] = {"rate": "a number in (0, 5]"}

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.rate <= 5:
            self.refuse([self.must("rate", self.rate)])


@dataclass(frozen=True)
class Needy(Settings):
    color: str
    size: int = 1

    ERROR: ClassVar[type[ValueError]] = ToyError
    DESCRIPTION: ClassVar[str] = "needy settings"


@dataclass(frozen=True)
class Versioned(VersionedSettings):
    level: float = 0.0

    FORMAT_VERSION: ClassVar[int] = 3
    DESCRIPTION: ClassVar[str] = "versioned settings"
    ERROR: ClassVar[type[ValueError]] = ToyError


def test_types_come_from_the_annotations_and_are_normalised():
    toy = Toy(rate=2, count=3, limit=4)
    assert isinstance(toy.rate, float) and isinstance(toy.limit, float) and toy.count == 3
    assert Toy(rate=2) == Toy(rate=2.0) and hash(Toy(rate=2)) == hash(Toy(rate=2.0))
    assert Toy(extra=["anything"]).extra == ["anything"]  # not a checked type: the subclass's to check


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rate": "fast"}, r"rate must be a number in \(0, 5\], got 'fast'"),  # EXPECT's words
        ({"rate": 9}, r"rate must be a number in \(0, 5\], got 9.0"),  # and for the range
        ({"rate": float("nan")}, "rate must be a number in"),
        ({"count": 2.5}, "count must be a whole number, got 2.5"),
        ({"count": True}, "count must be a whole number, got True"),
        ({"loud": 1}, "loud must be true or false, got 1"),
        ({"name": 3}, "name must be a string, got 3"),
        ({"limit": "none"}, "limit must be a finite number or None, got 'none'"),
    ],
)
def test_wrong_types_are_named(change, message):
    with pytest.raises(ToyError, match=message):
        Toy(**change)


def test_every_wrong_type_is_named_at_once():
    with pytest.raises(ToyError, match="count must be .*; loud must be"):
        Toy(count="x", loud="x")


def test_unknown_keys_name_the_closest_known_one():
    assert unknown_keys({"rate": 1}, ["rate"]) is None
    assert unknown_keys(["rat"], ["count", "rate"]) == (
        "unknown key 'rat' (did you mean 'rate'?); this tonecue does not know it, only ['count', 'rate']"
    )
    assert unknown_keys(["zz", "rat"], ["rate"]) == (
        "unknown keys 'rat' (did you mean 'rate'?), 'zz'; this tonecue does not know them, only ['rate']"
    )


def test_from_dict_to_dict_and_override():
    toy = Toy.from_dict({"rate": 3, "extra": (1, (2, 3))})
    assert toy.to_dict() == {"rate": 3.0, "count": 2, "loud": False, "name": "toy", "limit": None, "extra": [1, [2, 3]]}
    assert Toy.from_dict({}) == Toy()
    assert toy.override({"count": 5}) == dataclasses.replace(toy, count=5)
    with pytest.raises(ToyError, match=r"toy settings: unknown key 'cuont' \(did you mean 'count'\?\)"):
        toy.override({"cuont": 5})
    with pytest.raises(ToyError, match="rate must be a number in"):
        toy.override({"rate": 0})
    with pytest.raises(ToyError, match="toy settings must be a table of key = value settings, got 3"):
        Toy.from_dict(3)
    with pytest.raises(ToyError, match=r"needy settings needs \['color'\]"):
        Needy.from_dict({"size": 2})
    assert Needy.from_dict({"color": "red"}) == Needy("red")


def test_versioned_settings_carry_and_check_their_format():
    v = Versioned(level=2)
    assert v.to_dict() == {"format_version": 3, "level": 2.0}
    assert Versioned.from_json(v.to_json()) == v and Versioned.from_dict({"level": 2}) == v
    with pytest.raises(ToyError, match="versioned settings format 2 is not supported"):
        Versioned.from_dict({"format_version": 2})
    with pytest.raises(ToyError, match="versioned settings: unknown key 'levels'"):
        Versioned.from_dict({"levels": 1})
    with pytest.raises(ToyError, match="must be a table"):
        Versioned.from_dict([1])
