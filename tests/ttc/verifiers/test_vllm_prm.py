"""vLLM's pooling runner serves our PRM format: the same step values as the transformers scorer.

A tiny PRM is trained from the toy base model on the synthetic labels of tests/conftest.py
(seconds), then scored by both engines in fp32; one vLLM engine serves the whole module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from data import toy
from data.prompts import PromptFormat
from tests.support.runs import synthetic_labels, train_tiny_prm
from ttc.verifiers.hf_prm import HFPRM
from ttc.verifiers.vllm_prm import VLLMPRM


def solutions() -> tuple[list[str], list[list[str]]]:
    """A dozen toy solutions of 2 to 7 steps: references of every level, a right and a wrong
    one from the PRM's training labels."""
    problems = [toy.generate(level, i, seed="vllm-prm") for level in sorted(toy.LEVELS) for i in range(2)]
    labelled = synthetic_labels(1)
    return (
        [p.question for p in problems] + [r.question for r in labelled],
        [toy.solve(p.expression) for p in problems] + [r.steps for r in labelled],
    )


@pytest.fixture(scope="module")
def prm_path(tmp_path_factory, toy_base_path: Path) -> Path:
    return train_tiny_prm(tmp_path_factory.mktemp("vllm-prm"), toy_base_path, synthetic_labels(40))


@pytest.fixture(scope="module")
def vllm_prm(prm_path: Path) -> Iterator[VLLMPRM]:
    scorer = VLLMPRM(str(prm_path))
    yield scorer
    scorer.close()


def test_vllm_step_values_match_transformers(prm_path, vllm_prm):
    questions, steps = solutions()
    hf = HFPRM(str(prm_path))
    expected = hf.score(questions, steps)
    values = vllm_prm.score(questions, steps)
    assert [len(v) for v in values] == [len(s) for s in steps]
    assert all(0.0 <= v <= 1.0 for vs in values for v in vs)
    for got, want in zip(values, expected):
        assert got == pytest.approx(want, abs=1e-4)
    assert vllm_prm.forward_passes == len(steps)  # one request per solution, not per step
    assert vllm_prm.tokens_scored == hf.tokens_scored > 0  # the ledger: the same token ids
    assert vllm_prm.num_parameters == hf.num_parameters
    assert max(map(max, expected)) - min(map(min, expected)) > 0.5  # trained: values spread
    assert vllm_prm.aggregation == hf.aggregation == "last"
    assert vllm_prm.prompt == hf.prompt == PromptFormat()  # the one it was trained on (prm_format.json)


def test_step_tag_inside_the_text_is_refused(prm_path, vllm_prm):
    questions, steps = solutions()
    tagged = [steps[1][0] + vllm_prm.format.step_tag] + steps[1][1:]
    for scorer in (vllm_prm, HFPRM(str(prm_path))):  # the PRM would read a tag training never put there
        with pytest.raises(ValueError, match="solution 1: .*step tag"):
            scorer.score(questions[:2], [steps[0], tagged])


def test_empty_batch_needs_no_engine_call(vllm_prm):
    assert vllm_prm.score([], []) == []


def test_vllm_values_do_not_depend_on_the_batch(vllm_prm):
    """What lets tree search score whatever is ready (ttc/search/scheduler.py): on CPU a
    solution's values are the same bits alone, in a batch, and in another order."""
    questions, steps = solutions()
    together = vllm_prm.score(questions, steps)
    assert vllm_prm.batch_invariant
    assert [vllm_prm.score([q], [s])[0] for q, s in zip(questions, steps)] == together
    assert vllm_prm.score(questions[::-1], steps[::-1])[::-1] == together
    assert vllm_prm.last_tokens == [len(vllm_prm.kind.encode(q, s)[0]) for q, s in zip(questions[::-1], steps[::-1])]


def test_vllm_runs_a_scored_prefix_once(vllm_prm):
    """Once a solution's prefix was scored, scoring the solution runs only the tokens after the
    cached blocks; its values are the bits of a run of the whole solution, also when the memo
    has lost the prefix's values (then it is run whole again)."""
    questions, steps = solutions()
    vllm_prm.reuse_prefixes = False
    whole = vllm_prm.score(questions, steps)
    vllm_prm.reuse_prefixes = True
    vllm_prm.forget_prefixes()
    for k in range(1, max(map(len, steps))):
        vllm_prm.score(*zip(*[(q, s[:k]) for q, s in zip(questions, steps) if len(s) > k]))
    computed, scored = vllm_prm.tokens_computed, vllm_prm.tokens_scored
    assert vllm_prm.score(questions, steps) == whole
    assert vllm_prm.tokens_scored - scored == sum(vllm_prm.last_tokens)  # the ledger counts whole prompts
    assert vllm_prm.tokens_computed - computed < (vllm_prm.tokens_scored - scored) / 2
    vllm_prm.memo.clear()
    assert vllm_prm.score(questions, steps) == whole
    assert len(vllm_prm.memo) == sum(map(len, steps))  # every step's value again: the lost ones run whole


def test_a_closed_engine_has_no_thread_left_to_die_in_the_interpreters_teardown(prm_path):
    """vLLM decodes a pooling engine's outputs (tensors over the message's buffer) on a daemon
    thread. Left running past `close`, that thread frees its last outputs while the interpreter
    tears down; freeing them needs the GIL, which a finalizing interpreter answers by ending the
    thread through C++ frames: `terminate called without an active exception`, exit status 134,
    after the stage's outputs were written (a Slurm `afterok` chain breaks). Closed, it is gone."""
    scorer = VLLMPRM(str(prm_path))
    questions, steps = solutions()
    scorer.score(questions, steps)
    assert scorer.llm is not None  # open until close
    # vLLM types engine_core as the EngineCoreClient base; the in-process client has the thread
    thread = scorer.llm.llm_engine.engine_core.output_queue_thread  # pyright: ignore[reportAttributeAccessIssue]
    scorer.close()
    assert not thread.is_alive()
