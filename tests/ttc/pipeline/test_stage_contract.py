"""The stage contract (ttc/stages/spec.py): every module the graph or the CLI names declares one
`STAGE = StageSpec(...)`, and that record, not a module attribute probed by name, says how the
stage runs; reading the graph (`ttc --help`) imports no stage."""

import dataclasses
import subprocess
import sys
import types

import pytest

from data import shards
from tests.support.runs import REPO
from ttc.pipeline import cli
from ttc.pipeline.graph import GRAPH
from ttc.stages.spec import StageSpec, load_spec

MODULES = sorted({s.module for s in GRAPH} | set(cli.stage_commands().values()))
SHARD_FIELDS = {"output_dir", "shard", "num_shards", "overwrite"}  # what claim() and `ttc merge` read


@pytest.mark.parametrize("module", MODULES)
def test_each_stage_module_declares_its_spec(module):
    spec = load_spec(module)
    fields = {f.name for f in dataclasses.fields(spec.config)}
    assert "output_dir" in fields  # `ttc <command>` locks it (cli.guard)
    if spec.sharded:
        assert SHARD_FIELDS <= fields and spec.volatile >= shards.VOLATILE
    else:
        assert spec.volatile == shards.VOLATILE, "volatile settings are a sharded stage's (resumed shards)"


def test_a_stage_handed_an_lm_can_take_it():
    assert all(s.spec().run is not None for s in GRAPH if s.lm), "a stage with `lm` declares run(cfg, lm)"


def test_how_each_stage_runs_is_what_its_spec_says():
    """The graph's launches before the specs held them: sharded, torchrun trainers, CPU only."""
    sharded = {
        "sample_train",
        "label",
        "sample_trajectories",
        "sample_test",
        "eval_search",
        "trajectories",
        "chains_train",
        "chains_test",
        "eval_revision_grid",
        "large_greedy",
    }
    assert {s.name for s in GRAPH if s.spec().sharded} == sharded
    assert {s.name for s in GRAPH if s.resource_class == "trainer"} == {"train_prm", "train_reviser", "train_orm"}
    assert {s.name for s in GRAPH if s.resource_class == "cpu"} == {
        "trajectories",
        "orm_data",
        "compute_optimal",
        "compute_optimal_revisions",
        "flops_matched",
        "flops_matched_revisions",
    }
    assert {s.name for s in GRAPH if s.spec().check_inputs} == {"train_prm", "train_orm", "difficulty"}


def test_a_module_without_a_spec_is_refused_naming_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "not_a_stage", types.SimpleNamespace(STAGE="sample"))
    with pytest.raises(TypeError, match=r"^not_a_stage.STAGE: expected a StageSpec, got str$"):
        load_spec("not_a_stage")


def test_claim_and_run_stage_refuse_a_stage_that_is_not_sharded():
    from ttc.stages.common import claim, run_stage

    spec = load_spec("eval.prm")
    with pytest.raises(TypeError, match="PRMEvalConfig: claim"):
        claim(object(), spec)
    with pytest.raises(TypeError, match="PRMEvalConfig: run_stage"):
        run_stage(object(), StageSpec(config=spec.config, main=spec.main))


def test_the_usage_imports_no_stage_and_no_torch():
    code = (
        "import sys\nfrom ttc.pipeline import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m in set(cli.stage_commands().values())))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
