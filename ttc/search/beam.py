"""Beam search against a PRM (the paper's Section 5.2), with optional lookahead.

With N beams and beam width M, for every problem of the batch at once:
1. sample N first steps (one request of n=N: they share the prompt);
2. score every new candidate with the PRM (its aggregate, "last" = the prefix's last-step
   value; after a greedy rollout of k steps with lookahead k; see ttc/search/tree.py);
3. with `dedupe` (the default; ttc/search/tree.py), drop the copies of an earlier candidate
   or a final; set the finished candidates aside as finals; keep the N/M best unfinished ones
   (ties to the earlier candidate);
4. sample M next steps of each kept one (one request of n=M each), giving N candidates; repeat
   from 2.
A problem stops once N finals are set aside, when no unfinished candidate is left, or after
`max_rounds` (40) rounds; candidates still unfinished then have no answer and are dropped. If
more than N finals were set aside, the N best-scoring are kept; they go through the final
selection (best-of-N weighted by default), so that "the N final candidates" are N or fewer.
When fewer than N/M unfinished candidates remain, all k of them are kept; nothing is duplicated
to pad the beam. Without `dedupe` they draw M each, fewer than N; with it they share the round's
N samples (N/k each, the remainder to the best), which the copies it dropped would have drawn:
on a policy that repeats itself, that is most rounds, and the budget is spent on distinct beams.

Each round is one LM call for every problem and kept beam (plus k for lookahead rollouts) and
one verifier call for the candidates whose steps were never scored. The request of kept beam b
in round r of problem q is seeded by (seed, q, r, b): a problem's search does not depend on
the batch it ran in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tqdm.auto import tqdm

from data.records import Problem
from data.shards import derive_seed
from ttc.lm import LM
from ttc.search.common import SearchResult, Session, apportion
from ttc.search.tree import Node, TreeConfig, distinct, expand, score
from ttc.verifiers import Verifier


@dataclass
class BeamConfig(TreeConfig):
    """N beams, beam width M, lookahead k: ttc/search/tree.py."""


def beam_search(problems: Sequence[Problem], lm: LM, prm: Verifier, cfg: BeamConfig) -> list[SearchResult]:
    session = Session(problems, lm, prm, cfg)
    n, m = cfg.n, cfg.width
    finals: list[list[Node]] = [[] for _ in problems]
    asks = [(Node(p), n, derive_seed(cfg.seed, problem.id, 0, 0)) for p, problem in enumerate(problems)]
    for round in tqdm(range(cfg.max_rounds), desc="beam search rounds", leave=False, disable=len(problems) < 8):
        if not asks:
            break
        children = expand(session, cfg, asks)
        score(session, cfg, [c for cs in children for c in cs])
        by_problem: dict[int, list[Node]] = {}
        for cs in children:
            by_problem.setdefault(cs[0].problem, []).extend(cs)
        asks = []
        for p, candidates in by_problem.items():
            if cfg.dedupe:
                candidates = distinct(candidates, {c.text for c in finals[p]})
            finals[p] += [c for c in candidates if c.finished]
            if len(finals[p]) >= n:
                continue
            unfinished = [c for c in candidates if not c.finished]
            kept = sorted(unfinished, key=lambda c: -c.score)[: n // m]
            draws = apportion(n, [1] * len(kept)) if cfg.dedupe else [m] * len(kept)
            asks += [(c, d, derive_seed(cfg.seed, problems[p].id, round + 1, b))
                     for b, (c, d) in enumerate(zip(kept, draws))]
    results = []
    for p, nodes in enumerate(finals):
        best = sorted(nodes, key=lambda c: -c.score)[:n]
        results.append(session.result(p, "beam", [(c.text, c.score) for c in best]))
    return results
