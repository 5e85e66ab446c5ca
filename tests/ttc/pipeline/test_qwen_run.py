"""The Qwen run a user starts on day one, rehearsed in one process: `ttc pipeline` on
configs/qwen2.5-math-1.5b/pipeline.yaml as written, nothing skipped, on the stand-in world (real
Qwen2.5 vocabulary and hub ids, MATH in the release's layout with the PRM800K split, ProcessBench
in the hub cache), at tiny sizes on the CPU (tests/support/qwen.py). tests/slurm/test_qwen_slurm.py
submits the same run to Slurm."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from data.prm_bench import PROCESSBENCH_SPLITS
from data.prm_format import FORMAT_FILE
from data.records import read_records
from eval.prm_bench import PREDICTIONS, BenchSummary, ItemRecord
from tests.support.qwen import LARGE, PROCESSBENCH, PROCESSBENCH_KINDS, RECIPE, QwenWorld, build_qwen_world, tiny_flags
from tests.support.runs import REPO
from ttc.lm import count_parameters
from ttc.pipeline.command import parse
from ttc.pipeline.graph import stage
from ttc.pipeline.report import parts


def check_report(run: Path, world) -> None:
    """Every part of the report present, nothing skipped, the PRM's training prompt recorded, the
    larger model's size counted from its config.json."""
    report = (run / "report.md").read_text()
    assert f"{len(parts())} of {len(parts())} parts found." in report, report[:2000]
    assert "missing" not in report and "skipped by the recipe" not in report
    assert json.loads((run / "run.json").read_text())["skipped"].keys() <= {
        "toy_base",
        "toy_base_context",
        "toy_base_careless",
        "toy_large",
        "toy_large_careless",
    }
    assert json.loads((run / "train_prm" / FORMAT_FILE).read_text())["prompt"]["num_shots"] == 0  # prm.yaml's
    sizes = (run / "flops_matched" / "flops_matched.md").read_text()
    assert f"larger: {count_parameters(str(world.model(LARGE))):,}, 19,000,000,000,000" in sizes
    check_bench_prm(run)


def check_bench_prm(run: Path) -> None:
    """ProcessBench from the hub cache, its 4 splits scored whole for the run's PRM and the policy's
    likelihood (a prediction of each for every item), and the two compared on the average F1."""
    summary = BenchSummary.load(run / "bench_prm" / "prm_bench.json")
    assert (summary.benchmark, summary.data) == ("processbench", PROCESSBENCH)
    erroneous = sum(kind != "right" for kind in PROCESSBENCH_KINDS)
    for verifier in ("prm", "likelihood"):
        result = summary.processbench[verifier]
        assert set(result.splits) == set(PROCESSBENCH_SPLITS), (verifier, result.splits)
        assert all(
            (s.n_erroneous, s.n_correct) == (erroneous, len(PROCESSBENCH_KINDS) - erroneous)
            for s in result.splits.values()
        ), result.splits
        assert result.average_f1.value is not None and 0 <= result.average_f1.value <= 1
    items = read_records(run / "bench_prm" / PREDICTIONS, ItemRecord)
    assert len(items) == len(PROCESSBENCH_SPLITS) * len(PROCESSBENCH_KINDS)
    assert all(
        set(i.predicted) == {"prm", "likelihood"} and {*i.predicted.values()} <= {-1, 0, 1}  # two steps
        for i in items
    )
    assert [c.metric for c in summary.comparisons][-1] == "average F1"
    assert (summary.comparisons[-1].a, summary.comparisons[-1].b) == ("prm", "likelihood")
    assert "## prm" in (run / "bench_prm" / "prm_bench.md").read_text()


def test_the_rehearsal_changes_only_the_dtype_of_the_bench_verifiers(tmp_path):
    """bench_prm on the CPU runs its recipe's verifiers (vLLM PRM, batch sizes), only in float32."""
    run, _ = parse(["--config", RECIPE, "--run_dir", str(tmp_path), *tiny_flags(QwenWorld(tmp_path / "world"))])
    cfg = run.build(stage("bench_prm"), run.settings(stage("bench_prm")))
    recipe = yaml.safe_load((REPO / "configs/qwen2.5-math-1.5b/bench_prm.yaml").read_text())
    for name, spec in recipe["verifiers"].items():
        assert {k: getattr(cfg.verifiers[name], k) for k in spec} == {**spec, "dtype": "float32"}  # paths: the run's
    assert cfg.verifiers["prm"].path == str(tmp_path / "train_prm")  # the run's PRM
    assert cfg.verifiers["likelihood"].path == run.cfg.base.model  # the run's base model
    assert (cfg.benchmark, cfg.data) == ("processbench", PROCESSBENCH)


@pytest.mark.slow
def test_the_qwen_run_in_one_process(tmp_path):
    world = build_qwen_world()
    run = tmp_path / "qwen"
    command = [
        sys.executable,
        "-m",
        "ttc.pipeline.cli",
        "pipeline",
        "--config",
        RECIPE,
        "--run_dir",
        str(run),
        *tiny_flags(world),
    ]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=3600, env={**os.environ, **world.env()}
    )
    assert done.returncode == 0, done.stderr[-5000:]
    check_report(run, world)
