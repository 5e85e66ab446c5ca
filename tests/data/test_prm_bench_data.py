"""data/prm_bench.py: ProcessBench and PRMBench read from files in their published layouts (the
tests write them: ProcessBench a JSON array per split at the dataset's root, PRMBench JSON lines
with 1-based error steps), a dataset hub id from the HF cache only, and bad input named by file,
line or item, and field."""

import json

import pytest
from huggingface_hub import constants

from data.prm_bench import BenchSolution, BenchSteps, read_prmbench, read_processbench
from data.records import RecordError


def processbench_item(id, steps, label, problem="Sue has 3 flamingos.", generator="Qwen2-7B-Instruct"):
    return {
        "id": id,
        "generator": generator,
        "problem": problem,
        "steps": steps,
        "final_answer_correct": label == -1,
        "label": label,
    }


def write_processbench(root, splits=("gsm8k", "math")):
    root.mkdir(parents=True, exist_ok=True)
    for split in splits:
        items = [processbench_item(f"{split}-0", ["a", "b", "c"], 1), processbench_item(f"{split}-1", ["a", "b"], -1)]
        (root / f"{split}.json").write_text(json.dumps(items, indent=2))  # the hub's layout: a JSON array
    return root


def prmbench_line(idx, classification, error_steps, steps=("s1", "s2", "s3")):
    return {
        "original_question": "Q",
        "modified_question": "Q'",
        "original_process": ["o1", "o2"],
        "modified_process": list(steps),
        "modified_steps": error_steps,
        "error_steps": error_steps,
        "reason": "why",
        "idx": idx,
        "question": "Q",
        "classification": classification,
    }


def test_processbench_splits_read_from_a_folder_of_json_arrays(tmp_path):
    solutions = read_processbench(str(write_processbench(tmp_path)), ["gsm8k", "math"])
    assert [s.id for s in solutions] == ["gsm8k-0", "gsm8k-1", "math-0", "math-1"]
    assert solutions[0] == BenchSolution("gsm8k-0", "gsm8k", "Sue has 3 flamingos.", ["a", "b", "c"], 1, False)
    assert solutions[1].label == -1 and solutions[1].final_answer_correct and solutions[1].group == ""


def test_processbench_reads_json_lines_and_a_single_split_file(tmp_path):
    lines = [processbench_item("omnimath-0", ["x"], 0), processbench_item("omnimath-1", ["x", "y"], -1)]
    (tmp_path / "omnimath.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert [s.label for s in read_processbench(str(tmp_path), ["omnimath"])] == [0, -1]
    assert {s.split for s in read_processbench(str(tmp_path / "omnimath.jsonl"))} == {"omnimath"}


def test_processbench_bad_items_name_file_item_and_field(tmp_path):
    write_processbench(tmp_path, ["gsm8k"])
    items = json.loads((tmp_path / "gsm8k.json").read_text())
    items[1]["label"] = 2  # past the last of its 2 steps
    (tmp_path / "gsm8k.json").write_text(json.dumps(items))
    with pytest.raises(RecordError, match=r"gsm8k.json: item 1: field 'label' is 2"):
        read_processbench(str(tmp_path), ["gsm8k"])
    del items[0]["steps"]
    (tmp_path / "gsm8k.json").write_text(json.dumps(items))
    with pytest.raises(RecordError, match=r"gsm8k.json: item 0: missing field 'steps'"):
        read_processbench(str(tmp_path), ["gsm8k"])
    (tmp_path / "math.jsonl").write_text(json.dumps(processbench_item("m", ["a"], -1)) + '\n{"id": "m2", "steps": "a"')
    with pytest.raises(RecordError, match=r"math.jsonl:2: malformed JSON"):
        read_processbench(str(tmp_path), ["math"])
    with pytest.raises(RecordError, match=r"no file for ProcessBench split 'olympiadbench'"):
        read_processbench(str(tmp_path), ["olympiadbench"])


def fake_hub_dataset(cache, repo_id, files):
    """The HF cache's layout of a dataset: refs/main names the snapshot holding the files."""
    folder = cache / f"datasets--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    write = folder / "snapshots" / commit
    write.mkdir(parents=True)
    for name, text in files.items():
        (write / name).write_text(text)


def test_a_hub_id_resolves_from_the_cache_and_a_missing_one_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    fake_hub_dataset(
        tmp_path,
        "Qwen/ProcessBench",
        {"gsm8k.json": json.dumps([processbench_item("gsm8k-0", ["a"], -1)]), "README.md": "card"},
    )
    assert [s.id for s in read_processbench("Qwen/ProcessBench", ["gsm8k"])] == ["gsm8k-0"]
    with pytest.raises(
        RecordError,
        match=r"data: 'hitsmy/PRMBench_Preview' is neither a local path nor a dataset "
        r"in the Hugging Face cache .*nothing is downloaded",
    ):
        read_prmbench("hitsmy/PRMBench_Preview")
    with pytest.raises(RecordError, match=r"data: 'no/such/file.json' does not exist"):
        read_processbench("no/such/file.json")


def test_prmbench_items_as_the_published_evaluator_builds_them(tmp_path):
    lines = [
        prmbench_line("prm_test_p1_0", "redundency", [2, 3]),
        prmbench_line("prm_test_p1_0", "circular", [1]),
        prmbench_line("prm_test_p1_0", "circular", [1]),  # a key seen twice is read once
        prmbench_line("prm_test_p1_1", "multi_solutions", []),
    ]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "prmbench_preview.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    items = read_prmbench(str(tmp_path))
    assert [i.id for i in items] == [
        "correct_prm_test_p1_0",
        "redundency_prm_test_p1_0",
        "circular_prm_test_p1_0",
        "multi_solutions_prm_test_p1_1",
    ]
    assert items[0] == BenchSteps("correct_prm_test_p1_0", "Q", ["o1", "o2"], frozenset(), "correct", "prm_test_p1_0")
    assert items[1].errors == {1, 2} and items[1].question == "Q'" and items[1].steps == ["s1", "s2", "s3"]
    assert items[2].errors == {0} and items[3].errors == frozenset()
    assert [i.id for i in read_prmbench(str(tmp_path), ["circular"])] == ["circular_prm_test_p1_0"]


def test_prmbench_bad_lines_name_file_line_and_field(tmp_path):
    file = tmp_path / "bench.jsonl"
    file.write_text(
        json.dumps(prmbench_line("a", "circular", [1])) + "\n" + json.dumps(prmbench_line("b", "circular", [4]))
    )
    with pytest.raises(
        RecordError, match=r"bench.jsonl:2: field 'error_steps' has \[4\], expected 1-based step numbers up to 3"
    ):
        read_prmbench(str(file))
    line = prmbench_line("a", "circular", [0])
    file.write_text(json.dumps(line))
    with pytest.raises(RecordError, match=r"bench.jsonl:1: field 'error_steps' has \[0\]"):  # 1-based: 0 is no step
        read_prmbench(str(file))
    del line["modified_process"]
    file.write_text(json.dumps(line))
    with pytest.raises(RecordError, match=r"bench.jsonl:1: missing field 'modified_process'"):
        read_prmbench(str(file))
    with pytest.raises(RecordError, match=r"no .jsonl file of PRMBench"):
        read_prmbench(str((tmp_path / "empty").mkdir() or tmp_path / "empty"))
