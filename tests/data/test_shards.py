import json

import pytest

from data.records import RecordError
from data.shards import Shard, ShardWriter, derive_seed, merge


def run(tmp_path, units, shard):
    writer = ShardWriter(tmp_path, "x", shard)
    for uid, recs in shard.select(units):
        if uid not in writer.done:
            writer.write(uid, recs)
    return writer.finish()


UNITS = [(f"p{i}", [{"id": f"p{i}", "k": k} for k in range(2)]) for i in range(7)]


def test_shards_merge_to_input_order(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    run(one, UNITS, Shard(0, 1))
    for i in range(3):
        run(two, UNITS, Shard(i, 3))
    a, b = merge(one, "x", 1), merge(two, "x", 3)
    assert a.read_bytes() == b.read_bytes()
    ids = [json.loads(line)["id"] for line in a.read_text().splitlines()]
    assert ids == [uid for uid, recs in UNITS for _ in recs]


def test_resume_drops_cut_line_and_keeps_finished_units(tmp_path):
    writer = ShardWriter(tmp_path, "x", Shard(0, 1))
    writer.write("p0", [{"a": 1}])
    with open(writer.partial, "a") as f:
        f.write('{"id": "p1", "records": [')  # killed mid-line
    again = ShardWriter(tmp_path, "x", Shard(0, 1))
    assert again.done == {"p0"}
    again.write("p1", [{"a": 2}])
    again.finish()
    assert [json.loads(l)["a"] for l in merge(tmp_path, "x", 1).read_text().splitlines()] == [1, 2]


def test_merge_names_missing_shards(tmp_path):
    run(tmp_path, UNITS, Shard(0, 2))
    with pytest.raises(RecordError, match=r"x.shard-00001-of-00002.jsonl"):
        merge(tmp_path, "x", 2)


def test_bad_shard_and_stable_seeds():
    with pytest.raises(ValueError):
        Shard(2, 2)
    assert derive_seed(0, "p1") == derive_seed(0, "p1") != derive_seed(0, "p2")
    assert 0 <= derive_seed("anything", 3) < 2**31


# --- the guards: a lock per shard, the settings that made the records ---

from dataclasses import dataclass, field  # noqa: E402

from data.config import ConfigError  # noqa: E402
from data.shards import SettingsError, claim, run_shard, settings_of  # noqa: E402


@dataclass
class Engine:
    model: str = "m"
    threads: int = 1  # a speed knob: not a setting


@dataclass
class StageConfig:
    output_dir: str = "out"
    engine: Engine = field(default_factory=Engine)
    n: int = 8
    temperature: float = 0.8
    grid: dict = field(default_factory=lambda: {"a": {"x": 1}})
    shard: int = 0
    num_shards: int = 1
    batch_problems: int = 4


def test_settings_leave_out_where_and_how_fast():
    settings = settings_of(StageConfig())
    assert settings == {"engine.model": "m", "n": 8, "temperature": 0.8, "grid": {"a": {"x": 1}}, "batch_problems": 4}
    assert "batch_problems" not in settings_of(StageConfig(), {"batch_problems", "output_dir", "shard", "num_shards"})


def test_a_rerun_with_other_settings_is_refused_naming_the_keys(tmp_path):
    first = settings_of(StageConfig(output_dir=str(tmp_path)))
    writer = claim(tmp_path, "x", Shard(0, 1), first)
    writer.write("p0", [{"a": 1}])
    before = writer.partial.read_bytes()
    other = settings_of(StageConfig(n=2, temperature=1.0, engine=Engine(threads=8)))
    with pytest.raises(SettingsError, match=r"x.shard-00000-of-00001 was made with other settings "
                                            r"\(n 8 -> 2, temperature 0.8 -> 1.0\): rerun with --overwrite true"):
        claim(tmp_path, "x", Shard(0, 1), other)
    assert writer.partial.read_bytes() == before  # nothing touched
    assert claim(tmp_path, "x", Shard(0, 1), settings_of(StageConfig(engine=Engine(threads=8)))).done == {"p0"}
    fresh = claim(tmp_path, "x", Shard(0, 1), other, overwrite=True)
    assert fresh.done == set() and not writer.partial.exists()


def test_a_finished_and_merged_output_keeps_its_settings(tmp_path):
    settings = settings_of(StageConfig())
    run_shard(tmp_path, "x", Shard(0, 1), UNITS, lambda u: u[0], lambda batch: [r for _, r in batch], 3, settings)
    merge(tmp_path, "x", 1)
    assert json.loads((tmp_path / "x.settings.json").read_text())["settings"] == settings
    (tmp_path / "x.shard-00000-of-00001.jsonl").unlink()  # the shard files cleaned up: the merged one still guards
    (tmp_path / "x.shard-00000-of-00001.settings.json").unlink()
    with pytest.raises(SettingsError, match=r"x.jsonl was made with other settings \(n 8 -> 3\)"):
        claim(tmp_path, "x", Shard(0, 1), settings_of(StageConfig(n=3)))


def test_shards_with_different_settings_are_not_merged(tmp_path):
    for i, n in enumerate([8, 2]):
        run_shard(tmp_path, "x", Shard(i, 2), UNITS, lambda u: u[0], lambda batch: [r for _, r in batch], 3,
                  settings_of(StageConfig(n=n)))
    with pytest.raises(SettingsError, match=r"cannot merge x: .*different settings \(n 8 -> 2\)"):
        merge(tmp_path, "x", 2)
    assert not (tmp_path / "x.jsonl").exists()


def test_no_units_and_a_file_for_a_folder_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="nothing to do"):
        run_shard(tmp_path, "x", Shard(0, 1), [], str, lambda b: b, 1)
    (tmp_path / "f").write_text("keep")
    with pytest.raises(ConfigError, match=r"output_dir .*f: is a file, expected a folder"):
        claim(tmp_path / "f", "x", Shard(0, 1), {})
    assert (tmp_path / "f").read_text() == "keep"


def test_a_non_finite_number_is_refused_not_written(tmp_path):
    writer = ShardWriter(tmp_path, "x", Shard(0, 1))
    with pytest.raises(RecordError, match=r"unit 'p0': a record holds a non-finite number"):
        writer.write("p0", [{"score": float("nan")}])
    assert not writer.partial.exists() and writer.done == set()
