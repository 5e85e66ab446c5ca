"""`ttc report` on a synthetic run written by the stages' own writers (their typed summaries,
difficulty bins, compute-optimal, FLOPs-matched, the policy eval): every part present with its
sentence, tables and relative figure links; absent parts named; a malformed file, or one of
another layout, named; the headline comparisons Holm-corrected as one family at the top, a headline
whose part is missing (or lacks the comparison) named as not tested."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from data.bins import Bins
from data.prm_bench import BenchSolution
from data.records import RecordError, Sample, to_json
from eval import compute_optimal, flops_matched, policy, prm_bench, search_report
from eval import prm as prm_eval
from eval.difficulty import SamplesSource
from eval.difficulty import write as difficulty_write
from eval.paired import holm
from eval.plots import figure
from eval.prm import LIKELIHOOD, PRM, PRMEvalSummary
from eval.revision import RevisionEvalConfig, evaluate
from eval.revision import markdown as revision_markdown
from eval.revision import plot as revision_plot
from eval.search_report import EvalResult
from tests.eval.test_policy import BON, SOLVE  # a 4x policy against best-of-N weighted
from tests.support.runs import REPO, synthetic_labels, train_tiny_prm
from ttc.pipeline import graph
from ttc.pipeline.report import HEADLINES, REPORT, parts, write
from ttc.revise import Attempt, ChainSet
from ttc.stages.spec import Finding, ReportPart, StageSpec
from ttc.verifiers.spec import VerifierConfig

CHECKPOINTS = REPO / "train" / "checkpoints"
QUESTIONS = [f"q{i}" for i in range(10)]
BUDGETS = (1, 2, 4, 8, 16)
LINES = {  # name -> (strategy, params, correct(question index, N))
    "Best-of-N weighted": ("best_of_n", {"selection": "weighted"}, lambda i, n: i < 2 + n.bit_length()),
    "Majority": ("best_of_n", {"selection": "majority"}, lambda i, n: i < 1 + n.bit_length()),
    "Beam; M=sqrt(N)": (
        "beam",
        {"selection": "weighted", "beam_width": "sqrt", "lookahead": 0},
        lambda i, n: i < (5 if n <= 4 else 4),
    ),
}


REVISION_LINES = {
    "Revisions; parallel": ("revision", {"selection": "weighted", "ratio": 0.0001}, lambda i, n: i < 3),
    "Revisions; sequential": (
        "revision",
        {"selection": "weighted", "ratio": 10000},
        lambda i, n: i < 2 + n.bit_length(),
    ),
}


def search_run(folder: Path, lines=LINES) -> Path:
    """results.jsonl and the summary of a `ttc eval` run."""
    folder.mkdir(parents=True)
    # FLOPs a generation: the policy 3, the verifier 1, so k counting the verifier is 0.75 k
    records = [
        EvalResult(
            q,
            strategy,
            {**params, "n": n, "seed": 0},
            n,
            0,
            None,
            float(correct(i, n)),
            None,
            n,
            n,
            0,
            0,
            None,
            3 * n,
            n,
            name=name,
        )
        for name, (strategy, params, correct) in lines.items()
        for n in BUDGETS
        for i, q in enumerate(QUESTIONS)
    ]
    (folder / "results.jsonl").write_text("".join(to_json(r) + "\n" for r in records))
    search_report.write(folder / "results.jsonl")
    return folder / "results.jsonl"


def difficulty_run(folder: Path) -> dict[str, Path]:
    oracle_values = {q: 1 - i / 10 for i, q in enumerate(QUESTIONS)}
    predicted_values = {q: v + (0.15 if q == "q3" else -0.1 if q == "q1" else 0) for q, v in oracle_values.items()}
    oracle = {q: i // 2 + 1 for i, q in enumerate(QUESTIONS)}
    predicted = {**oracle, "q3": 1, "q1": 2}  # swapped: every bin keeps 2 questions
    source = SamplesSource("sample_test/samples.jsonl", 100, "read from samples.settings.json", 64)
    difficulty_write(
        folder, Bins("oracle", oracle, oracle_values, 5), Bins("predicted", predicted, predicted_values, 5), source
    )
    return {"oracle": folder / "bins_oracle.json", "predicted": folder / "bins_predicted.json"}


def revision_run(folder: Path) -> None:
    """Two problems, 2 chains x 4 attempts: 'c' correct, 'w' wrong."""

    def chain_set(pid, rows):
        return ChainSet(
            pid,
            [
                [Attempt(pid, c, t, "", "1" if x == "c" else "9", x == "c", 0.5, 1, "eos") for t, x in enumerate(row)]
                for c, row in enumerate(rows)
            ],
        )

    sets = [chain_set("a", ["wccw", "wwcc"]), chain_set("b", ["cwcc", "wwww"])]
    cfg = RevisionEvalConfig(output_dir=str(folder), chains="unused", orm=VerifierConfig(path="o"), budget=4)
    summary = evaluate(sets, {"a": 1, "b": 2}, cfg)
    folder.mkdir(parents=True)
    summary.save(folder / "revision_eval.json")
    (folder / "revision_eval.md").write_text(revision_markdown(summary))
    revision_plot(summary, folder)


def prm_run(folder: Path) -> None:
    """10 questions x 4 samples, written by eval.prm's own summary: q0-q4 all correct; q5, q6 one
    correct answer (PRM 0.9) among three agreeing wrong ones (0.1), so the PRM's weighted vote is
    right where majority is wrong; q7-q9 all wrong. The likelihood scores every sample 0.5."""

    def samples(i):
        correct = [True] * 4 if i < 5 else [True, False, False, False] if i < 7 else [False] * 4
        return [Sample(f"q{i}", j, "", ["x"], "1" if c else "9", c, 1, "eos") for j, c in enumerate(correct)]

    prm = {f"q{i}": [(s, [0.9 if s.correct else 0.1]) for s in samples(i)] for i in range(10)}
    likelihood = {q: [(s, [0.5]) for s, _ in items] for q, items in prm.items()}
    summary = prm_eval.evaluate({PRM: prm, LIKELIHOOD: likelihood}, [1, 2, 4], seed=0)
    folder.mkdir(parents=True)
    summary.save(folder / "prm_eval.json")
    (folder / "prm_eval.md").write_text("| method | N=1 | N=16 |\n|---|---|---|\n")
    with figure(folder / "best_of_n.png") as (_, ax):
        ax.plot([1, 16], [0.5, 0.64])


def bench_run(folder: Path) -> None:
    """Toy-ProcessBench, one split of 2 questions: the PRM finds both errors and clears 1 of 2
    correct solutions (F1 = 2 x 1 x 0.5 / 1.5 = 0.667); the likelihood clears both, finds none (F1 0)."""

    def item(q, i, label):
        return BenchSolution(
            f"{q}/{i}",
            "L2",
            "Compute 1+2.",
            ["=3", "\\boxed{3}"],
            label,
            label == -1,
            None if label == -1 else "slip",
            q,
        )

    items = [item("q0", 0, -1), item("q0", 1, 1), item("q1", 0, -1), item("q1", 1, 0)]
    values = {"prm": [[0.9, 0.9], [0.9, 0.2], [0.8, 0.4], [0.1, 0.1]], "likelihood": [[0.6, 0.6]] * 4}
    folder.mkdir()
    summary, records = prm_bench.evaluate_processbench(
        items, values, 0.5, ["prm", "likelihood"], data="toy-ProcessBench"
    )
    prm_bench.write(summary, records, folder)


def policy_run(folder: Path) -> None:
    folder.mkdir()
    policy.save(SOLVE, BON, folder)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    prm_run(run / "eval_prm")
    results = search_run(run / "eval_search")
    revision_run(run / "eval_revision")
    bins = difficulty_run(run / "difficulty")
    compute_optimal.main(
        compute_optimal.ComputeOptimalConfig(
            [str(results)], {k: str(v) for k, v in bins.items()}, str(run / "compute_optimal")
        )
    )
    greedy = run / "large_greedy" / "samples.jsonl"
    greedy.parent.mkdir()
    greedy.write_text(
        "".join(to_json(Sample(q, 0, "x", ["x"], "1", i < 5, 1, "stop")) + "\n" for i, q in enumerate(QUESTIONS))
    )
    flops_matched.main(
        flops_matched.FlopsMatchedConfig(
            [str(results)],
            str(bins["oracle"]),
            str(greedy),
            str(run / "flops_matched"),
            small_model=str(CHECKPOINTS / "toy-base"),
            large_model=str(CHECKPOINTS / "toy-large"),
        )
    )
    policy_run(run / "policy")
    bench_run(run / "bench_prm")
    trained = train_tiny_prm(tmp_path_factory.mktemp("prm"), CHECKPOINTS / "toy-base", synthetic_labels(20))
    shutil.copytree(trained, run / "train_prm")  # where the run layout has it: its log_history.json
    (run / "eval_search" / "DONE").write_text(json.dumps({"seconds": 12.5, "finished": "2026-01-01T00:00:00"}))
    return run


@pytest.mark.e2e
def test_every_part_with_its_sentence_tables_and_figures(run):
    text = write(run).read_text()
    assert (run / REPORT).exists() and "9 of 9 parts found." in text and "missing:" not in text
    for part in parts():
        assert f"## {part.title}" in text
    # sentences computed from the numbers, each comparison with its paired 95% interval: PRM weighted vs
    # majority differs on q5, q6 only: mean 0.2, SD sqrt(1.6 / 9), SE 0.1333, half-width 1.96 SE = 0.2613
    assert (
        "Best-of-N weighted with the PRM (last-step score) is level with majority (+0.200, 95% CI -0.061 to "
        "+0.461; 0.700 vs 0.500, 10 questions) at N=4; pass@1 0.550 (paper: ahead"
    ) in text
    assert (
        "it is level with likelihood-weighted voting (+0.200, 95% CI -0.061 to +0.461; 0.700 vs 0.500, 10 "
        "questions); likelihood-weighted voting is level with majority (+0.000, 95% CI +0.000 to +0.000;"
    ) in text
    assert (
        "within a question the PRM's AUC is ahead of the likelihood's by +0.500 (95% CI +0.500 to +0.500; 1.000 "
        "vs 0.500, 2 questions)"
    ) in text
    # beam vs best-of-N at budget 4 (equal on every question) and 16 (3 of 10 lost: SE 0.1528, half-width 0.2994)
    assert (
        "Beam; M=sqrt(N) is level with Best-of-N weighted (+0.000, 95% CI +0.000 to +0.000; 0.500 vs 0.500, 10 "
        "questions) at budget 4 and behind it by -0.300 (95% CI -0.599 to -0.001; 0.400 vs 0.700, 10 questions) "
        "at budget 16 (paper: ahead at low budgets"
    ) in text
    # reviser: attempt 4 vs 1 per problem (a: 0.5 vs 0, b: 0.5 vs 0.5): mean 0.25, SE 0.25
    assert "Attempt 4 is level with attempt 1 (+0.250, 95% CI -0.240 to +0.740; 0.500 vs 0.250, 2 questions)." in text
    assert "Sequential revisions are level with parallel (-0.250, 95% CI -0.740 to +0.240;" in text
    assert "40% of the 5 correct attempts with a next attempt turn incorrect at that revision (paper: ~38%)" in text
    # q1 and q3 swap bins; ranks differ on q1-q3 alone (d = -1.5, -0.5, 2: rho = 1 - 6 x 6.5 / 990 ~ 0.96)
    assert (
        "Oracle bins (cut from the base model's samples drawn with sampling seed 100) run from a mean base pass@1 "
        "of 0.950 (bin 1)"
    ) in text
    assert (
        "equal the oracle bin for 80% of 10 questions (chance 20%), within one bin for 100% (chance 52%); Spearman "
        "rank correlation of mean PRM score with pass@1 +0.96 (95% CI +0.83 to +0.99, Fisher z; chance 0)"
    ) in text
    assert (
        "with oracle bins it is ahead at 0, level at 5 and behind at 0 of 5 budgets, and at budget 16 level with "
        "best-of-N weighted (-0.100, 95% CI -0.296 to +0.096; 0.600 vs 0.700, 10 questions)"
    ) in text
    assert (
        "with oracle bins, at budget 16 no budget of the grid matches it (interval wide: the bootstrap 95% range "
        "over 10 questions, no match to 16x, spans 1); at a quarter of the budget, compute-optimal at 4 is level "
        "with best-of-N weighted at 16 (-0.200, 95% CI -0.461 to +0.061;"
    ) in text
    assert "Per oracle bin at budget 16, compute-optimal against best-of-N weighted: bin 1 level (+0.000," in text
    # toy models, M = 9.03: k = 159.6, 39.5, 10.1 at R = 0.16, 0.79, 22, k_v = 0.75 k; the grid stops at 16
    assert "(k counts the verifier, k_v = k x 0.750: a generation over the grid's 150 records runs the policy 3" in text
    assert (
        "at R=0.16 not made (the grid stops at 16, k = 119.7); at R=0.79 not made (the grid stops at 16, k = 29.6); "
        "at R=22 (budget 8; 8 with the policy's FLOPs alone): bin 1 level (+0.000, 95% CI +0.000 to +0.000; "
        "2 questions)"
    ) in text
    # two questions: resamples (a, a) need N=2 (8x), (b, b) and (a, b) N=4 (4x)
    assert (
        "`ttc solve` matches best-of-N weighted at N=16 with N=4: ratio 4 (bootstrap 95% range over 2 questions: "
        "4x to 8x)."
    ) in text
    # toy-ProcessBench: the PRM's F1 of 2 x 1 x 0.5 / 1.5 and its error class, against the likelihood's 0
    assert (
        "- prm: average F1 66.7 [0.0, 100.0] (percent, 95% interval) over the splits L2 of toy-ProcessBench "
        "(first step below 0.5); by the first error's class, slip 100.0 [100.0, 100.0] (n=2)."
    ) in text
    assert (
        "- average F1: prm level with likelihood (+0.667, 95% CI +0.000 to +1.000; 0.667 vs 0.000, 2 questions)."
        in text
    )
    # the stages' own tables, headings demoted under the report's
    assert "| Best-of-N weighted | 0.300 |" in text and "### Revisions: 2 problems" in text
    # figures: PNG links relative to the run directory, each file there
    links = [line.split("](")[1].rstrip(")") for line in text.splitlines() if line.strip().startswith("![")]
    assert "eval_search/accuracy_vs_budget.png" in links and "flops_matched/flops_matched.png" in links
    assert len(links) == 14 and all((run / link).is_file() for link in links)
    assert "train_prm/training_curves.png" in links  # the trainer's curves, and its summary:
    assert "- train_prm: kept step " in text and "validation loss" in text
    assert "| eval_search | 12.5 |" in text  # the demo's stage wall time


def test_absent_parts_are_named(tmp_path):
    search_run(tmp_path / "eval_search")
    text = write(tmp_path).read_text()
    assert "1 of 9 parts found; missing: a trainer (ttc train-prm, ttc train-reviser), PRM eval" in text
    assert "missing: revision eval (ttc eval-revision) (no revision_eval.json in" in text
    assert "missing: PRM benchmark (ttc bench-prm) (no prm_bench.json in" in text
    assert text.count("\nmissing: ") == 8 and "accuracy_vs_budget.png" in text


def test_malformed_numbers_name_the_file_and_the_field(tmp_path):
    path = tmp_path / "eval_prm" / "prm_eval.json"
    path.parent.mkdir()
    path.write_text('{"curves": {"majority": }')
    with pytest.raises(RecordError, match=r"prm_eval.json: cannot read the ttc.prm_eval \(Expecting value"):
        write(tmp_path)
    # the untyped layout of earlier runs: refused before anything is read from it
    path.write_text(json.dumps({"auc": 0.7, "curves": {"majority": {"1": 0.5}}}))
    with pytest.raises(RecordError, match=r"prm_eval.json: field 'format' is None, expected 'ttc.prm_eval'"):
        write(tmp_path)
    curves = {"majority": {"1": 0.5, "16": "high"}}
    path.write_text(json.dumps({"format": PRMEvalSummary.FORMAT, "version": 1, "curves": curves}))
    with pytest.raises(RecordError, match=r"prm_eval.json: field 'curves.majority.16' should be float, got 'high'"):
        write(tmp_path)
    path.write_text(json.dumps({"format": PRMEvalSummary.FORMAT, "version": 1, "curves": {"majority": {"1": 0.5}}}))
    with pytest.raises(RecordError, match=r"prm_eval.json: missing field 'per_question'"):
        write(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write(tmp_path / "nowhere")


def test_a_revision_grid_compares_sequential_with_parallel(tmp_path):
    search_run(tmp_path / "eval_search")
    search_run(tmp_path / "eval_revision_grid", REVISION_LINES)
    text = write(tmp_path).read_text()
    assert "### eval_revision_grid" in text and "### eval_search" in text  # one subsection per folder
    # q3-q6 right only sequentially: mean 0.4, SD sqrt(2.4 / 9), SE 0.1633, half-width 0.3201
    assert (
        "Revisions; sequential is ahead of Revisions; parallel by +0.400 (95% CI +0.080 to +0.720; 0.700 vs "
        "0.300, 10 questions) at budget 16 (paper: sequential revisions narrowly ahead"
    ) in text


def headline_rows(text: str) -> dict[str, list[str]]:
    """The headline section's table: its claim -> its other cells."""
    section = text[text.index("## Headline comparisons (Holm-corrected)") :]
    section = section[: section.index("\n## ", 1)]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| ")]
    return {row[0]: row[1:] for row in cells[1:]}


@pytest.mark.e2e
def test_headlines_are_one_holm_family_and_missing_parts_are_named(tmp_path):
    prm_run(tmp_path / "eval_prm")
    search_run(tmp_path / "eval_search")
    revision_run(tmp_path / "eval_revision")
    search_run(tmp_path / "eval_revision_grid", REVISION_LINES)
    text = write(tmp_path).read_text()
    head = text.index("3 of 9 parts found;")
    assert head < text.index("## Headline comparisons (Holm-corrected)") < text.index("## Training curves")
    rows = headline_rows(text)
    assert len(rows) == 9 and "tested as one family of 9" in text
    # PRM vs majority at N=4 (the fixture's largest, no 16): +0.200, SE 0.1333, z 1.5, p = 2 (1 - Phi(1.5)) = 0.1336
    assert rows["PRM: best-of-N weighted vs majority, N=16"] == [
        "best-of-N weighted (last), N=4: 0.700",
        "majority, N=4: 0.500",
        "+0.200",
        "-0.061 to +0.461",
        "0.1336",
        "0.9353",
        "-0.165 to +0.565 (99.38%)",
        "level",
    ]
    # beam at 16: behind uncorrected (p 0.0495 < 0.05), level after Holm over the 9
    beam = rows["beam M=sqrt(N) vs best-of-N weighted, the largest budget beam ran"]
    assert beam[:5] == [
        "Beam; M=sqrt(N), N=16: 0.400",
        "Best-of-N weighted, N=16: 0.700",
        "-0.300",
        "-0.599 to -0.001",
        "0.0495",
    ]
    assert beam[-1] == "level (uncorrected: behind)"
    # the PRM's within-question AUC: +0.5 on both questions (SE 0): the one rejection, at step 1 (alpha / 9)
    assert rows["PRM: within-question AUC vs the likelihood's"][-2:] == ["+0.500 to +0.500 (99.44%)", "ahead"]
    assert rows["reviser: attempt 4 vs attempt 1"][4] == "0.3173"  # +0.25, SE 0.25: z = 1
    assert "revisions: sequential vs parallel, N=4 (majority selection)" in rows
    assert rows["revision grid: most sequential vs most parallel, N=4"][:2] == [
        "Revisions; sequential, N=4: 0.500",
        "Revisions; parallel, N=4: 0.300",
    ]
    # the Holm p's are holm() of the family's p's; the verdict is "level" exactly when Holm p >= 0.05
    p = [[0.0 if r[i] == "<0.0001" else float(r[i]) for r in rows.values()] for i in (4, 5)]
    assert p[1] == pytest.approx(holm(p[0]), abs=9 * 5e-5)  # the printed p's are rounded to 4 places
    assert all(r[-1].startswith("level") == (adjusted >= 0.05) for r, adjusted in zip(rows.values(), p[1]))
    for claim in ("compute-optimal vs best-of-N weighted, the largest budget", "FLOPs-matched: test-time compute"):
        assert f"- not tested: {claim}" in text
    assert (
        "- not tested: compute-optimal revisions at a quarter of the largest budget vs parallel at it (no "
        "compute_optimal_revisions/compute_optimal.json in the run)"
    ) in text


def test_a_headline_the_run_lacks_is_not_tested(tmp_path):
    search_run(tmp_path / "eval_search", {k: v for k, v in LINES.items() if not k.startswith("Beam")})
    text = write(tmp_path).read_text()
    assert (
        "- not tested: beam M=sqrt(N) vs best-of-N weighted, N=4 (no such comparison in eval_search/summary.json)"
        in text
    )
    assert "tested as one family of 0" in text and "| claim |" not in text


def test_headlines_read_the_summaries_of_the_graphs_stages():
    for h in HEADLINES:
        stage, name = h.numbers.split("/")
        assert any(stage in stages and name == part.numbers for part, stages in parts().items())


def test_the_full_run_has_every_compute_optimal_and_flops_headline(run):
    from eval.flops_matched import FlopsMatchedSummary

    rows = headline_rows(write(run).read_text())
    flops = FlopsMatchedSummary.load(run / "flops_matched" / "flops_matched.json").rows
    assert sum(claim.startswith("FLOPs-matched") for claim in rows) == len(flops)
    # compute-optimal vs best-of-N weighted at 16 with each bin kind; at 4 vs best-of-N weighted at 16
    top = rows["compute-optimal vs best-of-N weighted, the largest budget (oracle bins)"]
    assert top[:4] == ["compute-optimal, N=16: 0.600", "best-of-N weighted, N=16: 0.700", "-0.100", "-0.296 to +0.096"]
    assert "compute-optimal vs best-of-N weighted, the largest budget (predicted bins)" in rows
    quarter = rows["compute-optimal at a quarter of the largest budget vs best-of-N weighted at it (oracle bins)"]
    assert quarter[:3] == ["compute-optimal, N=4: 0.500", "best-of-N weighted, N=16: 0.700", "-0.200"]
    fixed = [c for c in rows if c.startswith("compute-optimal vs the best fixed method")]
    assert [c.split("(")[-1] for c in fixed] == [f"predicted bins, N={n})" for n in (1, 2, 4, 8, 16)]
    allocated = rows[
        "budget allocated across bins at a quarter of the largest budget vs best-of-N weighted at it (oracle bins)"
    ]
    assert allocated[0].startswith("allocated, average N<=4 (spent ") and allocated[1].startswith(
        "best-of-N weighted, N=16"
    )
    # PRM 3, beam 2, compute-optimal 2 x 2, attempt 4 vs 1, sequential 2; best fixed at 5 budgets, allocated 2
    assert len(rows) == 12 + len(fixed) + 2 + len(flops)


def test_the_menu_lines_are_compared_with_best_of_n_and_beam_at_equal_generations(tmp_path):
    """Particle filtering against best-of-N weighted and beam at every budget; adaptive against
    best-of-N weighted at its cap and at the first budget covering what it spent."""
    lines = {**LINES, "Particle filtering": ("particles", {"selection": "weighted"}, lambda i, n: i < 5)}
    search_run(tmp_path / "eval_search", lines)
    folder = tmp_path / "eval_search"
    adaptive = [
        EvalResult(
            q,
            "adaptive",
            {"selection": "weighted", "n": n, "seed": 0},
            n,
            0,
            None,
            float(i < 2 + min(n, 2).bit_length()),
            None,
            n,
            n,
            0,
            0,
            None,
            3,
            1,
            name="Adaptive weighted",
            spent=min(n, 3.0),
        )
        for n in BUDGETS
        for i, q in enumerate(QUESTIONS)
    ]
    with (folder / "results.jsonl").open("a") as f:
        f.write("".join(to_json(r) + "\n" for r in adaptive))
    search_report.write(folder / "results.jsonl")
    text = write(tmp_path).read_text()
    # particles right on q0-q4 at every N; best-of-N weighted on q0..q(1+bit_length(N)); beam on q0-q4 / q0-q3
    assert (
        "Particle filtering (resampling by PRM step scores, Puri et al. 2025) is against Best-of-N weighted ahead at "
        "0, level at 5 and behind at 0 of 5 budgets (at 16: level (-0.200"
    ) in text
    assert "against Beam; M=sqrt(N) ahead at 0, level at 5 and behind at 0 of 5 budgets" in text
    # adaptive spends 3 at a cap of 16 (right on q0-q3), best-of-N weighted at 16 on q0-q6 and at 4 on q0-q4
    assert (
        "Adaptive weighted (waves until the answers agree) spends 3.0 generations on average at a cap of 16; "
        "against Best-of-N weighted at the cap: behind (-0.300"
    ) in text
    assert "against Best-of-N weighted at 4, the first budget that covers what it spent: level (-0.100" in text


def test_a_new_stage_with_a_report_part_gets_its_own_section(tmp_path, monkeypatch):
    """A stage added to the graph whose spec declares a ReportPart is a section of its own, at its
    order, with its sentence, figure and table; no edit of the report."""
    part = ReportPart(
        "Tallies",
        55,
        "tally (ttc tally)",
        "tally.json",
        ("tally.md",),
        lambda folder: [Finding(f"{json.loads((folder / 'tally.json').read_text())['n']} tallied.", "tally.png")],
    )
    declared = graph.Stage.spec
    monkeypatch.setattr(
        graph.Stage, "spec", lambda s: StageSpec(dict, print, report=part) if s.name == "tally" else declared(s)
    )
    monkeypatch.setattr(
        graph, "GRAPH", (*graph.GRAPH, dataclasses.replace(graph.stage("policy"), name="tally", command="tally"))
    )
    folder = tmp_path / "tally"
    folder.mkdir()
    (folder / "tally.json").write_text('{"n": 3}')
    (folder / "tally.md").write_text("# Tally\n\n| n |\n|---|\n| 3 |\n")
    with figure(folder / "tally.png") as (_, ax):
        ax.plot([1, 2], [1, 2])
    text = write(tmp_path).read_text()
    assert "1 of 10 parts found; missing: " in text and "tally (ttc tally)" not in text.split("\n\n")[1]
    section = text[text.index("## Tallies") : text.index("## Difficulty bins")]
    assert text.index("## Revisions") < text.index("## Tallies")  # order 55: after revisions (50), before 60
    assert section.rstrip() == (
        "## Tallies\n\n- 3 tallied.\n\n  ![tally.png](tally/tally.png)\n\n\n### Tally\n\n| n |\n|---|\n| 3 |"
    )
    assert "## Other stages" not in text  # its markdown is read by its part, not listed among the others
    (folder / "tally.json").unlink()
    assert "missing: tally (ttc tally) (no tally.json in" in write(tmp_path).read_text()


def test_the_lines_the_paper_compares_are_method_specs():
    """A line is a published method by its strategy and settings (lookahead 0 or absent: none)."""

    def line(strategy, **settings):
        return search_report.Line(strategy, settings, {})

    beam = search_report.PAPER_LINES["beam sqrt"]
    assert beam.matches(line("beam", beam_width="sqrt")) and beam.matches(line("beam", beam_width="sqrt", lookahead=0))
    assert not any(
        beam.matches(x)
        for x in (
            line("beam", beam_width="sqrt", lookahead=1),
            line("beam", beam_width=4),
            line("dvts", beam_width="sqrt", lookahead=0),
        )
    )
    weighted = search_report.PAPER_LINES["best-of-N weighted"]
    assert weighted.matches(line("best_of_n", selection="weighted")) and not weighted.matches(line("best_of_n"))


def test_a_strategy_no_claim_names_is_in_the_table_without_a_sentence(tmp_path):
    """A line of a strategy neither PAPER_LINES nor MENU_CLAIMS names (DVTS) shows in the part's
    table, and the part's sentences are those of the lines the paper compares."""
    search_run(tmp_path / "eval_search", {**LINES, "DVTS": ("dvts", {"selection": "weighted"}, lambda i, n: i < 3)})
    findings = search_report.search_findings(tmp_path / "eval_search")
    assert [f.sentence.split(" is ")[0] for f in findings] == ["Beam; M=sqrt(N)"]
    assert "| DVTS |" in write(tmp_path).read_text()
