import pytest

from data.steps import extract_answer, split_steps


def test_split_steps_single_newlines():
    text = "=23+96-67-20\n=119-67-20\n\\boxed{32}"
    assert split_steps(text) == ["=23+96-67-20", "=119-67-20", "\\boxed{32}"]


def test_split_steps_blank_lines_and_trailing_whitespace():
    text = "First, $x = 2$.  \n\n\nThen $y = 3$.\r\n\n   \n  So $x + y = \\boxed{5}$.\n"
    assert split_steps(text) == ["First, $x = 2$.", "Then $y = 3$.", "  So $x + y = \\boxed{5}$."]


def test_split_steps_empty():
    assert split_steps("") == []
    assert split_steps("\n \n") == []


@pytest.mark.parametrize(
    "text, answer",
    [
        ("so $x = \\boxed{5}$.", "5"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("first \\boxed{1}, then \\boxed{2}", "2"),
        ("\\fbox{7}", "7"),
        ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),  # escaped braces are not grouping
        ("\\boxed{\\text{(A)}}", "\\text{(A)}"),
        ("the answer is $\\boxed 3$.", "3"),
        ("=52-20\n=32\n\\boxed{32}", "32"),
    ],
)
def test_extract_answer(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    "text",
    ["no answer here", "\\boxed{\\frac{1}{2}", "\\boxed{1} then \\boxed{2", "\\boxed", "\\boxedx{3}", ""],
)
def test_extract_answer_none(text):
    assert extract_answer(text) is None
