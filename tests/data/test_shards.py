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
