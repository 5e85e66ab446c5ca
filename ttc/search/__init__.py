"""Search against a verifier: best-of-N, beam search (with lookahead), DVTS, particle filtering
and adaptive stopping.

Every strategy is one function with one signature, `run(problems, lm, prm, cfg)` -> one
`SearchResult` per problem, over the `LM` and `Verifier` protocols only, batched across the
problems; its config is a typed dataclass validated on construction, whose `STRATEGY` is the name
its results record. A `Strategy` (ttc/search/strategy.py) declares what callers may do with it
(estimate it from a pool, continue drawn pools, which models it runs on); ttc/strategies.py
registers every strategy, the revision strategies included.
"""

from __future__ import annotations

from ttc.search.adaptive import AdaptiveConfig, adaptive, sweep_adaptive
from ttc.search.beam import BeamConfig, beam_search
from ttc.search.best_of_n import BestOfNConfig, Pool, accuracy, best_of_n, extend_pools, sample_pools, sweep
from ttc.search.config import SearchConfig
from ttc.search.dvts import DVTSConfig, dvts
from ttc.search.particles import ParticleConfig, particle_filtering
from ttc.search.result import SearchResult
from ttc.search.select import select
from ttc.search.strategy import REVISION, SEARCH, Roles, Strategy

__all__ = [
    "Strategy",
    "Roles",
    "SEARCH",
    "REVISION",
    "SearchConfig",
    "SearchResult",
    "select",
    "BestOfNConfig",
    "Pool",
    "accuracy",
    "best_of_n",
    "extend_pools",
    "sample_pools",
    "sweep",
    "AdaptiveConfig",
    "adaptive",
    "sweep_adaptive",
    "BeamConfig",
    "beam_search",
    "DVTSConfig",
    "dvts",
    "ParticleConfig",
    "particle_filtering",
]
