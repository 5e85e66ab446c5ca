"""The sampling stage on the real transformers backend and the toy base model."""

import subprocess
import sys
from typing import cast

import pytest

from data.problems import DataConfig, load_problems
from data.records import Sample, read_records
from data.shards import merge
from tests.support.runs import Interrupted
from ttc.lm.sampling import SamplingConfig
from ttc.lm.spec import LMConfig
from ttc.stages import sample


def config(out, model, shard=0, num_shards=1, batch_problems=4):
    return sample.SampleConfig(
        output_dir=str(out),
        lm=LMConfig(model=str(model)),
        data=DataConfig(levels=[1, 3], per_level=3),
        sampling=SamplingConfig(n=4, temperature=0.8, max_tokens=48, seed=7),
        shard=shard,
        num_shards=num_shards,
        batch_problems=batch_problems,
    )


def test_two_shards_merge_to_the_same_bytes_as_one(tmp_path, toy_base_path, hf_lm):
    one = sample.run(config(tmp_path / "one", toy_base_path), hf_lm)
    for i in range(2):
        cfg = config(tmp_path / "two", toy_base_path, i, 2)
        sample.run(cfg, hf_lm)
    two = merge(tmp_path / "two", cast(str, sample.STAGE.records), 2)
    assert one.read_bytes() == two.read_bytes()
    samples = read_records(one, Sample)
    assert len(samples) == 6 * 4
    assert [s.index for s in samples[:4]] == [0, 1, 2, 3]


def test_killed_run_resumes_without_redoing_or_losing_work(tmp_path, toy_base_path, hf_lm, dies_after_first_call):
    reference = sample.run(config(tmp_path / "ref", toy_base_path), hf_lm).read_bytes()
    cfg = config(tmp_path / "killed", toy_base_path, batch_problems=2)
    with pytest.raises(Interrupted):
        sample.run(cfg, dies_after_first_call(hf_lm))
    before = hf_lm.ledger.requests
    assert sample.run(cfg, hf_lm).read_bytes() == reference
    assert hf_lm.ledger.requests - before == 4  # only the 4 problems not finished before the kill


def test_samples_are_graded(tmp_path, toy_base_path, hf_lm):
    samples = read_records(sample.run(config(tmp_path, toy_base_path), hf_lm), Sample)
    answers = {p.id: p.answer for p in load_problems(DataConfig(levels=[1, 3], per_level=3))}
    for s in samples:
        assert s.correct == (s.answer == answers[s.problem_id])
        assert s.steps and s.text.startswith(s.steps[0])
    assert any(s.correct for s in samples)  # level 1 is easy for the base model


def test_cli_runs_and_rejects_unknown_keys(tmp_path, toy_base_path):
    base = [
        sys.executable,
        "-m",
        "ttc.pipeline.cli",
        "sample",
        "--output_dir",
        str(tmp_path),
        "--lm.model",
        str(toy_base_path),
        "--data.per_level",
        "1",
        "--data.levels",
        "[1]",
        "--sampling.n",
        "2",
        "--sampling.max_tokens",
        "32",
    ]
    done = subprocess.run(base, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert len(read_records(tmp_path / "samples.jsonl", Sample)) == 2
    bad = subprocess.run(base + ["--sampling.temprature", "1"], capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "unknown key 'sampling.temprature'" in bad.stderr
