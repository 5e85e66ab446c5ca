"""The training-free verifier: the policy's own likelihood of a solution, on the toy base model."""

import math
from typing import cast

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from data.prompts import PromptFormat
from ttc.verifiers.hf_prm import HFVerifier
from ttc.verifiers.spec import VerifierConfig, VerifierError, load_verifier

QUESTION = "Compute 12+34-15."
RIGHT = ["=46-15", "=31", "\\boxed{31}"]
WRONG = ["=46-15", "=32", "\\boxed{32}"]


@pytest.fixture(scope="module")
def verifier(toy_base_path):
    return load_verifier(VerifierConfig(path=str(toy_base_path), kind="likelihood", batch_size=8), PromptFormat())


def mean_logprob_by_hand(path, question: str, steps: list[str]) -> float:
    """exp(mean log-prob) of the whole solution text, from its own forward pass."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    prompt = tokenizer(PromptFormat().render(question, tokenizer))["input_ids"]
    solution = []
    for step in steps:
        solution += tokenizer.encode(step, add_special_tokens=False) + tokenizer.encode("\n", add_special_tokens=False)
    solution = solution[:-1]  # up to the end of the last step, its newline not counted
    with torch.no_grad():
        logp = model(torch.tensor([prompt + solution])).logits[0].log_softmax(-1)
    return math.exp(sum(logp[len(prompt) - 1 + i, t].item() for i, t in enumerate(solution)) / len(solution))


def test_last_value_is_the_mean_token_likelihood_of_the_solution(verifier, toy_base_path):
    (values,) = verifier.score([QUESTION], [RIGHT])
    assert len(values) == len(RIGHT) and all(0.0 < v <= 1.0 for v in values)
    assert values[-1] == pytest.approx(mean_logprob_by_hand(toy_base_path, QUESTION, RIGHT), rel=1e-4)


def test_the_base_prefers_its_right_answer_and_batching_changes_nothing(verifier):
    questions, solutions = [QUESTION, QUESTION, "Compute 6+7."], [RIGHT, WRONG, ["=13", "\\boxed{13}"]]
    before = verifier.forward_passes
    together = verifier.score(questions, solutions)
    assert verifier.forward_passes - before == 3  # one forward per solution
    right, wrong, _ = together
    assert right[:1] == pytest.approx(wrong[:1])  # the same first step, the same value
    assert right[-1] > wrong[-1]
    alone = [verifier.score([q], [s])[0] for q, s in zip(questions, solutions)]
    for a, b in zip(alone, together):
        assert a == pytest.approx(b, abs=1e-5)


def test_the_spec_builds_it_by_kind_on_the_hf_backend_only(toy_base_path):
    verifier = load_verifier(VerifierConfig(path=str(toy_base_path), kind="likelihood"), PromptFormat())
    assert cast(HFVerifier, verifier).kind.name == "likelihood" and verifier.aggregation == "last"
    with pytest.raises(VerifierError, match="backend: kind likelihood runs on the hf backend"):
        VerifierConfig(path=str(toy_base_path), kind="likelihood", backend="vllm")
