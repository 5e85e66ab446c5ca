"""Generated tokens/s of the transformers and vLLM backends on one workload, in one run.

    python bench/generation.py                      # toy base model, 64 prompts x n=16, T=0.8
    python bench/generation.py --model PATH --prompts 128 --n 4 --max-tokens 256 --dtype bfloat16

Each backend first answers a small warm-up call (not timed, not counted), then the whole
workload in one `LM.generate` call; throughput is generated tokens (from its ledger) over that
call's wall time. Engine startup is reported apart. Only the ratio measured in one run means
much: other jobs on the machine move both figures.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Literal

import torch

from data import toy
from data.prompts import PromptFormat
from ttc.lm import LM, GenerationRequest
from ttc.lm.spec import LMConfig, load_lm


def workload(args: argparse.Namespace) -> list[GenerationRequest]:
    """Toy questions cycling through the levels, one seed per request."""
    levels = sorted(toy.LEVELS)
    questions = [toy.generate(levels[i % len(levels)], i, seed=0).question for i in range(args.prompts)]
    return [
        GenerationRequest(
            PromptFormat().render(q), n=args.n, temperature=args.temperature, max_tokens=args.max_tokens, seed=i
        )
        for i, q in enumerate(questions)
    ]


def measure(lm: LM, requests: list[GenerationRequest]) -> tuple[int, float]:
    """(generated tokens, seconds) of one call over all requests, after a warm-up call."""
    lm.generate(requests[:2])
    before = lm.ledger.generated_tokens
    start = time.perf_counter()
    lm.generate(requests)
    return lm.ledger.generated_tokens - before, time.perf_counter() - start


def run_backend(backend: Literal["hf", "vllm"], args: argparse.Namespace, requests: list[GenerationRequest]) -> float:
    cfg = LMConfig(
        model=args.model, backend=backend, dtype=args.dtype, threads=args.threads, kv_cache_gib=args.kv_cache_gib
    )
    start = time.perf_counter()
    lm = load_lm(cfg)
    startup = time.perf_counter() - start
    tokens, seconds = measure(lm, requests)
    if backend == "vllm":
        lm.close()
    print(
        f"{backend:>5}: {tokens / seconds:8.0f} generated tok/s  ({tokens} tokens in {seconds:.1f} s; "
        f"startup {startup:.1f} s; {lm.num_parameters / 1e6:.2f}M parameters)",
        flush=True,
    )
    return tokens / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="train/checkpoints/toy-base")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the hf backend")
    parser.add_argument("--kv-cache-gib", type=float, default=1.0, help="vLLM's KV cache on CPU")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # keep the figures readable

    requests = workload(args)
    print(
        f"workload: {args.prompts} toy prompts x n={args.n}, T={args.temperature}, "
        f"max_tokens={args.max_tokens}; model {args.model}, dtype {args.dtype}; "
        f"hf: {args.threads} torch thread(s) on {'cuda' if torch.cuda.is_available() else 'cpu'}; "
        f"vllm: its own thread binding",
        flush=True,
    )
    hf = run_backend("hf", args, requests)
    vllm = run_backend("vllm", args, requests)
    print(f"ratio vllm/hf: {vllm / hf:.2f}")


if __name__ == "__main__":  # vLLM spawns worker processes that re-import this module
    main()
