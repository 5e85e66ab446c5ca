"""eval/policy: accuracy curves of `ttc solve` and best-of-N weighted, the efficiency ratio (the
definition and function of eval/compute_optimal), and the report section from saved records."""

from data.records import to_json, write_atomic
from eval import policy as P
from eval.paired import Ratio
from ttc.policy.planner import SolveResult
from ttc.search import SearchResult


def solved(pid: str, budget: int, correct: float, method: str = "beam(...)", generations: int | None = None):
    spent = budget if generations is None else generations
    return SolveResult(
        pid, budget, 0, 2, 0.5, 1, method, "beam", {}, "1", correct, None, 1, spent, budget - spent, 1, 1, 1, 1, 1
    )


def bon(pid: str, n: int, correct: float):
    return SearchResult(pid, "best_of_n", {"n": n}, n, 0, None, correct, None, n, n, 1, 1, 1, 1, 1)


# solve reaches at N=4 what best-of-N reaches at N=16: a 4x ratio
SOLVE = [solved(q, n, c) for n, acc in {2: (1, 0), 4: (1, 1), 16: (1, 1)}.items() for q, c in zip("ab", acc)]
SOLVE[-1] = solved("b", 16, 1.0, generations=14)
BON = [bon(q, n, c) for n, acc in {2: (0, 0), 4: (1, 0), 16: (1, 1)}.items() for q, c in zip("ab", acc)]


def test_curves_spent_budget_method_mix_and_efficiency_both_ways():
    s = P.summarize(SOLVE, BON)
    assert s.curves[P.SOLVE] == {2: 0.5, 4: 1.0, 16: 1.0}
    assert s.curves[P.BON] == {2: 0.0, 4: 0.5, 16: 1.0}
    assert s.spent == {2: 2.0, 4: 4.0, 16: 15.0}
    assert s.methods[4] == {"beam(...)": 1.0}
    assert s.efficiency == {2: 2, 4: 2, 16: 4}  # solve's budget matching best-of-N's
    assert s.reverse == {2: 4, 4: 16, 16: 16}
    assert s.per_question[P.SOLVE][2] == {"a": 1.0, "b": 0.0}
    # bootstrap over the 2 questions: (a, a) needs N=2 (8x), (b, b) and (a, b) N=4 (4x)
    assert s.efficiency_interval == Ratio(budget=16, match=4, low=4.0, high=8.0, n_questions=2, n_seeds=1)
    assert (
        "ttc solve matches best-of-N weighted at N=16 with N=4: ratio 4 (bootstrap 95% range over 2 questions: "
        "4x to 8x)."
    ) in P.markdown(s)
    # best-of-N matching solve at 16: N=16 on (b, b) and (a, b) (1x), N=4 on (a, a) (4x): the range spans 1
    assert (
        "Best-of-N weighted matches ttc solve at N=16 with N=16: ratio 1 (interval wide: the bootstrap 95% range "
        "over 2 questions, 1x to 4x, spans 1)."
    ) in P.markdown(s)


def test_the_summary_round_trips_through_its_file(tmp_path):
    P.save(SOLVE, BON, tmp_path)
    assert P.PolicySummary.load(tmp_path / "policy.json") == P.summarize(SOLVE, BON)


def test_the_section_is_rebuilt_from_the_saved_records(tmp_path):
    write_atomic(tmp_path / "solve.jsonl", [to_json(r) for r in SOLVE])
    write_atomic(tmp_path / "baseline.jsonl", [to_json(r) for r in BON])
    section = P.section(tmp_path)
    assert section.figures == [tmp_path / "policy.png"] and section.figures[0].stat().st_size > 0
    assert "| ttc solve (probe + policy) | 0.500 | 1.000 | 1.000 |" in section.markdown
    assert "| solve: generations spent | 2.0 | 4.0 | 15.0 |" in section.markdown
