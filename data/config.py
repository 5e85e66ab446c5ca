"""Typed configs: dataclasses filled from a YAML recipe, then from `--key value` flags.

Every entry point declares one dataclass (fields may be nested dataclasses, addressed as
`--section.key`). An unknown key or a value of the wrong type is an error that names the
recipe file (and its line) or the flag. `__post_init__` validation runs on the final values.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    pass


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """`value` checked against the annotation `tp` (ints widen to floats; lists to tuples)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(tp):
            if option is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: expected {tp}, got {value!r}")
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{where}: expected one of {typing.get_args(tp)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML 1.1 reads `3e-5` (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if tp is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, got {value!r}")
    return value


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
            kwargs[key] = _coerce(value, tp, f"{at}: '{name}'")
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

    root = yaml.compose(text)
    if root is not None:
        walk(root, "")
    return lines


def merge_settings(base: dict, override: dict) -> dict:
    """`override` over `base`, sections merged key by key (a recipe under command-line flags)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_settings(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read recipe ({e.strerror})") from e
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML ({getattr(e, 'problem', e)})") from e
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of keys to values")
    return values, key_lines(text)


def _flag_values(argv: list[str]) -> tuple[Path | None, dict[str, Any]]:
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
        node[leaf] = yaml.safe_load(inline) if inline != "" else ""
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
        default = ("required" if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                   else f"default {f.default_factory() if f.default is dataclasses.MISSING else f.default!r}")
        name = tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")
        lines.append(f"  --{prefix}{f.name}  {name}  ({default})")
    return lines


def parse_config(cls: type[T], argv: list[str]) -> T:
    """`cls` from `--config recipe.yaml` (optional) overridden by `--key value` flags; `--help`
    lists the flags and exits."""
    if {"--help", "-h"} & set(argv):
        print("flags: --config RECIPE.yaml (optional), then --key value (sections: --section.key value)")
        print("\n".join(usage(cls)))
        raise SystemExit(0)
    recipe, flags = _flag_values(argv)
    values, lines = read_yaml(recipe) if recipe else ({}, {})
    if recipe:
        build_dataclass(cls, values, str(recipe), lines)  # report recipe errors against the recipe file
    return build_dataclass(cls, merge_settings(values, flags), "command line" if flags else str(recipe or "config"), {})


def to_dict(config: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def save_config(config: Any, path: Path) -> None:
    """The resolved config, for the output folder (what ran is what is recorded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
