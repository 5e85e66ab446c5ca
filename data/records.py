"""Records: one JSON object a line, each with a `schema` version.

Reading validates every line against its dataclass; a malformed line, a missing field or a
wrong type raises one `RecordError` naming the file, the line and the field.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

from data.codec import DecodeError, MissingField, Mode, Refused, decode

SCHEMA = 1
R = TypeVar("R")


class RecordError(ValueError):
    """Bad input: says where (file:line) and which field."""


@dataclass(frozen=True)
class Problem:
    id: str
    question: str
    answer: str
    level: int | None = None
    subject: str = ""
    source: str = ""


@dataclass(frozen=True)
class Sample:
    problem_id: str
    index: int
    text: str
    steps: list[str]
    answer: str | None
    correct: bool
    num_tokens: int
    finish_reason: str


def from_dict(cls: type[R], obj: Any, where: str) -> R:
    """`cls` built from one decoded JSON object, its fields checked and never converted
    (data/codec.py RECORD); `where` is "file:line" for errors. The class's own check
    (`__post_init__`) raises its own error."""
    try:
        return decode(cls, obj, "", Mode.RECORD)
    except Refused as e:
        raise e.got from None
    except MissingField as e:
        raise RecordError(f"{where}: missing field '{e.at}' ({cls.__name__})") from None
    except DecodeError as e:
        if not e.at:
            raise RecordError(f"{where}: expected a JSON object, got {type(obj).__name__}") from None
        name = e.at.split(".")[0]  # the field, named with its whole type and value
        raise RecordError(
            f"{where}: field '{name}' should be {typing.get_type_hints(cls)[name]}, got {obj[name]!r:.80}"
        ) from None


def to_dict(record: Any) -> dict[str, Any]:
    return {"schema": SCHEMA, **dataclasses.asdict(record)}


def to_json(record: Any) -> str:
    return json.dumps(to_dict(record), ensure_ascii=False)


def iter_lines(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-empty line; bad JSON names file and line."""
    try:
        handle = open(path, encoding="utf-8")
    except OSError as e:
        raise RecordError(f"{path}: cannot read ({e.strerror})") from e
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as e:
                raise RecordError(f"{path}:{number}: malformed JSON ({e.msg})") from e


def read_records(path: Path | str, cls: type[R]) -> list[R]:
    path = Path(path)
    records = []
    for number, obj in iter_lines(path):
        where = f"{path}:{number}"
        if isinstance(obj, dict) and obj.get("schema", SCHEMA) != SCHEMA:
            raise RecordError(f"{where}: field 'schema' is {obj['schema']}, this code reads {SCHEMA}")
        records.append(from_dict(cls, obj, where))
    return records


def write_atomic(path: Path | str, lines: Iterable[str]) -> None:
    """Write all lines to a temporary file, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class StepLabels:
    """Monte Carlo step labels of one sampled solution (Math-Shepherd style, soft).

    `values[i]` is the fraction of `rollouts[i]` continuations from the prefix ending at step i
    that reach the right answer; the last step's value is the solution's own correctness
    (`rollouts[-1] == 0`). The hard label of a step is `value > 0`. `ttc label --rollouts.mode
    binary_search` writes hard values (1.0 before the first error, 0.0 from it on) and
    `rollouts[i] == 0` for the steps it inferred without rolling out (data/labels.py).
    """

    problem_id: str
    sample_index: int
    question: str
    steps: list[str]
    values: list[float]
    rollouts: list[int]


@dataclass(frozen=True)
class Trajectory:
    """One revision-training example (data/trajectories.py builds it from sampled solutions).

    `previous` are the k incorrect attempts put in context, oldest first (the last is the one
    closest to `target`); `target` is the correct solution the reviser learns to write next.
    `index` is the target's sample index, `previous_indices` those of the attempts: each
    example can be traced back to `samples.jsonl`.
    """

    problem_id: str
    index: int
    question: str
    previous: list[str]
    previous_indices: list[int]
    target: str
