"""Diverse verifier tree search (DVTS; search-and-learn's, not in the paper).

N beams and width M make N/M independent subtrees per problem. Every round each live subtree
samples M next steps from its node (one request of n=M; in the first round from the prompt),
scores them with the PRM (with lookahead, as beam search) and keeps its best (ties to the
earlier). If the best is finished the subtree ends, and its finals are the finished ones among
those M siblings; otherwise the best is expanded next round. With `dedupe` (off by default;
ttc/search/tree.py) a subtree first drops the siblings that copy an earlier sibling, or a final
or node kept before by any subtree of its problem (subtrees in order): across subtrees, since
their finals meet in one vote and DVTS is meant to diversify. A subtree whose siblings are all
copies goes on from the best of them rather than end (its next samples differ: its own seed),
so no subtree's budget is lost; a copy is never a final twice. A subtree still unfinished after
`max_rounds` contributes nothing: unfinished candidates are never returned as answers
(search-and-learn returns them, #57). The answer is selected over all subtrees' finals
(best-of-N weighted by default). Scheduled and seeded as beam search: a problem's subtrees
advance together, one batch of LM requests and one scoring a round, and its next round starts
once they are scored, whatever the other problems' rounds; subtree t's request in round r of
problem q is seeded by (seed, q, r, t).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from data.records import Problem
from data.shards import derive_seed
from ttc.lm import LM
from ttc.search.result import SearchResult
from ttc.search.scheduler import Search, drive
from ttc.search.session import Session
from ttc.search.tree import Node, TreeConfig, distinct, expand, score
from ttc.verifiers import Verifier


@dataclass
class DVTSConfig(TreeConfig):
    """N beams, beam width M, lookahead k: ttc/search/tree.py."""

    STRATEGY = "dvts"


def dvts(problems: Sequence[Problem], lm: LM, prm: Verifier, cfg: DVTSConfig) -> list[SearchResult]:
    session = Session(problems, lm, prm, cfg)
    return drive(session, [_search(session, cfg, p) for p in range(len(problems))], "DVTS")


def _search(session: Session, cfg: DVTSConfig, p: int) -> Search:
    """Problem p's N/M subtrees."""
    m, problem_id = cfg.width, session.problems[p].id
    finals: list[Node] = []
    taken: set[str] = set()  # texts of the finals and nodes kept so far
    live = [(t, Node(p)) for t in range(cfg.n // m)]  # (subtree, node)
    for round in range(cfg.max_rounds):
        if not live:
            break
        asks = [(node, m, derive_seed(cfg.seed, problem_id, round, t)) for t, node in live]
        children = yield from expand(session, cfg, asks)
        yield from score(session, cfg, [c for cs in children for c in cs])
        survivors = []
        for (t, node), siblings in zip(live, children):
            fresh = distinct(siblings, taken) if cfg.dedupe else siblings
            best = max(fresh or siblings, key=lambda c: c.score)  # all copies: go on from one
            if best.finished:
                kept = [c for c in fresh if c.finished]
                finals += kept
            else:
                kept = [best]
                survivors.append((t, best))
            taken.update(c.text for c in kept)
        live = survivors
    return session.result(p, [(c.text, c.score) for c in finals])
