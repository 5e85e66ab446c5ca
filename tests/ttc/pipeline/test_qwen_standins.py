"""The Qwen run's stand-in world (tests/support/qwen.py): it builds offline, the recipes' hub ids and data
resolve from it (ProcessBench too, its labels true of its steps), and its policy writes MATH-style
solutions under the recipes' 4-shot prompt on vLLM, right on some problems and wrong on others."""

import json
import os
import re
import subprocess
import sys

import pytest

from data.math_dataset import load_math, math500_ids
from data.models import check_model, locate
from data.prm_bench import PROCESSBENCH_SPLITS, read_processbench
from data.records import Sample, read_records
from tests.support.qwen import HUB_MATH, LARGE, POLICY, PROCESSBENCH, QWEN_PRM, SUBJECTS, QwenWorld, build_qwen_world
from tests.support.runs import REPO

pytestmark = pytest.mark.e2e  # the stand-in Qwen world built


def found(match: re.Match[str] | None) -> re.Match[str]:
    """A match the stand-in's text is written to give."""
    assert match is not None
    return match


@pytest.fixture(scope="session")
def qwen_world() -> QwenWorld:
    return build_qwen_world()


def test_the_recipes_hub_ids_resolve_offline(qwen_world, monkeypatch):
    qwen_world.use(monkeypatch)
    for hub_id in (POLICY, LARGE, QWEN_PRM):
        assert check_model(hub_id) == locate(hub_id, "model") == qwen_world.model(hub_id)
    config = json.loads((qwen_world.model(POLICY) / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForCausalLM"] and config["eos_token_id"] == 151643


def test_the_larger_model_is_larger(qwen_world):
    def body_params(hub_id: str) -> int:  # per layer: attention (kv heads of 32 dims) and MLP
        c = json.loads((qwen_world.model(hub_id) / "config.json").read_text())
        h, kv = c["hidden_size"], c["num_key_value_heads"] * c["hidden_size"] // c["num_attention_heads"]
        return c["num_hidden_layers"] * (2 * h * h + 2 * h * kv + 3 * h * c["intermediate_size"])

    assert body_params(LARGE) > 3 * body_params(POLICY)


def test_math_in_the_release_layout(qwen_world):
    train, test = load_math(str(qwen_world.math), "train"), load_math(str(qwen_world.math), "test")
    assert {p.subject for p in train} == {s[0] for s in SUBJECTS.values()} and {p.level for p in train} == {
        1,
        2,
        3,
        4,
        5,
    }
    assert [p.id for p in load_math(str(qwen_world.math), "prm800k_test")] == list(math500_ids())
    assert len(load_math(str(qwen_world.math), "prm800k_train")) == len(train) + len(test) - 500


def test_math_as_the_hub_mirror(qwen_world, monkeypatch):
    from datasets import load_dataset

    qwen_world.use(monkeypatch)
    algebra = load_dataset(HUB_MATH, "algebra", split="test")  # offline: the datasets cache
    assert set(algebra.column_names) == {"problem", "level", "type", "solution"}  # no unique_id, as the hub's
    snapshot = load_math(str(qwen_world.hub_math), "test")
    assert len(snapshot) == len(load_math(str(qwen_world.math), "test"))


def test_processbench_in_the_hub_layout_with_true_labels(qwen_world, monkeypatch):
    """The published layout and schema, read by the hub id offline; each label is the first step
    whose sum or boxed answer is wrong, recomputed here from the step texts."""
    qwen_world.use(monkeypatch)
    assert {p.name for p in qwen_world.processbench.glob("*.json")} == {f"{s}.json" for s in PROCESSBENCH_SPLITS}
    first = json.loads((qwen_world.processbench / "gsm8k.json").read_text())[0]  # a JSON array, as the hub's
    assert set(first) == {"id", "generator", "problem", "steps", "final_answer_correct", "label"}
    solutions = read_processbench(PROCESSBENCH)
    for split in PROCESSBENCH_SPLITS:
        assert {s.label for s in solutions if s.split == split} == {-1, 0, 1}
    for s in solutions:
        a, b = map(int, found(re.search(r"(\d+) \+ (\d+)\$\?$", s.problem)).groups())  # each question ends with the sum
        total = int(found(re.fullmatch(r"\$\d+ \+ \d+ = (\d+)\$\.", s.steps[0])).group(1))
        boxed = int(found(re.search(r"\\boxed\{(\d+)\}", s.steps[1])).group(1))
        right = [total == a + b, boxed == a + b]
        assert s.label == (right.index(False) if False in right else -1), s
        assert s.final_answer_correct == right[1], s


@pytest.mark.slow
def test_the_policy_samples_right_and_wrong_boxed_answers_on_vllm(qwen_world, tmp_path):
    """`ttc sample` with the recipe as a user runs it, the GPU-only settings swapped for the CPU's."""
    command = [
        sys.executable,
        "-m",
        "ttc.pipeline.cli",
        "sample",
        "--config",
        "configs/qwen2.5-math-1.5b/sample_eval.yaml",
        "--output_dir",
        str(tmp_path),
        "--data.source",
        str(qwen_world.math),
        "--data.split",
        "prm800k_test",
        "--data.limit",
        "10",
        "--lm.model",
        "Qwen/Qwen2.5-Math-1.5B",
        "--lm.backend",
        "vllm",
        "--lm.dtype",
        "float32",
        "--lm.max_model_len",
        "1024",
        "--sampling.n",
        "4",
        "--sampling.max_tokens",
        "96",
    ]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=900, env={**os.environ, **qwen_world.env()}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    samples = read_records(tmp_path / "samples.jsonl", Sample)
    assert len(samples) == 40
    assert all(s.answer is not None and s.finish_reason == "eos" for s in samples), samples
    assert 0.2 < sum(s.correct for s in samples) / len(samples) < 0.9
