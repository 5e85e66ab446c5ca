"""Load a PRM by config: `load_prm(PRMConfig(path=..., backend="hf" | "vllm"))` returns a `Verifier`.

A PRM is selected by backend plus a save_pretrained folder in our PRM format, never by hub id.
`kind: likelihood` scores with a plain causal LM's own likelihood instead (ttc/verifiers/likelihood.py),
the training-free baseline, on the hf backend. As with the LM backends, vLLM is imported only
when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from data.prompts import PromptFormat
from ttc.backends import DTYPES, check_model_path
from ttc.verifiers import Verifier


@dataclass
class PRMConfig:
    path: str  # a PRM folder (save_pretrained files and prm_format.json); an LM's for kind likelihood
    kind: Literal["prm", "likelihood"] = "prm"
    backend: Literal["hf", "vllm"] = "hf"
    dtype: str = "float32"
    batch_size: int = 64  # hf: solutions per forward pass
    threads: int = 1  # hf: torch CPU threads
    device: str = "cpu"  # hf
    kv_cache_gib: float = 1.0  # vllm on CPU
    max_model_len: int | None = None  # vllm
    gpu_memory_utilization: float = 0.3  # vllm on GPU: leaves room for the policy's engine

    def __post_init__(self) -> None:
        if self.kind not in ("prm", "likelihood"):
            raise ValueError(f"kind must be 'prm' or 'likelihood', got {self.kind!r}")
        if self.kind == "likelihood" and self.backend != "hf":
            raise ValueError("kind 'likelihood' runs on the hf backend")
        if self.backend not in ("hf", "vllm"):
            raise ValueError(f"backend must be 'hf' or 'vllm', got {self.backend!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.batch_size < 1 or self.threads < 1:
            raise ValueError("batch_size and threads must be >= 1")


def load_prm(cfg: PRMConfig, prompt: PromptFormat) -> Verifier:
    """The scorer; `prompt` must be the policy's, so the PRM reads what it was trained on."""
    check_model_path(cfg.path)
    if cfg.backend == "vllm":
        from ttc.verifiers.vllm_prm import VLLMPRM

        return VLLMPRM(cfg.path, prompt, cfg.dtype, cfg.kv_cache_gib, cfg.max_model_len,
                       gpu_memory_utilization=cfg.gpu_memory_utilization)
    if cfg.kind == "likelihood":
        from ttc.verifiers.likelihood import LikelihoodVerifier

        return LikelihoodVerifier(cfg.path, prompt, cfg.batch_size, cfg.threads, cfg.device, cfg.dtype)
    from ttc.verifiers.hf_prm import HFPRM

    return HFPRM(cfg.path, prompt, cfg.batch_size, cfg.threads, cfg.device, cfg.dtype)
