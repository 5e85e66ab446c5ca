"""eval/summary: a summary comes back from its file as it was written (numeric keys, Enum keys,
tuples, nested dataclasses, None); a wrong value is one RecordError naming the file and the dotted
field; a NaN is refused on saving; a file of another format is refused. Every committed summary
and artifact (eval/results/) loads and saves back to the same bytes."""

import importlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from data.bins import Bins
from data.codec import Label
from data.records import RecordError
from eval.paired import Paired
from eval.summary import Summary, defined, fmt
from tests.support.runs import REPO
from ttc.policy import Policy

RESULTS = REPO / "eval" / "results"
WRITERS = ("compute_optimal", "difficulty", "flops_matched", "policy", "prm", "prm_bench", "revision", "search_report")


class Shade(Label):
    LIGHT = "light (1)"
    DARK = "dark"


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
    shades: dict[Shade, Shade] | None = None


EXAMPLE = Example(
    {"a": {1: 0.5, 16: 0.75}},
    {0.25: 0.5, 4.0: 0.625, 1 / 3: 0.1},
    {2: ("x", "y")},
    [Point(1.0), Point(2.0, "b")],
    Paired(0.5, 0.25, 0.25, None, None, 1),
    shades={Shade.LIGHT: Shade.DARK},
)


def test_a_summary_round_trips(tmp_path):
    EXAMPLE.save(tmp_path / "e.json")
    written = json.loads((tmp_path / "e.json").read_text())
    assert (written["format"], written["version"]) == ("ttc.test_example", 1)
    assert written["curves"] == {"a": {"1": 0.5, "16": 0.75}}  # JSON keys are strings
    assert written["shades"] == {"light (1)": "dark"}  # an Enum by its value
    loaded = Example.load(tmp_path / "e.json")
    assert (
        loaded == EXAMPLE and loaded.shades is not None and list(loaded.shades.items()) == [(Shade.LIGHT, Shade.DARK)]
    )
    assert f"{Shade.LIGHT}" == str(Shade.LIGHT) == Shade.LIGHT == "light (1)"  # the text wherever it is shown


@pytest.mark.parametrize(
    "change, error",
    [
        (("curves", {"a": {"one": 0.5}}), "field 'curves.a' should be a mapping with int keys"),
        (("curves", {"a": {"1": "high"}}), "field 'curves.a.1' should be float, got 'high'"),
        (("folds", {"2": ["x"]}), r"field 'folds.2' should be tuple\[str, str\]"),
        (("points", [{"x": 1.0}, {"label": "b"}]), "missing field 'points.1.x'"),
        (("points", [{"x": -1.0}]), "points.0: x: -1.0 is negative"),
        (("match", True), "field 'match' should be int, got True"),
        (("shades", {"light (1)": "pale"}), r"field 'shades.light \(1\)' should be one of \['light \(1\)', 'dark'\]"),
        (("shades", {"pale": "dark"}), "field 'shades' should be a mapping with Shade keys"),
    ],
)
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


def committed() -> list[Path]:
    """Every versioned file of eval/results (a JSON object with a `format`)."""
    return sorted(p for p in RESULTS.rglob("*.json") if '"format": ' in p.read_text()[:40])


def test_every_committed_summary_loads_and_saves_back_to_the_same_bytes(tmp_path):
    for module in WRITERS:
        importlib.import_module(f"eval.{module}")
    readers = {cls.FORMAT: cls for cls in Summary.__subclasses__()} | {"ttc.bins": Bins, "ttc.policy": Policy}
    files = committed()
    assert len(files) >= 20 and {json.loads(p.read_text())["format"] for p in files} <= set(readers)
    for path in files:
        record = json.loads(path.read_text())
        expected = path.read_text()
        if record["format"] == "ttc.policy" and record["version"] == 1:  # saved as version 2, provenance unknown
            assert json.dumps(record, indent=1) + "\n" == expected
            expected = json.dumps({**record, "version": 2, "models": None}, indent=1) + "\n"
        readers[record["format"]].load(path).save(tmp_path / path.name)
        assert (tmp_path / path.name).read_text() == expected, path
