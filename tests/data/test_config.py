from dataclasses import dataclass, field

import pytest

from data.config import ConfigError, parse_config


@dataclass
class Inner:
    n: int = 1
    temperature: float = 0.8


@dataclass
class Outer:
    name: str
    inner: Inner = field(default_factory=Inner)
    levels: list[int] = field(default_factory=list)
    limit: int | None = None

    def __post_init__(self):
        if self.inner.n > 100:
            raise ValueError("n too large")


def test_yaml_then_flags(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: a\ninner:\n  n: 4\nlevels: [1, 2]\n")
    cfg = parse_config(Outer, ["--config", str(recipe), "--inner.temperature", "1", "--limit=5"])
    assert cfg == Outer("a", Inner(4, 1.0), [1, 2], 5)


def test_unknown_key_in_recipe_names_file_and_key(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: a\ninner:\n  tempreature: 1\n")
    with pytest.raises(ConfigError, match=r"r.yaml:3: unknown key 'inner.tempreature'"):
        parse_config(Outer, ["--config", str(recipe)])


def test_wrong_type_and_validation():
    with pytest.raises(ConfigError, match=r"command line: 'inner.n': expected int"):
        parse_config(Outer, ["--name", "a", "--inner.n", "many"])
    with pytest.raises(ConfigError, match="n too large"):
        parse_config(Outer, ["--name", "a", "--inner.n", "1000"])
    with pytest.raises(ConfigError, match="unknown key 'nme'"):
        parse_config(Outer, ["--nme", "a"])


def test_bad_yaml_names_line(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: a\ninner: [\n")
    with pytest.raises(ConfigError, match=r"r.yaml:\d+: invalid YAML"):
        parse_config(Outer, ["--config", str(recipe)])


def test_floats_without_a_dot(tmp_path):
    cfg = parse_config(Outer, ["--name", "a", "--inner.temperature", "3e-3"])
    assert cfg.inner.temperature == 0.003


def test_help_lists_every_flag_with_its_type_and_default(capsys):
    with pytest.raises(SystemExit) as exit:
        parse_config(Outer, ["--name", "a", "--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert "--name  str  (required)" in out and "--inner.temperature  float  (default 0.8)" in out
    assert "--levels  list[int]  (default [])" in out and "--limit  int | None  (default None)" in out


def test_an_optional_section_is_built_when_given_and_none_otherwise():
    from data.problems import DataConfig

    @dataclass
    class WithOptional:
        extra: DataConfig | None = None

    assert parse_config(WithOptional, []).extra is None
    assert parse_config(WithOptional, ["--extra.per_level", "3"]).extra == DataConfig(per_level=3)
