"""Sharded, resumable, deterministic stages that never lose or mix data.

A stage maps work units (one problem each) to records. Shard i of n takes units i, i+n,
i+2n, ... so that merging interleaves the shards back into input order without reloading the
input. While a shard runs, every finished unit is appended to `<name>.shard-i-of-n.partial`
as one line `{"id": ..., "records": [...]}` and fsynced; a rerun keeps those units (a line cut
by a kill is dropped) and does only the rest. A finished shard is renamed to `.jsonl`; the
merge writes `<name>.jsonl`, one record a line, atomically. Seeds derive from the unit, never
from the shard, so n shards merged give the same bytes as one.

Two guards (`claim`), taken before any model loads:
- a lock per shard (`.lock-<name>.shard-i-of-n`, data/lock.py): a second run on the same shard
  fails at once naming the first; a dead run's lock is gone with it (kill -9, Slurm requeue);
- the settings that make the records (`settings_of`: the resolved config without where it
  writes, which shard, and speed knobs) are saved beside the shard as
  `<name>.shard-i-of-n.settings.json` and compared on every rerun: a shard begun or finished
  with other settings is refused with one line naming the keys that differ, unless the run
  asks to start fresh (`overwrite`). The merge checks that every shard has the same settings
  and saves them as `<name>.settings.json`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

from tqdm import tqdm

from data.config import ConfigError
from data.lock import hold, output_folder, waiting
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


# Fields that never change a stage's records: where it writes, which shard, starting afresh,
# tracking, and the speed knobs of its engines. Anything else (batch sizes included: `ttc
# eval` shares a batch's tokens among its problems) is part of the settings unless a stage
# names it too (`ttc sample` batches are independent requests).
VOLATILE = frozenset({"output_dir", "shard", "num_shards", "overwrite", "tracking", "threads", "device",
                      "kv_cache_gib", "gpu_memory_utilization", "tensor_parallel_size", "enforce_eager",
                      "block_size"})


def settings_of(config: Any, volatile: frozenset[str] | set[str] = VOLATILE) -> dict[str, Any]:
    """The settings that make a stage's records: every field of the config (dotted, nested
    sections walked) but those named in `volatile` (at any depth)."""
    found: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        for f in dataclasses.fields(node):
            if f.name in volatile or not f.init:
                continue
            value = getattr(node, f.name)
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                walk(value, f"{prefix}{f.name}.")
            else:
                found[prefix + f.name] = json.loads(json.dumps(value, default=str))

    walk(config, "")
    return found


def fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    """`key old -> new, ...` for every key whose value differs (a key's absence shown as -)."""
    def show(settings: dict[str, Any], key: str) -> str:
        return f"{json.dumps(settings[key])[:60]}" if key in settings else "-"

    keys = sorted(k for k in old.keys() | new.keys() if old.get(k, ...) != new.get(k, ...))
    return ", ".join(f"{k} {show(old, k)} -> {show(new, k)}" for k in keys)


def read_settings(path: Path) -> dict[str, Any]:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return saved["settings"]
    except (ValueError, KeyError, TypeError) as e:
        raise RecordError(f"{path}: unreadable settings ({e}); delete it and rerun with --overwrite true") from e


def write_settings(path: Path, settings: dict[str, Any]) -> None:
    record = {"schema": 1, "fingerprint": fingerprint(settings), "settings": settings}
    write_atomic(path, [json.dumps(record, ensure_ascii=False, sort_keys=True, indent=1)])


class SettingsError(ConfigError):
    """A rerun whose settings differ from those of the records already there."""


_fresh: set[str] = set()  # shards this process has started afresh (`overwrite`): only once


def claim(out_dir: Path | str, name: str, shard: "Shard", settings: dict[str, Any] | None = None,
          overwrite: bool = False) -> "ShardWriter":
    """This shard's writer, once it is ours: locked for this process, its saved settings equal
    to `settings` (or saved now), or, with `overwrite`, its earlier outputs removed."""
    out_dir = output_folder(out_dir)
    stem = shard.path(out_dir, name, "x").name.removesuffix(".x")
    hold(out_dir / f".lock-{stem}", f"{name} shard {shard.index}/{shard.count}")
    saved, merged, merged_saved = (out_dir / f"{stem}.settings.json", out_dir / f"{name}.jsonl",
                                   out_dir / f"{name}.settings.json")
    outputs = [shard.path(out_dir, name, "partial"), shard.path(out_dir, name, "jsonl")]
    if overwrite and str(saved.resolve()) not in _fresh:
        removed = [p for p in [*outputs, saved, merged, merged_saved] if p.exists()]
        for p in removed:
            p.unlink()
        if removed:
            log.warning("overwrite: removed %s", ", ".join(p.name for p in removed))
        _fresh.add(str(saved.resolve()))
    if settings is not None:
        for path, what in ((saved, f"{stem}"), (merged_saved, f"{name}.jsonl")):
            if path.exists() and (old := read_settings(path)) != settings:
                raise SettingsError(f"{out_dir}: {what} was made with other settings ({differences(old, settings)}): "
                                    "rerun with --overwrite true to start afresh, or use another --output_dir")
        if not saved.exists():
            if any(p.exists() for p in outputs):
                log.warning("%s: begun without saved settings (an older version): taking them to be this run's", stem)
            write_settings(saved, settings)
    return ShardWriter(out_dir, name, shard)


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
        try:  # NaN and Infinity are not JSON: refuse them rather than write a file others cannot read
            line = json.dumps({"id": unit_id, "records": records}, ensure_ascii=False, allow_nan=False)
        except ValueError as e:
            raise RecordError(f"{self.partial}: unit {unit_id!r}: a record holds a non-finite number ({e})") from e
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
    settings: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Run `process` over this shard's unfinished units, `batch_size` at a time, saving each
    unit's records as soon as its batch returns; returns the finished shard file. `settings`
    and `overwrite` are `claim`'s."""
    if not units:
        raise ConfigError(f"{name}: nothing to do: the stage's input has no units (problems)")
    writer = claim(out_dir, name, shard, settings, overwrite)
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
    """Interleave the finished shards back into input order; write `<name>.jsonl` (and the
    shards' common settings beside it). Shards made with other settings are not mixed."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise ConfigError(f"cannot merge {name}: output_dir {out_dir} is not a folder")
    paths = [Shard(i, num_shards).path(out_dir, name, "jsonl") for i in range(num_shards)]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise RecordError(f"cannot merge {name}: unfinished shard(s): {', '.join(missing)}")
    saved = [p.with_name(p.name.removesuffix(".jsonl") + ".settings.json") for p in paths]
    settings = [read_settings(p) if p.exists() else None for p in saved]
    known = [(p, s) for p, s in zip(saved, settings) if s is not None]
    for path, other in known[1:]:
        if other != known[0][1]:
            raise SettingsError(f"cannot merge {name}: {path.name} and {known[0][0].name} were made with different "
                                f"settings ({differences(known[0][1], other)})")
    with waiting(out_dir / f".lock-{name}.merge"):  # two shards that finish together
        shards = [list(read_units(p)) for p in paths]
        lines = []
        for position in range(max((len(s) for s in shards), default=0)):
            for units in shards:
                if position < len(units):
                    lines += [json.dumps(r, ensure_ascii=False) for r in units[position]["records"]]
        merged = out_dir / f"{name}.jsonl"
        if known:
            write_settings(out_dir / f"{name}.settings.json", known[0][1])
        write_atomic(merged, lines)
    return merged
