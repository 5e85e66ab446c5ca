"""MC step labelling on the real transformers backend and the toy base model."""

from typing import cast

import pytest

from data import labels as labelling
from data.problems import DataConfig, load_problems
from data.records import Sample, StepLabels, read_records
from data.shards import merge
from tests.support.runs import Interrupted
from ttc.lm.sampling import SamplingConfig
from ttc.lm.spec import LMConfig
from ttc.stages import label, sample

DATA = DataConfig(levels=[2, 4], per_level=3)


@pytest.fixture(scope="module")
def samples_file(tmp_path_factory, toy_base_path, hf_lm):
    cfg = sample.SampleConfig(
        output_dir=str(tmp_path_factory.mktemp("samples")),
        lm=LMConfig(model=str(toy_base_path)),
        data=DATA,
        sampling=SamplingConfig(n=3, temperature=0.8, max_tokens=64),
    )
    return sample.run(cfg, hf_lm)


def config(out, model, samples, shard=0, num_shards=1, batch_problems=3):
    return label.LabelConfig(
        output_dir=str(out),
        samples=str(samples),
        lm=LMConfig(model=str(model)),
        data=DATA,
        rollouts=label.RolloutConfig(k=4, max_tokens=64, seed=3),
        shard=shard,
        num_shards=num_shards,
        batch_problems=batch_problems,
    )


def test_labels_are_mc_values_of_every_kept_solution(tmp_path, toy_base_path, hf_lm, samples_file):
    path = label.run(config(tmp_path, toy_base_path, samples_file), hf_lm)
    records = read_records(path, StepLabels)
    samples = read_records(samples_file, Sample)
    kept = [s for s in samples if labelling.labelable(s)]
    assert [(r.problem_id, r.sample_index) for r in records] == [(s.problem_id, s.index) for s in kept]
    for r, s in zip(records, kept):
        assert r.steps == s.steps and len(r.values) == len(s.steps)
        assert r.rollouts == [4] * (len(s.steps) - 1) + [0]
        assert all(v in (0, 0.25, 0.5, 0.75, 1.0) for v in r.values)
        assert r.values[-1] == float(s.correct)
    # one request of n=k rollouts per distinct step prefix, all in ONE call per batch
    assert hf_lm.ledger.per_call[-1]["generations"] == 4 * hf_lm.ledger.per_call[-1]["requests"]


def test_shards_merge_to_the_same_bytes_and_resume(tmp_path, toy_base_path, hf_lm, samples_file, dies_after_first_call):
    one = label.run(config(tmp_path / "one", toy_base_path, samples_file), hf_lm).read_bytes()
    for i in range(2):
        label.run(config(tmp_path / "two", toy_base_path, samples_file, i, 2), hf_lm)
    assert merge(tmp_path / "two", cast(str, label.STAGE.records), 2).read_bytes() == one
    killed = config(tmp_path / "killed", toy_base_path, samples_file, batch_problems=2)
    with pytest.raises(Interrupted):
        label.run(killed, dies_after_first_call(hf_lm))
    assert label.run(killed, hf_lm).read_bytes() == one


def test_unknown_problem_in_samples_is_an_error(tmp_path, toy_base_path, samples_file):
    with pytest.raises(Exception, match="problem_id"):
        label.samples_by_problem(samples_file, load_problems(DataConfig(levels=[1], per_level=1)), None)
