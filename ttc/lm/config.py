"""What selects and shapes an LM backend (read by every backend, so it imports none).

The engine settings an LM section (`LMConfig`) and a verifier section
(ttc/verifiers/spec.py `VerifierConfig`) share mean one thing in both and are checked one way
(`EngineSection`): `dtype` is one of `DTYPES`, "auto" being bfloat16 on CUDA and float32
elsewhere (`resolve_dtype`: bf16 matmuls on a CPU are slow and inexact), `device` auto, cpu, cuda
or cuda:N, and so on. Each config keeps its own fields and defaults (an LM's dtype float32, a
verifier's auto), so their settings are what they were.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from data.models import check_model

DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")
MIN_REQUESTS_FOR_PROGRESS = 8  # smaller batches get no progress bar


def resolve_dtype(dtype: str, device: str) -> str:
    """The dtype an engine on `device` (a torch device type or name: cpu, cuda, cuda:1) loads
    weights in: "auto" is bfloat16 on CUDA, float32 elsewhere; any other of `DTYPES` as named."""
    if dtype != "auto":
        return dtype
    return "bfloat16" if device.split(":")[0] == "cuda" else "float32"


class EngineSection:
    """The validation of the engine settings both an LM and a verifier section have (no fields
    of its own: each config declares them, with its own defaults). Raises `error`, the config's
    kind of ValueError, naming the setting."""

    dtype: str
    device: str
    threads: int
    max_model_len: int | None
    kv_cache_gib: float
    gpu_memory_utilization: float

    def check_engine(self, error: type[ValueError] = ValueError) -> None:
        if self.dtype not in DTYPES:
            raise error(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if not DEVICE.fullmatch(self.device):
            raise error(f"device: expected auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.threads < 1:
            raise error(f"threads must be >= 1, got {self.threads}")
        if self.max_model_len is not None and self.max_model_len < 1:
            raise error(f"max_model_len must be >= 1 or None, got {self.max_model_len}")
        if self.kv_cache_gib <= 0:
            raise error(f"kv_cache_gib must be > 0, got {self.kv_cache_gib}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise error(f"gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}")


@dataclass
class LMConfig(EngineSection):
    """An LM section: the model, its backend, and its engine settings (those it shares with a
    verifier section checked by `EngineSection`, with the same meaning: dtype auto is bfloat16 on
    CUDA, float32 elsewhere)."""

    model: str  # a save_pretrained folder (config.json, weights, tokenizer), or a hub id already in the HF cache
    backend: Literal["hf", "vllm"] = "hf"
    dtype: str = "float32"  # or auto (bfloat16 on CUDA, else float32), bfloat16, float16
    threads: int = 1  # torch CPU threads (hf); vLLM on CPU binds its own OpenMP threads
    device: str = "auto"  # hf: "auto" (cuda if present, else cpu), "cpu", "cuda", "cuda:1"...
    max_model_len: int | None = None  # prompt + generated tokens; None: the model's max_position_embeddings
    kv_cache_gib: float = 1.0  # vllm on CPU: VLLM_CPU_KVCACHE_SPACE (whole GiB, rounded up)
    gpu_memory_utilization: float = 0.9  # vllm on GPU
    tensor_parallel_size: int = 1  # vllm
    enforce_eager: bool = True  # vllm: no torch.compile / CUDA graphs (starts 2x faster on CPU)
    # vllm: tokens per KV-cache block (a multiple of 32 on CPU); None takes vLLM's (128 on CPU). Its prefix cache reuses
    # whole blocks only, so short prompts and search prefixes (the toy world) want small ones.
    block_size: int | None = None

    def __post_init__(self) -> None:
        if self.backend not in ("hf", "vllm"):
            raise ValueError(f"backend must be 'hf' or 'vllm', got {self.backend!r}")
        self.check_engine()
        if self.block_size is not None and (self.block_size < 1 or self.block_size % 16):
            raise ValueError(f"block_size must be a positive multiple of 16 or None, got {self.block_size}")
        if self.tensor_parallel_size < 1:
            raise ValueError(f"tensor_parallel_size must be >= 1, got {self.tensor_parallel_size}")


def probe_token(tokenizer) -> int:
    """The one token a loaded LM's weights are probed on (`load_lm`): BOS, else EOS, else 0."""
    return next((t for t in (tokenizer.bos_token_id, tokenizer.eos_token_id) if t is not None), 0)


def engine_folder(path: str, key: str = "model", lm: bool = False) -> str:
    """The folder an engine reads for the model `path`: a local folder, or a hub id's snapshot
    in the Hugging Face cache (data/models.py check_model: one ConfigError naming `key`; with
    `lm`, a causal LM and no PRM folder), never the id itself. The process is set offline too
    (HF_HUB_OFFLINE=1, inherited by vLLM's worker processes): with an id, vLLM and transformers
    ask the hub first and, on an offline compute node, retry for minutes before they fail."""
    folder = check_model(path, key, lm)
    os.environ["HF_HUB_OFFLINE"] = "1"
    return str(folder)
