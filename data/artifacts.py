"""Versioned JSON artifacts passed between stages (difficulty bins, the fitted policy): one JSON
object with its `format` and `version`, written atomically. Reading checks both first, so a
file of another kind or of an older layout fails with one error naming the file and the field
rather than somewhere downstream.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, TypeVar

from data.records import RecordError, from_dict, write_atomic

T = TypeVar("T")


def save(path: Path | str, fmt: str, version: int, body: Mapping[str, Any]) -> None:
    write_atomic(path, [json.dumps({"format": fmt, "version": version, **body}, indent=1)])


def load(path: Path | str, fmt: str, version: int) -> dict[str, Any]:
    """The object's fields but `format` and `version`, once both are checked."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise RecordError(f"{path}: cannot read the {fmt} ({e})") from e
    if not isinstance(record, dict):
        raise RecordError(f"{path}: expected a JSON object ({fmt})")
    if record.get("format") != fmt:
        raise RecordError(
            f"{path}: field 'format' is {record.get('format')!r}, expected {fmt!r} "
            "(not one, or written before it was versioned: rerun the stage that writes it)"
        )
    if record.get("version") != version:
        raise RecordError(f"{path}: field 'version' is {record.get('version')!r}; this code reads {version}")
    return {k: v for k, v in record.items() if k not in ("format", "version")}


def build(cls: type[T], fields: Mapping[str, Any], path: Path | str) -> T:
    """`cls` from loaded fields: their types checked (data/records.py), then the class's own
    checks (a ValueError naming the field); either error names the file."""
    try:
        return from_dict(cls, dict(fields), str(path))
    except RecordError:
        raise
    except ValueError as e:
        raise RecordError(f"{path}: {e}") from e
