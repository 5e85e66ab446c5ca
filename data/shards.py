"""Sharded, resumable, deterministic stages.

A stage maps work units (one problem each) to records. Shard i of n takes units i, i+n,
i+2n, ... so that merging interleaves the shards back into input order without reloading the
input. While a shard runs, every finished unit is appended to `<name>.shard-i-of-n.partial`
as one line `{"id": ..., "records": [...]}` and fsynced; a rerun keeps those units (a line cut
by a kill is dropped) and does only the rest. A finished shard is renamed to `.jsonl`; the
merge writes `<name>.jsonl`, one record a line, atomically. Seeds derive from the unit, never
from the shard, so n shards merged give the same bytes as one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

from tqdm import tqdm

from data.records import RecordError, write_atomic

log = logging.getLogger(__name__)
T = TypeVar("T")


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from any parts (global seed, problem id, index, ...): stable across runs."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} is not in 0..{self.count - 1}")

    def select(self, units: Sequence[T]) -> list[T]:
        return list(units[self.index :: self.count])

    def path(self, out_dir: Path, name: str, suffix: str) -> Path:
        return out_dir / f"{name}.shard-{self.index:05d}-of-{self.count:05d}.{suffix}"


class ShardWriter:
    """Appends finished units of one shard; knows which units are already done."""

    def __init__(self, out_dir: Path | str, name: str, shard: Shard):
        self.out_dir, self.name, self.shard = Path(out_dir), name, shard
        self.partial = shard.path(self.out_dir, name, "partial")
        self.final = shard.path(self.out_dir, name, "jsonl")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.done = self._recover()

    def _recover(self) -> set[str]:
        if self.final.exists():
            return {unit["id"] for unit in read_units(self.final)}
        if not self.partial.exists():
            return set()
        lines = self.partial.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = []
        for line in lines:
            try:
                unit = json.loads(line)
            except json.JSONDecodeError:
                break  # a kill cut this line: it and anything after it is redone
            if line.endswith("\n") and isinstance(unit, dict) and "id" in unit:
                kept.append(line)
        if len(kept) < len(lines):
            log.warning("%s: dropping %d unfinished line(s)", self.partial, len(lines) - len(kept))
            write_atomic(self.partial, [line.rstrip("\n") for line in kept])
        if kept:
            log.info("%s: resuming, %d unit(s) already done", self.partial, len(kept))
        return {json.loads(line)["id"] for line in kept}

    @property
    def finished(self) -> bool:
        return self.final.exists()

    def write(self, unit_id: str, records: list[dict]) -> None:
        line = json.dumps({"id": unit_id, "records": records}, ensure_ascii=False)
        with open(self.partial, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.done.add(unit_id)

    def finish(self) -> Path:
        if not self.partial.exists():  # a shard with no units
            write_atomic(self.partial, [])
        os.replace(self.partial, self.final)
        return self.final


def run_shard(
    out_dir: Path | str,
    name: str,
    shard: Shard,
    units: Sequence[T],
    unit_id: Callable[[T], str],
    process: Callable[[list[T]], list[list[dict]]],
    batch_size: int,
) -> Path:
    """Run `process` over this shard's unfinished units, `batch_size` at a time, saving each
    unit's records as soon as its batch returns; returns the finished shard file."""
    writer = ShardWriter(out_dir, name, shard)
    if writer.finished:
        return writer.final
    todo = [u for u in shard.select(units) if unit_id(u) not in writer.done]
    with tqdm(total=len(todo), desc=f"{name} shard {shard.index}/{shard.count}", unit="unit") as bar:
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            for unit, records in zip(batch, process(batch), strict=True):
                writer.write(unit_id(unit), records)
            bar.update(len(batch))
    return writer.finish()


def read_units(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                unit = json.loads(line)
            except json.JSONDecodeError as e:
                raise RecordError(f"{path}:{number}: malformed JSON ({e.msg})") from e
            if not isinstance(unit, dict) or "id" not in unit or "records" not in unit:
                raise RecordError(f"{path}:{number}: expected fields 'id' and 'records'")
            yield unit


def merge(out_dir: Path | str, name: str, num_shards: int) -> Path:
    """Interleave the finished shards back into input order; write `<name>.jsonl`."""
    out_dir = Path(out_dir)
    paths = [Shard(i, num_shards).path(out_dir, name, "jsonl") for i in range(num_shards)]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise RecordError(f"cannot merge {name}: unfinished shard(s): {', '.join(missing)}")
    shards = [list(read_units(p)) for p in paths]
    lines = []
    for position in range(max((len(s) for s in shards), default=0)):
        for units in shards:
            if position < len(units):
                lines += [json.dumps(r, ensure_ascii=False) for r in units[position]["records"]]
    merged = out_dir / f"{name}.jsonl"
    write_atomic(merged, lines)
    return merged
