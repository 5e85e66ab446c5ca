"""Diverse verifier tree search (DVTS; search-and-learn's, not in the paper).

N beams and width M make N/M independent subtrees per problem. Every round each live subtree
samples M next steps from its node (one request of n=M; in the first round from the prompt),
scores them with the PRM (with lookahead, as beam search) and keeps its best (ties to the
earlier). If the best is finished the subtree ends, and its finals are the finished ones among
those M siblings; otherwise the best is expanded next round. With `dedupe` (the default;
ttc/search/tree.py) a subtree first drops the siblings that copy an earlier sibling, or a final
or node kept before by any subtree of its problem (subtrees in order): across subtrees, since
their finals meet in one vote and DVTS is meant to diversify. A subtree whose siblings are all
copies goes on from the best of them rather than end (its next samples differ: its own seed),
so no subtree's budget is lost; a copy is never a final twice. A subtree still unfinished after
`max_rounds` contributes nothing: unfinished candidates are never returned as answers
(search-and-learn returns them, #57). The answer is selected over all subtrees' finals
(best-of-N weighted by default). Same batching and seeding as beam search: one LM call and one
verifier call a round for all problems and subtrees; subtree t's request in round r of problem
q is seeded by (seed, q, r, t).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tqdm.auto import tqdm

from data.records import Problem
from data.shards import derive_seed
from ttc.lm import LM
from ttc.search.common import SearchResult, Session
from ttc.search.tree import Node, TreeConfig, distinct, expand, score
from ttc.verifiers import Verifier


@dataclass
class DVTSConfig(TreeConfig):
    """N beams, beam width M, lookahead k: ttc/search/tree.py."""


def dvts(problems: Sequence[Problem], lm: LM, prm: Verifier, cfg: DVTSConfig) -> list[SearchResult]:
    session = Session(problems, lm, prm, cfg)
    m = cfg.width
    finals: list[list[Node]] = [[] for _ in problems]
    taken: list[set[str]] = [set() for _ in problems]  # texts of the finals and nodes kept so far
    live = [(t, Node(p)) for p in range(len(problems)) for t in range(cfg.n // m)]  # (subtree, node)
    for round in tqdm(range(cfg.max_rounds), desc="DVTS rounds", leave=False, disable=len(problems) < 8):
        if not live:
            break
        asks = [(node, m, derive_seed(cfg.seed, problems[node.problem].id, round, t)) for t, node in live]
        children = expand(session, cfg, asks)
        score(session, cfg, [c for cs in children for c in cs])
        survivors = []
        for (t, node), siblings in zip(live, children):
            fresh = distinct(siblings, taken[node.problem]) if cfg.dedupe else siblings
            best = max(fresh or siblings, key=lambda c: c.score)  # all copies: go on from one
            if best.finished:
                kept = [c for c in fresh if c.finished]
                finals[node.problem] += kept
            else:
                kept = [best]
                survivors.append((t, best))
            taken[node.problem].update(c.text for c in kept)
        live = survivors
    return [session.result(p, "dvts", [(c.text, c.score) for c in nodes])
            for p, nodes in enumerate(finals)]
