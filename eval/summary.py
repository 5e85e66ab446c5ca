"""Eval summaries: the typed numbers each eval stage writes beside its markdown and figures, and
the only thing `ttc report` reads of it, as one versioned artifact (data/artifacts.py).

A summary is a frozen dataclass with its `FORMAT`; `save` and `load` go through its type hints
(data/codec.py), nested dataclasses (Paired, Ratio, a stage's rows) included. JSON keys are
strings, so a curve's numeric keys (budget -> accuracy as dict[int, float], ratio -> accuracy as
dict[float, float]) and its named keys (an Enum, such as eval/prm.py's Curve, by value) are
parsed back by the hint, and a value of the wrong type is one RecordError naming the file and the
dotted field. A number that is undefined (an AUC with nothing to rank) is None, never NaN: the
file stays JSON, and `fmt` prints None as the stages always printed NaN.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from data import artifacts
from data.codec import DecodeError, Mode, decode, encode
from data.records import RecordError

VERSION = 1
S = TypeVar("S", bound="Summary")


class Summary:
    """Base of the stages' summary dataclasses: `FORMAT` names the kind of file, `VERSION` its
    layout (a summary whose fields change raises its own)."""

    FORMAT: ClassVar[str]
    VERSION: ClassVar[int] = VERSION

    def save(self, path: Path | str) -> None:
        body = encode(self)
        finite(body, "")
        artifacts.save(path, self.FORMAT, self.VERSION, body)

    @classmethod
    def load(cls: type[S], path: Path | str) -> S:
        """The summary in `path`, decoded by its type hints (data/codec.py ARTIFACT)."""
        try:
            return decode(cls, artifacts.load(path, cls.FORMAT, cls.VERSION), "", Mode.ARTIFACT)
        except DecodeError as e:
            raise RecordError(f"{path}: {e}") from e


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
