"""Bad input at every entry point: exit status 2, ONE line naming what is wrong (file, line, field
or setting, what was expected), no traceback, and nothing already written changed.

Each case runs the real command in this process (`ttc.pipeline.cli.main(argv)`, or a trainer's
`python -m train.<name>` block through runpy), after the inputs and finished outputs it needs
were made once for the module (a real `ttc sample` on the toy base model). Every file under the
module's folder is compared before and after each case: only a lock file may appear or change.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import sys
from pathlib import Path

import pytest

from data.records import Sample, read_records, to_json, write_atomic
from tests.support.runs import REPO
from ttc.pipeline import cli

pytestmark = pytest.mark.e2e  # real `ttc` commands

BASE = str(REPO / "train" / "checkpoints" / "toy-base")
PRM = str(REPO / "train" / "checkpoints" / "toy-prm")
TOY = ["--data.split", "test", "--data.levels", "[1,2]", "--data.per_level", "2"]
SAMPLE = [
    "sample",
    "--config",
    "configs/toy/sample.yaml",
    "--lm.model",
    BASE,
    *TOY,
    "--sampling.n",
    "2",
    "--sampling.max_tokens",
    "32",
    "--batch_problems",
    "2",
]


def run(argv: list[str], capsys) -> tuple[str | int | None, list[str]]:
    """(exit status, stderr lines) of `ttc <argv>`, or of `python -m train.x <args>` for
    argv = ["-m", "train.x", ...]."""
    capsys.readouterr()
    try:
        if argv[0] == "-m":
            saved, sys.argv = sys.argv, [argv[1], *argv[2:]]
            try:
                runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
            finally:
                sys.argv = saved
        else:
            cli.main(argv)
        code = 0
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err.strip().splitlines()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` but lock files (which hold only who holds them)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".lock-")
    }


def unchanged(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    """What changed: a file changed, removed or added."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


@pytest.fixture(scope="module")
def work(tmp_path_factory, toy_base_path) -> dict[str, str]:
    """The inputs the cases need: a finished `ttc sample` folder, a partial one, sample files
    (good, empty, malformed, without answers or correct ones), model folders that are not models."""
    root = tmp_path_factory.mktemp("bad_inputs")
    assert str(toy_base_path) == BASE or pytest.skip("the cases name the committed toy models")
    finished = root / "finished"
    cli.main([*SAMPLE, "--output_dir", str(finished)])
    samples = finished / "samples.jsonl"
    partial = root / "partial"
    shutil.copytree(finished, partial)
    shard = partial / "samples.shard-00000-of-00001.jsonl"
    shard.with_suffix(".partial").write_text(shard.read_text().splitlines(keepends=True)[0])
    for name in ("samples.jsonl", "samples.settings.json", shard.name):
        (partial / name).unlink()
    records = read_records(samples, Sample)
    assert any(s.correct for s in records) and any(s.answer for s in records)
    files = root / "inputs"
    files.mkdir()
    (files / "empty.jsonl").write_text("")
    (files / "malformed.jsonl").write_text(samples.read_text().splitlines()[0] + '\n{"problem_id": \n')
    first = json.loads(samples.read_text().splitlines()[0])
    (files / "missing_field.jsonl").write_text(json.dumps({k: v for k, v in first.items() if k != "steps"}) + "\n")
    write_atomic(
        files / "unanswered.jsonl", [to_json(Sample(**{**vars(s), "answer": None, "correct": False})) for s in records]
    )
    write_atomic(files / "none_correct.jsonl", [to_json(Sample(**{**vars(s), "correct": False})) for s in records])
    (files / "a_file").write_text("not a folder")
    (files / "a file #2").write_text("not a folder either")  # a flag's text is the path, '#' and all
    (files / "dup.yaml").write_text("output_dir: a\nlm:\n  model: m\noutput_dir: b\n")
    (files / "tag.yaml").write_text("output_dir: !!python/object/apply:os.getcwd []\n")
    for name, config, weights in (("empty_config", "{}", True), ("no_weights", '{"model_type": "llama"}', False)):
        folder = files / name
        folder.mkdir()
        (folder / "config.json").write_text(config)
        (folder / "tokenizer.json").write_text("{}")
        if weights:
            (folder / "model.safetensors").write_bytes(b"")
    return {
        "root": str(root),
        "finished": str(finished),
        "partial": str(partial),
        "samples": str(samples),
        **{p.stem: str(p) for p in files.iterdir()},
        "out": str(root / "out"),
    }


LABEL = [
    "label",
    "--config",
    "configs/toy/label.yaml",
    "--lm.model",
    BASE,
    "--lm.backend",
    "hf",
    *TOY,
    "--rollouts.k",
    "2",
    "--rollouts.max_tokens",
    "32",
    "--output_dir",
    "<out>/label",
]
TRAJECTORIES = ["trajectories", "--config", "configs/toy/trajectories.yaml", *TOY, "--output_dir", "<out>/traj"]
CHAINS = [
    "chains",
    "--config",
    "configs/toy/chains_eval.yaml",
    "--reviser.model",
    BASE,
    "--reviser.backend",
    "hf",
    *TOY,
    "--output_dir",
    "<out>/chains",
]
EVAL = [
    "eval",
    "--config",
    "configs/toy/eval_search.yaml",
    "--lm.model",
    BASE,
    "--lm.backend",
    "hf",
    "--prm.path",
    PRM,
    "--prm.backend",
    "hf",
    *TOY,
    "--output_dir",
    "<out>/eval",
]
EVAL_PRM = [
    "eval-prm",
    "--config",
    "configs/toy/eval_prm.yaml",
    "--prm.path",
    PRM,
    "--labels",
    "null",
    *TOY,
    "--output_dir",
    "<out>/eval_prm",
]
BINS = ["--bins.oracle", "<inputs>/bins_oracle.json", "--bins.predicted", "<inputs>/bins_predicted.json"]
DIFFICULTY = [
    "difficulty",
    "--config",
    "configs/toy/difficulty.yaml",
    "--prm.path",
    PRM,
    *TOY,
    "--output_dir",
    "<out>/diff",
]

# (case, argv, the one line expected: a regular expression searched in it)
CASES = [
    # --- ttc sample: the settings, checked before the model loads
    (
        "sample n 0",
        [*SAMPLE, "--output_dir", "<finished>", "--sampling.n", "0"],
        r"^ttc sample: command line: sampling: n must be >= 1, got 0$",
    ),
    (
        "sample n 100000",
        [*SAMPLE, "--output_dir", "<out>/s", "--sampling.n", "100000"],  # ttc/lm/__init__.py MAX_N
        r"^ttc sample: command line: sampling: n must be <= 4096 \(samples one request generates at once; "
        r"ttc\.lm\.MAX_N\), got 100000$",
    ),
    (
        "sample temperature < 0",
        [*SAMPLE, "--output_dir", "<out>/s", "--sampling.temperature", "-0.5"],
        r"^ttc sample: command line: sampling: temperature must be >= 0, got -0.5$",
    ),
    (
        "sample top_p > 1",
        [*SAMPLE, "--output_dir", "<out>/s", "--sampling.top_p", "1.5"],
        r"^ttc sample: command line: sampling: top_p must be in \(0, 1\], got 1.5$",
    ),
    (
        "sample max_tokens 0",
        [*SAMPLE, "--output_dir", "<out>/s", "--sampling.max_tokens", "0"],
        r"^ttc sample: command line: sampling: max_tokens must be >= 1, got 0$",
    ),
    (
        "sample stop not YAML",
        [*SAMPLE, "--output_dir", "<out>/s", "--sampling.stop", "[a"],
        r"^ttc sample: command line: flag --sampling.stop: cannot read the value '\[a' as YAML \(expected ',' or ']'",
    ),
    (
        "sample stop empty string",
        [*SAMPLE, "--output_dir", "<out>/s", "--sampling.stop", "['']"],
        r"^ttc sample: command line: sampling: stop must be a list of non-empty strings, got \[''\]$",
    ),
    (
        "sample unknown key",
        [*SAMPLE, "--output_dir", "<out>/s", "--sampling.temprature", "1"],
        r"^ttc sample: command line: unknown key 'sampling.temprature' \(known: max_tokens, n, seed, stop, ",
    ),
    (
        "sample wrong type",
        [*SAMPLE, "--output_dir", "<out>/s", "--sampling.n", "many"],
        r"^ttc sample: command line: 'sampling.n': expected int, got 'many'$",
    ),
    (
        "sample shard out of range",
        [*SAMPLE, "--output_dir", "<out>/s", "--shard", "2", "--num_shards", "2"],
        r"^ttc sample: command line: SampleConfig: shard 2 is not in 0..1$",
    ),
    (
        "sample no problems",
        [*SAMPLE, "--output_dir", "<out>/s", "--data.levels", "[]"],
        r"^ttc sample: data: no problems \(source 'toy', split 'test', levels \[\]\)$",
    ),
    (
        "sample recipe missing",
        ["sample", "--config", "<inputs>/nope.yaml"],
        r"^ttc sample: .*nope.yaml: cannot read recipe \(No such file or directory\)$",
    ),
    (
        "sample recipe key twice",
        ["sample", "--config", "<dup>"],
        r"^ttc sample: .*dup.yaml:4: invalid YAML \(key 'output_dir' given twice \(lines 1 and 4\)\)$",
    ),
    (
        "sample recipe python tag",
        ["sample", "--config", "<tag>"],
        r"^ttc sample: .*tag.yaml:1: invalid YAML \(could not determine a constructor for the tag",
    ),
    (
        "sample output_dir is a file",
        [*SAMPLE, "--output_dir", "<a_file>"],
        r"^ttc sample: output_dir .*a_file: is a file, expected a folder$",
    ),
    # a text flag is the text as typed (YAML would read a comment, an octal number, a base-60 one)
    (
        "sample output_dir with a #",
        [*SAMPLE, "--output_dir", "<inputs>/a file #2"],
        r"^ttc sample: output_dir .*/a file #2: is a file, expected a folder$",
    ),
    (
        "sample model 010",
        [*SAMPLE, "--output_dir", "<out>/s", "--lm.model", "010"],
        r"^ttc sample: lm.model: '010' does not exist",
    ),
    (
        "sample model 12:30",
        [*SAMPLE, "--output_dir", "<out>/s", "--lm.model", "12:30"],
        r"^ttc sample: lm.model: '12:30' does not exist",
    ),
    (
        "sample shard 12:30",
        [*SAMPLE, "--output_dir", "<out>/s", "--shard", "12:30", "--num_shards", "2"],
        r"^ttc sample: command line: 'shard': expected int, got '12:30'$",
    ),
    (
        "sample model config {}",
        [*SAMPLE, "--output_dir", "<out>/s", "--lm.model", "<empty_config>"],
        r"^ttc sample: lm.model: .*empty_config/config.json: no 'model_type' \(not a save_pretrained config\)$",
    ),
    (
        "sample model without weights",
        [*SAMPLE, "--output_dir", "<out>/s", "--lm.model", "<no_weights>"],
        r"^ttc sample: lm.model: '.*no_weights' has no weights \(expected one of model.safetensors, ",
    ),
    (
        "sample model missing",
        [*SAMPLE, "--output_dir", "<out>/s", "--lm.model", "/nonexistent/model"],
        r"^ttc sample: lm.model: '/nonexistent/model' does not exist; expected a save_pretrained folder or a hub id",
    ),
    (
        "sample hub id not cached",
        [*SAMPLE, "--output_dir", "<out>/s", "--lm.model", "no-such-org/no-such-model"],
        r"^ttc sample: lm.model: 'no-such-org/no-such-model' is neither a local folder nor in the Hugging Face cache ",
    ),
    # --- resuming or rerunning with other settings
    (
        "sample finished, other n",
        [*SAMPLE, "--output_dir", "<finished>", "--sampling.n", "4"],
        r"^ttc sample: .*finished: samples.shard-00000-of-00001 was made with other settings \(sampling.n 2 -> 4\): "
        r"rerun with --overwrite true to start afresh, or use another --output_dir$",
    ),
    (
        "sample finished, other temperature",
        [*SAMPLE, "--output_dir", "<finished>", "--sampling.temperature", "1.0"],
        r"was made with other settings \(sampling.temperature 0.8 -> 1.0\)",
    ),
    (
        "sample partial, other n",
        [*SAMPLE, "--output_dir", "<partial>", "--sampling.n", "4"],
        r"^ttc sample: .*partial: samples.shard-00000-of-00001 was made with other settings \(sampling.n 2 -> 4\)",
    ),
    (
        "sample partial, more problems",
        [*SAMPLE, "--output_dir", "<partial>", "--data.per_level", "3"],
        r"was made with other settings \(data.per_level 2 -> 3\)",
    ),
    (
        "sample partial, other model",
        [*SAMPLE, "--output_dir", "<partial>", "--lm.model", str(REPO / "train/checkpoints/toy-large")],
        r"was made with other settings \(lm.model \".*toy-base\" -> \".*toy-large\"\)",
    ),
    # --- ttc label
    (
        "label empty samples",
        [*LABEL, "--samples", "<empty>"],
        r"^ttc label: .*empty.jsonl: no sample records \(an empty samples file\)$",
    ),
    (
        "label samples missing",
        [*LABEL, "--samples", "<inputs>/nope.jsonl"],
        r"^ttc label: .*nope.jsonl: cannot read \(No such file or directory\)$",
    ),
    (
        "label malformed line",
        [*LABEL, "--samples", "<malformed>"],
        r"^ttc label: .*malformed.jsonl:2: malformed JSON \(Expecting value\)$",
    ),
    (
        "label missing field",
        [*LABEL, "--samples", "<missing_field>"],
        r"^ttc label: .*missing_field.jsonl:1: missing field 'steps' \(Sample\)$",
    ),
    (
        "label samples of other problems",
        [*LABEL, "--samples", "<samples>", "--data.split", "train"],
        r"^ttc label: .*samples.jsonl: field 'problem_id' 'toy-test-L1-00000' is not in the configured data$",
    ),
    (
        "label nothing to label",
        [*LABEL, "--samples", "<unanswered>"],
        r"^ttc label: .*unanswered.jsonl: no sample has a parsable answer: nothing to label$",
    ),
    (
        "label k 0",
        [*LABEL, "--samples", "<samples>", "--rollouts.k", "0"],
        r"^ttc label: command line: rollouts: k must be >= 1, got 0$",
    ),
    (
        "label top_p 0",
        [*LABEL, "--samples", "<samples>", "--rollouts.top_p", "0"],
        r"^ttc label: command line: rollouts: top_p must be in \(0, 1\], got 0.0$",
    ),
    # --- ttc trajectories
    (
        "trajectories empty samples",
        [*TRAJECTORIES, "--samples", "<empty>"],
        r"^ttc trajectories: .*empty.jsonl: no sample records \(an empty samples file\)$",
    ),
    (
        "trajectories no correct sample",
        [*TRAJECTORIES, "--samples", "<none_correct>"],
        r"^ttc trajectories: .*none_correct.jsonl: no correct sample: no trajectory to build$",
    ),
    (
        "trajectories attempts",
        [*TRAJECTORIES, "--samples", "<samples>", "--min_attempts", "5"],
        r"^ttc trajectories: command line: TrajectoriesConfig: "
        r"need 0 <= min_attempts <= max_attempts and batch_problems >= 1$",
    ),
    # --- ttc chains
    (
        "chains temperature < 0",
        [*CHAINS, "--temperature", "-1"],
        r"^ttc chains: command line: ChainsConfig: temperature must be >= 0, got -1.0$",
    ),
    (
        "chains 0 chains",
        [*CHAINS, "--chains", "0"],
        r"^ttc chains: command line: ChainsConfig: chains, length and batch_problems must be >= 1$",
    ),
    (
        "chains reviser missing",
        [*CHAINS, "--reviser.model", "/nonexistent/reviser"],
        r"^ttc chains: reviser.model: '/nonexistent/reviser' does not exist",
    ),
    # --- ttc eval
    (
        "eval prm missing",
        [*EVAL, "--prm.path", "/nonexistent/prm"],
        r"^ttc eval: prm.path: '/nonexistent/prm' does not exist; expected a save_pretrained folder or a hub id",
    ),
    (
        "eval prm config {}",
        [*EVAL, "--prm.path", "<empty_config>"],
        r"^ttc eval: prm.path: .*empty_config/config.json: no 'model_type'",
    ),
    (
        "eval no strategies",
        [*EVAL, "--strategies", "{}"],
        r"^ttc eval: command line: SearchEvalConfig: strategies: name at least one line$",
    ),
    (
        "eval unknown strategy",
        [*EVAL, "--strategies", "{x: {strategy: best_of_m}}"],
        r"^ttc eval: command line: SearchEvalConfig: strategies.x: 'strategy' must be one of .*got 'best_of_m'$",
    ),
    (
        "eval no seeds",
        [*EVAL, "--seeds", "[]"],
        r"^ttc eval: command line: SearchEvalConfig: seeds must be distinct and at least one",
    ),
    (
        "eval batch 0",
        [*EVAL, "--batch_problems", "0"],
        r"^ttc eval: command line: SearchEvalConfig: max_budget and batch_problems must be >= 1$",
    ),
    ("eval no problems", [*EVAL, "--data.levels", "[]"], r"^ttc eval: data: no problems \("),
    # --- the analyses (fast, not sharded: lock, validation, one line)
    (
        "eval-prm empty samples",
        [*EVAL_PRM, "--samples", "<empty>"],
        r"^ttc eval-prm: .*empty.jsonl: no sample of the configured problems",
    ),
    (
        "eval-prm max_n 0",
        [*EVAL_PRM, "--samples", "<samples>", "--max_n", "0"],
        r"^ttc eval-prm: command line: PRMEvalConfig: max_n must be >= 1, got 0$",
    ),
    (
        "eval-prm prm missing",
        [*EVAL_PRM, "--samples", "<samples>", "--prm.path", "/nonexistent/prm"],
        r"^ttc eval-prm: prm.path: '/nonexistent/prm' does not exist; expected a save_pretrained folder or a hub id",
    ),
    (
        "eval-prm baseline config {}",
        [*EVAL_PRM, "--samples", "<samples>", "--baseline.path", "<empty_config>"],
        r"^ttc eval-prm: baseline.path: .*empty_config/config.json: no 'model_type'",
    ),
    (
        "eval-prm output_dir is a file",
        [*EVAL_PRM, "--samples", "<samples>", "--output_dir", "<a_file>"],
        r"^ttc eval-prm: output_dir .*a_file: is a file, expected a folder$",
    ),
    (
        "difficulty samples missing",
        [*DIFFICULTY, "--samples", "<inputs>/nope.jsonl"],
        r"^ttc difficulty: .*nope.jsonl: cannot read \(No such file or directory\)$",
    ),
    (
        "difficulty empty samples",
        [*DIFFICULTY, "--samples", "<empty>"],
        r"^ttc difficulty: no samples: difficulty needs samples",
    ),
    (
        "difficulty bins 0",
        [*DIFFICULTY, "--samples", "<samples>", "--num_bins", "0"],
        r"^ttc difficulty: command line: DifficultyConfig: num_bins and num_samples must be >= 1$",
    ),
    (
        "compute-optimal results missing",
        [
            "compute-optimal",
            "--config",
            "configs/toy/compute_optimal.yaml",
            "--results",
            "[<inputs>/nope.jsonl]",
            *BINS,
            "--output_dir",
            "<out>/co",
        ],
        r"^ttc compute-optimal: .*nope.jsonl: cannot read \(No such file or directory\)$",
    ),
    (
        "compute-optimal empty results",
        [
            "compute-optimal",
            "--config",
            "configs/toy/compute_optimal.yaml",
            "--results",
            "[<empty>]",
            *BINS,
            "--output_dir",
            "<out>/co",
        ],
        r"^ttc compute-optimal: .*no result records",
    ),
    (
        "flops-matched bins missing",
        [
            "flops-matched",
            "--config",
            "configs/toy/flops_matched.yaml",
            "--bins",
            "<inputs>/nope.json",
            "--results",
            "[<inputs>/results.jsonl]",
            "--large_greedy",
            "<inputs>/large.jsonl",
            "--output_dir",
            "<out>/fm",
        ],
        r"^ttc flops-matched: .*nope.json: cannot read",
    ),
    (
        "eval-policy policy missing",
        [
            "eval-policy",
            "--config",
            "configs/toy/eval_policy.yaml",
            "--lm.model",
            BASE,
            "--prm.path",
            PRM,
            "--policy",
            "<inputs>/nope.json",
            "--output_dir",
            "<out>/ep",
        ],
        r"^ttc eval-policy: .*nope.json: cannot read",
    ),
    (
        "eval-revision chains missing",
        [
            "eval-revision",
            "--config",
            "configs/toy/eval_revision.yaml",
            "--orm.path",
            PRM,
            "--chains",
            "<inputs>/nope.jsonl",
            "--output_dir",
            "<out>/er",
        ],
        r"^ttc eval-revision: .*nope.jsonl: cannot read \(No such file or directory\)$",
    ),
    (
        "solve policy missing",
        [
            "solve",
            "--config",
            "configs/toy/solve.yaml",
            "--lm.model",
            BASE,
            "--prm.path",
            PRM,
            "--policy",
            "<inputs>/nope.json",
            "--output_dir",
            "<out>/solve",
        ],
        r"^ttc solve: .*nope.json: cannot read",
    ),
    (
        "toy-models model missing",
        ["toy-models", "--models", "[/nonexistent/toy]", "--output_dir", "<out>/tm"],
        r"^ttc toy-models: models\[0\]: '/nonexistent/toy' does not exist",
    ),
    # --- the trainers, through ttc and through python -m
    (
        "orm-data chains missing",
        [
            "orm-data",
            "--config",
            "configs/toy/orm_data.yaml",
            "--model",
            BASE,
            "--chains",
            "<inputs>/nope.jsonl",
            "--output_dir",
            "<out>/od",
        ],
        r"^ttc orm-data: .*nope.jsonl: cannot read \(No such file or directory\)$",
    ),
    (
        "orm-data empty chains",
        [
            "orm-data",
            "--config",
            "configs/toy/orm_data.yaml",
            "--model",
            BASE,
            "--data.split",
            "train",
            "--chains",
            "<empty>",
            "--output_dir",
            "<out>/od",
        ],
        r"^ttc orm-data: .*empty.jsonl: problem toy-train-L1-00000 has chains \[\]",
    ),
    (
        "train-lm init_from missing",
        [
            "train-lm",
            "--config",
            "configs/toy/lm_base.yaml",
            "--init_from",
            "/nonexistent/lm",
            "--output_dir",
            "<out>/lm",
        ],
        r"^ttc train-lm: init_from: '/nonexistent/lm' does not exist",
    ),
    (
        "train-prm model missing",
        [
            "train-prm",
            "--config",
            "configs/toy/prm.yaml",
            "--model",
            "/nonexistent/base",
            "--labels_file",
            "<inputs>/labels.jsonl",
            "--output_dir",
            "<out>/prm",
        ],
        r"^ttc train-prm: model: '/nonexistent/base' does not exist",
    ),
    (
        "train-prm empty labels",
        [
            "train-prm",
            "--config",
            "configs/toy/prm.yaml",
            "--model",
            BASE,
            "--labels_file",
            "<empty>",
            "--output_dir",
            "<out>/prm",
        ],
        r"^ttc train-prm: .*empty.jsonl: no step labels$",
    ),
    (
        "train-prm labels are samples",
        [
            "train-prm",
            "--config",
            "configs/toy/prm.yaml",
            "--model",
            BASE,
            "--labels_file",
            "<samples>",
            "--output_dir",
            "<out>/prm",
        ],
        r"^ttc train-prm: .*samples.jsonl:1: missing field 'sample_index' \(StepLabels\)$",
    ),
    (
        "train-reviser empty trajectories",
        [
            "train-reviser",
            "--config",
            "configs/toy/revision.yaml",
            "--model",
            BASE,
            "--trajectories_file",
            "<empty>",
            "--output_dir",
            "<out>/rev",
        ],
        r"^ttc train-reviser: .*empty.jsonl: no trajectories$",
    ),
    (
        "python -m train.prm model missing",
        [
            "-m",
            "train.prm",
            "--config",
            "configs/toy/prm.yaml",
            "--model",
            "/nonexistent/base",
            "--labels_file",
            "<inputs>/labels.jsonl",
            "--output_dir",
            "<out>/prm",
        ],
        r"^train.prm: model: '/nonexistent/base' does not exist",
    ),
    (
        "python -m train.prm model config {}",
        [
            "-m",
            "train.prm",
            "--config",
            "configs/toy/prm.yaml",
            "--model",
            "<empty_config>",
            "--labels_file",
            "<inputs>/labels.jsonl",
            "--output_dir",
            "<out>/prm",
        ],
        r"^train.prm: model: .*empty_config/config.json: no 'model_type'",
    ),
    (
        "python -m train.revision unknown key",
        [
            "-m",
            "train.revision",
            "--config",
            "configs/toy/revision.yaml",
            "--model",
            BASE,
            "--trajectories_file",
            "<empty>",
            "--output_dir",
            "<out>/rev",
            "--learning_rat",
            "1",
        ],
        r"^train.revision: command line: unknown key 'learning_rat'",
    ),
    (
        "python -m train.toy_lm bad trainer field",
        ["-m", "train.toy_lm", "--output_dir", "<out>/toy", "--trainer", "{no_such_field: 1}"],
        r"^train.toy_lm: trainer: .*no_such_field",
    ),
    (
        "python -m train.orm_data chains missing",
        [
            "-m",
            "train.orm_data",
            "--config",
            "configs/toy/orm_data.yaml",
            "--model",
            BASE,
            "--chains",
            "<inputs>/nope.jsonl",
            "--output_dir",
            "<out>/od",
        ],
        r"^train.orm_data: .*nope.jsonl: cannot read \(No such file or directory\)$",
    ),
    # --- merge, the pipeline, the report
    (
        "merge unfinished shards",
        [
            "merge",
            "sample",
            "--config",
            "configs/toy/sample.yaml",
            "--lm.model",
            BASE,
            "--output_dir",
            "<partial>",
            "--num_shards",
            "1",
        ],
        r"^ttc merge: cannot merge samples: unfinished shard\(s\): .*samples.shard-00000-of-00001.jsonl$",
    ),
    (
        "merge a folder that is not there",
        [
            "merge",
            "sample",
            "--config",
            "configs/toy/sample.yaml",
            "--lm.model",
            BASE,
            "--output_dir",
            "<out>/none",
            "--num_shards",
            "2",
        ],
        r"^ttc merge: cannot merge samples: output_dir .*none is not a folder$",
    ),
    (
        "pipeline recipe missing",
        ["pipeline", "--config", "<inputs>/nope.yaml", "--run_dir", "<out>/run"],
        r"^ttc pipeline: .*nope.yaml: cannot read recipe \(No such file or directory\)$",
    ),
    (
        "demo preset missing",
        ["demo", "--preset", "nope"],
        r"^ttc demo: --preset nope: no recipe configs/toy/demo_nope.yaml$",
    ),
    ("report run folder missing", ["report", "<out>/no_run"], r"^ttc report: run directory .*no_run does not exist$"),
]


@pytest.mark.parametrize("case, argv, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(case, argv, message, work, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    paths = {**work, "inputs": str(Path(work["root"]) / "inputs")}
    argv = [re.sub(r"<(\w+)>", lambda m: paths[m.group(1)], a) for a in argv]
    root = Path(work["root"])
    before = snapshot(root)
    code, lines = run(argv, capsys)
    if os.environ.get(
        "TTC_LIST_MESSAGES"
    ):  # TTC_LIST_MESSAGES=1 pytest tests/ttc/pipeline/test_bad_inputs.py: each case's line
        with capsys.disabled():
            print(f"\n[{case}] {lines[-1] if lines else ''}", end="")
    assert code == 2, f"{case}: exit {code}, stderr {lines}"
    assert len(lines) == 1, f"{case}: not one line: {lines}"
    assert not any("Traceback" in line for line in lines)
    assert re.search(message, lines[0]), f"{case}: {lines[0]!r} !~ {message!r}"
    assert unchanged(before, snapshot(root)) == [], f"{case}: changed {unchanged(before, snapshot(root))}"


def test_eval_strategies_on_the_command_line_replace_the_recipes_grid():
    from data.config import parse_config
    from eval import search

    cfg = parse_config(
        search.SearchEvalConfig,
        [
            "--config",
            str(REPO / "configs/toy/eval_search.yaml"),
            "--output_dir",
            "out",
            "--lm.model",
            BASE,
            "--prm.path",
            PRM,
            "--strategies",
            "{only: {strategy: best_of_n, selection: majority}}",
        ],
    )
    assert cfg.strategies == {"only": {"strategy": "best_of_n", "selection": "majority"}}


# --- rerunning with other settings: refused, or started afresh when asked; speed knobs are free


def test_changed_settings_resume_is_refused_unless_overwrite(work, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    folder = tmp_path / "rerun"
    shutil.copytree(work["finished"], folder)
    records, config = (folder / "samples.jsonl").read_bytes(), (folder / "config.shard-0.yaml").read_text()
    argv = [*SAMPLE, "--output_dir", str(folder)]
    # speed knobs and batching do not change the records: the finished folder is the answer, untouched
    assert run([*argv, "--batch_problems", "1", "--lm.threads", "2"], capsys)[0] == 0
    assert (folder / "samples.jsonl").read_bytes() == records
    assert (folder / "config.shard-0.yaml").read_text() == config  # it still describes the records
    # other sampling settings: refused, nothing touched
    code, [line] = run([*argv, "--sampling.n", "3"], capsys)
    assert code == 2 and "(sampling.n 2 -> 3)" in line
    assert (folder / "samples.jsonl").read_bytes() == records
    # asked to start afresh: new records, and the saved config and settings describe them
    assert run([*argv, "--sampling.n", "3", "--overwrite", "true"], capsys)[0] == 0
    samples = read_records(folder / "samples.jsonl", Sample)
    assert len(samples) == 4 * 3 and {s.index for s in samples} == {0, 1, 2}
    assert "  n: 3\n" in (folder / "config.shard-0.yaml").read_text()
    settings = json.loads((folder / "samples.settings.json").read_text())["settings"]
    assert settings["sampling.n"] == 3 and "output_dir" not in settings and "overwrite" not in settings
