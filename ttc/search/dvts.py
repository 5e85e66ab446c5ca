"""Diverse verifier tree search (DVTS; search-and-learn's, not in the paper).

N beams and width M make N/M independent subtrees per problem. Every round each live subtree
samples M next steps from its node (one request of n=M; in the first round from the prompt),
scores them with the PRM (with lookahead, as beam search) and keeps its best (ties to the
earlier). If the best is finished the subtree ends, and its finals are the finished ones among
those M siblings; otherwise the best is expanded next round. A subtree still unfinished after
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
from ttc.search.tree import Node, TreeConfig, expand, score
from ttc.verifiers import Verifier


@dataclass
class DVTSConfig(TreeConfig):
    """N beams, beam width M, lookahead k: ttc/search/tree.py."""


def dvts(problems: Sequence[Problem], lm: LM, prm: Verifier, cfg: DVTSConfig) -> list[SearchResult]:
    session = Session(problems, lm, prm, cfg)
    m = cfg.width
    finals: list[list[Node]] = [[] for _ in problems]
    live = [(t, Node(p)) for p in range(len(problems)) for t in range(cfg.n // m)]  # (subtree, node)
    for round in tqdm(range(cfg.max_rounds), desc="DVTS rounds", leave=False, disable=len(problems) < 8):
        if not live:
            break
        asks = [(node, m, derive_seed(cfg.seed, problems[node.problem].id, round, t)) for t, node in live]
        children = expand(session, cfg, asks)
        score(session, cfg, [c for cs in children for c in cs])
        survivors = []
        for (t, _), siblings in zip(live, children):
            best = max(siblings, key=lambda c: c.score)
            if best.finished:
                finals[best.problem] += [c for c in siblings if c.finished]
            else:
                survivors.append((t, best))
        live = survivors
    return [session.result(p, "dvts", [(c.text, c.score) for c in nodes])
            for p, nodes in enumerate(finals)]
