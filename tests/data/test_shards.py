import json

import pytest

from data.records import RecordError
from data.shards import Expected, Shard, ShardWriter, claim, derive_seed, merge, run_shard


def run(tmp_path, units, shard):
    return run_shard(tmp_path, "x", shard, units, lambda u: u[0], lambda batch: [r for _, r in batch], 2, {})


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
    expected = Expected(("p0", "p1"))
    writer = claim(tmp_path, "x", Shard(0, 1), {}, expected=expected)
    writer.write("p0", [{"a": 1}])
    with open(writer.partial, "a") as f:
        f.write('{"id": "p1", "records": [')  # killed mid-line
    again = claim(tmp_path, "x", Shard(0, 1), {}, expected=expected)
    assert again.done == {"p0"}
    again.write("p1", [{"a": 2}])
    again.finish()
    assert [json.loads(line)["a"] for line in merge(tmp_path, "x", 1).read_text().splitlines()] == [1, 2]


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
from data.shards import ReadsFiles, SettingsError, settings_of  # noqa: E402


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
    with pytest.raises(
        SettingsError,
        match=r"x.shard-00000-of-00001 was made with other settings "
        r"\(n 8 -> 2, temperature 0.8 -> 1.0\): rerun with --overwrite true",
    ):
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
        run_shard(
            tmp_path,
            "x",
            Shard(i, 2),
            UNITS,
            lambda u: u[0],
            lambda batch: [r for _, r in batch],
            3,
            settings_of(StageConfig(n=n)),
        )
    with pytest.raises(SettingsError, match=r"cannot merge x: .*different settings \(n 8 -> 2\)"):
        merge(tmp_path, "x", 2)
    assert not (tmp_path / "x.jsonl").exists()


def test_no_units_and_a_file_for_a_folder_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="nothing to do"):
        no_units: list[list[dict]] = []
        run_shard(tmp_path, "x", Shard(0, 1), no_units, str, lambda b: b, 1)
    (tmp_path / "f").write_text("keep")
    with pytest.raises(ConfigError, match=r"output_dir .*f: is a file, expected a folder"):
        claim(tmp_path / "f", "x", Shard(0, 1), {})
    assert (tmp_path / "f").read_text() == "keep"


def test_a_non_finite_number_is_refused_not_written(tmp_path):
    writer = ShardWriter(tmp_path, "x", Shard(0, 1))
    with pytest.raises(RecordError, match=r"unit 'p0': a record holds a non-finite number"):
        writer.write("p0", [{"score": float("nan")}])
    assert not writer.partial.exists() and writer.done == set()


# --- what a shard's files may hold: its own units, each once; a finished one every unit ---

from dataclasses import dataclass as _dataclass  # noqa: E402
from typing import ClassVar  # noqa: E402


def stage(tmp_path, units=UNITS, shard=Shard(0, 1), settings=None, **kw):
    """One shard of a stage that copies each unit's records."""
    return run_shard(
        tmp_path,
        "x",
        shard,
        units,
        lambda u: u[0],
        lambda batch: [r for _, r in batch],
        3,
        settings_of(StageConfig()) if settings is None else settings,
        **kw,
    )


def begun(tmp_path, lines, shard=Shard(0, 1)):
    """A shard begun (settings saved) whose partial file holds `lines`."""
    claim(tmp_path, "x", shard, settings_of(StageConfig()))
    shard.path(tmp_path, "x", "partial").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_a_duplicated_unit_in_a_partial_shard_is_refused_naming_the_line(tmp_path):
    begun(tmp_path, [{"id": "p0", "records": [{"a": 1}]}, {"id": "p0", "records": [{"a": 1}]}])
    with pytest.raises(
        RecordError,
        match=r"x.shard-00000-of-00001.partial:2: unit 'p0' again \(first on line 1\)"
        r".*--overwrite true",
    ):
        stage(tmp_path)


def test_a_foreign_unit_in_a_partial_shard_is_refused_naming_the_line(tmp_path):
    begun(tmp_path, [{"id": f"p{i}", "records": [{"a": i}]} for i in range(2)] + [{"id": "q9", "records": [{"a": 9}]}])
    with pytest.raises(RecordError, match=r"partial:3: unit 'q9' is not one of this shard's 7 units"):
        stage(tmp_path)
    begun(tmp_path, [{"id": "p1", "records": [{"a": 1}]}], Shard(0, 2))
    with pytest.raises(RecordError, match=r"partial:1: unit 'p1' is not one of this shard's 4 units"):
        stage(tmp_path, shard=Shard(0, 2))  # p1 is shard 1's


def test_an_empty_unit_is_refused_unless_the_stage_may_give_none(tmp_path):
    begun(tmp_path, [{"id": "p0", "records": []}])
    with pytest.raises(RecordError, match=r"partial:1: unit 'p0' has no records"):
        stage(tmp_path)
    path = stage(tmp_path, empty_units=True)  # `ttc label`, `ttc trajectories`: a question may give none
    assert json.loads(path.read_text().splitlines()[0]) == {"id": "p0", "records": []}
    assert len(merge(tmp_path, "x", 1).read_text().splitlines()) == 2 * 6


@pytest.mark.parametrize("edit", ["delete", "duplicate", "foreign", "empty"])
def test_a_finished_shard_must_hold_every_unit_once_on_resume_and_merge(tmp_path, edit):
    path = stage(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    lines = {
        "delete": lines[:3] + lines[4:],
        "duplicate": lines + lines[-1:],
        "foreign": lines + [json.dumps({"id": "q9", "records": [{"a": 1}]}) + "\n"],
        "empty": lines[:3] + [json.dumps({"id": "p3", "records": []}) + "\n"] + lines[4:],
    }[edit]
    path.write_text("".join(lines))
    what = {
        "delete": r"x.shard-00000-of-00001.jsonl:4: unit 'p4' where unit 'p3' was expected",
        "duplicate": r"x.shard-00000-of-00001.jsonl:8: unit 'p6' again \(first on line 7\)",
        "foreign": r"x.shard-00000-of-00001.jsonl:8: unit 'q9' is not one of this shard's 7 units",
        "empty": r"x.shard-00000-of-00001.jsonl:4: unit 'p3' has no records",
    }[edit]
    with pytest.raises(RecordError, match=what):
        merge(tmp_path, "x", 1)
    with pytest.raises(RecordError, match=what):
        stage(tmp_path)
    assert not (tmp_path / "x.jsonl").exists()


def test_a_shard_missing_its_last_units_names_the_first_missing_one(tmp_path):
    path = stage(tmp_path)
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:5]))
    with pytest.raises(
        RecordError,
        match=r"x.shard-00000-of-00001.jsonl: 5 of its 7 units: unit 'p5' and 1 more "
        r"missing.*--overwrite true",
    ):
        merge(tmp_path, "x", 1)


@pytest.mark.parametrize("state", ["partial", "finished"])
def test_a_shard_without_its_settings_file_is_neither_resumed_nor_merged(tmp_path, state):
    for i, n in enumerate([2, 4]):
        stage(tmp_path, shard=Shard(i, 2), settings=settings_of(StageConfig(n=n)))
    (tmp_path / "x.shard-00001-of-00002.settings.json").unlink()  # the one made with n=4
    with pytest.raises(
        SettingsError,
        match=r"x.shard-00001-of-00002.settings.json is missing.*restore it, or rerun "
        r"that shard with --overwrite true",
    ):
        merge(tmp_path, "x", 2)
    assert not (tmp_path / "x.jsonl").exists()
    if state == "partial":
        (tmp_path / "x.shard-00001-of-00002.jsonl").rename(tmp_path / "x.shard-00001-of-00002.partial")
    with pytest.raises(SettingsError, match=r"x.shard-00001-of-00002.settings.json is missing"):
        stage(tmp_path, shard=Shard(1, 2), settings=settings_of(StageConfig(n=2)))


@_dataclass
class LabelConfig(ReadsFiles):
    INPUT_FILES: ClassVar[tuple[str, ...]] = ("samples",)
    samples: str
    output_dir: str = "out"
    k: int = 4


def test_settings_identify_the_input_files_by_content_not_by_place(tmp_path):
    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"a": 1}\n')
    first = settings_of(LabelConfig(str(samples)))
    assert first["samples"] == str(samples) and first["samples.content"].startswith("blake2b:")
    moved = tmp_path / "moved.jsonl"
    moved.write_bytes(samples.read_bytes())
    assert settings_of(LabelConfig(str(moved)))["samples.content"] == first["samples.content"]
    samples.write_text('{"a": 2}\n')
    assert settings_of(LabelConfig(str(samples)))["samples.content"] != first["samples.content"]
    with pytest.raises(ConfigError, match=r"samples: .*nowhere.jsonl: no such file"):
        settings_of(LabelConfig(str(tmp_path / "nowhere.jsonl")))


def test_a_resume_on_a_regenerated_input_file_is_refused(tmp_path):
    samples, out = tmp_path / "samples.jsonl", tmp_path / "out"
    samples.write_text('{"n": 2}\n')
    writer = claim(out, "x", Shard(0, 1), settings_of(LabelConfig(str(samples))))
    writer.write("p0", [{"a": 1}])
    samples.write_text('{"n": 4}\n')  # `ttc sample` ran again meanwhile
    with pytest.raises(
        SettingsError,
        match=r"x.shard-00000-of-00001 was made with other settings \(samples.content "
        r"\"blake2b:.*\" -> \"blake2b:.*\"\): rerun with --overwrite true",
    ):
        stage(out, settings=settings_of(LabelConfig(str(samples))))


def test_only_a_last_line_may_be_cut_a_malformed_one_before_it_is_refused(tmp_path):
    begun(tmp_path, [])
    (tmp_path / "x.shard-00000-of-00001.partial").write_text(
        '{"id": "p0", "records": [{"a"\n{"id": "p1", "records": [{"a": 1}]}\n'
    )
    with pytest.raises(RecordError, match=r"partial:1: malformed JSON .*--overwrite true"):
        stage(tmp_path)


def test_units_done_in_another_order_are_finished_in_input_order(tmp_path):
    writer = claim(tmp_path, "x", Shard(0, 1), {}, expected=Expected(("p0", "p1")))
    writer.write("p1", [{"a": 1}])
    writer.write("p0", [{"a": 0}])
    assert [json.loads(line)["id"] for line in writer.finish().read_text().splitlines()] == ["p0", "p1"]


def test_merge_checks_the_shards_add_up_to_one_input(tmp_path):
    stage(tmp_path, shard=Shard(0, 2), settings={})
    stage(tmp_path, shard=Shard(1, 2), settings={}, units=UNITS[:4])  # another input: 2 of its 4 units
    with pytest.raises(RecordError, match=r"cannot merge x: the shards hold \[4, 2\] units, not 2 shards' share of 6"):
        merge(tmp_path, "x", 2)
    (tmp_path / "x.shard-00001-of-00002.jsonl").unlink()
    with pytest.raises(ConfigError, match=r"x: unit 'p0' is twice in the stage's input"):
        stage(tmp_path, shard=Shard(1, 2), settings={}, units=[*UNITS, UNITS[0]])
    stage(tmp_path, shard=Shard(1, 2), settings={}, units=[("q", [{"a": 1}]), *UNITS[:6]], overwrite=True)  # p0 too
    with pytest.raises(RecordError, match=r"unit 'p0' is in x.shard-00000-of-00002.jsonl and x.shard-00001-of-00002"):
        merge(tmp_path, "x", 2)
