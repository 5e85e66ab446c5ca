import json
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import data.math_dataset
from data.math_dataset import HUB_CONFIGS, MATH500_FILE, SOURCE, load_math, math500_ids, text_key
from data.prompts import SHOTS_FILE, PromptFormat
from data.records import Problem, RecordError
from data.steps import extract_answer, split_steps

HENDRYCKS = [
    {
        "problem": "What is $1+1$?",
        "solution": "We have $1+1=\\boxed{2}$.",
        "level": "Level 1",
        "type": "Algebra",
    },
    {
        "problem": "Flip two coins. P(two heads)?",
        "solution": "Each is $\\frac12$.\n\nSo $\\boxed{\\frac{1}{4}}$.",
        "level": "Level ?",
        "type": "Counting & Probability",
    },
]
MATH500 = [
    {
        "problem": "Convert $(0,3)$ to polar coordinates.",
        "solution": "... $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$",
        "answer": "\\left( 3, \\frac{\\pi}{2} \\right)",
        "subject": "Precalculus",
        "level": 2,
        "unique_id": "test/precalculus/807.json",
    },
    {
        "problem": "Compute $2+3$.",
        "answer": "5",
        "subject": "Algebra",
        "level": 1,
        "unique_id": "train/algebra/1.json",
    },
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def write_parquet(path, rows):
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("writer, name", [(write_jsonl, "math.jsonl"), (write_parquet, "math.parquet")])
def test_hendrycks_schema(tmp_path, writer, name):
    problems = load_math(str(writer(tmp_path / name, HENDRYCKS)), "test")
    assert problems == [
        Problem("test/algebra/0", "What is $1+1$?", "2", 1, "Algebra", SOURCE),
        Problem(
            "test/counting_and_probability/0",
            "Flip two coins. P(two heads)?",
            "\\frac{1}{4}",
            None,
            "Counting & Probability",
            SOURCE,
        ),
    ]


@pytest.mark.parametrize("writer, name", [(write_jsonl, "math.jsonl"), (write_parquet, "math.parquet")])
def test_math500_schema(tmp_path, writer, name):
    first, second = load_math(str(writer(tmp_path / name, MATH500)), "test")
    question, answer = MATH500[0]["problem"], MATH500[0]["answer"]
    assert first == Problem("test/precalculus/807.json", question, answer, 2, "Precalculus", SOURCE)
    assert (second.id, second.answer, second.level) == ("train/algebra/1.json", "5", 1)


def test_original_release_layout_gets_its_path_as_id(tmp_path):
    for split, number, row in [("train", 5, HENDRYCKS[0]), ("test", 9, HENDRYCKS[1])]:
        folder = tmp_path / "MATH" / split / "algebra"
        folder.mkdir(parents=True)
        (folder / f"{number}.json").write_text(json.dumps(row, indent=4))
    assert [p.id for p in load_math(str(tmp_path / "MATH"), "test")] == ["test/algebra/9.json"]
    assert [p.answer for p in load_math(str(tmp_path / "MATH"), "train")] == ["2"]


def test_directory_split_picks_files_by_name(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", HENDRYCKS)
    write_parquet(tmp_path / "test-00000-of-00001.parquet", MATH500)
    assert [p.answer for p in load_math(str(tmp_path), "train")] == ["2", "\\frac{1}{4}"]
    assert [p.answer for p in load_math(str(tmp_path), "test")] == [MATH500[0]["answer"], "5"]
    with pytest.raises(RecordError, match="no .* files for split 'validation'"):
        load_math(str(tmp_path), "validation")


def test_math500_file():
    ids = math500_ids()
    assert len(ids) == len(set(ids)) == 500
    digests = [line.split()[1] for line in MATH500_FILE.read_text().splitlines()]
    assert len(set(digests)) == 500 and all(re.fullmatch(r"[0-9a-f]{64}", d) for d in digests)
    assert all(re.fullmatch(r"test/[a-z_]+/\d+\.json", i) for i in ids)
    # MATH-500's published subject counts
    assert Counter(i.split("/")[1] for i in ids) == {
        "algebra": 124,
        "intermediate_algebra": 97,
        "prealgebra": 82,
        "number_theory": 62,
        "precalculus": 56,
        "geometry": 41,
        "counting_and_probability": 38,
    }


def _row(unique_id):
    return {"problem": f"Problem {unique_id}", "answer": "1", "level": 1, "unique_id": unique_id}


def test_prm800k_split(tmp_path):
    outside = ["train/algebra/1.json", "test/algebra/1.json", "test/geometry/2.json"]
    assert not set(outside) & set(math500_ids())
    inside = list(reversed(math500_ids()))  # the source's order is not MATH-500's
    path = str(write_jsonl(tmp_path / "all.jsonl", [_row(i) for i in outside[:2] + inside + outside[2:]]))
    assert [p.id for p in load_math(path, "prm800k_train")] == outside
    assert [p.id for p in load_math(path, "prm800k_test")] == list(math500_ids())


def test_prm800k_test_needs_all_500(tmp_path):
    rows = [_row("test/precalculus/807.json"), _row("train/algebra/1.json")]
    path = write_jsonl(tmp_path / "few.jsonl", rows)
    with pytest.raises(RecordError, match="has 1 of the 500 MATH-500 problems"):
        load_math(str(path), "prm800k_test")


def test_prm800k_needs_every_math500_problem_for_either_split(tmp_path):
    path = str(write_jsonl(tmp_path / "hendrycks.jsonl", HENDRYCKS))
    for split in ("prm800k_train", "prm800k_test"):
        with pytest.raises(RecordError, match=rf"hendrycks.jsonl: has 0 of the 500 MATH-500 problems .*{split} needs"):
            load_math(path, split)


# Three MATH-500 problems as the hub mirror EleutherAI/hendrycks_math has them (no unique_id),
# texts from HuggingFaceH4/MATH-500's test.jsonl, solutions cut to their boxed answer.
REAL_MATH500 = {
    "test/precalculus/807.json": {
        "problem": "Convert the point $(0,3)$ in rectangular coordinates to polar coordinates.  Enter your answer "
        "in the form $(r,\\theta),$ where $r > 0$ and $0 \\le \\theta < 2 \\pi.$",
        "level": "Level 2",
        "type": "Precalculus",
        "solution": "Therefore, the polar coordinates are $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$",
    },
    "test/algebra/2584.json": {
        "problem": "If $f(x) = \\frac{3x-2}{x-2}$, what is the value of $f(-2) +f(-1)+f(0)$? Express your answer "
        "as a common fraction.",
        "level": "Level 3",
        "type": "Algebra",
        "solution": "$=2+\\frac{5}{3}+1=\\boxed{\\frac{14}{3}}$",
    },
    "test/number_theory/572.json": {
        "problem": "How many positive whole-number divisors does 196 have?",
        "level": "Level 3",
        "type": "Number Theory",
        "solution": "There are $\\boxed{9}$ divisors of 196.",
    },
}


def other(subject: str, i: int) -> dict:
    return {
        "problem": f"A {subject} problem, number {i}.",
        "level": "Level 1",
        "type": subject,
        "solution": f"$\\boxed{{{i}}}$",
    }


def write_hub_mirror(root, real=REAL_MATH500):
    """EleutherAI/hendrycks_math's layout, as `hf download` leaves it: a folder a config, a parquet a
    split, the card's `configs:`. Test splits: other problems around the given MATH-500 ones."""
    card = ["---", "configs:"]
    by_subject = {row["type"]: [row] for row in real.values()}
    for subject in ("Algebra", "Number Theory", "Precalculus"):
        config = subject.lower().replace(" ", "_")
        splits = {
            "train": [other(subject, 0), other(subject, 1)],
            "test": [other(subject, 2), *by_subject.get(subject, []), other(subject, 3)],
        }
        card += [f"- config_name: {config}", "  data_files:"]
        for split, rows in splits.items():
            (root / config).mkdir(parents=True, exist_ok=True)
            write_parquet(root / config / f"{split}-00000-of-00001.parquet", rows)
            card += [f"  - split: {split}", f"    path: {config}/{split}-*"]
    (root / "README.md").write_text("\n".join(card + ["---", ""]))
    return root


@pytest.fixture
def three_math500(tmp_path, monkeypatch):
    """MATH-500 cut to the three problems above: the committed lines, so their digests are checked."""
    lines = [line for line in MATH500_FILE.read_text().splitlines() if line.split()[0] in REAL_MATH500]
    cut = tmp_path / "math500.txt"
    cut.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(data.math_dataset, "MATH500_FILE", cut)
    return [line.split()[0] for line in lines]


MIRROR_TRAIN = [  # the mirror's train splits, then its test problems outside MATH-500, config by config
    "train/algebra/0",
    "train/algebra/1",
    "test/algebra/0",
    "test/algebra/2",
    "train/number_theory/0",
    "train/number_theory/1",
    "test/number_theory/0",
    "test/number_theory/2",
    "train/precalculus/0",
    "train/precalculus/1",
    "test/precalculus/0",
    "test/precalculus/2",
]


def test_prm800k_split_of_the_hub_mirror_layout_matches_math500_by_text(tmp_path, three_math500):
    mirror = str(write_hub_mirror(tmp_path / "hendrycks_math"))
    test = load_math(mirror, "prm800k_test")
    assert [p.id for p in test] == three_math500  # MATH-500's order
    assert [(p.answer, p.level, p.subject) for p in test[:2]] == [
        ("\\left( 3, \\frac{\\pi}{2} \\right)", 2, "Precalculus"),
        ("\\frac{14}{3}", 3, "Algebra"),
    ]
    train = load_math(mirror, "prm800k_train")
    assert sorted(p.id for p in train) == sorted(MIRROR_TRAIN)
    assert {p.question for p in train}.isdisjoint(p.question for p in test)
    # the plain splits keep the mirror's own ids
    assert [p.id for p in load_math(mirror, "test")][:3] == ["test/algebra/0", "test/algebra/1", "test/algebra/2"]


def test_text_match_ignores_whitespace_but_not_the_train_split(tmp_path, three_math500):
    rows = [dict(row, problem=" " + row["problem"].replace("  ", "\n") + "\n") for row in REAL_MATH500.values()]
    path = str(write_jsonl(tmp_path / "test.jsonl", rows + rows[:1]))  # no split in its path: matched
    assert [p.id for p in load_math(path, "prm800k_test")] == three_math500
    assert [p.id for p in load_math(path, "prm800k_train")] == ["prm800k_train/precalculus/1"]  # the copy
    (tmp_path / "folder").mkdir()
    write_jsonl(tmp_path / "folder" / "train.jsonl", rows)  # the same texts filed under train: train problems
    with pytest.raises(RecordError, match="folder: has 0 of the 3 MATH-500 problems"):
        load_math(str(tmp_path / "folder"), "prm800k_train")


def test_hub_mirror_without_a_math500_problem_is_one_clear_error(tmp_path, three_math500):
    real = {k: v for k, v in REAL_MATH500.items() if k != "test/algebra/2584.json"}
    mirror = str(write_hub_mirror(tmp_path / "hendrycks_math", real))
    with pytest.raises(
        RecordError,
        match=r"hendrycks_math: has 2 of the 3 MATH-500 problems \(missing "
        r"\['test/algebra/2584.json'\]\.\.\.\): prm800k_test needs them all",
    ):
        load_math(mirror, "prm800k_test")


def test_hub_id_reads_every_config_from_the_datasets_cache(tmp_path, monkeypatch, three_math500):
    """`EleutherAI/hendrycks_math` by its hub id, offline: each config as `load_dataset` caches it."""
    import datasets.config

    name = "EleutherAI/hendrycks_math"
    snapshot = write_hub_mirror(tmp_path / "snapshots" / "0123abcd")
    cache = tmp_path / "datasets"
    for config in ("algebra", "number_theory", "precalculus"):
        cache_config(snapshot, name, config, cache)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setitem(HUB_CONFIGS, name, ("algebra", "number_theory", "precalculus"))
    assert [p.id for p in load_math(name, "prm800k_test")] == three_math500
    assert sorted(p.id for p in load_math(name, "prm800k_train")) == sorted(MIRROR_TRAIN)
    assert len(load_math(name, "train")) == 6
    monkeypatch.setitem(HUB_CONFIGS, name, ("algebra", "geometry"))
    with pytest.raises(RecordError, match=r"EleutherAI/hendrycks_math: cannot load config 'geometry'"):
        load_math(name, "test")


def test_hub_id_reads_the_snapshot_hf_download_left(tmp_path, monkeypatch, three_math500):
    """`hf download --repo-type dataset EleutherAI/hendrycks_math` and nothing else: the recipes' hub id
    reads that snapshot offline (load_dataset would not: offline it reads only the datasets cache)."""
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "datasets--EleutherAI--hendrycks_math"
    write_hub_mirror(repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert [p.id for p in load_math("EleutherAI/hendrycks_math", "prm800k_test")] == three_math500
    assert sorted(p.id for p in load_math("EleutherAI/hendrycks_math", "prm800k_train")) == sorted(MIRROR_TRAIN)


def cache_config(snapshot, name, config, cache):
    """What `load_dataset(name, config)` leaves in the datasets cache when online
    (`<namespace>___<name>/<config>/<version>/<revision>/`), built from the snapshot's parquet files."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    files = {split: str(snapshot / config / f"{split}-00000-of-00001.parquet") for split in ("train", "test")}
    builder = Parquet(
        cache_dir=str(cache / "build"), dataset_name=name.split("/")[1], config_name=config, data_files=files
    )
    builder.download_and_prepare()
    target = cache / name.replace("/", "___") / config / "0.0.0" / snapshot.name
    target.parent.mkdir(parents=True)
    Path(builder.cache_dir).rename(target)


def test_math500_digest_is_of_the_whitespace_normalised_text():
    assert text_key("a  b\n c ") == text_key("a b c") != text_key("a bc")


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"problem": "p", "answer": ', r"bad.jsonl:2: malformed JSON"),
        ('{"answer": "1"}', r"bad.jsonl:2: missing field 'problem'"),
        ('{"problem": "p"}', r"bad.jsonl:2: missing field 'answer'"),
        ('{"problem": "p", "solution": "no box"}', r"bad.jsonl:2: field 'solution' has no complete \\boxed"),
        ('{"problem": "p", "answer": 3}', r"bad.jsonl:2: field 'answer' should be a string"),
        ('{"problem": "p", "answer": "1", "level": "hard"}', r"bad.jsonl:2: field 'level'"),
        ('["p", "1"]', r"bad.jsonl:2: expected a JSON object"),
    ],
)
def test_bad_input_names_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(MATH500[0]) + "\n" + line + "\n")
    with pytest.raises(RecordError, match=message):
        load_math(str(path), "test")


def test_bad_parquet_names_row_and_field(tmp_path):
    rows = [{"problem": "p", "answer": "1"}, {"problem": None, "answer": "2"}]
    path = write_parquet(tmp_path / "bad.parquet", rows)
    with pytest.raises(RecordError, match=r"bad.parquet: row 2: missing field 'problem'"):
        load_math(str(path), "test")


def test_duplicate_ids_and_missing_file(tmp_path):
    path = write_jsonl(tmp_path / "dup.jsonl", [MATH500[0], MATH500[0]])
    with pytest.raises(RecordError, match=r"dup.jsonl:2: duplicate problem id 'test/precalculus/807.json'"):
        load_math(str(path), "test")
    with pytest.raises(RecordError, match="no such file"):
        load_math(str(tmp_path / "absent.jsonl"), "test")


def test_shipped_shots_are_one_step_a_line_with_a_boxed_answer():
    shots = [json.loads(line) for line in SHOTS_FILE.read_text().splitlines()]
    answers = [extract_answer(shot["solution"]) for shot in shots]
    assert answers == ["5", "42", "\\frac{5}{36}", "-\\frac{1}{2}"]
    for shot in shots:
        assert set(shot) == {"question", "solution"}
        lines = shot["solution"].split("\n")
        assert split_steps(shot["solution"]) == lines and len(lines) >= 3  # no blank lines
        assert extract_answer(lines[-1]) is not None
    prompt = PromptFormat(num_shots=4).render("What is $2+2$?")
    assert prompt.count("Problem: ") == 5 and prompt.endswith("Problem: What is $2+2$?\nSolution:\n")
