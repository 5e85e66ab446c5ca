"""Runs every problem's search on its own, so that no problem waits for another's round.

A strategy writes one problem's search as a generator (`Search`) that yields what it needs next
and is sent the answer: `Generate(requests)` gets their completions (one list per request),
`Score(texts)` gets each text's step values. `drive` (a `Driver`) runs the searches of a
session's problems: the tree searches' rounds, and best-of-N's one round (a problem's samples
are scored as soon as they are drawn, while the LM draws the others').

On a `StreamingLM` (vLLM) a problem's requests go to the engine as soon as they are known, and
its next ones as soon as its candidates are scored, while the engine generates the other
problems': no round barrier. The verifier runs in a thread, one call at a time, while the driver
goes on taking the LM's finished requests; a call holds every problem waiting when it is sent (a
call is a round trip through the PRM's engine: one per problem and round would cost more than the
scoring; docs/extending.md). Two orders of events:
- eager, when the verifier is batch-invariant (`batch_invariant`: vLLM's PRM on CPU, or in vLLM's
  batch-invariant mode on GPU): whatever is ready first goes first. A finished request is taken
  as it comes, the verifier's answers as they come, and a call is sent as soon as the verifier
  is free and a problem waits: a problem no longer waits on requests submitted before its own;
- in order, for a verifier whose values move with its batch (transformers, with padding):
  finished requests are taken in the order they were submitted, and a call is sent once as many
  problems wait on the verifier as on the LM, its answers taken when the next call is due, so
  every call holds the same candidates in every run.
On any other LM (transformers, the test fakes) the same searches run in lock-step: every
problem's requests in one `generate` call, then every problem's candidates in one verifier call
(`LockStep`), one round after the other.

Results do not depend on timing, in either order: requests are seeded per problem, round and
beam, and a completion must not depend on what the engine batched it with (tests/ttc/
test_backends.py checks it for vLLM on CPU; on GPU it takes vLLM's batch-invariant mode, as
lock-step already did, since the engine starts stepping while a call's requests still arrive);
a score depends on its batch only where the order is kept. Prompt tokens are booked per request
as the engine counted them (lock-step: a call's count split by prompt length,
`generate_apportioned`), PRM tokens per solution as the verifier counted them.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import count
from typing import Any, Generator, Generic, Sequence, TypeVar

from tqdm.auto import tqdm

from ttc.lm import LM, Finished, GenerationRequest, StreamingLM
from ttc.search.result import SearchResult
from ttc.search.session import Session, VerifierCall, generate_apportioned


@dataclass(frozen=True)
class Generate:
    requests: list[GenerationRequest]


@dataclass(frozen=True)
class Score:
    texts: list[str]  # solutions so far of the search's problem


R = TypeVar("R")
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
        results, shares = generate_apportioned(self.lm, [request for _, request in queued])
        return [
            Finished(ticket, completions, share)
            for (ticket, _), completions, share in zip(queued, results, shares, strict=True)
        ]


def drive(session: Session, searches: Sequence[Generator[Generate | Score, Any, R]], desc: str) -> list[R]:
    """Each search's result, searches[p] being problem p's of the session."""
    return Driver(session, searches, desc).run()


class Driver(Generic[R]):
    """The searches of one session's problems, run to their ends (`run`): what each waits for,
    the LM's requests under way and the verifier's call."""

    def __init__(self, session: Session, searches: Sequence[Generator[Generate | Score, Any, R]], desc: str):
        self.session, self.searches = session, searches
        self.streaming = isinstance(session.lm, StreamingLM)
        self.eager = self.streaming and session.prm.batch_invariant
        self.lm: StreamingLM | LockStep = session.lm if isinstance(session.lm, StreamingLM) else LockStep(session.lm)
        self.verifier = ThreadPoolExecutor(1, "verifier") if self.streaming else None
        self.results: list[R] = [None] * len(searches)  # type: ignore[list-item]
        self.order: dict[int, None] = {}  # tickets not yet retired, in submission order
        self.finished: dict[int, Finished] = {}  # by ticket, in the order they finished: not yet retired
        self.owner: dict[int, tuple[int, int]] = {}  # ticket -> (problem, index of its request)
        self.generating: dict[int, list] = {}  # problem -> completions of its requests (None: not yet)
        self.scoring: dict[int, list[str]] = {}  # problem -> texts it waits to have scored, not yet sent
        self.sent: tuple[list[tuple[int, list[str]]], Future[VerifierCall]] | None = None  # the verifier call under way
        self.bar = tqdm(total=len(searches), desc=desc, leave=False, disable=len(searches) < 8)

    def run(self) -> list[R]:
        try:
            for p in range(len(self.searches)):
                self.advance(p, None)
            step = self.next_eager if self.eager else self.next_in_order
            while self.scoring or self.generating or self.sent:
                step()
        finally:
            self.bar.close()
            if self.verifier:  # after an error: the verifier's call is let finish, the LM's requests too
                self.verifier.shutdown(wait=True)
            while self.streaming and self.lm.collect():
                pass
        return self.results

    def advance(self, p: int, reply: Any) -> None:
        """Run problem p's search until it waits for the LM or the verifier, or ends."""
        while True:
            try:
                need = self.searches[p].send(reply)
            except StopIteration as end:
                self.results[p] = end.value
                self.bar.update()
                return
            if isinstance(need, Score):
                self.scoring[p] = need.texts
                return
            if need.requests:
                tickets = self.lm.submit(need.requests)
                self.order.update(dict.fromkeys(tickets))
                self.owner.update((ticket, (p, i)) for i, ticket in enumerate(tickets))
                self.generating[p] = [None] * len(need.requests)
                return
            reply = []

    def collect(self) -> None:
        self.finished.update((done.ticket, done) for done in self.lm.collect())

    def retire(self, ticket: int) -> None:
        done = self.finished.pop(ticket)
        del self.order[ticket]
        p, i = self.owner.pop(ticket)
        self.session.costs[p].prompt_tokens += done.prompt_tokens
        self.session.costs[p].generated_tokens += sum(c.num_tokens for c in done.completions)
        self.generating[p][i] = done.completions
        if all(c is not None for c in self.generating[p]):
            self.advance(p, self.generating.pop(p))

    def send(self) -> None:
        """Every waiting problem's texts in one verifier call: in the background when streaming."""
        asks = sorted(self.scoring.items())
        self.scoring.clear()
        call = self.session.ask([(p, text) for p, texts in asks for text in texts])
        future: Future[VerifierCall] = self.verifier.submit(self.session.run, call) if self.verifier else Future()
        if not self.verifier:
            future.set_result(self.session.run(call))
        self.sent = asks, future

    def receive(self) -> None:
        assert self.sent is not None  # the loop runs while a call is under way or a problem waits
        (asks, future), self.sent = self.sent, None
        values = iter(self.session.finish(future.result()))
        for p, texts in asks:
            self.advance(p, [next(values) for _ in texts])

    def next_eager(self) -> None:
        """Whatever is ready first: the verifier's answers, a finished request, a verifier call."""
        if self.sent and self.sent[1].done():
            self.receive()
        elif self.scoring and not self.sent:
            self.send()
        elif self.finished:
            self.retire(next(iter(self.finished)))
        elif self.generating:
            self.collect()
        else:
            self.receive()

    def next_in_order(self) -> None:
        """What a timing-independent order gives: requests retired in submission order, the
        verifier sent every problem waiting once as many wait on it as on the LM."""
        oldest = next(iter(self.order), None)
        if self.scoring and (len(self.scoring) >= len(self.generating) if self.streaming else not self.generating):
            if self.sent:  # one verifier call at a time: the last one's answers first
                self.receive()
            else:
                self.send()
        elif oldest in self.finished:
            self.retire(oldest)
        elif self.generating:
            self.collect()
        else:
            self.receive()
