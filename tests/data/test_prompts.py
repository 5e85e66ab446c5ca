import pytest

from data.prompts import PromptFormat


def test_zero_shot_toy_prompt():
    assert PromptFormat().render("Compute 1+2.") == "Problem: Compute 1+2.\nSolution:\n"


def test_few_shot_prefix_is_shared_and_stepwise():
    fmt = PromptFormat(num_shots=4)
    a, b = fmt.render("What is 1+1?"), fmt.render("What is 2+2?")
    assert a.startswith(fmt.prefix) and b.startswith(fmt.prefix)
    assert fmt.prefix.count("Problem: ") == 4 and fmt.prefix.count("\\boxed{") >= 4
    assert a.endswith("Problem: What is 1+1?\nSolution:\n")


def test_bad_formats():
    with pytest.raises(ValueError, match="question"):
        PromptFormat(template="no placeholder")
    with pytest.raises(ValueError, match="shots"):
        PromptFormat(num_shots=99).render("q")
    with pytest.raises(ValueError, match="chat template"):
        PromptFormat(chat_template=True).render("q")
