"""Step-level PRM benchmarks as records: ProcessBench-shaped solutions and PRMBench-shaped steps.

`BenchSolution` is one ProcessBench item (arXiv 2412.06559): a solution's steps and `label`, the
index of its earliest wrong step or -1 when every step is right. The toy world's step-exact set
(data/toy_bench.py) is written in the same shape, with the error class of its first wrong step.
`BenchSteps` is one PRMBench item (arXiv 2501.03124): a solution's steps, the set of its
erroneous steps and its error class. Both are read from local files in their published layouts,
or from a dataset hub id resolved in the Hugging Face cache only (nothing is downloaded).

The published layouts, as read from the sources:
- ProcessBench (HF dataset Qwen/ProcessBench, its README's `configs`: one file a split,
  `gsm8k.json`, `math.json`, `olympiadbench.json`, `omnimath.json`, at the repository's root;
  400, 1000, 1000, 1000 items, 207/193, 594/406, 661/339, 759/241 erroneous/correct, the sizes
  QwenLM/ProcessBench code/run_eval_prm_trl.py checks). Each item has `id` ("gsm8k-0"),
  `generator`, `problem`, `steps` (list of str), `final_answer_correct` (bool) and `label`
  (0-based index of the earliest wrong step, -1 for none; the paper's Figure 3 "indexed from
  0"; QwenLM/ProcessBench README). A split's file is read as a JSON array or as JSON lines,
  whichever it holds (the `datasets` JSON loader takes both); `<split>.jsonl` is read too.
- PRMBench (ssmisya/PRMBench docs/data_format.md and README; data at HF hitsmy/PRMBench_Preview;
  the evaluator reads every `*.jsonl` of a folder, mr_eval/utils/task_utils.py
  load_dir_of_jsonl_data_function_default). A line has `original_question`,
  `modified_question`, `original_process`, `modified_process` (lists of str), `modified_steps`,
  `error_steps` (1-based step numbers: mr_eval/tasks/prmtest_classified/task.py
  eval_on_hallucination_step subtracts 1), `reason`, `idx`, `question` and `classification`
  (one of 9 classes: redundency, circular, counterfactual, step_contradiction,
  domain_inconsistency, confidence, missing_condition, deception, multi_solutions; the last
  has no erroneous step). As that task's load_data_function does, the scored solution is the
  modified question and process, keyed `<classification>_<idx>` (a key seen twice is read
  once), and each `redundency` line also gives one all-correct item, its original question and
  process, class `correct`, keyed `correct_<idx>`. Erroneous steps are kept 0-based here.

Bad input is one `RecordError` naming the file, the line (JSON lines) or item (a JSON array)
and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from data import models
from data.records import RecordError, from_dict, iter_lines

PROCESSBENCH = "Qwen/ProcessBench"
PROCESSBENCH_SPLITS = ("gsm8k", "math", "olympiadbench", "omnimath")
PRMBENCH = "hitsmy/PRMBench_Preview"
CORRECT = "correct"  # PRMBench's class of the original (all-correct) processes


@dataclass(frozen=True)
class BenchSolution:
    """One ProcessBench item (its published fields, plus ours with defaults)."""

    id: str
    split: str  # ProcessBench: gsm8k, math, olympiadbench, omnimath; toy: the level, "L1".."L5"
    problem: str
    steps: list[str]
    label: int  # index of the earliest wrong step; -1: every step is right
    final_answer_correct: bool
    error_class: str | None = None  # the first wrong step's kind where the set knows it (toy: slip, arithmetic)
    group: str = ""  # the unit an interval resamples: the question ("" = the item itself)


@dataclass(frozen=True)
class BenchSteps:
    """One PRMBench item: the solution scored, its erroneous steps (0-based) and its class."""

    id: str  # "<classification>_<idx>", as the published evaluator keys it
    question: str
    steps: list[str]
    errors: frozenset[int]  # 0-based indices of the erroneous steps; empty for `correct` and multi_solutions
    classification: str
    group: str = ""  # the source question (PRMBench's idx, shared by its classes); "" = the item itself


@dataclass(frozen=True)
class _ProcessBenchItem:  # the published fields, checked by from_dict
    id: str
    problem: str
    steps: list[str]
    final_answer_correct: bool
    label: int
    generator: str = ""


@dataclass(frozen=True)
class _PRMBenchItem:
    idx: str
    classification: str
    modified_question: str
    modified_process: list[str]
    error_steps: list[int]
    original_question: str | None = None
    original_process: list[str] | None = None


def locate(path_or_id: str, what: str) -> Path:
    """A local file or folder, or the snapshot of a dataset hub id in the Hugging Face cache
    (data/models.py; nothing is downloaded). Missing: one RecordError naming it."""
    return models.locate(path_or_id, what, "dataset", RecordError)


def json_items(path: Path) -> Iterator[tuple[str, Any]]:
    """("file:line" or "file:item i", object) for a JSON array or JSON lines file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise RecordError(f"{path}: cannot read ({e.strerror})") from e
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            raise RecordError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from e
        for i, obj in enumerate(items):
            yield f"{path}: item {i}", obj
        return
    for number, obj in iter_lines(path):
        yield f"{path}:{number}", obj


def split_file(root: Path, split: str) -> Path:
    for name in (f"{split}.json", f"{split}.jsonl"):
        if (root / name).is_file():
            return root / name
    raise RecordError(f"{root}: no file for ProcessBench split {split!r} (expected {split}.json or {split}.jsonl)")


def read_processbench(
    path_or_id: str = PROCESSBENCH, splits: tuple[str, ...] | list[str] = PROCESSBENCH_SPLITS
) -> list[BenchSolution]:
    """The items of `splits`, in file order, from a folder of `<split>.json` files (the hub
    layout), a hub id, or one split's file (its name is the split; `splits` is then not read)."""
    root = locate(path_or_id, "data")
    files = [(root.stem, root)] if root.is_file() else [(s, split_file(root, s)) for s in splits]
    solutions = []
    for split, file in files:
        for where, obj in json_items(file):
            item = from_dict(_ProcessBenchItem, obj, where)
            if not -1 <= item.label < len(item.steps):
                raise RecordError(
                    f"{where}: field 'label' is {item.label}, expected -1 or a step index below {len(item.steps)}"
                )
            solutions.append(
                BenchSolution(item.id, split, item.problem, item.steps, item.label, item.final_answer_correct)
            )
    return solutions


def read_prmbench(path_or_id: str = PRMBENCH, classifications: tuple[str, ...] | list[str] = ()) -> list[BenchSteps]:
    """The scored items of a PRMBench `.jsonl` file, a folder of them (every `*.jsonl` below it,
    sorted) or a hub id, as the published evaluator builds them (module docstring); only the
    `classifications` given (empty: all; `correct` names the original processes)."""
    root = locate(path_or_id, "data")
    files = [root] if root.is_file() else sorted(root.rglob("*.jsonl"))
    if not files:
        raise RecordError(f"{root}: no .jsonl file of PRMBench in it")
    items: dict[str, BenchSteps] = {}
    for file in files:
        for where, obj in json_items(file):
            item = from_dict(_PRMBenchItem, obj, where)
            if item.classification == "redundency":
                if item.original_process is None or item.original_question is None:
                    raise RecordError(
                        f"{where}: missing field 'original_process' or 'original_question' "
                        f"(a redundency line gives the all-correct item)"
                    )
                items.setdefault(
                    f"{CORRECT}_{item.idx}",
                    BenchSteps(
                        f"{CORRECT}_{item.idx}",
                        item.original_question,
                        item.original_process,
                        frozenset(),
                        CORRECT,
                        item.idx,
                    ),
                )
            key = f"{item.classification}_{item.idx}"
            items.setdefault(
                key,
                BenchSteps(
                    key,
                    item.modified_question,
                    item.modified_process,
                    errors(item, where),
                    item.classification,
                    item.idx,
                ),
            )
    return [s for s in items.values() if not classifications or s.classification in classifications]


def errors(item: _PRMBenchItem, where: str) -> frozenset[int]:
    """The 1-based `error_steps` as 0-based indices, each checked to be a step."""
    bad = [s for s in item.error_steps if not 1 <= s <= len(item.modified_process)]
    if bad:
        raise RecordError(
            f"{where}: field 'error_steps' has {bad}, expected 1-based step numbers up to {len(item.modified_process)}"
        )
    return frozenset(s - 1 for s in item.error_steps)
