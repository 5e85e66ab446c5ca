"""Eval summaries: the typed numbers each eval stage writes beside its markdown and figures, and
the only thing `ttc report` reads of it, as one versioned artifact (data/artifacts.py).

A summary is a frozen dataclass with its `FORMAT`; `save` and `load` go through its type hints,
nested dataclasses (Paired, Ratio, a stage's rows) included. JSON keys are strings, so a curve's
numeric keys (budget -> accuracy as dict[int, float], ratio -> accuracy as dict[float, float]) are
parsed back by the hint, and a value of the wrong type is one RecordError naming the file and the
dotted field. A number that is undefined (an AUC with nothing to rank) is None, never NaN: the
file stays JSON, and `fmt` prints None as the stages always printed NaN.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections import abc
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from data import artifacts
from data.records import RecordError

VERSION = 1
S = TypeVar("S", bound="Summary")


class Summary:
    """Base of the stages' summary dataclasses: `FORMAT` names the kind of file, `VERSION` its
    layout (a summary whose fields change raises its own)."""

    FORMAT: ClassVar[str]
    VERSION: ClassVar[int] = VERSION

    def save(self, path: Path | str) -> None:
        body = dataclasses.asdict(self)
        finite(body, "")
        artifacts.save(path, self.FORMAT, self.VERSION, body)

    @classmethod
    def load(cls: type[S], path: Path | str) -> S:
        return decode(cls, artifacts.load(path, cls.FORMAT, cls.VERSION), "", str(path))


def defined(x: float) -> float | None:
    """None for NaN (an undefined number), else x."""
    return None if math.isnan(x) else x


def fmt(x: float | None, spec: str) -> str:
    """x formatted by `spec`; None as NaN formats ('nan', 'nan%')."""
    return format(math.nan if x is None else x, spec)


def finite(obj: Any, at: str) -> None:
    """A NaN or infinity anywhere is an error naming its field: undefined numbers are None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"field '{at}' is {obj}: an undefined number is None in a summary")
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    for key, value in items:
        finite(value, f"{at}.{key}" if at else str(key))


def decode(tp: Any, value: Any, at: str, path: str) -> Any:
    """`value` (decoded JSON) as the annotation `tp` says, at field `at` of file `path`: dataclasses
    built, mapping keys parsed, ints widened to floats, lists made tuples where the hint says so."""

    def wrong(expected: str) -> RecordError:
        return RecordError(f"{path}: field '{at}' should be {expected}, got {value!r:.80}")

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise wrong(f"a {tp.__name__} object")
        hints, fields = typing.get_type_hints(tp), {}
        for f in dataclasses.fields(tp):
            where = f"{at}.{f.name}" if at else f.name
            if f.name in value:
                fields[f.name] = decode(hints[f.name], value[f.name], where, path)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecordError(f"{path}: missing field '{where}'")
        try:
            return tp(**fields)
        except ValueError as e:
            raise RecordError(f"{path}: {at + ': ' if at else ''}{e}") from e
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (option,) = [a for a in args if a is not type(None)]  # summaries use X | None only
        return decode(option, value, at, path)
    if origin in (dict, abc.Mapping):
        key_type, value_type = args
        if not isinstance(value, dict):
            raise wrong(f"a mapping of {key_type.__name__} to {value_type}")
        keys = {}
        for k in value:
            try:
                keys[k] = key_type(k)
            except ValueError:
                raise wrong(f"a mapping with {key_type.__name__} keys") from None
        return {keys[k]: decode(value_type, v, f"{at}.{k}", path) for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, list) or (origin is tuple and len(value) != len(args)):
            raise wrong(str(tp))
        items = args if origin is tuple else args * len(value)
        decoded = [decode(t, v, f"{at}.{i}", path) for i, (t, v) in enumerate(zip(items, value))]
        return tuple(decoded) if origin is tuple else decoded
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and isinstance(value, tp) and (tp is bool or not isinstance(value, bool)):
        return value  # a bool is no int here
    raise wrong(tp.__name__)
