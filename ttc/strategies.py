"""The one registry of strategies: name -> `Strategy` (ttc/search/strategy.py), one line each.
`ttc eval` runs them, a policy picks them, `ttc solve` runs them, every caller by its declared
capabilities; a new strategy is its module and one line here."""

from __future__ import annotations

from ttc.revise import RevisionConfig, revision
from ttc.search import (
    REVISION,
    AdaptiveConfig,
    BeamConfig,
    BestOfNConfig,
    DVTSConfig,
    ParticleConfig,
    Strategy,
    adaptive,
    beam_search,
    best_of_n,
    dvts,
    extend_pools,
    particle_filtering,
    sweep,
    sweep_adaptive,
)

STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy(best_of_n, BestOfNConfig, sweep=sweep, extend=extend_pools),
        Strategy(adaptive, AdaptiveConfig, sweep=sweep_adaptive),  # adaptive self-consistency
        Strategy(beam_search, BeamConfig),  # lookahead search: beam with `lookahead: k`
        Strategy(dvts, DVTSConfig),
        Strategy(particle_filtering, ParticleConfig),  # particle filtering (Puri et al. 2025)
        Strategy(revision, RevisionConfig, models=REVISION),  # on the reviser and its ORM
    )
}
