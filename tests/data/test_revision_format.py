import pytest

from data.prompts import PromptFormat
from data.revision_format import ContextError, Fit, revision_prompt, revision_question
from train.tokenizer import build_char_tokenizer

ATTEMPTS = ["=1", "=3", "=4", "=5", "=2\n\\boxed{2}\n"]


def test_reviser_prompt_is_the_few_shot_layout_of_the_four_most_recent_attempts():
    text = revision_prompt(PromptFormat(), "Compute 1+1.", ATTEMPTS).text
    blocks = text.split("\n\n")
    assert blocks[:-1] == ["Problem: Compute 1+1.\nSolution:\n" + a.strip() for a in ATTEMPTS[1:]]
    assert blocks[-1] == "Problem: Compute 1+1.\nSolution:\n"  # the question once more, to answer
    assert revision_prompt(PromptFormat(), "Q", []).text == PromptFormat().render("Q")
    assert revision_prompt(PromptFormat(), "Q", ATTEMPTS, max_attempts=0).text == PromptFormat().render("Q")


def test_reviser_prompt_in_a_chat_template_holds_the_attempts_as_earlier_turns():
    tokenizer = build_char_tokenizer()
    tokenizer.chat_template = (
        "{% for m in messages %}[{{ m.role }}]{{ m.content }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant]{% endif %}"
    )
    text = revision_prompt(PromptFormat(chat_template=True, system="S"), "Q", ["a", "b\n"], tokenizer).text
    assert text == "[system]S\n[user]Q\n[assistant]a\n[user]Q\n[assistant]b\n[user]Q\n[assistant]"


def test_orm_question_holds_the_attempts_after_it_numbered_in_the_window():
    text = revision_question("Compute 1+1.", ATTEMPTS).text
    assert text.startswith("Compute 1+1.\n\nPrevious attempt 1:\n=3\n\n")
    assert text.endswith("Previous attempt 4:\n=2\n\\boxed{2}")
    assert "=1" not in text.split("\n\n", 1)[1]


def test_no_attempts_is_the_plain_question():
    assert revision_question("Q", []).text == "Q"
    assert revision_question("Q", ["a"], max_attempts=0).text == "Q"
    for build in (
        lambda: revision_question("Q", ["a"], max_attempts=-1),
        lambda: revision_prompt(PromptFormat(), "Q", ["a"], max_attempts=-1),
    ):
        with pytest.raises(ValueError, match="max_attempts"):
            build()


def test_fitting_drops_the_oldest_attempts_until_the_text_fits():
    """A character count as the tokenizer: the prompt keeps the newest attempts that fit."""
    full = revision_prompt(PromptFormat(), "Q", ATTEMPTS)
    assert revision_prompt(PromptFormat(), "Q", ATTEMPTS, fit=Fit(len, len(full.text), "q0")) == full
    assert full.dropped == 0
    two = revision_prompt(PromptFormat(), "Q", ATTEMPTS[-2:]).text
    fitted = revision_prompt(PromptFormat(), "Q", ATTEMPTS, fit=Fit(len, len(two), "q0"))
    assert fitted == (two, 2)  # of the 4 kept, the 2 oldest left out
    question = revision_question("Q", ATTEMPTS, fit=Fit(len, len("Q") + 1, "q0"))
    assert question == ("Q", 4)


def test_a_question_that_alone_does_not_fit_is_one_error_naming_the_problem_and_limit():
    with pytest.raises(ContextError, match=r"problem q7 \(context 256\): .* over the limit of 5"):
        revision_prompt(PromptFormat(), "Q", ATTEMPTS, fit=Fit(len, 5, "problem q7 (context 256)"))
