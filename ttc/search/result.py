"""A search's result record (`SearchResult`) and its ledger (`Costs`).

The ledger of a result:
- `generations`: the paper's budget: N for best-of-N, beam search and DVTS; N(k+1) with k
  steps of lookahead. PRM scoring is not part of it (the paper does not count it).
- policy tokens: generated tokens are exact (each completion's count). Prompt tokens are the
  LM ledger's count for each call (a request's prompt once for its n samples, as a
  prefix-sharing engine computes it); the protocol reports them per call, not per request, so a
  call's prompt tokens are attributed to its requests in proportion to their prompt lengths in
  characters. The results of a batch add up to the LM ledger exactly.
- PRM tokens: the tokens the verifier ran forward passes over, each solution's as the verifier
  counted it (`last_tokens`), so that a problem's count does not depend on what else its calls
  held; None (as are PRM FLOPs) when the verifier keeps no such count, never a made-up 0.
- FLOPs: 2 x parameters x tokens (`forward_flops`), policy and verifier separately (`Costs.flops`).
- `distinct_candidates`: how many distinct texts with an answer the final candidates hold (the
  rest are copies, which weigh twice in a vote); a best-of-N pool estimate holds its expectation
  over subsets of n, None where not counted (records written before it).
- `spent`: the generations actually drawn, for a strategy that may stop short of its budget
  (adaptive, ttc/search/adaptive.py): `generations` stays the budget N, what the grid and the
  compute-optimal policy index by, and `spent` <= N is what was drawn (a pool estimate: its
  expectation). None means all of them (= `generations`): every fixed strategy. The token counts
  and FLOPs are those of what was spent.

"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from ttc.lm import forward_flops
from ttc.search.config import SearchConfig


@dataclass(frozen=True)
class SearchResult:
    problem_id: str
    strategy: str
    params: dict[str, Any]
    budget: int  # N: samples or beams
    seed: int
    answer: str | None
    correct: float  # 1.0 or 0.0; a pool estimate (best_of_n.sweep) holds the expected accuracy
    solution: str | None  # the chosen candidate's text; None for pool estimates
    candidates: int  # final candidates the answer was selected from
    generations: int  # the paper's budget: N, or N(k+1) with lookahead
    prompt_tokens: int
    generated_tokens: int
    prm_tokens: int | None
    flops_policy: int
    flops_prm: int | None
    # keyword-only with a default: older records and positional constructions stay valid
    distinct_candidates: float | None = field(default=None, kw_only=True)
    spent: float | None = field(default=None, kw_only=True)  # generations drawn; None: = generations

    @property
    def costs(self) -> "Costs":
        return Costs(self.prompt_tokens, self.generated_tokens, self.prm_tokens)


class LedgerFields(TypedDict):
    """`Costs.record`: the ledger fields a result record takes as keywords."""

    prompt_tokens: int
    generated_tokens: int
    prm_tokens: int | None
    flops_policy: int
    flops_prm: int | None


@dataclass
class Costs:
    """What one problem's search spent: the ledger's tokens, from which its FLOPs follow."""

    prompt_tokens: int = 0
    generated_tokens: int = 0
    prm_tokens: int | None = 0  # None: the verifier keeps no count

    def __add__(self, other: "Costs") -> "Costs":
        prm = None if self.prm_tokens is None or other.prm_tokens is None else self.prm_tokens + other.prm_tokens
        return Costs(self.prompt_tokens + other.prompt_tokens, self.generated_tokens + other.generated_tokens, prm)

    def share(self, fraction: float) -> "Costs":
        """What `fraction` of one request's samples cost: the prompt whole (they share it), that
        fraction of the generated and PRM tokens."""
        prm = None if self.prm_tokens is None else round(self.prm_tokens * fraction)
        return Costs(self.prompt_tokens, round(self.generated_tokens * fraction), prm)

    def flops(self, policy_parameters: int, prm_parameters: int | None) -> tuple[int, int | None]:
        """(policy FLOPs, prompts included; verifier FLOPs, None when its tokens or size are unknown)."""
        prm = (
            None
            if self.prm_tokens is None or prm_parameters is None
            else forward_flops(prm_parameters, self.prm_tokens)
        )
        return forward_flops(policy_parameters, self.prompt_tokens + self.generated_tokens), prm

    def record(self, policy_parameters: int, prm_parameters: int | None) -> LedgerFields:
        """The ledger fields of a result record (`SearchResult`, ttc.policy.planner's `SolveResult`)."""
        flops_policy, flops_prm = self.flops(policy_parameters, prm_parameters)
        return {
            "prompt_tokens": self.prompt_tokens,
            "generated_tokens": self.generated_tokens,
            "prm_tokens": self.prm_tokens,
            "flops_policy": flops_policy,
            "flops_prm": flops_prm,
        }


def make_result(
    problem_id: str,
    strategy: str,
    params: dict[str, Any],
    cfg: SearchConfig,
    answer: str | None,
    correct: float,
    solution: str | None,
    candidates: int,
    generations: int,
    costs: Costs,
    policy_parameters: int,
    prm_parameters: int | None,
    distinct: float | None = None,
    spent: float | None = None,
) -> SearchResult:
    return SearchResult(
        problem_id=problem_id,
        strategy=strategy,
        params=params,
        budget=params["n"],
        seed=cfg.seed,
        answer=answer,
        correct=correct,
        solution=solution,
        candidates=candidates,
        generations=generations,
        **costs.record(policy_parameters, prm_parameters),
        distinct_candidates=distinct,
        spent=spent,
    )
