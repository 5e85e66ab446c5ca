"""Runs every problem's tree search on its own, so that no problem waits for another's round.

A strategy writes one problem's search as a generator (`Search`) that yields what it needs next
and is sent the answer: `Generate(requests)` gets their completions (one list per request),
`Score(texts)` gets each text's score. `drive` runs the searches of a session's problems:
- on a `StreamingLM` (vLLM) a problem's requests go to the engine as soon as they are known;
  when the last of them finishes, the problem's candidates are scored and its next requests
  submitted while the engine generates the other problems': no round barrier, and the PRM
  scores while the LM generates (they are separate engines);
- on any other LM (transformers, the test fakes) the same searches run in lock-step: the
  requests of every problem known at once go in one `generate` call (`LockStep`).

A problem's outcome depends on its own completions and scores only, so the order in which
requests finish changes the wall time, never a result: requests are seeded per problem, round
and beam; a completion does not depend on what it was batched with (vLLM on CPU: identical
logprobs alone or in a batch, tests/ttc/search/test_scheduler.py); and each verifier call holds
one problem's candidates of one round, so its values and the PRM tokens attributed to the
problem (`Session.step_values` splits a call's count by text length, rounded) do not depend on
which other problems happened to be ready. Prompt tokens are booked per request as the engine
counted them (lock-step: a call's count split by prompt length, as `Session.generate` does).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import count
from typing import Any, Generator, Sequence

from tqdm.auto import tqdm

from ttc.lm import LM, Finished, GenerationRequest, StreamingLM
from ttc.search.common import SearchResult, Session, apportion


@dataclass(frozen=True)
class Generate:
    requests: list[GenerationRequest]


@dataclass(frozen=True)
class Score:
    texts: list[str]  # solutions so far of the search's problem


Search = Generator[Generate | Score, Any, SearchResult]


class LockStep:
    """A plain LM as a streaming one: `collect` runs every request submitted since the last
    `collect` in one `generate` call."""

    def __init__(self, lm: LM):
        self.lm, self.queued, self.tickets = lm, [], count()

    def submit(self, requests: Sequence[GenerationRequest]) -> list[int]:
        tickets = [next(self.tickets) for _ in requests]
        self.queued += zip(tickets, requests)
        return tickets

    def collect(self) -> list[Finished]:
        queued, self.queued = self.queued, []
        if not queued:
            return []
        before = self.lm.ledger.prompt_tokens
        results = self.lm.generate([request for _, request in queued])
        shares = apportion(self.lm.ledger.prompt_tokens - before, [len(request.prompt) for _, request in queued])
        return [Finished(ticket, completions, share)
                for (ticket, _), completions, share in zip(queued, results, shares, strict=True)]


def drive(session: Session, searches: Sequence[Search], desc: str) -> list[SearchResult]:
    """Each search's result, searches[p] being problem p's of the session."""
    streaming = isinstance(session.lm, StreamingLM)
    lm = session.lm if streaming else LockStep(session.lm)
    results: list[SearchResult] = [None] * len(searches)  # type: ignore[list-item]
    order: deque[int] = deque()  # tickets in submission order, not yet retired
    finished: dict[int, Finished] = {}  # by ticket: finished, not yet retired
    owner: dict[int, tuple[int, int]] = {}  # ticket -> (problem, index of its request)
    generating: dict[int, list] = {}  # problem -> completions of its requests (None: not yet)
    scoring: dict[int, list[str]] = {}  # problem -> texts it waits to have scored
    bar = tqdm(total=len(searches), desc=desc, leave=False, disable=len(searches) < 8)

    def advance(p: int, reply: Any) -> None:
        """Run problem p's search until it waits for the LM or the verifier, or ends."""
        while True:
            try:
                need = searches[p].send(reply)
            except StopIteration as end:
                results[p] = end.value
                bar.update()
                return
            if isinstance(need, Score):
                scoring[p] = need.texts
                return
            if need.requests:
                tickets = lm.submit(need.requests)
                order.extend(tickets)
                owner.update((ticket, (p, i)) for i, ticket in enumerate(tickets))
                generating[p] = [None] * len(need.requests)
                return
            reply = []

    def retire(done: Finished) -> None:
        p, i = owner.pop(done.ticket)
        session.costs[p].prompt_tokens += done.prompt_tokens
        session.costs[p].generated_tokens += sum(c.num_tokens for c in done.completions)
        generating[p][i] = done.completions
        if all(c is not None for c in generating[p]):
            advance(p, generating.pop(p))

    def score() -> None:
        asks = sorted(scoring.items())
        scoring.clear()
        values = iter(session.score([(p, text) for p, texts in asks for text in texts]))
        for p, texts in asks:
            advance(p, [next(values) for _ in texts])

    for p in range(len(searches)):
        advance(p, None)
    while scoring or generating:
        if scoring and (len(scoring) >= float(__import__('os').environ.get('EXP_RATIO', 1)) * len(generating) if streaming else not generating):
            score()
        elif order[0] in finished:
            retire(finished.pop(order.popleft()))
        else:
            finished.update((done.ticket, done) for done in lm.collect())
    bar.close()
    return results
