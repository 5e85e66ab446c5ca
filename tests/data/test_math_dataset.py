import json
import re
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data.math_dataset import SOURCE, load_math, math500_ids
from data.prompts import SHOTS_FILE, PromptFormat
from data.records import Problem, RecordError
from data.steps import extract_answer, split_steps

HENDRYCKS = [
    {
        "problem": "What is $1+1$?",
        "solution": "We have $1+1=\\boxed{2}$.",
        "level": "Level 1",
        "type": "Algebra",
    },
    {
        "problem": "Flip two coins. P(two heads)?",
        "solution": "Each is $\\frac12$.\n\nSo $\\boxed{\\frac{1}{4}}$.",
        "level": "Level ?",
        "type": "Counting & Probability",
    },
]
MATH500 = [
    {
        "problem": "Convert $(0,3)$ to polar coordinates.",
        "solution": "... $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$",
        "answer": "\\left( 3, \\frac{\\pi}{2} \\right)",
        "subject": "Precalculus",
        "level": 2,
        "unique_id": "test/precalculus/807.json",
    },
    {
        "problem": "Compute $2+3$.",
        "answer": "5",
        "subject": "Algebra",
        "level": 1,
        "unique_id": "train/algebra/1.json",
    },
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def write_parquet(path, rows):
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("writer, name", [(write_jsonl, "math.jsonl"), (write_parquet, "math.parquet")])
def test_hendrycks_schema(tmp_path, writer, name):
    problems = load_math(str(writer(tmp_path / name, HENDRYCKS)), "test")
    assert problems == [
        Problem("test/algebra/0", "What is $1+1$?", "2", 1, "Algebra", SOURCE),
        Problem(
            "test/counting_and_probability/1",
            "Flip two coins. P(two heads)?",
            "\\frac{1}{4}",
            None,
            "Counting & Probability",
            SOURCE,
        ),
    ]


@pytest.mark.parametrize("writer, name", [(write_jsonl, "math.jsonl"), (write_parquet, "math.parquet")])
def test_math500_schema(tmp_path, writer, name):
    first, second = load_math(str(writer(tmp_path / name, MATH500)), "test")
    question, answer = MATH500[0]["problem"], MATH500[0]["answer"]
    assert first == Problem("test/precalculus/807.json", question, answer, 2, "Precalculus", SOURCE)
    assert (second.id, second.answer, second.level) == ("train/algebra/1.json", "5", 1)


def test_original_release_layout_gets_its_path_as_id(tmp_path):
    for split, number, row in [("train", 5, HENDRYCKS[0]), ("test", 9, HENDRYCKS[1])]:
        folder = tmp_path / "MATH" / split / "algebra"
        folder.mkdir(parents=True)
        (folder / f"{number}.json").write_text(json.dumps(row, indent=4))
    assert [p.id for p in load_math(str(tmp_path / "MATH"), "test")] == ["test/algebra/9.json"]
    assert [p.answer for p in load_math(str(tmp_path / "MATH"), "train")] == ["2"]


def test_directory_split_picks_files_by_name(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", HENDRYCKS)
    write_parquet(tmp_path / "test-00000-of-00001.parquet", MATH500)
    assert [p.answer for p in load_math(str(tmp_path), "train")] == ["2", "\\frac{1}{4}"]
    assert [p.answer for p in load_math(str(tmp_path), "test")] == [MATH500[0]["answer"], "5"]
    with pytest.raises(RecordError, match="no .* files for split 'validation'"):
        load_math(str(tmp_path), "validation")


def test_math500_ids_file():
    ids = math500_ids()
    assert len(ids) == len(set(ids)) == 500
    assert all(re.fullmatch(r"test/[a-z_]+/\d+\.json", i) for i in ids)
    # MATH-500's published subject counts
    assert Counter(i.split("/")[1] for i in ids) == {
        "algebra": 124, "intermediate_algebra": 97, "prealgebra": 82, "number_theory": 62,
        "precalculus": 56, "geometry": 41, "counting_and_probability": 38,
    }


def _row(unique_id):
    return {"problem": f"Problem {unique_id}", "answer": "1", "level": 1, "unique_id": unique_id}


def test_prm800k_split(tmp_path):
    outside = ["train/algebra/1.json", "test/algebra/1.json", "test/geometry/2.json"]
    assert not set(outside) & set(math500_ids())
    inside = list(reversed(math500_ids()))  # the source's order is not MATH-500's
    path = str(write_jsonl(tmp_path / "all.jsonl", [_row(i) for i in outside[:2] + inside + outside[2:]]))
    assert [p.id for p in load_math(path, "prm800k_train")] == outside
    assert [p.id for p in load_math(path, "prm800k_test")] == list(math500_ids())


def test_prm800k_test_needs_all_500(tmp_path):
    rows = [_row("test/precalculus/807.json"), _row("train/algebra/1.json")]
    path = write_jsonl(tmp_path / "few.jsonl", rows)
    with pytest.raises(RecordError, match="has 1 of the 500 MATH-500 problems"):
        load_math(str(path), "prm800k_test")


def test_prm800k_needs_ids(tmp_path):
    path = write_jsonl(tmp_path / "hendrycks.jsonl", HENDRYCKS)
    with pytest.raises(RecordError, match=r"hendrycks.jsonl:1: missing field 'unique_id'"):
        load_math(str(path), "prm800k_train")


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"problem": "p", "answer": ', r"bad.jsonl:2: malformed JSON"),
        ('{"answer": "1"}', r"bad.jsonl:2: missing field 'problem'"),
        ('{"problem": "p"}', r"bad.jsonl:2: missing field 'answer'"),
        ('{"problem": "p", "solution": "no box"}', r"bad.jsonl:2: field 'solution' has no complete \\boxed"),
        ('{"problem": "p", "answer": 3}', r"bad.jsonl:2: field 'answer' should be a string"),
        ('{"problem": "p", "answer": "1", "level": "hard"}', r"bad.jsonl:2: field 'level'"),
        ('["p", "1"]', r"bad.jsonl:2: expected a JSON object"),
    ],
)
def test_bad_input_names_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(MATH500[0]) + "\n" + line + "\n")
    with pytest.raises(RecordError, match=message):
        load_math(str(path), "test")


def test_bad_parquet_names_row_and_field(tmp_path):
    rows = [{"problem": "p", "answer": "1"}, {"problem": None, "answer": "2"}]
    path = write_parquet(tmp_path / "bad.parquet", rows)
    with pytest.raises(RecordError, match=r"bad.parquet: row 2: missing field 'problem'"):
        load_math(str(path), "test")


def test_duplicate_ids_and_missing_file(tmp_path):
    path = write_jsonl(tmp_path / "dup.jsonl", [MATH500[0], MATH500[0]])
    with pytest.raises(RecordError, match=r"dup.jsonl:2: duplicate problem id 'test/precalculus/807.json'"):
        load_math(str(path), "test")
    with pytest.raises(RecordError, match="no such file"):
        load_math(str(tmp_path / "absent.jsonl"), "test")


def test_shipped_shots_are_one_step_a_line_with_a_boxed_answer():
    shots = [json.loads(line) for line in SHOTS_FILE.read_text().splitlines()]
    answers = [extract_answer(shot["solution"]) for shot in shots]
    assert answers == ["5", "42", "\\frac{5}{36}", "-\\frac{1}{2}"]
    for shot in shots:
        assert set(shot) == {"question", "solution"}
        lines = shot["solution"].split("\n")
        assert split_steps(shot["solution"]) == lines and len(lines) >= 3  # no blank lines
        assert extract_answer(lines[-1]) is not None
    prompt = PromptFormat(num_shots=4).render("What is $2+2$?")
    assert prompt.count("Problem: ") == 5 and prompt.endswith("Problem: What is $2+2$?\nSolution:\n")
