"""Particle filtering on scripted policies: resampling follows the PRM, finished particles stay
and unfinished ones never answer, determinism, the ledger, the config, and the eval grid."""

import math
from typing import cast

import pytest

from data.steps import split_steps
from eval.compute_optimal import method_spec
from eval.search import plan_line
from tests.support.fakes import Hashed, ScriptedLM, TableVerifier, problem, repetitive_policy
from tests.ttc.search.test_scheduler import Padded, Shuffled  # a streaming LM; a batch-dependent verifier
from ttc.search import ParticleConfig, particle_filtering
from ttc.search.particles import ResampleWeights, resampling_probabilities
from ttc.search.session import Session
from ttc.strategies import STRATEGIES


@pytest.fixture
def finals(monkeypatch):
    """The (text, score) candidates each search hands to its selection, in problem order."""
    seen = []
    real = Session.result

    def result(self, p, candidates):
        seen.append(list(candidates))
        return real(self, p, candidates)

    monkeypatch.setattr(Session, "result", result)
    return seen


def prefix(request) -> str:
    return request.prompt.split("Solution:\n")[1]


def branches(so_far, i, request):
    """First step "a" (even samples) or "b" (odd ones), then the answer 1 after "a", 2 after "b"."""
    if not so_far:
        return ("a\n" if i % 2 == 0 else "b\n"), "stop"
    return ("\\boxed{1}" if so_far.startswith("a") else "\\boxed{2}"), "eos"


def test_probabilities_are_a_softmax_of_logits_or_scores():
    logit = resampling_probabilities([0.9, 0.1, 0.5], ParticleConfig())
    assert logit == pytest.approx([x / (9 + 1 / 9 + 1) for x in (9, 1 / 9, 1)])  # odds s/(1-s)
    hot = resampling_probabilities([0.9, 0.1], ParticleConfig(resample_temperature=2.0))
    assert hot == pytest.approx([3 / (3 + 1 / 3), (1 / 3) / (3 + 1 / 3)])  # odds^(1/T)
    raw = resampling_probabilities([0.9, 0.1], ParticleConfig(resample_weights="score"))
    assert raw == pytest.approx([math.e**0.9 / (math.e**0.9 + math.e**0.1), math.e**0.1 / (math.e**0.9 + math.e**0.1)])
    certain = resampling_probabilities([0.0, 1.0], ParticleConfig())  # clipped: finite, not a crash
    assert certain[1] > 0.999999 and certain[0] > 0


@pytest.mark.parametrize(
    "table, winner, answer", [({"a": 0.9, "b": 0.1}, "a\n", "1"), ({"a": 0.1, "b": 0.9}, "b\n", "2")]
)
def test_resampling_concentrates_on_the_high_scoring_branch(finals, table, winner, answer):
    lm = ScriptedLM(branches)
    [result] = particle_filtering([problem(0, "1")], lm, TableVerifier(table), ParticleConfig(n=16, seed=3))
    first, second = lm.calls
    assert [(prefix(r), r.n) for r in first] == [("", 16)]  # all particles start at the prompt
    kept = {prefix(r): r.n for r in second}  # one request per prefix, n = its particles
    assert sum(kept.values()) == 16 and kept[winner] >= 14  # half the samples, ~81:1 odds after resampling
    [texts] = [[text for text, _ in f] for f in finals]
    assert len(texts) == 16 and sum(t.startswith(winner) for t in texts) >= 14
    assert result.answer == answer and result.candidates == 16 and cast(float, result.distinct_candidates) <= 2


def test_logit_weights_resample_more_sharply_than_raw_scores():
    def share_of_a(weights: ResampleWeights) -> int:
        kept = 0
        for seed in range(10):
            lm = ScriptedLM(branches)
            particle_filtering(
                [problem()],
                lm,
                TableVerifier({"a": 0.9, "b": 0.1}),
                ParticleConfig(n=16, seed=seed, resample_weights=weights),
            )
            kept += sum(r.n for r in lm.calls[1] if prefix(r) == "a\n")
        return kept

    assert share_of_a("logit") > 150 > share_of_a("score")  # 160 * 81/82 vs 160 * 0.69 expected


def early_answer(so_far, i, request):
    """At the prompt sample 0 answers 7 at once, the others write "s"; after "s", the answer i."""
    if not so_far:
        return ("\\boxed{7}", "eos") if i == 0 else ("s\n", "stop")
    return f"\\boxed{{{i}}}", "eos"


def test_finished_particles_stay_with_their_score_and_are_not_extended(finals):
    lm = ScriptedLM(early_answer)
    prm = TableVerifier({"\\boxed{7}": 0.8, "s": 0.5})  # odds 4:1 for the early answer
    [result] = particle_filtering([problem(0, "7")], lm, prm, ParticleConfig(n=8, seed=1))
    first, second = lm.calls  # round 2 finishes every particle still going
    assert [(prefix(r), r.n) for r in first] == [("", 8)]
    [(step, drawn)] = [(prefix(r), r.n) for r in second]
    assert step == "s\n" and drawn < 8  # the resampled copies of the answer 7 draw nothing
    [candidates] = finals
    assert len(candidates) == 8 and all(split_steps(text)[-1].startswith("\\boxed") for text, _ in candidates)
    sevens = [score for text, score in candidates if text == "\\boxed{7}"]
    assert len(sevens) >= 4 and set(sevens) == {0.8}  # copies of the early answer keep its score
    assert result.answer == "7" and result.candidates == 8


def test_unfinished_particles_never_answer(finals):
    lm = ScriptedLM(lambda so_far, i, r: (f"s{i}\n", "stop"))
    [result] = particle_filtering([problem()], lm, TableVerifier(), ParticleConfig(n=4, max_rounds=3))
    assert len(lm.calls) == 3 and result.answer is None and result.candidates == 0 and finals == [[]]

    # "loop" scores high and never ends: what the search returns is only the particles that did
    def loop_or_answer(so_far, i, request):
        return ("loop\n", "stop") if so_far.startswith("loop") or (not so_far and i % 2) else ("\\boxed{1}", "eos")

    [result] = particle_filtering(
        [problem()], ScriptedLM(loop_or_answer), TableVerifier({"loop": 0.6}), ParticleConfig(n=8, max_rounds=3, seed=2)
    )
    assert all(text == "\\boxed{1}" for text, _ in finals[-1]) and 0 < result.candidates == len(finals[-1]) < 8


def test_deterministic_given_the_seed_and_independent_of_the_batch():
    problems = [problem(i) for i in range(3)]

    def run(seed: int, batch=problems):
        lm = ScriptedLM(repetitive_policy(steps=3, p_step=0.7))
        results = particle_filtering(batch, lm, Hashed(), ParticleConfig(n=8, seed=seed))
        return results, [[(r.prompt, r.n, r.seed) for r in call] for call in lm.calls]

    (first, calls), (again, calls_again) = run(0), run(0)
    assert first == again and calls == calls_again
    assert run(1)[1] != calls  # another seed, other draws
    [alone], _ = run(0, problems[1:2])
    assert (alone.solution, alone.answer, alone.candidates) == (first[1].solution, first[1].answer, first[1].candidates)


@pytest.mark.parametrize("verifier", [Hashed, Padded])
def test_on_a_streaming_lm_any_finishing_order_gives_the_lock_step_results(verifier):
    policy, problems, cfg = repetitive_policy(steps=4, p_step=0.7), [problem(i) for i in range(6)], ParticleConfig(n=8)
    lock_step = particle_filtering(problems, ScriptedLM(policy), verifier(), cfg)
    for seed in range(3):
        assert particle_filtering(problems, Shuffled(policy, seed), verifier(), cfg) == lock_step


def test_one_call_a_round_for_all_problems_generations_n_and_costs_booked():
    lm, prm = ScriptedLM(branches), TableVerifier({"a": 0.9, "b": 0.1})
    results = particle_filtering([problem(i) for i in range(3)], lm, prm, ParticleConfig(n=4, seed=5))
    assert len(lm.calls) == 2 and len(lm.calls[0]) == 3 and len(prm.calls) == 2  # batched across problems
    assert all((r.strategy, r.generations, r.budget) == ("particles", 4, 4) for r in results)
    assert results[0].params["resample_temperature"] == 1.0 and "lookahead" not in results[0].params
    assert sum(r.prompt_tokens for r in results) == lm.ledger.prompt_tokens
    assert sum(r.generated_tokens for r in results) == lm.ledger.generated_tokens
    assert sum(cast(int, r.prm_tokens) for r in results) == prm.tokens_scored
    for r in results:
        assert r.flops_policy == 2 * 10 * (r.prompt_tokens + r.generated_tokens)  # ScriptedLM: 10 parameters
        assert r.flops_prm == 2 * 3 * cast(int, r.prm_tokens)  # TableVerifier: 3
    scored = [item for call in prm.calls for item in call]
    assert len(scored) == len(set(scored))  # a prefix held by several particles is scored once


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(resample_temperature=0.0), "resample_temperature"),
        (dict(resample_temperature=-1.0), "resample_temperature"),
        (dict(resample_temperature=math.inf), "resample_temperature"),
        (dict(resample_weights="probability"), "resample_weights"),
        (dict(max_rounds=0), "max_rounds"),
        (dict(max_step_tokens=0), "max_step_tokens"),
        (dict(step_stop=[]), "step_stop"),
        (dict(step_stop=[""]), "step_stop"),
        (dict(n=0), "n must be"),
        (dict(selection="best"), "selection"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ParticleConfig(**kwargs)


def test_registered_with_its_settings_as_the_method():
    assert STRATEGIES["particles"].run is particle_filtering and STRATEGIES["particles"].config is ParticleConfig
    assert ParticleConfig(n=16).generations == 16  # N particles, N rollouts
    assert set(ParticleConfig.method_fields()) == {
        "temperature",
        "top_p",
        "aggregation",
        "selection",
        "max_rounds",
        "max_step_tokens",
        "step_stop",
        "resample_temperature",
        "resample_weights",
    }
    record = {"strategy": "particles", "params": {**ParticleConfig(n=8, seed=4).params()}}
    spec = method_spec(record)  # compute-optimal's method: no n, no seed
    assert spec["strategy"] == "particles" and "n" not in spec and "seed" not in spec
    assert spec["resample_weights"] == "logit"


def test_runs_from_the_eval_grid_at_every_n():
    line = plan_line(
        "Particle filtering", {"strategy": "particles", "max_step_tokens": 32, "resample_temperature": 1}, 4
    )  # an int widens to a float
    assert line.budgets == [1, 2, 4] and not line.skipped
    for n in line.budgets:
        cfg = line.config(n, 0, ParticleConfig().prompt)
        assert isinstance(cfg, ParticleConfig) and cfg.max_step_tokens == 32 and cfg.resample_temperature == 1.0
        results = STRATEGIES[line.strategy].run(
            [problem(0, "1"), problem(1, "1")], ScriptedLM(branches), TableVerifier({"a": 0.9, "b": 0.1}), cfg
        )
        assert all(r.generations == n and 1 <= r.candidates <= n and r.answer in ("1", "2") for r in results)
    with pytest.raises(ValueError, match="unknown key 'beam_width'"):
        plan_line("PF", {"strategy": "particles", "beam_width": 2}, 4)
