"""The world the Qwen run's rehearsal runs in, built offline: the recipes' hub ids and data in the
layouts a user has them, at tiny sizes.

`build_qwen_world()` writes, under one folder named by a hash of what builds it (so repeated runs
reuse it; `TTC_STANDINS_CACHE` moves it from ~/.cache/ttc-standins):
- a Hugging Face hub cache (`hf/hub`, the layout `hf download` leaves) with
  `Qwen/Qwen2.5-Math-1.5B` and `Qwen/Qwen2.5-Math-7B`: tiny Qwen2ForCausalLM (the real Qwen2.5
  vocabulary and special tokens, eos <|endoftext|>) trained here for a few minutes on one CPU core to write
  MATH-style solutions under the recipes' 4-shot prompt (and zero-shot), ending in `\\boxed{}`
  and eos; they are right on some problems and wrong on others (their corpus has slips in a fifth
  of its solutions, and the larger numbers are beyond them); the 7B is the larger one (hidden 128
  against 64);
  the public PRMs the README and recipes name, from tests/support/standins.py (random weights);
- MATH problems, all the same kind (an addition dressed as each of MATH's 7 subjects, levels 1-5 by
  the size of the numbers), in the original release's layout `MATH/{train,test}/<subject>/<n>.json`
  (fields problem, level "Level 3", type, solution), where `test/` also holds a problem at each of the
  500 MATH-500 paths, so the recipes' `prm800k_train`/`prm800k_test` splits work from the folder as
  written; and as the hub mirror EleutherAI/hendrycks_math: its snapshot in the hub cache (one
  parquet a config and split, what `hf download --repo-type dataset` leaves) and the `datasets`
  cache that `load_dataset("EleutherAI/hendrycks_math", <config>)` leaves, which is what
  `load_dataset` reads offline (the snapshot alone is not read with HF_HUB_OFFLINE=1). The mirror
  has no `unique_id`, like the real one;
- ProcessBench (`Qwen/ProcessBench`) as `hf download --repo-type dataset` leaves it: one JSON array a
  split at the snapshot's root (`gsm8k.json`, `math.json`, `olympiadbench.json`, `omnimath.json`,
  the card's `configs:`), items in the published schema {id, generator, problem, steps,
  final_answer_correct, label}, a few a split: MATH-style additions (harder by split, as the real
  splits are) solved in two steps, half right (label -1) and half with an earliest wrong step
  (PROCESSBENCH_KINDS: labels 0 and 1, one with a right final answer after a wrong step). Written
  from the published schema, not by the reader it checks (data/prm_bench.py).

Tests pass `world.env()` to subprocesses, or call `world.use(monkeypatch)` in process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

DEFAULT_CACHE = Path(os.environ.get("TTC_STANDINS_CACHE", Path.home() / ".cache" / "ttc-standins"))

POLICY, LARGE = "Qwen/Qwen2.5-Math-1.5B", "Qwen/Qwen2.5-Math-7B"
QWEN_PRM = "Qwen/Qwen2.5-Math-PRM-7B"
MATH_SHEPHERD = "peiyi9979/math-shepherd-mistral-7b-prm"
RLHFLOW = ("RLHFlow/Llama3.1-8B-PRM-Deepseek-Data", "RLHFlow/Llama3.1-8B-PRM-Mistral-Data")
HUB_MATH = "EleutherAI/hendrycks_math"
PROCESSBENCH = "Qwen/ProcessBench"
# ProcessBench's splits (its card's `configs:`), each with the MATH levels of its stand-in problems
PROCESSBENCH_LEVELS = {"gsm8k": (1, 2), "math": (2, 3, 4), "olympiadbench": (4, 5), "omnimath": (3, 4, 5)}
# A split's solutions in turn: right (label -1); the sum slipped and carried to the answer (label 0);
# slipped, the answer right again (label 0, final answer correct); the sum right, a wrong boxed
# answer (label 1)
PROCESSBENCH_KINDS = ("right", "carried", "right", "recovered", "right", "boxed")


class Shape(TypedDict):
    """A stand-in's size, as keyword arguments of a transformers Config."""

    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int


class PolicyConfig(Shape):
    max_position_embeddings: int
    tie_word_embeddings: bool
    rope_theta: float


# The policy stand-ins' shapes: parameters without the embedding ~82k and ~300k (3.6x), with it
# 9.8M and 19.7M (the 151,936-token embedding, tied, as Qwen2.5-Math's).
SHAPES: dict[str, Shape] = {
    POLICY: Shape(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2
    ),
    LARGE: Shape(
        hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4
    ),
}
QWEN25_VOCAB = 151_936  # Qwen2.5's embedding rows (the tokenizer's 151,665 padded)
TRAIN_STEPS, BATCH, LEARNING_RATE, SLIP_RATE = 2000, 16, 3e-3, 0.2

# MATH's subject folders and `type` names, each with an addition dressed in it. Every question ends
# with the sum, so the solution's first step copies it from a fixed distance back (for one-digit
# numbers), which a tiny model learns in a minute; longer numbers it gets wrong more often.
SUBJECTS = {
    "prealgebra": ("Prealgebra", "What is ${a} + {b}$?"),
    "algebra": ("Algebra", "Solve for $x$ if $x = {a} + {b}$?"),
    "number_theory": ("Number Theory", "Which integer is equal to ${a} + {b}$?"),
    "counting_and_probability": ("Counting & Probability", "How many marbles are in a bag of ${a} + {b}$?"),
    "geometry": ("Geometry", "How long are two joined segments of length ${a} + {b}$?"),
    "intermediate_algebra": ("Intermediate Algebra", "If $f(x) = x + {b}$, what is $f({a}) = {a} + {b}$?"),
    "precalculus": ("Precalculus", "How many degrees are in adjacent angles of ${a} + {b}$?"),
}
# Operand ranges by level: one digit at levels 1-3 (a table), carries beyond.
OPERANDS = {1: (1, 3), 2: (1, 5), 3: (1, 9), 4: (5, 15), 5: (10, 40)}
TRAIN_PER_SUBJECT, TEST_PER_SUBJECT = 3, 2  # 21 train and 14 test problems, besides the MATH-500 paths


@dataclass(frozen=True)
class QwenWorld:
    root: Path

    @property
    def hf_home(self) -> Path:
        return self.root / "hf"

    @property
    def hub_cache(self) -> Path:
        return self.hf_home / "hub"

    @property
    def datasets_cache(self) -> Path:
        return self.hf_home / "datasets"

    @property
    def math(self) -> Path:
        """The original release's folder: `source` for splits train, test, prm800k_train, prm800k_test."""
        return self.root / "MATH"

    @property
    def hub_math(self) -> Path:
        """The hub mirror's snapshot folder (a `source` for plain splits train, test)."""
        return snapshot(self.hub_cache, HUB_MATH, "datasets")

    @property
    def processbench(self) -> Path:
        """ProcessBench's snapshot folder (a split's file each)."""
        return snapshot(self.hub_cache, PROCESSBENCH, "datasets")

    def model(self, hub_id: str) -> Path:
        return snapshot(self.hub_cache, hub_id, "models")

    def data(self, split: str, limit: int | None = None) -> dict:
        """A `DataConfig` section on the release folder."""
        return {"source": str(self.math), "split": split} | ({"limit": limit} if limit else {})

    def env(self) -> dict[str, str]:
        """What a subprocess needs to resolve the recipes' hub ids here and nowhere else."""
        return {
            "HF_HOME": str(self.hf_home),
            "HF_HUB_CACHE": str(self.hub_cache),
            "HF_DATASETS_CACHE": str(self.datasets_cache),
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }

    def use(self, monkeypatch) -> None:
        """This world's caches in this process: the environment, and the constants huggingface_hub
        and datasets read from it once, at import."""
        import datasets.config
        from huggingface_hub import constants

        for key, value in self.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(constants, "HF_HOME", str(self.hf_home))
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(self.hub_cache))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
        monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", self.datasets_cache)
        monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


def build_qwen_world(cache: Path = DEFAULT_CACHE) -> QwenWorld:
    """The world under `cache/qwen-<hash>`, built there once (atomically: concurrent builders each
    build aside, the first rename wins)."""
    world = QwenWorld(cache / f"qwen-{build_key()}")
    if (world.root / "DONE").is_file():
        return world
    cache.mkdir(parents=True, exist_ok=True)
    aside = QwenWorld(cache / f".building-{world.root.name}-{os.getpid()}")
    shutil.rmtree(aside.root, ignore_errors=True)
    _build(aside)
    (aside.root / "DONE").write_text("ok\n")
    try:
        aside.root.rename(world.root)
    except OSError:  # another process finished first: its world is the same
        shutil.rmtree(aside.root, ignore_errors=True)
    return world


@functools.cache
def build_key() -> str:
    """A hash of everything the world is built from: these builders, the prompt and the libraries."""
    import tokenizers
    import torch
    import transformers

    from data import prompts

    digest = hashlib.sha256()
    for file in (Path(__file__), Path(__file__).with_name("standins.py"), Path(prompts.__file__), prompts.SHOTS_FILE):
        digest.update(file.read_bytes())
    digest.update(f"{torch.__version__} {transformers.__version__} {tokenizers.__version__}".encode())
    return digest.hexdigest()[:16]


def _build(world: QwenWorld) -> None:
    import torch

    from tests.support import standins

    tokenizer = standins.qwen2_tokenizer()
    train, test = math_problems()
    write_release(world.math, train, test)
    write_hub_math(world, train + test)
    write_processbench(snapshot_folder(world.hub_cache, PROCESSBENCH, "datasets"))
    corpus = generated_problems(TRAIN_STEPS * BATCH, seed="corpus")
    with torch.random.fork_rng():
        for hub_id, shape in SHAPES.items():
            save_to_hub(world.hub_cache, hub_id, lambda folder, s=shape: policy_model(folder, tokenizer, corpus, s))
        save_to_hub(world.hub_cache, QWEN_PRM, standins.qwen_math_prm)
        save_to_hub(world.hub_cache, MATH_SHEPHERD, standins.math_shepherd_prm)
        for hub_id in RLHFLOW:
            save_to_hub(world.hub_cache, hub_id, standins.rlhflow_prm)


# ---- problems ----


@dataclass(frozen=True)
class MathProblem:
    subject: str  # MATH's folder name
    level: int
    a: int
    b: int

    @property
    def answer(self) -> int:
        return self.a + self.b

    @property
    def question(self) -> str:
        return SUBJECTS[self.subject][1].format(a=self.a, b=self.b)

    def solution(self, total: int | None = None) -> str:
        """Two steps; `total` (a slip) in place of the sum, carried to the answer."""
        total = self.answer if total is None else total
        return f"${self.a} + {self.b} = {total}$.\nThe answer is $\\boxed{{{total}}}$."

    def release_json(self) -> dict:
        return {
            "problem": self.question,
            "level": f"Level {self.level}",
            "type": SUBJECTS[self.subject][0],
            "solution": self.solution(),
        }


def generated_problems(count: int, seed: str) -> list[MathProblem]:
    rng = random.Random(seed)
    problems = []
    for _ in range(count):
        level = rng.randint(1, 5)
        low, high = OPERANDS[level]
        problems.append(
            MathProblem(rng.choice(sorted(SUBJECTS)), level, rng.randint(low, high), rng.randint(low, high))
        )
    return problems


def math_problems() -> tuple[list[tuple[str, MathProblem]], list[tuple[str, MathProblem]]]:
    """(path in the release, problem) for train and test: a few per subject, levels 1-5 in turn,
    and one at each MATH-500 path in test."""
    from data.math_dataset import math500_ids

    rng = random.Random("math")

    def problem(subject: str, level: int) -> MathProblem:
        low, high = OPERANDS[level]
        return MathProblem(subject, level, rng.randint(low, high), rng.randint(low, high))

    def split(name: str, per_subject: int) -> list[tuple[str, MathProblem]]:
        return [
            (f"{name}/{subject}/{i}.json", problem(subject, 1 + (i + k) % 5))
            for k, subject in enumerate(SUBJECTS)
            for i in range(per_subject)
        ]

    math500 = [(path, problem(path.split("/")[1], 1 + i % 5)) for i, path in enumerate(math500_ids())]
    taken = {path for path, _ in math500}
    test = [(path, p) for path, p in split("test", TEST_PER_SUBJECT) if path not in taken]
    return split("train", TRAIN_PER_SUBJECT), test + math500


def write_release(folder: Path, train: list, test: list) -> None:
    for path, problem in train + test:
        file = folder / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(problem.release_json(), indent=4) + "\n")


def write_hub_math(world: QwenWorld, problems: list[tuple[str, MathProblem]]) -> None:
    """EleutherAI/hendrycks_math as `hf download` leaves it (a config a subject, parquet a split,
    the card's `configs:`), and as `load_dataset` caches each config."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = snapshot_folder(world.hub_cache, HUB_MATH, "datasets")
    card = ["---", "configs:"]
    for subject in SUBJECTS:
        card += [f"- config_name: {subject}", "  data_files:"]
        for split in ("train", "test"):
            rows = [p.release_json() for path, p in problems if path.startswith(f"{split}/{subject}/")]
            file = folder / subject / f"{split}-00000-of-00001.parquet"
            file.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows), file)
            card += [f"  - split: {split}", f"    path: {subject}/{split}-*"]
    (folder / "README.md").write_text("\n".join(card + ["---", "", "MATH (stand-in)", ""]))
    for subject in SUBJECTS:
        cache_hub_dataset(folder, subject, world.datasets_cache)
    # where a hub load caches it: under the namespace too
    (world.datasets_cache / HUB_MATH.split("/")[1]).rename(world.datasets_cache / HUB_MATH.replace("/", "___"))


def cache_hub_dataset(snapshot: Path, config: str, cache: Path) -> None:
    """What `load_dataset(HUB_MATH, config)` writes to the datasets cache when online: the builder the
    hub's card gives, under the hub id's cache name, at the snapshot's revision."""
    from datasets.load import dataset_module_factory, get_dataset_builder_class

    module = dataset_module_factory(str(snapshot))
    kwargs = {k: v for k, v in module.builder_kwargs.items() if k not in ("dataset_name", "base_path")}
    name = HUB_MATH.split("/")[1]  # no repo_id: the builder would check the files' origin
    builder = get_dataset_builder_class(module, dataset_name=name)(
        cache_dir=str(cache),
        dataset_name=name,
        config_name=config,
        hash=snapshot.name,
        base_path=str(snapshot),
        **kwargs,
    )
    builder.download_and_prepare()


def processbench_items(split: str) -> list[dict]:
    """One split's items in the published schema: MATH-style problems at the split's levels, their
    two-step solutions right or wrong from `label` on, in turn (PROCESSBENCH_KINDS)."""
    rng = random.Random(f"processbench {split}")
    items = []
    for i, kind in enumerate(PROCESSBENCH_KINDS):
        level = rng.choice(PROCESSBENCH_LEVELS[split])
        problem = MathProblem(rng.choice(sorted(SUBJECTS)), level, *(rng.randint(*OPERANDS[level]) for _ in "ab"))
        right = problem.solution().split("\n")
        wrong = problem.solution(problem.answer + rng.choice((-1, 1, 2))).split("\n")
        steps, label = {
            "right": (right, -1),
            "carried": (wrong, 0),
            "recovered": ([wrong[0], right[1]], 0),
            "boxed": ([right[0], wrong[1]], 1),
        }[kind]
        items.append(
            {
                "id": f"{split}-{i}",
                "generator": "Qwen2.5-Math-1.5B (stand-in)",
                "problem": problem.question,
                "steps": steps,
                "final_answer_correct": steps[-1] == right[-1],
                "label": label,
            }
        )
    return items


def write_processbench(folder: Path) -> None:
    """Qwen/ProcessBench's snapshot: a JSON array a split at the root, and the card naming them."""
    card = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split in PROCESSBENCH_LEVELS:
        (folder / f"{split}.json").write_text(json.dumps(processbench_items(split), indent=2) + "\n")
        card += [f"  - split: {split}", f"    path: {split}.json"]
    (folder / "README.md").write_text("\n".join(card + ["---", "", "ProcessBench (stand-in)", ""]))


# ---- the hub cache ----


def revision(repo_id: str) -> str:
    return hashlib.sha1(f"{build_key()} {repo_id}".encode()).hexdigest()


def snapshot(hub_cache: Path, repo_id: str, kind: str) -> Path:
    return hub_cache / f"{kind}--{repo_id.replace('/', '--')}" / "snapshots" / revision(repo_id)


def snapshot_folder(hub_cache: Path, repo_id: str, kind: str) -> Path:
    """A new snapshot folder of `repo_id`, with `refs/main` naming it (files stored in place, as the
    hub cache stores them where symlinks are unavailable)."""
    folder = snapshot(hub_cache, repo_id, kind)
    folder.mkdir(parents=True)
    refs = folder.parents[1] / "refs"
    refs.mkdir()
    (refs / "main").write_text(folder.name)
    return folder


def save_to_hub(hub_cache: Path, repo_id: str, build) -> None:
    build(snapshot_folder(hub_cache, repo_id, "models"))


# ---- the policy stand-ins ----


def policy_model(folder: Path, tokenizer, corpus: list[MathProblem], shape: Shape) -> None:
    """A Qwen2.5-Math-shaped causal LM trained on `corpus` under the recipes' prompts; bf16, as the hub's.

    It trains on the tokens its texts use (a few hundred) plus one shared row standing for the
    rest, whose logit counts once per token it stands for: the full vocabulary's softmax exactly,
    at a thousandth of its cost, since every unused row is that shared row in the saved model."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    texts = Texts(tokenizer, corpus)
    config = PolicyConfig(max_position_embeddings=4096, tie_word_embeddings=True, rope_theta=10000.0, **shape)
    torch.manual_seed(0)
    # rope_theta: the Configs take it through **kwargs, which their typed signatures omit
    compact = Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=len(texts.used) + 1,
            bos_token_id=None,
            eos_token_id=None,
            **config,  # pyright: ignore[reportCallIssue]  (rope_theta: see above)
        )
    )
    train_policy(compact, texts)
    model = Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=QWEN25_VOCAB,
            bos_token_id=tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **config,  # pyright: ignore[reportCallIssue]  (rope_theta: see above)
        )
    )
    weights = {k: v for k, v in compact.state_dict().items() if k != "lm_head.weight"}  # tied
    rows = weights.pop("model.embed_tokens.weight")
    embedding = rows[-1].repeat(QWEN25_VOCAB, 1)
    embedding[torch.tensor(texts.used)] = rows[:-1]
    model.load_state_dict(weights | {"model.embed_tokens.weight": embedding}, strict=False)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    # transformers' `to` is @wraps(nn.Module.to), which pyright reads as taking the dtype for self
    model.to(torch.bfloat16).save_pretrained(folder)  # pyright: ignore[reportArgumentType]
    tokenizer.save_pretrained(folder)


class Texts:
    """The training texts as compact ids: the prompts (4-shot and zero-shot) and the solutions, a
    fifth with a slip in the sum, each ending in eos."""

    def __init__(self, tokenizer, corpus: list[MathProblem]):
        from data.prompts import PromptFormat

        shots, plain = PromptFormat(num_shots=4), PromptFormat()
        rng = random.Random("slips")

        def ids(text: str) -> list[int]:
            return tokenizer(text, add_special_tokens=False).input_ids

        self.shots = ids(shots.prefix)
        self.examples = [
            (ids(plain.render(p.question)), ids(p.solution(slip(p, rng)) + tokenizer.eos_token)) for p in corpus
        ]
        # the 4-shot prompt is the shots then the zero-shot one, token for token (as vLLM reads it whole)
        assert ids(shots.render(corpus[0].question)) == self.shots + self.examples[0][0]
        self.used = sorted({t for q, s in self.examples for t in q + s} | set(self.shots))
        compact = {t: i for i, t in enumerate(self.used)}
        self.shots = [compact[t] for t in self.shots]
        self.examples = [([compact[t] for t in q], [compact[t] for t in s]) for q, s in self.examples]


def train_policy(model, texts: Texts) -> None:
    """Next-token loss on the solution and eos only (the prompt is context); 3 batches in 4 under the
    4-shot prompt, whose shots are run once a step without gradient and shared by the batch."""
    import math

    import torch
    from transformers import DynamicCache

    unused = math.log(QWEN25_VOCAB - len(texts.used))  # the shared row's count, as a logit offset
    offset = torch.zeros(len(texts.used) + 1)
    offset[-1] = unused
    shots = torch.tensor([texts.shots])
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 20))
    model.train()
    for step in range(TRAIN_STEPS):
        ids, targets = encode(texts.examples[step * BATCH : (step + 1) * BATCH])
        cache = None
        if step % 4 != 3:
            cache = DynamicCache(config=model.config)
            with torch.no_grad():
                model.model(input_ids=shots, past_key_values=cache, use_cache=True)
            cache.batch_repeat_interleave(len(ids))
        hidden = model.model(input_ids=ids, past_key_values=cache, use_cache=cache is not None).last_hidden_state
        mask = targets != -100
        logits = model.lm_head(hidden[:, :-1][mask]) + offset
        loss = torch.nn.functional.cross_entropy(logits, targets[mask])
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
    model.eval()


def slip(problem: MathProblem, rng: random.Random) -> int | None:
    if rng.random() >= SLIP_RATE:
        return None
    return problem.answer + rng.choice((-10, -1, 1, 10) if problem.answer > 10 else (-1, 1, 2))


def encode(examples: list[tuple[list[int], list[int]]]):
    """Right-padded ids (padding only follows a row's tokens, so causal attention needs no mask)
    and next-token targets (-100 over the prompt and the padding)."""
    import torch

    width = max(len(q) + len(s) for q, s in examples)
    ids = torch.zeros((len(examples), width), dtype=torch.long)
    targets = torch.full((len(examples), width - 1), -100)
    for i, (q, s) in enumerate(examples):
        ids[i, : len(q) + len(s)] = torch.tensor(q + s)
        targets[i, len(q) - 1 : len(q) + len(s) - 1] = torch.tensor(s)
    return ids, targets


# ---- the run: the Qwen recipe as a user submits it, at tiny sizes on this stand-in world.
RECIPE = "configs/qwen2.5-math-1.5b/pipeline.yaml"

SIZES = [
    "--stages.sample_train.sampling.n",
    "4",
    "--stages.sample_train.sampling.max_tokens",
    "128",
    "--stages.label.rollouts.k",
    "2",
    "--stages.label.rollouts.max_tokens",
    "128",
    "--stages.sample_trajectories.sampling.n",
    "8",
    "--stages.sample_trajectories.sampling.max_tokens",
    "128",
    "--stages.sample_test.sampling.n",
    "8",
    "--stages.sample_test.sampling.max_tokens",
    "128",
    "--stages.large_greedy.sampling.max_tokens",
    "128",
    "--stages.difficulty.num_samples",
    "8",
    "--stages.eval_prm.max_n",
    "8",
    "--stages.eval_search.max_budget",
    "4",
    "--stages.eval_search.batch_problems",
    "4",
    "--stages.chains_train.chains",
    "2",
    "--stages.chains_train.length",
    "2",
    "--stages.chains_train.max_tokens",
    "128",
    "--stages.chains_test.chains",
    "2",
    "--stages.chains_test.length",
    "2",
    "--stages.chains_test.max_tokens",
    "128",
    "--stages.eval_revision.budget",
    "2",
    "--stages.eval_revision_grid.max_budget",
    "2",
    "--stages.eval_revision_grid.batch_problems",
    "4",
    "--stages.policy.budgets",
    "[4]",
    "--stages.policy.probe.n",
    "2",
]
TRAINERS = [
    f"--stages.{s}.{key}" if i % 2 == 0 else key
    for s in ("train_prm", "train_orm", "train_reviser")
    for i, key in enumerate(["batch_size", "4", "per_device_batch_size", "2", "num_epochs", "1", "eval_every", "2"])
]
CPU = [
    "--base.dtype",
    "float32",
    "--large.dtype",
    "float32",
    "--reviser.dtype",
    "float32",
    *[f for s in ("train_prm", "train_orm", "train_reviser") for f in (f"--stages.{s}.trainer.bf16", "false")],
    *[
        f
        for s in ("eval_search", "eval_prm", "eval_revision", "eval_revision_grid", "policy")
        for f in (f"--stages.{s}.{'orm' if s == 'eval_revision' else 'prm'}.dtype", "float32")
    ],
    "--stages.eval_prm.baseline.dtype",
    "float32",
    *(f for v in ("prm", "likelihood") for f in (f"--stages.bench_prm.verifiers.{v}.dtype", "float32")),
]
# The CI cluster's one node: no GPUs, 2 CPUs, its memory (sbatch refuses more than the node has).
CLUSTER = [
    f
    for kind in ("gpu", "trainer", "cpu")
    for f in (f"--resources.{kind}.gpus", "0", f"--resources.{kind}.cpus", "1", f"--resources.{kind}.mem", "2G")
]


# Questions: training ones for the PRM, reviser and ORM; test ones enough to fill 5 difficulty bins twice
# (2-fold cross-validation); held-out ones for `ttc solve`.
PROBLEMS = {"train_data": 8, "test_data": 10, "heldout_data": 4}


def tiny_flags(world: QwenWorld) -> list[str]:
    """The flags over the recipe: the stand-in data (its splits as the recipe names them), sizes, a CPU."""
    data = [
        f
        for name, limit in PROBLEMS.items()
        for f in (f"--{name}.source", str(world.math), f"--{name}.limit", str(limit))
    ]
    return [*data, *SIZES, *TRAINERS, *CPU]
