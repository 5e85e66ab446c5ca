"""`ttc label --rollouts.mode binary_search`: each solution's first hard-negative step found by
binary search (data/labels.py FirstErrorSearch), against per-step labelling.

The fake LM's rollouts succeed while the prefix holds no bad step ("b<j>") and fail from the
first one on: a monotone world where the search must find the first bad step exactly, in at
most ceil(log2 T) rounds. The real toy base model then checks agreement with per-step hard
labels on the same seed, and that the search rolls out fewer prefixes.
"""

import math
from typing import Any, cast

import pytest

from data.labels import FirstErrorSearch, first_error, first_error_labels, monotone, step_labels
from data.problems import DataConfig, load_problems
from data.records import Problem, Sample, StepLabels, from_dict, read_records, to_json, write_atomic
from data.shards import SettingsError
from tests.support.fakes import ScriptedLM
from ttc.lm.sampling import SamplingConfig
from ttc.lm.spec import LMConfig
from ttc.stages import label, sample

K = 3


def rollout(so_far: str, index: int, request) -> tuple[str, str]:
    """Correct (7) from a prefix without a bad step, wrong (0) from one with a bad step."""
    return ("\\boxed{0}" if "b" in so_far else "\\boxed{7}"), "stop"


def solution(pid: str, index: int, steps: int, first_error: int | None) -> Sample:
    """`steps` lines "g<j>" (good) before `first_error`, "b<j>" from it on; correct without one."""
    lines = [f"{'g' if first_error is None or j < first_error else 'b'}{j}" for j in range(steps)]
    return Sample(
        pid, index, "\n".join(lines), lines, "7" if first_error is None else "0", first_error is None, 1, "stop"
    )


def config(mode: label.LabelMode, **paths) -> label.LabelConfig:
    return label.LabelConfig(
        output_dir=paths.get("out", ""),
        samples=paths.get("samples", ""),
        lm=LMConfig(model="fake"),
        data=paths.get("data", DataConfig()),
        rollouts=label.RolloutConfig(k=K, seed=5, mode=mode),
    )


def labelled(mode: label.LabelMode, problem: Problem, samples: list[Sample]) -> tuple[list[StepLabels], ScriptedLM]:
    lm = ScriptedLM(rollout)
    records = label.label_batch(config(mode), lm, [problem], {problem.id: samples})
    return [from_dict(StepLabels, r, "test") for r in records[0]], lm


PROBLEM = Problem("q", "1+6", "7", source="toy")


@pytest.mark.parametrize("steps", range(1, 9))
def test_the_search_finds_every_first_error_in_at_most_log2_rounds(steps):
    for first in range(steps):  # the last step is bad: the solution is incorrect
        (found,), lm = labelled("binary_search", PROBLEM, [solution("q", 0, steps, first)])
        assert found.values == [1.0] * first + [0.0] * (steps - first)
        assert len(lm.calls) <= math.ceil(math.log2(steps)), (steps, first)
        assert all(len(call) == 1 for call in lm.calls)  # one solution: one midpoint per round
        assert sum(found.rollouts) == K * len(lm.calls) and found.rollouts[-1] == 0


def test_a_correct_solution_needs_no_rollouts():
    (found,), lm = labelled("binary_search", PROBLEM, [solution("q", 0, 6, None)])
    assert found.values == [1.0] * 6 and found.rollouts == [0] * 6 and lm.calls == []


def test_a_batch_searches_in_rounds_sharing_prefixes_and_seeds_with_per_step():
    samples = [
        solution("q", i, steps, first)
        for i, (steps, first) in enumerate((s, f) for s in range(1, 9) for f in [*range(s), None])
    ]
    found, lm = labelled("binary_search", PROBLEM, samples)
    assert [first_error(r.values) for r in found] == [
        len(s.steps) if s.correct else s.steps.index(next(x for x in s.steps if x.startswith("b"))) for s in samples
    ]
    assert len(lm.calls) <= 3  # every solution's midpoint in one call per round: ceil(log2 8)
    asked = [r for call in lm.calls for r in call]
    assert len({r.prompt for r in asked}) == len(asked)  # a prefix shared by solutions is rolled out once
    per_step, per_step_lm = labelled("per_step", PROBLEM, samples)
    assert set(asked) < set(per_step_lm.calls[0])  # the same requests, seeds included, and fewer
    for search, soft in zip(found, per_step):
        assert first_error(search.values) == first_error(soft.values)


def test_labels_of_a_search_mark_what_was_rolled_out():
    s = solution("q", 0, 5, 3)
    search = FirstErrorSearch(5, correct=False)
    for dead in (False, True):  # mid 2 alive, mid 3 dead
        search.record(dead)
    assert search.midpoint is None and search.first_error == 3 and search.rolled == [2, 3]
    r = first_error_labels(s, "1+6", search, K)
    assert r.values == [1.0, 1.0, 1.0, 0.0, 0.0] and r.rollouts == [0, 0, K, K, 0]
    with pytest.raises(ValueError, match="over"):
        search.record(True)
    with pytest.raises(ValueError, match="not over"):
        _ = FirstErrorSearch(5, correct=False).first_error
    assert step_labels(s, "1+6", [K, K, K, 0], K).values == [1.0, 1.0, 1.0, 0.0, 0.0]  # the soft form agrees


def test_first_error_and_monotone_read_hard_labels():
    assert first_error([0.5, 0.25, 0.0, 0.0]) == 2 and monotone([0.5, 0.25, 0.0, 0.0])
    assert first_error([1.0, 0.5]) == 2 and monotone([1.0, 0.5])
    assert first_error([0.25, 0.0, 0.75, 1.0]) == 1 and not monotone([0.25, 0.0, 0.75, 1.0])


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="rollouts.mode"):
        label.RolloutConfig(mode=cast(Any, "bisect"))  # not a LabelMode


def test_a_rerun_in_the_other_mode_does_not_resume_the_shard(tmp_path):
    data = DataConfig(levels=[1], per_level=2)
    samples = [solution(p.id, 0, 4, 2) for p in load_problems(data)]
    write_atomic(tmp_path / "samples.jsonl", [to_json(s) for s in samples])
    paths = dict(out=str(tmp_path / "out"), samples=str(tmp_path / "samples.jsonl"), data=data)
    label.run(config("per_step", **paths), ScriptedLM(rollout))
    with pytest.raises(SettingsError, match=r"rollouts.mode \"per_step\" -> \"binary_search\""):
        label.run(config("binary_search", **paths), ScriptedLM(rollout))


# --- the real toy base model -------------------------------------------------------------

DATA = DataConfig(levels=[3, 4, 5], per_level=4, limit=10)


def test_binary_search_agrees_with_per_step_where_labels_are_monotone(tmp_path, toy_base_path, hf_lm):
    samples = sample.run(
        sample.SampleConfig(
            output_dir=str(tmp_path / "samples"),
            lm=LMConfig(model=str(toy_base_path)),
            data=DATA,
            sampling=SamplingConfig(n=4, temperature=0.8, max_tokens=96),
        ),
        hf_lm,
    )
    found, requests = {}, {}
    for mode in ("per_step", "binary_search"):
        cfg = label.LabelConfig(
            output_dir=str(tmp_path / mode),
            samples=str(samples),
            lm=LMConfig(model=str(toy_base_path)),
            data=DATA,
            rollouts=label.RolloutConfig(k=4, max_tokens=96, seed=3, mode=mode),
        )
        before = hf_lm.ledger.requests
        found[mode] = read_records(label.run(cfg, hf_lm), StepLabels)
        requests[mode] = hf_lm.ledger.requests - before
    pairs = list(zip(found["per_step"], found["binary_search"]))
    assert [(a.problem_id, a.sample_index) for a, _ in pairs] == [(b.problem_id, b.sample_index) for _, b in pairs]
    for soft, hard in pairs:
        rolled = [i for i, n in enumerate(hard.rollouts) if n]
        # the same prefix, the same seed: the same completions, so the same hard label
        assert [float(soft.values[i] > 0) for i in rolled] == [hard.values[i] for i in rolled]
        if monotone(soft.values):
            assert first_error(hard.values) == first_error(soft.values), (soft.problem_id, soft.sample_index)
    searched = [s for s, _ in pairs if s.values[-1] == 0 and len(s.steps) >= 3 and monotone(s.values)]
    assert searched, "no incorrect solution of >= 3 steps with monotone labels: the search was not exercised"
    assert requests["binary_search"] < requests["per_step"]
