"""`ttc solve`: the deployable compute-optimal policy. New questions and a budget of N
generations in; one answer per question out, with N counted honestly.

    ttc solve --config configs/toy/solve.yaml --budget 16
    ttc solve --config configs/toy/solve.yaml --budget 64 --data.split heldout --probe.n 4

`policy` is eval/compute_optimal.py's `policy_predicted.json` (ttc/policy/__init__.py): the method per
predicted difficulty bin and budget, the edges of those bins and how the probe samples. The
first `probe.n` samples of each question estimate its bin and count in N; the rest of N goes to
the policy's method for that bin (ttc/policy/planner.py). Each strategy runs on the models of the roles
it declares (`Strategy.models`): search on `lm` and `prm`, revision on `reviser` and `orm`
(loaded only when a plan needs them).

The policy must have been fit with the models the config names (`Policy.check_models`: lm,
prm, and reviser and orm where set): another PRM or LM is refused before any model loads; a
policy that does not record its models (version 1) runs with a warning.

Writes `<output_dir>/solve_N<budget>.jsonl`: one `SolveResult` per question, whose ledger
(generations, tokens, FLOPs) includes the probe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from data.config import ConfigError, save_config
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import to_json, write_atomic
from ttc.lm import LM
from ttc.lm.spec import LMConfig, load_lm
from ttc.policy import Policy
from ttc.policy.planner import SolveResult, draw_probes, solve
from ttc.search import SEARCH, Roles
from ttc.stages.spec import StageSpec
from ttc.verifiers import Verifier
from ttc.verifiers.spec import VerifierConfig, load_verifier

log = logging.getLogger(__name__)


@dataclass
class ProbeConfig:
    """The first samples of every question, counted in the budget; they sample as the policy's
    `probe` says, since they join its best-of-N runs' pools."""

    n: int = 2

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"probe.n must be >= 1, got {self.n}")


@dataclass
class Setup:
    """The models, the policy and the questions (what `ttc solve` and its evaluation share)."""

    output_dir: str
    lm: LMConfig
    prm: VerifierConfig
    policy: str  # policy_predicted.json of eval/compute_optimal.py
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    data: DataConfig = field(default_factory=DataConfig)  # the new questions
    prompt: PromptFormat = field(default_factory=PromptFormat)
    seed: int = 0
    reviser: LMConfig | None = None  # for a policy that picks revisions
    orm: VerifierConfig | None = None


@dataclass
class SolveConfig(Setup):
    budget: int = 16  # N generations per question, the probe's included

    def __post_init__(self) -> None:
        if self.budget < self.probe.n:
            raise ValueError(f"budget {self.budget} is below probe.n={self.probe.n}: the probe alone is over budget")


def load_policy(path: str, setup: Setup | None = None) -> Policy:
    """The policy, checked to be one a probe can run: fit on predicted bins, budgets in
    generations, and (given the `setup`) with the models it names."""
    policy = Policy.load(path)
    if policy.kind != "predicted":
        raise ConfigError(
            f"{path}: kind: solve needs a policy fit on predicted bins, got {policy.kind!r} "
            "(an oracle bin needs the answer)"
        )
    if policy.budget_field != "generations":
        raise ConfigError(f"{path}: budget_field: solve counts generations, got {policy.budget_field!r}")
    if setup is not None:
        policy.check_models(named_models(setup), path)
    return policy


def named_models(setup: Setup) -> dict[str, str | None]:
    """Role -> the model the config names in it (ttc/policy/__init__.py ROLES), None where it names none."""
    return {
        "lm": setup.lm.model,
        "prm": setup.prm.path,
        "reviser": setup.reviser and setup.reviser.model,
        "orm": setup.orm and setup.orm.path,
    }


def role_configs(setup: Setup) -> dict[str, LMConfig | VerifierConfig | None]:
    """Role -> the config of the model the setup names in it (the roles of ttc/policy/__init__.py ROLES)."""
    return {"lm": setup.lm, "prm": setup.prm, "reviser": setup.reviser, "orm": setup.orm}


class ModelCache:
    """The models a solve needs, by a strategy's roles (ttc/search/strategy.py): `lm` and `prm`
    (loaded now) for search; others (the reviser and its ORM) on first use. A context manager
    that closes them all."""

    def __init__(self, cfg: Setup):
        self.cfg = cfg
        self.loaded: dict[Roles, tuple[LM, Verifier]] = {SEARCH: (load_lm(cfg.lm), load_verifier(cfg.prm, cfg.prompt))}

    def __call__(self, roles: Roles) -> tuple[LM, Verifier]:
        if roles not in self.loaded:
            lm, verifier = (role_configs(self.cfg)[role] for role in roles)
            if not isinstance(lm, LMConfig) or not isinstance(verifier, VerifierConfig):
                raise ValueError(
                    f"the policy picks a strategy that runs on {' and '.join(roles)} for some "
                    f"questions: set `{roles[0]}` and `{roles[1]}`"
                )
            self.loaded[roles] = load_lm(lm), load_verifier(verifier, self.cfg.prompt)
        return self.loaded[roles]

    def __enter__(self) -> "ModelCache":
        return self

    def __exit__(self, *_: object) -> None:
        for lm, verifier in self.loaded.values():
            verifier.close()
            lm.close()


def main(cfg: SolveConfig) -> Path:
    out = Path(cfg.output_dir)
    policy = load_policy(cfg.policy, cfg)
    problems = load_problems(cfg.data)
    save_config(cfg, out / "solve_config.yaml")  # once the inputs are read and checked
    with ModelCache(cfg) as models:
        lm, prm = models(SEARCH)  # the probe is a best-of-N draw
        probes = draw_probes(problems, lm, prm, policy, cfg.probe.n, cfg.seed, cfg.prompt)
        results = solve(problems, probes, policy, cfg.budget, cfg.seed, cfg.prompt, models)
    path = out / f"solve_N{cfg.budget}.jsonl"
    write_atomic(path, [to_json(r) for r in results])
    graded = [r.correct for r in results if r.correct is not None]
    log.info(
        "%d question(s) at N=%d: %s; accuracy %s",
        len(results),
        cfg.budget,
        summary(results),
        f"{np.mean(graded):.3f}" if graded else "n/a (no gold answers)",
    )
    return path


def summary(results: Sequence[SolveResult]) -> str:
    """How many questions each method got."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.method] = counts.get(r.method, 0) + 1
    return ", ".join(f"{m}: {c}" for m, c in sorted(counts.items()))


STAGE = StageSpec(config=SolveConfig, main=main)
