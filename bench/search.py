"""Wall time of beam search against best-of-N at the same generation budget, and what batching
across problems saves, measured in one run.

    python bench/search.py                                   # toy base on vLLM, toy PRM on vLLM, 40 problems, N=16
    python bench/search.py --backend hf --prm-backend hf --problems 10 --n 8
    python bench/search.py --prm PATH --width 4 --skip-batching

The PRM is --prm (default runs/toy/prm/model). To make the toy one (minutes on a CPU):
    ttc sample --config configs/toy/sample_train.yaml && ttc label --config configs/toy/label.yaml
    python -m train.prm --config configs/toy/prm.yaml

(a) beam search vs best-of-N at budget N: best-of-N draws N whole solutions per problem (one LM
call) and scores them (one PRM call); beam search (M=sqrt(N) unless --width) makes one LM call
and one PRM call per round, every problem at once (ttc/search). Each runs once untimed (warm-up:
vLLM's prefix cache then holds the prompts for both alike), then timed; the LM's and the PRM's
shares of the time are measured around their calls. Ratio: beam / best-of-N.
(b) batching: the same beam search on all problems in one search against one problem at a time
(a search per problem: as many LM calls per round as problems). Ratio: one at a time / batched.
Only ratios measured in one run mean much: other jobs on the machine move every figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem
from ttc.backends import LMConfig, load_lm
from ttc.search import BeamConfig, BestOfNConfig, SearchResult, beam_search, best_of_n
from ttc.verifiers.load import PRMConfig, load_prm


class Timed:
    """Seconds spent inside one method of an LM or a verifier (`generate` or `score`)."""

    def __init__(self, inner, method: str):
        self.inner, self.method, self.seconds, self.calls = inner, method, 0.0, 0

    def __getattr__(self, name):
        attribute = getattr(self.inner, name)
        if name != self.method:
            return attribute

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1
        return timed


Search = Callable[[list[Problem]], list[SearchResult]]


def measure(search: Search, problems: list[Problem], lm: Timed, prm: Timed, one_at_a_time: bool = False) -> dict:
    lm.seconds = prm.seconds = lm.calls = prm.calls = 0
    start = time.perf_counter()
    results = [r for p in problems for r in search([p])] if one_at_a_time else search(problems)
    return {"seconds": time.perf_counter() - start, "lm": lm.seconds, "lm_calls": lm.calls, "prm": prm.seconds,
            "prm_calls": prm.calls, "accuracy": sum(r.correct for r in results) / len(results),
            "generated": sum(r.generated_tokens for r in results), "prm_tokens": sum(r.prm_tokens or 0 for r in results)}


def show(name: str, m: dict) -> None:
    print(f"{name:>24}: {m['seconds']:6.1f} s  (LM {m['lm']:5.1f} s in {m['lm_calls']:3d} calls, "
          f"PRM {m['prm']:5.1f} s in {m['prm_calls']:3d} calls; {m['generated']} generated and "
          f"{m['prm_tokens']} PRM tokens; accuracy {m['accuracy']:.3f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="train/checkpoints/toy-base")
    parser.add_argument("--backend", default="vllm", choices=["hf", "vllm"])
    parser.add_argument("--prm", default="runs/toy/prm/model")
    parser.add_argument("--prm-backend", default="vllm", choices=["hf", "vllm"])
    parser.add_argument("--problems", type=int, default=40, help="toy test problems, spread over the 5 levels")
    parser.add_argument("--n", type=int, default=16, help="the generation budget N")
    parser.add_argument("--width", default="sqrt", help="beam width M: an integer or 'sqrt'")
    parser.add_argument("--max-tokens", type=int, default=128, help="per best-of-N solution")
    parser.add_argument("--max-step-tokens", type=int, default=32, help="per beam-search step")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the hf LM and PRM")
    parser.add_argument("--block-size", type=int, default=32, help="vLLM KV-cache block (prefix reuse is per block)")
    parser.add_argument("--skip-batching", action="store_true", help="part (a) only")
    args = parser.parse_args()
    if not (Path(args.prm) / "prm_format.json").is_file():
        sys.exit(f"no PRM at {args.prm}: pass --prm, or make the toy one (see this file's docstring)")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # keep the figures readable

    levels = [1, 2, 3, 4, 5]
    per_level = -(-args.problems // len(levels))
    problems = load_problems(DataConfig(levels=levels, per_level=per_level, split="bench-search"))
    problems = [problems[i * per_level + j] for j in range(per_level) for i in range(len(levels))][: args.problems]
    lm = Timed(load_lm(LMConfig(model=args.model, backend=args.backend, threads=args.threads,
                                    block_size=args.block_size if args.backend == "vllm" else None)), "generate")
    prm = Timed(load_prm(PRMConfig(path=args.prm, backend=args.prm_backend, threads=args.threads), PromptFormat()),
                "score")
    width = args.width if args.width == "sqrt" else int(args.width)
    bon_cfg = BestOfNConfig(n=args.n, max_tokens=args.max_tokens)
    beam_cfg = BeamConfig(n=args.n, beam_width=width, max_step_tokens=args.max_step_tokens)
    print(f"workload: {len(problems)} toy test problems (levels 1-5), N={args.n}, beam width M={beam_cfg.width}; "
          f"policy {args.model} on {args.backend}, PRM {args.prm} on {args.prm_backend}", flush=True)

    bon: Search = lambda ps: best_of_n(ps, lm, prm, bon_cfg)  # noqa: E731
    beam: Search = lambda ps: beam_search(ps, lm, prm, beam_cfg)  # noqa: E731
    for search in (bon, beam):
        search(problems)  # warm-up
    a, b = measure(bon, problems, lm, prm), measure(beam, problems, lm, prm)
    show(f"best-of-N weighted N={args.n}", a)
    show(f"beam search N={args.n} M={beam_cfg.width}", b)
    print(f"ratio beam / best-of-N: {b['seconds'] / a['seconds']:.2f} (goal <= 1.3)", flush=True)
    if not args.skip_batching:
        one = measure(beam, problems, lm, prm, one_at_a_time=True)
        show("beam, one problem a time", one)
        print(f"ratio one problem at a time / batched (beam search): {one['seconds'] / b['seconds']:.2f}")
    for engine in (lm.inner, prm.inner):
        if hasattr(engine, "close"):
            engine.close()


if __name__ == "__main__":  # vLLM spawns worker processes that re-import this module
    main()
