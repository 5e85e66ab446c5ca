"""What sharing a prefix saves in PRM scoring and in MC labelling, measured in one run.

    python bench/prm_scoring.py                                  # both parts, toy base model
    python bench/prm_scoring.py --part scoring --solutions 64 --long-steps 20 40
    python bench/prm_scoring.py --part labelling --problems 10 --samples 4 --k 16 --no-vllm

(a) scoring. One forward per solution reading every step tag (HFPRM) against one forward per
step prefix reading its last tag (a scorer that sees only whole prefixes): forwards, tokens
and wall time (the fastest of --repeats runs, after a warm-up), on toy solutions and on long
toy-world-style ones (--long-steps, like MATH solutions of 20-40 steps). The PRM is --prm, or
the base model with the PRM format written beside it: untrained, but the compute is the same.
Both scorers read the same causal model, so their values agree; the run checks it.

(b) labelling. `ttc label` (ttc/stages/label.py) asks for the k rollouts of a step prefix as one
request with n=k; the ledger counts its prompt once, which is what a prefix-sharing engine
computes. Naive rollouts process the prefix k times; full sharing processes every distinct
prefix token once (a trie over all requests: a solution's prefixes share their beginning, a
problem's samples their prompt). Samples come from the base model itself. Then the wall time
of the same label requests on transformers and on vLLM (prefix caching on, startup apart).
What each engine computes: transformers (ttc/lm/hf.py) prefills a request's prompt once
and copies its KV cache to the n rows, about the ledger's count; vLLM's prefix cache shares only
whole KV-cache blocks (size printed; 128 tokens on CPU), so each of the n samples prefills the
part of its prompt past the last whole block: the naive count for prompts shorter than a block.
Only ratios measured in one run mean much: other jobs on the machine move every figure.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence, cast

import torch

from data import toy
from data.prm_format import PRMFormat
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem, Sample
from ttc.lm import LM, Completion, GenerationRequest
from ttc.lm.sampling import SamplingConfig, grade
from ttc.lm.spec import LMConfig, load_lm
from ttc.stages import label
from ttc.verifiers.hf_prm import HFPRM

Solutions = tuple[list[str], list[list[str]]]  # questions, steps


# (a) scoring ---------------------------------------------------------------------------------


def scratch_prm(model: str, folder: Path) -> str:
    """The model's save_pretrained files plus prm_format.json: a PRM folder for timing."""
    shutil.copytree(model, folder, ignore=shutil.ignore_patterns("checkpoints"))
    PRMFormat().save(folder, PromptFormat())  # the base's zero-shot prompt
    return str(folder)


def toy_solutions(count: int) -> Solutions:
    problems = [toy.generate(1 + i % len(toy.LEVELS), i, seed="bench") for i in range(count)]
    return [p.question for p in problems], [toy.solve(p.expression) for p in problems]


def long_solutions(count: int, min_steps: int, max_steps: int) -> Solutions:
    """Reduction lines of consecutive level-5 problems, cut to min-max steps with the boxed
    answer: the length of a MATH solution, the grammar of the toy world (the compute is what counts)."""
    rng, questions, solutions = random.Random(0), [], []
    for i in range(count):
        lines, j = [], 0
        while len(lines) < max_steps:
            lines += toy.solve(toy.generate(5, 1000 * i + j, seed="bench-long").expression)[:-1]
            j += 1
        steps = lines[: rng.randint(min_steps, max_steps) - 1]
        questions.append(toy.generate(5, 1000 * i, seed="bench-long").question)
        solutions.append(steps + [f"\\boxed{{{steps[-1][1:]}}}"])
    return questions, solutions


def per_prefix(scorer: HFPRM, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[list[float]]:
    """Each step's value from its own forward over the prefix ending at it."""
    qs = [q for q, steps in zip(questions, solutions) for _ in steps]
    prefixes = [steps[: i + 1] for steps in solutions for i in range(len(steps))]
    last = iter(v[-1] for v in scorer.score(qs, prefixes))
    return [[next(last) for _ in steps] for steps in solutions]


def length(scorer: HFPRM, question: str, steps: list[str]) -> int:
    return len(scorer.format.encode(scorer.tokenizer, scorer.prompt.render(question, scorer.tokenizer), steps)[0])


def timed(scorer: HFPRM, run: Callable[[], list[list[float]]], repeats: int) -> tuple[list[list[float]], int, float]:
    """The values, the forwards of one run and the fastest wall time of `repeats` runs."""
    best, before = float("inf"), scorer.forward_passes
    for _ in range(repeats):
        start = time.perf_counter()
        values = run()
        best = min(best, time.perf_counter() - start)
    return values, (scorer.forward_passes - before) // repeats, best


def compare_scoring(name: str, scorer: HFPRM, data: Solutions, repeats: int) -> None:
    questions, solutions = data
    whole = [length(scorer, q, s) for q, s in zip(questions, solutions)]
    prefixes = [length(scorer, q, s[: i + 1]) for q, s in zip(questions, solutions) for i in range(len(s))]
    if max(whole) > cast(Any, scorer.model).backbone.config.max_position_embeddings:  # heads.LabelLogits
        raise SystemExit(f"{name}: a solution has {max(whole)} tokens, more than the model's positions")
    scorer.score(questions[:2], solutions[:2])  # warm-up
    one, one_forwards, one_seconds = timed(scorer, lambda: scorer.score(questions, solutions), repeats)
    each, each_forwards, each_seconds = timed(scorer, lambda: per_prefix(scorer, questions, solutions), repeats)
    steps = [len(s) for s in solutions]
    print(
        f"  {name}: {len(solutions)} solutions of {min(steps)}-{max(steps)} steps "
        f"({sum(steps) / len(steps):.1f} on average), {min(whole)}-{max(whole)} tokens"
    )
    for way, forwards, count, seconds in [
        ("one pass", one_forwards, sum(whole), one_seconds),
        ("per prefix", each_forwards, sum(prefixes), each_seconds),
    ]:
        print(f"    {way:<10}: {forwards:6d} forwards {count:9,d} tokens {seconds:8.3f} s")
    gap = max(abs(a - b) for x, y in zip(one, each) for a, b in zip(x, y))
    print(
        f"    per prefix / one pass: tokens {sum(prefixes) / sum(whole):.2f}x, wall time "
        f"{each_seconds / one_seconds:.2f}x (values agree to {gap:.1e})",
        flush=True,
    )


def bench_scoring(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = args.prm or scratch_prm(args.model, Path(tmp) / "prm")
        scorer = HFPRM(path, batch_size=args.batch_size, threads=args.threads)
        params = scorer.num_parameters
        name = args.prm or f"{args.model} as a scratch PRM"
        print(
            f"(a) PRM scoring with transformers: {name} ({params / 1e6:.2f}M parameters), "
            f"batches of {args.batch_size}, {args.threads} thread(s), fastest of {args.repeats} runs"
        )
        compare_scoring("toy solutions", scorer, toy_solutions(args.solutions), args.repeats)
        compare_scoring("long solutions", scorer, long_solutions(args.long_solutions, *args.long_steps), args.repeats)


# (b) labelling -------------------------------------------------------------------------------


class Recording:
    """An LM that forwards to another and keeps the requests it was asked."""

    def __init__(self, lm: LM):
        self.lm, self.ledger, self.requests = lm, lm.ledger, []
        self.tokenizer = lm.tokenizer  # `ttc label` renders its prompts with it (the LM protocol's)

    @property
    def num_parameters(self) -> int:
        return self.lm.num_parameters

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        self.requests += requests
        return self.lm.generate(requests)

    def close(self) -> None:
        self.lm.close()


def draw_samples(lm: LM, cfg: label.LabelConfig, problems: list[Problem], n: int) -> dict[str, list[Sample]]:
    """n graded solutions per problem, sampled as `ttc sample` does."""
    sampling = SamplingConfig(n=n, max_tokens=cfg.rollouts.max_tokens)
    requests = [sampling.request(cfg.prompt.render(p.question), p.id) for p in problems]
    return {p.id: [grade(p, i, c, []) for i, c in enumerate(cs)] for p, cs in zip(problems, lm.generate(requests))}


def unique_prefix_tokens(sequences: Sequence[list[int]]) -> int:
    """Nodes of the trie of all sequences: each distinct prefix token counted once."""
    root, nodes = {}, 0
    for ids in sequences:
        node = root
        for t in ids:
            if t not in node:
                node[t], nodes = {}, nodes + 1
            node = node[t]
    return nodes


def label_run(
    lm: LM, cfg: label.LabelConfig, problems: list[Problem], samples: dict[str, list[Sample]]
) -> tuple[Recording, float]:
    """`ttc label`'s LM call for these samples: its requests and wall time."""
    recording = Recording(lm)
    start = time.perf_counter()
    label.label_batch(cfg, recording, problems, samples)
    return recording, time.perf_counter() - start


def label_counts(run: Recording, tokenizer, k: int) -> list[list[int]]:
    """Prints the prompt tokens of the three schemes; returns the label prompts' token ids."""
    led = run.ledger.per_call[-1]
    ids = [tokenizer(r.prompt)["input_ids"] for r in run.requests]
    scheme, naive, shared = led["prompt_tokens"], k * led["prompt_tokens"], unique_prefix_tokens(ids)
    generated = led["generated_tokens"]
    distinct = len({r.prompt for r in run.requests})  # samples of a problem often repeat
    print(
        f"  {led['requests']} label requests (step prefixes, {distinct} distinct) x k={k}: {led['generations']} "
        f"rollouts, {generated:,d} generated tokens; prefixes of {min(map(len, ids))}-{max(map(len, ids))} tokens"
    )
    print(f"    prompt tokens: naive {naive:,d}, ttc label (ledger) {scheme:,d}, full sharing (trie) {shared:,d}")
    print(
        f"    naive / ttc label: prompt tokens {naive / scheme:.2f}x, prompt+generated "
        f"{(naive + generated) / (scheme + generated):.2f}x; ttc label / full sharing: prompt tokens "
        f"{scheme / shared:.2f}x",
        flush=True,
    )
    return ids


def bench_labelling(args: argparse.Namespace) -> None:
    lm_cfg = LMConfig(model=args.model, backend="hf", threads=args.threads)
    cfg = label.LabelConfig(
        output_dir="", samples="", lm=lm_cfg, rollouts=label.RolloutConfig(k=args.k, max_tokens=args.max_tokens)
    )
    per_level = -(-args.problems // len(toy.LEVELS))
    problems = load_problems(DataConfig(split="bench", per_level=per_level, limit=args.problems))
    hf = load_lm(lm_cfg)
    samples = draw_samples(hf, cfg, problems, args.samples)
    kept = sum(map(label.labelable, (s for group in samples.values() for s in group)))
    print(
        f"(b) MC labelling: {len(problems)} toy problems x {args.samples} samples from {args.model} "
        f"({kept} labelable), k={args.k}, T={cfg.rollouts.temperature}, max_tokens={args.max_tokens}"
    )
    run, hf_seconds = label_run(hf, cfg, problems, samples)
    ids = label_counts(run, hf.tokenizer, args.k)
    print(
        f"    wall time of the label requests: hf {hf_seconds:.1f} s "
        f"({run.ledger.per_call[-1]['generated_tokens'] / hf_seconds:,.0f} generated tok/s)",
        flush=True,
    )
    if args.vllm:
        vllm_seconds, block = vllm_label_time(args, cfg, problems, samples)
        whole = sum(len(i) // block * block for i in ids)
        print(
            f"    hf / vllm wall time: {hf_seconds / vllm_seconds:.2f}x; {whole:,d} of {sum(map(len, ids)):,d} "
            f"prompt tokens lie in whole {block}-token blocks, the only part vLLM's prefix cache can share"
        )


def vllm_label_time(
    args: argparse.Namespace, cfg: label.LabelConfig, problems: list[Problem], samples: dict[str, list[Sample]]
) -> tuple[float, int]:
    """Wall time of the label requests on vLLM, and its KV-cache block size."""
    start = time.perf_counter()
    lm = load_lm(LMConfig(model=args.model, backend="vllm", kv_cache_gib=args.kv_cache_gib))
    startup = time.perf_counter() - start
    lm.generate([GenerationRequest(cfg.prompt.render(problems[0].question), n=2, temperature=0.8)])  # warm-up
    run, seconds = label_run(lm, cfg, problems, samples)
    block = cast(Any, lm).llm.llm_engine.vllm_config.cache_config.block_size  # backend vllm
    lm.close()
    print(
        f"    wall time of the label requests: vllm {seconds:.1f} s "
        f"({run.ledger.per_call[-1]['generated_tokens'] / seconds:,.0f} generated tok/s; startup {startup:.0f} s)",
        flush=True,
    )
    return seconds, block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["scoring", "labelling", "both"], default="both")
    parser.add_argument(
        "--model", default="train/checkpoints/toy-base", help="base model: labelling's sampler, scoring's scratch PRM"
    )
    parser.add_argument("--prm", help="a trained PRM folder for scoring (default: the base model as a scratch PRM)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of transformers")
    parser.add_argument("--solutions", type=int, default=40, help="toy solutions to score")
    parser.add_argument("--long-solutions", type=int, default=16)
    parser.add_argument("--long-steps", type=int, nargs=2, default=[20, 40], metavar=("MIN", "MAX"))
    parser.add_argument("--batch-size", type=int, default=16, help="HFPRM's solutions per forward")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--problems", type=int, default=10, help="toy problems to label, spread over the levels")
    parser.add_argument("--samples", type=int, default=4, help="solutions per problem")
    parser.add_argument("--k", type=int, default=16, help="rollouts per step prefix (paper: 16)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--no-vllm", dest="vllm", action="store_false", help="skip the vLLM timing")
    parser.add_argument("--kv-cache-gib", type=float, default=1.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # keep the figures readable
    if args.part in ("scoring", "both"):
        bench_scoring(args)
    if args.part in ("labelling", "both"):
        bench_labelling(args)


if __name__ == "__main__":  # vLLM spawns worker processes that re-import this module
    main()
