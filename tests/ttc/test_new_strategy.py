"""The goal of strategies that declare what they are: a new search strategy is one module plus one
registry line, with no other edit anywhere. The module is `first_answer` below (its config class,
whose STRATEGY is its name, and its run function); the registry line is one
`monkeypatch.setitem(STRATEGIES, ...)`. Then `ttc eval` runs it in its grid (scripted LM, table
verifier), compute-optimal fits it and picks it, and `ttc solve` runs it where its policy does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence, cast

from data.bins import Bins
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem
from eval import compute_optimal, search
from eval.search_report import TABLE
from tests.support.fakes import ScriptedLM, TableVerifier
from tests.support.runs import REPO
from ttc.lm import LM
from ttc.lm.spec import LMConfig
from ttc.pipeline import report
from ttc.policy import Policy, planner
from ttc.search import BestOfNConfig, SearchResult, Strategy, sample_pools
from ttc.search.result import Costs, make_result
from ttc.strategies import STRATEGIES
from ttc.verifiers import Verifier
from ttc.verifiers.spec import VerifierConfig


# --- the new strategy's module ----------------------------------------------------------------
@dataclass
class FirstAnswerConfig(BestOfNConfig):
    STRATEGY = "first_answer"


def first_answer(problems: Sequence[Problem], lm: LM, prm: Verifier, cfg: FirstAnswerConfig) -> list[SearchResult]:
    """N samples; the first with an answer wins (the verifier only keeps the books)."""
    results = []
    for problem, pool in zip(problems, sample_pools(problems, lm, prm, cfg)):
        chosen = next((s for s in pool.samples if s.answer is not None), None)
        results.append(
            make_result(
                problem.id,
                cfg.STRATEGY,
                cfg.params(),
                cfg,
                chosen and chosen.answer,
                float(bool(chosen and chosen.correct)),
                chosen and chosen.text,
                len(pool.samples),
                cfg.generations,
                cast(Costs, pool.costs),  # sample_pools counts every pool's
                lm.num_parameters,
                prm.num_parameters,
            )
        )
    return results


# ---------------------------------------------------------------------------------------------


DATA = DataConfig(levels=[1, 2], per_level=4, split="new-strategy")
PROBLEMS = load_problems(DATA)
ANSWERS = {p.question: p.answer for p in PROBLEMS}


def script(so_far, i, request):
    """A question's first sample is right, the others agree on a wrong answer: first_answer beats
    best-of-N at every N."""
    answer = next(a for q, a in ANSWERS.items() if q in request.prompt)
    answer = answer if i == 0 else answer + "9"
    return f"={answer}\n\\boxed{{{answer}}}", "eos"


def test_a_new_strategy_is_one_module_and_one_registry_line(tmp_path, monkeypatch):
    monkeypatch.setitem(STRATEGIES, "first_answer", Strategy(first_answer, FirstAnswerConfig))  # the one line
    monkeypatch.setattr(search, "load_verifier", lambda cfg, prompt: TableVerifier())

    # `ttc eval`: the new line beside best-of-N's, in the records and the summary
    lines = {
        "best-of-N weighted": {"strategy": "best_of_n", "max_tokens": 32},
        "best-of-N majority": {"strategy": "best_of_n", "selection": "majority", "max_tokens": 32},
        "first answer": {"strategy": "first_answer", "max_tokens": 32},
    }
    cfg = search.SearchEvalConfig(
        output_dir=str(tmp_path / "run" / "eval_search"),
        lm=LMConfig(model="scripted"),
        prm=VerifierConfig(path=str(REPO / "train/checkpoints/toy-prm")),
        strategies=lines,
        max_budget=4,
        data=DATA,
        batch_problems=8,
    )
    results = search.run(cfg, ScriptedLM(script))
    summary = (tmp_path / "run" / "eval_search" / TABLE).read_text()
    assert "| first answer | 1.000 | 1.000 | 1.000 |" in summary, summary

    # compute-optimal: fit on two bins of the new line's results, it picks the new strategy
    bins = {p.id: 1 + i // 4 for i, p in enumerate(PROBLEMS)}
    bin_files = {}
    for kind in ("oracle", "predicted"):
        bin_files[kind] = str(tmp_path / f"bins_{kind}.json")
        Bins(kind, bins, {q: 1 - b / 10 for q, b in bins.items()}, 2).save(bin_files[kind])
    out = tmp_path / "run" / "compute_optimal"
    compute_optimal.main(compute_optimal.ComputeOptimalConfig([str(results)], bin_files, str(out)))
    for analysis in compute_optimal.ComputeOptimalSummary.load(out / "compute_optimal.json").analyses:
        assert {m for fixed in analysis.fixed.values() for m in fixed} == {"first answer"}, analysis.kind
    policy = Policy.load(out / "policy_predicted.json")
    assert {e.strategy for per_bin in policy.table.values() for e in per_bin.values()} == {"first_answer"}
    models = cast("dict[str, dict[str, Any]]", policy.models)  # the policy records what it was fit with
    assert set(models) == {"lm", "prm"}  # the new line runs on the search roles

    # `ttc solve`: the probe, then the policy's pick on the rest of the budget
    lm, prm = ScriptedLM(script), TableVerifier()
    probes = planner.draw_probes(PROBLEMS, lm, prm, policy, 1, 0, PromptFormat())
    solved = planner.solve(PROBLEMS, probes, policy, 4, 0, PromptFormat(), lambda roles: (lm, prm))
    assert [(r.problem_id, r.strategy, r.correct) for r in solved] == [(p.id, "first_answer", 1.0) for p in PROBLEMS]

    # the run's report: the new line in the search part's table and in compute-optimal's choices
    text = report.write(tmp_path / "run").read_text()
    assert "| first answer | 1.000 | 1.000 | 1.000 |" in text
    assert "first answer" in text.split("## Compute-optimal scaling")[1]
