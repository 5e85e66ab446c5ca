"""Difficulty bins on hand-built samples: quintile cutting (ties, n not divisible by 5), the two
difficulty values, the versioned bins file (data/bins.py) with its edges, the agreement of
predicted with oracle bins beside chance (Spearman by hand, ties included), the samples' seed
and the summary the report reads, and bad input."""

import json
import math
from collections import Counter
from collections.abc import Sequence
from typing import cast

import pytest

from data.bins import Bins
from data.config import ConfigError
from data.records import RecordError, Sample, to_json
from data.shards import write_settings
from eval.difficulty import (
    Agreement,
    DifficultyConfig,
    DifficultySummary,
    SamplesSource,
    agreement,
    average_ranks,
    check_inputs,
    difficulty_findings,
    final_scores,
    group_samples,
    main,
    mean_final_score,
    pass_at_1,
    quantile_bins,
    section,
    spearman,
    spearman_interval,
    write,
)
from ttc.verifiers import VerifierBase


def sample(pid, index, correct, steps=("a", "b")):
    return Sample(pid, index, "\n".join(steps), list(steps), "1", correct, 3, "stop")


def sizes(bins):
    return [Counter(bins.values())[b] for b in range(1, 6)]


def test_ten_distinct_values_two_per_bin_highest_easiest():
    values = {f"q{i}": i / 10 for i in range(10)}  # q9 easiest
    bins = quantile_bins(values)
    assert bins == {f"q{i}": 5 - i // 2 for i in range(10)}


@pytest.mark.parametrize(
    "n,expected", [(7, [2, 1, 2, 1, 1]), (12, [3, 2, 3, 2, 2]), (5, [1] * 5), (6, [2, 1, 1, 1, 1])]
)
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


class LastStepIsIndex(VerifierBase):
    """A fake verifier: every step 0.5, the last step's value read from the solution's last step."""

    def __init__(self):
        self.calls = 0

    def score(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[list[float]]:
        self.calls += 1
        return [[0.5] * (len(s) - 1) + [float(s[-1])] for s in solutions]


def test_predicted_difficulty_is_the_mean_last_step_score():
    samples = [
        sample("a", 0, True, ("x", "0.8")),
        sample("a", 1, False, ("0.4",)),
        sample("a", 2, False, ()),
        sample("b", 0, False, ("y", "0.3")),
    ]
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
    for field, value, message in [
        ("version", 2, "field 'version' is 2; this code reads 1"),
        ("format", None, "field 'format' is None, expected 'ttc.bins'"),
        ("kind", "guessed", "kind: 'guessed' is not one of oracle, predicted"),
        ("values", {}, "values: no value for problem q0"),
        ("num_bins", "5", "field 'num_bins' should be"),
    ]:
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
    assert "Predicted bin = the oracle bin for" in result.markdown and "chance 20%" in result.markdown
    assert result.figures == [tmp_path / "difficulty.png"] and result.figures[0].stat().st_size > 0
    assert section(oracle, oracle_values, tmp_path).figures == []


def test_more_samples_than_drawn_is_refused_before_sampling():
    cfg = DifficultyConfig(samples="s.jsonl", output_dir="o", num_samples=256)
    drawn = {"samples": {"sampling": {"n": 256}}}
    check_inputs(cfg, drawn, "run.yaml:36")  # enough
    check_inputs(
        DifficultyConfig(samples="s.jsonl", output_dir="o"), {"samples": {"sampling": {"n": 1}}}, "run.yaml:36"
    )  # None: all there are
    with pytest.raises(
        ConfigError,
        match=r"run.yaml:36: num_samples 256 a question, but the samples it reads are 16 "
        r"a question \(sampling.n\)",
    ):
        check_inputs(cfg, {"samples": {"sampling": {"n": 16}}}, "run.yaml:36")


def test_spearman_by_hand_with_ties():
    assert average_ranks([3, 1, 3, 2, 3]).tolist() == [4, 1, 4, 2, 4]  # the three 3s share ranks 3-5
    # x ranks 1, 2.5, 2.5, 4 against y's 1, 3, 2, 4: centred, 4.5 / sqrt(4.5 x 5) = 3 / sqrt(10)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(3 / math.sqrt(10))
    assert spearman([1, 2, 3, 4], [10, 20, 30, 400]) == pytest.approx(1.0)  # ranks, not values
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [5, 5, 5]) is None  # a constant: no ranking
    with pytest.raises(ValueError, match="3 values against 2"):
        spearman([1, 2, 3], [1, 2])


def test_spearman_interval_is_fisher_z():
    # n = 10: atanh(0.5) +- 1.96 sqrt(1.06 / 7)
    half = 1.959964 * math.sqrt(1.06 / 7)
    low, high = cast("tuple[float, float]", spearman_interval(0.5, 10))
    z = math.atanh(0.5)
    assert (low, high) == (pytest.approx(math.tanh(z - half)), pytest.approx(math.tanh(z + half)))
    assert -1 < low < 0.5 < high < 1
    assert spearman_interval(1.0, 10) == (1.0, 1.0)
    assert spearman_interval(0.5, 3) == (None, None) and spearman_interval(None, 10) == (None, None)


def test_agreement_beside_chance():
    oracle = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    predicted = {"a": 1, "b": 3, "c": 3, "d": 2, "e": 5, "f": 1}  # f has no oracle bin: left out
    oracle_values = {"a": 0.9, "b": 0.7, "c": 0.5, "d": 0.3, "e": 0.1}
    predicted_values = {"a": 0.8, "b": 0.6, "c": 0.6, "d": 0.65, "e": 0.2, "f": 1.0}
    a = agreement(oracle, predicted, oracle_values, predicted_values, 5)
    # bins differ by 0, 1, 0, 2, 0; value ranks (a..e) 5, 2.5, 2.5, 4, 1 against 5, 4, 3, 2, 1: 6.5 / sqrt(9.5 x 10)
    rho = 6.5 / math.sqrt(95)
    half = 1.959964 * math.sqrt(1.06 / 2)
    assert (a.num_bins, a.questions, a.exact, a.within_one) == (5, 5, 0.6, 0.8)
    assert a.spearman == pytest.approx(rho)
    assert (a.spearman_low, a.spearman_high) == (
        pytest.approx(math.tanh(math.atanh(rho) - half), abs=1e-6),
        pytest.approx(math.tanh(math.atanh(rho) + half), abs=1e-6),
    )
    assert (a.chance_exact, a.chance_within_one) == (0.2, pytest.approx(0.52))  # 1/K; (K + 2(K-1)) / K^2
    assert a.words() == (
        "the oracle bin for 60% of 5 questions (chance 20%), within one bin for 80% (chance 52%); "
        "Spearman rank correlation of mean PRM score with pass@1 +0.67 (95% CI -0.55 to +0.98, "
        "Fisher z; chance 0)"
    )
    chance = [Agreement(k, 1, 1, 1, None, None, None) for k in (1, 2, 3)]
    assert [(a.chance_exact, a.chance_within_one) for a in chance] == [
        (1.0, 1.0),
        (0.5, 1.0),
        (pytest.approx(1 / 3), pytest.approx(7 / 9)),
    ]
    with pytest.raises(ValueError, match="no question has both"):
        agreement({"a": 1}, {"b": 1}, {"a": 0.5}, {"b": 0.5}, 1)


def samples_file(tmp_path, seed=None):
    """5 questions x 2 samples (q0 easiest), and the sample stage's settings beside them when `seed`."""
    path = tmp_path / "samples" / "samples.jsonl"
    path.parent.mkdir()
    path.write_text("".join(to_json(sample(f"q{i}", j, j < 2 - i // 2)) + "\n" for i in range(5) for j in range(2)))
    if seed is not None:
        write_settings(path.parent / "samples.settings.json", {"sampling.n": 2, "sampling.seed": seed})
    return path


def test_main_states_the_samples_and_their_seed_and_the_report_reads_it(tmp_path):
    path = samples_file(tmp_path, seed=100)
    text = main(DifficultyConfig(samples=str(path), output_dir=str(tmp_path / "out")))
    assert text.startswith(
        f"Bins cut from `{path}`: every sample, sampling seed 100 (read from "
        "samples.settings.json). The search grid draws its own pools with its `seeds`: these "
        "samples are apart from them as long as none of those is 100."
    )
    summary = DifficultySummary.load(tmp_path / "out" / "difficulty.json")
    assert summary == DifficultySummary(SamplesSource(str(path), 100, "read from samples.settings.json", None), None)
    assert Bins.load(tmp_path / "out" / "bins_oracle.json").meta["samples_seed"] == 100
    (finding,) = difficulty_findings(tmp_path / "out")
    assert finding.sentence.startswith(
        "Oracle bins (cut from the base model's samples drawn with sampling seed "
        "100) run from a mean base pass@1 of 1.000 (bin 1)"
    )
    assert "no predicted bins" in finding.sentence
    # the config's seed must agree with the settings; without settings it is the one stated, else none is
    with pytest.raises(
        ConfigError, match="samples_seed: 7, but .*samples.settings.json says the samples were drawn with seed 100"
    ):
        main(DifficultyConfig(samples=str(path), output_dir=str(tmp_path / "bad"), samples_seed=7))
    assert not (tmp_path / "bad").exists()
    (tmp_path / "bare_run").mkdir()
    bare = samples_file(tmp_path / "bare_run")
    text = main(DifficultyConfig(samples=str(bare), output_dir=str(tmp_path / "o2"), samples_seed=7, num_samples=2))
    assert "the first 2 samples of each question, sampling seed 7 (the config's samples_seed)" in text
    text = main(DifficultyConfig(samples=str(bare), output_dir=str(tmp_path / "o3")))
    assert "sampling seed unknown (no settings file beside them, no samples_seed)" in text
    assert "drawn with a sampling seed not recorded" in difficulty_findings(tmp_path / "o3")[0].sentence


def test_write_saves_the_agreement_the_markdown_states(tmp_path):
    oracle_values = {f"q{i}": i / 10 for i in range(10)}
    predicted_values = {f"q{i}": (i % 5) / 5 for i in range(10)}
    oracle = Bins("oracle", quantile_bins(oracle_values), oracle_values, 5)
    predicted = Bins("predicted", quantile_bins(predicted_values), predicted_values, 5)
    source = SamplesSource("s.jsonl", 100, "read from s.settings.json", 64)
    text = write(tmp_path, oracle, predicted, source)
    summary = DifficultySummary.load(tmp_path / "difficulty.json")
    assert summary.agreement is not None and summary.agreement == agreement(
        oracle.bins, predicted.bins, oracle_values, predicted_values, 5
    )
    assert f"Predicted bin = {summary.agreement.words()}." in text
    assert json.loads((tmp_path / "difficulty.json").read_text())["agreement"]["exact"] == summary.agreement.exact
    (finding,) = difficulty_findings(tmp_path)
    assert (
        f"predicted bins (mean PRM final-step score, no ground truth) equal {summary.agreement.words()}"
        in finding.sentence
        and finding.figure == "difficulty.png"
    )


def test_a_seed_other_than_the_samples_stage_is_refused_before_sampling():
    cfg = DifficultyConfig(samples="s.jsonl", output_dir="o", samples_seed=7)
    check_inputs(cfg, {"samples": {"sampling": {"n": 4, "seed": 7}}}, "run.yaml:36")
    with pytest.raises(
        ConfigError,
        match=r"run.yaml:36: samples_seed 7, but the samples it reads were drawn with "
        r"seed 100 \(sampling.seed\)",
    ):
        check_inputs(cfg, {"samples": {"sampling": {"n": 4, "seed": 100}}}, "run.yaml:36")
