"""Scripted fakes of the two protocols, for unit tests of strategies' logic (search, revisions).

`ScriptedLM` writes what a test's `script(solution_so_far, sample_index, request)` says, and
records every call; `TableVerifier` gives each step the value a test's table assigns to the
prefix ending there ("s1/s0" for steps ["s1", "s0"]; 0.5 if absent), and records every call.
`Recording` wraps a real verifier and keeps every (question, steps) it is asked to score.
"""

from __future__ import annotations

from typing import Callable

from ttc.lm import Completion, GenerationRequest, Ledger, LMBase
from ttc.verifiers import VerifierBase


class ScriptedLM(LMBase):
    def __init__(self, script: Callable[[str, int, GenerationRequest], tuple[str, str]]):
        self.script, self.ledger, self.calls = script, Ledger(num_parameters=10), []

    @property
    def num_parameters(self) -> int:
        return self.ledger.num_parameters

    def generate(self, requests):
        self.calls.append(list(requests))
        results = []
        for r in requests:
            so_far = r.prompt.split("\nSolution:\n", 1)[1]  # data.prompts.TEMPLATE
            outs = [self.script(so_far, i, r) for i in range(r.n)]
            results.append([Completion(text, len(text), reason) for text, reason in outs])
        self.ledger.record(len(requests), sum(r.n for r in requests), sum(len(r.prompt) for r in requests),
                           sum(c.num_tokens for cs in results for c in cs))
        return results


class TableVerifier(VerifierBase):
    batch_invariant = True  # a value depends on its steps only

    def __init__(self, table: dict[str, float] | None = None):
        self.table, self.calls, self.tokens_scored, self.num_parameters = table or {}, [], 0, 3
        self.last_tokens: list[int] = []

    def score(self, questions, solutions):
        self.calls.append([(q, tuple(s)) for q, s in zip(questions, solutions)])
        self.last_tokens = [len(q) + sum(map(len, s)) for q, s in zip(questions, solutions)]
        self.tokens_scored += sum(self.last_tokens)
        return [[self.table.get("/".join(steps[: j + 1]), 0.5) for j in range(len(steps))] for steps in solutions]


class Recording(VerifierBase):
    """A real verifier, with every (question, steps) it is asked to score kept in `asked`."""

    def __init__(self, verifier):
        self.verifier, self.asked = verifier, []

    def score(self, questions, solutions):
        self.asked += [(q, tuple(s)) for q, s in zip(questions, solutions)]
        return self.verifier.score(questions, solutions)

    @property
    def tokens_scored(self):
        return self.verifier.tokens_scored

    @property
    def last_tokens(self):
        return self.verifier.last_tokens

    @property
    def batch_invariant(self):
        return self.verifier.batch_invariant

    @property
    def num_parameters(self):
        return self.verifier.num_parameters

    @property
    def aggregation(self):
        return self.verifier.aggregation
