"""`ttc chains` on the real transformers backend, with the toy base model as the reviser (not
trained on the revision format: this checks the stage's mechanics, not its chains' quality)."""

from typing import cast

import pytest

from data.problems import DataConfig, load_problems
from data.shards import merge
from tests.support.runs import Interrupted
from ttc.lm import LMBase
from ttc.lm.spec import LMConfig
from ttc.revise import read_chain_sets
from ttc.stages import chains

DATA = DataConfig(levels=[1, 3], per_level=3)


def config(out, model, shard=0, num_shards=1, batch_problems=2):
    return chains.ChainsConfig(
        output_dir=str(out),
        reviser=LMConfig(model=str(model)),
        data=DATA,
        chains=2,
        length=2,
        max_tokens=48,
        seed=7,
        shard=shard,
        num_shards=num_shards,
        batch_problems=batch_problems,
    )


class DiesAfter(LMBase):
    """A real LM whose call number `calls + 1` is a kill."""

    def __init__(self, lm, calls):
        self.lm, self.ledger, self.calls = lm, lm.ledger, calls

    @property
    def num_parameters(self) -> int:
        return self.lm.num_parameters

    def generate(self, requests):
        if self.calls == 0:
            raise Interrupted
        self.calls -= 1
        return self.lm.generate(requests)


def test_every_problem_gets_k_chains_of_t_unscored_attempts(tmp_path, toy_base_path):
    path = chains.main(config(tmp_path, toy_base_path))  # loads the reviser itself
    assert path == tmp_path / "chains.jsonl" and (tmp_path / "config.shard-0.yaml").is_file()
    chain_sets = read_chain_sets(path, load_problems(DATA))
    assert len(chain_sets) == 6
    for cs in chain_sets:
        assert [len(chain) for chain in cs.chains] == [2, 2]
        assert {a.score for chain in cs.chains for a in chain} == {None}  # no ORM here


def test_two_shards_merge_to_the_same_bytes_as_one(tmp_path, toy_base_path, hf_lm):
    one = chains.run(config(tmp_path / "one", toy_base_path), hf_lm)
    for i in range(2):
        chains.run(config(tmp_path / "two", toy_base_path, i, 2), hf_lm)
    assert merge(tmp_path / "two", cast(str, chains.STAGE.records), 2).read_bytes() == one.read_bytes()


def test_killed_run_resumes_without_redoing_or_losing_work(tmp_path, toy_base_path, hf_lm):
    reference = chains.run(config(tmp_path / "ref", toy_base_path), hf_lm).read_bytes()
    cfg = config(tmp_path / "killed", toy_base_path)
    with pytest.raises(Interrupted):
        chains.run(cfg, DiesAfter(hf_lm, 3))  # the first batch of 2 problems (2 steps) done, the second cut
    assert len((tmp_path / "killed" / "chains.shard-00000-of-00001.partial").read_text().splitlines()) == 2
    before = hf_lm.ledger.requests
    assert chains.run(cfg, hf_lm).read_bytes() == reference
    assert hf_lm.ledger.requests - before == 4 * 2 * 2  # the 4 problems left, 2 chains x 2 steps each


def test_config_checks(tmp_path):
    with pytest.raises(ValueError, match=">= 1"):
        chains.ChainsConfig(output_dir=str(tmp_path), reviser=LMConfig(model="m"), length=0)
    with pytest.raises(ValueError, match="temperature"):
        chains.ChainsConfig(output_dir=str(tmp_path), reviser=LMConfig(model="m"), temperature=-1)
    assert chains.ChainsConfig(
        output_dir=str(tmp_path), reviser=LMConfig(model="m"), chains=3, length=5
    ).revision_config().split == (3, 5)
