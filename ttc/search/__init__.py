"""Search against a verifier: best-of-N, beam search (with lookahead) and DVTS.

Every strategy is one function with one signature, `run(problems, lm, prm, cfg)` -> one
`SearchResult` per problem, over the `LM` and `Verifier` protocols only, batched across the
problems; its config is a typed dataclass validated on construction. `STRATEGIES` maps the name
a result records to the function and its config class.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

from data.records import Problem
from ttc.lm import LM
from ttc.search.beam import BeamConfig, beam_search
from ttc.search.best_of_n import BestOfNConfig, Pool, accuracy, best_of_n, sample_pools, sweep
from ttc.search.common import SearchConfig, SearchResult, select
from ttc.search.dvts import DVTSConfig, dvts
from ttc.verifiers import Verifier


class Strategy(NamedTuple):
    run: Callable[[Sequence[Problem], LM, Verifier, SearchConfig], list[SearchResult]]
    config: type[SearchConfig]


STRATEGIES: dict[str, Strategy] = {
    "best_of_n": Strategy(best_of_n, BestOfNConfig),
    "beam": Strategy(beam_search, BeamConfig),  # lookahead search: beam with `lookahead: k`
    "dvts": Strategy(dvts, DVTSConfig),
}

__all__ = [
    "STRATEGIES", "Strategy", "SearchConfig", "SearchResult", "select",
    "BestOfNConfig", "Pool", "accuracy", "best_of_n", "sample_pools", "sweep",
    "BeamConfig", "beam_search", "DVTSConfig", "dvts",
]
