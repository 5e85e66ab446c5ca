"""Particle filtering against a PRM (Puri et al. 2025, arXiv 2502.01618; Red Hat's its_hub
implements it as `ParticleFiltering`, particle Gibbs with one iteration).

The search is inference rather than optimization: the policy is the transition model, the PRM
the likelihood, and N particles approximate the posterior over solutions, so a promising prefix
is copied and a weak one dropped without beam search's hard top-k. For each problem:
1. N particles start at the prompt.
2. Every unfinished particle samples ONE next step (the step of beam search and DVTS,
   ttc/search/tree.py: `expand`, `max_step_tokens`, `step_stop`; a step that ends with EOS, is
   cut, or writes a boxed answer finishes its particle). Particles on the same prefix (copies made
   by resampling) share one request of n = their count, as beam search's siblings do; group g's
   request in round r of problem q is seeded by (seed, q, r, g), groups in particle order.
3. The PRM scores each new prefix (`score`: the config's `aggregation` of its step values,
   "last" by default; no lookahead). A finished particle keeps the score of its final text and
   is never extended again.
4. All N particles, finished ones included, are resampled: N draws, multinomial with
   replacement, with probabilities softmax(w / `resample_temperature`) over the population,
   seeded by (seed, q, r). `resample_weights` picks w:
   - "logit" (default): w = log(s / (1 - s)), the PRM's probability s mapped back to its logit,
     as its_hub does, so that a particle's odds are (s / (1 - s))^(1/T): a step the PRM finds
     0.9 likely outweighs one at 0.1 81:1 at T = 1. s is clipped to [1e-6, 1 - 1e-6] first (a
     text with no step scores 0, ttc/search/session.py);
   - "score": w = s, the raw score: at T = 1 the odds are at most e:1 for s in [0, 1], close to
     uniform; a lower temperature sharpens them.
5. Repeat from 2 until every particle is finished or after `max_rounds` rounds (40, as beam
   search). Resampling follows every round, the last one included (its_hub resamples after each
   step, before it checks whether all particles stopped), so the final population is a draw.
Particles still unfinished then have no answer and are dropped, as in beam search and DVTS.

The answer is the config's `selection` (best-of-N weighted by default) over the final
particles, copies included: a copy is a vote. That is the particle approximation itself: a
solution's share of the population estimates its posterior mass, so its copies are not
duplicates to drop but its weight (`distinct_candidates` still counts the distinct texts).
its_hub returns the final particle of the highest weight instead, `selection: naive` here.

Budget and costs: the paper counts N particles as N rollouts, so `generations` is N, as for
beam search and DVTS (PRM scoring is not counted, as the paper does not). The Session books
the policy's and the PRM's tokens and FLOPs per problem as for the other strategies; a prefix
held by several particles is scored once. Each problem searches on its own and all are batched
together (ttc/search/scheduler.py `drive`): one round is one batch of LM requests and one
scoring, shared with the problems ready at the same point.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Literal, Sequence

from data.records import Problem
from data.shards import derive_seed
from ttc.lm import LM
from ttc.search.config import SearchConfig
from ttc.search.result import SearchResult
from ttc.search.scheduler import Search, drive
from ttc.search.session import Session
from ttc.search.tree import Node, expand, score
from ttc.verifiers import Verifier

ResampleWeights = Literal["logit", "score"]
CLIP = 1e-6  # a score of 0 or 1 has an infinite logit


@dataclass
class ParticleConfig(SearchConfig):
    """N particles (`n`) and how they are extended and resampled (module docstring)."""

    STRATEGY = "particles"  # particle filtering (Puri et al. 2025)
    max_rounds: int = 40  # rounds of extension, one step each
    max_step_tokens: int = 256  # a longer step is cut and ends its particle
    step_stop: list[str] = field(default_factory=lambda: ["\n"])  # step delimiters, kept in the text
    resample_temperature: float = 1.0  # T of softmax(w / T); lower: greedier resampling
    resample_weights: ResampleWeights = "logit"  # w: the score's logit (its_hub) or the raw score

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_rounds < 1 or self.max_step_tokens < 1:
            raise ValueError("need max_rounds >= 1 and max_step_tokens >= 1")
        if not self.step_stop or not all(self.step_stop):
            raise ValueError("step_stop needs at least one non-empty delimiter")
        if not (math.isfinite(self.resample_temperature) and self.resample_temperature > 0):
            raise ValueError(f"resample_temperature must be a finite number > 0, got {self.resample_temperature}")
        if self.resample_weights not in ("logit", "score"):
            raise ValueError(f"resample_weights must be logit or score, got {self.resample_weights!r}")

    @property
    def lookahead(self) -> int:
        """The greedy rollout tree.py's `score` makes before scoring: none (the prefix is scored)."""
        return 0


def resampling_probabilities(scores: Sequence[float], cfg: ParticleConfig) -> list[float]:
    """softmax(w / T) over the particles' scores, w per `cfg.resample_weights`."""
    if cfg.resample_weights == "logit":
        clipped = [min(max(s, CLIP), 1 - CLIP) for s in scores]
        weights = [math.log(s / (1 - s)) for s in clipped]
    else:
        weights = list(scores)
    top = max(weights)  # shifted: exp never overflows
    odds = [math.exp((w - top) / cfg.resample_temperature) for w in weights]
    total = sum(odds)
    return [o / total for o in odds]


def resample(particles: Sequence[Node], cfg: ParticleConfig, seed: int) -> list[Node]:
    """len(particles) draws with replacement, by `resampling_probabilities` of their scores."""
    probabilities = resampling_probabilities([p.score for p in particles], cfg)
    return random.Random(seed).choices(particles, weights=probabilities, k=len(particles))


def particle_filtering(problems: Sequence[Problem], lm: LM, prm: Verifier, cfg: ParticleConfig) -> list[SearchResult]:
    session = Session(problems, lm, prm, cfg)
    return drive(session, [_search(session, cfg, p) for p in range(len(problems))], "particle filtering")


def _search(session: Session, cfg: ParticleConfig, p: int) -> Search:
    """Problem p's N particles."""
    problem_id = session.problems[p].id
    particles = [Node(p)] * cfg.n  # nodes are never changed once scored: copies may share one
    for round in range(cfg.max_rounds):
        groups: dict[str, list[int]] = {}  # prefix -> the unfinished particles on it, in order
        for i, node in enumerate(particles):
            if not node.finished:
                groups.setdefault(node.text, []).append(i)
        if not groups:
            break
        asks = [
            (particles[held[0]], len(held), derive_seed(cfg.seed, problem_id, round, g))
            for g, held in enumerate(groups.values())
        ]
        children = yield from expand(session, cfg, asks)
        yield from score(session, cfg, [c for cs in children for c in cs])
        extended = list(particles)
        for held, cs in zip(groups.values(), children, strict=True):
            for i, child in zip(held, cs, strict=True):
                extended[i] = child
        particles = resample(extended, cfg, derive_seed(cfg.seed, problem_id, round))
    return session.result(p, [(node.text, node.score) for node in particles if node.finished])
