"""A flag's value is read by the type of the field it sets (data/config.py): text fields take the
text as typed, numbers are decimal, everything else is YAML."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from data.config import ConfigError, parse_config


@dataclass
class Inner:
    name: str = "x"
    n: int = 1


@dataclass
class Flags:
    output_dir: str = "out"
    labels: str | None = "labels.jsonl"
    backend: Literal["hf", "vllm"] = "hf"
    n: int = 1
    limit: int | None = None
    temperature: float = 0.8
    stop: list[str] = field(default_factory=list)
    flag: bool = False
    inner: Inner = field(default_factory=Inner)
    grid: dict[str, Inner] = field(default_factory=dict)
    # values of this mapping are the sections `entry_type` names (ttc pipeline's `stages`)
    stages: dict[str, dict] = field(default_factory=dict, metadata={"entry_type": lambda name: Inner})


@pytest.mark.parametrize("text", ["runs/x #2", "010", "12:30", "true", "[a, b]", "'quoted'", "1e3", "~x"])
def test_a_text_field_takes_the_text_as_typed(text):
    assert parse_config(Flags, ["--output_dir", text]).output_dir == text
    assert parse_config(Flags, [f"--inner.name={text}"]).inner.name == text  # in a section too


def test_an_optional_text_field_reads_null_as_none():
    assert parse_config(Flags, ["--labels", "null"]).labels is None
    assert parse_config(Flags, ["--labels", "~"]).labels is None
    assert parse_config(Flags, ["--labels", "./null"]).labels == "./null"
    assert parse_config(Flags, ["--labels", "a #b"]).labels == "a #b"
    assert parse_config(Flags, ["--output_dir", "null"]).output_dir == "null"  # not optional: the text


def test_numbers_are_decimal():
    assert parse_config(Flags, ["--n", "010"]).n == 10  # YAML 1.1 reads 8
    assert parse_config(Flags, ["--limit", "010"]).limit == 10
    assert parse_config(Flags, ["--limit", "null"]).limit is None
    assert parse_config(Flags, ["--temperature", "1e-3"]).temperature == 0.001
    assert parse_config(Flags, ["--temperature", "1"]).temperature == 1.0
    with pytest.raises(ConfigError, match=r"^command line: 'n': expected int, got '12:30'$"):  # YAML: 750
        parse_config(Flags, ["--n", "12:30"])
    with pytest.raises(ConfigError, match=r"^command line: 'n': expected int, got 'many'$"):
        parse_config(Flags, ["--n", "many"])


def test_other_fields_are_still_yaml():
    cfg = parse_config(
        Flags, ["--backend", "vllm", "--stop", "['#', '12:30']", "--flag", "true", "--grid", "{a: {name: '010'}}"]
    )
    assert (cfg.backend, cfg.stop, cfg.flag, cfg.grid) == ("vllm", ["#", "12:30"], True, {"a": {"name": "010"}})
    with pytest.raises(ConfigError, match=r"expected one of \('hf', 'vllm'\), got 'tpu'"):
        parse_config(Flags, ["--backend", "tpu"])
    with pytest.raises(ConfigError, match=r"flag --stop: cannot read the value '\[a' as YAML"):
        parse_config(Flags, ["--stop", "[a"])


def test_mapping_values_are_typed_by_the_mapping_or_its_entry_type():
    cfg = parse_config(
        Flags, ["--grid.a.name", "x #2", "--grid.a.n", "010", "--stages.label.name", "12:30", "--stages.label.n", "010"]
    )
    assert cfg.grid == {"a": {"name": "x #2", "n": 10}}  # read by the mapping's value type
    assert cfg.stages == {"label": {"name": "12:30", "n": 10}}  # typed by entry_type, kept a mapping
