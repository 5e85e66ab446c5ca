"""Difficulty bins on hand-built samples: quintile cutting (ties, n not divisible by 5), the two
difficulty values, the versioned bins file (data/bins.py) with its edges, and bad input."""

import json
from collections import Counter

import pytest

from data.bins import Bins
from data.config import ConfigError
from data.records import RecordError, Sample
from eval.difficulty import (DifficultyConfig, check_inputs, final_scores, group_samples, mean_final_score,
                             pass_at_1, quantile_bins, section)


def sample(pid, index, correct, steps=("a", "b")):
    return Sample(pid, index, "\n".join(steps), list(steps), "1", correct, 3, "stop")


def sizes(bins):
    return [Counter(bins.values())[b] for b in range(1, 6)]


def test_ten_distinct_values_two_per_bin_highest_easiest():
    values = {f"q{i}": i / 10 for i in range(10)}  # q9 easiest
    bins = quantile_bins(values)
    assert bins == {f"q{i}": 5 - i // 2 for i in range(10)}


@pytest.mark.parametrize("n,expected", [(7, [2, 1, 2, 1, 1]), (12, [3, 2, 3, 2, 2]), (5, [1] * 5), (6, [2, 1, 1, 1, 1])])
def test_n_not_divisible_by_five(n, expected):
    # rank r of n goes to bin floor(5 r / n) + 1
    values = {f"q{i:02d}": float(n - i) for i in range(n)}  # q00 easiest
    bins = quantile_bins(values)
    assert sizes(bins) == expected
    ranks = sorted(values, key=lambda q: -values[q])
    assert [bins[q] for q in ranks] == [5 * r // n + 1 for r in range(n)]


def test_ties_equal_count_seeded_and_monotone():
    values = {f"q{i}": 1.0 if i < 6 else 0.0 for i in range(10)}  # six tied at the top
    bins = quantile_bins(values, seed=3)
    assert sizes(bins) == [2, 2, 2, 2, 2]
    assert sorted(bins[f"q{i}"] for i in range(6)) == [1, 1, 2, 2, 3, 3]  # the tied six fill bins 1-3
    assert bins == quantile_bins(values, seed=3)
    assert any(quantile_bins(values, seed=s) != bins for s in range(10))  # the tie-break is the seed's
    for a in values:  # a strictly easier question is never in a harder bin
        for b in values:
            if values[a] > values[b]:
                assert bins[a] <= bins[b]


def test_all_tied_still_equal_count():
    assert sizes(quantile_bins({f"q{i}": 0.5 for i in range(11)})) == [3, 2, 2, 2, 2]


def test_bad_values():
    with pytest.raises(ValueError, match="cannot fill 5 bins"):
        quantile_bins({"a": 1.0, "b": 0.0})
    with pytest.raises(ValueError, match="not a finite number"):
        quantile_bins({f"q{i}": float("nan") if i == 2 else 0.0 for i in range(5)})


def test_pass_at_1_uses_the_first_num_samples():
    samples = [sample("a", i, i in (0, 3)) for i in range(4)] + [sample("b", i, True) for i in (1, 0)]
    groups = group_samples(samples, num_samples=2)
    assert [s.index for s in groups["b"]] == [0, 1]
    assert pass_at_1(groups) == {"a": 0.5, "b": 1.0}
    assert pass_at_1(group_samples(samples)) == {"a": 0.5, "b": 1.0}
    with pytest.raises(ValueError, match="problem b: 2 samples, fewer than num_samples=3"):
        group_samples(samples, num_samples=3)
    with pytest.raises(ValueError, match="no samples"):
        group_samples([])


class LastStepIsIndex:
    """A fake verifier: every step 0.5, the last step's value read from the solution's last step."""

    def __init__(self):
        self.calls = 0

    def score(self, questions, solutions):
        self.calls += 1
        return [[0.5] * (len(s) - 1) + [float(s[-1])] for s in solutions]


def test_predicted_difficulty_is_the_mean_last_step_score():
    samples = [sample("a", 0, True, ("x", "0.8")), sample("a", 1, False, ("0.4",)), sample("a", 2, False, ()),
               sample("b", 0, False, ("y", "0.3"))]
    groups = group_samples(samples)
    verifier = LastStepIsIndex()
    scores = final_scores(groups, verifier, {"a": "Q a", "b": "Q b"})
    assert verifier.calls == 1
    assert scores == {("a", 0): 0.8, ("a", 1): 0.4, ("a", 2): 0.0, ("b", 0): 0.3}  # no steps: 0.0
    assert mean_final_score(groups, scores) == pytest.approx({"a": 0.4, "b": 0.3})
    with pytest.raises(ValueError, match="problem b: no PRM score"):
        mean_final_score(groups, {k: v for k, v in scores.items() if k[0] == "a"})
    with pytest.raises(ValueError, match="no question text"):
        final_scores(groups, verifier, {"a": "Q a"})


def test_json_round_trip_and_bad_bins(tmp_path):
    values = {f"q{i}": i / 10 for i in range(10)}
    bins = Bins("predicted", quantile_bins(values), values, 5, {"num_samples": 16})
    bins.save(tmp_path / "bins.json")
    assert Bins.load(tmp_path / "bins.json") == bins
    record = json.loads((tmp_path / "bins.json").read_text())
    assert (record["format"], record["version"], record["meta"]["num_samples"]) == ("ttc.bins", 1, 16)
    for bad in (0, 6, "2", True):
        (tmp_path / "bad.json").write_text(json.dumps({**record, "bins": {**record["bins"], "q1": bad}}))
        with pytest.raises(RecordError, match="bad.json: bins: problem q1 has bin"):
            Bins.load(tmp_path / "bad.json")
    for field, value, message in [("version", 2, "field 'version' is 2; this code reads 1"),
                                  ("format", None, "field 'format' is None, expected 'ttc.bins'"),
                                  ("kind", "guessed", "kind: 'guessed' is not one of oracle, predicted"),
                                  ("values", {}, "values: no value for problem q0"),
                                  ("num_bins", "5", "field 'num_bins' should be")]:
        (tmp_path / "bad.json").write_text(json.dumps({**record, field: value}))
        with pytest.raises(RecordError, match=f"bad.json: {message}"):
            Bins.load(tmp_path / "bad.json")
    with pytest.raises(RecordError, match="missing.json: cannot read"):
        Bins.load(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(RecordError, match="list.json: expected a JSON object"):
        Bins.load(tmp_path / "list.json")


def test_edges_are_midpoints_between_bins_and_need_rank_order():
    values = {"a": 0.9, "b": 0.7, "c": 0.5, "d": 0.5, "e": 0.2, "f": 0.1}
    bins = {"a": 1, "b": 1, "c": 2, "d": 3, "e": 3, "f": 3}  # c and d tie across an edge
    assert Bins("predicted", bins, values, 3).edges() == pytest.approx([0.6, 0.5])
    with pytest.raises(ValueError, match="bin 2 has a value 0.8 above bin 1's lowest 0.5"):
        Bins("predicted", {"a": 1, "b": 2}, {"a": 0.5, "b": 0.8}, 2).edges()
    with pytest.raises(ValueError, match="bin 2 has no question"):
        Bins("predicted", {"a": 1, "b": 3}, {"a": 0.5, "b": 0.1}, 3).edges()


def test_section_writes_table_and_figure(tmp_path):
    oracle_values = {f"q{i}": i / 10 for i in range(10)}
    predicted_values = {f"q{i}": (i % 5) / 5 for i in range(10)}
    oracle, predicted = quantile_bins(oracle_values), quantile_bins(predicted_values)
    result = section(oracle, oracle_values, tmp_path, predicted, predicted_values)
    assert "| 1 | 2 | 0.800 | 0.850 | 0.900 |" in result.markdown
    assert "Predicted bin = oracle bin for" in result.markdown
    assert result.figures == [tmp_path / "difficulty.png"] and result.figures[0].stat().st_size > 0
    assert section(oracle, oracle_values, tmp_path).figures == []


def test_more_samples_than_drawn_is_refused_before_sampling():
    cfg = DifficultyConfig(samples="s.jsonl", output_dir="o", num_samples=256)
    drawn = {"samples": {"sampling": {"n": 256}}}
    check_inputs(cfg, drawn, "run.yaml:36")  # enough
    check_inputs(DifficultyConfig(samples="s.jsonl", output_dir="o"), {"samples": {"sampling": {"n": 1}}},
                 "run.yaml:36")  # None: all there are
    with pytest.raises(ConfigError, match=r"run.yaml:36: num_samples 256 a question, but the samples it reads are 16 "
                                          r"a question \(sampling.n\)"):
        check_inputs(cfg, {"samples": {"sampling": {"n": 16}}}, "run.yaml:36")
