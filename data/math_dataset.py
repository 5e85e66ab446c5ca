"""MATH problems as `Problem` records, with the PRM800K split.

Sources: a local `.jsonl`, `.json` or `.parquet` file, a directory of them (searched
recursively), or a hub dataset id (`datasets.load_dataset`, every config of it; offline it reads
the `datasets` cache). Two schemas are read:
- Hendrycks MATH: `problem`, `solution`, `level` ("Level 3"), `type`; the gold answer is the
  solution's last `\\boxed{}`.
- MATH-500 / PRM800K: `problem`, `answer`, `subject`, `level` (int), `unique_id`
  ("test/precalculus/807.json": the problem's path in the original MATH release).
A problem's id is its `unique_id`, else its `id`, else, for a `.json` file holding one problem
(the original release's layout MATH/test/algebra/1.json), that path ("test/algebra/1.json", as
PRM800K names it), else "{split}/{subject}/{index}": the split the source files the row under (a
hub split, or a "train"/"test" folder or file-name prefix in a directory; else the split asked
for), the subject's folder name, and the row's index among that split's rows of that subject
(for the hub mirror EleutherAI/hendrycks_math: its index in that config and split).

Splits: a plain name ("train", "test") picks a hub split or, in a directory, the files named
or placed under it; a single file is taken whole. "prm800k_test" and "prm800k_train" read all
of the source and keep, or drop, the 500 MATH-500 problems: the split of Lightman et al. that
the paper uses (12k train = MATH train + the MATH test problems outside MATH-500; 500 test).
A MATH-500 problem is found by its unique_id or release path, or, in a row with no id (the hub
mirror EleutherAI/hendrycks_math has none), by its problem text: the sha256 of the text with
its whitespace runs made single spaces, for rows the source files under "test" or under no
split (MATH-500 is drawn from MATH's test split); the first such row takes the id, a later copy
of the text stays a problem of its own, as in a split by id. Both splits need all 500 found, so that
none of them can slip into training unrecognised.

`math500.txt` lists the 500, one "unique_id sha256" a line, in HuggingFaceH4/MATH-500's test
order. It was computed from two public copies of that test.jsonl on GitHub, which agree on the
ids, their order and the problem texts (wulei20/AML_HW4_Infer's data/math500/test1.jsonl, with
ids; jincan333/MAS-TTS's data/math500/test.jsonl, without); the original, openai/prm800k's
prm800k/math_splits/test.jsonl, is stored there as a Git LFS pointer. Its ids were checked
against three copies before.

JSON is read here, not through `datasets`, so that errors name the file and line, and so that
one-problem `.json` files (which `datasets` cannot read) load.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Iterator, cast

from data.models import snapshot
from data.records import Problem, RecordError, iter_lines
from data.steps import extract_answer

SOURCE = "math"
PRM800K_SPLITS = ("prm800k_train", "prm800k_test")
MATH500_FILE = Path(__file__).with_name("math500.txt")
EXTENSIONS = (".jsonl", ".json", ".parquet")
SPLIT_NAMES = ("train", "test")  # the splits MATH's release and its hub mirror file rows under
# Configs of hub datasets that need one named: offline, the `datasets` cache lists its
# configs as ["default"], so these are not asked of it.
HUB_CONFIGS = {
    "EleutherAI/hendrycks_math": (
        "algebra",
        "counting_and_probability",
        "geometry",
        "intermediate_algebra",
        "number_theory",
        "prealgebra",
        "precalculus",
    ),
}


@dataclass(frozen=True)
class Row:
    where: str  # where it came from, for errors
    data: Any
    path_id: str | None = None  # its path in the original release, for a one-problem `.json` file
    split: str | None = None  # the split the source files it under, if it says


def load_math(source: str, split: str) -> list[Problem]:
    prm800k = split in PRM800K_SPLITS
    problems = _problems(_rows(source, None if prm800k else split), split, by_text=prm800k)
    return _prm800k(problems, split, source) if prm800k else problems


@cache
def _math500(path: Path) -> tuple[tuple[str, str], ...]:
    return tuple((uid, digest) for uid, digest in (line.split() for line in path.read_text().splitlines()))


def math500_ids() -> tuple[str, ...]:
    """MATH-500's unique_ids, in its order."""
    return tuple(uid for uid, _ in _math500(MATH500_FILE))


def text_key(text: str) -> str:
    """What a problem's text is matched by: the sha256 of it with whitespace runs made one space."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def _problems(rows: Iterator[Row], split: str, by_text: bool) -> list[Problem]:
    math500 = {digest: uid for uid, digest in _math500(MATH500_FILE)} if by_text else {}
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    counts: Counter[str] = Counter()  # rows of each "{split}/{subject}", for ids
    for row in rows:
        problem = _problem(row, split, counts, math500)
        if problem.id in seen:
            raise RecordError(f"{row.where}: duplicate problem id {problem.id!r} (first at {seen[problem.id]})")
        seen[problem.id] = row.where
        problems.append(problem)
    return problems


def _prm800k(problems: list[Problem], split: str, source: str) -> list[Problem]:
    test_ids = math500_ids()
    by_id = {p.id: p for p in problems}
    missing = [i for i in test_ids if i not in by_id]
    if missing:
        raise RecordError(
            f"{source}: has {len(test_ids) - len(missing)} of the {len(test_ids)} MATH-500 problems "
            f"(missing {missing[:3]}...): {split} needs them all, found by 'unique_id', by path in the "
            f"original release's folder, or by problem text in a row without an id ({MATH500_FILE.name})"
        )
    if split == "prm800k_train":
        test_set = set(test_ids)
        return [p for p in problems if p.id not in test_set]
    return [by_id[i] for i in test_ids]  # MATH-500's order, whatever the source's


def _problem(row: Row, split: str, counts: Counter[str], math500: dict[str, str]) -> Problem:
    data, where = row.data, row.where
    if not isinstance(data, dict):
        raise RecordError(f"{where}: expected a JSON object, got {type(data).__name__}")
    subject = _text(data, "subject" if "subject" in data else "type", where, default="")
    question = _text(data, "problem", where)
    group = f"{row.split or split}/{_slug(subject)}"
    index = counts[group]
    counts[group] += 1
    problem_id = _given_id(data, where) or row.path_id
    if problem_id is None and row.split in (None, "test"):
        problem_id = math500.pop(text_key(question), None)  # a later copy of the text is a problem of its own
    return Problem(
        id=problem_id or f"{group}/{index}",
        question=question,
        answer=_answer(data, where),
        level=_level(data.get("level"), where),
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
    """ "Counting & Probability" -> "counting_and_probability", MATH's folder names."""
    return re.sub(r"[^a-z0-9]+", "_", subject.lower().replace("&", "and")).strip("_") or "math"


# ---- reading rows ----


def _rows(source: str, split: str | None) -> Iterator[Row]:
    path = Path(source)
    if not path.exists():
        # a hub id `hf download --repo-type dataset` fetched, read as a local folder (offline, load_dataset
        # reads only the datasets cache, never the hub's)
        path = snapshot(source, "dataset") or path
    if path.is_file():
        yield from _file_rows(path)
    elif path.is_dir():
        for file in _split_files(path, split):
            yield from _file_rows(file, _file_split(file.relative_to(path)))
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


def _file_split(relative: Path) -> str | None:
    """The split a directory files `relative` under: a folder (MATH/test/algebra/1.json) or its
    name's first word (the hub mirror's algebra/test-00000-of-00001.parquet)."""
    words = [*relative.parts[:-1], re.split(r"[^a-z]", relative.name)[0]]
    return next((word for word in words if word in SPLIT_NAMES), None)


def _file_rows(path: Path, split: str | None = None) -> Iterator[Row]:
    if path.suffix == ".jsonl":
        for number, obj in iter_lines(path):
            yield Row(f"{path}:{number}", obj, split=split)
    elif path.suffix == ".json":
        yield from _json_rows(path, split)
    else:
        yield from _parquet_rows(path, split)


def _json_rows(path: Path, split: str | None) -> Iterator[Row]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RecordError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from e
    if isinstance(data, dict):  # one problem a file: its path is its id
        yield Row(str(path), data, "/".join(path.parts[-3:]), split)
    elif isinstance(data, list):
        for i, obj in enumerate(data):
            yield Row(f"{path}[{i}]", obj, split=split)
    else:
        raise RecordError(f"{path}: expected a JSON object or a list of them")


def _parquet_rows(path: Path, split: str | None) -> Iterator[Row]:
    from datasets import load_dataset  # slow to import; only parquet and hub sources need it

    try:
        dataset = load_dataset("parquet", data_files=str(path), split="train")
    except Exception as e:  # arrow's errors do not name the file
        raise RecordError(f"{path}: cannot read as parquet ({e})") from e
    for i, row in enumerate(dataset):
        yield Row(f"{path}: row {i + 1}", row, split=split)


def _hub_rows(name: str, split: str | None) -> Iterator[Row]:
    """Every config's rows of `split` (all splits if None)."""
    from datasets import load_dataset

    for config in _hub_configs(name):
        try:
            splits = {split: load_dataset(name, config, split=split)} if split else load_dataset(name, config)
        except Exception as e:  # not cached offline, no such split, ...: the hub's errors do not say which
            raise RecordError(f"{name}: cannot load config {config!r}, split {split or 'all'!r} ({e})") from e
        for split_name, dataset in splits.items():
            for i, row in enumerate(dataset):
                # a loaded DatasetDict's keys are the split names as str (typed str | NamedSplit)
                split_str = cast(str, split_name)
                yield Row(f"{name} ({config or 'default'}, {split_name}): row {i + 1}", row, split=split_str)


def _hub_configs(name: str) -> tuple[str | None, ...]:
    if name in HUB_CONFIGS:
        return HUB_CONFIGS[name]
    from datasets import get_dataset_config_names

    try:
        return tuple(get_dataset_config_names(name))
    except Exception:  # offline: `load_dataset(name)` may still read the cache
        return (None,)
