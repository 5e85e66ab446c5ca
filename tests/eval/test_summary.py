"""eval/summary: a summary comes back from its file as it was written (numeric keys, tuples,
nested dataclasses, None); a wrong value is one RecordError naming the file and the dotted field;
a NaN is refused on saving; a file of another format is refused."""

import json
import math
from dataclasses import dataclass

import pytest

from data.records import RecordError
from eval.paired import Paired
from eval.summary import Summary, defined, fmt


@dataclass(frozen=True)
class Point:
    x: float
    label: str | None = None

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError(f"x: {self.x} is negative")


@dataclass(frozen=True)
class Example(Summary):
    FORMAT = "ttc.test_example"
    curves: dict[str, dict[int, float]]
    ratios: dict[float, float]
    folds: dict[int, tuple[str, str]]
    points: list[Point]
    paired: Paired
    match: int | None = None


EXAMPLE = Example({"a": {1: 0.5, 16: 0.75}}, {0.25: 0.5, 4.0: 0.625, 1 / 3: 0.1}, {2: ("x", "y")},
                  [Point(1.0), Point(2.0, "b")], Paired(0.5, 0.25, 0.25, None, None, 1))


def test_a_summary_round_trips(tmp_path):
    EXAMPLE.save(tmp_path / "e.json")
    written = json.loads((tmp_path / "e.json").read_text())
    assert (written["format"], written["version"]) == ("ttc.test_example", 1)
    assert written["curves"] == {"a": {"1": 0.5, "16": 0.75}}  # JSON keys are strings
    assert Example.load(tmp_path / "e.json") == EXAMPLE


@pytest.mark.parametrize("change, error", [
    (("curves", {"a": {"one": 0.5}}), "field 'curves.a' should be a mapping with int keys"),
    (("curves", {"a": {"1": "high"}}), "field 'curves.a.1' should be float, got 'high'"),
    (("folds", {"2": ["x"]}), r"field 'folds.2' should be tuple\[str, str\]"),
    (("points", [{"x": 1.0}, {"label": "b"}]), "missing field 'points.1.x'"),
    (("points", [{"x": -1.0}]), "points.0: x: -1.0 is negative"),
    (("match", True), "field 'match' should be int, got True"),
])
def test_a_wrong_value_names_the_file_and_the_field(tmp_path, change, error):
    EXAMPLE.save(tmp_path / "e.json")
    record = json.loads((tmp_path / "e.json").read_text())
    record[change[0]] = change[1]
    (tmp_path / "e.json").write_text(json.dumps(record))
    with pytest.raises(RecordError, match=f"e.json: {error}"):
        Example.load(tmp_path / "e.json")


def test_undefined_numbers_are_none_never_nan(tmp_path):
    with pytest.raises(ValueError, match=r"field 'curves.a.1' is nan"):
        Example({"a": {1: math.nan}}, {}, {}, [], EXAMPLE.paired).save(tmp_path / "e.json")
    assert not (tmp_path / "e.json").exists()
    assert defined(math.nan) is None and defined(0.5) == 0.5
    assert (fmt(None, ".3f"), fmt(None, ".1%"), fmt(0.25, ".1%")) == ("nan", "nan%", "25.0%")


def test_another_format_is_refused(tmp_path):
    (tmp_path / "e.json").write_text(json.dumps({"format": "ttc.prm_eval", "version": 1}))
    with pytest.raises(RecordError, match="field 'format' is 'ttc.prm_eval', expected 'ttc.test_example'"):
        Example.load(tmp_path / "e.json")
