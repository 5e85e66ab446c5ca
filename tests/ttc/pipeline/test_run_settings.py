"""A run's settings reach its stages as the recipe means them (issue 23's day-one failures of the Qwen
run): engine shares that fit one GPU, the reviser served as the run says, a stage's whole grid, the
larger model and every stage named, Slurm jobs that ask for what they use, skipped parts said so."""

import json
import os
import shlex
import subprocess
import sys

import pytest

from data.config import ConfigError
from tests.support.runs import REPO
from ttc.pipeline import command
from ttc.pipeline.report import write
from ttc.pipeline.slurm import submit

QWEN = REPO / "configs" / "qwen2.5-math-1.5b" / "pipeline.yaml"
TOY = REPO / "configs" / "toy" / "demo.yaml"


def qwen(tmp_path, *flags):
    return command.parse(["--config", str(QWEN), "--run_dir", str(tmp_path / "run"), *flags])


def test_the_qwen_run_skips_nothing(tmp_path):
    run, _ = qwen(tmp_path)
    assert run.cfg.skip == [] and all(name.startswith("toy_") for name in run.skipped)
    assert {"large_greedy", "eval_prm", "eval_revision_grid", "flops_matched_revisions"} <= {s.name for s in run.stages}


def test_each_stage_takes_its_own_share_of_the_gpu_and_the_runs_model(tmp_path):
    run, _ = qwen(tmp_path)
    by_name = {s.name: s for s in run.stages}
    policy = run.settings(by_name["policy"])
    assert policy["lm"]["gpu_memory_utilization"] + policy["prm"]["gpu_memory_utilization"] <= 1  # was 0.9 + 0.3
    assert policy["lm"]["model"] == "Qwen/Qwen2.5-Math-1.5B" and policy["lm"]["max_model_len"] == 4096
    chains = run.settings(by_name["chains_test"])["reviser"]  # the reviser as the run serves it (was float32, no limit)
    assert (chains["dtype"], chains["max_model_len"], chains["backend"]) == ("bfloat16", 4096, "vllm")
    assert chains["model"] == str(tmp_path / "run" / "train_reviser")


def test_engines_that_do_not_fit_one_gpu_are_refused_naming_the_stage(tmp_path):
    with pytest.raises(ConfigError, match=r"stages.eval_search.*0.95 \(lm\) \+ 0.3 \(prm\) = 1.25"):
        run, _ = qwen(tmp_path, "--stages.eval_search.lm.gpu_memory_utilization", "0.95")
        run.settings(next(s for s in run.stages if s.name == "eval_search"))


def test_a_stage_entrys_grid_replaces_its_recipes_as_a_flag_does(tmp_path):
    run, _ = command.parse(["--config", str(TOY), "--run_dir", str(tmp_path / "run")])
    grid = run.settings(next(s for s in run.stages if s.name == "eval_revision_grid"))["strategies"]
    assert list(grid) == [
        "Revisions; parallel",
        "Revisions; ratio 1",
        "Revisions; sequential",
        "Revisions; majority, ratio 1",
    ]  # the demo's four, not the recipe's six


def test_the_larger_model_and_every_stage_must_be_named(tmp_path):
    recipe, text = tmp_path / "r.yaml", TOY.read_text()
    no_large = text[: text.index("large:")] + text[text.index("reviser:") :]
    recipe.write_text(no_large)
    with pytest.raises(ConfigError, match="stage 'large_greedy' needs the larger model: add a `large:` section"):
        command.parse(["--config", str(recipe), "--run_dir", str(tmp_path / "run")])
    no_entry = text.replace("  large_greedy: {recipe: configs/toy/sample_large.yaml}\n", "")
    recipe.write_text(no_entry)
    with pytest.raises(ConfigError, match=r"r.yaml:\d+: no entry for stage 'large_greedy'"):
        command.parse(["--config", str(recipe), "--run_dir", str(tmp_path / "run")])


def test_slurm_jobs_ask_for_their_class_of_resources_and_run_the_submitting_python(tmp_path, capsys):
    run, flags = qwen(tmp_path, "--stages.large_greedy.resources.gpus", "8")
    jobs = submit(run, flags, shards=8, dry_run=True)
    lines = {
        line.split("--job-name=")[1].split()[0]: line
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("sbatch ")
    }
    assert len(jobs) == len(lines)
    assert "--gpus-per-node=1 --cpus-per-task=8 --mem=64G --time=12:00:00" in lines["ttc-sample_test"]
    assert "--array=0-7" in lines["ttc-sample_test"]
    assert "--gpus-per-node=8 --cpus-per-task=64 --mem=512G" in lines["ttc-train_prm"]
    assert "MASTER_PORT=" in lines["ttc-train_prm"]
    assert "--gpus-per-node=8" in lines["ttc-large_greedy"]  # the stage's own over its class's
    for cpu_job in ("ttc-sample_test-merge", "ttc-compute_optimal", "ttc-flops_matched", "ttc-report"):
        assert "--gpus-per-node" not in lines[cpu_job] and "--cpus-per-task=4 --mem=16G" in lines[cpu_job], cpu_job
    assert (
        "--cpus-per-task=1 --mem=16G --time=4:00:00" in lines["ttc-trajectories"]
        and "--gpus-per-node" not in lines["ttc-trajectories"]
    )
    assert all(f"--export=ALL,PYTHON={sys.executable}" in line for line in lines.values())
    assert json.loads((tmp_path / "run" / "run.json").read_text())["skipped"] == {
        s: "toy models: --from-scratch only" for s in run.skipped
    }


def test_bad_resources_name_the_recipe_line(tmp_path):
    run, flags = qwen(tmp_path, "--stages.trajectories.resources.time", "six hours")
    with pytest.raises(ConfigError, match=r"pipeline.yaml: stages.trajectories.resources: time: expected sbatch's"):
        submit(run, flags, dry_run=True)


def test_the_report_says_what_the_recipe_skipped(tmp_path):
    run, _ = command.parse(["--config", str(TOY), "--run_dir", str(tmp_path / "run"), "--skip", "[large_greedy]"])
    run.write_plan()
    text = write(run.run_dir).read_text()
    assert "flops_matched: skipped by the recipe (it reads large_greedy)" in text
    head = text.splitlines()[2]
    assert "FLOPs-matched" in head.split("skipped by the recipe: ")[1].split(";")[0] and "missing: FLOPs" not in text


def test_the_plan_is_the_same_bytes_whatever_the_hash_seed(tmp_path):
    """run.json is part of the committed evidence: its skipped stages come from sets, so they are sorted."""
    run, _ = command.parse(["--config", str(TOY), "--run_dir", str(tmp_path / "run"), "--skip", "[large_greedy]"])
    run.write_plan()
    skipped = list(json.loads((run.run_dir / "run.json").read_text())["skipped"])
    assert len(skipped) > 2 and skipped == sorted(skipped)


def test_a_cut_done_marker_is_one_error_naming_it_and_markers_are_written_whole(tmp_path):
    from ttc.pipeline.graph import GRAPH
    from ttc.pipeline.run import DONE

    run, _ = command.parse(["--config", str(TOY), "--run_dir", str(tmp_path / "run")])
    stage = next(s for s in GRAPH if s.name == "difficulty")
    marker = run.dir(stage.name) / DONE
    run.mark_done(stage, {"num_bins": 5}, run.build(stage, run.settings(stage)), 1.5)
    assert run.done(stage, {"num_bins": 5}) and not list(marker.parent.glob("*.tmp"))
    marker.write_text("")  # a crash before the fix could leave it so
    with pytest.raises(
        ConfigError, match=rf"^{marker}: not a finished stage's marker .*delete it to run the stage again"
    ):
        run.done(stage, {"num_bins": 5})


def readme_submissions() -> list[str]:
    """Every `slurm/pipeline.sh` line of the README's Qwen walkthrough, continuations joined."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## The Qwen run on a cluster") : text.index("## Use a public PRM")]
    joined = section.replace("\\\n", " ")
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip().startswith("slurm/pipeline.sh")]


@pytest.mark.e2e
def test_the_readme_walkthroughs_submissions_run_as_written(tmp_path):
    lines = readme_submissions()
    assert len(lines) == 2
    for line in lines:
        argv = [a.replace("runs/qwen", str(tmp_path / "qwen")) for a in shlex.split(line)]
        if "--dry-run" not in argv:
            argv.append("--dry-run")
        done = subprocess.run(
            argv, cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable}
        )
        assert done.returncode == 0, done.stderr
        assert "| ttc-large_greedy | 1 | " in done.stderr and "| ttc-report |" in done.stderr
    assert "| ttc-large_greedy | 1 | 8 |" in done.stderr  # the 72B line: 8 GPUs for the larger model's greedy answers


def test_difficulty_asking_more_samples_than_drawn_fails_before_any_job(tmp_path):
    run, flags = qwen(tmp_path, "--stages.sample_test.sampling.n", "64")  # difficulty.yaml reads 256 a question
    with pytest.raises(
        ConfigError,
        match=r"pipeline.yaml:\d+: num_samples 256 a question, but the samples it reads "
        r"are 64 a question",
    ):
        submit(run, flags, dry_run=True)


def test_the_orm_trained_on_another_format_than_its_data_was_fitted_to_is_refused(tmp_path):
    run, flags = qwen(tmp_path, "--stages.orm_data.format.step_tag", "<|box_start|>")
    with pytest.raises(ConfigError, match=r"pipeline.yaml:\d+: format .* differs from the format its labels were"):
        submit(run, flags, dry_run=True)


def finish(run, name: str, values: dict) -> None:
    """Mark a stage of `run` finished with `values` (what local.run_all does once it succeeded)."""
    from ttc.pipeline.graph import stage

    run.mark_done(stage(name), values, run.build(stage(name), run.settings(stage(name))), 1.0)


def test_a_stage_made_from_an_upstream_stage_redone_otherwise_is_not_done(tmp_path):
    """Issue 25: after sample_test was redone (its folder deleted, rerun with other settings), eval_prm,
    difficulty and the rest stayed cached, and the report paired new samples with old results."""
    from ttc.pipeline.graph import stage

    run, _ = command.parse(["--config", str(TOY), "--run_dir", str(tmp_path / "run")])
    for name in ("sample_test", "eval_prm", "difficulty"):
        finish(run, name, run.settings(stage(name)))
    assert run.done(stage("eval_prm"), run.settings(stage("eval_prm")))
    redone, _ = command.parse(
        ["--config", str(TOY), "--run_dir", str(tmp_path / "run"), "--stages.sample_test.sampling.n", "4"]
    )
    (redone.dir("sample_test") / "DONE").unlink()  # the refusal's advice for sample_test: delete it, rerun
    same, _ = command.parse(["--config", str(TOY), "--run_dir", str(tmp_path / "run")])
    assert same.done(stage("eval_prm"), same.settings(stage("eval_prm")))  # redone as it was: the same bytes
    stale = (
        rf"made from sample_test under other settings than {TOY} now gives it \(or a stage before it\): delete "
        rf"the finished stages made from it \({redone.dir('eval_prm')} {redone.dir('difficulty')}\)"
    )
    with pytest.raises(ConfigError, match=rf"^{redone.dir('eval_prm')}: {stale}"):
        redone.done(stage("eval_prm"), redone.settings(stage("eval_prm")))
    finish(redone, "sample_test", redone.settings(stage("sample_test")))  # redone: a new stamp
    with pytest.raises(ConfigError, match=stale):
        redone.done(stage("eval_prm"), redone.settings(stage("eval_prm")))


def test_a_stage_job_refuses_upstream_outputs_made_with_other_settings(tmp_path):
    """Issue 25: `--stage S` with other flags than its upstream's ran on their outputs and rewrote DONE."""
    from ttc.pipeline.graph import stage
    from ttc.pipeline.local import run_one

    run, _ = command.parse(["--config", str(TOY), "--run_dir", str(tmp_path / "run")])
    finish(run, "sample_test", run.settings(stage("sample_test")))
    other, _ = command.parse(
        ["--config", str(TOY), "--run_dir", str(tmp_path / "run"), "--stages.sample_test.sampling.n", "4"]
    )
    with pytest.raises(ConfigError, match=r"sample_test: finished with other settings .*sampling.n: 32 then, 4 now"):
        run_one(other, "eval_prm")
    with pytest.raises(ConfigError, match=r"--stage compute_optimal: reads difficulty, which is not finished"):
        run_one(run, "compute_optimal")


def test_one_writer_a_run_and_a_stage_refused_at_once(tmp_path):
    """Issue 25: two `--stage policy` jobs on one run both ran and wrote the same files; a second
    `ttc demo` on the same run was refused only after 30 s, once it had loaded its models."""
    from data.lock import LockError
    from ttc.pipeline.local import run_all, run_one

    run, _ = command.parse(["--config", str(TOY), "--run_dir", str(tmp_path / "run")])
    holders = []
    try:
        for lock in (run.run_dir / ".lock-pipeline", run.dir("policy") / ".lock-stage"):
            lock.parent.mkdir(parents=True, exist_ok=True)
            holders.append(
                subprocess.Popen(  # another process holds it, as a running pipeline or job would
                    [
                        sys.executable,
                        "-c",
                        f"from data.lock import hold; hold({str(lock)!r}, 'x'); print(1, flush=True); "
                        "import time; time.sleep(60)",
                    ],
                    cwd=REPO,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
            assert holders[-1].stdout.readline().strip() == "1"
        with pytest.raises(LockError, match=rf"^{run.run_dir}: the pipeline is being written by pid {holders[0].pid}"):
            run_all(run)
        with pytest.raises(LockError, match=rf"^{run.dir('policy')}: stage policy is being written by pid"):
            run_one(run, "policy")
    finally:
        for p in holders:
            p.kill()
            p.wait()


def test_a_run_is_the_same_run_moved_or_reached_by_another_path(tmp_path):
    """Issue 25: the same run reached through `../x` then an absolute path, or moved, was refused at
    every stage (paths were fingerprinted as typed); a local run continued on Slurm (absolute) too."""
    from ttc.pipeline.graph import stage

    def finished(run_dir: str) -> bool:
        run, _ = command.parse(["--config", str(TOY), "--run_dir", run_dir])
        return all(run.done(stage(name), run.settings(stage(name))) for name in ("sample_test", "eval_prm"))

    run, _ = command.parse(["--config", str(TOY), "--run_dir", os.path.relpath(tmp_path / "x")])
    for name in ("sample_test", "eval_prm"):
        finish(run, name, run.settings(stage(name)))
    assert finished(str(tmp_path / "x")) and finished(os.path.relpath(tmp_path / "x"))
    (tmp_path / "x").rename(tmp_path / "moved")
    assert finished(str(tmp_path / "moved"))


def test_a_stage_flag_is_read_by_its_fields_type(tmp_path):
    """Issue 25: command-line values were YAML, so `010` became 8 in a stage's settings."""
    from ttc.pipeline.graph import stage

    run, _ = command.parse(
        ["--config", str(TOY), "--run_dir", str(tmp_path / "run"), "--stages.sample_test.sampling.n", "010"]
    )
    assert run.settings(stage("sample_test"))["sampling"]["n"] == 10
