"""One dataclass-JSON codec: a value read from YAML or JSON, checked against a type annotation
and, by `Mode`, converted to it.

- CONFIG (recipes and flags, data/config.py): an int widens to a float, a float given as text
  (`3e-5`, which YAML 1.1 reads as a string) is parsed, a number given where text is expected
  becomes its text, a list or tuple becomes what the hint says; a mapping is taken whole.
  Sections (nested dataclasses) are the front end's, which knows the recipe's lines.
- RECORD (JSON lines and versioned artifacts, data/records.py and data/artifacts.py): checked,
  never converted (an int stays an int where a float is expected), so a record read and written
  again keeps its bytes; a mapping is taken whole.
- ARTIFACT (eval summaries, the policy's table): nested dataclasses built, a mapping's keys
  parsed by their type (JSON keys are strings: int, float and Enum keys, the last by value) and
  its values decoded, an int widened to a float, a list made a tuple where the hint says so.

A wrong value raises one `DecodeError(at, expected, got)` (`MissingField`, `Refused` for a
dataclass's own check); each front end words it as its errors always read (a file and line, a
dotted field). `encode` is the way back: `dataclasses.asdict`, every Enum as its value.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections import abc
from enum import Enum
from typing import Any


class Mode(Enum):
    CONFIG = "config"
    RECORD = "record"
    ARTIFACT = "artifact"


class Label(str, Enum):
    """An Enum whose members are their text everywhere: in str(), an f-string, a JSON file, and
    as a dict key (equal to, and hashed as, the text)."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class DecodeError(ValueError):
    """The value `got` at field `at` (dotted; "" the whole) is not `expected`."""

    def __init__(self, at: str, expected: str, got: Any):
        super().__init__(at, expected, got)
        self.at, self.expected, self.got = at, expected, got

    def __str__(self) -> str:
        return f"field '{self.at}' should be {self.expected}, got {self.got!r:.80}"


class MissingField(DecodeError):
    """A field without a default is not given."""

    def __init__(self, at: str):
        super().__init__(at, "given", None)

    def __str__(self) -> str:
        return f"missing field '{self.at}'"


class Refused(DecodeError):
    """The dataclass at `at` refused its values (its `__post_init__`): `got` is its ValueError."""

    def __str__(self) -> str:
        return f"{self.at}: {self.got}" if self.at else str(self.got)


def decode(tp: Any, value: Any, at: str, mode: Mode) -> Any:
    """`value` as the annotation `tp` says, by `mode`'s rules; `at` names it in a DecodeError."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        return _union(args, value, at, mode)
    if origin is typing.Literal:
        if value not in args:
            raise DecodeError(at, f"one of {args}", value)
        return value
    if origin in (list, tuple):
        return _sequence(tp, value, at, mode)
    if origin in (dict, abc.Mapping):
        return _mapping(tp, value, at, mode)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type) and mode is not Mode.CONFIG:
        return _dataclass(tp, value, at, mode)
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)  # by value, as `encode` writes it
        except ValueError:
            raise DecodeError(at, f"one of {[m.value for m in tp]}", value) from None
    return _scalar(tp, value, at, mode)


def _union(options: tuple, value: Any, at: str, mode: Mode) -> Any:
    """None where the union allows it, else the first option that takes the value (the first one's error)."""
    if value is None and type(None) in options:
        return None
    errors = []
    for option in (o for o in options if o is not type(None)):
        try:
            return decode(option, value, at, mode)
        except DecodeError as e:
            errors.append(e)
    raise errors[0]


def _sequence(tp: Any, value: Any, at: str, mode: Mode) -> list | tuple:
    """A list (or tuple) of items each of its type; CONFIG takes a tuple as well and says `[i]`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    config = mode is Mode.CONFIG
    if not isinstance(value, (list, tuple) if config else list):
        raise DecodeError(at, "a list" if config else str(tp), value)
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise DecodeError(at, "a list" if config else str(tp), value)
        items = list(args)
    else:
        items = [args[0] if args else Any] * len(value)
    decoded = [
        decode(t, v, f"{at}[{i}]" if config else f"{at}.{i}", mode) for i, (t, v) in enumerate(zip(items, value))
    ]
    return tuple(decoded) if origin is tuple else decoded


def _mapping(tp: Any, value: Any, at: str, mode: Mode) -> dict:
    """A mapping: taken whole (CONFIG, RECORD), or keys parsed and values decoded (ARTIFACT)."""
    if mode is not Mode.ARTIFACT:
        if not isinstance(value, dict):
            raise DecodeError(at, "a mapping" if mode is Mode.CONFIG else str(tp), value)
        return dict(value) if mode is Mode.CONFIG else value
    key_type, value_type = typing.get_args(tp)
    if not isinstance(value, dict):
        raise DecodeError(at, f"a mapping of {key_type.__name__} to {value_type}", value)
    keys = {}
    for k in value:
        try:
            keys[k] = key_type(k)
        except ValueError:
            raise DecodeError(at, f"a mapping with {key_type.__name__} keys", value) from None
    return {keys[k]: decode(value_type, v, f"{at}.{k}", mode) for k, v in value.items()}


def _dataclass(tp: type, value: Any, at: str, mode: Mode) -> Any:
    """`tp` built from a JSON object, field by field; a missing field without a default, or the
    class's own check refusing the values, is a DecodeError too."""
    if not isinstance(value, dict):
        raise DecodeError(at, f"a {tp.__name__} object", value)
    hints, fields = typing.get_type_hints(tp), {}
    for f in dataclasses.fields(tp):
        where = f"{at}.{f.name}" if at else f.name
        if f.name in value:
            fields[f.name] = decode(hints[f.name], value[f.name], where, mode)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise MissingField(where)
    try:
        return tp(**fields)
    except ValueError as e:
        raise Refused(at, "accepted by its own checks", e) from e


def _scalar(tp: Any, value: Any, at: str, mode: Mode) -> Any:
    """A number, text, bool or other instance; a bool is no number. CONFIG reads numbers given
    as text and text given as numbers; RECORD takes an int for a float without widening it."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is float and number:
        return value if mode is Mode.RECORD else float(value)
    if mode is Mode.CONFIG and tp is float and isinstance(value, str):  # YAML 1.1 reads `3e-5` (no dot) as text
        try:
            return float(value)
        except ValueError:
            pass
    if mode is Mode.CONFIG and tp is str and number:
        return str(value)
    if isinstance(tp, type) and (not isinstance(value, tp) or (tp is int and isinstance(value, bool))):
        raise DecodeError(at, tp.__name__, value)
    return value


def encode(obj: Any) -> Any:
    """A dataclass as plain JSON data: `dataclasses.asdict`, every Enum (key or value) as its value."""
    return _plain(dataclasses.asdict(obj))


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value
