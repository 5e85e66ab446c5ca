"""The per-problem scheduler: on a streaming LM, requests finishing in any order give the same
results, byte for byte, and the decisions of the lock-step search (tree searches and best-of-N);
a problem's next round does not wait for the others'."""

import dataclasses
import random
import sys
import time

import pytest

from tests.support.fakes import Hashed, ScriptedLM, problem, repetitive_policy
from ttc.lm import Finished, LMBase, StreamingLM
from ttc.search import BeamConfig, BestOfNConfig, DVTSConfig, beam_search, best_of_n, dvts

repetitive = repetitive_policy(steps=4, p_step=0.7)


def whole(so_far, i, request):
    """A seeded policy writing whole solutions (best-of-N's samples): 0-3 steps, an answer."""
    rng = random.Random(f"{request.seed}/{i}")
    return "".join(f"s{rng.randrange(3)}\n" for _ in range(rng.randrange(4))) + f"\\boxed{{{rng.randrange(3)}}}", "eos"


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
    "best_of_n": (best_of_n, BestOfNConfig(n=8, seed=2)),
}
CASES = [(name, dedupe) for name in CONFIGS for dedupe in ([False] if name == "best_of_n" else [False, True])]
PROBLEMS = [problem(i) for i in range(6)]


def test_the_fake_streams():
    assert isinstance(Shuffled(repetitive, 0), StreamingLM) and not isinstance(ScriptedLM(repetitive), StreamingLM)


class Padded(Hashed):
    """`Hashed` as a verifier whose values move with what else is in the call (transformers with
    padding): the scheduler then keeps its calls the same in every run."""

    batch_invariant = False


@pytest.mark.parametrize("name, dedupe", CASES)
@pytest.mark.parametrize("verifier", [Hashed, Padded])
def test_any_finishing_order_gives_the_same_results(name, dedupe, verifier):
    run, cfg = CONFIGS[name]
    cfg = dataclasses.replace(cfg, dedupe=True) if dedupe else cfg
    policy = whole if name == "best_of_n" else repetitive
    lock_step = run(PROBLEMS, ScriptedLM(policy), verifier(), cfg)
    calls = []
    for seed in range(3):
        lm, prm = Shuffled(policy, seed), verifier()
        results = run(PROBLEMS, lm, prm, cfg)
        assert results == lock_step  # the PRM tokens too: each solution's own count
        assert sum(r.prompt_tokens for r in results) == lm.ledger.prompt_tokens
        assert sum(r.generated_tokens for r in results) == lm.ledger.generated_tokens
        assert sum(r.prm_tokens for r in results) == prm.tokens_scored
        calls.append(prm.calls)
    if name == "best_of_n":  # scored as problems were drawn, not in one call after the last
        assert all(len(run_calls) > 1 for run_calls in calls)
    if verifier is Padded:
        assert calls[1] == calls[0] and calls[2] == calls[0]
        assert any(len({q for q, _ in call}) > 1 for call in calls[0])  # calls hold several problems


def test_a_problem_goes_on_while_others_still_generate():
    lm = Shuffled(repetitive, 0)
    beam_search(PROBLEMS, lm, Hashed(), CONFIGS["beam"][1])
    question = lambda prompt: prompt.split("\n")[0]  # noqa: E731
    asked = [({question(p) for p in prompts}, {question(p) for p in pending}) for prompts, pending in lm.submitted]
    assert all(len(problems) == 1 for problems, _ in asked)  # a submit is one problem's round
    # a problem's next round went in while another problem's requests were still generating
    assert any(pending - problems for problems, pending in asked[len(PROBLEMS) :])


class Plain(LMBase):
    """A real LM without its streaming methods: the search then runs in lock-step."""

    def __init__(self, lm):
        self.lm, self.ledger, self.num_parameters = lm, lm.ledger, lm.num_parameters

    def generate(self, requests):
        return self.lm.generate(requests)


def test_on_vllm_streaming_repeats_itself_and_decides_as_lock_step(vllm_lm, vllm_toy_prm):
    """Requests finish in an order that varies from run to run; results must not. With the vLLM
    PRM (batch-invariant on CPU) the scheduler takes whatever is ready first; with transformers
    batched, it keeps a timing-independent order."""
    from data.problems import DataConfig, load_problems
    from data.prompts import PromptFormat
    from tests.support.runs import REPO
    from ttc.verifiers.spec import VerifierConfig, load_verifier

    path = str(REPO / "train/checkpoints/toy-prm")
    batched = load_verifier(VerifierConfig(path=path, batch_size=16), PromptFormat())  # values move with the padding
    alone = load_verifier(VerifierConfig(path=path, batch_size=1), PromptFormat())  # the same values in any call
    assert vllm_toy_prm.batch_invariant and not batched.batch_invariant
    problems = load_problems(DataConfig(levels=[1, 3, 5], per_level=3, split="scheduler-test"))
    for run, cfg in [
        (beam_search, BeamConfig(n=4, beam_width=2, max_step_tokens=32, seed=1)),
        (dvts, DVTSConfig(n=4, beam_width=2, max_step_tokens=32, lookahead=1, seed=1)),
        (best_of_n, BestOfNConfig(n=4, max_tokens=128, seed=1)),
    ]:
        eager = run(problems, vllm_lm, vllm_toy_prm, cfg)
        assert run(problems, vllm_lm, vllm_toy_prm, cfg) == eager
        assert run(problems, Plain(vllm_lm), vllm_toy_prm, cfg) == eager  # lock-step
        assert any(r.correct for r in eager)
        in_order = run(problems, vllm_lm, batched, cfg)
        assert run(problems, vllm_lm, batched, cfg) == in_order
        assert run(problems, vllm_lm, alone, cfg) == run(problems, Plain(vllm_lm), alone, cfg)


def test_an_error_leaves_no_request_in_the_engine():
    """The verifier fails in the background while other problems generate: the error surfaces,
    and the engine's requests are let finish first (in the timing-independent order, so that
    requests are still in the engine when it surfaces)."""

    class Failing(Padded):
        def score(self, questions, solutions):
            if len(self.calls) == 4:  # fails when it is received with requests in the engine (this seed)
                raise RuntimeError("verifier down")
            return super().score(questions, solutions)

    class Draining(Shuffled):
        pending_after_error: list[int]  # set by the test

        def collect(self):
            if sys.exc_info()[0] is RuntimeError:  # called while the error propagates
                self.pending_after_error.append(len(self.pending))
            return super().collect()

    lm = Draining(repetitive, 0)
    lm.pending_after_error = []
    with pytest.raises(RuntimeError, match="verifier down"):
        beam_search([problem(i) for i in range(12)], lm, Failing(), CONFIGS["beam"][1])
    assert lm.pending_after_error[0] > 0 and not lm.pending


def test_the_verifier_scores_while_the_lm_generates():
    """A verifier call runs in the background: while it runs, the driver takes the LM's finished
    requests."""

    class OneByOne(Shuffled):
        """Hands back one finished request per `collect`, the oldest: the engine still holds the
        others when a verifier call starts."""

        collects = 0

        def collect(self):
            self.collects += 1
            if not self.pending:
                return []
            ticket = min(self.pending)
            request, completions = self.pending.pop(ticket)
            return [Finished(ticket, completions, len(request.prompt))]

    class Waiting(Hashed):
        overlapped = None

        def score(self, questions, solutions):
            if not self.calls:  # the first call waits to see the LM collected from meanwhile
                start, deadline = lm.collects, time.monotonic() + 10
                while lm.collects == start and time.monotonic() < deadline:
                    time.sleep(0.001)
                self.overlapped = lm.collects > start
            return super().score(questions, solutions)

    lm, prm = OneByOne(repetitive, 0), Waiting()
    cfg = CONFIGS["beam"][1]
    assert beam_search(PROBLEMS, lm, prm, cfg) == beam_search(PROBLEMS, Shuffled(repetitive, 0), Hashed(), cfg)
    assert prm.overlapped
