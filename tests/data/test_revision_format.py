import pytest

from data.prompts import PromptFormat
from data.revision_format import revision_prompt, revision_question
from train.tokenizer import build_char_tokenizer

ATTEMPTS = ["=1", "=3", "=4", "=5", "=2\n\\boxed{2}\n"]


def test_reviser_prompt_is_the_few_shot_layout_of_the_four_most_recent_attempts():
    text = revision_prompt(PromptFormat(), "Compute 1+1.", ATTEMPTS)
    blocks = text.split("\n\n")
    assert blocks[:-1] == ["Problem: Compute 1+1.\nSolution:\n" + a.strip() for a in ATTEMPTS[1:]]
    assert blocks[-1] == "Problem: Compute 1+1.\nSolution:\n"  # the question once more, to answer
    assert revision_prompt(PromptFormat(), "Q", []) == PromptFormat().render("Q")
    assert revision_prompt(PromptFormat(), "Q", ATTEMPTS, max_attempts=0) == PromptFormat().render("Q")


def test_reviser_prompt_in_a_chat_template_holds_the_attempts_as_earlier_turns():
    tokenizer = build_char_tokenizer()
    tokenizer.chat_template = ("{% for m in messages %}[{{ m.role }}]{{ m.content }}\n{% endfor %}"
                               "{% if add_generation_prompt %}[assistant]{% endif %}")
    text = revision_prompt(PromptFormat(chat_template=True, system="S"), "Q", ["a", "b\n"], tokenizer)
    assert text == "[system]S\n[user]Q\n[assistant]a\n[user]Q\n[assistant]b\n[user]Q\n[assistant]"


def test_orm_question_holds_the_attempts_after_it_numbered_in_the_window():
    text = revision_question("Compute 1+1.", ATTEMPTS)
    assert text.startswith("Compute 1+1.\n\nPrevious attempt 1:\n=3\n\n")
    assert text.endswith("Previous attempt 4:\n=2\n\\boxed{2}")
    assert "=1" not in text.split("\n\n", 1)[1]


def test_no_attempts_is_the_plain_question():
    assert revision_question("Q", []) == "Q"
    assert revision_question("Q", ["a"], max_attempts=0) == "Q"
    for build in (lambda: revision_question("Q", ["a"], max_attempts=-1),
                  lambda: revision_prompt(PromptFormat(), "Q", ["a"], max_attempts=-1)):
        with pytest.raises(ValueError, match="max_attempts"):
            build()
