"""Search against a verifier: best-of-N, beam search (with lookahead) and DVTS.

Every strategy is one function with one signature, `run(problems, lm, prm, cfg)` -> one
`SearchResult` per problem, over the `LM` and `Verifier` protocols only, batched across the
problems; its config is a typed dataclass validated on construction. `STRATEGIES` maps the name
a result records to the function and its config class, and, for a strategy that can be
estimated from a best-of-N pool (`ttc eval` draws one per sampling settings), its estimator
`sweep(pools, ns, cfg, policy_parameters, prm_parameters)` (best-of-N's, adaptive's).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

from data.records import Problem
from ttc.lm import LM
from ttc.search.adaptive import AdaptiveConfig, adaptive, sweep_adaptive
from ttc.search.beam import BeamConfig, beam_search
from ttc.search.best_of_n import BestOfNConfig, Pool, accuracy, best_of_n, sample_pools, sweep
from ttc.search.common import SearchConfig, SearchResult, select
from ttc.search.dvts import DVTSConfig, dvts
from ttc.search.particles import ParticleConfig, particle_filtering
from ttc.verifiers import Verifier


class Strategy(NamedTuple):
    run: Callable[[Sequence[Problem], LM, Verifier, SearchConfig], list[SearchResult]]
    config: type[SearchConfig]
    sweep: Callable[..., list[SearchResult]] | None = None  # the pool estimator, if it has one


STRATEGIES: dict[str, Strategy] = {
    "best_of_n": Strategy(best_of_n, BestOfNConfig, sweep),
    "adaptive": Strategy(adaptive, AdaptiveConfig, sweep_adaptive),  # adaptive self-consistency
    "beam": Strategy(beam_search, BeamConfig),  # lookahead search: beam with `lookahead: k`
    "dvts": Strategy(dvts, DVTSConfig),
    "particles": Strategy(particle_filtering, ParticleConfig),  # particle filtering (Puri et al. 2025)
}

__all__ = [
    "STRATEGIES", "Strategy", "SearchConfig", "SearchResult", "select",
    "BestOfNConfig", "Pool", "accuracy", "best_of_n", "sample_pools", "sweep",
    "AdaptiveConfig", "adaptive", "sweep_adaptive",
    "BeamConfig", "beam_search", "DVTSConfig", "dvts",
    "ParticleConfig", "particle_filtering",
]
