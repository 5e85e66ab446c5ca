"""Step-level search, shared by beam search and DVTS: partial solutions, their expansion by one
step, and their scoring (with lookahead), written as steps of one problem's search (`Search`,
ttc/search/scheduler.py, which advances each problem on its own).

A step is what the policy writes up to a step delimiter (`step_stop`, a newline by default;
the delimiter is kept in the text, so a node's text is its steps, each with its newline). A
blank line is not a step: MATH solutions put blank lines between steps, and an engine that
stops at "\n" inside a "\n\n" token leaves the second newline for the next round, so every
other round would be spent on an empty step. A completion that stops at a delimiter with only
whitespace written is continued in the same round (`whole_steps`), within the step's token
budget; its text keeps the blank line, which `split_steps` skips, so that a round adds one step
of the split that the PRM is trained on (`ttc label`) and scores (`Session.score`). A
step ends its solution when the completion ends with EOS, when it hits `max_step_tokens` (a cut
step is not continued, as search-and-learn treats it), or when it writes a `\\boxed{}` answer:
the toy world writes EOS right after its boxed line, and a MATH solution rarely continues past
its boxed answer, so waiting for the EOS would spend a round to learn nothing.

M = sqrt(N) for a non-square N: the divisor of N nearest to sqrt(N) on a log scale, ties to the
larger one, so that M > 1 for every N >= 2 and the search always prunes: N = 2, 8, 32, 128 give
M = 2, 4, 8, 16 (keeping 1, 2, 4, 8 beams); square N give M = sqrt(N).

Lookahead k (the paper's Section 5.2): a candidate's score is the PRM's at the end of a greedy
(T=0) rollout of up to k further steps from it, stopping early at the end of the solution; the
rollout is only scored, never kept (search-and-learn scored without it, #53). Rollouts cost k
LM requests a round, one per depth (in lock-step, for every problem at once); a greedy step is
computed once per prefix (`greedy_steps`). The paper's budget counts N(k+1) generations.

Duplicates (`dedupe`, off by default). A policy that often writes the same step (the toy model
does) fills the beam with copies. A copy wastes budget (it is expanded, or takes a final's place,
as if it were new) and weighs twice in the final vote though it is one solution. With `dedupe`,
a candidate whose text equals an earlier candidate's of the same round or one of its problem's
finals (in DVTS also a node another subtree of its problem kept, subtrees in order) is dropped
before the nodes to keep are chosen; of the copies the first stays (copies score the same).
Finals are distinct, and so are kept nodes, but for a DVTS subtree whose candidates are all
copies: it goes on from one (dvts.py) rather than lose its budget, as fewer distinct beams than
N/M share the round's N samples in beam search (beam.py). The paper does not say.
search-and-learn's `filter_duplicates` (False in its config, True in every recipe) drops copies
among a round's unfinished beams before taking the top N/M and copies the kept ones back up to N
beams, but leaves copies among completed beams, which it even pads with copies to N at the end;
its DVTS filters nothing. `dedupe: false` is the search without it, exactly. Off by default: on
the toy world it gave more distinct finals and never more accuracy (docs/extending.md, measurements).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Generator, Literal, Protocol, Sequence

from data.shards import derive_seed
from data.steps import extract_answer
from ttc.lm import Completion, GenerationRequest
from ttc.search.config import SearchConfig
from ttc.search.scheduler import Generate, Score
from ttc.search.session import Session


def sqrt_width(n: int) -> int:
    """The divisor of n nearest to sqrt(n) on a log scale; ties go to the larger divisor."""

    def distance(d: int) -> Fraction:
        return max(Fraction(d * d, n), Fraction(n, d * d))

    return min((d for d in range(1, n + 1) if n % d == 0), key=lambda d: (distance(d), -d))


@dataclass
class TreeConfig(SearchConfig):
    beam_width: int | Literal["sqrt"] = 4  # M: expansions per kept node; "sqrt": sqrt(N), rounded as above
    lookahead: int = 0  # k: greedy steps rolled out before scoring a candidate (0: plain beam search)
    max_rounds: int = 40  # rounds of expansion (paper: 40)
    max_step_tokens: int = 256  # a longer step is cut and ends its solution
    step_stop: list[str] = field(default_factory=lambda: ["\n"])  # step delimiters, kept in the text
    dedupe: bool = False  # drop copied candidates: kept nodes and finals are distinct (see above)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beam_width != "sqrt" and not (isinstance(self.beam_width, int) and 1 <= self.beam_width <= self.n):
            raise ValueError(f"beam_width must be 'sqrt' or an integer in 1..N={self.n}, got {self.beam_width!r}")
        if self.n % self.width:
            raise ValueError(f"N={self.n} beams are not divisible by beam width M={self.width}: N/M must be whole")
        if self.lookahead < 0 or self.max_rounds < 1 or self.max_step_tokens < 1:
            raise ValueError("need lookahead >= 0, max_rounds >= 1 and max_step_tokens >= 1")
        if not self.step_stop or not all(self.step_stop):
            raise ValueError("step_stop needs at least one non-empty delimiter")

    @property
    def width(self) -> int:
        """M, resolved."""
        return sqrt_width(self.n) if self.beam_width == "sqrt" else self.beam_width

    @property
    def generations(self) -> int:
        return self.n * (self.lookahead + 1)

    def derived(self) -> dict[str, Any]:
        return {"width": self.width}


@dataclass
class Node:
    """A partial solution of problem `problem` (an index into the session's problems)."""

    problem: int
    text: str = ""
    finished: bool = False
    score: float = 0.0


def distinct(nodes: Sequence[Node], taken: set[str]) -> list[Node]:
    """`nodes` without those whose text is in `taken` or an earlier node's, in order."""
    seen, out = set(taken), []
    for node in nodes:
        if node.text not in seen:
            seen.add(node.text)
            out.append(node)
    return out


def ends_solution(completion: Completion) -> bool:
    return completion.finish_reason != "stop" or extract_answer(completion.text) is not None


def whole_steps(requests: Sequence[GenerationRequest]) -> Generator[Generate, Any, list[list[Completion]]]:
    """Each request's completions, none of them blank: a completion that stopped at a delimiter
    with only whitespace written is continued (one more request per blank one, a call for all),
    until it writes a step or runs out of the request's `max_tokens` (a cut step)."""
    results = [list(completions) for completions in (yield Generate(list(requests)))]
    for depth in range(1, max((r.max_tokens for r in requests), default=0) + 1):  # a token a round at least
        blank = []
        for r, completions in enumerate(results):
            for i, c in enumerate(completions):
                if c.finish_reason == "stop" and not c.text.strip():
                    if c.num_tokens < requests[r].max_tokens:
                        blank.append((r, i))
                    else:  # the budget is spent on blank lines: a cut step
                        completions[i] = dataclasses.replace(c, finish_reason="length")
        if not blank:
            break
        asks = [
            dataclasses.replace(
                requests[r],
                prompt=requests[r].prompt + results[r][i].text,
                n=1,
                max_tokens=requests[r].max_tokens - results[r][i].num_tokens,
                seed=derive_seed(requests[r].seed, i, depth),
            )
            for r, i in blank
        ]
        for (r, i), (more,) in zip(blank, (yield Generate(asks)), strict=True):
            done = results[r][i]
            results[r][i] = Completion(done.text + more.text, done.num_tokens + more.num_tokens, more.finish_reason)
    return results


class StepSettings(Protocol):
    """What `expand` and `score` read: how a step is sampled, and the lookahead before scoring
    (TreeConfig's fields; particle filtering's config has them too, its lookahead always 0)."""

    temperature: float
    top_p: float
    max_step_tokens: int
    step_stop: list[str]

    @property
    def lookahead(self) -> int: ...


def expand(
    session: Session, cfg: StepSettings, asks: Sequence[tuple[Node, int, int]]
) -> Generator[Generate, Any, list[list[Node]]]:
    """`n` sampled next steps of each (node, n, seed) of one problem, one request per node (its
    samples share the prefix), all yielded at once."""
    requests = [
        GenerationRequest(
            session.prompts[node.problem] + node.text,
            n,
            cfg.temperature,
            cfg.top_p,
            cfg.max_step_tokens,
            tuple(cfg.step_stop),
            seed,
        )
        for node, n, seed in asks
    ]
    return [
        [Node(node.problem, node.text + c.text, ends_solution(c)) for c in completions]
        for (node, _, _), completions in zip(asks, (yield from whole_steps(requests)), strict=True)
    ]


def greedy_steps(
    session: Session, cfg: StepSettings, p: int, texts: Sequence[str]
) -> Generator[Generate, Any, list[Completion]]:
    """The greedy (T=0) next step after each of problem p's texts, requested for the texts not
    continued before in the session (a greedy step depends on its prefix only)."""
    todo = list(dict.fromkeys(text for text in texts if (p, text) not in session.greedy))
    requests = [
        GenerationRequest(session.prompts[p] + text, 1, 0.0, 1.0, cfg.max_step_tokens, tuple(cfg.step_stop))
        for text in todo
    ]
    for text, completions in zip(todo, (yield from whole_steps(requests)), strict=True):
        session.greedy[p, text] = completions[0]
    return [session.greedy[p, text] for text in texts]


def score(session: Session, cfg: StepSettings, nodes: Sequence[Node]) -> Generator[Generate | Score, Any, None]:
    """Set the score of every node (of one problem), after a greedy rollout of `cfg.lookahead`
    steps for the unfinished ones; all nodes in one verifier call (with other problems')."""
    texts = [node.text for node in nodes]
    live = [i for i, node in enumerate(nodes) if not node.finished]
    for _ in range(cfg.lookahead):
        if not live:
            break
        steps = yield from greedy_steps(session, cfg, nodes[0].problem, [texts[i] for i in live])
        for i, step in zip(live, steps):
            texts[i] += step.text
        live = [i for i, step in zip(live, steps) if not ends_solution(step)]
    for node, value in zip(nodes, session.aggregated((yield Score(texts))), strict=True):
        node.score = value
