"""Runs every problem's tree search on its own, so that no problem waits for another's round.

A strategy writes one problem's search as a generator (`Search`) that yields what it needs next
and is sent the answer: `Generate(requests)` gets their completions (one list per request),
`Score(texts)` gets each text's score. `drive` runs the searches of a session's problems:
- on a `StreamingLM` (vLLM) a problem's requests go to the engine as soon as they are known, and
  its next ones as soon as its candidates are scored, while the engine generates the other
  problems': no round barrier. Candidates are scored in batches: once as many problems wait on
  the verifier as on the LM, all those waiting go in one verifier call, while the LM keeps
  generating for the others (a verifier call is a round trip through the PRM's engine, ~15 ms
  for the toy world on CPU: one per problem and round cost more than the scoring itself);
- on any other LM (transformers, the test fakes) the same searches run in lock-step: every
  problem's requests in one `generate` call, then every problem's candidates in one verifier
  call (`LockStep`), one round after the other.

Results do not depend on timing. Finished requests are taken in the order they were submitted,
whatever order the engine finishes them in, so every problem advances at the same point and
every verifier call holds the same candidates in every run (a request that finished early waits
for earlier ones in the driver only, never in the engine: what the verifier computes does
depend on its batch, for transformers in the last bits, with the padding). A completion must
not depend on what the engine batched it with
(tests/ttc/test_backends.py checks it for vLLM on CPU; on GPU it takes vLLM's batch-invariant
mode, as lock-step already did, since the engine starts stepping while a call's requests still
arrive). Requests are seeded per problem, round and beam; prompt tokens are booked per request
as the engine counted them (lock-step: a call's count split by prompt length, as
`Session.generate` does), PRM tokens per verifier call as `Session.step_values` books them.
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

    try:
        for p in range(len(searches)):
            advance(p, None)
        while scoring or generating:
            if scoring and (len(scoring) >= len(generating) if streaming else not generating):
                score()
            elif order[0] in finished:
                retire(finished.pop(order.popleft()))
            else:
                finished.update((done.ticket, done) for done in lm.collect())
    finally:
        bar.close()
        while streaming and lm.collect():  # after an error: the engine's requests are let finish, the LM stays usable
            pass
    return results
