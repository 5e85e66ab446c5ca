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


# --- strict, safe YAML; flags that replace a whole mapping; model folders; one-line errors ---


def test_a_key_given_twice_is_an_error_naming_both_lines(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: a\ninner:\n  n: 2\n  n: 3\n")
    with pytest.raises(ConfigError, match=r"r.yaml:4: invalid YAML \(key 'n' given twice \(lines 3 and 4\)\)"):
        parse_config(Outer, ["--config", str(recipe)])


def test_yaml_is_read_safely(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(ConfigError, match=r"r.yaml:1: invalid YAML"):
        parse_config(Outer, ["--config", str(recipe)])


def test_a_flag_value_that_is_not_yaml_is_one_error():
    with pytest.raises(ConfigError, match=r"flag --levels: cannot read the value '\[a' as YAML"):
        parse_config(Outer, ["--name", "a", "--levels", "[a"])


@dataclass
class WithGrid:
    grid: dict[str, dict] = field(default_factory=dict)
    inner: Inner = field(default_factory=Inner)


def test_a_mapping_flag_replaces_the_recipes_mapping_while_sections_merge(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("grid:\n  a: {x: 1}\n  b: {x: 2}\ninner:\n  n: 4\n")
    cfg = parse_config(WithGrid, ["--config", str(recipe), "--grid", "{c: {x: 3}}", "--inner.temperature", "1"])
    assert cfg.grid == {"c": {"x": 3}}
    assert cfg.inner == Inner(4, 1.0)
    dotted = parse_config(WithGrid, ["--config", str(recipe), "--grid.a.x", "5"])  # one key inside: merged
    assert dotted.grid == {"a": {"x": 5}, "b": {"x": 2}}
    whole_section = parse_config(WithGrid, ["--config", str(recipe), "--inner", "{temperature: 1}"])
    assert whole_section.inner == Inner(4, 1.0)  # a section given whole still merges key by key


def model_folder(folder, config='{"model_type": "llama"}', weights=True, tokenizer=True):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(config)
    if weights:
        (folder / "model.safetensors").write_bytes((2).to_bytes(8, "little") + b"{}")  # a whole file of no tensors
    if tokenizer:
        (folder / "tokenizer.json").write_text("{}")
    return str(folder)


def test_check_model_names_what_is_wrong(tmp_path, monkeypatch):
    from data.models import check_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert check_model(model_folder(tmp_path / "ok")) == tmp_path / "ok"
    cases = {
        str(tmp_path / "missing"): "does not exist",
        model_folder(tmp_path / "empty_config", config="{}"): "no 'model_type'",
        model_folder(tmp_path / "bad_json", config="{"): "unreadable config.json",
        model_folder(tmp_path / "no_weights", weights=False): "has no weights",
        model_folder(tmp_path / "no_tokenizer", tokenizer=False): "has no tokenizer",
        "no-such-org/no-such-model": "neither a local folder nor in the Hugging Face cache",
    }
    (tmp_path / "file").write_text("x")
    cases[str(tmp_path / "file")] = "is a file"
    for path, message in cases.items():
        with pytest.raises(ConfigError, match=rf"^lm.model: .*{message}"):
            check_model(path, "lm.model")


def test_run_cli_prints_one_line_and_exits_2(capsys):
    from data.config import run_cli
    from data.records import RecordError

    def bad():
        raise RecordError("x.jsonl:3: field 'answer'\nshould be str")

    with pytest.raises(SystemExit) as exit:
        run_cli("prog", bad)
    assert exit.value.code == 2
    assert capsys.readouterr().err == "prog: x.jsonl:3: field 'answer' should be str\n"
    with pytest.raises(SystemExit):
        run_cli("prog", lambda: open("/no/such/file"))
    assert capsys.readouterr().err.splitlines() == ["prog: /no/such/file: No such file or directory"]
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        run_cli("prog", lambda: 1 / 0)


@dataclass
class WithNamed:
    named: dict[str, Inner] = field(default_factory=dict)


def test_named_sections_merge_name_by_name_and_key_by_key(tmp_path):
    """A `dict[str, Dataclass]` (bench-prm's verifiers): a flag or a stage entry that sets one key of
    one entry keeps the recipe's other keys and entries; given whole, the same (a section's rule)."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text("named:\n  a: {n: 4, temperature: 0.5}\n  b: {n: 2}\n")
    dotted = parse_config(WithNamed, ["--config", str(recipe), "--named.a.temperature", "1"])
    assert dotted.named == {"a": {"n": 4, "temperature": 1.0}, "b": {"n": 2}}
    whole = parse_config(WithNamed, ["--config", str(recipe), "--named", "{a: {temperature: 1}, c: {n: 1}}"])
    assert whole.named == {"a": {"n": 4, "temperature": 1}, "b": {"n": 2}, "c": {"n": 1}}
    from data.config import given_whole, merge_settings

    entry = given_whole({"named": {"a": {"temperature": 1}}})  # a pipeline stage entry over its recipe
    assert merge_settings({"named": {"a": {"n": 4}, "b": {"n": 2}}}, entry, WithNamed) == {
        "named": {"a": {"n": 4, "temperature": 1}, "b": {"n": 2}}
    }
