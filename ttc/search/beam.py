"""Beam search against a PRM (the paper's Section 5.2), with optional lookahead.

With N beams and beam width M, for each problem:
1. sample N first steps (one request of n=N: they share the prompt);
2. score every new candidate with the PRM (its aggregate, "last" = the prefix's last-step
   value; after a greedy rollout of k steps with lookahead k; see ttc/search/tree.py);
3. with `dedupe` (off by default; ttc/search/tree.py), drop the copies of an earlier candidate
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

Each problem searches on its own (ttc/search/scheduler.py): a round is one batch of LM requests
(one per kept beam; with lookahead one more per rollout depth), then the scoring of the
candidates whose steps were never scored, in a verifier call shared with the problems ready at
the same point. On a streaming LM its next round starts once they are scored, whatever the other
problems' rounds; in lock-step every problem's round is one LM call and one verifier call. The
request of kept beam b in round r of problem q is seeded by (seed, q, r, b): a problem's search
does not depend on the batch it ran in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from data.records import Problem
from data.shards import derive_seed
from ttc.lm import LM
from ttc.search.result import SearchResult
from ttc.search.scheduler import Search, drive
from ttc.search.session import Session, apportion
from ttc.search.tree import Node, TreeConfig, distinct, expand, score
from ttc.verifiers import Verifier


@dataclass
class BeamConfig(TreeConfig):
    """N beams, beam width M, lookahead k: ttc/search/tree.py."""

    STRATEGY = "beam"  # lookahead search: beam with `lookahead: k`


def beam_search(problems: Sequence[Problem], lm: LM, prm: Verifier, cfg: BeamConfig) -> list[SearchResult]:
    session = Session(problems, lm, prm, cfg)
    return drive(session, [_search(session, cfg, p) for p in range(len(problems))], "beam search")


def _search(session: Session, cfg: BeamConfig, p: int) -> Search:
    """Problem p's beam search."""
    n, m, problem_id = cfg.n, cfg.width, session.problems[p].id
    finals: list[Node] = []
    asks = [(Node(p), n, derive_seed(cfg.seed, problem_id, 0, 0))]
    for round in range(cfg.max_rounds):
        if not asks:
            break
        candidates = [c for cs in (yield from expand(session, cfg, asks)) for c in cs]
        yield from score(session, cfg, candidates)
        if cfg.dedupe:
            candidates = distinct(candidates, {c.text for c in finals})
        finals += [c for c in candidates if c.finished]
        if len(finals) >= n:
            break
        kept = sorted((c for c in candidates if not c.finished), key=lambda c: -c.score)[: n // m]
        draws = apportion(n, [1] * len(kept)) if cfg.dedupe else [m] * len(kept)
        asks = [(c, d, derive_seed(cfg.seed, problem_id, round + 1, b)) for b, (c, d) in enumerate(zip(kept, draws))]
    best = sorted(finals, key=lambda c: -c.score)[:n]
    return session.result(p, [(c.text, c.score) for c in best])
