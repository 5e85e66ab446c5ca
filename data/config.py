"""Typed configs: dataclasses filled from a YAML recipe, then from `--key value` flags.

Every entry point declares one dataclass (fields may be nested dataclasses, addressed as
`--section.key`). An unknown key, a key given twice or a value of the wrong type is an error
that names the recipe file (and its line) or the flag. YAML is read safely (no tags that build
objects). `__post_init__` validation runs on the final values. A flag replaces a value that is
not a section whole (`--strategies '{...}'` is the grid, not an addition to the recipe's);
dotted flags (`--stages.label.batch_problems 4`) set one key inside.

A flag's value is read by the type of the field it sets (`read_flag`), not always as YAML, which
would cut `--output_dir "runs/x #2"` at the comment and read `010` as 8 and `12:30` as 750: a
text field (str, a Literal of strings) takes the text exactly as typed; an int or float field
reads it in decimal (`12:30` is an int error); an optional field reads `null` (or `~`) as None
(a path named null: `./null`); every other field (bool, list, mapping, section, Any) reads YAML.
The type is found through sections and `dict[str, V]` values (`flag_type`); a mapping whose
values are typed by key (ttc pipeline's `stages`) says how in its field's
`metadata={"entry_type": f}`. Where no type is known, the value is YAML, as before.

Every entry point turns bad input into one line and exit status 2 (`run_cli`); a fault of the
machine (a full disk or quota, an I/O error: an OSError of any errno but INPUT_ERRNOS's) into
one line naming the path and exit status 75 (EX_TEMPFAIL), which a wrapper may retry; Ctrl-C
into `prog: interrupted` and exit status 130. A model folder that cannot be the model asked for
(a cut weights file, an architecture not of its model_type, a PRM folder where an LM is
expected) is refused before any weight is read (data/models.py `check_model`).
"""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import os
import sys
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar, cast

import yaml

from data.codec import DecodeError, Mode, decode

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class ConfigError(ValueError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice (lines {seen[key]} and {line})", key_node.start_mark
                )
            seen[key] = line
        return super().construct_mapping(node, deep)


def load_yaml(text: str) -> Any:
    """YAML text read safely (plain data only) and strictly (no key twice in a mapping)."""
    return yaml.load(text, Loader=_StrictLoader)


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def build_dataclass(cls: type[T], values: dict[str, Any], where: str, lines: dict[str, int], prefix: str = "") -> T:
    """`cls` from `values` (nested sections too), coerced and checked as a recipe is; errors say
    `where` (a file, with the key's line when known)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        name = prefix + key
        at = f"{where}:{lines[name]}" if name in lines else where
        if key not in fields:
            raise ConfigError(f"{at}: unknown key '{name}' (known: {', '.join(sorted(fields))})")
        tp = hints[key]
        optional = [t for t in typing.get_args(tp) if t is not type(None)]
        if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(optional) == 1 and value is not None:
            tp = optional[0]  # an optional section, given
        if _is_dataclass_type(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"{at}: '{name}' is a section, got {value!r}")
            kwargs[key] = build_dataclass(tp, value, where, lines, name + ".")
        else:
            try:
                kwargs[key] = decode(tp, value, f"{at}: '{name}'", Mode.CONFIG)
            except DecodeError as e:
                raise ConfigError(f"{e.at}: expected {e.expected}, got {e.got!r}") from e
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {prefix.rstrip('.') or cls.__name__}: {e}") from e


def key_lines(text: str) -> dict[str, int]:
    """Line number of every (dotted) key in a YAML mapping, for error messages."""
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = prefix + str(key.value)
                lines[name] = key.start_mark.line + 1
                walk(value, name + ".")

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, "")
    return lines


class _Whole(dict):
    """A mapping given whole as one flag's value (`--strategies '{...}'`): it replaces."""


def given_whole(values: dict[str, Any]) -> dict[str, Any]:
    """`values` with every mapping inside given whole: merged over a recipe, a mapping that is no
    section of the config replaces the recipe's (as a flag's does), sections still merge key by key."""
    return {k: _Whole(given_whole(v)) if isinstance(v, dict) else v for k, v in values.items()}


def merge_settings(base: dict, override: dict, cls: type | None = None) -> dict:
    """`override` over `base`, sections merged key by key (a recipe under command-line flags;
    dotted flags address one key). A mapping given whole as a flag's value (ttc eval's
    `--strategies '{...}'`) replaces the recipe's, unless it is a section of `cls`, or a mapping
    of named sections (`dict[str, Dataclass]`: bench-prm's verifiers), merged name by name."""
    hints = typing.get_type_hints(cls) if cls is not None else {}
    merged = dict(base)
    for key, value in override.items():
        section = _section_type(hints.get(key)) if cls is not None else None
        named = _named_section_type(hints.get(key)) if cls is not None else None
        if named is not None and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {
                **merged[key],
                **{
                    name: merge_settings(merged[key].get(name, {}), v, named) if isinstance(v, dict) else v
                    for name, v in value.items()
                },
            }
        elif (
            isinstance(value, dict)
            and isinstance(merged.get(key), dict)
            and not (isinstance(value, _Whole) and section is None)
        ):
            merged[key] = merge_settings(merged[key], value, section)
        else:
            merged[key] = dict(value) if isinstance(value, _Whole) else value
    return merged


def _named_section_type(tp: Any) -> type | None:
    """The dataclass each value of a `dict[str, Dataclass]` field holds (bench-prm's verifiers),
    else None: such named sections merge name by name, each key by key, like a section."""
    if typing.get_origin(tp) is dict and len(args := typing.get_args(tp)) == 2 and _is_dataclass_type(args[1]):
        return args[1]
    return None


def _section_type(tp: Any) -> type | None:
    """The dataclass a field holds (also when optional), else None."""
    if _is_dataclass_type(tp):
        return tp
    options = [t for t in typing.get_args(tp) if t is not type(None)]
    if (
        typing.get_origin(tp) in (typing.Union, types.UnionType)
        and len(options) == 1
        and _is_dataclass_type(options[0])
    ):
        return options[0]
    return None


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read recipe ({e.strerror})") from e
    try:
        values = load_yaml(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML ({getattr(e, 'problem', e)})") from e
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of keys to values")
    return values, key_lines(text)


NULL = ("null", "Null", "NULL", "~")  # what an optional field's flag reads as None


def _options(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)


def _is_text(tp: Any) -> bool:
    return tp is str or (
        typing.get_origin(tp) is typing.Literal and all(isinstance(a, str) for a in typing.get_args(tp))
    )


def flag_type(cls: type, keys: list[str]) -> Any:
    """The annotation of the field the flag `--a.b.c` sets (keys [a, b, c]), through sections and
    `dict[str, V]` values; a `dict` field's `metadata={"entry_type": f}` types its values by key
    (f(key) -> a dataclass, or None). Any where the type is not known (then the value is YAML)."""
    tp: Any = cls
    entry: Callable[[str], Any] | None = None
    for key in keys:
        section = _section_type(tp)
        if entry is not None:
            tp, entry = entry(key) or Any, None
        elif section is not None:
            field = next((f for f in dataclasses.fields(section) if f.name == key), None)
            if field is None:
                return Any
            tp, entry = typing.get_type_hints(section)[key], field.metadata.get("entry_type")
        elif typing.get_origin(tp) is dict and len(typing.get_args(tp)) == 2:
            tp = typing.get_args(tp)[1]
        else:
            return Any
    return tp


def read_flag(text: str, tp: Any) -> Any:
    """A flag's value for a field of type `tp`: a text field (str, a Literal of strings) takes the
    text as typed, a number field reads it in decimal (else keeps it, for the type error), an
    optional one reads `null` or `~` as None; any other field reads it as YAML."""
    options = [t for t in _options(tp) if t is not type(None)]
    if len(options) < len(_options(tp)) and text in NULL:
        return None
    if options and all(_is_text(t) for t in options):
        return text
    if len(options) == 1 and options[0] in (int, float):
        try:
            return options[0](text)
        except ValueError:
            return text
    return load_yaml(text) if text != "" else ""


def _flag_values(argv: list[str], cls: type) -> tuple[Path | None, dict[str, Any]]:
    config, values = None, {}
    args = list(argv)
    while args:
        flag = args.pop(0)
        if not flag.startswith("--"):
            raise ConfigError(f"unexpected argument {flag!r}: flags are --key value")
        key, _, inline = flag[2:].partition("=")
        if not inline:
            if not args:
                raise ConfigError(f"flag --{key} needs a value")
            inline = args.pop(0)
        if key == "config":
            config = Path(inline)
            continue
        node = values
        *sections, leaf = key.replace("-", "_").split(".")
        for section in sections:
            node = node.setdefault(section, {})
            if not isinstance(node, dict):
                raise ConfigError(f"flag --{key}: '{section}' is also given a value of its own")
        try:
            value = read_flag(inline, flag_type(cls, [*sections, leaf]))
            node[leaf] = _Whole(value) if isinstance(value, dict) else value
        except yaml.YAMLError as e:
            problem = " ".join(str(getattr(e, "problem", None) or e).split())
            raise ConfigError(
                f"command line: flag --{key}: cannot read the value {inline!r} as YAML ({problem})"
            ) from e
    return config, values


def usage(cls: type, prefix: str = "") -> list[str]:
    """One line per flag of `cls`: `--key  type  (default)`, nested sections as dotted keys."""
    hints = typing.get_type_hints(cls)
    lines = []
    for f in (f for f in dataclasses.fields(cls) if f.init):
        tp = hints[f.name]
        if _is_dataclass_type(tp):
            lines += usage(tp, f"{prefix}{f.name}.")
            continue
        factory = cast(Callable[[], Any], f.default_factory)  # called below only when the field has one
        default = (
            "required"
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            else f"default {factory() if f.default is dataclasses.MISSING else f.default!r}"
        )
        name = tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")
        lines.append(f"  --{prefix}{f.name}  {name}  ({default})")
    return lines


def parse_config(cls: type[T], argv: list[str]) -> T:
    """`cls` from `--config recipe.yaml` (optional) overridden by `--key value` flags; `--help`
    lists the flags and exits. A recipe may leave its required keys (a stage's paths) to the flags."""
    if {"--help", "-h"} & set(argv):
        print("flags: --config RECIPE.yaml (optional), then --key value (sections: --section.key value)")
        print("\n".join(usage(cls)))
        raise SystemExit(0)
    recipe, flags = _flag_values(argv, cls)
    values, lines = read_yaml(recipe) if recipe else ({}, {})
    if recipe:  # report recipe errors against the recipe file
        build_dataclass(cls, with_paths(cls, values, flags, str(recipe)), str(recipe), lines)
    return build_dataclass(
        cls, merge_settings(values, flags, cls), "command line" if flags else str(recipe or "config"), {}
    )


def with_paths(
    cls: type, values: dict[str, Any], flags: dict[str, Any], where: str, prefix: str = ""
) -> dict[str, Any]:
    """A recipe's `values` with the required keys it leaves out (a stage's recipe holds settings, not
    its output_dir, inputs and models) taken from the `flags`; one neither gives is an error naming its flag."""
    hints = typing.get_type_hints(cls)
    filled = dict(values)
    for f in (f for f in dataclasses.fields(cls) if f.init):
        section, named, given = _section_type(hints[f.name]), _named_section_type(hints[f.name]), values.get(f.name)
        flag = flags.get(f.name)
        own = flag if isinstance(flag, dict) else {}
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if named is not None and isinstance(given, dict):  # named sections (bench-prm's verifiers): each one's
            filled[f.name] = {
                name: with_paths(named, v, own.get(name) or {}, where, f"{prefix}{f.name}.{name}.")
                if isinstance(v, dict)
                else v
                for name, v in given.items()
            }
        elif section is not None and isinstance(given if f.name in values or not required else {}, dict):
            filled[f.name] = with_paths(section, given or {}, own, where, f"{prefix}{f.name}.")
        elif required and f.name not in values:
            if f.name not in flags:
                raise ConfigError(
                    f"{where}: no {prefix}{f.name} (the recipe holds settings, not paths or models): "
                    f"give --{prefix}{f.name}"
                )
            filled[f.name] = flag
    return filled


def to_dict(config: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def save_config(config: Any, path: Path) -> None:
    """The resolved config, for the output folder (what ran is what is recorded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(to_dict(config), sort_keys=False))


# ---- entry points: bad input is one line and exit status 2; a fault of the machine, status 75 ----

BAD_INPUT_STATUS = 2  # the input is wrong: the same command fails again (a wrapper should not retry)
INTERRUPTED_STATUS = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C stopped
RETRY_STATUS = 75  # EX_TEMPFAIL (sysexits.h): the machine failed (a full disk, an I/O error): retry later
INPUT_ERRNOS = frozenset(
    {
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EACCES,
        errno.EPERM,
        errno.EEXIST,
        errno.ENAMETOOLONG,
        errno.ELOOP,
        errno.EROFS,
        errno.EINVAL,
        errno.ENOTEMPTY,
        errno.EXDEV,
    }
)


def bad_input_types() -> tuple[type[BaseException], ...]:
    """What bad input raises: our config and record errors (locks and settings included), the
    OS's errors on a path (missing, a folder where a file should be, no permission), and the
    ValueErrors by which the analyses (eval/*) refuse data they cannot use ("no result
    records", "bin 3 has fewer than 2 questions"). An OSError of another errno is a fault
    (`machine_fault`)."""
    from data.records import RecordError

    return ConfigError, RecordError, OSError, ValueError


def machine_fault(error: BaseException) -> OSError | None:
    """The OSError, `error` or the one it was raised from, that is no fault of the input (a full
    disk or quota, an I/O error, a stale network file: any errno but INPUT_ERRNOS's), else None."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno is not None and cause.errno not in INPUT_ERRNOS:
            return cause
        cause = cause.__cause__
    return None


def open_file(error: BaseException, paths: bool = False) -> str | None:
    """The file the code that raised `error` had open (or, with `paths`, the Path it held),
    innermost frame first: an OSError raised by a write or a JSON error raised by a read names none."""
    frames, tb = [], error.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        values = list(frame.f_locals.values())
        for value in values:
            if isinstance(value, io.IOBase) and isinstance(name := getattr(value, "name", None), str):
                return name
        if paths and (held := next((v for v in values if isinstance(v, Path)), None)) is not None:
            return str(held)
    return None


def one_line(error: BaseException) -> str:
    """The error's message on one line; an OS error as `path: what` (`x.json: No such file or directory`)."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        paths = " -> ".join(str(p) for p in (error.filename, error.filename2) if p is not None)
        return f"{paths}: {error.strerror}"
    if isinstance(error, json.JSONDecodeError) and (
        name := open_file(error)
    ):  # a library's read (a cut tokenizer.json)
        return f"{name}: malformed JSON ({error})"
    return " ".join(str(error).split()) or type(error).__name__


def fault_line(error: BaseException, fault: OSError) -> str:
    """One line for a fault: the path (the one written when the OSError names none), what, and to retry."""
    if error is fault and fault.filename is None:
        line = f"{open_file(fault, paths=True) or 'a file'}: {fault.strerror or fault}"
    else:
        line = one_line(error)
    later = "there is room" if fault.errno in (errno.ENOSPC, errno.EDQUOT) else "it is fixed"
    return f"{line} (a fault of this machine, not of the input: retry once {later})"


def run_cli(prog: str, job: Callable[[], Any]) -> Any:
    """`job()`; bad input (`bad_input_types`) becomes `prog: message` on stderr, one line, and
    exit status 2; a fault of the machine (`machine_fault`: a full disk, ...) one line naming the
    path and status 75 (RETRY_STATUS); Ctrl-C (KeyboardInterrupt) `prog: interrupted` and status
    130 (INTERRUPTED_STATUS). TTC_TRACEBACK=1 shows the traceback too, for a ValueError
    that is a bug of ours after all. Anything else is a bug and keeps its traceback."""
    try:
        return job()
    except KeyboardInterrupt:  # Ctrl-C: what was saved stays; no traceback of wherever it landed
        sys.stderr.flush()
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        raise SystemExit(INTERRUPTED_STATUS) from None
    except bad_input_types() as e:
        if os.environ.get("TTC_TRACEBACK"):  # for debugging our own code: the whole story
            raise
        fault = machine_fault(e)
        sys.stderr.flush()
        print(f"{prog}: {fault_line(e, fault) if fault else one_line(e)}", file=sys.stderr, flush=True)
        raise SystemExit(RETRY_STATUS if fault else BAD_INPUT_STATUS) from None


def rank_zero() -> bool:
    """The first process of a launch (torchrun, accelerate, srun set RANK): the one that locks."""
    return int(os.environ.get("RANK", "0") or 0) == 0
