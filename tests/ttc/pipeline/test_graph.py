"""The stage graph: ordered, one command per module, and open: a new stage is one graph entry plus
its module (ending with its `STAGE`), and then it runs here, is submitted to Slurm after what it
reads, is a `ttc` command, and shows in the report."""

import sys
import textwrap

import pytest

from tests.support.runs import REPO
from ttc.pipeline import cli, command, graph
from ttc.pipeline.graph import GRAPH, LMOf, Out, Questions, Stage, sources, upstream
from ttc.pipeline.local import run_all
from ttc.pipeline.report import write
from ttc.pipeline.slurm import submit

RECIPE = REPO / "configs" / "toy" / "demo.yaml"


def test_every_stage_reads_only_stages_before_it():
    seen = set()
    for s in GRAPH:
        assert upstream(s, from_scratch=True) <= seen, s.name
        assert all(src.stage in seen for src in sources(s.inputs) if isinstance(src, Out)), s.name
        seen.add(s.name)
    assert len(seen) == len(GRAPH)


def test_each_command_runs_one_module_and_is_a_ttc_subcommand():
    commands = graph.commands()
    assert commands["sample"] == "ttc.stages.sample" and commands["eval"] == "eval.search"
    assert set(commands) <= set(cli.stage_commands())


MODULE = '''
"""majority@N of a model, a toy stage added to the graph in a test."""
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from data.problems import DataConfig, load_problems
from ttc.lm.spec import LMConfig, load_lm
from ttc.lm.sampling import SamplingConfig, grade
from ttc.stages.spec import StageSpec


@dataclass
class Config:
    output_dir: str
    lm: LMConfig
    data: DataConfig = field(default_factory=DataConfig)
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(n=3, max_tokens=64))


def run(cfg, lm):
    problems = load_problems(cfg.data)
    correct = []
    for p, completions in zip(problems, lm.generate([cfg.sampling.request(p.question, p.id) for p in problems])):
        samples = [grade(p, i, c, []) for i, c in enumerate(completions)]
        votes = Counter(s.answer for s in samples if s.answer is not None)
        top = votes.most_common(1)[0][0] if votes else None
        correct.append(any(s.correct for s in samples if s.answer == top))
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "majority.md").write_text(f"majority@{cfg.sampling.n}: {sum(correct)} of {len(correct)}\\n")
    return out


def main(cfg):
    return run(cfg, load_lm(cfg.lm))


STAGE = StageSpec(config=Config, main=main, run=run)
'''


@pytest.mark.e2e
def test_a_new_stage_is_one_graph_entry_plus_its_module(tmp_path, monkeypatch, capsys):
    (tmp_path / "large_majority.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = Stage(
        "large_majority",
        "large-majority",
        "large_majority",
        {"lm": LMOf("large"), "data": Questions("test")},
        lm="large",
    )
    monkeypatch.setattr(graph, "GRAPH", (*GRAPH, entry))

    run, flags = command.parse(
        [
            "--config",
            str(RECIPE),
            "--run_dir",
            str(tmp_path / "run"),
            "--test_data.levels",
            "[1, 2]",
            "--test_data.per_level",
            "2",
            "--stages.large_majority.sampling.n",
            "2",
            "--only",
            "[large_majority]",
        ]
    )
    assert run_all(run) == ["large_majority"]
    assert (run.dir("large_majority") / "majority.md").read_text().startswith("majority@2: ")
    report = write(run.run_dir).read_text()
    assert "## Other stages" in report and "### large_majority" in report and "majority@2" in report

    assert "large-majority" in cli.stage_commands()
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    again, flags = command.parse([*flags, "--run_dir", str(tmp_path / "other")])
    assert submit(again, flags, dry_run=True) == ["1", "2"]  # the stage, then the report after it
    jobs = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sbatch")]
    assert "--stage large_majority" in jobs[0] and "--dependency=afterok:1" in jobs[1]
    del sys.modules["large_majority"]


def test_a_skipped_stage_takes_what_reads_it_along(tmp_path):
    qwen = RECIPE.parents[1] / "qwen2.5-math-1.5b" / "pipeline.yaml"
    run = command.parse(
        ["--config", str(qwen), "--run_dir", str(tmp_path), "--skip", "[large_greedy, eval_revision_grid]"]
    )[0]
    names = [s.name for s in run.stages]
    assert "large_greedy" not in names and "eval_revision_grid" not in names
    assert not {"flops_matched", "flops_matched_revisions", "compute_optimal_revisions"} & set(names)  # and so
    assert {"train_prm", "train_reviser", "train_orm", "compute_optimal", "policy"} <= set(names)
    assert run.skipped["large_greedy"] == "skipped by the recipe"
    assert run.skipped["flops_matched"] == "skipped by the recipe (it reads large_greedy)"
