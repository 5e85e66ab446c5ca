import pytest

from data.records import Problem, RecordError, Sample, read_records, to_json, write_atomic


def test_roundtrip(tmp_path):
    path = tmp_path / "p.jsonl"
    problems = [Problem("a", "q?", "1", 2, "algebra", "math"), Problem("b", "r?", "2")]
    write_atomic(path, [to_json(p) for p in problems])
    assert read_records(path, Problem) == problems


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"id": "a", "question": "q"', r"p.jsonl:2: malformed JSON"),
        ('{"id": "a", "question": "q"}', r"p.jsonl:2: missing field 'answer'"),
        ('{"id": "a", "question": "q", "answer": 3}', r"p.jsonl:2: field 'answer'"),
        ('{"schema": 9, "id": "a", "question": "q", "answer": "3"}', r"p.jsonl:2: field 'schema'"),
        ("[1, 2]", r"p.jsonl:2: expected a JSON object"),
    ],
)
def test_bad_lines_name_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "p.jsonl"
    path.write_text(to_json(Problem("ok", "q", "1")) + "\n" + line + "\n")
    with pytest.raises(RecordError, match=message):
        read_records(path, Problem)


def test_missing_file(tmp_path):
    with pytest.raises(RecordError, match="cannot read"):
        read_records(tmp_path / "nope.jsonl", Sample)
