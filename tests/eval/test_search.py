"""`ttc eval` (eval/search.py) on the toy base model (transformers) and a tiny PRM trained from it
in seconds: the grid's records, determinism across shards, resume after a kill, the summary."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from data.config import ConfigError, parse_config
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import read_records
from data.shards import merge
from eval import search
from eval.search_report import FIGURE, NUMBERS, TABLE, EvalResult
from tests.support.runs import Interrupted, synthetic_labels, train_tiny_prm
from ttc.lm import LM, Completion, GenerationRequest, Ledger
from ttc.lm.spec import LMConfig
from ttc.verifiers.spec import VerifierConfig

DATA = DataConfig(levels=[1, 3], per_level=2, split="eval-search")
STRATEGIES = {
    "weighted": {"strategy": "best_of_n", "max_tokens": 96},
    "majority": {"strategy": "best_of_n", "selection": "majority", "max_tokens": 96},
    "beam M=2": {"strategy": "beam", "beam_width": 2, "max_step_tokens": 32},  # not valid at N=1
}
BUDGETS = {"weighted": [1, 2, 4], "majority": [1, 2, 4], "beam M=2": [2, 4]}
SEEDS = [0, 1]


@pytest.fixture(scope="module")
def prm_path(tmp_path_factory, toy_base_path) -> Path:
    return train_tiny_prm(tmp_path_factory.mktemp("eval-search-prm"), toy_base_path, synthetic_labels(40))


def config(out: Path, model: Path, prm: Path, **overrides) -> search.SearchEvalConfig:
    settings = dict(strategies=STRATEGIES, max_budget=4, seeds=SEEDS, data=DATA, batch_problems=2)
    return search.SearchEvalConfig(
        output_dir=str(out),
        lm=LMConfig(model=str(model)),
        prm=VerifierConfig(path=str(prm)),
        **{**settings, **overrides},
    )


class DiesAtProblem:
    """The LM, killed (like a pre-empted job) when first asked about `question`; records every prompt."""

    # the LM protocol's attributes, read from `lm` by __getattr__ (declared only: no class attributes)
    ledger: Ledger
    tokenizer: Any | None
    num_parameters: int

    def __init__(self, lm: LM, question: str | None = None):
        self.lm, self.question, self.prompts = lm, question, []

    def __getattr__(self, name):  # ledger, num_parameters, tokenizer
        return getattr(self.lm, name)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        self.prompts += [r.prompt for r in requests]
        if self.question is not None and any(self.question in r.prompt for r in requests):
            raise Interrupted
        return self.lm.generate(requests)

    def close(self) -> None:
        self.lm.close()


def test_grid_shards_resume_and_summary(tmp_path, toy_base_path, prm_path, hf_lm, caplog):
    problems = load_problems(DATA)
    caplog.set_level("INFO", logger="eval.search")
    one = search.run(config(tmp_path / "one", toy_base_path, prm_path), hf_lm)
    assert "beam M=2: N=1 skipped: BeamConfig: beam_width must be" in caplog.text

    results = read_records(one, EvalResult)
    expected = {(p.id, name, n, seed) for p in problems for name, ns in BUDGETS.items() for n in ns for seed in SEEDS}
    assert len(results) == len(expected) == 4 * 8 * 2
    assert {(r.problem_id, r.name, r.budget, r.seed) for r in results} == expected
    for r in results:
        assert 0.0 <= r.correct <= 1.0 and r.generations == r.budget and r.prm_tokens is not None and r.prm_tokens > 0
        if r.strategy == "best_of_n":  # every N estimated from one pool of the largest N
            assert r.params["pool"] == 4 and r.params["selection"] == (
                "majority" if r.name == "majority" else "weighted"
            )

    # two shards, merged by the one that finishes last: the same bytes as one shard
    shard0 = search.run(config(tmp_path / "two", toy_base_path, prm_path, shard=0, num_shards=2), hf_lm)
    assert shard0.name.startswith("results.shard-") and not (tmp_path / "two" / TABLE).exists()
    merged = search.run(config(tmp_path / "two", toy_base_path, prm_path, shard=1, num_shards=2), hf_lm)
    assert (
        merged.read_bytes()
        == one.read_bytes()
        == merge(tmp_path / "two", cast(str, search.STAGE.records), 2).read_bytes()
    )

    # killed during the second batch: the rerun redoes only that batch's problems
    cfg = config(tmp_path / "killed", toy_base_path, prm_path)
    with pytest.raises(Interrupted):
        search.run(cfg, DiesAtProblem(hf_lm, problems[2].question))
    rerun = DiesAtProblem(hf_lm)
    assert search.run(cfg, rerun).read_bytes() == one.read_bytes()
    asked = {p.id for p in problems if any(p.question in prompt for prompt in rerun.prompts)}
    assert asked == {problems[2].id, problems[3].id}

    # the summary, next to the records
    table = (tmp_path / "one" / TABLE).read_text()
    assert "| strategy | 1 | 2 | 4 |" in table and "standard error over 2 seeds" in table
    rows = [line for line in table.splitlines() if line.startswith("| ") and "strategy" not in line]
    assert [row.split(" | ")[0] for row in rows] == [f"| {name}" for name in STRATEGIES]
    assert rows[2].split(" | ")[1] == "-" and "+-" in rows[0]  # beam M=2 did not run at N=1
    assert (tmp_path / "one" / FIGURE).read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "one" / NUMBERS).exists() and (tmp_path / "two" / TABLE).read_text() == table


def test_one_seed_has_no_error_bar(tmp_path, toy_base_path, prm_path, hf_lm):
    cfg = config(
        tmp_path,
        toy_base_path,
        prm_path,
        seeds=[3],
        max_budget=2,
        strategies={"weighted": STRATEGIES["weighted"]},
        batch_problems=4,
    )
    results = read_records(search.run(cfg, hf_lm), EvalResult)
    assert len(results) == 4 * 2
    table = (tmp_path / TABLE).read_text()
    assert "one seed: no standard error" in table and "+-" not in table


def plan(strategies: dict, max_budget: int) -> list[search.Line]:
    return search.plan(
        search.SearchEvalConfig(
            output_dir="-",
            lm=LMConfig(model="-"),
            prm=VerifierConfig(path="-"),
            strategies=strategies,
            max_budget=max_budget,
        )
    )


def test_budgets_invalid_for_a_line_are_skipped_with_the_reason():
    beam4, lookahead = plan(
        {
            "beam4": {"strategy": "beam", "beam_width": 4},
            "k1": {"strategy": "beam", "beam_width": "sqrt", "lookahead": 1},
        },
        8,
    )
    assert beam4.budgets == [4, 8] and set(beam4.skipped) == {1, 2}
    assert "integer in 1..N=2" in beam4.skipped[2]
    assert lookahead.budgets == [1, 2, 4] and "16 generations exceed max_budget 8" in lookahead.skipped[8]
    assert lookahead.config(4, 7, PromptFormat()).generations == 8  # N(k+1)
    with pytest.raises(ValueError, match="strategies.m3: valid at no N in 1..8.*not divisible by beam width M=3"):
        plan({"m3": {"strategy": "beam", "beam_width": 3}}, 8)  # 3 divides no power of 2


def test_a_line_may_reach_beyond_the_grid_budget():
    """Pooled best-of-N lines reach the FLOPs-matched budgets where beam search stops lower."""
    bon, beam = plan(
        {"bon": {"strategy": "best_of_n", "max_budget": 128}, "beam": {"strategy": "beam", "beam_width": "sqrt"}}, 32
    )
    assert bon.budgets == [1, 2, 4, 8, 16, 32, 64, 128] and beam.budgets[-1] == 32
    assert "max_budget" not in bon.config(128, 0, PromptFormat()).settings()  # the grid's, not the method's
    with pytest.raises(ValueError, match=r"strategies.bon.max_budget: a whole number >= 1, got 0"):
        plan({"bon": {"strategy": "best_of_n", "max_budget": 0}}, 32)


def test_bad_config_names_the_file_and_the_key(tmp_path):
    recipe = tmp_path / "eval.yaml"
    text = "output_dir: out\nlm: {model: m}\nprm: {path: p}\nstrategies:\n  beam: {strategy: beam, beam_widht: 4}\n"
    recipe.write_text(text)
    with pytest.raises(ConfigError, match=rf"{recipe}: .*strategies.beam: unknown key 'beam_widht' for strategy beam"):
        parse_config(search.SearchEvalConfig, ["--config", str(recipe)])
    recipe.write_text(text.replace("beam_widht: 4", "lookahead: two"))
    with pytest.raises(ConfigError, match="'lookahead': expected int, got 'two'"):
        parse_config(search.SearchEvalConfig, ["--config", str(recipe)])
    recipe.write_text(text.replace("strategy: beam, beam_widht: 4", "strategy: bem") + "max_budgte: 4\n")
    with pytest.raises(ConfigError, match=rf"{recipe}:6: unknown key 'max_budgte'"):
        parse_config(search.SearchEvalConfig, ["--config", str(recipe)])
    recipe.write_text(text.replace("strategy: beam, beam_widht: 4", "strategy: bem"))
    with pytest.raises(ConfigError, match="'strategy' must be one of best_of_n, .*revision, got 'bem'"):
        parse_config(search.SearchEvalConfig, ["--config", str(recipe)])


def test_revision_lines_keep_their_own_selection(tmp_path, toy_base_path, prm_path, hf_lm):
    lines = {
        "revisions": {"strategy": "revision", "ratio": 1, "max_tokens": 64},
        "revisions, majority": {"strategy": "revision", "ratio": 1, "selection": "majority", "max_tokens": 64},
    }
    cfg = config(
        tmp_path,
        toy_base_path,
        prm_path,
        strategies=lines,
        max_budget=2,
        seeds=[0],
        data=DataConfig(levels=[2], per_level=2, split="eval-search"),
    )
    results = read_records(search.run(cfg, hf_lm), EvalResult)
    assert sorted((r.name, r.budget, r.params["selection"]) for r in results) == sorted(
        (name, n, selection)
        for name, selection in [("revisions", "weighted"), ("revisions, majority", "majority")]
        for n in (1, 2)
        for _ in range(2)
    )
    assert all(r.strategy == "revision" and r.generations == r.budget for r in results)


def test_lines_take_the_verifier_kinds_aggregation_unless_they_set_one():
    from data.config import parse_config

    cfg = parse_config(
        search.SearchEvalConfig,
        [
            "--config",
            "configs/toy/eval_search.yaml",
            "--output_dir",
            "out",
            "--lm.model",
            "train/checkpoints/toy-base",
            "--prm.kind",
            "math-shepherd",
            "--prm.path",
            "train/checkpoints/toy-prm",
            "--strategies",
            "{a: {strategy: best_of_n}, b: {strategy: beam, aggregation: last}}",
        ],
    )
    lines = {line.name: {c.aggregation for c in line.configs.values()} for line in search.plan(cfg)}
    assert lines == {"a": {"min"}, "b": {"last"}}  # Math-Shepherd's card: the minimum over steps


def test_lines_take_our_prms_recorded_aggregation_once_it_exists(tmp_path):
    """A PRM trained on hard labels records `min` (train/prm.py): the lines that set no aggregation
    use it; the kind's default (last) only checks the settings before the PRM is trained."""
    import shutil

    from data.config import parse_config
    from data.prm_format import FORMAT_FILE
    from ttc.verifiers.spec import default_aggregation

    prm = shutil.copytree("train/checkpoints/toy-prm", tmp_path / "prm")
    recorded = json.loads((prm / FORMAT_FILE).read_text())
    (prm / FORMAT_FILE).write_text(json.dumps({**recorded, "aggregation": "min"}))
    cfg = parse_config(
        search.SearchEvalConfig,
        [
            "--config",
            "configs/toy/eval_search.yaml",
            "--output_dir",
            "out",
            "--lm.model",
            "train/checkpoints/toy-base",
            "--prm.path",
            str(prm),
            "--strategies",
            "{a: {strategy: best_of_n}, b: {strategy: beam, aggregation: last}}",
        ],
    )
    lines = {
        line.name: {c.aggregation for c in line.configs.values()}
        for line in search.plan(cfg, default_aggregation(cfg.prm))
    }
    assert lines == {"a": {"min"}, "b": {"last"}}
    assert {c.aggregation for line in search.plan(cfg) for c in line.configs.values()} == {"last"}  # before training
