"""The per-problem scheduler: on a streaming LM, requests finishing in any order give the same
results, byte for byte, and the decisions of the lock-step search; a problem's next round does
not wait for the others'."""

import dataclasses
import random

import pytest
from search_fakes import Hashed, ScriptedLM, problem, repetitive_policy

from ttc.lm import Finished, StreamingLM
from ttc.search import BeamConfig, DVTSConfig, beam_search, dvts


repetitive = repetitive_policy(steps=4, p_step=0.7)


class Shuffled(ScriptedLM):
    """A streaming `ScriptedLM`: every submitted request is done at once, but `collect` hands
    back a random handful of the pending ones (seeded), as an engine finishes them in whatever
    order. `submitted` keeps, for each submit, its prompts and the prompts still pending then."""

    def __init__(self, script, seed):
        super().__init__(script)
        self.rng, self.pending, self.tickets, self.submitted = random.Random(seed), {}, 0, []

    def submit(self, requests):
        self.submitted.append(([r.prompt for r in requests], [r.prompt for r, _ in self.pending.values()]))
        tickets = list(range(self.tickets, self.tickets + len(requests)))
        self.tickets += len(requests)
        self.pending.update(zip(tickets, zip(requests, self.generate(requests))))
        return tickets

    def collect(self):
        chosen = self.rng.sample(sorted(self.pending), min(len(self.pending), self.rng.randint(1, 3)))
        done = [(t, *self.pending.pop(t)) for t in chosen]
        return [Finished(t, completions, len(request.prompt)) for t, request, completions in done]


CONFIGS = {
    "beam": (beam_search, BeamConfig(n=16, beam_width=4, seed=2)),
    "lookahead": (beam_search, BeamConfig(n=8, beam_width=2, lookahead=2, seed=2)),
    "dvts": (dvts, DVTSConfig(n=16, beam_width=4, seed=2)),
}
PROBLEMS = [problem(i) for i in range(6)]


def test_the_fake_streams():
    assert isinstance(Shuffled(repetitive, 0), StreamingLM) and not isinstance(ScriptedLM(repetitive), StreamingLM)


DECISIONS = ("answer", "solution", "candidates", "distinct_candidates", "correct", "generated_tokens")


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("dedupe", [False, True])
def test_any_finishing_order_gives_the_same_results(name, dedupe):
    run, cfg = CONFIGS[name]
    cfg = dataclasses.replace(cfg, dedupe=dedupe)
    lock_step = run(PROBLEMS, ScriptedLM(repetitive), Hashed(), cfg)
    streamed = []
    for seed in range(3):
        lm, prm = Shuffled(repetitive, seed), Hashed()
        streamed.append((run(PROBLEMS, lm, prm, cfg), prm.calls))
        results = streamed[-1][0]
        assert sum(r.prompt_tokens for r in results) == lm.ledger.prompt_tokens
        assert sum(r.generated_tokens for r in results) == lm.ledger.generated_tokens
        assert sum(r.prm_tokens for r in results) == prm.tokens_scored
    assert streamed[1] == streamed[0] and streamed[2] == streamed[0]  # the verifier's calls too
    assert any(len({q for q, _ in call}) > 1 for call in streamed[0][1])  # calls hold several problems
    # verifier calls group the problems otherwise than in lock-step, which splits the PRM tokens otherwise
    decisions = lambda results: [[getattr(r, k) for k in (*DECISIONS, "prompt_tokens")] for r in results]  # noqa: E731
    assert decisions(streamed[0][0]) == decisions(lock_step)


def test_a_problem_goes_on_while_others_still_generate():
    lm = Shuffled(repetitive, 0)
    beam_search(PROBLEMS, lm, Hashed(), CONFIGS["beam"][1])
    question = lambda prompt: prompt.split("\n")[0]  # noqa: E731
    asked = [({question(p) for p in prompts}, {question(p) for p in pending}) for prompts, pending in lm.submitted]
    assert all(len(problems) == 1 for problems, _ in asked)  # a submit is one problem's round
    # a problem's next round went in while another problem's requests were still generating
    assert any(pending - problems for problems, pending in asked[len(PROBLEMS):])


class Plain:
    """A real LM without its streaming methods: the search then runs in lock-step."""

    def __init__(self, lm):
        self.lm, self.ledger, self.num_parameters = lm, lm.ledger, lm.num_parameters

    def generate(self, requests):
        return self.lm.generate(requests)


def test_on_vllm_streaming_repeats_itself_and_decides_as_lock_step(vllm_lm):
    """Requests finish in an order that varies from run to run; results must not."""
    from conftest import REPO

    from data.problems import DataConfig, load_problems
    from data.prompts import PromptFormat
    from ttc.verifiers.spec import VerifierConfig, load_verifier

    path = str(REPO / "train/checkpoints/toy-prm")
    batched = load_verifier(VerifierConfig(path=path, batch_size=16), PromptFormat())  # values move with the padding
    alone = load_verifier(VerifierConfig(path=path, batch_size=1), PromptFormat())  # the same values in any call
    problems = load_problems(DataConfig(levels=[1, 3, 5], per_level=3, split="scheduler-test"))
    # lock-step splits a call's prompt and PRM tokens otherwise: compare what was decided
    decisions = lambda results: [[getattr(r, k) for k in DECISIONS] for r in results]  # noqa: E731
    for run, cfg in [(beam_search, BeamConfig(n=4, beam_width=2, max_step_tokens=32, seed=1)),
                     (dvts, DVTSConfig(n=4, beam_width=2, max_step_tokens=32, lookahead=1, seed=1))]:
        streamed = run(problems, vllm_lm, batched, cfg)
        assert run(problems, vllm_lm, batched, cfg) == streamed
        assert any(r.correct for r in streamed)
        assert decisions(run(problems, vllm_lm, alone, cfg)) == decisions(run(problems, Plain(vllm_lm), alone, cfg))


def test_an_error_leaves_no_request_in_the_engine():
    class Failing(Hashed):
        def score(self, questions, solutions):
            if len(self.calls) == 2:
                assert lm.pending  # other problems are generating
                raise RuntimeError("verifier down")
            return super().score(questions, solutions)

    lm = Shuffled(repetitive, 0)
    with pytest.raises(RuntimeError, match="verifier down"):
        beam_search(PROBLEMS, lm, Failing(), CONFIGS["beam"][1])
    assert not lm.pending
