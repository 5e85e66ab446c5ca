"""Revision trajectories: the k rule, the closest-incorrect rule, and the sharded stage, on
hand-built sample files (no model is needed)."""

import json
import random
from collections import Counter
from typing import cast

import pytest

from data.problems import DataConfig, load_problems
from data.records import RecordError, Sample, Trajectory, read_records, to_json, write_atomic
from data.shards import merge
from data.trajectories import build_trajectories, edit_distance
from ttc.pipeline import cli
from ttc.stages import trajectories

DATA = DataConfig(levels=[2, 3], per_level=3)


def sample(pid, index, text, correct, answer: str | None = "7"):
    return Sample(pid, index, text, text.splitlines(), answer, correct, len(text), "eos")


def problem_samples(pid, n_correct, wrong_texts, unparsable=1):
    """Correct samples first, then the given incorrect texts, then unparsable ones."""
    samples = [sample(pid, i, f"=3+4\n=7\n\\boxed{{7}}{'!' * (i % 3)}", True) for i in range(n_correct)]
    samples += [sample(pid, n_correct + i, text, False, "9") for i, text in enumerate(wrong_texts)]
    samples += [sample(pid, len(samples) + i, "=3+", False, None) for i in range(unparsable)]
    return samples


def dp_distance(a, b):
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_edit_distance_is_levenshtein():
    rng = random.Random(0)
    for _ in range(500):
        a, b = ("".join(rng.choice("ab=+\n7") for _ in range(rng.randint(0, 70))) for _ in range(2))
        assert edit_distance(a, b) == edit_distance(b, a) == dp_distance(a, b)
    assert edit_distance("=38+67\n=105", "=38+67\n=106") == 1


@pytest.mark.parametrize("n_wrong, ks", [(6, {0, 1, 2, 3, 4}), (2, {0, 1, 2}), (0, {0})])
def test_k_is_uniform_up_to_four_capped_by_the_incorrect_samples(n_wrong, ks):
    problem = load_problems(DATA)[0]
    wrong = [f"=3+5\n=8\n\\boxed{{{8 + i}}}" for i in range(n_wrong)]
    found = build_trajectories(problem, problem_samples(problem.id, 400, wrong), seed=0)
    assert len(found) == 400  # one per correct sample, unparsable ones dropped
    counts = Counter(len(t.previous) for t in found)
    assert set(counts) == ks
    assert min(counts.values()) > 400 / len(ks) * 0.7  # roughly uniform
    for t in found:
        assert len(set(t.previous_indices)) == len(t.previous)  # no attempt twice
        assert all(400 <= i < 400 + n_wrong for i in t.previous_indices)  # incorrect, parsable ones
        assert t.question == problem.question and "\\boxed{7}" in t.target


@pytest.mark.parametrize("n_wrong, ks", [(6, {1, 2, 3, 4}), (1, {1}), (0, set())])
def test_min_attempts_leaves_out_the_plain_solves(n_wrong, ks):
    problem = load_problems(DATA)[0]
    wrong = [f"=3+5\n=8\n\\boxed{{{8 + i}}}" for i in range(n_wrong)]
    samples = problem_samples(problem.id, 200, wrong)
    found = build_trajectories(problem, samples, seed=0, min_attempts=1)
    assert set(Counter(len(t.previous) for t in found)) == ks and len(found) == (200 if ks else 0)
    # the paper's rule is unchanged by the new setting
    assert build_trajectories(problem, samples, seed=0, min_attempts=0) == build_trajectories(problem, samples, seed=0)


def test_last_attempt_is_the_closest_incorrect_one():
    problem = load_problems(DATA)[0]
    target = "=3+4\n=7\n\\boxed{7}"
    wrong = ["=1\n=1\n\\boxed{1}", "=3+4\n=8\n\\boxed{8}", "=3+4\n=6\n\\boxed{6}", "=2+5\n=9\n\\boxed{9}"]
    samples = [sample(problem.id, 0, target, True)] + [sample(problem.id, i + 1, w, False) for i, w in enumerate(wrong)]
    seen_others = set()
    for seed in range(40):
        (t,) = build_trajectories(problem, samples, seed)
        if t.previous:
            # wrong[1] and wrong[2] are both 2 edits away: the tie goes to the lower index
            assert t.previous[-1] == wrong[1] and t.previous_indices[-1] == 2
            seen_others.update(t.previous_indices[:-1])
    assert seen_others == {1, 3, 4}  # the others are random incorrect samples


def test_questions_without_a_correct_sample_give_nothing():
    problem = load_problems(DATA)[0]
    assert build_trajectories(problem, problem_samples(problem.id, 0, ["=9\n\\boxed{9}"]), 0) == []


def test_the_draw_depends_on_seed_and_question_only():
    p, q = load_problems(DATA)[:2]
    wrong = [f"=3+5\n\\boxed{{{8 + i}}}" for i in range(5)]
    one = build_trajectories(p, problem_samples(p.id, 30, wrong), seed=0)
    assert one == build_trajectories(p, list(reversed(problem_samples(p.id, 30, wrong))), seed=0)
    assert one != build_trajectories(p, problem_samples(p.id, 30, wrong), seed=1)
    other = build_trajectories(q, problem_samples(q.id, 30, wrong), seed=0)
    assert [t.previous_indices for t in one] != [t.previous_indices for t in other]


# --- the stage -------------------------------------------------------------------------


@pytest.fixture
def samples_file(tmp_path):
    rng = random.Random(1)
    records = []
    for n, p in enumerate(load_problems(DATA)):  # question 0 has no correct sample, 1 no incorrect one
        n_correct = 0 if n == 0 else rng.randint(1, 6)
        wrong = (
            []
            if n == 1
            else [f"={rng.randint(0, 99)}\n\\boxed{{{rng.randint(0, 9)}}}" for _ in range(rng.randint(1, 6))]
        )
        records += problem_samples(p.id, n_correct, wrong)
    write_atomic(tmp_path / "samples.jsonl", [to_json(s) for s in records])
    return tmp_path / "samples.jsonl"


def config(out, samples, shard=0, num_shards=1, batch_problems=2):
    return trajectories.TrajectoriesConfig(
        output_dir=str(out),
        samples=str(samples),
        data=DATA,
        seed=3,
        shard=shard,
        num_shards=num_shards,
        batch_problems=batch_problems,
    )


def test_stage_writes_trajectory_records(tmp_path, samples_file):
    path = trajectories.run(config(tmp_path / "out", samples_file))
    found = read_records(path, Trajectory)
    problems = load_problems(DATA)
    assert {t.problem_id for t in found} == {p.id for p in problems[1:]}  # question 0: no correct sample
    assert all(t.previous == [] for t in found if t.problem_id == problems[1].id)
    assert any(t.previous for t in found)


def test_shards_merge_to_the_same_bytes_and_a_cut_run_resumes(tmp_path, samples_file):
    one = trajectories.run(config(tmp_path / "one", samples_file)).read_bytes()
    for i in range(2):
        trajectories.run(config(tmp_path / "two", samples_file, i, 2))
    assert merge(tmp_path / "two", cast(str, trajectories.STAGE.records), 2).read_bytes() == one
    # A run killed after its first batch, in the middle of writing the next unit's line.
    shard_file = tmp_path / "one" / "trajectories.shard-00000-of-00001.jsonl"
    first, second = shard_file.read_text().splitlines(keepends=True)[:2]
    partial = tmp_path / "killed" / "trajectories.shard-00000-of-00001.partial"
    partial.parent.mkdir()
    partial.write_text(first + second[: len(second) // 2])
    saved = "trajectories.shard-00000-of-00001.settings.json"  # a killed run saved its settings before any unit
    (partial.parent / saved).write_bytes((tmp_path / "one" / saved).read_bytes())
    assert trajectories.run(config(tmp_path / "killed", samples_file)).read_bytes() == one


def test_cli_runs_the_stage(tmp_path, samples_file, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        json.dumps(
            {
                "output_dir": str(tmp_path / "cli"),
                "samples": str(samples_file),
                "data": {"levels": [2, 3], "per_level": 3},
                "seed": 3,
            }
        )
    )
    cli.main(["trajectories", "--config", str(recipe)])
    assert capsys.readouterr().out.strip().endswith("trajectories.jsonl")
    assert (tmp_path / "cli" / "config.shard-0.yaml").is_file()


@pytest.mark.parametrize(
    "line, message",
    [
        ({"correct": "yes"}, r"samples.jsonl:2: field 'correct'"),
        ({"text": None}, r"samples.jsonl:2: field 'text'"),
        ({"problem_id": "nope"}, r"samples.jsonl: field 'problem_id' 'nope'"),
    ],
)
def test_bad_samples_name_file_line_and_field(tmp_path, samples_file, line, message):
    lines = samples_file.read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), **line})
    samples_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError, match=message):
        trajectories.run(config(tmp_path / "out", samples_file))
