"""The toy pretraining stream: one problem per example, or other solved problems before it."""

from typing import cast

import pytest

from data import toy
from data.prompts import PromptFormat
from train.tokenizer import build_char_tokenizer
from train.toy_lm import ToyLMConfig, ToyStream

TOKENIZER = build_char_tokenizer()


def text(ids: list[int]) -> str:
    return cast(str, TOKENIZER.decode([i for i in ids if i >= 0]))  # one sequence: one str


def test_one_problem_per_example_without_shots():
    example = ToyStream(TOKENIZER, 4, seed=0)[2]
    problem = toy.training_example(2, 0)
    solution = "\n".join(toy.solve(problem.expression))
    assert text(example["input_ids"]) == f"<s>{PromptFormat().render(problem.question)}{solution}</s>"
    assert text(example["labels"]) == solution + "</s>"  # the loss is on the solution only


def test_shots_come_first_in_the_few_shot_layout_and_only_the_blank_lines_are_not_targets():
    stream = ToyStream(TOKENIZER, 64, seed=0, max_shots=4)
    counts = []
    for i in range(len(stream)):
        example = stream[i]
        full, targets = text(example["input_ids"]), text(example["labels"])
        blocks = full.removeprefix("<s>").removesuffix("</s>").split("\n\n")
        counts.append(len(blocks) - 1)
        own = toy.training_example(i, 0)  # the example's own problem is last
        assert blocks[-1] == PromptFormat().render(own.question) + "\n".join(toy.solve(own.expression))
        for block in blocks:
            question, solution = block.split("\nSolution:\n")
            assert toy.solve(toy.expression_of(question.removeprefix("Problem: "))) == solution.split("\n")
        solutions = [block.split("\nSolution:\n")[1] for block in blocks]
        assert targets == "".join(solutions) + "</s>"  # every solution; EOS after its own only
    assert set(counts) == {0, 1, 2, 3, 4}
    assert stream[5] == ToyStream(TOKENIZER, 64, seed=0, max_shots=4)[5]  # a pure function of (seed, i)


def test_negative_shots_are_a_config_error():
    with pytest.raises(ValueError, match="max_shots"):
        ToyLMConfig(output_dir="x", max_shots=-1)


def test_careless_writers_slip_and_corrections_end_careful():
    stream = ToyStream(TOKENIZER, 400, seed=0, slip=0.5, corrections=0.3)
    slipped = corrections = 0
    for i in range(len(stream)):
        example = stream[i]
        blocks = text(example["input_ids"]).removeprefix("<s>").removesuffix("</s>").split("\n\n")
        own = toy.training_example(i, 0)
        question, solution = blocks[-1].split("\nSolution:\n")
        assert question == f"Problem: {own.question}"
        if len(blocks) > 1:  # a correction: slipped answers to the same question, then a careful one
            corrections += 1
            assert all(b.split("\nSolution:\n")[0] == question for b in blocks)
            assert all(
                toy.first_wrong_step(own.question, b.split("\nSolution:\n")[1].split("\n")) is not None
                for b in blocks[:-1]
            )
            assert solution.split("\n") == toy.solve(own.expression)
            assert text(example["labels"]) == solution + "</s>"  # the slipped answers are context only
        else:
            slipped += toy.first_wrong_step(own.question, solution.split("\n")) is not None
    chances = sum(toy.slip_chances(toy.training_example(i, 0).expression) > 0 for i in range(len(stream)))
    assert 0.2 * chances < corrections < 0.4 * chances
    assert slipped > 0.2 * (len(stream) - corrections)


def test_writer_rates_are_probabilities():
    with pytest.raises(ValueError, match="slip and corrections"):
        ToyLMConfig(output_dir="x", corrections=2.0)
