"""What a strategy is to its callers: a record of the function that runs it, its config class, and
the capabilities callers branch on instead of its name (ttc/strategies.py registers them all).

- `run(problems, lm, prm, cfg)` -> one `SearchResult` per problem, in order (`Strategy.__call__`
  runs it and checks that).
- `name`: the config class's `STRATEGY`, the name its results record.
- `sweep` (`poolable`): an estimator from best-of-N pools, `sweep(pools, ns, cfg, policy_parameters,
  prm_parameters)`; `ttc eval` draws one pool per sampling settings and estimates every N from it.
- `extend`: continues pools already drawn, `extend(problems, pools, cfg, budget, lm, prm)`: the
  probe of `ttc solve` (ttc/policy/planner.py) joins its runs.
- `models`: the roles of the models it runs on, (policy LM, verifier): `SEARCH` or `REVISION`
  (the roles of ttc/policy/__init__.py: `ttc solve` and compute-optimal's provenance read them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from data.records import Problem
from ttc.lm import LM
from ttc.search.config import SearchConfig
from ttc.search.result import SearchResult
from ttc.verifiers import Verifier

Roles = tuple[str, str]  # (the policy LM's role, the verifier's role)
SEARCH: Roles = ("lm", "prm")
REVISION: Roles = ("reviser", "orm")


@dataclass(frozen=True)
class Strategy:
    run: Callable[[Sequence[Problem], LM, Verifier, Any], list[SearchResult]]
    config: type[SearchConfig]
    sweep: Callable[..., list[SearchResult]] | None = None  # poolable: `ttc eval` estimates it from a shared pool
    extend: Callable[..., list[SearchResult]] | None = None  # continues drawn pools: `ttc solve`'s probe joins it
    models: Roles = SEARCH

    @property
    def name(self) -> str:
        return self.config.STRATEGY

    @property
    def poolable(self) -> bool:
        return self.sweep is not None

    def __call__(self, problems: Sequence[Problem], lm: LM, prm: Verifier, cfg: SearchConfig) -> list[SearchResult]:
        """Run it; its results checked to be one per problem, in order."""
        return self.checked(problems, self.run(problems, lm, prm, cfg))

    def checked(self, problems: Sequence[Problem], results: list[SearchResult]) -> list[SearchResult]:
        got, expected = [r.problem_id for r in results], [p.id for p in problems]
        if got != expected:
            raise ValueError(
                f"strategy {self.name}: results for {got!r:.120}, expected one per problem in order: {expected!r:.120}"
            )
        return results
