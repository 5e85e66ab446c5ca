"""MATH problems as `Problem` records, with the PRM800K split.

Sources: a local `.jsonl`, `.json` or `.parquet` file, a directory of them (searched
recursively), or a hub dataset id (`datasets.load_dataset`; offline it reads the hub cache).
Two schemas are read:
- Hendrycks MATH: `problem`, `solution`, `level` ("Level 3"), `type`; the gold answer is the
  solution's last `\\boxed{}`.
- MATH-500 / PRM800K: `problem`, `answer`, `subject`, `level` (int), `unique_id`
  ("test/precalculus/807.json": the problem's path in the original MATH release).
A problem's id is its `unique_id`, else its `id`, else, for a `.json` file holding one problem
(the original release's layout MATH/test/algebra/1.json), that path ("test/algebra/1.json", as
PRM800K names it), else "{split}/{subject}/{index}".

Splits: a plain name ("train", "test") picks a hub split or, in a directory, the files named
or placed under it; a single file is taken whole. "prm800k_test" and "prm800k_train" read all
of the source and keep, or drop, the 500 MATH-500 problems: the split of Lightman et al. that
the paper uses (12k train = MATH train + the MATH test problems outside MATH-500; 500 test),
matched by unique_id. `math500_ids.txt` lists those ids in HuggingFaceH4/MATH-500's test order;
it was copied from three public copies of that test.jsonl on GitHub, which agree (the original,
openai/prm800k's prm800k/math_splits/test.jsonl, is stored there as a Git LFS pointer).

JSON is read here, not through `datasets`, so that errors name the file and line, and so that
one-problem `.json` files (which `datasets` cannot read) load.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Iterator

from data.records import Problem, RecordError, iter_lines
from data.steps import extract_answer

SOURCE = "math"
PRM800K_SPLITS = ("prm800k_train", "prm800k_test")
MATH500_IDS_FILE = Path(__file__).with_name("math500_ids.txt")
EXTENSIONS = (".jsonl", ".json", ".parquet")

# (where the row came from, for errors; the row; an id given by the file's path, if any)
Row = tuple[str, Any, str | None]


def load_math(source: str, split: str) -> list[Problem]:
    prm800k = split in PRM800K_SPLITS
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for index, (where, row, path_id) in enumerate(_rows(source, None if prm800k else split)):
        problem = _problem(row, where, path_id, split, index, need_id=prm800k)
        if problem.id in seen:
            raise RecordError(f"{where}: duplicate problem id {problem.id!r} (first at {seen[problem.id]})")
        seen[problem.id] = where
        problems.append(problem)
    return _prm800k(problems, split, source) if prm800k else problems


@cache
def math500_ids() -> tuple[str, ...]:
    return tuple(MATH500_IDS_FILE.read_text().split())


def _prm800k(problems: list[Problem], split: str, source: str) -> list[Problem]:
    test_ids = math500_ids()
    if split == "prm800k_train":
        test_set = set(test_ids)
        return [p for p in problems if p.id not in test_set]
    by_id = {p.id: p for p in problems}
    missing = [i for i in test_ids if i not in by_id]
    if missing:
        raise RecordError(
            f"{source}: has {len(test_ids) - len(missing)} of the {len(test_ids)} MATH-500 problems "
            f"(missing {missing[:3]}...): prm800k_test matches them by 'unique_id'"
        )
    return [by_id[i] for i in test_ids]  # MATH-500's order, whatever the source's


def _problem(row: Any, where: str, path_id: str | None, split: str, index: int, need_id: bool) -> Problem:
    if not isinstance(row, dict):
        raise RecordError(f"{where}: expected a JSON object, got {type(row).__name__}")
    subject = _text(row, "subject" if "subject" in row else "type", where, default="")
    problem_id = _given_id(row, where) or path_id
    if problem_id is None:
        if need_id:
            raise RecordError(f"{where}: missing field 'unique_id' (the PRM800K split matches by it)")
        problem_id = f"{split}/{_slug(subject)}/{index}"
    return Problem(
        id=problem_id,
        question=_text(row, "problem", where),
        answer=_answer(row, where),
        level=_level(row.get("level"), where),
        subject=subject,
        source=SOURCE,
    )


def _text(row: dict, key: str, where: str, default: str | None = None) -> str:
    if key not in row or row[key] is None:
        if default is None:
            raise RecordError(f"{where}: missing field '{key}'")
        return default
    if not isinstance(row[key], str):
        raise RecordError(f"{where}: field '{key}' should be a string, got {row[key]!r:.80}")
    return row[key]


def _given_id(row: dict, where: str) -> str | None:
    for key in ("unique_id", "id"):
        value = row.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise RecordError(f"{where}: field '{key}' should be a string, got {value!r:.80}")
        return str(value)
    return None


def _answer(row: dict, where: str) -> str:
    if "answer" in row:
        return _text(row, "answer", where)
    if "solution" not in row:
        raise RecordError(f"{where}: missing field 'answer' (or a 'solution' with a \\boxed{{}} answer)")
    answer = extract_answer(_text(row, "solution", where))
    if answer is None:
        raise RecordError(f"{where}: field 'solution' has no complete \\boxed{{}} answer")
    return answer


def _level(value: Any, where: str) -> int | None:
    if value is None or value == "Level ?":  # a few MATH problems have no level
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = re.fullmatch(r"Level (\d+)", value) if isinstance(value, str) else None
    if not match:
        raise RecordError(f"{where}: field 'level' should be an int or 'Level N', got {value!r:.80}")
    return int(match.group(1))


def _slug(subject: str) -> str:
    """"Counting & Probability" -> "counting_and_probability", MATH's folder names."""
    return re.sub(r"[^a-z0-9]+", "_", subject.lower().replace("&", "and")).strip("_") or "math"


# ---- reading rows ----


def _rows(source: str, split: str | None) -> Iterator[Row]:
    path = Path(source)
    if path.is_file():
        yield from _file_rows(path)
    elif path.is_dir():
        for file in _split_files(path, split):
            yield from _file_rows(file)
    elif path.suffix in EXTENSIONS:
        raise RecordError(f"{source}: no such file")
    else:
        yield from _hub_rows(source, split)


def _split_files(root: Path, split: str | None) -> list[Path]:
    files = sorted(p for p in root.rglob("*") if p.suffix in EXTENSIONS and p.is_file())
    if split is not None:
        files = [p for p in files if split in p.relative_to(root).parts[:-1] or p.name.startswith(split)]
    if not files:
        for_split = f" for split '{split}'" if split else ""
        raise RecordError(f"{root}: no {'/'.join(EXTENSIONS)} files{for_split}")
    return files


def _file_rows(path: Path) -> Iterator[Row]:
    if path.suffix == ".jsonl":
        for number, obj in iter_lines(path):
            yield f"{path}:{number}", obj, None
    elif path.suffix == ".json":
        yield from _json_rows(path)
    else:
        yield from _parquet_rows(path)


def _json_rows(path: Path) -> Iterator[Row]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RecordError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from e
    if isinstance(data, dict):  # one problem a file: its path is its id
        yield str(path), data, "/".join(path.parts[-3:])
    elif isinstance(data, list):
        for i, obj in enumerate(data):
            yield f"{path}[{i}]", obj, None
    else:
        raise RecordError(f"{path}: expected a JSON object or a list of them")


def _parquet_rows(path: Path) -> Iterator[Row]:
    from datasets import load_dataset  # slow to import; only parquet and hub sources need it

    try:
        dataset = load_dataset("parquet", data_files=str(path), split="train")
    except Exception as e:  # arrow's errors do not name the file
        raise RecordError(f"{path}: cannot read as parquet ({e})") from e
    for i, row in enumerate(dataset):
        yield f"{path}: row {i + 1}", row, None


def _hub_rows(name: str, split: str | None) -> Iterator[Row]:
    from datasets import load_dataset

    splits = {split: load_dataset(name, split=split)} if split else load_dataset(name)
    for split_name, dataset in splits.items():
        for i, row in enumerate(dataset):
            yield f"{name} ({split_name}): row {i + 1}", row, None
