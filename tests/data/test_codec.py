"""data/codec: one decoder, three modes. CONFIG converts what a recipe types loosely, RECORD only
checks (a record written again keeps its bytes), ARTIFACT builds nested dataclasses and parses
mapping keys; each error says where, what was expected and what was given."""

from dataclasses import dataclass
from typing import Any, Literal

import pytest

from data.codec import DecodeError, Label, MissingField, Mode, Refused, decode, encode

CONFIG, RECORD, ARTIFACT = Mode.CONFIG, Mode.RECORD, Mode.ARTIFACT


class Colour(Label):
    RED = "red (warm)"
    BLUE = "blue"


@dataclass(frozen=True)
class Cell:
    accuracy: float
    colour: Colour = Colour.BLUE

    def __post_init__(self) -> None:
        if not 0 <= self.accuracy <= 1:
            raise ValueError(f"accuracy {self.accuracy} is not in [0, 1]")


def test_an_int_widens_to_a_float_except_in_a_record():
    assert [type(decode(float, 1, "x", mode)) for mode in (CONFIG, RECORD, ARTIFACT)] == [float, int, float]
    assert decode(list[float], [1, 0.5], "x", RECORD) == [1, 0.5]
    with pytest.raises(DecodeError, match="field 'x' should be float, got True"):
        decode(float, True, "x", RECORD)  # a bool is no number in any mode


def test_a_recipe_may_type_numbers_and_text_loosely_and_nothing_else_may():
    assert decode(float, "3e-5", "x", CONFIG) == 3e-5 and decode(str, 12, "x", CONFIG) == "12"
    assert decode(tuple[int, ...], [1, 2], "x", CONFIG) == (1, 2)
    for mode in (RECORD, ARTIFACT):
        with pytest.raises(DecodeError):
            decode(float, "3e-5", "x", mode)
        with pytest.raises(DecodeError):
            decode(str, 12, "x", mode)


def test_a_mapping_is_taken_whole_unless_an_artifact_parses_it():
    raw = {"1": 0, "2": "not a float"}
    assert decode(dict[int, float], raw, "x", RECORD) is raw
    assert decode(dict[int, float], raw, "x", CONFIG) == raw
    assert decode(dict[int, float], {"1": 0, "16": 0.5}, "x", ARTIFACT) == {1: 0.0, 16: 0.5}
    assert decode(dict[Colour, int], {"red (warm)": 1}, "x", ARTIFACT) == {Colour.RED: 1}  # an Enum key by value
    with pytest.raises(DecodeError, match="field 'x.2' should be float, got 'not a float'"):
        decode(dict[int, float], raw, "x", ARTIFACT)
    with pytest.raises(DecodeError, match="field 'x' should be a mapping with int keys"):
        decode(dict[int, float], {"one": 1.0}, "x", ARTIFACT)


def test_dataclasses_are_built_with_their_own_checks_and_named_errors():
    assert decode(list[Cell], [{"accuracy": 1, "colour": "red (warm)"}], "cells", ARTIFACT) == [Cell(1.0, Colour.RED)]
    with pytest.raises(MissingField, match="missing field 'cells.0.accuracy'"):
        decode(list[Cell], [{"colour": "blue"}], "cells", ARTIFACT)
    with pytest.raises(Refused, match=r"^cells.0: accuracy 2.0 is not in \[0, 1\]$"):
        decode(list[Cell], [{"accuracy": 2}], "cells", ARTIFACT)
    with pytest.raises(DecodeError, match=r"field 'cells.0.colour' should be one of \['red \(warm\)', 'blue'\]"):
        decode(list[Cell], [{"accuracy": 1, "colour": "green"}], "cells", ARTIFACT)


def test_a_recipe_names_list_items_by_index_and_a_union_reports_its_first_option():
    with pytest.raises(DecodeError) as error:
        decode(list[int], [1, "two"], "recipe.yaml:3: 'levels'", CONFIG)
    assert (error.value.at, error.value.expected, error.value.got) == ("recipe.yaml:3: 'levels'[1]", "int", "two")
    with pytest.raises(DecodeError) as error:
        decode(int | Literal["all"], "most", "k", CONFIG)
    assert error.value.expected == "int"
    assert decode(int | None, None, "k", RECORD) is None and decode(Any, {1: 2}, "k", RECORD) == {1: 2}


def test_encode_writes_enums_as_their_values():
    @dataclass
    class Holder:
        by: dict[Colour, list[Colour]]

    assert encode(Holder({Colour.RED: [Colour.BLUE]})) == {"by": {"red (warm)": ["blue"]}}
    assert f"{Colour.RED:>11}" == " red (warm)" and str(Colour.RED) == "red (warm)"
