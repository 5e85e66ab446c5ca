"""Sharded, resumable, deterministic stages that never lose or mix data.

A stage maps work units (one problem each) to records. Shard i of n takes units i, i+n,
i+2n, ... so that merging interleaves the shards back into input order without reloading the
input. While a shard runs, every finished unit is appended to `<name>.shard-i-of-n.partial`
as one line `{"id": ..., "records": [...]}` and fsynced; a rerun keeps those units (a last
line cut by a kill is dropped) and does only the rest. A finished shard is renamed to `.jsonl`
(its units in input order); the merge writes `<name>.jsonl`, one record a line, atomically.
Seeds derive from the unit, never from the shard, so n shards merged give the same bytes as one.

Two guards (`claim`), taken before any model loads:
- a lock per shard (`.lock-<name>.shard-i-of-n`, data/lock.py): a second run on the same shard
  fails at once naming the first; a dead run's lock is gone with it (kill -9, Slurm requeue);
- the settings that make the records (`settings_of`: the resolved config without where it
  writes, which shard, and speed knobs) are saved beside the shard as
  `<name>.shard-i-of-n.settings.json` and compared on every rerun: a shard begun or finished
  with other settings is refused with one line naming the keys that differ, unless the run
  asks to start fresh (`overwrite`). The merge checks that every shard has the same settings
  and saves them as `<name>.settings.json`. A shard's records without its settings file are
  refused too (resumed or merged): what made them is unknown (restore the file, or rerun that
  shard with `overwrite`). A stage that keeps no settings (`run_shard(settings=None)`, the ORM
  scores of eval/revision.py) merges with `keeps_settings=False`.

The settings identify a stage's input files by CONTENT as well: a config class names the
fields that are input files once: it subclasses `ReadsFiles` and sets `INPUT_FILES = ("samples",)`
(a class attribute, not a field: the settings keep their keys), and `settings_of` adds
`<field>.content`, a streamed blake2b of the file's bytes. A resume on a
regenerated input (`ttc sample` rerun under a running `ttc label`) is then refused like any
other change, while a copied or moved input of the same bytes is the same content (the path
itself stays a setting too, as before). MATH sources (`data.source`, a file, folder or hub id)
are not hashed: their problems are the units, which the next guard checks.

What a shard's files may hold (`Expected`): the shard's own units (its selection of the input's
unit ids, recorded in its settings file as `units` once `run_shard` knows them), each once. On
resume, a partial file's complete lines must each be such a unit, none twice; a finished file
must hold every one, once, in order; the merge checks every shard against its recorded units
and the total against the split of all units into n shards. A unit with no records is refused
unless the stage may give none (`empty_units`: `ttc label` for a question without a labelable
sample, `ttc trajectories` for one without a correct sample); every other stage gives each unit
records. A duplicate is refused even when it repeats an identical line: the writer appends only
units not yet done, so no crash or retry writes one twice; it comes from an edit or a
concatenation. Every refusal is one line naming the file, the line and what to do (RecordError;
SettingsError for settings, both bad input: exit status 2); the only line dropped quietly is a
last one cut by a kill (no newline, or unparsable), the one thing a crash leaves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator, Sequence, TypeVar

from tqdm import tqdm

from data.config import ConfigError
from data.lock import hold, output_folder, waiting
from data.records import RecordError, write_atomic

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

log = logging.getLogger(__name__)
T = TypeVar("T")
REDO = "rerun this shard with --overwrite true (or restore the file)"


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


@dataclass(frozen=True)
class Expected:
    """The units a shard must hold, in input order, and whether a unit may have no records."""

    ids: tuple[str, ...]
    empty_units: bool = False

    @staticmethod
    def of(
        name: str, shard: Shard, units: Sequence[T], unit_id: Callable[[T], str], empty_units: bool = False
    ) -> "Expected":
        ids = [unit_id(u) for u in units]
        if len(set(ids)) < len(ids):
            twice = next(uid for uid, count in Counter(ids).items() if count > 1)
            raise ConfigError(f"{name}: unit {twice!r} is twice in the stage's input: its records would be ambiguous")
        return Expected(tuple(shard.select(ids)), empty_units)

    @cached_property
    def position(self) -> dict[str, int]:
        return {uid: i for i, uid in enumerate(self.ids)}


# Fields that never change a stage's records: where it writes, which shard, starting afresh,
# tracking, and the speed knobs of its engines. Anything else (batch sizes included: `ttc
# eval` shares a batch's tokens among its problems) is part of the settings unless a stage
# names it too (`ttc sample` batches are independent requests).
VOLATILE = frozenset(
    {
        "output_dir",
        "shard",
        "num_shards",
        "overwrite",
        "tracking",
        "threads",
        "device",
        "kv_cache_gib",
        "gpu_memory_utilization",
        "tensor_parallel_size",
        "enforce_eager",
        "block_size",
    }
)


class ReadsFiles:
    """A config some of whose fields are input files (`INPUT_FILES`), in its settings by their
    content too (`settings_of`)."""

    INPUT_FILES: ClassVar[tuple[str, ...]] = ()


def content_of(path: Path | str, key: str) -> str:
    """A streamed blake2b of a file's bytes: the input's identity wherever it lies."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{key}: {path}: no such file")
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return f"blake2b:{digest.hexdigest()}"


def _is_section(value: Any) -> bool:
    """Whether a config field's value is a nested config (a dataclass instance)."""
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def settings_of(config: Any, volatile: frozenset[str] | set[str] = VOLATILE) -> dict[str, Any]:
    """The settings that make a stage's records: every field of the config (dotted, nested
    sections walked) but those named in `volatile` (at any depth), and `<field>.content` for
    each input file a `ReadsFiles` config names in `INPUT_FILES`."""
    found: dict[str, Any] = {}

    def walk(node: DataclassInstance, prefix: str) -> None:
        inputs = node.INPUT_FILES if isinstance(node, ReadsFiles) else ()
        for f in dataclasses.fields(node):
            if f.name in volatile or not f.init:
                continue
            value = getattr(node, f.name)
            if _is_section(value):
                walk(value, f"{prefix}{f.name}.")
            else:
                found[prefix + f.name] = json.loads(json.dumps(value, default=str))
            if f.name in inputs and value is not None:
                found[f"{prefix}{f.name}.content"] = content_of(value, prefix + f.name)

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


def read_saved(path: Path) -> dict[str, Any]:
    """A settings file: `settings`, and the shard's `units` and `empty_units` once recorded."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(saved["settings"], dict) or not isinstance(saved.get("units", []), list):
            raise TypeError("'settings' is not an object or 'units' not a list")
        return saved
    except (ValueError, KeyError, TypeError) as e:
        raise RecordError(
            f"{path}: unreadable settings ({e}): the settings that made the records beside it are "
            "unknown; restore the file (its finished units are kept), or rerun this shard with "
            "--overwrite true to start it afresh (which deletes them)"
        ) from e


def read_settings(path: Path) -> dict[str, Any]:
    return read_saved(path)["settings"]


def recorded(path: Path) -> Expected | None:
    """The units a shard's settings file records, if it records them."""
    saved = read_saved(path)
    return Expected(tuple(saved["units"]), bool(saved.get("empty_units"))) if "units" in saved else None


def write_settings(path: Path, settings: dict[str, Any], expected: Expected | None = None) -> None:
    record: dict[str, Any] = {"schema": 1, "fingerprint": fingerprint(settings), "settings": settings}
    if expected is not None:
        record |= {"units": list(expected.ids), "empty_units": expected.empty_units}
    write_atomic(path, [json.dumps(record, ensure_ascii=False, sort_keys=True, indent=1)])


class SettingsError(ConfigError):
    """A rerun whose settings differ from those of the records already there."""


_fresh: set[str] = set()  # shards this process has started afresh (`overwrite`): only once


def claim(
    out_dir: Path | str,
    name: str,
    shard: "Shard",
    settings: dict[str, Any] | None = None,
    overwrite: bool = False,
    expected: Expected | None = None,
) -> "ShardWriter":
    """This shard's writer, once it is ours: locked for this process, its saved settings equal
    to `settings` (or saved now), or, with `overwrite`, its earlier outputs removed. `expected`
    (known once the input is loaded) is recorded beside the settings and must equal what an
    earlier run recorded; the shard's files are checked against it (or against the recorded)."""
    out_dir = output_folder(out_dir)
    stem = shard.path(out_dir, name, "x").name.removesuffix(".x")
    hold(out_dir / f".lock-{stem}", f"{name} shard {shard.index}/{shard.count}")
    saved, merged, merged_saved = (
        out_dir / f"{stem}.settings.json",
        out_dir / f"{name}.jsonl",
        out_dir / f"{name}.settings.json",
    )
    outputs = [shard.path(out_dir, name, "partial"), shard.path(out_dir, name, "jsonl")]
    if overwrite and str(saved.resolve()) not in _fresh:
        removed = [p for p in [*outputs, saved, merged, merged_saved] if p.exists()]
        for p in removed:
            p.unlink()
        if removed:
            log.warning("overwrite: removed %s", ", ".join(p.name for p in removed))
        _fresh.add(str(saved.resolve()))
    if settings is not None:
        if not saved.exists() and (there := [p.name for p in outputs if p.exists()]):
            raise SettingsError(
                f"{saved} is missing, but {there[0]} is there: the settings that made its records are "
                "unknown; restore it, or rerun this shard with --overwrite true"
            )
        for path, what in ((saved, f"{stem}"), (merged_saved, f"{name}.jsonl")):
            if path.exists() and (old := read_settings(path)) != settings:
                raise SettingsError(
                    f"{out_dir}: {what} was made with other settings ({differences(old, settings)}): "
                    "rerun with --overwrite true to start afresh, or use another --output_dir"
                )
        earlier = recorded(saved) if saved.exists() else None
        if expected is not None and earlier is not None and earlier.ids != expected.ids:
            raise SettingsError(
                f"{saved}: this shard was begun on other units ({unit_change(earlier, expected)}): the "
                "stage's input changed; rerun this shard with --overwrite true"
            )
        if not saved.exists() or (expected is not None and earlier != expected):
            write_settings(saved, settings, expected or earlier)
        expected = expected or earlier
    return ShardWriter(out_dir, name, shard, expected)


def unit_change(old: Expected, new: Expected) -> str:
    gone, added = [i for i in old.ids if i not in new.position], [i for i in new.ids if i not in old.position]
    if not gone and not added:
        return f"the same {len(new.ids)} in another order"
    return f"{len(old.ids)} then, {len(new.ids)} now; " + ", ".join(
        [f"{gone[0]!r} gone"] * bool(gone) + [f"{added[0]!r} new"] * bool(added)
    )


def check_unit(
    path: Path, number: int, unit: dict, expected: Expected | None, seen: dict[str, int], in_order: bool
) -> None:
    """One line of a shard file: a unit of this shard, not seen before (and, `in_order`, the
    next one), with records unless the stage may give none. RecordError naming the line."""
    uid, where = unit["id"], f"{path}:{number}: unit {unit['id']!r}"
    if not isinstance(uid, str) or not isinstance(unit["records"], list):
        raise RecordError(f"{path}:{number}: expected a text 'id' and a list of 'records'; {REDO}")
    if uid in seen:
        raise RecordError(f"{where} again (first on line {seen[uid]}); {REDO}")
    seen[uid] = number
    if expected is None:
        return
    if uid not in expected.position:
        raise RecordError(f"{where} is not one of this shard's {len(expected.ids)} units; {REDO}")
    if in_order and expected.ids[number - 1] != uid:
        raise RecordError(f"{where} where unit {expected.ids[number - 1]!r} was expected; {REDO}")
    if not unit["records"] and not expected.empty_units:
        raise RecordError(f"{where} has no records (this stage gives every unit some); {REDO}")


def read_shard(path: Path, expected: Expected | None) -> list[dict]:
    """A finished shard's units, checked: every expected unit once, in order."""
    seen: dict[str, int] = {}
    units = []
    for number, unit in enumerate(read_units(path), 1):
        check_unit(path, number, unit, expected, seen, in_order=True)
        units.append(unit)
    if expected is not None and len(units) < len(expected.ids):
        missing = len(expected.ids) - len(units)
        raise RecordError(
            f"{path}: {len(units)} of its {len(expected.ids)} units: unit {expected.ids[len(units)]!r}"
            f"{f' and {missing - 1} more' if missing > 1 else ''} missing; {REDO}"
        )
    return units


class ShardWriter:
    """Appends finished units of one shard; knows which units are already done. With `expected`,
    refuses files and writes that are not this shard's units."""

    def __init__(self, out_dir: Path | str, name: str, shard: Shard, expected: Expected | None = None):
        self.out_dir, self.name, self.shard, self.expected = Path(out_dir), name, shard, expected
        self.partial = shard.path(self.out_dir, name, "partial")
        self.final = shard.path(self.out_dir, name, "jsonl")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.order = self._recover()  # the units done, in the order they were written
        self.done = set(self.order)

    def _recover(self) -> list[str]:
        if self.final.exists():
            return [unit["id"] for unit in read_shard(self.final, self.expected)]
        if not self.partial.exists():
            return []
        *lines, cut = self.partial.read_text(encoding="utf-8").split("\n")  # only "\n" ends a line
        seen: dict[str, int] = {}
        for number, line in enumerate(lines, 1):
            unit = parse_unit(self.partial, number, line)
            check_unit(self.partial, number, unit, self.expected, seen, in_order=False)
        if cut:  # a kill cut the last line: it is redone
            log.warning("%s: dropping an unfinished last line", self.partial)
            write_atomic(self.partial, lines)
        if lines:
            log.info("%s: resuming, %d unit(s) already done", self.partial, len(lines))
        return list(seen)

    @property
    def finished(self) -> bool:
        return self.final.exists()

    def write(self, unit_id: str, records: list[dict]) -> None:
        if unit_id in self.done or (self.expected and unit_id not in self.expected.position):
            raise RecordError(f"{self.partial}: unit {unit_id!r} is done already or not this shard's (a stage bug)")
        if not records and self.expected and not self.expected.empty_units:
            raise RecordError(f"{self.partial}: unit {unit_id!r}: the stage gave no records (a stage bug)")
        try:  # NaN and Infinity are not JSON: refuse them rather than write a file others cannot read
            line = json.dumps({"id": unit_id, "records": records}, ensure_ascii=False, allow_nan=False)
        except ValueError as e:
            raise RecordError(f"{self.partial}: unit {unit_id!r}: a record holds a non-finite number ({e})") from e
        with open(self.partial, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.done.add(unit_id)
        self.order.append(unit_id)

    def finish(self) -> Path:
        """The partial file, complete, as the finished shard: its units in input order."""
        if self.expected is not None:
            missing = [uid for uid in self.expected.ids if uid not in self.done]
            if missing:
                raise RecordError(
                    f"{self.partial}: cannot finish: {len(missing)} unit(s) not done ({missing[0]!r} ...)"
                )
            if self.order != list(self.expected.ids):  # begun on the same units in another order
                lines = self.partial.read_text(encoding="utf-8").split("\n")[:-1]  # not splitlines: U+2028
                by_id = dict(zip(self.order, lines, strict=True))
                write_atomic(self.partial, [by_id[uid] for uid in self.expected.ids])
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
    empty_units: bool = False,
) -> Path:
    """Run `process` over this shard's unfinished units, `batch_size` at a time, saving each
    unit's records as soon as its batch returns; returns the finished shard file. `settings`
    and `overwrite` are `claim`'s; `empty_units`: a unit may have no records."""
    if not units:
        raise ConfigError(f"{name}: nothing to do: the stage's input has no units (problems)")
    writer = claim(out_dir, name, shard, settings, overwrite, Expected.of(name, shard, units, unit_id, empty_units))
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


def parse_unit(path: Path, number: int, line: str) -> dict:
    try:
        unit = json.loads(line)
    except json.JSONDecodeError as e:
        raise RecordError(f"{path}:{number}: malformed JSON ({e.msg}); {REDO}") from e
    if not isinstance(unit, dict) or "id" not in unit or "records" not in unit:
        raise RecordError(f"{path}:{number}: expected fields 'id' and 'records'; {REDO}")
    return unit


def read_units(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8", newline="\n") as handle:
        for number, line in enumerate(handle, 1):
            yield parse_unit(path, number, line)


def merge(out_dir: Path | str, name: str, num_shards: int, keeps_settings: bool = True) -> Path:
    """Interleave the finished shards back into input order; write `<name>.jsonl` (and the
    shards' common settings beside it). Shards made with other settings, or whose settings are
    unknown (`keeps_settings`: the stage saves them), or that do not hold their own units, each
    once, are not merged."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise ConfigError(f"cannot merge {name}: output_dir {out_dir} is not a folder")
    paths = [Shard(i, num_shards).path(out_dir, name, "jsonl") for i in range(num_shards)]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise RecordError(f"cannot merge {name}: unfinished shard(s): {', '.join(missing)}")
    saved = [p.with_name(p.name.removesuffix(".jsonl") + ".settings.json") for p in paths]
    for path, shard_file in zip(saved, paths):
        if keeps_settings and not path.exists():
            raise SettingsError(
                f"cannot merge {name}: {path} is missing: the settings that made {shard_file.name} are "
                "unknown; restore it, or rerun that shard with --overwrite true"
            )
    settings = [read_settings(p) if p.exists() else None for p in saved]
    known = [(p, s) for p, s in zip(saved, settings) if s is not None]
    for path, other in known[1:]:
        if other != known[0][1]:
            raise SettingsError(
                f"cannot merge {name}: {path.name} and {known[0][0].name} were made with different "
                f"settings ({differences(known[0][1], other)})"
            )
    expected = [recorded(p) if p.exists() else None for p in saved]
    for path, units in zip(saved, expected):
        if keeps_settings and units is None:
            raise RecordError(
                f"cannot merge {name}: {path} records no units (an older version): rerun that shard to "
                "check its records, or rerun it with --overwrite true"
            )
    with waiting(out_dir / f".lock-{name}.merge"):  # two shards that finish together
        shards = [read_shard(p, e) for p, e in zip(paths, expected)]
        check_total(name, paths, shards)
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


def check_total(name: str, paths: list[Path], shards: list[list[dict]]) -> None:
    """No unit in two shards, and as many units in each as shard i of n takes from all of them."""
    owner: dict[str, Path] = {}
    for path, units in zip(paths, shards):
        for unit in units:
            if (other := owner.setdefault(unit["id"], path)) != path:
                raise RecordError(
                    f"cannot merge {name}: unit {unit['id']!r} is in {other.name} and {path.name}: "
                    "shards of other inputs; rerun one with --overwrite true"
                )
    total, counts = sum(map(len, shards)), [len(units) for units in shards]
    if counts != [len(range(i, total, len(shards))) for i in range(len(shards))]:
        raise RecordError(
            f"cannot merge {name}: the shards hold {counts} units, not {len(shards)} shards' share of "
            f"{total}: shards of other inputs; rerun them with --overwrite true"
        )
