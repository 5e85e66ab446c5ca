"""eval/tracking: the eval stages' headline figures as tracker scalars, read back from the
TensorBoard event files; off by default; a bad tracker name is a config error."""

import dataclasses
from typing import Any

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from data.bins import Bins
from data.config import ConfigError, parse_config
from data.records import Sample, to_json
from eval import prm, search_report
from eval.compute_optimal import ComputeOptimalConfig, main
from eval.search import tracked_figures as search_figures
from eval.search_report import EvalResult
from eval.tracking import Tracking, log_figures

pytestmark = pytest.mark.e2e  # real evaluations with tracking

TENSORBOARD = Tracking(report_to=["tensorboard"])
FIELDS: dict[str, Any] = dict(
    answer=None,
    solution=None,
    candidates=1,
    prompt_tokens=0,
    generated_tokens=0,
    prm_tokens=None,
    flops_policy=0,
    flops_prm=None,
    seed=0,
)


def scalars(folder) -> dict[str, list[tuple[int, Any]]]:
    """Every scalar series under `folder`: tag -> [(step, value)]."""
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, pytest.approx(e.value)) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_a_curve_is_a_series_over_its_steps_a_number_sits_at_step_0(tmp_path):
    log_figures(
        TENSORBOARD,
        tmp_path,
        "test",
        {"test/line/accuracy": {16: 0.75, 1: 0.25, 4: 0.5}, "test/auc": 0.8, "test/efficiency": None},
    )
    assert scalars(tmp_path / "tensorboard") == {
        "test/line/accuracy": [(1, 0.25), (4, 0.5), (16, 0.75)],
        "test/auc": [(0, 0.8)],
    }  # None: no value, left out


def results(path):
    """8 questions in 2 bins: beam is right everywhere, best-of-N weighted reaches it at N=4."""
    table = {
        ("best_of_n", "weighted"): {1: [1, 1, 0, 0], 2: [1, 1, 1, 0], 4: [1, 1, 1, 1]},
        ("best_of_n", "majority"): {1: [1, 0, 0, 0], 2: [1, 1, 0, 0], 4: [1, 1, 1, 0]},
        ("beam", "weighted"): {1: [1, 1, 1, 1], 2: [1, 1, 1, 1], 4: [1, 1, 1, 1]},
    }
    width = {"beam": {"beam_width": "sqrt"}, "best_of_n": {}}  # settings that run at every n
    path.write_text(
        "".join(
            to_json(
                EvalResult(
                    f"q{i}",
                    strategy,
                    {"n": n, "selection": sel, **width[strategy]},
                    n,
                    correct=float(c),
                    generations=n,
                    name=f"{strategy} {sel}",
                    **FIELDS,
                )
            )
            + "\n"
            for (strategy, sel), by_n in table.items()
            for n, cs in by_n.items()
            for i, c in enumerate(cs * 2)
        )
    )
    return path


def compute_optimal_config(tmp_path, **kwargs):
    bins = {f"q{i}": 1 + i // 4 for i in range(8)}
    Bins("oracle", bins, {q: 1 - b / 10 for q, b in bins.items()}, 5).save(tmp_path / "bins.json")
    return ComputeOptimalConfig(
        [str(results(tmp_path / "results.jsonl"))],
        {"oracle": str(tmp_path / "bins.json")},
        str(tmp_path / "out"),
        **kwargs,
    )


def test_compute_optimal_logs_its_curves_and_efficiency(tmp_path):
    main(compute_optimal_config(tmp_path, tracking=TENSORBOARD))
    logged = scalars(tmp_path / "out" / "tensorboard")
    at = "compute_optimal/oracle"
    assert logged[f"{at}/compute-optimal/accuracy"] == [(1, 1.0), (2, 1.0), (4, 1.0)]
    assert logged[f"{at}/best-of-N weighted/accuracy"] == [(1, 0.5), (2, 0.75), (4, 1.0)]
    assert logged[f"{at}/majority/accuracy"] == [(1, 0.25), (2, 0.5), (4, 0.75)]
    assert logged[f"{at}/efficiency"] == [(0, 4.0)]  # best-of-N's 4 generations matched with 1
    assert logged[f"{at}/efficiency_by_budget"] == [(1, 1.0), (2, 2.0), (4, 4.0)]


def test_no_tracking_by_default(tmp_path):
    main(compute_optimal_config(tmp_path))
    assert (tmp_path / "out" / "compute_optimal.md").exists() and not (tmp_path / "out" / "tensorboard").exists()


def test_prm_eval_logs_aucs_and_best_of_n_curves(tmp_path):
    # one question: the correct sample scores 0.9, the 3 agreeing wrong ones 0.2
    items = [
        (Sample("e", i, "", ["x"], "1" if i < 1 else "9", i < 1, 1, "eos"), [0.9 if i < 1 else 0.2]) for i in range(4)
    ]
    summary = dataclasses.replace(prm.evaluate({prm.PRM: {"e": items}}, [1, 4], seed=0), step_auc=0.7)
    log_figures(TENSORBOARD, tmp_path, "prm", prm.tracked_figures(summary))
    logged = scalars(tmp_path / "tensorboard")
    assert logged["prm/step_auc"] == [(0, 0.7)] and logged["prm/PRM/within_question_auc"] == [(0, 1.0)]
    assert logged["prm/best-of-N weighted (last)/accuracy"] == [(1, 0.25), (4, 1.0)]
    assert logged["prm/majority/accuracy"] == [(1, 0.25), (4, 0.0)]
    assert "prm/likelihood/within_question_auc" not in logged  # no baseline verifier


def test_search_logs_each_line_against_the_budget(tmp_path):
    records = [
        EvalResult(q, "best_of_n", {"n": n}, n, correct=float(c), generations=n, name="Best-of-N", **FIELDS)
        for n, cs in {1: (1, 0), 4: (1, 1)}.items()
        for q, c in zip("ab", cs)
    ]
    (tmp_path / "results.jsonl").write_text("".join(to_json(r) + "\n" for r in records))
    search_report.write(tmp_path / "results.jsonl")
    assert search_figures(tmp_path / search_report.NUMBERS) == {"search/Best-of-N/accuracy": {1: 0.5, 4: 1.0}}


def test_a_bad_tracker_is_a_config_error_before_anything_runs(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="unknown tracker.*'mlflow'.*known: tensorboard, wandb, trackio"):
        Tracking(report_to=["mlflow"])
    flags = ["--results", "[r.jsonl]", "--bins", "{oracle: b.json}", "--output_dir", str(tmp_path / "out")]
    with pytest.raises(ConfigError, match="command line: tracking: .*unknown tracker"):
        parse_config(ComputeOptimalConfig, [*flags, "--tracking.report_to", "[tensorbord]"])
    assert parse_config(ComputeOptimalConfig, [*flags, "--tracking.report_to", "[tensorboard]"]).tracking == TENSORBOARD
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *args: None)  # nothing installed
    with pytest.raises(ConfigError, match=r"\['wandb'\] not installed"):
        Tracking(report_to=["wandb"])
    assert not (tmp_path / "out").exists()
