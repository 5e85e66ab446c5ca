import pytest

from data.revision_format import revision_question


def test_keeps_the_most_recent_attempts_numbered_in_the_window():
    text = revision_question("Compute 1+1.", ["=1", "=3", "=4", "=5", "=2\n\\boxed{2}\n"])
    assert text.startswith("Compute 1+1.\n\nPrevious attempt 1:\n=3\n\n")
    assert text.endswith("Previous attempt 4:\n=2\n\\boxed{2}")
    assert "=1" not in text.split("\n\n", 1)[1]


def test_no_attempts_is_the_plain_question():
    assert revision_question("Q", []) == "Q"
    assert revision_question("Q", ["a"], max_attempts=0) == "Q"
    with pytest.raises(ValueError, match="max_attempts"):
        revision_question("Q", ["a"], max_attempts=-1)
